//! The `api_keys` repository, and the rules a key's settings follow (the CLI and the
//! admin API create and change keys through this one path). Lookups go through the key's
//! SHA-256; the key itself is kept for show/copy, since site keys are publishable.
//! Changes are new row versions (the table is a ReplacingMergeTree read `FINAL`).

use clickhouse::Client;
use friction_schema::api_key::{self, ApiKeyRow};
use friction_schema::now_ms;
use uuid::Uuid;

/// What a new key is for.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// Human name, e.g. the site.
    pub name: String,
    /// Owner (customer account) the events will be attributed to.
    pub owner_id: String,
    /// Origins allowed to send with the key; empty allows all. `*.example.com` wildcards.
    pub allowed_domains: Vec<String>,
    /// Requests per minute.
    pub rate_limit_per_minute: u32,
}

/// What may change on an existing key; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct KeyChange {
    /// New name.
    pub name: Option<String>,
    /// New allowed domains (empty allows all).
    pub allowed_domains: Option<Vec<String>>,
    /// New limit.
    pub rate_limit_per_minute: Option<u32>,
    /// On or off.
    pub active: Option<bool>,
}

/// Longest key name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Most allowed domains on one key.
pub const MAX_DOMAINS: usize = 100;
/// Highest rate limit, requests per minute.
pub const MAX_RATE_LIMIT: u32 = 1_000_000;

/// A setting that breaks the rules; `field()` names it, `code()` is stable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// Empty, too long, or with control characters.
    #[error("name must be 1 to 100 characters, without control characters")]
    Name,
    /// Not a host name or `*.` wildcard.
    #[error("allowed domain {0:?} must be a host name like shop.example.com or a wildcard like *.example.com, without scheme, path, port or spaces")]
    Domain(String),
    /// More than [`MAX_DOMAINS`].
    #[error("a key allows at most 100 domains")]
    TooManyDomains,
    /// Outside 1..=[`MAX_RATE_LIMIT`].
    #[error("rate_limit_per_minute must be between 1 and 1000000")]
    RateLimit,
    /// No owner.
    #[error("owner must not be empty")]
    Owner,
}

impl Invalid {
    /// The setting at fault, as the API names it.
    pub fn field(&self) -> &'static str {
        match self {
            Invalid::Name => "name",
            Invalid::Domain(_) | Invalid::TooManyDomains => "allowed_domains",
            Invalid::RateLimit => "rate_limit_per_minute",
            Invalid::Owner => "owner_id",
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Invalid::Name => "invalid_name",
            Invalid::Domain(_) | Invalid::TooManyDomains => "invalid_domain",
            Invalid::RateLimit => "invalid_rate_limit",
            Invalid::Owner => "invalid_owner",
        }
    }
}

/// Key management failed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// ClickHouse refused or was unreachable.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// No live key has this id.
    #[error("no key with id {0}")]
    NotFound(Uuid),
    /// Bad input.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// Characters that are invisible or reorder text: a name with them could pass for
/// another in a listing.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}')
}

/// A trimmed name, if it follows the rules.
pub fn check_name(name: &str) -> Result<String, Invalid> {
    let name = name.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_NAME_CHARS || name.chars().any(is_invisible) {
        return Err(Invalid::Name);
    }
    Ok(name.to_owned())
}

/// Lower-cased domains, if each is a host name (`shop.example.com`) or a wildcard over
/// one (`*.example.com`, every subdomain, not the domain itself). A wildcard needs two
/// labels at least (`*.com` would allow every site), and `null` is the origin of opaque
/// documents, never a site.
pub fn check_domains(domains: &[String]) -> Result<Vec<String>, Invalid> {
    if domains.len() > MAX_DOMAINS {
        return Err(Invalid::TooManyDomains);
    }
    domains
        .iter()
        .map(|d| {
            let lower = d.trim().to_ascii_lowercase();
            let host = lower.strip_prefix("*.").unwrap_or(&lower);
            let label_ok = |l: &str| {
                (1..=63).contains(&l.len())
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !l.starts_with('-')
                    && !l.ends_with('-')
            };
            let wildcard = lower.starts_with("*.");
            let ok = host.len() <= 253
                && host.split('.').all(label_ok)
                && host != "null"
                && (!wildcard || host.contains('.'));
            if ok {
                Ok(lower)
            } else {
                Err(Invalid::Domain(d.chars().take(100).collect()))
            }
        })
        .collect()
}

