//! `/v1/schedule`, `/v1/staff/{id}/hours` and `/v1/schedule-exceptions`: the business's opening
//! hours, each staff member's hours, and days that differ (holidays, extra hours).

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{Page, BusinessSchedule, CreateScheduleException, HoursCheck, ScheduleException, StaffHours, UpdateBusinessSchedule, WeeklyHours};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_schedule, update_schedule))
        .routes(routes!(check_hours))
        .routes(routes!(get_staff_hours, put_staff_hours))
        .routes(routes!(list_exceptions, create_exception))
        .routes(routes!(get_exception, delete_exception))
}

/// The business's opening hours, booking rules and time zone.
#[utoipa::path(get, path = "/v1/schedule", tag = "scheduling", security(("bearer" = [])),
    responses((status = 200, body = BusinessSchedule), (status = 401, body = protocol::ErrorBody)))]
async fn get_schedule(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<BusinessSchedule>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::hours::get_schedule(&state, &auth).await?))
}

/// Changes opening hours or booking rules (owners and admins). Existing bookings stay.
#[utoipa::path(patch, path = "/v1/schedule", tag = "scheduling", security(("bearer" = [])), request_body = UpdateBusinessSchedule,
    responses((status = 200, body = BusinessSchedule), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_schedule(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<UpdateBusinessSchedule>,
) -> Result<axum::Json<BusinessSchedule>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::hours::update_schedule(&state, &auth, req).await?))
}

/// What saving these hours (opening or working hours) would refuse, in words, without saving
/// anything: the console shows it while someone edits them.
#[utoipa::path(post, path = "/v1/schedule/check-hours", tag = "scheduling", security(("bearer" = [])), request_body = WeeklyHours,
    responses((status = 200, body = HoursCheck), (status = 401, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn check_hours(auth: Auth, Json(hours): Json<WeeklyHours>) -> axum::Json<HoursCheck> {
    axum::Json(switchboard_core::scheduling::hours::check_hours(&auth, &hours))
}

/// A staff member's working hours (`null`: whenever the business is open).
#[utoipa::path(get, path = "/v1/staff/{id}/hours", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = StaffHours), (status = 404, body = protocol::ErrorBody)))]
async fn get_staff_hours(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<StaffHours>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::hours::get_staff_hours(&state, &auth, &id).await?))
}

/// Sets a staff member's working hours (owners and admins).
#[utoipa::path(put, path = "/v1/staff/{id}/hours", tag = "scheduling", security(("bearer" = [])), request_body = StaffHours,
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = StaffHours), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn put_staff_hours(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<StaffHours>,
) -> Result<axum::Json<StaffHours>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::hours::put_staff_hours(&state, &auth, &id, req).await?))
}

/// Date exceptions in a range, by date.
#[utoipa::path(get, path = "/v1/schedule-exceptions", tag = "scheduling", security(("bearer" = [])), params(("from" = Option<String>, Query, description = "First local date, `YYYY-MM-DD` (default: today)."), ("to" = Option<String>, Query, description = "Last local date (default: a year after `from`)."), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<ScheduleException>), (status = 400, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn list_exceptions(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<switchboard_core::scheduling::hours::ExceptionRange>,
) -> Result<axum::Json<Page<ScheduleException>>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::hours::list_exceptions(&state, &auth, q).await?))
}

/// Closes a date, or sets special hours for it, for the business or one staff member.
#[utoipa::path(post, path = "/v1/schedule-exceptions", tag = "scheduling", security(("bearer" = [])), request_body = CreateScheduleException,
    responses((status = 201, body = ScheduleException), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_exception(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateScheduleException>,
) -> Result<(StatusCode, axum::Json<ScheduleException>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::scheduling::hours::create_exception(&state, &auth, req).await?)))
}

/// One date exception.
#[utoipa::path(get, path = "/v1/schedule-exceptions/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Exception id")),
    responses((status = 200, body = ScheduleException), (status = 404, body = protocol::ErrorBody)))]
async fn get_exception(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<ScheduleException>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::hours::get_exception(&state, &auth, &id).await?))
}

/// Removes a date exception: the usual hours apply again.
#[utoipa::path(delete, path = "/v1/schedule-exceptions/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Exception id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn delete_exception(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::scheduling::hours::delete_exception(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
