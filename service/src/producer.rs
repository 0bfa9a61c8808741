//! The one Kafka producer every service writes with: each send returns a future that
//! resolves when the broker acknowledged the message (or refused it).
//!
//! rdkafka's `FutureProducer` polls for acknowledgements in 100 ms rounds and, because
//! it rounds the time left in a round down to whole milliseconds, spins for up to the
//! last millisecond of each: about 1% of a core per producer, idle or not. This one
//! polls in rounds of [`POLL_ROUND`] on its own thread, so that spin is about 0.1%.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rdkafka::client::{Client, ClientContext};
use rdkafka::error::{KafkaError, KafkaResult};
use rdkafka::message::{OwnedHeaders, ToBytes};
use rdkafka::producer::{BaseProducer, BaseRecord, DeliveryResult, Producer, ProducerContext};
use rdkafka::ClientConfig;
use tokio::sync::oneshot;

/// How long the polling thread waits in librdkafka per round. Acknowledgements wake it
/// at once; the round only bounds how long dropping the producer waits for the thread.
const POLL_ROUND: Duration = Duration::from_secs(1);

/// Hands each acknowledgement to the future waiting for it.
pub struct AckContext;

impl ClientContext for AckContext {}

impl ProducerContext for AckContext {
    type DeliveryOpaque = Box<oneshot::Sender<KafkaResult<()>>>;

    fn delivery(&self, result: &DeliveryResult<'_>, waiting: Self::DeliveryOpaque) {
        // The waiter may have given up (request deadline); nothing to tell then.
        let _ = waiting.send(result.as_ref().map(|_| ()).map_err(|(e, _)| e.clone()));
    }
}

/// A message to send.
pub struct Record<'a, K: ToBytes + ?Sized, P: ToBytes + ?Sized> {
    /// Destination topic.
    pub topic: &'a str,
    /// Partitioning key, if any.
    pub key: Option<&'a K>,
    /// The message.
    pub payload: &'a P,
    /// Headers, if any.
    pub headers: Option<OwnedHeaders>,
}

/// An acknowledged producer with its polling thread.
pub struct AckedProducer {
    producer: Arc<BaseProducer<AckContext>>,
    stop: Arc<AtomicBool>,
    poller: Option<std::thread::JoinHandle<()>>,
}

impl AckedProducer {
    /// Creates the producer (no connection is made until the first message) and starts
    /// its polling thread. Acknowledged means by every in-sync replica (`acks=all`), and
    /// written once (idempotence), whatever `config` says.
    pub fn new(config: &ClientConfig) -> KafkaResult<Self> {
        let mut config = config.clone();
        config.set("acks", "all").set("enable.idempotence", "true");
        let producer: Arc<BaseProducer<AckContext>> =
            Arc::new(config.create_with_context(AckContext)?);
        let stop = Arc::new(AtomicBool::new(false));
        let (polled, stopped) = (Arc::clone(&producer), Arc::clone(&stop));
        let poller = std::thread::Builder::new()
            .name("kafka-acks".into())
            .spawn(move || {
                while !stopped.load(Ordering::Relaxed) {
                    polled.poll(POLL_ROUND);
                }
            })
            .map_err(|e| KafkaError::ClientCreation(e.to_string()))?;
        Ok(AckedProducer {
            producer,
            stop,
            poller: Some(poller),
        })
    }

    /// Queues `record` (librdkafka copies it) and returns what resolves on its
    /// acknowledgement. Fails at once when the local queue is full.
    pub fn send<K, P>(&self, record: Record<'_, K, P>) -> KafkaResult<Ack>
    where
        K: ToBytes + ?Sized,
        P: ToBytes + ?Sized,
    {
        let (sender, receiver) = oneshot::channel();
        let mut base =
            BaseRecord::with_opaque_to(record.topic, Box::new(sender)).payload(record.payload);
        if let Some(key) = record.key {
            base = base.key(key);
        }
        if let Some(headers) = record.headers {
            base = base.headers(headers);
        }
        self.producer.send(base).map_err(|(e, _)| e)?;
        Ok(Ack(receiver))
    }

    /// The librdkafka client (fatal errors, metadata).
    pub fn client(&self) -> &Client<AckContext> {
        self.producer.client()
    }

    /// Messages queued and not yet acknowledged.
    pub fn in_flight_count(&self) -> i32 {
        self.producer.in_flight_count()
    }

    /// Waits for queued messages to be delivered. Blocks.
    pub fn flush(&self, timeout: Duration) -> KafkaResult<()> {
        self.producer.flush(timeout)
    }
}

impl Drop for AckedProducer {
    /// Waits (up to a poll round) for the polling thread, so librdkafka is torn down
    /// before the producer is gone, as rdkafka's own producers do.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(poller) = self.poller.take() {
            let _ = poller.join();
        }
    }
}

/// Resolves when the broker acknowledged a message, with its error if it refused it or
/// librdkafka gave up on it (`message.timeout.ms`).
pub struct Ack(oneshot::Receiver<KafkaResult<()>>);

impl Future for Ack {
    type Output = KafkaResult<()>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|acked| acked.unwrap_or(Err(KafkaError::Canceled)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With no broker, librdkafka gives up after `message.timeout.ms` and the waiting
    /// future gets that error: the delivery path works without a broker to test it.
    #[tokio::test]
    async fn an_undeliverable_message_resolves_with_its_error() {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", "127.0.0.1:1")
            .set("message.timeout.ms", "200");
        let producer = AckedProducer::new(&config).expect("producer");
        let ack = producer
            .send(Record::<str, [u8]> {
                topic: "nowhere",
                key: Some("k"),
                payload: b"payload",
                headers: None,
            })
            .expect("queued");
        // librdkafka's count also holds its own requests (the idempotent producer asks
        // the broker for an id), so the message is at least one of them.
        assert!(producer.in_flight_count() >= 1);
        let acked = tokio::time::timeout(Duration::from_secs(10), ack)
            .await
            .expect("resolved within the message timeout");
        assert!(
            matches!(acked, Err(KafkaError::MessageProduction(_))),
            "{acked:?}"
        );
    }
}
