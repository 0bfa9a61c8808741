//! The built SDK as ingest serves it: read once at start-up, with a gzip variant, a
//! strong ETag and its Subresource Integrity hash. The moving URL is cached briefly; the
//! versioned one (the version read from the build's banner) for a year, immutable.

use std::io::Write;

use base64::Engine;
use bytes::Bytes;
use http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use sha2::{Digest, Sha256, Sha384};

use friction_service::http::Body;

/// The SDK file, ready to serve.
pub struct SdkAsset {
    plain: Bytes,
    gzip: Bytes,
    etag: HeaderValue,
    /// From the banner, `/*! friction-tracker.js 0.3.0, ...`; `None` for a file without.
    pub version: Option<String>,
    /// `sha384-…` of the file, for a script tag's `integrity`.
    pub integrity: String,
}

/// How long a browser may keep what it fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caching {
    /// The moving URL: the next release replaces it.
    Short,
    /// A versioned URL: its content never changes.
    Immutable,
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
        let integrity = format!(
            "sha384-{}",
            base64::engine::general_purpose::STANDARD.encode(Sha384::digest(&plain))
        );
        Ok(SdkAsset {
            version: banner_version(&plain),
            plain: plain.into(),
            gzip: gzip.into(),
            etag,
            integrity,
        })
    }

    /// Loads the asset served at `route`; logs and gives `None` when it cannot be read.
    pub fn load_or_warn(path: &str, route: &str) -> Option<Self> {
        match SdkAsset::load(path) {
            Ok(asset) => Some(asset),
            Err(e) => {
                tracing::warn!(%path, error = %e, "SDK build not found; {route} answers 404");
                None
            }
        }
    }

    /// The response to a GET or HEAD.
    pub fn respond(&self, request: &HeaderMap, head: bool, caching: Caching) -> Response<Body> {
        let not_modified = request
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| etag_matches(v, &self.etag));
        let gzip = request
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip);
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
            HeaderValue::from_static(match caching {
                Caching::Short => "public, max-age=300",
                Caching::Immutable => "public, max-age=31536000, immutable",
            }),
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

/// The version in a build's first line, `/*! friction-tracker.js 0.3.0, Apache-2.0 */`:
/// dots and digits only, since it becomes part of a URL.
fn banner_version(file: &[u8]) -> Option<String> {
    let line = file.split(|b| *b == b'\n').next()?;
    let rest = line.strip_prefix(b"/*! friction-tracker.js ")?;
    let end = rest.iter().position(|b| *b == b',' || *b == b' ')?;
    let version = std::str::from_utf8(&rest[..end]).ok()?;
    let valid = !version.is_empty()
        && version
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| version.to_owned())
}

/// Whether `If-None-Match` names `etag`, weakly compared (`W/"x"` matches `"x"`, RFC 9110
/// §13.1.2), or is `*`.
fn etag_matches(if_none_match: &str, etag: &HeaderValue) -> bool {
    let ours = etag.to_str().unwrap_or("");
    if_none_match.split(',').any(|t| {
        let t = t.trim();
        t == "*" || t.strip_prefix("W/").unwrap_or(t) == ours
    })
}

/// Whether `Accept-Encoding` takes gzip with a weight above zero (`gzip;q=0` refuses it;
/// `*` stands for it when gzip is not named).
fn accepts_gzip(accept_encoding: &str) -> bool {
    let weight = |name: &str| {
        accept_encoding.split(',').find_map(|item| {
            let mut parts = item.split(';');
            let coding = parts.next()?.trim();
            if !coding.eq_ignore_ascii_case(name) {
                return None;
            }
            let q = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            Some(q)
        })
    };
    weight("gzip")
        .or_else(|| weight("x-gzip"))
        .or_else(|| weight("*"))
        .is_some_and(|q| q > 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_only_when_its_weight_is_above_zero() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.000, br"));
        assert!(!accepts_gzip("*;q=0"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("br, *;q=0"));
    }

    #[test]
    fn the_version_comes_from_the_banner_and_is_only_digits_and_dots() {
        let v = |s: &str| banner_version(s.as_bytes());
        assert_eq!(
            v("/*! friction-tracker.js 0.3.0, Apache-2.0 */\n!function(){}"),
            Some("0.3.0".into())
        );
        assert_eq!(v("/*! friction-tracker.js 10.2 */"), Some("10.2".into()));
        assert_eq!(v("/*! friction-tracker.js, Apache-2.0 */"), None);
        assert_eq!(v("/*! friction-tracker.js ../x, */"), None);
        assert_eq!(v("/*! friction-tracker.js 1..2, */"), None);
        assert_eq!(v("(function(){})()"), None);
    }

    #[test]
    fn weak_and_listed_etags_match() {
        let etag = HeaderValue::from_static("\"abc\"");
        assert!(etag_matches("\"abc\"", &etag));
        assert!(etag_matches("W/\"abc\"", &etag));
        assert!(etag_matches("\"x\", W/\"abc\"", &etag));
        assert!(etag_matches("*", &etag));
        assert!(!etag_matches("\"abcd\"", &etag));
        assert!(!etag_matches("W/\"x\"", &etag));
    }
}
