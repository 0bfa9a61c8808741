//! Micro-benchmarks of the per-batch work on the hot path, on the 20-event (~9 KB) body
//! the HTTP benchmarks send: parsing and validating it (ingest), encoding the validated
//! events into a Kafka envelope (ingest), and decoding that envelope into table rows
//! (consumers; the RowBinary bytes themselves are written inside the `clickhouse` crate
//! and measured end to end by `consumers-bench`).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use friction_schema::envelope::{self, Decoder, EnvelopeHeader, RawEvent, ENVELOPE_VERSION};
use friction_schema::rows::EventRow;
use friction_schema::{Limits, Parser};
use uuid::Uuid;

fn header(received_at: i64) -> EnvelopeHeader<'static> {
    EnvelopeHeader {
        v: ENVELOPE_VERSION,
        batch_id: Uuid::from_u128(1),
        part: 0,
        owner_id: "bench",
        key_id: Uuid::from_u128(2),
        received_at,
        client_ip: "203.0.113.0",
        user_agent: "Mozilla/5.0 (bench)",
        clock_skew_ms: 0,
    }
}

fn hot_path(c: &mut Criterion) {
    let now = friction_schema::now_ms();
    let body = friction_benches::twenty_event_body(now).into_bytes();
    let limits = Limits::default();
    let mut group = c.benchmark_group("batch of 20 events");
    group.throughput(Throughput::Elements(20));

    let mut parser = Parser::default();
    group.bench_function("parse and validate", |b| {
        b.iter_batched_ref(
            || body.clone(),
            |body| {
                parser
                    .validate(body, &limits, now)
                    .map(|v| v.accepted.len())
            },
            BatchSize::SmallInput,
        )
    });

    let mut copy = body.clone();
    let mut encoder_parser = Parser::default();
    let validated = encoder_parser.validate(&mut copy, &limits, now).unwrap();
    let raw: Vec<RawEvent<'_>> = validated
        .accepted
        .iter()
        .map(|a| RawEvent::of(a, &copy))
        .collect();
    let mut buf = Vec::new();
    let mut message = Vec::new();
    group.bench_function("envelope encoding", |b| {
        b.iter(|| {
            envelope::encode::<()>(&header(now), &raw, 1 << 20, &mut buf, |m| {
                message.clear();
                message.extend_from_slice(m);
                Ok(())
            })
        })
    });

    let mut decoder = Decoder::default();
    group.bench_function("envelope to rows", |b| {
        b.iter_batched_ref(
            || message.clone(),
            |m| {
                let decoded = decoder.decode(m).unwrap();
                decoded
                    .events
                    .iter()
                    .filter_map(|e| e.as_ref().ok())
                    .map(|e| EventRow::new(&decoded.header, e))
                    .filter(|row| matches!(row, EventRow::Heatmap(_)))
                    .count()
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
