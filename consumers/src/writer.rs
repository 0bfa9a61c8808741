//! Writing a batch of checked messages into the three event tables with the `clickhouse`
//! crate (RowBinary). Each table gets one INSERT per batch carrying an
//! `insert_deduplication_token` derived from the batch's partition offset ranges, so a
//! retried batch is dropped by ClickHouse instead of written twice.

use friction_schema::envelope;
use friction_schema::rows::{table, EventRow, FrictionRow, HeatmapRow, PerformanceRow};
use friction_schema::Kind;

/// Rows written per table.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// `friction_events`.
    pub friction: u64,
    /// `heatmap_data`.
    pub heatmap: u64,
    /// `page_performance_metrics`.
    pub performance: u64,
}

/// A failed write, classified for the retry policy.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Worth retrying: network, timeouts, overload, a missing table being migrated.
    #[error("transient: {0}")]
    Transient(clickhouse::error::Error),
    /// ClickHouse refuses the data itself; retrying cannot help.
    #[error("permanent: {0}")]
    Permanent(clickhouse::error::Error),
}

/// ClickHouse error codes that mean the data will never be accepted: type mismatch,
/// cannot parse, too large, illegal value...
const PERMANENT_CODES: &[u32] = &[6, 26, 27, 32, 33, 38, 41, 53, 69, 70, 72, 117, 130, 131];

fn classify(e: clickhouse::error::Error) -> WriteError {
    if let clickhouse::error::Error::BadResponse(msg) = &e {
        let permanent = msg
            .strip_prefix("Code: ")
            .and_then(|rest| rest.split('.').next())
            .and_then(|code| code.parse::<u32>().ok())
            .is_some_and(|code| PERMANENT_CODES.contains(&code));
        if permanent {
            return WriteError::Permanent(e);
        }
    }
    WriteError::Transient(e)
}

/// Writes batches.
#[derive(Clone)]
pub struct Writer {
    client: clickhouse::Client,
}

impl Writer {
    /// A writer on the friction database of `client`.
    pub fn new(client: clickhouse::Client) -> Self {
        Writer { client }
    }

    /// Writes every event of `payloads` (checked envelopes) with `token` for
    /// de-duplication. `scratch` is reused for in-place decoding.
    pub async fn write<'p>(
        &self,
        payloads: impl Iterator<Item = &'p [u8]>,
        token: &str,
        scratch: &mut Vec<u8>,
    ) -> Result<Written, WriteError> {
        let mut friction = TableInsert::<FrictionRow>::new(Kind::Friction);
        let mut heatmap = TableInsert::<HeatmapRow>::new(Kind::Heatmap);
        let mut performance = TableInsert::<PerformanceRow>::new(Kind::Performance);
        for payload in payloads {
            scratch.clear();
            scratch.extend_from_slice(payload);
            // Checked on arrival, so this decodes; a failure here is a bug, not data.
            let Ok(env) = envelope::decode(scratch) else {
                tracing::error!("a checked message no longer decodes; skipped");
                continue;
            };
            for event in &env.events {
                match EventRow::new(&env.header, event) {
                    EventRow::Friction(row) => friction.put(&self.client, token, &row).await?,
                    EventRow::Heatmap(row) => heatmap.put(&self.client, token, &row).await?,
                    EventRow::Performance(row) => {
                        performance.put(&self.client, token, &row).await?
                    }
                }
            }
        }
        Ok(Written {
            friction: friction.end().await?,
            heatmap: heatmap.end().await?,
            performance: performance.end().await?,
        })
    }

    /// Whether ClickHouse answers, for readiness.
    pub async fn ping(&self) -> bool {
        self.client.query("SELECT 1").execute().await.is_ok()
    }
}

/// One table's INSERT of a batch, opened at its first row.
struct TableInsert<T> {
    kind: Kind,
    insert: Option<clickhouse::insert::Insert<T>>,
    rows: u64,
}

impl<T: clickhouse::RowWrite> TableInsert<T> {
    fn new(kind: Kind) -> Self {
        TableInsert {
            kind,
            insert: None,
            rows: 0,
        }
    }

    async fn put(
        &mut self,
        client: &clickhouse::Client,
        token: &str,
        row: &T::Value<'_>,
    ) -> Result<(), WriteError> {
        let insert = match &mut self.insert {
            Some(insert) => insert,
            slot => slot.insert(
                client
                    .insert::<T>(table(self.kind))
                    .await
                    .map_err(classify)?
                    .with_setting("insert_deduplication_token", token),
            ),
        };
        insert.write(row).await.map_err(classify)?;
        self.rows += 1;
        Ok(())
    }

    /// Ends the INSERT (if a row was written) and returns the rows written.
    async fn end(self) -> Result<u64, WriteError> {
        if let Some(insert) = self.insert {
            insert.end().await.map_err(classify)?;
        }
        Ok(self.rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_by_error_code() {
        let bad =
            clickhouse::error::Error::BadResponse("Code: 53. DB::Exception: Type mismatch".into());
        assert!(matches!(classify(bad), WriteError::Permanent(_)));
        let missing =
            clickhouse::error::Error::BadResponse("Code: 60. DB::Exception: Unknown table".into());
        assert!(matches!(classify(missing), WriteError::Transient(_)));
        assert!(matches!(
            classify(clickhouse::error::Error::TimedOut),
            WriteError::Transient(_)
        ));
    }
}
