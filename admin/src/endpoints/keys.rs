//! `/v1/keys`: a user's site keys. Members see and change only their own; admins every
//! key. Another owner's key answers 404 exactly like a missing one. Creation and changes
//! go through `friction_store::keys`, the same code path as `frictionctl keys`.

use std::collections::HashMap;

use friction_schema::api_key::{self, ApiKeyRow, DEFAULT_RATE_LIMIT_PER_MINUTE};
use friction_store::keys::{self, Invalid, KeyChange, NewKey};
use friction_store::usage;
use friction_store::users::Role;
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::{timestamp, Call};
use crate::auth::Caller;
use crate::error::AdminError;

fn key_json(row: &ApiKeyRow, last_used: Option<i64>) -> Value {
    let masked = match row.key_secret.is_empty() {
        true => format!("{}…", row.key_prefix),
        false => api_key::masked(&row.key_secret),
    };
    json!({
        "id": row.key_id,
        "name": row.name,
        "owner_id": row.owner_id,
        "key_masked": masked,
        "allowed_domains": row.allowed_domains,
        "rate_limit_per_minute": row.rate_limit_per_minute,
        "is_active": row.active,
        "created_at": timestamp(row.created_at),
        "updated_at": timestamp(row.updated_at),
        "last_used_at": last_used.map(timestamp),
    })
}

/// Adds the whole key and its install snippet.
fn with_secret(mut value: Value, key: &str, ingest_url: &str) -> Value {
    value["key"] = key.into();
    value["snippet"] = snippet(ingest_url, key).into();
    value
}

/// The SDK's loader: `friction.track()`, `setConsent()` and `flush()` work before the
/// script arrives (queued, replayed by it), and never throw if it does not.
pub const LOADER: &str = "<script>!function(w){var f=w.friction=w.friction||{};f.q=f.q||[];['track','setConsent','flush'].forEach(function(m){f[m]=f[m]||function(){var a=arguments;f.q.push(function(t){t[m].apply(t,a)})}})}(window)</script>";

/// The install snippet of `key` on the ingest at `ingest_url`: the loader, then the SDK.
pub fn snippet(ingest_url: &str, key: &str) -> String {
    format!(
        r#"{LOADER}
<script src="{ingest_url}/friction-tracker.js" data-api-key="{key}" crossorigin="anonymous" async></script>"#
    )
}

/// Refuses fields outside `allowed`.
fn only(body: &Map<String, Value>, allowed: &[&str]) -> Result<(), AdminError> {
    match body.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(AdminError::UnknownField(unknown.chars().take(64).collect())),
        None => Ok(()),
    }
}

fn name(value: &Value) -> Result<String, Invalid> {
    value.as_str().map(str::to_owned).ok_or(Invalid::Name)
}

fn domains(value: &Value) -> Result<Vec<String>, Invalid> {
    let list = value
        .as_array()
        .ok_or_else(|| Invalid::Domain(value.to_string()))?;
    list.iter()
        .map(|d| {
            d.as_str()
                .map(str::to_owned)
                .ok_or_else(|| Invalid::Domain(d.to_string()))
        })
        .collect()
}

fn rate_limit(value: &Value) -> Result<u32, Invalid> {
    value
        .as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(Invalid::RateLimit)
}

/// The caller's key `{id}`, or 404 whether it is missing or someone else's.
async fn owned(call: &Call<'_>, caller: &Caller) -> Result<ApiKeyRow, AdminError> {
    let id = Uuid::try_parse(call.param).map_err(|_| AdminError::NotFound("key"))?;
    let row = keys::get(&call.state.clickhouse, id).await?;
    match caller.may_access(&row.owner_id) {
        true => Ok(row),
        false => Err(AdminError::NotFound("key")),
    }
}

async fn last_used(call: &Call<'_>, rows: &[ApiKeyRow]) -> Result<HashMap<Uuid, i64>, AdminError> {
    let keys: Vec<(&str, Uuid)> = rows
        .iter()
        .map(|r| (r.owner_id.as_str(), r.key_id))
        .collect();
    Ok(usage::last_used(&call.state.clickhouse, &keys).await?)
}

