//! Foundation checks against the real local stack (`./dev/up`): the broker has the
//! topics, migrations are idempotent and race-safe, rows written with the `clickhouse`
//! crate read back equal, every bucket stores objects, and keys can be managed.

use friction_schema::api_key::ApiKeyRow;
use friction_schema::envelope::{EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::event::{Event, EventType, ValidityFlags};
use friction_schema::rows::{EventRow, FrictionRow, HeatmapRow, PerformanceRow};
use friction_schema::topics;
use friction_store::migrations::{migrate, Layout, MIGRATIONS};
use friction_store::{keys, users};
use friction_testkit::stack::Stack;
use minio::s3::types::S3Api;
use rdkafka::consumer::{BaseConsumer, Consumer};
use uuid::Uuid;

fn stack() -> Stack {
    Stack::load().expect("the local stack is up (./dev/up)")
}

/// A migrated database of its own, so tests do not see each other's rows.
async fn fresh_db() -> clickhouse::Client {
    let ch = stack().clickhouse().unwrap();
    let name = format!("t_{}", Uuid::new_v4().simple());
    migrate(&ch.server_client(), &name, Layout::Single)
        .await
        .expect("migrate");
    ch.server_client().with_database(name)
}

async fn schema_of(client: &clickhouse::Client, db: &str) -> Vec<(String, String)> {
    client
        .query(
            "SELECT name, create_table_query FROM system.tables WHERE database = ? ORDER BY name",
        )
        .bind(db)
        .fetch_all()
        .await
        .unwrap()
}

#[test]
fn the_broker_has_the_pipeline_topics() {
    let consumer: BaseConsumer = stack().kafka().unwrap().client_config().create().unwrap();
    let metadata = consumer
        .fetch_metadata(None, std::time::Duration::from_secs(10))
        .unwrap();
    for name in [topics::RAW_EVENTS, topics::DEAD_LETTER] {
        let topic = metadata.topics().iter().find(|t| t.name() == name);
        let topic = topic.unwrap_or_else(|| panic!("topic {name} missing"));
        assert!(!topic.partitions().is_empty());
    }
}

#[tokio::test]
async fn migrating_twice_gives_the_same_schema() {
    let ch = stack().clickhouse().unwrap();
    let server = ch.server_client();
    let db = format!("t_{}", Uuid::new_v4().simple());
    let first = migrate(&server, &db, Layout::Single).await.unwrap();
    assert_eq!(
        first,
        MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>()
    );
    let before = schema_of(&server, &db).await;
    for table in [
        "friction_events",
        "heatmap_data",
        "page_performance_metrics",
        "api_keys",
        "export_jobs",
        "notification_log",
        "session_recordings",
        "api_key_usage",
    ] {
        assert!(before.iter().any(|(n, _)| n == table), "{table} missing");
    }
    let second = migrate(&server, &db, Layout::Single).await.unwrap();
    assert!(second.is_empty());
    assert_eq!(schema_of(&server, &db).await, before);
}

#[tokio::test]
async fn concurrent_migrations_converge() {
    let server = stack().clickhouse().unwrap().server_client();
    let db = format!("t_{}", Uuid::new_v4().simple());
    let (a, b) = tokio::join!(
        migrate(&server, &db, Layout::Single),
        migrate(&server, &db, Layout::Single)
    );
    a.unwrap();
    b.unwrap();
    let reference = format!("t_{}", Uuid::new_v4().simple());
    migrate(&server, &reference, Layout::Single).await.unwrap();
    let strip = |rows: Vec<(String, String)>, db: &str| -> Vec<(String, String)> {
        rows.into_iter()
            .map(|(n, q)| (n, q.replace(db, "DB")))
            .collect()
    };
    assert_eq!(
        strip(schema_of(&server, &db).await, &db),
        strip(schema_of(&server, &reference).await, &reference)
    );
    let recorded: u64 = server
        .clone()
        .with_database(&db)
        .query("SELECT count() FROM schema_migrations FINAL")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(recorded as usize, MIGRATIONS.len());
}

fn sample_event(event_type: EventType) -> Event<'static> {
    Event {
        event_id: Uuid::new_v4(),
        event_type,
        session_id: "sess-1",
        page_view_id: "pv-1",
        // Recent, or the tables' TTL would drop the row at once.
        timestamp: friction_schema::now_ms() - 1000,
        client_timestamp: friction_schema::now_ms() - 2000,
        clock_corrected: false,
        url: "https://shop.example.com/checkout?step=2",
        referrer: "https://google.com/",
        navigation_type: "load",
        selector: "form#pay > button.submit",
        element_tag: "button",
        x: 120,
        y: -4,
        client_x: 100,
        client_y: 300,
        viewport_width: 1280,
        viewport_height: 800,
        scroll_x: 0,
        scroll_y: 640,
        click_count: 4,
        message: "TypeError: x is undefined",
        source: "https://shop.example.com/app.js",
        line: 10,
        column: 7,
        stack: "at f (app.js:10:7)",
        count: 2,
        form: "form#pay",
        field_name: "email",
        field_type: "email",
        validity: ValidityFlags(0b101),
        value: 1234.5,
    }
}

