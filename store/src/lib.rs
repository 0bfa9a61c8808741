//! Control-plane I/O: everything that reads or writes the control-plane tables and object
//! storage, written once for the CLI, ingest, the admin service and the exporter.
//!
//! - [`migrations`]: the versioned ClickHouse schema (`migrations/*.sql`) and its runner;
//! - [`keys`]: the `api_keys` repository (create, look up, list, change, delete);
//! - [`exports`]: the `export_jobs` repository and the `notification_log` it feeds;
//! - [`recordings`]: the `session_recordings` repository;
//! - [`screenshots`]: linking screenshots to friction events;
//! - [`sessions`]: console sign-ins (cookie and CSRF token, stored as hashes);
//! - [`secret`]: generating, hashing and comparing bearer secrets;
//! - [`users`]: the `users` repository (roles, bearer tokens stored as hashes);
//! - [`usage`]: writing aggregated key usage to `api_key_usage` and reading last use;
//! - [`clickhouse_error`]: ClickHouse error codes, classified for retries;
//! - [`objects`] (feature `objects`): the S3 client and the buckets the stack needs.
#![warn(missing_docs)]

pub mod clickhouse_error;
pub mod exports;
pub mod keys;
pub mod migrations;
#[cfg(feature = "objects")]
pub mod objects;
pub mod recordings;
pub mod screenshots;
pub mod secret;
pub mod sessions;
pub mod usage;
pub mod users;
