//! The friction-exporter binary: command line, config, logging, bind, run.

use std::process::ExitCode;

use friction_exporter::ExporterConfig;

const NAME: &str = "friction-exporter";

#[tokio::main]
async fn main() -> ExitCode {
    match friction_service::cli::start::<ExporterConfig>(
        NAME,
        "Renders export jobs to PDF and stores them in object storage",
    ) {
        Ok(config) => friction_service::cli::exit(NAME, run(config).await),
        Err(code) => code,
    }
}

async fn run(config: ExporterConfig) -> Result<(), Box<dyn std::error::Error>> {
    let ops = tokio::net::TcpListener::bind(&config.ops_listen).await?;
    friction_exporter::run(config, ops, friction_service::shutdown::on_signal()).await?;
    Ok(())
}
