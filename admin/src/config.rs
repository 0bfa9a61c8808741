//! Admin configuration: defaults here, overridden by `FRICTION_CONFIG` TOML and
//! `FRICTION_*` env vars (see `friction_service::config`).

use friction_service::config::{socket_addr, ClickHouseConfig, KafkaConfig, ServiceConfig};
use friction_service::http::HttpConfig;
use friction_store::objects::S3Config;
use serde::{Deserialize, Serialize};

/// Everything the admin service needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct AdminConfig {
    /// Address to listen on; keep it off the public ingest port.
    pub listen: String,
    /// Connection cap and timeouts of the HTTP server (`FRICTION_HTTP__*`).
    pub http: HttpConfig,
    /// ClickHouse (users, keys, usage).
    #[serde(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// Kafka, where export jobs are queued.
    #[serde(flatten)]
    pub kafka: KafkaConfig,
    /// Topic of export jobs.
    pub exports_topic: String,
    /// Object storage, for playback URLs of recordings.
    #[serde(flatten)]
    pub s3: S3Config,
    /// How long a presigned playback or download URL works, seconds.
    pub presign_expiry_s: u64,
    /// The ingest URL browsers use, written into install snippets.
    pub public_ingest_url: String,
    /// Largest JSON body accepted.
    pub max_body_bytes: usize,
    /// The console's sessions (`FRICTION_CONSOLE__*`).
    pub console: ConsoleConfig,
}

/// The console's sessions.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ConsoleConfig {
    /// How long a sign-in lasts, seconds.
    pub session_ttl_s: u64,
    /// Mark cookies `Secure` on every answer, not only when a TLS proxy in front says
    /// `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            session_ttl_s: 12 * 3600,
            secure_cookies: false,
        }
    }
}

impl Default for AdminConfig {
    fn default() -> Self {
        AdminConfig {
            listen: "127.0.0.1:8090".into(),
            http: HttpConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            kafka: KafkaConfig::default(),
            exports_topic: friction_schema::topics::EXPORT_JOBS.into(),
            s3: S3Config::default(),
            presign_expiry_s: 900,
            public_ingest_url: "http://127.0.0.1:8080".into(),
            max_body_bytes: 64 * 1024,
            console: ConsoleConfig::default(),
        }
    }
}

impl ServiceConfig for AdminConfig {
    fn validate(&self) -> Result<(), String> {
        socket_addr("listen", &self.listen)?;
        self.http.validate()?;
        self.kafka.validate()?;
        friction_service::config::positive("max_body_bytes", self.max_body_bytes as u64)?;
        if !(60..=30 * 24 * 3600).contains(&self.console.session_ttl_s) {
            return Err("console.session_ttl_s must be between 60 and 2592000 (30 days)".into());
        }
        if !(1..=7 * 24 * 3600).contains(&self.presign_expiry_s) {
            return Err("presign_expiry_s must be between 1 and 604800 (7 days)".into());
        }
        let url = &self.public_ingest_url;
        let plausible = (url.starts_with("http://") || url.starts_with("https://"))
            && !url.contains(['"', '<', '>', ' ']);
        if !plausible {
            return Err(format!(
                "public_ingest_url must be an http(s) URL, not {url:?}"
            ));
        }
        Ok(())
    }
}
