//! Conversations, their messages and internal notes: the inbox.
//!
//! The inbox lists conversations newest activity first, keyset-paginated on
//! `(last_activity_at, id)` so that a page costs the same at the top of 100k conversations as
//! anywhere else. Each conversation carries a preview of its last message and its unread count, so
//! the list never touches the messages table.

pub mod takeover;

use crate::Core;
use protocol::EntityKind;
use protocol::{
    AuthorKind, Channel, ControlMode, Conversation, ConversationDetail, ConversationStatus, CreateConversation, CreateNote,
    DeliveryStatus, Direction, Media, Message, MessageKind, Note, Page, ReplyWindow, UpdateConversation, UpdateNote,
};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;

use crate::accounts::{required_text, Actor, Permission};
use crate::error::{Error, TakeoverError};
use crate::store::columns::read_row;
use crate::store::{bind_all, json_column, json_param, json_rows, rfc3339, Bind, BusinessTx, Filter, Key, Order, PageQuery, Paging, StoreError};

const PREVIEW_CHARS: usize = 140;
const DETAIL_MESSAGES: i64 = 50;

const COLUMNS: &str = "id, business_id, customer_id, channel, status, mode, holder_staff_id, assignee_staff_id, labels, escalated_at, \
                       last_activity_at, last_message_preview, unread_count, last_inbound_at, created_at, updated_at";

/// How long after the customer's last message WhatsApp lets a business write freely.
pub const WHATSAPP_WINDOW_MS: i64 = 24 * 3_600_000;

/// What staff may send in a conversation on `channel` whose customer last wrote at
/// `last_inbound_ms`: the one rule behind `whatsapp_window_closed`, shipped to consoles with the
/// conversation. SMS takes free text any time; WhatsApp (Meta's or through Twilio) takes free
/// text for 24 hours after the customer's last message and an approved template always; nothing
/// is sent into a phone call.
pub fn reply_window(channel: Channel, last_inbound_ms: Option<i64>) -> ReplyWindow {
    match channel {
        Channel::Sms => ReplyWindow { free_text: true, until: None, templates: false },
        Channel::Whatsapp | Channel::TwilioWhatsapp => ReplyWindow {
            free_text: last_inbound_ms.is_some(),
            until: last_inbound_ms.map(|at| rfc3339(at.saturating_add(WHATSAPP_WINDOW_MS))),
            templates: true,
        },
        Channel::Voice => ReplyWindow { free_text: false, until: None, templates: false },
    }
}

fn from_row(row: &AnyRow) -> Result<Conversation, StoreError> {
    let channel: Channel = row.try_get("channel")?;
    let mode: ControlMode = row.try_get("mode")?;
    Ok(read_row!(row => Conversation {
        id, business_id, customer_id, channel = channel, status, mode = mode, holder_staff_id, assignee_staff_id,
        labels: json,
        // `escalated_at` outlives a take-over (a hand-back clears it); it only means waiting while
        // nobody holds the conversation.
        needs_human_since = if mode == ControlMode::NeedsHuman { row.try_get("escalated_at")? } else { None },
        last_activity_at, last_message_preview, unread_count: int,
        reply_window = reply_window(channel, row.try_get("last_inbound_at")?),
        created_at, updated_at,
    }))
}

impl crate::store::Record for Conversation {
    const TABLE: &'static str = "conversations";
    const COLUMNS: &'static str = COLUMNS;
    const KIND: EntityKind = EntityKind::Conversation;
    const NOUN: &'static str = "conversation";

    fn from_row(row: &AnyRow) -> Result<Conversation, StoreError> {
        from_row(row)
    }
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Conversation>, StoreError> {
    crate::store::records::find(conn, business_id, id).await
}

pub(crate) const MESSAGE_COLUMNS: &str = "id, business_id, conversation_id, direction, author_kind, author_staff_id, body, media, \
                               provider_message_id, delivery_status, error, created_at, updated_at, kind, raw, automation";

pub(crate) fn message_from_row(row: &AnyRow) -> Result<Message, StoreError> {
    let kind: MessageKind = row.try_get("kind")?;
    Ok(read_row!(row => Message {
        id, business_id, conversation_id, direction, author_kind, author_staff_id, kind = kind, body, media: json,
        call = if kind == MessageKind::Call { row.try_get::<Option<String>, _>("raw")?.map(|r| json_column(&r, "Message.raw (a call)")).transpose()? } else { None },
        provider_message_id, delivery_status, error, automation, created_at, updated_at,
    }))
}

const NOTE_COLUMNS: &str = "id, business_id, conversation_id, author_staff_id, body, created_at, updated_at";

fn note_from_row(row: &AnyRow) -> Result<Note, StoreError> {
    Ok(read_row!(row => Note { id, business_id, conversation_id, author_staff_id, body, created_at, updated_at }))
}

impl crate::store::Record for Note {
    const TABLE: &'static str = "notes";
    const COLUMNS: &'static str = NOTE_COLUMNS;
    const KIND: EntityKind = EntityKind::Note;
    const NOUN: &'static str = "note";

