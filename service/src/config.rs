//! One configuration approach for every service: compiled-in defaults, then an optional
//! TOML file named by `FRICTION_CONFIG`, then `FRICTION_*` environment variables
//! (`FRICTION_KAFKA_BROKERS` sets `kafka_brokers`; `__` reaches into a section, as in
//! `FRICTION_LIMITS__MAX_EVENTS`).

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The config could not be read or does not fit the service's config type.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

/// Loads `T` from its defaults, `$FRICTION_CONFIG` (if set) and the environment.
pub fn load<T: DeserializeOwned + Serialize + Default>() -> Result<T, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Ok(path) = std::env::var("FRICTION_CONFIG") {
        figment = figment.merge(Toml::file_exact(path));
    }
    figment
        .merge(Env::prefixed("FRICTION_").ignore(&["CONFIG"]).split("__"))
        .extract()
        .map_err(|e| ConfigError(Box::new(e)))
}

/// Where ClickHouse is. Services speak its HTTP interface, so a real clickhouse-server
/// needs nothing but its URL here.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ClickHouseConfig {
    /// HTTP endpoint, e.g. `http://127.0.0.1:8123`.
    pub clickhouse_url: String,
    /// Database holding the friction tables.
    pub clickhouse_database: String,
    /// User name.
    pub clickhouse_user: String,
    /// Password.
    pub clickhouse_password: String,
}

impl Default for ClickHouseConfig {
    fn default() -> Self {
        ClickHouseConfig {
            clickhouse_url: "http://127.0.0.1:8123".into(),
            clickhouse_database: "friction".into(),
            clickhouse_user: "default".into(),
            clickhouse_password: String::new(),
        }
    }
}

impl ClickHouseConfig {
    /// A client for the friction database.
    pub fn client(&self) -> clickhouse::Client {
        self.server_client()
            .with_database(&self.clickhouse_database)
    }

    /// A client for the server, without a database selected (for `CREATE DATABASE`).
    pub fn server_client(&self) -> clickhouse::Client {
        let client = clickhouse::Client::default()
            .with_url(&self.clickhouse_url)
            .with_user(&self.clickhouse_user);
        if self.clickhouse_password.is_empty() {
            client
        } else {
            client.with_password(&self.clickhouse_password)
        }
    }
}

/// Where Kafka is, and settings passed through to librdkafka.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct KafkaConfig {
    /// Comma-separated bootstrap brokers.
    pub kafka_brokers: String,
    /// Extra librdkafka properties (`security.protocol`, `sasl.*`, ...).
    pub kafka_properties: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            kafka_brokers: "127.0.0.1:9092".into(),
            kafka_properties: Default::default(),
        }
    }
}

impl KafkaConfig {
    /// A librdkafka config with the brokers and the extra properties set.
    pub fn client_config(&self) -> rdkafka::ClientConfig {
        let mut config = rdkafka::ClientConfig::new();
        config.set("bootstrap.servers", &self.kafka_brokers);
        for (key, value) in &self.kafka_properties {
            config.set(key, value);
        }
        config
    }
}

/// Where the S3-compatible object store is (MinIO in production).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    /// Endpoint URL, e.g. `http://127.0.0.1:9200`.
    pub s3_endpoint: String,
    /// Region the server signs with.
    pub s3_region: String,
    /// Access key id.
    pub s3_access_key: String,
    /// Secret key.
    pub s3_secret_key: String,
}

impl Default for S3Config {
    fn default() -> Self {
        S3Config {
            s3_endpoint: "http://127.0.0.1:9000".into(),
            s3_region: "us-east-1".into(),
            s3_access_key: String::new(),
            s3_secret_key: String::new(),
        }
    }
}

impl S3Config {
    /// A client signing with the configured region.
    pub fn client(&self) -> Result<minio::s3::MinioClient, minio::s3::error::Error> {
        let mut base_url: minio::s3::http::BaseUrl = self.s3_endpoint.parse()?;
        base_url.region = self.s3_region.parse()?;
        let provider =
            minio::s3::creds::StaticProvider::new(&self.s3_access_key, &self.s3_secret_key, None);
        minio::s3::MinioClientBuilder::new(base_url)
            .provider(Some(provider))
            // The client signs as us-east-1 when it skips the region lookup, so the lookup
            // (one request per bucket, cached) is kept for servers in any other region.
            .skip_region_lookup(self.s3_region == "us-east-1")
            .build()
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closure signature is fixed.
mod tests {
    use super::*;

    #[derive(Debug, Default, Serialize, Deserialize)]
    #[serde(default)]
    struct Sample {
        listen: String,
        #[serde(flatten)]
        clickhouse: ClickHouseConfig,
        limits: Inner,
    }

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(default)]
    struct Inner {
        max_events: u32,
    }

    #[test]
    fn env_overrides_file_overrides_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "svc.toml",
                "listen = \"127.0.0.1:1\"\nclickhouse_database = \"fromfile\"\n",
            )?;
            jail.set_env("FRICTION_CONFIG", "svc.toml");
            jail.set_env("FRICTION_CLICKHOUSE_DATABASE", "fromenv");
            jail.set_env("FRICTION_LIMITS__MAX_EVENTS", "7");
            let config: Sample = load().map_err(|e| e.to_string())?;
            assert_eq!(config.listen, "127.0.0.1:1");
            assert_eq!(config.clickhouse.clickhouse_database, "fromenv");
            assert_eq!(config.clickhouse.clickhouse_url, "http://127.0.0.1:8123");
            assert_eq!(config.limits.max_events, 7);
            Ok(())
        });
    }

    #[test]
    fn a_missing_config_file_is_an_error() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FRICTION_CONFIG", "nope.toml");
            assert!(load::<Sample>().is_err());
            Ok(())
        });
    }
}
