//! The consume loop. Each instance runs one loop on its own thread: poll a message,
//! check it (dead-lettering what cannot be decoded), add it to the batch, and write the
//! batch to ClickHouse when it is full or old enough. Offsets are committed only after
//! every row of the batch is in ClickHouse (at-least-once; redelivered rows are absorbed
//! by dedup tokens and ReplacingMergeTree).
//!
//! While ClickHouse fails, the batch is retried with exponential backoff and the assigned
//! partitions are paused, so nothing more is fetched or buffered. When partitions are
//! revoked, the batch is written and committed before they are given up.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use friction_service::ops::ReadyFlag;
use friction_service::shutdown::Shutdown;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance};
use rdkafka::{ClientContext, Message, Offset, TopicPartitionList};
use sha2::{Digest, Sha256};
use tokio::runtime::Handle;

use crate::decode::{self, DeadLetter};
use crate::dlq::{DeadLetters, Source};
use crate::metrics::Metrics;
use crate::writer::{WriteError, Writer};

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

/// How long a failing write is retried.
#[derive(Debug, Clone, Copy)]
enum Retries {
    /// Until it succeeds or the instance shuts down (normal operation).
    UntilShutdown,
    /// A few times (rebalance, shutdown): what is not written is redelivered anyway.
    AtMost(u32),
}

#[derive(Default)]
struct Batch {
    payloads: Vec<(Vec<u8>, Source)>,
    /// Digest of the ingest batch ids of the messages, in order.
    origins: Sha256,
    /// First and last offset per partition, including dead-lettered messages.
    ranges: BTreeMap<i32, (i64, i64)>,
    rows: usize,
    bytes: usize,
    started: Option<Instant>,
}

impl Batch {
    fn record(&mut self, source: Source) {
        self.started.get_or_insert_with(Instant::now);
        self.ranges
            .entry(source.partition)
            .and_modify(|r| r.1 = r.1.max(source.offset))
            .or_insert((source.offset, source.offset));
    }

    fn due(&self, limits: &BatchLimits) -> bool {
        self.rows >= limits.max_rows
            || self.bytes >= limits.max_bytes
            || self.started.is_some_and(|s| s.elapsed() >= limits.max_age)
    }

    /// The same for a retry of the same messages, and different for any other batch:
    /// offsets alone are not enough, since a recreated topic (or a broker that lost its
    /// data) hands out the same offsets again, and ClickHouse would silently drop those
    /// new rows as duplicates of old ones.
    fn token(&self, topic: &str) -> String {
        let ranges: Vec<String> = self
            .ranges
            .iter()
            .map(|(p, (first, last))| format!("{p}:{first}-{last}"))
            .collect();
        let digest = self.origins.clone().finalize();
        let digest: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("{topic}/{}/{digest}", ranges.join(","))
    }

    fn commit_list(&self, topic: &str) -> TopicPartitionList {
        let mut list = TopicPartitionList::new();
        for (partition, (_, last)) in &self.ranges {
            // Adding a partition to a fresh list cannot fail.
            let _ = list.add_partition_offset(topic, *partition, Offset::Offset(last + 1));
        }
        list
    }
}

struct State {
    batch: Batch,
    scratch: Vec<u8>,
}

/// What the loop and the rebalance callback share.
pub struct Shared {
    state: Mutex<State>,
    writer: Writer,
    dead_letters: DeadLetters,
    metrics: Arc<Metrics>,
    runtime: Handle,
    topic: String,
    limits: BatchLimits,
    retry_initial: Duration,
    retry_max: Duration,
    clickhouse_ready: ReadyFlag,
    shutdown: Shutdown,
}

/// Everything [`Shared`] is made of.
pub struct SharedParts {
    /// ClickHouse writer.
    pub writer: Writer,
    /// Dead-letter producer.
    pub dead_letters: DeadLetters,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Runtime the async clients run on.
    pub runtime: Handle,
    /// Raw topic.
    pub topic: String,
    /// Batch limits.
    pub limits: BatchLimits,
    /// First retry delay.
    pub retry_initial: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
    /// Readiness of ClickHouse.
    pub clickhouse_ready: ReadyFlag,
    /// Shutdown signal.
    pub shutdown: Shutdown,
}

