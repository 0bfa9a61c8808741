//! `POST /v1/recordings` and `POST /v1/screenshots`: media uploads under the same key,
//! origin, CORS and rate-limit checks as events. The body is streamed into object storage
//! (multipart past a part size), checked by its content type and magic bytes, and capped
//! whether or not its length was announced. The row that makes an upload visible is
//! written only once its object is stored; an upload cut off halfway, refused or failed
//! leaves neither an object nor a row.

use std::net::IpAddr;

use friction_schema::topics::{BUCKET_RECORDINGS, BUCKET_SCREENSHOTS};
use friction_service::http::{json, Body, RequestBody};
use friction_store::objects::{ObjectError, ObjectStore, Upload};
use friction_store::recordings::{self, RecordingRow};
use friction_store::screenshots::{self, ScreenshotLink};
use http::request::Parts;
use http::{header, Response, StatusCode};
use http_body_util::BodyExt;
use uuid::Uuid;

use crate::error::ApiError;
use crate::policy::{self, Rate, Refused};
use crate::state::State;

/// What can be uploaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// A session recording, WebM.
    Recording,
    /// A friction screenshot, PNG.
    Screenshot,
}

impl Media {
    /// The label of its metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Media::Recording => "recording",
            Media::Screenshot => "screenshot",
        }
    }

    /// Its route, as metrics label it.
    pub fn route(self) -> &'static str {
        match self {
            Media::Recording => "recordings",
            Media::Screenshot => "screenshots",
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Media::Recording => "video/webm",
            Media::Screenshot => "image/png",
        }
    }

    /// The first bytes every file of the type starts with.
    fn magic(self) -> &'static [u8] {
        match self {
            // The EBML header that opens every Matroska/WebM file.
            Media::Recording => &[0x1a, 0x45, 0xdf, 0xa3],
            Media::Screenshot => b"\x89PNG\r\n\x1a\n",
        }
    }

    fn bucket(self) -> &'static str {
        match self {
            Media::Recording => BUCKET_RECORDINGS,
            Media::Screenshot => BUCKET_SCREENSHOTS,
        }
    }
}

/// Handles one upload end to end.
pub async fn handle(
    state: &State,
    parts: Parts,
    body: RequestBody,
    media: Media,
    peer: IpAddr,
) -> Response<Body> {
    let client = crate::enrich::client_ip(peer, &parts.headers, &state.settings.forwarded);
    let sent = policy::sent_key(&parts).unwrap_or("");
    let outcome = match state.policy.check_client(client, sent, state.clock.now()) {
        Ok(()) => accept(state, &parts, body, media).await,
        Err(refused) => Err(refused),
    };
    if let Err(refused) = &outcome {
        state
            .policy
            .refused(client, sent, &refused.error, state.clock.now());
    }
    let outcome =
        outcome.map(|(value, rate)| (json(StatusCode::CREATED, value.to_string()), Some(rate)));
    super::answer(&parts, outcome, |outcome| {
        state.metrics.outcome(media.route(), outcome)
    })
}

/// The query of an upload, checked.
enum Target {
    Recording {
        session_id: String,
        started_at: i64,
        duration_ms: u64,
    },
    Screenshot {
        event_id: Uuid,
        session_id: String,
    },
}

/// A query parameter, percent-decoded (browsers encode `:` in times as `%3A`).
fn required(query: &str, name: &str) -> Result<String, ApiError> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::InvalidQuery(format!("the {name} query parameter is required")))
}

fn session(query: &str) -> Result<String, ApiError> {
    let id = required(query, "session_id")?;
    let ok = id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    match ok {
        true => Ok(id),
        false => Err(ApiError::InvalidQuery(
            "session_id must be at most 128 letters, digits, '-', '_' or '.'".into(),
        )),
    }
}

fn number(query: &str, name: &str, max: u64) -> Result<u64, ApiError> {
    required(query, name)?
        .parse::<u64>()
        .ok()
        .filter(|n| *n <= max)
        .ok_or_else(|| {
            ApiError::InvalidQuery(format!("{name} must be a whole number from 0 to {max}"))
        })
}