/// The limit, if it is within 1..=[`MAX_RATE_LIMIT`].
pub fn check_rate_limit(limit: u32) -> Result<u32, Invalid> {
    match limit {
        1..=MAX_RATE_LIMIT => Ok(limit),
        _ => Err(Invalid::RateLimit),
    }
}

/// Generates a new key: `fk_` + 32 alphanumerics from the OS-seeded thread RNG.
pub fn generate() -> String {
    crate::secret::generate(api_key::PREFIX, api_key::SECRET_LEN)
}

/// Checks `new` and creates the key; returns the key with its row.
pub async fn create(client: &Client, new: NewKey) -> Result<(String, ApiKeyRow), KeyError> {
    let name = check_name(&new.name)?;
    let allowed_domains = check_domains(&new.allowed_domains)?;
    let rate_limit_per_minute = check_rate_limit(new.rate_limit_per_minute)?;
    if new.owner_id.trim().is_empty() {
        return Err(Invalid::Owner.into());
    }
    let key = generate();
    let now = now_ms();
    let row = ApiKeyRow {
        key_hash: api_key::hash(&key),
        key_id: Uuid::new_v4(),
        key_prefix: api_key::display_prefix(&key).to_owned(),
        name,
        owner_id: new.owner_id,
        allowed_domains,
        rate_limit_per_minute,
        active: true,
        is_deleted: 0,
        created_at: now,
        updated_at: now,
        key_secret: key.clone(),
    };
    write(client, &row).await?;
    Ok((key, row))
}

/// Live keys, optionally of one owner, newest first.
pub async fn list(client: &Client, owner_id: Option<&str>) -> Result<Vec<ApiKeyRow>, KeyError> {
    let rows = match owner_id {
        Some(owner) => client
            .query("SELECT ?fields FROM api_keys FINAL WHERE owner_id = ? ORDER BY created_at DESC")
            .bind(owner)
            .fetch_all()
            .await?,
        None => {
            client
                .query("SELECT ?fields FROM api_keys FINAL ORDER BY created_at DESC")
                .fetch_all()
                .await?
        }
    };
    Ok(rows)
}

/// Key changes made by this process run one at a time. Each reads the latest version and
/// writes the next; two interleaved would let the later write undo the earlier one (a
/// rename reviving a key deleted a moment before).
static CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The live key whose secret is `key`, if any, as ingest must treat it: a key deleted in
/// any version stays deleted (a deletion is final, whatever raced with it), and the key of
/// a disabled user is inactive. `key` should be well-formed.
pub async fn find_by_key(
    client: &Client,
    key: &str,
) -> Result<Option<ApiKeyRow>, clickhouse::error::Error> {
    let row: Option<ApiKeyRow> = client
        .query(
            "SELECT ?fields FROM api_keys FINAL WHERE key_hash = ? \
             AND key_hash NOT IN (SELECT key_hash FROM api_keys WHERE is_deleted = 1) LIMIT 1",
        )
        .bind(api_key::hash(key))
        .fetch_optional()
        .await?;
    let Some(mut row) = row.filter(|r| r.is_deleted == 0) else {
        return Ok(None);
    };
    if row.active && crate::users::is_disabled(client, &row.owner_id).await? {
        row.active = false;
    }
    Ok(Some(row))
}

/// The first 64 bits of the hash of every key stored (deleted ones too), or of those
/// created since `since_ms`: what ingest checks a key against before spending a lookup
/// on it. A key's hash never changes, so new keys are all a refresh needs.
pub async fn hash_prefixes(
    client: &Client,
    since_ms: Option<i64>,
) -> Result<Vec<u64>, clickhouse::error::Error> {
    let prefixes: Vec<String> = client
        .query(
            "SELECT DISTINCT substring(key_hash, 1, 16) FROM api_keys \
             WHERE created_at >= fromUnixTimestamp64Milli(?)",
        )
        .bind(since_ms.unwrap_or(0))
        .fetch_all()
        .await?;
    Ok(prefixes
        .iter()
        .filter_map(|p| u64::from_str_radix(p, 16).ok())
        .collect())
}

/// The first 64 bits of a key's hash, as [`hash_prefixes`] lists them.
pub fn hash_prefix(key: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first)
}

/// Whether the table answers, for readiness.
pub async fn ping(client: &Client) -> bool {
    client
        .query("SELECT 1 FROM api_keys LIMIT 1")
        .execute()
        .await
        .is_ok()
}

