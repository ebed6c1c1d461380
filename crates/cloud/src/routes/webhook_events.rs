//! Webhooks that were acknowledged but could not be processed (`/v1/webhook-events`), whichever
//! provider sent them: owners see why, and retry once the cause is fixed. The webhooks
//! themselves are each provider's: [`super::whatsapp`], [`super::twilio`].

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{FailedWebhook, Page};
use switchboard_core::intake;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(failed_webhooks)).routes(routes!(retry_webhook))
}

/// Webhooks that were acknowledged but could not be processed after their retries, newest first
/// (owners and admins). Nothing acknowledged is dropped: each stays here until retried.
#[utoipa::path(get, path = "/v1/webhook-events/failed", tag = "webhooks", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<FailedWebhook>), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody)))]
async fn failed_webhooks(
    State(state): State<AppState>,
    auth: Auth,
    Query(page): Query<switchboard_core::store::PageQuery>,
) -> Result<axum::Json<Page<FailedWebhook>>, ApiError> {
    Ok(axum::Json(intake::failed_events(&state, &auth, page).await?))
}

/// Processes a failed webhook again (after its cause was fixed).
#[utoipa::path(post, path = "/v1/webhook-events/{id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook event id")),
    responses((status = 202), (status = 401, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn retry_webhook(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    intake::retry(&state, &auth, &id).await?;
    Ok(StatusCode::ACCEPTED)
}
