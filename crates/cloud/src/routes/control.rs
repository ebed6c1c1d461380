//! `/v1/conversations/{id}/takeover|handback`: a person takes a conversation over from the
//! assistant and hands it back; and `/v1/assistant`, the assistant's settings.

use protocol::{AssistantSettings, Conversation, UpdateAssistantSettings};
use switchboard_core::conversations::takeover;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(takeover))
        .routes(routes!(handback))
        .routes(routes!(get_settings, update_settings))
}

endpoint! {
    /// Takes the conversation over from the assistant (or from the waiting queue). If someone else
    /// holds it: 409 `already_held`, naming them.
    post "/v1/conversations/{id}/takeover" in "conversations" => takeover(id "Conversation id") -> Conversation [404, 409] = takeover::takeover;
    /// Gives the conversation back to the assistant (the holder, or an owner or admin).
    post "/v1/conversations/{id}/handback" in "conversations" => handback(id "Conversation id") -> Conversation [404, 409] = takeover::handback;
    /// How the assistant behaves.
    get "/v1/assistant" in "assistant" => get_settings() -> AssistantSettings [] = takeover::get_settings;
    /// Changes the assistant's persona, instructions, facts, language, model or hand-back timer
    /// (owners and admins).
    patch "/v1/assistant" in "assistant" => update_settings(body UpdateAssistantSettings) -> AssistantSettings [403, 422] = takeover::update_settings;
}
