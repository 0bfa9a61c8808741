//! What the consumers read of a raw message besides decoding it (which the writer does,
//! once): an event count on arrival, by a byte scan, for batch sizing; and the salvage of
//! a message that does not decode, event by event: the good events are re-encoded into a
//! clean message and each bad event (or the whole message, when nothing can be read)
//! becomes a dead letter with its reason. A bad message never blocks its partition.

use friction_schema::envelope::{self, EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::Event;
use memchr::memmem;
use simd_json::prelude::*;

/// A message that did not decode, cut down to what does.
#[derive(Debug)]
pub struct Checked {
    /// A clean envelope of the good events (empty when there are none).
    pub payload: Vec<u8>,
    /// Events in it.
    pub events: usize,
    /// Events that were cut out of it.
    pub dead: Vec<DeadLetter>,
}

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

/// Events in an envelope as ingest writes it: each event object carries exactly one
/// `"event_id":` key, and inside a JSON string those quotes would be escaped.
pub fn count_events(payload: &[u8]) -> usize {
    memmem::find_iter(payload, b"\"event_id\":").count()
}

fn dead(payload: &[u8], reason: &'static str, detail: impl ToString) -> DeadLetter {
    DeadLetter {
        payload: payload.to_vec(),
        reason,
        detail: detail.to_string(),
    }
}

/// The slow path for a message that did not decode: the structure loosely, then each
/// event on its own.
pub fn salvage(payload: &[u8]) -> Result<Checked, DeadLetter> {
    let mut copy = payload.to_vec();
    let value =
        simd_json::to_owned_value(&mut copy).map_err(|e| dead(payload, "invalid_json", e))?;
    let mut header_bytes = value
        .get("header")
        .map(simd_json::to_vec)
        .transpose()
        .map_err(|e| dead(payload, "invalid_envelope", e))?
        .ok_or_else(|| dead(payload, "invalid_envelope", "no header"))?;
    let header: EnvelopeHeader<'_> = simd_json::serde::from_slice(&mut header_bytes)
        .map_err(|e| dead(payload, "invalid_envelope", e))?;
    if header.v != ENVELOPE_VERSION {
        return Err(dead(
            payload,
            "unsupported_envelope",
            format!("version {}", header.v),
        ));
    }
    let list = value
        .get("events")
        .and_then(|e| e.as_array())
        .ok_or_else(|| dead(payload, "invalid_envelope", "no events array"))?;

    let mut good: Vec<Vec<u8>> = Vec::with_capacity(list.len());
    let mut bad = Vec::new();
    for item in list {
        let bytes = simd_json::to_vec(item).map_err(|e| dead(payload, "invalid_envelope", e))?;
        let mut probe = bytes.clone();
        match simd_json::serde::from_slice::<Event<'_>>(&mut probe) {
            Ok(_) => good.push(bytes),
            Err(e) => bad.push(dead(&bytes, "invalid_event", e)),
        }
    }
    let events: Vec<Event<'_>> = good
        .iter_mut()
        .filter_map(|b| simd_json::serde::from_slice(b).ok())
        .collect();
    let mut clean = Vec::new();
    if !events.is_empty() {
        envelope::encode::<()>(&header, &events, usize::MAX, &mut Vec::new(), |m| {
            clean = m.to_vec();
            Ok(())
        })
        .ok();
    }
    Ok(Checked {
        payload: clean,
        events: events.len(),
        dead: bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"v":1,"batch_id":"00000000-0000-0000-0000-000000000001","part":0,"owner_id":"o","key_id":"00000000-0000-0000-0000-000000000002","received_at":5,"client_ip":"","user_agent":""}"#;
    const GOOD: &str = r#"{"event_id":"00000000-0000-0000-0000-000000000003","type":"click","session_id":"s","timestamp":1,"client_timestamp":1,"url":"u"}"#;

    #[test]
    fn good_messages_decode_and_are_counted_on_arrival() {
        let m = format!(r#"{{"header":{HEADER},"events":[{GOOD},{GOOD}]}}"#);
        assert_eq!(count_events(m.as_bytes()), 2);
        let mut copy = m.into_bytes();
        assert_eq!(envelope::decode(&mut copy).unwrap().events.len(), 2);
    }

    #[test]
    fn bad_events_are_cut_out_and_the_rest_kept() {
        let m = format!(r#"{{"header":{HEADER},"events":[{GOOD},{{"type":"nope"}},{GOOD}]}}"#);
        assert!(envelope::decode(&mut m.clone().into_bytes()).is_err());
        let checked = salvage(m.as_bytes()).unwrap();
        assert_eq!(checked.events, 2);
        assert_eq!(checked.dead.len(), 1);
        assert_eq!(checked.dead[0].reason, "invalid_event");
        let mut clean = checked.payload.clone();
        assert_eq!(envelope::decode(&mut clean).unwrap().events.len(), 2);
    }

    #[test]
    fn unreadable_messages_are_dead_letters() {
        assert_eq!(salvage(b"not json").unwrap_err().reason, "invalid_json");
        assert_eq!(
            salvage(b"{\"events\":[]}").unwrap_err().reason,
            "invalid_envelope"
        );
        let old = format!(
            r#"{{"header":{},"events":[]}}"#,
            HEADER.replace("\"v\":1", "\"v\":0")
        );
        assert_eq!(
            salvage(old.as_bytes()).unwrap_err().reason,
            "unsupported_envelope"
        );
    }
}