/// A start time: milliseconds since 1970, or RFC 3339 (`2026-11-26T10:00:00Z`).
fn started_at(query: &str) -> Result<i64, ApiError> {
    let raw = required(query, "started_at")?;
    let ms = raw.parse::<i64>().ok().or_else(|| {
        let at = humantime::parse_rfc3339_weak(&raw).ok()?;
        Some(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis() as i64)
    });
    // Up to the year 2200.
    ms.filter(|ms| (0..=7_258_118_400_000).contains(ms))
        .ok_or_else(|| {
            ApiError::InvalidQuery(
                "started_at must be milliseconds since 1970 or a time like 2026-11-26T10:00:00Z"
                    .into(),
            )
        })
}

fn target(parts: &Parts, media: Media) -> Result<Target, ApiError> {
    let query = parts.uri.query().unwrap_or("");
    Ok(match media {
        Media::Recording => Target::Recording {
            session_id: session(query)?,
            started_at: started_at(query)?,
            duration_ms: number(query, "duration_ms", 24 * 3_600_000)?,
        },
        Media::Screenshot => Target::Screenshot {
            event_id: Uuid::try_parse(&required(query, "event_id")?)
                .map_err(|_| ApiError::InvalidQuery("event_id must be a UUID".into()))?,
            session_id: session(query)?,
        },
    })
}

fn check_content_type(parts: &Parts, media: Media) -> Result<(), ApiError> {
    let sent = parts
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = sent.split(';').next().unwrap_or("").trim();
    match mime.eq_ignore_ascii_case(media.content_type()) {
        true => Ok(()),
        false => Err(ApiError::WrongMedia(format!(
            "send the {} with content type {}",
            media.as_str(),
            media.content_type()
        ))),
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!("the upload is larger than {max} bytes"))
}

fn store_down(e: ObjectError) -> ApiError {
    tracing::warn!(error = %e, "object storage failed an upload");
    ApiError::Unavailable("object storage is unavailable")
}

async fn accept(
    state: &State,
    parts: &Parts,
    mut body: RequestBody,
    media: Media,
) -> Result<(serde_json::Value, Rate), Refused> {
    let key = policy::api_key(parts)?;
    let target = target(parts, media)?;
    if let Target::Recording { started_at, .. } = &target {
        // Older recordings would expire from the table (30 days) as soon as written.
        let now = state.clock.now_ms();
        if *started_at < now - 29 * 86_400_000 || *started_at > now + 86_400_000 {
            return Err(ApiError::InvalidQuery(
                "started_at must be within the last 29 days".into(),
            )
            .into());
        }
    }
    check_content_type(parts, media)?;
    let settings = &state.settings.uploads;
    let max = match media {
        Media::Recording => settings.max_recording_bytes,
        Media::Screenshot => settings.max_screenshot_bytes,
    };
    let announced = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if announced.is_some_and(|n| n > max) {
        return Err(too_large(max).into());
    }
    let admitted = state
        .policy
        .admit(key, &parts.headers, state.clock.now())
        .await?;
    let key = &admitted.key;
    let known = |error| admitted.refuse(error);
    let _slot = state
        .upload_slots
        .try_acquire()
        .map_err(|_| known(ApiError::Unavailable("too many uploads in progress")))?;
    body.set_timeout(settings.body_timeout());

    let id = Uuid::new_v4();
    let object_key = match &target {
        Target::Recording { .. } => format!("{}/{id}.webm", key.key_id),
        // One object per upload: a second screenshot of an event never replaces the
        // object the first link points to.
        Target::Screenshot { event_id, .. } => format!("{}/{event_id}-{id}.png", key.key_id),
    };
    let bucket = media.bucket();
    let mut upload = state.objects.upload(
        bucket,
        &object_key,
        media.content_type(),
        settings.part_size_bytes,
    );
    stream(&mut upload, &mut body, media, max)
        .await
        .map_err(known)?;

    let now = state.clock.now_ms();
    let record = match &target {
        Target::Recording {
            session_id,
            started_at,
            duration_ms,
        } => Record::Recording(RecordingRow {
            recording_id: id,
            owner_id: key.owner_id.to_string(),
            key_id: key.key_id,
            session_id: session_id.clone(),
            page_view_id: String::new(),
            url: String::new(),
            object_key: object_key.clone(),
            content_type: media.content_type().into(),
            size_bytes: 0,
            started_at: *started_at,
            uploaded_at: now,
            duration_ms: *duration_ms,
        }),
        Target::Screenshot {
            event_id,
            session_id,
        } => Record::Screenshot(ScreenshotLink {
            owner_id: key.owner_id.to_string(),
            event_id: *event_id,
            url: state.objects.url(bucket, &object_key),
            session_id: session_id.clone(),
            key_id: key.key_id,
            size_bytes: 0,
            uploaded_at: now,
        }),
    };
    // The whole body is in: storing and recording it runs to its end on a task of its
    // own, so a client that goes away now cannot leave an object without its row.
    let (objects, clickhouse) = (state.objects.clone(), state.clickhouse.clone());
    let commit = tokio::spawn(commit(
        upload, record, objects, clickhouse, bucket, object_key,
    ));
    let bytes = commit
        .await
        .map_err(|_| known(ApiError::Unavailable("the upload was interrupted")))?
        .map_err(known)?;
    state
        .metrics
        .upload_bytes
        .with_label_values(&[media.as_str()])
        .inc_by(bytes);
    let value = match target {
        Target::Recording { .. } => serde_json::json!({
            "success": true, "recording_id": id, "bytes": bytes,
        }),
        Target::Screenshot { event_id, .. } => serde_json::json!({
            "success": true, "event_id": event_id, "bytes": bytes,
        }),
    };
    // Stored: now it counts against the key (it was admitted with a token left, so a
    // bucket emptied meanwhile still lets it through).
    let rate = state.policy.spend(&admitted, state.clock.now()).map_or(
        Rate {
            limit: admitted.rate.limit,
            remaining: 0,
        },
        |rate| rate,
    );
    Ok((value, rate))
}

