//! The exporter binary: config, logging, bind the ops port, run.

use friction_exporter::ExporterConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    friction_service::telemetry::init();
    let config: ExporterConfig = friction_service::config::load()?;
    let ops = tokio::net::TcpListener::bind(&config.ops_listen).await?;
    friction_exporter::run(config, ops, friction_service::shutdown::on_signal()).await?;
    Ok(())
}
