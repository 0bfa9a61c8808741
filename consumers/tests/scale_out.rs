//! The pipeline scaled out on the local stack: two ingest instances take the requests,
//! two consumers share the partitions; stopping one consumer mid-run hands its
//! partitions to the other, and exactly the events ingest accepted arrive, once.

use std::time::{Duration, Instant};

use friction_consumers::ConsumersConfig;
use friction_ingest::IngestConfig;
use friction_service::shutdown;
use friction_store::keys::{self, NewKey};
use friction_testkit as kit;
use serde_json::json;
use uuid::Uuid;

const PARTITIONS: i32 = 4;
const BATCHES: usize = 40;
const PER_BATCH: usize = 25;

async fn assigned(url: &str) -> i64 {
    let text = kit::request("GET", &format!("{url}/metrics"), &[], "")
        .await
        .body;
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("friction_consumers_assigned_partitions "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

async fn wait_until(what: &str, timeout: Duration, mut check: impl std::ops::AsyncFnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn batch(n: usize, now: i64) -> String {
    let events: Vec<_> = (0..PER_BATCH)
        .map(|i| {
            json!({"event_id": Uuid::new_v4().to_string(), "type": "click",
                   "session_id": format!("s-{}", (n * PER_BATCH + i) % 13), "page_view_id": "pv",
                   "timestamp": now, "url": "https://shop.example.com/", "x": i, "y": n})
        })
        .collect();
    json!({ "events": events }).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_ingest_and_two_consumers_share_the_load_and_survive_a_consumer_stopping() {
    let kafka = kit::stack().kafka().unwrap();
    let topic = kit::unique("test.scale");
    let dlq = kit::unique("test.scale-dlq");
    kit::create_topic(&kafka, &topic, PARTITIONS).await;
    kit::create_topic(&kafka, &dlq, 1).await;
    let ch = kit::fresh_database().await;
    let (key, _) = keys::create(
        &ch.client(),
        NewKey {
            name: "scale".into(),
            owner_id: kit::unique("owner"),
            allowed_domains: vec![],
            rate_limit_per_minute: 100_000,
        },
    )
    .await
    .unwrap();

    let mut ingest_urls = Vec::new();
    let mut ingest_stops = Vec::new();
    for _ in 0..2 {
        let config = IngestConfig {
            clickhouse: ch.clone(),
            kafka: kafka.clone(),
            raw_topic: topic.clone(),
            rate_limit_replicas: 2,
            ..IngestConfig::default()
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        ingest_urls.push(format!("http://{}", listener.local_addr().unwrap()));
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (stop, on_stop) = shutdown::channel();
        tokio::spawn(friction_ingest::run(config, listener, ops, on_stop));
        ingest_stops.push(stop);
    }

    let consumers = ConsumersConfig {
        clickhouse: ch.clone(),
        kafka: kafka.clone(),
        raw_topic: topic.clone(),
        dlq_topic: dlq,
        group_id: kit::unique("group"),
        batch_max_rows: 200,
        batch_max_age_ms: 300,
        ..ConsumersConfig::default()
    };
    let mut consumer_urls = Vec::new();
    let mut consumer_stops = Vec::new();
    let mut consumer_tasks = Vec::new();
    for _ in 0..2 {
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        consumer_urls.push(format!("http://{}", ops.local_addr().unwrap()));
        let (stop, on_stop) = shutdown::channel();
        let config = consumers.clone();
        consumer_tasks.push(tokio::spawn(async move {
            friction_consumers::run(config, ops, on_stop).await.unwrap()
        }));
        consumer_stops.push(stop);
    }
    let (a, b) = (consumer_urls[0].clone(), consumer_urls[1].clone());
    wait_until(
        "both consumers own partitions",
        Duration::from_secs(60),
        async || {
            let (x, y) = (assigned(&a).await, assigned(&b).await);
            x > 0 && y > 0 && x + y == i64::from(PARTITIONS)
        },
    )
    .await;

    let now = friction_schema::now_ms();
    let mut accepted = 0;
    for n in 0..BATCHES {
        if n == BATCHES / 2 {
            // One consumer stops mid-run: the other must take its partitions over.
            consumer_stops.remove(0).trigger();
            consumer_tasks.remove(0).await.unwrap();
        }
        let url = &ingest_urls[n % 2];
        let answer = kit::request(
            "POST",
            &format!("{url}/v1/events"),
            &[("x-api-key", &key), ("content-type", "application/json")],
            batch(n, now),
        )
        .await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
        accepted += answer.json()["processed"].as_u64().unwrap();
    }
    assert_eq!(accepted, (BATCHES * PER_BATCH) as u64);
    wait_until(
        "the survivor owns every partition",
        Duration::from_secs(60),
        async || assigned(&b).await == i64::from(PARTITIONS),
    )
    .await;

    let client = ch.client();
    wait_until(
        "every accepted event in ClickHouse",
        Duration::from_secs(90),
        async || kit::event_rows(&client, true).await.1 == accepted,
    )
    .await;
    let (_, plain, _) = kit::event_rows(&client, false).await;
    assert_eq!(
        plain, accepted,
        "rows were written twice across the hand-over"
    );
    consumer_stops.remove(0).trigger();
    consumer_tasks.remove(0).await.unwrap();
}