    fn from_row(row: &AnyRow) -> Result<Note, StoreError> {
        note_from_row(row)
    }
}

// ---------------------------------------------------------------------------------------------
// Writes shared with intake, the assistant and the demo

/// The open conversation of a customer on a channel, reopened or created as needed.
pub async fn open_for(tx: &mut BusinessTx, customer_id: &str, channel: Channel) -> Result<Conversation, Error> {
    open_with_id(tx, customer_id, channel, None).await
}

/// Creates a conversation and records it (a new conversation is news for consoles and reports).
async fn create(tx: &mut BusinessTx, customer_id: &str, channel: Channel, id: String) -> Result<Conversation, Error> {
    let business_id = tx.business_id().to_owned();
    let row = sqlx::query(&format!(
        "INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, 'open', 'ai', $5, $5, $5) RETURNING {COLUMNS}"
    ))
    .bind(&id)
    .bind(&business_id)
    .bind(customer_id)
    .bind(channel.as_str())
    .bind(tx.now_ms())
    .fetch_one(tx.conn())
    .await?;
    let conversation = from_row(&row)?;
    crate::reports::outcomes::conversations_created(tx, &[(id.as_str(), channel)]).await?;
    tx.record(EntityKind::Conversation, &id, Some(&conversation)).await?;
    Ok(conversation)
}

/// As [`open_for`]; a conversation it creates gets `new_id` (a console's) when given.
pub async fn open_with_id(tx: &mut BusinessTx, customer_id: &str, channel: Channel, new_id: Option<&str>) -> Result<Conversation, Error> {
    let business_id = tx.business_id().to_owned();
    let existing = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM conversations WHERE business_id = $1 AND customer_id = $2 AND channel = $3 \
         ORDER BY (CASE WHEN status = 'open' THEN 0 ELSE 1 END), last_activity_at DESC LIMIT 1"
    ))
    .bind(&business_id)
    .bind(customer_id)
    .bind(channel.as_str())
    .fetch_optional(tx.conn())
    .await?
    .as_ref()
    .map(from_row)
    .transpose()?;
    let now = tx.now_ms();
    let (id, changed, reopened) = match existing {
        // Open already: nothing to change (the common case, one statement).
        Some(conversation) if conversation.status == ConversationStatus::Open => return Ok(conversation),
        Some(conversation) => {
            let id = conversation.id.to_string();
            let reopened = sqlx::query("UPDATE conversations SET status = 'open', updated_at = $1 WHERE id = $2 AND business_id = $3 AND status <> 'open'")
                .bind(now)
                .bind(&id)
                .bind(tx.business_id().to_owned())
                .execute(tx.conn())
                .await?
                .rows_affected()
                > 0;
            (id, reopened, reopened)
        }
        None => {
            let id = match new_id {
                Some(id) => id.to_owned(),
                None => tx.new_id::<String>(),
            };
            return create(tx, customer_id, channel, id).await;
        }
    };
    let conversation = load(tx.conn(), &business_id, &id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    // Only a new or reopened conversation is news for consoles.
    if changed {
        crate::reports::outcomes::conversation_opened(tx, &id, reopened).await?;
        tx.record(EntityKind::Conversation, &id, Some(&conversation)).await?;
    }
    Ok(conversation)
}

/// What intake needs of a customer's current conversation ([`current_for`]).
pub(crate) struct Current {
    pub id: String,
    pub status: ConversationStatus,
    last_activity_at: i64,
    /// The automation that sent the last thing we said in it (`reminder:…` for a reminder).
    pub last_automation: Option<String>,
}

/// For each customer, the conversation on `channel` that [`open_for`] would take (the open one,
/// else the one with the latest activity); customers with none on the channel are left out. At
/// most a few hundred customers. Only the columns intake compares are read: the statement runs
/// on the single SQLite writer for every batch, and each column read is copied there.
pub(crate) async fn current_for(tx: &mut BusinessTx, customer_ids: &[&str], channel: Channel) -> Result<std::collections::HashMap<String, Current>, Error> {
    let business_id = tx.business_id().to_owned();
    let mut current: std::collections::HashMap<String, Current> = std::collections::HashMap::new();
    let join = crate::store::json_join(tx.engine(), "c.customer_id", "$3");
    let sql = format!(
        "SELECT c.id, c.customer_id, c.status, c.last_activity_at, (SELECT m.automation FROM messages m WHERE m.conversation_id = c.id \
         AND m.business_id = c.business_id AND m.direction = 'outbound' AND m.kind <> 'event' ORDER BY m.created_at DESC, m.id DESC LIMIT 1) \
         FROM {} conversations c WHERE {} AND c.channel = $2 AND c.business_id = $1",
        join.0, join.1
    );
    let rows: Vec<(String, String, ConversationStatus, i64, Option<String>)> =
        sqlx::query_as(&sql).bind(&business_id).bind(channel.as_str()).bind(json_param(customer_ids)?).fetch_all(tx.conn()).await?;
    for (id, customer_id, status, last_activity_at, last_automation) in rows {
        let found = Current { id, status, last_activity_at, last_automation };
        let rank = |c: &Current| (c.status == ConversationStatus::Open, c.last_activity_at);
        match current.get(&customer_id) {
            Some(kept) if rank(kept) >= rank(&found) => {}
            _ => {
                current.insert(customer_id, found);
            }
        }
    }
    Ok(current)
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
    /// For an automated message: the rule that sent it.
    pub automation: Option<String>,
}

