//! Voice platforms: `PUT /v1/channels/{vapi,retell}` and their webhooks. Signatures are checked
//! and calls handled by the core's `channels::vapi` and `channels::retell`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ChannelStatus, RetellChannelSetup, VapiChannelSetup};
use switchboard_core::channels::{retell, vapi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Json, Path, RawBody};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(put_vapi))
        .routes(routes!(put_retell))
        .routes(routes!(vapi_webhook))
        .routes(routes!(retell_webhook))
}

/// Connects Vapi: the secret it authenticates its requests with (owners and admins). Point the
/// assistant's server URL at `/webhooks/vapi/{business_id}`.
#[utoipa::path(put, path = "/v1/channels/vapi", tag = "channels", security(("bearer" = [])), request_body = VapiChannelSetup,
    responses((status = 200, body = ChannelStatus), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn put_vapi(State(state): State<AppState>, auth: Auth, Json(req): Json<VapiChannelSetup>) -> Result<axum::Json<ChannelStatus>, ApiError> {
    Ok(axum::Json(vapi::setup::connect(&state, &auth, req).await?))
}

/// Connects Retell: the API key with the webhook badge (owners and admins). Point the agent's
/// webhook and function URLs at `/webhooks/retell/{business_id}`.
#[utoipa::path(put, path = "/v1/channels/retell", tag = "channels", security(("bearer" = [])), request_body = RetellChannelSetup,
    responses((status = 200, body = ChannelStatus), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn put_retell(State(state): State<AppState>, auth: Auth, Json(req): Json<RetellChannelSetup>) -> Result<axum::Json<ChannelStatus>, ApiError> {
    Ok(axum::Json(retell::setup::connect(&state, &auth, req).await?))
}

fn answer(answer: Option<retell::wire::Answer>) -> Response {
    match answer {
        Some(json) => axum::Json(json).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Vapi's server messages: tool calls (answered at once), status updates and end-of-call reports.
#[utoipa::path(post, path = "/webhooks/vapi/{business_id}", tag = "webhooks", request_body(content = Object, content_type = "application/json"),
    params(("business_id" = String, Path, description = "The business the assistant works for")),
    responses((status = 200, body = Object), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn vapi_webhook(State(state): State<AppState>, Path(business_id): Path<String>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Ok(axum::Json(vapi::intake::receive(&state, &business_id, header, &body).await?).into_response())
}

/// Retell: call events, the inbound-call webhook (answers with the caller's name and next
/// booking as dynamic variables) and custom function calls.
#[utoipa::path(post, path = "/webhooks/retell/{business_id}", tag = "webhooks", request_body(content = Object, content_type = "application/json"),
    params(("business_id" = String, Path, description = "The business the agent works for")),
    responses((status = 200, body = Object), (status = 204), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn retell_webhook(State(state): State<AppState>, Path(business_id): Path<String>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    Ok(answer(retell::intake::receive(&state, &business_id, header, &body).await?))
}
