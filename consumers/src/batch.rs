//! The batch model: the raw messages read since the last write, the offset range of each
//! partition they came from, and the de-duplication token that names exactly this set
//! of messages. Messages are kept as received; they are decoded once, when written.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use crate::dlq::Source;

/// When a batch is written.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Rows.
    pub max_rows: usize,
    /// Payload bytes.
    pub max_bytes: usize,
    /// Age of the first message.
    pub max_age: Duration,
}

/// Bytes of each message that go into the token: the envelope opens with its header,
/// whose batch id and part make every message ingest writes unique.
const TOKEN_PREFIX_BYTES: usize = 128;

/// Messages waiting to be written.
#[derive(Default)]
pub struct Batch {
    /// Raw messages with where they came from.
    pub payloads: Vec<(Vec<u8>, Source)>,
    /// Digest of the start of every message, in order.
    heads: Sha256,
    /// First and last offset per partition.
    ranges: BTreeMap<i32, (i64, i64)>,
    /// Events counted on arrival (a byte scan; exact counts come from the write).
    pub rows: usize,
    bytes: usize,
    started: Option<Instant>,
}

impl Batch {
    /// Adds a message received at `now` holding about `events` events.
    pub fn push(&mut self, payload: &[u8], events: usize, source: Source, now: Instant) {
        self.started.get_or_insert(now);
        self.ranges
            .entry(source.partition)
            .and_modify(|r| r.1 = r.1.max(source.offset))
            .or_insert((source.offset, source.offset));
        self.heads
            .update(&payload[..payload.len().min(TOKEN_PREFIX_BYTES)]);
        self.rows += events;
        self.bytes += payload.len();
        self.payloads.push((payload.to_vec(), source));
    }

    /// Whether nothing was read since the last write.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether the batch is full or old enough at `now`.
    pub fn due(&self, limits: &BatchLimits, now: Instant) -> bool {
        self.rows >= limits.max_rows
            || self.bytes >= limits.max_bytes
            || self
                .started
                .is_some_and(|s| now.saturating_duration_since(s) >= limits.max_age)
    }

    /// The same for a retry of the same messages, and different for any other batch:
    /// offsets alone are not enough, since a recreated topic (or a broker that lost its
    /// data) hands out the same offsets again, and ClickHouse would silently drop those
    /// new rows as duplicates of old ones.
    pub fn token(&self, topic: &str) -> String {
        let ranges: Vec<String> = self
            .ranges
            .iter()
            .map(|(p, (first, last))| format!("{p}:{first}-{last}"))
            .collect();
        let digest = self.heads.clone().finalize();
        format!(
            "{topic}/{}/{}",
            ranges.join(","),
            friction_schema::hex(&digest[..12])
        )
    }

    /// The offsets to commit once the batch is written.
    pub fn commit_list(&self, topic: &str) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for (partition, (_, last)) in &self.ranges {
            // Adding a partition to a fresh list cannot fail.
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(last + 1));
        }
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use friction_service::clock::Clock;

    const LIMITS: BatchLimits = BatchLimits {
        max_rows: 10,
        max_bytes: 1000,
        max_age: Duration::from_millis(500),
    };

    fn at(partition: i32, offset: i64) -> Source {
        Source { partition, offset }
    }

    #[test]
    fn is_due_by_rows_bytes_or_age() {
        let clock = Clock::manual();
        let mut batch = Batch::default();
        assert!(!batch.due(&LIMITS, clock.now()));
        batch.push(b"{}", 3, at(0, 1), clock.now());
        clock.advance(Duration::from_millis(499));
        assert!(!batch.due(&LIMITS, clock.now()));
        clock.advance(Duration::from_millis(1));
        assert!(batch.due(&LIMITS, clock.now()));

        let mut by_rows = Batch::default();
        by_rows.push(b"{}", 10, at(0, 1), clock.now());
        assert!(by_rows.due(&LIMITS, clock.now()));
        let mut by_bytes = Batch::default();
        by_bytes.push(&[b' '; 1000], 1, at(0, 1), clock.now());
        assert!(by_bytes.due(&LIMITS, clock.now()));
    }

    #[test]
    fn tokens_name_the_messages_not_just_the_offsets() {
        let now = Instant::now();
        let batch = |payloads: &[&[u8]]| {
            let mut b = Batch::default();
            for (i, p) in payloads.iter().enumerate() {
                b.push(p, 1, at(i as i32 % 2, 7 + i as i64), now);
            }
            b
        };
        let a = batch(&[b"first", b"second", b"third"]);
        assert_eq!(
            a.token("t"),
            batch(&[b"first", b"second", b"third"]).token("t")
        );
        assert!(a.token("t").starts_with("t/0:7-9,1:8-8/"));
        assert_ne!(
            a.token("t"),
            batch(&[b"first", b"other", b"third"]).token("t")
        );
        let list = a.commit_list("t");
        assert_eq!(list.count(), 2);
    }
}