/// The row that makes a stored upload visible.
enum Record {
    Recording(RecordingRow),
    Screenshot(ScreenshotLink),
}

/// Finishes the upload, then writes its row; a row that cannot be written takes its
/// object with it. Returns the stored size.
async fn commit(
    upload: Upload,
    mut record: Record,
    objects: ObjectStore,
    clickhouse: clickhouse::Client,
    bucket: &'static str,
    object_key: String,
) -> Result<u64, ApiError> {
    let bytes = upload.finish().await.map_err(store_down)?;
    let recorded = match &mut record {
        Record::Recording(row) => {
            row.size_bytes = bytes;
            recordings::insert(&clickhouse, row).await
        }
        Record::Screenshot(row) => {
            row.size_bytes = bytes;
            screenshots::link(&clickhouse, row).await
        }
    };
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "upload stored but not recorded; deleting it");
        if let Err(e) = objects.delete(bucket, &object_key).await {
            tracing::error!(%bucket, key = %object_key, error = %e, "could not delete an unrecorded upload");
        }
        return Err(ApiError::Unavailable("the upload could not be recorded"));
    }
    Ok(bytes)
}

/// Copies the body into `upload`, checking the magic bytes first and the cap throughout.
async fn stream(
    upload: &mut Upload,
    body: &mut RequestBody,
    media: Media,
    max: u64,
) -> Result<(), ApiError> {
    let magic = media.magic();
    let mut head = Vec::with_capacity(magic.len());
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(mut data) = frame?.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > max {
            return Err(too_large(max));
        }
        if head.len() < magic.len() {
            let take = (magic.len() - head.len()).min(data.len());
            head.extend_from_slice(&data.split_to(take));
            if head.len() < magic.len() {
                continue;
            }
            if head != magic {
                return Err(ApiError::WrongMedia(format!(
                    "the body is not a {} file (its first bytes are wrong)",
                    media.content_type()
                )));
            }
            upload.write(&head).await.map_err(store_down)?;
        }
        if !data.is_empty() {
            upload.write(&data).await.map_err(store_down)?;
        }
    }
    if head.len() < magic.len() {
        return Err(ApiError::WrongMedia(format!(
            "the body is not a {} file (it is too short)",
            media.content_type()
        )));
    }
    Ok(())
}
