//! One event as the SDK sends it, validated: kinds, sub-types and their fields.
//!
//! The same [`Event`] type is what ingest writes inside the Kafka envelope and what the
//! consumers read back, so the wire format, the envelope and the rows cannot drift apart.
//! Strings borrow from the request (or message) buffer: validating and re-encoding a
//! batch allocates nothing per event.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The three families of events, one ClickHouse table each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Signs of a frustrated user: rage and dead clicks, errors, form validation errors.
    Friction,
    /// Clicks with coordinates and pageviews.
    Heatmap,
    /// Page performance metrics.
    Performance,
}

impl Kind {
    /// Every kind, in table order.
    pub const ALL: [Kind; 3] = [Kind::Friction, Kind::Heatmap, Kind::Performance];

    /// The wire name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Friction => "friction",
            Kind::Heatmap => "heatmap",
            Kind::Performance => "performance",
        }
    }
}

/// One value per [`Kind`]: accepted events, written rows, table counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PerKind<T> {
    /// Friction events.
    pub friction: T,
    /// Heatmap events.
    pub heatmap: T,
    /// Performance events.
    pub performance: T,
}

impl<T> PerKind<T> {
    /// The value of `kind`.
    pub fn get_mut(&mut self, kind: Kind) -> &mut T {
        match kind {
            Kind::Friction => &mut self.friction,
            Kind::Heatmap => &mut self.heatmap,
            Kind::Performance => &mut self.performance,
        }
    }

    /// Each kind with its value, in table order.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &T)> {
        Kind::ALL
            .into_iter()
            .zip([&self.friction, &self.heatmap, &self.performance])
    }
}

impl PerKind<u64> {
    /// The sum over every kind.
    pub fn total(&self) -> u64 {
        self.friction + self.heatmap + self.performance
    }
}

macro_rules! event_types {
    ($($variant:ident => $name:literal, $kind:ident;)*) => {
        /// The sub-type of an event; each belongs to exactly one [`Kind`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventType {
            $(
                #[doc = concat!("`", $name, "`")]
                #[serde(rename = $name)]
                $variant,
            )*
        }

        impl EventType {
            /// Every known event type.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            /// The wire name, also stored in ClickHouse.
            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            /// The kind this type belongs to.
            pub fn kind(self) -> Kind {
                match self { $(EventType::$variant => Kind::$kind,)* }
            }

            /// Parses a wire name.
            pub fn parse(name: &str) -> Option<Self> {
                match name { $($name => Some(EventType::$variant),)* _ => None }
            }
        }
    };
}

event_types! {
    RageClick => "rage_click", Friction;
    DeadClick => "dead_click", Friction;
    JavascriptError => "javascript_error", Friction;
    UnhandledRejection => "unhandled_rejection", Friction;
    FormValidationError => "form_validation_error", Friction;
    Custom => "custom", Friction;
    ErrorClick => "error_click", Friction;
    QuickBack => "quick_back", Friction;
    Click => "click", Heatmap;
    Pageview => "pageview", Heatmap;
    LoadTime => "loadTime", Performance;
    FirstContentfulPaint => "firstContentfulPaint", Performance;
    TimeToInteractive => "timeToInteractive", Performance;
    LargestContentfulPaint => "largestContentfulPaint", Performance;
    CumulativeLayoutShift => "cumulativeLayoutShift", Performance;
    InteractionToNextPaint => "interactionToNextPaint", Performance;
    TimeToFirstByte => "timeToFirstByte", Performance;
}

/// The `ValidityState` flags a form field can fail, kept as a bit set so an event
/// carries them without allocating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ValidityFlags(pub u16);

impl ValidityFlags {
    /// Flag names in bit order, as the browser's `ValidityState` names them.
    pub const NAMES: [&'static str; 10] = [
        "valueMissing",
        "typeMismatch",
        "patternMismatch",
        "tooLong",
        "tooShort",
        "rangeUnderflow",
        "rangeOverflow",
        "stepMismatch",
        "badInput",
        "customError",
    ];

    /// Sets the flag with this name; false when the name is unknown.
    pub fn insert(&mut self, name: &str) -> bool {
        match Self::NAMES.iter().position(|n| *n == name) {
            Some(bit) => {
                self.0 |= 1 << bit;
                true
            }
            None => false,
        }
    }

    /// The names of the flags that are set.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .iter()
            .enumerate()
            .filter(move |(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, name)| *name)
    }

    /// True when no flag is set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }
}

impl Serialize for ValidityFlags {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        // RowBinary needs the length up front.
        let mut seq = serializer.serialize_seq(Some(self.0.count_ones() as usize))?;
        for name in self.names() {
            seq.serialize_element(name)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ValidityFlags {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ValidityFlags;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of ValidityState flag names")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut flags = ValidityFlags::default();
                while let Some(name) = seq.next_element::<&str>()? {
                    if !flags.insert(name) {
                        return Err(serde::de::Error::custom(format_args!(
                            "unknown validity flag {name}"
                        )));
                    }
                }
                Ok(flags)
            }
        }
        deserializer.deserialize_seq(Visitor)
    }
}

