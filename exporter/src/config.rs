//! Exporter configuration: defaults here, overridden by `FRICTION_CONFIG` TOML and
//! `FRICTION_*` env vars (see `friction_service::config`).

use friction_service::config::{
    positive, socket_addr, ClickHouseConfig, KafkaConfig, ServiceConfig,
};
use friction_service::http::HttpConfig;
use friction_store::objects::S3Config;
use serde::{Deserialize, Serialize};

/// Everything an exporter instance needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ExporterConfig {
    /// Address of `/healthz`, `/readyz` and `/metrics`.
    pub ops_listen: String,
    /// Connection cap and timeouts of the ops server (`FRICTION_HTTP__*`).
    pub http: HttpConfig,
    /// ClickHouse: the event tables and `export_jobs`.
    #[serde(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// Kafka, where jobs are queued.
    #[serde(flatten)]
    pub kafka: KafkaConfig,
    /// Object storage, where PDFs go.
    #[serde(flatten)]
    pub s3: S3Config,
    /// Topic of export jobs.
    pub exports_topic: String,
    /// Consumer group; instances of one group share the jobs.
    pub group_id: String,
    /// Attempts at one job before it fails.
    pub max_attempts: u16,
    /// First delay between attempts; doubles (with jitter) up to `retry_max_ms`.
    pub retry_initial_ms: u64,
    /// Longest delay between attempts.
    pub retry_max_ms: u64,
    /// The wkhtmltopdf binary.
    pub wkhtmltopdf: String,
    /// Longest a PDF may take to render.
    pub render_timeout_ms: u64,
}

impl Default for ExporterConfig {
    fn default() -> Self {
        ExporterConfig {
            ops_listen: "127.0.0.1:9465".into(),
            http: HttpConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            kafka: KafkaConfig::default(),
            s3: S3Config::default(),
            exports_topic: friction_schema::topics::EXPORT_JOBS.into(),
            group_id: "friction-exporter".into(),
            max_attempts: 3,
            retry_initial_ms: 1_000,
            retry_max_ms: 10_000,
            wkhtmltopdf: "wkhtmltopdf".into(),
            render_timeout_ms: 120_000,
        }
    }
}

impl ServiceConfig for ExporterConfig {
    fn validate(&self) -> Result<(), String> {
        socket_addr("ops_listen", &self.ops_listen)?;
        self.http.validate()?;
        self.kafka.validate()?;
        positive("max_attempts", self.max_attempts.into())?;
        positive("retry_initial_ms", self.retry_initial_ms)?;
        positive("render_timeout_ms", self.render_timeout_ms)?;
        if self.retry_max_ms < self.retry_initial_ms {
            return Err("retry_max_ms must not be shorter than retry_initial_ms".into());
        }
        Ok(())
    }
}
