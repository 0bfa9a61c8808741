//! Export pages: the request form (type, period, filters, cohorts for a comparison), the
//! job list kept current by the page's script (it fetches the rows again while a job is
//! pending or running), and downloads through a fresh presigned URL.

use friction_service::http::{ApiError, Body};
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::keys::form_error;
use super::session::Form;
use super::{render, Page};
use crate::error::AdminError;
use crate::router::Route;

/// Cohorts the form offers (the API takes two to four).
const COHORTS: usize = 4;
/// Jobs listed.
const LISTED: &str = "limit=50";

/// The API body of the export form. Empty fields are left out, so the API's own rules
/// decide what is missing; a cohort is sent when any of its fields is filled.
fn body(form: &Form) -> Map<String, Value> {
    let mut body = Map::new();
    for field in ["report_type", "date_from", "date_to", "url_prefix"] {
        let value = form.get(field);
        if !value.is_empty() || field != "url_prefix" {
            body.insert(field.into(), value.into());
        }
    }
    let key_ids: Vec<Value> = form.all("key_ids").into_iter().map(Value::from).collect();
    if !key_ids.is_empty() {
        body.insert("key_ids".into(), key_ids.into());
    }
    let mut cohorts = Vec::new();
    for n in 1..=COHORTS {
        let mut cohort = Map::new();
        for field in [
            "name",
            "date_from",
            "date_to",
            "browser",
            "device_class",
            "key_id",
        ] {
            let value = form.get(&format!("cohort{n}_{field}"));
            if !value.is_empty() {
                cohort.insert(field.into(), value.into());
            }
        }
        if !cohort.is_empty() {
            cohort.entry("name").or_insert_with(|| "".into());
            cohorts.push(Value::Object(cohort));
        }
    }
    if !cohorts.is_empty() {
        body.insert("cohorts".into(), cohorts.into());
    }
    body
}

/// What the form showed, to fill it in again after an error.
fn values(form: &Form) -> Value {
    let values: Map<String, Value> = form
        .0
        .iter()
        .filter(|(k, _)| k != "csrf" && k != "key_ids")
        .map(|(k, v)| (k.clone(), v.trim().into()))
        .collect();
    let mut values = Value::Object(values);
    values["key_ids"] = form.all("key_ids").into();
    values
}

/// The cohort rows of the form, filled in from `values` (the form as sent) when given.
fn cohort_slots(values: &Value) -> Value {
    (1..=COHORTS)
        .map(|n| {
            let mut slot = json!({ "n": n });
            for field in [
                "name",
                "date_from",
                "date_to",
                "browser",
                "device_class",
                "key_id",
            ] {
                let sent = values[format!("cohort{n}_{field}")].as_str().unwrap_or("");
                slot[field] = sent.into();
            }
            slot
        })
        .collect()
}

async fn exports_page(
    page: &Page<'_>,
    status: StatusCode,
    extra: Value,
) -> Result<Response<Body>, AdminError> {
    let jobs = page
        .answer(Route::ListExports, LISTED, "", Map::new())
        .await?;
    let keys = page.answer(Route::ListKeys, "", "", Map::new()).await?;
    let mut context = page.layout("exports");
    context["exports"] = jobs["exports"].clone();
    context["keys"] = keys["keys"].clone();
    if let (Value::Object(context), Value::Object(extra)) = (&mut context, extra) {
        context.extend(extra);
    }
    context["cohort_slots"] = cohort_slots(&context["values"]);
    Ok(render::page(status, "exports.html", context))
}

/// `GET /console/exports`.
pub async fn list(page: &Page<'_>) -> Result<Response<Body>, AdminError> {
    exports_page(page, StatusCode::OK, json!({})).await
}

/// `POST /console/exports`: queued, or the form again with the error by its field.
pub async fn create(page: &Page<'_>, form: &Form) -> Result<Response<Body>, AdminError> {
    match page.answer(Route::CreateExport, "", "", body(form)).await {
        Ok(job) => {
            let kind = job["report_type"].as_str().unwrap_or("").replace('_', " ");
            Ok(page.done("/console/exports", &format!("Export queued: {kind}.")))
        }
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            exports_page(
                page,
                e.status(),
                json!({ "form_error": form_error(&e), "values": values(form) }),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// `GET /console/exports/live`: the rows of the job list, rendered by the same template
/// as the page, for the script to swap in.
pub async fn live(page: &Page<'_>) -> Response<Body> {
    match page
        .answer(Route::ListExports, LISTED, "", Map::new())
        .await
    {
        Ok(jobs) => {
            let mut context = page.layout("exports");
            context["exports"] = jobs["exports"].clone();
            render::page(StatusCode::OK, "export_rows.html", context)
        }
        Err(e) => render::json_error(&e),
    }
}

/// `GET /console/exports/{id}/download`: 303 to a fresh presigned URL of the PDF.
pub async fn download(page: &Page<'_>, id: &str) -> Result<Response<Body>, AdminError> {
    let job = page.answer(Route::GetExport, "", id, Map::new()).await?;
    match job["download_url"].as_str() {
        Some(url) => Ok(render::redirect(url)),
        None => Err(AdminError::ExportNotReady),
    }
}
