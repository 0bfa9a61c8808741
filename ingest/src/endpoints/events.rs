//! `POST /v1/events`: the hot path. Cheap refusals come first (key shape, headers), then
//! the policy (cached key, origin, rate limit), and only then is the body read, parsed,
//! enriched and written to Kafka. 200 is answered only once Kafka acknowledged.

use std::cell::RefCell;
use std::net::IpAddr;
use std::time::Duration;

use friction_service::producer::Ack;
use tokio::sync::OwnedSemaphorePermit;

use friction_schema::envelope::{EnvelopeHeader, RawEvent, ENVELOPE_VERSION};
use friction_schema::{BatchError, Parser, PerKind, Rejection};
use friction_service::http::{json, Body};
use http::request::Parts;
use http::{Response, StatusCode};
use uuid::Uuid;

use crate::body;
use crate::enrich;
use crate::error::{rejected_json, ApiError};
use crate::policy::{self, Admitted, Rate, Refused};
use crate::sink::kafka::SinkError;
use crate::state::State;

/// Bodies larger than this (as sent or decoded) are parsed off the async worker.
const LARGE_BODY_BYTES: usize = 256 * 1024;

/// Accepted events by kind.
pub type Breakdown = PerKind<u64>;

/// Handles one request end to end.
pub async fn handle<B>(state: &State, parts: Parts, body: B, peer: IpAddr) -> Response<Body>
where
    B: hyper::body::Body + Unpin,
    ApiError: From<B::Error>,
{
    let client = enrich::client_ip(peer, &parts.headers, &state.settings.forwarded);
    let outcome = accept(state, &parts, body, client).await;
    if let Err(refused) = &outcome {
        let sent = policy::sent_key(&parts).unwrap_or("");
        state
            .policy
            .refused(client, sent, &refused.error, state.clock.now());
    }
    let outcome = outcome.map(|(breakdown, rejected, rate)| {
        let body = success_body(breakdown, &rejected);
        (json(StatusCode::OK, body), rate)
    });
    super::answer(&parts, outcome, |outcome| {
        state.metrics.outcome("events", outcome)
    })
}

type Accepted = (Breakdown, Vec<Rejection>, Option<Rate>);

async fn accept<B>(
    state: &State,
    parts: &Parts,
    body: B,
    client: IpAddr,
) -> Result<Accepted, Refused>
where
    B: hyper::body::Body + Unpin,
    ApiError: From<B::Error>,
{
    let sent = policy::sent_key(parts).unwrap_or("");
    state.policy.check_client(client, sent, state.clock.now())?;
    let key = policy::api_key(parts)?;
    body::check_content_type(&parts.headers)?;
    let encoding = body::encoding(&parts.headers)?;
    body::check_length(&parts.headers, &state.settings.body_limits)?;

    let admitted = state
        .policy
        .admit(key, &parts.headers, state.clock.now())
        .await?;
    let key = &admitted.key;
    let known = |error| admitted.refuse(error);

    let user_agent = enrich::user_agent(&parts.headers);
    if state.policy.bots.is_bot(user_agent) {
        state.metrics.bot_requests.inc();
        return Ok((Breakdown::default(), Vec::new(), Some(admitted.rate)));
    }

    let limits = &state.settings.body_limits;
    let raw = body::read(body, limits).await.map_err(known)?;
    state.metrics.body_bytes.observe(raw.len() as f64);
    // Compressed or large bodies are decoded and parsed a few at a time, off the async
    // workers: CPU and memory stay bounded however many arrive at once. The slot travels
    // with the work, so a client that hangs up cannot free it while its body inflates.
    let heavy = encoding == body::Encoding::Gzip || raw.len() > LARGE_BODY_BYTES;
    let slot = match heavy {
        true => Some(heavy_slot(state).await.map_err(known)?),
        false => None,
    };
    let (mut decoded, slot) = body::decode_off_thread(raw, encoding, *limits, slot)
        .await
        .map_err(known)?;
    let received_at = state.clock.now_ms();
    let request = Request {
        admitted: &admitted,
        received_at,
        client,
        user_agent,
    };
    // Parsing, validation, encoding and queueing run in one go on this thread's reused
    // buffers; only the wait for the broker's acknowledgement is asynchronous.
    // A large body takes milliseconds to parse: hand this worker's other requests to
    // another thread meanwhile (possible on the multi-threaded runtime only).
    let large = decoded.len() > LARGE_BODY_BYTES
        && tokio::runtime::Handle::current().runtime_flavor()
            == tokio::runtime::RuntimeFlavor::MultiThread;
    let body = decoded.as_mut_slice();
    let work = move || SCRATCH.with_borrow_mut(move |scratch| queue(state, request, body, scratch));
    let queued = match large {
        true => tokio::task::block_in_place(work),
        false => work(),
    };
    drop(slot);
    let queued = queued?;
    let produced = std::time::Instant::now();
    let acked = state.sink.acked(queued.pending).await;
    // Timeouts and failures count too: they are what the latency panel is for.
    state
        .metrics
        .kafka_produce_seconds
        .observe(produced.elapsed().as_secs_f64());
    match acked {
        Ok(messages) => state.metrics.kafka_messages.inc_by(messages as u64),
        Err(e) => return Err(known(unavailable(state, e))),
    }
    for (kind, n) in queued.breakdown.iter() {
        state
            .metrics
            .events
            .with_label_values(&[kind.as_str()])
            .inc_by(*n);
    }
    state
        .usage
        .record(key, queued.breakdown.total(), received_at);
    Ok((queued.breakdown, queued.rejected, Some(queued.rate)))
}

