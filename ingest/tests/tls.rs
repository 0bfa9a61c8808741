//! The ingest binary deployed as against managed services: Kafka, ClickHouse and object
//! storage reached only over TLS, each verified against a certificate authority the
//! binary is told to trust (`ssl.ca.location` for Kafka, `SSL_CERT_FILE` for the HTTPS
//! clients), configured through the environment alone.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use friction_store::keys::{self, NewKey};
use friction_store::objects::ObjectStore;
use friction_testkit::{self as kit, tls::Authority};
use serde_json::Value;

fn example_batch() -> String {
    let doc = include_str!("../../docs/events.md");
    let start = doc.find("```json\n").unwrap() + 8;
    let end = start + doc[start..].find("```").unwrap();
    let mut batch: Value = serde_json::from_str(&doc[start..end]).unwrap();
    let now = friction_schema::now_ms();
    let offset = now - batch["sent_at"].as_i64().unwrap();
    batch["sent_at"] = now.into();
    for event in batch["events"].as_array_mut().unwrap() {
        event["timestamp"] = (event["timestamp"].as_i64().unwrap() + offset).into();
        event["event_id"] = uuid::Uuid::new_v4().to_string().into();
    }
    batch.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_reaches_kafka_clickhouse_and_s3_over_verified_tls_only() {
    let authority = Authority::new();
    let (_broker, kafka) = authority.kafka().await;
    let topic = kit::unique("test.tls");
    kit::create_topic(&kafka, &topic, 1).await;
    let ch = kit::fresh_database().await;
    let (key, row) = keys::create(
        &ch.client(),
        NewKey {
            name: "tls".into(),
            owner_id: kit::unique("owner"),
            allowed_domains: vec![],
            rate_limit_per_minute: 1000,
        },
    )
    .await
    .unwrap();
    let clickhouse = authority.https(&ch.clickhouse_url).await;
    let s3 = kit::stack().s3().unwrap();
    let s3_https = authority.https(&s3.s3_endpoint).await;

    // A client that does not trust the authority is refused: verification is on.
    let untrusting = ch.clone();
    let untrusting = friction_service::config::ClickHouseConfig {
        clickhouse_url: clickhouse.clone(),
        ..untrusting
    };
    assert!(untrusting
        .client()
        .query("SELECT 1")
        .fetch_one::<u8>()
        .await
        .is_err());

    let port = kit::free_port();
    let ops_port = kit::free_port();
    let ca = authority.ca_file.display().to_string();
    let _ingest = kit::Running(
        Command::new(env!("CARGO_BIN_EXE_friction-ingest"))
            .env("FRICTION_LISTEN", format!("127.0.0.1:{port}"))
            .env("FRICTION_OPS_LISTEN", format!("127.0.0.1:{ops_port}"))
            .env("FRICTION_KAFKA_BROKERS", &kafka.kafka_brokers)
            // Both spellings of a librdkafka property.
            .env("FRICTION_KAFKA_PROPERTIES__SECURITY_PROTOCOL", "SSL")
            .env("FRICTION_KAFKA_PROPERTIES__ssl.ca.location", &ca)
            .env("FRICTION_CLICKHOUSE_URL", &clickhouse)
            .env("FRICTION_CLICKHOUSE_DATABASE", &ch.clickhouse_database)
            .env("FRICTION_S3_ENDPOINT", &s3_https)
            .env("FRICTION_S3_REGION", &s3.s3_region)
            .env("FRICTION_S3_ACCESS_KEY", &s3.s3_access_key)
            .env("FRICTION_S3_SECRET_KEY", &s3.s3_secret_key)
            .env("FRICTION_RAW_TOPIC", &topic)
            .env("SSL_CERT_FILE", &ca)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );

    kit::wait_for_port(ops_port);
    let ready = format!("http://127.0.0.1:{ops_port}/readyz");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = kit::request("GET", &ready, &[], "").await;
        if answer.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "never ready: {:?}", answer.body);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let url = format!("http://127.0.0.1:{port}");
    let sent = kit::request(
        "POST",
        &format!("{url}/v1/events"),
        &[("x-api-key", &key), ("content-type", "application/json")],
        example_batch(),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.body);
    assert_eq!(sent.json()["processed"], 11);
    let messages = kit::read_messages(&kafka, &topic, 1, Duration::from_secs(30));
    assert_eq!(messages.len(), 1);

    let event_id = uuid::Uuid::new_v4();
    let shot = kit::request(
        "POST",
        &format!("{url}/v1/screenshots?event_id={event_id}&session_id=s-tls"),
        &[("x-api-key", &key), ("content-type", "image/png")],
        b"\x89PNG\r\n\x1a\n-over-tls".to_vec(),
    )
    .await;
    assert_eq!(shot.status, 201, "{:?}", shot.body);
    let stored = ObjectStore::new(&s3)
        .unwrap()
        .list(
            friction_schema::topics::BUCKET_SCREENSHOTS,
            &format!("{}/", row.key_id),
        )
        .await
        .unwrap();
    assert_eq!(stored.len(), 1, "{stored:?}");
}
