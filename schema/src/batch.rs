//! Parsing and validating a whole SDK batch (`{"events":[...]}`) with simd-json.
//!
//! The body is parsed once into a simd-json tape (on a copy, so the body itself stays
//! as received); each event is read from the tape into an [`Event`] that borrows its
//! strings. An invalid event is dropped and reported with its index; the rest of the
//! batch goes on. Each valid event comes with its byte range in the body, which is what
//! ingest forwards.

use std::ops::Range;

use serde::Serialize;
use simd_json::prelude::*;
use simd_json::tape::{Object, Tape, Value};
use uuid::Uuid;

use crate::event::{Event, EventError, EventType, ValidityFlags};
use crate::spans::{self, SpanError};
use crate::tape::Reused;
use crate::url;

/// Validation limits; ingest makes them configurable.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Events in one batch.
    pub max_events: usize,
    /// Bytes of an ordinary string field (ids, messages, names).
    pub max_string_bytes: usize,
    /// Bytes of a URL (page, referrer, script source).
    pub max_url_bytes: usize,
    /// Bytes of a CSS selector.
    pub max_selector_bytes: usize,
    /// Bytes of an error stack trace.
    pub max_stack_bytes: usize,
    /// A client timestamp further in the future than this is replaced by server time.
    pub max_clock_ahead_ms: i64,
    /// A client timestamp older than this is replaced by server time.
    pub max_clock_behind_ms: i64,
    /// A batch whose `sent_at` is at least this far from the receive time comes from a
    /// client whose clock is off: its events' times are shifted by the difference.
    pub min_clock_skew_ms: i64,
}

impl Limits {
    /// No limits of size or count, for reading events a validating writer already
    /// checked (consumers must not drop what ingest accepted under other settings).
    pub fn trusted() -> Self {
        Limits {
            max_events: usize::MAX,
            max_string_bytes: usize::MAX,
            max_url_bytes: usize::MAX,
            max_selector_bytes: usize::MAX,
            max_stack_bytes: usize::MAX,
            ..Limits::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_events: 500,
            max_string_bytes: 1024,
            max_url_bytes: 2048,
            max_selector_bytes: 1024,
            max_stack_bytes: 8192,
            max_clock_ahead_ms: 5 * 60 * 1000,
            max_clock_behind_ms: 24 * 60 * 60 * 1000,
            min_clock_skew_ms: 5000,
        }
    }
}

/// Why a whole batch was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BatchError {
    /// The body is not JSON.
    #[error("body is not valid JSON")]
    InvalidJson,
    /// The JSON is not an object with an `events` array.
    #[error("body must be an object with an `events` array")]
    NotABatch,
    /// `events` is empty.
    #[error("batch has no events")]
    Empty,
    /// A top-level key is written with escapes, or `events` appears twice.
    #[error("top-level keys must be unique and written without escapes")]
    AmbiguousKeys,
    /// More events than allowed.
    #[error("batch has {got} events; at most {max} are accepted")]
    TooManyEvents {
        /// Events in the batch.
        got: usize,
        /// The limit.
        max: usize,
    },
}

/// An event of the batch that was dropped, by position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejection {
    /// Index of the event in the batch.
    pub index: usize,
    /// Why it was dropped.
    pub error: EventError,
}

/// A valid event and where it lies in the body.
#[derive(Debug)]
pub struct Accepted<'p> {
    /// The event as read, its time corrected.
    pub event: Event<'p>,
    /// Its bytes in the body.
    pub span: Range<usize>,
    /// Whether its time was implausible and replaced by the receive time.
    pub replaced: bool,
}

/// What validation made of a batch.
#[derive(Debug)]
pub struct Validated<'p> {
    /// The valid events, in order.
    pub accepted: Vec<Accepted<'p>>,
    /// The others, by index.
    pub rejected: Vec<Rejection>,
    /// How far the client's clock is behind the server's, from `sent_at` (0 when under
    /// [`Limits::min_clock_skew_ms`] or not sent).
    pub clock_skew_ms: i64,
}

/// Parses batches, reusing its buffers (the copy, simd-json's scratch and its tape)
/// from one to the next.
#[derive(Default)]
pub struct Parser {
    copy: Vec<u8>,
    simd: Reused,
}

