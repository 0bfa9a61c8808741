//! librdkafka's rebalance callbacks: a revocation writes and commits the batch before the
//! partitions go; every change is recorded in [`Assignment`] for the lag probe.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::ClientContext;

use crate::flush::Shared;
use crate::metrics::Metrics;

/// The partitions this instance owns now.
#[derive(Debug, Default, Clone)]
pub struct Assignment(Arc<Mutex<BTreeSet<i32>>>);

impl Assignment {
    /// The partitions, in order.
    pub fn partitions(&self) -> Vec<i32> {
        self.lock().iter().copied().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<i32>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The consumer's context.
pub struct Context {
    shared: Arc<Shared>,
    assignment: Assignment,
    metrics: Arc<Metrics>,
}

impl Context {
    /// A context over the shared state, recording the assignment in `assignment`.
    pub fn new(shared: Arc<Shared>, assignment: Assignment, metrics: Arc<Metrics>) -> Self {
        Context {
            shared,
            assignment,
            metrics,
        }
    }
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(list) = rebalance {
            tracing::info!(
                partitions = list.count(),
                "partitions revoked; writing and committing the batch"
            );
            self.shared.drain(consumer);
            let mut owned = self.assignment.lock();
            for e in list.elements() {
                owned.remove(&e.partition());
                let _ = self
                    .metrics
                    .lag
                    .remove_label_values(&[&e.partition().to_string()]);
            }
            self.metrics.assigned_partitions.set(owned.len() as i64);
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(list) = rebalance {
            tracing::info!(partitions = list.count(), "partitions assigned");
            let mut owned = self.assignment.lock();
            owned.extend(list.elements().iter().map(|e| e.partition()));
            self.metrics.assigned_partitions.set(owned.len() as i64);
        }
    }
}
