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

use std::sync::Arc;
use std::time::Duration;

use friction_store::keys as repo;
use moka::future::Cache;
use tokio::sync::Semaphore;
use uuid::Uuid;

use super::origin::AllowedDomains;

/// Lookups that may query ClickHouse at the same time.
const MAX_CONCURRENT_LOOKUPS: usize = 16;
/// How long a miss waits for a lookup slot before answering 503.
const LOOKUP_QUEUE_TIMEOUT: Duration = Duration::from_millis(250);

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
    default_rate_limit: u32,
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
    pub fn new(client: clickhouse::Client, config: KeyStoreConfig) -> Self {
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
            default_rate_limit: config.default_rate_limit,
        }
    }

    /// The key's info, `None` when no such key exists. `key` must be well-formed.
    pub async fn get(&self, key: &str) -> Result<Option<Arc<KeyInfo>>, Unavailable> {
        if let Some(info) = self.known.get(key).await {
            return Ok(Some(info));
        }
        if self.unknown.contains_key(key) {
            return Ok(None);
        }
        match self.known.try_get_with_by_ref(key, self.load(key)).await {
            Ok(info) => Ok(Some(info)),
            Err(e) => match *e {
                LookupError::NotFound => {
                    self.unknown.insert(key.to_owned(), ()).await;
                    Ok(None)
                }
                LookupError::Unavailable(_) => match self.last_known.get(key).await {
                    Some(info) => Ok(Some(info)),
                    None => Err(Unavailable),
                },
            },
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
        let _slot = tokio::time::timeout(LOOKUP_QUEUE_TIMEOUT, self.slots.acquire())
            .await
            .map_err(|_| Unavailable)?
            .map_err(|_| Unavailable)?;
        let row = repo::find_by_key(&self.client, key).await.map_err(|e| {
            tracing::warn!(error = %e, "api key lookup failed");
            Unavailable
        })?;
        match row {
            Some(row) => {
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
