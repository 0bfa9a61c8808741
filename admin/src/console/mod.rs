//! The console: server-rendered pages for people, over the same endpoint code as the API
//! ([`crate::endpoints::answer`]), so every rule (ownership, roles, validation) is decided
//! once. Pages are Tera templates; a small script adds copying, local times, show/hide
//! and live export status, and every page works without it.
//!
//! - [`session`]: sign-in cookie, CSRF tokens, forms;
//! - [`render`]: templates, static files, headers, redirects, error pages;
//! - [`keys`], [`exports`], [`recordings`]: the pages of each resource;
//! - this file: sign-in and -out, the integrations hub and the dispatcher.

pub mod exports;
pub mod keys;
pub mod recordings;
pub mod render;
pub mod session;

use friction_service::http::{ApiError, Body, RequestBody};
use friction_store::{secret, sessions, users};
use http::request::Parts;
use http::{Method, Request, Response, StatusCode};
use serde_json::{json, Map, Value};

use crate::auth;
use crate::endpoints::{self, Call};
use crate::error::AdminError;
use crate::router::Route;
use crate::state::State;
use render::NOTICE_COOKIE;
use session::{Form, SignedIn, CSRF_FIELD, LOGIN_COOKIE, SESSION_COOKIE};

/// A signed-in request being answered.
pub struct Page<'a> {
    /// Shared state.
    pub state: &'a State,
    /// Method, URI, headers.
    pub parts: &'a Parts,
    /// Who is asking.
    pub user: &'a SignedIn,
}

impl Page<'_> {
    /// Runs the API endpoint of `route` as this user.
    pub async fn answer(
        &self,
        route: Route,
        query: &str,
        param: &str,
        body: Map<String, Value>,
    ) -> Result<Value, AdminError> {
        let call = Call {
            state: self.state,
            query,
            param,
        };
        endpoints::answer(route, &call, &self.user.caller, body).await
    }

    /// What every page's layout shows: the user, the CSRF token, the one-shot notice and
    /// which section is open.
    pub fn layout(&self, section: &str) -> Value {
        let notice = session::cookie(&self.parts.headers, NOTICE_COOKIE)
            .map(|v| {
                form_urlencoded::parse(format!("n={v}").as_bytes())
                    .next()
                    .map(|(_, n)| n.chars().take(200).collect::<String>())
                    .unwrap_or_default()
            })
            .filter(|n| !n.is_empty());
        json!({
            "me": {
                "email": self.user.session.user.email,
                "role": self.user.session.user.role,
                "is_admin": self.user.is_admin(),
            },
            "csrf": self.user.session.row.csrf,
            "notice": notice,
            "section": section,
            "ingest_url": self.state.public_ingest_url,
            // What some pages add, defined for all so templates can test them.
            "form_error": { "field": null, "code": null, "message": null },
            "values": null,
            "created": null,
            "owners": null,
        })
    }

    /// The layout of `section` with the page's own fields of `extra` (an object) over it.
    pub fn layout_with(&self, section: &str, extra: Value) -> Value {
        let mut context = self.layout(section);
        if let (Value::Object(context), Value::Object(extra)) = (&mut context, extra) {
            context.extend(extra);
        }
        context
    }

    /// Attributes of the console's cookies for this request.
    pub fn cookie_flags(&self) -> &'static str {
        session::cookie_flags(self.state, &self.parts.headers)
    }

    /// 303 to `location` with a notice for the next page.
    pub fn done(&self, location: &str, notice: &str) -> Response<Body> {
        render::redirect_with_notice(location, notice, self.cookie_flags())
    }
}

/// Answers a request under `/console` (and `/`, which leads there).
pub async fn route(state: &State, req: Request<RequestBody>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let (name, mut response) = dispatch(state, &parts, body).await;
    let outcome = match response.status() {
        s if s.is_success() || s.is_redirection() => "ok",
        s => s.canonical_reason().unwrap_or("error"),
    };
    state
        .metrics
        .requests
        .with_label_values(&[name, outcome])
        .inc();
    render::secure(&mut response);
    response
}

