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
use crate::http::extract::{header_text, Query};
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

endpoint! {
    /// Begins connecting a staff member's Google Calendar (yourself, or anyone for owners and
    /// admins): open `auth_url` in the system browser; Google redirects to your loopback
    /// `redirect_uri` with `code` and `state`.
    post "/v1/staff/{id}/google-calendar/start" in "calendar" => start(id "Staff id", body StartGoogleCalendar) -> GoogleCalendarAuthStart [403, 404, 422] = connect::start;
    /// Finishes connecting with the code the redirect brought and the PKCE verifier.
    post "/v1/staff/{id}/google-calendar/finish" in "calendar" => finish(id "Staff id", body FinishGoogleCalendar) -> CalendarConnection [400, 403, 404, 422, 502] = connect::finish;
    /// The connection: its calendars, the last successful sync, any error, and whether it needs
    /// reconnecting.
    get "/v1/staff/{id}/google-calendar" in "calendar" => get_connection(id "Staff id") -> CalendarConnection [404] = connect::get;
    /// Disconnects: stops the push channels, revokes the sign-in, removes the tokens and cached events.
    delete "/v1/staff/{id}/google-calendar" in "calendar" => disconnect(id "Staff id") -> NoContent [403, 404] = connect::disconnect;
    /// Chooses the calendars whose busy times block this person.
    put "/v1/staff/{id}/google-calendar/calendars" in "calendar" => choose_calendars(id "Staff id", body ChooseCalendars) -> CalendarConnection [403, 404, 422] = connect::choose;
    /// Applies the change to the booking (moved: the new time, through the booking rules; deleted:
    /// cancels it); the customer gets the confirmation any change gets.
    post "/v1/calendar-tasks/{id}/apply" in "calendar" => apply_task(id "Task id") -> CalendarTask [404, 409, 422] = tasks::apply;
    /// Keeps the booking as it is and writes it back into Google.
    post "/v1/calendar-tasks/{id}/dismiss" in "calendar" => dismiss_task(id "Task id") -> CalendarTask [404, 409] = tasks::dismiss;
}

/// Outside moves and deletes of our events waiting for a decision (or, with `status`, decided ones).
#[utoipa::path(get, path = "/v1/calendar-tasks", tag = "calendar", security(("bearer" = [])),
    params(("status" = Option<protocol::CalendarTaskStatus>, Query, description = "`open` (default), `applied` or `dismissed`."), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<CalendarTask>), (status = 400, body = protocol::ErrorBody)))]
async fn list_tasks(State(state): State<AppState>, auth: Auth, Query(q): Query<tasks::TaskQuery>) -> Result<axum::Json<Page<CalendarTask>>, ApiError> {
    Ok(axum::Json(tasks::list(&state, &auth, q).await?))
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
