//! The batch model: the raw messages read since the last write, the offset range of each
//! partition they came from, and the de-duplication token that names exactly this set
//! of messages. Messages are kept as received; they are decoded once, when written.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use rdkafka::{Offset, TopicPartitionList};
use sha2::{Digest, Sha256};

use crate::dlq::Source;

/// When a batch is written: once it is full or old enough, or as soon as the consumer
/// has caught up with its partitions, if `min_interval` has passed since the previous
/// write. Quiet streams are written at once; under load inserts stay large.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Rows.
    pub max_rows: usize,
    /// Payload bytes.
    pub max_bytes: usize,
    /// Age of the first message.
    pub max_age: Duration,
    /// Least time between two writes of a caught-up consumer.
    pub min_interval: Duration,
}

/// The longest a poll waits, so shutdown is noticed.
const IDLE_POLL: Duration = Duration::from_millis(100);

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

    /// Kafka payload bytes read into the batch.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether nothing was read since the last write.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether the batch is to be written at `now`: full, old enough, or `caught_up`
    /// (nothing more to read now) with `min_interval` passed since `last_write`.
    pub fn due(
        &self,
        limits: &BatchLimits,
        now: Instant,
        caught_up: bool,
        last_write: Instant,
    ) -> bool {
        let Some(started) = self.started else {
            return false;
        };
        self.rows >= limits.max_rows
            || self.bytes >= limits.max_bytes
            || now.saturating_duration_since(started) >= limits.max_age
            || (caught_up && now.saturating_duration_since(last_write) >= limits.min_interval)
    }

    /// How long the loop may wait for the next message before this batch is due, with
    /// the same reading of `last_write`.
    pub fn wait(&self, limits: &BatchLimits, now: Instant, last_write: Instant) -> Duration {
        let Some(started) = self.started else {
            return IDLE_POLL;
        };
        let by_age = (started + limits.max_age).saturating_duration_since(now);
        let by_interval = (last_write + limits.min_interval).saturating_duration_since(now);
        by_age.min(by_interval).min(IDLE_POLL)
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
        min_interval: Duration::from_millis(200),
    };

    fn at(partition: i32, offset: i64) -> Source {
        Source { partition, offset }
    }

    #[test]
    fn is_due_by_rows_bytes_or_age() {
        let clock = Clock::manual();
        let written = clock.now();
        let due = |b: &Batch, caught_up| b.due(&LIMITS, clock.now(), caught_up, written);
        let mut batch = Batch::default();
        assert!(!due(&batch, true));
        batch.push(b"{}", 3, at(0, 1), clock.now());
        clock.advance(Duration::from_millis(499));
        assert!(!due(&batch, false));
        clock.advance(Duration::from_millis(1));
        assert!(due(&batch, false));

        let mut by_rows = Batch::default();
        by_rows.push(b"{}", 10, at(0, 1), clock.now());
        assert!(due(&by_rows, false));
        let mut by_bytes = Batch::default();
        by_bytes.push(&[b' '; 1000], 1, at(0, 1), clock.now());
        assert!(due(&by_bytes, false));
    }

    #[test]
    fn a_caught_up_consumer_writes_at_once_but_not_more_often_than_the_interval() {
        let clock = Clock::manual();
        let written = clock.now();
        let mut batch = Batch::default();
        assert_eq!(
            batch.wait(&LIMITS, clock.now(), written),
            Duration::from_millis(100)
        );
        clock.advance(Duration::from_millis(50));
        batch.push(b"{}", 1, at(0, 1), clock.now());
        assert!(!batch.due(&LIMITS, clock.now(), true, written));
        assert_eq!(
            batch.wait(&LIMITS, clock.now(), written),
            Duration::from_millis(100)
        );
        clock.advance(Duration::from_millis(100));
        assert_eq!(
            batch.wait(&LIMITS, clock.now(), written),
            Duration::from_millis(50)
        );
        clock.advance(Duration::from_millis(50));
        assert!(!batch.due(&LIMITS, clock.now(), false, written));
        assert!(batch.due(&LIMITS, clock.now(), true, written));
        assert_eq!(batch.wait(&LIMITS, clock.now(), written), Duration::ZERO);
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
