//! The raw batch ingest writes to Kafka: the validated events of one request, each byte
//! for byte as the client sent it, wrapped in what ingest knows from the API key and the
//! request, never from the payload.
//!
//! JSON, so an operator can read a message with any Kafka tool:
//! `{"header":{"v":3,"batch_id":..,"part":0,"owner_id":..,"key_id":..,"received_at":..,
//!   "client_ip":..,"user_agent":..,"clock_skew_ms":..},"events":[..],"corrected":[..]}`.
//! `corrected`, present when not empty, lists by position the events whose client clock
//! ingest found implausible: their time is `received_at`. `clock_skew_ms`, present when
//! not 0, shifts the others' times.
//!
//! Version 2 is version 3 without `clock_skew_ms`. Version 3 has its own number so that a
//! consumer too old to apply the shift refuses the message (to its dead-letter topic, to
//! be replayed after the upgrade) instead of storing times hours off.
//!
//! Version 1 carried events re-serialised, with both their effective and client times;
//! consumers still read it, so messages written before an upgrade are not lost.

use serde::Serialize;
use simd_json::prelude::*;
use simd_json::tape::{Object, Tape, Value};
use uuid::Uuid;

use crate::batch::{parse_event, Accepted, Limits};
use crate::event::{Event, EventError};
use crate::tape::Reused;

/// Version of the envelope layout ingest writes.
pub const ENVELOPE_VERSION: u8 = 3;

/// Everything about a batch that does not come from its events.
#[derive(Debug, Clone, PartialEq, Serialize)]
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
    /// The client clock's lag behind the server's, from the batch's `sent_at`: events
    /// not listed in `corrected` happened at their time plus this. Absent when 0.
    #[serde(skip_serializing_if = "is_zero")]
    pub clock_skew_ms: i64,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

/// One validated event as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct RawEvent<'a> {
    /// Its JSON, as received.
    pub bytes: &'a [u8],
    /// Whether its time is to be replaced by the receive time.
    pub clock_corrected: bool,
}

impl<'a> RawEvent<'a> {
    /// A validated event as it stands in `body`, the batch it was validated from.
    pub fn of(accepted: &Accepted<'_>, body: &'a [u8]) -> Self {
        RawEvent {
            bytes: &body[accepted.span.clone()],
            clock_corrected: accepted.replaced,
        }
    }
}