#[tokio::test]
async fn rows_read_back_equal_from_every_event_table() {
    let client = fresh_db().await;
    let header = EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::new_v4(),
        part: 0,
        owner_id: "owner-1",
        key_id: Uuid::new_v4(),
        received_at: friction_schema::now_ms(),
        client_ip: "203.0.113.0",
        user_agent: "Mozilla/5.0 (X11; Linux x86_64)",
        clock_skew_ms: 0,
    };
    let events = [
        sample_event(EventType::FormValidationError),
        sample_event(EventType::Click),
        sample_event(EventType::LargestContentfulPaint),
    ];
    for event in &events {
        match EventRow::new(&header, event) {
            EventRow::Friction(row) => {
                let mut insert = client
                    .insert::<FrictionRow>("friction_events")
                    .await
                    .unwrap();
                insert.write(&row).await.unwrap();
                insert.end().await.unwrap();
                let mut cursor = client
                    .query("SELECT ?fields FROM friction_events")
                    .fetch::<FrictionRow<'_>>()
                    .unwrap();
                assert_eq!(cursor.next().await.unwrap(), Some(row));
            }
            EventRow::Heatmap(row) => {
                let mut insert = client.insert::<HeatmapRow>("heatmap_data").await.unwrap();
                insert.write(&row).await.unwrap();
                insert.end().await.unwrap();
                let mut cursor = client
                    .query("SELECT ?fields FROM heatmap_data")
                    .fetch::<HeatmapRow<'_>>()
                    .unwrap();
                assert_eq!(cursor.next().await.unwrap(), Some(row));
            }
            EventRow::Performance(row) => {
                let mut insert = client
                    .insert::<PerformanceRow>("page_performance_metrics")
                    .await
                    .unwrap();
                insert.write(&row).await.unwrap();
                insert.end().await.unwrap();
                let mut cursor = client
                    .query("SELECT ?fields FROM page_performance_metrics")
                    .fetch::<PerformanceRow<'_>>()
                    .unwrap();
                assert_eq!(cursor.next().await.unwrap(), Some(row));
            }
        }
    }
}

#[tokio::test]
async fn every_bucket_stores_and_returns_objects() {
    friction_store::objects::ensure_buckets(&stack().s3().unwrap())
        .await
        .unwrap();
    let s3 = stack().s3().unwrap().client().unwrap();
    for bucket in topics::BUCKETS {
        let key = format!("test/{}.bin", Uuid::new_v4());
        let body: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        s3.put_object_content(bucket, key.as_str(), body.clone())
            .unwrap()
            .build()
            .send()
            .await
            .unwrap();
        let got = s3
            .get_object(bucket, key.as_str())
            .unwrap()
            .build()
            .send()
            .await
            .unwrap()
            .into_bytes()
            .await
            .unwrap();
        assert_eq!(got.as_ref(), body.as_slice(), "bucket {bucket}");
    }
}

#[tokio::test]
async fn malformed_sql_gets_a_clickhouse_style_error() {
    let client = stack().clickhouse().unwrap().client();
    let err = client
        .query("SELEC broken FROM")
        .execute()
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("Code: 62") && text.contains("DB::Exception"),
        "{text}"
    );
    // The engine is still there after the error.
    let one: u8 = client.query("SELECT 1").fetch_one().await.unwrap();
    assert_eq!(one, 1);
}

#[tokio::test]
async fn keys_are_created_listed_disabled_and_deleted() {
    let client = fresh_db().await;
    let owner = format!("owner-{}", Uuid::new_v4());
    let new = keys::NewKey {
        name: "shop".into(),
        owner_id: owner.clone(),
        allowed_domains: vec!["*.example.com".into()],
        rate_limit_per_minute: 60,
    };
    let (key, row) = keys::create(&client, new).await.unwrap();
    assert!(friction_schema::api_key::is_well_formed(&key));
    assert_eq!(row.key_hash, friction_schema::api_key::hash(&key));
    let listed = keys::list(&client, Some(&owner)).await.unwrap();
    assert_eq!(listed, vec![row.clone()]);
    let disabled = keys::set_active(&client, row.key_id, false).await.unwrap();
    assert!(!disabled.active);
    assert!(!keys::get(&client, row.key_id).await.unwrap().active);
    keys::delete(&client, row.key_id).await.unwrap();
    assert!(keys::list(&client, Some(&owner)).await.unwrap().is_empty());
    assert!(matches!(
        keys::get(&client, row.key_id).await,
        Err(keys::KeyError::NotFound(_))
    ));
}

