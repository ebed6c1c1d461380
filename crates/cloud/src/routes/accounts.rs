//! `/v1/auth/*`: sign up, sign in, refresh, sign out, accept an invitation. Sign-ups and login
//! attempts are rate-limited here (`http::limits`: per client address, per account and address,
//! and a soft per-account limit that spares addresses that signed in before — fully, with the
//! second factor when it is on), before the core hashes or checks a password.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{AcceptInvitationRequest, AuthTokens, LoginRequest, RefreshRequest, SignupRequest};
use switchboard_core::accounts;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Json;
use crate::http::limits::ClientAddr;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(signup))
        .routes(routes!(login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
        .routes(routes!(accept_invitation))
}

/// Creates a business and its owner, and signs the owner in. Limited per client address
/// (`signups_per_address_per_hour`): 429 `rate_limited` with `Retry-After`.
#[utoipa::path(post, path = "/v1/auth/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = AuthTokens), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn signup(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(req): Json<SignupRequest>,
) -> Result<(StatusCode, axum::Json<AuthTokens>), ApiError> {
    state.limits.signup(client)?;
    let email = req.email.trim().to_lowercase();
    let tokens = accounts::signup(&state, req).await?;
    state.limits.signed_in(client, &email);
    Ok((StatusCode::CREATED, axum::Json(tokens)))
}

/// What tells one device from another for sign-in notices: the client's user agent.
pub(crate) fn user_agent(headers: &axum::http::HeaderMap) -> Option<String> {
    crate::http::extract::header_text(headers, "user-agent").map(|ua| ua.chars().take(200).collect())
}

/// Signs in with email and password.
#[utoipa::path(post, path = "/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = AuthTokens), (status = 401, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: axum::http::HeaderMap,
    Json(req): Json<LoginRequest>,
) -> Result<axum::Json<AuthTokens>, ApiError> {
    let email = req.email.trim().to_lowercase();
    state.limits.guess(client, Some(&email))?;
    let device = user_agent(&headers);
    let tokens = accounts::login(&state, req, device.as_deref()).await?;
    // Signed in. When a second factor is asked for instead, only the password is known: the
    // address is spared the account's soft limit once the code is right too (`routes::security`).
    state.limits.signed_in(client, &email);
    Ok(axum::Json(tokens))
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
