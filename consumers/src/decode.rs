//! Checking raw batches as they arrive. A message that decodes is kept as is; one that
//! does not is salvaged event by event: the good events are re-encoded into a clean
//! message and each bad event (or the whole message, when nothing can be read) becomes
//! a dead letter with its reason. Nothing undecodable ever reaches the writer, so a bad
//! message never blocks its partition.

use friction_schema::envelope::{self, EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::Event;
use simd_json::prelude::*;

/// A message ready for the writer.
#[derive(Debug)]
pub struct Checked {
    /// An envelope that decodes (the original bytes, or a clean re-encoding).
    pub payload: Vec<u8>,
    /// Events in it.
    pub events: usize,
    /// Which ingest request (batch id) and part it carries: unique per message written,
    /// whatever offset it lands at.
    pub origin: (uuid::Uuid, u32),
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

/// Checks one message; `scratch` is reused for in-place decoding.
pub fn check(payload: &[u8], scratch: &mut Vec<u8>) -> Result<Checked, DeadLetter> {
    scratch.clear();
    scratch.extend_from_slice(payload);
    if let Ok(envelope) = envelope::decode(scratch) {
        return Ok(Checked {
            payload: payload.to_vec(),
            events: envelope.events.len(),
            origin: (envelope.header.batch_id, envelope.header.part),
            dead: Vec::new(),
        });
    }
    salvage(payload)
}

fn dead(payload: &[u8], reason: &'static str, detail: impl ToString) -> DeadLetter {
    DeadLetter {
        payload: payload.to_vec(),
        reason,
        detail: detail.to_string(),
    }
}

/// The slow path: decode the structure loosely, then each event on its own.
fn salvage(payload: &[u8]) -> Result<Checked, DeadLetter> {
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
        origin: (header.batch_id, header.part),
        dead: bad,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = r#"{"v":1,"batch_id":"00000000-0000-0000-0000-000000000001","part":0,"owner_id":"o","key_id":"00000000-0000-0000-0000-000000000002","received_at":5,"client_ip":"","user_agent":""}"#;
    const GOOD: &str = r#"{"event_id":"00000000-0000-0000-0000-000000000003","type":"click","session_id":"s","timestamp":1,"client_timestamp":1,"url":"u"}"#;

    #[test]
    fn good_messages_pass_untouched() {
        let m = format!(r#"{{"header":{HEADER},"events":[{GOOD},{GOOD}]}}"#);
        let checked = check(m.as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!((checked.payload, checked.events), (m.into_bytes(), 2));
    }

    #[test]
    fn bad_events_are_cut_out_and_the_rest_kept() {
        let m = format!(r#"{{"header":{HEADER},"events":[{GOOD},{{"type":"nope"}},{GOOD}]}}"#);
        let checked = check(m.as_bytes(), &mut Vec::new()).unwrap();
        assert_eq!(checked.events, 2);
        assert_eq!(checked.dead.len(), 1);
        assert_eq!(checked.dead[0].reason, "invalid_event");
        let mut clean = checked.payload.clone();
        assert_eq!(envelope::decode(&mut clean).unwrap().events.len(), 2);
    }

    #[test]
    fn unreadable_messages_are_dead_letters() {
        assert_eq!(
            check(b"not json", &mut Vec::new()).unwrap_err().reason,
            "invalid_json"
        );
        assert_eq!(
            check(b"{\"events\":[]}", &mut Vec::new())
                .unwrap_err()
                .reason,
            "invalid_envelope"
        );
        let old = format!(
            r#"{{"header":{},"events":[]}}"#,
            HEADER.replace("\"v\":1", "\"v\":0")
        );
        assert_eq!(
            check(old.as_bytes(), &mut Vec::new()).unwrap_err().reason,
            "unsupported_envelope"
        );
    }
}