impl Parser {
    /// Validates every event of `body`. Lone surrogate escapes are rewritten in the body
    /// (see [`replace_lone_surrogates`]); nothing else in it changes. `now_ms` is the
    /// server receive time, for clock correction.
    pub fn validate<'p>(
        &'p mut self,
        body: &mut [u8],
        limits: &Limits,
        now_ms: i64,
    ) -> Result<Validated<'p>, BatchError> {
        replace_lone_surrogates(body);
        self.copy.clear();
        self.copy.extend_from_slice(body);
        // Strings stay where they are in the input: their offsets are offsets in `body`.
        let base = self.copy.as_ptr() as usize;
        self.simd
            .parse(&mut self.copy, BatchError::InvalidJson, |tape| {
                read_batch(tape, body, base, limits, now_ms)
            })
    }
}

/// Validates the batch `tape` was parsed from: `body` is the batch as received, and
/// `base` the address of the parsed copy, whose strings stand where they stand in `body`.
fn read_batch<'p>(
    tape: &Tape<'p>,
    body: &[u8],
    base: usize,
    limits: &Limits,
    now_ms: i64,
) -> Result<Validated<'p>, BatchError> {
    let offset = |s: &str| s.as_ptr() as usize - base;
    let root = tape.as_value();
    let root = root.as_object().ok_or(BatchError::NotABatch)?;
    // Top-level keys must read the same to every reader: unique `events`, no escapes
    // (an escaped key is shorter once read than as written).
    let written = |key: &str| body.get(offset(key)..offset(key) + key.len());
    if root
        .iter()
        .any(|(key, _)| written(key) != Some(key.as_bytes()))
        || root.keys().filter(|key| *key == "events").count() > 1
    {
        return Err(BatchError::AmbiguousKeys);
    }
    let mut keys = root.iter();
    let list = keys
        .by_ref()
        .find(|(key, _)| *key == "events")
        .and_then(|(_, e)| e.as_array())
        .ok_or(BatchError::NotABatch)?;
    let next_key = keys.next().map(|(key, _)| offset(key));
    let len = list.len();
    if len == 0 {
        return Err(BatchError::Empty);
    }
    if len > limits.max_events {
        return Err(BatchError::TooManyEvents {
            got: len,
            max: limits.max_events,
        });
    }
    let first_keys: Vec<Option<usize>> = list
        .iter()
        .map(|e| {
            let obj = e.as_object()?;
            let (key, _) = obj.iter().next()?;
            Some(offset(key))
        })
        .collect();
    let spans = match spans::locate(body, &first_keys, next_key) {
        Some(spans) => spans,
        None => spans::event_spans(body).map_err(|e| match e {
            SpanError::Ambiguous => BatchError::AmbiguousKeys,
            SpanError::NotABatch => BatchError::NotABatch,
        })?,
    };
    if spans.len() != len {
        return Err(BatchError::NotABatch);
    }
    let mut out = Validated {
        accepted: Vec::with_capacity(len),
        rejected: Vec::new(),
        clock_skew_ms: 0,
    };
    for ((index, value), span) in list.iter().enumerate().zip(spans) {
        match parse_event(value, limits) {
            Ok(event) => out.accepted.push(Accepted {
                event,
                span,
                replaced: false,
            }),
            Err(error) => out.rejected.push(Rejection { index, error }),
        }
    }
    let latest = out.accepted.iter().map(|a| a.event.client_timestamp).max();
    out.clock_skew_ms = clock_skew(root.get("sent_at"), latest, now_ms, limits);
    for a in &mut out.accepted {
        a.replaced = correct_clock(&mut a.event, now_ms, out.clock_skew_ms, limits);
    }
    Ok(out)
}

/// Slack for events stamped by another clock than `sent_at`'s.
const SENT_AT_SLACK_MS: i64 = 1000;

/// The client clock's lag behind the server's, from the batch's `sent_at` (the client's
/// time of sending): 0 when it is missing, not a time, earlier than the batch's `latest`
/// event (then it is not the events' clock: seconds, or made up), or within
/// [`Limits::min_clock_skew_ms`] (a right clock, and the time the request took).
fn clock_skew(
    sent_at: Option<Value<'_, '_>>,
    latest: Option<i64>,
    now_ms: i64,
    limits: &Limits,
) -> i64 {
    let Some(sent_at) = sent_at.and_then(|v| v.cast_f64()) else {
        return 0;
    };
    if !(0.0..=MAX_TIMESTAMP_MS as f64).contains(&sent_at) {
        return 0;
    }
    let sent_at = sent_at as i64;
    if latest.is_some_and(|latest| sent_at + SENT_AT_SLACK_MS < latest) {
        return 0;
    }
    let skew = now_ms - sent_at;
    match skew.abs() >= limits.min_clock_skew_ms {
        true => skew,
        false => 0,
    }
}

