//! `/v1/calendar-feeds`: private iCalendar links a business hands to its own calendar app, and
//! `GET /calendar/{token}`, the feed itself (no sign-in: the unguessable token is the key).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{Page, CalendarFeed, CreateCalendarFeed, CreatedCalendarFeed};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_feeds, create_feed))
        .routes(routes!(revoke_feed))
        .routes(routes!(feed))
}

/// Calendar feeds: your own, or all of them for owners and admins.
#[utoipa::path(get, path = "/v1/calendar-feeds", tag = "scheduling", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<CalendarFeed>), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn list_feeds(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<CalendarFeed>>, ApiError> {
    Ok(axum::Json(switchboard_core::scheduling::feeds::list_feeds(&state, &auth, page).await?))
}

/// Creates a feed for a staff member (yourself, or anyone for owners and admins) or, without
/// `staff_id`, for the whole business (owners and admins). The URL is shown once.
#[utoipa::path(post, path = "/v1/calendar-feeds", tag = "scheduling", security(("bearer" = [])), request_body = CreateCalendarFeed,
    responses((status = 201, body = CreatedCalendarFeed), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_feed(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateCalendarFeed>,
) -> Result<(StatusCode, axum::Json<CreatedCalendarFeed>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::scheduling::feeds::create_feed(&state, &auth, req).await?)))
}

/// Revokes a feed: its URL stops working at once.
#[utoipa::path(delete, path = "/v1/calendar-feeds/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Feed id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn revoke_feed(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::scheduling::feeds::revoke_feed(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The iCalendar feed behind a subscription URL (no sign-in: the token is the key).
#[utoipa::path(get, path = "/calendar/{token}", tag = "scheduling",
    params(("token" = String, Path, description = "The feed's secret token, with `.ics`")),
    responses((status = 200, content_type = "text/calendar", body = String), (status = 404, body = protocol::ErrorBody)))]
async fn feed(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let body = switchboard_core::scheduling::feeds::ical(&state, &token).await?;
    Ok(([(header::CONTENT_TYPE, "text/calendar; charset=utf-8"), (header::CACHE_CONTROL, "private, max-age=300")], body).into_response())
}
