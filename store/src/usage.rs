//! Key usage in `api_key_usage`: written as one row per key and flush (aggregated in
//! memory by ingest, so there is no database write per request), read as last use.

use std::collections::HashMap;

use clickhouse::Row;
use friction_schema::api_key::UsageRow;
use serde::Deserialize;
use uuid::Uuid;

/// Writes `rows` in one INSERT.
pub async fn write(
    client: &clickhouse::Client,
    rows: &[UsageRow<'_>],
) -> Result<(), clickhouse::error::Error> {
    let mut insert = client.insert::<UsageRow>("api_key_usage").await?;
    for row in rows {
        insert.write(row).await?;
    }
    insert.end().await
}

#[derive(Row, Deserialize)]
struct LastUse {
    #[serde(with = "clickhouse::serde::uuid")]
    key_id: Uuid,
    last_used_at: i64,
}

/// When each of `keys` last sent an accepted request (ms since the epoch); keys never
/// used are absent.
pub async fn last_used(
    client: &clickhouse::Client,
    keys: &[Uuid],
) -> Result<HashMap<Uuid, i64>, clickhouse::error::Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let ids: Vec<String> = keys.iter().map(Uuid::to_string).collect();
    let rows: Vec<LastUse> = client
        .query(
            "SELECT key_id, max(last_used_at) AS last_used_at FROM api_key_usage \
             WHERE has(?, toString(key_id)) GROUP BY key_id",
        )
        .bind(ids)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.key_id, r.last_used_at))
        .collect())
}
