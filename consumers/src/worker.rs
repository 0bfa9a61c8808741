//! The consume loop. Each instance runs one loop on its own thread: poll a message, count
//! its events, add it to the batch, and write the batch back ([`crate::flush`]) when it
//! is full or old enough, or as soon as a poll finds nothing more to read. Rebalances
//! happen inside `poll` ([`crate::rebalance`]).

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::Message;
use std::sync::Arc;

use crate::decode;
use crate::dlq::Source;
use crate::flush::Shared;
use crate::rebalance::Context;

/// Runs the loop until shutdown. Blocking: call on a thread of its own.
pub fn run(consumer: BaseConsumer<Context>, shared: Arc<Shared>) {
    while !shared.stopping() {
        let mut caught_up = false;
        match consumer.poll(shared.poll_timeout()) {
            Some(Ok(message)) => {
                let source = Source {
                    partition: message.partition(),
                    offset: message.offset(),
                };
                let payload = message.payload().unwrap_or_default();
                shared.push(payload, decode::count_events(payload), source);
            }
            Some(Err(e)) => tracing::warn!(error = %e, "kafka consumer error"),
            None => caught_up = true,
        }
        shared.flush_if_due(&consumer, caught_up);
    }
    tracing::info!("consumer stopping; writing the last batch");
    shared.drain(&consumer);
    consumer.unsubscribe();
}
