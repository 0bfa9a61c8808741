//! API key lookups: a bounded moka cache in front of the `api_keys` table.
//!
//! - A looked-up key is trusted for `key_cache_ttl_ms`, so a disabled or deleted key stops
//!   working within that time; an unknown key is remembered for `key_negative_ttl_ms`.
//! - Concurrent misses for one key share a single query (moka's `try_get_with`), and at
//!   most `MAX_CONCURRENT_LOOKUPS` queries run at once; unknown keys go to a small
//!   negative cache. A flood of distinct unknown keys can neither hammer ClickHouse nor
//!   grow memory past the (bounded) caches.
//! - While ClickHouse is unreachable, keys seen in the last `key_grace_ms` keep working
//!   from memory; keys never seen get 503 rather than a wrong 401.
//! - Random keys cannot starve real ones: ingest keeps an index of every stored key's
//!   hash prefix ([`KeyStore::refresh_index`]: new keys every few seconds, all of them
//!   every few minutes). A missed key in the
//!   index takes one of the main lookup slots; a key outside it (a typo, a flood of random
//!   keys, or a key made since the last refresh) may only take one of a few slots of its
//!   own, and is answered 503 (retry) when they are busy, with one warning per interval
//!   rather than an error per request.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use friction_store::keys as repo;
use moka::future::Cache;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::origin::AllowedDomains;

/// Lookups of indexed keys that may query ClickHouse at the same time.
const MAX_CONCURRENT_LOOKUPS: usize = 12;
/// Lookups of keys outside the index that may run at the same time.
const MAX_CONCURRENT_UNSEEN_LOOKUPS: usize = 4;
/// How long a miss waits for a lookup slot before answering 503.
const LOOKUP_QUEUE_TIMEOUT: Duration = Duration::from_millis(250);
/// How long a key outside the index waits for one of its slots.
const UNSEEN_QUEUE_TIMEOUT: Duration = Duration::from_millis(20);
/// How often the index of stored keys is loaded whole (between, only new keys are read).
const INDEX_FULL_EVERY_MS: i64 = 5 * 60_000;
/// How far back an incremental refresh of the index reads, before the previous one.
const INDEX_MARGIN_MS: i64 = 30_000;
/// At most one warning about busy lookups per this interval.
const BUSY_LOG_EVERY: Duration = Duration::from_secs(10);

/// What ingest needs to know about a key.
#[derive(Debug)]
pub struct KeyInfo {
    /// Id, stored with every event.
    pub key_id: Uuid,
    /// Owner, stored with every event.
    pub owner_id: Box<str>,
    /// Origins allowed to send.
    pub domains: AllowedDomains,
    /// Requests per minute.
    pub rate_limit_per_minute: u32,
    /// Disabled keys are refused with 403.
    pub active: bool,
}

/// The key store could not answer for a key it has not seen recently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// ClickHouse did not answer.
    #[error("API key store unavailable")]
    Store,
    /// Every lookup slot the key may use is taken.
    #[error("API key lookups are busy")]
    Busy,
}

#[derive(Debug, Clone, Copy, thiserror::Error)]
enum LookupError {
    #[error("no such key")]
    NotFound,
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
}

/// Cached key lookups.
pub struct KeyStore {
    client: clickhouse::Client,
    known: Cache<String, Arc<KeyInfo>>,
    unknown: Cache<String, ()>,
    last_known: Cache<String, Arc<KeyInfo>>,
    slots: Semaphore,
    unseen_slots: Semaphore,
    /// Hash prefixes of every stored key; `None` until first loaded.
    index: RwLock<Option<Arc<HashSet<u64>>>>,
    /// When the index was last refreshed, and last loaded whole (ms since 1970).
    index_refreshed: AtomicI64,
    index_full_at: AtomicI64,
    busy: AtomicU64,
    busy_logged: std::sync::Mutex<Option<Instant>>,
    default_rate_limit: u32,
    counters: KeyCounters,
}