/// Shifts the client time by `skew_ms` (see [`Validated::clock_skew_ms`]); a time still
/// implausible (further ahead or behind `now_ms` than the limits allow) is replaced by
/// `now_ms`, and then `true` is returned. What the client said stays in
/// `client_timestamp`.
pub fn correct_clock(event: &mut Event<'_>, now_ms: i64, skew_ms: i64, limits: &Limits) -> bool {
    let time = event.client_timestamp.saturating_add(skew_ms);
    if time > now_ms + limits.max_clock_ahead_ms || time < now_ms - limits.max_clock_behind_ms {
        event.timestamp = now_ms;
        event.clock_corrected = true;
        return true;
    }
    if skew_ms != 0 {
        event.timestamp = time;
        event.clock_corrected = true;
    }
    false
}

/// Rewrites every `\uXXXX` escape of half a UTF-16 surrogate pair (a high one not
/// followed by a low one, or a low one alone) as `\ufffd`, the replacement character,
/// in place (both are six bytes): the parser would otherwise store something else, and a
/// browser cutting a string inside an emoji must not lose its batch. Only backslashes are
/// looked at, so the scan costs little beside parsing. Returns how many were replaced.
pub fn replace_lone_surrogates(body: &mut [u8]) -> usize {
    let unit = |body: &[u8], at: usize| -> Option<u16> {
        if body.get(at + 1) != Some(&b'u') {
            return None;
        }
        let hex = body.get(at + 2..at + 6)?;
        u16::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let high = |u: u16| (0xD800..=0xDBFF).contains(&u);
    let low = |u: u16| (0xDC00..=0xDFFF).contains(&u);
    let mut replaced = 0;
    let mut i = 0;
    while let Some(offset) = memchr::memchr(b'\\', &body[i..]) {
        let at = i + offset;
        i = match unit(body, at) {
            // `\\`, `\"` and the like: skip the escaped character.
            None => at + 2,
            Some(code) if high(code) && unit(body, at + 6).is_some_and(low) => at + 12,
            Some(code) => {
                if high(code) || low(code) {
                    body[at + 2..at + 6].copy_from_slice(b"fffd");
                    replaced += 1;
                }
                at + 6
            }
        };
        if i >= body.len() {
            break;
        }
    }
    replaced
}

/// Earliest client timestamp stored: 2000-01-01 (earlier ones are stored as this).
pub const MIN_TIMESTAMP_MS: i64 = 946_684_800_000;
/// Latest client timestamp stored: 2100-01-01 (later ones are stored as this).
pub const MAX_TIMESTAMP_MS: i64 = 4_102_444_800_000;

/// A page URL as a browser reports it: `scheme://…`, without userinfo
/// (`https://victim.example@evil.example/` names evil.example, which a reader of the
/// stored URL would not see).
fn plausible_page_url(url: &str) -> bool {
    let Some(end) = url::scheme_end(url) else {
        return false;
    };
    let (scheme, rest) = (&url[..end], &url[end + 3..]);
    let authority = &rest[..url::authority_len(rest)];
    !scheme.is_empty()
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        && !authority.contains('@')
}

/// Reads and validates one event of the wire format. Its `timestamp` is the client's,
/// bounded to the years stored; [`correct_clock`] decides whether to keep it.
pub fn parse_event<'a>(value: Value<'_, 'a>, limits: &Limits) -> Result<Event<'a>, EventError> {
    let obj = value.as_object().ok_or(EventError::NotAnObject)?;
    let f = Fields::new(&obj);

    let type_name = f.required_str(F::Type, limits.max_string_bytes)?;
    let event_type = EventType::parse(type_name).ok_or(EventError::UnknownType)?;
    if let Some(kind) = f.str(F::Kind, limits.max_string_bytes)? {
        if kind != event_type.kind().as_str() {
            return Err(EventError::KindMismatch);
        }
    }
    let event_id = f.required_str(F::EventId, 64)?;
    let event_id = Uuid::try_parse(event_id).map_err(|_| EventError::InvalidField("event_id"))?;
    let session_id = f.required_str(F::SessionId, 128)?;
    if session_id.is_empty() {
        return Err(EventError::MissingField("session_id"));
    }
    // Outside these years a client clock is broken (and the value would not fit the
    // stored column): the bound is stored as what the client said, and clock
    // correction replaces it.
    let client_timestamp = f
        .required_int(F::Timestamp, 0, i64::MAX)?
        .clamp(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS);
    let url = f.required_str(F::Url, limits.max_url_bytes)?;
    if !plausible_page_url(url) {
        return Err(EventError::InvalidField(F::Url.name()));
    }

    let mut event = Event {
        event_id,
        event_type,
        session_id,
        page_view_id: f.str_or_empty(F::PageViewId, 128)?,
        timestamp: client_timestamp,
        client_timestamp,
        clock_corrected: false,
        url,
        referrer: f.str_or_empty(F::Referrer, limits.max_url_bytes)?,
        navigation_type: "",
        selector: f.str_or_empty(F::Selector, limits.max_selector_bytes)?,
        element_tag: f.str_or_empty(F::ElementTag, 64)?,
        x: f.coord(F::X)?,
        y: f.coord(F::Y)?,
        client_x: f.coord(F::ClientX)?,
        client_y: f.coord(F::ClientY)?,
        viewport_width: f.int(F::ViewportWidth, 0, 100_000)? as u32,
        viewport_height: f.int(F::ViewportHeight, 0, 100_000)? as u32,
        scroll_x: f.coord(F::ScrollX)?,
        scroll_y: f.coord(F::ScrollY)?,
        click_count: 0,
        message: "",
        source: "",
        line: 0,
        column: 0,
        stack: "",
        count: 0,
        form: "",
        field_name: "",
        field_type: "",
        validity: ValidityFlags::default(),
        value: 0.0,
    };

    match event_type {
        EventType::RageClick => {
            event.click_count = f.required_int(F::ClickCount, 2, 10_000)? as u32;
        }
        EventType::DeadClick | EventType::Click | EventType::QuickBack => {}
        EventType::JavascriptError | EventType::UnhandledRejection => {
            event.message = f.required_str(F::Message, limits.max_string_bytes)?;
            event.source = f.str_or_empty(F::Source, limits.max_url_bytes)?;
            event.line = f.int(F::Line, 0, u32::MAX as i64)? as u32;
            event.column = f.int(F::Column, 0, u32::MAX as i64)? as u32;
            event.stack = f.str_or_empty(F::Stack, limits.max_stack_bytes)?;
            event.count = f.int(F::Count, 1, 1_000_000)?.max(1) as u32;
        }
        EventType::FormValidationError => {
            event.form = f.str_or_empty(F::Form, limits.max_selector_bytes)?;
            event.field_name = f.required_str(F::FieldName, limits.max_string_bytes)?;
            event.field_type = f.str_or_empty(F::FieldType, 64)?;
            event.validity = f.validity()?;
        }
        EventType::Custom | EventType::ErrorClick => {
            event.message = f.required_str(F::Message, limits.max_string_bytes)?;
        }
        EventType::Pageview => {
            event.navigation_type = f.str_or_empty(F::NavigationType, 32)?;
        }
        EventType::LoadTime
        | EventType::FirstContentfulPaint
        | EventType::TimeToInteractive
        | EventType::LargestContentfulPaint
        | EventType::InteractionToNextPaint
        | EventType::TimeToFirstByte => {
            // An hour is far beyond any real page metric; larger values are bugs or abuse.
            event.value = f.required_f64(F::Value, 0.0, 3_600_000.0)?;
        }
        EventType::CumulativeLayoutShift => {
            event.value = f.required_f64(F::Value, 0.0, 1_000.0)?;
        }
    }
    Ok(event)
}

macro_rules! wire_fields {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The fields of the wire format that validation reads.
        #[derive(Debug, Clone, Copy)]
        enum F { $($variant),* }

        const FIELD_COUNT: usize = [$($name),*].len();

        impl F {
            fn name(self) -> &'static str {
                match self { $(F::$variant => $name),* }
            }

            fn from_key(key: &str) -> Option<F> {
                match key { $($name => Some(F::$variant),)* _ => None }
            }
        }
    };
}

