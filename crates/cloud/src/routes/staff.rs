//! `/v1/me`, `/v1/staff`, `/v1/invitations`.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{CreateInvitation, CreatedInvitation, Invitation, Me, Page, Staff, UpdateStaff};
use switchboard_core::accounts::staff;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(me))
        .routes(routes!(list_staff))
        .routes(routes!(get_staff, update_staff, deactivate_staff))
        .routes(routes!(list_invitations, create_invitation))
        .routes(routes!(revoke_invitation))
}

/// The signed-in staff member, with `permissions`: what their role lets them do (the console
/// shows and hides by these names).
#[utoipa::path(get, path = "/v1/me", tag = "staff", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = protocol::ErrorBody)))]
async fn me(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Me>, ApiError> {
    Ok(axum::Json(staff::me(&state, &auth).await?))
}

/// Everyone on the business's staff, active or not.
#[utoipa::path(get, path = "/v1/staff", tag = "staff", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Staff>), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn list_staff(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<Staff>>, ApiError> {
    Ok(axum::Json(staff::list(&state, &auth, page).await?))
}

/// One staff member.
#[utoipa::path(get, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 404, body = protocol::ErrorBody)))]
async fn get_staff(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Staff>, ApiError> {
    Ok(axum::Json(staff::one(&state, &auth, &id).await?))
}

/// Changes a staff member's name, role or active flag (owners and admins; owners for owners).
#[utoipa::path(patch, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])), request_body = UpdateStaff,
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn update_staff(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Json(req): Json<UpdateStaff>) -> Result<axum::Json<Staff>, ApiError> {
    Ok(axum::Json(staff::update(&state, &auth, &id, req).await?))
}

/// Deactivates a staff member: their sessions end at once. History keeps their name.
#[utoipa::path(delete, path = "/v1/staff/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = Staff), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn deactivate_staff(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Staff>, ApiError> {
    let req = UpdateStaff { active: Some(false), ..UpdateStaff::default() };
    Ok(axum::Json(staff::update(&state, &auth, &id, req).await?))
}

/// Open and accepted invitations (revoked ones are left out).
#[utoipa::path(get, path = "/v1/invitations", tag = "staff", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Invitation>), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody)))]
async fn list_invitations(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<Invitation>>, ApiError> {
    Ok(axum::Json(staff::invitations(&state, &auth, page).await?))
}

/// Invites someone by email. The token is returned once; send it to them.
#[utoipa::path(post, path = "/v1/invitations", tag = "staff", security(("bearer" = [])), request_body = CreateInvitation,
    responses((status = 201, body = CreatedInvitation), (status = 403, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn create_invitation(State(state): State<AppState>, auth: Auth, Json(req): Json<CreateInvitation>) -> Result<(StatusCode, axum::Json<CreatedInvitation>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(staff::invite(&state, &auth, req).await?)))
}

/// Withdraws an invitation that has not been accepted.
#[utoipa::path(delete, path = "/v1/invitations/{id}", tag = "staff", security(("bearer" = [])),
    params(("id" = String, Path, description = "Invitation id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn revoke_invitation(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    staff::revoke_invitation(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
