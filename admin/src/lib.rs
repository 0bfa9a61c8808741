//! friction admin: the control plane, on its own listener so the public ingest port stays
//! lean. Users authenticate with bearer tokens; members manage their own site keys,
//! admins everything. The API is described in `openapi.json`.
//!
//! Layout: [`run`] serves [`router`] (the one route table) on
//! `friction_service::http::serve`; [`auth`] finds the caller; [`endpoints`] answer, over
//! the `friction_store` repositories, sharing [`state`]; [`jobs`] queues export jobs on
//! Kafka; [`error`] shapes every refusal; [`console`] serves the same endpoints as pages
//! for people, under `/console`;
//! [`metrics`] and [`config`].
#![warn(missing_docs)]

pub mod auth;
pub mod config;
pub mod console;
pub mod endpoints;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod router;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use friction_service::shutdown::Shutdown;
use tokio::net::TcpListener;

pub use config::AdminConfig;

/// How often ClickHouse is probed for readiness.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Serves the admin API on `listener` until `shutdown`, then drains open requests.
pub async fn run(
    config: AdminConfig,
    listener: TcpListener,
    shutdown: Shutdown,
) -> Result<(), state::StartError> {
    let state = Arc::new(state::State::new(&config)?);
    let ready = state.readiness.flag("clickhouse");
    let (probe, mut probe_shutdown) = (state.clone(), shutdown.clone());
    tokio::spawn(async move {
        loop {
            let client = &probe.clickhouse;
            ready.set(
                friction_store::keys::ping(client).await
                    && friction_store::users::list(client).await.is_ok(),
            );
            tokio::select! {
                _ = tokio::time::sleep(PROBE_EVERY) => {}
                _ = probe_shutdown.wait() => return,
            }
        }
    });
    tracing::info!(addr = ?listener.local_addr().ok(), "admin listening");
    let router = Arc::new(router::AdminRouter(state));
    friction_service::http::serve(listener, router, &config.http, shutdown).await;
    tracing::info!("admin stopped");
    Ok(())
}
