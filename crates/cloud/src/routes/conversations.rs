//! `/v1/conversations` and their notes: the inbox (filters, pages), a conversation's detail and
//! messages, and staff's internal notes.

use axum::extract::State;
use protocol::{
    Channel, ControlMode, Conversation, ConversationDetail, ConversationStatus, CreateConversation, CreateNote, Message, Note, Page, UpdateConversation, UpdateNote,
};
use switchboard_core::conversations;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::auth::Auth;
use crate::error::ApiError;
use crate::http::extract::{Path, Query};
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(get_conversation, update_conversation, delete_conversation))
        .routes(routes!(list_messages))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(get_note, update_note, delete_note))
}

endpoint! {
    /// Opens a conversation with a customer on a channel (or returns the open one).
    post "/v1/conversations" in "conversations" => create_conversation(body CreateConversation) -> Created<Conversation> [404] = conversations::create_conversation;
    /// One conversation with its customer, its newest messages and its notes.
    get "/v1/conversations/{id}" in "conversations" => get_conversation(id "Conversation id") -> ConversationDetail [404] = conversations::get_conversation;
    /// Marks a conversation resolved or open again, or read.
    patch "/v1/conversations/{id}" in "conversations" => update_conversation(id "Conversation id", body UpdateConversation) -> Conversation [404] = conversations::update_conversation;
    /// Deletes a conversation with its messages and notes, for good (owners and admins).
    delete "/v1/conversations/{id}" in "conversations" => delete_conversation(id "Conversation id") -> NoContent [403, 404] = conversations::delete_conversation;
    /// A conversation's internal notes, oldest first (customers never see them).
    get "/v1/conversations/{id}/notes" in "conversations" => list_notes(id "Conversation id", page) -> Page<Note> [400, 404] = conversations::list_notes;
    /// Adds an internal note to a conversation.
    post "/v1/conversations/{id}/notes" in "conversations" => create_note(id "Conversation id", body CreateNote) -> Created<Note> [404, 422] = conversations::create_note;
    /// One note.
    get "/v1/notes/{id}" in "conversations" => get_note(id "Note id") -> Note [404] = conversations::get_note;
    /// Edits a note (its author, owners and admins).
    patch "/v1/notes/{id}" in "conversations" => update_note(id "Note id", body UpdateNote) -> Note [403, 404] = conversations::update_note;
    /// Deletes a note (its author, owners and admins).
    delete "/v1/notes/{id}" in "conversations" => delete_note(id "Note id") -> NoContent [403, 404] = conversations::delete_note;
}

/// The inbox: conversations, newest activity first, with filters and cursor pagination.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])), params(("status" = Option<ConversationStatus>, Query), ("mode" = Option<ControlMode>, Query), ("channel" = Option<Channel>, Query), ("holder" = Option<String>, Query, description = "A staff id, or `me`."), ("assignee" = Option<String>, Query, description = "A staff id, or `me`."), ("customer_id" = Option<String>, Query), ("unread" = Option<bool>, Query, description = "Only conversations with unread messages."), ("label" = Option<String>, Query, description = "Only conversations with this label."), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Conversation>), (status = 400, body = protocol::ErrorBody)))]
async fn list_conversations(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<conversations::ListConversations>,
) -> Result<axum::Json<Page<Conversation>>, ApiError> {
    Ok(axum::Json(conversations::list_conversations(&state, &auth, q).await?))
}

/// A conversation's messages, a page at a time going back in time; each page is oldest first.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ("cursor" = Option<String>, Query, description = "From `older_messages_cursor` or a previous page's `next_cursor`: the messages before it (`before` is an older name for it)."), ("limit" = Option<u32>, Query, description = "1–200, default 50.")),
    responses((status = 200, body = Page<Message>), (status = 404, body = protocol::ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<conversations::ListMessages>,
) -> Result<axum::Json<Page<Message>>, ApiError> {
    Ok(axum::Json(conversations::list_messages(&state, &auth, &id, q).await?))
}
