//! Who is using the console: the session cookie (HttpOnly, SameSite=Strict, Secure when
//! the console is reached over TLS), the CSRF token every form carries, and the forms
//! themselves. Sessions live in `friction_store::sessions`, so any admin replica can
//! serve any request and signing out ends a session everywhere.

use friction_service::http::RequestBody;
use friction_store::sessions::{self, Session};
use friction_store::users::Role;
use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Response};

use crate::auth::{self, Caller};
use crate::endpoints;
use crate::error::AdminError;
use crate::state::State;

/// The session cookie.
pub const SESSION_COOKIE: &str = "friction_session";
/// The CSRF token of the sign-in form, before there is a session (double submit).
pub const LOGIN_COOKIE: &str = "friction_login";
/// The form field (and, for scripts, the `X-CSRF-Token` header) of the CSRF token.
pub const CSRF_FIELD: &str = "csrf";

/// The value of cookie `name`, from every `Cookie` header.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// Whether a browser's POST comes from the console's own pages: its `Origin` (browsers
/// send one with every form post) names the host the request was sent to. Requests
/// without `Origin` (not from a browser) still need their CSRF token. This also stops a
/// sign-in forged from another site with a planted sign-in cookie.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, host)| host);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
}

/// Attributes of every console cookie after its value.
pub fn cookie_flags(state: &State, headers: &HeaderMap) -> &'static str {
    let tls = state.console.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
    match tls {
        true => "; HttpOnly; SameSite=Strict; Secure",
        false => "; HttpOnly; SameSite=Strict",
    }
}

/// Adds a `Set-Cookie`.
pub fn set_cookie<B>(response: &mut Response<B>, name: &str, value: &str, attrs: &str) {
    if let Ok(cookie) = HeaderValue::from_str(&format!("{name}={value}{attrs}")) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
}

/// The signed-in user of a request.
pub struct SignedIn {
    /// The session (its CSRF token guards forms).
    pub session: Session,
    /// As the API sees them.
    pub caller: Caller,
}

/// The live session of the request; `None` when there is none (or its user was disabled).
pub async fn signed_in(state: &State, headers: &HeaderMap) -> Result<Option<SignedIn>, AdminError> {
    let Some(value) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let Some(session) = sessions::find(&state.clickhouse, value).await? else {
        return Ok(None);
    };
    Ok(auth::caller_for(&session.user)
        .ok()
        .map(|caller| SignedIn { session, caller }))
}

impl SignedIn {
    /// Whether the user is an admin.
    pub fn is_admin(&self) -> bool {
        self.caller.role == Role::Admin
    }
}

/// A submitted form: name and value pairs, in order (a field may repeat).
pub struct Form(pub Vec<(String, String)>);

impl Form {
    /// Reads an `application/x-www-form-urlencoded` body within the body cap.
    pub async fn read(state: &State, parts: &Parts, body: RequestBody) -> Result<Form, AdminError> {
        let mime = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .unwrap_or("");
        if !mime
            .trim()
            .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        {
            return Err(AdminError::UnsupportedMediaType(
                "application/x-www-form-urlencoded",
            ));
        }
        let bytes = endpoints::read_bytes(state.max_body_bytes, body).await?;
        Ok(Form(
            form_urlencoded::parse(&bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        ))
    }

    /// The first value of `name`, trimmed (`""` when absent).
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    /// Refuses the form unless it carries the session's CSRF token.
    pub fn check_csrf(&self, signed_in: &SignedIn) -> Result<(), AdminError> {
        match signed_in.session.csrf_matches(self.get(CSRF_FIELD)) {
            true => Ok(()),
            false => Err(AdminError::InvalidCsrf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    http::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn posts_from_other_origins_are_told_apart() {
        let own = headers(&[
            ("host", "127.0.0.1:8090"),
            ("origin", "http://127.0.0.1:8090"),
        ]);
        assert!(same_origin(&own));
        let tls = headers(&[
            ("host", "console.example.com"),
            ("origin", "https://console.example.com"),
        ]);
        assert!(same_origin(&tls));
        assert!(same_origin(&headers(&[("host", "127.0.0.1:8090")])));
        for origin in ["http://evil.example", "http://127.0.0.1:8080", "null"] {
            let h = headers(&[("host", "127.0.0.1:8090"), ("origin", origin)]);
            assert!(!same_origin(&h), "{origin}");
        }
    }

    #[test]
    fn cookies_are_found_in_every_header() {
        let h = headers(&[("cookie", "a=1; friction_session=fs_x"), ("cookie", "b=2")]);
        assert_eq!(cookie(&h, "friction_session"), Some("fs_x"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "friction"), None);
    }
}
