//! What the admin handlers share.

use std::time::Duration;

use friction_service::ops::Readiness;
use friction_store::objects::{ObjectError, ObjectStore};
use prometheus::Registry;

use crate::config::{AdminConfig, ConsoleConfig};
use crate::jobs::JobQueue;
use crate::metrics::Metrics;

/// The admin service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The Kafka producer could not be created.
    #[error("kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// The object-store settings are unusable.
    #[error("{0}")]
    Objects(#[from] ObjectError),
}

/// Everything a handler needs.
pub struct State {
    /// The control-plane database.
    pub clickhouse: clickhouse::Client,
    /// Queues export jobs.
    pub jobs: JobQueue,
    /// Object storage, for presigned URLs.
    pub objects: ObjectStore,
    /// How long presigned URLs work.
    pub presign_expiry: Duration,
    /// The ingest URL for install snippets, without a trailing slash.
    pub public_ingest_url: String,
    /// Largest JSON body accepted.
    pub max_body_bytes: usize,
    /// Console sessions.
    pub console: ConsoleConfig,
    /// Metrics handles.
    pub metrics: Metrics,
    /// Readiness checks.
    pub readiness: Readiness,
    /// Metrics registry.
    pub registry: Registry,
}

impl State {
    /// Builds the state from the config.
    pub fn new(config: &AdminConfig) -> Result<Self, StartError> {
        let registry = friction_service::metrics::registry("admin")?;
        Ok(State {
            clickhouse: config.clickhouse.client(),
            jobs: JobQueue::new(&config.kafka, config.exports_topic.clone())?,
            objects: ObjectStore::new(&config.s3)?,
            presign_expiry: Duration::from_secs(config.presign_expiry_s),
            public_ingest_url: config.public_ingest_url.trim_end_matches('/').to_owned(),
            max_body_bytes: config.max_body_bytes,
            console: config.console.clone(),
            metrics: Metrics::new(&registry)?,
            readiness: Readiness::default(),
            registry,
        })
    }
}