/// Where the store counts its answers (ingest's metrics `key_cache` and `key_lookups`).
/// The cache's answers are resolved once: one of them is counted on every request.
#[derive(Clone)]
pub struct KeyCounters {
    hit: prometheus::IntCounter,
    negative_hit: prometheus::IntCounter,
    miss: prometheus::IntCounter,
    lookups: prometheus::IntCounterVec,
}

impl KeyCounters {
    /// Counters over `cache` (by answer: `hit`, `negative_hit`, `miss`) and `lookups` (by
    /// result: `found`, `not_found`, `stale`, `unavailable`, `busy`).
    pub fn new(cache: &prometheus::IntCounterVec, lookups: prometheus::IntCounterVec) -> Self {
        KeyCounters {
            hit: cache.with_label_values(&["hit"]),
            negative_hit: cache.with_label_values(&["negative_hit"]),
            miss: cache.with_label_values(&["miss"]),
            lookups,
        }
    }
}

/// Settings of the store.
#[derive(Debug, Clone)]
pub struct KeyStoreConfig {
    /// TTL of a found key.
    pub ttl: Duration,
    /// TTL of an unknown key.
    pub negative_ttl: Duration,
    /// Found keys held.
    pub capacity: u64,
    /// Unknown keys remembered. Small on purpose: it only spares repeated lookups of
    /// the same bad key; a flood of distinct keys is bounded by the lookup slots.
    pub negative_capacity: u64,
    /// How long a found key is usable while ClickHouse is down.
    pub grace: Duration,
    /// Rate limit of keys stored with 0.
    pub default_rate_limit: u32,
}

