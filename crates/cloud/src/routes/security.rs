//! Account security: two-factor sign-in and enrolment, re-authentication, passwords (change,
//! reset by mail, an owner's reset of a colleague), email verification, and the business's
//! "require two-factor" switch. The core decides (`accounts::security`); attempts that guess
//! (codes, reset requests) are rate-limited here like logins, per address and per account: a
//! sign-in's second-factor code counts against the same account as its password (the
//! challenge's email), and only a finished sign-in makes the address one the account's soft limit
//! spares.

use std::net::IpAddr;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::{
    AccountSecurity, AuthTokens, ChangePasswordRequest, ConfirmPasswordResetRequest, ConfirmTwoFactorRequest, EnrolledSignIn, Handover,
    PasswordResetRequest, ReauthenticateRequest, RecoveryCodes, SecuritySettings, StaffId, TwoFactorChallengeRequest, TwoFactorSetup,
    UpdateSecuritySettings, VerifyEmailRequest,
};
use switchboard_core::accounts::security;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::accounts::user_agent;
use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Path};
use crate::http::limits::ClientAddr;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(two_factor_sign_in))
        .routes(routes!(enrol_begin))
        .routes(routes!(enrol_confirm))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
        .routes(routes!(verify_email))
        .routes(routes!(my_security))
        .routes(routes!(reauthenticate))
        .routes(routes!(change_password))
        .routes(routes!(begin_two_factor, disable_two_factor))
        .routes(routes!(confirm_two_factor))
        .routes(routes!(reset_staff_member))
        .routes(routes!(get_settings, update_settings))
}

/// One guess more from this address (and, when known, for this account).
fn guess(state: &AppState, client: &IpAddr, account: Option<&str>) -> Result<(), ApiError> {
    state.limits.guess(*client, account)
}

/// A code guessed at the sign-in a challenge continues: the address is checked first (a flood of
/// challenges costs no lookup), then the account the challenge belongs to, whose email the
/// password step is limited by. Answers that email, to mark the address once the code is right.
async fn guess_at_challenge(state: &AppState, client: IpAddr, challenge: &str) -> Result<Option<String>, ApiError> {
    state.limits.guess_from(client)?;
    let account = security::challenge_account(state, challenge).await?;
    if let Some(account) = &account {
        state.limits.guess_at(client, account)?;
    }
    Ok(account)
}

/// The second step of signing in: the challenge from `two_factor_required` and a code from the
/// authenticator app, or a recovery code (each works once).
#[utoipa::path(post, path = "/v1/auth/two-factor", tag = "accounts", request_body = TwoFactorChallengeRequest,
    responses((status = 200, body = AuthTokens), (status = 401, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn two_factor_sign_in(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Json(req): Json<TwoFactorChallengeRequest>,
) -> Result<axum::Json<AuthTokens>, ApiError> {
    let account = guess_at_challenge(&state, client, &req.challenge).await?;
    let device = user_agent(&headers);
    let tokens = security::two_factor_sign_in(&state, req, device.as_deref()).await?;
    if let Some(account) = &account {
        state.limits.signed_in(client, account);
    }
    Ok(axum::Json(tokens))
}

/// Enrolling at sign-in when the business requires two-factor: a new authenticator secret for
/// the challenge from `two_factor_enrolment_required`.
#[utoipa::path(post, path = "/v1/auth/two-factor/enrol", tag = "accounts", request_body = TwoFactorChallengeRequest,
    responses((status = 200, body = TwoFactorSetup), (status = 404, body = protocol::ErrorBody), (status = 410, body = protocol::ErrorBody)))]
async fn enrol_begin(State(state): State<AppState>, Json(req): Json<TwoFactorChallengeRequest>) -> Result<axum::Json<TwoFactorSetup>, ApiError> {
    Ok(axum::Json(security::enrol_begin(&state, req).await?))
}

/// Finishes enrolling at sign-in with a code: two-factor is on, and the answer holds the tokens
/// and the recovery codes (shown this once).
#[utoipa::path(post, path = "/v1/auth/two-factor/enrol/confirm", tag = "accounts", request_body = TwoFactorChallengeRequest,
    responses((status = 201, body = EnrolledSignIn), (status = 401, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn enrol_confirm(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    Json(req): Json<TwoFactorChallengeRequest>,
) -> Result<(StatusCode, axum::Json<EnrolledSignIn>), ApiError> {
    let account = guess_at_challenge(&state, client, &req.challenge).await?;
    let device = user_agent(&headers);
    let enrolled = security::enrol_confirm(&state, req, device.as_deref()).await?;
    if let Some(account) = &account {
        state.limits.signed_in(client, account);
    }
    Ok((StatusCode::CREATED, axum::Json(enrolled)))
}

/// Mails a password-reset link (single use, one hour) when the address has an account and the
/// service has SMTP. The answer is the same either way.
#[utoipa::path(post, path = "/v1/auth/password-reset", tag = "accounts", request_body = PasswordResetRequest,
    responses((status = 202), (status = 429, body = protocol::ErrorBody)))]
