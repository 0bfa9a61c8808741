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

/// The content security policy of console pages: scripts and styles only from the
/// console itself; media only from `media_origin` when a page plays one.
pub fn policy(media_origin: Option<&str>) -> String {
    let media = media_origin.map_or(String::new(), |o| format!(" media-src {o};"));
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self';{media} form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

/// Security headers of every console response, where the handler did not set its own.
pub fn secure(response: &mut Response<Body>) {
    let headers = response.headers_mut();
    if let Ok(csp) = HeaderValue::from_str(&policy(None)) {
        headers
            .entry(header::CONTENT_SECURITY_POLICY)
            .or_insert(csp);
    }
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    // Pages show keys, and playback URLs carry signatures: never leak them as a referrer
    // to another origin. (`no-referrer` would also blank the `Origin` of form posts,
    // which the console checks.)
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
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

    /// What `Page::layout` gives every page, for an admin.
    fn layout() -> Value {
        serde_json::json!({
            "me": { "email": "root@example.com", "role": "admin", "is_admin": true },
            "csrf": "c".repeat(40), "notice": null, "section": "", "ingest_url": "https://in.example",
            "form_error": { "field": null, "code": null, "message": null },
            "values": null, "created": null, "owners": null,
        })
    }

    async fn render(template: &str, extra: Value) -> String {
        let mut context = layout();
        if let (Value::Object(c), Value::Object(e)) = (&mut context, extra) {
            c.extend(e);
        }
        let response = page(StatusCode::OK, template, context);
        assert_eq!(response.status(), StatusCode::OK, "{template} renders");
        let body = http_body_util::BodyExt::collect(response.into_body()).await;
        String::from_utf8(body.unwrap().to_bytes().to_vec()).unwrap()
    }

    fn key(snippet: bool) -> Value {
        let mut key = serde_json::json!({
            "id": "6aad94a9-f194-401e-8e69-0b1aae538f60", "name": "<b>shop</b>", "owner_id": "u1",
            "key_masked": "fk_AbCd…wXyZ", "allowed_domains": ["a.example", "*.b.example"],
            "rate_limit_per_minute": 600, "is_active": false, "created_at": "2026-11-26T10:00:00.000Z",
            "updated_at": "2026-11-26T10:00:00.000Z", "last_used_at": null,
        });
        if snippet {
            key["key"] = "fk_x".into();
            key["snippet"] = "<script src=x></script>".into();
        }
        key
    }

    #[tokio::test]
    async fn pages_render_every_shape_of_answer() {
        let keys = render(
            "keys.html",
            serde_json::json!({ "keys": [key(false)], "owners": { "u1": "alice@example.com" } }),
        )
        .await;
        assert!(keys.contains("alice@example.com") && keys.contains("&lt;b&gt;shop"));
        assert!(!keys.contains("<b>shop"), "names are escaped");
        let refused = render("keys.html",
            serde_json::json!({ "keys": [], "values": { "name": "x", "allowed_domains": "", "rate_limit_per_minute": "" },
                "form_error": { "field": "owner_id", "code": "x", "message": "a refusal without a form field" } }),
        ).await;
        assert!(refused.contains("a refusal without a form field"));
        for snippet in [true, false] {
            let page = render("key.html", serde_json::json!({ "key": key(snippet) })).await;
            assert_eq!(page.contains("&lt;script src=x&gt;"), snippet);
            assert_eq!(page.contains("cannot be shown again"), !snippet);
        }
        let jobs = serde_json::json!([
            { "id": "j1", "report_type": "friction_summary", "params": null, "status": "failed",
              "error": "the report query timed out", "created_at": "2026-11-26T10:00:00.000Z", "bytes": 0, "pages": 0 },
            { "id": "j2", "report_type": "cohort_comparison", "params": { "date_from": "2026-11-01", "date_to": "2026-11-02" },
              "status": "completed", "error": null, "created_at": "2026-11-26T10:00:00.000Z", "bytes": 30000, "pages": 3 },
            { "id": "j3", "report_type": "journey_analysis", "params": { "date_from": "2026-11-01", "date_to": "2026-11-02" },
              "status": "running", "error": null, "created_at": "2026-11-26T10:00:00.000Z", "bytes": 0, "pages": 0 },
        ]);
        let rows = render("export_rows.html", serde_json::json!({ "exports": jobs })).await;
        assert!(rows.contains("the report query timed out"));
        assert!(rows.contains("/console/exports/j2/download"));
        assert!(
            !rows.contains("/console/exports/j1/download")
                && !rows.contains("/console/exports/j3/download")
        );
        let slots: Vec<Value> = (1..=4)
            .map(|n| serde_json::json!({ "n": n, "name": "", "date_from": "", "date_to": "", "browser": "", "device_class": "", "key_id": "" }))
            .collect();
        let exports = render("exports.html",
            serde_json::json!({ "exports": jobs, "keys": [key(false)], "cohort_slots": slots,
                "choices": { "report_types": ["friction_summary"], "browsers": ["chrome"], "device_classes": ["mobile"], "min_cohorts": 2, "max_cohorts": 4 },
                "values": { "report_type": "", "date_from": "", "date_to": "", "url_prefix": "", "key_ids": [] },
                "form_error": { "field": "report_type", "code": "invalid_json", "message": "not an export request" } }),
        ).await;
        assert!(exports.contains("not an export request"));
    }
}
