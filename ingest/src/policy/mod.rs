//! Who may send: the API key (cached lookups), the origin against the key's allowed
//! domains, the key's rate limit, and known bots. [`Policy::admit`] is the one gate every
//! public endpoint passes; it answers with the key or the refusal to send.
//!
//! A request takes from its key's bucket only once it proved valid ([`Policy::spend`]),
//! so garbage sent with a site's public key cannot use up the site's budget. Refused
//! requests are bounded per client address instead ([`Policy::refused`],
//! [`Policy::check_client`]).
//!
//! - [`keys`]: the moka cache in front of the `api_keys` table;
//! - [`origin`]: allowed-domain matching;
//! - [`limiter`]: per-key token buckets;
//! - [`bots`]: crawler and monitor user agents.

pub mod bots;
pub mod keys;
pub mod limiter;
pub mod origin;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use friction_schema::api_key;
use http::request::Parts;
use http::HeaderMap;

use crate::cors;
use crate::error::ApiError;
use bots::BotDetector;
use keys::{KeyInfo, KeyStore};
use limiter::{Decision, RateLimiter};

/// A key's limit and what is left of it, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Requests per minute.
    pub limit: u32,
    /// Requests left now.
    pub remaining: u32,
}

/// A request that may go on.
#[derive(Debug)]
pub struct Admitted {
    /// The key's owner, id and settings.
    pub key: Arc<KeyInfo>,
    /// The key's rate after this request.
    pub rate: Rate,
}

impl Admitted {
    /// A refusal after admission (bad body, storage down): the key's rate still shows.
    pub fn refuse(&self, error: ApiError) -> Refused {
        Refused {
            error,
            rate: Some(self.rate),
            origin_refused: false,
        }
    }
}

/// A request that may not, with what its response must still say.
#[derive(Debug)]
pub struct Refused {
    /// Why.
    pub error: ApiError,
    /// The key's rate, once the key is known.
    pub rate: Option<Rate>,
    /// The origin was refused: the response must not be readable by it.
    pub origin_refused: bool,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Refused {
            error,
            rate: None,
            origin_refused: false,
        }
    }
}

/// The gate of the public endpoints.
pub struct Policy {
    /// Cached key lookups.
    pub keys: KeyStore,
    /// Token buckets of keys.
    pub limiter: RateLimiter,
    /// Token buckets of refused requests, per client (see [`Policy::check_client`]).
    pub refusals: RateLimiter<(IpAddr, u64)>,
    /// Refused requests a client address may send per minute.
    pub refusals_per_minute: u32,
    /// Replicas sharing each key's rate limit (see [`Policy::share`]).
    pub replicas: u32,
    /// Bot user agents.
    pub bots: BotDetector,
}

/// The API key as sent (`x-api-key`, else the `api_key` query parameter), unchecked.
pub fn sent_key(parts: &Parts) -> Option<&str> {
    match parts.headers.get("x-api-key") {
        Some(key) => key.to_str().ok(),
        None => parts
            .uri
            .query()
            .and_then(|q| q.split('&').find_map(|pair| pair.strip_prefix("api_key="))),
    }
}

/// The API key of a request, checked for shape before any lookup so garbage never
/// reaches the cache or the database.
pub fn api_key(parts: &Parts) -> Result<&str, ApiError> {
    match sent_key(parts) {
        None => Err(ApiError::MissingApiKey),
        Some(key) if api_key::is_well_formed(key) => Ok(key),
        Some(_) => Err(ApiError::InvalidApiKey),
    }
}

/// The bucket of refused requests of `client` sending `key`: the address (IPv6 cut to
/// its /64) and a hash of the key as sent (well-formed or not).
fn refusal_bucket(client: IpAddr, key: &str) -> (IpAddr, u64) {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let host = match client {
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        other => other,
    };
    let key = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
    (host, key)
}

