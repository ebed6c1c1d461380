//! `GET /v1/channels`: which channels a business has set up, and whether they work. Each
//! provider's set-up and webhooks have their own module: [`super::whatsapp`], [`super::twilio`],
//! [`super::vapi`], [`super::retell`].

use axum::extract::State;
use protocol::{ChannelStatus, Page};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Query;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_channels))
}

/// Which channels are set up, and whether they work. Secrets are never shown.
#[utoipa::path(get, path = "/v1/channels", tag = "channels", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<ChannelStatus>), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn list_channels(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<switchboard_core::store::PageQuery>,
) -> Result<axum::Json<Page<ChannelStatus>>, ApiError> {
    Ok(axum::Json(switchboard_core::channels::list_channels(&state, &auth, page).await?))
}
