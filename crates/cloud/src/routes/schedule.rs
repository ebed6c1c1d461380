//! `/v1/schedule`, `/v1/staff/{id}/hours` and `/v1/schedule-exceptions`: the business's opening
//! hours, each staff member's hours, and days that differ (holidays, extra hours).

use axum::extract::State;
use protocol::{BusinessSchedule, CreateScheduleException, HoursCheck, Page, ScheduleException, StaffHours, UpdateBusinessSchedule, WeeklyHours};
use switchboard_core::scheduling::hours;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_schedule, update_schedule))
        .routes(routes!(check_hours))
        .routes(routes!(get_staff_hours, put_staff_hours))
        .routes(routes!(list_exceptions, create_exception))
        .routes(routes!(get_exception, delete_exception))
}

endpoint! {
    /// The business's opening hours, booking rules and time zone.
    get "/v1/schedule" in "scheduling" => get_schedule() -> BusinessSchedule [401] = hours::get_schedule;
    /// Changes opening hours or booking rules (owners and admins). Existing bookings stay.
    patch "/v1/schedule" in "scheduling" => update_schedule(body UpdateBusinessSchedule) -> BusinessSchedule [403, 422] = hours::update_schedule;
    /// A staff member's working hours (`null`: whenever the business is open).
    get "/v1/staff/{id}/hours" in "scheduling" => get_staff_hours(id "Staff id") -> StaffHours [404] = hours::get_staff_hours;
    /// Sets a staff member's working hours (owners and admins).
    put "/v1/staff/{id}/hours" in "scheduling" => put_staff_hours(id "Staff id", body StaffHours) -> StaffHours [403, 404, 422] = hours::put_staff_hours;
    /// Closes a date, or sets special hours for it, for the business or one staff member.
    post "/v1/schedule-exceptions" in "scheduling" => create_exception(body CreateScheduleException) -> Created<ScheduleException> [403, 409, 422] = hours::create_exception;
    /// One date exception.
    get "/v1/schedule-exceptions/{id}" in "scheduling" => get_exception(id "Exception id") -> ScheduleException [404] = hours::get_exception;
    /// Removes a date exception: the usual hours apply again.
    delete "/v1/schedule-exceptions/{id}" in "scheduling" => delete_exception(id "Exception id") -> NoContent [403, 404] = hours::delete_exception;
}

/// What saving these hours (opening or working hours) would refuse, in words, without saving
/// anything: the console shows it while someone edits them.
#[utoipa::path(post, path = "/v1/schedule/check-hours", tag = "scheduling", security(("bearer" = [])), request_body = WeeklyHours,
    responses((status = 200, body = HoursCheck), (status = 401, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn check_hours(auth: Auth, Json(week): Json<WeeklyHours>) -> axum::Json<HoursCheck> {
    axum::Json(hours::check_hours(&auth, &week))
}

/// Date exceptions in a range, by date.
#[utoipa::path(get, path = "/v1/schedule-exceptions", tag = "scheduling", security(("bearer" = [])), params(("from" = Option<String>, Query, description = "First local date, `YYYY-MM-DD` (default: today)."), ("to" = Option<String>, Query, description = "Last local date (default: a year after `from`)."), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<ScheduleException>), (status = 400, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn list_exceptions(State(state): State<AppState>, auth: Auth, Query(q): Query<hours::ExceptionRange>) -> Result<axum::Json<Page<ScheduleException>>, ApiError> {
    Ok(axum::Json(hours::list_exceptions(&state, &auth, q).await?))
}