impl Shared {
    /// Assembles the shared state.
    pub fn new(p: SharedParts) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State {
                batch: Batch::default(),
                scratch: Vec::new(),
            }),
            writer: p.writer,
            dead_letters: p.dead_letters,
            metrics: p.metrics,
            runtime: p.runtime,
            topic: p.topic,
            limits: p.limits,
            retry_initial: p.retry_initial,
            retry_max: p.retry_max,
            clickhouse_ready: p.clickhouse_ready,
            shutdown: p.shutdown,
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps `delay` unless shutdown starts; returns false on shutdown.
    fn backoff(&self, delay: Duration) -> bool {
        let until = Instant::now() + delay;
        while Instant::now() < until {
            if self.shutdown.is_triggered() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50).min(delay));
        }
        true
    }

    fn dead_letter(&self, letter: &DeadLetter, source: Source) {
        let mut delay = self.retry_initial;
        loop {
            let sent = self.runtime.block_on(self.dead_letters.send(
                &letter.payload,
                letter.reason,
                &letter.detail,
                source,
            ));
            match sent {
                Ok(()) => {
                    self.metrics
                        .dead_letters
                        .with_label_values(&[letter.reason])
                        .inc();
                    tracing::warn!(reason = letter.reason, detail = %letter.detail, partition = source.partition, offset = source.offset, "dead-lettered");
                    return;
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot write to the dead-letter topic; retrying");
                    if !self.backoff(delay) {
                        return;
                    }
                    delay = (delay * 2).min(self.retry_max);
                }
            }
        }
    }

    /// Checks a message and adds it to the batch.
    fn accept(&self, state: &mut State, payload: &[u8], source: Source) {
        match decode::check(payload, &mut state.scratch) {
            Ok(checked) => {
                for letter in &checked.dead {
                    self.dead_letter(letter, source);
                }
                if checked.events > 0 {
                    state.batch.origins.update(checked.origin.0.as_bytes());
                    state.batch.origins.update(checked.origin.1.to_le_bytes());
                    state.batch.rows += checked.events;
                    state.batch.bytes += checked.payload.len();
                    state.batch.payloads.push((checked.payload, source));
                }
            }
            Err(letter) => self.dead_letter(&letter, source),
        }
        state.batch.record(source);
    }

    /// Writes the batch and commits its offsets. Returns whether it was committed.
    fn flush(&self, state: &mut State, consumer: &BaseConsumer<Context>, retries: Retries) -> bool {
        if state.batch.ranges.is_empty() {
            return true;
        }
        let token = state.batch.token(&self.topic);
        let State { batch, scratch } = state;
        let mut delay = self.retry_initial;
        let mut attempt = 0u32;
        let mut paused: Option<TopicPartitionList> = None;
        let written = loop {
            if batch.payloads.is_empty() {
                break true;
            }
            let started = Instant::now();
            let payloads = batch.payloads.iter().map(|(p, _)| p.as_slice());
            let error = match self
                .runtime
                .block_on(self.writer.write(payloads, &token, scratch))
            {
                Ok(w) => {
                    self.clickhouse_ready.set(true);
                    self.metrics
                        .insert_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.batch_rows.observe(batch.rows as f64);
                    self.metrics
                        .rows
                        .with_label_values(&["friction_events"])
                        .inc_by(w.friction);
                    self.metrics
                        .rows
                        .with_label_values(&["heatmap_data"])
                        .inc_by(w.heatmap);
                    self.metrics
                        .rows
                        .with_label_values(&["page_performance_metrics"])
                        .inc_by(w.performance);
                    break true;
                }
                Err(WriteError::Permanent(e)) => {
                    // Retrying cannot help: park the messages in the DLQ and move on.
                    tracing::error!(error = %e, messages = batch.payloads.len(), "clickhouse refused the batch; dead-lettering it");
                    for (payload, source) in &batch.payloads {
                        let letter = DeadLetter {
                            payload: payload.clone(),
                            reason: "rejected_by_clickhouse",
                            detail: e.to_string(),
                        };
                        self.dead_letter(&letter, *source);
                    }
                    break true;
                }
                Err(WriteError::Transient(e)) => e,
            };
            self.clickhouse_ready.set(false);
            self.metrics.retries.inc();
            attempt += 1;
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "insert failed; retrying");
            if matches!(retries, Retries::AtMost(n) if attempt >= n) || self.shutdown.is_triggered()
            {
                break false;
            }
            if paused.is_none() {
                if let Ok(assignment) = consumer.assignment() {
                    if consumer.pause(&assignment).is_ok() {
                        paused = Some(assignment);
                    }
                }
            }
            if !self.backoff(delay) {
                break false;
            }
            delay = (delay * 2).min(self.retry_max);
        };
        if let Some(assignment) = paused {
            if let Err(e) = consumer.resume(&assignment) {
                tracing::warn!(error = %e, "resuming partitions failed");
            }
        }
        if !written {
            return false;
        }
        let list = batch.commit_list(&self.topic);
        if let Err(e) = consumer.commit(&list, CommitMode::Sync) {
            // The next commit covers these offsets too; until then a restart redelivers.
            tracing::warn!(error = %e, "offset commit failed");
        }
        *batch = Batch::default();
        true
    }

    /// Writes and commits what the batch holds, for revocation and shutdown; what cannot
    /// be written is dropped here and redelivered to the next owner.
    fn drain(&self, consumer: &BaseConsumer<Context>) {
        let mut state = self.lock();
        if !self.flush(&mut state, consumer, Retries::AtMost(3)) {
            tracing::warn!("batch not written before giving partitions up; it will be redelivered");
            state.batch = Batch::default();
        }
    }
}

