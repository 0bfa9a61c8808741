//! Recording and screenshot uploads against the real local stack: streamed into the
//! object store, checked, capped, recorded only once stored, and nothing left behind
//! when a client goes away or the store is down.

use std::time::Duration;

use friction_ingest::IngestConfig;
use friction_schema::topics::{BUCKET_RECORDINGS, BUCKET_SCREENSHOTS};
use friction_service::config::ClickHouseConfig;
use friction_service::shutdown::{self, Trigger};
use friction_store::keys::{self, NewKey};
use friction_store::objects::{ObjectStore, S3Config};
use friction_store::recordings;
use friction_testkit::{self as kit, Answer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

const EBML: [u8; 4] = [0x1a, 0x45, 0xdf, 0xa3];
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n";

struct Uploads {
    url: String,
    ch: ClickHouseConfig,
    objects: ObjectStore,
    key: String,
    key_id: Uuid,
    owner: String,
    _stop: Trigger,
}

impl Uploads {
    async fn start(s3: S3Config) -> Uploads {
        let ch = kit::fresh_database().await;
        let owner = kit::unique("owner");
        let (key, row) = keys::create(
            &ch.client(),
            NewKey {
                name: "site".into(),
                owner_id: owner.clone(),
                allowed_domains: vec![],
                rate_limit_per_minute: 1000,
            },
        )
        .await
        .unwrap();
        let mut config = IngestConfig {
            clickhouse: ch.clone(),
            kafka: kit::stack().kafka().unwrap(),
            s3: s3.clone(),
            ..IngestConfig::default()
        };
        config.uploads.part_size_bytes = 5 << 20;
        config.uploads.max_recording_bytes = 20 << 20;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, shutdown) = shutdown::channel();
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::spawn(friction_ingest::run(config, listener, ops, shutdown));
        Uploads {
            url,
            ch,
            objects: ObjectStore::new(&kit::stack().s3().unwrap()).unwrap(),
            key,
            key_id: row.key_id,
            owner,
            _stop: stop,
        }
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        kit::request(
            "POST",
            &format!("{}{path}", self.url),
            &[("x-api-key", &self.key), ("content-type", content_type)],
            body,
        )
        .await
    }

    async fn stored(&self, bucket: &str) -> Vec<String> {
        self.objects
            .list(bucket, &format!("{}/", self.key_id))
            .await
            .unwrap()
    }

    async fn recordings(&self) -> u64 {
        self.ch
            .client()
            .query("SELECT count() FROM session_recordings")
            .fetch_one()
            .await
            .unwrap()
    }
}

fn webm(len: usize) -> Vec<u8> {
    let mut body = EBML.to_vec();
    body.extend((0..len).map(|i| (i * 7 % 251) as u8));
    body
}

/// The recording endpoint for a session that started a minute ago (recordings older
/// than the table's 30-day TTL would vanish at once).
fn recording() -> String {
    let started = friction_schema::now_ms() - 60_000;
    format!("/v1/recordings?session_id=s-1&started_at={started}&duration_ms=42000")
}

