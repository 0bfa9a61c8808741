//! Ingest configuration: defaults here, overridden by `FRICTION_CONFIG` TOML and
//! `FRICTION_*` env vars (see `friction_service::config`).

use friction_schema::Limits;
use friction_service::config::{
    positive, socket_addr, ClickHouseConfig, KafkaConfig, ServiceConfig,
};
use friction_service::http::HttpConfig;
use friction_store::objects::{S3Config, MIN_PART_SIZE};
use serde::{Deserialize, Serialize};

/// librdkafka's largest `linger.ms`.
const MAX_LINGER_MS: f64 = 900_000.0;

/// Everything ingest needs to run.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// Address of the public listener (browsers: events, uploads, the SDK).
    pub listen: String,
    /// Address of `/healthz`, `/readyz` and `/metrics`; keep it off the public network.
    pub ops_listen: String,
    /// Connection cap and timeouts of the HTTP server (`FRICTION_HTTP__*`).
    pub http: HttpConfig,
    /// ClickHouse (the `api_keys` table and usage).
    #[serde(flatten)]
    pub clickhouse: ClickHouseConfig,
    /// Kafka.
    #[serde(flatten)]
    pub kafka: KafkaConfig,
    /// Object storage, for recordings and screenshots.
    #[serde(flatten)]
    pub s3: S3Config,
    /// Limits of uploads (`FRICTION_UPLOADS__*`).
    pub uploads: UploadConfig,
    /// Topic raw batches are written to.
    pub raw_topic: String,
    /// Largest Kafka message ingest writes; bigger batches are split.
    pub max_message_bytes: usize,
    /// How long a request waits for the broker's acknowledgement before answering 503.
    pub produce_timeout_ms: u64,
    /// librdkafka's own delivery timeout; longer than a request waits, so a short broker
    /// stall does not fail messages (which would fence the idempotent producer).
    pub message_timeout_ms: u64,
    /// librdkafka `linger.ms`: how long a message waits for others to share its produce
    /// request (fractions of a millisecond allowed). Every request waits for its batch's
    /// acknowledgement, so this is latency each request pays; 0 sends only what is
    /// already queued, in smaller requests that cost more CPU per event. Shorter than
    /// `produce_timeout_ms`.
    pub linger_ms: f64,
    /// Messages librdkafka may queue; a full queue answers 503.
    pub producer_queue_messages: u64,
    /// Largest request body as sent (compressed or not).
    pub max_body_bytes: usize,
    /// Largest body after decompression.
    pub max_decompressed_bytes: usize,
    /// Largest decompressed/compressed ratio accepted (a higher one is a bomb).
    pub max_compression_ratio: usize,
    /// Compressed or large (over 256 KiB) bodies decoded and parsed at once, off the
    /// async workers (more wait their turn; each holds at most `max_decompressed_bytes`).
    pub max_concurrent_decodes: usize,
    /// Per-event validation limits.
    pub limits: Limits,
    /// How long a looked-up key is trusted before it is looked up again.
    pub key_cache_ttl_ms: u64,
    /// How long an unknown key is remembered as unknown.
    pub key_negative_ttl_ms: u64,
    /// Known keys held in the cache.
    pub key_cache_capacity: u64,
    /// Unknown keys remembered in the negative cache.
    pub key_negative_cache_capacity: u64,
    /// How long a known key keeps working from memory while ClickHouse is unreachable.
    pub key_grace_ms: u64,
    /// Rate limit for keys without one.
    pub default_rate_limit_per_minute: u32,
    /// Ingest replicas sharing the traffic: each enforces `ceil(limit / replicas)` of a
    /// key's rate limit, in memory, so N replicas behind an even load balancer allow
    /// the key's limit in total without talking to each other.
    pub rate_limit_replicas: u32,
    /// Rate-limit buckets idle this long are dropped.
    pub bucket_idle_ms: u64,
    /// Refused requests (4xx other than 429) one client address may send per minute;
    /// past it, its requests are refused with 429 before anything is read.
    pub refusals_per_minute_per_client: u32,
    /// How often aggregated key usage is written to ClickHouse.
    pub usage_flush_ms: u64,
    /// Zero the host part of client IPs (IPv4 /24, IPv6 /48) before they are stored.
    pub anonymize_ip: bool,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Proxies in front of ingest that each append the address they saw to
    /// `X-Forwarded-For` (e.g. 2 for a CDN in front of a load balancer); the client is the
    /// entry that many places from the right.
    pub forwarded_for_hops: usize,
    /// The built SDK served at `/friction-tracker.js`.
    pub sdk_path: String,
    /// The SDK's vitals build (with LCP, CLS and INP) served at
    /// `/friction-tracker.vitals.js`.
    pub sdk_vitals_path: String,
    /// `Access-Control-Max-Age` of preflight answers, seconds.
    pub cors_max_age_s: u32,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            listen: "127.0.0.1:8080".into(),
            ops_listen: "127.0.0.1:9463".into(),
            http: HttpConfig::default(),
            clickhouse: ClickHouseConfig::default(),
            kafka: KafkaConfig::default(),
            s3: S3Config::default(),
            uploads: UploadConfig::default(),
            raw_topic: friction_schema::topics::RAW_EVENTS.into(),
            max_message_bytes: 900_000,
            produce_timeout_ms: 5_000,
            message_timeout_ms: 60_000,
            linger_ms: 0.5,
            producer_queue_messages: 100_000,
            max_body_bytes: 1 << 20,
            max_decompressed_bytes: 5 << 20,
            max_compression_ratio: 100,
            // Leave a core to everything else.
            max_concurrent_decodes: std::thread::available_parallelism()
                .map_or(1, |n| n.get().saturating_sub(1).max(1)),
            limits: Limits::default(),
            key_cache_ttl_ms: 30_000,
            key_negative_ttl_ms: 10_000,
            key_cache_capacity: 100_000,
            key_negative_cache_capacity: 10_000,
            key_grace_ms: 3_600_000,
            default_rate_limit_per_minute: friction_schema::api_key::DEFAULT_RATE_LIMIT_PER_MINUTE,
            bucket_idle_ms: 120_000,
            refusals_per_minute_per_client: 120,
            rate_limit_replicas: 1,
            usage_flush_ms: 5_000,
            anonymize_ip: true,
            trust_forwarded_for: false,
            forwarded_for_hops: 1,
            sdk_path: "sdk/dist/friction-tracker.min.js".into(),
            sdk_vitals_path: "sdk/dist/friction-tracker.vitals.min.js".into(),
            cors_max_age_s: 86_400,
        }
    }
}

