//! The Kafka sink: pure mechanism. It encodes a batch into one or more envelope
//! messages, queues them on an idempotent `acks=all` producer, and waits (up to the
//! request deadline) until the broker has acknowledged every one of them.
//!
//! librdkafka treats some failures (e.g. a fenced idempotent producer after messages
//! timed out during a broker stall) as fatal: the instance never recovers. The sink
//! detects that and replaces the producer, so ingest heals by itself.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use friction_schema::envelope::{self, EnvelopeHeader, RawEvent};
use friction_service::producer::{Ack, AckedProducer, Record};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::ClientConfig;

/// Why a batch is not in Kafka (the caller answers 503).
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The local producer queue is full.
    #[error("producer queue is full")]
    QueueFull,
    /// The broker did not acknowledge within the request deadline.
    #[error("no acknowledgement from the broker in time")]
    Timeout,
    /// The broker or librdkafka refused the message.
    #[error("kafka: {0}")]
    Kafka(KafkaError),
}

/// Settings of the sink.
#[derive(Debug, Clone)]
pub struct SinkConfig {
    /// librdkafka settings, brokers included.
    pub client: ClientConfig,
    /// Destination topic.
    pub topic: String,
    /// Largest message written.
    pub max_message_bytes: usize,
    /// How long a request waits for acknowledgements.
    pub ack_timeout: Duration,
}

/// Writes raw batches to Kafka.
pub struct KafkaSink {
    producer: RwLock<Arc<AckedProducer>>,
    config: SinkConfig,
}

impl KafkaSink {
    /// Creates the producer (no connection is made until the first message).
    pub fn new(config: SinkConfig) -> Result<Self, KafkaError> {
        let producer = AckedProducer::new(&config.client)?;
        Ok(KafkaSink {
            producer: RwLock::new(Arc::new(producer)),
            config,
        })
    }

    /// The librdkafka settings ingest uses on top of the configured ones.
    pub fn producer_config(
        mut base: ClientConfig,
        linger_ms: f64,
        queue_messages: u64,
        message_timeout_ms: u64,
        max_message_bytes: usize,
    ) -> ClientConfig {
        base.set("compression.type", "lz4")
            .set("linger.ms", linger_ms.to_string())
            .set("queue.buffering.max.messages", queue_messages.to_string())
            .set("message.timeout.ms", message_timeout_ms.to_string())
            // Room for the envelope framing librdkafka adds.
            .set(
                "message.max.bytes",
                (max_message_bytes + 64 * 1024).to_string(),
            );
        base
    }

    fn current(&self) -> Arc<AckedProducer> {
        self.producer
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Queues `events` under `header`, keyed by `key`, on the producer (which copies
    /// each message: `buf` is free again on return). Await [`KafkaSink::acked`] on the
    /// result before answering.
    pub fn queue(
        &self,
        key: &str,
        header: &EnvelopeHeader<'_>,
        events: &[RawEvent<'_>],
        buf: &mut Vec<u8>,
    ) -> Result<Vec<Ack>, SinkError> {
        let producer = self.current();
        let mut pending: Vec<Ack> = Vec::with_capacity(1);
        let queued = envelope::encode(
            header,
            events,
            self.config.max_message_bytes,
            buf,
            |message| {
                pending.push(producer.send(Record {
                    topic: &self.config.topic,
                    key: Some(key),
                    payload: message,
                    headers: None,
                })?);
                Ok::<_, KafkaError>(())
            },
        );
        match queued {
            Ok(()) => Ok(pending),
            Err(KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull)) => {
                Err(SinkError::QueueFull)
            }
            Err(e) => Err(self.failed(&producer, e)),
        }
    }

    /// Waits (up to the request deadline) until the broker acknowledged every queued
    /// message; returns how many there were.
    pub async fn acked(&self, pending: Vec<Ack>) -> Result<usize, SinkError> {
        let producer = self.current();
        let messages = pending.len();
        let acks = async {
            for ack in pending {
                ack.await?;
            }
            Ok(())
        };
        match tokio::time::timeout(self.config.ack_timeout, acks).await {
            Ok(Ok(())) => Ok(messages),
            Ok(Err(e)) => Err(self.failed(&producer, e)),
            Err(_) => Err(SinkError::Timeout),
        }
    }

    /// Records a failure, replacing the producer when librdkafka declared it dead.
    fn failed(&self, producer: &Arc<AckedProducer>, e: KafkaError) -> SinkError {
        if let Some((code, reason)) = producer.client().fatal_error() {
            let mut slot = self.producer.write().unwrap_or_else(|p| p.into_inner());
            // Another request may have replaced it already.
            if Arc::ptr_eq(&slot, producer) {
                tracing::error!(?code, %reason, "kafka producer hit a fatal error; replacing it");
                match AckedProducer::new(&self.config.client) {
                    Ok(fresh) => *slot = Arc::new(fresh),
                    Err(err) => tracing::error!(error = %err, "cannot create a new kafka producer"),
                }
            }
        }
        SinkError::Kafka(e)
    }

    /// Messages queued in the producer and not yet acknowledged.
    pub fn queued(&self) -> i32 {
        self.current().in_flight_count()
    }

    /// Whether the broker answers metadata for the topic. Blocks; call off the runtime.
    pub fn reachable(&self) -> bool {
        self.current()
            .client()
            .fetch_metadata(Some(&self.config.topic), Duration::from_secs(3))
            .map(|m| {
                m.topics()
                    .iter()
                    .any(|t| t.error().is_none() && !t.partitions().is_empty())
            })
            .unwrap_or(false)
    }

    /// Waits for queued messages to be delivered, for graceful shutdown.
    pub fn flush(&self, timeout: Duration) {
        if let Err(e) = self.current().flush(timeout) {
            tracing::warn!(error = %e, "kafka flush at shutdown incomplete");
        }
    }
}