#[tokio::test]
async fn a_deleted_key_stays_deleted_whatever_raced_with_it() {
    let client = fresh_db().await;
    let (key, row) = keys::create(
        &client,
        keys::NewKey {
            name: "shop".into(),
            owner_id: "owner".into(),
            allowed_domains: vec![],
            rate_limit_per_minute: 60,
        },
    )
    .await
    .unwrap();
    keys::delete(&client, row.key_id).await.unwrap();
    // A change that read the key before the deletion writes its version afterwards, as
    // another admin instance racing with the delete would.
    let mut stale = row.clone();
    stale.name = "renamed".into();
    stale.updated_at = friction_schema::now_ms() + 1000;
    let mut insert = client.insert::<ApiKeyRow>("api_keys").await.unwrap();
    insert.write(&stale).await.unwrap();
    insert.end().await.unwrap();
    assert_eq!(keys::find_by_key(&client, &key).await.unwrap(), None);
    // A change through the repository notices, and puts the deletion back on top.
    let change = keys::KeyChange {
        name: Some("again".into()),
        ..keys::KeyChange::default()
    };
    assert!(matches!(
        keys::update(&client, row.key_id, change).await,
        Err(keys::KeyError::NotFound(_))
    ));
    assert!(matches!(
        keys::get(&client, row.key_id).await,
        Err(keys::KeyError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_keys_of_a_disabled_user_are_inactive() {
    let client = fresh_db().await;
    let (_, user) = users::create(&client, "ann@example.com", users::Role::Member)
        .await
        .unwrap();
    let (key, _) = keys::create(
        &client,
        keys::NewKey {
            name: "shop".into(),
            owner_id: user.user_id.to_string(),
            allowed_domains: vec![],
            rate_limit_per_minute: 60,
        },
    )
    .await
    .unwrap();
    assert!(
        keys::find_by_key(&client, &key)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    users::set_active(&client, "ann@example.com", false)
        .await
        .unwrap();
    assert!(
        !keys::find_by_key(&client, &key)
            .await
            .unwrap()
            .unwrap()
            .active
    );
    users::set_active(&client, "ann@example.com", true)
        .await
        .unwrap();
    assert!(
        keys::find_by_key(&client, &key)
            .await
            .unwrap()
            .unwrap()
            .active
    );
}

#[tokio::test]
async fn console_sessions_end_on_sign_out_expiry_and_a_replaced_token() {
    use friction_store::sessions;
    let client = fresh_db().await;
    let (token, _) = users::create(&client, "session@example.com", users::Role::Member)
        .await
        .unwrap();
    let user = users::authenticate(&client, &token).await.unwrap().unwrap();

    let (cookie, session) = sessions::start(&client, user.clone(), 60_000)
        .await
        .unwrap();
    assert!(cookie.starts_with(sessions::SESSION_PREFIX));
    let found = sessions::find(&client, &cookie)
        .await
        .unwrap()
        .expect("live");
    assert_eq!(found.user.user_id, user.user_id);
    assert!(found.csrf_matches(&session.row.csrf));
    assert!(!found.csrf_matches(""));
    assert!(!found.csrf_matches(&cookie));
    // Only the hash is stored: the cookie itself is nowhere in the table.
    let stored: u64 = client
        .query("SELECT count() FROM console_sessions WHERE session_hash = ?")
        .bind(&cookie)
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(stored, 0);
    assert!(sessions::find(&client, &format!("{cookie}x"))
        .await
        .unwrap()
        .is_none());

    sessions::end(&client, &found).await.unwrap();
    assert!(sessions::find(&client, &cookie).await.unwrap().is_none());

    let (expired, _) = sessions::start(&client, user.clone(), -1).await.unwrap();
    assert!(sessions::find(&client, &expired).await.unwrap().is_none());

    let (live, _) = sessions::start(&client, user, 60_000).await.unwrap();
    users::rotate_token(&client, "session@example.com")
        .await
        .unwrap();
    assert!(sessions::find(&client, &live).await.unwrap().is_none());
}
