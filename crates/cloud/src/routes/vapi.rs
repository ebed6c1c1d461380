//! Vapi (phone calls): connecting it (`GET|PUT|DELETE /v1/channels/vapi`) and its server messages
//! (`POST /webhooks/vapi/{business_id}`). The core's `channels::vapi` authenticates them and
//! answers tool calls before this responds.

use axum::extract::State;
use axum::http::HeaderMap;
use protocol::{ChannelStatus, VapiChannelSetup};
use switchboard_core::channels::vapi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::extract::{header_text, Path, RawBody};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_vapi, put_vapi, delete_vapi)).routes(routes!(vapi_webhook))
}

endpoint! {
    /// Vapi's set-up and whether it works (any staff member). Secrets are never shown; 404 when it
    /// is not connected.
    get "/v1/channels/vapi" in "channels" => get_vapi() -> ChannelStatus [401, 404] = vapi::setup::status;
    /// Disconnects Vapi (owners and admins, after a recent re-authentication like every channel
    /// change): its webhooks are refused from then on.
    delete "/v1/channels/vapi" in "channels" => delete_vapi() -> NoContent [401, 403, 404] = vapi::setup::disconnect;
    /// Connects Vapi: the secret it authenticates its requests with (owners and admins). Point the
    /// assistant's server URL at `/webhooks/vapi/{business_id}`.
    put "/v1/channels/vapi" in "channels" => put_vapi(body VapiChannelSetup) -> ChannelStatus [403, 422] = vapi::setup::connect;
}


/// Vapi's server messages: tool calls (answered at once), status updates and end-of-call reports.
#[utoipa::path(post, path = "/webhooks/vapi/{business_id}", tag = "webhooks", request_body(content = Object, content_type = "application/json"),
    params(("business_id" = String, Path, description = "The business the assistant works for")),
    responses((status = 200, body = Object), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn vapi_webhook(
    State(state): State<AppState>,
    Path(business_id): Path<String>,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<axum::Json<vapi::wire::Answer>, ApiError> {
    Ok(axum::Json(vapi::intake::receive(&state, &business_id, |name| header_text(&headers, name), &body).await?))
}
