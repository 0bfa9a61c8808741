//! Every way a request can be refused, mapped to its HTTP status and stable JSON error
//! code in one place.

use friction_schema::Rejection;
use http::StatusCode;

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
    /// The request's origin is not among the key's allowed domains.
    #[error("origin {0:?} is not allowed for this API key")]
    OriginNotAllowed(String),
    /// The key's token bucket is empty.
    #[error("rate limit of {limit} requests per minute exceeded; retry in {retry_after_s} s")]
    RateLimited {
        /// Requests per minute of the key.
        limit: u32,
        /// Seconds until a request is allowed again.
        retry_after_s: u64,
    },
    /// Body, decompressed body or batch is over a limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// Content type not JSON or text/plain.
    #[error("content type {0:?} is not supported; send application/json or text/plain")]
    UnsupportedMediaType(String),
    /// Content encoding not identity or gzip.
    #[error("content encoding {0:?} is not supported; send identity or gzip")]
    UnsupportedEncoding(String),
    /// The body is not a valid batch.
    #[error("{0}")]
    InvalidBatch(String),
    /// Every event of the batch was invalid.
    #[error("no event of the batch is valid")]
    InvalidEvents(Vec<Rejection>),
    /// A dependency (Kafka, or ClickHouse for an unknown key) cannot take the request now.
    #[error("{0}; retry later")]
    Unavailable(&'static str),
    /// No such endpoint.
    #[error("no such endpoint")]
    NotFound,
    /// Endpoint exists, method does not.
    #[error("method not allowed")]
    MethodNotAllowed,
}

/// Seconds a client should wait after a 503.
pub const UNAVAILABLE_RETRY_AFTER_S: u64 = 5;

impl ApiError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::MissingApiKey | ApiError::InvalidApiKey => StatusCode::UNAUTHORIZED,
            ApiError::KeyInactive | ApiError::OriginNotAllowed(_) => StatusCode::FORBIDDEN,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) | ApiError::UnsupportedEncoding(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            ApiError::InvalidBatch(_) | ApiError::InvalidEvents(_) => StatusCode::BAD_REQUEST,
            // 503, not 500: the request was fine and will succeed once the dependency is back.
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::MissingApiKey => "missing_api_key",
            ApiError::InvalidApiKey => "invalid_api_key",
            ApiError::KeyInactive => "key_inactive",
            ApiError::OriginNotAllowed(_) => "origin_not_allowed",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::UnsupportedMediaType(_) => "unsupported_media_type",
            ApiError::UnsupportedEncoding(_) => "unsupported_encoding",
            ApiError::InvalidBatch(_) => "invalid_batch",
            ApiError::InvalidEvents(_) => "invalid_events",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// `Retry-After` seconds, for 429 and 503.
    pub fn retry_after_s(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_s, .. } => Some(*retry_after_s),
            ApiError::Unavailable(_) => Some(UNAVAILABLE_RETRY_AFTER_S),
            _ => None,
        }
    }

    /// The JSON body: `{"success":false,"error":code,"message":..}`, plus the rejected
    /// events when every event was invalid.
    pub fn body(&self) -> Vec<u8> {
        let mut body = serde_json::json!({
            "success": false,
            "error": self.code(),
            "message": self.to_string(),
        });
        if let ApiError::InvalidEvents(rejected) = self {
            body["rejected"] = crate::response::rejected_json(rejected);
        }
        serde_json::to_vec(&body).unwrap_or_default()
    }
}
