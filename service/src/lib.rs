//! The skeleton every friction binary is built on, written once.
//!
//! - [`cli`]: `--help`, `--version` and `--check-config` of every service binary;
//! - [`config`]: typed config from defaults, an optional TOML file and `FRICTION_*` env vars,
//!   validated at start-up, plus the ClickHouse and Kafka settings all services use;
//! - [`http`]: the one accept loop (connection cap, header/body/idle timeouts, draining
//!   shutdown), the request body with a deadline, and the JSON error shape;
//! - [`metrics`]: the process and build-info metrics every service exposes;
//! - [`ops`]: `/healthz`, `/readyz` and `/metrics`;
//! - [`producer`]: the acknowledged Kafka producer every service writes with;
//! - [`shutdown`]: SIGTERM/SIGINT turned into a broadcast every task can wait on;
//! - [`backoff`]: the one retry delay (exponential, capped, jittered);
//! - [`clock`]: time as an argument, so time-based logic is tested without sleeping;
//! - [`telemetry`]: `tracing` setup (JSON when not on a terminal).
#![warn(missing_docs)]

pub mod backoff;
pub mod cli;
pub mod clock;
pub mod config;
pub mod http;
pub mod metrics;
pub mod ops;
pub mod producer;
pub mod shutdown;
pub mod telemetry;