async fn dispatch(
    state: &State,
    parts: &Parts,
    body: RequestBody,
) -> (&'static str, Response<Body>) {
    let path = parts.uri.path();
    let rest = path.strip_prefix("/console").unwrap_or("");
    let segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    // HEAD is GET without the body (hyper leaves the body out).
    let method = match parts.method {
        Method::HEAD => &Method::GET,
        ref other => other,
    };
    if method == Method::POST && !session::same_origin(&parts.headers) {
        return (
            "console:form",
            render::error_page(&AdminError::InvalidCsrf, None),
        );
    }
    match (method, segments.as_slice()) {
        (&Method::GET, ["static", name]) => {
            let found = render::static_file(name);
            return ("console:static", found.unwrap_or_else(|| not_found(None)));
        }
        (&Method::GET, ["login"]) => {
            return ("console:login", login_page(state, parts, None).await)
        }
        (&Method::POST, ["login"]) => return ("console:login", sign_in(state, parts, body).await),
        (&Method::GET, []) if path == "/" || rest.is_empty() || rest == "/" => {
            return ("console:home", render::redirect("/console/keys"))
        }
        _ => {}
    }
    let scripted = matches!(
        segments.as_slice(),
        ["keys", _, "reveal"] | ["exports", "live"]
    );
    let user = match session::signed_in(state, &parts.headers).await {
        Ok(Some(user)) => user,
        Ok(None) if scripted => {
            return (
                "console:auth",
                render::json_error(&AdminError::SignInRequired),
            )
        }
        Ok(None) => return ("console:auth", render::redirect("/console/login")),
        Err(e) => return ("console:auth", render::error_page(&e, None)),
    };
    let page = Page {
        state,
        parts,
        user: &user,
    };
    let form = match *method {
        Method::POST => match Form::read(state, parts, body).await.and_then(|form| {
            form.check_csrf(&user)?;
            Ok(form)
        }) {
            Ok(form) => Some(form),
            Err(e) => {
                return (
                    "console:form",
                    render::error_page(&e, Some(page.layout(""))),
                )
            }
        },
        _ => None,
    };
    let (name, result) = match (method, segments.as_slice(), form) {
        (&Method::POST, ["logout"], _) => ("console:logout", sign_out(&page).await),
        (&Method::GET, ["keys"], _) => ("console:keys", keys::list(&page).await),
        (&Method::POST, ["keys"], Some(form)) => ("console:keys", keys::create(&page, &form).await),
        (&Method::GET, ["keys", id], _) => ("console:key", keys::show(&page, id).await),
        (&Method::POST, ["keys", id], Some(form)) => {
            ("console:key", keys::update(&page, id, &form).await)
        }
        (&Method::POST, ["keys", id, "active"], Some(form)) => {
            ("console:key", keys::set_active(&page, id, &form).await)
        }
        (&Method::GET, ["keys", id, "delete"], _) => {
            ("console:key", keys::confirm_delete(&page, id).await)
        }
        (&Method::POST, ["keys", id, "delete"], _) => {
            ("console:key", keys::delete(&page, id).await)
        }
        (&Method::GET, ["keys", id, "reveal"], _) => {
            return ("console:reveal", keys::reveal(&page, id).await)
        }
        (&Method::GET, ["exports"], _) => ("console:exports", exports::list(&page).await),
        (&Method::POST, ["exports"], Some(form)) => {
            ("console:exports", exports::create(&page, &form).await)
        }
        (&Method::GET, ["exports", "live"], _) => {
            return ("console:exports", exports::live(&page).await)
        }
        (&Method::GET, ["exports", id, "download"], _) => {
            ("console:download", exports::download(&page, id).await)
        }
        (&Method::GET, ["recordings"], _) => ("console:recordings", recordings::list(&page).await),
        (&Method::GET, ["recordings", id], _) => {
            ("console:recording", recordings::show(&page, id).await)
        }
        (&Method::GET, ["integrations"], _) => ("console:integrations", integrations(&page).await),
        _ => ("console:none", Err(AdminError::NoRoute)),
    };
    let mut response = result.unwrap_or_else(|e| render::error_page(&e, Some(page.layout(""))));
    if session::cookie(&parts.headers, NOTICE_COOKIE).is_some()
        && !response.status().is_redirection()
    {
        let flags = page.cookie_flags();
        session::set_cookie(
            &mut response,
            NOTICE_COOKIE,
            "",
            &format!("; Path=/console; Max-Age=0{flags}"),
        );
    }
    (name, response)
}

fn not_found(layout: Option<Value>) -> Response<Body> {
    render::error_page(&AdminError::NoRoute, layout)
}

