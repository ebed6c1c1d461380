//! Sending: staff replies and WhatsApp templates become a message and an outbox row in one
//! transaction; a sender worker delivers them.
//!
//! The sender claims due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances share
//! the work; SQLite has one writer), marks them `sending` with a lease, has the provider's client
//! send it (`channels::whatsapp::client`, `channels::twilio::client`, which also say whether a
//! failure is worth retrying), and records the provider's message id. Network errors, timeouts,
//! 429 and 5xx are retried with capped, jittered exponential backoff; permanent errors mark the
//! message failed with a reason in plain words. A row whose lease ran out while `sending` (the
//! process died mid-call) is never sent again — the provider may have accepted it — and is marked
//! failed with a reason that tells staff to check before resending: at most once, and never
//! silently.

use crate::Core;
use protocol::EntityKind;

use protocol::{
    AuthorKind, Channel, CreateWhatsappTemplate, DeliveryStatus, Direction, Message, MessageKind, SendMessage, SendTemplate,
    WhatsappTemplate,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::accounts::{required_text, Actor, Permission};
use crate::channels::{self, twilio, whatsapp, Outgoing, SendError};
use crate::conversations::{add_message, NewMessage};
use crate::error::{CatalogError, Error, SendRefusal};
use crate::store::columns::read_row;
use crate::store::{BusinessTx, Engine, StoreError};

const MAX_ATTEMPTS: i64 = 10;
/// Provider calls in flight at once: the providers answer in tens to hundreds of milliseconds,
/// so one at a time would cap a burst (100,000 reminders due in one minute) at a few a second.
/// On SQLite each step also waits twice for the one writer (to claim, to record), behind the
/// automations' steps while a burst is being prepared: the more a step carries, the more goes
/// out meanwhile.
const IN_FLIGHT: usize = 32;
/// Rows claimed per step: four waves of [`IN_FLIGHT`] calls, so a lease covers four provider
/// calls at their timeout for every row (as when rows were claimed and sent four at a time).
const CLAIM: i64 = 4 * IN_FLIGHT as i64;
const LEASE_MS: i64 = 120_000;


/// Everything checked before a message may be queued.
pub(crate) struct Target {
    pub(crate) conversation: protocol::Conversation,
}

pub(crate) async fn check_sendable(tx: &mut BusinessTx, conversation_id: &str, free_form: bool) -> Result<Target, Error> {
    let business_id = tx.business_id().to_owned();
    let conversation =
        crate::conversations::load(tx.conn(), &business_id, conversation_id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let customer = crate::customers::load_any(tx.conn(), &business_id, &conversation.customer_id)
        .await?
        .ok_or_else(|| Error::NotFound("customer"))?;
    let kind = channels::kind_of(conversation.channel).ok_or(SendRefusal::CannotReplyHere)?;
    // A short code or a sender's name (`VERIFY`) wrote to the business; the provider would refuse
    // anything sent back, so staff hear it now rather than as a failed message later.
    if !crate::customers::takes_answers_on(&customer, conversation.channel) {
        return Err(SendRefusal::SenderTakesNoReplies.into());
    }
    let opted_out = match conversation.channel {
        Channel::Sms => customer.opted_out_sms,
        _ => customer.opted_out_whatsapp,
    };
    if opted_out {
        return Err(SendRefusal::CustomerOptedOut.into());
    }
    let configured: Option<String> = sqlx::query_scalar("SELECT kind FROM channels WHERE business_id = $1 AND kind = $2")
        .bind(&business_id)
        .bind(kind)
        .fetch_optional(tx.conn())
        .await?;
    if configured.is_none() {
        return Err(SendRefusal::ChannelNotConfigured(kind).into());
    }
    // The rule the console shows before anyone types (`Conversation::reply_window`).
    if free_form && !conversation.reply_window.at(tx.db().now()).free_text {
        return Err(SendRefusal::WhatsappWindowClosed.into());
    }
    Ok(Target { conversation })
}

/// Stores the message and its outbox row in one transaction (REST and sync share it).
/// Returns the message, and whether this call created it (`false`: a retry with the same id).
pub(crate) async fn queue(
    tx: &mut BusinessTx,
    auth: &Actor,
    conversation_id: &str,
    client_id: Option<String>,
    body: String,
    kind: MessageKind,
    outgoing: Outgoing,
) -> Result<(bool, Message), Error> {
    if let Some(id) = &client_id {
        if uuid::Uuid::parse_str(id).is_err() {
            return Err(Error::invalid("`client_message_id` must be a UUID."));
        }
    }
    // A file is free-form too: outside WhatsApp's window only a template may go.
    let free_form = matches!(outgoing, Outgoing::Text { .. } | Outgoing::Media { .. } | Outgoing::Buttons { .. });
    // A retried request: the message exists already; answer with it, send nothing more.
    if let Some(id) = &client_id {
        if let Some(existing) = crate::conversations::load_message(tx.conn(), &auth.business_id, id).await? {
            if existing.conversation_id != conversation_id {
                return Err(Error::AlreadyExists);
            }
            return Ok((false, existing));
        }
    }
    let target = check_sendable(tx, conversation_id, free_form).await?;
    // Writing takes the conversation over from the assistant; someone else's stays theirs.
    crate::conversations::takeover::claim_for_reply(tx, conversation_id, &auth.staff_id).await?;
    let author = Author::Staff(auth.staff_id.clone());
    let message = store_outgoing(tx, conversation_id, target.conversation.channel, client_id, author, body, kind, outgoing).await?;
    Ok((true, message))
}

/// Who writes an outgoing message.
pub enum Author {
    Staff(String),
    Assistant,
    /// An automation, by the rule that sent it (`reminder:24h`).
    Automation(String),
}

/// Stores an outgoing message and its outbox entry in the caller's transaction: the one way a
/// message leaves, whoever writes it.
#[allow(clippy::too_many_arguments)]
pub async fn store_outgoing(
    tx: &mut BusinessTx,
    conversation_id: &str,
    channel: Channel,
    id: Option<String>,
    author: Author,
    body: String,
    kind: MessageKind,
    outgoing: Outgoing,
) -> Result<Message, Error> {
    let message = add_message(tx, conversation_id, outgoing_message(id, author, body, kind, &outgoing)).await?;
    let actor = message.author_staff_id.as_ref().map(|s| s.to_string());
    let outbox = outbox_row(tx, message.id.as_str(), conversation_id, channel, actor.as_deref(), message.author_kind, &outgoing).await?;
    insert_outbox(tx, &[outbox]).await?;
    Ok(message)
}

/// As [`store_outgoing`] for a batch of messages (automated sends): the message goes into
/// `messages` and its outbox entry into `outbox`, both written when the batch is
/// ([`crate::conversations::MessageBatch::write`], then [`insert_outbox`]) in the same
/// transaction. Returns the message's id.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn store_in_batch(
    tx: &mut BusinessTx,
    messages: &mut crate::conversations::MessageBatch,
    outbox: &mut Vec<OutboxRow>,
    conversation_id: &str,
    channel: Channel,
    author: Author,
    body: String,
    kind: MessageKind,
    outgoing: Outgoing,
) -> Result<String, Error> {
    let new = outgoing_message(None, author, body, kind, &outgoing);
    let (actor, author_kind) = (new.author_staff_id.clone(), new.author_kind);
    let id = messages.add(tx, conversation_id, new).await?;
    outbox.push(outbox_row(tx, &id, conversation_id, channel, actor.as_deref(), author_kind, &outgoing).await?);
    Ok(id)
}

/// An outbox entry to write in the message's transaction ([`insert_outbox`]).
pub(crate) struct OutboxRow {
    id: String,
    message_id: String,
    channel: Channel,
    request: String,
}

/// Writes outbox entries, with multi-row statements; the sender is woken when they commit (here
/// and on the other instances).
pub(crate) async fn insert_outbox(tx: &mut BusinessTx, rows: &[OutboxRow]) -> Result<(), Error> {
    if !rows.is_empty() {
        tx.wake(crate::workers::Job::Outbox);
    }
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    for chunk in rows.chunks(crate::store::rows_per_statement(4)) {
        let values: Vec<String> =
            (0..chunk.len()).map(|r| format!("(${}, $1, ${}, ${}, ${}, 'queued', $2, $2, $2)", 4 * r + 3, 4 * r + 4, 4 * r + 5, 4 * r + 6)).collect();
        let sql = format!(
            "INSERT INTO outbox (id, business_id, message_id, channel, request, status, next_attempt_at, created_at, updated_at) VALUES {}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(&business_id).bind(now);
        for row in chunk {
            query = query.bind(&row.id).bind(&row.message_id).bind(row.channel.as_str()).bind(&row.request);
        }
        query.execute(tx.conn()).await?;
    }
    Ok(())
}

/// The outgoing message to store for `outgoing`, by `author`.
fn outgoing_message(id: Option<String>, author: Author, body: String, kind: MessageKind, outgoing: &Outgoing) -> NewMessage {
    let media = match outgoing {
        Outgoing::Media { media_id, content_type, filename, caption } => vec![protocol::Media {
            content_type: content_type.clone(),
            url: Some(crate::channels::inbound::media_url(media_id)),
            filename: filename.clone(),
            caption: (!caption.is_empty()).then(|| caption.clone()),
        }],
        _ => vec![],
    };
    let (author_kind, author_staff_id, automation) = match author {
        Author::Staff(id) => (AuthorKind::Staff, Some(id), None),
        Author::Assistant => (AuthorKind::Assistant, None, None),
        Author::Automation(rule) => (AuthorKind::System, None, Some(rule)),
    };
    NewMessage {
        id,
        direction: Direction::Outbound,
        kind,
        raw: None,
        author_kind,
        author_staff_id,
        body,
        media,
        provider_message_id: None,
        delivery_status: DeliveryStatus::Pending,
        at_ms: None,
        automation,
    }
}

/// A stored message's outbox entry (for [`insert_outbox`]), and the audit entry that it was sent.
async fn outbox_row(
    tx: &mut BusinessTx,
    message_id: &str,
    conversation_id: &str,
    channel: Channel,
    actor: Option<&str>,
    author_kind: AuthorKind,
    outgoing: &Outgoing,
) -> Result<OutboxRow, Error> {
    let outbox = OutboxRow { id: tx.new_id(), message_id: message_id.to_owned(), channel, request: serde_json::to_string(outgoing).map_err(Error::internal)? };
    // Who sent what where; never the text (the audit log outlives an erased customer's messages).
    let detail = serde_json::json!({"conversation_id": conversation_id, "channel": channel.as_str(), "author": format!("{author_kind:?}").to_lowercase()});
    tx.audit(actor, "message.sent", Some(("message", message_id)), detail).await?;
    Ok(outbox)
}

/// Queues a file staff uploaded (`PUT /v1/media/{id}`) with its caption, after checking that the
/// conversation's channel takes it (REST and sync share it).
pub(crate) async fn queue_media(
    tx: &mut BusinessTx,
    auth: &Actor,
    conversation_id: &str,
    client_id: Option<String>,
    media_id: &str,
    caption: &str,
) -> Result<(bool, Message), Error> {
    auth.require(Permission::HandleConversations)?;
    let caption = caption.trim();
    if caption.chars().count() > 1024 || caption.contains('\0') {
        return Err(Error::invalid("A caption is at most 1024 characters."));
    }
    // A retried request answers the message it made, whatever happened to the file since.
    if let Some(id) = &client_id {
        if let Some(existing) = crate::conversations::load_message(tx.conn(), &auth.business_id, id).await? {
            if existing.conversation_id != conversation_id {
                return Err(Error::AlreadyExists);
            }
            return Ok((false, existing));
        }
    }
    let conversation =
        crate::conversations::load(tx.conn(), &auth.business_id, conversation_id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let file = crate::media::describe(tx.conn(), &auth.business_id, media_id).await?.ok_or(Error::NotFound("media"))?;
    if conversation.channel == Channel::Voice {
        return Err(SendRefusal::CannotReplyHere.into());
    }
    crate::media::check(conversation.channel, &file.content_type, file.size.max(0) as u64)?;
    let outgoing = Outgoing::Media {
        media_id: file.id.to_string(),
        content_type: file.content_type.clone(),
        filename: file.filename.clone(),
        caption: caption.to_owned(),
    };
    queue(tx, auth, conversation_id, client_id, caption.to_owned(), crate::media::kind_of(&file.content_type), outgoing).await
}

/// Fills in a template and queues it (REST and sync share it).
pub(crate) async fn queue_template(tx: &mut BusinessTx, auth: &Actor, id: &str, req: SendTemplate) -> Result<(bool, Message), Error> {
    auth.require(Permission::HandleConversations)?;
    // Another business's conversation is a 404 whatever the template.
    crate::conversations::load(tx.conn(), &auth.business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    let template = load_template(tx.conn(), &auth.business_id, &req.template_id)
        .await?
        .ok_or(SendRefusal::UnknownTemplate)?;
    if req.variables.len() != template.variables as usize {
        return Err(Error::invalid(format!("The template `{}` takes {} variable(s).", template.name, template.variables)));
    }
    // What WhatsApp refuses in a template's value (Meta's error 132018; Twilio's Content API the
    // same), said now rather than as a failed message later.
    for (i, v) in req.variables.iter().enumerate() {
        let problem = if v.trim().is_empty() {
            Some("is empty")
        } else if v.chars().count() > 1024 {
            Some("is longer than 1,024 characters")
        } else if v.contains(['\n', '\r', '\t']) || v.contains("     ") {
            Some("has a line break, a tab or more than four spaces in a row")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(Error::invalid(format!("Value {} of `{}` {problem}, which WhatsApp does not take.", i + 1, template.name)));
        }
    }
    let mut body = template.body.clone();
    for (i, v) in req.variables.iter().enumerate() {
        body = body.replace(&format!("{{{{{}}}}}", i + 1), v);
    }
    let outgoing = Outgoing::Template {
        name: template.name.clone(),
        language: template.language.clone(),
        variables: req.variables.clone(),
        twilio_content_sid: template.twilio_content_sid.clone(),
        body: body.clone(),
        quick_replies: vec![],
    };
    queue(tx, auth, id, req.client_message_id.map(String::from), body, MessageKind::Template, outgoing).await
}


fn count_variables(body: &str) -> u32 {
    (1..=20).take_while(|i| body.contains(&format!("{{{{{i}}}}}"))).count() as u32
}

fn template_from_row(row: &AnyRow) -> Result<WhatsappTemplate, StoreError> {
    let body: String = row.try_get("body")?;
    Ok(read_row!(row => WhatsappTemplate {
        id, name, language, variables = count_variables(&body), body = body, twilio_content_sid, created_at, updated_at,
    }))
}

async fn load_template(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<WhatsappTemplate>, StoreError> {
    let row = sqlx::query(
        "SELECT id, name, language, body, twilio_content_sid, created_at, updated_at FROM whatsapp_templates WHERE id = $1 AND business_id = $2",
    )
    .bind(id)
    .bind(business_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(template_from_row).transpose()
}

// ---------------------------------------------------------------------------------------------
// The sender

struct Claimed {
    id: String,
    business_id: String,
    message_id: String,
    channel: String,
    request: String,
    attempts: i64,
}

/// Rows that were `sending` when their lease ran out: the process died mid-call, so the provider
/// may have the message. They are never sent again; staff see why.
async fn fail_interrupted(state: &Core) -> Result<(), StoreError> {
    let stuck = sqlx::query("SELECT id, business_id, message_id FROM outbox WHERE status = 'sending' AND lease_until < $1")
        .bind(state.db.now_ms())
        .fetch_all(state.db.reader())
        .await?;
    for row in &stuck {
        let (id, business_id, message_id): (String, String, String) = (row.try_get("id")?, row.try_get("business_id")?, row.try_get("message_id")?);
        let reason = "Sending was interrupted (the service restarted), so it may or may not have reached the customer. Check with them before sending it again.";
        let result: Result<(), Error> = async {
            let mut tx = state.db.begin_business(&business_id).await?;
            let updated = sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, updated_at = $2 WHERE id = $3 AND status = 'sending'")
                .bind(reason)
                .bind(tx.now_ms())
                .bind(&id)
                .execute(tx.conn())
                .await?
                .rows_affected();
            if updated == 1 {
                mark_message(&mut tx, &message_id, Some(DeliveryStatus::Failed), None, Some(reason)).await?;
            }
            tx.commit_even_if_unchanged().await?;
            Ok(())
        }
        .await;
        if let Err(e) = result {
            tracing::error!(error = %e, outbox = %id, "could not record an interrupted send");
        }
    }
    Ok(())
}

async fn claim(state: &Core) -> Result<Vec<Claimed>, StoreError> {
    let now = state.db.now_ms();
    // Looked for through a reader first: most steps find nothing (the one after each batch, every
    // poll), and a reader does not wait for the writer that webhooks and replies need.
    let due: Option<i64> = sqlx::query_scalar("SELECT 1 FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 LIMIT 1").bind(now).fetch_optional(state.db.reader()).await?;
    if due.is_none() {
        return Ok(Vec::new());
    }
    let pick = match state.db.engine() {
        Engine::Postgres => {
            format!("SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT {CLAIM} FOR UPDATE SKIP LOCKED")
        }
        Engine::Sqlite => format!("SELECT id FROM outbox WHERE status = 'queued' AND next_attempt_at <= $1 ORDER BY next_attempt_at LIMIT {CLAIM}"),
    };
    let rows = sqlx::query(&format!(
        "UPDATE outbox SET status = 'sending', lease_until = $2, attempts = attempts + 1, updated_at = $1 WHERE id IN ({pick}) \
         RETURNING id, business_id, message_id, channel, request, attempts"
    ))
    .bind(now)
    .bind(now + LEASE_MS)
    .fetch_all(state.db.writer())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(read_row!(r => Claimed { id, business_id, message_id, channel, request, attempts }))
        })
        .collect()
}

/// Sets a message's delivery state (and provider id) and records the change. `None`: sent — unless
/// a status webhook already moved it further (delivered, read), which stays.
async fn mark_message(
    tx: &mut BusinessTx,
    message_id: &str,
    status: Option<DeliveryStatus>,
    provider_id: Option<&str>,
    error: Option<&str>,
) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let row = sqlx::query(&format!(
        "UPDATE messages SET delivery_status = COALESCE($1, CASE WHEN delivery_status = 'pending' THEN 'sent' ELSE delivery_status END), \
         provider_message_id = COALESCE($2, provider_message_id), error = $3, updated_at = $4 WHERE id = $5 AND business_id = $6 \
         RETURNING {}",
        crate::conversations::MESSAGE_COLUMNS
    ))
    .bind(status.map(|s| s.as_str()))
    .bind(provider_id)
    .bind(error)
    .bind(tx.now_ms())
    .bind(message_id)
    .bind(&business_id)
    .fetch_optional(tx.conn())
    .await?
    .ok_or_else(|| Error::NotFound("message"))?;
    let message = crate::conversations::message_from_row(&row)?;
    tx.record(EntityKind::Message, message_id, Some(&message)).await?;
    Ok(())
}

/// Who the customer is to the provider, and from which of the business's addresses.
async fn addresses(conn: &mut AnyConnection, business_id: &str, message_id: &str) -> Result<(Channel, protocol::Customer, Option<String>), Error> {
    let row = sqlx::query(
        "SELECT c.channel, c.customer_id, c.channel_address FROM messages m JOIN conversations c ON c.id = m.conversation_id AND c.business_id = m.business_id \
         WHERE m.id = $1 AND m.business_id = $2",
    )
    .bind(message_id)
    .bind(business_id)
    .fetch_one(&mut *conn)
    .await?;
    let channel = Channel::parse(&row.try_get::<String, _>("channel")?).ok_or_else(|| Error::internal(StoreError::Corrupt("channel".into())))?;
    let customer_id: String = row.try_get("customer_id")?;
    let customer = crate::customers::load_any(conn, business_id, &customer_id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    Ok((channel, customer, row.try_get("channel_address")?))
}

/// One delivery attempt, outside any transaction: the provider's client does the sending.
async fn attempt(state: &Core, row: &Claimed) -> Result<String, SendError> {
    let outgoing: Outgoing = serde_json::from_str(&row.request).map_err(|e| SendError::permanent(format!("Unreadable outbox entry: {e}")))?;
    let mut conn = state.db.reader().acquire().await.map_err(|e| SendError::internal(&e))?;
    let (channel, customer, from) = addresses(&mut conn, &row.business_id, &row.message_id).await.map_err(|e| SendError::internal(&e))?;
    // The customer may have opted out after the message was queued.
    let opted_out = match channel {
        Channel::Sms => customer.opted_out_sms,
        _ => customer.opted_out_whatsapp,
    };
    if opted_out {
        return Err(SendError::permanent("The customer opted out before it could be sent; nothing was sent."));
    }
    match channel {
        Channel::Whatsapp => whatsapp::client::deliver(state, conn, &row.business_id, &customer, &outgoing).await,
        Channel::Sms | Channel::TwilioWhatsapp => twilio::client::deliver(state, conn, &row.business_id, channel, &customer, from, &outgoing).await,
        Channel::Voice => Err(SendError::permanent("Calls cannot be replied to with a message.")),
    }
}

/// Records the outcomes of one business's attempts in one transaction (one commit for the lot,
/// not one per message).
async fn finish(state: &Core, business_id: &str, rows: &[(&Claimed, Result<String, SendError>)]) -> Result<(), Error> {
    let mut tx = state.db.begin_business(business_id).await?;
    // The messages' change-log entries and audit entries are written at commit with a statement
    // or two for the lot.
    tx.defer_changes();
    tx.defer_audit();
    // The channel's health after these sends: once per channel and outcome, not per message (the
    // same clock reading, so the result is the same).
    let mut health: Vec<(&'static str, bool)> = Vec::new();
    for (row, outcome) in rows {
        record(state, &mut tx, row, outcome, &mut health).await?;
    }
    // The rows that went, and their messages: a statement or two for all of them.
    let sent: Vec<(&Claimed, &str)> = rows.iter().filter_map(|(row, outcome)| outcome.as_ref().ok().map(|id| (*row, id.as_str()))).collect();
    for chunk in sent.chunks(crate::store::rows_per_statement(2)) {
        mark_sent(&mut tx, chunk).await?;
    }
    tx.commit_even_if_unchanged().await?;
    Ok(())
}

/// Outbox rows the provider took (with the provider's message ids): the rows say `sent`, and so
/// do their messages — unless a status webhook already moved one further (delivered, read), which
/// stays — with the provider's ids; the messages are recorded. An id another message of the
/// business already has (a provider, or a sandbox, that gave it twice) is not taken again: the
/// message is sent all the same, and the row is not left `sending` to fail later as interrupted.
async fn mark_sent(tx: &mut BusinessTx, sent: &[(&Claimed, &str)]) -> Result<(), Error> {
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    let list: Vec<String> = (0..sent.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!("UPDATE outbox SET status = 'sent', lease_until = NULL, last_error = NULL, updated_at = $1 WHERE id IN ({})", list.join(", "));
    let mut query = sqlx::query(&sql).bind(now);
    for (row, _) in sent {
        query = query.bind(row.id.as_str());
    }
    query.execute(tx.conn()).await?;
    let values: Vec<String> = (0..sent.len()).map(|i| format!("(CAST(${} AS TEXT), CAST(${} AS TEXT))", 2 * i + 3, 2 * i + 4)).collect();
    let sql = format!(
        "WITH v (mid, pid) AS (VALUES {}) UPDATE messages SET \
         delivery_status = CASE WHEN delivery_status = 'pending' THEN 'sent' ELSE delivery_status END, \
         provider_message_id = CASE WHEN EXISTS (SELECT 1 FROM messages o WHERE o.business_id = $2 AND o.provider_message_id = v.pid) \
                               THEN provider_message_id ELSE COALESCE(v.pid, provider_message_id) END, \
         error = NULL, updated_at = $1 \
         FROM v WHERE messages.id = v.mid AND messages.business_id = $2 RETURNING {}",
        values.join(", "),
        crate::conversations::MESSAGE_COLUMNS
    );
    let mut query = sqlx::query(&sql).bind(now).bind(&business_id);
    // An id given twice within these sends is kept by the first of them only (the statement
    // checks the others already stored, not each other).
    let mut seen = std::collections::HashSet::new();
    for (row, provider_id) in sent {
        let provider_id = seen.insert(*provider_id).then_some(*provider_id);
        if provider_id.is_none() {
            tracing::warn!(message = %row.message_id, "the provider gave an id it had given another message; kept without it");
        }
        query = query.bind(row.message_id.as_str()).bind(provider_id);
    }
    for row in query.fetch_all(tx.conn()).await? {
        let message = crate::conversations::message_from_row(&row)?;
        tx.record(EntityKind::Message, message.id.as_str(), Some(&message)).await?;
    }
    Ok(())
}

/// What one attempt came to: sent (with the provider's id), queued again with backoff, or failed
/// with the reason in plain words.
async fn record(
    state: &Core,
    tx: &mut BusinessTx,
    row: &Claimed,
    outcome: &Result<String, SendError>,
    health: &mut Vec<(&'static str, bool)>,
) -> Result<(), Error> {
    let kind = Channel::parse(&row.channel).and_then(channels::kind_of).unwrap_or(twilio::KIND);
    let now = tx.now_ms();
    // `false`: this transaction already recorded the same health for the channel.
    let mut healthy = |ok: bool| {
        let changed = !health.contains(&(kind, ok));
        health.retain(|(k, _)| *k != kind);
        health.push((kind, ok));
        changed
    };
    match outcome {
        // (The row and its message are marked sent by `finish`, with the others that went.)
        Ok(_) => {
            if healthy(true) {
                channels::record_health(tx.conn(), now, &row.business_id, kind, None).await?;
            }
        }
        Err(SendError::Retryable(why)) if row.attempts < MAX_ATTEMPTS => {
            let next = now + crate::workers::backoff_ms(row.attempts, state.config.outbox_retry_base_ms, 5 * 60_000);
            sqlx::query("UPDATE outbox SET status = 'queued', lease_until = NULL, last_error = $1, next_attempt_at = $2, updated_at = $3 WHERE id = $4")
                .bind(why)
                .bind(next)
                .bind(now)
                .bind(&row.id)
                .execute(tx.conn())
                .await?;
            healthy(false);
            channels::record_health(tx.conn(), now, &row.business_id, kind, Some(why)).await?;
            tracing::warn!(outbox = %row.id, attempt = row.attempts, reason = %why, "send failed; will retry");
        }
        Err(error) => {
            let (reason, channel_problem) = match error {
                SendError::Permanent { reason, channel } => (reason.clone(), *channel),
                SendError::Retryable(why) => (format!("The provider kept failing ({why}); it was not sent after {} tries.", row.attempts), false),
            };
            sqlx::query("UPDATE outbox SET status = 'failed', lease_until = NULL, last_error = $1, updated_at = $2 WHERE id = $3")
                .bind(&reason)
                .bind(now)
                .bind(&row.id)
                .execute(tx.conn())
                .await?;
            mark_message(tx, &row.message_id, Some(DeliveryStatus::Failed), None, Some(&reason)).await?;
            if channel_problem {
                healthy(false);
                channels::record_health(tx.conn(), now, &row.business_id, kind, Some(&reason)).await?;
            }
            tx.audit(None, "message.failed", Some(("message", &row.message_id)), json!({"reason": reason})).await?;
        }
    }
    Ok(())
}

/// Sends what is due; returns how many rows were attempted. [`IN_FLIGHT`] provider calls run at
/// once; the outcomes are then recorded with one transaction per business — or, if that
/// fails, one per row, so one bad row does not undo the others' records.
pub async fn send_due(state: &Core) -> Result<usize, StoreError> {
    fail_interrupted(state).await?;
    let claimed = claim(state).await?;
    let mut outcomes: Vec<(&Claimed, Result<String, SendError>)> = Vec::with_capacity(claimed.len());
    for wave in claimed.chunks(IN_FLIGHT) {
        let attempts: Vec<_> = wave.iter().map(|row| attempt(state, row)).collect();
        outcomes.extend(wave.iter().zip(futures_util::future::join_all(attempts).await));
    }
    let mut by_business: std::collections::BTreeMap<&str, Vec<(&Claimed, Result<String, SendError>)>> = Default::default();
    for (row, outcome) in outcomes {
        by_business.entry(row.business_id.as_str()).or_default().push((row, outcome));
    }
    for (business_id, rows) in by_business {
        if let Err(e) = finish(state, business_id, &rows).await {
            tracing::warn!(error = %e, business = %business_id, "could not record a batch of sends; recording them one by one");
            for (row, outcome) in rows {
                if let Err(e) = finish(state, business_id, &[(row, outcome)]).await {
                    // The row stays `sending`; when its lease runs out it is failed as interrupted.
                    tracing::error!(error = %e, outbox = %row.id, "could not record a send");
                }
            }
        }
    }
    Ok(claimed.len())
}


/// Replies to the customer, taking the conversation over from the assistant (409
/// `already_held`, naming the holder, if another person has it). Refused before anything is sent
/// when the customer opted out
/// (`customer_opted_out`), the channel is not connected (`channel_not_configured`) or WhatsApp's
/// 24-hour window is closed (`whatsapp_window_closed`: send a template instead). The message is
/// `pending` until the provider takes it, then `sent`, `delivered`, `read` — or `failed`, with
/// the reason in `error`.
/// `true` with the message when this call created it; `false` for a retry with the same id.
pub async fn send_message(core: &Core, actor: &Actor, id: &str, req: SendMessage) -> Result<(bool, Message), Error> {
    actor.require(Permission::HandleConversations)?;
    if let Some(media_id) = &req.media_id {
        let mut tx = core.db.begin_business(&actor.business_id).await?;
        let queued = queue_media(&mut tx, actor, id, req.client_message_id.map(String::from), media_id, &req.body).await?;
        tx.commit_even_if_unchanged().await?;
        return Ok(queued);
    }
    let body = required_text(&req.body, "body", 4096)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let queued = queue(&mut tx, actor, id, req.client_message_id.map(String::from), body.clone(), MessageKind::Text, Outgoing::Text { body }).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(queued)
}

/// Sends an approved WhatsApp template, with its variables filled in.
/// As [`send_message`].
pub async fn send_template(core: &Core, actor: &Actor, id: &str, req: SendTemplate) -> Result<(bool, Message), Error> {
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let queued = queue_template(&mut tx, actor, id, req).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(queued)
}

/// Approved WhatsApp templates, by name, a page at a time.
pub async fn list_templates(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<WhatsappTemplate>, Error> {
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let rows = sqlx::query(
        "SELECT id, name, language, body, twilio_content_sid, created_at, updated_at FROM whatsapp_templates WHERE business_id = $1 ORDER BY name, language",
    )
    .bind(&actor.business_id)
    .fetch_all(core.db.reader())
    .await?;
    let templates = rows.iter().map(template_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page_of(templates, crate::store::Order::Asc, |t| (crate::store::Key::Text(t.name.clone()), t.id.to_string()))?)
}

/// Records a template Meta has approved, so staff can send it (owners and admins).
pub async fn create_template(core: &Core, actor: &Actor, req: CreateWhatsappTemplate) -> Result<WhatsappTemplate, Error> {
    actor.require(Permission::ManageCatalog)?;
    let name = required_text(&req.name, "name", 512)?;
    if !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_') {
        return Err(Error::invalid("Template names are lower-case letters, digits and `_`, exactly as approved by Meta."));
    }
    let language = required_text(&req.language, "language", 16)?;
    let body = required_text(&req.body, "body", 1024)?;
    let id = core.db.new_id::<String>();
    let now = core.db.now_ms();
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    sqlx::query(
        "INSERT INTO whatsapp_templates (id, business_id, name, language, body, twilio_content_sid, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
    )
    .bind(&id)
    .bind(&actor.business_id)
    .bind(&name)
    .bind(&language)
    .bind(&body)
    .bind(req.twilio_content_sid.clone())
    .bind(now)
    .execute(tx.conn())
    .await
    .map_err(|e| match StoreError::from(e) {
        e if e.is_unique_violation() => Error::from(CatalogError::TemplateExists),
        e => e.into(),
    })?;
    let template = load_template(tx.conn(), &actor.business_id, &id).await?.ok_or_else(|| Error::NotFound("template"))?;
    tx.record(EntityKind::WhatsappTemplate, &id, Some(&template)).await?;
    tx.audit(Some(&actor.staff_id), "whatsapp_template.created", Some(("whatsapp_template", &id)), json!({"name": name, "language": language})).await?;
    tx.commit().await?;
    Ok(template)
}

/// Forgets a template.
pub async fn delete_template(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::ManageCatalog)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    if !tx.delete_row("whatsapp_templates", EntityKind::WhatsappTemplate, id).await? {
        return Err(Error::NotFound("template"));
    }
    tx.audit(Some(&actor.staff_id), "whatsapp_template.deleted", Some(("whatsapp_template", id)), json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// A photo, voice note or document a customer sent, as fetched from the provider and kept:
/// its content type and bytes.
pub async fn media(core: &Core, actor: &Actor, id: &str) -> Result<(String, Vec<u8>), Error> {
    let (file, bytes) = crate::media::read(core, actor, id).await?;
    Ok((file.content_type, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_variables_are_counted() {
        assert_eq!(count_variables("Hi {{1}}, your {{2}} is at {{3}}."), 3);
        assert_eq!(count_variables("No variables."), 0);
    }
}
