//! Ingest end to end against the real broker and ClickHouse engine of the local stack:
//! each test runs its own ingest on a free port with its own topic and database.

use base64::Engine;
use sha2::Digest;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use friction_ingest::IngestConfig;
use friction_schema::envelope;
use friction_schema::now_ms;
use friction_schema::rows::EventRow;
use friction_service::config::{ClickHouseConfig, KafkaConfig};
use friction_service::shutdown::{self, Trigger};
use friction_store::keys::{self, NewKey};
use friction_testkit::{self as kit, Answer};
use rdkafka::Message;
use serde_json::{json, Value};
use uuid::Uuid;

struct Harness {
    url: String,
    ops_url: String,
    kafka: KafkaConfig,
    topic: String,
    ch: ClickHouseConfig,
    key: String,
    key_id: Uuid,
    _stop: Trigger,
}

impl Harness {
    async fn start(tweak: impl FnOnce(&mut IngestConfig)) -> Harness {
        Self::start_with(kit::stack().kafka().unwrap(), tweak).await
    }

    async fn start_with(kafka: KafkaConfig, tweak: impl FnOnce(&mut IngestConfig)) -> Harness {
        let ch = kit::fresh_database().await;
        let topic = kit::unique("test.events");
        kit::create_topic(&kafka, &topic, 3).await;
        let (key, row) = keys::create(&ch.client(), new_key(vec![], 1000))
            .await
            .unwrap();
        let mut config = IngestConfig {
            clickhouse: ch.clone(),
            kafka: kafka.clone(),
            raw_topic: topic.clone(),
            key_cache_ttl_ms: 500,
            key_negative_ttl_ms: 500,
            usage_flush_ms: 200,
            produce_timeout_ms: 3_000,
            sdk_path: sdk_file("(function(){/* friction sdk */})();\n"),
            sdk_vitals_path: sdk_file("(function(){/* friction sdk with vitals */})();\n"),
            ..IngestConfig::default()
        };
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ops_url = format!("http://{}", ops.local_addr().unwrap());
        let (stop, shutdown) = shutdown::channel();
        tokio::spawn(friction_ingest::run(config, listener, ops, shutdown));
        Harness {
            url,
            ops_url,
            kafka,
            topic,
            ch,
            key,
            key_id: row.key_id,
            _stop: stop,
        }
    }

    async fn post(&self, headers: &[(&str, &str)], body: impl Into<bytes::Bytes>) -> Answer {
        kit::request("POST", &format!("{}/v1/events", self.url), headers, body).await
    }

