//! Webhooks that were acknowledged but could not be processed (`/v1/webhook-events`), whichever
//! provider sent them: owners see why, and retry once the cause is fixed. The webhooks
//! themselves are each provider's: [`super::whatsapp`], [`super::twilio`].

use axum::extract::State;
use axum::http::StatusCode;
use protocol::FailedWebhook;
use switchboard_core::intake;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::Path;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(failed_webhooks)).routes(routes!(retry_webhook))
}

endpoint! {
    /// Webhooks that were acknowledged but could not be processed after their retries, newest first
    /// (owners and admins). Nothing acknowledged is dropped: each stays here until retried.
    get "/v1/webhook-events/failed" in "webhooks" => failed_webhooks(page) -> Page<FailedWebhook> [400, 401, 403] = intake::failed_events;
}

/// Processes a failed webhook again (after its cause was fixed).
#[utoipa::path(post, path = "/v1/webhook-events/{id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook event id")),
    responses((status = 202), (status = 401, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn retry_webhook(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    intake::retry(&state, &auth, &id).await?;
    Ok(StatusCode::ACCEPTED)
}
