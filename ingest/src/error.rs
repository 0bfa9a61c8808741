//! Every way a request can be refused, mapped to its HTTP status and stable JSON error
//! code in one place; the error builds its own response (body, status, `Retry-After`,
//! logging) through `friction_service::http`.

use friction_schema::Rejection;
use friction_service::http::{error_response, Body, BodyError};
use http::{Response, StatusCode};

/// A refused request. `code()` is part of the API contract: clients and dashboards key
/// on it, so codes are never renamed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No key in `x-api-key` or `api_key`.
    #[error("an API key is required in the x-api-key header or the api_key query parameter")]
    MissingApiKey,
    /// The key is malformed or unknown.
    #[error("the API key is not valid")]
    InvalidApiKey,
    /// The key exists but was disabled.
    #[error("the API key is disabled")]
    KeyInactive,
    /// The request's origin is not among the key's allowed domains. (Client-sent headers
    /// are never echoed back.)
    #[error("this origin is not allowed for this API key")]
    OriginNotAllowed,
    /// The key's token bucket is empty.
    #[error("rate limit of {limit} requests per minute exceeded; retry in {retry_after_s} s")]
    RateLimited {
        /// Requests per minute of the key.
        limit: u32,
        /// Seconds until a request is allowed again.
        retry_after_s: u64,
    },
    /// This client address sent too many refused requests lately.
    #[error("too many invalid requests from this address; retry in {retry_after_s} s")]
    TooManyRefused {
        /// Seconds until a request is heard again.
        retry_after_s: u64,
    },
    /// The body did not arrive within the body timeout.
    #[error("{0}")]
    BodyTimeout(String),
    /// Body, decompressed body or batch is over a limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Content type not JSON or text/plain.
    #[error("this content type is not supported; send application/json or text/plain")]
    UnsupportedMediaType,
    /// Content encoding not identity or gzip.
    #[error("this content encoding is not supported; send identity or gzip")]
    UnsupportedEncoding,
    /// The body is not a valid batch.
    #[error("{0}")]
    InvalidBatch(String),
    /// A query parameter of an upload is missing or wrong.
    #[error("{0}")]
    InvalidQuery(String),
    /// An upload is not the media its endpoint takes.
    #[error("{0}")]
    WrongMedia(String),
    /// Every event of the batch was invalid.
    #[error("no event of the batch is valid")]
    InvalidEvents(Vec<Rejection>),
    /// A dependency (Kafka, or ClickHouse for an unknown key) cannot take the request now.
    #[error("{0}; retry later")]
    Unavailable(&'static str),
    /// Every lookup slot this (unknown) key may use is taken: many unknown keys at once.
    #[error("API key lookups are busy; retry later")]
    KeyLookupBusy,
    /// No such endpoint.
    #[error("no such endpoint")]
    NotFound,
    /// Endpoint exists, method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
}

/// Seconds a client should wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_S: u64 = 5;

impl friction_service::http::ApiError for ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingApiKey | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::KeyInactive | ApiError::OriginNotAllowed => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } | ApiError::TooManyRefused { .. } => {
                StatusCode::TOO_MANY_REQUESTS
            }
            // 408: the client was too slow; the connection is closed after the answer.
            ApiError::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType
            | ApiError::UnsupportedEncoding
            | ApiError::WrongMedia(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::InvalidBatch(_) | ApiError::InvalidEvents(_) | ApiError::InvalidQuery(_) => {
                StatusCode::BAD_REQUEST
            }
            // 503, not 500: the request was fine and will succeed once the dependency is back.
            ApiError::Unavailable(_) | ApiError::KeyLookupBusy => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    fn code(&self) -> &'static str {
        match self {
            ApiError::MissingApiKey => "missing_api_key",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::KeyInactive => "key_inactive",
            ApiError::OriginNotAllowed => "origin_not_allowed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::TooManyRefused { .. } => "too_many_invalid_requests",
            ApiError::BodyTimeout(_) => "request_timeout",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType | ApiError::WrongMedia(_) => "unsupported_media_type",
            ApiError::UnsupportedEncoding => "unsupported_encoding",
            ApiError::InvalidBatch(_) => "invalid_batch",
            ApiError::InvalidQuery(_) => "invalid_query",
            ApiError::InvalidEvents(_) => "invalid_events",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::KeyLookupBusy => "key_lookup_busy",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// Busy lookups are counted and logged once per interval by the key store, not once
    /// per request.
    fn logged(&self) -> bool {
        !matches!(self, ApiError::KeyLookupBusy)
    }

    fn retry_after_s(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_s, .. }
            | ApiError::TooManyRefused { retry_after_s } => Some(*retry_after_s),
            ApiError::Unavailable(_) | ApiError::KeyLookupBusy => Some(UNAVAILABLE_RETRY_AFTER_S),
            _ => None,
        }
    }

    /// Every event was invalid: which, and why.
    fn extend(&self, body: &mut serde_json::Map<String, serde_json::Value>) {
        if let ApiError::InvalidEvents(rejected) = self {
            body.insert("rejected".into(), rejected_json(rejected));
        }
    }
}

impl ApiError {
    /// The response for this refusal.
    pub fn into_response(self) -> Response<Body> {
        error_response(&self)
    }
}

impl From<BodyError> for ApiError {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TimedOut(_) | BodyError::Stalled(_) => ApiError::BodyTimeout(e.to_string()),
            BodyError::Read(_) => ApiError::InvalidBatch(e.to_string()),
        }
    }
}

/// `[{"index":i,"error":"code"},..]`.
pub fn rejected_json(rejected: &[Rejection]) -> serde_json::Value {
    rejected
        .iter()
        .map(|r| serde_json::json!({"index": r.index, "error": r.error.code()}))
        .collect()
}
