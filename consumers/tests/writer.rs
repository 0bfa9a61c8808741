//! The writer checks its rows against the tables' columns: a table that no longer matches
//! its row type is refused by column name, with nothing written.

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

/// The same when the table changes under a running writer (a migration while consumers
/// run): the writer's cached view of the table is stale, and the server refuses the rows
/// by the column types each INSERT names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_changed_under_a_running_writer_is_refused() {
    let ch = kit::fresh_database().await;
    let client = ch.client();
    let writer = Writer::new(client.clone());
    write(&writer, &message(now_ms()), "t1").await.unwrap();
    assert_eq!(kit::event_rows(&client, false).await, (7, 3, 2));
    client
        .query("ALTER TABLE heatmap_data MODIFY COLUMN scroll_y Int64")
        .execute()
        .await
        .unwrap();
    let refused = write(&writer, &message(now_ms()), "t2").await;
    let error = refused
        .expect_err("a mismatched table must be refused")
        .to_string();
    assert!(error.contains("scroll_y"), "{error}");
    // The refused table got nothing. The batch's other tables may have taken their rows
    // (there is no transaction across tables); the retry's de-duplication token and the
    // tables' event ids keep them from counting twice.
    let (_, heatmap, _) = kit::event_rows(&client, false).await;
    assert_eq!(heatmap, 3);
}
