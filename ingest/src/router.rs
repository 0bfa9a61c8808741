//! Routing: which endpoint answers which method and path on the public listener (only
//! what browsers need), and the CORS headers those answers carry.

use std::net::SocketAddr;
use std::sync::Arc;

use friction_service::http::{Body, RequestBody, Router};
use http::{header, HeaderValue, Method, Request, Response};

use crate::cors;
use crate::endpoints;
use crate::endpoints::upload::Media;
use crate::error::ApiError;
use crate::state::State;

/// Ingest's routes over its shared state.
pub struct IngestRouter(pub Arc<State>);

impl Router for IngestRouter {
    async fn route(&self, req: Request<RequestBody>, peer: SocketAddr) -> Response<Body> {
        let started = std::time::Instant::now();
        let route = route_label(req.method(), req.uri().path());
        let mut response = self.dispatch(req, peer).await;
        let metrics = &self.0.metrics;
        metrics
            .http_requests
            .with_label_values(&[route, response.status().as_str()])
            .inc();
        metrics
            .http_request_seconds
            .with_label_values(&[route])
            .observe(started.elapsed().as_secs_f64());
        // Answers are JSON or the SDK's JavaScript, and must never be sniffed as anything else.
        response.headers_mut().insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        response
    }
}

/// The route of a request as metrics label it: a fixed set, whatever the path was.
fn route_label(method: &Method, path: &str) -> &'static str {
    match (method, path) {
        (&Method::OPTIONS, "/v1/events" | "/v1/recordings" | "/v1/screenshots") => "preflight",
        (_, "/v1/events") => "events",
        (_, "/v1/recordings") => "recordings",
        (_, "/v1/screenshots") => "screenshots",
        (_, p) if endpoints::sdk::serves(p) => "sdk",
        _ => "other",
    }
}

impl IngestRouter {
    async fn dispatch(&self, req: Request<RequestBody>, peer: SocketAddr) -> Response<Body> {
        let state = &*self.0;
        let (parts, body) = req.into_parts();
        let origin = cors::origin(&parts.headers).cloned();
        let mut response = match (&parts.method, parts.uri.path()) {
            (&Method::POST, "/v1/events") => {
                return endpoints::events::handle(state, parts, body, peer.ip()).await;
            }
            (&Method::POST, "/v1/recordings") => {
                return endpoints::upload::handle(state, parts, body, Media::Recording, peer.ip())
                    .await;
            }
            (&Method::POST, "/v1/screenshots") => {
                return endpoints::upload::handle(state, parts, body, Media::Screenshot, peer.ip())
                    .await;
            }
            (&Method::OPTIONS, "/v1/events" | "/v1/recordings" | "/v1/screenshots") => {
                let requested = parts
                    .headers
                    .get(http::header::ACCESS_CONTROL_REQUEST_HEADERS);
                return cors::preflight(origin.as_ref(), requested, state.settings.cors_max_age_s);
            }
            (_, "/v1/events" | "/v1/recordings" | "/v1/screenshots") => {
                ApiError::MethodNotAllowed.into_response()
            }
            (&Method::GET | &Method::HEAD, p) if endpoints::sdk::serves(p) => {
                endpoints::sdk::handle(state, &parts)
            }
            // Nothing else is public (ops endpoints have their own listener), and nothing
            // else is readable cross-origin.
            _ => return ApiError::NotFound.into_response(),
        };
        cors::apply(&mut response, origin.as_ref(), true);
        response
    }
}
