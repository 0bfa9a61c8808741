//! Key pages: the list with masked keys, creation (the key shown once, with its install
//! snippet), one key's settings and snippet, turning a key off and on, deletion behind a
//! confirmation, and revealing a key for show/copy. Every change is the API's own
//! endpoint; its errors come back beside the field they name.

use friction_service::http::{json, ApiError, Body};
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::session::Form;
use super::{render, Page};
use crate::error::AdminError;
use crate::router::Route;

/// The API body of the key form: domains one per line (or comma separated); a rate
/// limit that is not a number goes through as text, for the API to refuse by name.
fn body(form: &Form) -> Map<String, Value> {
    let mut body = Map::new();
    body.insert("name".into(), form.get("name").into());
    let domains: Vec<Value> = form
        .get("allowed_domains")
        .split([',', '\n'])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(Value::from)
        .collect();
    body.insert("allowed_domains".into(), domains.into());
    let limit = form.get("rate_limit_per_minute");
    if !limit.is_empty() {
        let value = limit
            .parse::<u64>()
            .map_or_else(|_| limit.into(), Value::from);
        body.insert("rate_limit_per_minute".into(), value);
    }
    body
}

/// What the form showed, to fill it in again after an error.
fn values(form: &Form) -> Value {
    json!({
        "name": form.get("name"),
        "allowed_domains": form.get("allowed_domains"),
        "rate_limit_per_minute": form.get("rate_limit_per_minute"),
    })
}

/// An error for the form: its field (when it names one) and message.
pub fn form_error(e: &AdminError) -> Value {
    let mut extra = Map::new();
    e.extend(&mut extra);
    json!({
        "field": extra.get("field"),
        "code": e.code(),
        "message": e.to_string(),
    })
}

async fn list_page(
    page: &Page<'_>,
    status: StatusCode,
    extra: Value,
) -> Result<Response<Body>, AdminError> {
    let keys = page.answer(Route::ListKeys, "", "", Map::new()).await?;
    let mut context = page.layout_with("keys", extra);
    context["keys"] = keys["keys"].clone();
    if page.user.is_admin() {
        // Admins see every key: name each owner.
        let users = page.answer(Route::ListUsers, "", "", Map::new()).await?;
        let emails: Map<String, Value> = users["users"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|u| Some((u["id"].as_str()?.to_owned(), u["email"].clone())))
            .collect();
        context["owners"] = emails.into();
    }
    Ok(render::page(status, "keys.html", context))
}

/// `GET /console/keys`.
pub async fn list(page: &Page<'_>) -> Result<Response<Body>, AdminError> {
    list_page(page, StatusCode::OK, json!({})).await
}

/// `POST /console/keys`: on to the new key's page, which shows it with its snippet (a
/// redirect, so reloading cannot create a second key).
pub async fn create(page: &Page<'_>, form: &Form) -> Result<Response<Body>, AdminError> {
    match page.answer(Route::CreateKey, "", "", body(form)).await {
        Ok(created) => {
            let name = created["name"].as_str().unwrap_or("");
            let id = created["id"].as_str().unwrap_or("");
            let notice = format!("Key “{name}” created: copy it and its snippet below.");
            Ok(page.done(&format!("/console/keys/{id}"), &notice))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            list_page(
                page,
                e.status(),
                json!({ "form_error": form_error(&e), "values": values(form) }),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// The key, revealed when it can be.
async fn revealed(page: &Page<'_>, id: &str) -> Result<Value, AdminError> {
    match page
        .answer(Route::GetKey, "reveal=true", id, Map::new())
        .await
    {
        Err(AdminError::KeyNotRevealable) => page.answer(Route::GetKey, "", id, Map::new()).await,
        other => other,
    }
}

async fn key_page(
    page: &Page<'_>,
    id: &str,
    status: StatusCode,
    extra: Value,
) -> Result<Response<Body>, AdminError> {
    let key = revealed(page, id).await?;
    let mut context = page.layout_with("keys", extra);
    context["key"] = key;
    Ok(render::page(status, "key.html", context))
}

/// `GET /console/keys/{id}`: settings, snippet, on/off and delete.
pub async fn show(page: &Page<'_>, id: &str) -> Result<Response<Body>, AdminError> {
    key_page(page, id, StatusCode::OK, json!({})).await
}

/// `POST /console/keys/{id}`: new settings.
pub async fn update(page: &Page<'_>, id: &str, form: &Form) -> Result<Response<Body>, AdminError> {
    match page.answer(Route::UpdateKey, "", id, body(form)).await {
        Ok(key) => {
            let notice = format!("Key “{}” saved.", key["name"].as_str().unwrap_or(""));
            Ok(page.done(&format!("/console/keys/{id}"), &notice))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            key_page(
                page,
                id,
                e.status(),
                json!({ "form_error": form_error(&e), "values": values(form) }),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// `POST /console/keys/{id}/active` with `active=true|false`.
pub async fn set_active(
    page: &Page<'_>,
    id: &str,
    form: &Form,
) -> Result<Response<Body>, AdminError> {
    let active = match form.get("active") {
        "true" => true,
        "false" => false,
        _ => return Err(AdminError::InvalidActive),
    };
    let mut change = Map::new();
    change.insert("is_active".into(), active.into());
    let key = page.answer(Route::UpdateKey, "", id, change).await?;
    let name = key["name"].as_str().unwrap_or("");
    let notice = match active {
        true => format!("Key “{name}” turned on: ingest accepts it again once its key cache refreshes (30 s by default)."),
        false => format!("Key “{name}” turned off: ingest refuses it once its key cache refreshes (30 s by default)."),
    };
    // Back where the button was: the key's own page, or the list.
    let back = match form.get("back") {
        "key" => format!("/console/keys/{}", key["id"].as_str().unwrap_or(id)),
        _ => "/console/keys".to_owned(),
    };
    Ok(page.done(&back, &notice))
}

/// `GET /console/keys/{id}/delete`: are you sure?
pub async fn confirm_delete(page: &Page<'_>, id: &str) -> Result<Response<Body>, AdminError> {
    let key = page.answer(Route::GetKey, "", id, Map::new()).await?;
    let mut context = page.layout("keys");
    context["key"] = key;
    Ok(render::page(StatusCode::OK, "key_delete.html", context))
}

/// `POST /console/keys/{id}/delete`.
pub async fn delete(page: &Page<'_>, id: &str) -> Result<Response<Body>, AdminError> {
    let key = page.answer(Route::DeleteKey, "", id, Map::new()).await?;
    let notice = format!("Key “{}” deleted.", key["name"].as_str().unwrap_or(""));
    Ok(page.done("/console/keys", &notice))
}

/// `GET /console/keys/{id}/reveal` (scripts, with `X-CSRF-Token`): `{"key": ..}`.
pub async fn reveal(page: &Page<'_>, id: &str) -> Response<Body> {
    let token = page
        .parts
        .headers
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !page.user.session.csrf_matches(token) {
        return render::json_error(&AdminError::InvalidCsrf);
    }
    match page
        .answer(Route::GetKey, "reveal=true", id, Map::new())
        .await
    {
        Ok(key) => {
            let body = json!({ "key": key["key"], "snippet": key["snippet"] });
            json(
                StatusCode::OK,
                serde_json::to_vec(&body).unwrap_or_default(),
            )
        }
        Err(e) => render::json_error(&e),
    }
}
