//! `/v1/me` (the caller) and `/v1/users` (every user; admins only).

use friction_store::users::{self, UserRow};
use serde_json::{json, Value};

use super::{timestamp, Call};
use crate::auth::Caller;
use crate::error::AdminError;

fn user_json(u: &UserRow) -> Value {
    json!({
        "id": u.user_id,
        "email": u.email,
        "role": u.role,
        "is_active": u.active,
        "created_at": timestamp(u.created_at),
    })
}

/// `GET /v1/me`.
pub async fn me(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    let user = users::get(&call.state.clickhouse, &caller.user_id.to_string()).await?;
    Ok(user_json(&user))
}

/// `GET /v1/users`.
pub async fn list(call: &Call<'_>, caller: &Caller) -> Result<Value, AdminError> {
    caller.require_admin()?;
    let all = users::list(&call.state.clickhouse).await?;
    let list: Vec<Value> = all.iter().map(user_json).collect();
    Ok(json!({ "users": list }))
}
