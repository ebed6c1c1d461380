//! `/v1/auth/*`: sign up, sign in, refresh, sign out, accept an invitation. Login attempts are
//! rate-limited here, per account and per client address (`governor`), before the core checks the
//! password.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use governor::clock::{Clock, DefaultClock};
use protocol::{AcceptInvitationRequest, AuthTokens, LoginRequest, RefreshRequest, SignupRequest};
use switchboard_core::accounts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Json;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(accept_invitation))
}

/// Creates a business and its owner, and signs the owner in.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = AuthTokens), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn signup(State(state): State<AppState>, Json(req): Json<SignupRequest>) -> Result<(StatusCode, axum::Json<AuthTokens>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(accounts::signup(&state, req).await?)))
}

/// What tells one device from another for sign-in notices: the client's user agent.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> Option<String> {
    crate::http::extract::header_text(headers, "user-agent").map(|ua| ua.chars().take(200).collect())
}

pub(crate) fn rate_limited(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> ApiError {
    let wait = not_until.wait_time_from(DefaultClock::default().now());
    ApiError::RateLimited { retry_after_secs: wait.as_secs().max(1) }
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = AuthTokens), (status = 401, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<axum::Json<AuthTokens>, ApiError> {
    let email = req.email.trim().to_lowercase();
    let limits = &state.login_limits;
    limits.per_address.check_key(&peer.ip()).map_err(rate_limited)?;
    limits.per_account.check_key(&email).map_err(rate_limited)?;
    if limits.per_account.len() > 100_000 {
        limits.per_account.retain_recent();
        limits.per_address.retain_recent();
    }
    let device = user_agent(&headers);
    Ok(axum::Json(accounts::login(&state, req, device.as_deref()).await?))
}

/// Exchanges a refresh token for a new token pair. Each refresh token works once.
#[utoipa::path(post, path = "/v1/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = AuthTokens), (status = 401, body = protocol::ErrorBody)))]
async fn refresh(State(state): State<AppState>, Json(req): Json<RefreshRequest>) -> Result<axum::Json<AuthTokens>, ApiError> {
    Ok(axum::Json(accounts::refresh(&state, req).await?))
}

/// Ends the session of the bearer token; its refresh tokens stop working.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = protocol::ErrorBody)))]
async fn logout(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    accounts::logout(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Joins a business with a one-time invitation token, and signs in.
#[utoipa::path(post, path = "/v1/auth/accept-invitation", tag = "accounts", request_body = AcceptInvitationRequest,
    responses((status = 201, body = AuthTokens), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn accept_invitation(
    State(state): State<AppState>,
    Json(req): Json<AcceptInvitationRequest>,
) -> Result<(StatusCode, axum::Json<AuthTokens>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(accounts::accept_invitation(&state, req).await?)))
}
