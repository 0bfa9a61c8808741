//! `POST /v1/events`: the hot path. Cheap refusals come first (key shape, headers), then
//! the cached key, origin and rate limit, and only then is the body read, parsed,
//! enriched and written to Kafka. 200 is answered only once Kafka acknowledged.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use friction_schema::envelope::{EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::{api_key, batch, now_ms, BatchError, Kind};
use http::request::Parts;
use http::Response;
use uuid::Uuid;

use crate::body;
use crate::cors;
use crate::enrich;
use crate::error::ApiError;
use crate::kafka::SinkError;
use crate::keys::KeyInfo;
use crate::limiter::Decision;
use crate::response::{self, Body, Breakdown};
use crate::server::App;

/// What the handler learnt that shapes the response headers.
#[derive(Default)]
struct Context {
    /// False once the origin was refused: its response must not be readable by it.
    origin_refused: bool,
    /// Limit and remaining requests of the key.
    rate: Option<(u32, u32)>,
}

/// Handles one request end to end.
pub async fn handle<B>(app: &App, parts: Parts, body: B, peer: IpAddr) -> Response<Body>
where
    B: hyper::body::Body + Unpin,
    B::Error: std::fmt::Display,
{
    let started = Instant::now();
    let mut ctx = Context::default();
    let mut response = match accept(app, &parts, body, peer, &mut ctx).await {
        Ok((breakdown, rejected)) => {
            app.metrics.requests.with_label_values(&["ok"]).inc();
            response::json(
                http::StatusCode::OK,
                response::success_body(breakdown, &rejected),
            )
        }
        Err(err) => {
            app.metrics.requests.with_label_values(&[err.code()]).inc();
            if err.status().is_server_error() {
                tracing::error!(code = err.code(), error = %err, "event request failed");
            } else {
                tracing::debug!(code = err.code(), error = %err, "event request refused");
            }
            response::error(&err)
        }
    };
    if let Some((limit, remaining)) = ctx.rate {
        response::rate_limit_headers(&mut response, limit, remaining);
    }
    cors::apply(
        &mut response,
        cors::origin(&parts.headers),
        !ctx.origin_refused,
    );
    app.metrics
        .request_seconds
        .observe(started.elapsed().as_secs_f64());
    response
}

fn api_key(parts: &Parts) -> Option<&str> {
    if let Some(key) = parts.headers.get("x-api-key") {
        return key.to_str().ok();
    }
    parts
        .uri
        .query()?
        .split('&')
        .find_map(|pair| pair.strip_prefix("api_key="))
}

async fn accept<B>(
    app: &App,
    parts: &Parts,
    body: B,
    peer: IpAddr,
    ctx: &mut Context,
) -> Result<(Breakdown, Vec<batch::Rejection>), ApiError>
where
    B: hyper::body::Body + Unpin,
    B::Error: std::fmt::Display,
{
    let key = api_key(parts).ok_or(ApiError::MissingApiKey)?;
    if !api_key::is_well_formed(key) {
        return Err(ApiError::InvalidApiKey);
    }
    body::check_content_type(&parts.headers)?;
    let encoding = body::encoding(&parts.headers)?;
    body::check_length(&parts.headers, &app.body_limits)?;

    let info = app
        .keys
        .get(key)
        .await
        .map_err(|_| ApiError::Unavailable("the API key store is unreachable"))?
        .ok_or(ApiError::InvalidApiKey)?;
    let now = Instant::now();
    let limit = info.rate_limit_per_minute;
    ctx.rate = Some((limit, app.limiter.peek(info.key_id, limit, now)));
    if !info.active {
        return Err(ApiError::KeyInactive);
    }
    if !info.domains.allows_all() {
        match cors::origin_for_check(&parts.headers) {
            Some(origin) if info.domains.allows(origin) => {}
            other => {
                ctx.origin_refused = true;
                return Err(ApiError::OriginNotAllowed(
                    other.unwrap_or("").chars().take(200).collect(),
                ));
            }
        }
    }
    match app
        .limiter
        .check(info.key_id, info.rate_limit_per_minute, Instant::now())
    {
        Decision::Allowed { remaining } => ctx.rate = Some((info.rate_limit_per_minute, remaining)),
        Decision::Limited { retry_after_s } => {
            ctx.rate = Some((info.rate_limit_per_minute, 0));
            return Err(ApiError::RateLimited {
                limit: info.rate_limit_per_minute,
                retry_after_s,
            });
        }
    }

    let user_agent = enrich::user_agent(&parts.headers);
    if app.bots.is_bot(user_agent) {
        app.metrics.bot_requests.inc();
        return Ok((Breakdown::default(), Vec::new()));
    }

    let size_hint = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(16 * 1024);
    let raw = body::read(body, size_hint, &app.body_limits).await?;
    app.metrics.body_bytes.observe(raw.len() as f64);
    let mut decoded = body::decode(raw, encoding, &app.body_limits)?;
    produce(app, &info, parts, peer, user_agent, &mut decoded).await
}

