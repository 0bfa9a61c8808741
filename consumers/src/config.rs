//! Consumer configuration: defaults here, overridden by `FRICTION_CONFIG` TOML and
//! `FRICTION_*` env vars (see `friction_service::config`).

use friction_service::config::{
    positive, socket_addr, ClickHouseConfig, KafkaConfig, ServiceConfig,
};
use friction_service::http::HttpConfig;
use serde::{Deserialize, Serialize};

/// Everything a consumer instance needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsumersConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub ops_listen: String,
    /// Connection cap and timeouts of the ops server (`FRICTION_HTTP__*`).
    pub http: HttpConfig,
    /// ClickHouse.
    #[serde(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// Kafka.
    #[serde(flatten)]
    pub kafka: KafkaConfig,
    /// Topic of raw batches.
    pub raw_topic: String,
    /// Topic undecodable messages and events go to.
    pub dlq_topic: String,
    /// Consumer group; instances of one group share the partitions.
    pub group_id: String,
    /// A batch is written once it holds this many rows (all tables together)...
    pub batch_max_rows: usize,
    /// ...or this many payload bytes...
    pub batch_max_bytes: usize,
    /// ...or its first message is this old.
    pub batch_max_age_ms: u64,
    /// A batch is also written as soon as the consumer has read everything there is,
    /// if this long has passed since the previous write (0: at once).
    pub batch_min_interval_ms: u64,
    /// First retry delay after a failed write; doubles (with jitter) up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// Longest delay between insert retries.
    pub retry_max_ms: u64,
    /// Kafka group session timeout.
    pub session_timeout_ms: u64,
}

impl Default for ConsumersConfig {
    fn default() -> Self {
        ConsumersConfig {
            ops_listen: "127.0.0.1:9464".into(),
            http: HttpConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            kafka: KafkaConfig::default(),
            raw_topic: friction_schema::topics::RAW_EVENTS.into(),
            dlq_topic: friction_schema::topics::DEAD_LETTER.into(),
            group_id: "friction-consumers".into(),
            batch_max_rows: 5_000,
            batch_max_bytes: 16 << 20,
            batch_max_age_ms: 1_000,
            batch_min_interval_ms: 200,
            retry_initial_ms: 200,
            retry_max_ms: 10_000,
            session_timeout_ms: 10_000,
        }
    }
}

impl ServiceConfig for ConsumersConfig {
    fn validate(&self) -> Result<(), String> {
        socket_addr("ops_listen", &self.ops_listen)?;
        self.http.validate()?;
        self.kafka.validate()?;
        positive("batch_max_rows", self.batch_max_rows as u64)?;
        positive("batch_max_bytes", self.batch_max_bytes as u64)?;
        positive("batch_max_age_ms", self.batch_max_age_ms)?;
        positive("retry_initial_ms", self.retry_initial_ms)?;
        if self.retry_max_ms < self.retry_initial_ms {
            return Err("retry_max_ms must not be shorter than retry_initial_ms".into());
        }
        if self.raw_topic == self.dlq_topic {
            return Err("dlq_topic must differ from raw_topic".into());
        }
        Ok(())
    }
}
