//! The request body routers get: hyper's body with a deadline for the whole body and a
//! limit on the gap between two pieces of it, so a client that sends its body slowly, or
//! stops halfway, cannot hold a connection and its buffer for long.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// Reading the body failed.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The whole body did not arrive in time.
    #[error("the request body did not arrive within {} s", .0.as_secs_f64())]
    TimedOut(Duration),
    /// Nothing of the body arrived for too long.
    #[error("the request body stalled: nothing arrived for {} s", .0.as_secs_f64())]
    Stalled(Duration),
    /// The connection failed or the framing was invalid.
    #[error("could not read the request body: {0}")]
    Read(#[from] hyper::Error),
}

/// A request body that fails with [`BodyError::TimedOut`] once its deadline passes, and
/// with [`BodyError::Stalled`] when no piece of it arrives for `gap`.
pub struct RequestBody {
    inner: Incoming,
    timeout: Duration,
    deadline: Instant,
    gap: Duration,
    gap_deadline: Instant,
    /// Armed at the first poll, so requests without a body never allocate a timer.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl RequestBody {
    /// `inner`, due within `timeout` from now, with pieces at most `gap` apart.
    pub fn new(inner: Incoming, timeout: Duration, gap: Duration) -> Self {
        let now = Instant::now();
        RequestBody {
            inner,
            timeout,
            deadline: now + timeout,
            gap,
            gap_deadline: now + gap,
            sleep: None,
        }
    }
}

impl RequestBody {
    /// Gives the rest of the body `timeout` from now (uploads take longer than batches).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
        self.deadline = Instant::now() + timeout;
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.gap_deadline = Instant::now() + this.gap;
            return Poll::Ready(frame.map(|f| f.map_err(BodyError::Read)));
        }
        let due = this.deadline.min(this.gap_deadline);
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(due)));
        if sleep.deadline() != due {
            sleep.as_mut().reset(due);
        }
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) if due == this.deadline => {
                Poll::Ready(Some(Err(BodyError::TimedOut(this.timeout))))
            }
            Poll::Ready(()) => Poll::Ready(Some(Err(BodyError::Stalled(this.gap)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
