//! Creating the Kafka topics the pipeline needs (brokers here do not auto-create them).

use std::time::Duration;

use friction_schema::topics;
use friction_service::config::KafkaConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;

/// Creating topics failed.
#[derive(Debug, thiserror::Error)]
#[error("kafka: {0}")]
pub struct TopicError(String);

/// Creates the raw-events, dead-letter and export-job topics if missing; returns those
/// it created.
pub async fn ensure(
    kafka: &KafkaConfig,
    partitions: i32,
    replication: i32,
) -> Result<Vec<String>, TopicError> {
    let admin: AdminClient<DefaultClientContext> = kafka
        .client_config()
        .create()
        .map_err(|e| TopicError(e.to_string()))?;
    let new = [topics::RAW_EVENTS, topics::DEAD_LETTER, topics::EXPORT_JOBS]
        .map(|name| NewTopic::new(name, partitions, TopicReplication::Fixed(replication)));
    let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = admin
        .create_topics(new.iter(), &options)
        .await
        .map_err(|e| TopicError(e.to_string()))?;
    let mut created = Vec::new();
    for result in results {
        match result {
            Ok(name) => created.push(name),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((name, code)) => return Err(TopicError(format!("creating {name}: {code}"))),
        }
    }
    Ok(created)
}