thread_local! {
    /// Buffers reused by every request a thread handles.
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

#[derive(Default)]
struct Scratch {
    parser: Parser,
    message: Vec<u8>,
}

/// What the request brings besides its body.
#[derive(Clone, Copy)]
struct Request<'r> {
    admitted: &'r Admitted,
    received_at: i64,
    client: IpAddr,
    user_agent: &'r str,
}

/// A batch on its way to Kafka.
struct Queued {
    breakdown: Breakdown,
    rejected: Vec<Rejection>,
    rate: Rate,
    pending: Vec<Ack>,
}

/// Validates `body`, spends the key's rate, and queues the valid events as received
/// (each message keyed by the first event's session, so one session's events share a
/// partition and keep their order).
fn queue(
    state: &State,
    request: Request<'_>,
    body: &mut [u8],
    scratch: &mut Scratch,
) -> Result<Queued, Refused> {
    let known = |error| request.admitted.refuse(error);
    let settings = &state.settings;
    let validated = scratch
        .parser
        .validate(body, &settings.limits, request.received_at)
        .map_err(|e| known(batch_error(e)))?;
    for r in &validated.rejected {
        state
            .metrics
            .events_rejected
            .with_label_values(&[r.error.code()])
            .inc();
    }
    let Some(first) = validated.accepted.first() else {
        return Err(known(ApiError::InvalidEvents(validated.rejected)));
    };
    // Valid: now it counts against the key's limit.
    let rate = state.policy.spend(request.admitted, state.clock.now())?;

    let mut breakdown = Breakdown::default();
    let mut raw = Vec::with_capacity(validated.accepted.len());
    for a in &validated.accepted {
        *breakdown.get_mut(a.event.event_type.kind()) += 1;
        raw.push(RawEvent::of(a, body));
    }
    let ip = match settings.anonymize_ip {
        true => enrich::anonymize(request.client),
        false => request.client,
    };
    let client_ip = ip.to_string();
    let key = &request.admitted.key;
    let header = EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::new_v4(),
        part: 0,
        owner_id: &key.owner_id,
        key_id: key.key_id,
        received_at: request.received_at,
        client_ip: &client_ip,
        user_agent: request.user_agent,
        clock_skew_ms: validated.clock_skew_ms,
    };
    let pending = state
        .sink
        .queue(first.event.session_id, &header, &raw, &mut scratch.message)
        .map_err(|e| known(unavailable(state, e)))?;
    Ok(Queued {
        breakdown,
        rejected: validated.rejected,
        rate,
        pending,
    })
}

/// Counts and logs a batch Kafka did not take, for a 503.
fn unavailable(state: &State, e: SinkError) -> ApiError {
    let kind = match e {
        SinkError::QueueFull => "queue_full",
        SinkError::Timeout => "timeout",
        SinkError::Kafka(_) => "error",
    };
    state.metrics.kafka_errors.with_label_values(&[kind]).inc();
    tracing::warn!(error = %e, "batch not written to kafka");
    ApiError::Unavailable("event storage (Kafka) is unavailable")
}

/// How long a compressed or large body waits for a slot before 503.
const HEAVY_SLOT_WAIT: Duration = Duration::from_secs(2);

/// A slot for decoding and parsing a heavy body.
async fn heavy_slot(state: &State) -> Result<OwnedSemaphorePermit, ApiError> {
    match tokio::time::timeout(HEAVY_SLOT_WAIT, state.heavy_slots.clone().acquire_owned()).await {
        Ok(Ok(permit)) => Ok(permit),
        _ => Err(ApiError::Unavailable(
            "ingest is busy decoding large bodies",
        )),
    }
}

fn batch_error(e: BatchError) -> ApiError {
    match e {
        BatchError::TooManyEvents { .. } => ApiError::PayloadTooLarge(e.to_string()),
        e => ApiError::InvalidBatch(e.to_string()),
    }
}

/// `{"success":true,"processed":N,"breakdown":{..}}`, with `rejected` when some events
/// were dropped.
pub fn success_body(b: Breakdown, rejected: &[Rejection]) -> Vec<u8> {
    let mut body = format!(
        r#"{{"success":true,"processed":{},"breakdown":{{"friction":{},"heatmap":{},"performance":{}}}"#,
        b.total(),
        b.friction,
        b.heatmap,
        b.performance
    );
    if !rejected.is_empty() {
        body.push_str(",\"rejected\":");
        body.push_str(&rejected_json(rejected).to_string());
    }
    body.push('}');
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use friction_schema::EventError;

    #[test]
    fn success_body_is_exact() {
        let b = Breakdown {
            friction: 2,
            heatmap: 1,
            performance: 0,
        };
        assert_eq!(
            String::from_utf8(success_body(b, &[])).unwrap(),
            r#"{"success":true,"processed":3,"breakdown":{"friction":2,"heatmap":1,"performance":0}}"#
        );
        let rejected = [Rejection {
            index: 4,
            error: EventError::UnknownType,
        }];
        let body: serde_json::Value = serde_json::from_slice(&success_body(b, &rejected)).unwrap();
        assert_eq!(
            body["rejected"],
            serde_json::json!([{"index":4,"error":"unknown_event_type"}])
        );
    }
}
