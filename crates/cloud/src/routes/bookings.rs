//! `/v1/availability` and `/v1/bookings`: free times, and booking, moving and cancelling
//! appointments. The core's `scheduling` decides (hours, buffers, no double booking); this only
//! reads the query and shapes the answer.

use axum::extract::State;
use protocol::{
    Availability, AvailabilityCheck, Booking, Page, BookingSource, BookingStatus, CreateBooking, UpdateBooking,
};
use switchboard_core::scheduling::bookings;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(availability))
        .routes(routes!(check_availability))
        .routes(routes!(list_bookings, create_booking))
        .routes(routes!(get_booking, update_booking, cancel_booking))
}

endpoint! {
    /// Books an appointment. A taken time gets 409 `slot_taken` with the nearest free times in
    /// `error.details.alternatives`; a time outside hours gets 422 `outside_hours` (also with
    /// alternatives).
    post "/v1/bookings" in "scheduling" => create_booking(body CreateBooking) -> Created<Booking> [409, 422] = bookings::create_booking;
    /// One booking.
    get "/v1/bookings/{id}" in "scheduling" => get_booking(id "Booking id") -> Booking [404] = bookings::get_booking;
    /// Reschedules, reassigns, confirms, completes, marks a no-show, cancels or edits notes.
    /// `expected_version` must be the booking's current version (else 409 `version_conflict`).
    patch "/v1/bookings/{id}" in "scheduling" => update_booking(id "Booking id", body UpdateBooking) -> Booking [404, 409, 422] = bookings::update_booking;
}

/// Free appointment times for a service, in UTC and in the business's local time.
#[utoipa::path(get, path = "/v1/availability", tag = "scheduling", security(("bearer" = [])), params(("service_id" = String, Query), ("staff_id" = Option<String>, Query, description = "Only this staff member."), ("from" = Option<String>, Query, description = "Local date (`2026-03-09`, from the start of that day) or instant. Default: now."), ("to" = Option<String>, Query, description = "Local date (until the end of that day) or instant. Default: 7 days after `from`; at most 62 days after it."), ("limit" = Option<u32>, Query, description = "At most this many slots, earliest first (default 500, at most 2000): `from` + `limit` is \"the next N free times\".")),
    responses((status = 200, body = Availability), (status = 422, body = protocol::ErrorBody)))]
async fn availability(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<bookings::AvailabilityQuery>,
) -> Result<axum::Json<Availability>, ApiError> {
    Ok(axum::Json(bookings::availability(&state, &auth, q).await?))
}

/// Is this exact time free? If not, the nearest free times.
#[utoipa::path(get, path = "/v1/availability/check", tag = "scheduling", security(("bearer" = [])), params(("service_id" = String, Query), ("start" = String, Query, description = "Instant, or local time in the business's zone."), ("staff_id" = Option<String>, Query), ("source" = Option<BookingSource>, Query, description = "Whose rules apply: `staff` (default, as for bookings made in the console: no notice or horizon limits) or `api`/`assistant`/`voice` (online booking rules)."), ("booking_id" = Option<String>, Query, description = "A booking being moved: its own time does not count as taken.")),
    responses((status = 200, body = AvailabilityCheck), (status = 422, body = protocol::ErrorBody)))]
async fn check_availability(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<bookings::CheckQuery>,
) -> Result<axum::Json<AvailabilityCheck>, ApiError> {
    Ok(axum::Json(bookings::check_availability(&state, &auth, q).await?))
}

/// Bookings starting in a range, earliest first: the calendar.
#[utoipa::path(get, path = "/v1/bookings", tag = "scheduling", security(("bearer" = [])), params(("from" = Option<String>, Query, description = "Local date or instant (default: a day ago)."), ("to" = Option<String>, Query, description = "Local date (inclusive) or instant (default: 31 days after `from`; at most 366)."), ("staff_id" = Option<String>, Query), ("customer_id" = Option<String>, Query), ("status" = Option<BookingStatus>, Query), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Booking>), (status = 400, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn list_bookings(State(state): State<AppState>, auth: Auth, Query(q): Query<bookings::ListBookings>) -> Result<axum::Json<Page<Booking>>, ApiError> {
    Ok(axum::Json(bookings::list_bookings(&state, &auth, q).await?))
}

/// Cancels a booking; its time is free again.
#[utoipa::path(delete, path = "/v1/bookings/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Booking id"), ("expected_version" = Option<i64>, Query, description = "When given, the booking must still be at this version."), ("reason" = Option<String>, Query)),
    responses((status = 200, body = Booking), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody),
        (status = 422, body = protocol::ErrorBody, description = "`invalid_transition`: it is over (completed, a no-show); `validation_failed`: the reason is too long")))]
async fn cancel_booking(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<bookings::CancelQuery>,
) -> Result<axum::Json<Booking>, ApiError> {
    Ok(axum::Json(bookings::cancel_booking(&state, &auth, &id, q).await?))
}
