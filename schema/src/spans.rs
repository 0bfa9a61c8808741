//! Where each event of a batch lies in the body, so ingest can forward the bytes as
//! received instead of serialising what it parsed.
//!
//! Usually the parser already tells: simd-json leaves every string at its place in the
//! input, so the first key of each event object marks where the object opens, and the
//! next one where the previous closes ([`locate`], a few bytes looked at per event).
//! Batches where that does not hold (an element that is not an object with a key) are
//! scanned whole ([`event_spans`]). The scan runs only on bodies simd-json has accepted
//! as JSON, so it tracks strings and nesting without validating. It must agree with the
//! parser on which array is `events`: a top-level key written with escapes
//! (`"\u0065vents"`) or a second `events` key would let the two disagree, so such
//! bodies are refused.

use std::ops::Range;

use memchr::{memchr2, memchr3};

/// Why the scan refused a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanError {
    /// A top-level key uses escapes, or `events` appears twice.
    Ambiguous,
    /// The body is not an object with an `events` array.
    NotABatch,
}

/// The spans of the events from where their first keys' contents start
/// (`first_keys[i]`, `None` for an element that is not an object with a key) and where
/// the contents of the top-level key after `events` start (`None` when it is the last).
/// `None` when some element has no key or the bytes are not as expected.
pub fn locate(
    body: &[u8],
    first_keys: &[Option<usize>],
    next_key: Option<usize>,
) -> Option<Vec<Range<usize>>> {
    let back = |mut at: usize, expected: &[u8]| -> Option<usize> {
        for &want in expected {
            at = at.checked_sub(1)?;
            while matches!(body.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
                at = at.checked_sub(1)?;
            }
            if body.get(at) != Some(&want) {
                return None;
            }
        }
        Some(at)
    };
    let starts = first_keys
        .iter()
        .map(|key| back((*key)?.checked_sub(1)?, b"{"))
        .collect::<Option<Vec<usize>>>()?;
    // The last event ends before `]`, then `,` and the next key, or `}` and the end.
    let after_last = match next_key {
        Some(key) => back(key.checked_sub(1)?, b",]")?,
        None => back(body.len(), b"}]")?,
    };
    let ends = starts
        .iter()
        .skip(1)
        .map(|&next| back(next, b",}"))
        .chain([back(after_last, b"}")])
        .map(|end| end.map(|e| e + 1))
        .collect::<Option<Vec<usize>>>()?;
    Some(starts.into_iter().zip(ends).map(|(s, e)| s..e).collect())
}

/// The byte range of each element of the top-level `events` array of `body`, in order.
pub fn event_spans(body: &[u8]) -> Result<Vec<Range<usize>>, SpanError> {
    let mut s = Scanner { body, at: 0 };
    s.skip_ws();
    s.expect(b'{')?;
    let mut spans = None;
    loop {
        s.skip_ws();
        match s.peek() {
            Some(b'}') => break,
            Some(b'"') => {}
            _ => return Err(SpanError::NotABatch),
        }
        let key = s.string()?;
        if key.contains(&b'\\') {
            return Err(SpanError::Ambiguous);
        }
        s.skip_ws();
        s.expect(b':')?;
        s.skip_ws();
        if key == b"events" {
            if spans.is_some() {
                return Err(SpanError::Ambiguous);
            }
            spans = Some(s.elements()?);
        } else {
            s.value()?;
        }
        s.skip_ws();
        match s.next() {
            Some(b',') => continue,
            Some(b'}') => break,
            _ => return Err(SpanError::NotABatch),
        }
    }
    spans.ok_or(SpanError::NotABatch)
}

