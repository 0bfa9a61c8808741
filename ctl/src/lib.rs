//! Operator tooling behind the `frictionctl` CLI: schema migrations, Kafka topics,
//! object-storage buckets and API keys. The functions are the API; `main.rs` only parses
//! arguments and prints.
#![warn(missing_docs)]

pub mod buckets;
pub mod keys;
pub mod topics;

use serde::{Deserialize, Serialize};

/// Everything the CLI may connect to; loaded like every service's config.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CtlConfig {
    /// ClickHouse.
    #[serde(flatten)]
    pub clickhouse: friction_service::config::ClickHouseConfig,
    /// Kafka.
    #[serde(flatten)]
    pub kafka: friction_service::config::KafkaConfig,
    /// Object storage.
    #[serde(flatten)]
    pub s3: friction_service::config::S3Config,
}
