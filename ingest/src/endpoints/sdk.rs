//! The SDK's two builds: `GET|HEAD /friction-tracker.js` and `/friction-tracker.vitals.js`
//! (moving, cached for minutes), `/sdk/<version>/friction-tracker.js` and
//! `/sdk/<version>/friction-tracker.vitals.js` (immutable, cached for a year; only the
//! version ingest holds), and `/sdk/manifest.json`, which publishes the version and each
//! build's versioned path and Subresource Integrity hash. 404 for a build not found at
//! start-up.

use friction_service::http::{json, Body};
use http::request::Parts;
use http::{Method, Response, StatusCode};
use serde::Serialize;

use crate::error::ApiError;
use crate::sdk::{Caching, SdkAsset};
use crate::state::State;

/// The builds by file name, as served.
const BUILDS: [&str; 2] = ["friction-tracker.js", "friction-tracker.vitals.js"];

/// Whether `path` is one of the SDK's: a build's moving path, or anything under `/sdk/`
/// (unknown ones answer 404 here).
pub fn serves(path: &str) -> bool {
    path.starts_with("/sdk/")
        || path
            .strip_prefix('/')
            .is_some_and(|name| BUILDS.contains(&name))
}

/// Answers a GET or HEAD of an SDK path.
pub fn handle(state: &State, parts: &Parts) -> Response<Body> {
    let path = parts.uri.path();
    if path == "/sdk/manifest.json" {
        return manifest(state);
    }
    let (name, version) = match path.strip_prefix("/sdk/") {
        Some(rest) => match rest.split_once('/') {
            Some((version, name)) => (name, Some(version)),
            None => return ApiError::NotFound.into_response(),
        },
        None => (path.trim_start_matches('/'), None),
    };
    let Some(asset) = build(state, name) else {
        return ApiError::NotFound.into_response();
    };
    let caching = match version {
        None => Caching::Short,
        Some(v) if asset.version.as_deref() == Some(v) => Caching::Immutable,
        Some(_) => return ApiError::NotFound.into_response(),
    };
    asset.respond(&parts.headers, parts.method == Method::HEAD, caching)
}

fn build<'s>(state: &'s State, name: &str) -> Option<&'s SdkAsset> {
    match name {
        "friction-tracker.js" => state.sdk.as_ref(),
        "friction-tracker.vitals.js" => state.sdk_vitals.as_ref(),
        _ => None,
    }
}

/// One build in the manifest.
#[derive(Serialize)]
struct Published<'a> {
    name: &'a str,
    path: String,
    integrity: &'a str,
}

/// The version and the builds ingest serves, for install snippets with `integrity`.
fn manifest(state: &State) -> Response<Body> {
    let builds: Vec<Published<'_>> = BUILDS
        .iter()
        .filter_map(|name| {
            let asset = build(state, name)?;
            Some(Published {
                name,
                path: format!("/sdk/{}/{name}", asset.version.as_deref()?),
                integrity: &asset.integrity,
            })
        })
        .collect();
    let version = BUILDS
        .iter()
        .find_map(|name| build(state, name)?.version.as_deref());
    let body = serde_json::json!({ "version": version, "builds": builds });
    let mut response = json(StatusCode::OK, body.to_string());
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("public, max-age=300"),
    );
    response
}
