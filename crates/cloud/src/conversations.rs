//! Conversations, their messages and internal notes: the inbox.
//!
//! The inbox lists conversations newest activity first, keyset-paginated on
//! `(last_activity_at, id)` so that a page costs the same at the top of 100k conversations as
//! anywhere else. Each conversation carries a preview of its last message and its unread count, so
//! the list never touches the messages table.


use protocol::EntityKind;
use axum::extract::State;
use axum::http::StatusCode;
use protocol::{
    AuthorKind, Channel, ControlMode, Conversation, ConversationDetail, ConversationStatus, CreateConversation, CreateNote,
    DeliveryStatus, Direction, Media, Message, MessageKind, Note, Page, UpdateConversation, UpdateNote,
};
use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{required_text, Auth, Permission};
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;
use crate::store::{bind_all, cursor, json_column, rfc3339, Bind, BusinessTx, Filter, StoreError};
use crate::legacy::{new_id, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_conversations, create_conversation))
        .routes(routes!(get_conversation, update_conversation, delete_conversation))
        .routes(routes!(list_messages))
        .routes(routes!(list_notes, create_note))
        .routes(routes!(get_note, update_note, delete_note))
}

const PREVIEW_CHARS: usize = 140;
const DETAIL_MESSAGES: i64 = 50;

const COLUMNS: &str = "id, business_id, customer_id, channel, status, mode, holder_staff_id, assignee_staff_id, \
                       last_activity_at, last_message_preview, unread_count, created_at, updated_at";

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{what} {value}"))
}

