//! `/v1/exports`: PDF report jobs. A request is checked, written as a `pending` job and
//! queued on Kafka for the exporter; members see their own jobs, admins every job, and a
//! completed job comes with a presigned download URL that expires.

use friction_schema::export::{ExportParams, JobMessage};
use friction_schema::topics::BUCKET_EXPORTS;
use friction_store::exports::{self, ExportJobRow, Status};
use friction_store::users::Role;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{presigned, timestamp, Call};
use crate::auth::Caller;
use crate::error::AdminError;

fn job_json(job: &ExportJobRow) -> Value {
    let at = |ms: i64| if ms > 0 { timestamp(ms) } else { Value::Null };
    json!({
        "id": job.job_id,
        "owner_id": job.owner_id,
        "report_type": job.report,
        "params": serde_json::from_str::<Value>(&job.params).unwrap_or(Value::Null),
        "status": job.status,
        "error": if job.error.is_empty() { Value::Null } else { job.error.clone().into() },
        "attempts": job.attempts,
        "created_at": timestamp(job.created_at),
        "started_at": at(job.started_at),
        "finished_at": at(job.finished_at),
        "bytes": job.bytes,
        "pages": job.pages,
    })
}

/// The caller's job `{id}`, or 404 whether it is missing or someone else's.
async fn owned(call: &Call<'_>, caller: &Caller) -> Result<ExportJobRow, AdminError> {
    let id = Uuid::try_parse(call.param).map_err(|_| AdminError::NotFound("export"))?;
    let job = exports::get(&call.state.clickhouse, id)
        .await?
        .ok_or(AdminError::NotFound("export"))?;
    match caller.may_access(&job.owner_id) {
        true => Ok(job),
        false => Err(AdminError::NotFound("export")),
    }
}

/// `POST /v1/exports`: 202 with the queued job.
pub async fn create(
    call: &Call<'_>,
    caller: &Caller,
    body: Map<String, Value>,
) -> Result<Value, AdminError> {
    let mut params: ExportParams = serde_json::from_value(Value::Object(body))
        .map_err(|e| AdminError::InvalidJson(format!("not an export request: {e}")))?;
    params.check()?;
    let owner = caller.user_id.to_string();
    let stored = serde_json::to_string(&params).unwrap_or_default();
    let mut job = ExportJobRow::new(&owner, &owner, params.report_type.as_str(), stored);
    let client = &call.state.clickhouse;
    exports::save(client, &mut job).await?;
    if let Err(e) = call
        .state
        .jobs
        .send(JobMessage { job_id: job.job_id })
        .await
    {
        tracing::warn!(job_id = %job.job_id, error = %e, "export job not queued");
        job.status = Status::Failed.as_str().into();
        job.error = "the job could not be queued; request the export again".into();
        job.finished_at = friction_schema::now_ms();
        exports::save(client, &mut job).await?;
        exports::notify(client, &job).await?;
        return Err(AdminError::QueueUnavailable);
    }
    tracing::info!(job_id = %job.job_id, report = %job.report, "export queued");
    Ok(job_json(&job))
}

/// `GET /v1/exports?limit=`: the caller's jobs (admins: every job), newest first.
pub async fn list(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    let own = caller.user_id.to_string();
    let owner = match caller.role {
        Role::Admin => None,
        Role::Member => Some(own.as_str()),
    };
    let limit = match call.query("limit") {
        None => 100,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| AdminError::InvalidQuery("limit must be from 1 to 1000".into()))?,
    };
    let jobs = exports::list(&call.state.clickhouse, owner, limit).await?;
    let list: Vec<Value> = jobs.iter().map(job_json).collect();
    Ok(json!({ "exports": list }))
}

/// `GET /v1/exports/{id}`: status, error, timings and, once completed, `download_url`.
pub async fn get(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    let job = owned(call, caller).await?;
    let mut value = job_json(&job);
    if job.status() == Status::Completed {
        let (url, expires) = presigned(call, BUCKET_EXPORTS, &job.object_key).await?;
        value["download_url"] = url;
        value["download_expires_at"] = expires;
    }
    Ok(value)
}
