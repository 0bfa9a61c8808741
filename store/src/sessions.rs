//! The `console_sessions` repository: a console sign-in is a random cookie (stored only
//! as its SHA-256) bound to its user, to the user token it was opened with, and to the
//! CSRF token of its forms. A session ends when it expires, when its user signs out, when
//! the user's token is replaced, or when the user is disabled.

use clickhouse::{Client, Row};
use friction_schema::now_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret;
use crate::users::{self, UserError, UserRow};

/// Every session cookie starts with this.
pub const SESSION_PREFIX: &str = "fs_";
/// Random characters of a session cookie and of a CSRF token (≈ 238 bits).
const SECRET_LEN: usize = 40;

/// A row of `console_sessions`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct SessionRow {
    pub session_hash: String,
    #[serde(with = "clickhouse::serde::uuid")]
    pub user_id: Uuid,
    pub token_hash: String,
    pub csrf: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
    pub updated_at: i64,
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct Session {
    /// The stored row (its `csrf` guards the session's forms).
    pub row: SessionRow,
    /// The signed-in user, as of this request.
    pub user: UserRow,
}

impl Session {
    /// Whether `token` is this session's CSRF token.
    pub fn csrf_matches(&self, token: &str) -> bool {
        secret::same(&self.row.csrf, token)
    }
}

/// Opens a session for `user` (found by their token with [`users::authenticate`]), valid
/// for `ttl_ms`; returns the cookie value (the only time it is visible) and the session.
pub async fn start(
    client: &Client,
    user: UserRow,
    ttl_ms: i64,
) -> Result<(String, Session), UserError> {
    let cookie = secret::generate(SESSION_PREFIX, SECRET_LEN);
    let now = now_ms();
    let row = SessionRow {
        session_hash: secret::hash(&cookie),
        user_id: user.user_id,
        token_hash: user.token_hash.clone(),
        csrf: secret::generate("", SECRET_LEN),
        created_at: now,
        expires_at: now + ttl_ms,
        revoked: false,
        updated_at: now,
    };
    write(client, &row).await?;
    Ok((cookie, Session { row, user }))
}

/// The live session of cookie value `cookie`, with its user (who may be disabled: the
/// caller decides what that means). `None` when unknown, expired, signed out, or opened
/// with a token the user no longer has.
pub async fn find(client: &Client, cookie: &str) -> Result<Option<Session>, UserError> {
    if !cookie.starts_with(SESSION_PREFIX) || cookie.len() != SESSION_PREFIX.len() + SECRET_LEN {
        return Ok(None);
    }
    let hashed = secret::hash(cookie);
    let row: Option<SessionRow> = client
        .query("SELECT ?fields FROM console_sessions FINAL WHERE session_hash = ? LIMIT 1")
        .bind(&hashed)
        .fetch_optional()
        .await?;
    let Some(row) = row.filter(|r| secret::same(&r.session_hash, &hashed)) else {
        return Ok(None);
    };
    if row.revoked || row.expires_at <= now_ms() {
        return Ok(None);
    }
    let user = match users::get(client, &row.user_id.to_string()).await {
        Ok(user) => user,
        Err(UserError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e),
    };
    if !secret::same(&user.token_hash, &row.token_hash) {
        return Ok(None);
    }
    Ok(Some(Session { row, user }))
}

/// Ends a session (signing out).
pub async fn end(client: &Client, session: &Session) -> Result<(), UserError> {
    let mut row = session.row.clone();
    row.revoked = true;
    row.updated_at = now_ms().max(row.updated_at + 1);
    write(client, &row).await
}

/// Ends every session of a user (when they are disabled).
pub async fn end_all(client: &Client, user_id: Uuid) -> Result<(), UserError> {
    client
        .query(
            "INSERT INTO console_sessions \
             SELECT session_hash, user_id, token_hash, csrf, created_at, expires_at, true, \
                    greatest(fromUnixTimestamp64Milli(?), updated_at + INTERVAL 1 MILLISECOND) \
             FROM console_sessions FINAL WHERE user_id = ? AND NOT revoked",
        )
        .bind(now_ms())
        .bind(user_id.to_string())
        .execute()
        .await?;
    Ok(())
}

async fn write(client: &Client, row: &SessionRow) -> Result<(), UserError> {
    let mut insert = client.insert::<SessionRow>("console_sessions").await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}
