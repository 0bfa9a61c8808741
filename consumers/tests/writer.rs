//! The writer checks each table's first INSERT row by row against the table's columns,
//! and writes plain RowBinary once a check passed: a table that no longer matches its row
//! type is refused by column name with nothing written, and the plain INSERTs read back
//! exactly as the checked one.

use friction_consumers::dlq::Source;
use friction_consumers::writer::{WriteError, Writer};
use friction_schema::envelope::{EnvelopeHeader, ENVELOPE_VERSION};
use friction_schema::now_ms;
use friction_testkit as kit;
use uuid::Uuid;

/// One message of every kind of event, with fresh event ids.
fn message(now: i64) -> Vec<u8> {
    let header = EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::new_v4(),
        part: 0,
        owner_id: "owner-w",
        key_id: Uuid::from_u128(7),
        received_at: now,
        client_ip: "203.0.113.0",
        user_agent: "Mozilla/5.0",
        clock_skew_ms: 0,
    };
    kit::envelopes(&kit::every_kind_batch(now), &header, 1 << 20).remove(0)
}

async fn write(writer: &Writer, message: &[u8], token: &str) -> Result<(), WriteError> {
    let source = Source {
        partition: 0,
        offset: 0,
    };
    let outcome = writer
        .write(
            [(message, source)].into_iter(),
            token,
            &mut Default::default(),
        )
        .await?;
    assert!(outcome.dead.is_empty());
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_that_no_longer_matches_its_row_type_is_refused_by_column_name() {
    let ch = kit::fresh_database().await;
    let client = ch.client();
    client
        .query("ALTER TABLE heatmap_data MODIFY COLUMN scroll_y Int64")
        .execute()
        .await
        .unwrap();
    let writer = Writer::new(client.clone());
    let refused = write(&writer, &message(now_ms()), "t1").await;
    let error = refused
        .expect_err("a mismatched table must be refused")
        .to_string();
    assert!(error.contains("scroll_y"), "{error}");
    assert_eq!(kit::event_rows(&client, false).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_inserts_after_the_checked_one_read_back_the_same() {
    let ch = kit::fresh_database().await;
    let client = ch.client();
    let writer = Writer::new(client.clone());
    let now = now_ms();
    for (i, token) in ["checked", "plain-1", "plain-2"].into_iter().enumerate() {
        write(&writer, &message(now), token).await.unwrap();
        let (f, h, p) = kit::event_rows(&client, false).await;
        let n = i as u64 + 1;
        assert_eq!((f, h, p), (7 * n, 3 * n, 2 * n));
    }
    // Three writes of the same events under new ids: every column but the ids reads back
    // identical, so each table holds exactly one batch's worth of distinct rows.
    for (table, distinct) in [
        ("friction_events", 7),
        ("heatmap_data", 3),
        ("page_performance_metrics", 2),
    ] {
        let rows: u64 = client
            .query(&format!(
                "SELECT count() FROM (SELECT DISTINCT * EXCEPT (event_id, batch_id) FROM {table})"
            ))
            .fetch_one()
            .await
            .unwrap();
        assert_eq!(rows, distinct, "{table}");
    }
}
