//! Operational endpoints every service serves: `/healthz` (the process is alive),
//! `/readyz` (every dependency it needs answers) and `/metrics` (Prometheus text).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use ::http::{header, Method, Request, Response, StatusCode};
use bytes::Bytes;
use http_body_util::Full;
use prometheus::{Encoder, Registry, TextEncoder};
use tokio::net::TcpListener;

use crate::http::{self, Body, HttpConfig, RequestBody, Router};
use crate::shutdown::Shutdown;

/// The named readiness checks of a service. Each dependency owns a [`ReadyFlag`] and
/// flips it; the service is ready when every flag is up.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<Mutex<Vec<Check>>>,
}

type Check = (&'static str, Arc<AtomicBool>);

/// One readiness check, initially down.
#[derive(Clone, Debug)]
pub struct ReadyFlag(Arc<AtomicBool>);

impl ReadyFlag {
    /// Marks the dependency as answering or not.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Relaxed);
    }

    /// Whether the dependency answers.
    pub fn get(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl Readiness {
    /// Adds a check named `name`, initially not ready.
    pub fn flag(&self, name: &'static str) -> ReadyFlag {
        let flag = Arc::new(AtomicBool::new(false));
        self.lock().push((name, flag.clone()));
        ReadyFlag(flag)
    }

    /// The names of the checks that are down; empty when ready.
    pub fn not_ready(&self) -> Vec<&'static str> {
        self.lock()
            .iter()
            .filter(|(_, f)| !f.load(Ordering::Relaxed))
            .map(|(n, _)| *n)
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Check>> {
        self.checks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The answer to an operational path, or `None` for any other path.
pub fn respond(path: &str, readiness: &Readiness, registry: &Registry) -> Option<Response<Body>> {
    let (status, content_type, body) = match path {
        "/healthz" => (
            StatusCode::OK,
            "application/json",
            Bytes::from_static(b"{\"status\":\"ok\"}"),
        ),
        "/readyz" => {
            let down = readiness.not_ready();
            if down.is_empty() {
                (
                    StatusCode::OK,
                    "application/json",
                    Bytes::from_static(b"{\"status\":\"ready\"}"),
                )
            } else {
                let body = format!("{{\"status\":\"not_ready\",\"waiting_for\":{down:?}}}");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "application/json",
                    Bytes::from(body),
                )
            }
        }
        "/metrics" => {
            let mut buf = Vec::new();
            let encoder = TextEncoder::new();
            // Encoding registered metrics into a Vec only fails on inconsistent metric
            // families, which registration already rejects.
            let _ = encoder.encode(&registry.gather(), &mut buf);
            (
                StatusCode::OK,
                "text/plain; version=0.0.4",
                Bytes::from(buf),
            )
        }
        _ => return None,
    };
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    Some(response)
}

/// The router of a service without an HTTP API of its own: only the ops endpoints.
pub struct OpsRouter {
    readiness: Readiness,
    registry: Registry,
}

impl OpsRouter {
    /// Answers from `readiness` and `registry`.
    pub fn new(readiness: Readiness, registry: Registry) -> Self {
        OpsRouter {
            readiness,
            registry,
        }
    }
}

impl Router for OpsRouter {
    async fn route(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        let answer = match *req.method() {
            // HEAD is GET without the body (hyper leaves it out): load balancers probe so.
            Method::GET | Method::HEAD => {
                respond(req.uri().path(), &self.readiness, &self.registry)
            }
            _ => None,
        };
        answer
            .unwrap_or_else(|| http::json(StatusCode::NOT_FOUND, &b"{\"error\":\"not_found\"}"[..]))
    }
}

/// Serves only the operational endpoints, for services without an HTTP API of their own.
pub async fn serve(
    listener: TcpListener,
    readiness: Readiness,
    registry: Registry,
    config: HttpConfig,
    shutdown: Shutdown,
) {
    let router = Arc::new(OpsRouter::new(readiness, registry));
    http::serve(listener, router, &config, shutdown).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_only_when_every_flag_is_up() {
        let readiness = Readiness::default();
        let kafka = readiness.flag("kafka");
        let ch = readiness.flag("clickhouse");
        assert_eq!(readiness.not_ready(), ["kafka", "clickhouse"]);
        kafka.set(true);
        let r = respond("/readyz", &readiness, &Registry::new()).unwrap();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        ch.set(true);
        let r = respond("/readyz", &readiness, &Registry::new()).unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(respond("/other", &readiness, &Registry::new()).is_none());
    }
}
