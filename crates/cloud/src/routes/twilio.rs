//! Twilio (SMS and WhatsApp): connecting an account and its numbers (`GET|PUT|DELETE
//! /v1/channels/twilio`) and its webhooks (`POST /webhooks/twilio` for messages,
//! `/webhooks/twilio/status` for delivery callbacks, `/webhooks/twilio/voice-status` for calls nobody answered). The core's `channels::twilio` does the
//! work: it verifies the signature and commits the event before this answers, so an `Ok` here is
//! a durable acknowledgement.

use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use protocol::{ChannelStatus, ErrorCode, TwilioChannelSetup};
use switchboard_core::channels::twilio;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::extract::{header_text, RawBody};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_twilio, put_twilio, delete_twilio))
        .routes(routes!(twilio_webhook))
        .routes(routes!(twilio_status_webhook))
        .routes(routes!(twilio_voice_status_webhook))
}

endpoint! {
    /// Twilio's set-up and whether it works (any staff member). Secrets are never shown; 404 when it
    /// is not connected.
    get "/v1/channels/twilio" in "channels" => get_twilio() -> ChannelStatus [401, 404] = twilio::setup::status;
    /// Connects the business's Twilio account and numbers (owners and admins).
    put "/v1/channels/twilio" in "channels" => put_twilio(body TwilioChannelSetup) -> ChannelStatus [403, 409, 422] = twilio::setup::connect;
    /// Disconnects Twilio (owners and admins, after a recent re-authentication).
    delete "/v1/channels/twilio" in "channels" => delete_twilio() -> NoContent [401, 403, 404] = twilio::setup::disconnect;
}


/// Twilio's form-encoded parameters (and nothing else), in order, as Twilio signed them.
fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<twilio::wire::Params, ApiError> {
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
    twilio::intake::accept_message(&state, &signed_url(&state, &uri), header_text(&headers, "x-twilio-signature"), params).await?;
    Ok(twiml_ok())
}

/// Delivery callbacks for messages sent through Twilio.
#[utoipa::path(post, path = "/webhooks/twilio/status", tag = "webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = String), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody), (status = 415, body = protocol::ErrorBody)))]
async fn twilio_status_webhook(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let params = form_params(&headers, &body)?;
    twilio::intake::accept_status(&state, &signed_url(&state, &uri), header_text(&headers, "x-twilio-signature"), params).await?;
    Ok(StatusCode::OK.into_response())
}

/// Voice call-status callbacks for the business's Twilio numbers ("Call status changes"): a call
/// that was not answered (no-answer, busy, failed) gets the caller a text back.
#[utoipa::path(post, path = "/webhooks/twilio/voice-status", tag = "webhooks", request_body(content = String, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, body = String), (status = 400, body = protocol::ErrorBody), (status = 401, body = protocol::ErrorBody), (status = 415, body = protocol::ErrorBody)))]
async fn twilio_voice_status_webhook(State(state): State<AppState>, OriginalUri(uri): OriginalUri, headers: HeaderMap, RawBody(body): RawBody) -> Result<Response, ApiError> {
    let params = form_params(&headers, &body)?;
    twilio::intake::accept_call_status(&state, &signed_url(&state, &uri), header_text(&headers, "x-twilio-signature"), params).await?;
    Ok(StatusCode::OK.into_response())
}
