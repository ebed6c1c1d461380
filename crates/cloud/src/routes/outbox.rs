//! Sending: `POST /v1/conversations/{id}/messages` and `.../template-messages` queue a reply in
//! the durable outbox (the core's workers deliver it); WhatsApp templates (files: [`super::media`]).

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{
    CreateWhatsappTemplate, Message, SendMessage, SendTemplate,
    WhatsappTemplate,
};
use switchboard_core::sending;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(send_template))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(delete_template))
}

endpoint! {
    /// Approved WhatsApp templates.
    get "/v1/whatsapp-templates" in "channels" => list_templates(page) -> Page<WhatsappTemplate> [400] = sending::list_templates;
    /// Records a template Meta has approved, so staff can send it (owners and admins).
    post "/v1/whatsapp-templates" in "channels" => create_template(body CreateWhatsappTemplate) -> Created<WhatsappTemplate> [403, 409, 422] = sending::create_template;
    /// Forgets a template.
    delete "/v1/whatsapp-templates/{id}" in "channels" => delete_template(id "Template id") -> NoContent [403, 404] = sending::delete_template;
}

/// Replies to the customer, taking the conversation over from the assistant (409
/// `already_held`, naming the holder, if another person has it). Refused before anything is sent
/// when the customer opted out
/// (`customer_opted_out`), the channel is not connected (`channel_not_configured`) or WhatsApp's
/// 24-hour window is closed (`whatsapp_window_closed`: send a template instead). The message is
/// `pending` until the provider takes it, then `sent`, `delivered`, `read` — or `failed`, with
/// the reason in `error`.
#[utoipa::path(post, path = "/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])), request_body = SendMessage,
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 201, body = Message), (status = 200, body = Message, description = "Already sent with this client_message_id"),
        (status = 404, body = protocol::ErrorBody),
        (status = 409, body = protocol::ErrorBody, description = "`already_held`: a colleague has the conversation; `already_exists`: the client_message_id is another conversation's"),
        (status = 422, body = protocol::ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<SendMessage>,
) -> Result<(StatusCode, axum::Json<Message>), ApiError> {
    Ok(answer(sending::send_message(&state, &auth, &id, req).await?))
}

/// Sends an approved WhatsApp template, with its variables filled in.
#[utoipa::path(post, path = "/v1/conversations/{id}/template-messages", tag = "conversations", security(("bearer" = [])), request_body = SendTemplate,
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 201, body = Message), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn send_template(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<SendTemplate>,
) -> Result<(StatusCode, axum::Json<Message>), ApiError> {
    Ok(answer(sending::send_template(&state, &auth, &id, req).await?))
}

/// A queued message as the REST API answers it: 201 when created, 200 for a retry.
fn answer((created, message): (bool, Message)) -> (StatusCode, axum::Json<Message>) {
    (if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(message))
}
