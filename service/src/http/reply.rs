//! Responses in the shape every friction API shares. An error type implements
//! [`ApiError`] (status, stable code, message, optional `Retry-After`), and
//! [`error_response`] builds its answer and logs it: 5xx at error level (ours to fix),
//! 4xx at debug (the client's).

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;

/// The body type of every response.
pub type Body = Full<Bytes>;

/// An error a client sees. `code()` is part of the API contract: clients and dashboards
/// key on it, so codes are never renamed.
pub trait ApiError: std::fmt::Display {
    /// The HTTP status.
    fn status(&self) -> StatusCode;
    /// The stable error code.
    fn code(&self) -> &'static str;
    /// `Retry-After` seconds, for 429 and 503.
    fn retry_after_s(&self) -> Option<u64> {
        None
    }
    /// Whether [`error_response`] logs it; `false` for errors their source already logs
    /// at a bounded rate.
    fn logged(&self) -> bool {
        true
    }
    /// Adds fields beyond `success`, `error` and `message` to the body.
    fn extend(&self, _body: &mut serde_json::Map<String, serde_json::Value>) {}
}

/// A JSON response.
pub fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// `{"success":false,"error":code,"message":..}` with the error's status and
/// `Retry-After`, logged by severity.
pub fn error_response(err: &impl ApiError) -> Response<Body> {
    let status = err.status();
    if err.logged() && status.is_server_error() {
        tracing::error!(code = err.code(), error = %err, "request failed");
    } else if err.logged() {
        tracing::debug!(code = err.code(), error = %err, "request refused");
    }
    let mut body = serde_json::Map::new();
    body.insert("success".into(), false.into());
    body.insert("error".into(), err.code().into());
    body.insert("message".into(), err.to_string().into());
    err.extend(&mut body);
    let mut response = json(
        status,
        serde_json::to_vec(&serde_json::Value::Object(body)).unwrap_or_default(),
    );
    if let Some(secs) = err.retry_after_s() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}