impl crate::store::Record for Message {
    const TABLE: &'static str = "messages";
    const COLUMNS: &'static str = MESSAGE_COLUMNS;
    const KIND: EntityKind = EntityKind::Message;
    const NOUN: &'static str = "message";

    fn from_row(row: &AnyRow) -> Result<Message, StoreError> {
        message_from_row(row)
    }
}

pub async fn load_message(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Message>, StoreError> {
    crate::store::records::find(conn, business_id, id).await
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// A new message's placeholders in `MESSAGE_COLUMNS` order: the business is `$1`, the 14 values
/// [`bind_message`] binds are `$p`… (the time twice: created and updated).
fn message_values(p: usize) -> String {
    let v: Vec<String> = (p..p + 14).map(|i| format!("${i}")).collect();
    format!("({}, $1, {}, {}, {}, {})", v[0], v[1..10].join(", "), v[10], v[10], v[11..14].join(", "))
}

/// Binds a new message's values for [`message_values`].
fn bind_message<'q>(query: Query<'q>, id: &'q str, conversation_id: &'q str, at: i64, new: &'q NewMessage) -> Result<Query<'q>, Error> {
    Ok(query
        .bind(id)
        .bind(conversation_id)
        .bind(new.direction.as_str())
        .bind(new.author_kind.as_str())
        .bind(new.author_staff_id.as_deref())
        .bind(new.body.as_str())
        .bind(serde_json::to_string(&new.media).map_err(Error::internal)?)
        .bind(new.provider_message_id.as_deref())
        .bind(new.delivery_status.as_str())
        .bind(None::<String>)
        .bind(at)
        .bind(new.kind.as_str())
        .bind(new.raw.as_deref())
        .bind(new.automation.as_deref()))
}

/// The message [`bind_message`]'s values make, as [`message_from_row`] would read it back.
fn written_message(business_id: &str, id: &str, conversation_id: &str, at: i64, new: &NewMessage) -> Result<Message, StoreError> {
    Ok(Message {
        id: id.to_owned().into(),
        business_id: business_id.to_owned().into(),
        conversation_id: conversation_id.to_owned().into(),
        direction: new.direction,
        author_kind: new.author_kind,
        author_staff_id: new.author_staff_id.clone().map(Into::into),
        kind: new.kind,
        body: new.body.clone(),
        media: new.media.clone(),
        call: match (&new.raw, new.kind) {
            (Some(raw), MessageKind::Call) => Some(json_column(raw, "messages.raw")?),
            _ => None,
        },
        provider_message_id: new.provider_message_id.clone(),
        delivery_status: new.delivery_status,
        error: None,
        automation: new.automation.clone(),
        created_at: rfc3339(at),
        updated_at: rfc3339(at),
    })
}

/// What the inbox shows of a message.
fn preview_of(new: &NewMessage) -> String {
    if new.body.is_empty() && !new.media.is_empty() {
        format!("[{}]", new.media[0].content_type.split('/').next().unwrap_or("attachment"))
    } else {
        new.body.chars().take(PREVIEW_CHARS).collect()
    }
}

/// Stores a message and moves the conversation's activity, preview and unread count along.
pub async fn add_message(tx: &mut BusinessTx, conversation_id: &str, new: NewMessage) -> Result<Message, Error> {
    let business_id = tx.business_id().to_owned();
    let id = new.id.clone().unwrap_or_else(|| tx.new_id());
    let at = new.at_ms.unwrap_or_else(|| tx.now_ms());
    let sql = format!("INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES {} RETURNING {MESSAGE_COLUMNS}", message_values(2));
    let row = bind_message(sqlx::query(&sql).bind(&business_id), &id, conversation_id, at, &new)?.fetch_one(tx.conn()).await?;
    let message = message_from_row(&row)?;
    crate::reports::outcomes::message_added(tx, conversation_id, new.author_kind, new.author_staff_id.as_deref(), new.kind, at).await?;
    let is_event = new.kind == MessageKind::Event;
    let preview = preview_of(&new);
    let inbound = new.direction == Direction::Inbound;
    // Events (took over, handed back) are activity, but the inbox keeps showing the last thing
    // said.
    let conversation = sqlx::query(&format!(
        "UPDATE conversations SET last_activity_at = $1, last_message_preview = CASE WHEN $6 = 1 THEN last_message_preview ELSE $2 END, \
         unread_count = unread_count + $3, updated_at = $1, \
         last_inbound_at = CASE WHEN $3 = 1 THEN $1 ELSE last_inbound_at END WHERE id = $4 AND business_id = $5 RETURNING {COLUMNS}"
    ))
    .bind(at)
    .bind(preview)
    .bind(i64::from(inbound))
    .bind(conversation_id)
    .bind(&business_id)
    .bind(i64::from(is_event))
    .fetch_optional(tx.conn())
    .await?
    .as_ref()
    .map(from_row)
    .transpose()?
    .ok_or_else(|| Error::NotFound("conversation"))?;
    tx.record(EntityKind::Message, &id, Some(&message)).await?;
    tx.record(EntityKind::Conversation, conversation_id, Some(&conversation)).await?;
    Ok(message)
}

/// Messages stored together (a step of automated sends, a batch of customers' messages):
/// [`MessageBatch::open`] opens a
/// conversation as [`open_for`] would for a customer known to have none on the channel,
/// [`MessageBatch::add`] takes each message as [`add_message`] would, [`MessageBatch::write`] then
/// writes the conversations, the messages and the conversations' new activity with a few
/// multi-row statements in the same transaction, and records them. Nothing in the transaction may
/// read them before then.
#[derive(Default)]
pub(crate) struct MessageBatch {
    /// Each new conversation's id, customer, channel and time.
    opened: Vec<(String, String, Channel, i64)>,
    /// Each message's id, conversation, time and what it is.
    messages: Vec<(String, String, i64, NewMessage)>,
    /// Conversations' new channel addresses (the business's number a customer wrote to).
    addresses: Vec<(String, String)>,
}

impl MessageBatch {
    /// Opens a new conversation for a customer the caller knows has none on `channel` (so it does
    /// not look again); returns its id.
    /// The conversation this batch opened for the customer on `channel`, if it did.
    pub(crate) fn opened_for(&self, customer_id: &str, channel: Channel) -> Option<&str> {
        self.opened.iter().find(|(_, c, ch, _)| c == customer_id && *ch == channel).map(|(id, ..)| id.as_str())
    }

    pub(crate) fn open(&mut self, tx: &BusinessTx, customer_id: &str, channel: Channel) -> String {
        let id: String = tx.new_id();
        self.opened.push((id.clone(), customer_id.to_owned(), channel, tx.now_ms()));
        id
    }


    /// Sets the conversation's channel address (as [`crate::channels::inbound::set_channel_address`]).
    pub(crate) fn address(&mut self, conversation_id: &str, address: &str) {
        self.addresses.retain(|(c, _)| c != conversation_id);
        self.addresses.push((conversation_id.to_owned(), address.to_owned()));
    }

    /// Takes a message (not an event: see [`add_message`] for those); returns its id.
    pub(crate) async fn add(&mut self, tx: &mut BusinessTx, conversation_id: &str, new: NewMessage) -> Result<String, Error> {
        if new.kind == MessageKind::Event {
            return Err(Error::internal(StoreError::Corrupt("timeline events are not written in a batch".into())));
        }
        let id = new.id.clone().unwrap_or_else(|| tx.new_id());
        let at = new.at_ms.unwrap_or_else(|| tx.now_ms());
        crate::reports::outcomes::message_added(tx, conversation_id, new.author_kind, new.author_staff_id.as_deref(), new.kind, at).await?;
        self.messages.push((id.clone(), conversation_id.to_owned(), at, new));
        Ok(id)
    }

    /// Writes the messages, then sets each conversation's last activity and preview (its last
    /// message's), unread count and last inbound time (as [`add_message`] does) and channel
    /// address, and records both; returns the conversations as written.
    pub(crate) async fn write(&mut self, tx: &mut BusinessTx) -> Result<Vec<Conversation>, Error> {
        let business_id = tx.business_id().to_owned();
        // New conversations first (the messages refer to them); a new conversation is news for
        // consoles and reports.
        let engine = tx.engine();
        let opened = std::mem::take(&mut self.opened);
        if !opened.is_empty() {
            #[derive(serde::Serialize)]
            struct Opened<'a> {
                id: &'a str,
                customer_id: &'a str,
                channel: &'a str,
                at: i64,
            }
            let rows: Vec<Opened> = opened.iter().map(|(id, customer_id, channel, at)| Opened { id, customer_id, channel: channel.as_str(), at: *at }).collect();
            let sql = format!(
                "INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, created_at, updated_at) \
                 SELECT value ->> 'id', $1, value ->> 'customer_id', value ->> 'channel', 'open', 'ai', CAST(value ->> 'at' AS BIGINT), \
                 CAST(value ->> 'at' AS BIGINT), CAST(value ->> 'at' AS BIGINT) FROM {} RETURNING {COLUMNS}",
                json_rows(engine, "$2")
            );
            for row in sqlx::query(&sql).bind(&business_id).bind(json_param(&rows)?).fetch_all(tx.conn()).await? {
                let conversation = from_row(&row)?;
                tx.record(EntityKind::Conversation, conversation.id.as_str(), Some(&conversation)).await?;
            }
        }
        let created: Vec<(&str, Channel)> = opened.iter().map(|(id, _, channel, _)| (id.as_str(), *channel)).collect();
        if !created.is_empty() {
            crate::reports::outcomes::conversations_created(tx, &created).await?;
        }
        let messages = std::mem::take(&mut self.messages);
        let addresses = std::mem::take(&mut self.addresses);
        // Each conversation's new state, in the order conversations were last written in: its last
        // message's time and preview, the customer's messages added and when the last came.
        struct Activity<'a> {
            id: &'a str,
            at: i64,
            preview: String,
            unread: i64,
            inbound_at: Option<i64>,
        }
        let mut last: Vec<Activity> = Vec::new();
        for (_, conversation_id, at, new) in &messages {
            let inbound = new.direction == Direction::Inbound;
            let (unread, inbound_at) = match last.iter().position(|a| a.id == conversation_id) {
                Some(i) => {
                    let before = last.remove(i);
                    (before.unread, before.inbound_at)
                }
                None => (0, None),
            };
            last.push(Activity {
                id: conversation_id.as_str(),
                at: *at,
                preview: preview_of(new),
                unread: unread + i64::from(inbound),
                inbound_at: if inbound { Some(*at) } else { inbound_at },
            });
        }
        // Every value of a new message is ours (its id too), so what was written is known without
        // reading it back.
        if !messages.is_empty() {
            #[derive(serde::Serialize)]
            struct Row<'a> {
                id: &'a str,
                conversation_id: &'a str,
                direction: &'a str,
                author_kind: &'a str,
                author_staff_id: Option<&'a str>,
                body: &'a str,
                media: String,
                provider_message_id: Option<&'a str>,
                delivery_status: &'a str,
                at: i64,
                kind: &'a str,
                raw: Option<&'a str>,
                automation: Option<&'a str>,
            }
            let rows = messages
                .iter()
                .map(|(id, conversation_id, at, new)| {
                    Ok(Row {
                        id,
                        conversation_id,
                        direction: new.direction.as_str(),
                        author_kind: new.author_kind.as_str(),
                        author_staff_id: new.author_staff_id.as_deref(),
                        body: &new.body,
                        media: serde_json::to_string(&new.media).map_err(Error::internal)?,
                        provider_message_id: new.provider_message_id.as_deref(),
                        delivery_status: new.delivery_status.as_str(),
                        at: *at,
                        kind: new.kind.as_str(),
                        raw: new.raw.as_deref(),
                        automation: new.automation.as_deref(),
                    })
                })
                .collect::<Result<Vec<Row>, Error>>()?;
            // In MESSAGE_COLUMNS order.
            let sql = format!(
                "INSERT INTO messages ({MESSAGE_COLUMNS}) SELECT value ->> 'id', $1, value ->> 'conversation_id', value ->> 'direction', \
                 value ->> 'author_kind', value ->> 'author_staff_id', value ->> 'body', value ->> 'media', value ->> 'provider_message_id', \
                 value ->> 'delivery_status', NULL, CAST(value ->> 'at' AS BIGINT), CAST(value ->> 'at' AS BIGINT), value ->> 'kind', \
                 value ->> 'raw', value ->> 'automation' FROM {}",
                json_rows(engine, "$2")
            );
            sqlx::query(&sql).bind(&business_id).bind(json_param(&rows)?).execute(tx.conn()).await?;
            for (id, conversation_id, at, new) in &messages {
                let message = written_message(&business_id, id, conversation_id, *at, new)?;
                tx.record(EntityKind::Message, id, Some(&message)).await?;
            }
        }
        let mut written = Vec::with_capacity(last.len());
        if !last.is_empty() {
            #[derive(serde::Serialize)]
            struct Row<'a> {
                id: &'a str,
                business_id: &'a str,
                at: i64,
                preview: &'a str,
                unread: i64,
                inbound_at: Option<i64>,
                address: Option<&'a str>,
            }
            let rows: Vec<Row> = last
                .iter()
                .map(|a| Row {
                    id: a.id,
                    business_id: &business_id,
                    at: a.at,
                    preview: &a.preview,
                    unread: a.unread,
                    inbound_at: a.inbound_at,
                    address: addresses.iter().find(|(c, _)| c == a.id).map(|(_, address)| address.as_str()),
                })
                .collect();
            let sql = format!(
                "WITH v AS (SELECT value ->> 'id' AS cid, value ->> 'business_id' AS bid, CAST(value ->> 'at' AS BIGINT) AS activity, value ->> 'preview' AS preview, \
                 CAST(value ->> 'unread' AS BIGINT) AS unread, CAST(value ->> 'inbound_at' AS BIGINT) AS inbound_at, value ->> 'address' AS address FROM {}) \
                 UPDATE conversations SET last_activity_at = v.activity, \
                 last_message_preview = v.preview, updated_at = v.activity, unread_count = conversations.unread_count + v.unread, \
                 last_inbound_at = COALESCE(v.inbound_at, conversations.last_inbound_at), channel_address = COALESCE(v.address, conversations.channel_address) \
                 FROM v WHERE conversations.id = v.cid AND conversations.business_id = v.bid RETURNING {COLUMNS}",
                json_rows(engine, "$1")
            );
            // The business is in each row rather than a parameter of its own: SQLite, given a
            // constant business, would scan the business's conversations for the rows' ids.
            for row in sqlx::query(&sql).bind(json_param(&rows)?).fetch_all(tx.conn()).await? {
                let conversation = from_row(&row)?;
                tx.record(EntityKind::Conversation, conversation.id.as_str(), Some(&conversation)).await?;
                written.push(conversation);
            }
        }
        Ok(written)
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// The inbox: conversations, newest activity first, keyset-paginated.
pub async fn inbox_page(state: &Core, auth: &Actor, q: &ListConversations, limit: i64) -> Result<Page<Conversation>, Error> {
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
    if let Some(label) = &q.label {
        // Labels are a JSON array of strings: look for the label's JSON text, quotes included, so
        // `vip` does not find `vip-gold`. LIKE's own wildcards in it are escaped.
        let needle = serde_json::to_string(label.trim()).map_err(Error::internal)?;
        let escaped = needle.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        f.and("labels LIKE ? ESCAPE '\\'", [Bind::Text(format!("%{escaped}%"))]);
    }
    let paging = Paging::new(q.cursor.as_deref(), Some(limit.clamp(1, i64::from(Paging::MAX_LIMIT)) as u32))?;
    paging.keyset(&mut f, "last_activity_at", "id", Order::Desc)?;
    let sql = format!("SELECT {COLUMNS} FROM conversations{}{}", f.where_sql(), paging.order_by("last_activity_at", "id", Order::Desc));
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(state.db.reader()).await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(items, |c| (Key::Int(c.last_activity_at.as_millis()), c.id.to_string())))
}

