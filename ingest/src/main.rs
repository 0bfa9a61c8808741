//! The ingest binary: config, logging, bind, run.

use friction_ingest::IngestConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    friction_service::telemetry::init();
    let config: IngestConfig = friction_service::config::load()?;
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    let ops = tokio::net::TcpListener::bind(&config.ops_listen).await?;
    friction_ingest::run(
        config,
        listener,
        ops,
        friction_service::shutdown::on_signal(),
    )
    .await?;
    Ok(())
}
