//! `/v1/conversations/{id}/takeover|handback`: a person takes a conversation over from the
//! assistant and hands it back; and `/v1/assistant`, the assistant's settings.

use axum::extract::State;
use protocol::{AssistantSettings, Conversation, UpdateAssistantSettings};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(takeover))
        .routes(routes!(handback))
        .routes(routes!(get_settings, update_settings))
}

/// Takes the conversation over from the assistant (or from the waiting queue). If someone else
/// holds it: 409 `already_held`, naming them.
#[utoipa::path(post, path = "/v1/conversations/{id}/takeover", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = Conversation), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn takeover(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Conversation>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::takeover::takeover(&state, &auth, &id).await?))
}

/// Gives the conversation back to the assistant (the holder, or an owner or admin).
#[utoipa::path(post, path = "/v1/conversations/{id}/handback", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = Conversation), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn handback(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Conversation>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::takeover::handback(&state, &auth, &id).await?))
}

/// How the assistant behaves.
#[utoipa::path(get, path = "/v1/assistant", tag = "assistant", security(("bearer" = [])),
    responses((status = 200, body = AssistantSettings)))]
async fn get_settings(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<AssistantSettings>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::takeover::get_settings(&state, &auth).await?))
}

/// Changes the assistant's persona, instructions, facts, language, model or hand-back timer
/// (owners and admins).
#[utoipa::path(patch, path = "/v1/assistant", tag = "assistant", security(("bearer" = [])), request_body = UpdateAssistantSettings,
    responses((status = 200, body = AssistantSettings), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_settings(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<UpdateAssistantSettings>,
) -> Result<axum::Json<AssistantSettings>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::takeover::update_settings(&state, &auth, req).await?))
}
