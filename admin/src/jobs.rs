//! Queueing export jobs on Kafka for the exporter: one acknowledged message per job,
//! keyed by job id, so a job is only reported queued once the broker has it.

use std::time::Duration;

use friction_schema::export::JobMessage;
use friction_service::config::KafkaConfig;
use friction_service::producer::{AckedProducer, Record};
use rdkafka::error::KafkaError;

/// How long the broker may take to acknowledge a job before the request answers 503.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// The producer of the export-jobs topic.
pub struct JobQueue {
    producer: AckedProducer,
    topic: String,
}

impl JobQueue {
    /// A producer for `topic` (no connection until the first job).
    pub fn new(kafka: &KafkaConfig, topic: String) -> Result<Self, KafkaError> {
        let producer = AckedProducer::new(
            kafka
                .client_config()
                .set("message.timeout.ms", SEND_TIMEOUT.as_millis().to_string()),
        )?;
        Ok(JobQueue { producer, topic })
    }

    /// Queues `job` and waits for the broker's acknowledgement.
    pub async fn send(&self, job: JobMessage) -> Result<(), KafkaError> {
        let key = job.job_id.to_string();
        let payload = serde_json::to_vec(&job).unwrap_or_default();
        let record = Record {
            topic: &self.topic,
            key: Some(&key),
            payload: &payload,
            headers: None,
        };
        self.producer.send(record)?.await
    }
}
