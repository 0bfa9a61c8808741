//! Where accepted batches go. The sink is pure mechanism: policy (keys, limits,
//! validation) has run before anything reaches it.
//!
//! - [`kafka`]: acknowledged writes to the raw-events topic.

pub mod kafka;
