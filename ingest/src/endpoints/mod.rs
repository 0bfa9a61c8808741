//! The public endpoints, one file each; every one depends on [`crate::state::State`],
//! never on the server.
//!
//! - [`events`]: `POST /v1/events`, the hot path;
//! - [`upload`]: `POST /v1/recordings` and `POST /v1/screenshots`, streamed to object
//!   storage;
//! - [`sdk`]: `GET /friction-tracker.js`, the built SDK.

pub mod events;
pub mod sdk;
pub mod upload;

use friction_service::http::{ApiError as _, Body};
use http::header::{HeaderName, HeaderValue};
use http::request::Parts;
use http::Response;

use crate::cors;
use crate::policy::{Rate, Refused};

/// The final answer of a public endpoint: its response or refusal, counted by outcome
/// (`ok` or the error code), with the key's rate headers and the CORS headers (never
/// readable by an origin the key refused).
pub fn answer(
    parts: &Parts,
    outcome: Result<(Response<Body>, Option<Rate>), Refused>,
    count: impl FnOnce(&str),
) -> Response<Body> {
    let (mut response, rate, origin_refused) = match outcome {
        Ok((response, rate)) => {
            count("ok");
            (response, rate, false)
        }
        Err(refused) => {
            count(refused.error.code());
            let response = refused.error.into_response();
            (response, refused.rate, refused.origin_refused)
        }
    };
    if let Some(rate) = rate {
        static LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
        static REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
        let headers = response.headers_mut();
        headers.insert(LIMIT.clone(), HeaderValue::from(rate.limit));
        headers.insert(REMAINING.clone(), HeaderValue::from(rate.remaining));
    }
    cors::apply(&mut response, cors::origin(&parts.headers), !origin_refused);
    response
}
