//! `/v1/conversations` and their notes: the inbox (filters, pages), a conversation's detail and
//! messages, and staff's internal notes.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{
    Channel, ControlMode, Conversation, ConversationDetail, ConversationStatus, CreateConversation, CreateNote, Message, Note, Page, UpdateConversation, UpdateNote,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(get_conversation, update_conversation, delete_conversation))
        .routes(routes!(list_messages))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(get_note, update_note, delete_note))
}

/// The inbox: conversations, newest activity first, with filters and cursor pagination.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])), params(("status" = Option<ConversationStatus>, Query), ("mode" = Option<ControlMode>, Query), ("channel" = Option<Channel>, Query), ("holder" = Option<String>, Query, description = "A staff id, or `me`."), ("assignee" = Option<String>, Query, description = "A staff id, or `me`."), ("customer_id" = Option<String>, Query), ("unread" = Option<bool>, Query, description = "Only conversations with unread messages."), ("label" = Option<String>, Query, description = "Only conversations with this label."), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Conversation>), (status = 400, body = protocol::ErrorBody)))]
async fn list_conversations(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<switchboard_core::conversations::ListConversations>,
) -> Result<axum::Json<Page<Conversation>>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::list_conversations(&state, &auth, q).await?))
}

/// Opens a conversation with a customer on a channel (or returns the open one).
#[utoipa::path(post, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])), request_body = CreateConversation,
    responses((status = 201, body = Conversation), (status = 404, body = protocol::ErrorBody)))]
async fn create_conversation(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateConversation>,
) -> Result<(StatusCode, axum::Json<Conversation>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::conversations::create_conversation(&state, &auth, req).await?)))
}

/// One conversation with its customer, its newest messages and its notes.
#[utoipa::path(get, path = "/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = ConversationDetail), (status = 404, body = protocol::ErrorBody)))]
async fn get_conversation(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<axum::Json<ConversationDetail>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::get_conversation(&state, &auth, &id).await?))
}

/// Marks a conversation resolved or open again, or read.
#[utoipa::path(patch, path = "/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])), request_body = UpdateConversation,
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = Conversation), (status = 404, body = protocol::ErrorBody)))]
async fn update_conversation(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateConversation>,
) -> Result<axum::Json<Conversation>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::update_conversation(&state, &auth, &id, req).await?))
}

/// Deletes a conversation with its messages and notes, for good (owners and admins).
#[utoipa::path(delete, path = "/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 204), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn delete_conversation(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::conversations::delete_conversation(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A conversation's messages, a page at a time going back in time; each page is oldest first.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("cursor" = Option<String>, Query, description = "From `older_messages_cursor` or a previous page's `next_cursor`: the messages before it (`before` is an older name for it)."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Message>), (status = 404, body = protocol::ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<switchboard_core::conversations::ListMessages>,
) -> Result<axum::Json<Page<Message>>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::list_messages(&state, &auth, &id, q).await?))
}

/// A conversation's internal notes, oldest first (customers never see them).
#[utoipa::path(get, path = "/v1/conversations/{id}/notes", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("cursor" = Option<String>, Query, description = "From a previous page's `next_cursor`."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Note>), (status = 400, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn list_notes(State(state): State<AppState>, auth: Auth, Path(id): Path<String>, Query(page): Query<switchboard_core::store::PageQuery>) -> Result<axum::Json<Page<Note>>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::list_notes(&state, &auth, &id, page).await?))
}

/// Adds an internal note to a conversation.
#[utoipa::path(post, path = "/v1/conversations/{id}/notes", tag = "conversations", security(("bearer" = [])), request_body = CreateNote,
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 201, body = Note), (status = 404, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_note(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<CreateNote>,
) -> Result<(StatusCode, axum::Json<Note>), ApiError> {
    Ok((StatusCode::CREATED, axum::Json(switchboard_core::conversations::create_note(&state, &auth, &id, req).await?)))
}

/// One note.
#[utoipa::path(get, path = "/v1/notes/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Note id")),
    responses((status = 200, body = Note), (status = 404, body = protocol::ErrorBody)))]
async fn get_note(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Note>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::get_note(&state, &auth, &id).await?))
}

/// Edits a note (its author, owners and admins).
#[utoipa::path(patch, path = "/v1/notes/{id}", tag = "conversations", security(("bearer" = [])), request_body = UpdateNote,
    params(("id" = String, Path, description = "Note id")),
    responses((status = 200, body = Note), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn update_note(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateNote>,
) -> Result<axum::Json<Note>, ApiError> {
    Ok(axum::Json(switchboard_core::conversations::update_note(&state, &auth, &id, req).await?))
}

/// Deletes a note (its author, owners and admins).
#[utoipa::path(delete, path = "/v1/notes/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Note id")),
    responses((status = 204), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn delete_note(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    switchboard_core::conversations::delete_note(&state, &auth, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
