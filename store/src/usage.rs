//! Writing key usage to `api_key_usage`: one row per key and flush, aggregated in memory
//! by the caller, so there is no database write per request.

use friction_schema::api_key::UsageRow;

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
