//! Reading `.dev/stack.env`, the `KEY=VALUE` file `dev/up` writes with the addresses and
//! credentials of the local stack, so tests and tools find the services it started.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use friction_service::config::{ClickHouseConfig, KafkaConfig};
use friction_store::objects::S3Config;

/// The local stack's settings.
#[derive(Debug, Clone)]
pub struct Stack {
    vars: HashMap<String, String>,
}

/// `stack.env` is missing or lacks a key.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The file could not be read.
    #[error("cannot read {path}: {source} (run ./dev/up first)")]
    Read {
        /// The path tried.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key is missing.
    #[error("stack.env has no {0}")]
    Missing(&'static str),
}

impl Stack {
    /// Loads `$FRICTION_STACK_ENV`, or `.dev/stack.env` in the first ancestor of the
    /// current directory that has one.
    pub fn load() -> Result<Stack, StackError> {
        let path = match std::env::var_os("FRICTION_STACK_ENV") {
            Some(p) => PathBuf::from(p),
            None => {
                let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
                cwd.ancestors()
                    .map(|dir| dir.join(".dev/stack.env"))
                    .find(|p| p.is_file())
                    .unwrap_or_else(|| cwd.join(".dev/stack.env"))
            }
        };
        Self::from_file(&path)
    }

    /// Loads a given file.
    pub fn from_file(path: &Path) -> Result<Stack, StackError> {
        let text = std::fs::read_to_string(path).map_err(|source| StackError::Read {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::parse(&text))
    }

    fn parse(text: &str) -> Stack {
        let vars = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().trim_matches('"').to_owned()))
            .collect();
        Stack { vars }
    }

    /// A value by key.
    pub fn get(&self, key: &'static str) -> Result<&str, StackError> {
        self.vars
            .get(key)
            .map(String::as_str)
            .ok_or(StackError::Missing(key))
    }

    /// ClickHouse settings of the stack.
    pub fn clickhouse(&self) -> Result<ClickHouseConfig, StackError> {
        Ok(ClickHouseConfig {
            clickhouse_url: self.get("CLICKHOUSE_URL")?.to_owned(),
            clickhouse_database: self.get("CLICKHOUSE_DB")?.to_owned(),
            ..ClickHouseConfig::default()
        })
    }

    /// Kafka settings of the stack.
    pub fn kafka(&self) -> Result<KafkaConfig, StackError> {
        Ok(KafkaConfig {
            kafka_brokers: self.get("KAFKA_BROKERS")?.to_owned(),
            ..KafkaConfig::default()
        })
    }

    /// Object-storage settings of the stack.
    pub fn s3(&self) -> Result<S3Config, StackError> {
        Ok(S3Config {
            s3_endpoint: self.get("S3_ENDPOINT")?.to_owned(),
            s3_region: self.get("S3_REGION")?.to_owned(),
            s3_access_key: self.get("S3_ACCESS_KEY")?.to_owned(),
            s3_secret_key: self.get("S3_SECRET_KEY")?.to_owned(),
            ..S3Config::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_key_value_lines() {
        let stack = Stack::parse(
            "# c\nKAFKA_BROKERS=127.0.0.1:1\n\nCLICKHOUSE_URL=\"http://x\"\nCLICKHOUSE_DB=d\n",
        );
        assert_eq!(stack.kafka().unwrap().kafka_brokers, "127.0.0.1:1");
        assert_eq!(stack.clickhouse().unwrap().clickhouse_url, "http://x");
        assert!(matches!(
            stack.s3(),
            Err(StackError::Missing("S3_ENDPOINT"))
        ));
    }
}
