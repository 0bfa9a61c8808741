//! The consumers binary against Kafka and ClickHouse reached only over TLS, each verified
//! against an authority the binary is told to trust, configured through the environment.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use friction_schema::envelope::{EnvelopeHeader, ENVELOPE_VERSION};
use friction_testkit::{self as kit, tls::Authority};
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::json;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_read_kafka_and_write_clickhouse_over_verified_tls_only() {
    let authority = Authority::new();
    let (_broker, kafka) = authority.kafka().await;
    let (topic, dlq) = (kit::unique("test.tls"), kit::unique("test.tls-dlq"));
    kit::create_topic(&kafka, &topic, 1).await;
    kit::create_topic(&kafka, &dlq, 1).await;
    let ch = kit::fresh_database().await;
    let clickhouse = authority.https(&ch.clickhouse_url).await;
    let ca = authority.ca_file.display().to_string();

    let now = friction_schema::now_ms();
    let events: Vec<_> = (0..3)
        .map(|i| {
            json!({"event_id": Uuid::new_v4().to_string(), "session_id": "s-tls",
                   "page_view_id": "pv", "timestamp": now - 1000, "type": "rage_click",
                   "url": "https://shop.example.com/", "click_count": 3 + i})
        })
        .collect();
    let body = json!({ "events": events }).to_string();
    let header = EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::new_v4(),
        part: 0,
        owner_id: "owner-tls",
        key_id: Uuid::new_v4(),
        received_at: now,
        client_ip: "198.51.100.0",
        user_agent: "test-agent",
        clock_skew_ms: 0,
    };
    let producer: FutureProducer = kafka.client_config().create().unwrap();
    for payload in kit::envelopes(&body, &header, 1 << 20) {
        producer
            .send(
                FutureRecord::<(), _>::to(&topic).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }

    let _consumers = kit::Running(
        Command::new(env!("CARGO_BIN_EXE_friction-consumers"))
            .env(
                "FRICTION_OPS_LISTEN",
                format!("127.0.0.1:{}", kit::free_port()),
            )
            .env("FRICTION_KAFKA_BROKERS", &kafka.kafka_brokers)
            .env("FRICTION_KAFKA_PROPERTIES__security.protocol", "ssl")
            .env("FRICTION_KAFKA_PROPERTIES__SSL_CA_LOCATION", &ca)
            .env("FRICTION_CLICKHOUSE_URL", &clickhouse)
            .env("FRICTION_CLICKHOUSE_DATABASE", &ch.clickhouse_database)
            .env("FRICTION_RAW_TOPIC", &topic)
            .env("FRICTION_DLQ_TOPIC", &dlq)
            .env("FRICTION_GROUP_ID", kit::unique("group"))
            .env("SSL_CERT_FILE", &ca)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (friction, _, _) = kit::event_rows(&ch.client(), true).await;
        if friction == 3 {
            break;
        }
        assert!(Instant::now() < deadline, "{friction} of 3 rows arrived");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
