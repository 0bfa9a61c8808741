//! friction consumers: Kafka consumer-group workers that turn raw batches into rows of
//! `friction_events`, `heatmap_data` and `page_performance_metrics`.
//!
//! Layout: [`worker`] is the consume loop over the [`batch`] model; [`flush`] writes a
//! batch back (retries, dead letters, commits); [`writer`] decodes each message once,
//! straight into rows, and writes them with the `clickhouse` crate; [`decode`] counts
//! events on arrival and names what does not decode; [`dlq`] parks what cannot be stored; [`rebalance`] writes the batch
//! before partitions go; [`probe`] reports readiness and lag from its own thread;
//! [`metrics`] and [`config`].
#![warn(missing_docs)]

pub mod batch;
pub mod config;
pub mod decode;
pub mod dlq;
pub mod flush;
pub mod metrics;
pub mod probe;
pub mod rebalance;
pub mod worker;
pub mod writer;

use std::sync::Arc;
use std::time::Duration;

use friction_service::clock::Clock;
use friction_service::ops::{self, Readiness};
use friction_service::shutdown::Shutdown;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tokio::net::TcpListener;

pub use config::ConsumersConfig;

/// The consumer could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Kafka client creation or subscription failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Metrics registration failed.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The worker thread panicked.
    #[error("consumer thread failed")]
    Worker,
}

/// Consumes until `shutdown`, serving `/healthz`, `/readyz` and `/metrics` on `ops`; on
/// shutdown the current batch is written and committed before returning.
pub async fn run(
    config: ConsumersConfig,
    ops: TcpListener,
    shutdown: Shutdown,
) -> Result<(), StartError> {
    let registry = friction_service::metrics::registry("consumers")?;
    let metrics = Arc::new(metrics::Metrics::new(&registry)?);
    let readiness = Readiness::default();
    let kafka_ready = readiness.flag("kafka");
    let clickhouse_ready = readiness.flag("clickhouse");
    tokio::spawn(ops::serve(
        ops,
        readiness,
        registry,
        config.http.clone(),
        shutdown.clone(),
    ));

    let shared = flush::Shared::new(flush::SharedParts {
        writer: writer::Writer::new(config.clickhouse.client()),
        dead_letters: dlq::DeadLetters::new(
            config.kafka.client_config(),
            config.dlq_topic.clone(),
        )?,
        metrics: metrics.clone(),
        runtime: tokio::runtime::Handle::current(),
        topic: config.raw_topic.clone(),
        limits: batch::BatchLimits {
            max_rows: config.batch_max_rows,
            max_bytes: config.batch_max_bytes,
            max_age: Duration::from_millis(config.batch_max_age_ms),
            min_interval: Duration::from_millis(config.batch_min_interval_ms),
        },
        retry_initial: Duration::from_millis(config.retry_initial_ms),
        retry_max: Duration::from_millis(config.retry_max_ms),
        clickhouse_ready: clickhouse_ready.clone(),
        clock: Clock::system(),
        shutdown: shutdown.clone(),
    });
    let assignment = rebalance::Assignment::default();
    let consumer: BaseConsumer<rebalance::Context> = config
        .kafka
        .client_config()
        .set("group.id", &config.group_id)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", config.session_timeout_ms.to_string())
        // Bounds what librdkafka prefetches per partition while a batch is being written.
        .set("queued.max.messages.kbytes", "32768")
        .create_with_context(rebalance::Context::new(
            shared.clone(),
            assignment.clone(),
            metrics.clone(),
        ))?;
    consumer.subscribe(&[&config.raw_topic])?;
    tracing::info!(topic = %config.raw_topic, group = %config.group_id, "consumer started");

    let probe = probe::Probe {
        client: config
            .kafka
            .client_config()
            .set("group.id", &config.group_id)
            .create()?,
        topic: config.raw_topic.clone(),
        assignment,
        writer: writer::Writer::new(config.clickhouse.client()),
        runtime: tokio::runtime::Handle::current(),
        metrics,
        kafka_ready,
        clickhouse_ready,
    };
    let probe_shutdown = shutdown;
    let probe = std::thread::Builder::new()
        .name("friction-probe".into())
        .spawn(move || probe.run(probe_shutdown))
        .map_err(|_| StartError::Worker)?;
    let thread = std::thread::Builder::new()
        .name("friction-consumer".into())
        .spawn(move || worker::run(consumer, shared))
        .map_err(|_| StartError::Worker)?;
    tokio::task::spawn_blocking(move || thread.join())
        .await
        .map_err(|_| StartError::Worker)?
        .map_err(|_| StartError::Worker)?;
    let _ = tokio::task::spawn_blocking(move || probe.join()).await;
    tracing::info!("consumer stopped");
    Ok(())
}
