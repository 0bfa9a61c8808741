//! What the consumers read of a raw message before writing it: an event count on
//! arrival, by a byte scan, for batch sizing (the writer decodes each message once); and
//! the dead letter a message or event that does not read becomes.

use memchr::memmem;

/// Something to send to the dead-letter topic.
#[derive(Debug)]
pub struct DeadLetter {
    /// The undecodable message or event.
    pub payload: Vec<u8>,
    /// Stable reason code.
    pub reason: &'static str,
    /// What the decoder said.
    pub detail: String,
}

/// About the events in an envelope: each carries one `"event_id":` key (inside a JSON
/// string those quotes would be escaped). Events are forwarded as clients wrote them, so
/// spacing may hide a few from the count; it only sizes batches, which are also bounded
/// by bytes.
pub fn count_events(payload: &[u8]) -> usize {
    memmem::find_iter(payload, b"\"event_id\":").count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_events_on_arrival() {
        let m = br#"{"header":{},"events":[{"event_id":"a","message":"\"event_id\":"},{"event_id":"b"}]}"#;
        assert_eq!(count_events(m), 2);
    }
}
