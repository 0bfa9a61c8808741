//! Writing a batch back: to ClickHouse, then the dead-letter topic, then the offsets.
//! Offsets are committed only after every row of the batch is in ClickHouse and every
//! dead letter in its topic (at-least-once; redelivered rows are absorbed by dedup tokens
//! and ReplacingMergeTree).
//!
//! A failed write (ClickHouse or the dead-letter topic) is retried with the shared
//! [`Backoff`] while the assigned partitions are paused, so nothing more is fetched or
//! buffered. The batch is taken out of the shared state while it is written, so no lock
//! is held across a write or a retry; the rebalance callback only runs inside `poll`,
//! never during one.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use friction_service::backoff::Backoff;
use friction_service::clock::Clock;
use friction_service::ops::ReadyFlag;
use friction_service::shutdown::Shutdown;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer, ConsumerContext};
use rdkafka::TopicPartitionList;
use tokio::runtime::Handle;

use crate::batch::{Batch, BatchLimits};
use crate::decode::DeadLetter;
use crate::dlq::{DeadLetters, Source};
use crate::metrics::Metrics;
use crate::writer::{Scratch, WriteError, Writer, Written};

/// How long a failing write is retried.
#[derive(Debug, Clone, Copy)]
pub enum Retries {
    /// Until it succeeds or the instance shuts down (normal operation).
    UntilShutdown,
    /// A few times (rebalance, shutdown): what is not written is redelivered anyway.
    AtMost(u32),
}

struct State {
    batch: Batch,
    scratch: Scratch,
    /// When the last write ended (or the loop started).
    last_write: Instant,
}

/// Dead letters of a batch already acknowledged, by list, so a retry sends each once.
#[derive(Default)]
struct DeadLettersSent {
    /// Of the events and messages the writer could not decode.
    undecoded: usize,
    /// Of the messages ClickHouse refused.
    refused: usize,
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
    clock: Clock,
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
    /// Readiness of ClickHouse, set by every write.
    pub clickhouse_ready: ReadyFlag,
    /// Time, for batch ages.
    pub clock: Clock,
    /// Shutdown signal.
    pub shutdown: Shutdown,
}

