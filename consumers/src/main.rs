//! The friction-consumers binary: command line, config, logging, bind, run.

use std::process::ExitCode;

use friction_consumers::ConsumersConfig;

const NAME: &str = "friction-consumers";

#[tokio::main]
async fn main() -> ExitCode {
    match friction_service::cli::start::<ConsumersConfig>(
        NAME,
        "Reads event batches from Kafka and writes them to ClickHouse",
    ) {
        Ok(config) => friction_service::cli::exit(NAME, run(config).await),
        Err(code) => code,
    }
}

async fn run(config: ConsumersConfig) -> Result<(), Box<dyn std::error::Error>> {
    let ops = tokio::net::TcpListener::bind(&config.ops_listen).await?;
    friction_consumers::run(config, ops, friction_service::shutdown::on_signal()).await?;
    Ok(())
}
