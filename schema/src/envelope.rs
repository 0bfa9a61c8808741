//! The raw batch ingest writes to Kafka: the validated events of one request wrapped in
//! what ingest knows from the API key and the request, never from the payload.
//!
//! JSON, so an operator can read a message with any Kafka tool:
//! `{"header":{"v":1,"batch_id":..,"part":0,"owner_id":..,"key_id":..,"received_at":..,
//!   "client_ip":..,"user_agent":..},"events":[..]}`.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Event;

/// Version of the envelope layout; consumers refuse versions they do not know.
pub const ENVELOPE_VERSION: u8 = 1;

/// Everything about a batch that does not come from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvelopeHeader<'a> {
    /// Layout version, [`ENVELOPE_VERSION`].
    pub v: u8,
    /// Id of the accepted request.
    pub batch_id: Uuid,
    /// Index of this message when the batch was split to fit the broker's limit.
    pub part: u32,
    /// Owner of the API key.
    pub owner_id: &'a str,
    /// Id of the API key.
    pub key_id: Uuid,
    /// Server receive time, milliseconds since the Unix epoch.
    pub received_at: i64,
    /// Anonymised client IP.
    pub client_ip: &'a str,
    /// User agent of the request.
    pub user_agent: &'a str,
}

/// A decoded Kafka message: the header and its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<'a> {
    /// What ingest knew of the request.
    #[serde(borrow)]
    pub header: EnvelopeHeader<'a>,
    /// The validated events.
    #[serde(borrow)]
    pub events: Vec<Event<'a>>,
}

/// Encodes `events` under `header` into one or more messages of at most `max_bytes`
/// each (a single event larger than that still gets a message of its own), calling
/// `emit` with each encoded message. The buffer is reused between messages.
pub fn encode<E>(
    header: &EnvelopeHeader<'_>,
    events: &[Event<'_>],
    max_bytes: usize,
    buf: &mut Vec<u8>,
    mut emit: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut part = 0u32;
    let mut i = 0;
    while i < events.len() {
        buf.clear();
        write_header(buf, header, part);
        let mut in_message = 0;
        while i < events.len() {
            let mark = buf.len();
            if in_message > 0 {
                buf.push(b',');
            }
            write_json(buf, &events[i]);
            if in_message > 0 && buf.len() + 2 > max_bytes {
                buf.truncate(mark);
                break;
            }
            in_message += 1;
            i += 1;
        }
        buf.extend_from_slice(b"]}");
        emit(buf)?;
        part += 1;
    }
    Ok(())
}

fn write_header(buf: &mut Vec<u8>, header: &EnvelopeHeader<'_>, part: u32) {
    buf.extend_from_slice(b"{\"header\":");
    write_json(
        buf,
        &EnvelopeHeader {
            part,
            ..header.clone()
        },
    );
    buf.extend_from_slice(b",\"events\":[");
}

fn write_json<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    // Writing plain data into a Vec cannot fail.
    simd_json::to_writer(&mut *buf, value).expect("serialising to a Vec cannot fail");
}

/// Decodes a message in place.
pub fn decode(message: &mut [u8]) -> Result<Envelope<'_>, simd_json::Error> {
    let envelope: Envelope<'_> = simd_json::serde::from_slice(message)?;
    if envelope.header.v != ENVELOPE_VERSION {
        return Err(simd_json::Error::generic(simd_json::ErrorType::Serde(
            format!("unsupported envelope version {}", envelope.header.v),
        )));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventType, ValidityFlags};

    fn event(i: u128) -> Event<'static> {
        Event {
            event_id: Uuid::from_u128(i),
            event_type: EventType::FormValidationError,
            session_id: "s\"1",
            page_view_id: "pv",
            timestamp: 1,
            client_timestamp: 1,
            clock_corrected: false,
            url: "https://x/é",
            referrer: "",
            navigation_type: "",
            selector: "form > input[name=\"email\"]",
            element_tag: "input",
            x: 0,
            y: -3,
            client_x: 0,
            client_y: 0,
            viewport_width: 0,
            viewport_height: 0,
            scroll_x: 0,
            scroll_y: 0,
            click_count: 0,
            message: "",
            source: "",
            line: 0,
            column: 0,
            stack: "",
            count: 0,
            form: "#signup",
            field_name: "email",
            field_type: "email",
            validity: ValidityFlags(0b11),
            value: 0.0,
        }
    }

    fn header() -> EnvelopeHeader<'static> {
        EnvelopeHeader {
            v: ENVELOPE_VERSION,
            batch_id: Uuid::from_u128(7),
            part: 0,
            owner_id: "acme",
            key_id: Uuid::from_u128(9),
            received_at: 5,
            client_ip: "203.0.113.0",
            user_agent: "Mozilla/5.0",
        }
    }

    #[test]
    fn round_trips_and_splits_at_the_size_limit() {
        let events: Vec<_> = (0..10).map(event).collect();
        let mut messages: Vec<Vec<u8>> = Vec::new();
        let mut buf = Vec::new();
        encode::<()>(&header(), &events, 1200, &mut buf, |m| {
            messages.push(m.to_vec());
            Ok(())
        })
        .unwrap();
        assert!(messages.len() > 1);
        let mut decoded = Vec::new();
        for (part, m) in messages.iter_mut().enumerate() {
            assert!(m.len() <= 1200);
            let envelope = decode(m).unwrap();
            assert_eq!(
                envelope.header,
                EnvelopeHeader {
                    part: part as u32,
                    ..header()
                }
            );
            decoded.extend(envelope.events.into_iter().map(|e| e.event_id));
        }
        assert_eq!(
            decoded,
            events.iter().map(|e| e.event_id).collect::<Vec<_>>()
        );
    }

    #[test]
    fn decodes_what_it_encodes_field_for_field() {
        let events = vec![event(1)];
        let mut buf = Vec::new();
        let mut out = Vec::new();
        encode::<()>(&header(), &events, 1 << 20, &mut buf, |m| {
            out = m.to_vec();
            Ok(())
        })
        .unwrap();
        let envelope = decode(&mut out).unwrap();
        assert_eq!(envelope.events, events);
    }

    #[test]
    fn refuses_unknown_versions() {
        let mut m = br#"{"header":{"v":9,"batch_id":"00000000-0000-0000-0000-000000000001","part":0,"owner_id":"o","key_id":"00000000-0000-0000-0000-000000000001","received_at":1,"client_ip":"","user_agent":""},"events":[]}"#.to_vec();
        assert!(decode(&mut m).is_err());
    }
}
