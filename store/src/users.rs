//! The `users` repository: who may use the control plane, and as what. A user's bearer
//! token is random (190 bits from the OS-seeded CSPRNG), shown once, and stored only as
//! its SHA-256; the stored hash is compared in constant time.

use clickhouse::{Client, Row};
use friction_schema::now_ms;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::secret::{self, hash};

/// Every user token starts with this, so a leaked one is recognisable.
pub const TOKEN_PREFIX: &str = "ft_";
/// Alphanumeric characters after the prefix (32 × log2(62) ≈ 190 bits).
const TOKEN_LEN: usize = 32;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages their own keys and exports.
    Member,
    /// Sees and manages everything.
    Admin,
}

impl Role {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// A row of `users`.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UserRow {
    #[serde(with = "clickhouse::serde::uuid")]
    pub user_id: Uuid,
    pub email: String,
    pub role: String,
    pub active: bool,
    pub token_hash: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl UserRow {
    /// The role; an unknown stored role counts as the least privileged.
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::Member)
    }
}

/// Managing users failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// ClickHouse refused or was unreachable.
    #[error("clickhouse: {0}")]
    ClickHouse(#[from] clickhouse::error::Error),
    /// No user has this id or e-mail.
    #[error("no user {0}")]
    NotFound(String),
    /// The e-mail is not an address.
    #[error("{0:?} is not an e-mail address")]
    InvalidEmail(String),
    /// Another user has this e-mail.
    #[error("a user with e-mail {0} exists already")]
    EmailTaken(String),
}

/// User changes made by this process run one at a time (each reads the latest version and
/// writes the next, so two interleaved could undo each other).
static CHANGES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn generate_token() -> String {
    secret::generate(TOKEN_PREFIX, TOKEN_LEN)
}

fn check_email(email: &str) -> Result<String, UserError> {
    let email = email.trim().to_ascii_lowercase();
    let plausible = email.len() <= 254
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'));
    if plausible {
        Ok(email)
    } else {
        Err(UserError::InvalidEmail(email))
    }
}

/// Creates a user; returns its token (the only time it is visible) and its row.
pub async fn create(
    client: &Client,
    email: &str,
    role: Role,
) -> Result<(String, UserRow), UserError> {
    let email = check_email(email)?;
    let _one_at_a_time = CHANGES.lock().await;
    if find_by_email(client, &email).await?.is_some() {
        return Err(UserError::EmailTaken(email));
    }
    let token = generate_token();
    let now = now_ms();
    let row = UserRow {
        user_id: Uuid::new_v4(),
        email,
        role: role.as_str().to_owned(),
        active: true,
        token_hash: hash(&token),
        created_at: now,
        updated_at: now,
    };
    write(client, &row).await?;
    Ok((token, row))
}

/// Every user, oldest first.
pub async fn list(client: &Client) -> Result<Vec<UserRow>, UserError> {
    Ok(client
        .query("SELECT ?fields FROM users FINAL ORDER BY created_at")
        .fetch_all()
        .await?)
}

/// A user by id, or by e-mail when `id_or_email` is not an id.
pub async fn get(client: &Client, id_or_email: &str) -> Result<UserRow, UserError> {
    let found = match Uuid::try_parse(id_or_email) {
        Ok(id) => {
            client
                .query("SELECT ?fields FROM users FINAL WHERE user_id = ?")
                .bind(id.to_string())
                .fetch_optional()
                .await?
        }
        Err(_) => find_by_email(client, &id_or_email.trim().to_ascii_lowercase()).await?,
    };
    found.ok_or_else(|| UserError::NotFound(id_or_email.to_owned()))
}

async fn find_by_email(client: &Client, email: &str) -> Result<Option<UserRow>, UserError> {
    Ok(client
        .query("SELECT ?fields FROM users FINAL WHERE email = ? LIMIT 1")
        .bind(email)
        .fetch_optional()
        .await?)
}

/// The user whose token is `token`, active or not; `None` for an unknown token.
pub async fn authenticate(client: &Client, token: &str) -> Result<Option<UserRow>, UserError> {
    if !token.starts_with(TOKEN_PREFIX) || token.len() != TOKEN_PREFIX.len() + TOKEN_LEN {
        return Ok(None);
    }
    let hashed = hash(token);
    let row: Option<UserRow> = client
        .query("SELECT ?fields FROM users FINAL WHERE token_hash = ? LIMIT 1")
        .bind(&hashed)
        .fetch_optional()
        .await?;
    Ok(row.filter(|r| secret::same(&r.token_hash, &hashed)))
}

/// Whether `owner_id` names a user who was disabled (owners that are not users, such as
/// keys made for an account outside the control plane, are not).
pub async fn is_disabled(
    client: &Client,
    owner_id: &str,
) -> Result<bool, clickhouse::error::Error> {
    let Ok(id) = Uuid::try_parse(owner_id) else {
        return Ok(false);
    };
    let disabled: u64 = client
        .query("SELECT count() FROM users FINAL WHERE user_id = ? AND NOT active")
        .bind(id.to_string())
        .fetch_one()
        .await?;
    Ok(disabled > 0)
}

/// Enables or disables a user; a disabled user's token is refused at once, their console
/// sessions end, and ingest refuses their keys within its key-cache TTL.
pub async fn set_active(
    client: &Client,
    id_or_email: &str,
    active: bool,
) -> Result<UserRow, UserError> {
    let _one_at_a_time = CHANGES.lock().await;
    let mut row = get(client, id_or_email).await?;
    row.active = active;
    row.updated_at = now_ms().max(row.updated_at + 1);
    write(client, &row).await?;
    if !active {
        // Enabling the user again must not bring old console sign-ins back.
        crate::sessions::end_all(client, row.user_id).await?;
    }
    Ok(row)
}

/// Replaces a user's token; returns the new one (the old one stops working).
pub async fn rotate_token(
    client: &Client,
    id_or_email: &str,
) -> Result<(String, UserRow), UserError> {
    let _one_at_a_time = CHANGES.lock().await;
    let mut row = get(client, id_or_email).await?;
    let token = generate_token();
    row.token_hash = hash(&token);
    row.updated_at = now_ms().max(row.updated_at + 1);
    write(client, &row).await?;
    Ok((token, row))
}

async fn write(client: &Client, row: &UserRow) -> Result<(), UserError> {
    let mut insert = client.insert::<UserRow>("users").await?;
    insert.write(row).await?;
    insert.end().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hashed() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 35);
        assert!(a.starts_with("ft_"));
        assert_eq!(hash(&a).len(), 64);
        assert_ne!(hash(&a), hash(&b));
    }

    #[test]
    fn e_mails_are_normalised_and_checked() {
        assert_eq!(check_email(" Ann@Example.com ").unwrap(), "ann@example.com");
        for bad in ["", "ann", "@example.com", "ann@example", "a nn@example.com"] {
            assert!(check_email(bad).is_err(), "{bad}");
        }
    }
}
