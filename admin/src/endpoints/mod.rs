//! The API's endpoints, one file per resource; each takes a [`Call`] and answers JSON.
//!
//! - [`exports`]: `/v1/exports` and `/v1/exports/{id}`;
//! - [`keys`]: `/v1/keys` and `/v1/keys/{id}`;
//! - [`recordings`]: `/v1/recordings` and `/v1/recordings/{id}` (admins);
//! - [`users`]: `/v1/me` and `/v1/users`.

pub mod exports;
pub mod keys;
pub mod recordings;
pub mod users;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Buf;
use friction_service::http::{json, Body, BodyError, RequestBody};
use http::{header, HeaderMap, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Map, Value};

use crate::auth::{self, Caller};
use crate::error::AdminError;
use crate::router::Route;
use crate::state::State;

/// One request, routed: the API and the console both call endpoints through it.
pub struct Call<'a> {
    /// Shared state.
    pub state: &'a State,
    /// The raw query string, or `""`.
    pub query: &'a str,
    /// The `{id}` of the path, or `""`.
    pub param: &'a str,
}

impl Call<'_> {
    /// Whether the query string has `name=true` (or `1`).
    pub fn flag(&self, name: &str) -> bool {
        self.query(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
    }

    /// The percent-decoded value of a query parameter, when not empty.
    pub fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .filter(|v| !v.is_empty())
    }
}

/// Authenticates a bearer token, reads the body of routes that take one, and answers.
pub async fn handle(
    route: Route,
    call: Call<'_>,
    headers: &HeaderMap,
    body: RequestBody,
) -> Result<Response<Body>, AdminError> {
    let caller = auth::caller(&call.state.clickhouse, headers).await?;
    let body = match route.takes_body() {
        true => read_object(call.state.max_body_bytes, headers, body).await?,
        false => Map::new(),
    };
    let value = answer(route, &call, &caller, body).await?;
    Ok(reply(route.success(), &value))
}

/// Runs the endpoint of `route` for `caller`; `body` is the JSON object of routes that
/// take one. The console renders the same answers.
pub async fn answer(
    route: Route,
    call: &Call<'_>,
    caller: &Caller,
    body: Map<String, Value>,
) -> Result<Value, AdminError> {
    match route {
        Route::Ops => Err(AdminError::NoRoute),
        Route::Me => users::me(call, caller).await,
        Route::ListUsers => users::list(call, caller).await,
        Route::ListKeys => keys::list(call, caller).await,
        Route::CreateKey => keys::create(call, caller, body).await,
        Route::GetKey => keys::get(call, caller).await,
        Route::UpdateKey => keys::update(call, caller, body).await,
        Route::DeleteKey => keys::delete(call, caller).await,
        Route::ListRecordings => recordings::list(call, caller).await,
        Route::GetRecording => recordings::get(call, caller).await,
        Route::CreateExport => exports::create(call, caller, body).await,
        Route::ListExports => exports::list(call, caller).await,
        Route::GetExport => exports::get(call, caller).await,
    }
}

/// Reads a JSON object body within the size cap and the body timeout.
async fn read_object(
    max: usize,
    headers: &HeaderMap,
    body: RequestBody,
) -> Result<Map<String, Value>, AdminError> {
    if let Some(kind) = headers.get(header::CONTENT_TYPE) {
        let mime = kind.to_str().unwrap_or("").split(';').next().unwrap_or("");
        if !mime.trim().eq_ignore_ascii_case("application/json") {
            return Err(AdminError::UnsupportedMediaType("application/json"));
        }
    }
    let bytes = read_bytes(max, body).await?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(AdminError::InvalidJson(
            "the body must be a JSON object".into(),
        )),
        Err(e) => Err(AdminError::InvalidJson(format!(
            "the body is not valid JSON: {e}"
        ))),
    }
}

/// Reads a body of at most `max` bytes within the body timeout.
pub(crate) async fn read_bytes(max: usize, mut body: RequestBody) -> Result<Vec<u8>, AdminError> {
    let mut bytes = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match e {
            BodyError::TimedOut(_) | BodyError::Stalled(_) => {
                AdminError::BodyTimeout(e.to_string())
            }
            BodyError::Read(_) => AdminError::InvalidJson(e.to_string()),
        })?;
        if let Ok(mut data) = frame.into_data() {
            if bytes.len() + data.remaining() > max {
                return Err(AdminError::PayloadTooLarge(max));
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                bytes.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(bytes)
}

/// A JSON answer.
fn reply(status: StatusCode, value: &Value) -> Response<Body> {
    json(status, serde_json::to_vec(value).unwrap_or_default())
}

/// A presigned GET URL of `bucket/key` and when it stops working (RFC 3339).
async fn presigned(call: &Call<'_>, bucket: &str, key: &str) -> Result<(Value, Value), AdminError> {
    let expiry = call.state.presign_expiry;
    let url = call
        .state
        .objects
        .presigned_get(bucket, key, expiry)
        .await
        .map_err(|e| {
            tracing::warn!(error = %e, "cannot presign a URL");
            AdminError::StoreUnavailable
        })?;
    // A second early, so the URL never outlives what the answer says.
    let expires = (SystemTime::now() + expiry - Duration::from_secs(1))
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Ok((url.into(), timestamp(expires)))
}

/// Milliseconds since the epoch as RFC 3339 UTC (`2026-11-26T13:37:55.123Z`).
fn timestamp(ms: i64) -> Value {
    let at = UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    Value::String(humantime::format_rfc3339_millis(at).to_string())
}
