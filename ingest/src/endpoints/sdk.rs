//! `GET|HEAD /friction-tracker.js` and `/friction-tracker.vitals.js`: the SDK's two
//! builds, or 404 for one that was not found at start-up.

use friction_service::http::Body;
use http::request::Parts;
use http::{Method, Response};

use crate::error::ApiError;
use crate::state::State;

/// Answers a GET or HEAD of the SDK.
pub fn handle(state: &State, parts: &Parts) -> Response<Body> {
    let asset = match parts.uri.path() {
        "/friction-tracker.vitals.js" => &state.sdk_vitals,
        _ => &state.sdk,
    };
    match asset {
        Some(sdk) => sdk.respond(&parts.headers, parts.method == Method::HEAD),
        None => ApiError::NotFound.into_response(),
    }
}
