//! `/v1/canned-responses`: the business's saved replies, which staff insert from the composer.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{Page, CannedResponse, CreateCannedResponse, UpdateCannedResponse};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_canned, create_canned))
        .routes(routes!(get_canned, update_canned, delete_canned))
}

/// Every canned response, by shortcut.
#[utoipa::path(get, path = "/v1/canned-responses", tag = "canned responses", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<CannedResponse>), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn list_canned(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<CannedResponse>>, ApiError> {
    Ok(axum::Json(switchboard_core::catalog::canned::list_canned(&state, &auth, page).await?))
}

/// Adds a canned response (owners and admins).
#[utoipa::path(post, path = "/v1/canned-responses", tag = "canned responses", security(("bearer" = [])), request_body = CreateCannedResponse,
    responses((status = 201, body = CannedResponse), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_canned(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateCannedResponse>,
) -> Result<(StatusCode, axum::Json<CannedResponse>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::catalog::canned::create_canned(&state, &auth, req).await?)))
}

/// One canned response.
#[utoipa::path(get, path = "/v1/canned-responses/{id}", tag = "canned responses", security(("bearer" = [])),
    params(("id" = String, Path, description = "Canned response id")),
    responses((status = 200, body = CannedResponse), (status = 404, body = protocol::ErrorBody)))]
async fn get_canned(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<CannedResponse>, ApiError> {
    Ok(axum::Json(switchboard_core::catalog::canned::get_canned(&state, &auth, &id).await?))
}

/// Changes a canned response (owners and admins).
#[utoipa::path(patch, path = "/v1/canned-responses/{id}", tag = "canned responses", security(("bearer" = [])), request_body = UpdateCannedResponse,
    params(("id" = String, Path, description = "Canned response id")),
    responses((status = 200, body = CannedResponse), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn update_canned(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateCannedResponse>,
) -> Result<axum::Json<CannedResponse>, ApiError> {
    Ok(axum::Json(switchboard_core::catalog::canned::update_canned(&state, &auth, &id, req).await?))
}

/// Deletes a canned response (owners and admins).
#[utoipa::path(delete, path = "/v1/canned-responses/{id}", tag = "canned responses", security(("bearer" = [])),
    params(("id" = String, Path, description = "Canned response id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn delete_canned(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::catalog::canned::delete_canned(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