/// Sends the head of a request on a raw connection, then `body`; returns the answer.
async fn raw(u: &Uploads, head: &str, body: &[u8]) -> String {
    let addr = u.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let _ = stream.write_all(body).await;
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_larger_than_a_part_is_stored_whole_and_recorded() {
    let u = Uploads::start(kit::stack().s3().unwrap()).await;
    let body = webm(12 << 20);
    let a = u.post(&recording(), "video/webm", body.clone()).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let v = a.json();
    assert_eq!(v["bytes"], body.len() as u64);
    let id = Uuid::try_parse(v["recording_id"].as_str().unwrap()).unwrap();
    let row = recordings::get(&u.ch.client(), id).await.unwrap().unwrap();
    assert_eq!(row.owner_id, u.owner);
    assert_eq!(row.key_id, u.key_id);
    assert_eq!(row.session_id, "s-1");
    assert_eq!(
        (row.size_bytes, row.duration_ms),
        (body.len() as u64, 42_000)
    );
    assert!(row.started_at > friction_schema::now_ms() - 120_000);
    let stored = u
        .objects
        .get(BUCKET_RECORDINGS, &row.object_key)
        .await
        .unwrap();
    assert!(
        stored == body,
        "the stored recording differs from the upload"
    );

    let small = webm(1000);
    let a = u.post(&recording(), "video/webm; codecs=vp9", small).await;
    assert_eq!(a.status, 201);
    assert_eq!(u.stored(BUCKET_RECORDINGS).await.len(), 2);
    // A start time may also be written as RFC 3339.
    let now_s = friction_schema::now_ms() / 1000 - 60;
    let rfc3339 = format!(
        "/v1/recordings?session_id=s-2&started_at={}&duration_ms=5",
        humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + Duration::from_secs(now_s as u64)
        )
    );
    let a = u.post(&rfc3339, "video/webm", webm(10)).await;
    assert_eq!(a.status, 201, "{:?}", a.body);
    let id = Uuid::try_parse(a.json()["recording_id"].as_str().unwrap()).unwrap();
    let row = recordings::get(&u.ch.client(), id).await.unwrap().unwrap();
    assert_eq!(row.started_at, now_s * 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_media_too_large_and_bad_queries_are_refused_and_leave_nothing() {
    let u = Uploads::start(kit::stack().s3().unwrap()).await;
    let rec = recording();
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            &rec,
            "video/webm",
            b"RIFF....WEBPVP8 ".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (&rec, "video/mp4", webm(10), 415, "unsupported_media_type"),
        (
            &rec,
            "video/webm",
            vec![0x1a, 0x45],
            415,
            "unsupported_media_type",
        ),
        (
            "/v1/recordings?started_at=1&duration_ms=1",
            "video/webm",
            webm(10),
            400,
            "invalid_query",
        ),
        (
            "/v1/recordings?session_id=s&started_at=x&duration_ms=1",
            "video/webm",
            webm(10),
            400,
            "invalid_query",
        ),
        (
            "/v1/recordings?session_id=a/b&started_at=1&duration_ms=1",
            "video/webm",
            webm(10),
            400,
            "invalid_query",
        ),
        (
            "/v1/screenshots?event_id=nope&session_id=s",
            "image/png",
            PNG.to_vec(),
            400,
            "invalid_query",
        ),
        (
            "/v1/screenshots?event_id=00000000-0000-0000-0000-000000000001&session_id=s",
            "image/png",
            EBML.to_vec(),
            415,
            "unsupported_media_type",
        ),
    ];
    for (path, content_type, body, status, code) in cases {
        let a = u.post(path, content_type, body).await;
        assert_eq!(a.status, status, "{path} {content_type}: {:?}", a.body);
        assert_eq!(a.json()["error"], code, "{path} {content_type}");
    }
    let nokey = kit::request(
        "POST",
        &format!("{}{rec}", u.url),
        &[("content-type", "video/webm")],
        webm(10),
    )
    .await;
    assert_eq!(nokey.status, 401);

    // Too large by its announced length: refused before the body is read.
    let head = format!(
        "POST {rec} HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\ncontent-type: video/webm\r\ncontent-length: {}\r\n\r\n",
        u.key,
        (20 << 20) + 1
    );
    let answer = raw(&u, &head, &webm(1000)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");

    // Too large without an announced length: chunked, refused once past the cap.
    let head = format!(
        "POST {rec} HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\ncontent-type: video/webm\r\ntransfer-encoding: chunked\r\n\r\n",
        u.key
    );
    let chunk = webm(1 << 20);
    let framed = [
        format!("{:x}\r\n", chunk.len()).into_bytes(),
        chunk,
        b"\r\n".to_vec(),
    ]
    .concat();
    let answer = raw(&u, &head, &framed.repeat(25)).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");

    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(u.stored(BUCKET_RECORDINGS).await, Vec::<String>::new());
    assert_eq!(u.stored(BUCKET_SCREENSHOTS).await, Vec::<String>::new());
    assert_eq!(u.recordings().await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_halfway_leaves_neither_object_nor_row() {
    let u = Uploads::start(kit::stack().s3().unwrap()).await;
    let addr = u.url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let body = webm(12 << 20);
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\ncontent-type: video/webm\r\ncontent-length: {}\r\n\r\n",
        recording(),
        u.key,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // More than a part, so a multipart upload is under way when the client vanishes.
    stream.write_all(&body[..7 << 20]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    drop(stream);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(u.stored(BUCKET_RECORDINGS).await, Vec::<String>::new());
    assert_eq!(u.recordings().await, 0);
    // The upload's slot and buffer were released: the next one goes through.
    assert_eq!(
        u.post(&recording(), "video/webm", webm(100)).await.status,
        201
    );
}

async fn insert_event(ch: &ClickHouseConfig, owner: &str, event_id: Uuid) {
    ch.client()
        .query(
            "INSERT INTO friction_events (event_id, owner_id, key_id, session_id, event_type, \
             timestamp, client_timestamp, received_at, url, path) \
             VALUES (?, ?, generateUUIDv4(), 's-1', 'rage_click', now64(3), now64(3), now64(3), 'https://shop.example.com/', '/')",
        )
        .bind(event_id.to_string())
        .bind(owner)
        .execute()
        .await
        .unwrap();
}

async fn screenshot_url(ch: &ClickHouseConfig, event_id: Uuid) -> String {
    ch.client()
        .query("SELECT screenshot_url FROM friction_events FINAL WHERE event_id = ?")
        .bind(event_id.to_string())
        .fetch_one()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screenshot_shows_on_its_event_whichever_arrives_first() {
    let u = Uploads::start(kit::stack().s3().unwrap()).await;
    let mut png = PNG.to_vec();
    png.extend_from_slice(&[7u8; 5000]);
    let shot = |event_id: Uuid| format!("/v1/screenshots?event_id={event_id}&session_id=s-1");

    let event_first = Uuid::new_v4();
    insert_event(&u.ch, &u.owner, event_first).await;
    assert_eq!(screenshot_url(&u.ch, event_first).await, "");
    assert_eq!(
        u.post(&shot(event_first), "image/png", png.clone())
            .await
            .status,
        201
    );
    let url = screenshot_url(&u.ch, event_first).await;
    let prefix = format!("/friction-screenshots/{}/{event_first}-", u.key_id);
    assert!(url.contains(&prefix) && url.ends_with(".png"), "{url}");

    let screenshot_first = Uuid::new_v4();
    assert_eq!(
        u.post(&shot(screenshot_first), "image/png", png.clone())
            .await
            .status,
        201
    );
    insert_event(&u.ch, &u.owner, screenshot_first).await;
    let url = screenshot_url(&u.ch, screenshot_first).await;
    assert!(url.contains(&format!("{screenshot_first}-")), "{url}");
    let object = url.split("/friction-screenshots/").nth(1).unwrap();
    let stored = u.objects.get(BUCKET_SCREENSHOTS, object).await.unwrap();
    assert!(stored == png);

    // Another owner's event with the same id gets nothing from this owner's upload.
    let elsewhere = Uuid::new_v4();
    insert_event(&u.ch, "someone-else", elsewhere).await;
    assert_eq!(u.post(&shot(elsewhere), "image/png", png).await.status, 201);
    assert_eq!(screenshot_url(&u.ch, elsewhere).await, "");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_outage_answers_503_records_nothing_and_heals() {
    let mut s3 = kit::stack().s3().unwrap();
    let proxy = kit::Proxy::start(kit::host_port(&s3.s3_endpoint)).await;
    s3.s3_endpoint = format!("http://{}", proxy.addr);
    let u = Uploads::start(s3).await;
    proxy.cut();
    let a = u.post(&recording(), "video/webm", webm(1000)).await;
    assert_eq!(a.status, 503, "{:?}", a.body);
    assert_eq!(a.json()["error"], "unavailable");
    assert!(a.header("retry-after").is_some());
    assert_eq!(u.recordings().await, 0);
    proxy.restore();
    assert_eq!(
        u.post(&recording(), "video/webm", webm(1000)).await.status,
        201
    );
    assert_eq!(u.recordings().await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_goes_away_right_after_its_body_leaves_object_and_row_together() {
    let u = Uploads::start(kit::stack().s3().unwrap()).await;
    let addr = u.url.trim_start_matches("http://");
    let body = webm(3 << 20);
    let head = format!(
        "POST {} HTTP/1.1\r\nhost: x\r\nx-api-key: {}\r\ncontent-type: video/webm\r\ncontent-length: {}\r\n\r\n",
        recording(),
        u.key,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    drop(stream);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let objects = u.stored(BUCKET_RECORDINGS).await.len() as u64;
    assert_eq!(
        objects,
        u.recordings().await,
        "an object without its row, or the reverse"
    );
}
