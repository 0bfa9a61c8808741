//! `/v1/recordings`: the session recordings uploaded through ingest, for admins only; one
//! recording comes with a presigned playback URL that expires.

use std::time::UNIX_EPOCH;

use friction_schema::topics::BUCKET_RECORDINGS;
use friction_store::recordings::{self, RecordingFilter, RecordingRow};
use serde_json::{json, Value};
use uuid::Uuid;

use super::{presigned, timestamp, Call};
use crate::auth::Caller;
use crate::error::AdminError;

/// Most recordings in one listing.
const MAX_LIMIT: u64 = 1000;

fn recording_json(r: &RecordingRow) -> Value {
    json!({
        "id": r.recording_id,
        "owner_id": r.owner_id,
        "key_id": r.key_id,
        "session_id": r.session_id,
        "started_at": timestamp(r.started_at),
        "duration_ms": r.duration_ms,
        "size_bytes": r.size_bytes,
        "content_type": r.content_type,
        "uploaded_at": timestamp(r.uploaded_at),
    })
}

/// A time bound: RFC 3339 (`2026-11-26T10:00:00Z`) or ms since the epoch.
fn instant(call: &Call<'_>, name: &str) -> Result<Option<i64>, AdminError> {
    let Some(raw) = call.query(name) else {
        return Ok(None);
    };
    let ms = raw.parse::<i64>().ok().or_else(|| {
        let at = humantime::parse_rfc3339_weak(&raw).ok()?;
        Some(at.duration_since(UNIX_EPOCH).ok()?.as_millis() as i64)
    });
    ms.map(Some).ok_or_else(|| {
        AdminError::InvalidQuery(format!(
            "{name} must be a time like 2026-11-26T10:00:00Z or milliseconds since 1970"
        ))
    })
}

/// `GET /v1/recordings?session_id=&from=&to=&limit=`, newest first.
pub async fn list(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    caller.require_admin()?;
    let limit = match call.query("limit") {
        None => 100,
        Some(raw) => raw
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| AdminError::InvalidQuery("limit must be from 1 to 1000".into()))?,
    };
    let filter = RecordingFilter {
        owner_id: call.query("owner_id"),
        session_id: call.query("session_id"),
        from_ms: instant(call, "from")?,
        to_ms: instant(call, "to")?,
        limit,
    };
    let rows = recordings::list(&call.state.clickhouse, &filter).await?;
    let list: Vec<Value> = rows.iter().map(recording_json).collect();
    Ok(json!({ "recordings": list }))
}

/// `GET /v1/recordings/{id}`, with `playback_url` valid until `playback_expires_at`.
pub async fn get(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    caller.require_admin()?;
    let id = Uuid::try_parse(call.param).map_err(|_| AdminError::NotFound("recording"))?;
    let row = recordings::get(&call.state.clickhouse, id)
        .await?
        .ok_or(AdminError::NotFound("recording"))?;
    let (url, expires) = presigned(call, BUCKET_RECORDINGS, &row.object_key).await?;
    let mut value = recording_json(&row);
    value["playback_url"] = url;
    value["playback_expires_at"] = expires;
    Ok(value)
}
