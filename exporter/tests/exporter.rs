//! The exporter against the real stack (broker, engine, object store) and the real
//! wkhtmltopdf: every report from seeded rows, read back with `pdftotext`; an empty period;
//! a redelivered job; an object-store outage that fails a job with its reason and heals.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use friction_exporter::filter::civil;
use friction_exporter::ExporterConfig;
use friction_schema::export::JobMessage;
use friction_schema::topics::BUCKET_EXPORTS;
use friction_service::config::{ClickHouseConfig, KafkaConfig};
use friction_service::shutdown::{self, Trigger};
use friction_store::exports::{self, ExportJobRow};
use friction_store::objects::{ObjectStore, S3Config};
use friction_testkit as kit;
use rdkafka::producer::{FutureProducer, FutureRecord};
use serde_json::{json, Value};
use uuid::Uuid;

struct Setup {
    ch: ClickHouseConfig,
    kafka: KafkaConfig,
    topic: String,
    owner: String,
    /// Ten days ago, when every seeded row happened.
    day: String,
    /// The exporter's ops endpoints.
    ops_url: String,
    _stop: Trigger,
}

const DESKTOP_UA: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36";
const MOBILE_UA: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";

impl Setup {
    async fn start(s3: S3Config) -> Setup {
        let ch = kit::fresh_database().await;
        let kafka = kit::stack().kafka().unwrap();
        let topic = kit::unique("test.exports");
        kit::create_topic(&kafka, &topic, 1).await;
        let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let ops_url = format!("http://{}", ops.local_addr().unwrap());
        let (stop, shutdown) = shutdown::channel();
        let config = ExporterConfig {
            clickhouse: ch.clone(),
            kafka: kafka.clone(),
            s3,
            exports_topic: topic.clone(),
            group_id: kit::unique("exporter"),
            max_attempts: 2,
            retry_initial_ms: 100,
            retry_max_ms: 300,
            ..ExporterConfig::default()
        };
        tokio::spawn(async move { friction_exporter::run(config, ops, shutdown).await.unwrap() });
        let now_day = friction_schema::now_ms().div_euclid(86_400_000);
        Setup {
            ch,
            kafka,
            topic,
            owner: Uuid::new_v4().to_string(),
            day: civil(now_day - 10),
            ops_url,
            _stop: stop,
        }
    }

