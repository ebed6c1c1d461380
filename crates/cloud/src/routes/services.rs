//! `/v1/services`: what the business offers, with duration, price and buffers.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{Page, CreateService, Service, UpdateService};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_services, create_service))
        .routes(routes!(get_service, update_service, delete_service))
}

/// Every service, active or not, by name.
#[utoipa::path(get, path = "/v1/services", tag = "services", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Service>), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn list_services(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<Service>>, ApiError> {
    Ok(axum::Json(switchboard_core::catalog::services::list_services(&state, &auth, page).await?))
}

/// Adds a service (owners and admins).
#[utoipa::path(post, path = "/v1/services", tag = "services", security(("bearer" = [])), request_body = CreateService,
    responses((status = 201, body = Service), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_service(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateService>,
) -> Result<(StatusCode, axum::Json<Service>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::catalog::services::create_service(&state, &auth, req).await?)))
}

/// One service.
#[utoipa::path(get, path = "/v1/services/{id}", tag = "services", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service id")),
    responses((status = 200, body = Service), (status = 404, body = protocol::ErrorBody)))]
async fn get_service(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Service>, ApiError> {
    Ok(axum::Json(switchboard_core::catalog::services::get_service(&state, &auth, &id).await?))
}

/// Changes a service (owners and admins).
#[utoipa::path(patch, path = "/v1/services/{id}", tag = "services", security(("bearer" = [])), request_body = UpdateService,
    params(("id" = String, Path, description = "Service id")),
    responses((status = 200, body = Service), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_service(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateService>,
) -> Result<axum::Json<Service>, ApiError> {
    Ok(axum::Json(switchboard_core::catalog::services::update_service(&state, &auth, &id, req).await?))
}

/// Removes a service (owners and admins). Past bookings keep it.
#[utoipa::path(delete, path = "/v1/services/{id}", tag = "services", security(("bearer" = [])),
    params(("id" = String, Path, description = "Service id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn delete_service(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::catalog::services::delete_service(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
