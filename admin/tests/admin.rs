//! The admin API against the real local stack: every route for every kind of caller,
//! bad input, tenant isolation, the OpenAPI file, ingest following key changes, and
//! logs that never carry a secret.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use friction_admin::router::{Route, ROUTES};
use friction_admin::AdminConfig;
use friction_ingest::IngestConfig;
use friction_schema::topics::BUCKET_RECORDINGS;
use friction_service::config::ClickHouseConfig;
use friction_service::shutdown::{self, Trigger};
use friction_store::exports::{self, ExportJobRow};
use friction_store::objects::ObjectStore;
use friction_store::recordings::{self, RecordingRow};
use friction_store::users::{self, Role};
use friction_testkit::{self as kit, Answer};
use serde_json::{json, Value};

struct Admin {
    url: String,
    ch: ClickHouseConfig,
    admin: String,
    alice: String,
    alice_id: String,
    bob: String,
    disabled: String,
    recording: RecordingRow,
    /// A pending export job of Alice's.
    export_id: String,
    _stop: Trigger,
}

/// Bytes of the recording every admin test starts with.
const RECORDED: &[u8] = b"\x1a\x45\xdf\xa3 a short recording";

impl Admin {
    async fn start() -> Admin {
        let ch = kit::fresh_database().await;
        let client = ch.client();
        let (admin, _) = users::create(&client, "root@example.com", Role::Admin)
            .await
            .unwrap();
        let (alice, alice_row) = users::create(&client, "alice@example.com", Role::Member)
            .await
            .unwrap();
        let (bob, _) = users::create(&client, "bob@example.com", Role::Member)
            .await
            .unwrap();
        let (disabled, _) = users::create(&client, "gone@example.com", Role::Member)
            .await
            .unwrap();
        users::set_active(&client, "gone@example.com", false)
            .await
            .unwrap();
        // A recording as ingest stores one: the object, then its row.
        let s3 = kit::stack().s3().unwrap();
        let recording = RecordingRow {
            recording_id: uuid::Uuid::new_v4(),
            owner_id: alice_row.user_id.to_string(),
            key_id: uuid::Uuid::new_v4(),
            session_id: kit::unique("session"),
            page_view_id: String::new(),
            url: String::new(),
            object_key: format!("test/{}.webm", uuid::Uuid::new_v4()),
            content_type: "video/webm".into(),
            size_bytes: RECORDED.len() as u64,
            started_at: friction_schema::now_ms() - 60_000,
            uploaded_at: friction_schema::now_ms(),
            duration_ms: 1500,
        };
        ObjectStore::new(&s3)
            .unwrap()
            .put(
                BUCKET_RECORDINGS,
                &recording.object_key,
                RECORDED.into(),
                "video/webm",
            )
            .await
            .unwrap();
        recordings::insert(&client, &recording).await.unwrap();
        let params = json!({"report_type": "friction_summary", "date_from": "2026-11-01", "date_to": "2026-11-02"});
        let mut export = ExportJobRow::new(
            &alice_row.user_id.to_string(),
            &alice_row.user_id.to_string(),
            "friction_summary",
            params.to_string(),
        );
        exports::save(&client, &mut export).await.unwrap();
        let kafka = kit::stack().kafka().unwrap();
        let exports_topic = kit::unique("test.exports");
        kit::create_topic(&kafka, &exports_topic, 1).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (stop, shutdown) = shutdown::channel();
        let config = AdminConfig {
            clickhouse: ch.clone(),
            kafka,
            exports_topic,
            s3,
            public_ingest_url: "https://ingest.example.test".into(),
            ..AdminConfig::default()
        };
        tokio::spawn(friction_admin::run(config, listener, shutdown));
        Admin {
            url,
            ch,
            admin,
            alice,
            alice_id: alice_row.user_id.to_string(),
            bob,
            disabled,
            recording,
            export_id: export.job_id.to_string(),
            _stop: stop,
        }
    }

    async fn call(&self, method: &str, path: &str, token: Option<&str>, body: &str) -> Answer {
        let auth = token.map(|t| format!("Bearer {t}"));
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = &auth {
            headers.push(("authorization", auth.as_str()));
        }
        let url = format!("{}{path}", self.url);
        kit::request(method, &url, &headers, body.to_owned()).await
    }

    /// A new key of `token`'s user; returns its id and the key.
    async fn key(&self, token: &str, body: Value) -> (String, String) {
        let a = self
            .call("POST", "/v1/keys", Some(token), &body.to_string())
            .await;
        assert_eq!(a.status, 201, "{:?}", a.body);
        let v = a.json();
        (
            v["id"].as_str().unwrap().to_owned(),
            v["key"].as_str().unwrap().to_owned(),
        )
    }
}

