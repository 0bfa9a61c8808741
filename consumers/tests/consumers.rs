//! Consumers against the real broker and ClickHouse engine of the local stack. Each test
//! has its own topics, consumer group and database.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use friction_consumers::ConsumersConfig;
use friction_schema::envelope::{EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::topics::DLQ_REASON_HEADER;
use friction_service::config::{ClickHouseConfig, KafkaConfig};
use friction_service::shutdown::{self, Trigger};
use friction_testkit as kit;
use rdkafka::message::Headers;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::Message;
use serde_json::{json, Value};
use uuid::Uuid;

/// Waits until the instances own `partitions` partitions together, each at least one:
/// the group has settled.
async fn wait_assigned(urls: &[&str], partitions: i64) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut owned = Vec::new();
        for url in urls {
            let text = kit::request("GET", &format!("{url}/metrics"), &[], "")
                .await
                .body;
            let text = String::from_utf8_lossy(&text).into_owned();
            let n = text
                .lines()
                .find_map(|l| l.strip_prefix("friction_consumers_assigned_partitions "))
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0);
            owned.push(n);
        }
        if owned.iter().sum::<i64>() == partitions && owned.iter().all(|n| *n > 0) {
            return;
        }
        assert!(Instant::now() < deadline, "group did not settle: {owned:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

struct Setup {
    kafka: KafkaConfig,
    ch: ClickHouseConfig,
    topic: String,
    dlq: String,
    group: String,
}

impl Setup {
    async fn new(partitions: i32) -> Setup {
        let kafka = kit::stack().kafka().unwrap();
        let topic = kit::unique("test.raw");
        let dlq = kit::unique("test.dlq");
        kit::create_topic(&kafka, &topic, partitions).await;
        kit::create_topic(&kafka, &dlq, 1).await;
        Setup {
            kafka,
            ch: kit::fresh_database().await,
            topic,
            dlq,
            group: kit::unique("group"),
        }
    }

    fn config(&self) -> ConsumersConfig {
        ConsumersConfig {
            clickhouse: self.ch.clone(),
            kafka: self.kafka.clone(),
            raw_topic: self.topic.clone(),
            dlq_topic: self.dlq.clone(),
            group_id: self.group.clone(),
            batch_max_rows: 200,
            batch_max_age_ms: 200,
            retry_initial_ms: 100,
            retry_max_ms: 1_000,
            ..ConsumersConfig::default()
        }
    }

    /// Starts an instance in this process; returns its ops URL and its stop trigger.
    async fn start(
        &self,
        config: ConsumersConfig,
    ) -> (String, Trigger, tokio::task::JoinHandle<()>) {
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", ops.local_addr().unwrap());
        let (trigger, shutdown) = shutdown::channel();
        let task = tokio::spawn(async move {
            friction_consumers::run(config, ops, shutdown)
                .await
                .unwrap();
        });
        (url, trigger, task)
    }

    /// Starts the real binary, configured through the environment like in production.
    fn spawn_binary(&self) -> Child {
        Command::new(env!("CARGO_BIN_EXE_friction-consumers"))
            .env(
                "FRICTION_OPS_LISTEN",
                format!("127.0.0.1:{}", kit::free_port()),
            )
            .env("FRICTION_KAFKA_BROKERS", &self.kafka.kafka_brokers)
            .env("FRICTION_CLICKHOUSE_URL", &self.ch.clickhouse_url)
            .env("FRICTION_CLICKHOUSE_DATABASE", &self.ch.clickhouse_database)
            .env("FRICTION_RAW_TOPIC", &self.topic)
            .env("FRICTION_DLQ_TOPIC", &self.dlq)
            .env("FRICTION_GROUP_ID", &self.group)
            .env("FRICTION_BATCH_MAX_ROWS", "50")
            .env("FRICTION_BATCH_MAX_AGE_MS", "100")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// Produces `messages` raw batches of `per_message` events (kinds mixed) through the
    /// shared validation and envelope code; returns every event id.
    async fn produce(&self, messages: usize, per_message: usize) -> Vec<Uuid> {
        let producer: FutureProducer = self.kafka.client_config().create().unwrap();
        let now = friction_schema::now_ms();
        let mut ids = Vec::new();
        for m in 0..messages {
            let wire: Vec<Value> = (0..per_message)
                .map(|i| {
                    let id = Uuid::new_v4();
                    ids.push(id);
                    wire_event(id, m * per_message + i, now)
                })
                .collect();
            let body = json!({ "events": wire }).to_string();
            let header = EnvelopeHeader {
                v: ENVELOPE_VERSION,
                batch_id: Uuid::new_v4(),
                part: 0,
                owner_id: "owner-t",
                key_id: Uuid::from_u128(42),
                received_at: now,
                client_ip: "198.51.100.0",
                user_agent: "test-agent",
                clock_skew_ms: 0,
            };
            for p in kit::envelopes(&body, &header, 1 << 20) {
                let key = format!("session-{}", m % 7);
                producer
                    .send(
                        FutureRecord::to(&self.topic).key(&key).payload(&p),
                        Duration::from_secs(10),
                    )
                    .await
                    .unwrap();
            }
        }
        ids
    }

    async fn produce_raw(&self, payload: &[u8]) {
        let producer: FutureProducer = self.kafka.client_config().create().unwrap();
        producer
            .send(
                FutureRecord::<(), _>::to(&self.topic).payload(payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }

    /// Distinct events as analysts read them (FINAL), over the three tables.
    async fn visible(&self) -> (u64, u64, u64) {
        let client = self.ch.client();
        let mut counts = [0u64; 3];
        for (i, t) in [
            "friction_events",
            "heatmap_data",
            "page_performance_metrics",
        ]
        .iter()
        .enumerate()
        {
            counts[i] = client
                .query(&format!("SELECT count() FROM {t} FINAL"))
                .fetch_one()
                .await
                .unwrap();
        }
        (counts[0], counts[1], counts[2])
    }

    async fn wait_for_total(&self, total: u64, timeout: Duration) -> (u64, u64, u64) {
        let deadline = Instant::now() + timeout;
        loop {
            let c = self.visible().await;
            if c.0 + c.1 + c.2 >= total || Instant::now() > deadline {
                return c;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
}

/// Event `n` of a run: kinds rotate so every table gets rows.
fn wire_event(id: Uuid, n: usize, now: i64) -> Value {
    let common = json!({
        "event_id": id.to_string(),
        "session_id": format!("session-{}", n % 7),
        "page_view_id": "pv-1",
        "timestamp": now - 1000,
        "url": format!("https://shop.example.com/page/{}?q=1", n % 5),
    });
    let mut e = common.as_object().unwrap().clone();
    let extra = match n % 3 {
        0 => {
            json!({"type": "rage_click", "click_count": 3 + (n % 4), "selector": "button#buy", "x": 10, "y": 20})
        }
        1 => json!({"type": "click", "x": n, "y": 7, "selector": "a.nav", "element_tag": "a"}),
        _ => json!({"type": "loadTime", "value": 100.0 + n as f64}),
    };
    e.extend(extra.as_object().unwrap().clone());
    Value::Object(e)
}

fn expected(n: usize) -> (u64, u64, u64) {
    let friction = (0..n).filter(|i| i % 3 == 0).count() as u64;
    let heatmap = (0..n).filter(|i| i % 3 == 1).count() as u64;
    (friction, heatmap, n as u64 - friction - heatmap)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_events_become_exactly_n_rows_with_their_values() {
    let s = Setup::new(3).await;
    let ids = s.produce(30, 10).await;
    let (url, stop, task) = s.start(s.config()).await;
    let counts = s.wait_for_total(300, Duration::from_secs(60)).await;
    assert_eq!(counts, expected(300));
    let client = s.ch.client();
    let plain: u64 = client
        .query("SELECT count() FROM friction_events")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(plain, counts.0, "duplicates in a clean run");
    let stored: HashSet<String> = client
        .query("SELECT toString(event_id) FROM (SELECT event_id FROM friction_events UNION ALL SELECT event_id FROM heatmap_data UNION ALL SELECT event_id FROM page_performance_metrics)")
        .fetch_all::<String>()
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(stored, ids.iter().map(Uuid::to_string).collect());
    let (path, key_id, owner, clicks): (String, String, String, u32) = client
        .query("SELECT path, toString(key_id), owner_id, click_count FROM friction_events WHERE event_id = ?")
        .bind(ids[0].to_string())
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(
        (path.as_str(), owner.as_str(), clicks),
        ("/page/0", "owner-t", 3)
    );
    assert_eq!(key_id, Uuid::from_u128(42).to_string());
    let value: f64 = client
        .query("SELECT value FROM page_performance_metrics WHERE event_id = ?")
        .bind(ids[2].to_string())
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(value, 102.0);

    // Every partition reports its lag, and it drains to zero.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let text = String::from_utf8_lossy(
            &kit::request("GET", &format!("{url}/metrics"), &[], "")
                .await
                .body,
        )
        .into_owned();
        let drained = (0..3).all(|p| {
            text.contains(&format!(
                "friction_consumers_lag_messages{{partition=\"{p}\"}} 0"
            ))
        });
        if drained {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lag not reported as drained: {text}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.trigger();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_split_partitions_and_write_exactly_n() {
    let s = Setup::new(4).await;
    let (a_url, a_stop, a_task) = s.start(s.config()).await;
    let (b_url, b_stop, b_task) = s.start(s.config()).await;
    wait_assigned(&[&a_url, &b_url], 4).await;
    s.produce(40, 10).await;
    let counts = s.wait_for_total(400, Duration::from_secs(60)).await;
    assert_eq!(counts, expected(400));
    for url in [&a_url, &b_url] {
        let text = String::from_utf8_lossy(
            &kit::request("GET", &format!("{url}/metrics"), &[], "")
                .await
                .body,
        )
        .into_owned();
        let read: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("friction_consumers_messages_total "))
            .unwrap()
            .parse()
            .unwrap();
        assert!(read > 0, "an instance got no partition: {text}");
    }
    a_stop.trigger();
    b_stop.trigger();
    a_task.await.unwrap();
    b_task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_after_a_crash_is_invisible_to_analysts() {
    let s = Setup::new(3).await;
    s.produce(60, 10).await;
    // Kill -9 the real binary repeatedly while it consumes: some batches are inserted
    // and not committed, and get delivered again to the next process.
    for round in 0..4 {
        let mut child = s.spawn_binary();
        tokio::time::sleep(Duration::from_millis(2500 + round * 700)).await;
        child.kill().unwrap();
        child.wait().unwrap();
    }
    let mut child = s.spawn_binary();
    let counts = s.wait_for_total(600, Duration::from_secs(90)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(s.visible().await, expected(600), "after {counts:?}");
    child.kill().unwrap();
    child.wait().unwrap();

    // A consumer group starting over from the beginning re-inserts everything; analysts
    // still read each event once.
    let again = Setup {
        group: kit::unique("group"),
        ..s
    };
    let (_url, stop, task) = again.start(again.config()).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let plain: u64 = again
            .ch
            .client()
            .query("SELECT count() FROM heatmap_data")
            .fetch_one()
            .await
            .unwrap();
        if plain >= 2 * expected(600).1 || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(again.visible().await, expected(600));
    stop.trigger();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_pauses_and_recovers_without_loss() {
    let s = Setup::new(2).await;
    let proxy = kit::Proxy::start(kit::host_port(&s.ch.clickhouse_url)).await;
    let mut config = s.config();
    config.clickhouse.clickhouse_url = format!("http://{}", proxy.addr);
    let (url, stop, task) = s.start(config).await;
    s.produce(10, 10).await;
    assert_eq!(
        s.wait_for_total(100, Duration::from_secs(60)).await,
        expected(100)
    );

    proxy.cut();
    let more = s.produce(20, 10).await;
    assert_eq!(more.len(), 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kit::request("GET", &format!("{url}/readyz"), &[], "")
        .await
        .status
        == 200
    {
        assert!(
            Instant::now() < deadline,
            "still ready while ClickHouse is unreachable"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    proxy.restore();
    let (first, second) = (expected(100), expected(200));
    let both = (first.0 + second.0, first.1 + second.1, first.2 + second.2);
    assert_eq!(s.wait_for_total(300, Duration::from_secs(60)).await, both);
    let deadline = Instant::now() + Duration::from_secs(30);
    while kit::request("GET", &format!("{url}/readyz"), &[], "")
        .await
        .status
        != 200
    {
        assert!(
            Instant::now() < deadline,
            "not ready again after ClickHouse came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = String::from_utf8_lossy(
        &kit::request("GET", &format!("{url}/metrics"), &[], "")
            .await
            .body,
    )
    .into_owned();
    assert!(
        !metrics.contains("friction_consumers_insert_retries_total 0"),
        "{metrics}"
    );
    stop.trigger();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_messages_go_to_the_dlq_and_the_partition_keeps_flowing() {
    let s = Setup::new(1).await;
    s.produce(2, 3).await;
    s.produce_raw(b"{definitely not an envelope").await;
    s.produce(2, 3).await;
    let (_url, stop, task) = s.start(s.config()).await;
    let (f, h, p) = expected(6);
    assert_eq!(
        s.wait_for_total(12, Duration::from_secs(60)).await,
        (2 * f, 2 * h, 2 * p)
    );
    let letters = kit::read_messages(&s.kafka, &s.dlq, 1, Duration::from_secs(30));
    assert_eq!(letters.len(), 1);
    let headers = letters[0].headers().unwrap();
    let reason = headers.iter().find(|h| h.key == DLQ_REASON_HEADER).unwrap();
    assert_eq!(reason.value, Some(&b"invalid_json"[..]));
    assert_eq!(
        letters[0].payload(),
        Some(&b"{definitely not an envelope"[..])
    );
    stop.trigger();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_writes_and_commits_the_batch_before_giving_partitions_up() {
    let s = Setup::new(4).await;
    // Batches that only revocation (or shutdown) can end within the test.
    let config = ConsumersConfig {
        batch_max_rows: 1_000_000,
        batch_max_age_ms: 600_000,
        batch_min_interval_ms: 600_000,
        ..s.config()
    };
    let (a_url, a_stop, a_task) = s.start(config.clone()).await;
    wait_assigned(&[&a_url], 4).await;
    s.produce(20, 10).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        s.visible().await,
        (0, 0, 0),
        "the batch was written before any revocation"
    );

    // A second instance joins: the first loses partitions and must write and commit
    // what it holds first, so the newcomer does not read those messages again.
    let (_b, b_stop, b_task) = s.start(config).await;
    let counts = s.wait_for_total(200, Duration::from_secs(60)).await;
    assert_eq!(counts, expected(200));
    let (f, h, p) = kit::event_rows(&s.ch.client(), false).await;
    let plain = f + h + p;
    assert_eq!(
        plain, 200,
        "messages were consumed twice across the rebalance"
    );
    a_stop.trigger();
    b_stop.trigger();
    a_task.await.unwrap();
    b_task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_handed_out_again_by_a_new_broker_do_not_drop_new_rows() {
    // A broker that lost its data (or a recreated topic) starts offsets at 0 again; the
    // same offsets must not make ClickHouse drop new rows as duplicates of old ones.
    let mut s = Setup::new(1).await;
    for round in 1..=2u64 {
        let broker = kit::PrivateBroker::start();
        kit::create_topic(&broker.kafka, &s.topic, 1).await;
        kit::create_topic(&broker.kafka, &s.dlq, 1).await;
        s.kafka = broker.kafka.clone();
        s.produce(1, 3).await;
        let (_url, stop, task) = s.start(s.config()).await;
        let (f, h, p) = expected(3);
        let want = (f * round, h * round, p * round);
        assert_eq!(
            s.wait_for_total(3 * round, Duration::from_secs(60)).await,
            want,
            "round {round}"
        );
        stop.trigger();
        task.await.unwrap();
    }
}
