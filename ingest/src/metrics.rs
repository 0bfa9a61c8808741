//! Prometheus metrics of ingest, named `friction_ingest_*`, labels of low cardinality.

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, Opts, Registry};

/// Every ingest metric, registered in its own registry (so tests can run several
/// instances in one process).
pub struct Metrics {
    /// Requests by outcome: `ok` or the error code.
    pub requests: IntCounterVec,
    /// Accepted events by kind.
    pub events: IntCounterVec,
    /// Dropped events by reason code.
    pub events_rejected: IntCounterVec,
    /// Requests from known bots, dropped.
    pub bot_requests: IntCounter,
    /// Request latency, whole request.
    pub request_seconds: Histogram,
    /// Body sizes as received.
    pub body_bytes: Histogram,
    /// Messages acknowledged by Kafka.
    pub kafka_messages: IntCounter,
    /// Kafka failures by kind: `queue_full`, `timeout`, `error`.
    pub kafka_errors: IntCounterVec,
    /// Entries in the key cache.
    pub key_cache_entries: IntGauge,
    /// Stored keys in the lookup index.
    pub key_index_entries: IntGauge,
    /// Token buckets held.
    pub rate_limit_buckets: IntGauge,
    /// Failed usage flushes.
    pub usage_flush_errors: IntCounter,
    /// Uploads by media and outcome (`ok` or the error code).
    pub uploads: IntCounterVec,
    /// Bytes stored by uploads, by media.
    pub upload_bytes: IntCounterVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Metrics {
            requests: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_requests_total",
                    "Event requests by outcome",
                ),
                &["outcome"],
            )?,
            events: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_events_total",
                    "Events accepted into Kafka by kind",
                ),
                &["kind"],
            )?,
            events_rejected: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_events_rejected_total",
                    "Events dropped by validation",
                ),
                &["reason"],
            )?,
            bot_requests: IntCounter::new(
                "friction_ingest_bot_requests_dropped_total",
                "Requests from known bot user agents, dropped",
            )?,
            request_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "friction_ingest_request_duration_seconds",
                    "Event request latency",
                )
                .buckets(vec![
                    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0,
                ]),
            )?,
            body_bytes: Histogram::with_opts(
                HistogramOpts::new(
                    "friction_ingest_body_bytes",
                    "Request body size as received",
                )
                .buckets(prometheus::exponential_buckets(256.0, 4.0, 8)?),
            )?,
            kafka_messages: IntCounter::new(
                "friction_ingest_kafka_messages_total",
                "Messages acknowledged by Kafka",
            )?,
            kafka_errors: IntCounterVec::new(
                Opts::new("friction_ingest_kafka_errors_total", "Kafka write failures"),
                &["kind"],
            )?,
            key_cache_entries: IntGauge::new(
                "friction_ingest_key_cache_entries",
                "API keys cached",
            )?,
            key_index_entries: IntGauge::new(
                "friction_ingest_key_index_entries",
                "Stored API keys in the lookup index (refreshed with the readiness probe)",
            )?,
            rate_limit_buckets: IntGauge::new(
                "friction_ingest_rate_limit_buckets",
                "Token buckets held",
            )?,
            usage_flush_errors: IntCounter::new(
                "friction_ingest_usage_flush_errors_total",
                "Key usage flushes that failed (retried next time)",
            )?,
            uploads: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_uploads_total",
                    "Recording and screenshot uploads by outcome",
                ),
                &["media", "outcome"],
            )?,
            upload_bytes: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_upload_bytes_total",
                    "Bytes of uploads stored in object storage",
                ),
                &["media"],
            )?,
        };
        registry.register(Box::new(m.requests.clone()))?;
        registry.register(Box::new(m.events.clone()))?;
        registry.register(Box::new(m.events_rejected.clone()))?;
        registry.register(Box::new(m.bot_requests.clone()))?;
        registry.register(Box::new(m.request_seconds.clone()))?;
        registry.register(Box::new(m.body_bytes.clone()))?;
        registry.register(Box::new(m.kafka_messages.clone()))?;
        registry.register(Box::new(m.kafka_errors.clone()))?;
        registry.register(Box::new(m.key_cache_entries.clone()))?;
        registry.register(Box::new(m.key_index_entries.clone()))?;
        registry.register(Box::new(m.rate_limit_buckets.clone()))?;
        registry.register(Box::new(m.usage_flush_errors.clone()))?;
        registry.register(Box::new(m.uploads.clone()))?;
        registry.register(Box::new(m.upload_bytes.clone()))?;
        Ok(m)
    }
}
