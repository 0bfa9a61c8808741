//! The public endpoints, one file each; every one depends on [`crate::state::State`],
//! never on the server.
//!
//! - [`events`]: `POST /v1/events`, the hot path;
//! - [`sdk`]: `GET /friction-tracker.js`, the built SDK.

pub mod events;
pub mod sdk;
