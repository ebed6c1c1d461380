//! Files both ways: `PUT /v1/media/{id}` (staff upload a file to send, raw bytes with its
//! `Content-Type`), `GET /v1/media/{id}` (a customer's photo, voice note or document, a file staff
//! sent, a kept call recording; byte ranges for players), `GET /v1/calls/{id}/recording` (a call's
//! recording, fetched from the voice platform and kept the first time), and
//! `GET /media/shared/{id}` (the signed, expiring address Twilio fetches an outgoing file from).

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorCode, MediaFile};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_media, upload)).routes(routes!(recording)).routes(routes!(shared))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name as staff chose it (shown to the customer for documents).
    pub filename: Option<String>,
}

/// Uploads a file to send (staff): the body is the file, `Content-Type` its type; `id` is a UUID
/// the client made, so the same upload again stores nothing twice (200 with the file). Then send
/// it with `POST /v1/conversations/{id}/messages {"media_id", "body": caption}`, where the
/// conversation's channel limits are checked. Types no channel takes are refused with 422
/// `media_type_not_allowed`; files over 25 MB with 413 `payload_too_large`; a body without
/// `Content-Type` with 415 `unsupported_media_type`.
#[utoipa::path(put, path = "/v1/media/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "A UUID the client made"), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The file, with its own Content-Type"),
    responses((status = 201, body = MediaFile), (status = 200, body = MediaFile, description = "Uploaded before with this id"),
        (status = 413, body = protocol::ErrorBody),
        (status = 415, body = protocol::ErrorBody, description = "No Content-Type"), (status = 422, body = protocol::ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(query): Query<UploadQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, axum::Json<MediaFile>), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    if content_type.is_empty() {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "Send the file with its Content-Type (image/jpeg, application/pdf…)."));
    }
    // The request pipeline already read the body within the upload limit.
    let bytes = axum::body::to_bytes(body, switchboard_core::media::MAX_FILE_BYTES + 1)
        .await
        .map_err(|_| ApiError::new(ErrorCode::PayloadTooLarge, "The file is larger than 25 MB."))?;
    let (created, file) =
        switchboard_core::media::upload(&state, &auth, &id, &content_type, query.filename.as_deref(), bytes.to_vec()).await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(file)))
}

/// A kept file of your business: a photo, voice note or document a customer sent, a file staff
/// sent, a call recording. Answers byte ranges (`Range: bytes=…`, 206) for audio players; another
/// business's file is 404 like one that does not exist.
#[utoipa::path(get, path = "/v1/media/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Media id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 206, description = "The range asked for"),
        (status = 404, body = protocol::ErrorBody), (status = 416, description = "A range outside the file")))]
async fn get_media(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (file, bytes) = switchboard_core::media::read(&state, &auth, &id).await?;
    Ok(answer(&headers, &file, bytes))
}

/// A call's recording: fetched from the voice platform (Vapi, Retell) the first time it is asked
/// for and kept, so it plays like any kept file (the call's `recording_url` then names
/// `/v1/media/{id}`). 404 when the call has no recording, or the retention policy removed it.
#[utoipa::path(get, path = "/v1/calls/{id}/recording", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "The call's message id")),
    responses((status = 200, content_type = "audio/*", body = Vec<u8>), (status = 206, description = "The range asked for"),
        (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody, description = "The voice platform could not be reached")))]
async fn recording(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (file, bytes) = switchboard_core::media::recording(&state, &auth, &id).await?;
    Ok(answer(&headers, &file, bytes))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SharedQuery {
    pub expires: i64,
    pub signature: String,
}

/// The address Twilio fetches an outgoing file from (`MediaUrl`): no sign-in, a signature that
/// expires after a day instead. Anything wrong is 404.
#[utoipa::path(get, path = "/media/shared/{id}", tag = "conversations",
    params(("id" = String, Path, description = "Media id"), SharedQuery),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>), (status = 404, body = protocol::ErrorBody)))]
async fn shared(State(state): State<AppState>, Path(id): Path<String>, Query(query): Query<SharedQuery>, headers: HeaderMap) -> Result<Response, ApiError> {
    let (file, bytes) = switchboard_core::media::read_shared(&state, &id, query.expires, &query.signature).await?;
    Ok(answer(&headers, &file, bytes))
}

/// The file, or the one byte range asked for (`bytes=a-b`, `bytes=a-`, `bytes=-n`).
fn answer(headers: &HeaderMap, file: &MediaFile, bytes: Vec<u8>) -> Response {
    let len = bytes.len() as u64;
    let disposition = match &file.filename {
        Some(name) => {
            let ascii: String = name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
            format!("inline; filename=\"{ascii}\"")
        }
        None => "inline".to_owned(),
    };
    let mut common = HeaderMap::new();
    common.insert(header::CONTENT_TYPE, HeaderValue::from_str(&file.content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")));
    common.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=86400"));
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    common.insert(header::CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).unwrap_or(HeaderValue::from_static("inline")));
    common.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return (StatusCode::OK, common, bytes).into_response();
    };
    match parse_range(range, len) {
        Some((start, end)) => {
            common.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes {start}-{end}/{len}")).expect("ascii"));
            (StatusCode::PARTIAL_CONTENT, common, bytes[start as usize..=end as usize].to_vec()).into_response()
        }
        None => {
            common.insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{len}")).expect("ascii"));
            (StatusCode::RANGE_NOT_SATISFIABLE, common).into_response()
        }
    }
}

/// One range of a file of `len` bytes, inclusive; `None` when it cannot be satisfied.
fn parse_range(value: &str, len: u64) -> Option<(u64, u64)> {
    let spec = value.trim().strip_prefix("bytes=")?;
    // Several ranges: the first is answered (players ask for one).
    let first = spec.split(',').next()?.trim();
    let (a, b) = first.split_once('-')?;
    if len == 0 {
        return None;
    }
    let (start, end) = match (a.trim(), b.trim()) {
        ("", n) => {
            let n: u64 = n.parse().ok()?;
            if n == 0 {
                return None;
            }
            (len.saturating_sub(n), len - 1)
        }
        (s, "") => (s.parse().ok()?, len - 1),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(len - 1)),
    };
    (start <= end && start < len).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn byte_ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=9-3", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