/// One validated event. Fields a type does not use stay empty or zero.
///
/// `timestamp` is the time analysts see: the client's clock unless it was implausible,
/// in which case it is the server receive time and `clock_corrected` is set;
/// `client_timestamp` always keeps what the client said.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event<'a> {
    /// Client-generated UUID; the key for de-duplication downstream.
    pub event_id: Uuid,
    /// The sub-type; its kind follows from it.
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The visit this event belongs to.
    pub session_id: &'a str,
    /// The page view within the visit.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub page_view_id: &'a str,
    /// Effective event time, milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The time the client reported, milliseconds since the Unix epoch.
    pub client_timestamp: i64,
    /// Whether `timestamp` was replaced by the server receive time.
    #[serde(default, skip_serializing_if = "is_false")]
    pub clock_corrected: bool,
    /// The page URL.
    pub url: &'a str,
    /// The referrer of a pageview.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub referrer: &'a str,
    /// How a pageview happened: `load`, `push`, `replace`, `pop`.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub navigation_type: &'a str,
    /// A stable CSS selector of the element involved.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub selector: &'a str,
    /// The lower-case tag name of the element involved.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub element_tag: &'a str,
    /// Page X coordinate of a click, CSS pixels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub x: i32,
    /// Page Y coordinate of a click, CSS pixels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub y: i32,
    /// Viewport X coordinate of a click.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_x: i32,
    /// Viewport Y coordinate of a click.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_y: i32,
    /// Viewport width, CSS pixels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub viewport_width: u32,
    /// Viewport height, CSS pixels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub viewport_height: u32,
    /// Horizontal scroll offset at the time of the event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scroll_x: i32,
    /// Vertical scroll offset at the time of the event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub scroll_y: i32,
    /// Clicks in a rage click burst.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub click_count: u32,
    /// Error message, or the name of a custom event.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub message: &'a str,
    /// Script URL of an error.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub source: &'a str,
    /// Line of an error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub line: u32,
    /// Column of an error.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub column: u32,
    /// Stack trace of an error, truncated by the SDK.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub stack: &'a str,
    /// How many identical errors the SDK collapsed into this event.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub count: u32,
    /// Selector of the form of a validation error.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub form: &'a str,
    /// Name (or id) of the invalid field.
    #[serde(default, skip_serializing_if = "is_empty")]
    pub field_name: &'a str,
    /// Type of the invalid field (`email`, `text`, `select-one`...).
    #[serde(default, skip_serializing_if = "is_empty")]
    pub field_type: &'a str,
    /// Which validity checks failed.
    #[serde(default, skip_serializing_if = "ValidityFlags::is_empty")]
    pub validity: ValidityFlags,
    /// Value of a performance metric: milliseconds, or unitless for CLS.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub value: f64,
}

fn is_empty(s: &&str) -> bool {
    s.is_empty()
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Why one event of a batch was refused; the code is stable and goes back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The event is not a JSON object.
    #[error("event is not an object")]
    NotAnObject,
    /// A required field is absent.
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// A field has the wrong JSON type or an unparseable value.
    #[error("field `{0}` has an invalid value")]
    InvalidField(&'static str),
    /// `type` names no known event type.
    #[error("unknown event type")]
    UnknownType,
    /// `kind` does not match the kind of `type`.
    #[error("`kind` does not match `type`")]
    KindMismatch,
    /// A string is longer than its limit.
    #[error("field `{0}` is too long")]
    TooLong(&'static str),
    /// A number is outside its range.
    #[error("field `{0}` is out of range")]
    OutOfRange(&'static str),
}

impl EventError {
    /// Every code [`EventError::code`] answers.
    pub const CODES: [&'static str; 7] = [
        "not_an_object",
        "missing_field",
        "invalid_field",
        "unknown_event_type",
        "kind_mismatch",
        "field_too_long",
        "value_out_of_range",
    ];

    /// The stable error code reported for this event.
    pub fn code(&self) -> &'static str {
        match self {
            EventError::NotAnObject => "not_an_object",
            EventError::MissingField(_) => "missing_field",
            EventError::InvalidField(_) => "invalid_field",
            EventError::UnknownType => "unknown_event_type",
            EventError::KindMismatch => "kind_mismatch",
            EventError::TooLong(_) => "field_too_long",
            EventError::OutOfRange(_) => "value_out_of_range",
        }
    }

    /// The field concerned, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            EventError::MissingField(f)
            | EventError::InvalidField(f)
            | EventError::TooLong(f)
            | EventError::OutOfRange(f) => Some(f),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::EventError;

    #[test]
    fn codes_lists_every_code() {
        let every = [
            EventError::NotAnObject,
            EventError::MissingField("f"),
            EventError::InvalidField("f"),
            EventError::UnknownType,
            EventError::KindMismatch,
            EventError::TooLong("f"),
            EventError::OutOfRange("f"),
        ];
        let codes: Vec<_> = every.iter().map(EventError::code).collect();
        assert_eq!(codes, EventError::CODES);
    }
}
