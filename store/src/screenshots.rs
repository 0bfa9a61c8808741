//! Linking an uploaded screenshot to its friction event. The link lives in the
//! `screenshot_links` Join table, keyed by owner and event id; `friction_events` reads
//! `screenshot_url` from it at query time (migration 0005 says why), so the URL shows up
//! whichever of the event and the screenshot arrives first.

use clickhouse::{Client, Row};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of `screenshot_links`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ScreenshotLink {
    pub owner_id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub event_id: Uuid,
    pub url: String,
    pub session_id: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub size_bytes: u64,
    pub uploaded_at: i64,
}

/// Links a stored screenshot to its event (a later link for the same event wins).
pub async fn link(client: &Client, row: &ScreenshotLink) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<ScreenshotLink>("screenshot_links").await?;
    insert.write(row).await?;
    insert.end().await
}