impl Shared {
    /// Assembles the shared state.
    pub fn new(p: SharedParts) -> Arc<Self> {
        Arc::new(Shared {
            state: Mutex::new(State {
                batch: Batch::default(),
                scratch: Scratch::default(),
                last_write: p.clock.now(),
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
            clock: p.clock,
            shutdown: p.shutdown,
        })
    }

    /// Adds a message, received now, to the batch.
    pub fn push(&self, payload: &[u8], events: usize, source: Source) {
        self.metrics.messages.inc();
        self.lock()
            .batch
            .push(payload, events, source, self.clock.now());
    }

    /// Whether shutdown has started.
    pub fn stopping(&self) -> bool {
        self.shutdown.is_triggered()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Sleeps `delay` unless shutdown starts; returns false on shutdown.
    fn sleep(&self, delay: Duration) -> bool {
        let mut shutdown = self.shutdown.clone();
        self.runtime.block_on(async {
            tokio::select! {
                _ = tokio::time::sleep(delay) => true,
                _ = shutdown.wait() => false,
            }
        })
    }

    /// Sends dead letters past the first `sent` (acknowledged by an earlier attempt of
    /// the same batch, which lists them in the same order); the first failure stops and
    /// is returned, and the batch is retried.
    fn send_dead_letters<'a>(
        &self,
        letters: impl Iterator<Item = (&'a DeadLetter, Source)>,
        sent: &mut usize,
    ) -> Result<(), rdkafka::error::KafkaError> {
        for (letter, source) in letters.skip(*sent) {
            self.runtime.block_on(self.dead_letters.send(
                &letter.payload,
                letter.reason,
                &letter.detail,
                source,
            ))?;
            *sent += 1;
            self.metrics
                .dead_letters
                .with_label_values(&[letter.reason])
                .inc();
            tracing::warn!(reason = letter.reason, detail = %letter.detail, partition = source.partition, offset = source.offset, "dead-lettered");
        }
        Ok(())
    }

    /// One attempt: write the batch, then dead-letter what could not be stored.
    fn attempt(
        &self,
        batch: &Batch,
        scratch: &mut Scratch,
        token: &str,
        sent: &mut DeadLettersSent,
    ) -> Result<Written, String> {
        let payloads = batch.payloads.iter().map(|(p, s)| (p.as_slice(), *s));
        match self
            .runtime
            .block_on(self.writer.write(payloads, token, scratch))
        {
            Ok(outcome) => {
                self.clickhouse_ready.set(true);
                let letters = outcome.dead.iter().map(|(l, s)| (l, *s));
                self.send_dead_letters(letters, &mut sent.undecoded)
                    .map_err(|e| format!("dead-letter topic: {e}"))?;
                Ok(outcome.written)
            }
            Err(WriteError::Permanent(e)) => {
                // Retrying cannot help: park the messages in the DLQ and move on.
                tracing::error!(error = %e, messages = batch.payloads.len(), "clickhouse refused the batch; dead-lettering it");
                let letters: Vec<(DeadLetter, Source)> = batch
                    .payloads
                    .iter()
                    .map(|(payload, source)| {
                        let letter = DeadLetter {
                            payload: payload.clone(),
                            reason: "rejected_by_clickhouse",
                            detail: e.to_string(),
                        };
                        (letter, *source)
                    })
                    .collect();
                self.send_dead_letters(letters.iter().map(|(l, s)| (l, *s)), &mut sent.refused)
                    .map_err(|e| format!("dead-letter topic: {e}"))?;
                Ok(Written::default())
            }
            Err(WriteError::Transient(e)) => {
                self.clickhouse_ready.set(false);
                Err(e.to_string())
            }
        }
    }

    /// Takes the batch out of the shared state, writes it and commits its offsets; a
    /// batch that could not be written goes back. Returns whether it was committed.
    fn flush<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, retries: Retries) -> bool {
        let (batch, mut scratch) = {
            let mut state = self.lock();
            (
                std::mem::take(&mut state.batch),
                std::mem::take(&mut state.scratch),
            )
        };
        let committed = self.write_and_commit(&batch, &mut scratch, consumer, retries);
        let mut state = self.lock();
        state.scratch = scratch;
        state.last_write = self.clock.now();
        if !committed {
            state.batch = batch;
        }
        committed
    }

    fn write_and_commit<C: ConsumerContext>(
        &self,
        batch: &Batch,
        scratch: &mut Scratch,
        consumer: &BaseConsumer<C>,
        retries: Retries,
    ) -> bool {
        if batch.is_empty() {
            return true;
        }
        let token = batch.token(&self.topic);
        let mut sent = DeadLettersSent::default();
        let mut backoff = Backoff::new(self.retry_initial, self.retry_max);
        let mut paused: Option<TopicPartitionList> = None;
        let written = loop {
            let started = std::time::Instant::now();
            let error = match self.attempt(batch, scratch, &token, &mut sent) {
                Ok(w) => {
                    self.metrics
                        .insert_seconds
                        .observe(started.elapsed().as_secs_f64());
                    self.metrics.batch_rows.observe(w.total() as f64);
                    self.metrics.batch_bytes.observe(batch.bytes() as f64);
                    for (kind, rows) in w.iter() {
                        self.metrics
                            .rows
                            .with_label_values(&[friction_schema::rows::table(kind)])
                            .inc_by(*rows);
                    }
                    break true;
                }
                Err(error) => error,
            };
            self.metrics.retries.inc();
            let delay = backoff.next_delay();
            let attempt = backoff.attempts();
            tracing::warn!(attempt, delay_ms = delay.as_millis() as u64, error = %error, "batch not stored; retrying");
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
            if !self.sleep(delay) {
                break false;
            }
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
        true
    }

    /// Writes and commits what the batch holds, for revocation and shutdown; what cannot
    /// be written is dropped here and redelivered to the next owner.
    pub fn drain<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>) {
        if !self.flush(consumer, Retries::AtMost(3)) {
            tracing::warn!("batch not written before giving partitions up; it will be redelivered");
            self.lock().batch = Batch::default();
        }
    }

    /// How long the loop may wait for a message before the batch is due.
    pub fn poll_timeout(&self) -> Duration {
        let state = self.lock();
        state
            .batch
            .wait(&self.limits, self.clock.now(), state.last_write)
    }

    /// Writes the batch if it is due now; `caught_up` says the last poll found nothing
    /// more to read.
    pub fn flush_if_due<C: ConsumerContext>(&self, consumer: &BaseConsumer<C>, caught_up: bool) {
        let due = {
            let state = self.lock();
            state
                .batch
                .due(&self.limits, self.clock.now(), caught_up, state.last_write)
        };
        if due {
            self.flush(consumer, Retries::UntilShutdown);
        }
    }
}
