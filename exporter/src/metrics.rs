//! Prometheus metrics of the exporter, named `friction_exporter_*`.

use prometheus::{HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry};

/// The stages of a rendered export, as `stage_seconds` labels them.
pub const STAGES: [&str; 4] = ["query", "layout", "pdf", "upload"];

/// Every exporter metric.
pub struct Metrics {
    /// Finished jobs by report and outcome (`completed` or `failed`).
    pub jobs: IntCounterVec,
    /// Attempts that failed and were retried.
    pub retries: IntCounter,
    /// Jobs delivered again after they finished, left alone.
    pub skipped: IntCounter,
    /// Time from claim to finish, by report.
    pub job_seconds: HistogramVec,
    /// Time of each stage of a successful attempt: `query`, `layout`, `pdf`, `upload`.
    pub stage_seconds: HistogramVec,
}

impl Metrics {
    /// Creates and registers the metrics.
    pub fn new(registry: &Registry) -> Result<Self, prometheus::Error> {
        let m = Metrics {
            jobs: IntCounterVec::new(
                Opts::new("friction_exporter_jobs_total", "Export jobs finished"),
                &["report", "outcome"],
            )?,
            retries: IntCounter::new(
                "friction_exporter_retries_total",
                "Export attempts that failed and were retried",
            )?,
            skipped: IntCounter::new(
                "friction_exporter_jobs_skipped_total",
                "Export jobs delivered again after they finished, left alone",
            )?,
            job_seconds: HistogramVec::new(
                HistogramOpts::new("friction_exporter_job_duration_seconds", "Export job time")
                    .buckets(vec![0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0]),
                &["report"],
            )?,
            stage_seconds: HistogramVec::new(
                HistogramOpts::new(
                    "friction_exporter_stage_duration_seconds",
                    "Export stage time (query, layout, pdf, upload)",
                )
                .buckets(vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
                &["stage"],
            )?,
        };
        registry.register(Box::new(m.jobs.clone()))?;
        // Known series start at 0, so a first failure shows as an increase.
        for report in friction_schema::export::ReportType::ALL {
            for outcome in ["completed", "failed"] {
                m.jobs.with_label_values(&[report.as_str(), outcome]);
            }
            m.job_seconds.with_label_values(&[report.as_str()]);
        }
        for stage in STAGES {
            m.stage_seconds.with_label_values(&[stage]);
        }
        registry.register(Box::new(m.retries.clone()))?;
        registry.register(Box::new(m.skipped.clone()))?;
        registry.register(Box::new(m.job_seconds.clone()))?;
        registry.register(Box::new(m.stage_seconds.clone()))?;
        Ok(m)
    }
}
