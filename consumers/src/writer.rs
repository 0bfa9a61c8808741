//! Writing a batch of raw messages into the three event tables with the `clickhouse`
//! crate (RowBinary). Each message is decoded here, once, from its simd-json tape
//! straight into rows that borrow its strings; an event that does not read, or a message
//! that does not, is returned as a dead letter and the rest is written. Each table
//! gets one INSERT per batch carrying the batch's `insert_deduplication_token`, so a
//! retried batch is dropped by ClickHouse instead of written twice.

use friction_schema::envelope::{Decoder, EnvelopeHeader};
use friction_schema::rows::{table, EventRow, FrictionRow, HeatmapRow, PerformanceRow};
use friction_schema::{Event, Kind, PerKind};
use friction_store::clickhouse_error;

use crate::decode::DeadLetter;
use crate::dlq::Source;

/// Rows written per table.
pub type Written = PerKind<u64>;

/// What a successful write did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Rows written per table.
    pub written: Written,
    /// What could not be decoded, to dead-letter now that the rest is stored.
    pub dead: Vec<(DeadLetter, Source)>,
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

fn classify(e: clickhouse::error::Error) -> WriteError {
    if clickhouse_error::is_permanent(&e) {
        WriteError::Permanent(e)
    } else {
        WriteError::Transient(e)
    }
}

/// Buffers reused from one write to the next.
#[derive(Default)]
pub struct Scratch {
    decoder: Decoder,
    message: Vec<u8>,
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

    /// Writes every event of `payloads` (raw messages) with `token` for de-duplication.
    pub async fn write<'p>(
        &self,
        payloads: impl Iterator<Item = (&'p [u8], Source)>,
        token: &str,
        scratch: &mut Scratch,
    ) -> Result<Outcome, WriteError> {
        let mut inserts = Inserts::new(&self.client, token);
        let mut dead = Vec::new();
        let Scratch { decoder, message } = scratch;
        for (payload, source) in payloads {
            message.clear();
            message.extend_from_slice(payload);
            let decoded = match decoder.decode(message) {
                Ok(decoded) => decoded,
                Err(e) => {
                    let letter = DeadLetter {
                        payload: payload.to_vec(),
                        reason: e.reason(),
                        detail: e.to_string(),
                    };
                    dead.push((letter, source));
                    continue;
                }
            };
            for event in decoded.events {
                match event {
                    Ok(event) => inserts.put(&decoded.header, &event).await?,
                    Err(bad) => {
                        let letter = DeadLetter {
                            payload: bad.json.into_bytes(),
                            reason: "invalid_event",
                            detail: bad.error.to_string(),
                        };
                        dead.push((letter, source));
                    }
                }
            }
        }
        Ok(Outcome {
            written: inserts.end().await?,
            dead,
        })
    }

    /// Whether ClickHouse answers, for readiness.
    pub async fn ping(&self) -> bool {
        self.client.query("SELECT 1").execute().await.is_ok()
    }
}

/// The three tables' INSERTs of one batch.
struct Inserts<'c> {
    client: &'c clickhouse::Client,
    token: &'c str,
    friction: TableInsert<FrictionRow<'static>>,
    heatmap: TableInsert<HeatmapRow<'static>>,
    performance: TableInsert<PerformanceRow<'static>>,
}

impl<'c> Inserts<'c> {
    fn new(client: &'c clickhouse::Client, token: &'c str) -> Self {
        Inserts {
            client,
            token,
            friction: TableInsert::new(Kind::Friction),
            heatmap: TableInsert::new(Kind::Heatmap),
            performance: TableInsert::new(Kind::Performance),
        }
    }

    async fn put(
        &mut self,
        header: &EnvelopeHeader<'_>,
        event: &Event<'_>,
    ) -> Result<(), WriteError> {
        let (client, token) = (self.client, self.token);
        match EventRow::new(header, event) {
            EventRow::Friction(row) => self.friction.put(client, token, &row).await,
            EventRow::Heatmap(row) => self.heatmap.put(client, token, &row).await,
            EventRow::Performance(row) => self.performance.put(client, token, &row).await,
        }
    }

    async fn end(self) -> Result<Written, WriteError> {
        Ok(Written {
            friction: self.friction.end().await?,
            heatmap: self.heatmap.end().await?,
            performance: self.performance.end().await?,
        })
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
