//! Prometheus metrics of ingest, named `friction_ingest_*`, labels of low cardinality.

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
};

/// Latency buckets of ingest's answers and Kafka acknowledgements: sub-millisecond to
/// the 5 s default produce timeout (measured p99 at half load is a few ms).
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// Every ingest metric, registered in its own registry (so tests can run several
/// instances in one process).
pub struct Metrics {
    /// Public requests by route and status code.
    pub http_requests: IntCounterVec,
    /// Public request latency by route.
    pub http_request_seconds: HistogramVec,
    /// Event and upload requests by route and outcome: `ok` or the error code.
    pub outcomes: IntCounterVec,
    /// Requests refused because their key's rate limit was spent.
    pub rate_limited: IntCounter,
    /// Accepted events by kind.
    pub events: IntCounterVec,
    /// Dropped events by reason code.
    pub events_rejected: IntCounterVec,
    /// Requests from known bots, dropped.
    pub bot_requests: IntCounter,
    /// Body sizes as received.
    pub body_bytes: Histogram,
    /// Messages acknowledged by Kafka.
    pub kafka_messages: IntCounter,
    /// Kafka failures by kind: `queue_full`, `timeout`, `error`.
    pub kafka_errors: IntCounterVec,
    /// Time from queueing a batch's messages to the broker's acknowledgement (or to the
    /// failure or timeout that ended the wait).
    pub kafka_produce_seconds: Histogram,
    /// Messages queued in the producer, not yet acknowledged.
    pub kafka_queue_messages: IntGauge,
    /// Key checks by where the answer came from: `hit`, `negative_hit`, `miss`.
    pub key_cache: IntCounterVec,
    /// Lookups of missed keys in ClickHouse by result: `found`, `not_found`, `stale`
    /// (ClickHouse down, served from memory), `unavailable`, `busy`.
    pub key_lookups: IntCounterVec,
    /// Refreshes of the index of stored keys by result: `ok`, `error`.
    pub key_index_refreshes: IntCounterVec,
    /// Entries in the key cache.
    pub key_cache_entries: IntGauge,
    /// Stored keys in the lookup index.
    pub key_index_entries: IntGauge,
    /// Token buckets held.
    pub rate_limit_buckets: IntGauge,
    /// Failed usage flushes.
    pub usage_flush_errors: IntCounter,
    /// Bytes stored by uploads, by media.
    pub upload_bytes: IntCounterVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Metrics {
            http_requests: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_http_requests_total",
                    "Public requests by route and status code",
                ),
                &["route", "status"],
            )?,
            http_request_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "friction_ingest_http_request_duration_seconds",
                    "Public request latency by route",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
                &["route"],
            )?,
            outcomes: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_outcomes_total",
                    "Event and upload requests by route and outcome (ok or the error code)",
                ),
                &["route", "outcome"],
            )?,
            rate_limited: IntCounter::new(
                "friction_ingest_rate_limited_requests_total",
                "Requests refused because their key's rate limit was spent",
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
            kafka_produce_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "friction_ingest_kafka_produce_duration_seconds",
                    "Time from queueing a batch to the broker's acknowledgement",
                )
                .buckets(LATENCY_BUCKETS.to_vec()),
            )?,
            kafka_queue_messages: IntGauge::new(
                "friction_ingest_kafka_queue_messages",
                "Messages queued in the producer and not yet acknowledged",
            )?,
            key_cache: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_key_cache_requests_total",
                    "API key checks by answer: hit, negative_hit (known not to exist), miss",
                ),
                &["result"],
            )?,
            key_lookups: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_key_lookups_total",
                    "Lookups of missed keys by result: found, not_found, stale, unavailable, busy",
                ),
                &["result"],
            )?,
            key_index_refreshes: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_key_index_refreshes_total",
                    "Refreshes of the index of stored keys by result",
                ),
                &["result"],
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
            upload_bytes: IntCounterVec::new(
                Opts::new(
                    "friction_ingest_upload_bytes_total",
                    "Bytes of uploads stored in object storage",
                ),
                &["media"],
            )?,
        };
        registry.register(Box::new(m.http_requests.clone()))?;
        registry.register(Box::new(m.http_request_seconds.clone()))?;
        registry.register(Box::new(m.outcomes.clone()))?;
        registry.register(Box::new(m.rate_limited.clone()))?;
        registry.register(Box::new(m.events.clone()))?;
        registry.register(Box::new(m.events_rejected.clone()))?;
        registry.register(Box::new(m.bot_requests.clone()))?;
        registry.register(Box::new(m.body_bytes.clone()))?;
        registry.register(Box::new(m.kafka_messages.clone()))?;
        registry.register(Box::new(m.kafka_errors.clone()))?;
        registry.register(Box::new(m.kafka_produce_seconds.clone()))?;
        registry.register(Box::new(m.kafka_queue_messages.clone()))?;
        registry.register(Box::new(m.key_cache.clone()))?;
        registry.register(Box::new(m.key_lookups.clone()))?;
        registry.register(Box::new(m.key_index_refreshes.clone()))?;
        registry.register(Box::new(m.key_cache_entries.clone()))?;
        registry.register(Box::new(m.key_index_entries.clone()))?;
        registry.register(Box::new(m.rate_limit_buckets.clone()))?;
        registry.register(Box::new(m.usage_flush_errors.clone()))?;
        registry.register(Box::new(m.upload_bytes.clone()))?;
        // Known series start at 0, so a first failure shows as an increase.
        for kind in friction_schema::Kind::ALL {
            m.events.with_label_values(&[kind.as_str()]);
        }
        for route in ["events", "recordings", "screenshots"] {
            for outcome in ["ok", "rate_limited"] {
                m.outcomes.with_label_values(&[route, outcome]);
            }
        }
        for reason in friction_schema::EventError::CODES {
            m.events_rejected.with_label_values(&[reason]);
        }
        for kind in ["queue_full", "timeout", "error"] {
            m.kafka_errors.with_label_values(&[kind]);
        }
        for result in ["found", "not_found", "stale", "unavailable", "busy"] {
            m.key_lookups.with_label_values(&[result]);
        }
        for result in ["ok", "error"] {
            m.key_index_refreshes.with_label_values(&[result]);
        }
        Ok(m)
    }

    /// Counts the outcome of an event or upload request on `route`.
    pub fn outcome(&self, route: &str, outcome: &str) {
        self.outcomes.with_label_values(&[route, outcome]).inc();
        if outcome == "rate_limited" {
            self.rate_limited.inc();
        }
    }
}
