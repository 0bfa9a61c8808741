//! Reading a request body within limits: content type and encoding checks, the
//! compressed-size limit, and gzip decompression guarded against bombs.

use std::io::Read;

use bytes::Buf;
use http::{header, HeaderMap};
use http_body_util::BodyExt;

use crate::error::ApiError;

/// Size limits of one body.
#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    /// Bytes as sent.
    pub max_body: usize,
    /// Bytes after decompression.
    pub max_decompressed: usize,
    /// Largest decompressed/compressed ratio.
    pub max_ratio: usize,
}

/// How the body is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// As is.
    Identity,
    /// `Content-Encoding: gzip`.
    Gzip,
}

/// Accepts JSON, and `text/plain` as JSON because that is what `navigator.sendBeacon`
/// sends for a string; a missing type is taken as JSON.
pub fn check_content_type(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let value = value.to_str().unwrap_or("");
    let mime = value.split(';').next().unwrap_or("").trim();
    if mime.eq_ignore_ascii_case("application/json") || mime.eq_ignore_ascii_case("text/plain") {
        Ok(())
    } else {
        Err(ApiError::UnsupportedMediaType)
    }
}

/// The body's encoding from `Content-Encoding`.
pub fn encoding(headers: &HeaderMap) -> Result<Encoding, ApiError> {
    match headers.get(header::CONTENT_ENCODING) {
        None => Ok(Encoding::Identity),
        Some(v) => match v
            .to_str()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
            .as_str()
        {
            "" | "identity" => Ok(Encoding::Identity),
            "gzip" | "x-gzip" => Ok(Encoding::Gzip),
            _ => Err(ApiError::UnsupportedEncoding),
        },
    }
}

/// Refuses early when `Content-Length` already says the body is too large.
pub fn check_length(headers: &HeaderMap, limits: &BodyLimits) -> Result<(), ApiError> {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match length {
        Some(n) if n > limits.max_body as u64 => Err(too_large(limits.max_body, "body")),
        _ => Ok(()),
    }
}

fn too_large(limit: usize, what: &str) -> ApiError {
    ApiError::PayloadTooLarge(format!("{what} is larger than {limit} bytes"))
}

/// Reads the whole body, refusing it once it passes the limit. The buffer grows with
/// what arrives, never from what `Content-Length` announces (a client may announce a
/// megabyte and send nothing).
pub async fn read<B>(mut body: B, limits: &BodyLimits) -> Result<Vec<u8>, ApiError>
where
    B: hyper::body::Body + Unpin,
    ApiError: From<B::Error>,
{
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame?;
        if let Ok(mut data) = frame.into_data() {
            if out.len() + data.remaining() > limits.max_body {
                return Err(too_large(limits.max_body, "body"));
            }
            while data.has_remaining() {
                let chunk = data.chunk();
                out.extend_from_slice(chunk);
                let n = chunk.len();
                data.advance(n);
            }
        }
    }
    Ok(out)
}

/// Decodes the body off the async workers: gzip runs on the blocking pool, so an
/// expensive body cannot stall other requests. `slot` (what bounds how many run at once)
/// is held by the work itself and handed back with its result.
pub async fn decode_off_thread<S: Send + 'static>(
    raw: Vec<u8>,
    encoding: Encoding,
    limits: BodyLimits,
    slot: S,
) -> Result<(Vec<u8>, S), ApiError> {
    if encoding == Encoding::Identity {
        return Ok((raw, slot));
    }
    let decoded = tokio::task::spawn_blocking(move || (decode(raw, encoding, &limits), slot))
        .await
        .map_err(|_| ApiError::Unavailable("decompression failed"))?;
    let (result, slot) = decoded;
    result.map(|body| (body, slot))
}

/// Decodes the body; the decompressed size is bounded by both the absolute limit and
/// the ratio to the compressed size, and reading stops as soon as either is passed.
pub fn decode(raw: Vec<u8>, encoding: Encoding, limits: &BodyLimits) -> Result<Vec<u8>, ApiError> {
    match encoding {
        Encoding::Identity => Ok(raw),
        Encoding::Gzip => {
            let cap = limits
                .max_decompressed
                .min(raw.len().saturating_mul(limits.max_ratio));
            let mut out = Vec::with_capacity((raw.len() * 4).min(cap));
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .take(cap as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|e| ApiError::InvalidBatch(format!("body is not valid gzip: {e}")))?;
            if out.len() > cap {
                return Err(ApiError::PayloadTooLarge(format!(
                    "decompressed body exceeds {cap} bytes (limit {} bytes, ratio {}:1)",
                    limits.max_decompressed, limits.max_ratio
                )));
            }
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use friction_service::http::ApiError as _;
    use std::io::Write;

    const LIMITS: BodyLimits = BodyLimits {
        max_body: 1000,
        max_decompressed: 5000,
        max_ratio: 100,
    };

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn decodes_gzip_within_limits() {
        let data = br#"{"events":[]}"#.repeat(10);
        assert_eq!(decode(gzip(&data), Encoding::Gzip, &LIMITS).unwrap(), data);
    }

    #[test]
    fn refuses_bombs_and_garbage() {
        let bomb = gzip(&vec![b' '; 100_000]);
        assert!(bomb.len() < LIMITS.max_body);
        assert_eq!(
            decode(bomb, Encoding::Gzip, &LIMITS).unwrap_err().code(),
            "payload_too_large"
        );
        assert_eq!(
            decode(b"nope".to_vec(), Encoding::Gzip, &LIMITS)
                .unwrap_err()
                .code(),
            "invalid_batch"
        );
    }

    #[test]
    fn checks_types_and_encodings() {
        let mut h = HeaderMap::new();
        assert!(check_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "text/plain;charset=UTF-8".parse().unwrap(),
        );
        assert!(check_content_type(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/x-www-form-urlencoded".parse().unwrap(),
        );
        assert_eq!(
            check_content_type(&h).unwrap_err().code(),
            "unsupported_media_type"
        );
        h.insert(header::CONTENT_ENCODING, "br".parse().unwrap());
        assert_eq!(encoding(&h).unwrap_err().code(), "unsupported_encoding");
        h.insert(header::CONTENT_ENCODING, "GZIP".parse().unwrap());
        assert_eq!(encoding(&h).unwrap(), Encoding::Gzip);
        h.insert(header::CONTENT_LENGTH, "1001".parse().unwrap());
        assert_eq!(
            check_length(&h, &LIMITS).unwrap_err().code(),
            "payload_too_large"
        );
    }
}