impl KeyStore {
    /// A store reading `api_keys` through `client`.
    pub fn new(client: clickhouse::Client, config: KeyStoreConfig, counters: KeyCounters) -> Self {
        KeyStore {
            client,
            known: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.ttl)
                .build(),
            unknown: Cache::builder()
                .max_capacity(config.negative_capacity)
                .time_to_live(config.negative_ttl)
                .build(),
            last_known: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.grace)
                .build(),
            slots: Semaphore::new(MAX_CONCURRENT_LOOKUPS),
            unseen_slots: Semaphore::new(MAX_CONCURRENT_UNSEEN_LOOKUPS),
            index: RwLock::new(None),
            index_refreshed: AtomicI64::new(0),
            index_full_at: AtomicI64::new(0),
            busy: AtomicU64::new(0),
            busy_logged: std::sync::Mutex::new(None),
            default_rate_limit: config.default_rate_limit,
            counters,
        }
    }

    /// The key's info, `None` when no such key exists. `key` must be well-formed.
    pub async fn get(&self, key: &str) -> Result<Option<Arc<KeyInfo>>, Unavailable> {
        let lookup = |result: &str| self.counters.lookups.with_label_values(&[result]).inc();
        if let Some(info) = self.known.get(key).await {
            self.counters.hit.inc();
            return Ok(Some(info));
        }
        if self.unknown.contains_key(key) {
            self.counters.negative_hit.inc();
            return Ok(None);
        }
        self.counters.miss.inc();
        match self.known.try_get_with_by_ref(key, self.load(key)).await {
            Ok(info) => {
                lookup("found");
                Ok(Some(info))
            }
            Err(e) => match *e {
                LookupError::NotFound => {
                    lookup("not_found");
                    self.unknown.insert(key.to_owned(), ()).await;
                    Ok(None)
                }
                LookupError::Unavailable(why) => match self.last_known.get(key).await {
                    Some(info) => {
                        lookup("stale");
                        Ok(Some(info))
                    }
                    None => {
                        lookup(match why {
                            Unavailable::Store => "unavailable",
                            Unavailable::Busy => "busy",
                        });
                        Err(why)
                    }
                },
            },
        }
    }

    /// Brings the index of stored keys up to date: the keys created since the last
    /// refresh (with a margin for clocks and late inserts), and all of them every
    /// `INDEX_FULL_EVERY`. On failure the index stays as it was. Returns its size.
    pub async fn refresh_index(&self) -> Result<usize, clickhouse::error::Error> {
        let started = friction_schema::now_ms();
        let current = self.index.read().ok().and_then(|i| i.clone());
        let last = self.index_refreshed.load(Ordering::Relaxed);
        let full_due = self.index_full_at.load(Ordering::Relaxed) + INDEX_FULL_EVERY_MS <= started;
        let since = match (&current, full_due) {
            (Some(_), false) => Some(last - INDEX_MARGIN_MS),
            _ => None,
        };
        let found = repo::hash_prefixes(&self.client, since).await?;
        let mut index = match (since, current) {
            (Some(_), Some(current)) => (*current).clone(),
            _ => {
                self.index_full_at.store(started, Ordering::Relaxed);
                HashSet::with_capacity(found.len())
            }
        };
        index.extend(found);
        let len = index.len();
        if let Ok(mut slot) = self.index.write() {
            *slot = Some(Arc::new(index));
        }
        self.index_refreshed.store(started, Ordering::Relaxed);
        Ok(len)
    }

    /// Whether `key` may use the main lookup slots: it is in the index, or there is no
    /// index yet.
    fn indexed(&self, key: &str) -> bool {
        let index = self.index.read().ok().and_then(|i| i.clone());
        match index {
            Some(index) => index.contains(&repo::hash_prefix(key)),
            None => true,
        }
    }

    /// Lookups refused because their slots were busy, since the start (for metrics).
    pub fn busy_refusals(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    fn note_busy(&self) {
        let total = self.busy.fetch_add(1, Ordering::Relaxed) + 1;
        let Ok(mut last) = self.busy_logged.lock() else {
            return;
        };
        if last.is_none_or(|at| at.elapsed() >= BUSY_LOG_EVERY) {
            *last = Some(Instant::now());
            tracing::warn!(
                refused_so_far = total,
                "API key lookups are busy (many unknown keys?); answering 503"
            );
        }
    }

    /// Checks that the table answers, for readiness.
    pub async fn ping(&self) -> bool {
        repo::ping(&self.client).await
    }

    /// Entries in the lookup caches (for metrics).
    pub fn cached(&self) -> u64 {
        self.known.entry_count() + self.unknown.entry_count()
    }

    async fn load(&self, key: &str) -> Result<Arc<KeyInfo>, LookupError> {
        let (slots, wait) = match self.indexed(key) {
            true => (&self.slots, LOOKUP_QUEUE_TIMEOUT),
            false => (&self.unseen_slots, UNSEEN_QUEUE_TIMEOUT),
        };
        let slot = tokio::time::timeout(wait, slots.acquire()).await;
        let Ok(Ok(_slot)) = slot else {
            self.note_busy();
            return Err(Unavailable::Busy.into());
        };
        let row = repo::find_by_key(&self.client, key).await.map_err(|e| {
            tracing::warn!(error = %e, "api key lookup failed");
            Unavailable::Store
        })?;
        match row {
            Some(row) => {
                let unusable = AllowedDomains::unusable(&row.allowed_domains);
                if !unusable.is_empty() {
                    tracing::warn!(
                        key_id = %row.key_id,
                        entries = ?unusable,
                        "allowed domains that match no origin (use *.example.com)"
                    );
                }
                let info = Arc::new(KeyInfo {
                    key_id: row.key_id,
                    owner_id: row.owner_id.into(),
                    domains: AllowedDomains::new(&row.allowed_domains),
                    rate_limit_per_minute: match row.rate_limit_per_minute {
                        0 => self.default_rate_limit,
                        n => n,
                    },
                    active: row.active,
                });
                self.last_known.insert(key.to_owned(), info.clone()).await;
                Ok(info)
            }
            None => {
                self.last_known.invalidate(key).await;
                Err(LookupError::NotFound)
            }
        }
    }
}
