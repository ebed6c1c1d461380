//! The API's errors: every failure leaves as `{"error":{"code","message"}}` with a stable code.
//! [`status`] is the one place a code becomes an HTTP status. Server-side causes (5xx) are logged
//! with their whole chain and never shown to the caller.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorBody, ErrorCode, ErrorDetail};
use switchboard_core::error::{AccountError, BookingError, CatalogError, Error, SendRefusal, SyncError, TakeoverError, WebhookError};
use switchboard_core::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The caller's request cannot be served as sent; `code` is stable and documented.
    #[error("{code}: {message}")]
    Client { code: ErrorCode, message: String, details: Option<serde_json::Value> },
    #[error("too many attempts; retry in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    /// Our fault. Logged, answered with a generic 500.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// The HTTP status of each code: the only place this is decided.
pub fn status(code: ErrorCode) -> StatusCode {
    use ErrorCode as C;
    match code {
        C::InvalidJson | C::InvalidBody | C::InvalidQuery | C::InvalidPath | C::InvalidCursor | C::InvalidPayload | C::InvalidOauthState => {
            StatusCode::BAD_REQUEST
        }
        C::MissingToken
        | C::InvalidToken
        | C::TokenExpired
        | C::SessionRevoked
        | C::AccountDeactivated
        | C::InvalidCredentials
        | C::InvalidRefreshToken
        | C::RefreshTokenReused
        | C::RefreshTokenExpired
        | C::MissingSignature
        | C::InvalidSignature
        | C::StaleSignature
        | C::TwoFactorRequired
        | C::InvalidCode => StatusCode::UNAUTHORIZED,
        C::Forbidden | C::InvalidVerifyToken | C::TwoFactorEnrolmentRequired | C::ReauthenticationRequired => StatusCode::FORBIDDEN,
        C::NotFound | C::RouteNotFound | C::InvitationInvalid | C::CalendarNotConnected | C::LinkInvalid => StatusCode::NOT_FOUND,
        C::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        C::AlreadyExists
        | C::EmailTaken
        | C::CustomerExists
        | C::ShortcutTaken
        | C::LastOwner
        | C::ExceptionExists
        | C::AddressInUse
        | C::TemplateExists
        | C::SlotTaken
        | C::VersionConflict
        | C::AlreadyHeld
        | C::TaskResolved
        | C::TwoFactorAlreadyEnabled
        | C::TwoFactorNotEnabled
        | C::ResyncRequired => StatusCode::CONFLICT,
        C::InvitationExpired | C::LinkExpired => StatusCode::GONE,
        C::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        C::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
        C::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        C::ValidationFailed
        | C::InvalidPhone
        | C::OutsideHours
        | C::NotOnGrid
        | C::TooSoon
        | C::TooFarAhead
        | C::NonexistentTime
        | C::AmbiguousTime
        | C::InvalidTime
        | C::UnknownCustomer
        | C::UnknownService
        | C::UnknownStaff
        | C::StaffInactive
        | C::StaffCannotPerform
        | C::ServiceInactive
        | C::InvalidTransition
        | C::InvalidHours
        | C::InvalidRange
        | C::CustomerOptedOut
        | C::ChannelNotConfigured
        | C::WhatsappWindowClosed
        | C::CannotReplyHere
        | C::UnknownTemplate
        | C::UnknownCannedResponse
        | C::MediaTooLarge
        | C::MediaTypeNotAllowed
        | C::UnknownMutation
        | C::CalendarNotConfigured
        | C::GoogleRefused => StatusCode::UNPROCESSABLE_ENTITY,
        C::GoogleUnavailable => StatusCode::BAD_GATEWAY,
        C::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        C::Timeout | C::DatabaseUnavailable | C::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        C::Internal | C::Unknown => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError::Client { code, message: message.into(), details: None }
    }

    /// 404 `not_found`. Also what a caller gets for another business's ids: it must not learn
    /// that they exist.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("No such {what}."))
    }

    /// 422 `validation_failed`: well-formed but not acceptable.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationFailed, message)
    }

    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ApiError::Internal(Box::new(e))
    }

    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Client { code, .. } => *code,
            ApiError::RateLimited { .. } => ErrorCode::RateLimited,
            ApiError::Internal(_) => ErrorCode::Internal,
        }
    }

    pub fn status(&self) -> StatusCode {
        status(self.code())
    }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            Error::Account(AccountError::RateLimited { retry_after_secs }) => ApiError::RateLimited { retry_after_secs },
            e if e.is_internal() => ApiError::Internal(Box::new(e)),
            e => ApiError::Client { code: e.code(), details: e.details(), message: e.to_string() },
        }
    }
}

/// The areas' own errors convert like the core's.
macro_rules! from_domain {
    ($($area:ty),+) => {$(
        impl From<$area> for ApiError {
            fn from(e: $area) -> Self {
                Error::from(e).into()
            }
        }
    )+};
}

from_domain!(AccountError, CatalogError, BookingError, TakeoverError, SendRefusal, WebhookError, SyncError, StoreError, sqlx::Error);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (message, details) = match &self {
            ApiError::Client { message, details, .. } => (message.clone(), details.clone()),
            ApiError::RateLimited { retry_after_secs } => (format!("Too many attempts. Try again in {retry_after_secs} seconds."), None),
            ApiError::Internal(source) => {
                let mut chain = source.to_string();
                let mut cause = source.source();
                while let Some(c) = cause {
                    chain.push_str(": ");
                    chain.push_str(&c.to_string());
                    cause = c.source();
                }
                tracing::error!(error = %chain, "request failed");
                ("Something went wrong on our side. It has been logged; please try again.".to_string(), None)
            }
        };
        let body = ErrorBody { error: ErrorDetail { code: self.code(), message, details } };
        let mut response = (status, axum::Json(body)).into_response();
        if let ApiError::RateLimited { retry_after_secs } = self {
            if let Ok(value) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
        }
        response
    }
}
