//! Turning answers into pages: the Tera templates and static files built into the binary
//! (the console works offline, with no build step), the headers every console response
//! carries, redirects with a one-shot notice, and error pages.

use std::sync::OnceLock;

use bytes::Bytes;
use friction_service::http::{ApiError, Body};
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::Full;
use serde_json::Value;

use crate::error::AdminError;

/// Templates, by name.
const TEMPLATES: &[(&str, &str)] = &[
    (
        "base.html",
        include_str!("../../console/templates/base.html"),
    ),
    (
        "login.html",
        include_str!("../../console/templates/login.html"),
    ),
    (
        "error.html",
        include_str!("../../console/templates/error.html"),
    ),
    (
        "keys.html",
        include_str!("../../console/templates/keys.html"),
    ),
    ("key.html", include_str!("../../console/templates/key.html")),
    (
        "key_delete.html",
        include_str!("../../console/templates/key_delete.html"),
    ),
    (
        "exports.html",
        include_str!("../../console/templates/exports.html"),
    ),
    (
        "export_rows.html",
        include_str!("../../console/templates/export_rows.html"),
    ),
    (
        "recordings.html",
        include_str!("../../console/templates/recordings.html"),
    ),
    (
        "recording.html",
        include_str!("../../console/templates/recording.html"),
    ),
    (
        "integrations.html",
        include_str!("../../console/templates/integrations.html"),
    ),
];

/// Static files: path under `/console/static/`, content type, body.
pub const STATIC: &[(&str, &str, &str)] = &[
    (
        "console.css",
        "text/css; charset=utf-8",
        include_str!("../../console/static/console.css"),
    ),
    (
        "console.js",
        "text/javascript; charset=utf-8",
        include_str!("../../console/static/console.js"),
    ),
];

/// The cookie carrying a one-shot notice to the next page.
pub const NOTICE_COOKIE: &str = "friction_notice";

fn tera() -> &'static tera::Tera {
    static TERA: OnceLock<tera::Tera> = OnceLock::new();
    TERA.get_or_init(|| {
        let mut tera = tera::Tera::default();
        // The templates are part of the binary and checked by a test; a broken one is a
        // build defect, not a runtime condition.
        if let Err(e) = tera.add_raw_templates(TEMPLATES.iter().copied()) {
            tracing::error!(error = ?e, "console templates do not parse");
        }
        tera.autoescape_on(vec![".html"]);
        tera
    })
}

/// Security headers of every console response. Scripts and styles come only from the
/// console itself; media (recordings) also from `media_origin`, the object store.
pub fn secure(response: &mut Response<Body>, media_origin: &str) {
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; media-src 'self' {media_origin}; form-action 'self'; \
         frame-ancestors 'none'; base-uri 'none'"
    );
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages show keys, and playback URLs carry signatures: never leak them as a referrer.
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

fn response(
    status: StatusCode,
    content_type: &'static str,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Renders `template` with `context` (a JSON object).
pub fn page(status: StatusCode, template: &str, context: Value) -> Response<Body> {
    let rendered =
        tera::Context::from_value(context).and_then(|context| tera().render(template, &context));
    match rendered {
        Ok(html) => response(status, "text/html; charset=utf-8", html),
        Err(e) => {
            tracing::error!(template, error = ?e, "console page did not render");
            response(
                StatusCode::INTERNAL_SERVER_ERROR,
                "text/plain; charset=utf-8",
                "this page could not be rendered",
            )
        }
    }
}

/// A static file, or `None`.
pub fn static_file(name: &str) -> Option<Response<Body>> {
    let (_, content_type, body) = STATIC.iter().find(|(n, _, _)| *n == name)?;
    let mut response = response(StatusCode::OK, content_type, *body);
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    Some(response)
}

/// 303 to `location` (a path of the console, or a presigned URL).
pub fn redirect(location: &str) -> Response<Body> {
    let mut response = response(StatusCode::SEE_OTHER, "text/plain; charset=utf-8", "");
    if let Ok(location) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

/// 303 to `location`, with `notice` shown once on the page it leads to.
pub fn redirect_with_notice(location: &str, notice: &str, cookie_flags: &str) -> Response<Body> {
    let mut response = redirect(location);
    let value: String = form_urlencoded::byte_serialize(notice.as_bytes()).collect();
    let cookie = format!("{NOTICE_COOKIE}={value}; Path=/console; Max-Age=60{cookie_flags}");
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The error page of `err`, in the layout when `layout` (the signed-in context) is given.
pub fn error_page(err: &AdminError, layout: Option<Value>) -> Response<Body> {
    let mut context = layout.unwrap_or_else(|| serde_json::json!({}));
    context["error"] = serde_json::json!({
        "status": err.status().as_u16(),
        "code": err.code(),
        "message": err.to_string(),
    });
    let mut response = page(err.status(), "error.html", context);
    if let Some(secs) = err.retry_after_s() {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

/// A JSON error, for the console's scripts.
pub fn json_error(err: &AdminError) -> Response<Body> {
    friction_service::http::error_response(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        let mut tera = tera::Tera::default();
        tera.add_raw_templates(TEMPLATES.iter().copied())
            .expect("templates parse");
    }
}
