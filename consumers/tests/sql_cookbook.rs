//! Every query of docs/sql.md runs against the real engine on data written by the
//! consumers' writer (so the materialized views fill as in production) and returns rows.

use std::time::Duration;

use friction_consumers::dlq::Source;
use friction_consumers::writer::Writer;
use friction_schema::envelope::{EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::now_ms;
use friction_testkit as kit;
use uuid::Uuid;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cookbook_query_runs_and_returns_rows() {
    let ch = kit::fresh_database().await;
    let client = ch.client();
    let now = now_ms();
    let header = EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::new_v4(),
        part: 0,
        owner_id: "owner-t",
        key_id: Uuid::new_v4(),
        received_at: now,
        client_ip: "203.0.113.0",
        user_agent: "Mozilla/5.0",
        clock_skew_ms: 0,
    };
    let message = kit::envelopes(&kit::every_kind_batch(now), &header, 1 << 20).remove(0);
    let writer = Writer::new(client.clone());
    // Written twice with different tokens, as a redelivery after a crash would be: the
    // cookbook's counts must not change.
    for token in ["t1", "t2"] {
        writer
            .write(
                [(
                    message.as_slice(),
                    Source {
                        partition: 0,
                        offset: 0,
                    },
                )]
                .into_iter(),
                token,
                &mut Default::default(),
            )
            .await
            .unwrap();
    }
    client
        .query("INSERT INTO api_key_usage VALUES (?, 'owner-t', toStartOfMinute(now()), 3, 10, now64(3))")
        .bind(Uuid::new_v4().to_string())
        .execute()
        .await
        .unwrap();

    let doc = include_str!("../../docs/sql.md");
    let queries: Vec<&str> = doc
        .split("```sql\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .collect();
    assert!(
        queries.len() >= 15,
        "the cookbook has {} queries",
        queries.len()
    );
    let from = (now - 86_400_000) as f64 / 1000.0;
    let to = (now + 86_400_000) as f64 / 1000.0;
    for sql in &queries {
        let mut cursor = client
            .query(sql)
            .param("owner", "owner-t")
            .param("from", format!("{from:.3}"))
            .param("to", format!("{to:.3}"))
            .param("path", "/page/0")
            .param("session", "session-0")
            .fetch_bytes("TSV")
            .unwrap();
        let out = tokio::time::timeout(Duration::from_secs(30), cursor.collect())
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}\n{sql}"));
        let text = String::from_utf8_lossy(&out);
        assert!(!text.trim().is_empty(), "no rows from:\n{sql}");
    }

    // Spot-check exact answers on the doubled data.
    let rage: u64 = client
        .query("SELECT count() FROM friction_events FINAL WHERE owner_id = 'owner-t' AND event_type = 'rage_click'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(rage, 1);
    let hourly: u64 = client
        .query("SELECT uniqExactMerge(events) FROM friction_hourly WHERE owner_id = 'owner-t'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(hourly, 7);
    let fled: u64 = client
        .query("SELECT uniqExactMerge(events) FROM friction_hourly WHERE owner_id = 'owner-t' AND event_type = 'quick_back' AND path = '/page/0'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(fled, 1);
    let journey: String = client
        .query("SELECT toString(groupArray(path)) FROM heatmap_data FINAL WHERE event_type = 'pageview'")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(journey, "['/page/0']");
}
