//! Plumbing every friction service shares, written once.
//!
//! - [`config`]: typed config from defaults, an optional TOML file and `FRICTION_*` env vars,
//!   plus the ClickHouse and Kafka connection settings all services use;
//! - [`telemetry`]: `tracing` setup (JSON when not on a terminal);
//! - [`ops`]: `/healthz`, `/readyz` and `/metrics`, and a small server for them;
//! - [`stack`]: the local stack's `.dev/stack.env`, for tests and tools;
//! - [`shutdown`]: SIGTERM/SIGINT turned into a broadcast every task can wait on.
#![warn(missing_docs)]

pub mod config;
pub mod ops;
pub mod shutdown;
pub mod stack;
pub mod telemetry;
