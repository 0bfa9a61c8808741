//! The dead-letter topic: what cannot be decoded or stored goes there with its reason in
//! a header (`friction-dlq-reason`), its details, and where it came from.

use std::time::Duration;

use friction_schema::topics::DLQ_REASON_HEADER;
use friction_service::producer::{AckedProducer, Record};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::ClientConfig;

/// Where a dead letter came from.
#[derive(Debug, Clone, Copy)]
pub struct Source {
    /// Partition of the raw topic.
    pub partition: i32,
    /// Offset in it.
    pub offset: i64,
}

/// How long one dead letter may take to be acknowledged before the send fails (and the
/// batch it belongs to is retried).
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Producer for the dead-letter topic.
pub struct DeadLetters {
    producer: AckedProducer,
    topic: String,
}

impl DeadLetters {
    /// A producer writing to `topic`.
    pub fn new(mut client: ClientConfig, topic: String) -> Result<Self, KafkaError> {
        client.set("message.timeout.ms", SEND_TIMEOUT.as_millis().to_string());
        Ok(DeadLetters {
            producer: AckedProducer::new(&client)?,
            topic,
        })
    }

    /// Writes one dead letter and waits for the broker's acknowledgement.
    pub async fn send(
        &self,
        payload: &[u8],
        reason: &str,
        detail: &str,
        source: Source,
    ) -> Result<(), KafkaError> {
        let partition = source.partition.to_string();
        let offset = source.offset.to_string();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: DLQ_REASON_HEADER,
                value: Some(reason),
            })
            .insert(Header {
                key: "friction-dlq-detail",
                value: Some(detail),
            })
            .insert(Header {
                key: "friction-source-partition",
                value: Some(&partition),
            })
            .insert(Header {
                key: "friction-source-offset",
                value: Some(&offset),
            });
        let record = Record::<(), [u8]> {
            topic: &self.topic,
            key: None,
            payload,
            headers: Some(headers),
        };
        self.producer.send(record)?.await
    }
}
