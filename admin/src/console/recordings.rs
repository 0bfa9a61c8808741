//! Recording pages, for admins (the API refuses members, and the page says so): the list
//! with session, start, duration and size, filtered by session; one recording played in a
//! `<video>` from a presigned URL.

use friction_service::http::Body;
use http::{header, HeaderValue, Response, StatusCode};
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
    // The player may load from where the URL was signed for, and nowhere else.
    let media = origin(recording["playback_url"].as_str().unwrap_or(""));
    let mut context = page.layout("recordings");
    context["recording"] = recording;
    let mut response = render::page(StatusCode::OK, "recording.html", context);
    if let Ok(csp) = HeaderValue::from_str(&render::policy(Some(&media))) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

/// `scheme://host[:port]` of a URL, what a content security policy names.
fn origin(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("https", url));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    format!("{scheme}://{authority}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn origins_keep_the_host_a_url_was_signed_for() {
        assert_eq!(
            super::origin("http://127.0.0.1:9200/session-recordings/a.webm?X-Amz-Signature=1"),
            "http://127.0.0.1:9200"
        );
        assert_eq!(
            super::origin("https://recordings.s3.eu-west-1.amazonaws.com/k?x=1"),
            "https://recordings.s3.eu-west-1.amazonaws.com"
        );
    }
}
