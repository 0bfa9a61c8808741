//! API keys: their public format, how they are stored (hashed), and the `api_keys` row.

use clickhouse::Row;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Every key starts with this.
pub const PREFIX: &str = "fk_";
/// Alphanumeric characters after the prefix.
pub const SECRET_LEN: usize = 32;
/// Rate limit of a key created without one.
pub const DEFAULT_RATE_LIMIT_PER_MINUTE: u32 = 1000;

/// Whether `key` has the shape of a key (`fk_` + 32 ASCII alphanumerics), checked before
/// any lookup so garbage never reaches the cache or the database.
pub fn is_well_formed(key: &str) -> bool {
    key.len() == PREFIX.len() + SECRET_LEN
        && key.starts_with(PREFIX)
        && key.as_bytes()[PREFIX.len()..]
            .iter()
            .all(u8::is_ascii_alphanumeric)
}

/// The lookup form of a key: hex SHA-256. Ingest finds keys by it; the key itself is
/// kept only for its owner's show/copy (`key_secret`).
pub fn hash(key: &str) -> String {
    crate::hex(&Sha256::digest(key.as_bytes()))
}

/// What operators see of a key in listings: the prefix and 5 characters.
pub fn display_prefix(key: &str) -> &str {
    &key[..key.len().min(PREFIX.len() + 5)]
}

/// A key with its middle hidden: `fk_abcd…wxyz`.
pub fn masked(key: &str) -> String {
    match (key.get(..PREFIX.len() + 4), key.len().checked_sub(4)) {
        (Some(head), Some(tail)) if is_well_formed(key) => format!("{head}…{}", &key[tail..]),
        _ => format!("{}…", display_prefix(key)),
    }
}

/// A row of `api_keys`. The table is a `ReplacingMergeTree(updated_at, is_deleted)`:
/// a change is a new row with a later `updated_at`; read it with `FINAL`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct ApiKeyRow {
    pub key_hash: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub key_prefix: String,
    pub name: String,
    pub owner_id: String,
    pub allowed_domains: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub active: bool,
    pub is_deleted: u8,
    pub created_at: i64,
    pub updated_at: i64,
    /// The key itself: site keys are publishable (they are in every page that embeds the
    /// SDK), and owners want to show and copy them. Empty for keys made before 0004.
    pub key_secret: String,
}

/// A row of `api_key_usage`: what one ingest instance saw of a key in one flush.
/// Merges sum the counters and keep the latest use.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UsageRow<'a> {
    #[serde(with = "clickhouse::serde::uuid")]
    pub key_id: Uuid,
    pub owner_id: &'a str,
    /// Start of the minute, seconds since the epoch.
    pub minute: u32,
    pub requests: u64,
    pub events: u64,
    pub last_used_at: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_the_key_shape() {
        assert!(is_well_formed("fk_0123456789abcdefABCDEF0123456789"));
        assert!(!is_well_formed("fk_0123456789abcdefABCDEF012345678"));
        assert!(!is_well_formed("pk_0123456789abcdefABCDEF0123456789"));
        assert!(!is_well_formed("fk_0123456789abcdefABCDEF01234567-9"));
        assert!(!is_well_formed("fk_0123456789abcdefABCDEF012345678é"));
    }

    #[test]
    fn hashes_to_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            display_prefix("fk_0123456789abcdefABCDEF0123456789"),
            "fk_01234"
        );
        assert_eq!(
            masked("fk_0123456789abcdefABCDEF0123456789"),
            "fk_0123…6789"
        );
        assert_eq!(masked("fk_01234"), "fk_01234…");
    }
}