/// The sign-in form, with a fresh CSRF token in a cookie of its own (double submit: there
/// is no session to keep it in yet).
async fn login_page(state: &State, parts: &Parts, error: Option<&AdminError>) -> Response<Body> {
    if error.is_none() && matches!(session::signed_in(state, &parts.headers).await, Ok(Some(_))) {
        return render::redirect("/console/keys");
    }
    let csrf = secret::generate("", 32);
    let status = error.map_or(StatusCode::OK, |e| e.status());
    let mut response = render::page(
        status,
        "login.html",
        json!({
            "csrf": csrf,
            "error": error.map(|e| json!({"code": e.code(), "message": e.to_string()})),
        }),
    );
    let flags = session::cookie_flags(state, &parts.headers);
    session::set_cookie(
        &mut response,
        LOGIN_COOKIE,
        &csrf,
        &format!("; Path=/console/login; Max-Age=3600{flags}"),
    );
    response
}

async fn sign_in(state: &State, parts: &Parts, body: RequestBody) -> Response<Body> {
    let form = match Form::read(state, parts, body).await {
        Ok(form) => form,
        Err(e) => return login_page(state, parts, Some(&e)).await,
    };
    let expected = session::cookie(&parts.headers, LOGIN_COOKIE).unwrap_or("");
    if expected.is_empty() || !secret::same(expected, form.get(CSRF_FIELD)) {
        return login_page(state, parts, Some(&AdminError::InvalidCsrf)).await;
    }
    let client = &state.clickhouse;
    let user = match users::authenticate(client, form.get("token")).await {
        Ok(Some(user)) => user,
        Ok(None) => return login_page(state, parts, Some(&AdminError::InvalidToken)).await,
        Err(e) => return login_page(state, parts, Some(&e.into())).await,
    };
    if let Err(e) = auth::caller_for(&user) {
        return login_page(state, parts, Some(&e)).await;
    }
    let ttl_s = state.console.session_ttl_s;
    let (cookie, session) = match sessions::start(client, user, ttl_s as i64 * 1000).await {
        Ok(started) => started,
        Err(e) => return login_page(state, parts, Some(&e.into())).await,
    };
    tracing::info!(user_id = %session.user.user_id, "console sign-in");
    let flags = session::cookie_flags(state, &parts.headers);
    let mut response = render::redirect("/console/keys");
    session::set_cookie(
        &mut response,
        SESSION_COOKIE,
        &cookie,
        &format!("; Path=/console; Max-Age={ttl_s}{flags}"),
    );
    session::set_cookie(
        &mut response,
        LOGIN_COOKIE,
        "",
        &format!("; Path=/console/login; Max-Age=0{flags}"),
    );
    response
}

async fn sign_out(page: &Page<'_>) -> Result<Response<Body>, AdminError> {
    sessions::end(&page.state.clickhouse, &page.user.session).await?;
    let flags = page.cookie_flags();
    let mut response = render::redirect("/console/login");
    session::set_cookie(
        &mut response,
        SESSION_COOKIE,
        "",
        &format!("; Path=/console; Max-Age=0{flags}"),
    );
    Ok(response)
}

/// The hub: the install snippet, what each `data-` option does, and where to go next.
async fn integrations(page: &Page<'_>) -> Result<Response<Body>, AdminError> {
    let keys = page.answer(Route::ListKeys, "", "", Map::new()).await?;
    let mut context = page.layout("integrations");
    context["keys"] = keys["keys"].clone();
    context["snippet"] =
        endpoints::keys::snippet(&page.state.public_ingest_url, "fk_YOUR_KEY").into();
    Ok(render::page(StatusCode::OK, "integrations.html", context))
}

#[cfg(test)]
mod tests {
    /// The hub explains every option the SDK's own README lists.
    #[test]
    fn the_hub_lists_every_sdk_option() {
        let readme = include_str!("../../../sdk/README.md");
        let hub = include_str!("../../console/templates/integrations.html");
        let options: Vec<&str> = readme
            .lines()
            .filter(|l| l.starts_with("| `data-"))
            .flat_map(|l| l.split('|').nth(1).unwrap_or("").split('`'))
            .filter(|name| name.starts_with("data-"))
            .collect();
        assert!(options.len() >= 10, "{options:?}");
        for name in options {
            assert!(
                hub.contains(&format!("<code>{name}</code>")),
                "{name} missing"
            );
        }
    }
}
