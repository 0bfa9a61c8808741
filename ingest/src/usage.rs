//! Key usage (requests, events, last use) aggregated in memory and written to
//! `api_key_usage` every few seconds: no database write per request.

use std::sync::Arc;

use dashmap::DashMap;
use friction_schema::api_key::UsageRow;
use uuid::Uuid;

use crate::policy::keys::KeyInfo;

#[derive(Debug, Clone)]
struct Usage {
    info: Arc<KeyInfo>,
    requests: u64,
    events: u64,
    last_used_at: i64,
}

/// Counters per key since the last flush.
#[derive(Default)]
pub struct UsageTracker {
    counters: DashMap<Uuid, Usage>,
}

impl UsageTracker {
    /// Counts one accepted request of `events` events at `now_ms`.
    pub fn record(&self, info: &Arc<KeyInfo>, events: u64, now_ms: i64) {
        let mut usage = self.counters.entry(info.key_id).or_insert_with(|| Usage {
            info: info.clone(),
            requests: 0,
            events: 0,
            last_used_at: now_ms,
        });
        usage.requests += 1;
        usage.events += events;
        usage.last_used_at = usage.last_used_at.max(now_ms);
    }

    /// Writes and clears what was counted; on failure the counts are kept for next time.
    pub async fn flush(
        &self,
        client: &clickhouse::Client,
    ) -> Result<usize, clickhouse::error::Error> {
        let keys: Vec<Uuid> = self.counters.iter().map(|e| *e.key()).collect();
        let drained: Vec<Usage> = keys
            .iter()
            .filter_map(|k| self.counters.remove(k).map(|(_, v)| v))
            .collect();
        if drained.is_empty() {
            return Ok(0);
        }
        match write(client, &drained).await {
            Ok(()) => Ok(drained.len()),
            Err(e) => {
                for usage in drained {
                    let mut entry =
                        self.counters
                            .entry(usage.info.key_id)
                            .or_insert_with(|| Usage {
                                requests: 0,
                                events: 0,
                                ..usage.clone()
                            });
                    entry.requests += usage.requests;
                    entry.events += usage.events;
                    entry.last_used_at = entry.last_used_at.max(usage.last_used_at);
                }
                Err(e)
            }
        }
    }
}

async fn write(
    client: &clickhouse::Client,
    usage: &[Usage],
) -> Result<(), clickhouse::error::Error> {
    let rows: Vec<UsageRow<'_>> = usage
        .iter()
        .map(|u| UsageRow {
            key_id: u.info.key_id,
            owner_id: &u.info.owner_id,
            minute: ((u.last_used_at / 60_000) * 60) as u32,
            requests: u.requests,
            events: u.events,
            last_used_at: u.last_used_at,
        })
        .collect();
    friction_store::usage::write(client, &rows).await
}
