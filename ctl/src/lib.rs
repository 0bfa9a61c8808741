//! Operator tooling behind the `frictionctl` CLI, a thin layer over `friction-store`
//! (migrations, API keys, buckets) plus the Kafka topics the pipeline needs ([`topics`]).
//! `main.rs` only parses arguments and prints.
#![warn(missing_docs)]

pub mod topics;

use friction_service::config::{ClickHouseConfig, KafkaConfig, ServiceConfig};
use friction_store::objects::S3Config;
use serde::{Deserialize, Serialize};

/// Everything the CLI may connect to; loaded like every service's config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CtlConfig {
    /// ClickHouse.
    #[serde(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// Kafka.
    #[serde(flatten)]
    pub kafka: KafkaConfig,
    /// Object storage.
    #[serde(flatten)]
    pub s3: S3Config,
}

impl ServiceConfig for CtlConfig {
    fn validate(&self) -> Result<(), String> {
        self.kafka.validate()
    }
}