/// The conversation's customer, even if they were since removed from the customer list.
async fn customer_of(conn: &mut AnyConnection, conversation: &Conversation) -> Result<protocol::Customer, Error> {
    crate::customers::load_any(conn, &conversation.business_id, &conversation.customer_id)
        .await?
        .ok_or_else(|| Error::internal(StoreError::Corrupt("conversation without customer".into())))
}

/// Up to `limit` messages before `before` (newest first in the query), returned oldest first.
async fn message_page(
    conn: &mut AnyConnection,
    business_id: &str,
    conversation_id: &str,
    paging: &Paging,
) -> Result<(Vec<Message>, Option<String>), Error> {
    let mut f = Filter::default();
    f.and("conversation_id = ?", [Bind::Text(conversation_id.into())]);
    f.and("business_id = ?", [Bind::Text(business_id.into())]);
    paging.keyset(&mut f, "created_at", "id", Order::Desc)?;
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages{}{}", f.where_sql(), paging.order_by("created_at", "id", Order::Desc));
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(&mut *conn).await?;
    let messages = rows.iter().map(message_from_row).collect::<Result<Vec<_>, _>>()?;
    let Page { mut items, next_cursor } = paging.page(messages, |m| (Key::Int(m.created_at.as_millis()), m.id.to_string()));
    items.reverse();
    Ok((items, next_cursor))
}