/// Encodes `events` under `header` into one or more messages of at most `max_bytes`
/// each (a single event larger than that still gets a message of its own), calling
/// `emit` with each encoded message. The buffer is reused between messages.
pub fn encode<E>(
    header: &EnvelopeHeader<'_>,
    events: &[RawEvent<'_>],
    max_bytes: usize,
    buf: &mut Vec<u8>,
    mut emit: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let mut part = 0u32;
    let mut i = 0;
    while i < events.len() {
        buf.clear();
        write_header(buf, header, part);
        let first = i;
        // Bytes the closing `]` and the `corrected` list will take.
        let mut tail = 2;
        while i < events.len() {
            let event = &events[i];
            let extra = usize::from(i > first)
                + event.bytes.len()
                + if event.clock_corrected { 24 } else { 0 };
            if i > first && buf.len() + extra + tail > max_bytes {
                break;
            }
            if i > first {
                buf.push(b',');
            }
            buf.extend_from_slice(event.bytes);
            if event.clock_corrected {
                tail += 24;
            }
            i += 1;
        }
        buf.push(b']');
        write_corrected(buf, &events[first..i]);
        buf.push(b'}');
        emit(buf)?;
        part += 1;
    }
    Ok(())
}

/// Encodes events held as structs (tools, tests, benchmarks): each is written in the
/// wire format with its client time, then encoded as [`encode`] does.
pub fn encode_events<E>(
    header: &EnvelopeHeader<'_>,
    events: &[Event<'_>],
    max_bytes: usize,
    buf: &mut Vec<u8>,
    emit: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<(), E> {
    let wire: Vec<Vec<u8>> = events
        .iter()
        .map(|e| {
            let as_sent = Event {
                timestamp: e.client_timestamp,
                clock_corrected: false,
                ..e.clone()
            };
            let mut out = Vec::new();
            write_json(&mut out, &as_sent);
            out
        })
        .collect();
    let raw: Vec<RawEvent<'_>> = wire
        .iter()
        .zip(events)
        .map(|(bytes, e)| RawEvent {
            bytes,
            clock_corrected: e.clock_corrected,
        })
        .collect();
    encode(header, &raw, max_bytes, buf, emit)
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

fn write_corrected(buf: &mut Vec<u8>, events: &[RawEvent<'_>]) {
    let mut first = true;
    for (i, _) in events.iter().enumerate().filter(|(_, e)| e.clock_corrected) {
        buf.extend_from_slice(if first { b",\"corrected\":[" } else { b"," });
        first = false;
        buf.extend_from_slice(i.to_string().as_bytes());
    }
    if !first {
        buf.push(b']');
    }
}

fn write_json<T: Serialize>(buf: &mut Vec<u8>, value: &T) {
    // Writing plain data into a Vec cannot fail.
    simd_json::to_writer(&mut *buf, value).expect("serialising to a Vec cannot fail");
}

/// Why a message could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// Not JSON.
    #[error("message is not valid JSON")]
    InvalidJson,
    /// JSON, but not an envelope.
    #[error("not an envelope: {0}")]
    Invalid(&'static str),
    /// A layout this version does not know.
    #[error("unsupported envelope version {0}")]
    Version(u64),
}

impl EnvelopeError {
    /// Stable reason code, for dead letters.
    pub fn reason(&self) -> &'static str {
        match self {
            EnvelopeError::InvalidJson => "invalid_json",
            EnvelopeError::Invalid(_) => "invalid_envelope",
            EnvelopeError::Version(_) => "unsupported_envelope",
        }
    }
}

/// An event of a message that does not read as one.
#[derive(Debug, Clone, PartialEq)]
pub struct BadEvent {
    /// What is wrong with it.
    pub error: EventError,
    /// Its JSON.
    pub json: String,
}

/// A decoded message.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// What ingest knew of the request.
    pub header: EnvelopeHeader<'a>,
    /// Each event, or why it does not read.
    pub events: Vec<Result<Event<'a>, BadEvent>>,
}

/// Decodes messages, reusing its parser buffers and tape from one to the next.
#[derive(Default)]
pub struct Decoder {
    simd: Reused,
}

impl Decoder {
    /// Decodes `message` in place. Events are read with the same rules ingest checked
    /// them with, but without its size limits, which are ingest's own settings.
    pub fn decode<'a>(&mut self, message: &'a mut [u8]) -> Result<Decoded<'a>, EnvelopeError> {
        self.simd
            .parse(message, EnvelopeError::InvalidJson, read_envelope)
    }
}

/// Reads the envelope `tape` was parsed from.
fn read_envelope<'a>(tape: &Tape<'a>) -> Result<Decoded<'a>, EnvelopeError> {
    let root = tape.as_value();
    let root = root
        .as_object()
        .ok_or(EnvelopeError::Invalid("not an object"))?;
    let header = root
        .get("header")
        .and_then(|h| h.as_object())
        .ok_or(EnvelopeError::Invalid("no header"))?;
    let version = header
        .get("v")
        .and_then(|v| v.as_u64())
        .ok_or(EnvelopeError::Invalid("no version"))?;
    if !(1..=u64::from(ENVELOPE_VERSION)).contains(&version) {
        return Err(EnvelopeError::Version(version));
    }
    // Checked above: 1, 2 or 3.
    let header = read_header(&header, version as u8)?;
    let list = root
        .get("events")
        .and_then(|e| e.as_array())
        .ok_or(EnvelopeError::Invalid("no events array"))?;
    let corrected: Vec<u64> = root
        .get("corrected")
        .and_then(|c| c.as_array())
        .map(|c| c.iter().filter_map(|i| i.as_u64()).collect())
        .unwrap_or_default();
    let limits = Limits::trusted();
    let events = list
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let mut event = parse_event(value, &limits).map_err(|error| BadEvent {
                error,
                json: value.encode(),
            })?;
            if version == 1 {
                let fields = value.as_object();
                let field = |name: &str| fields.as_ref().and_then(|o| o.get(name));
                if let Some(client) = field("client_timestamp").and_then(|t| t.as_i64()) {
                    event.client_timestamp = client;
                }
                event.clock_corrected = field("clock_corrected")
                    .and_then(|c| c.as_bool())
                    .unwrap_or(false);
            } else if corrected.contains(&(i as u64)) {
                event.timestamp = header.received_at;
                event.clock_corrected = true;
            } else if header.clock_skew_ms != 0 {
                event.timestamp = event.client_timestamp.saturating_add(header.clock_skew_ms);
                event.clock_corrected = true;
            }
            Ok(event)
        })
        .collect();
    Ok(Decoded { header, events })
}

