//! The HTTP server: shared state, routing, background upkeep, graceful shutdown.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use friction_service::ops::{self, Readiness};
use friction_service::shutdown::Shutdown;
use http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use prometheus::Registry;
use tokio::net::TcpListener;

use crate::body::BodyLimits;
use crate::config::IngestConfig;
use crate::cors;
use crate::enrich::BotDetector;
use crate::error::ApiError;
use crate::kafka::{KafkaSink, SinkConfig};
use crate::keys::{KeyStore, KeyStoreConfig};
use crate::limiter::RateLimiter;
use crate::metrics::Metrics;
use crate::response::{self, Body};
use crate::sdk::SdkAsset;
use crate::usage::UsageTracker;

/// Ingest could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The Kafka producer could not be created.
    #[error("kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
}

/// Everything a request handler needs.
pub struct App {
    pub(crate) config: IngestConfig,
    pub(crate) keys: KeyStore,
    pub(crate) limiter: RateLimiter,
    pub(crate) sink: KafkaSink,
    pub(crate) usage: UsageTracker,
    pub(crate) bots: BotDetector,
    pub(crate) metrics: Metrics,
    pub(crate) body_limits: BodyLimits,
    readiness: Readiness,
    registry: Registry,
    sdk: Option<SdkAsset>,
    clickhouse: clickhouse::Client,
}

impl App {
    /// Builds the state from the config.
    pub fn new(config: IngestConfig) -> Result<Self, StartError> {
        let registry = Registry::new();
        let metrics = Metrics::new(&registry)?;
        let clickhouse = config.clickhouse.client();
        let sink = KafkaSink::new(SinkConfig {
            client: KafkaSink::producer_config(
                config.kafka.client_config(),
                config.linger_ms,
                config.producer_queue_messages,
                config.message_timeout_ms,
                config.max_message_bytes,
            ),
            topic: config.raw_topic.clone(),
            max_message_bytes: config.max_message_bytes,
            ack_timeout: Duration::from_millis(config.produce_timeout_ms),
        })?;
        let keys = KeyStore::new(
            clickhouse.clone(),
            KeyStoreConfig {
                ttl: Duration::from_millis(config.key_cache_ttl_ms),
                negative_ttl: Duration::from_millis(config.key_negative_ttl_ms),
                capacity: config.key_cache_capacity,
                negative_capacity: config.key_negative_cache_capacity,
                grace: Duration::from_millis(config.key_grace_ms),
                default_rate_limit: config.default_rate_limit_per_minute,
            },
        );
        let sdk = match SdkAsset::load(&config.sdk_path) {
            Ok(sdk) => Some(sdk),
            Err(e) => {
                tracing::warn!(path = %config.sdk_path, error = %e, "SDK not found; /friction-tracker.js answers 404");
                None
            }
        };
        Ok(App {
            body_limits: BodyLimits {
                max_body: config.max_body_bytes,
                max_decompressed: config.max_decompressed_bytes,
                max_ratio: config.max_compression_ratio,
            },
            keys,
            limiter: RateLimiter::default(),
            sink,
            usage: UsageTracker::default(),
            bots: BotDetector::default(),
            metrics,
            readiness: Readiness::default(),
            registry,
            sdk,
            clickhouse,
            config,
        })
    }

    /// Routes one request.
    pub async fn route<B>(&self, req: Request<B>, peer: SocketAddr) -> Response<Body>
    where
        B: hyper::body::Body + Unpin,
        B::Error: std::fmt::Display,
    {
        let (parts, body) = req.into_parts();
        let origin = cors::origin(&parts.headers).cloned();
        let mut response = match (parts.method.clone(), parts.uri.path()) {
            (Method::POST, "/v1/events") => {
                return crate::events::handle(self, parts, body, peer.ip()).await;
            }
            (Method::OPTIONS, "/v1/events") => {
                return cors::preflight(origin.as_ref(), self.config.cors_max_age_s);
            }
            (_, "/v1/events") => response::error(&ApiError::MethodNotAllowed),
            (Method::GET | Method::HEAD, "/friction-tracker.js") => match &self.sdk {
                Some(sdk) => sdk.respond(&parts.headers, parts.method == Method::HEAD),
                None => response::error(&ApiError::NotFound),
            },
            (Method::GET, path) => ops::respond(path, &self.readiness, &self.registry)
                .unwrap_or_else(|| response::error(&ApiError::NotFound)),
            _ => response::error(&ApiError::NotFound),
        };
        cors::apply(&mut response, origin.as_ref(), true);
        response
    }
}

/// Serves ingest on `listener` until `shutdown`, then drains in-flight requests and
/// flushes the producer and usage counters.
pub async fn run(
    config: IngestConfig,
    listener: TcpListener,
    mut shutdown: Shutdown,
) -> Result<(), StartError> {
    let app = Arc::new(App::new(config)?);
    spawn_upkeep(app.clone(), shutdown.clone());
    tracing::info!(addr = ?listener.local_addr().ok(), "ingest listening");

    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(10))
        .keep_alive(true);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.wait() => break,
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let service = service_fn(move |req: Request<Incoming>| {
            let app = app.clone();
            async move { Ok::<_, Infallible>(app.route(req, peer).await) }
        });
        let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }

    tracing::info!("draining in-flight requests");
    if tokio::time::timeout(Duration::from_secs(15), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish within 15 s");
    }
    let flush_app = app.clone();
    let _ =
        tokio::task::spawn_blocking(move || flush_app.sink.flush(Duration::from_secs(10))).await;
    if let Err(e) = app.usage.flush(&app.clickhouse).await {
        tracing::warn!(error = %e, "final usage flush failed");
    }
    tracing::info!("ingest stopped");
    Ok(())
}

/// Readiness probes, usage flushes, bucket eviction and gauges, until shutdown.
fn spawn_upkeep(app: Arc<App>, shutdown: Shutdown) {
    let kafka_ready = app.readiness.flag("kafka");
    let keys_ready = app.readiness.flag("clickhouse");
    let probe_app = app.clone();
    let mut probe_shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let sink_app = probe_app.clone();
            let kafka_ok = tokio::task::spawn_blocking(move || sink_app.sink.reachable())
                .await
                .unwrap_or(false);
            kafka_ready.set(kafka_ok);
            keys_ready.set(probe_app.keys.ping().await);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(2)) => {}
                _ = probe_shutdown.wait() => return,
            }
        }
    });

    let mut upkeep_shutdown = shutdown;
    tokio::spawn(async move {
        let mut flush =
            tokio::time::interval(Duration::from_millis(app.config.usage_flush_ms.max(100)));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = flush.tick() => {}
                _ = upkeep_shutdown.wait() => return,
            }
            if let Err(e) = app.usage.flush(&app.clickhouse).await {
                app.metrics.usage_flush_errors.inc();
                tracing::warn!(error = %e, "usage flush failed; kept for the next one");
            }
            let idle = Duration::from_millis(app.config.bucket_idle_ms);
            let buckets = app.limiter.evict_idle(Instant::now(), idle);
            app.metrics.rate_limit_buckets.set(buckets as i64);
            app.metrics.key_cache_entries.set(app.keys.cached() as i64);
        }
    });
}
