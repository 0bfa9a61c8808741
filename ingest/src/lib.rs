//! friction ingest: the HTTP front door the SDK talks to. It checks the API key (cached),
//! the origin and the key's rate limit, validates the batch with the shared schema code,
//! and writes it to Kafka, answering 200 only once the broker acknowledged it.
//!
//! Layout: [`run`] serves [`router`] on `friction_service::http::serve`; handlers in
//! [`endpoints`] depend only on [`state`]: the [`policy`] gate (keys, origins, limits,
//! bots), the [`sink`] (Kafka), [`body`] reading, [`enrich`]ment, [`usage`] counters and
//! [`metrics`], and the [`sdk`] file. [`error`] builds every refusal's response, [`cors`] its headers;
//! [`upkeep`] runs probes and flushes; [`config`] is the configuration.
#![warn(missing_docs)]

pub mod body;
pub mod config;
pub mod cors;
pub mod endpoints;
pub mod enrich;
pub mod error;
pub mod metrics;
pub mod policy;
pub mod router;
pub mod sdk;
pub mod sink;
pub mod state;
pub mod upkeep;
pub mod usage;

use std::sync::Arc;
use std::time::Duration;

use friction_service::clock::Clock;
use friction_service::shutdown::Shutdown;
use tokio::net::TcpListener;

pub use config::IngestConfig;
pub use state::{StartError, State};

/// Serves ingest on `listener` (the public endpoints) and `/healthz`, `/readyz` and
/// `/metrics` on `ops` until `shutdown`, then drains in-flight requests and flushes the
/// producer and usage counters.
pub async fn run(
    config: IngestConfig,
    listener: TcpListener,
    ops: TcpListener,
    shutdown: Shutdown,
) -> Result<(), StartError> {
    let state = Arc::new(State::new(&config, Clock::system())?);
    tokio::spawn(friction_service::ops::serve(
        ops,
        state.ops.readiness.clone(),
        state.ops.registry.clone(),
        config.http.clone(),
        shutdown.clone(),
    ));
    upkeep::spawn(
        state.clone(),
        Duration::from_millis(config.usage_flush_ms),
        Duration::from_millis(config.bucket_idle_ms),
        shutdown.clone(),
    );
    tracing::info!(addr = ?listener.local_addr().ok(), "ingest listening");
    let router = Arc::new(router::IngestRouter(state.clone()));
    friction_service::http::serve(listener, router, &config.http, shutdown).await;

    tracing::info!("connections drained; flushing");
    let flush_state = state.clone();
    let _ =
        tokio::task::spawn_blocking(move || flush_state.sink.flush(Duration::from_secs(10))).await;
    if let Err(e) = state.usage.flush(&state.clickhouse).await {
        tracing::warn!(error = %e, "final usage flush failed");
    }
    tracing::info!("ingest stopped");
    Ok(())
}