/// Finds a live key by id.
pub async fn get(client: &Client, key_id: Uuid) -> Result<ApiKeyRow, KeyError> {
    client
        .query("SELECT ?fields FROM api_keys FINAL WHERE key_id = ?")
        .bind(key_id.to_string())
        .fetch_optional()
        .await?
        .ok_or(KeyError::NotFound(key_id))
}

/// Checks `change` and applies it; ingest notices within its key-cache TTL.
pub async fn update(
    client: &Client,
    key_id: Uuid,
    change: KeyChange,
) -> Result<ApiKeyRow, KeyError> {
    let name = change.name.as_deref().map(check_name).transpose()?;
    let domains = change
        .allowed_domains
        .as_deref()
        .map(check_domains)
        .transpose()?;
    let limit = change
        .rate_limit_per_minute
        .map(check_rate_limit)
        .transpose()?;
    let mut row = get(client, key_id).await?;
    if let Some(name) = name {
        row.name = name;
    }
    if let Some(domains) = domains {
        row.allowed_domains = domains;
    }
    if let Some(limit) = limit {
        row.rate_limit_per_minute = limit;
    }
    if let Some(active) = change.active {
        row.active = active;
    }
    row.updated_at = now_ms().max(row.updated_at + 1);
    write(client, &row).await?;
    // Another process may have deleted the key meanwhile: the deletion stands.
    let deleted: u64 = client
        .query("SELECT count() FROM api_keys WHERE key_id = ? AND is_deleted = 1")
        .bind(key_id.to_string())
        .fetch_one()
        .await?;
    if deleted > 0 {
        mark_deleted(client, row).await?;
        return Err(KeyError::NotFound(key_id));
    }
    Ok(row)
}

/// Enables or disables a key; ingest notices within its cache TTL.
pub async fn set_active(
    client: &Client,
    key_id: Uuid,
    active: bool,
) -> Result<ApiKeyRow, KeyError> {
    let change = KeyChange {
        active: Some(active),
        ..KeyChange::default()
    };
    update(client, key_id, change).await
}

/// Deletes a key for good; ingest answers 401 for it within its cache TTL.
pub async fn delete(client: &Client, key_id: Uuid) -> Result<(), KeyError> {
    let _one_at_a_time = CHANGES.lock().await;
    let row = get(client, key_id).await?;
    mark_deleted(client, row).await
}

async fn mark_deleted(client: &Client, mut row: ApiKeyRow) -> Result<(), KeyError> {
    row.active = false;
    row.is_deleted = 1;
    row.updated_at = now_ms().max(row.updated_at + 1);
    write(client, &row).await
}

async fn write(client: &Client, row: &ApiKeyRow) -> Result<(), KeyError> {
    let mut insert = client.insert::<ApiKeyRow>("api_keys").await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains(list: &[&str]) -> Result<Vec<String>, Invalid> {
        check_domains(&list.iter().map(|d| d.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn names_limits_and_domains_follow_the_rules() {
        assert_eq!(check_name("  Shop  ").unwrap(), "Shop");
        assert_eq!(check_name(&"é".repeat(100)).unwrap().chars().count(), 100);
        for bad in ["", "   ", "a\nb", "\u{202e}evil", "a\u{200b}b"] {
            assert_eq!(check_name(bad), Err(Invalid::Name), "{bad:?}");
        }
        assert_eq!(check_name(&"x".repeat(101)), Err(Invalid::Name));
        assert_eq!(check_rate_limit(1), Ok(1));
        assert_eq!(check_rate_limit(1_000_000), Ok(1_000_000));
        assert_eq!(check_rate_limit(0), Err(Invalid::RateLimit));
        assert_eq!(check_rate_limit(1_000_001), Err(Invalid::RateLimit));
        assert_eq!(
            domains(&["Shop.Example.com", "*.example.com", "localhost"]).unwrap(),
            ["shop.example.com", "*.example.com", "localhost"]
        );
        for bad in [
            "https://shop.example.com",
            "shop.example.com/path",
            "shop.example.com:8080",
            "shop example.com",
            "*shop.com",
            "*",
            "*.",
            "",
            "-shop.com",
            "shop..com",
            "shop.com.",
            "*.com",
            "null",
        ] {
            assert!(
                matches!(domains(&[bad]), Err(Invalid::Domain(_))),
                "{bad:?} accepted"
            );
        }
        assert_eq!(Invalid::Domain("x".into()).field(), "allowed_domains");
        assert_eq!(Invalid::RateLimit.code(), "invalid_rate_limit");
    }
}
