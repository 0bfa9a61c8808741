//! Building responses: the success body, error bodies, and the headers every response
//! carries (CORS, rate limit).

use bytes::Bytes;
use friction_schema::Rejection;
use http::header::{HeaderName, HeaderValue};
use http::{header, Response, StatusCode};
use http_body_util::Full;

use crate::error::ApiError;

/// The body type of every response.
pub type Body = Full<Bytes>;

/// Accepted events by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Breakdown {
    /// Friction events.
    pub friction: usize,
    /// Heatmap events.
    pub heatmap: usize,
    /// Performance events.
    pub performance: usize,
}

impl Breakdown {
    /// All accepted events.
    pub fn total(&self) -> usize {
        self.friction + self.heatmap + self.performance
    }
}

/// `[{"index":i,"error":"code"},..]`.
pub fn rejected_json(rejected: &[Rejection]) -> serde_json::Value {
    rejected
        .iter()
        .map(|r| serde_json::json!({"index": r.index, "error": r.error.code()}))
        .collect()
}

/// `{"success":true,"processed":N,"breakdown":{..}}`, with `rejected` when some events
/// were dropped.
pub fn success_body(b: Breakdown, rejected: &[Rejection]) -> Vec<u8> {
    let mut body = format!(
        r#"{{"success":true,"processed":{},"breakdown":{{"friction":{},"heatmap":{},"performance":{}}}"#,
        b.total(),
        b.friction,
        b.heatmap,
        b.performance
    );
    if !rejected.is_empty() {
        body.push_str(",\"rejected\":");
        body.push_str(&rejected_json(rejected).to_string());
    }
    body.push('}');
    body.into_bytes()
}

/// A JSON response.
pub fn json(status: StatusCode, body: Vec<u8>) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The response for a refused request.
pub fn error(err: &ApiError) -> Response<Body> {
    let mut response = json(err.status(), err.body());
    if let Some(secs) = err.retry_after_s() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// Sets `X-RateLimit-Limit` and `X-RateLimit-Remaining`.
pub fn rate_limit_headers(response: &mut Response<Body>, limit: u32, remaining: u32) {
    static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
    static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
    let headers = response.headers_mut();
    headers.insert(LIMIT.clone(), HeaderValue::from(limit));
    headers.insert(REMAINING.clone(), HeaderValue::from(remaining));
}

#[cfg(test)]
mod tests {
    use super::*;
    use friction_schema::EventError;

    #[test]
    fn success_body_is_exact() {
        let b = Breakdown {
            friction: 2,
            heatmap: 1,
            performance: 0,
        };
        assert_eq!(
            String::from_utf8(success_body(b, &[])).unwrap(),
            r#"{"success":true,"processed":3,"breakdown":{"friction":2,"heatmap":1,"performance":0}}"#
        );
        let rejected = [Rejection {
            index: 4,
            error: EventError::UnknownType,
        }];
        let body: serde_json::Value = serde_json::from_slice(&success_body(b, &rejected)).unwrap();
        assert_eq!(
            body["rejected"],
            serde_json::json!([{"index":4,"error":"unknown_event_type"}])
        );
    }
}