/// Limits of recording and screenshot uploads.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct UploadConfig {
    /// Largest session recording.
    pub max_recording_bytes: u64,
    /// Largest screenshot.
    pub max_screenshot_bytes: u64,
    /// Uploads past this size go in parts of this size (at least 5 MiB); it is also the
    /// memory one upload holds at most.
    pub part_size_bytes: usize,
    /// Uploads in progress at once; more answer 503.
    pub max_concurrent: usize,
    /// Time to receive a whole upload (longer than the events' body timeout).
    pub body_timeout_ms: u64,
}

impl Default for UploadConfig {
    fn default() -> Self {
        UploadConfig {
            max_recording_bytes: 100 << 20,
            max_screenshot_bytes: 10 << 20,
            part_size_bytes: 8 << 20,
            max_concurrent: 16,
            body_timeout_ms: 600_000,
        }
    }
}

impl UploadConfig {
    /// The body timeout.
    pub fn body_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_millis(self.body_timeout_ms)
    }
}

impl ServiceConfig for IngestConfig {
    fn validate(&self) -> Result<(), String> {
        socket_addr("listen", &self.listen)?;
        socket_addr("ops_listen", &self.ops_listen)?;
        positive("max_concurrent_decodes", self.max_concurrent_decodes as u64)?;
        positive("forwarded_for_hops", self.forwarded_for_hops as u64)?;
        positive("rate_limit_replicas", self.rate_limit_replicas.into())?;
        positive(
            "refusals_per_minute_per_client",
            u64::from(self.refusals_per_minute_per_client),
        )?;
        self.http.validate()?;
        self.kafka.validate()?;
        positive(
            "uploads.max_recording_bytes",
            self.uploads.max_recording_bytes,
        )?;
        positive(
            "uploads.max_screenshot_bytes",
            self.uploads.max_screenshot_bytes,
        )?;
        positive("uploads.max_concurrent", self.uploads.max_concurrent as u64)?;
        positive("uploads.body_timeout_ms", self.uploads.body_timeout_ms)?;
        if self.uploads.part_size_bytes < MIN_PART_SIZE {
            return Err(format!(
                "uploads.part_size_bytes (FRICTION_UPLOADS__PART_SIZE_BYTES) must be at least \
                 {MIN_PART_SIZE} (the S3 minimum)"
            ));
        }
        positive("produce_timeout_ms", self.produce_timeout_ms)?;
        // Every request waits out the linger before its ack: it must leave time for the
        // broker within the request's own deadline.
        if !(0.0..MAX_LINGER_MS.min(self.produce_timeout_ms as f64)).contains(&self.linger_ms) {
            return Err(format!(
                "linger_ms ({}, FRICTION_LINGER_MS) must be at least 0 and shorter than \
                 produce_timeout_ms ({}, FRICTION_PRODUCE_TIMEOUT_MS) and {MAX_LINGER_MS}",
                self.linger_ms, self.produce_timeout_ms
            ));
        }
        positive("max_message_bytes", self.max_message_bytes as u64)?;
        positive("max_body_bytes", self.max_body_bytes as u64)?;
        positive("max_decompressed_bytes", self.max_decompressed_bytes as u64)?;
        positive("limits.max_events", self.limits.max_events as u64)?;
        positive("key_cache_capacity", self.key_cache_capacity)?;
        positive(
            "default_rate_limit_per_minute",
            self.default_rate_limit_per_minute.into(),
        )?;
        if self.message_timeout_ms < self.produce_timeout_ms {
            return Err(format!(
                "message_timeout_ms ({}, FRICTION_MESSAGE_TIMEOUT_MS) must not be shorter than \
                 produce_timeout_ms ({}, FRICTION_PRODUCE_TIMEOUT_MS): \
                 messages timing out in librdkafka fence the idempotent producer",
                self.message_timeout_ms, self.produce_timeout_ms
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_bad_wiring_is_named() {
        assert_eq!(IngestConfig::default().validate(), Ok(()));
        let bad = IngestConfig {
            listen: "localhost".into(),
            ..IngestConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("listen"));
        let bad = IngestConfig {
            message_timeout_ms: 1,
            ..IngestConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("message_timeout_ms"));
        for linger_ms in [-1.0, f64::NAN, 1e9, 5_000.0] {
            let bad = IngestConfig {
                linger_ms,
                ..IngestConfig::default()
            };
            assert!(bad.validate().unwrap_err().contains("FRICTION_LINGER_MS"));
        }
        let slow = IngestConfig {
            linger_ms: 4_999.0,
            ..IngestConfig::default()
        };
        assert_eq!(slow.validate(), Ok(()));
        let shorter_deadline = IngestConfig {
            produce_timeout_ms: 100,
            linger_ms: 100.0,
            ..IngestConfig::default()
        };
        assert!(shorter_deadline
            .validate()
            .unwrap_err()
            .contains("FRICTION_LINGER_MS"));
    }
}
