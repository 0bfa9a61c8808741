//! Recording pages, for admins (the API refuses members, and the page says so): the list
//! with session, start, duration and size, filtered by session; one recording played in a
//! `<video>` from a presigned URL.

use friction_service::http::Body;
use http::{Response, StatusCode};
use serde_json::Map;

use super::{render, Page};
use crate::error::AdminError;
use crate::router::Route;

/// `GET /console/recordings?session_id=`.
pub async fn list(page: &Page<'_>) -> Result<Response<Body>, AdminError> {
    let session = page
        .parts
        .uri
        .query()
        .and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "session_id")
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("limit", "200")
        .extend_pairs((!session.is_empty()).then_some(("session_id", session.as_str())))
        .finish();
    let recordings = page
        .answer(Route::ListRecordings, &query, "", Map::new())
        .await?;
    let mut context = page.layout("recordings");
    context["recordings"] = recordings["recordings"].clone();
    context["session_id"] = session.into();
    Ok(render::page(StatusCode::OK, "recordings.html", context))
}

/// `GET /console/recordings/{id}`: the player.
pub async fn show(page: &Page<'_>, id: &str) -> Result<Response<Body>, AdminError> {
    let recording = page.answer(Route::GetRecording, "", id, Map::new()).await?;
    let mut context = page.layout("recordings");
    context["recording"] = recording;
    Ok(render::page(StatusCode::OK, "recording.html", context))
}