    async fn send(&self, body: impl Into<bytes::Bytes>) -> Answer {
        self.post(
            &[
                ("x-api-key", &self.key),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
    }

    fn messages(&self) -> i64 {
        kit::messages_in(&self.kafka, &self.topic)
    }
}

fn new_key(domains: Vec<String>, rate: u32) -> NewKey {
    NewKey {
        name: "site".into(),
        owner_id: kit::unique("owner"),
        allowed_domains: domains,
        rate_limit_per_minute: rate,
    }
}

/// A build of version 9.8.7, as the SDK's banner says.
fn sdk_file(line: &str) -> String {
    let path = std::env::temp_dir().join(format!("{}.js", kit::unique("sdk")));
    let banner = "/*! friction-tracker.js 9.8.7, Apache-2.0 */\n";
    std::fs::write(&path, format!("{banner}{}", line.repeat(50))).unwrap();
    path.to_string_lossy().into_owned()
}

fn example_batch() -> String {
    let doc = include_str!("../../docs/events.md");
    let start = doc.find("```json\n").unwrap() + 8;
    let end = start + doc[start..].find("```").unwrap();
    doc[start..end].to_owned()
}

fn event(kind: &str, extra: Value) -> Value {
    let mut e = json!({
        "event_id": Uuid::new_v4().to_string(),
        "type": kind,
        "session_id": "s-1",
        "timestamp": now_ms(),
        "url": "https://shop.example.com/p",
    });
    e.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    e
}

fn batch(events: Vec<Value>) -> String {
    json!({ "events": events }).to_string()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accepted_batch_lands_on_the_topic_with_its_envelope() {
    let h = Harness::start(|_| {}).await;
    let answer = h
        .post(
            &[
                ("x-api-key", &h.key),
                ("content-type", "application/json"),
                ("user-agent", "Mozilla/5.0 test"),
            ],
            example_batch(),
        )
        .await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(
        answer.body,
        r#"{"success":true,"processed":11,"breakdown":{"friction":5,"heatmap":2,"performance":4}}"#
    );
    let messages = kit::read_messages(&h.kafka, &h.topic, 1, Duration::from_secs(30));
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m.key(), Some(&b"s_7f3c2a9e1b"[..]));
    let envelope: Value = serde_json::from_str(kit::payload(m)).unwrap();
    let key = keys::get(&h.ch.client(), h.key_id).await.unwrap();
    assert_eq!(envelope["header"]["owner_id"], key.owner_id.as_str());
    assert_eq!(envelope["header"]["key_id"], h.key_id.to_string());
    assert_eq!(envelope["header"]["client_ip"], "127.0.0.0");
    assert_eq!(envelope["header"]["user_agent"], "Mozilla/5.0 test");
    let events = envelope["events"].as_array().unwrap();
    assert_eq!(events.len(), 11);
    assert_eq!(
        events[0]["event_id"],
        "0b5e6f4c-8f0e-4b8e-9a61-2f1d3c4b5a01"
    );
    // Forwarded as sent. The example's `sent_at` is far in the past: the client's clock
    // is that far behind, so every event reads back shifted by the difference, the
    // client's time kept.
    assert_eq!(events[0]["timestamp"], 1764100000000i64);
    assert!(envelope.get("corrected").is_none(), "{envelope}");
    let mut bytes = m.payload().unwrap().to_vec();
    let decoded = envelope::Decoder::default().decode(&mut bytes).unwrap();
    let skew = decoded.header.received_at - 1764100000500;
    assert_eq!(decoded.header.clock_skew_ms, skew);
    let first = decoded.events[0].as_ref().unwrap();
    assert!(first.clock_corrected);
    assert_eq!(first.client_timestamp, 1764100000000);
    assert_eq!(first.timestamp, 1764100000000 + skew);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_key_come_from_the_key_never_the_payload() {
    let h = Harness::start(|_| {}).await;
    let spoof = event(
        "click",
        json!({"owner_id": "someone-else", "key_id": Uuid::nil().to_string()}),
    );
    assert_eq!(h.send(batch(vec![spoof])).await.status, 200);
    let m = &kit::read_messages(&h.kafka, &h.topic, 1, Duration::from_secs(30))[0];
    let envelope: Value = serde_json::from_str(kit::payload(m)).unwrap();
    assert_eq!(envelope["header"]["key_id"], h.key_id.to_string());
    assert_ne!(envelope["header"]["owner_id"], "someone-else");
    // The event is forwarded as sent, but its row takes the owner from the header.
    let mut bytes = m.payload().unwrap().to_vec();
    let decoded = envelope::Decoder::default().decode(&mut bytes).unwrap();
    let event = decoded.events[0].as_ref().unwrap();
    match EventRow::new(&decoded.header, event) {
        EventRow::Heatmap(row) => {
            assert_eq!(
                (row.owner_id, row.key_id),
                (decoded.header.owner_id, h.key_id)
            )
        }
        other => panic!("a click is a heatmap row: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_events_are_dropped_and_listed() {
    let h = Harness::start(|_| {}).await;
    let body = batch(vec![
        event("click", json!({})),
        event("rage_click", json!({})),
        event("loadTime", json!({"value": 12.5})),
    ]);
    let answer = h.send(body).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.json(),
        json!({"success":true,"processed":2,"breakdown":{"friction":0,"heatmap":1,"performance":1},
               "rejected":[{"index":1,"error":"missing_field"}]})
    );
}

async fn assert_refused(answer: Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    let body = answer.json();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"], code, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_refusal_has_its_status_and_code_and_writes_nothing() {
    let h = Harness::start(|c| {
        c.max_body_bytes = 64 * 1024;
        c.max_decompressed_bytes = 256 * 1024;
    })
    .await;
    let ok = batch(vec![event("click", json!({}))]);
    let json_type = ("content-type", "application/json");

    assert_refused(
        h.post(&[json_type], ok.clone()).await,
        401,
        "missing_api_key",
    )
    .await;
    assert_refused(
        h.post(&[("x-api-key", "fk_short"), json_type], ok.clone())
            .await,
        401,
        "invalid_api_key",
    )
    .await;
    let unknown = keys::generate();
    assert_refused(
        h.post(&[("x-api-key", &unknown), json_type], ok.clone())
            .await,
        401,
        "invalid_api_key",
    )
    .await;
    let key = ("x-api-key", h.key.as_str());
    assert_refused(
        h.post(&[key, json_type], "{not json").await,
        400,
        "invalid_batch",
    )
    .await;
    assert_refused(
        h.post(&[key, json_type], r#"{"events":[]}"#).await,
        400,
        "invalid_batch",
    )
    .await;
    assert_refused(
        h.post(&[key, json_type], r#"{"nope":1}"#).await,
        400,
        "invalid_batch",
    )
    .await;
    let all_bad = h
        .post(
            &[key, json_type],
            batch(vec![json!({"type": "click"}), json!(3)]),
        )
        .await;
    assert_eq!(
        all_bad.json()["rejected"],
        json!([{"index":0,"error":"missing_field"},{"index":1,"error":"not_an_object"}])
    );
    assert_refused(all_bad, 400, "invalid_events").await;
    assert_refused(
        h.post(
            &[key, ("content-type", "application/x-www-form-urlencoded")],
            ok.clone(),
        )
        .await,
        415,
        "unsupported_media_type",
    )
    .await;
    assert_refused(
        h.post(&[key, json_type, ("content-encoding", "br")], ok.clone())
            .await,
        415,
        "unsupported_encoding",
    )
    .await;
    let big = batch(
        (0..400)
            .map(|_| event("click", json!({"selector": "x".repeat(200)})))
            .collect(),
    );
    assert!(big.len() > 64 * 1024);
    assert_refused(
        h.post(&[key, json_type], big).await,
        413,
        "payload_too_large",
    )
    .await;
    let bomb = gzip(&vec![b' '; 2 << 20]);
    assert_refused(
        h.post(&[key, json_type, ("content-encoding", "gzip")], bomb)
            .await,
        413,
        "payload_too_large",
    )
    .await;
    let many = batch((0..501).map(|_| event("click", json!({}))).collect());
    assert_refused(
        h.post(
            &[key, json_type, ("content-encoding", "gzip")],
            gzip(many.as_bytes()),
        )
        .await,
        413,
        "payload_too_large",
    )
    .await;

    keys::set_active(&h.ch.client(), h.key_id, false)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_refused(h.post(&[key, json_type], ok).await, 403, "key_inactive").await;

    assert_eq!(h.messages(), 0, "a refused request wrote to Kafka");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn origins_outside_the_allowed_domains_are_refused() {
    let h = Harness::start(|_| {}).await;
    let (key, _) = keys::create(&h.ch.client(), new_key(vec!["*.example.com".into()], 1000))
        .await
        .unwrap();
    let ok = batch(vec![event("click", json!({}))]);
    let base = [
        ("x-api-key", key.as_str()),
        ("content-type", "application/json"),
    ];

    let allowed = h
        .post(
            &[base[0], base[1], ("origin", "https://shop.example.com")],
            ok.clone(),
        )
        .await;
    assert_eq!(allowed.status, 200);
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );
    let by_referer = h
        .post(
            &[
                base[0],
                base[1],
                ("referer", "https://a.example.com/page?x"),
            ],
            ok.clone(),
        )
        .await;
    assert_eq!(by_referer.status, 200);

    let refused = h
        .post(
            &[base[0], base[1], ("origin", "https://evil.test")],
            ok.clone(),
        )
        .await;
    assert!(refused.header("access-control-allow-origin").is_none());
    assert_refused(refused, 403, "origin_not_allowed").await;
    assert_refused(h.post(&base, ok).await, 403, "origin_not_allowed").await;
    assert_eq!(h.messages(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_answers_429_with_retry_after_and_counts_down() {
    let h = Harness::start(|_| {}).await;
    let (key, _) = keys::create(&h.ch.client(), new_key(vec![], 3))
        .await
        .unwrap();
    let ok = batch(vec![event("click", json!({}))]);
    let headers = [
        ("x-api-key", key.as_str()),
        ("content-type", "application/json"),
    ];
    for remaining in ["2", "1", "0"] {
        let a = h.post(&headers, ok.clone()).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.header("x-ratelimit-limit"), Some("3"));
        assert_eq!(a.header("x-ratelimit-remaining"), Some(remaining));
    }
    let limited = h.post(&headers, ok).await;
    assert!(
        limited
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    assert_refused(limited, 429, "rate_limited").await;
    assert_eq!(h.messages(), 3);
}

/// Two replicas behind a round-robin balancer, each enforcing half of the key's limit:
/// the key gets its limit in total, never twice it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_a_keys_rate_limit() {
    let first = Harness::start(|c| c.rate_limit_replicas = 2).await;
    let (key, _) = keys::create(&first.ch.client(), new_key(vec![], 9))
        .await
        .unwrap();
    let ch = first.ch.clone();
    let second = Harness::start_with(first.kafka.clone(), move |c| {
        c.rate_limit_replicas = 2;
        c.clickhouse = ch;
    })
    .await;
    let ok = batch(vec![event("click", json!({}))]);
    let headers = [
        ("x-api-key", key.as_str()),
        ("content-type", "application/json"),
    ];
    let mut accepted = 0;
    for i in 0..20 {
        let replica = if i % 2 == 0 { &first } else { &second };
        let a = replica.post(&headers, ok.clone()).await;
        assert_eq!(a.header("x-ratelimit-limit"), Some("5"), "ceil(9 / 2)");
        match a.status {
            200 => accepted += 1,
            429 => {}
            other => panic!("{other}: {:?}", a.body),
        }
    }
    assert_eq!(
        accepted, 10,
        "each replica allows its 5 of the key's 9 (rounded up)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_do_not_spend_the_keys_budget() {
    let h = Harness::start(|_| {}).await;
    let (key, _) = keys::create(&h.ch.client(), new_key(vec![], 5))
        .await
        .unwrap();
    let headers = [
        ("x-api-key", key.as_str()),
        ("content-type", "application/json"),
    ];
    // A site's key is public: anyone can send garbage with it.
    for _ in 0..5 {
        assert_refused(h.post(&headers, "{}").await, 400, "invalid_batch").await;
    }
    let ok = batch(vec![event("click", json!({}))]);
    for remaining in ["4", "3", "2", "1", "0"] {
        let a = h.post(&headers, ok.clone()).await;
        assert_eq!(a.status, 200, "{:?}", a.body);
        assert_eq!(a.header("x-ratelimit-remaining"), Some(remaining));
    }
    assert_refused(h.post(&headers, ok).await, 429, "rate_limited").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_requests_are_bounded_per_client_address() {
    let h = Harness::start(|c| c.refusals_per_minute_per_client = 3).await;
    // Refusals of a real key count per address and key: visitors behind one NAT
    // address do not pay for another site's misconfigured key.
    let (strict, _) = keys::create(
        &h.ch.client(),
        new_key(vec!["shop.example.com".into()], 1000),
    )
    .await
    .unwrap();
    let elsewhere = [
        ("x-api-key", strict.as_str()),
        ("origin", "https://elsewhere.example"),
    ];
    let ok = || batch(vec![event("click", json!({}))]);
    for _ in 0..3 {
        assert_refused(h.post(&elsewhere, ok()).await, 403, "origin_not_allowed").await;
    }
    let blocked = h.post(&elsewhere, ok()).await;
    assert!(
        blocked
            .header("retry-after")
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_refused(blocked, 429, "too_many_invalid_requests").await;
    assert_eq!(h.send(ok()).await.status, 200);
    // Without a key the store knows, refusals share one budget per address: random keys
    // do not each bring a fresh one.
    for _ in 0..3 {
        let key = format!("fk_{}", Uuid::new_v4().simple());
        let a = h.post(&[("x-api-key", key.as_str())], "{}").await;
        assert!([401, 503].contains(&a.status), "{}", a.status);
    }
    assert_refused(h.send(ok()).await, 429, "too_many_invalid_requests").await;
    assert_eq!(h.messages(), 1);

    // Nor are other addresses (behind a trusted proxy each visitor is its own).
    let h = Harness::start(|c| {
        c.refusals_per_minute_per_client = 3;
        c.trust_forwarded_for = true;
    })
    .await;
    for _ in 0..3 {
        let a = h
            .post(
                &[
                    ("x-api-key", h.key.as_str()),
                    ("x-forwarded-for", "203.0.113.7"),
                ],
                "{}",
            )
            .await;
        assert_eq!(a.status, 400);
    }
    let again = h
        .post(
            &[
                ("x-api-key", h.key.as_str()),
                ("x-forwarded-for", "203.0.113.7"),
            ],
            batch(vec![event("click", json!({}))]),
        )
        .await;
    assert_refused(again, 429, "too_many_invalid_requests").await;
    let other = h
        .post(
            &[
                ("x-api-key", h.key.as_str()),
                ("x-forwarded-for", "203.0.113.8"),
            ],
            batch(vec![event("click", json!({}))]),
        )
        .await;
    assert_eq!(other.status, 200, "{:?}", other.body);
    assert_eq!(h.messages(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_random_keys_starves_neither_known_nor_new_keys() {
    let h = Harness::start(|c| c.refusals_per_minute_per_client = 1_000_000).await;
    let (stored, _) = keys::create(&h.ch.client(), new_key(vec![], 100_000))
        .await
        .unwrap();
    // The key index is refreshed with the readiness probe: wait for one refresh after it.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let refused = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut flood = Vec::new();
    for _ in 0..48 {
        let (url, stop, refused) = (h.url.clone(), stop.clone(), refused.clone());
        flood.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = format!("fk_{}", Uuid::new_v4().simple());
                let a = kit::request(
                    "POST",
                    &format!("{url}/v1/events"),
                    &[("x-api-key", key.as_str())],
                    "{}",
                )
                .await;
                assert!([401, 503].contains(&a.status), "{}", a.status);
                refused.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let ok = batch(vec![event("click", json!({}))]);
    let send = |key: String| {
        let ok = ok.clone();
        let url = h.url.clone();
        async move {
            kit::request(
                "POST",
                &format!("{url}/v1/events"),
                &[("x-api-key", key.as_str())],
                ok,
            )
            .await
        }
    };
    // A stored key never looked up before is answered at once.
    let first = send(stored.clone()).await;
    assert_eq!(first.status, 200, "{:?}", first.body);
    // A key made during the flood works within a refresh of the index.
    let (fresh, _) = keys::create(&h.ch.client(), new_key(vec![], 100_000))
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(6);
    loop {
        let a = send(fresh.clone()).await;
        if a.status == 200 {
            break;
        }
        assert_eq!(a.status, 503, "{:?}", a.body);
        assert!(
            std::time::Instant::now() < deadline,
            "the new key never got through"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    assert!(refused.load(std::sync::atomic::Ordering::Relaxed) > 100);
    let metrics = kit::request("GET", &format!("{}/metrics", h.ops_url), &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(text.contains("friction_ingest_key_index_entries"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_could_be_read_two_ways_is_refused() {
    // Ingest forwards the array it validated, byte for byte: a second `events` key or
    // an escaped one must not let unvalidated bytes through.
    let h = Harness::start(|_| {}).await;
    let good = batch(vec![event("click", json!({}))]);
    let inner = &good[good.find('[').unwrap()..good.rfind(']').unwrap() + 1];
    for body in [
        format!(r#"{{"events":{inner},"events":[{{"type":"click"}}]}}"#),
        format!(r#"{{"ev\u0065nts":{inner},"events":[1]}}"#),
    ] {
        let a = h.send(body.clone()).await;
        assert_eq!(a.status, 400, "{body}: {:?}", a.body);
        assert_eq!(a.json()["error"], "invalid_batch");
    }
    assert!(kit::read_messages(&h.kafka, &h.topic, 1, Duration::from_secs(2)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_values_are_refused_and_never_echoed() {
    let h = Harness::start(|_| {}).await;
    let marker = "text/x-marker-4711";
    let a = h
        .post(&[("x-api-key", &h.key), ("content-type", marker)], "{}")
        .await;
    assert_eq!(a.status, 415);
    assert!(!String::from_utf8_lossy(&a.body).contains("marker"));
    let a = h
        .post(
            &[("x-api-key", &h.key), ("content-encoding", "x-marker-4711")],
            "{}",
        )
        .await;
    assert_eq!(a.status, 415);
    assert!(!String::from_utf8_lossy(&a.body).contains("marker"));

    // A lone surrogate becomes U+FFFD: neither NUL nor a lost batch.
    let lone = r#"{"events":[{"event_id":"5f0c6a52-3a0e-4c3e-9d55-0d3d1b8a7f01","type":"click","session_id":"s","timestamp":TS,"url":"https://shop.example.com/","selector":"b\ud800"}]}"#
        .replace("TS", &now_ms().to_string());
    assert_eq!(h.send(lone).await.status, 200);

    // Absurd client clocks are corrected and bounded; URLs with userinfo are refused.
    let events = vec![
        event("click", json!({ "timestamp": 0 })),
        event("click", json!({ "timestamp": i64::MAX })),
        event(
            "click",
            json!({ "url": "https://shop.example.com@evil.example:8443/" }),
        ),
    ];
    let a = h.send(batch(events)).await;
    assert_eq!(a.status, 200, "{:?}", a.body);
    let body = a.json();
    assert_eq!(body["processed"], 2);
    assert_eq!(
        body["rejected"],
        json!([{"index": 2, "error": "invalid_field"}])
    );
    let mut client_times = Vec::new();
    let mut selectors = Vec::new();
    for m in kit::read_messages(&h.kafka, &h.topic, 2, Duration::from_secs(30)) {
        let mut bytes = m.payload().unwrap().to_vec();
        let decoded = envelope::Decoder::default().decode(&mut bytes).unwrap();
        for event in decoded.events {
            let event = event.unwrap();
            if event.clock_corrected {
                client_times.push(event.client_timestamp);
            }
            selectors.push(event.selector.to_owned());
        }
    }
    assert!(
        selectors
            .iter()
            .any(|s| s.contains("b\u{fffd}") && !s.contains('\0')),
        "{selectors:?}"
    );
    client_times.sort();
    assert_eq!(client_times, [946_684_800_000, 4_102_444_800_000]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_preflight_and_headers() {
    let h = Harness::start(|_| {}).await;
    let pre = kit::request(
        "OPTIONS",
        &format!("{}/v1/events", h.url),
        &[
            ("origin", "https://shop.example.com"),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type, x-api-key"),
        ],
        "",
    )
    .await;
    assert_eq!(pre.status, 204);
    assert_eq!(
        pre.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );
    assert!(pre
        .header("access-control-allow-headers")
        .unwrap()
        .contains("x-api-key"));
    assert!(pre
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(pre.header("access-control-max-age").is_some());
    let vary: Vec<_> = pre.headers.get_all("vary").iter().collect();
    assert_eq!(vary, ["Access-Control-Request-Headers", "Origin"]);

    // A page's fetch wrapper adds its tracing headers to the tracker's requests too.
    let url = format!("{}/v1/events", h.url);
    let ask = |headers: &'static str| {
        let url = url.clone();
        async move {
            let asked = [
                ("origin", "https://shop.example.com"),
                ("access-control-request-method", "POST"),
                ("access-control-request-headers", headers),
            ];
            kit::request("OPTIONS", &url, &asked, "").await
        }
    };
    let traced = ask("content-type,traceparent,x-api-key").await;
    assert_eq!(
        traced.header("access-control-allow-headers"),
        Some("content-type,traceparent,x-api-key")
    );
    let odd = ask("content-type, bad header").await;
    assert_eq!(
        odd.header("access-control-allow-headers"),
        Some("content-type, x-api-key, content-encoding")
    );

    let unauth = h
        .post(&[("origin", "https://shop.example.com")], "{}")
        .await;
    assert_eq!(unauth.status, 401);
    assert_eq!(
        unauth.header("access-control-allow-origin"),
        Some("https://shop.example.com")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_bodies_and_send_beacon_requests_are_accepted() {
    let h = Harness::start(|_| {}).await;
    let body = batch(vec![
        event("click", json!({})),
        event("pageview", json!({})),
    ]);
    let gz = h
        .post(
            &[
                ("x-api-key", &h.key),
                ("content-type", "application/json"),
                ("content-encoding", "gzip"),
            ],
            gzip(body.as_bytes()),
        )
        .await;
    assert_eq!(gz.json()["processed"], 2);

    let beacon = kit::request(
        "POST",
        &format!("{}/v1/events?api_key={}", h.url, h.key),
        &[("content-type", "text/plain;charset=UTF-8")],
        body,
    )
    .await;
    assert_eq!(beacon.status, 200, "{:?}", beacon.body);
    assert_eq!(beacon.json()["breakdown"]["heatmap"], 2);
    assert_eq!(h.messages(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_bots_are_dropped_and_counted() {
    let h = Harness::start(|_| {}).await;
    let bot = h
        .post(
            &[
                ("x-api-key", &h.key),
                (
                    "user-agent",
                    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                ),
            ],
            batch(vec![event("click", json!({}))]),
        )
        .await;
    assert_eq!(bot.status, 200);
    assert_eq!(bot.json()["processed"], 0);
    assert_eq!(h.messages(), 0);
    let metrics = kit::request("GET", &format!("{}/metrics", h.ops_url), &[], "").await;
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    assert!(
        text.contains("friction_ingest_bot_requests_dropped_total 1"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_over_the_message_limit_are_split() {
    let h = Harness::start(|c| c.max_message_bytes = 4_000).await;
    let events: Vec<Value> = (0..40)
        .map(|_| event("click", json!({"selector": "a".repeat(100)})))
        .collect();
    assert_eq!(h.send(batch(events)).await.json()["processed"], 40);
    let messages = kit::read_messages(&h.kafka, &h.topic, 100, Duration::from_secs(5));
    assert!(messages.len() > 1);
    let total: usize = messages
        .iter()
        .map(|m| {
            assert!(m.payload().unwrap().len() <= 4_000);
            serde_json::from_str::<Value>(kit::payload(m)).unwrap()["events"]
                .as_array()
                .unwrap()
                .len()
        })
        .sum();
    assert_eq!(total, 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_is_aggregated_and_flushed() {
    let h = Harness::start(|_| {}).await;
    for _ in 0..3 {
        assert_eq!(
            h.send(batch(vec![
                event("click", json!({})),
                event("click", json!({}))
            ]))
            .await
            .status,
            200
        );
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (requests, events): (u64, u64) =
            h.ch.client()
                .query("SELECT sum(requests), sum(events) FROM api_key_usage WHERE key_id = ?")
                .bind(h.key_id.to_string())
                .fetch_one()
                .await
                .unwrap();
        if (requests, events) == (3, 6) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "usage not flushed: {requests} {events}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_sdk_with_etag_and_gzip() {
    let h = Harness::start(|_| {}).await;
    let url = format!("{}/friction-tracker.js", h.url);
    let plain = kit::request("GET", &url, &[], "").await;
    assert_eq!(plain.status, 200);
    assert!(plain.header("content-type").unwrap().contains("javascript"));
    assert!(plain.header("cache-control").unwrap().contains("max-age"));
    let etag = plain.header("etag").unwrap().to_owned();
    let zipped = kit::request("GET", &url, &[("accept-encoding", "gzip, br")], "").await;
    assert_eq!(zipped.header("content-encoding"), Some("gzip"));
    assert!(zipped.body.len() < plain.body.len());
    let cached = kit::request("GET", &url, &[("if-none-match", &etag)], "").await;
    assert_eq!(cached.status, 304);
    let vitals = kit::request(
        "GET",
        &format!("{}/friction-tracker.vitals.js", h.url),
        &[],
        "",
    )
    .await;
    assert_eq!(vitals.status, 200);
    assert!(String::from_utf8_lossy(&vitals.body).contains("with vitals"));
    assert_ne!(vitals.header("etag").unwrap(), etag);

    // The versioned URLs: immutable, and only for the version held.
    for (name, body) in [
        ("friction-tracker.js", &plain.body),
        ("friction-tracker.vitals.js", &vitals.body),
    ] {
        let pinned = kit::request("GET", &format!("{}/sdk/9.8.7/{name}", h.url), &[], "").await;
        assert_eq!(pinned.status, 200, "{name}");
        assert_eq!(&pinned.body, body);
        assert_eq!(
            pinned.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        for wrong in ["9.8.6", "..", "9.8.7/x"] {
            let gone = kit::request("GET", &format!("{}/sdk/{wrong}/{name}", h.url), &[], "").await;
            assert_eq!(gone.status, 404, "{wrong}/{name}");
        }
    }
    // The manifest publishes each build's path and SRI hash, which match what is served.
    let manifest = kit::request("GET", &format!("{}/sdk/manifest.json", h.url), &[], "").await;
    assert_eq!(manifest.status, 200);
    let manifest: Value = serde_json::from_slice(&manifest.body).unwrap();
    assert_eq!(manifest["version"], "9.8.7");
    let builds = manifest["builds"].as_array().unwrap();
    assert_eq!(builds.len(), 2);
    for b in builds {
        let path = b["path"].as_str().unwrap();
        let served = kit::request("GET", &format!("{}{path}", h.url), &[], "").await;
        let digest = sha2::Sha384::digest(&served.body);
        let expected = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(digest)
        );
        assert_eq!(b["integrity"], expected.as_str(), "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_readiness_and_metrics() {
    let h = Harness::start(|_| {}).await;
    assert_eq!(
        kit::request("GET", &format!("{}/healthz", h.ops_url), &[], "")
            .await
            .status,
        200
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while kit::request("GET", &format!("{}/readyz", h.ops_url), &[], "")
        .await
        .status
        != 200
    {
        assert!(std::time::Instant::now() < deadline, "never ready");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    h.send(batch(vec![event("click", json!({}))])).await;
    h.post(&[("x-api-key", "fk_unknownunknownunknownunknown")], "{}")
        .await;
    let text = String::from_utf8_lossy(
        &kit::request("GET", &format!("{}/metrics", h.ops_url), &[], "")
            .await
            .body,
    )
    .into_owned();
    for line in [
        "friction_ingest_outcomes_total{outcome=\"ok\",route=\"events\"} 1",
        "friction_ingest_events_total{kind=\"heatmap\"} 1",
        "friction_ingest_http_requests_total{route=\"events\",status=\"200\"} 1",
        "friction_ingest_http_request_duration_seconds_count{route=\"events\"} 2",
        "friction_ingest_kafka_produce_duration_seconds_count 1",
        "friction_ingest_key_cache_requests_total{result=\"miss\"}",
        "friction_ingest_key_lookups_total{result=\"found\"} 1",
        "friction_ingest_build_info{",
        "process_resident_memory_bytes ",
    ] {
        assert!(text.contains(line), "{line} missing:\n{text}");
    }
    assert!(
        text.contains("friction_ingest_http_requests_total{route=\"events\",status=\"401\"} 1")
            || text
                .contains("friction_ingest_http_requests_total{route=\"events\",status=\"400\"} 1"),
        "{text}"
    );
    // The public listener serves only what browsers need, and nothing else cross-origin.
    for path in ["/metrics", "/readyz", "/healthz"] {
        let public = kit::request(
            "GET",
            &format!("{}{path}", h.url),
            &[("origin", "https://evil.example")],
            "",
        )
        .await;
        assert_eq!(public.status, 404, "{path}");
        assert!(
            public.header("access-control-allow-origin").is_none(),
            "{path}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_outage_answers_503_then_recovers() {
    let broker = kit::PrivateBroker::start();
    let h = Harness::start_with(broker.kafka.clone(), |c| c.produce_timeout_ms = 1_500).await;
    let ok = || batch(vec![event("click", json!({}))]);
    assert_eq!(h.send(ok()).await.status, 200);

    broker.freeze();
    let down = h.send(ok()).await;
    assert_eq!(down.header("retry-after"), Some("5"));
    assert_refused(down, 503, "unavailable").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while kit::request("GET", &format!("{}/readyz", h.ops_url), &[], "")
        .await
        .status
        == 200
    {
        assert!(
            std::time::Instant::now() < deadline,
            "still ready with the broker frozen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    broker.thaw();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        if h.send(ok()).await.status == 200 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "ingest did not recover"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_keeps_known_keys_working_and_answers_503_for_unknown() {
    let real = kit::stack().clickhouse().unwrap();
    let proxy = kit::Proxy::start(kit::host_port(&real.clickhouse_url)).await;
    let proxied = format!("http://{}", proxy.addr);
    let h = Harness::start(|c| {
        c.clickhouse.clickhouse_url = proxied;
        c.key_cache_ttl_ms = 200;
    })
    .await;
    let ok = || batch(vec![event("click", json!({}))]);
    assert_eq!(h.send(ok()).await.status, 200);

    proxy.cut();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        h.send(ok()).await.status,
        200,
        "a known key stopped working"
    );
    let stranger = keys::generate();
    let unknown = h.post(&[("x-api-key", &stranger)], ok()).await;
    assert_refused(unknown, 503, "unavailable").await;

    proxy.restore();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_refused(
        h.post(&[("x-api-key", &stranger)], ok()).await,
        401,
        "invalid_api_key",
    )
    .await;
}

#[tokio::test]
async fn a_body_that_never_finishes_is_answered_408_and_nothing_is_written() {
    let h = Harness::start(|c| c.http.body_timeout_ms = 300).await;
    let addr = h.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"events\":[",
        h.key
    );
    tokio::io::AsyncWriteExt::write_all(&mut stream, head.as_bytes())
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        Duration::from_secs(5),
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut answer),
    )
    .await
    .expect("answered and closed")
    .unwrap();
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"error\":\"request_timeout\""), "{answer}");
    assert_eq!(h.messages(), 0);
}
