//! Google Calendar: connecting a staff member's account (`/v1/staff/{id}/google-calendar…`), the
//! tasks outside changes become (`/v1/calendar-tasks…`), and Google's push notifications
//! (`POST /webhooks/google-calendar`). The core's `scheduling::google` decides everything.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use protocol::{Page, CalendarConnection, CalendarTask, ChooseCalendars, FinishGoogleCalendar, GoogleCalendarAuthStart, StartGoogleCalendar};
use switchboard_core::scheduling::google::{connect, sync, tasks};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{header_text, Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(start))
        .routes(routes!(finish))
        .routes(routes!(get_connection, disconnect))
        .routes(routes!(choose_calendars))
        .routes(routes!(list_tasks))
        .routes(routes!(apply_task))
        .routes(routes!(dismiss_task))
        .routes(routes!(notification))
}

/// Begins connecting a staff member's Google Calendar (yourself, or anyone for owners and
/// admins): open `auth_url` in the system browser; Google redirects to your loopback
/// `redirect_uri` with `code` and `state`.
#[utoipa::path(post, path = "/v1/staff/{id}/google-calendar/start", tag = "calendar", security(("bearer" = [])), request_body = StartGoogleCalendar,
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = GoogleCalendarAuthStart), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn start(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Json(req): Json<StartGoogleCalendar>) -> Result<axum::Json<GoogleCalendarAuthStart>, ApiError> {
    Ok(axum::Json(connect::start(&state, &auth, &id, req).await?))
}

/// Finishes connecting with the code the redirect brought and the PKCE verifier.
#[utoipa::path(post, path = "/v1/staff/{id}/google-calendar/finish", tag = "calendar", security(("bearer" = [])), request_body = FinishGoogleCalendar,
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = CalendarConnection), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody), (status = 502, body = protocol::ErrorBody)))]
async fn finish(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Json(req): Json<FinishGoogleCalendar>) -> Result<axum::Json<CalendarConnection>, ApiError> {
    Ok(axum::Json(connect::finish(&state, &auth, &id, req).await?))
}

/// The connection: its calendars, the last successful sync, any error, and whether it needs
/// reconnecting.
#[utoipa::path(get, path = "/v1/staff/{id}/google-calendar", tag = "calendar", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = CalendarConnection), (status = 404, body = protocol::ErrorBody)))]
async fn get_connection(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<CalendarConnection>, ApiError> {
    Ok(axum::Json(connect::get(&state, &auth, &id).await?))
}

/// Disconnects: stops the push channels, revokes the sign-in, removes the tokens and cached events.
#[utoipa::path(delete, path = "/v1/staff/{id}/google-calendar", tag = "calendar", security(("bearer" = [])),
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn disconnect(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    connect::disconnect(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Chooses the calendars whose busy times block this person.
#[utoipa::path(put, path = "/v1/staff/{id}/google-calendar/calendars", tag = "calendar", security(("bearer" = [])), request_body = ChooseCalendars,
    params(("id" = String, Path, description = "Staff id")),
    responses((status = 200, body = CalendarConnection), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn choose_calendars(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Json(req): Json<ChooseCalendars>) -> Result<axum::Json<CalendarConnection>, ApiError> {
    Ok(axum::Json(connect::choose(&state, &auth, &id, req).await?))
}

/// Outside moves and deletes of our events waiting for a decision (or, with `status`, decided ones).
#[utoipa::path(get, path = "/v1/calendar-tasks", tag = "calendar", security(("bearer" = [])),
    params(("status" = Option<protocol::CalendarTaskStatus>, Query, description = "`open` (default), `applied` or `dismissed`."), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<CalendarTask>), (status = 400, body = protocol::ErrorBody)))]
async fn list_tasks(State(state): State<AppState>, auth: Auth, Query(q): Query<tasks::TaskQuery>) -> Result<axum::Json<Page<CalendarTask>>, ApiError> {
    Ok(axum::Json(tasks::list(&state, &auth, q).await?))
}

/// Applies the change to the booking (moved: the new time, through the booking rules; deleted:
/// cancels it); the customer gets the confirmation any change gets.
#[utoipa::path(post, path = "/v1/calendar-tasks/{id}/apply", tag = "calendar", security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = CalendarTask), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn apply_task(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<CalendarTask>, ApiError> {
    Ok(axum::Json(tasks::apply(&state, &auth, &id).await?))
}

/// Keeps the booking as it is and writes it back into Google.
#[utoipa::path(post, path = "/v1/calendar-tasks/{id}/dismiss", tag = "calendar", security(("bearer" = [])),
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, body = CalendarTask), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn dismiss_task(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<CalendarTask>, ApiError> {
    Ok(axum::Json(tasks::dismiss(&state, &auth, &id).await?))
}

/// Google Calendar push notifications (`X-Goog-Channel-ID`, `X-Goog-Channel-Token`,
/// `X-Goog-Resource-State`): the token is checked, the calendar read soon after.
#[utoipa::path(post, path = "/webhooks/google-calendar", tag = "webhooks",
    responses((status = 200), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn notification(State(state): State<AppState>, headers: HeaderMap) -> Result<StatusCode, ApiError> {
    let n = sync::Notification {
        channel_id: header_text(&headers, "x-goog-channel-id"),
        token: header_text(&headers, "x-goog-channel-token"),
        state: header_text(&headers, "x-goog-resource-state"),
    };
    sync::receive(&state, n).await?;
    Ok(StatusCode::OK)
}