fn from_row(row: &AnyRow) -> Result<Conversation, StoreError> {
    let channel: String = row.try_get("channel")?;
    let status: String = row.try_get("status")?;
    let mode: String = row.try_get("mode")?;
    Ok(Conversation {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        customer_id: row.try_get("customer_id")?,
        channel: Channel::parse(&channel).ok_or_else(|| corrupt("channel", &channel))?,
        status: ConversationStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
        mode: ControlMode::parse(&mode).ok_or_else(|| corrupt("mode", &mode))?,
        holder_staff_id: row.try_get("holder_staff_id")?,
        assignee_staff_id: row.try_get("assignee_staff_id")?,
        last_activity_at: rfc3339(row.try_get("last_activity_at")?),
        last_message_preview: row.try_get("last_message_preview")?,
        unread_count: u32::try_from(row.try_get::<i64, _>("unread_count")?).unwrap_or(u32::MAX),
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Conversation>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM conversations WHERE id = $1 AND business_id = $2"))
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

const MESSAGE_COLUMNS: &str = "id, business_id, conversation_id, direction, author_kind, author_staff_id, body, media, \
                               provider_message_id, delivery_status, error, created_at, updated_at, kind, raw";

fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    let direction: String = row.try_get("direction")?;
    let author: String = row.try_get("author_kind")?;
    let status: String = row.try_get("delivery_status")?;
    let kind: String = row.try_get("kind")?;
    Ok(Message {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        conversation_id: row.try_get("conversation_id")?,
        direction: Direction::parse(&direction).ok_or_else(|| corrupt("direction", &direction))?,
        author_kind: AuthorKind::parse(&author).ok_or_else(|| corrupt("author_kind", &author))?,
        author_staff_id: row.try_get("author_staff_id")?,
        kind: MessageKind::parse(&kind).ok_or_else(|| corrupt("message kind", &kind))?,
        body: row.try_get("body")?,
        media: json_column::<Vec<Media>>(&row.try_get::<String, _>("media")?, "messages.media")?,
        call: if kind == "call" {
            row.try_get::<Option<String>, _>("raw")?.map(|r| json_column(&r, "messages.raw")).transpose()?
        } else {
            None
        },
        provider_message_id: row.try_get("provider_message_id")?,
        delivery_status: DeliveryStatus::parse(&status).ok_or_else(|| corrupt("delivery_status", &status))?,
        error: row.try_get("error")?,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

const NOTE_COLUMNS: &str = "id, business_id, conversation_id, author_staff_id, body, created_at, updated_at";

fn note_from_row(row: &AnyRow) -> Result<Note, StoreError> {
    Ok(Note {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        conversation_id: row.try_get("conversation_id")?,
        author_staff_id: row.try_get("author_staff_id")?,
        body: row.try_get("body")?,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

async fn load_note(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Note>, StoreError> {
    let row = sqlx::query(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE id = $1 AND business_id = $2"))
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(note_from_row).transpose()
}

// ---------------------------------------------------------------------------------------------
// Writes shared with intake, the assistant and the demo

/// The open conversation of a customer on a channel, reopened or created as needed.
pub async fn open_for(tx: &mut BusinessTx, customer_id: &str, channel: Channel) -> Result<Conversation, ApiError> {
    let business_id = tx.business_id().to_owned();
    let existing: Option<String> = sqlx::query_scalar(
        "SELECT id FROM conversations WHERE business_id = $1 AND customer_id = $2 AND channel = $3 \
         ORDER BY (CASE WHEN status = 'open' THEN 0 ELSE 1 END), last_activity_at DESC LIMIT 1",
    )
    .bind(&business_id)
    .bind(customer_id)
    .bind(channel.as_str())
    .fetch_optional(tx.conn())
    .await?;
    let now = now_ms();
    let mut changed = true;
    let id = match existing {
        Some(id) => {
            changed = sqlx::query("UPDATE conversations SET status = 'open', updated_at = $1 WHERE id = $2 AND status <> 'open'")
                .bind(now)
                .bind(&id)
                .execute(tx.conn())
                .await?
                .rows_affected()
                > 0;
            id
        }
        None => {
            let id = new_id();
            sqlx::query(
                "INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, 'open', 'ai', $5, $5, $5)",
            )
            .bind(&id)
            .bind(&business_id)
            .bind(customer_id)
            .bind(channel.as_str())
            .bind(now)
            .execute(tx.conn())
            .await?;
            id
        }
    };
    let conversation = load(tx.conn(), &business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    // Only a new or reopened conversation is news for consoles.
    if changed {
        tx.record(EntityKind::Conversation, &id, Some(&conversation)).await?;
    }
    Ok(conversation)
}

/// A new message to store in a conversation.
pub struct NewMessage {
    /// `None`: a new id. Staff replies bring the id their console made.
    pub id: Option<String>,
    pub direction: Direction,
    pub kind: MessageKind,
    /// The provider's payload, kept for kinds Switchboard cannot show.
    pub raw: Option<String>,
    pub author_kind: AuthorKind,
    pub author_staff_id: Option<String>,
    pub body: String,
    pub media: Vec<Media>,
    pub provider_message_id: Option<String>,
    pub delivery_status: DeliveryStatus,
    /// When it happened (ms); `None` is now.
    pub at_ms: Option<i64>,
}

pub async fn load_message(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Message>, StoreError> {
    let row = sqlx::query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1 AND business_id = $2"))
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(message_from_row).transpose()
}

/// Stores a message and moves the conversation's activity, preview and unread count along.
pub async fn add_message(tx: &mut BusinessTx, conversation_id: &str, new: NewMessage) -> Result<Message, ApiError> {
    let business_id = tx.business_id().to_owned();
    let id = new.id.clone().unwrap_or_else(new_id);
    let at = new.at_ms.unwrap_or_else(now_ms);
    sqlx::query(&format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14)"
    ))
    .bind(&id)
    .bind(&business_id)
    .bind(conversation_id)
    .bind(new.direction.as_str())
    .bind(new.author_kind.as_str())
    .bind(new.author_staff_id)
    .bind(&new.body)
    .bind(serde_json::to_string(&new.media).map_err(ApiError::internal)?)
    .bind(new.provider_message_id)
    .bind(new.delivery_status.as_str())
    .bind(None::<String>)
    .bind(at)
    .bind(new.kind.as_str())
    .bind(new.raw.clone())
    .execute(tx.conn())
    .await?;
    let is_event = new.kind == MessageKind::Event;
    let preview: String = if new.body.is_empty() && !new.media.is_empty() {
        format!("[{}]", new.media[0].content_type.split('/').next().unwrap_or("attachment"))
    } else {
        new.body.chars().take(PREVIEW_CHARS).collect()
    };
    let inbound = new.direction == Direction::Inbound;
    // Events (took over, handed back) are activity, but the inbox keeps showing the last thing
    // said.
    sqlx::query(
        "UPDATE conversations SET last_activity_at = $1, last_message_preview = CASE WHEN $6 = 1 THEN last_message_preview ELSE $2 END, \
         unread_count = unread_count + $3, updated_at = $1, \
         last_inbound_at = CASE WHEN $3 = 1 THEN $1 ELSE last_inbound_at END WHERE id = $4 AND business_id = $5",
    )
    .bind(at)
    .bind(preview)
    .bind(i64::from(inbound))
    .bind(conversation_id)
    .bind(&business_id)
    .bind(i64::from(is_event))
    .execute(tx.conn())
    .await?;
    let row = sqlx::query(&format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1")).bind(&id).fetch_one(tx.conn()).await?;
    let message = message_from_row(&row)?;
    tx.record(EntityKind::Message, &id, Some(&message)).await?;
    let conversation = load(tx.conn(), &business_id, conversation_id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    tx.record(EntityKind::Conversation, conversation_id, Some(&conversation)).await?;
    Ok(message)
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// Which conversations to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListConversations {
    status: Option<ConversationStatus>,
    mode: Option<ControlMode>,
    channel: Option<Channel>,
    /// A staff id, or `me`.
    holder: Option<String>,
    /// A staff id, or `me`.
    assignee: Option<String>,
    customer_id: Option<String>,
    /// Only conversations with unread messages.
    unread: Option<bool>,
    cursor: Option<String>,
    /// 1–200, default 50.
    limit: Option<u32>,
}

/// The inbox: conversations, newest activity first, with filters and cursor pagination.
#[utoipa::path(get, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])), params(ListConversations),
    responses((status = 200, body = Page<Conversation>), (status = 400, body = protocol::ErrorBody)))]
async fn list_conversations(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<ListConversations>,
) -> Result<axum::Json<Page<Conversation>>, ApiError> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200) as i64;
    let page = inbox_page(&state, &auth, &q, limit).await?;
    Ok(axum::Json(page))
}

async fn inbox_page(state: &AppState, auth: &Auth, q: &ListConversations, limit: i64) -> Result<Page<Conversation>, ApiError> {
    let mut f = Filter::default();
    f.and("business_id = ?", [Bind::Text(auth.business_id.clone())]);
    if let Some(status) = q.status {
        f.and("status = ?", [Bind::Text(status.as_str().into())]);
    }
    if let Some(mode) = q.mode {
        f.and("mode = ?", [Bind::Text(mode.as_str().into())]);
    }
    if let Some(channel) = q.channel {
        f.and("channel = ?", [Bind::Text(channel.as_str().into())]);
    }
    if let Some(holder) = &q.holder {
        let holder = if holder == "me" { auth.staff_id.clone() } else { holder.clone() };
        f.and("holder_staff_id = ?", [Bind::Text(holder)]);
    }
    if let Some(assignee) = &q.assignee {
        let assignee = if assignee == "me" { auth.staff_id.clone() } else { assignee.clone() };
        f.and("assignee_staff_id = ?", [Bind::Text(assignee)]);
    }
    if let Some(customer_id) = &q.customer_id {
        f.and("customer_id = ?", [Bind::Text(customer_id.clone())]);
    }
    if q.unread == Some(true) {
        f.and("unread_count > 0", []);
    }
    if let Some(c) = &q.cursor {
        let (ms, id) = cursor::decode(c).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is not valid."))?;
        f.and("(last_activity_at < ? OR (last_activity_at = ? AND id < ?))", [Bind::Int(ms), Bind::Int(ms), Bind::Text(id)]);
    }
    let sql = format!(
        "SELECT {COLUMNS} FROM conversations{} ORDER BY last_activity_at DESC, id DESC LIMIT ${}",
        f.where_sql(),
        f.next_placeholder()
    );
    let rows = bind_all(sqlx::query(&sql), &f.binds).bind(limit + 1).fetch_all(state.db.reader()).await?;
    let mut items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let next_cursor = if items.len() as i64 > limit {
        items.truncate(limit as usize);
        items.last().map(|c| cursor::encode(c.last_activity_at.as_millis(), &c.id))
    } else {
        None
    };
    Ok(Page { items, next_cursor })
}

/// Opens a conversation with a customer on a channel (or returns the open one).
#[utoipa::path(post, path = "/v1/conversations", tag = "conversations", security(("bearer" = [])), request_body = CreateConversation,
    responses((status = 201, body = Conversation), (status = 404, body = protocol::ErrorBody)))]
async fn create_conversation(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateConversation>,
) -> Result<(StatusCode, axum::Json<Conversation>), ApiError> {
    auth.require(Permission::HandleConversations)?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    crate::customers::load(tx.conn(), &auth.business_id, &req.customer_id).await?.ok_or_else(|| ApiError::not_found("customer"))?;
    let conversation = open_for(&mut tx, &req.customer_id, req.channel).await?;
    tx.commit_even_if_unchanged().await?;
    Ok((StatusCode::CREATED, axum::Json(conversation)))
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
    let mut conn = state.db.reader().acquire().await?;
    let conversation = load(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    let customer = customer_of(&mut conn, &conversation).await?;
    let (messages, older_messages_cursor) = message_page(&mut conn, &auth.business_id, &id, None, DETAIL_MESSAGES).await?;
    let rows = sqlx::query(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE conversation_id = $1 AND business_id = $2 ORDER BY created_at, id"))
        .bind(&id)
        .bind(&auth.business_id)
        .fetch_all(&mut *conn)
        .await?;
    let notes = rows.iter().map(note_from_row).collect::<Result<_, _>>()?;
    Ok(axum::Json(ConversationDetail { conversation, customer, messages, older_messages_cursor, notes }))
}

/// The conversation's customer, even if they were since removed from the customer list.
async fn customer_of(conn: &mut AnyConnection, conversation: &Conversation) -> Result<protocol::Customer, ApiError> {
    crate::customers::load_any(conn, &conversation.business_id, &conversation.customer_id)
        .await?
        .ok_or_else(|| ApiError::internal(StoreError::Corrupt("conversation without customer".into())))
}

/// Up to `limit` messages before `before` (newest first in the query), returned oldest first.
async fn message_page(
    conn: &mut AnyConnection,
    business_id: &str,
    conversation_id: &str,
    before: Option<(i64, String)>,
    limit: i64,
) -> Result<(Vec<Message>, Option<String>), ApiError> {
    let mut f = Filter::default();
    f.and("conversation_id = ?", [Bind::Text(conversation_id.into())]);
    f.and("business_id = ?", [Bind::Text(business_id.into())]);
    if let Some((ms, id)) = before {
        f.and("(created_at < ? OR (created_at = ? AND id < ?))", [Bind::Int(ms), Bind::Int(ms), Bind::Text(id)]);
    }
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages{} ORDER BY created_at DESC, id DESC LIMIT ${}",
        f.where_sql(),
        f.next_placeholder()
    );
    let rows = bind_all(sqlx::query(&sql), &f.binds).bind(limit + 1).fetch_all(&mut *conn).await?;
    let mut messages = rows.iter().map(message_from_row).collect::<Result<Vec<_>, _>>()?;
    let older = if messages.len() as i64 > limit {
        messages.truncate(limit as usize);
        messages.last().map(|m| cursor::encode(m.created_at.as_millis(), &m.id))
    } else {
        None
    };
    messages.reverse();
    Ok((messages, older))
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
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let conversation = apply_update(&mut tx, &auth, &id, req).await?;
    tx.commit().await?;
    Ok(axum::Json(conversation))
}

/// Resolves, reopens, marks read or (re)assigns (the REST route and sync share it).
pub async fn apply_update(tx: &mut BusinessTx, auth: &Auth, id: &str, req: UpdateConversation) -> Result<Conversation, ApiError> {
    auth.require(Permission::HandleConversations)?;
    let id = id.to_owned();
    let mut conversation = load(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    if let Some(status) = req.status {
        conversation.status = status;
    }
    if req.mark_read == Some(true) {
        conversation.unread_count = 0;
    }
    if let Some(assignee) = req.assignee_staff_id {
        if let Some(staff_id) = &assignee {
            crate::staff::require_active(tx.conn(), &auth.business_id, staff_id).await?;
        }
        conversation.assignee_staff_id = assignee;
    }
    sqlx::query(
        "UPDATE conversations SET status = $1, unread_count = $2, assignee_staff_id = $3, updated_at = $4 WHERE id = $5 AND business_id = $6",
    )
        .bind(conversation.status.as_str())
        .bind(conversation.unread_count as i64)
        .bind(conversation.assignee_staff_id.as_deref())
        .bind(now_ms())
        .bind(&id)
        .bind(&auth.business_id)
        .execute(tx.conn())
        .await?;
    let conversation = load(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    tx.record(EntityKind::Conversation, &id, Some(&conversation)).await?;
    Ok(conversation)
}

/// Deletes a conversation with its messages and notes, for good (owners and admins).
#[utoipa::path(delete, path = "/v1/conversations/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 204), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn delete_conversation(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    auth.require(Permission::DeleteData)?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    load(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    for (table, entity) in [("messages", EntityKind::Message), ("notes", EntityKind::Note)] {
        let ids: Vec<String> = sqlx::query_scalar(&format!("SELECT id FROM {table} WHERE conversation_id = $1"))
            .bind(&id)
            .fetch_all(tx.conn())
            .await?;
        for child in &ids {
            tx.record::<()>(entity, child, None).await?;
        }
        sqlx::query(&format!("DELETE FROM {table} WHERE conversation_id = $1")).bind(&id).execute(tx.conn()).await?;
    }
    sqlx::query("DELETE FROM conversations WHERE id = $1 AND business_id = $2").bind(&id).bind(&auth.business_id).execute(tx.conn()).await?;
    tx.record::<()>(EntityKind::Conversation, &id, None).await?;
    tx.audit(Some(&auth.staff_id), "conversation.deleted", Some(("conversation", &id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListMessages {
    /// From `older_messages_cursor` or a previous page's `next_cursor`: messages before it.
    before: Option<String>,
    /// 1–200, default 50.
    limit: Option<u32>,
}

/// A conversation's messages, a page at a time going back in time; each page is oldest first.
#[utoipa::path(get, path = "/v1/conversations/{id}/messages", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id"), ListMessages),
    responses((status = 200, body = Page<Message>), (status = 404, body = protocol::ErrorBody)))]
async fn list_messages(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<ListMessages>,
) -> Result<axum::Json<Page<Message>>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    load(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    let before = q
        .before
        .as_deref()
        .map(|c| cursor::decode(c).ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is not valid.")))
        .transpose()?;
    let (items, next_cursor) = message_page(&mut conn, &auth.business_id, &id, before, q.limit.unwrap_or(50).clamp(1, 200) as i64).await?;
    Ok(axum::Json(Page { items, next_cursor }))
}

/// A conversation's internal notes, oldest first (customers never see them).
#[utoipa::path(get, path = "/v1/conversations/{id}/notes", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Conversation id")),
    responses((status = 200, body = Vec<Note>), (status = 404, body = protocol::ErrorBody)))]
async fn list_notes(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Vec<Note>>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    load(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    let rows = sqlx::query(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE conversation_id = $1 AND business_id = $2 ORDER BY created_at, id"))
        .bind(&id)
        .bind(&auth.business_id)
        .fetch_all(&mut *conn)
        .await?;
    Ok(axum::Json(rows.iter().map(note_from_row).collect::<Result<_, _>>()?))
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
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let note = add_note(&mut tx, &auth, &id, None, &req.body).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, axum::Json(note)))
}

/// Adds an internal note; with `note_id` (made by a console), adding it again returns it.
pub async fn add_note(tx: &mut BusinessTx, auth: &Auth, conversation_id: &str, note_id: Option<String>, body: &str) -> Result<Note, ApiError> {
    auth.require(Permission::HandleConversations)?;
    let body = required_text(body, "body", 10_000)?;
    load(tx.conn(), &auth.business_id, conversation_id).await?.ok_or_else(|| ApiError::not_found("conversation"))?;
    if let Some(id) = &note_id {
        if let Some(existing) = load_note(tx.conn(), &auth.business_id, id).await? {
            return Ok(existing);
        }
    }
    let note_id = note_id.unwrap_or_else(new_id);
    sqlx::query(&format!("INSERT INTO notes ({NOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6)"))
        .bind(&note_id)
        .bind(&auth.business_id)
        .bind(conversation_id)
        .bind(&auth.staff_id)
        .bind(&body)
        .bind(now_ms())
        .execute(tx.conn())
        .await?;
    let note = load_note(tx.conn(), &auth.business_id, &note_id).await?.ok_or_else(|| ApiError::not_found("note"))?;
    tx.record(EntityKind::Note, &note_id, Some(&note)).await?;
    Ok(note)
}

/// One note.
#[utoipa::path(get, path = "/v1/notes/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Note id")),
    responses((status = 200, body = Note), (status = 404, body = protocol::ErrorBody)))]
async fn get_note(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Note>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(axum::Json(load_note(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("note"))?))
}

fn may_edit_note(auth: &Auth, note: &Note) -> Result<(), ApiError> {
    if note.author_staff_id == auth.staff_id || crate::accounts::role_allows(auth.role, Permission::DeleteData) {
        Ok(())
    } else {
        Err(ApiError::forbidden("Only the note's author, an owner or an admin can change it."))
    }
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
    let body = required_text(&req.body, "body", 10_000)?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let note = load_note(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("note"))?;
    may_edit_note(&auth, &note)?;
    sqlx::query("UPDATE notes SET body = $1, updated_at = $2 WHERE id = $3 AND business_id = $4")
        .bind(&body)
        .bind(now_ms())
        .bind(&id)
        .bind(&auth.business_id)
        .execute(tx.conn())
        .await?;
    let note = load_note(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("note"))?;
    tx.record(EntityKind::Note, &id, Some(&note)).await?;
    tx.commit().await?;
    Ok(axum::Json(note))
}

/// Deletes a note (its author, owners and admins).
#[utoipa::path(delete, path = "/v1/notes/{id}", tag = "conversations", security(("bearer" = [])),
    params(("id" = String, Path, description = "Note id")),
    responses((status = 204), (status = 403, body = protocol::ErrorBody), (status = 404, body = protocol::ErrorBody)))]
async fn delete_note(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let note = load_note(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("note"))?;
    may_edit_note(&auth, &note)?;
    tx.delete_row("notes", EntityKind::Note, &id).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
