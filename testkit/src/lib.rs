//! Test support shared by the integration tests of every crate. Everything here talks to
//! the real services of the local stack (`./dev/up`); nothing is mocked. Each test gets
//! its own database and topics, so tests run in parallel without seeing each other.
//!
//! [`stack`] reads `.dev/stack.env`, the addresses and credentials `./dev/up` wrote;
//! [`tls`] puts TLS with a generated authority in front of those services.

pub mod stack;
pub mod tls;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use friction_schema::rows::table;
use friction_schema::Kind;
use friction_service::config::{ClickHouseConfig, KafkaConfig};
use http_body_util::{BodyExt, Full};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::OwnedMessage;
use rdkafka::{Message, Offset, TopicPartitionList};
use stack::Stack;
use tokio::net::{TcpListener, TcpStream};
use uuid::Uuid;

/// The local stack; panics with a hint when it is not up.
pub fn stack() -> Stack {
    Stack::load().expect("the local stack is up (run ./dev/up)")
}

/// The Kafka messages ingest would write for `body` (an SDK batch) under `header`:
/// validated with the default limits at `header.received_at`, every event valid.
pub fn envelopes(
    body: &str,
    header: &friction_schema::EnvelopeHeader<'_>,
    max_bytes: usize,
) -> Vec<Vec<u8>> {
    use friction_schema::envelope::{self, RawEvent};
    let mut body = body.as_bytes().to_vec();
    let mut parser = friction_schema::Parser::default();
    let limits = friction_schema::Limits::default();
    let validated = parser
        .validate(&mut body, &limits, header.received_at)
        .expect("a batch");
    assert!(validated.rejected.is_empty(), "{:?}", validated.rejected);
    let raw: Vec<RawEvent<'_>> = validated
        .accepted
        .iter()
        .map(|a| RawEvent::of(a, &body))
        .collect();
    let mut out = Vec::new();
    envelope::encode::<()>(header, &raw, max_bytes, &mut Vec::new(), |m| {
        out.push(m.to_vec());
        Ok(())
    })
    .expect("encoding into memory");
    out
}

/// An SDK batch at `now` with events of every kind (pageview, the friction types, clicks,
/// two metrics), each with a fresh `event_id`, in one session on `/page/0`.
pub fn every_kind_batch(now: i64) -> String {
    use serde_json::json;
    let base = |t: &str, offset: i64, extra: serde_json::Value| {
        let mut e = json!({
            "event_id": Uuid::new_v4().to_string(),
            "type": t,
            "session_id": "session-0",
            "page_view_id": "pv-0",
            "timestamp": now - offset,
            "url": "https://shop.example.com/page/0?utm=x",
            "viewport_width": 1280,
            "viewport_height": 800,
        });
        if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
            e.extend(extra.clone());
        }
        e
    };
    json!({"events": [
        base("pageview", 9000, json!({"navigation_type": "load"})),
        base("rage_click", 8000, json!({"click_count": 4, "selector": "button#buy", "x": 100, "y": 200})),
        base("dead_click", 7000, json!({"selector": "span.badge", "x": 10, "y": 20})),
        base("javascript_error", 6000, json!({"message": "TypeError: x", "source": "app.js", "line": 3, "count": 2})),
        base("unhandled_rejection", 5500, json!({"message": "Error: 502"})),
        base("form_validation_error", 5000, json!({"form": "#pay", "field_name": "email", "field_type": "email", "validity": ["typeMismatch"]})),
        base("error_click", 4500, json!({"selector": "button#buy", "element_tag": "button", "message": "TypeError: x"})),
        base("quick_back", 4200, json!({})),
        base("click", 4000, json!({"x": 104, "y": 207, "selector": "button#buy", "element_tag": "button"})),
        base("click", 3000, json!({"x": 33, "y": 44, "selector": "a.nav", "element_tag": "a"})),
        base("loadTime", 2000, json!({"value": 1500.0})),
        base("firstContentfulPaint", 2000, json!({"value": 600.0})),
    ]})
    .to_string()
}

