//! The `export_jobs` repository and the `notification_log` it feeds. A job moves
//! `pending` → `running` → `completed` | `failed`; each change is a new row version
//! (ReplacingMergeTree by `updated_at`, read `FINAL`). Workers write through
//! [`save_unless_final`], so a redelivered or stale job does not undo an outcome (the
//! check and the write are two steps: two workers finishing the same job in the same
//! instant could still both write).

use clickhouse::{Client, Row};
use friction_schema::now_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Queued, not started.
    Pending,
    /// An exporter is on it.
    Running,
    /// Its PDF is stored.
    Completed,
    /// Given up, with a reason.
    Failed,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Failed => "failed",
        }
    }

    /// Whether the job is over.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Failed)
    }
}

/// A row of `export_jobs`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ExportJobRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub job_id: Uuid,
    pub owner_id: String,
    pub requested_by: String,
    pub report: String,
    /// The checked `ExportParams`, as JSON.
    pub params: String,
    pub status: String,
    pub attempts: u16,
    pub error: String,
    pub object_key: String,
    pub download_url: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub bytes: u64,
    pub pages: u32,
    pub started_at: i64,
    pub finished_at: i64,
}

impl ExportJobRow {
    /// A new pending job.
    pub fn new(owner_id: &str, requested_by: &str, report: &str, params: String) -> Self {
        let now = now_ms();
        ExportJobRow {
            job_id: Uuid::new_v4(),
            owner_id: owner_id.to_owned(),
            requested_by: requested_by.to_owned(),
            report: report.to_owned(),
            params,
            status: Status::Pending.as_str().to_owned(),
            attempts: 0,
            error: String::new(),
            object_key: String::new(),
            download_url: String::new(),
            created_at: now,
            updated_at: now,
            bytes: 0,
            pages: 0,
            started_at: 0,
            finished_at: 0,
        }
    }

    /// The status; an unknown stored one counts as pending.
    pub fn status(&self) -> Status {
        match self.status.as_str() {
            "running" => Status::Running,
            "completed" => Status::Completed,
            "failed" => Status::Failed,
            _ => Status::Pending,
        }
    }
}

/// Writes `row` as the job's next version, unless the stored job is already final (a
/// stale worker must not undo another's outcome); returns whether it was written.
pub async fn save_unless_final(
    client: &Client,
    row: &mut ExportJobRow,
) -> Result<bool, clickhouse::error::Error> {
    if let Some(stored) = get(client, row.job_id).await? {
        if stored.status().is_final() {
            return Ok(false);
        }
    }
    save(client, row).await?;
    Ok(true)
}

/// Writes `row` as the job's next version.
pub async fn save(client: &Client, row: &mut ExportJobRow) -> Result<(), clickhouse::error::Error> {
    row.updated_at = now_ms().max(row.updated_at + 1);
    let mut insert = client.insert::<ExportJobRow>("export_jobs").await?;
    insert.write(row).await?;
    insert.end().await
}

/// A job by id.
pub async fn get(
    client: &Client,
    job_id: Uuid,
) -> Result<Option<ExportJobRow>, clickhouse::error::Error> {
    client
        .query("SELECT ?fields FROM export_jobs FINAL WHERE job_id = ? LIMIT 1")
        .bind(job_id.to_string())
        .fetch_optional()
        .await
}

/// Jobs of one owner (or every job), newest first.
pub async fn list(
    client: &Client,
    owner_id: Option<&str>,
    limit: u64,
) -> Result<Vec<ExportJobRow>, clickhouse::error::Error> {
    client
        .query(
            "SELECT ?fields FROM export_jobs FINAL WHERE (? = '' OR owner_id = ?) \
             ORDER BY created_at DESC LIMIT ?",
        )
        .bind(owner_id.unwrap_or(""))
        .bind(owner_id.unwrap_or(""))
        .bind(limit)
        .fetch_all()
        .await
}

/// A row of `notification_log`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct NotificationRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub notification_id: Uuid,
    pub owner_id: String,
    pub channel: String,
    pub kind: String,
    pub subject: String,
    pub payload: String,
    pub status: String,
    pub error: String,
    pub sent_at: i64,
}

/// Records that a finished job was announced to its owner, once per job: a retry after a
/// failure halfway does not announce it twice.
pub async fn notify(client: &Client, job: &ExportJobRow) -> Result<(), clickhouse::error::Error> {
    let job_id = job.job_id.to_string();
    let sent: u64 = client
        .query(
            "SELECT count() FROM notification_log WHERE owner_id = ? AND position(payload, ?) > 0",
        )
        .bind(&job.owner_id)
        .bind(&job_id)
        .fetch_one()
        .await?;
    if sent > 0 {
        return Ok(());
    }
    let row = NotificationRow {
        notification_id: Uuid::new_v4(),
        owner_id: job.owner_id.clone(),
        channel: "log".into(),
        kind: format!("export_{}", job.status),
        subject: format!("Your {} export is {}", job.report, job.status),
        payload: serde_json::json!({
            "job_id": job.job_id,
            "status": job.status,
            "error": job.error,
        })
        .to_string(),
        status: "sent".into(),
        error: String::new(),
        sent_at: now_ms(),
    };
    let mut insert = client.insert::<NotificationRow>("notification_log").await?;
    insert.write(&row).await?;
    insert.end().await
}
