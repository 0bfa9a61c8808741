//! The admin binary: config, logging, bind, run.

use friction_admin::AdminConfig;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    friction_service::telemetry::init();
    let config: AdminConfig = friction_service::config::load()?;
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    friction_admin::run(config, listener, friction_service::shutdown::on_signal()).await?;
    Ok(())
}