/// A short unique name.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", &Uuid::new_v4().simple().to_string()[..12])
}

/// A freshly migrated database of its own.
pub async fn fresh_database() -> ClickHouseConfig {
    let mut ch = stack().clickhouse().expect("clickhouse in stack.env");
    ch.clickhouse_database = unique("t");
    friction_store::migrations::migrate(
        &ch.server_client(),
        &ch.clickhouse_database,
        friction_store::migrations::Layout::Single,
    )
    .await
    .expect("migrate a test database");
    ch
}

/// Rows in `friction_events`, `heatmap_data` and `page_performance_metrics`: as analysts
/// read them (`FINAL`, each event once) or as stored (every inserted copy).
pub async fn event_rows(client: &clickhouse::Client, as_analysts_read: bool) -> (u64, u64, u64) {
    let modifier = if as_analysts_read { " FINAL" } else { "" };
    let mut counts = [0u64; 3];
    for (count, kind) in counts.iter_mut().zip(Kind::ALL) {
        *count = client
            .query(&format!("SELECT count() FROM {}{modifier}", table(kind)))
            .fetch_one()
            .await
            .unwrap_or(0);
    }
    (counts[0], counts[1], counts[2])
}

/// Creates a topic with `partitions` partitions on the broker of `kafka`.
pub async fn create_topic(kafka: &KafkaConfig, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> = kafka.client_config().create().unwrap();
    let topic = NewTopic::new(name, partitions, TopicReplication::Fixed(1));
    let results = admin
        .create_topics(
            [&topic],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(20))),
        )
        .await
        .expect("create topic");
    for r in results {
        r.expect("topic created");
    }
}

/// A fresh topic on the stack's broker.
pub async fn fresh_topic(partitions: i32) -> String {
    let name = unique("test.events");
    create_topic(&stack().kafka().unwrap(), &name, partitions).await;
    name
}

/// Sum of high watermarks over the topic's partitions: messages ever written.
pub fn messages_in(kafka: &KafkaConfig, topic: &str) -> i64 {
    let consumer: BaseConsumer = kafka.client_config().create().unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let partitions = metadata.topics()[0].partitions().len() as i32;
    (0..partitions)
        .map(|p| {
            consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .sum()
}

/// Reads every message of the topic from the beginning until `count` arrived or
/// `timeout` passed.
pub fn read_messages(
    kafka: &KafkaConfig,
    topic: &str,
    count: usize,
    timeout: Duration,
) -> Vec<OwnedMessage> {
    let consumer: BaseConsumer = kafka
        .client_config()
        .set("group.id", unique("reader"))
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap();
    let mut list = TopicPartitionList::new();
    for p in metadata.topics()[0].partitions() {
        list.add_partition_offset(topic, p.id(), Offset::Beginning)
            .unwrap();
    }
    consumer.assign(&list).unwrap();
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < count && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            out.push(m.detach());
        }
    }
    out
}

/// Payload of a message as text.
pub fn payload(m: &OwnedMessage) -> &str {
    std::str::from_utf8(m.payload().unwrap_or_default()).unwrap()
}

/// A Kafka-protocol broker of its own (the stack's broker binary on another port), for
/// tests that stop, freeze or kill the broker.
pub struct PrivateBroker {
    child: Child,
    /// Its address.
    pub kafka: KafkaConfig,
}

impl PrivateBroker {
    /// Starts a broker and waits for it to listen.
    pub fn start() -> PrivateBroker {
        let port = free_port();
        Self::advertising(port, port)
    }

