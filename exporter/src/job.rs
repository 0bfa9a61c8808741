//! One export job, start to finish: claim it (`running`), read the figures, render the
//! template, turn it into a PDF, store it, and finish it (`completed` with its object,
//! size and pages, or `failed` with a reason a person can act on, after bounded retries).
//! A job already finished is left alone and no state is written over a final one, so a
//! redelivered message does not yield a second PDF or a wrong status; the PDF's object
//! key is the job's, so a retry overwrites it.

use std::time::{Duration, Instant};

use friction_schema::export::ExportParams;
use friction_schema::topics::BUCKET_EXPORTS;
use friction_service::backoff::Backoff;
use friction_service::shutdown::Shutdown;
use friction_store::exports::{self, ExportJobRow, Status};
use friction_store::objects::ObjectStore;
use serde_json::json;
use uuid::Uuid;

use crate::filter::Filter;
use crate::metrics::Metrics;
use crate::{pdf, reports};

/// One attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// Reading the figures failed.
    #[error("the analytics database did not answer: {0}")]
    Query(#[from] clickhouse::error::Error),
    /// Reading the figures took too long.
    #[error("the analytics database did not answer within {} s", .0.as_secs())]
    QueryTimeout(Duration),
    /// The job's parameters are unusable (it was stored by an older version?).
    #[error("{0}; request the export again")]
    Params(&'static str),
    /// The template could not be rendered (a bug, not the data).
    #[error("the report could not be laid out: {0}")]
    Template(#[from] tera::Error),
    /// wkhtmltopdf failed.
    #[error("the PDF could not be rendered: {0}")]
    Pdf(#[from] pdf::PdfError),
    /// The object store refused or was unreachable.
    #[error("the PDF could not be stored (object storage unavailable): {0}")]
    Store(#[from] friction_store::objects::ObjectError),
}

impl AttemptError {
    /// Whether another attempt can help.
    fn is_transient(&self) -> bool {
        !matches!(self, AttemptError::Template(_) | AttemptError::Params(_))
    }
}

/// The exporter could not record a job's state (ClickHouse down): the message is kept
/// and the job tried again later.
#[derive(Debug, thiserror::Error)]
#[error("cannot record the job's state: {0}")]
pub struct JobStateError(#[from] clickhouse::error::Error);

/// What every job needs.
pub struct Exporter {
    /// ClickHouse: the event tables and `export_jobs`.
    pub clickhouse: clickhouse::Client,
    /// Where PDFs go.
    pub objects: ObjectStore,
    /// The report templates.
    pub templates: tera::Tera,
    /// The wkhtmltopdf binary.
    pub wkhtmltopdf: String,
    /// Longest render.
    pub render_timeout: Duration,
    /// Attempts before a job fails.
    pub max_attempts: u16,
    /// Delay between attempts.
    pub backoff: Backoff,
    /// Metrics.
    pub metrics: Metrics,
}

/// What a completed attempt stored, and how long each stage took.
#[derive(Debug)]
pub struct Stored {
    /// Key of the PDF in `pdf-exports`.
    pub object_key: String,
    /// Its size.
    pub bytes: u64,
    /// Its pages.
    pub pages: u32,
    /// Reading the figures from ClickHouse.
    pub query: Duration,
    /// Laying out the HTML (Tera).
    pub layout: Duration,
    /// HTML to PDF (wkhtmltopdf).
    pub pdf: Duration,
    /// Storing the PDF.
    pub upload: Duration,
}

impl Exporter {
    /// Runs job `job_id` to a final state and returns true; returns false only when
    /// shutdown interrupts it (the job stays `running` and is taken up again when its
    /// message is redelivered).
    pub async fn run(&self, job_id: Uuid, shutdown: &Shutdown) -> Result<bool, JobStateError> {
        let Some(mut job) = exports::get(&self.clickhouse, job_id).await? else {
            tracing::warn!(%job_id, "export job unknown; skipped");
            return Ok(true);
        };
        if job.status().is_final() {
            tracing::info!(%job_id, status = %job.status, "export job already finished; skipped");
            self.metrics.skipped.inc();
            // A worker may have stopped between the final state and its notification.
            exports::notify(&self.clickhouse, &job).await?;
            return Ok(true);
        }
        let params: ExportParams = match serde_json::from_str(&job.params) {
            Ok(params) => params,
            Err(e) => {
                let reason =
                    format!("the job's parameters cannot be read ({e}); request the export again");
                return self.finish(&mut job, Err(reason)).await;
            }
        };
        let started = Instant::now();
        job.status = Status::Running.as_str().into();
        if job.started_at == 0 {
            job.started_at = friction_schema::now_ms();
        }
        if !exports::save_unless_final(&self.clickhouse, &mut job).await? {
            return Ok(true);
        }
        let mut backoff = self.backoff.clone();
        loop {
            job.attempts += 1;
            let error = match self.produce(&job, &params).await {
                Ok(stored) => {
                    tracing::info!(
                        job_id = %job.job_id,
                        query_ms = stored.query.as_millis() as u64,
                        layout_ms = stored.layout.as_millis() as u64,
                        pdf_ms = stored.pdf.as_millis() as u64,
                        upload_ms = stored.upload.as_millis() as u64,
                        "export rendered"
                    );
                    let took = [stored.query, stored.layout, stored.pdf, stored.upload];
                    for (stage, took) in crate::metrics::STAGES.into_iter().zip(took) {
                        self.metrics
                            .stage_seconds
                            .with_label_values(&[stage])
                            .observe(took.as_secs_f64());
                    }
                    job.object_key = stored.object_key;
                    job.bytes = stored.bytes;
                    job.pages = stored.pages;
                    self.metrics
                        .job_seconds
                        .with_label_values(&[&job.report])
                        .observe(started.elapsed().as_secs_f64());
                    return self.finish(&mut job, Ok(())).await;
                }
                Err(e) => e,
            };
            tracing::warn!(%job_id, attempt = job.attempts, error = %error, "export attempt failed");
            if !error.is_transient() || job.attempts >= self.max_attempts {
                let reason = format!(
                    "{error} (after {} attempt{})",
                    job.attempts,
                    if job.attempts == 1 { "" } else { "s" }
                );
                return self.finish(&mut job, Err(reason)).await;
            }
            self.metrics.retries.inc();
            job.error = error.to_string();
            if !exports::save_unless_final(&self.clickhouse, &mut job).await? {
                return Ok(true);
            }
            let mut waiting = shutdown.clone();
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = waiting.wait() => return Ok(false),
            }
        }
    }

    /// One attempt at `job`: figures, layout, PDF, upload.
    pub async fn produce(
        &self,
        job: &ExportJobRow,
        params: &ExportParams,
    ) -> Result<Stored, AttemptError> {
        let filter = Filter::new(&job.owner_id, params)
            .ok_or(AttemptError::Params("the job's dates do not parse"))?;
        let started = Instant::now();
        let report = tokio::time::timeout(
            self.render_timeout,
            reports::build(&self.clickhouse, &filter, params),
        )
        .await
        .map_err(|_| AttemptError::QueryTimeout(self.render_timeout))??;
        let query = started.elapsed();
        let title = match params.report_type {
            friction_schema::export::ReportType::FrictionSummary => "Friction summary",
            friction_schema::export::ReportType::JourneyAnalysis => "Journey analysis",
            friction_schema::export::ReportType::CohortComparison => "Cohort comparison",
        };
        let context = json!({
            "title": title,
            "date_from": params.date_from,
            "date_to": params.date_to,
            "url_prefix": params.url_prefix,
            "key_count": params.key_ids.len(),
            "generated_at": humantime_now(),
            "report": report,
        });
        let started = Instant::now();
        let context = tera::Context::from_value(context)?;
        let html = self
            .templates
            .render(&format!("{}.html", params.report_type.as_str()), &context)?;
        let layout = started.elapsed();
        let started = Instant::now();
        let pdf = pdf::render(&self.wkhtmltopdf, &html, self.render_timeout).await?;
        let rendered = started.elapsed();
        let pages = pdf::pages(&pdf);
        let bytes = pdf.len() as u64;
        let object_key = format!("{}/{}.pdf", job.owner_id, job.job_id);
        let started = Instant::now();
        self.objects
            .put(BUCKET_EXPORTS, &object_key, pdf.into(), "application/pdf")
            .await?;
        Ok(Stored {
            object_key,
            bytes,
            pages,
            query,
            layout,
            pdf: rendered,
            upload: started.elapsed(),
        })
    }

    /// Records the final state and its notification.
    async fn finish(
        &self,
        job: &mut ExportJobRow,
        outcome: Result<(), String>,
    ) -> Result<bool, JobStateError> {
        let status = match outcome {
            Ok(()) => {
                job.error.clear();
                Status::Completed
            }
            Err(reason) => {
                job.error = reason;
                Status::Failed
            }
        };
        job.status = status.as_str().into();
        job.finished_at = friction_schema::now_ms();
        if !exports::save_unless_final(&self.clickhouse, job).await? {
            tracing::info!(job_id = %job.job_id, "another worker finished the job first");
            return Ok(true);
        }
        exports::notify(&self.clickhouse, job).await?;
        self.metrics
            .jobs
            .with_label_values(&[&job.report, status.as_str()])
            .inc();
        tracing::info!(job_id = %job.job_id, status = status.as_str(), pages = job.pages, error = %job.error, "export job finished");
        Ok(true)
    }
}

/// Now, as shown on a report's cover.
fn humantime_now() -> String {
    let now = friction_schema::now_ms();
    let day = now.div_euclid(86_400_000);
    let ms = now.rem_euclid(86_400_000);
    format!(
        "{} {:02}:{:02} UTC",
        crate::filter::civil(day),
        ms / 3_600_000,
        ms / 60_000 % 60
    )
}
