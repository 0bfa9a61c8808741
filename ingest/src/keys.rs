//! API key lookups: a bounded moka cache in front of the `api_keys` table.
//!
//! - A looked-up key is trusted for `key_cache_ttl_ms`, so a disabled or deleted key stops
//!   working within that time; an unknown key is remembered for `key_negative_ttl_ms`.
//! - Concurrent misses for one key share a single query (moka's `try_get_with`), and at
//!   most `MAX_CONCURRENT_LOOKUPS` queries run at once, so a flood of distinct unknown
//!   keys can neither hammer ClickHouse nor grow memory past the cache capacity.
//! - While ClickHouse is unreachable, keys seen in the last `key_grace_ms` keep working
//!   from memory; keys never seen get 503 rather than a wrong 401.

use std::sync::Arc;
use std::time::{Duration, Instant};

use friction_schema::api_key::{self, ApiKeyRow};
use moka::future::Cache;
use moka::Expiry;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::origin::AllowedDomains;

/// Lookups that may query ClickHouse at the same time.
const MAX_CONCURRENT_LOOKUPS: usize = 16;
/// How long a miss waits for a lookup slot before answering 503.
const LOOKUP_QUEUE_TIMEOUT: Duration = Duration::from_secs(2);

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
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("API key store unavailable")]
pub struct Unavailable;

#[derive(Clone)]
enum Lookup {
    Known(Arc<KeyInfo>),
    Unknown,
}

struct KeyExpiry {
    known: Duration,
    unknown: Duration,
}

impl Expiry<String, Lookup> for KeyExpiry {
    fn expire_after_create(&self, _: &String, value: &Lookup, _: Instant) -> Option<Duration> {
        Some(match value {
            Lookup::Known(_) => self.known,
            Lookup::Unknown => self.unknown,
        })
    }
}

/// Cached key lookups.
pub struct KeyStore {
    client: clickhouse::Client,
    fresh: Cache<String, Lookup>,
    last_known: Cache<String, Arc<KeyInfo>>,
    slots: Semaphore,
    default_rate_limit: u32,
}

/// Settings of the store.
#[derive(Debug, Clone)]
pub struct KeyStoreConfig {
    /// TTL of a found key.
    pub ttl: Duration,
    /// TTL of an unknown key.
    pub negative_ttl: Duration,
    /// Entries in each cache.
    pub capacity: u64,
    /// How long a found key is usable while ClickHouse is down.
    pub grace: Duration,
    /// Rate limit of keys stored with 0.
    pub default_rate_limit: u32,
}

impl KeyStore {
    /// A store reading `api_keys` through `client`.
    pub fn new(client: clickhouse::Client, config: KeyStoreConfig) -> Self {
        KeyStore {
            client,
            fresh: Cache::builder()
                .max_capacity(config.capacity)
                .expire_after(KeyExpiry {
                    known: config.ttl,
                    unknown: config.negative_ttl,
                })
                .build(),
            last_known: Cache::builder()
                .max_capacity(config.capacity)
                .time_to_live(config.grace)
                .build(),
            slots: Semaphore::new(MAX_CONCURRENT_LOOKUPS),
            default_rate_limit: config.default_rate_limit,
        }
    }

    /// The key's info, `None` when no such key exists. `key` must be well-formed.
    pub async fn get(&self, key: &str) -> Result<Option<Arc<KeyInfo>>, Unavailable> {
        match self.fresh.try_get_with_by_ref(key, self.load(key)).await {
            Ok(Lookup::Known(info)) => Ok(Some(info)),
            Ok(Lookup::Unknown) => Ok(None),
            Err(_) => match self.last_known.get(key).await {
                Some(info) => Ok(Some(info)),
                None => Err(Unavailable),
            },
        }
    }

    /// Checks that the table answers, for readiness.
    pub async fn ping(&self) -> bool {
        self.client
            .query("SELECT 1 FROM api_keys LIMIT 1")
            .execute()
            .await
            .is_ok()
    }

    /// Entries in the lookup cache (for metrics).
    pub fn cached(&self) -> u64 {
        self.fresh.entry_count()
    }

    async fn load(&self, key: &str) -> Result<Lookup, Unavailable> {
        let _slot = tokio::time::timeout(LOOKUP_QUEUE_TIMEOUT, self.slots.acquire())
            .await
            .map_err(|_| Unavailable)?
            .map_err(|_| Unavailable)?;
        let row: Option<ApiKeyRow> = self
            .client
            .query("SELECT ?fields FROM api_keys FINAL WHERE key_hash = ? LIMIT 1")
            .bind(api_key::hash(key))
            .fetch_optional()
            .await
            .map_err(|e| {
                tracing::warn!(error = %e, "api key lookup failed");
                Unavailable
            })?;
        match row {
            Some(row) if row.is_deleted == 0 => {
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
                Ok(Lookup::Known(info))
            }
            _ => {
                self.last_known.invalidate(key).await;
                Ok(Lookup::Unknown)
            }
        }
    }
}
