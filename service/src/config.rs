//! One configuration approach for every service: compiled-in defaults, then an optional
//! TOML file named by `FRICTION_CONFIG`, then `FRICTION_*` environment variables
//! (`FRICTION_KAFKA_BROKERS` sets `kafka_brokers`; `__` reaches into a section, as in
//! `FRICTION_LIMITS__MAX_EVENTS`). Every config type then checks itself
//! ([`ServiceConfig::validate`]): a service refuses to start on bad wiring instead of
//! failing on its first request.

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The config could not be read, does not fit the service's config type, or is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment does not parse into the config type.
    #[error("invalid configuration: {0}")]
    Read(#[from] Box<figment::Error>),
    /// A value parses but cannot work (named by its config key).
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// A service's typed configuration: defaults in `Default`, checked by `validate`.
pub trait ServiceConfig: DeserializeOwned + Serialize + Default {
    /// Refuses values that parse but cannot work; the message names the setting.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

/// Loads `T` from its defaults, `$FRICTION_CONFIG` (if set) and the environment, then
/// validates it.
pub fn load<T: ServiceConfig>() -> Result<T, ConfigError> {
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Ok(path) = std::env::var("FRICTION_CONFIG") {
        figment = figment.merge(Toml::file_exact(path));
    }
    let config: T = figment
        .merge(Env::prefixed("FRICTION_").ignore(&["CONFIG"]).split("__"))
        .extract()
        .map_err(Box::new)?;
    config.validate().map_err(ConfigError::Invalid)?;
    Ok(config)
}

/// `Err` naming `key` unless `value` is positive: a zero size, count or timeout would
/// stop a service from doing anything at all.
pub fn positive(key: &str, value: u64) -> Result<(), String> {
    match value {
        0 => Err(format!("{key} must be greater than 0")),
        _ => Ok(()),
    }
}

/// `Err` naming `key` unless `value` is a `host:port` socket address.
pub fn socket_addr(key: &str, value: &str) -> Result<(), String> {
    value
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .map_err(|_| format!("{key} must be an address like 127.0.0.1:8080, not {value:?}"))
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

    impl ServiceConfig for Sample {
        fn validate(&self) -> Result<(), String> {
            positive("limits.max_events", self.limits.max_events.into())
        }
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
    fn a_config_that_cannot_work_is_refused_at_load() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FRICTION_LIMITS__MAX_EVENTS", "0");
            let err = load::<Sample>().unwrap_err().to_string();
            assert!(
                err.contains("limits.max_events must be greater than 0"),
                "{err}"
            );
            assert!(socket_addr("listen", "nope").is_err());
            assert!(socket_addr("listen", "127.0.0.1:0").is_ok());
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