wire_fields! {
    Type => "type", Kind => "kind", EventId => "event_id", SessionId => "session_id",
    PageViewId => "page_view_id", Timestamp => "timestamp", Url => "url", Referrer => "referrer",
    NavigationType => "navigation_type", Selector => "selector", ElementTag => "element_tag",
    X => "x", Y => "y", ClientX => "client_x", ClientY => "client_y",
    ViewportWidth => "viewport_width", ViewportHeight => "viewport_height",
    ScrollX => "scroll_x", ScrollY => "scroll_y", ClickCount => "click_count",
    Message => "message", Source => "source", Line => "line", Column => "column",
    Stack => "stack", Count => "count", Form => "form", FieldName => "field_name",
    FieldType => "field_type", Validity => "validity", Value => "value",
}

/// Typed access to the fields of one wire event, collected in one pass over the object
/// (looking each field up by name would rescan the object every time).
struct Fields<'t, 'a> {
    slots: [Option<Value<'t, 'a>>; FIELD_COUNT],
}

impl<'t, 'a> Fields<'t, 'a> {
    fn new(obj: &Object<'t, 'a>) -> Self {
        let mut slots = [None; FIELD_COUNT];
        for (key, value) in obj.iter() {
            if let Some(f) = F::from_key(key) {
                if !value.is_null() {
                    slots[f as usize] = Some(value);
                }
            }
        }
        Fields { slots }
    }

