//! Prometheus metrics of the consumers, named `friction_consumers_*`.

use prometheus::{
    Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

/// Every consumer metric.
pub struct Metrics {
    /// Kafka messages read.
    pub messages: IntCounter,
    /// Rows inserted by table.
    pub rows: IntCounterVec,
    /// Rows per written batch.
    pub batch_rows: Histogram,
    /// Time to write one batch to every table.
    pub insert_seconds: Histogram,
    /// Kafka payload bytes per written batch.
    pub batch_bytes: Histogram,
    /// Insert attempts that failed and were retried.
    pub retries: IntCounter,
    /// Messages or events sent to the dead-letter topic, by reason.
    pub dead_letters: IntCounterVec,
    /// Messages behind the end of each assigned partition.
    pub lag: IntGaugeVec,
    /// Partitions this instance owns.
    pub assigned_partitions: IntGauge,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Metrics {
            messages: IntCounter::new("friction_consumers_messages_total", "Kafka messages read")?,
            rows: IntCounterVec::new(
                Opts::new(
                    "friction_consumers_rows_inserted_total",
                    "Rows inserted into ClickHouse",
                ),
                &["table"],
            )?,
            batch_rows: Histogram::with_opts(
                HistogramOpts::new("friction_consumers_batch_rows", "Rows per written batch")
                    .buckets(prometheus::exponential_buckets(10.0, 4.0, 8)?),
            )?,
            batch_bytes: Histogram::with_opts(
                HistogramOpts::new(
                    "friction_consumers_batch_bytes",
                    "Kafka payload bytes per written batch",
                )
                .buckets(prometheus::exponential_buckets(1024.0, 4.0, 10)?),
            )?,
            insert_seconds: Histogram::with_opts(
                HistogramOpts::new(
                    "friction_consumers_insert_duration_seconds",
                    "Time to write one batch",
                )
                .buckets(prometheus::exponential_buckets(0.005, 2.5, 10)?),
            )?,
            retries: IntCounter::new(
                "friction_consumers_insert_retries_total",
                "Failed inserts retried with backoff",
            )?,
            dead_letters: IntCounterVec::new(
                Opts::new(
                    "friction_consumers_dlq_messages_total",
                    "Messages and events dead-lettered",
                ),
                &["reason"],
            )?,
            lag: IntGaugeVec::new(
                Opts::new(
                    "friction_consumers_lag_messages",
                    "Messages of each owned partition not yet committed (so not yet in ClickHouse)",
                ),
                &["partition"],
            )?,
            assigned_partitions: IntGauge::new(
                "friction_consumers_assigned_partitions",
                "Partitions of the raw topic this instance owns",
            )?,
        };
        registry.register(Box::new(m.messages.clone()))?;
        registry.register(Box::new(m.rows.clone()))?;
        registry.register(Box::new(m.batch_rows.clone()))?;
        registry.register(Box::new(m.insert_seconds.clone()))?;
        registry.register(Box::new(m.batch_bytes.clone()))?;
        registry.register(Box::new(m.retries.clone()))?;
        registry.register(Box::new(m.dead_letters.clone()))?;
        registry.register(Box::new(m.lag.clone()))?;
        registry.register(Box::new(m.assigned_partitions.clone()))?;
        // Known series start at 0, so a first dead letter shows as an increase.
        for kind in friction_schema::Kind::ALL {
            m.rows
                .with_label_values(&[friction_schema::rows::table(kind)]);
        }
        for reason in [
            "invalid_json",
            "invalid_envelope",
            "unsupported_envelope",
            "invalid_event",
            "rejected_by_clickhouse",
        ] {
            m.dead_letters.with_label_values(&[reason]);
        }
        Ok(m)
    }
}
