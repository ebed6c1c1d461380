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

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

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
