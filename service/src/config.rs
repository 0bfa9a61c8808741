//! One configuration approach for every service: compiled-in defaults, then an optional
//! TOML file named by `FRICTION_CONFIG`, then `FRICTION_*` environment variables
//! (`FRICTION_KAFKA_BROKERS` sets `kafka_brokers`; `__` reaches into a section, as in
//! `FRICTION_LIMITS__MAX_EVENTS`). librdkafka properties have their own spelling,
//! `FRICTION_KAFKA_PROPERTIES__<property>`: the property as librdkafka names it
//! (`__security.protocol`) or in capitals with `_` for `.` (`__SECURITY_PROTOCOL`).
//! A `FRICTION_*` variable that names no setting of the service is logged as ignored
//! (deployments often share one set of variables between services; `--check-config`
//! refuses them, see [`unknown_vars`]). Every config type then checks itself
//! ([`ServiceConfig::validate`]): a service refuses to start on bad wiring instead of
//! failing on its first request, with an error naming the variable.

use std::collections::BTreeMap;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

const PREFIX: &str = "FRICTION_";
const KAFKA_PROPERTIES: &str = "KAFKA_PROPERTIES__";

/// The config could not be read, does not fit the service's config type, or is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment does not parse into the config type.
    #[error("invalid configuration: {0}")]
    Read(String),
    /// A value parses but cannot work (named by its config key and variable).
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
    let vars = friction_vars();
    let unknown = unknown::<T>(&vars);
    if !unknown.is_empty() {
        tracing::warn!(variables = ?unknown, "not settings of this service; ignored");
    }
    let mut figment = Figment::from(Serialized::defaults(T::default()));
    if let Ok(path) = std::env::var("FRICTION_CONFIG") {
        figment = figment.merge(Toml::file_exact(path));
    }
    let properties: BTreeMap<String, String> = vars
        .iter()
        .filter_map(|(name, value)| {
            let property = name.strip_prefix(PREFIX)?.strip_prefix(KAFKA_PROPERTIES)?;
            Some((kafka_property(property), value.clone()))
        })
        .collect();
    if !properties.is_empty() {
        figment = figment.merge(Serialized::default("kafka_properties", properties));
    }
    let config: T = figment
        .merge(
            Env::prefixed(PREFIX)
                .ignore(&["CONFIG"])
                .filter(|key| {
                    !key.as_str()
                        .to_ascii_lowercase()
                        .starts_with("kafka_properties__")
                })
                .split("__"),
        )
        .extract()
        .map_err(|e| ConfigError::Read(describe(e)))?;
    config.validate().map_err(ConfigError::Invalid)?;
    Ok(config)
}

/// The variable that sets config key `key` (`limits.max_events` ->
/// `FRICTION_LIMITS__MAX_EVENTS`).
pub fn env_var(key: &str) -> String {
    format!("{PREFIX}{}", key.replace('.', "__").to_uppercase())
}

/// The librdkafka property a `FRICTION_KAFKA_PROPERTIES__<name>` variable sets: `name`
/// as written when it has a dot, else lower-cased with `_` read as `.` (librdkafka's
/// string properties have no `_`).
fn kafka_property(name: &str) -> String {
    if name.contains('.') {
        name.to_ascii_lowercase()
    } else {
        name.to_ascii_lowercase().replace('_', ".")
    }
}

/// The `FRICTION_*` variables of the environment that name no setting of `T`: a typo, or
/// a variable meant for another service.
pub fn unknown_vars<T: ServiceConfig>() -> Vec<String> {
    unknown::<T>(&friction_vars())
}

fn friction_vars() -> Vec<(String, String)> {
    std::env::vars()
        .filter(|(name, _)| name.starts_with(PREFIX) && name != "FRICTION_CONFIG")
        .collect()
}

/// The names among `vars` that match no field of `T` (an open map, such as
/// `kafka_properties`, takes any key).
fn unknown<T: ServiceConfig>(vars: &[(String, String)]) -> Vec<String> {
    let mut known = Vec::new();
    if let Ok(defaults) = serde_json::to_value(T::default()) {
        settings(&defaults, "", &mut known);
    }
    vars.iter()
        .map(|(name, _)| name)
        .filter(|name| {
            let path = name[PREFIX.len()..].to_ascii_lowercase();
            !known.iter().any(|(key, open)| {
                path == *key
                    || (*open
                        && path.starts_with(key.as_str())
                        && path[key.len()..].starts_with("__"))
            })
        })
        .cloned()
        .collect()
}

/// Collects every setting's variable path (`limits__max_events`) and whether it is an
/// open map.
fn settings(value: &serde_json::Value, path: &str, out: &mut Vec<(String, bool)>) {
    match value {
        serde_json::Value::Object(fields) if fields.is_empty() => out.push((path.to_owned(), true)),
        serde_json::Value::Object(fields) => {
            for (key, field) in fields {
                let child = match path {
                    "" => key.clone(),
                    _ => format!("{path}__{key}"),
                };
                settings(field, &child, out);
            }
        }
        _ => out.push((path.to_owned(), false)),
    }
}