    /// Starts a broker listening on `port` that tells clients to connect to
    /// `advertised_port` (a proxy in front of it), and waits for it to listen.
    pub fn advertising(port: u16, advertised_port: u16) -> PrivateBroker {
        let bin = stack()
            .get("KAFKA_BROKER_BIN")
            .expect("KAFKA_BROKER_BIN in stack.env")
            .to_owned();
        let url = format!("tcp://127.0.0.1:{port}");
        let advertised = format!("tcp://127.0.0.1:{advertised_port}");
        let child = Command::new(bin)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &advertised,
            ])
            .args(["--storage-engine", "memory://tansu/"])
            .env_remove("LISTENER_URL")
            .env_remove("ADVERTISED_LISTENER_URL")
            .env_remove("STORAGE_ENGINE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start private broker");
        wait_for_port(port);
        PrivateBroker {
            child,
            kafka: KafkaConfig {
                kafka_brokers: format!("127.0.0.1:{advertised_port}"),
                ..KafkaConfig::default()
            },
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success(), "kill {signal}");
    }

    /// Freezes the broker (SIGSTOP): connections stay open, nothing answers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// Resumes a frozen broker.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }
}

impl Drop for PrivateBroker {
    fn drop(&mut self) {
        self.signal("-CONT");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A child process killed (and reaped) when the test lets go of it, pass or fail.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 20 s) until something listens on loopback `port`.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "port {port} did not open");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP proxy in front of a real service that a test can cut and restore, to make
/// that service unreachable without touching the shared instance.
pub struct Proxy {
    /// Address to give the client under test.
    pub addr: SocketAddr,
    up: Arc<AtomicBool>,
}

impl Proxy {
    /// Proxies to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let up = Arc::new(AtomicBool::new(true));
        let flag = up.clone();
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue;
                }
                let upstream = upstream.clone();
                let flag = flag.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    // Copy until either side closes or the proxy is cut.
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = async {
                            while flag.load(Ordering::SeqCst) {
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        } => {}
                    }
                });
            }
        });
        Proxy { addr, up }
    }

    /// Cuts every connection and refuses new ones (they are closed at once).
    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// The host:port of an `http://host:port` URL.
pub fn host_port(url: &str) -> String {
    url.trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

/// A plain HTTP/1.1 answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: http::HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {:?}", self.body))
    }

    /// A header as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Answer {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<Bytes>>();
    let mut builder = http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let response = client
        .request(builder.body(Full::new(body.into())).unwrap())
        .await
        .expect("request sent");
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

/// Checks the command line every service binary shares: `--help` explains the
/// configuration and exit codes, `--version` names the project version, and
/// `--check-config` exits 78 naming a bad variable, without starting anything.
pub fn check_service_command_line(binary: &str, name: &str) {
    let run = |args: &[&str], env: &[(&str, &str)]| {
        Command::new(binary)
            .args(args)
            .envs(env.iter().copied())
            .output()
            .expect("the binary runs")
    };
    let help = run(&["--help"], &[]);
    let text = String::from_utf8_lossy(&help.stdout);
    assert!(help.status.success(), "{name} --help failed");
    assert!(
        text.contains("FRICTION_") && text.contains("--check-config") && text.contains("78"),
        "{text}"
    );
    let version = run(&["--version"], &[]);
    let text = String::from_utf8_lossy(&version.stdout);
    assert!(
        text.starts_with(&format!("{name} {}", friction_service::cli::VERSION)),
        "{text}"
    );
    let bad = run(
        &["--check-config"],
        &[("FRICTION_HTTP__MAX_CONNECTIONS", "0")],
    );
    assert_eq!(bad.status.code(), Some(78), "{name} accepted a bad config");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("FRICTION_HTTP__MAX_CONNECTIONS"));
    let stray = run(&["--check-config"], &[("FRICTION_NO_SUCH_SETTING", "1")]);
    assert_eq!(stray.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&stray.stderr).contains("FRICTION_NO_SUCH_SETTING"));
    let unknown_flag = run(&["--listen", "0.0.0.0:1"], &[]);
    assert_eq!(
        unknown_flag.status.code(),
        Some(2),
        "{name} started on a bad argument"
    );
}