/// Resolves, reopens, marks read or (re)assigns (the REST route and sync share it).
pub async fn apply_update(tx: &mut BusinessTx, auth: &Actor, id: &str, req: UpdateConversation) -> Result<Conversation, Error> {
    auth.require(Permission::HandleConversations)?;
    let id = id.to_owned();
    let mut conversation = load(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    if let Some(status) = req.status.filter(|s| *s != conversation.status) {
        crate::reports::outcomes::status_changed(tx, &id, status == ConversationStatus::Resolved, Some(&auth.staff_id)).await?;
        let action = if status == ConversationStatus::Resolved { "conversation.resolved" } else { "conversation.reopened" };
        tx.audit(Some(&auth.staff_id), action, Some(("conversation", &id)), serde_json::json!({})).await?;
    }
    if let Some(status) = req.status {
        conversation.status = status;
    }
    if req.mark_read == Some(true) {
        conversation.unread_count = 0;
    }
    if let Some(assignee) = req.assignee_staff_id {
        if let Some(staff_id) = &assignee {
            // Someone of this business who still works here; another business's staff are
            // unknown here, whatever their id.
            match crate::accounts::staff::load(tx.conn(), &auth.business_id, staff_id).await? {
                Some(s) if s.active => {}
                Some(s) => return Err(TakeoverError::AssigneeInactive { name: s.name }.into()),
                None => return Err(crate::error::BookingError::UnknownStaff.into()),
            }
        }
        if assignee != conversation.assignee_staff_id {
            tx.audit(Some(&auth.staff_id), "conversation.assigned", Some(("conversation", &id)), serde_json::json!({"assignee_staff_id": assignee}))
                .await?;
        }
        conversation.assignee_staff_id = assignee;
    }
    if let Some(labels) = req.labels {
        let labels = clean_labels(labels)?;
        audit_labels(tx, auth, &id, &conversation.labels, &labels).await?;
        conversation.labels = labels;
    }
    let labels = serde_json::to_string(&conversation.labels).map_err(Error::internal)?;
    sqlx::query(
        "UPDATE conversations SET status = $1, unread_count = $2, assignee_staff_id = $3, labels = $4, updated_at = $5 WHERE id = $6 AND business_id = $7",
    )
        .bind(conversation.status.as_str())
        .bind(conversation.unread_count as i64)
        .bind(conversation.assignee_staff_id.as_deref())
        .bind(labels)
        .bind(tx.now_ms())
        .bind(&id)
        .bind(&auth.business_id)
        .execute(tx.conn())
        .await?;
    let conversation = load(tx.conn(), &auth.business_id, &id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    tx.record(EntityKind::Conversation, &id, Some(&conversation)).await?;
    Ok(conversation)
}

/// Most labels a conversation can carry.
const MAX_LABELS: usize = 20;

/// One label as stored: trimmed, 1 to 40 characters, no control characters.
fn clean_label(label: &str) -> Result<String, Error> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 40 || label.chars().any(char::is_control) {
        return Err(Error::invalid("Each label must be 1 to 40 characters."));
    }
    Ok(label.to_owned())
}

fn clean_labels(labels: Vec<String>) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for label in labels {
        let label = clean_label(&label)?;
        if !out.contains(&label) {
            out.push(label);
        }
    }
    if out.len() > MAX_LABELS {
        return Err(Error::invalid(format!("A conversation can have at most {MAX_LABELS} labels.")));
    }
    Ok(out)
}