/// `GET /v1/keys` (admins may filter with `?owner_id=`).
pub async fn list(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    let owner = match caller.role {
        Role::Admin => call.query("owner_id"),
        Role::Member => Some(caller.user_id.to_string()),
    };
    let rows = keys::list(&call.state.clickhouse, owner.as_deref()).await?;
    let used = last_used(call, &rows).await?;
    let list: Vec<Value> = rows
        .iter()
        .map(|r| key_json(r, used.get(&r.key_id).copied()))
        .collect();
    Ok(json!({ "keys": list }))
}

/// `POST /v1/keys`: the new key, shown whole with its snippet.
pub async fn create(
    call: &Call<'_>,
    caller: &Caller,
    body: Map<String, Value>,
) -> Result<Value, AdminError> {
    only(&body, &["name", "allowed_domains", "rate_limit_per_minute"])?;
    let new = NewKey {
        name: body
            .get("name")
            .map(name)
            .transpose()?
            .ok_or(Invalid::Name)?,
        owner_id: caller.user_id.to_string(),
        allowed_domains: body
            .get("allowed_domains")
            .map(domains)
            .transpose()?
            .unwrap_or_default(),
        rate_limit_per_minute: body
            .get("rate_limit_per_minute")
            .map(rate_limit)
            .transpose()?
            .unwrap_or(DEFAULT_RATE_LIMIT_PER_MINUTE),
    };
    let (key, row) = keys::create(&call.state.clickhouse, new).await?;
    tracing::info!(key_id = %row.key_id, owner = %row.owner_id, "key created");
    let value = with_secret(key_json(&row, None), &key, &call.state.public_ingest_url);
    Ok(value)
}

/// `GET /v1/keys/{id}`, whole with `?reveal=true`.
pub async fn get(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    let row = owned(call, caller).await?;
    let used = last_used(call, std::slice::from_ref(&row)).await?;
    let mut value = key_json(&row, used.get(&row.key_id).copied());
    if call.flag("reveal") {
        if row.key_secret.is_empty() {
            return Err(AdminError::KeyNotRevealable);
        }
        value = with_secret(value, &row.key_secret, &call.state.public_ingest_url);
    }
    Ok(value)
}

/// `PATCH /v1/keys/{id}`: name, domains, limit or `is_active`.
pub async fn update(
    call: &Call<'_>,
    caller: &Caller,
    body: Map<String, Value>,
) -> Result<Value, AdminError> {
    let row = owned(call, caller).await?;
    only(
        &body,
        &[
            "name",
            "allowed_domains",
            "rate_limit_per_minute",
            "is_active",
        ],
    )?;
    if body.is_empty() {
        return Err(AdminError::EmptyChange);
    }
    let change = KeyChange {
        name: body.get("name").map(name).transpose()?,
        allowed_domains: body.get("allowed_domains").map(domains).transpose()?,
        rate_limit_per_minute: body
            .get("rate_limit_per_minute")
            .map(rate_limit)
            .transpose()?,
        active: body
            .get("is_active")
            .map(|v| v.as_bool().ok_or(AdminError::InvalidActive))
            .transpose()?,
    };
    let row = keys::update(&call.state.clickhouse, row.key_id, change).await?;
    tracing::info!(key_id = %row.key_id, active = row.active, "key changed");
    let used = last_used(call, std::slice::from_ref(&row)).await?;
    Ok(key_json(&row, used.get(&row.key_id).copied()))
}

/// `DELETE /v1/keys/{id}`: the key as it was, marked deleted; ingest refuses it within
/// its cache TTL.
pub async fn delete(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    let row = owned(call, caller).await?;
    let used = last_used(call, std::slice::from_ref(&row)).await?;
    keys::delete(&call.state.clickhouse, row.key_id).await?;
    tracing::info!(key_id = %row.key_id, "key deleted");
    let mut value = key_json(&row, used.get(&row.key_id).copied());
    value["is_active"] = false.into();
    value["deleted"] = true.into();
    Ok(value)
}
