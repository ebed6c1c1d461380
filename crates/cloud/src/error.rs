//! The API's errors: every failure leaves as `{"error":{"code","message"}}` with a stable code.
//! Server-side causes (5xx) are logged with their whole chain and never shown to the caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorDetail};

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller's request cannot be served as sent; `code` is stable and documented.
    #[error("{code}: {message}")]
    Client { status: StatusCode, code: &'static str, message: String, details: Option<serde_json::Value> },
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Our fault. Logged, answered with a generic 500.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError::Client { status, code, message: message.into(), details: None }
    }

    /// Adds machine-readable context (e.g. the alternatives of a `slot_taken`).
    pub fn with_details(self, value: serde_json::Value) -> Self {
        match self {
            ApiError::Client { status, code, message, .. } => ApiError::Client { status, code, message, details: Some(value) },
            other => other,
        }
    }

    /// 404 `not_found`. Also what a caller gets for another business's ids: it must not learn
    /// that they exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("No such {what}."))
    }

    /// 422 `validation_failed`: well-formed but not acceptable.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", message)
    }

    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Client { status, .. } => *status,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if e.is_unique_violation() {
            return ApiError::conflict("already_exists", "Something with these details already exists.");
        }
        ApiError::internal(e)
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::from(e).into()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, message, details) = match &self {
            ApiError::Client { code, message, details, .. } => (*code, message.clone(), details.clone()),
            ApiError::RateLimited { retry_after_secs } => {
                ("rate_limited", format!("Too many attempts. Try again in {retry_after_secs} seconds."), None)
            }
            ApiError::Internal(source) => {
                let mut chain = source.to_string();
                let mut cause = source.source();
                while let Some(c) = cause {
                    chain.push_str(": ");
                    chain.push_str(&c.to_string());
                    cause = c.source();
                }
                tracing::error!(error = %chain, "request failed");
                ("internal", "Something went wrong on our side. It has been logged; please try again.".to_string(), None)
            }
        };
        let body = ErrorBody { error: ErrorDetail { code: protocol::ErrorCode::parse(code).unwrap_or(protocol::ErrorCode::Internal), message, details } };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
