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
        let mut friction = None;
        let mut heatmap = None;
        let mut performance = None;
        let mut written = Written::default();
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
                    EventRow::Friction(row) => {
                        let insert = self
                            .open::<FrictionRow>(&mut friction, Kind::Friction, token)
                            .await?;
                        insert.write(&row).await.map_err(classify)?;
                        written.friction += 1;
                    }
                    EventRow::Heatmap(row) => {
                        let insert = self
                            .open::<HeatmapRow>(&mut heatmap, Kind::Heatmap, token)
                            .await?;
                        insert.write(&row).await.map_err(classify)?;
                        written.heatmap += 1;
                    }
                    EventRow::Performance(row) => {
                        let insert = self
                            .open::<PerformanceRow>(&mut performance, Kind::Performance, token)
                            .await?;
                        insert.write(&row).await.map_err(classify)?;
                        written.performance += 1;
                    }
                }
            }
        }
        if let Some(insert) = friction {
            insert.end().await.map_err(classify)?;
        }
        if let Some(insert) = heatmap {
            insert.end().await.map_err(classify)?;
        }
        if let Some(insert) = performance {
            insert.end().await.map_err(classify)?;
        }
        Ok(written)
    }

    async fn open<'a, T: clickhouse::Row>(
        &self,
        slot: &'a mut Option<clickhouse::insert::Insert<T>>,
        kind: Kind,
        token: &str,
    ) -> Result<&'a mut clickhouse::insert::Insert<T>, WriteError> {
        if slot.is_none() {
            let insert = self
                .client
                .insert::<T>(table(kind))
                .await
                .map_err(classify)?
                .with_setting("insert_deduplication_token", token);
            *slot = Some(insert);
        }
        Ok(slot.as_mut().expect("set above"))
    }

    /// Whether ClickHouse answers, for readiness.
    pub async fn ping(&self) -> bool {
        self.client.query("SELECT 1").execute().await.is_ok()
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
