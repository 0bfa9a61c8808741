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

/// When each of `keys` (owner, key id) last sent an accepted request (ms since the
/// epoch); keys never used are absent. Filtering by owner first reads only their part of
/// the table (it is sorted by owner, then key).
pub async fn last_used(
    client: &clickhouse::Client,
    keys: &[(&str, Uuid)],
) -> Result<HashMap<Uuid, i64>, clickhouse::error::Error> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut owners: Vec<&str> = keys.iter().map(|(owner, _)| *owner).collect();
    owners.sort_unstable();
    owners.dedup();
    let ids: Vec<String> = keys.iter().map(|(_, id)| id.to_string()).collect();
    let rows: Vec<LastUse> = client
        .query(
            "SELECT key_id, max(last_used_at) AS last_used_at FROM api_key_usage \
             WHERE owner_id IN (SELECT arrayJoin(?)) AND key_id IN (SELECT toUUID(arrayJoin(?))) \
             GROUP BY key_id",
        )
        .bind(owners)
        .bind(ids)
        .fetch_all()
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.key_id, r.last_used_at))
        .collect())
}
