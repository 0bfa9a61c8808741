//! The `session_recordings` repository: one row per uploaded recording, written only once
//! its object is stored, and read by admins to list and play recordings.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of `session_recordings`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct RecordingRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub recording_id: Uuid,
    pub owner_id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub session_id: String,
    pub page_view_id: String,
    pub url: String,
    pub object_key: String,
    pub content_type: String,
    pub size_bytes: u64,
    pub started_at: i64,
    pub uploaded_at: i64,
    pub duration_ms: u64,
}

/// Which recordings to list.
#[derive(Debug, Clone, Default)]
pub struct RecordingFilter {
    /// Only this owner's.
    pub owner_id: Option<String>,
    /// Only this session's.
    pub session_id: Option<String>,
    /// Started at or after, ms since the epoch.
    pub from_ms: Option<i64>,
    /// Started before, ms since the epoch.
    pub to_ms: Option<i64>,
    /// At most this many, newest first.
    pub limit: u64,
}

/// Records a stored recording.
pub async fn insert(client: &Client, row: &RecordingRow) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<RecordingRow>("session_recordings").await?;
    insert.write(row).await?;
    insert.end().await
}

/// Recordings matching `filter`, newest first.
pub async fn list(
    client: &Client,
    filter: &RecordingFilter,
) -> Result<Vec<RecordingRow>, clickhouse::error::Error> {
    client
        .query(
            "SELECT ?fields FROM session_recordings FINAL \
             WHERE (? = '' OR owner_id = ?) AND (? = '' OR session_id = ?) \
             AND started_at >= fromUnixTimestamp64Milli(?) AND started_at < fromUnixTimestamp64Milli(?) \
             ORDER BY started_at DESC LIMIT ?",
        )
        .bind(filter.owner_id.as_deref().unwrap_or(""))
        .bind(filter.owner_id.as_deref().unwrap_or(""))
        .bind(filter.session_id.as_deref().unwrap_or(""))
        .bind(filter.session_id.as_deref().unwrap_or(""))
        .bind(filter.from_ms.unwrap_or(0))
        .bind(filter.to_ms.unwrap_or(i64::MAX / 4))
        .bind(filter.limit)
        .fetch_all()
        .await
}

/// A recording by id.
pub async fn get(
    client: &Client,
    recording_id: Uuid,
) -> Result<Option<RecordingRow>, clickhouse::error::Error> {
    client
        .query("SELECT ?fields FROM session_recordings FINAL WHERE recording_id = ? LIMIT 1")
        .bind(recording_id.to_string())
        .fetch_optional()
        .await
}
