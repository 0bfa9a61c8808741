//! The friction-admin binary: command line, config, logging, bind, run.

use std::process::ExitCode;

use friction_admin::AdminConfig;

const NAME: &str = "friction-admin";

#[tokio::main]
async fn main() -> ExitCode {
    match friction_service::cli::start::<AdminConfig>(
        NAME,
        "The control plane: users, API keys, exports and the console",
    ) {
        Ok(config) => friction_service::cli::exit(NAME, run(config).await),
        Err(code) => code,
    }
}

async fn run(config: AdminConfig) -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind(&config.listen).await?;
    friction_admin::run(config, listener, friction_service::shutdown::on_signal()).await?;
    Ok(())
}
