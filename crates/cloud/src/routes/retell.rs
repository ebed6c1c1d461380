//! Retell (phone calls): connecting it (`GET|PUT|DELETE /v1/channels/retell`) and its webhooks
//! (`POST /webhooks/retell/{business_id}`). The core's `channels::retell` authenticates them and
//! answers the inbound-call webhook and function calls before this responds.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ChannelStatus, RetellChannelSetup};
use switchboard_core::channels::retell;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::extract::{header_text, Path, RawBody};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_retell, put_retell, delete_retell)).routes(routes!(retell_webhook))
}

endpoint! {
    /// Retell's set-up and whether it works (any staff member). Secrets are never shown; 404 when it
    /// is not connected.
    get "/v1/channels/retell" in "channels" => get_retell() -> ChannelStatus [401, 404] = retell::setup::status;
    /// Disconnects Retell (owners and admins, after a recent re-authentication like every channel
    /// change): its webhooks are refused from then on.
    delete "/v1/channels/retell" in "channels" => delete_retell() -> NoContent [401, 403, 404] = retell::setup::disconnect;
    /// Connects Retell: the API key with the webhook badge (owners and admins). Point the agent's
    /// webhook and function URLs at `/webhooks/retell/{business_id}`.
    put "/v1/channels/retell" in "channels" => put_retell(body RetellChannelSetup) -> ChannelStatus [403, 422] = retell::setup::connect;
}


/// Retell: call events, the inbound-call webhook (answers with the caller's name and next
/// booking as dynamic variables) and custom function calls.
#[utoipa::path(post, path = "/webhooks/retell/{business_id}", tag = "webhooks", request_body(content = Object, content_type = "application/json"),
    params(("business_id" = String, Path, description = "The business the agent works for")),
    responses((status = 200, body = Object), (status = 204), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn retell_webhook(State(state): State<AppState>, Path(business_id): Path<String>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    Ok(match retell::intake::receive(&state, &business_id, |name| header_text(&headers, name), &body).await? {
        Some(answer) => axum::Json(answer).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
