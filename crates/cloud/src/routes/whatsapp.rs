//! WhatsApp (Meta Cloud API): connecting a number (`GET|PUT|DELETE /v1/channels/whatsapp`) and its
//! webhooks (`GET|POST /webhooks/whatsapp`). The core's `channels::whatsapp` does the work: it
//! verifies the signature and commits the event before this answers, so an `Ok` here is a durable
//! acknowledgement.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ChannelStatus, WhatsappChannelSetup};
use serde::Deserialize;
use switchboard_core::channels::whatsapp;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::extract::{header_text, Query, RawBody};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_whatsapp, put_whatsapp, delete_whatsapp)).routes(routes!(whatsapp_verify, whatsapp_webhook))
}

endpoint! {
    /// WhatsApp's set-up and whether it works (any staff member). Secrets are never shown; 404 when it
    /// is not connected.
    get "/v1/channels/whatsapp" in "channels" => get_whatsapp() -> ChannelStatus [401, 404] = whatsapp::setup::status;
    /// Connects the business's WhatsApp Cloud API number (owners and admins).
    put "/v1/channels/whatsapp" in "channels" => put_whatsapp(body WhatsappChannelSetup) -> ChannelStatus [403, 409, 422] = whatsapp::setup::connect;
    /// Disconnects WhatsApp (owners and admins, after a recent re-authentication).
    delete "/v1/channels/whatsapp" in "channels" => delete_whatsapp() -> NoContent [401, 403, 404] = whatsapp::setup::disconnect;
}


#[derive(Debug, Deserialize)]
pub struct HubChallenge {
    #[serde(rename = "hub.mode")]
    mode: Option<String>,
    #[serde(rename = "hub.verify_token")]
    verify_token: Option<String>,
    #[serde(rename = "hub.challenge")]
    challenge: Option<String>,
}

/// Meta's subscription check: echoes `hub.challenge` when `hub.verify_token` is a business's.
#[utoipa::path(get, path = "/webhooks/whatsapp", tag = "webhooks",
    params(("hub.mode" = Option<String>, Query), ("hub.verify_token" = Option<String>, Query), ("hub.challenge" = Option<String>, Query)),
    responses((status = 200, content_type = "text/plain", body = String), (status = 400, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody)))]
async fn whatsapp_verify(State(state): State<AppState>, Query(q): Query<HubChallenge>) -> Result<Response, ApiError> {
    let challenge = whatsapp::intake::verify_subscription(&state, q.mode.as_deref(), q.verify_token.as_deref(), q.challenge).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], challenge).into_response())
}

/// WhatsApp Cloud API notifications (messages and statuses), signed with `X-Hub-Signature-256`.
#[utoipa::path(post, path = "/webhooks/whatsapp", tag = "webhooks", request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = String), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn whatsapp_webhook(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    whatsapp::intake::accept(&state, header_text(&headers, "x-hub-signature-256"), &body).await?;
    Ok((StatusCode::OK, "EVENT_RECEIVED").into_response())
}