/// The audit line of a label change: how many were added and removed, not which (labels say
/// what a customer wrote about, and the audit log outlives an erased customer).
async fn audit_labels(tx: &mut BusinessTx, auth: &Actor, id: &str, before: &[String], after: &[String]) -> Result<(), Error> {
    let added = after.iter().filter(|l| !before.contains(l)).count();
    let removed = before.iter().filter(|l| !after.contains(l)).count();
    if added + removed > 0 {
        tx.audit(Some(&auth.staff_id), "conversation.labelled", Some(("conversation", id)), serde_json::json!({"added": added, "removed": removed}))
            .await?;
    }
    Ok(())
}

/// Adds and removes labels (the console's `label_conversation`): labels someone else added
/// meanwhile stay, so two desks labelling offline both keep theirs.
pub async fn label(tx: &mut BusinessTx, auth: &Actor, id: &str, add: &[String], remove: &[String]) -> Result<Conversation, Error> {
    auth.require(Permission::HandleConversations)?;
    let conversation = load(tx.conn(), &auth.business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let add = add.iter().map(|l| clean_label(l)).collect::<Result<Vec<_>, _>>()?;
    let remove = remove.iter().map(|l| clean_label(l)).collect::<Result<Vec<_>, _>>()?;
    let mut labels: Vec<String> = conversation.labels.iter().filter(|l| !remove.contains(l)).cloned().collect();
    labels.extend(add.into_iter().filter(|l| !remove.contains(l)));
    let labels = clean_labels(labels)?;
    if labels == conversation.labels {
        return Ok(conversation);
    }
    apply_update(tx, auth, id, UpdateConversation { labels: Some(labels), ..Default::default() }).await
}

/// Adds an internal note; with `note_id` (made by a console), adding it again returns it.
pub async fn add_note(tx: &mut BusinessTx, auth: &Actor, conversation_id: &str, note_id: Option<String>, body: &str) -> Result<Note, Error> {
    auth.require(Permission::HandleConversations)?;
    let body = required_text(body, "body", 10_000)?;
    load(tx.conn(), &auth.business_id, conversation_id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    if let Some(id) = &note_id {
        if let Some(existing) = crate::store::records::find::<Note>(tx.conn(), &auth.business_id, id).await? {
            return Ok(existing);
        }
    }
    let note_id = note_id.unwrap_or_else(|| tx.new_id());
    sqlx::query(&format!("INSERT INTO notes ({NOTE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $6)"))
        .bind(&note_id)
        .bind(&auth.business_id)
        .bind(conversation_id)
        .bind(&auth.staff_id)
        .bind(&body)
        .bind(tx.now_ms())
        .execute(tx.conn())
        .await?;
    let note = crate::store::records::get::<Note>(tx.conn(), &auth.business_id, &note_id).await?;
    tx.record(EntityKind::Note, &note_id, Some(&note)).await?;
    tx.audit(Some(&auth.staff_id), "note.added", Some(("note", &note_id)), serde_json::json!({"conversation_id": conversation_id})).await?;
    Ok(note)
}

fn may_edit_note(auth: &Actor, note: &Note) -> Result<(), Error> {
    if note.author_staff_id == auth.staff_id || crate::accounts::role_allows(auth.role, Permission::DeleteData) {
        Ok(())
    } else {
        Err(Error::Forbidden("Only the note's author, an owner or an admin can change it.".into()))
    }
}

/// Which conversations to list.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListConversations {
    pub status: Option<ConversationStatus>,
    pub mode: Option<ControlMode>,
    pub channel: Option<Channel>,
    /// A staff id, or `me`.
    pub holder: Option<String>,
    /// A staff id, or `me`.
    pub assignee: Option<String>,
    pub customer_id: Option<String>,
    /// Only conversations with unread messages.
    pub unread: Option<bool>,
    /// Only conversations with this label.
    pub label: Option<String>,
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListMessages {
    /// From `older_messages_cursor` or a previous page's `next_cursor`: the messages before it
    /// (`before` is the older name of the same parameter).
    #[serde(alias = "before")]
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// The inbox: conversations, newest activity first, with filters and cursor pagination.
pub async fn list_conversations(core: &Core, actor: &Actor, q: ListConversations) -> Result<Page<Conversation>, Error> {
    let limit = q.limit.unwrap_or(50).clamp(1, 200) as i64;
    inbox_page(core, actor, &q, limit).await
}

/// Opens a conversation with a customer on a channel (or returns the open one).
pub async fn create_conversation(core: &Core, actor: &Actor, req: CreateConversation) -> Result<Conversation, Error> {
    actor.require(Permission::HandleConversations)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    crate::customers::load(tx.conn(), &actor.business_id, &req.customer_id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    let conversation = open_for(&mut tx, &req.customer_id, req.channel).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(conversation)
}

/// One conversation with its customer, its newest messages and its notes.
pub async fn get_conversation(core: &Core, actor: &Actor, id: &str) -> Result<ConversationDetail, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let conversation = load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let customer = customer_of(&mut conn, &conversation).await?;
    let (messages, older_messages_cursor) = message_page(&mut conn, &actor.business_id, id, &Paging::new(None, Some(DETAIL_MESSAGES as u32))?).await?;
    let rows = sqlx::query(&format!("SELECT {NOTE_COLUMNS} FROM notes WHERE conversation_id = $1 AND business_id = $2 ORDER BY created_at, id"))
        .bind(id)
        .bind(&actor.business_id)
        .fetch_all(&mut *conn)
        .await?;
    let notes = rows.iter().map(note_from_row).collect::<Result<_, _>>()?;
    Ok(ConversationDetail { conversation, customer, messages, older_messages_cursor, notes })
}

/// Marks a conversation resolved or open again, or read.
pub async fn update_conversation(core: &Core, actor: &Actor, id: &str, req: UpdateConversation) -> Result<Conversation, Error> {
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let conversation = apply_update(&mut tx, actor, id, req).await?;
    tx.commit().await?;
    Ok(conversation)
}

/// Deletes a conversation with everything in it, for good (owners and admins): the same purge as
/// erasure and retention ([`crate::privacy::purge::conversations`]) — messages, notes, the media
/// they carry, unsent replies, the assistant's turns and memory, its follow-ups and text-backs
/// (a booking's reminders stay, unlinked, so nothing is sent twice).
pub async fn delete_conversation(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::DeleteData)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    load(tx.conn(), &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let removed = crate::privacy::purge::conversations(&mut tx, &[id.to_owned()]).await?;
    tx.audit(Some(&actor.staff_id), "conversation.deleted", Some(("conversation", id)), serde_json::json!({"removed": removed})).await?;
    tx.commit().await?;
    Ok(())
}

/// A conversation's messages, a page at a time going back in time; each page is oldest first.
pub async fn list_messages(core: &Core, actor: &Actor, id: &str, q: ListMessages) -> Result<Page<Message>, Error> {
    let mut conn = core.db.reader().acquire().await?;
    load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let paging = Paging::new(q.cursor.as_deref(), q.limit)?;
    let (items, next_cursor) = message_page(&mut conn, &actor.business_id, id, &paging).await?;
    Ok(Page { items, next_cursor })
}

/// A conversation's internal notes, oldest first, a page at a time (customers never see them).
pub async fn list_notes(core: &Core, actor: &Actor, id: &str, page: PageQuery) -> Result<Page<Note>, Error> {
    let paging = Paging::new(page.cursor.as_deref(), page.limit)?;
    let mut conn = core.db.reader().acquire().await?;
    load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let mut f = Filter::default();
    f.and("conversation_id = ?", [Bind::Text(id.into())]);
    f.and("business_id = ?", [Bind::Text(actor.business_id.clone())]);
    paging.keyset(&mut f, "created_at", "id", Order::Asc)?;
    let sql = format!("SELECT {NOTE_COLUMNS} FROM notes{}{}", f.where_sql(), paging.order_by("created_at", "id", Order::Asc));
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(&mut *conn).await?;
    let notes = rows.iter().map(note_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(notes, |n| (Key::Int(n.created_at.as_millis()), n.id.to_string())))
}

/// Adds an internal note to a conversation.
pub async fn create_note(core: &Core, actor: &Actor, id: &str, req: CreateNote) -> Result<Note, Error> {
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let note = add_note(&mut tx, actor, id, None, &req.body).await?;
    tx.commit().await?;
    Ok(note)
}

/// One note.
pub async fn get_note(core: &Core, actor: &Actor, id: &str) -> Result<Note, Error> {
    let mut conn = core.db.reader().acquire().await?;
    crate::store::records::get(&mut conn, &actor.business_id, id).await
}

/// Edits a note (its author, owners and admins).
pub async fn update_note(core: &Core, actor: &Actor, id: &str, req: UpdateNote) -> Result<Note, Error> {
    let body = required_text(&req.body, "body", 10_000)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let note = crate::store::records::get::<Note>(tx.conn(), &actor.business_id, id).await?;
    may_edit_note(actor, &note)?;
    sqlx::query("UPDATE notes SET body = $1, updated_at = $2 WHERE id = $3 AND business_id = $4")
        .bind(&body)
        .bind(tx.now_ms())
        .bind(id)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    let note = crate::store::records::get::<Note>(tx.conn(), &actor.business_id, id).await?;
    tx.record(EntityKind::Note, id, Some(&note)).await?;
    tx.audit(Some(&actor.staff_id), "note.updated", Some(("note", id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(note)
}

/// Deletes a note (its author, owners and admins).
pub async fn delete_note(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let note = crate::store::records::get::<Note>(tx.conn(), &actor.business_id, id).await?;
    may_edit_note(actor, &note)?;
    if tx.delete_row("notes", EntityKind::Note, id).await? {
        tx.audit(Some(&actor.staff_id), "note.deleted", Some(("note", id)), serde_json::json!({})).await?;
    }
    tx.commit().await?;
    Ok(())
}
