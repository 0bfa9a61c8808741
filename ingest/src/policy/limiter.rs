//! Token buckets in a DashMap, per key (its events) or per client address (its refused
//! requests). A bucket holds up to a minute's worth of requests and refills continuously
//! at that rate. Time is passed in, so the arithmetic is tested exactly; idle buckets
//! (full again anyway) are evicted.

use std::hash::Hash;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use uuid::Uuid;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; whole requests left in the bucket.
    Allowed {
        /// Requests left now.
        remaining: u32,
    },
    /// Over the limit.
    Limited {
        /// Seconds until one request is allowed again (at least 1).
        retry_after_s: u64,
    },
}

/// Token buckets of everything that sent recently, by `K` (a key id by default).
#[derive(Debug)]
pub struct RateLimiter<K: Hash + Eq = Uuid> {
    buckets: DashMap<K, Bucket>,
}

impl<K: Hash + Eq> Default for RateLimiter<K> {
    fn default() -> Self {
        RateLimiter {
            buckets: DashMap::new(),
        }
    }
}

impl<K: Hash + Eq + Copy> RateLimiter<K> {
    /// Takes one request from `key`'s bucket at time `now`.
    pub fn check(&self, key: K, per_minute: u32, now: Instant) -> Decision {
        let capacity = f64::from(per_minute.max(1));
        let per_second = capacity / 60.0;
        let mut bucket = self.buckets.entry(key).or_insert(Bucket {
            tokens: capacity,
            last: now,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_second).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Decision::Allowed {
                remaining: bucket.tokens.floor() as u32,
            }
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Decision::Limited {
                retry_after_s: (wait.ceil() as u64).max(1),
            }
        }
    }

    /// What [`RateLimiter::check`] would answer at `now`, without taking a request.
    pub fn probe(&self, key: K, per_minute: u32, now: Instant) -> Decision {
        let capacity = f64::from(per_minute.max(1));
        let tokens = match self.buckets.get(&key) {
            Some(b) => {
                let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
                (b.tokens + elapsed * capacity / 60.0).min(capacity)
            }
            None => capacity,
        };
        if tokens >= 1.0 {
            Decision::Allowed {
                remaining: (tokens - 1.0).floor() as u32,
            }
        } else {
            let wait = (1.0 - tokens) * 60.0 / capacity;
            Decision::Limited {
                retry_after_s: (wait.ceil() as u64).max(1),
            }
        }
    }

    /// Whole requests left for `key` at `now`, without taking one (for the headers of
    /// requests refused before the limit was applied).
    pub fn peek(&self, key: K, per_minute: u32, now: Instant) -> u32 {
        let capacity = f64::from(per_minute.max(1));
        match self.buckets.get(&key) {
            Some(b) => {
                let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
                (b.tokens + elapsed * capacity / 60.0).min(capacity).floor() as u32
            }
            None => per_minute,
        }
    }

    /// Drops buckets untouched for `idle`; returns how many are left.
    pub fn evict_idle(&self, now: Instant, idle: Duration) -> usize {
        self.buckets
            .retain(|_, b| now.saturating_duration_since(b.last) < idle);
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_a_minute_of_burst_then_limits_then_refills() {
        let limiter = RateLimiter::default();
        let key = Uuid::new_v4();
        let t0 = Instant::now();
        for i in 0..60 {
            assert_eq!(
                limiter.check(key, 60, t0),
                Decision::Allowed { remaining: 59 - i }
            );
        }
        assert_eq!(
            limiter.check(key, 60, t0),
            Decision::Limited { retry_after_s: 1 }
        );
        assert_eq!(
            limiter.check(key, 60, t0 + Duration::from_millis(1500)),
            Decision::Allowed { remaining: 0 }
        );
        assert!(matches!(
            limiter.check(key, 60, t0 + Duration::from_millis(1600)),
            Decision::Limited { .. }
        ));
    }

    #[test]
    fn peeking_takes_nothing() {
        let limiter = RateLimiter::default();
        let key = Uuid::new_v4();
        let t0 = Instant::now();
        assert_eq!(limiter.peek(key, 10, t0), 10);
        limiter.check(key, 10, t0);
        assert_eq!(limiter.peek(key, 10, t0), 9);
        assert_eq!(limiter.peek(key, 10, t0), 9);
        assert_eq!(
            limiter.probe(key, 10, t0),
            Decision::Allowed { remaining: 8 }
        );
        assert_eq!(limiter.peek(key, 10, t0), 9);
    }

    #[test]
    fn slow_limits_give_long_retry_after() {
        let limiter = RateLimiter::default();
        let key = Uuid::new_v4();
        let t0 = Instant::now();
        assert!(matches!(
            limiter.check(key, 2, t0),
            Decision::Allowed { .. }
        ));
        assert!(matches!(
            limiter.check(key, 2, t0),
            Decision::Allowed { .. }
        ));
        assert_eq!(
            limiter.check(key, 2, t0),
            Decision::Limited { retry_after_s: 30 }
        );
    }

    #[test]
    fn keys_are_independent_and_idle_buckets_are_evicted() {
        let limiter = RateLimiter::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let t0 = Instant::now();
        limiter.check(a, 1, t0);
        assert!(matches!(limiter.check(a, 1, t0), Decision::Limited { .. }));
        assert!(matches!(limiter.check(b, 1, t0), Decision::Allowed { .. }));
        limiter.check(b, 1, t0 + Duration::from_secs(100));
        assert_eq!(
            limiter.evict_idle(t0 + Duration::from_secs(130), Duration::from_secs(60)),
            1
        );
    }
}
