//! Export pages: the request form (type, period, filters, cohorts for a comparison), the
//! job list kept current by the page's script (it fetches the rows again while a job is
//! pending or running), and downloads through a fresh presigned URL.

use friction_schema::export::{Browser, DeviceClass, ReportType, MAX_COHORTS, MIN_COHORTS};
use friction_service::http::{ApiError, Body};
use http::{Response, StatusCode};
use serde_json::{json, Map, Value};

use super::keys::form_error;
use super::session::Form;
use super::{render, Page};
use crate::error::AdminError;
use crate::router::Route;

/// The fields of one cohort in the form, named `cohort{n}_{field}`.
const COHORT_FIELDS: [&str; 6] = [
    "name",
    "date_from",
    "date_to",
    "browser",
    "device_class",
    "key_id",
];
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
    for n in 1..=MAX_COHORTS {
        let mut cohort = Map::new();
        for field in COHORT_FIELDS {
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

/// What the form showed, to fill it in again after an error (every field present).
fn values(form: &Form) -> Value {
    let mut values = json!({
        "report_type": form.get("report_type"),
        "date_from": form.get("date_from"),
        "date_to": form.get("date_to"),
        "url_prefix": form.get("url_prefix"),
        "key_ids": form.all("key_ids"),
    });
    for n in 1..=MAX_COHORTS {
        for field in COHORT_FIELDS {
            let name = format!("cohort{n}_{field}");
            values[&name] = form.get(&name).into();
        }
    }
    values
}

/// The choices the form offers, from the schema the API checks against.
fn choices() -> Value {
    json!({
        "report_types": ReportType::ALL,
        "browsers": Browser::ALL,
        "device_classes": DeviceClass::ALL,
        "min_cohorts": MIN_COHORTS,
        "max_cohorts": MAX_COHORTS,
    })
}

/// The cohort rows of the form, filled in from `values` (the form as sent) when given.
fn cohort_slots(values: &Value) -> Value {
    (1..=MAX_COHORTS)
        .map(|n| {
            let mut slot = json!({ "n": n });
            for field in COHORT_FIELDS {
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
    let mut context = page.layout_with("exports", extra);
    context["exports"] = jobs["exports"].clone();
    context["keys"] = keys["keys"].clone();
    context["cohort_slots"] = cohort_slots(&context["values"]);
    context["choices"] = choices();
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
