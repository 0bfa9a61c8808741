//! `GET|HEAD /friction-tracker.js`: the built SDK, or 404 when it was not found at
//! start-up.

use friction_service::http::Body;
use http::request::Parts;
use http::{Method, Response};

use crate::error::ApiError;
use crate::state::State;

/// Answers a GET or HEAD of the SDK.
pub fn handle(state: &State, parts: &Parts) -> Response<Body> {
    match &state.sdk {
        Some(sdk) => sdk.respond(&parts.headers, parts.method == Method::HEAD),
        None => ApiError::NotFound.into_response(),
    }
}