async fn request_password_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(req): Json<PasswordResetRequest>,
) -> Result<StatusCode, ApiError> {
    guess(&state, &client, Some(&req.email.trim().to_lowercase()))?;
    security::request_password_reset(&state, &req.email).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with the token from a reset link; every session of the account ends.
#[utoipa::path(post, path = "/v1/auth/password-reset/confirm", tag = "accounts", request_body = ConfirmPasswordResetRequest,
    responses((status = 204), (status = 404, body = protocol::ErrorBody), (status = 410, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    Json(req): Json<ConfirmPasswordResetRequest>,
) -> Result<StatusCode, ApiError> {
    guess(&state, &client, None)?;
    security::confirm_password_reset(&state, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Confirms an owner's email address with the token from the verification mail.
#[utoipa::path(post, path = "/v1/auth/verify-email", tag = "accounts", request_body = VerifyEmailRequest,
    responses((status = 204), (status = 404, body = protocol::ErrorBody), (status = 410, body = protocol::ErrorBody)))]
async fn verify_email(State(state): State<AppState>, Json(req): Json<VerifyEmailRequest>) -> Result<StatusCode, ApiError> {
    security::verify_email(&state, &req.token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How the signed-in person's account is protected.
#[utoipa::path(get, path = "/v1/me/security", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = AccountSecurity), (status = 401, body = protocol::ErrorBody)))]
async fn my_security(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<AccountSecurity>, ApiError> {
    Ok(axum::Json(security::security(&state, &auth).await?))
}

/// Confirms the password (or a code) again, which sensitive actions (export, erase, channels,
/// two-factor changes) need within the last few minutes.
#[utoipa::path(post, path = "/v1/me/reauthenticate", tag = "staff", security(("bearer" = [])), request_body = ReauthenticateRequest,
    responses((status = 204), (status = 401, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn reauthenticate(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    auth: Auth,
    Json(req): Json<ReauthenticateRequest>,
) -> Result<StatusCode, ApiError> {
    guess(&state, &client, Some(&auth.staff_id))?;
    security::reauthenticate(&state, &auth, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Changes the password (the current one is asked again); every other session ends.
#[utoipa::path(post, path = "/v1/me/password", tag = "staff", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses((status = 204), (status = 401, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    auth: Auth,
    Json(req): Json<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    guess(&state, &client, Some(&auth.staff_id))?;
    security::change_password(&state, &auth, req).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Starts turning two-factor sign-in on: a new secret for an authenticator app.
#[utoipa::path(post, path = "/v1/me/two-factor", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = TwoFactorSetup), (status = 409, body = protocol::ErrorBody)))]
async fn begin_two_factor(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<TwoFactorSetup>, ApiError> {
    Ok(axum::Json(security::begin_two_factor(&state, &auth).await?))
}

/// Turns two-factor sign-in off (needs a recent re-authentication).
#[utoipa::path(delete, path = "/v1/me/two-factor", tag = "staff", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn disable_two_factor(State(state): State<AppState>, auth: Auth) -> Result<StatusCode, ApiError> {
    security::disable_two_factor(&state, &auth).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turns two-factor sign-in on with a code from the new secret; the recovery codes are shown once.
#[utoipa::path(post, path = "/v1/me/two-factor/confirm", tag = "staff", security(("bearer" = [])), request_body = ConfirmTwoFactorRequest,
    responses((status = 200, body = RecoveryCodes), (status = 401, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody), (status = 429, body = protocol::ErrorBody)))]
async fn confirm_two_factor(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    auth: Auth,
    Json(req): Json<ConfirmTwoFactorRequest>,
) -> Result<axum::Json<RecoveryCodes>, ApiError> {
    guess(&state, &client, Some(&auth.staff_id))?;
    Ok(axum::Json(security::confirm_two_factor(&state, &auth, &req.code).await?))
}

/// A colleague lost their password or device: turns their two-factor off, ends their sessions and
/// makes a one-time link to choose a new password — mailed, or returned to hand over without SMTP.
/// Owners and admins, with a recent re-authentication; audited.
#[utoipa::path(post, path = "/v1/staff/{id}/reset-sign-in", tag = "staff", security(("bearer" = [])), params(("id" = String, Path)),
    responses((status = 200, body = Handover), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn reset_staff_member(State(state): State<AppState>, auth: Auth, Path(id): Path<StaffId>) -> Result<axum::Json<Handover>, ApiError> {
    Ok(axum::Json(security::reset_staff_member(&state, &auth, id.as_str()).await?))
}

/// The business's sign-in rules.
#[utoipa::path(get, path = "/v1/security-settings", tag = "business", security(("bearer" = [])),
    responses((status = 200, body = SecuritySettings)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<SecuritySettings>, ApiError> {
    Ok(axum::Json(security::settings(&state, &auth).await?))
}

/// Requires two-factor sign-in of everyone (owners, with a recent re-authentication). Staff
/// without it are signed out and set it up at their next sign-in.
#[utoipa::path(put, path = "/v1/security-settings", tag = "business", security(("bearer" = [])), request_body = UpdateSecuritySettings,
    responses((status = 200, body = SecuritySettings), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_settings(State(state): State<AppState>, auth: Auth, Json(req): Json<UpdateSecuritySettings>) -> Result<axum::Json<SecuritySettings>, ApiError> {
    Ok(axum::Json(security::update_settings(&state, &auth, req.require_two_factor).await?))
}
