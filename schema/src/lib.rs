//! The one event model of friction, shared by every crate.
//!
//! - [`event`]: the events the SDK sends, their types and per-event validation;
//! - [`batch`]: parsing a whole SDK batch with simd-json into validated events;
//! - [`envelope`]: the raw batch written to Kafka by ingest and read by consumers;
//! - [`rows`]: the ClickHouse row types of the event tables;
//! - [`api_key`]: the API key format and its `api_keys` row;
//! - [`migrations`]: the versioned ClickHouse schema and the runner that applies it;
//! - [`topics`]: Kafka topic names and object-storage bucket names.
#![warn(missing_docs)]

pub mod api_key;
pub mod batch;
pub mod envelope;
pub mod event;
pub mod migrations;
pub mod rows;
pub mod topics;
pub mod url;

pub use batch::{parse_batch, BatchError, Limits, Rejection};
pub use envelope::{Envelope, EnvelopeHeader};
pub use event::{Event, EventError, EventType, Kind};

/// Milliseconds since the Unix epoch: the unit of every timestamp in the model.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
