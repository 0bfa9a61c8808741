//! Time as an argument: code that batches, expires or backs off asks a [`Clock`], so its
//! tests move time forward exactly instead of sleeping.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The system clock, or a manual one that only moves when a test advances it.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<Manual>>);

#[derive(Debug)]
struct Manual {
    start: Instant,
    start_ms: i64,
    elapsed_ns: AtomicU64,
}

impl Clock {
    /// The real clock.
    pub fn system() -> Self {
        Clock(None)
    }

    /// A clock frozen at the current time until [`Clock::advance`] moves it.
    pub fn manual() -> Self {
        Clock(Some(Arc::new(Manual {
            start: Instant::now(),
            start_ms: friction_schema::now_ms(),
            elapsed_ns: AtomicU64::new(0),
        })))
    }

    /// Moves a manual clock forward (every clone sees it); the system clock ignores it.
    pub fn advance(&self, by: Duration) {
        if let Some(m) = &self.0 {
            m.elapsed_ns
                .fetch_add(by.as_nanos() as u64, Ordering::Relaxed);
        }
    }

    /// Monotonic now.
    pub fn now(&self) -> Instant {
        match &self.0 {
            None => Instant::now(),
            Some(m) => m.start + m.elapsed(),
        }
    }

    /// Wall-clock milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        match &self.0 {
            None => friction_schema::now_ms(),
            Some(m) => m.start_ms + m.elapsed().as_millis() as i64,
        }
    }
}

impl Manual {
    fn elapsed(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = Clock::manual();
        let (t0, ms0) = (clock.now(), clock.now_ms());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(clock.now(), t0);
        clock.clone().advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - t0, Duration::from_millis(1500));
        assert_eq!(clock.now_ms() - ms0, 1500);
        assert!(Clock::system().now() > t0);
    }
}
