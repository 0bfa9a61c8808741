//! Background duties beside the requests: readiness probes of Kafka and the key store,
//! usage flushes, idle-bucket eviction and gauges, until shutdown.

use std::sync::Arc;
use std::time::Duration;

use friction_service::shutdown::Shutdown;

use crate::state::State;

/// How often Kafka and the key store are probed for readiness.
const PROBE_EVERY: Duration = Duration::from_secs(2);

/// Starts the probes and the periodic flush; both stop at `shutdown`.
pub fn spawn(state: Arc<State>, usage_flush: Duration, bucket_idle: Duration, shutdown: Shutdown) {
    let kafka_ready = state.ops.readiness.flag("kafka");
    let keys_ready = state.ops.readiness.flag("clickhouse");
    let probe_state = state.clone();
    let mut probe_shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            let sink_state = probe_state.clone();
            let kafka_ok = tokio::task::spawn_blocking(move || sink_state.sink.reachable())
                .await
                .unwrap_or(false);
            kafka_ready.set(kafka_ok);
            keys_ready.set(probe_state.policy.keys.ping().await);
            // The index only spares lookups: a failed refresh keeps the last one and
            // does not make ingest unready.
            let metrics = &probe_state.metrics;
            match probe_state.policy.keys.refresh_index().await {
                Ok(entries) => {
                    metrics.key_index_entries.set(entries as i64);
                    metrics.key_index_refreshes.with_label_values(&["ok"]).inc();
                }
                Err(e) => {
                    metrics
                        .key_index_refreshes
                        .with_label_values(&["error"])
                        .inc();
                    tracing::debug!(error = %e, "key index not refreshed");
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(PROBE_EVERY) => {}
                _ = probe_shutdown.wait() => return,
            }
        }
    });

    let mut upkeep_shutdown = shutdown;
    tokio::spawn(async move {
        let mut flush = tokio::time::interval(usage_flush.max(Duration::from_millis(100)));
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = flush.tick() => {}
                _ = upkeep_shutdown.wait() => return,
            }
            if let Err(e) = state.usage.flush(&state.clickhouse).await {
                state.metrics.usage_flush_errors.inc();
                tracing::warn!(error = %e, "usage flush failed; kept for the next one");
            }
            let now = state.clock.now();
            let buckets = state.policy.limiter.evict_idle(now, bucket_idle)
                + state.policy.refusals.evict_idle(now, bucket_idle);
            state.metrics.rate_limit_buckets.set(buckets as i64);
            state
                .metrics
                .key_cache_entries
                .set(state.policy.keys.cached() as i64);
            state
                .metrics
                .kafka_queue_messages
                .set(state.sink.queued().into());
        }
    });
}