/// A figment error as `key (VARIABLE): what is wrong`, for each error it carries.
fn describe(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            match key.as_str() {
                "" => e.kind.to_string(),
                _ => format!("{key} ({}): {}", env_var(&key), e.kind),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// `Err` naming `key` unless `value` is positive: a zero size, count or timeout would
/// stop a service from doing anything at all.
pub fn positive(key: &str, value: u64) -> Result<(), String> {
    match value {
        0 => Err(format!("{key} ({}) must be greater than 0", env_var(key))),
        _ => Ok(()),
    }
}

/// `Err` naming `key` unless `value` is a `host:port` socket address.
pub fn socket_addr(key: &str, value: &str) -> Result<(), String> {
    value
        .parse::<std::net::SocketAddr>()
        .map(|_| ())
        .map_err(|_| {
            format!(
                "{key} ({}) must be an address like 127.0.0.1:8080, not {value:?}",
                env_var(key)
            )
        })
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

    /// Refuses properties librdkafka does not know or values it does not take (a TLS
    /// setting in a build without TLS included), naming the variable.
    pub fn validate(&self) -> Result<(), String> {
        self.client_config()
            .create_native_config()
            .map(|_| ())
            .map_err(|e| match e {
                rdkafka::error::KafkaError::ClientConfig(_, message, key, _) => {
                    format!("kafka_properties.{key} ({PREFIX}{KAFKA_PROPERTIES}{key}): {message}")
                }
                other => format!("kafka_properties: {other}"),
            })
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
        #[serde(flatten)]
        kafka: KafkaConfig,
        limits: Inner,
    }

    impl ServiceConfig for Sample {
        fn validate(&self) -> Result<(), String> {
            positive("limits.max_events", self.limits.max_events.into())?;
            self.kafka.validate()
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
                err.contains(
                    "limits.max_events (FRICTION_LIMITS__MAX_EVENTS) must be greater than 0"
                ),
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

    #[test]
    fn kafka_properties_are_set_from_the_environment_in_either_spelling() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "svc.toml",
                "[kafka_properties]\n\"client.id\" = \"from-file\"\n",
            )?;
            jail.set_env("FRICTION_CONFIG", "svc.toml");
            jail.set_env("FRICTION_LIMITS__MAX_EVENTS", "1");
            jail.set_env("FRICTION_KAFKA_PROPERTIES__security.protocol", "plaintext");
            jail.set_env("FRICTION_KAFKA_PROPERTIES__SOCKET_TIMEOUT_MS", "12000");
            jail.set_env("FRICTION_KAFKA_BROKERS", "kafka-1:9092,kafka-2:9092");
            let config: Sample = load().map_err(|e| e.to_string())?;
            let properties = &config.kafka.kafka_properties;
            assert_eq!(properties["security.protocol"], "plaintext");
            assert_eq!(properties["socket.timeout.ms"], "12000");
            assert_eq!(properties["client.id"], "from-file");
            assert_eq!(config.kafka.kafka_brokers, "kafka-1:9092,kafka-2:9092");
            Ok(())
        });
    }

    #[test]
    fn a_property_librdkafka_does_not_know_is_refused_by_name() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FRICTION_LIMITS__MAX_EVENTS", "1");
            jail.set_env("FRICTION_KAFKA_PROPERTIES__NOT_A_PROPERTY", "1");
            let err = load::<Sample>().unwrap_err().to_string();
            assert!(
                err.contains("kafka_properties.not.a.property")
                    && err.contains("FRICTION_KAFKA_PROPERTIES__not.a.property"),
                "{err}"
            );
            Ok(())
        });
    }

    #[test]
    fn variables_that_name_no_setting_are_found() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("FRICTION_KAFKA_BROKER", "typo:9092");
            jail.set_env("FRICTION_LIMITS__MAX_EVENT", "3");
            jail.set_env("FRICTION_LIMITS__MAX_EVENTS", "3");
            jail.set_env("FRICTION_KAFKA_PROPERTIES__SECURITY_PROTOCOL", "ssl");
            jail.set_env("FRICTION_CLICKHOUSE_URL", "http://ch:8123");
            let mut unknown = unknown_vars::<Sample>();
            unknown.sort();
            assert_eq!(
                unknown,
                ["FRICTION_KAFKA_BROKER", "FRICTION_LIMITS__MAX_EVENT"]
            );
            Ok(())
        });
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_variable() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("FRICTION_LIMITS__MAX_EVENTS", "many");
            let err = load::<Sample>().unwrap_err().to_string();
            assert!(
                err.contains("limits.max_events (FRICTION_LIMITS__MAX_EVENTS)"),
                "{err}"
            );
            Ok(())
        });
    }

    /// There is no SASL-enabled broker here (the dev broker cannot create users while
    /// requiring them), so this checks what can be checked without one: the build takes
    /// SASL_SSL with PLAIN and both SCRAM mechanisms, and a client starts with them.
    #[test]
    fn sasl_over_tls_is_supported_by_this_build() {
        for mechanism in ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] {
            let mut kafka = KafkaConfig {
                kafka_brokers: "kafka.example.com:9096".into(),
                ..KafkaConfig::default()
            };
            for (key, value) in [
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", mechanism),
                ("sasl.username", "friction"),
                ("sasl.password", "secret"),
                ("ssl.endpoint.identification.algorithm", "https"),
            ] {
                kafka.kafka_properties.insert(key.into(), value.into());
            }
            assert_eq!(kafka.validate(), Ok(()), "{mechanism}");
            let producer: Result<rdkafka::producer::BaseProducer, _> =
                kafka.client_config().create();
            assert!(producer.is_ok(), "{mechanism}: {:?}", producer.err());
        }
        let mut unknown = KafkaConfig::default();
        unknown
            .kafka_properties
            .insert("sasl.mechanisms".into(), "NOT-A-MECHANISM".into());
        unknown
            .kafka_properties
            .insert("security.protocol".into(), "SASL_SSL".into());
        assert!(unknown
            .client_config()
            .create::<rdkafka::producer::BaseProducer>()
            .is_err());
    }
}