/// A request for `route` on `key_id`, `recording_id` or `export_id`.
fn request(
    route: Route,
    key_id: &str,
    recording_id: &str,
    export_id: &str,
) -> (&'static str, String, String) {
    let by_id = format!("/v1/keys/{key_id}");
    match route {
        Route::Ops => unreachable!("ops routes need no token"),
        Route::Me => ("GET", "/v1/me".into(), String::new()),
        Route::ListUsers => ("GET", "/v1/users".into(), String::new()),
        Route::ListKeys => ("GET", "/v1/keys".into(), String::new()),
        Route::CreateKey => ("POST", "/v1/keys".into(), r#"{"name":"new"}"#.into()),
        Route::GetKey => ("GET", format!("{by_id}?reveal=true"), String::new()),
        Route::UpdateKey => ("PATCH", by_id, r#"{"name":"renamed"}"#.into()),
        Route::DeleteKey => ("DELETE", by_id, String::new()),
        Route::ListRecordings => ("GET", "/v1/recordings".into(), String::new()),
        Route::GetRecording => (
            "GET",
            format!("/v1/recordings/{recording_id}"),
            String::new(),
        ),
        Route::CreateExport => (
            "POST",
            "/v1/exports".into(),
            r#"{"report_type":"journey_analysis","date_from":"2026-10-01","date_to":"2026-10-31"}"#
                .into(),
        ),
        Route::ListExports => ("GET", "/v1/exports".into(), String::new()),
        Route::GetExport => ("GET", format!("/v1/exports/{export_id}"), String::new()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_kind_of_caller() {
    let s = Admin::start().await;
    let routes: BTreeSet<_> = ROUTES
        .iter()
        .map(|(_, _, r)| *r)
        .filter(|r| *r != Route::Ops)
        .map(|r| format!("{r:?}"))
        .collect();
    let mut covered = BTreeSet::new();
    for (_, _, route) in ROUTES.iter().filter(|(_, _, r)| *r != Route::Ops) {
        covered.insert(format!("{route:?}"));
        let callers: [(&str, Option<&str>); 6] = [
            ("no token", None),
            ("bad token", Some("ft_0000000000000000000000000000000a")),
            ("disabled user", Some(&s.disabled)),
            ("member owner", Some(&s.alice)),
            ("other member", Some(&s.bob)),
            ("admin", Some(&s.admin)),
        ];
        for (who, token) in callers {
            // A fresh key of Alice's for each caller, so deletes do not leak across rows.
            let (key_id, key) = s.key(&s.alice, json!({"name": "site"})).await;
            let recording_id = s.recording.recording_id.to_string();
            let (method, path, body) = request(*route, &key_id, &recording_id, &s.export_id);
            let a = s.call(method, &path, token, &body).await;
            let (status, code) = match (who, route) {
                ("no token", _) => (401, Some("missing_token")),
                ("bad token", _) => (401, Some("invalid_token")),
                ("disabled user", _) => (403, Some("user_disabled")),
                (
                    "member owner" | "other member",
                    Route::ListUsers | Route::ListRecordings | Route::GetRecording,
                ) => (403, Some("forbidden")),
                (
                    "other member",
                    Route::GetKey | Route::UpdateKey | Route::DeleteKey | Route::GetExport,
                ) => (404, Some("not_found")),
                (_, Route::CreateExport) => (202, None),
                (_, Route::CreateKey) => (201, None),
                _ => (200, None),
            };
            assert_eq!(a.status, status, "{route:?} as {who}: {:?}", a.body);
            match code {
                Some(code) => {
                    let v = a.json();
                    assert_eq!(v["error"], code, "{route:?} as {who}");
                    assert_eq!(v["success"], false);
                    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
                }
                None => {
                    let v = a.json();
                    match route {
                        Route::Me => assert!(v["email"].as_str().unwrap().contains('@')),
                        Route::ListUsers => assert_eq!(v["users"].as_array().unwrap().len(), 4),
                        Route::ListKeys => {
                            let ids: Vec<&str> = v["keys"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|k| k["id"].as_str().unwrap())
                                .collect();
                            assert_eq!(ids.contains(&key_id.as_str()), who != "other member");
                        }
                        Route::CreateKey => assert!(v["key"].as_str().unwrap().starts_with("fk_")),
                        Route::GetKey => {
                            assert_eq!(v["key"], key.as_str());
                            assert_eq!(
                                v["snippet"],
                                format!(
                                    r#"{}
<script src="https://ingest.example.test/friction-tracker.js" data-api-key="{key}" crossorigin="anonymous" async></script>"#,
                                    friction_admin::endpoints::keys::LOADER
                                )
                            );
                        }
                        Route::UpdateKey => assert_eq!(v["name"], "renamed"),
                        Route::ListRecordings => {
                            assert!(!v["recordings"].as_array().unwrap().is_empty())
                        }
                        Route::GetRecording => {
                            assert!(v["playback_url"].as_str().unwrap().starts_with("http"))
                        }
                        Route::DeleteKey => {
                            assert_eq!(
                                (v["deleted"].clone(), v["id"].clone()),
                                (json!(true), json!(key_id))
                            );
                            assert!(v["created_at"].is_string() && v.get("last_used_at").is_some());
                        }
                        Route::CreateExport => {
                            assert_eq!(v["status"], "pending");
                            assert_eq!(v["report_type"], "journey_analysis");
                        }
                        Route::ListExports => {
                            let ids: Vec<&str> = v["exports"]
                                .as_array()
                                .unwrap()
                                .iter()
                                .map(|e| e["id"].as_str().unwrap())
                                .collect();
                            assert_eq!(ids.contains(&s.export_id.as_str()), who != "other member");
                        }
                        Route::GetExport => assert_eq!(v["id"], s.export_id.as_str()),
                        Route::Ops => unreachable!(),
                    }
                }
            }
        }
    }
    assert_eq!(covered, routes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_listed_masked_and_revealed_only_on_request() {
    let s = Admin::start().await;
    let (id, key) = s
        .key(
            &s.alice,
            json!({"name": " Shop ", "allowed_domains": ["Shop.Example.com", "*.example.com"], "rate_limit_per_minute": 60}),
        )
        .await;
    let list = s.call("GET", "/v1/keys", Some(&s.alice), "").await.json();
    let k = &list["keys"][0];
    assert_eq!(k["id"], id.as_str());
    assert_eq!(k["name"], "Shop");
    assert_eq!(
        k["allowed_domains"],
        json!(["shop.example.com", "*.example.com"])
    );
    assert_eq!(k["rate_limit_per_minute"], 60);
    assert_eq!(k["is_active"], true);
    assert_eq!(k["owner_id"], s.alice_id.as_str());
    assert_eq!(
        k["key_masked"],
        format!("{}…{}", &key[..7], &key[key.len() - 4..])
    );
    assert!(k.get("key").is_none() && k.get("snippet").is_none());
    assert!(k["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(k["last_used_at"], Value::Null);
    let plain = s
        .call("GET", &format!("/v1/keys/{id}"), Some(&s.alice), "")
        .await
        .json();
    assert!(plain.get("key").is_none());
    let list_text =
        String::from_utf8_lossy(&s.call("GET", "/v1/keys", Some(&s.alice), "").await.body)
            .into_owned();
    assert!(!list_text.contains(&key), "a listing shows the whole key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_its_field_and_nothing_is_written() {
    let s = Admin::start().await;
    let (id, _) = s.key(&s.alice, json!({"name": "site"})).await;
    let long = "x".repeat(101);
    let cases: Vec<(&str, String, u16, &str, Option<&str>)> = vec![
        (
            "POST",
            json!({}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "POST",
            json!({"name": ""}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "POST",
            json!({"name": "  "}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "POST",
            json!({"name": long}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "POST",
            json!({"name": 7}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "POST",
            json!({"name": "a\u{0007}b"}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": ["https://shop.com"]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": ["shop.com/x"]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": ["shop.com:8080"]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": ["shop .com"]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": ["*shop.com"]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": "shop.com"}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "allowed_domains": [3]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "POST",
            json!({"name": "s", "rate_limit_per_minute": 0}).to_string(),
            400,
            "invalid_rate_limit",
            Some("rate_limit_per_minute"),
        ),
        (
            "POST",
            json!({"name": "s", "rate_limit_per_minute": 1_000_001}).to_string(),
            400,
            "invalid_rate_limit",
            Some("rate_limit_per_minute"),
        ),
        (
            "POST",
            json!({"name": "s", "rate_limit_per_minute": -5}).to_string(),
            400,
            "invalid_rate_limit",
            Some("rate_limit_per_minute"),
        ),
        (
            "POST",
            json!({"name": "s", "rate_limit_per_minute": 1.5}).to_string(),
            400,
            "invalid_rate_limit",
            Some("rate_limit_per_minute"),
        ),
        (
            "POST",
            json!({"name": "s", "rate_limit_per_minute": "60"}).to_string(),
            400,
            "invalid_rate_limit",
            Some("rate_limit_per_minute"),
        ),
        (
            "POST",
            json!({"name": "s", "owner_id": "x"}).to_string(),
            400,
            "unknown_field",
            Some("owner_id"),
        ),
        ("POST", "{\"name\":".into(), 400, "invalid_json", None),
        ("POST", "[1]".into(), 400, "invalid_json", None),
        (
            "POST",
            format!("{{\"name\":\"{}\"}}", "x".repeat(70_000)),
            413,
            "payload_too_large",
            None,
        ),
        ("PATCH", json!({}).to_string(), 400, "empty_change", None),
        (
            "PATCH",
            json!({"is_active": "yes"}).to_string(),
            400,
            "invalid_is_active",
            Some("is_active"),
        ),
        (
            "PATCH",
            json!({"name": ""}).to_string(),
            400,
            "invalid_name",
            Some("name"),
        ),
        (
            "PATCH",
            json!({"allowed_domains": ["*."]}).to_string(),
            400,
            "invalid_domain",
            Some("allowed_domains"),
        ),
        (
            "PATCH",
            json!({"rate_limit_per_minute": 0}).to_string(),
            400,
            "invalid_rate_limit",
            Some("rate_limit_per_minute"),
        ),
        (
            "PATCH",
            json!({"key_secret": "fk_x"}).to_string(),
            400,
            "unknown_field",
            Some("key_secret"),
        ),
    ];
    for (method, body, status, code, field) in cases {
        let path = match method {
            "POST" => "/v1/keys".to_owned(),
            _ => format!("/v1/keys/{id}"),
        };
        let a = s.call(method, &path, Some(&s.alice), &body).await;
        assert_eq!(a.status, status, "{method} {}", &body[..body.len().min(80)]);
        let v = a.json();
        assert_eq!(v["error"], code, "{method} {}", &body[..body.len().min(80)]);
        assert_eq!(
            v["field"].as_str(),
            field,
            "{method} {}",
            &body[..body.len().min(80)]
        );
    }
    let text = kit::request(
        "POST",
        &format!("{}/v1/keys", s.url),
        &[
            ("authorization", &format!("Bearer {}", s.alice)),
            ("content-type", "text/plain"),
        ],
        "{\"name\":\"s\"}",
    )
    .await;
    assert_eq!(
        (text.status, text.json()["error"].clone()),
        (415, json!("unsupported_media_type"))
    );

    let keys = s.call("GET", "/v1/keys", Some(&s.alice), "").await.json();
    let keys = keys["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1, "a refused request wrote a key");
    assert_eq!(keys[0]["name"], "site", "a refused change was applied");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_cannot_read_change_or_delete_each_others_keys() {
    let s = Admin::start().await;
    let (id, _) = s.key(&s.alice, json!({"name": "alice-site"})).await;
    let missing = uuid::Uuid::new_v4().to_string();
    for (method, body) in [
        ("GET", ""),
        ("PATCH", r#"{"is_active":false}"#),
        ("DELETE", ""),
    ] {
        for reveal in ["", "?reveal=true"] {
            let theirs = s
                .call(
                    method,
                    &format!("/v1/keys/{id}{reveal}"),
                    Some(&s.bob),
                    body,
                )
                .await;
            let nobodys = s
                .call(
                    method,
                    &format!("/v1/keys/{missing}{reveal}"),
                    Some(&s.bob),
                    body,
                )
                .await;
            assert_eq!(theirs.status, 404, "{method}");
            assert_eq!(
                (theirs.status, &theirs.body),
                (nobodys.status, &nobodys.body),
                "{method}: another member's key can be told from a missing one"
            );
        }
    }
    let bad_id = s.call("GET", "/v1/keys/not-a-uuid", Some(&s.bob), "").await;
    assert_eq!(bad_id.status, 404);
    let bobs = s.call("GET", "/v1/keys", Some(&s.bob), "").await.json();
    assert_eq!(bobs["keys"], json!([]));
    let bobs = s
        .call(
            "GET",
            &format!("/v1/keys?owner_id={}", s.alice_id),
            Some(&s.bob),
            "",
        )
        .await
        .json();
    assert_eq!(
        bobs["keys"],
        json!([]),
        "a member's owner filter reached other keys"
    );
    let still = s
        .call("GET", &format!("/v1/keys/{id}"), Some(&s.alice), "")
        .await
        .json();
    assert_eq!(
        (still["name"].clone(), still["is_active"].clone()),
        (json!("alice-site"), json!(true))
    );
    let by_admin = s
        .call(
            "GET",
            &format!("/v1/keys?owner_id={}", s.alice_id),
            Some(&s.admin),
            "",
        )
        .await
        .json();
    assert_eq!(by_admin["keys"][0]["id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_file_lists_exactly_the_routes() {
    let spec: Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method != "parameters" {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p, _)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
    let s = Admin::start().await;
    for (method, path) in &routed {
        let path = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let a = s.call(method, &path, None, "").await;
        assert!(
            ![404, 405].contains(&a.status),
            "{method} {path} is not routed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_follows_a_key_turned_off_on_again_and_deleted() {
    let s = Admin::start().await;
    let kafka = kit::stack().kafka().unwrap();
    let topic = kit::unique("test.events");
    kit::create_topic(&kafka, &topic, 1).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingest = format!("http://{}/v1/events", listener.local_addr().unwrap());
    let (_stop_ingest, shutdown) = shutdown::channel();
    let config = IngestConfig {
        clickhouse: s.ch.clone(),
        kafka: kafka.clone(),
        raw_topic: topic.clone(),
        key_cache_ttl_ms: 300,
        key_negative_ttl_ms: 300,
        usage_flush_ms: 200,
        ..IngestConfig::default()
    };
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(friction_ingest::run(config, listener, ops, shutdown));

    let (id, key) = s.key(&s.alice, json!({"name": "shop"})).await;
    let batch = json!({"events": [{
        "event_id": uuid::Uuid::new_v4().to_string(), "type": "click", "session_id": "s",
        "timestamp": friction_schema::now_ms(), "url": "https://shop.example.com/",
        "owner_id": "someone-else"
    }]})
    .to_string();
    let send = || async {
        kit::request(
            "POST",
            &ingest,
            &[
                ("x-api-key", key.as_str()),
                ("content-type", "application/json"),
            ],
            batch.clone(),
        )
        .await
    };
    // Polls ingest until it answers `status` (it follows changes within its cache TTL).
    let expect = |status: u16, code: &'static str| {
        let send = &send;
        async move {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                let a = send().await;
                if a.status == status {
                    if !code.is_empty() {
                        assert_eq!(a.json()["error"], code);
                    }
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "ingest still answers {}",
                    a.status
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    expect(200, "").await;
    let m = &kit::read_messages(&kafka, &topic, 1, Duration::from_secs(20))[0];
    let envelope: Value = serde_json::from_str(kit::payload(m)).unwrap();
    assert_eq!(envelope["header"]["owner_id"], s.alice_id.as_str());
    // Ingest's usage flush makes the key's last use visible.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let k = s
            .call("GET", &format!("/v1/keys/{id}"), Some(&s.alice), "")
            .await
            .json();
        if let Some(at) = k["last_used_at"].as_str() {
            assert!(at.ends_with('Z'), "{at}");
            break;
        }
        assert!(Instant::now() < deadline, "last_used_at never set");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let off = s
        .call(
            "PATCH",
            &format!("/v1/keys/{id}"),
            Some(&s.alice),
            r#"{"is_active":false}"#,
        )
        .await;
    assert_eq!(
        (off.status, off.json()["is_active"].clone()),
        (200, json!(false))
    );
    expect(403, "key_inactive").await;
    s.call(
        "PATCH",
        &format!("/v1/keys/{id}"),
        Some(&s.alice),
        r#"{"is_active":true}"#,
    )
    .await;
    expect(200, "").await;
    // Allowed domains and the rate limit reach ingest too.
    let patch = |body: &'static str| {
        let path = format!("/v1/keys/{id}");
        let s = &s;
        async move {
            let a = s.call("PATCH", &path, Some(&s.alice), body).await;
            assert_eq!(a.status, 200, "{body}");
        }
    };
    patch(r#"{"allowed_domains":["shop.example.com"]}"#).await;
    expect(403, "origin_not_allowed").await;
    patch(r#"{"allowed_domains":[],"rate_limit_per_minute":1}"#).await;
    expect(429, "rate_limited").await;
    patch(r#"{"rate_limit_per_minute":1000}"#).await;
    expect(200, "").await;
    // A disabled user's keys stop working; enabled again, they work again.
    let client = s.ch.client();
    users::set_active(&client, &s.alice_id, false)
        .await
        .unwrap();
    expect(403, "key_inactive").await;
    users::set_active(&client, &s.alice_id, true).await.unwrap();
    expect(200, "").await;
    assert_eq!(
        s.call("DELETE", &format!("/v1/keys/{id}"), Some(&s.alice), "")
            .await
            .status,
        200
    );
    expect(401, "invalid_api_key").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_keys_never_appear_in_the_logs() {
    let ch = kit::fresh_database().await;
    let client = ch.client();
    let (token, _) = users::create(&client, "ann@example.com", Role::Admin)
        .await
        .unwrap();
    let port = kit::free_port();
    let log = std::env::temp_dir().join(format!("{}.log", kit::unique("admin")));
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_friction-admin"))
        .env("FRICTION_LISTEN", format!("127.0.0.1:{port}"))
        .env("FRICTION_CLICKHOUSE_URL", &ch.clickhouse_url)
        .env("FRICTION_CLICKHOUSE_DATABASE", &ch.clickhouse_database)
        .env("RUST_LOG", "debug")
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(log.with_extension("err")).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "admin did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let good = format!("Bearer {token}");
    let wrong = "ft_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let bad = format!("Bearer {wrong}");
    let created = send(&url, "POST", "/v1/keys", &good, r#"{"name":"logged"}"#)
        .await
        .json();
    let key = created["key"].as_str().unwrap().to_owned();
    let by_id = format!("/v1/keys/{}", created["id"].as_str().unwrap());
    send(&url, "GET", &format!("{by_id}?reveal=true"), &good, "").await;
    send(&url, "PATCH", &by_id, &good, r#"{"name":""}"#).await;
    send(&url, "GET", "/v1/keys", &bad, "").await;
    send(&url, "POST", "/v1/keys", &good, "{not json").await;
    send(&url, "DELETE", &by_id, &good, "").await;
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let text = std::fs::read_to_string(&log).unwrap()
        + &std::fs::read_to_string(log.with_extension("err")).unwrap();
    assert!(
        text.contains("key created") && text.contains("invalid_token"),
        "the logs are not being captured: {text}"
    );
    for secret in [token.as_str(), wrong, key.as_str()] {
        assert!(!text.contains(secret), "a secret is in the logs");
    }
}

async fn send(url: &str, method: &str, path: &str, auth: &str, body: &'static str) -> Answer {
    let headers = [
        ("authorization", auth),
        ("content-type", "application/json"),
    ];
    kit::request(method, &format!("{url}{path}"), &headers, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_recordings_and_play_them_from_an_expiring_url() {
    let s = Admin::start().await;
    let r = &s.recording;
    let list = s
        .call(
            "GET",
            &format!("/v1/recordings?session_id={}", r.session_id),
            Some(&s.admin),
            "",
        )
        .await
        .json();
    let found = list["recordings"].as_array().unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], r.recording_id.to_string());
    assert_eq!(found[0]["duration_ms"], 1500);
    assert_eq!(found[0]["size_bytes"], RECORDED.len());
    let none = s
        .call(
            "GET",
            "/v1/recordings?session_id=nobody",
            Some(&s.admin),
            "",
        )
        .await
        .json();
    assert_eq!(none["recordings"], json!([]));
    let later = s
        .call(
            "GET",
            &format!(
                "/v1/recordings?session_id={}&from=2100-01-01T00:00:00Z",
                r.session_id
            ),
            Some(&s.admin),
            "",
        )
        .await
        .json();
    assert_eq!(later["recordings"], json!([]));
    let bad = s
        .call("GET", "/v1/recordings?from=yesterday", Some(&s.admin), "")
        .await;
    assert_eq!(
        (bad.status, bad.json()["error"].clone()),
        (400, json!("invalid_query"))
    );

    let one = s
        .call(
            "GET",
            &format!("/v1/recordings/{}", r.recording_id),
            Some(&s.admin),
            "",
        )
        .await
        .json();
    let url = one["playback_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Expires=900"), "{url}");
    assert!(one["playback_expires_at"].as_str().unwrap().ends_with('Z'));
    let played = kit::request("GET", url, &[], "").await;
    assert_eq!(played.status, 200);
    assert_eq!(played.body.as_ref(), RECORDED);
    let missing = s
        .call(
            "GET",
            &format!("/v1/recordings/{}", uuid::Uuid::new_v4()),
            Some(&s.admin),
            "",
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_requests_are_checked_queued_and_shown_only_to_their_owner() {
    let s = Admin::start().await;
    let cases = [
        (
            json!({"report_type": "pie_chart", "date_from": "2026-11-01", "date_to": "2026-11-02"}),
            "invalid_json",
            None,
        ),
        (
            json!({"report_type": "friction_summary", "date_from": "2026-11-01"}),
            "invalid_json",
            None,
        ),
        (
            json!({"report_type": "friction_summary", "date_from": "01/11/2026", "date_to": "2026-11-02"}),
            "invalid_params",
            Some("date_from"),
        ),
        (
            json!({"report_type": "friction_summary", "date_from": "2025-01-01", "date_to": "2026-01-02"}),
            "invalid_params",
            Some("date_to"),
        ),
        (
            json!({"report_type": "friction_summary", "date_from": "2026-11-02", "date_to": "2026-11-01"}),
            "invalid_params",
            Some("date_to"),
        ),
        (
            json!({"report_type": "cohort_comparison", "date_from": "2026-11-01", "date_to": "2026-11-02",
                "cohorts": [{"name": "only one", "browser": "firefox"}]}),
            "invalid_params",
            Some("cohorts"),
        ),
        (
            json!({"report_type": "cohort_comparison", "date_from": "2026-11-01", "date_to": "2026-11-02",
                "cohorts": [{"name": "a", "browser": "firefox"}, {"name": "b"}]}),
            "invalid_params",
            Some("cohorts"),
        ),
        (
            json!({"report_type": "friction_summary", "date_from": "2026-11-01", "date_to": "2026-11-02", "format": "xls"}),
            "invalid_json",
            None,
        ),
    ];
    for (body, code, field) in cases {
        let a = s
            .call("POST", "/v1/exports", Some(&s.bob), &body.to_string())
            .await;
        assert_eq!(a.status, 400, "{body}");
        let v = a.json();
        assert_eq!(v["error"], code, "{body}");
        assert_eq!(v["field"].as_str(), field, "{body}");
    }
    assert_eq!(
        s.call("GET", "/v1/exports", Some(&s.bob), "").await.json()["exports"],
        json!([])
    );

    let body = json!({"report_type": "cohort_comparison", "date_from": "2026-11-01", "date_to": "2026-11-30",
        "key_ids": [], "url_prefix": "https://shop.example.com/",
        "cohorts": [{"name": "Mobile", "device_class": "mobile"}, {"name": "Desktop", "device_class": "desktop"}]});
    let created = s
        .call("POST", "/v1/exports", Some(&s.bob), &body.to_string())
        .await;
    assert_eq!(created.status, 202, "{:?}", created.body);
    let job = created.json();
    assert_eq!(job["status"], "pending");
    assert_eq!(job["params"]["cohorts"][1]["name"], "Desktop");
    let id = job["id"].as_str().unwrap();
    let mine = s
        .call("GET", &format!("/v1/exports/{id}"), Some(&s.bob), "")
        .await
        .json();
    assert_eq!(mine["status"], "pending");
    assert!(mine.get("download_url").is_none());
    let theirs = s
        .call("GET", &format!("/v1/exports/{id}"), Some(&s.alice), "")
        .await;
    let missing = s
        .call(
            "GET",
            &format!("/v1/exports/{}", uuid::Uuid::new_v4()),
            Some(&s.alice),
            "",
        )
        .await;
    assert_eq!(
        (theirs.status, &theirs.body),
        (missing.status, &missing.body)
    );
    assert_eq!(theirs.status, 404);
    let all = s
        .call("GET", "/v1/exports", Some(&s.admin), "")
        .await
        .json();
    assert!(all["exports"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_uploaded_through_ingest_plays_back_byte_for_byte() {
    let s = Admin::start().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ingest = format!("http://{}", listener.local_addr().unwrap());
    let (_stop_ingest, shutdown) = shutdown::channel();
    let config = IngestConfig {
        clickhouse: s.ch.clone(),
        kafka: kit::stack().kafka().unwrap(),
        s3: kit::stack().s3().unwrap(),
        ..IngestConfig::default()
    };
    let ops = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    tokio::spawn(friction_ingest::run(config, listener, ops, shutdown));
    let (_, key) = s.key(&s.alice, json!({"name": "recorded site"})).await;
    let mut webm = vec![0x1a, 0x45, 0xdf, 0xa3];
    webm.extend((0..(6 << 20)).map(|i: u32| (i % 253) as u8));
    let session = kit::unique("visit");
    let started = friction_schema::now_ms() - 30_000;
    let upload = kit::request(
        "POST",
        &format!(
            "{ingest}/v1/recordings?session_id={session}&started_at={started}&duration_ms=30000"
        ),
        &[("x-api-key", key.as_str()), ("content-type", "video/webm")],
        webm.clone(),
    )
    .await;
    assert_eq!(upload.status, 201, "{:?}", upload.body);
    let list = s
        .call(
            "GET",
            &format!("/v1/recordings?session_id={session}"),
            Some(&s.admin),
            "",
        )
        .await
        .json();
    let found = &list["recordings"][0];
    assert_eq!(found["owner_id"], s.alice_id.as_str());
    assert_eq!(found["size_bytes"], webm.len());
    let id = found["id"].as_str().unwrap();
    let one = s
        .call("GET", &format!("/v1/recordings/{id}"), Some(&s.admin), "")
        .await
        .json();
    let played = kit::request("GET", one["playback_url"].as_str().unwrap(), &[], "").await;
    assert_eq!(played.status, 200);
    assert!(
        played.body.as_ref() == webm.as_slice(),
        "the played recording differs"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completed_export_downloads_for_its_owner_only() {
    let s = Admin::start().await;
    let client = s.ch.client();
    let pdf = b"%PDF-1.4 a finished report".to_vec();
    let params = json!({"report_type": "friction_summary", "date_from": "2026-11-01", "date_to": "2026-11-02"});
    let mut job = ExportJobRow::new(
        &s.alice_id,
        &s.alice_id,
        "friction_summary",
        params.to_string(),
    );
    job.status = "completed".into();
    job.object_key = format!("{}/{}.pdf", s.alice_id, job.job_id);
    job.bytes = pdf.len() as u64;
    job.pages = 1;
    ObjectStore::new(&kit::stack().s3().unwrap())
        .unwrap()
        .put(
            friction_schema::topics::BUCKET_EXPORTS,
            &job.object_key,
            pdf.clone().into(),
            "application/pdf",
        )
        .await
        .unwrap();
    exports::save(&client, &mut job).await.unwrap();
    let path = format!("/v1/exports/{}", job.job_id);
    let mine = s.call("GET", &path, Some(&s.alice), "").await.json();
    assert_eq!(mine["status"], "completed");
    assert!(mine["download_expires_at"].as_str().unwrap().ends_with('Z'));
    let url = mine["download_url"].as_str().unwrap();
    let downloaded = kit::request("GET", url, &[], "").await;
    assert_eq!((downloaded.status, downloaded.body.to_vec()), (200, pdf));
    let theirs = s.call("GET", &path, Some(&s.bob), "").await;
    let missing = s
        .call(
            "GET",
            &format!("/v1/exports/{}", uuid::Uuid::new_v4()),
            Some(&s.bob),
            "",
        )
        .await;
    assert_eq!(theirs.status, 404);
    assert_eq!(
        (theirs.status, &theirs.body),
        (missing.status, &missing.body)
    );
    assert_eq!(
        s.call("GET", &path, Some(&s.admin), "").await.json()["status"],
        "completed"
    );
}

/// The `name=value` of every `Set-Cookie` named `name`, with its attributes.
fn set_cookie(a: &Answer, name: &str) -> String {
    a.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", a.headers))
        .to_owned()
}

/// Signs in through the form: the session cookie's `Set-Cookie`.
async fn console_sign_in(admin: &Admin, token: &str, extra: &[(&str, &str)]) -> Answer {
    let page = kit::request("GET", &format!("{}/console/login", admin.url), extra, "").await;
    assert_eq!(page.status, 200);
    let login = set_cookie(&page, "friction_login");
    let csrf = login["friction_login=".len()..].split(';').next().unwrap();
    let cookie = format!("friction_login={csrf}");
    let mut headers = vec![
        ("content-type", "application/x-www-form-urlencoded"),
        ("cookie", cookie.as_str()),
    ];
    headers.extend_from_slice(extra);
    let form = format!("csrf={csrf}&token={token}");
    kit::request(
        "POST",
        &format!("{}/console/login", admin.url),
        &headers,
        form,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_cookies_are_http_only_strict_and_secure_behind_tls() {
    let admin = Admin::start().await;
    let plain = console_sign_in(&admin, &admin.alice, &[]).await;
    assert_eq!(plain.status, 303, "{:?}", plain.body);
    assert_eq!(plain.headers["location"], "/console/keys");
    let cookie = set_cookie(&plain, "friction_session");
    assert!(cookie.contains("; HttpOnly") && cookie.contains("; SameSite=Strict"));
    assert!(!cookie.contains("Secure"), "{cookie}");

    let tls = console_sign_in(&admin, &admin.alice, &[("x-forwarded-proto", "https")]).await;
    let cookie = set_cookie(&tls, "friction_session");
    assert!(
        cookie.contains("; Secure") && cookie.contains("; HttpOnly"),
        "{cookie}"
    );

    // The session opens the pages; every page forbids framing, foreign scripts and referrers.
    let session = cookie.split(';').next().unwrap().to_owned();
    let page = kit::request(
        "GET",
        &format!("{}/console/keys", admin.url),
        &[("cookie", session.as_str())],
        "",
    )
    .await;
    assert_eq!(page.status, 200);
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    assert_eq!(page.headers["cache-control"], "no-store");
    assert!(std::str::from_utf8(&page.body)
        .unwrap()
        .contains("alice@example.com"));

    // A disabled user cannot sign in; an unknown token neither.
    let disabled = console_sign_in(&admin, &admin.disabled, &[]).await;
    assert_eq!(disabled.status, 403);
    assert!(std::str::from_utf8(&disabled.body)
        .unwrap()
        .contains("data-code=\"user_disabled\""));
    let unknown = console_sign_in(&admin, "ft_unknown", &[]).await;
    assert_eq!(unknown.status, 401);
    assert!(unknown
        .headers
        .get_all("set-cookie")
        .iter()
        .all(|v| !v.to_str().unwrap().starts_with("friction_session=")));
}

#[test]
fn the_console_snippet_loader_is_the_documented_one() {
    let readme = include_str!("../../sdk/README.md");
    assert!(readme.contains(friction_admin::endpoints::keys::LOADER));
}