fn read_header<'a>(h: &Object<'_, 'a>, v: u8) -> Result<EnvelopeHeader<'a>, EnvelopeError> {
    let invalid = EnvelopeError::Invalid;
    let text = |name: &'static str| -> Result<&'a str, EnvelopeError> {
        h.get(name)
            .and_then(Value::into_string)
            .ok_or(invalid(name))
    };
    let id = |name: &'static str| Uuid::try_parse(text(name)?).map_err(|_| invalid(name));
    let int = |name: &'static str| h.get(name).and_then(|v| v.as_i64()).ok_or(invalid(name));
    Ok(EnvelopeHeader {
        v,
        batch_id: id("batch_id")?,
        part: u32::try_from(int("part")?).map_err(|_| invalid("part"))?,
        owner_id: text("owner_id")?,
        key_id: id("key_id")?,
        received_at: int("received_at")?,
        client_ip: text("client_ip")?,
        user_agent: text("user_agent")?,
        clock_skew_ms: h.get("clock_skew_ms").and_then(|v| v.as_i64()).unwrap_or(0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Parser;
    use crate::event::{EventType, ValidityFlags};

    fn event(i: u128) -> Event<'static> {
        Event {
            event_id: Uuid::from_u128(i),
            event_type: EventType::FormValidationError,
            session_id: "s\"1",
            page_view_id: "pv",
            timestamp: 1_700_000_000_000,
            client_timestamp: 1_700_000_000_000,
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
            received_at: 1_800_000_000_000,
            client_ip: "203.0.113.0",
            user_agent: "Mozilla/5.0",
            clock_skew_ms: 0,
        }
    }

    fn messages(events: &[Event<'_>], max: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        encode_events::<()>(&header(), events, max, &mut Vec::new(), |m| {
            out.push(m.to_vec());
            Ok(())
        })
        .unwrap();
        out
    }

    #[test]
    fn round_trips_and_splits_at_the_size_limit() {
        let mut events: Vec<_> = (0..10).map(event).collect();
        for e in events.iter_mut().skip(3).step_by(4) {
            e.timestamp = header().received_at;
            e.clock_corrected = true;
        }
        let mut encoded = messages(&events, 1200);
        assert!(encoded.len() > 1);
        let mut decoder = Decoder::default();
        let mut decoded = Vec::new();
        for (part, m) in encoded.iter_mut().enumerate() {
            assert!(m.len() <= 1200, "{}", m.len());
            let message = decoder.decode(m).unwrap();
            assert_eq!(
                message.header,
                EnvelopeHeader {
                    part: part as u32,
                    ..header()
                }
            );
            decoded.extend(message.events.into_iter().map(Result::unwrap));
        }
        assert_eq!(decoded, events);
    }

    #[test]
    fn forwards_events_byte_for_byte() {
        let first = r#"{ "type" : "click", "event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s\u00e9","timestamp":1800000000000,"url":"https://a.example/","x":1.6,"extra":{"kept":[1,2]}}"#;
        let late = r#"{"type":"click","event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f02","session_id":"s","timestamp":1000000000000,"url":"https://a.example/"}"#;
        let mut body = format!(r#"{{"events":[{first}, {{"type":"nope"}} ,{late}]}}"#).into_bytes();
        let mut parser = Parser::default();
        let now = header().received_at;
        let validated = parser
            .validate(&mut body, &crate::Limits::default(), now)
            .unwrap();
        assert_eq!(validated.rejected.len(), 1);
        let raw: Vec<RawEvent<'_>> = validated
            .accepted
            .iter()
            .map(|a| RawEvent::of(a, &body))
            .collect();
        let mut message = Vec::new();
        encode::<()>(&header(), &raw, 1 << 20, &mut Vec::new(), |m| {
            message = m.to_vec();
            Ok(())
        })
        .unwrap();
        let text = String::from_utf8(message.clone()).unwrap();
        assert!(text.contains(&format!("\"events\":[{first},{late}],\"corrected\":[1]}}")));
        let decoded = Decoder::default().decode(&mut message).unwrap();
        let events: Vec<Event<'_>> = decoded.events.into_iter().map(Result::unwrap).collect();
        assert_eq!(events[0], validated.accepted[0].event);
        assert_eq!(events[1], validated.accepted[1].event);
        assert_eq!((events[0].session_id, events[0].x), ("sé", 2));
        assert!(events[1].clock_corrected && events[1].timestamp == now);
    }

    #[test]
    fn carries_the_client_clock_skew_to_the_consumers() {
        let now = header().received_at;
        let client = now - 3_600_000 - 2000;
        let mut body = format!(
            r#"{{"sent_at":{},"events":[{{"type":"click","event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s","timestamp":{client},"url":"https://a.example/"}}]}}"#,
            now - 3_600_000
        )
        .into_bytes();
        let mut parser = Parser::default();
        let validated = parser
            .validate(&mut body, &crate::Limits::default(), now)
            .unwrap();
        let raw: Vec<RawEvent<'_>> = validated
            .accepted
            .iter()
            .map(|a| RawEvent::of(a, &body))
            .collect();
        let header = EnvelopeHeader {
            clock_skew_ms: validated.clock_skew_ms,
            ..header()
        };
        let mut message = Vec::new();
        encode::<()>(&header, &raw, 1 << 20, &mut Vec::new(), |m| {
            message = m.to_vec();
            Ok(())
        })
        .unwrap();
        let text = String::from_utf8(message.clone()).unwrap();
        assert!(text.contains(r#""clock_skew_ms":3600000}"#), "{text}");
        assert!(!text.contains("corrected"), "{text}");
        let decoded = Decoder::default().decode(&mut message).unwrap();
        assert_eq!(decoded.header, header);
        let event = decoded.events[0].as_ref().unwrap();
        assert_eq!(event, &validated.accepted[0].event);
        assert_eq!(
            (event.timestamp, event.client_timestamp),
            (now - 2000, client)
        );
        assert!(event.clock_corrected);
    }

    #[test]
    fn reads_version_1_messages_and_flags_bad_events() {
        let mut m = br#"{"header":{"v":1,"batch_id":"00000000-0000-0000-0000-000000000001","part":0,"owner_id":"o","key_id":"00000000-0000-0000-0000-000000000002","received_at":5,"client_ip":"","user_agent":""},"events":[{"event_id":"00000000-0000-0000-0000-000000000003","type":"click","session_id":"s","timestamp":1700000000000,"client_timestamp":946684800000,"clock_corrected":true,"url":"https://a/"},{"type":"nope"}]}"#.to_vec();
        let decoded = Decoder::default().decode(&mut m).unwrap();
        let event = decoded.events[0].as_ref().unwrap();
        assert_eq!(
            (
                event.timestamp,
                event.client_timestamp,
                event.clock_corrected
            ),
            (1_700_000_000_000, 946_684_800_000, true)
        );
        let bad = decoded.events[1].as_ref().unwrap_err();
        assert_eq!(bad.error, EventError::UnknownType);
        assert_eq!(bad.json, r#"{"type":"nope"}"#);
    }

    #[test]
    fn refuses_what_is_not_an_envelope() {
        let mut decoder = Decoder::default();
        let mut m = br#"{"header":{"v":9},"events":[]}"#.to_vec();
        assert_eq!(
            decoder.decode(&mut m).unwrap_err(),
            EnvelopeError::Version(9)
        );
        assert_eq!(
            decoder.decode(&mut b"nope".to_vec()).unwrap_err().reason(),
            "invalid_json"
        );
        assert_eq!(
            decoder
                .decode(&mut br#"{"events":[]}"#.to_vec())
                .unwrap_err()
                .reason(),
            "invalid_envelope"
        );
    }
}