    /// Three visits: a desktop one through checkout with rage clicks there, two mobile
    /// ones that stop earlier; dead clicks, an error and load times along the way.
    async fn seed(&self) {
        let client = self.ch.client();
        let at = |minute: u32| format!("{} 10:{minute:02}:00", self.day);
        let views = [
            ("s1", "pv1a", "/home", 0, 1280, DESKTOP_UA),
            ("s1", "pv1b", "/product", 1, 1280, DESKTOP_UA),
            ("s1", "pv1c", "/checkout", 2, 1280, DESKTOP_UA),
            ("s2", "pv2a", "/home", 3, 390, MOBILE_UA),
            ("s2", "pv2b", "/product", 4, 390, MOBILE_UA),
            ("s3", "pv3a", "/home", 5, 390, MOBILE_UA),
        ];
        for (session, view, path, minute, width, ua) in views {
            client
                .query(
                    "INSERT INTO heatmap_data (event_id, owner_id, key_id, session_id, page_view_id, event_type, \
                     timestamp, client_timestamp, received_at, url, host, path, viewport_width, user_agent) \
                     VALUES (generateUUIDv4(), ?, generateUUIDv4(), ?, ?, 'pageview', ?, ?, ?, ?, 'shop.example.com', ?, ?, ?)",
                )
                .bind(&self.owner)
                .bind(session)
                .bind(view)
                .bind(at(minute))
                .bind(at(minute))
                .bind(at(minute))
                .bind(format!("https://shop.example.com{path}"))
                .bind(path)
                .bind(width)
                .bind(ua)
                .execute()
                .await
                .unwrap();
        }
        let friction = [
            (
                "pv1c",
                "/checkout",
                "rage_click",
                "button#pay",
                "",
                1280,
                DESKTOP_UA,
            ),
            (
                "pv1c",
                "/checkout",
                "rage_click",
                "button#pay",
                "",
                1280,
                DESKTOP_UA,
            ),
            (
                "pv1c",
                "/checkout",
                "rage_click",
                "button#pay",
                "",
                1280,
                DESKTOP_UA,
            ),
            (
                "pv1c",
                "/checkout",
                "rage_click",
                "button#pay",
                "",
                1280,
                DESKTOP_UA,
            ),
            (
                "pv2b",
                "/product",
                "dead_click",
                "img.hero",
                "",
                390,
                MOBILE_UA,
            ),
            (
                "pv2b",
                "/product",
                "dead_click",
                "img.hero",
                "",
                390,
                MOBILE_UA,
            ),
            (
                "pv3a",
                "/home",
                "javascript_error",
                "",
                "TypeError: boom is undefined",
                390,
                MOBILE_UA,
            ),
        ];
        for (i, (view, path, kind, selector, message, width, ua)) in
            friction.into_iter().enumerate()
        {
            client
                .query(
                    "INSERT INTO friction_events (event_id, owner_id, key_id, session_id, page_view_id, event_type, \
                     timestamp, client_timestamp, received_at, url, host, path, selector, error_message, error_count, \
                     viewport_width, user_agent) \
                     VALUES (generateUUIDv4(), ?, generateUUIDv4(), 's', ?, ?, ?, ?, ?, ?, 'shop.example.com', ?, ?, ?, ?, ?, ?)",
                )
                .bind(&self.owner)
                .bind(view)
                .bind(kind)
                .bind(at(i as u32 + 10))
                .bind(at(i as u32 + 10))
                .bind(at(i as u32 + 10))
                .bind(format!("https://shop.example.com{path}"))
                .bind(path)
                .bind(selector)
                .bind(message)
                .bind(if message.is_empty() { 0u32 } else { 3 })
                .bind(width)
                .bind(ua)
                .execute()
                .await
                .unwrap();
        }
        for (i, value) in [100.0f64, 200.0, 300.0, 400.0].into_iter().enumerate() {
            client
                .query(
                    "INSERT INTO page_performance_metrics (event_id, owner_id, key_id, session_id, page_view_id, \
                     metric_name, value, timestamp, client_timestamp, received_at, url, host, path, viewport_width, user_agent) \
                     VALUES (generateUUIDv4(), ?, generateUUIDv4(), 's1', 'pv1a', 'loadTime', ?, ?, ?, ?, \
                     'https://shop.example.com/home', 'shop.example.com', '/home', 1280, ?)",
                )
                .bind(&self.owner)
                .bind(value)
                .bind(at(i as u32 + 30))
                .bind(at(i as u32 + 30))
                .bind(at(i as u32 + 30))
                .bind(DESKTOP_UA)
                .execute()
                .await
                .unwrap();
        }
    }

    /// Writes a pending job for `params` and queues it, as the admin service does.
    async fn request(&self, params: Value) -> Uuid {
        let report = params["report_type"].as_str().unwrap().to_owned();
        let mut job = ExportJobRow::new(&self.owner, &self.owner, &report, params.to_string());
        exports::save(&self.ch.client(), &mut job).await.unwrap();
        self.queue(job.job_id).await;
        job.job_id
    }