/// librdkafka callbacks: revocation drains the batch before partitions go.
pub struct Context {
    shared: Arc<Shared>,
}

impl Context {
    /// A context over the shared state.
    pub fn new(shared: Arc<Shared>) -> Self {
        Context { shared }
    }
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            tracing::info!(
                partitions = list.count(),
                "partitions revoked; writing and committing the batch"
            );
            self.shared.drain(consumer);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            tracing::info!(partitions = list.count(), "partitions assigned");
        }
    }
}

/// Runs the loop until shutdown. Blocking: call on a thread of its own.
pub fn run(consumer: BaseConsumer<Context>, shared: Arc<Shared>, kafka_ready: ReadyFlag) {
    let mut last_probe: Option<Instant> = None;
    while !shared.shutdown.is_triggered() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                shared.metrics.messages.inc();
                let source = Source {
                    partition: message.partition(),
                    offset: message.offset(),
                };
                let mut state = shared.lock();
                shared.accept(&mut state, message.payload().unwrap_or_default(), source);
                drop(message);
                if state.batch.due(&shared.limits) {
                    shared.flush(&mut state, &consumer, Retries::UntilShutdown);
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka consumer error"),
            None => {}
        }
        {
            let mut state = shared.lock();
            if state.batch.due(&shared.limits) {
                shared.flush(&mut state, &consumer, Retries::UntilShutdown);
            }
        }
        if last_probe.is_none_or(|t| t.elapsed() >= Duration::from_secs(5)) {
            last_probe = Some(Instant::now());
            probe(&consumer, &shared, &kafka_ready);
        }
    }
    tracing::info!("consumer stopping; writing the last batch");
    shared.drain(&consumer);
    consumer.unsubscribe();
}

/// Readiness of both dependencies and the lag of each assigned partition.
fn probe(consumer: &BaseConsumer<Context>, shared: &Shared, kafka_ready: &ReadyFlag) {
    let reachable = consumer
        .fetch_metadata(Some(&shared.topic), Duration::from_secs(2))
        .is_ok();
    kafka_ready.set(reachable);
    if !shared.clickhouse_ready.get() || shared.lock().batch.ranges.is_empty() {
        shared
            .clickhouse_ready
            .set(shared.runtime.block_on(shared.writer.ping()));
    }
    if !reachable {
        return;
    }
    let Ok(position) = consumer.position() else {
        return;
    };
    // A partition not fetched from yet has no position: it resumes at its committed
    // offset, or at the start when nothing was committed.
    let committed = consumer.committed(Duration::from_secs(1)).ok();
    for element in position.elements() {
        let partition = element.partition();
        let Ok((low, high)) =
            consumer.fetch_watermarks(&shared.topic, partition, Duration::from_secs(1))
        else {
            continue;
        };
        let next = match element.offset() {
            Offset::Offset(o) => o,
            _ => match committed
                .as_ref()
                .and_then(|c| c.find_partition(&shared.topic, partition))
                .map(|e| e.offset())
            {
                Some(Offset::Offset(o)) => o,
                _ => low,
            },
        };
        shared
            .metrics
            .lag
            .with_label_values(&[&partition.to_string()])
            .set((high - next).max(0));
    }
}
