//! CORS: preflight answers and the headers every response carries. A preflight carries no
//! API key, so it is answered for any origin; the real request then enforces the key's
//! allowed domains and only echoes an allowed origin.
//!
//! A preflight allows whatever request headers it asks for: pages often wrap `fetch` to
//! add tracing headers (`traceparent`, `sentry-trace`, ...) to every request, the
//! tracker's included, and refusing those would lose the page's events. Ingest reads
//! none of them and requests carry no credentials, so allowing them grants nothing.

use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};

use friction_service::http::Body;

/// The request's `Origin`, when it has one that can be echoed.
pub fn origin(headers: &HeaderMap) -> Option<&HeaderValue> {
    headers.get(header::ORIGIN)
}

/// The origin to check against a key's domains: `Origin`, else the `Referer` URL.
pub fn origin_for_check(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && *v != "null")
}

/// Adds `Access-Control-Allow-Origin` (when `allow`) and the headers every response needs.
pub fn apply(response: &mut Response<Body>, origin: Option<&HeaderValue>, allow: bool) {
    let h = response.headers_mut();
    h.append(header::VARY, HeaderValue::from_static("Origin"));
    if let (Some(origin), true) = (origin, allow) {
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("Retry-After, X-RateLimit-Limit, X-RateLimit-Remaining"),
        );
    }
}

/// The headers a preflight allows: those it asks for when they are a plain list of
/// header names, else the ones the tracker sends.
fn allowed_headers(requested: Option<&HeaderValue>) -> HeaderValue {
    let names = |v: &&HeaderValue| {
        v.as_bytes().len() <= 1024
            && v.as_bytes()
                .split(|b| *b == b',')
                .map(|name| name.trim_ascii())
                .all(|name| header::HeaderName::from_bytes(name).is_ok())
    };
    match requested.filter(names) {
        Some(v) => v.clone(),
        None => HeaderValue::from_static("content-type, x-api-key, content-encoding"),
    }
}

/// The answer to `OPTIONS /v1/events`, to a preflight asking for `requested` headers.
pub fn preflight(
    origin: Option<&HeaderValue>,
    requested: Option<&HeaderValue>,
    max_age_s: u32,
) -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let h = response.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        allowed_headers(requested),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(max_age_s));
    h.append(
        header::VARY,
        HeaderValue::from_static("Access-Control-Request-Headers"),
    );
    apply(&mut response, origin, true);
    response
}
