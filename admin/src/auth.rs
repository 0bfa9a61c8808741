//! Who is calling: the bearer token of `Authorization`, looked up by its hash on every
//! request, so a disabled user or a replaced token is refused at once. Tokens are never
//! logged; errors name the problem, not the token.

use friction_store::users::{self, Role, UserRow};
use http::{header, HeaderMap};
use uuid::Uuid;

use crate::error::AdminError;

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Their id, the owner of what they create.
    pub user_id: Uuid,
    /// Member or admin.
    pub role: Role,
}

impl Caller {
    /// Whether the caller may see and change what `owner_id` owns.
    pub fn may_access(&self, owner_id: &str) -> bool {
        self.role == Role::Admin || owner_id == self.user_id.to_string()
    }

    /// Refuses members.
    pub fn require_admin(&self) -> Result<(), AdminError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Member => Err(AdminError::Forbidden),
        }
    }
}

/// Authenticates the request.
pub async fn caller(
    client: &clickhouse::Client,
    headers: &HeaderMap,
) -> Result<Caller, AdminError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(AdminError::MissingToken)?;
    // Two credentials are ambiguous: a proxy may have checked the other one.
    if values.next().is_some() {
        return Err(AdminError::InvalidToken);
    }
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AdminError::InvalidToken)?;
    let user = users::authenticate(client, token)
        .await?
        .ok_or(AdminError::InvalidToken)?;
    caller_for(&user)
}

/// The caller a user is, unless they were disabled: the one rule for the API's tokens and
/// the console's sessions.
pub fn caller_for(user: &UserRow) -> Result<Caller, AdminError> {
    if !user.active {
        return Err(AdminError::UserDisabled);
    }
    Ok(Caller {
        user_id: user.user_id,
        role: user.role(),
    })
}
