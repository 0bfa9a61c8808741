//! The friction-ingest binary: command line, config, logging, bind, run.

use std::process::ExitCode;

use friction_ingest::IngestConfig;

const NAME: &str = "friction-ingest";

/// glibc's allocator was a tenth of ingest's CPU under load (perf); mimalloc's
/// thread-local free lists make the per-request buffers cheap.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    match friction_service::cli::start::<IngestConfig>(
        NAME,
        "Receives friction events from browsers, validates them and writes them to Kafka",
    ) {
        Ok(config) => friction_service::cli::exit(NAME, run(config).await),
        Err(code) => code,
    }
}

async fn run(config: IngestConfig) -> Result<(), Box<dyn std::error::Error>> {
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
