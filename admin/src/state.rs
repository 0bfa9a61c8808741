//! What the admin handlers share.

use friction_service::ops::Readiness;
use prometheus::Registry;

use crate::config::AdminConfig;
use crate::metrics::Metrics;

/// Everything a handler needs.
pub struct State {
    /// The control-plane database.
    pub clickhouse: clickhouse::Client,
    /// The ingest URL for install snippets, without a trailing slash.
    pub public_ingest_url: String,
    /// Largest JSON body accepted.
    pub max_body_bytes: usize,
    /// Metrics handles.
    pub metrics: Metrics,
    /// Readiness checks.
    pub readiness: Readiness,
    /// Metrics registry.
    pub registry: Registry,
}

impl State {
    /// Builds the state from the config.
    pub fn new(config: &AdminConfig) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        Ok(State {
            clickhouse: config.clickhouse.client(),
            public_ingest_url: config.public_ingest_url.trim_end_matches('/').to_owned(),
            max_body_bytes: config.max_body_bytes,
            metrics: Metrics::new(&registry)?,
            readiness: Readiness::default(),
            registry,
        })
    }
}
