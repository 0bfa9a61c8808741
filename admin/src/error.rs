//! Every way an admin request can fail, mapped to its status and stable code in one
//! place, in the same JSON shape as ingest's errors (plus `field` for bad input).

use friction_service::http::{error_response, ApiError, Body};
use friction_store::keys::{Invalid, KeyError};
use friction_store::users::UserError;
use http::{header, HeaderValue, Response, StatusCode};

/// A refused or failed admin request.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No `Authorization: Bearer` header.
    #[error("a user token is required in the Authorization header (Bearer)")]
    MissingToken,
    /// The token is malformed or unknown.
    #[error("the user token is not valid")]
    InvalidToken,
    /// The token's user was disabled.
    #[error("this user is disabled")]
    UserDisabled,
    /// The route is for admins.
    #[error("only admins may do this")]
    Forbidden,
    /// No such object, or not the caller's (the two look the same).
    #[error("no {0} with this id")]
    NotFound(&'static str),
    /// No such endpoint.
    #[error("no such endpoint")]
    NoRoute,
    /// Endpoint exists, method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// Not JSON, or not an object.
    #[error("{0}")]
    InvalidJson(String),
    /// A field the endpoint does not take.
    #[error("unknown field {0:?}")]
    UnknownField(String),
    /// A query parameter is wrong.
    #[error("{0}")]
    InvalidQuery(String),
    /// Export parameters break a rule.
    #[error(transparent)]
    InvalidParams(#[from] friction_schema::export::InvalidParams),
    /// Kafka did not take the export job.
    #[error("export jobs cannot be queued now; retry later")]
    QueueUnavailable,
    /// The object store cannot sign or serve now.
    #[error("object storage is unavailable; retry later")]
    StoreUnavailable,
    /// `is_active` is not a boolean.
    #[error("is_active must be true or false")]
    InvalidActive,
    /// A change with nothing to change.
    #[error("nothing to change: send name, allowed_domains, rate_limit_per_minute or is_active")]
    EmptyChange,
    /// A key setting breaks the rules.
    #[error(transparent)]
    InvalidKey(#[from] Invalid),
    /// Body larger than allowed.
    #[error("body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body is not of the media type the endpoint reads (named).
    #[error("send {0}")]
    UnsupportedMediaType(&'static str),
    /// The key was made before keys were kept, so it cannot be shown again.
    #[error("this key was created before keys could be shown again; create a new one")]
    KeyNotRevealable,
    /// The body did not arrive in time or could not be read.
    #[error("{0}")]
    BodyTimeout(String),
    /// A console form without its session's CSRF token.
    #[error(
        "this form has expired or did not come from the console; reload the page and try again"
    )]
    InvalidCsrf,
    /// A console request without a live session.
    #[error("sign in to the console first")]
    SignInRequired,
    /// A download asked for before the export completed.
    #[error("this export has no file yet")]
    ExportNotReady,
    /// ClickHouse is unreachable.
    #[error("the control-plane database is unavailable; retry later")]
    Unavailable,
}

impl ApiError for AdminError {
    fn status(&self) -> StatusCode {
        use AdminError::*;
        match self {
            MissingToken | InvalidToken | SignInRequired => StatusCode::UNAUTHORIZED,
            UserDisabled | Forbidden | InvalidCsrf => StatusCode::FORBIDDEN,
            NotFound(_) | NoRoute => StatusCode::NOT_FOUND,
            MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            InvalidJson(_) | UnknownField(_) | InvalidActive | EmptyChange | InvalidKey(_)
            | InvalidQuery(_) | InvalidParams(_) => StatusCode::BAD_REQUEST,
            PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            KeyNotRevealable | ExportNotReady => StatusCode::CONFLICT,
            BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            // 503, not 500: the request was fine and will succeed once ClickHouse is back.
            Unavailable | StoreUnavailable | QueueUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn code(&self) -> &'static str {
        use AdminError::*;
        match self {
            MissingToken => "missing_token",
            InvalidToken => "invalid_token",
            UserDisabled => "user_disabled",
            Forbidden => "forbidden",
            NotFound(_) | NoRoute => "not_found",
            MethodNotAllowed => "method_not_allowed",
            InvalidJson(_) => "invalid_json",
            InvalidQuery(_) => "invalid_query",
            InvalidParams(_) => "invalid_params",
            UnknownField(_) => "unknown_field",
            InvalidActive => "invalid_is_active",
            EmptyChange => "empty_change",
            InvalidKey(invalid) => invalid.code(),
            PayloadTooLarge(_) => "payload_too_large",
            UnsupportedMediaType(_) => "unsupported_media_type",
            KeyNotRevealable => "key_not_revealable",
            InvalidCsrf => "invalid_csrf",
            SignInRequired => "sign_in_required",
            ExportNotReady => "export_not_ready",
            BodyTimeout(_) => "request_timeout",
            Unavailable | StoreUnavailable | QueueUnavailable => "unavailable",
        }
    }

    fn retry_after_s(&self) -> Option<u64> {
        matches!(
            self,
            AdminError::Unavailable | AdminError::StoreUnavailable | AdminError::QueueUnavailable
        )
        .then_some(5)
    }

    /// Bad input names its field, so a form can show the error beside it.
    fn extend(&self, body: &mut serde_json::Map<String, serde_json::Value>) {
        let field = match self {
            AdminError::InvalidKey(invalid) => Some(invalid.field()),
            AdminError::InvalidActive => Some("is_active"),
            AdminError::InvalidParams(invalid) => Some(invalid.field),
            AdminError::UnknownField(name) => {
                body.insert("field".into(), name.clone().into());
                None
            }
            _ => None,
        };
        if let Some(field) = field {
            body.insert("field".into(), field.into());
        }
    }
}

impl AdminError {
    /// The response for this error.
    pub fn into_response(self) -> Response<Body> {
        let mut response = error_response(&self);
        if matches!(self, AdminError::MissingToken | AdminError::InvalidToken) {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl From<KeyError> for AdminError {
    fn from(e: KeyError) -> Self {
        match e {
            KeyError::NotFound(_) => AdminError::NotFound("key"),
            KeyError::Invalid(invalid) => AdminError::InvalidKey(invalid),
            KeyError::ClickHouse(e) => e.into(),
        }
    }
}

impl From<UserError> for AdminError {
    fn from(e: UserError) -> Self {
        match e {
            UserError::ClickHouse(e) => e.into(),
            UserError::NotFound(_) => AdminError::NotFound("user"),
            UserError::InvalidEmail(_) | UserError::EmailTaken(_) => {
                AdminError::InvalidJson(e.to_string())
            }
        }
    }
}

impl From<clickhouse::error::Error> for AdminError {
    fn from(e: clickhouse::error::Error) -> Self {
        tracing::warn!(error = %e, "control-plane query failed");
        AdminError::Unavailable
    }
}
