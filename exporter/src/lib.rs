//! friction exporter: a Kafka consumer-group worker that turns export jobs into PDF
//! reports. Several instances share the jobs; each runs one job at a time.
//!
//! Layout: [`run`] consumes the job topic and hands each job to [`job`], which reads the
//! figures ([`reports`], over the rows a [`filter`] selects), renders a Tera template
//! (`templates/`, charts from [`charts`]) and turns it into a PDF with wkhtmltopdf
//! ([`pdf`]) stored in object storage; [`metrics`] and [`config`].
#![warn(missing_docs)]

pub mod charts;
pub mod config;
pub mod filter;
pub mod job;
pub mod metrics;
pub mod pdf;
pub mod reports;

use std::sync::Arc;
use std::time::Duration;

use friction_schema::export::JobMessage;
use friction_service::backoff::Backoff;
use friction_service::ops::{self, Readiness};
use friction_service::shutdown::Shutdown;
use friction_store::objects::{ObjectError, ObjectStore};
use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::Message;
use tokio::net::TcpListener;

pub use config::ExporterConfig;

/// The exporter could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Kafka client creation or subscription failed.
    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Metrics registration failed.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// The templates do not parse.
    #[error("templates: {0}")]
    Templates(#[from] tera::Error),
    /// The object-store settings are unusable.
    #[error("{0}")]
    Objects(#[from] ObjectError),
}

/// The report templates, compiled into the binary.
pub fn templates() -> Result<tera::Tera, tera::Error> {
    let mut tera = tera::Tera::default();
    tera.add_raw_templates([
        ("base.html", include_str!("../templates/base.html")),
        (
            "friction_summary.html",
            include_str!("../templates/friction_summary.html"),
        ),
        (
            "journey_analysis.html",
            include_str!("../templates/journey_analysis.html"),
        ),
        (
            "cohort_comparison.html",
            include_str!("../templates/cohort_comparison.html"),
        ),
    ])?;
    Ok(tera)
}

/// Consumes export jobs until `shutdown`, serving `/healthz`, `/readyz` and `/metrics`
/// on `ops`. A job's message is committed once the job is finished (or was already).
pub async fn run(
    config: ExporterConfig,
    ops: TcpListener,
    mut shutdown: Shutdown,
) -> Result<(), StartError> {
    let registry = friction_service::metrics::registry("exporter")?;
    let readiness = Readiness::default();
    let exporter = Arc::new(job::Exporter {
        clickhouse: config.clickhouse.client(),
        objects: ObjectStore::new(&config.s3)?,
        templates: templates()?,
        wkhtmltopdf: config.wkhtmltopdf.clone(),
        render_timeout: Duration::from_millis(config.render_timeout_ms),
        max_attempts: config.max_attempts,
        backoff: Backoff::new(
            Duration::from_millis(config.retry_initial_ms),
            Duration::from_millis(config.retry_max_ms),
        ),
        metrics: metrics::Metrics::new(&registry)?,
    });
    let consumer: Arc<StreamConsumer> = Arc::new(
        config
            .kafka
            .client_config()
            .set("group.id", &config.group_id)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            // A report can take minutes; the group must not drop the instance meanwhile.
            .set("max.poll.interval.ms", "900000")
            .create()?,
    );
    consumer.subscribe(&[&config.exports_topic])?;
    spawn_probe(
        &readiness,
        exporter.clone(),
        consumer.clone(),
        config.exports_topic.clone(),
        shutdown.clone(),
    );
    tokio::spawn(ops::serve(
        ops,
        readiness,
        registry,
        config.http.clone(),
        shutdown.clone(),
    ));
    tracing::info!(topic = %config.exports_topic, group = %config.group_id, "exporter started");

    let mut retry = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    loop {
        let message = tokio::select! {
            m = consumer.recv() => m,
            _ = shutdown.wait() => break,
        };
        let message = match message {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(error = %e, "kafka consumer error");
                tokio::time::sleep(retry.next_delay()).await;
                continue;
            }
        };
        let job = message
            .payload()
            .and_then(|p| serde_json::from_slice::<JobMessage>(p).ok());
        let finished = match job {
            None => {
                tracing::warn!(
                    offset = message.offset(),
                    "unreadable export job message; skipped"
                );
                true
            }
            Some(job) => loop {
                match exporter.run(job.job_id, &shutdown).await {
                    Ok(finished) => break finished,
                    Err(e) => {
                        tracing::error!(job_id = %job.job_id, error = %e, "export job state not recorded; retrying");
                        let mut waiting = shutdown.clone();
                        tokio::select! {
                            _ = tokio::time::sleep(retry.next_delay()) => {}
                            _ = waiting.wait() => break false,
                        }
                    }
                }
            },
        };
        retry.reset();
        if finished {
            if let Err(e) = consumer.commit_message(&message, CommitMode::Async) {
                tracing::warn!(error = %e, "commit failed; the job may be seen again (and skipped)");
            }
        }
    }
    tracing::info!("exporter stopped");
    Ok(())
}

/// Readiness of Kafka and ClickHouse, every few seconds, off the job loop.
fn spawn_probe(
    readiness: &Readiness,
    exporter: Arc<job::Exporter>,
    consumer: Arc<StreamConsumer>,
    topic: String,
    mut shutdown: Shutdown,
) {
    let (kafka, clickhouse) = (readiness.flag("kafka"), readiness.flag("clickhouse"));
    tokio::spawn(async move {
        loop {
            let (c, t) = (consumer.clone(), topic.clone());
            let reachable = tokio::task::spawn_blocking(move || {
                c.fetch_metadata(Some(&t), Duration::from_secs(2)).is_ok()
            })
            .await
            .unwrap_or(false);
            kafka.set(reachable);
            clickhouse.set(
                exporter
                    .clickhouse
                    .query("SELECT 1")
                    .execute()
                    .await
                    .is_ok(),
            );
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = shutdown.wait() => return,
            }
        }
    });
}
