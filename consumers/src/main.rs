//! The consumers binary: config, logging, bind the ops port, run.

use friction_consumers::ConsumersConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    friction_service::telemetry::init();
    let config: ConsumersConfig = friction_service::config::load()?;
    let ops = tokio::net::TcpListener::bind(&config.ops_listen).await?;
    friction_consumers::run(config, ops, friction_service::shutdown::on_signal()).await?;
    Ok(())
}
