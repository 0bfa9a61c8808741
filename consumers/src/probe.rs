//! Readiness and lag, on a thread of their own so a slow broker or engine never stalls
//! the consume loop: every few seconds the probe asks the broker for metadata, the
//! committed offsets of the group and the end of each owned partition, and pings
//! ClickHouse.

use std::time::Duration;

use friction_service::ops::ReadyFlag;
use friction_service::shutdown::Shutdown;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio::runtime::Handle;

use crate::metrics::Metrics;
use crate::rebalance::Assignment;
use crate::writer::Writer;

/// How often the probe runs.
const EVERY: Duration = Duration::from_secs(2);
/// How long one broker request of the probe may take.
const TIMEOUT: Duration = Duration::from_secs(2);

/// What the probe reads and sets.
pub struct Probe {
    /// A client of the group that never subscribes: it only reads offsets.
    pub client: BaseConsumer,
    /// Raw topic.
    pub topic: String,
    /// Partitions owned by the consume loop.
    pub assignment: Assignment,
    /// ClickHouse, for its ping.
    pub writer: Writer,
    /// Runtime the ping runs on.
    pub runtime: Handle,
    /// Metrics (lag).
    pub metrics: std::sync::Arc<Metrics>,
    /// Readiness of Kafka.
    pub kafka_ready: ReadyFlag,
    /// Readiness of ClickHouse.
    pub clickhouse_ready: ReadyFlag,
}

impl Probe {
    /// Probes until `shutdown`. Blocking: call on a thread of its own.
    pub fn run(self, shutdown: Shutdown) {
        while !shutdown.is_triggered() {
            self.once();
            let mut waiting = shutdown.clone();
            self.runtime.block_on(async {
                tokio::select! {
                    _ = tokio::time::sleep(EVERY) => {}
                    _ = waiting.wait() => {}
                }
            });
        }
    }

    fn once(&self) {
        let reachable = self
            .client
            .fetch_metadata(Some(&self.topic), TIMEOUT)
            .is_ok();
        self.kafka_ready.set(reachable);
        self.clickhouse_ready
            .set(self.runtime.block_on(self.writer.ping()));
        if reachable {
            self.lag();
        }
    }

    /// Messages not yet committed (so not yet in ClickHouse) per owned partition.
    fn lag(&self) {
        let partitions = self.assignment.partitions();
        if partitions.is_empty() {
            return;
        }
        let mut list = TopicPartitionList::new();
        for p in &partitions {
            list.add_partition(&self.topic, *p);
        }
        let committed = self.client.committed_offsets(list, TIMEOUT).ok();
        for partition in partitions {
            let Ok((low, high)) = self
                .client
                .fetch_watermarks(&self.topic, partition, TIMEOUT)
            else {
                continue;
            };
            // Nothing committed yet: the group starts at the beginning.
            let next = match committed
                .as_ref()
                .and_then(|c| c.find_partition(&self.topic, partition))
                .map(|e| e.offset())
            {
                Some(Offset::Offset(o)) => o,
                _ => low,
            };
            // Revoked meanwhile: its gauge was removed and must stay so.
            if !self.assignment.partitions().contains(&partition) {
                continue;
            }
            self.metrics
                .lag
                .with_label_values(&[&partition.to_string()])
                .set((high - next).max(0));
        }
    }
}