    async fn queue(&self, job_id: Uuid) {
        let producer: FutureProducer = self.kafka.client_config().create().unwrap();
        let payload = serde_json::to_vec(&JobMessage { job_id }).unwrap();
        let key = job_id.to_string();
        producer
            .send(
                FutureRecord::to(&self.topic).key(&key).payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .unwrap();
    }

    async fn finished(&self, job_id: Uuid) -> ExportJobRow {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(job) = exports::get(&self.ch.client(), job_id).await.unwrap() {
                if job.status().is_final() {
                    return job;
                }
            }
            assert!(Instant::now() < deadline, "job {job_id} did not finish");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    fn params(&self, report: &str) -> Value {
        json!({"report_type": report, "date_from": self.day, "date_to": self.day})
    }
}

/// The text of a stored PDF, and its first page as a PNG kept beside the test binaries.
async fn text_of(job: &ExportJobRow, name: &str) -> String {
    assert_eq!(job.status, "completed", "{}", job.error);
    let pdf = ObjectStore::new(&kit::stack().s3().unwrap())
        .unwrap()
        .get(BUCKET_EXPORTS, &job.object_key)
        .await
        .unwrap();
    assert_eq!(pdf.len() as u64, job.bytes);
    assert!(job.pages >= 3, "{} pages", job.pages);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("exports");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}.pdf"));
    std::fs::write(&file, &pdf).unwrap();
    let png = Command::new("pdftoppm")
        .args(["-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile"])
        .arg(&file)
        .arg(dir.join(name))
        .status()
        .expect("pdftoppm (poppler-utils) is installed");
    assert!(png.success());
    let out = Command::new("pdftotext")
        .args(["-layout"])
        .arg(&file)
        .arg("-")
        .stderr(Stdio::null())
        .output()
        .expect("pdftotext (poppler-utils) is installed");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_friction_summary_shows_the_seeded_figures() {
    let s = Setup::start(kit::stack().s3().unwrap()).await;
    s.seed().await;
    let job = s
        .finished(s.request(s.params("friction_summary")).await)
        .await;
    let text = text_of(&job, "friction_summary").await;
    for expected in [
        "Friction summary",
        "rage_click",
        "dead_click",
        "/checkout",
        "button#pay",
        "img.hero",
        "TypeError: boom is undefined",
        // 7 friction events over 6 pageviews.
        "1166.7",
        "loadTime",
        "Page 4",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
    // The notification is written right after the job's final row: wait for it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let notes: u64 = s
            .ch
            .client()
            .query(
                "SELECT count() FROM notification_log WHERE owner_id = ? AND kind = 'export_completed'",
            )
            .bind(&s.owner)
            .fetch_one()
            .await
            .unwrap();
        if notes == 1 {
            break;
        }
        assert_eq!(notes, 0, "one notification per job");
        assert!(Instant::now() < deadline, "no notification of the export");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journey_analysis_follows_the_visits() {
    let s = Setup::start(kit::stack().s3().unwrap()).await;
    s.seed().await;
    let job = s
        .finished(s.request(s.params("journey_analysis")).await)
        .await;
    let text = text_of(&job, "journey_analysis").await;
    for expected in [
        "Journey analysis",
        "/home → /product → /checkout",
        "/home → /product",
        "Drop-off after friction",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cohort_comparison_puts_cohorts_side_by_side_with_deltas() {
    let s = Setup::start(kit::stack().s3().unwrap()).await;
    s.seed().await;
    let mut params = s.params("cohort_comparison");
    params["cohorts"] = json!([
        {"name": "Desktop visitors", "device_class": "desktop"},
        {"name": "Mobile visitors", "device_class": "mobile"},
    ]);
    let job = s.finished(s.request(params).await).await;
    let text = text_of(&job, "cohort_comparison").await;
    // Desktop: 4 friction over 3 pageviews; mobile: 3 over 3, 25% fewer.
    for expected in [
        "Desktop visitors",
        "Mobile visitors",
        "1333.3",
        "1000.0",
        "-25%",
    ] {
        assert!(
            text.contains(expected),
            "{expected:?} missing from:\n{text}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_period_gives_a_no_data_report_and_a_redelivery_changes_nothing() {
    let s = Setup::start(kit::stack().s3().unwrap()).await;
    let id = s.request(s.params("friction_summary")).await;
    let job = s.finished(id).await;
    let text = text_of(&job, "empty").await;
    assert!(text.contains("No data for this period"), "{text}");
    // The same job delivered again is finished already: same row, no second notification.
    s.queue(id).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = kit::request("GET", &format!("{}/metrics", s.ops_url), &[], "").await;
        if String::from_utf8_lossy(&metrics.body).contains("friction_exporter_jobs_skipped_total 1")
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the redelivered job was never seen"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let again = exports::get(&s.ch.client(), id).await.unwrap().unwrap();
    assert_eq!(
        (again.updated_at, again.attempts),
        (job.updated_at, job.attempts)
    );
    let notes: u64 =
        s.ch.client()
            .query("SELECT count() FROM notification_log WHERE owner_id = ?")
            .bind(&s.owner)
            .fetch_one()
            .await
            .unwrap();
    assert_eq!(notes, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_store_outage_fails_the_job_with_its_reason_and_heals() {
    let mut s3 = kit::stack().s3().unwrap();
    let proxy = kit::Proxy::start(kit::host_port(&s3.s3_endpoint)).await;
    s3.s3_endpoint = format!("http://{}", proxy.addr);
    let s = Setup::start(s3).await;
    proxy.cut();
    let failed = s
        .finished(s.request(s.params("friction_summary")).await)
        .await;
    assert_eq!(failed.status, "failed");
    assert_eq!(failed.attempts, 2);
    assert!(
        failed.error.contains("object storage unavailable"),
        "{}",
        failed.error
    );
    assert!(
        failed.error.contains("after 2 attempts"),
        "{}",
        failed.error
    );
    proxy.restore();
    let healed = s
        .finished(s.request(s.params("friction_summary")).await)
        .await;
    assert_eq!(healed.status, "completed", "{}", healed.error);
}
