//! The route table, matched by method and path. The table is the one list of routes:
//! the dispatcher reads it, and a test checks it against `openapi.json` both ways.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use friction_service::http::{ApiError, Body, RequestBody, Router};
use friction_service::ops;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};

use crate::console;
use crate::endpoints::{self, Call};
use crate::error::AdminError;
use crate::state::State;

/// What a route does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `/healthz`, `/readyz`, `/metrics`.
    Ops,
    /// The caller.
    Me,
    /// Every user (admins).
    ListUsers,
    /// The caller's keys (admins: every key).
    ListKeys,
    /// A new key of the caller's.
    CreateKey,
    /// One key, `?reveal=true` to show it whole.
    GetKey,
    /// Change a key.
    UpdateKey,
    /// Delete a key.
    DeleteKey,
    /// Session recordings (admins).
    ListRecordings,
    /// One recording with a playback URL (admins).
    GetRecording,
    /// Request a PDF report.
    CreateExport,
    /// The caller's export jobs (admins: every job).
    ListExports,
    /// One job, with a download URL once completed.
    GetExport,
}

impl Route {
    /// Whether the route reads a JSON object body.
    pub fn takes_body(self) -> bool {
        matches!(
            self,
            Route::CreateKey | Route::UpdateKey | Route::CreateExport
        )
    }

    /// The status of a successful answer.
    pub fn success(self) -> StatusCode {
        match self {
            Route::CreateKey => StatusCode::CREATED,
            Route::CreateExport => StatusCode::ACCEPTED,
            _ => StatusCode::OK,
        }
    }
}

/// Every route: method, path pattern (`{id}` is a path parameter), what it does.
pub const ROUTES: &[(Method, &str, Route)] = &[
    (Method::GET, "/healthz", Route::Ops),
    (Method::GET, "/readyz", Route::Ops),
    (Method::GET, "/metrics", Route::Ops),
    (Method::GET, "/v1/me", Route::Me),
    (Method::GET, "/v1/users", Route::ListUsers),
    (Method::GET, "/v1/keys", Route::ListKeys),
    (Method::POST, "/v1/keys", Route::CreateKey),
    (Method::GET, "/v1/keys/{id}", Route::GetKey),
    (Method::PATCH, "/v1/keys/{id}", Route::UpdateKey),
    (Method::DELETE, "/v1/keys/{id}", Route::DeleteKey),
    (Method::GET, "/v1/recordings", Route::ListRecordings),
    (Method::GET, "/v1/recordings/{id}", Route::GetRecording),
    (Method::POST, "/v1/exports", Route::CreateExport),
    (Method::GET, "/v1/exports", Route::ListExports),
    (Method::GET, "/v1/exports/{id}", Route::GetExport),
];

/// The path parameter when `path` fits `pattern` (`Some("")` when it has none).
fn matches<'p>(pattern: &str, path: &'p str) -> Option<&'p str> {
    let mut param = "";
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(param),
            (Some("{id}"), Some(segment)) if !segment.is_empty() => param = segment,
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// The admin API over its shared state.
pub struct AdminRouter(pub Arc<State>);

impl Router for AdminRouter {
    async fn route(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        let state = &*self.0;
        let started = Instant::now();
        let path = req.uri().path().to_owned();
        if path == "/" || path == "/console" || path.starts_with("/console/") {
            return console::route(state, req).await;
        }
        let mut path_known = false;
        let found = ROUTES.iter().find_map(|(method, pattern, route)| {
            let param = matches(pattern, &path)?;
            path_known = true;
            (method == req.method()).then_some((*pattern, *route, param.to_owned()))
        });
        let Some((pattern, route, param)) = found else {
            if !path_known {
                return AdminError::NoRoute.into_response();
            }
            let allowed: Vec<&str> = ROUTES
                .iter()
                .filter(|(_, pattern, _)| matches(pattern, &path).is_some())
                .map(|(method, _, _)| method.as_str())
                .collect();
            let mut response = AdminError::MethodNotAllowed.into_response();
            if let Ok(allow) = HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, allow);
            }
            return response;
        };
        if route == Route::Ops {
            return ops::respond(&path, &state.readiness, &state.registry)
                .unwrap_or_else(|| AdminError::NoRoute.into_response());
        }
        let (parts, body) = req.into_parts();
        let call = Call {
            state,
            query: parts.uri.query().unwrap_or(""),
            param: &param,
        };
        let result = endpoints::handle(route, call, &parts.headers, body).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        state
            .metrics
            .requests
            .with_label_values(&[pattern, outcome])
            .inc();
        state
            .metrics
            .request_seconds
            .with_label_values(&[pattern])
            .observe(started.elapsed().as_secs_f64());
        let mut response = result.unwrap_or_else(AdminError::into_response);
        // Answers may carry keys: never cached, never sniffed.
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_capture_the_id() {
        assert_eq!(matches("/v1/keys", "/v1/keys"), Some(""));
        assert_eq!(matches("/v1/keys/{id}", "/v1/keys/abc"), Some("abc"));
        assert_eq!(matches("/v1/keys/{id}", "/v1/keys/"), None);
        assert_eq!(matches("/v1/keys/{id}", "/v1/keys/a/b"), None);
        assert_eq!(matches("/v1/keys", "/v1/keysx"), None);
    }
}
