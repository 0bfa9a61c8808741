//! The `api_keys` repository. A key is shown once, at creation; only its SHA-256 is
//! stored. Changes are new row versions (the table is a ReplacingMergeTree read `FINAL`).

use clickhouse::Client;
use friction_schema::api_key::{self, ApiKeyRow};
use friction_schema::now_ms;
use rand::distr::{Alphanumeric, SampleString};
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
    #[error("{0}")]
    Invalid(&'static str),
}

/// Generates a new key: `fk_` + 32 alphanumerics from the OS-seeded thread RNG.
pub fn generate() -> String {
    format!(
        "{}{}",
        api_key::PREFIX,
        Alphanumeric.sample_string(&mut rand::rng(), api_key::SECRET_LEN)
    )
}

/// Creates a key and returns it (the only time it is visible) with its row.
pub async fn create(client: &Client, new: NewKey) -> Result<(String, ApiKeyRow), KeyError> {
    if new.name.trim().is_empty() || new.owner_id.trim().is_empty() {
        return Err(KeyError::Invalid("name and owner must not be empty"));
    }
    if new.rate_limit_per_minute == 0 {
        return Err(KeyError::Invalid(
            "rate limit must be at least 1 request per minute",
        ));
    }
    let key = generate();
    let now = now_ms();
    let row = ApiKeyRow {
        key_hash: api_key::hash(&key),
        key_id: Uuid::new_v4(),
        key_prefix: api_key::display_prefix(&key).to_owned(),
        name: new.name,
        owner_id: new.owner_id,
        allowed_domains: new.allowed_domains,
        rate_limit_per_minute: new.rate_limit_per_minute,
        active: true,
        is_deleted: 0,
        created_at: now,
        updated_at: now,
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

/// The live key whose secret is `key`, if any. `key` should be well-formed.
pub async fn find_by_key(
    client: &Client,
    key: &str,
) -> Result<Option<ApiKeyRow>, clickhouse::error::Error> {
    let row: Option<ApiKeyRow> = client
        .query("SELECT ?fields FROM api_keys FINAL WHERE key_hash = ? LIMIT 1")
        .bind(api_key::hash(key))
        .fetch_optional()
        .await?;
    Ok(row.filter(|r| r.is_deleted == 0))
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

/// Enables or disables a key; ingest notices within its cache TTL.
pub async fn set_active(
    client: &Client,
    key_id: Uuid,
    active: bool,
) -> Result<ApiKeyRow, KeyError> {
    let mut row = get(client, key_id).await?;
    row.active = active;
    row.updated_at = now_ms().max(row.updated_at + 1);
    write(client, &row).await?;
    Ok(row)
}

/// Deletes a key for good; ingest answers 401 for it within its cache TTL.
pub async fn delete(client: &Client, key_id: Uuid) -> Result<(), KeyError> {
    let mut row = get(client, key_id).await?;
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