async fn produce(
    app: &App,
    info: &Arc<KeyInfo>,
    parts: &Parts,
    peer: IpAddr,
    user_agent: &str,
    body: &mut [u8],
) -> Result<(Breakdown, Vec<batch::Rejection>), ApiError> {
    let received_at = now_ms();
    let body_len = body.len();
    let tape = batch::to_tape(body).map_err(batch_error)?;
    let mut events = Vec::new();
    let mut rejected = Vec::new();
    batch::parse_batch(
        &tape,
        &app.config.limits,
        received_at,
        &mut events,
        &mut rejected,
    )
    .map_err(batch_error)?;
    for r in &rejected {
        app.metrics
            .events_rejected
            .with_label_values(&[r.error.code()])
            .inc();
    }
    if events.is_empty() {
        return Err(ApiError::InvalidEvents(rejected));
    }

    let mut breakdown = Breakdown::default();
    for e in &events {
        match e.event_type.kind() {
            Kind::Friction => breakdown.friction += 1,
            Kind::Heatmap => breakdown.heatmap += 1,
            Kind::Performance => breakdown.performance += 1,
        }
    }

    let mut ip = enrich::client_ip(peer, &parts.headers, app.config.trust_forwarded_for);
    if app.config.anonymize_ip {
        ip = enrich::anonymize(ip);
    }
    let client_ip = ip.to_string();
    let header = EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::new_v4(),
        part: 0,
        owner_id: &info.owner_id,
        key_id: info.key_id,
        received_at,
        client_ip: &client_ip,
        user_agent,
    };
    // One session's events share a partition, so they keep their order.
    let partition_key = events[0].session_id;
    let mut buf = Vec::with_capacity(body_len + 512);
    match app
        .sink
        .send(partition_key, &header, &events, &mut buf)
        .await
    {
        Ok(messages) => app.metrics.kafka_messages.inc_by(messages as u64),
        Err(e) => {
            let kind = match e {
                SinkError::QueueFull => "queue_full",
                SinkError::Timeout => "timeout",
                SinkError::Kafka(_) => "error",
            };
            app.metrics.kafka_errors.with_label_values(&[kind]).inc();
            tracing::warn!(error = %e, "batch not written to kafka");
            return Err(ApiError::Unavailable(
                "event storage (Kafka) is unavailable",
            ));
        }
    }
    app.metrics
        .events
        .with_label_values(&["friction"])
        .inc_by(breakdown.friction as u64);
    app.metrics
        .events
        .with_label_values(&["heatmap"])
        .inc_by(breakdown.heatmap as u64);
    app.metrics
        .events
        .with_label_values(&["performance"])
        .inc_by(breakdown.performance as u64);
    app.usage.record(info, events.len() as u64, received_at);
    Ok((breakdown, rejected))
}

fn batch_error(e: BatchError) -> ApiError {
    match e {
        BatchError::TooManyEvents { .. } => ApiError::PayloadTooLarge(e.to_string()),
        e => ApiError::InvalidBatch(e.to_string()),
    }
}
