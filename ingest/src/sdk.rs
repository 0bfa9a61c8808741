//! The built SDK as ingest serves it: read once at start-up, with a gzip variant and a
//! strong ETag, answered with short public caching.

use std::io::Write;

use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use sha2::{Digest, Sha256};

use friction_service::http::Body;

/// The SDK file, ready to serve.
pub struct SdkAsset {
    plain: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
}

impl SdkAsset {
    /// Loads and compresses the file.
    pub fn load(path: &str) -> std::io::Result<Self> {
        let plain = std::fs::read(path)?;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(&plain)?;
        let gzip = enc.finish()?;
        let digest = Sha256::digest(&plain);
        let etag = friction_schema::hex(&digest[..12]);
        let etag = HeaderValue::from_str(&format!("\"{etag}\"")).map_err(std::io::Error::other)?;
        Ok(SdkAsset {
            plain: plain.into(),
            gzip: gzip.into(),
            etag,
        })
    }

    /// The response to a GET or HEAD.
    pub fn respond(&self, request: &HeaderMap, head: bool) -> Response<Body> {
        let not_modified = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == self.etag || t.trim() == "*")
            });
        let gzip = request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|e| e.split(';').next().unwrap_or("").trim() == "gzip")
            });
        let (status, body) = if not_modified {
            (StatusCode::NOT_MODIFIED, Bytes::new())
        } else if gzip {
            (StatusCode::OK, self.gzip.clone())
        } else {
            (StatusCode::OK, self.plain.clone())
        };
        let length = body.len();
        let mut response = Response::new(Full::new(if head { Bytes::new() } else { body }));
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(header::ETAG, self.etag.clone());
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if status == StatusCode::OK {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/javascript; charset=utf-8"),
            );
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
            if gzip {
                h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            }
        }
        response
    }
}
