//! Sending: `POST /v1/conversations/{id}/messages` and `.../template-messages` queue a reply in
//! the durable outbox (the core's workers deliver it); WhatsApp templates (files: [`super::media`]).

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{
    CreateWhatsappTemplate, Message, SendMessage, SendTemplate,
    Page, WhatsappTemplate,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(send_message))
        .routes(routes!(send_template))
        .routes(routes!(list_templates, create_template))
        .routes(routes!(delete_template))
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
        (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn send_message(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<SendMessage>,
) -> Result<(StatusCode, axum::Json<Message>), ApiError> {
    Ok(answer(switchboard_core::sending::send_message(&state, &auth, &id, req).await?))
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
    Ok(answer(switchboard_core::sending::send_template(&state, &auth, &id, req).await?))
}

/// Approved WhatsApp templates.
#[utoipa::path(get, path = "/v1/whatsapp-templates", tag = "channels", security(("bearer" = [])), params(("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<WhatsappTemplate>), (status = 400, body = protocol::ErrorBody)))]
async fn list_templates(State(state): State<AppState>, auth: Auth, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<WhatsappTemplate>>, ApiError> {
    Ok(axum::Json(switchboard_core::sending::list_templates(&state, &auth, page).await?))
}

/// Records a template Meta has approved, so staff can send it (owners and admins).
#[utoipa::path(post, path = "/v1/whatsapp-templates", tag = "channels", security(("bearer" = [])), request_body = CreateWhatsappTemplate,
    responses((status = 201, body = WhatsappTemplate), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_template(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateWhatsappTemplate>,
) -> Result<(StatusCode, axum::Json<WhatsappTemplate>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::sending::create_template(&state, &auth, req).await?)))
}

/// Forgets a template.
#[utoipa::path(delete, path = "/v1/whatsapp-templates/{id}", tag = "channels", security(("bearer" = [])),
    params(("id" = String, Path, description = "Template id")),
    responses((status = 204), (status = 404, body = protocol::ErrorBody)))]
async fn delete_template(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::sending::delete_template(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A queued message as the REST API answers it: 201 when created, 200 for a retry.
fn answer((created, message): (bool, Message)) -> (StatusCode, axum::Json<Message>) {
    (if created { StatusCode::CREATED } else { StatusCode::OK }, axum::Json(message))
}