struct Scanner<'a> {
    body: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn peek(&self) -> Option<u8> {
        self.body.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, byte: u8) -> Result<(), SpanError> {
        match self.next() {
            Some(b) if b == byte => Ok(()),
            _ => Err(SpanError::NotABatch),
        }
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// A string starting at the opening quote; returns its raw contents.
    fn string(&mut self) -> Result<&'a [u8], SpanError> {
        self.expect(b'"')?;
        let start = self.at;
        loop {
            let rest = &self.body[self.at..];
            let i = memchr2(b'"', b'\\', rest).ok_or(SpanError::NotABatch)?;
            if rest[i] == b'\\' {
                self.at += i + 2;
            } else {
                self.at += i + 1;
                return Ok(&self.body[start..self.at - 1]);
            }
        }
    }

    /// The elements of the array starting here.
    fn elements(&mut self) -> Result<Vec<Range<usize>>, SpanError> {
        self.expect(b'[')?;
        let mut spans = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(spans);
        }
        loop {
            self.skip_ws();
            let start = self.at;
            self.value()?;
            spans.push(start..self.at);
            self.skip_ws();
            match self.next() {
                Some(b',') => continue,
                Some(b']') => return Ok(spans),
                _ => return Err(SpanError::NotABatch),
            }
        }
    }

    /// Skips one value. Inside an object only braces need counting (brackets between
    /// them are balanced in valid JSON), and the same holds for arrays.
    fn value(&mut self) -> Result<(), SpanError> {
        let (open, close) = match self.peek() {
            Some(b'"') => return self.string().map(drop),
            Some(b'{') => (b'{', b'}'),
            Some(b'[') => (b'[', b']'),
            Some(_) => {
                while !matches!(
                    self.peek(),
                    None | Some(b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                ) {
                    self.at += 1;
                }
                return Ok(());
            }
            None => return Err(SpanError::NotABatch),
        };
        self.at += 1;
        let mut depth = 1usize;
        while depth > 0 {
            let rest = &self.body[self.at..];
            let i = memchr3(b'"', open, close, rest).ok_or(SpanError::NotABatch)?;
            self.at += i;
            match rest[i] {
                b'"' => {
                    self.string()?;
                }
                b if b == open => {
                    depth += 1;
                    self.at += 1;
                }
                _ => {
                    depth -= 1;
                    self.at += 1;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(body: &str) -> Result<Vec<&str>, SpanError> {
        event_spans(body.as_bytes()).map(|v| v.into_iter().map(|r| &body[r]).collect())
    }

    #[test]
    fn finds_each_event_whatever_it_holds() {
        let body = r#" { "sent_at" : [1,{"events":[9]}], "events" : [ {"a":"}\"{[","b":[{"c":[]}]} ,5, "x\\" ,null,{} ] , "z":{"events":1} } "#;
        assert_eq!(
            spans(body).unwrap(),
            [
                r#"{"a":"}\"{[","b":[{"c":[]}]}"#,
                "5",
                r#""x\\""#,
                "null",
                "{}"
            ]
        );
        assert_eq!(spans(r#"{"events":[]}"#).unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn locates_events_from_their_first_keys() {
        let body = r#"{"events":[ {"a":1} , { "b":{"c":2}},{"d":"x"} ] , "z":1}"#;
        let key = |k: &str| Some(body.find(k).unwrap() + 1);
        let found = locate(
            body.as_bytes(),
            &[key("\"a"), key("\"b"), key("\"d")],
            key("\"z"),
        );
        let texts: Vec<&str> = found.unwrap().into_iter().map(|r| &body[r]).collect();
        assert_eq!(texts, [r#"{"a":1}"#, r#"{ "b":{"c":2}}"#, r#"{"d":"x"}"#]);
        let last = r#"{"events":[{"a":1}]} "#;
        let found = locate(last.as_bytes(), &[Some(13)], None).unwrap();
        assert_eq!(&last[found[0].clone()], r#"{"a":1}"#);
        assert_eq!(locate(body.as_bytes(), &[key("\"a"), None], None), None);
    }

    #[test]
    fn refuses_what_the_parser_could_read_differently() {
        assert_eq!(
            spans(r#"{"\u0065vents":[{}],"events":[5]}"#),
            Err(SpanError::Ambiguous)
        );
        assert_eq!(
            spans(r#"{"events":[{}],"events":[5]}"#),
            Err(SpanError::Ambiguous)
        );
        assert_eq!(spans(r#"{"other":[]}"#), Err(SpanError::NotABatch));
        assert_eq!(spans("[1]"), Err(SpanError::NotABatch));
    }
}
