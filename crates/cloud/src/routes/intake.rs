//! The messaging webhooks: WhatsApp (Meta Cloud API) and Twilio (SMS and WhatsApp). The core
//! verifies each provider's signature and commits the event before this answers: an `Ok` here is
//! a durable acknowledgement.

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ErrorCode, FailedWebhook};
use serde::Deserialize;
use switchboard_core::intake;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::auth::Auth;
use crate::http::extract::{Path, Query, RawBody};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(whatsapp_verify, whatsapp_webhook))
        .routes(routes!(twilio_webhook))
        .routes(routes!(twilio_status_webhook))
        .routes(routes!(failed_webhooks))
        .routes(routes!(retry_webhook))
}

/// Webhooks that were acknowledged but could not be processed after their retries, newest first
/// (owners and admins). Nothing acknowledged is dropped: each stays here until retried.
#[utoipa::path(get, path = "/v1/webhook-events/failed", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<FailedWebhook>), (status = 401, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody)))]
async fn failed_webhooks(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Vec<FailedWebhook>>, ApiError> {
    Ok(axum::Json(intake::failed_events(&state, &auth).await?))
}

/// Processes a failed webhook again (after its cause was fixed).
#[utoipa::path(post, path = "/v1/webhook-events/{id}/retry", tag = "webhooks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Webhook event id")),
    responses((status = 202), (status = 401, body = protocol::ErrorBody), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn retry_webhook(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    intake::retry(&state, &auth, &id).await?;
    Ok(StatusCode::ACCEPTED)
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
    let challenge = switchboard_core::channels::whatsapp::intake::verify_subscription(&state, q.mode.as_deref(), q.verify_token.as_deref(), q.challenge).await?;
    Ok(([(header::CONTENT_TYPE, "text/plain")], challenge).into_response())
}

fn header_text<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// WhatsApp Cloud API notifications (messages and statuses), signed with `X-Hub-Signature-256`.
#[utoipa::path(post, path = "/webhooks/whatsapp", tag = "webhooks", request_body(content = Object, content_type = "application/json"),
    responses((status = 200, body = String), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody)))]
async fn whatsapp_webhook(State(state): State<AppState>, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    switchboard_core::channels::whatsapp::intake::accept(&state, header_text(&headers, "x-hub-signature-256"), &body).await?;
    Ok((StatusCode::OK, "EVENT_RECEIVED").into_response())
}

/// Twilio's form-encoded parameters (and nothing else).
fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let content_type = header_text(headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
    if !content_type.starts_with("application/x-www-form-urlencoded") {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType, "Twilio webhooks are form-encoded (application/x-www-form-urlencoded)."));
    }
    Ok(form_urlencoded::parse(body).into_owned().collect())
}

/// What Twilio signed: our public URL with the request's path and query.
fn signed_url(state: &AppState, uri: &axum::http::Uri) -> String {
    format!("{}{}", state.config.public_url.trim_end_matches('/'), uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"))
}

fn twiml_ok() -> Response {
    ([(header::CONTENT_TYPE, "text/xml")], "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response></Response>").into_response()
}

/// Inbound SMS and WhatsApp messages from Twilio (form-encoded, `X-Twilio-Signature`).
#[utoipa::path(post, path = "/webhooks/twilio", tag = "webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, content_type = "text/xml", body = String), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody),
        (status = 415, body = protocol::ErrorBody)))]
async fn twilio_webhook(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let params = form_params(&headers, &body)?;
    switchboard_core::channels::twilio::intake::accept_message(&state, &signed_url(&state, &uri), header_text(&headers, "x-twilio-signature"), params).await?;
    Ok(twiml_ok())
}

/// Delivery callbacks for messages sent through Twilio.
#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = String), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody), (status = 415, body = protocol::ErrorBody)))]
async fn twilio_status_webhook(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let params = form_params(&headers, &body)?;
    switchboard_core::channels::twilio::intake::accept_status(&state, &signed_url(&state, &uri), header_text(&headers, "x-twilio-signature"), params).await?;
    Ok(StatusCode::OK.into_response())
}
