//! What request handlers share, built once from the config: the policy gate, the Kafka
//! sink, usage counters, metrics and the settings the endpoints read.

use std::sync::Arc;
use std::time::Duration;

use friction_schema::Limits;
use friction_service::clock::Clock;
use friction_service::ops::Readiness;
use friction_store::objects::{ObjectError, ObjectStore};
use prometheus::Registry;

use crate::body::BodyLimits;
use crate::config::{IngestConfig, UploadConfig};
use crate::metrics::Metrics;
use crate::policy::bots::BotDetector;
use crate::policy::keys::{KeyCounters, KeyStore, KeyStoreConfig};
use crate::policy::limiter::RateLimiter;
use crate::policy::Policy;
use crate::sdk::SdkAsset;
use crate::sink::kafka::{KafkaSink, SinkConfig};
use crate::usage::UsageTracker;

/// Ingest could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Kafka producer could not be created.
    #[error("kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The object-store settings are unusable.
    #[error("{0}")]
    Objects(#[from] ObjectError),
}

/// What the endpoints read of the config.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per-event validation limits.
    pub limits: Limits,
    /// Body size limits.
    pub body_limits: BodyLimits,
    /// Zero the host part of client IPs.
    pub anonymize_ip: bool,
    /// Take the client IP from `X-Forwarded-For`.
    pub forwarded: crate::enrich::Forwarded,
    /// `Access-Control-Max-Age` of preflights, seconds.
    pub cors_max_age_s: u32,
    /// Upload limits.
    pub uploads: UploadConfig,
}

/// Prometheus registry and readiness flags, served on `/metrics` and `/readyz`.
pub struct Ops {
    /// Readiness checks.
    pub readiness: Readiness,
    /// Metrics registry.
    pub registry: Registry,
}

/// Everything a request handler needs.
pub struct State {
    /// Read from the config.
    pub settings: Settings,
    /// Keys, origins, rate limits, bots.
    pub policy: Policy,
    /// Where accepted batches go.
    pub sink: KafkaSink,
    /// Key usage since the last flush.
    pub usage: UsageTracker,
    /// Metrics handles.
    pub metrics: Metrics,
    /// Ops endpoints' state.
    pub ops: Ops,
    /// The built SDK, when it was found.
    pub sdk: Option<SdkAsset>,
    /// The SDK's vitals build, if found at start-up.
    pub sdk_vitals: Option<SdkAsset>,
    /// The control-plane database (usage, recordings, screenshot links).
    pub clickhouse: clickhouse::Client,
    /// Where uploads go.
    pub objects: ObjectStore,
    /// Uploads that may run at once.
    pub upload_slots: tokio::sync::Semaphore,
    /// Compressed or large bodies that may be decoded and parsed at once.
    pub heavy_slots: Arc<tokio::sync::Semaphore>,
    /// Time, for rate limits and receive timestamps.
    pub clock: Clock,
}

impl State {
    /// Builds the state from the config.
    pub fn new(config: &IngestConfig, clock: Clock) -> Result<Self, StartError> {
        let registry = friction_service::metrics::registry("ingest")?;
        let metrics = Metrics::new(&registry)?;
        let clickhouse = config.clickhouse.client();
        let sink = KafkaSink::new(SinkConfig {
            client: KafkaSink::producer_config(
                config.kafka.client_config(),
                config.linger_ms,
                config.producer_queue_messages,
                config.message_timeout_ms,
                config.max_message_bytes,
            ),
            topic: config.raw_topic.clone(),
            max_message_bytes: config.max_message_bytes,
            ack_timeout: Duration::from_millis(config.produce_timeout_ms),
        })?;
        let keys = KeyStore::new(
            clickhouse.clone(),
            KeyStoreConfig {
                ttl: Duration::from_millis(config.key_cache_ttl_ms),
                negative_ttl: Duration::from_millis(config.key_negative_ttl_ms),
                capacity: config.key_cache_capacity,
                negative_capacity: config.key_negative_cache_capacity,
                grace: Duration::from_millis(config.key_grace_ms),
                default_rate_limit: config.default_rate_limit_per_minute,
            },
            KeyCounters::new(&metrics.key_cache, metrics.key_lookups.clone()),
        );
        let sdk = SdkAsset::load_or_warn(&config.sdk_path, "/friction-tracker.js");
        let sdk_vitals =
            SdkAsset::load_or_warn(&config.sdk_vitals_path, "/friction-tracker.vitals.js");
        Ok(State {
            settings: Settings {
                limits: config.limits.clone(),
                body_limits: BodyLimits {
                    max_body: config.max_body_bytes,
                    max_decompressed: config.max_decompressed_bytes,
                    max_ratio: config.max_compression_ratio,
                },
                anonymize_ip: config.anonymize_ip,
                forwarded: crate::enrich::Forwarded {
                    trusted: config.trust_forwarded_for,
                    hops: config.forwarded_for_hops,
                },
                cors_max_age_s: config.cors_max_age_s,
                uploads: config.uploads.clone(),
            },
            policy: Policy {
                keys,
                limiter: RateLimiter::default(),
                refusals: RateLimiter::default(),
                refusals_per_minute: config.refusals_per_minute_per_client,
                replicas: config.rate_limit_replicas,
                bots: BotDetector::default(),
            },
            sink,
            usage: UsageTracker::default(),
            metrics,
            ops: Ops {
                readiness: Readiness::default(),
                registry,
            },
            sdk,
            sdk_vitals,
            clickhouse,
            objects: ObjectStore::new(&config.s3)?,
            upload_slots: tokio::sync::Semaphore::new(config.uploads.max_concurrent),
            heavy_slots: Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_decodes)),
            clock,
        })
    }
}
