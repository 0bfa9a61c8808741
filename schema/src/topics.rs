//! Names of the Kafka topics and object-storage buckets every service agrees on.

/// Raw SDK batches, one message per accepted batch (or part of one), keyed by session.
pub const RAW_EVENTS: &str = "friction.events.raw";
/// Messages or events the consumers could not decode, with the reason in a header.
pub const DEAD_LETTER: &str = "friction.events.dlq";
/// Export jobs queued by the admin service for the exporter, one message per job.
pub const EXPORT_JOBS: &str = "friction.exports.jobs";
/// Header carrying the dead-letter reason.
pub const DLQ_REASON_HEADER: &str = "friction-dlq-reason";

/// Bucket of uploaded session recordings.
pub const BUCKET_RECORDINGS: &str = "session-recordings";
/// Bucket of uploaded friction screenshots.
pub const BUCKET_SCREENSHOTS: &str = "friction-screenshots";
/// Bucket of rendered PDF exports.
pub const BUCKET_EXPORTS: &str = "pdf-exports";
/// Every bucket the stack needs.
pub const BUCKETS: [&str; 3] = [BUCKET_RECORDINGS, BUCKET_SCREENSHOTS, BUCKET_EXPORTS];
