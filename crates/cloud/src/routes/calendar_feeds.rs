//! `/v1/calendar-feeds`: private iCalendar links a business hands to its own calendar app, and
//! `GET /calendar/{token}`, the feed itself (no sign-in: the unguessable token is the key).

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use protocol::{CalendarFeed, CreateCalendarFeed, CreatedCalendarFeed};
use switchboard_core::scheduling::feeds;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::extract::Path;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_feeds, create_feed))
        .routes(routes!(revoke_feed))
        .routes(routes!(feed))
}

endpoint! {
    /// Calendar feeds: your own, or all of them for owners and admins.
    get "/v1/calendar-feeds" in "scheduling" => list_feeds(page) -> Page<CalendarFeed> [400, 401] = feeds::list_feeds;
    /// Creates a feed for a staff member (yourself, or anyone for owners and admins) or, without
    /// `staff_id`, for the whole business (owners and admins). The URL is shown once.
    post "/v1/calendar-feeds" in "scheduling" => create_feed(body CreateCalendarFeed) -> Created<CreatedCalendarFeed> [403, 422] = feeds::create_feed;
    /// Revokes a feed: its URL stops working at once.
    delete "/v1/calendar-feeds/{id}" in "scheduling" => revoke_feed(id "Feed id") -> NoContent [404] = feeds::revoke_feed;
}

/// The iCalendar feed behind a subscription URL (no sign-in: the token is the key).
#[utoipa::path(get, path = "/calendar/{token}", tag = "scheduling",
    params(("token" = String, Path, description = "The feed's secret token, with `.ics`")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = protocol::ErrorBody)))]
async fn feed(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let body = feeds::ical(&state, &token).await?;
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")], body).into_response())
}
