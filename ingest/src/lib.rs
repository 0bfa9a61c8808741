//! friction ingest: the HTTP front door the SDK talks to. It checks the API key (cached),
//! the origin and the key's rate limit, validates the batch with the shared schema code,
//! and writes it to Kafka, answering 200 only once the broker acknowledged it.
//!
//! Layout: [`server`] (state, routing, shutdown) hands `POST /v1/events` to [`events`],
//! which uses [`keys`], [`origin`], [`limiter`], [`body`], [`enrich`] and [`kafka`];
//! [`error`] and [`response`] shape every answer, [`cors`] its headers; [`usage`],
//! [`metrics`] and [`sdk`] are the side duties; [`config`] is the configuration.
#![warn(missing_docs)]

pub mod body;
pub mod config;
pub mod cors;
pub mod enrich;
pub mod error;
pub mod events;
pub mod kafka;
pub mod keys;
pub mod limiter;
pub mod metrics;
pub mod origin;
pub mod response;
pub mod sdk;
pub mod server;
pub mod usage;

pub use config::IngestConfig;
pub use server::{run, App};