impl Policy {
    /// Refuses a client that sent too many refused requests lately, before anything else
    /// is looked at. Refusals count per address (IPv6 by /64, what one host usually
    /// holds) and key sent: visitors behind one NAT address are not refused for another
    /// site's broken key. Requests without a key the store knows (missing, malformed,
    /// unknown, or refused as busy) share one budget per address, so random keys cannot
    /// each bring a fresh one.
    pub fn check_client(&self, client: IpAddr, key: &str, now: Instant) -> Result<(), Refused> {
        for bucket in [refusal_bucket(client, ""), refusal_bucket(client, key)] {
            if let Decision::Limited { retry_after_s } =
                self.refusals.probe(bucket, self.refusals_per_minute, now)
            {
                return Err(ApiError::TooManyRefused { retry_after_s }.into());
            }
        }
        Ok(())
    }

    /// Counts a refusal against the client when it is the client's doing: a 4xx other
    /// than a rate limit (already bounded), or a key lookup refused as busy (a flood of
    /// unknown keys).
    pub fn refused(&self, client: IpAddr, key: &str, error: &ApiError, now: Instant) {
        use friction_service::http::ApiError as _;
        let status = error.status();
        let keyless = matches!(
            error,
            ApiError::MissingApiKey | ApiError::InvalidApiKey | ApiError::KeyLookupBusy
        );
        let counts =
            keyless || (status.is_client_error() && status != http::StatusCode::TOO_MANY_REQUESTS);
        if counts {
            let bucket = refusal_bucket(client, if keyless { "" } else { key });
            self.refusals.check(bucket, self.refusals_per_minute, now);
        }
    }

    /// This replica's part of a key's limit: `ceil(limit / replicas)`, at least 1. The
    /// rate-limit headers describe this part, the bucket that decided.
    pub fn share(&self, per_minute: u32) -> u32 {
        per_minute.div_ceil(self.replicas.max(1)).max(1)
    }

    /// Takes the request from its key's bucket, once it proved valid.
    pub fn spend(&self, admitted: &Admitted, now: Instant) -> Result<Rate, Refused> {
        let limit = admitted.rate.limit;
        match self.limiter.check(admitted.key.key_id, limit, now) {
            Decision::Allowed { remaining } => Ok(Rate { limit, remaining }),
            Decision::Limited { retry_after_s } => Err(Refused {
                error: ApiError::RateLimited {
                    limit,
                    retry_after_s,
                },
                rate: Some(Rate {
                    limit,
                    remaining: 0,
                }),
                origin_refused: false,
            }),
        }
    }

    /// Looks `key` up, then checks that it is active, that the request's origin is
    /// allowed, and that its bucket has a request left at `now` (taken later by
    /// [`Policy::spend`]).
    pub async fn admit(
        &self,
        key: &str,
        headers: &HeaderMap,
        now: Instant,
    ) -> Result<Admitted, Refused> {
        let info = self
            .keys
            .get(key)
            .await
            .map_err(|e| match e {
                keys::Unavailable::Store => {
                    ApiError::Unavailable("the API key store is unreachable")
                }
                keys::Unavailable::Busy => ApiError::KeyLookupBusy,
            })?
            .ok_or(ApiError::InvalidApiKey)?;
        let limit = self.share(info.rate_limit_per_minute);
        let refused = |error, remaining, origin_refused| Refused {
            error,
            rate: Some(Rate { limit, remaining }),
            origin_refused,
        };
        if !info.active {
            let remaining = self.limiter.peek(info.key_id, limit, now);
            return Err(refused(ApiError::KeyInactive, remaining, false));
        }
        if !info.domains.allows_all() {
            match cors::origin_for_check(headers) {
                Some(origin) if info.domains.allows(origin) => {}
                _ => {
                    let remaining = self.limiter.peek(info.key_id, limit, now);
                    return Err(refused(ApiError::OriginNotAllowed, remaining, true));
                }
            }
        }
        match self.limiter.probe(info.key_id, limit, now) {
            Decision::Allowed { remaining } => Ok(Admitted {
                rate: Rate { limit, remaining },
                key: info,
            }),
            Decision::Limited { retry_after_s } => Err(refused(
                ApiError::RateLimited {
                    limit,
                    retry_after_s,
                },
                0,
                false,
            )),
        }
    }
}
