//! What the UI asks of the local store: the inbox, a conversation's timeline, the calendar, a
//! customer's profile and full-text search. Every answer is the mirror with the outbox laid over
//! it, so what someone just did shows at once (marked pending) and what the service refused
//! shows with its reason (a refused reply is a draft, never silently gone).

use protocol::{Booking, Conversation, Customer, EntityKind, Message, MutationOp, Note, ReplyWindow};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use serde_json::Value;
use sqlx::Row;

use crate::store::{LocalStore, OutboxEntry, StoreError};

/// Which conversations the inbox shows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum InboxFilter {
    /// Every open conversation.
    #[default]
    All,
    /// The assistant escalated and nobody has taken it yet.
    NeedsHuman,
    /// Held by me or assigned to me.
    Mine,
    /// The assistant is answering.
    Assistant,
    /// Resolved conversations.
    Resolved,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct InboxQuery {
    #[serde(default)]
    pub filter: InboxFilter,
    /// Words to find in customers' names, numbers and messages.
    #[serde(default)]
    pub search: Option<String>,
    /// Only conversations with this label.
    #[serde(default)]
    pub label: Option<String>,
    /// At most this many (default 50, at most 500).
    #[serde(default)]
    pub limit: Option<u32>,
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
}

/// Who is answering a conversation, as the front desk thinks of it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Handler {
    Assistant,
    NeedsHuman,
    Me,
    Colleague { staff_id: String, name: String },
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct InboxItem {
    pub conversation: Conversation,
    pub customer_name: String,
    pub handler: Handler,
    /// Something done here is not confirmed by the service yet.
    pub pending: bool,
    /// While it waits for a person: since when the customer has been waiting (see
    /// [`LocalStore::waiting_since`]); the UI counts the minutes from it, offline too.
    pub waiting_since: Option<protocol::Timestamp>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct InboxPage {
    pub items: Vec<InboxItem>,
    /// Pass as `after` for the next page.
    pub next: Option<String>,
}

/// A local action on a timeline item: not confirmed yet, or refused (with why).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum LocalState {
    Pending {
        #[ts(type = "number")]
        mutation_id: i64,
    },
    /// Refused by the service: kept as a draft to edit, retry or discard.
    Refused {
        #[ts(type = "number")]
        mutation_id: i64,
        code: String,
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum TimelineItem {
    Message { message: Box<Message>, author_name: Option<String>, local: Option<LocalState> },
    Note { note: Note, author_name: Option<String>, local: Option<LocalState> },
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Timeline {
    pub conversation: Conversation,
    pub customer: Option<Customer>,
    pub handler: Handler,
    /// What may be sent here now: the service's reply window (shipped with the conversation) as it
    /// stands at this moment.
    pub reply_window: ReplyWindow,
    /// A take over or hand back of mine is waiting for the service.
    pub control_pending: bool,
    /// Oldest first.
    pub items: Vec<TimelineItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CalendarEntry {
    pub booking: Booking,
    pub customer_name: String,
    pub staff_name: String,
    /// Made by the assistant (on a chat or a call): the calendar makes these stand out.
    pub by_assistant: bool,
    pub local: Option<LocalState>,
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CustomerProfile {
    pub customer: Customer,
    /// Soonest first, each with my change not yet on the service (or refused) laid over it, as
    /// on the calendar.
    pub upcoming: Vec<CalendarEntry>,
    pub past: Vec<Booking>,
    pub conversations: Vec<Conversation>,
}

/// One thing in a customer's whole history (every channel, every conversation).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum CustomerEvent {
    /// A message, call or event line of one of their conversations. `opt`: `out` or `in` when
    /// it is the customer's STOP or START (the service's keywords).
    Message { message: Box<Message>, channel: protocol::Channel, author_name: Option<String>, opt: Option<String>, local: Option<LocalState> },
    Note { note: Note, channel: protocol::Channel, author_name: Option<String>, local: Option<LocalState> },
    /// A booking, at the time it was made (its current state: moved, cancelled, confirmed).
    Booking { booking: Booking, service_name: Option<String>, staff_name: Option<String> },
}

#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CustomerTimeline {
    pub customer: Customer,
    pub conversations: Vec<Conversation>,
    /// Oldest first; at most the newest `limit`.
    pub items: Vec<CustomerEvent>,
    /// Older items were left out.
    pub more: bool,
}

/// The service's opt-out and opt-in keywords (`channels/inbound.rs`), to mark them in a history.
fn opt_keyword(body: &str) -> Option<&'static str> {
    match body.trim().to_ascii_uppercase().as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPTOUT" => Some("out"),
        "START" => Some("in"),
        _ => None,
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MessageHit {
    pub message: Message,
    pub customer_name: String,
}

fn parse<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    Ok(serde_json::from_str(text)?)
}

/// The most of a search box's text that is searched: more than anyone types into one (SQLite
/// refuses a `LIKE` pattern longer than 50,000 bytes).
const SEARCH_CHARS: usize = 200;

/// What someone typed, as searched: at most [`SEARCH_CHARS`] characters, control characters
/// (a NUL would end FTS5's query text) read as spaces.
fn search_text(input: &str) -> String {
    input.chars().take(SEARCH_CHARS).map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// FTS5 query from what someone typed: each word quoted (so `:` or `-` are just characters),
/// the last one a prefix (results while typing).
fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = search_text(input).split_whitespace().map(|w| format!("\"{}\"", w.replace('"', "\"\""))).collect();
    if words.is_empty() {
        return None;
    }
    Some(format!("{}*", words.join(" ")))
}

/// How a customer is named in lists: their name, else their number.
fn customer_name(name: Option<String>, phone: Option<String>) -> String {
    name.or(phone).unwrap_or_else(|| "Unknown customer".to_owned())
}

/// Whether the entry acts on this conversation.
fn about(e: &OutboxEntry, conversation_id: &str) -> bool {
    e.op.conversation_id().is_some_and(|c| c == conversation_id)
}

fn local_state(e: &OutboxEntry) -> LocalState {
    if e.state == "failed" {
        LocalState::Refused {
            mutation_id: e.id,
            code: e.code.map(|c| c.as_str().to_owned()).unwrap_or_default(),
            reason: e.message.clone().unwrap_or_else(|| "The service refused this.".into()),
        }
    } else {
        LocalState::Pending { mutation_id: e.id }
    }
}

/// Lays my queued changes to `booking` over it (a pending cancel, move or confirmation shows as
/// done; a refused one does not) and says which of mine is about it, pending or refused.
fn overlay_booking(booking: &mut Booking, outbox: &[OutboxEntry]) -> Option<LocalState> {
    let mut local = None;
    for e in outbox {
        let pending = e.state == "pending";
        match &e.op {
            MutationOp::CancelBooking { booking_id, .. } if *booking_id == booking.id => {
                if pending {
                    booking.status = protocol::BookingStatus::Cancelled;
                }
            }
            MutationOp::RescheduleBooking { booking_id, start, .. } if *booking_id == booking.id => {
                if pending {
                    booking.local_start = start.clone();
                }
            }
            MutationOp::ConfirmBooking { booking_id, .. } if *booking_id == booking.id => {
                if pending {
                    booking.confirmation = protocol::BookingConfirmation::Confirmed;
                }
            }
            MutationOp::CreateBooking { booking_id, .. } if *booking_id == booking.id => {}
            _ => continue,
        }
        local = Some(local_state(e));
    }
    local
}

/// A list of labels or tags with `add` and `remove` applied, as the service merges them.
fn merged(current: &[String], add: &[String], remove: &[String]) -> Vec<String> {
    let mut out: Vec<String> = current.iter().filter(|w| !remove.contains(w)).cloned().collect();
    for w in add {
        if !remove.contains(w) && !out.contains(w) {
            out.push(w.clone());
        }
    }
    out
}

/// Lays my pending tag changes over a customer from the mirror.
fn overlay_customer(c: &mut Customer, outbox: &[OutboxEntry]) {
    for e in outbox.iter().filter(|e| e.state == "pending") {
        if let MutationOp::TagCustomer { customer_id, add, remove } = &e.op {
            if *customer_id == c.id {
                c.tags = merged(&c.tags, add, remove);
            }
        }
    }
}

/// Lays the outbox's pending conversation changes over a conversation from the mirror.
fn overlay_conversation(c: &mut Conversation, outbox: &[OutboxEntry], me: &str) -> bool {
    let mut touched = false;
    for e in outbox.iter().filter(|e| e.state == "pending" && about(e, &c.id)) {
        touched = true;
        match &e.op {
            MutationOp::TakeOver { .. } => {
                c.mode = protocol::ControlMode::Human;
                c.holder_staff_id = Some(me.into());
                c.needs_human_since = None;
            }
            MutationOp::HandBack { .. } => {
                c.mode = protocol::ControlMode::Ai;
                c.holder_staff_id = None;
            }
            MutationOp::MarkRead { .. } => c.unread_count = 0,
            MutationOp::SetStatus { status, .. } => c.status = *status,
            MutationOp::Assign { staff_id, .. } => c.assignee_staff_id = staff_id.clone(),
            MutationOp::LabelConversation { add, remove, .. } => c.labels = merged(&c.labels, add, remove),
            _ => {}
        }
    }
    touched
}

impl LocalStore {
    /// A conversation started here that the service has not confirmed (or refused), shown as
    /// the person will see it once it is: theirs, open, with the first message as its preview.
    async fn started_here(&self, e: &OutboxEntry, me: &str) -> Result<Option<Conversation>, StoreError> {
        let MutationOp::StartConversation { conversation_id, customer_id, channel, body, template_id, .. } = &e.op else { return Ok(None) };
        let preview = match (body, template_id) {
            (Some(body), _) => body.clone(),
            (None, Some(t)) => self.template_body(t).await?,
            (None, None) => String::new(),
        };
        let at = e.created_at.parse().unwrap_or(protocol::Timestamp::UNIX_EPOCH);
        Ok(Some(Conversation {
            id: conversation_id.clone(),
            business_id: self.setting("business_id").await?.unwrap_or_default().into(),
            customer_id: customer_id.clone(),
            channel: *channel,
            status: protocol::ConversationStatus::Open,
            mode: protocol::ControlMode::Human,
            holder_staff_id: Some(me.into()),
            assignee_staff_id: None,
            labels: vec![],
            needs_human_since: None,
            last_activity_at: at,
            last_message_preview: preview.chars().take(140).collect(),
            unread_count: 0,
            // As the service will see it: on WhatsApp only templates until the customer writes.
            reply_window: protocol::ReplyWindow {
                free_text: !matches!(channel, protocol::Channel::Whatsapp | protocol::Channel::TwilioWhatsapp),
                until: None,
                templates: matches!(channel, protocol::Channel::Whatsapp | protocol::Channel::TwilioWhatsapp),
            },
            created_at: at,
            updated_at: at,
        }))
    }

    async fn template_body(&self, id: &str) -> Result<String, StoreError> {
        let t = self.entity(EntityKind::WhatsappTemplate, id).await?;
        Ok(t.and_then(|t| t.get("body").and_then(Value::as_str).map(str::to_owned)).unwrap_or_else(|| "WhatsApp template".into()))
    }

    /// A customer from the mirror, else one added here and not confirmed yet.
    async fn customer_or_added(&self, id: &str, outbox: &[OutboxEntry]) -> Result<Option<Customer>, StoreError> {
        if let Some(c) = self.entity(EntityKind::Customer, id).await? {
            let mut customer: Customer = serde_json::from_value(c)?;
            overlay_customer(&mut customer, outbox);
            return Ok(Some(customer));
        }
        for e in outbox {
            if let MutationOp::CreateCustomer { customer_id, customer } = &e.op {
                if customer_id == id {
                    let at = e.created_at.parse().unwrap_or(protocol::Timestamp::UNIX_EPOCH);
                    let mut added = Customer {
                        id: customer_id.clone(),
                        business_id: self.setting("business_id").await?.unwrap_or_default().into(),
                        name: customer.name.clone(),
                        phone: customer.phone.clone(),
                        whatsapp_id: customer.whatsapp_id.clone(),
                        email: customer.email.clone(),
                        tags: customer.tags.clone(),
                        notes: customer.notes.clone(),
                        opted_out_sms: false,
                        opted_out_whatsapp: false,
                        created_at: at,
                        updated_at: at,
                    };
                    overlay_customer(&mut added, outbox);
                    return Ok(Some(added));
                }
            }
        }
        Ok(None)
    }

    async fn staff_name(&self, id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.entity(EntityKind::Staff, id).await?.and_then(|s| s.get("name").and_then(Value::as_str).map(str::to_owned)))
    }

    async fn customer_name(&self, id: &str) -> Result<String, StoreError> {
        let c = self.entity(EntityKind::Customer, id).await?;
        let field = |key: &str| c.as_ref().and_then(|c| c.get(key).and_then(Value::as_str)).map(str::to_owned);
        Ok(customer_name(field("name"), field("phone")))
    }

    async fn handler(&self, c: &Conversation, me: &str) -> Result<Handler, StoreError> {
        Ok(match (c.mode, &c.holder_staff_id) {
            (protocol::ControlMode::Ai, _) => Handler::Assistant,
            (protocol::ControlMode::NeedsHuman, _) => Handler::NeedsHuman,
            (protocol::ControlMode::Human, Some(h)) if h == me => Handler::Me,
            (protocol::ControlMode::Human, Some(h)) => {
                Handler::Colleague { staff_id: h.to_string(), name: self.staff_name(h).await?.unwrap_or_else(|| "A colleague".into()) }
            }
            (protocol::ControlMode::Human, None) => Handler::NeedsHuman,
        })
    }

    /// The inbox, newest activity first, for staff member `me`.
    pub async fn inbox(&self, q: &InboxQuery, me: &str) -> Result<InboxPage, StoreError> {
        let limit = i64::from(q.limit.unwrap_or(50).clamp(1, 500));
        let outbox = self.outbox().await?;
        // The customer's name comes with the row (one query per page, not one per conversation).
        let mut sql = String::from(
            "SELECT conversations.data, conversations.last_activity_ms, conversations.id, \
             json_extract(cu.data, '$.name') AS customer_name, json_extract(cu.data, '$.phone') AS customer_phone \
             FROM conversations LEFT JOIN customers cu ON cu.id = conversations.customer_id WHERE 1 = 1",
        );
        let mut binds: Vec<String> = Vec::new();
        match q.filter {
            InboxFilter::All => sql.push_str(" AND status = 'open'"),
            InboxFilter::NeedsHuman => sql.push_str(" AND status = 'open' AND mode = 'needs_human'"),
            InboxFilter::Assistant => sql.push_str(" AND status = 'open' AND mode = 'ai'"),
            InboxFilter::Resolved => sql.push_str(" AND status = 'resolved'"),
            InboxFilter::Mine => {
                // Including what I took over a moment ago, before the service confirms it.
                let taking: Vec<&str> = outbox
                    .iter()
                    .filter_map(|e| match &e.op {
                        MutationOp::TakeOver { conversation_id } if e.state == "pending" => Some(conversation_id.as_str()),
                        _ => None,
                    })
                    .collect();
                sql.push_str(" AND status = 'open' AND ((mode = 'human' AND holder_staff_id = ?) OR assignee_staff_id = ?");
                binds.push(me.to_owned());
                binds.push(me.to_owned());
                for id in taking {
                    sql.push_str(" OR conversations.id = ?");
                    binds.push(id.to_owned());
                }
                sql.push(')');
            }
        }
        let label = q.label.as_deref().map(str::trim).filter(|l| !l.is_empty());
        if let Some(label) = label {
            // Labelled here a moment ago counts too (checked again after the overlay below).
            sql.push_str(" AND (EXISTS (SELECT 1 FROM json_each(conversations.data, '$.labels') WHERE value = ?)");
            binds.push(label.to_owned());
            for e in outbox.iter().filter(|e| e.state == "pending") {
                if let MutationOp::LabelConversation { conversation_id, add, .. } = &e.op {
                    if add.iter().any(|a| a == label) {
                        sql.push_str(" OR conversations.id = ?");
                        binds.push(conversation_id.to_string());
                    }
                }
            }
            sql.push(')');
        }
        // Waiting for a person: longest waiting first, which the mirror cannot index (it depends
        // on messages); the queue is short, so it is read whole and sorted and paged here.
        let by_waiting = q.filter == InboxFilter::NeedsHuman;
        if let Some(search) = q.search.as_deref().and_then(fts_query) {
            // Customers' tags are not in the full-text index: matched as text, customers with any
            // tags only (one pass over the customers, not one per conversation).
            sql.push_str(
                " AND (customer_id IN (SELECT c.id FROM customer_search JOIN customers c ON c.rowid = customer_search.rowid WHERE customer_search MATCH ?) \
                 OR conversations.rowid IN (SELECT rowid FROM conversation_search WHERE conversation_search MATCH ?) \
                 OR customer_id IN (SELECT t.id FROM customers t, json_each(t.data, '$.tags') j WHERE t.data LIKE '%\"tags\":[\"%' AND j.value LIKE ?))",
            );
            binds.push(search.clone());
            binds.push(search);
            binds.push(format!("%{}%", search_text(q.search.as_deref().unwrap_or_default()).trim().replace(['%', '_'], "")));
        }
        let after = q.after.as_deref().and_then(|a| a.split_once(':')).and_then(|(ms, id)| Some((ms.parse::<i64>().ok()?, id.to_owned())));
        if let Some((ms, id)) = after.clone().filter(|_| !by_waiting) {
            sql.push_str(" AND (last_activity_ms < ? OR (last_activity_ms = ? AND conversations.id < ?))");
            binds.push(ms.to_string());
            binds.push(ms.to_string());
            binds.push(id);
        }
        sql.push_str(" ORDER BY last_activity_ms DESC, conversations.id DESC LIMIT ?");
        let mut query = sqlx::query(&sql);
        for b in &binds {
            query = query.bind(b);
        }
        let rows = query.bind(if by_waiting { 5_000 } else { limit + 1 }).fetch_all(self.pool()).await?;
        let mut items = Vec::with_capacity(rows.len());
        let mut next = None;
        for (i, row) in rows.iter().enumerate() {
            if i as i64 == limit && !by_waiting {
                let last = &rows[i - 1];
                next = Some(format!("{}:{}", last.try_get::<i64, _>("last_activity_ms")?, last.try_get::<String, _>("id")?));
                break;
            }
            let mut conversation: Conversation = parse(&row.try_get::<String, _>("data")?)?;
            let pending = overlay_conversation(&mut conversation, &outbox, me);
            if label.is_some_and(|l| !conversation.labels.iter().any(|x| x == l)) {
                continue;
            }
            let handler = self.handler(&conversation, me).await?;
            let customer_name = customer_name(row.try_get("customer_name")?, row.try_get("customer_phone")?);
            let waiting_since = self.waiting_since(&conversation).await?;
            items.push(InboxItem { conversation, customer_name, handler, pending, waiting_since });
        }
        if by_waiting {
            let key = |i: &InboxItem| (i.waiting_since.map_or(i64::MAX, |t| t.as_millis()), i.conversation.id.to_string());
            items.sort_by_key(key);
            if let Some(after) = &after {
                items.retain(|i| key(i) > *after);
            }
            if items.len() as i64 > limit {
                items.truncate(limit as usize);
                next = items.last().map(|i| format!("{}:{}", key(i).0, key(i).1));
            }
        }
        // Conversations started here and not confirmed yet lead the first page.
        if q.after.is_none() && q.search.is_none() && matches!(q.filter, InboxFilter::All | InboxFilter::Mine) {
            let mut started = Vec::new();
            for e in outbox.iter().rev() {
                let Some(conversation) = self.started_here(e, me).await? else { continue };
                if self.entity(EntityKind::Conversation, &conversation.id).await?.is_some() {
                    continue;
                }
                let customer = self.customer_or_added(&conversation.customer_id, &outbox).await?;
                let customer_name = customer_name(customer.as_ref().and_then(|c| c.name.clone()), customer.and_then(|c| c.phone));
                started.push(InboxItem { conversation, customer_name, handler: Handler::Me, pending: true, waiting_since: None });
            }
            items.splice(0..0, started);
        }
        Ok(InboxPage { items, next })
    }

    /// Since when the customer of a conversation waiting for a person has been waiting: the
    /// hand-over, or their oldest message nobody has answered if that came first (they wrote
    /// while the assistant could not answer). Read from the mirror, so it holds offline; `None`
    /// for a conversation that is not waiting for a person.
    pub async fn waiting_since(&self, c: &Conversation) -> Result<Option<protocol::Timestamp>, StoreError> {
        if c.mode != protocol::ControlMode::NeedsHuman || c.status != protocol::ConversationStatus::Open {
            return Ok(None);
        }
        let unanswered: Option<i64> = sqlx::query_scalar(
            "SELECT MIN(created_ms) FROM messages WHERE conversation_id = ?1 AND json_extract(data, '$.direction') = 'inbound' \
             AND created_ms > COALESCE((SELECT MAX(created_ms) FROM messages WHERE conversation_id = ?1 \
             AND json_extract(data, '$.direction') = 'outbound' AND json_extract(data, '$.kind') <> 'event' \
             AND json_extract(data, '$.delivery_status') <> 'failed'), -1)",
        )
        .bind(c.id.as_str())
        .fetch_one(self.pool())
        .await?;
        let unanswered = unanswered.and_then(|ms| jiff::Timestamp::from_millisecond(ms).ok()).map(protocol::Timestamp::from);
        Ok(match (c.needs_human_since, unanswered) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) | (None, Some(a)) => Some(a),
            // Synced before the service shipped the hand-over time: its last change.
            (None, None) => Some(c.updated_at),
        })
    }

    /// Every label on a conversation in the mirror (and my pending ones), alphabetically.
    pub async fn labels(&self) -> Result<Vec<String>, StoreError> {
        let mut labels: Vec<String> = sqlx::query_scalar(
            "SELECT DISTINCT j.value FROM conversations, json_each(conversations.data, '$.labels') j WHERE j.type = 'text'",
        )
        .fetch_all(self.pool())
        .await?;
        for e in self.outbox().await?.iter().filter(|e| e.state == "pending") {
            if let MutationOp::LabelConversation { add, .. } = &e.op {
                labels.extend(add.iter().cloned());
            }
        }
        labels.sort_by_key(|l| l.to_lowercase());
        labels.dedup();
        Ok(labels)
    }

    /// Everything in a conversation, oldest first, with my unconfirmed replies and notes (and
    /// refused ones, as drafts) at the end.
    pub async fn timeline(&self, conversation_id: &str, me: &str) -> Result<Option<Timeline>, StoreError> {
        let outbox = self.outbox().await?;
        let mut conversation: Conversation = match self.entity(EntityKind::Conversation, conversation_id).await? {
            Some(data) => serde_json::from_value(data)?,
            None => {
                let mut started = None;
                for e in outbox.iter().filter(|e| about(e, conversation_id)) {
                    if let Some(c) = self.started_here(e, me).await? {
                        started = Some(c);
                    }
                }
                match started {
                    Some(c) => c,
                    None => return Ok(None),
                }
            }
        };
        let control_pending = outbox
            .iter()
            .any(|e| e.state == "pending" && matches!(e.op, MutationOp::TakeOver { .. } | MutationOp::HandBack { .. }) && about(e, conversation_id));
        overlay_conversation(&mut conversation, &outbox, me);
        let customer = self.customer_or_added(&conversation.customer_id, &outbox).await?;
        let mut entries: Vec<(i64, String, TimelineItem)> = Vec::new();
        let rows = sqlx::query("SELECT data, created_ms, id FROM messages WHERE conversation_id = ? ORDER BY created_ms, id")
            .bind(conversation_id)
            .fetch_all(self.pool())
            .await?;
        let mut names = std::collections::HashMap::new();
        for row in &rows {
            let message: Message = parse(&row.try_get::<String, _>("data")?)?;
            let author_name = match &message.author_staff_id {
                Some(s) => {
                    if !names.contains_key(s) {
                        names.insert(s.clone(), self.staff_name(s).await?);
                    }
                    names[s].clone()
                }
                None => None,
            };
            entries.push((row.try_get("created_ms")?, row.try_get("id")?, TimelineItem::Message { message: Box::new(message), author_name, local: None }));
        }
        let rows = sqlx::query("SELECT data, created_ms, id FROM notes WHERE conversation_id = ?").bind(conversation_id).fetch_all(self.pool()).await?;
        for row in &rows {
            let note: Note = parse(&row.try_get::<String, _>("data")?)?;
            let author_name = self.staff_name(&note.author_staff_id).await?;
            entries.push((row.try_get("created_ms")?, row.try_get("id")?, TimelineItem::Note { note, author_name, local: None }));
        }
        entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let mut items: Vec<TimelineItem> = entries.into_iter().map(|e| e.2).collect();
        let my_name = self.staff_name(me).await?;
        for e in outbox.iter().filter(|e| about(e, conversation_id)) {
            let (id, body) = match &e.op {
                MutationOp::SendMessage { message_id, body, .. } => (message_id.to_string(), Some(body.clone())),
                MutationOp::SendMedia { message_id, caption, .. } => (message_id.to_string(), Some(caption.clone())),
                MutationOp::AddNote { note_id, body, .. } => (note_id.to_string(), Some(body.clone())),
                MutationOp::UseCannedResponse { message_id, canned_response_id, .. } => (
                    message_id.to_string(),
                    self.entity(EntityKind::CannedResponse, canned_response_id).await?.and_then(|c| c.get("body").and_then(Value::as_str).map(str::to_owned)),
                ),
                MutationOp::SendTemplate { message_id, template_id, .. } => (message_id.to_string(), Some(self.template_body(template_id).await?)),
                MutationOp::StartConversation { message_id, body, template_id, .. } => (
                    message_id.to_string(),
                    match (body, template_id) {
                        (Some(body), _) => Some(body.clone()),
                        (None, Some(t)) => Some(self.template_body(t).await?),
                        (None, None) => None,
                    },
                ),
                _ => continue,
            };
            let Some(body) = body else { continue };
            let created_at = e.created_at.parse().unwrap_or(protocol::Timestamp::UNIX_EPOCH);
            // Confirmed already (the pull came before the outcome): the synced copy is shown.
            if items.iter().any(|i| matches!(i, TimelineItem::Message { message, .. } if message.id == id) || matches!(i, TimelineItem::Note { note, .. } if note.id == id)) {
                continue;
            }
            if matches!(e.op, MutationOp::AddNote { .. }) {
                let note = Note {
                    id: id.into(),
                    business_id: conversation.business_id.clone(),
                    conversation_id: conversation_id.into(),
                    author_staff_id: me.into(),
                    body,
                    created_at,
                    updated_at: created_at,
                };
                items.push(TimelineItem::Note { note, author_name: my_name.clone(), local: Some(local_state(e)) });
            } else {
                // An attachment shows from the copy this console keeps until the service has it.
                let (kind, media) = match &e.op {
                    MutationOp::SendMedia { media_id, caption, .. } => {
                        let key = format!("/v1/media/{media_id}");
                        let kept: Option<(String, Option<String>)> = sqlx::query_as("SELECT content_type, filename FROM media_cache WHERE key = ?")
                            .bind(&key)
                            .fetch_optional(self.pool())
                            .await?;
                        let (content_type, filename) = kept.unwrap_or_else(|| ("application/octet-stream".into(), None));
                        let kind = match content_type.split('/').next() {
                            Some("image") => protocol::MessageKind::Image,
                            Some("audio") => protocol::MessageKind::Audio,
                            Some("video") => protocol::MessageKind::Video,
                            _ => protocol::MessageKind::Document,
                        };
                        let caption = (!caption.is_empty()).then(|| caption.clone());
                        (kind, vec![protocol::Media { content_type, url: Some(key), filename, caption }])
                    }
                    _ => (protocol::MessageKind::Text, vec![]),
                };
                let message = Message {
                    id: id.into(),
                    business_id: conversation.business_id.clone(),
                    conversation_id: conversation_id.into(),
                    direction: protocol::Direction::Outbound,
                    author_kind: protocol::AuthorKind::Staff,
                    author_staff_id: Some(me.into()),
                    kind,
                    body,
                    media,
                    call: None,
                    automation: None,
                    provider_message_id: None,
                    delivery_status: protocol::DeliveryStatus::Pending,
                    error: None,
                    created_at,
                    updated_at: created_at,
                };
                items.push(TimelineItem::Message { message: Box::new(message), author_name: my_name.clone(), local: Some(local_state(e)) });
            }
        }
        let handler = self.handler(&conversation, me).await?;
        let reply_window = conversation.reply_window.at(jiff::Timestamp::now().into());
        Ok(Some(Timeline { conversation, customer, handler, reply_window, control_pending, items }))
    }

    /// Bookings overlapping `[from, to)` (UTC), by start, with my unconfirmed bookings,
    /// moves and cancellations laid over them.
    pub async fn calendar(&self, from: jiff::Timestamp, to: jiff::Timestamp) -> Result<Vec<CalendarEntry>, StoreError> {
        let rows = sqlx::query("SELECT data FROM bookings WHERE start_ms < ? AND end_ms > ? ORDER BY start_ms, id")
            .bind(to.as_millisecond())
            .bind(from.as_millisecond())
            .fetch_all(self.pool())
            .await?;
        let outbox = self.outbox().await?;
        let mut entries = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut booking: Booking = parse(&row.try_get::<String, _>("data")?)?;
            let local = overlay_booking(&mut booking, &outbox);
            entries.push(self.calendar_entry(booking, local).await?);
        }
        Ok(entries)
    }

    async fn calendar_entry(&self, booking: Booking, local: Option<LocalState>) -> Result<CalendarEntry, StoreError> {
        Ok(CalendarEntry {
            customer_name: self.customer_name(&booking.customer_id).await?,
            staff_name: self.staff_name(&booking.staff_id).await?.unwrap_or_default(),
            by_assistant: matches!(booking.source, protocol::BookingSource::Assistant | protocol::BookingSource::Voice),
            booking,
            local,
        })
    }

    /// A customer with their bookings (upcoming soonest first, past latest first) and
    /// conversations.
    pub async fn customer_profile(&self, id: &str) -> Result<Option<CustomerProfile>, StoreError> {
        let outbox = self.outbox().await?;
        let Some(customer) = self.customer_or_added(id, &outbox).await? else { return Ok(None) };
        let now = jiff::Timestamp::now().as_millisecond();
        let rows = sqlx::query("SELECT data, end_ms FROM bookings WHERE customer_id = ? ORDER BY start_ms").bind(id).fetch_all(self.pool()).await?;
        let (mut upcoming, mut past) = (Vec::new(), Vec::new());
        for row in &rows {
            let mut b: Booking = parse(&row.try_get::<String, _>("data")?)?;
            if row.try_get::<i64, _>("end_ms")? > now {
                // As the calendar shows it: with what I did here laid over it.
                let local = overlay_booking(&mut b, &outbox);
                upcoming.push(self.calendar_entry(b, local).await?);
            } else {
                past.push(b);
            }
        }
        past.reverse();
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT data FROM conversations WHERE customer_id = ? ORDER BY last_activity_ms DESC").bind(id).fetch_all(self.pool()).await?;
        let mut conversations: Vec<Conversation> = rows.iter().map(|r| parse(r)).collect::<Result<_, _>>()?;
        for e in &outbox {
            if let Some(c) = self.started_here(e, "").await? {
                if c.customer_id == id && !conversations.iter().any(|x| x.id == c.id) {
                    conversations.insert(0, c);
                }
            }
        }
        Ok(Some(CustomerProfile { customer, upcoming, past, conversations }))
    }

    /// Everything that happened with one customer, across channels: the messages, calls and
    /// notes of all their conversations (with my unconfirmed replies and notes) and their
    /// bookings, in one timeline, oldest first, the newest `limit` (default 300).
    pub async fn customer_timeline(&self, customer_id: &str, me: &str, limit: Option<u32>) -> Result<Option<CustomerTimeline>, StoreError> {
        let limit = i64::from(limit.unwrap_or(300).clamp(1, 2_000));
        let Some(profile) = self.customer_profile(customer_id).await? else { return Ok(None) };
        let channel_of = |id: &str| profile.conversations.iter().find(|c| c.id == id).map(|c| c.channel);
        let mut entries: Vec<(protocol::Timestamp, String, CustomerEvent)> = Vec::new();
        let mut names: std::collections::HashMap<String, Option<String>> = std::collections::HashMap::new();
        // The newest `limit` of each kind is enough to make the newest `limit` of all.
        let rows = sqlx::query(
            "SELECT m.data FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.customer_id = ? \
             ORDER BY m.created_ms DESC, m.id DESC LIMIT ?",
        )
        .bind(customer_id)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        for row in &rows {
            let message: Message = parse(&row.try_get::<String, _>("data")?)?;
            let Some(channel) = channel_of(&message.conversation_id) else { continue };
            let author_name = match &message.author_staff_id {
                Some(s) => {
                    if !names.contains_key(s.as_str()) {
                        names.insert(s.to_string(), self.staff_name(s).await?);
                    }
                    names[s.as_str()].clone()
                }
                None => None,
            };
            let opt = (message.direction == protocol::Direction::Inbound).then(|| opt_keyword(&message.body)).flatten().map(str::to_owned);
            entries.push((message.created_at, message.id.to_string(), CustomerEvent::Message { message: Box::new(message), channel, author_name, opt, local: None }));
        }
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT n.data FROM notes n JOIN conversations c ON c.id = n.conversation_id WHERE c.customer_id = ? ORDER BY n.created_ms DESC LIMIT ?",
        )
        .bind(customer_id)
        .bind(limit + 1)
        .fetch_all(self.pool())
        .await?;
        for data in &rows {
            let note: Note = parse(data)?;
            let Some(channel) = channel_of(&note.conversation_id) else { continue };
            let author_name = self.staff_name(&note.author_staff_id).await?;
            entries.push((note.created_at, note.id.to_string(), CustomerEvent::Note { note, channel, author_name, local: None }));
        }
        for booking in profile.upcoming.iter().map(|e| &e.booking).chain(profile.past.iter()) {
            let service_name = self.entity(EntityKind::Service, &booking.service_id).await?.and_then(|s| s.get("name").and_then(Value::as_str).map(str::to_owned));
            let staff_name = self.staff_name(&booking.staff_id).await?;
            entries.push((booking.created_at, booking.id.to_string(), CustomerEvent::Booking { booking: booking.clone(), service_name, staff_name }));
        }
        // What I wrote to them and the service has not confirmed: from each conversation's own
        // timeline, which lays the outbox over the mirror.
        for conversation in &profile.conversations {
            let Some(t) = self.timeline(&conversation.id, me).await? else { continue };
            for item in t.items {
                match item {
                    TimelineItem::Message { message, author_name, local: Some(local) } => entries.push((
                        message.created_at,
                        message.id.to_string(),
                        CustomerEvent::Message { message, channel: conversation.channel, author_name, opt: None, local: Some(local) },
                    )),
                    TimelineItem::Note { note, author_name, local: Some(local) } => entries.push((
                        note.created_at,
                        note.id.to_string(),
                        CustomerEvent::Note { note, channel: conversation.channel, author_name, local: Some(local) },
                    )),
                    _ => {}
                }
            }
        }
        entries.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        let more = entries.len() as i64 > limit;
        let skip = entries.len().saturating_sub(limit as usize);
        let items = entries.into_iter().skip(skip).map(|e| e.2).collect();
        Ok(Some(CustomerTimeline { customer: profile.customer, conversations: profile.conversations, items, more }))
    }

    /// Customers whose name, number or email match, best first.
    pub async fn search_customers(&self, text: &str, limit: u32) -> Result<Vec<Customer>, StoreError> {
        let Some(q) = fts_query(text) else { return Ok(vec![]) };
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT c.data FROM customer_search JOIN customers c ON c.rowid = customer_search.rowid WHERE customer_search MATCH ? ORDER BY rank LIMIT ?",
        )
        .bind(q)
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| parse(r)).collect()
    }

    /// Messages containing the words, best match first.
    pub async fn search_messages(&self, text: &str, limit: u32) -> Result<Vec<MessageHit>, StoreError> {
        let Some(q) = fts_query(text) else { return Ok(vec![]) };
        let rows = sqlx::query(
            "SELECT m.data, c.customer_id FROM message_search JOIN messages m ON m.rowid = message_search.rowid \
             LEFT JOIN conversations c ON c.id = m.conversation_id WHERE message_search MATCH ? ORDER BY rank LIMIT ?",
        )
        .bind(q)
        .bind(i64::from(limit.clamp(1, 500)))
        .fetch_all(self.pool())
        .await?;
        let mut hits = Vec::with_capacity(rows.len());
        for row in &rows {
            let message: Message = parse(&row.try_get::<String, _>("data")?)?;
            let customer_name = match row.try_get::<Option<String>, _>("customer_id")? {
                Some(c) => self.customer_name(&c).await?,
                None => String::new(),
            };
            hits.push(MessageHit { message, customer_name });
        }
        Ok(hits)
    }

    /// How many open conversations wait for a person (the tray's count).
    pub async fn needs_human_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM conversations WHERE status = 'open' AND mode = 'needs_human'").fetch_one(self.pool()).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::SyncChange;
    use serde_json::json;

    fn change(seq: i64, entity: &str, id: &str, data: Option<Value>) -> SyncChange {
        SyncChange { seq, entity: EntityKind::parse(entity).unwrap(), id: id.into(), data }
    }

    fn conversation(id: &str, at: &str) -> Value {
        json!({"id": id, "business_id": "b", "customer_id": format!("cust-{id}"), "channel": "whatsapp", "status": "open", "mode": "ai",
               "holder_staff_id": null, "assignee_staff_id": null, "last_activity_at": at, "last_message_preview": "", "unread_count": 0,
               "created_at": at, "updated_at": at})
    }

    fn message(id: &str, conversation: &str, body: &str) -> Value {
        json!({"id": id, "business_id": "b", "conversation_id": conversation, "direction": "inbound", "author_kind": "customer",
               "author_staff_id": null, "kind": "text", "body": body, "media": [], "provider_message_id": null,
               "delivery_status": "received", "error": null, "created_at": "2026-11-30T10:00:00Z", "updated_at": "2026-11-30T10:00:00Z"})
    }

    async fn found(store: &LocalStore, words: &str) -> Vec<String> {
        let q = InboxQuery { search: Some(words.into()), ..InboxQuery::default() };
        store.inbox(&q, "me").await.unwrap().items.into_iter().map(|i| i.conversation.id.to_string()).collect()
    }

    #[tokio::test]
    async fn inbox_search_follows_messages_as_they_change() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("mirror.sqlite3")).await.unwrap();
        // A message may arrive in a page before its conversation does.
        store.apply_page(&[change(1, "message", "m1", Some(message("m1", "c1", "Can I move my colour appointment?")))], 1, false).await.unwrap();
        store
            .apply_page(
                &[
                    change(2, "conversation", "c1", Some(conversation("c1", "2026-11-30T10:00:00Z"))),
                    change(3, "conversation", "c2", Some(conversation("c2", "2026-11-30T11:00:00Z"))),
                    change(4, "message", "m2", Some(message("m2", "c2", "Do you do beard trims?"))),
                ],
                4,
                true,
            )
            .await
            .unwrap();
        assert_eq!(found(&store, "colo").await, ["c1"]);
        assert_eq!(found(&store, "beard").await, ["c2"]);
        // Whatever is typed or pasted is a search, never an error.
        assert_eq!(found(&store, "beard\u{0}").await, ["c2"]);
        assert_eq!(found(&store, "beard\u{7}").await, ["c2"], "a control character is a space");
        assert!(found(&store, &"x%_\"".repeat(400_000)).await.is_empty());

        // Edited, deleted, gone with its conversation, wiped for a resync.
        store.apply_page(&[change(5, "message", "m2", Some(message("m2", "c2", "Do you do fringe trims?")))], 5, true).await.unwrap();
        assert!(found(&store, "beard").await.is_empty());
        assert_eq!(found(&store, "fringe").await, ["c2"]);
        store.apply_page(&[change(6, "message", "m2", None)], 6, true).await.unwrap();
        assert!(found(&store, "fringe").await.is_empty());
        store.apply_page(&[change(7, "conversation", "c1", None)], 7, true).await.unwrap();
        assert!(found(&store, "colour").await.is_empty());
        store.apply_page(&[change(8, "conversation", "c3", Some(conversation("c3", "2026-11-30T12:00:00Z"))), change(9, "message", "m3", Some(message("m3", "c3", "colour")))], 9, true).await.unwrap();
        assert_eq!(found(&store, "colour").await, ["c3"]);
        store.wipe_mirror().await.unwrap();
        assert!(found(&store, "colour").await.is_empty());
    }

    /// The composer gets the service's window as it stands now: open before `until`, closed
    /// after it, and an old row without a window leaves the decision to the service.
    #[tokio::test]
    async fn the_timeline_carries_the_services_reply_window_as_of_now() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("mirror.sqlite3")).await.unwrap();
        let hour = jiff::SignedDuration::from_hours(1);
        let now = jiff::Timestamp::now();
        let with_window = |id: &str, until: Option<jiff::Timestamp>| {
            let mut c = conversation(id, "2026-11-30T10:00:00Z");
            c["reply_window"] = json!({"free_text": until.is_some(), "until": until.map(|u| u.to_string()), "templates": true});
            c
        };
        let mut old = conversation("old", "2026-11-30T10:00:00Z");
        old.as_object_mut().unwrap().remove("reply_window");
        store
            .apply_page(
                &[
                    change(1, "conversation", "open", Some(with_window("open", Some(now + hour)))),
                    change(2, "conversation", "closed", Some(with_window("closed", Some(now - hour)))),
                    change(3, "conversation", "never", Some(with_window("never", None))),
                    change(4, "conversation", "old", Some(old)),
                ],
                4,
                true,
            )
            .await
            .unwrap();
        let window = async |id: &str| store.timeline(id, "me").await.unwrap().unwrap().reply_window;
        let open = window("open").await;
        assert!(open.free_text && open.templates && open.until.is_some_and(|u| u.as_jiff() > now));
        let closed = window("closed").await;
        assert!(!closed.free_text && closed.templates, "{closed:?}");
        assert!(!window("never").await.free_text);
        assert_eq!(window("old").await, ReplyWindow::default());
        assert!(ReplyWindow::default().free_text, "an old row: the service decides when the reply arrives");
    }

    #[test]
    fn typed_words_become_a_safe_prefix_query() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("hair cu").as_deref(), Some("\"hair\" \"cu\"*"));
        assert_eq!(fts_query("say \"hi\" -x").as_deref(), Some("\"say\" \"\"\"hi\"\"\" \"-x\"*"));
    }
}
