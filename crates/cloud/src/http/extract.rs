//! Extractors whose rejections speak the API's error envelope, with stable codes:
//! `invalid_json` (400, not JSON or truncated), `validation_failed` (422, wrong types, unknown
//! fields or enum values), `unsupported_media_type` (415), `payload_too_large` (413),
//! `invalid_path` / `invalid_query` (400).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::FromRequest;
use axum::extract::FromRequestParts;
use axum::http::StatusCode;

use protocol::ErrorCode;

use crate::error::ApiError;

/// A JSON body. Text may not carry U+0000 (PostgreSQL cannot store it, and no person types it):
/// 422 `validation_failed`, on either engine.
pub struct Json<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "Send the body as JSON with `Content-Type: application/json`."));
        }
        let RawBody(bytes) = RawBody::from_request(req, state).await?;
        let axum::Json(value) = axum::Json::<T>::from_bytes(&bytes)?;
        if has_nul_escape(&bytes) {
            return Err(ApiError::validation("Text may not contain the NUL character (U+0000)."));
        }
        Ok(Json(value))
    }
}

/// `application/json` or any `+json` type, as axum's own extractor accepts.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = header_text(headers, "content-type") else { return false };
    let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let Some((kind, subtype)) = essence.split_once('/') else { return false };
    kind == "application" && (subtype == "json" || subtype.ends_with("+json"))
}

/// Whether JSON text escapes a NUL (`\u0000`; a raw NUL is not JSON at all). An escaped backslash
/// followed by `u0000` is text, not a NUL: the backslashes before the `u` must be odd in number.
pub fn has_nul_escape(json: &[u8]) -> bool {
    let needle = b"u0000";
    let mut from = 0;
    while let Some(found) = json[from..].windows(needle.len()).position(|w| w == needle) {
        let at = from + found;
        let backslashes = json[..at].iter().rev().take_while(|b| **b == b'\\').count();
        if backslashes % 2 == 1 {
            return true;
        }
        from = at + 1;
    }
    false
}

/// Reads the request body (at most `max` bytes) before the handler runs, within `within`: a body
/// that has not fully arrived by then is answered 408 `request_timeout`, one over the limit 413
/// `payload_too_large`. The handler gets the body whole.
pub async fn read_body(
    axum::extract::State((within, max)): axum::extract::State<(std::time::Duration, usize)>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;
    let (parts, body) = request.into_parts();
    // A file staff upload to send may be larger than any JSON body (`crate::routes::media`).
    let max = if parts.method == axum::http::Method::PUT && parts.uri.path().starts_with("/v1/media/") {
        max.max(switchboard_core::media::MAX_FILE_BYTES)
    } else {
        max
    };
    let read = http_body_util::Limited::new(body, max).collect();
    match tokio::time::timeout(within, read).await {
        Ok(Ok(collected)) => next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(collected.to_bytes()))).await,
        Ok(Err(e)) if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() => {
            ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large.").into_response()
        }
        Ok(Err(_)) => ApiError::new(ErrorCode::InvalidBody, "The request body could not be read.").into_response(),
        Err(_) => ApiError::new(ErrorCode::RequestTimeout, "The request body did not arrive in time.").into_response(),
    }
}

/// Refuses a path or query string that carries a NUL (`%00`) before any handler sees it: 400
/// `invalid_path` / `invalid_query`, the same on both engines.
pub async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse;
    let nul = |text: &str| text.as_bytes().windows(3).any(|w| w[0] == b'%' && w[1] == b'0' && w[2] == b'0');
    if nul(request.uri().path()) {
        return ApiError::new(ErrorCode::InvalidPath, "The path may not contain the NUL character (%00).").into_response();
    }
    if request.uri().query().is_some_and(nul) {
        return ApiError::new(ErrorCode::InvalidQuery, "The query string may not contain the NUL character (%00).").into_response();
    }
    if !decodes_to_utf8(request.uri().path()) {
        return ApiError::new(ErrorCode::InvalidPath, "The path is not UTF-8 once percent-decoded.").into_response();
    }
    if request.uri().query().is_some_and(|q| !decodes_to_utf8(q)) {
        return ApiError::new(ErrorCode::InvalidQuery, "The query string is not UTF-8 once percent-decoded.").into_response();
    }
    next.run(request).await
}

/// Whether percent-decoding `text` gives UTF-8 (a lone `%FF` would otherwise be read as U+FFFD
/// and searched for, or stored).
fn decodes_to_utf8(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1).copied().and_then(hex), bytes.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(e) => ApiError::validation(body_error_text(&e)),
            JsonRejection::JsonSyntaxError(e) => {
                ApiError::new(ErrorCode::InvalidJson, format!("The body is not valid JSON: {}", body_error_text(&e)))
            }
            JsonRejection::MissingJsonContentType(_) => {
                ApiError::new(ErrorCode::UnsupportedMediaType, "Send the body as JSON with `Content-Type: application/json`.")
            }
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large."),
            other => ApiError::new(ErrorCode::InvalidBody, other.body_text()),
        }
    }
}

/// serde's message, without axum's prefix, e.g. "unknown field `colour`, expected … at line 1 column 9".
fn body_error_text(e: &dyn std::error::Error) -> String {
    let mut innermost = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        innermost = c.to_string();
        cause = c.source();
    }
    innermost
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::new(ErrorCode::InvalidPath, rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        ApiError::new(ErrorCode::InvalidQuery, rejection.body_text())
    }
}

/// A request header's value as text (`None` when absent or not text).
pub fn header_text<'h>(headers: &'h axum::http::HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The raw body, with rejections in the API's error envelope (413 `payload_too_large`).
pub struct RawBody(pub bytes::Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        bytes::Bytes::from_request(req, state).await.map(RawBody).map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(ErrorCode::PayloadTooLarge, "The request body is too large.")
            } else {
                ApiError::new(ErrorCode::InvalidBody, rejection.body_text())
            }
        })
    }
}
