//! The one event model of friction, shared by every crate.
//!
//! - [`event`]: the events the SDK sends, their types and per-event validation;
//! - [`batch`]: parsing a whole SDK batch with simd-json into validated events;
//! - [`spans`]: where each event lies in a batch, to forward it as received;
//! - `tape`: simd-json's tape and buffers, reused between messages;
//! - [`envelope`]: the raw batch written to Kafka by ingest and read by consumers;
//! - [`rows`]: the ClickHouse row types of the event tables;
//! - [`api_key`]: the API key format and its `api_keys` row;
//! - [`export`]: export report types, their checked parameters, the job message;
//! - [`url`]: slicing URLs and origins into host and path;
//! - [`topics`]: Kafka topic names and object-storage bucket names.
//!
//! The model is pure: reading and writing tables lives in `friction-store`.
#![warn(missing_docs)]

pub mod api_key;
pub mod batch;
pub mod envelope;
pub mod event;
pub mod export;
pub mod rows;
pub mod spans;
mod tape;
pub mod topics;
pub mod url;

pub use batch::{BatchError, Limits, Parser, Rejection};
pub use envelope::EnvelopeHeader;
pub use event::{Event, EventError, EventType, Kind, PerKind};

/// Milliseconds since the Unix epoch: the unit of every timestamp in the model.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Lower-case hex of `bytes` (digests, checksums, ETags).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}