    fn get(&self, f: F) -> Option<Value<'t, 'a>> {
        self.slots[f as usize]
    }

    fn str(&self, f: F, max: usize) -> Result<Option<&'a str>, EventError> {
        match self.get(f) {
            None => Ok(None),
            Some(v) => {
                let s = v.into_string().ok_or(EventError::InvalidField(f.name()))?;
                if s.len() > max {
                    return Err(EventError::TooLong(f.name()));
                }
                Ok(Some(s))
            }
        }
    }

    fn str_or_empty(&self, f: F, max: usize) -> Result<&'a str, EventError> {
        Ok(self.str(f, max)?.unwrap_or(""))
    }

    fn required_str(&self, f: F, max: usize) -> Result<&'a str, EventError> {
        self.str(f, max)?.ok_or(EventError::MissingField(f.name()))
    }

    fn f64(&self, f: F, min: f64, max: f64) -> Result<Option<f64>, EventError> {
        match self.get(f) {
            None => Ok(None),
            Some(v) => {
                let n = v.cast_f64().ok_or(EventError::InvalidField(f.name()))?;
                if !n.is_finite() || n < min || n > max {
                    return Err(EventError::OutOfRange(f.name()));
                }
                Ok(Some(n))
            }
        }
    }

    fn required_f64(&self, f: F, min: f64, max: f64) -> Result<f64, EventError> {
        self.f64(f, min, max)?
            .ok_or(EventError::MissingField(f.name()))
    }

    /// A number in `min..=max` as written, rounded when it is written with a fraction or
    /// an exponent (1.5 is refused for `min` 2; 2.5 is taken as 3).
    fn opt_int(&self, f: F, min: i64, max: i64) -> Result<Option<i64>, EventError> {
        // Most numbers are written whole: check them as integers, without a float round.
        match self.get(f).and_then(|v| v.as_i64()) {
            Some(n) if (min..=max).contains(&n) => Ok(Some(n)),
            Some(_) => Err(EventError::OutOfRange(f.name())),
            None => Ok(self
                .f64(f, min as f64, max as f64)?
                .map(|n| n.round() as i64)),
        }
    }

    fn int(&self, f: F, min: i64, max: i64) -> Result<i64, EventError> {
        Ok(self.opt_int(f, min, max)?.unwrap_or(0))
    }

    fn required_int(&self, f: F, min: i64, max: i64) -> Result<i64, EventError> {
        self.opt_int(f, min, max)?
            .ok_or(EventError::MissingField(f.name()))
    }

    /// Coordinates may be fractional CSS pixels; they are stored rounded.
    fn coord(&self, f: F) -> Result<i32, EventError> {
        Ok(self.int(f, -1_000_000, 1_000_000)? as i32)
    }

    fn validity(&self) -> Result<ValidityFlags, EventError> {
        let mut flags = ValidityFlags::default();
        if let Some(v) = self.get(F::Validity) {
            let invalid = EventError::InvalidField(F::Validity.name());
            let list = v.as_array().ok_or(invalid)?;
            for item in list.iter() {
                let name = item.as_str().ok_or(invalid)?;
                if !flags.insert(name) {
                    return Err(invalid);
                }
            }
        }
        Ok(flags)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_764_000_000_000;

    fn parse(json: &str) -> (Result<(), BatchError>, Vec<String>, Vec<Rejection>) {
        let mut body = json.as_bytes().to_vec();
        let mut parser = Parser::default();
        let validated = match parser.validate(&mut body, &Limits::default(), NOW) {
            Ok(v) => v,
            Err(e) => return (Err(e), vec![], vec![]),
        };
        let events = validated
            .accepted
            .iter()
            .map(|a| serde_json::to_string(&a.event).unwrap())
            .collect();
        (Ok(()), events, validated.rejected)
    }

    fn event(extra: &str) -> String {
        format!(
            r#"{{"event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s1","timestamp":{NOW},"url":"https://a.example/p",{extra}}}"#
        )
    }

    #[test]
    fn accepts_valid_events_of_each_kind() {
        let batch = format!(
            r#"{{"events":[{},{},{}]}}"#,
            event(
                r#""kind":"friction","type":"rage_click","click_count":4,"selector":"button#buy""#
            ),
            event(r#""kind":"heatmap","type":"click","x":10.6,"y":20"#),
            event(r#""kind":"performance","type":"loadTime","value":1234.5"#),
        );
        let (result, events, rejected) = parse(&batch);
        assert_eq!(result, Ok(()));
        assert_eq!(events.len(), 3, "{rejected:?}");
        assert!(events[1].contains(r#""x":11"#));
    }

    #[test]
    fn error_clicks_need_the_error_message_and_quick_backs_only_the_page() {
        let batch = format!(
            r#"{{"events":[{},{},{}]}}"#,
            event(
                r#""type":"error_click","selector":"button#pay","message":"TypeError: x is undefined""#
            ),
            event(r#""type":"error_click","selector":"button#pay""#),
            event(r#""kind":"friction","type":"quick_back""#),
        );
        let (_, events, rejected) = parse(&batch);
        assert_eq!(events.len(), 2, "{rejected:?}");
        assert!(events[1].contains(r#""type":"quick_back""#));
        let codes: Vec<_> = rejected.iter().map(|r| (r.index, r.error.code())).collect();
        assert_eq!(codes, [(1, "missing_field")]);
    }

    #[test]
    fn rejects_bad_events_by_index_and_keeps_the_rest() {
        let batch = format!(
            r#"{{"events":[{},{},{},{},5]}}"#,
            event(r#""type":"click""#),
            event(r#""type":"nope""#),
            event(r#""kind":"heatmap","type":"rage_click","click_count":3"#),
            event(r#""type":"loadTime","value":-1"#),
        );
        let (_, events, rejected) = parse(&batch);
        assert_eq!(events.len(), 1);
        let codes: Vec<_> = rejected.iter().map(|r| (r.index, r.error.code())).collect();
        assert_eq!(
            codes,
            [
                (1, "unknown_event_type"),
                (2, "kind_mismatch"),
                (3, "value_out_of_range"),
                (4, "not_an_object")
            ]
        );
    }

    #[test]
    fn whole_and_fractional_numbers_meet_the_same_bounds() {
        let batch = format!(
            r#"{{"events":[{},{},{},{},{},{},{},{}]}}"#,
            event(r#""type":"rage_click","click_count":2"#),
            event(r#""type":"rage_click","click_count":1"#),
            event(r#""type":"rage_click","click_count":1.5"#),
            event(r#""type":"rage_click","click_count":2.5"#),
            event(r#""type":"click","x":-1000001"#),
            event(r#""type":"click","x":-1000000.4"#),
            event(r#""type":"click","y":18446744073709551615"#),
            event(r#""type":"click","x":-2.5,"y":1e3"#),
        );
        let (_, events, rejected) = parse(&batch);
        let codes: Vec<_> = rejected.iter().map(|r| (r.index, r.error.code())).collect();
        assert_eq!(
            codes,
            [
                (1, "value_out_of_range"),
                (2, "value_out_of_range"),
                (4, "value_out_of_range"),
                (5, "value_out_of_range"),
                (6, "value_out_of_range")
            ]
        );
        assert_eq!(rejected[4].error, EventError::OutOfRange("y"));
        assert!(events[0].contains(r#""click_count":2"#));
        // Rounded half away from zero, as `f64::round` does.
        assert!(events[1].contains(r#""click_count":3"#));
        assert!(events[2].contains(r#""x":-3,"y":1000"#), "{}", events[2]);
    }

    #[test]
    fn corrects_implausible_clocks_and_keeps_both() {
        let future = NOW + 3_600_000;
        let batch = format!(
            r#"{{"events":[{{"event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s","timestamp":{future},"url":"https://a.example/","type":"click"}}]}}"#
        );
        let (_, events, _) = parse(&batch);
        assert!(events[0].contains(&format!(
            r#""timestamp":{NOW},"client_timestamp":{future},"clock_corrected":true"#
        )));
    }

    #[test]
    fn a_client_clock_that_is_off_is_corrected_by_sent_at() {
        let event = |t: i64| {
            format!(
                r#"{{"event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s","timestamp":{t},"url":"https://a.example/","type":"click"}}"#
            )
        };
        let hour = 3_600_000;
        // A clock an hour behind (within the plausible range) and two days behind (not).
        for (sent_at, client, skew, time) in [
            (NOW - hour, NOW - hour - 2000, hour, NOW - 2000),
            (
                NOW - 48 * hour,
                NOW - 48 * hour - 2000,
                48 * hour,
                NOW - 2000,
            ),
            // Ahead, by 10 minutes.
            (NOW + 600_000, NOW + 600_000 - 500, -600_000, NOW - 500),
        ] {
            let mut body =
                format!(r#"{{"sent_at":{sent_at},"events":[{}]}}"#, event(client)).into_bytes();
            let mut parser = Parser::default();
            let v = parser.validate(&mut body, &Limits::default(), NOW).unwrap();
            assert_eq!(v.clock_skew_ms, skew);
            let a = &v.accepted[0];
            assert_eq!(
                (a.event.timestamp, a.event.client_timestamp),
                (time, client)
            );
            assert!(a.event.clock_corrected && !a.replaced);
        }
        // A right clock (the request took 300 ms, or 3 s on a slow network), no sent_at,
        // one that is no time, or one earlier than the events (seconds, not ms; made up):
        // nothing is shifted.
        for sent_at in [
            (NOW - 300).to_string(),
            (NOW - 3000).to_string(),
            "null".to_string(),
            "\"yesterday\"".to_string(),
            "1".to_string(),
            (NOW / 1000).to_string(),
        ] {
            let client = NOW - 4000;
            let mut body =
                format!(r#"{{"sent_at":{sent_at},"events":[{}]}}"#, event(client)).into_bytes();
            let mut parser = Parser::default();
            let v = parser.validate(&mut body, &Limits::default(), NOW).unwrap();
            let a = &v.accepted[0];
            assert_eq!(v.clock_skew_ms, 0, "{sent_at}");
            assert!(
                !a.replaced && !a.event.clock_corrected && a.event.timestamp == client,
                "{sent_at}"
            );
        }
    }

    #[test]
    fn lone_surrogates_become_replacement_characters_and_pairs_stay() {
        let fix = |text: &str| {
            let mut body = text.as_bytes().to_vec();
            let n = replace_lone_surrogates(&mut body);
            (String::from_utf8(body).unwrap(), n)
        };
        assert_eq!(fix(r#"{"a":"\ud800"}"#), (r#"{"a":"\ufffd"}"#.into(), 1));
        assert_eq!(fix(r#"{"a":"\udc00x"}"#), (r#"{"a":"\ufffdx"}"#.into(), 1));
        assert_eq!(
            fix(r#"{"a":"\uD83D\u0041"}"#),
            (r#"{"a":"\ufffd\u0041"}"#.into(), 1)
        );
        let kept = r#"{"a":"\ud83d\ude00 ok \u00e9 \\ud800 \" \\"}"#;
        assert_eq!(fix(kept), (kept.into(), 0));
        assert_eq!(fix(r#"{"a":"\ud83d"#), (r#"{"a":"\ufffd"#.into(), 1));
        assert_eq!(fix(r"\\"), (r"\\".into(), 0));
        // The batch stays: the event keeps a replacement character.
        let batch = format!(
            r#"{{"events":[{{"event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s","timestamp":{NOW},"url":"https://a.example/","type":"click","selector":"b\ud83d"}}]}}"#
        );
        let (_, events, _) = parse(&batch);
        assert!(events[0].contains("b\u{fffd}"), "{}", events[0]);
    }

    #[test]
    fn bounds_absurd_clocks_and_refuses_urls_with_userinfo() {
        let with = |ts: &str, url: &str| {
            format!(
                r#"{{"events":[{{"event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","session_id":"s","timestamp":{ts},"url":"{url}","type":"click"}}]}}"#
            )
        };
        let ok = "https://shop.example/p";
        for (ts, stored) in [
            ("0", MIN_TIMESTAMP_MS),
            ("9223372036854775807", MAX_TIMESTAMP_MS),
        ] {
            let (_, events, _) = parse(&with(ts, ok));
            assert!(
                events[0].contains(&format!(
                    r#""timestamp":{NOW},"client_timestamp":{stored},"clock_corrected":true"#
                )),
                "{}",
                events[0]
            );
        }
        for url in [
            "https://victim.example@evil.example:8443/",
            "javascript:alert(1)",
            "shop.example/p",
            "://x",
        ] {
            let (_, events, rejected) = parse(&with(&NOW.to_string(), url));
            assert!(events.is_empty(), "{url}");
            assert_eq!(rejected[0].error.code(), "invalid_field", "{url}");
        }
        for url in [
            "http://127.0.0.1:8080/a?b@c",
            "capacitor://localhost/",
            "file:///index.html",
        ] {
            let (_, events, _) = parse(&with(&NOW.to_string(), url));
            assert_eq!(events.len(), 1, "{url}");
        }
    }

    #[test]
    fn one_parser_reads_batch_after_batch_whatever_came_before() {
        let mut parser = Parser::default();
        let mut read = |json: String| {
            let mut body = json.into_bytes();
            parser
                .validate(&mut body, &Limits::default(), NOW)
                .map(|v| {
                    v.accepted
                        .iter()
                        .map(|a| a.event.referrer.len())
                        .collect::<Vec<_>>()
                })
        };
        let one = |url: &str| {
            format!(
                r#"{{"events":[{}]}}"#,
                event(&format!(r#""type":"click","referrer":"{url}""#))
            )
        };
        let long = format!("https://a.example/{}", "p".repeat(2000));
        assert_eq!(read(one(&long)), Ok(vec![2018]));
        assert_eq!(read("{\"events\":[".into()), Err(BatchError::InvalidJson));
        let two = format!(
            r#"{{"events":[{},{}]}}"#,
            event(r#""type":"click""#),
            event(r#""type":"click""#)
        );
        assert_eq!(read(two), Ok(vec![0, 0]));
    }

    #[test]
    fn refuses_whole_batches_that_are_not_batches() {
        assert_eq!(parse("{").0, Err(BatchError::InvalidJson));
        assert_eq!(parse("[1]").0, Err(BatchError::NotABatch));
        assert_eq!(parse(r#"{"events":[]}"#).0, Err(BatchError::Empty));
        let many = format!(r#"{{"events":[{}]}}"#, vec!["1"; 501].join(","));
        assert_eq!(
            parse(&many).0,
            Err(BatchError::TooManyEvents { got: 501, max: 500 })
        );
    }

    #[test]
    fn accepts_the_documented_example_batch_as_it_stands() {
        let doc = include_str!("../../docs/events.md");
        let start = doc.find("```json\n").expect("a json block") + 8;
        let end = start + doc[start..].find("```").expect("closed block");
        let (result, events, rejected) = parse(&doc[start..end]);
        assert_eq!(result, Ok(()));
        assert!(rejected.is_empty(), "{rejected:?}");
        assert_eq!(events.len(), 11);
        let kinds: std::collections::HashSet<_> = events
            .iter()
            .map(|e| serde_json::from_str::<serde_json::Value>(e).unwrap()["type"].to_string())
            .collect();
        assert_eq!(kinds.len(), 11);
    }

    #[test]
    fn enforces_string_limits_and_validity_flags() {
        let long = "a".repeat(2000);
        let batch = format!(
            r#"{{"events":[{},{},{}]}}"#,
            event(&format!(r#""type":"click","selector":"{long}""#)),
            event(
                r#""type":"form_validation_error","field_name":"email","validity":["valueMissing","typeMismatch"]"#
            ),
            event(r#""type":"form_validation_error","field_name":"email","validity":["bogus"]"#),
        );
        let (_, events, rejected) = parse(&batch);
        assert_eq!(rejected[0].error, EventError::TooLong("selector"));
        assert_eq!(rejected[1].error, EventError::InvalidField("validity"));
        assert!(events[0].contains(r#""validity":["valueMissing","typeMismatch"]"#));
    }
}
