//! The consume loop. Each instance runs one loop on its own thread: poll a message, count
//! its events, add it to the batch, and write the batch back ([`crate::flush`]) when it
//! is full or old enough. Rebalances happen inside `poll` ([`crate::rebalance`]).

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message;

use crate::decode;
use crate::dlq::Source;
use crate::flush::Shared;
use crate::rebalance::Context;

/// Runs the loop until shutdown. Blocking: call on a thread of its own.
pub fn run(consumer: BaseConsumer<Context>, shared: Arc<Shared>) {
    while !shared.stopping() {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(message)) => {
                let source = Source {
                    partition: message.partition(),
                    offset: message.offset(),
                };
                let payload = message.payload().unwrap_or_default();
                shared.push(payload, decode::count_events(payload), source);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka consumer error"),
            None => {}
        }
        shared.flush_if_due(&consumer);
    }
    tracing::info!("consumer stopping; writing the last batch");
    shared.drain(&consumer);
    consumer.unsubscribe();
}
