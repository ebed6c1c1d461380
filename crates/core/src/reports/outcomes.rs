//! The outcomes record: what happened to conversations and bookings, appended in the same
//! business transaction as the change it records, so a figure can never count something that was
//! rolled back nor miss something that was committed. Rows are only ever inserted; the reports
//! ([`super::metrics`]) are computed from them, and `docs/metrics.md` defines each figure.
//!
//! The write paths call the functions here: [`conversations_created`] / [`conversation_opened`] from `open_for`,
//! [`message_added`] from `add_message`, [`handed_over`] / [`taken_over`] from takeover,
//! [`status_changed`] from resolving or reopening, [`booking_changed`] from bookings, all through
//! [`record`], which also refreshes the episode's or booking's summary ([`super::summaries`]) in
//! the same transaction. The automations' kinds are not part of any episode or booking summary
//! (the reports read them by kind and time): [`automations_sent`] after a step of due runs,
//! [`missed_call`] when a call goes unanswered, [`reminder_reply`] when a reply to a reminder
//! confirms or cancels, and [`booking_changed`] records a missed call as `recovered` by the
//! customer's first booking within 7 days.

use std::collections::HashMap;
use protocol::{BookingSource, BookingStatus, Channel};

use crate::store::{BusinessTx, StoreError};

/// What happened. Stored as its text; new kinds need no migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutcomeKind {
    ConversationOpened,
    ConversationReopened,
    /// The first reply by a person in an episode.
    FirstHumanReply,
    /// A later reply by a person.
    HumanReply,
    AiReply,
    /// The assistant asked for a person (or is switched off, so a person is needed).
    HandedOver,
    /// A person stepped in while the assistant was answering.
    TakenOver,
    Resolved,
    BookingMade,
    BookingMoved,
    BookingCancelled,
    BookingCompleted,
    BookingNoShow,
    // Written by reminders and missed-call recovery (their areas call `record`).
    ReminderSent,
    ReminderConfirmed,
    ReminderCancelled,
    MissedCall,
    TextBack,
    Recovered,
}

impl OutcomeKind {
    pub const ALL: &'static [OutcomeKind] = &[
        OutcomeKind::ConversationOpened,
        OutcomeKind::ConversationReopened,
        OutcomeKind::FirstHumanReply,
        OutcomeKind::HumanReply,
        OutcomeKind::AiReply,
        OutcomeKind::HandedOver,
        OutcomeKind::TakenOver,
        OutcomeKind::Resolved,
        OutcomeKind::BookingMade,
        OutcomeKind::BookingMoved,
        OutcomeKind::BookingCancelled,
        OutcomeKind::BookingCompleted,
        OutcomeKind::BookingNoShow,
        OutcomeKind::ReminderSent,
        OutcomeKind::ReminderConfirmed,
        OutcomeKind::ReminderCancelled,
        OutcomeKind::MissedCall,
        OutcomeKind::TextBack,
        OutcomeKind::Recovered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OutcomeKind::ConversationOpened => "conversation_opened",
            OutcomeKind::ConversationReopened => "conversation_reopened",
            OutcomeKind::FirstHumanReply => "first_human_reply",
            OutcomeKind::HumanReply => "human_reply",
            OutcomeKind::AiReply => "ai_reply",
            OutcomeKind::HandedOver => "handed_over",
            OutcomeKind::TakenOver => "taken_over",
            OutcomeKind::Resolved => "resolved",
            OutcomeKind::BookingMade => "booking_made",
            OutcomeKind::BookingMoved => "booking_moved",
            OutcomeKind::BookingCancelled => "booking_cancelled",
            OutcomeKind::BookingCompleted => "booking_completed",
            OutcomeKind::BookingNoShow => "booking_no_show",
            OutcomeKind::ReminderSent => "reminder_sent",
            OutcomeKind::ReminderConfirmed => "reminder_confirmed",
            OutcomeKind::ReminderCancelled => "reminder_cancelled",
            OutcomeKind::MissedCall => "missed_call",
            OutcomeKind::TextBack => "text_back",
            OutcomeKind::Recovered => "recovered",
        }
    }

    pub fn parse(text: &str) -> Option<OutcomeKind> {
        OutcomeKind::ALL.iter().copied().find(|k| k.as_str() == text)
    }
}

/// Where a booking came from, as the reports tell them apart.
pub fn booking_source(source: BookingSource) -> &'static str {
    match source {
        BookingSource::Assistant => "assistant_chat",
        BookingSource::Voice => "assistant_voice",
        BookingSource::Staff => "staff",
        BookingSource::Api => "api",
    }
}

/// One outcome to append. Fields that do not apply stay `None`.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: OutcomeKind,
    /// `None`: now.
    pub at: Option<i64>,
    pub conversation_id: Option<String>,
    pub booking_id: Option<String>,
    pub channel: Option<String>,
    pub staff_id: Option<String>,
    pub source: Option<String>,
    pub service_id: Option<String>,
    pub value_cents: Option<i64>,
    pub starts_at: Option<i64>,
    pub since_at: Option<i64>,
}

impl Outcome {
    pub fn new(kind: OutcomeKind) -> Outcome {
        Outcome {
            kind,
            at: None,
            conversation_id: None,
            booking_id: None,
            channel: None,
            staff_id: None,
            source: None,
            service_id: None,
            value_cents: None,
            starts_at: None,
            since_at: None,
        }
    }
}

/// When the conversation's current episode began (its latest opening or reopening).
async fn episode_start(tx: &mut BusinessTx, conversation_id: &str) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT MAX(at) FROM outcomes WHERE conversation_id = $1 AND business_id = $2 AND kind IN ('conversation_opened', 'conversation_reopened')",
    )
    .bind(conversation_id)
    .bind(tx.business_id().to_owned())
    .fetch_one(tx.conn())
    .await?)
}

/// Appends an outcome in this transaction. A conversation's outcome is filed under its current
/// episode.
pub async fn record(tx: &mut BusinessTx, outcome: Outcome) -> Result<(), StoreError> {
    let at = outcome.at.unwrap_or_else(|| tx.now_ms());
    let episode_at = match &outcome.conversation_id {
        // An opening begins its own episode.
        Some(_) if matches!(outcome.kind, OutcomeKind::ConversationOpened | OutcomeKind::ConversationReopened) => Some(at),
        Some(id) => episode_start(tx, id).await?,
        None => None,
    };
    let business_id = tx.business_id().to_owned();
    let (conversation_id, booking_id) = (outcome.conversation_id.clone(), outcome.booking_id.clone());
    sqlx::query(
        "INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, booking_id, channel, staff_id, source, service_id, \
         value_cents, starts_at, since_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(tx.new_id::<String>())
    .bind(business_id)
    .bind(outcome.kind.as_str())
    .bind(at)
    .bind(outcome.conversation_id)
    .bind(episode_at)
    .bind(outcome.booking_id)
    .bind(outcome.channel)
    .bind(outcome.staff_id)
    .bind(outcome.source)
    .bind(outcome.service_id)
    .bind(outcome.value_cents)
    .bind(outcome.starts_at)
    .bind(outcome.since_at)
    .execute(tx.conn())
    .await?;
    // The summaries the reports read, in the same transaction.
    if let (Some(conversation_id), Some(episode_at)) = (&conversation_id, episode_at) {
        super::summaries::refresh_episodes(tx, &[(conversation_id.clone(), episode_at)]).await?;
    }
    if let Some(booking_id) = &booking_id {
        super::summaries::refresh_booking(tx, booking_id).await?;
    }
    Ok(())
}

async fn channel_of(tx: &mut BusinessTx, conversation_id: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT channel FROM conversations WHERE id = $1 AND business_id = $2")
        .bind(conversation_id)
        .bind(tx.business_id().to_owned())
        .fetch_optional(tx.conn())
        .await?)
}

async fn conversation_outcome(tx: &mut BusinessTx, kind: OutcomeKind, conversation_id: &str) -> Result<Outcome, StoreError> {
    let mut o = Outcome::new(kind);
    o.conversation_id = Some(conversation_id.to_owned());
    o.channel = channel_of(tx, conversation_id).await?;
    Ok(o)
}

/// Conversations were created (on the given channels) in this transaction: each opens its first
/// episode. Such an episode has no other outcome rows and no summary yet, so its summary is made
/// from its opening row alone (no reading back, nothing to replace); written with multi-row
/// statements.
pub async fn conversations_created(tx: &mut BusinessTx, created: &[(&str, Channel)]) -> Result<(), StoreError> {
    let at = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    let kind = OutcomeKind::ConversationOpened.as_str();
    let mut rows = Vec::with_capacity(created.len());
    for chunk in created.chunks(crate::store::rows_per_statement(3)) {
        let values: Vec<String> = (0..chunk.len()).map(|r| format!("(${}, $1, $2, $3, ${}, $3, ${})", 3 * r + 4, 3 * r + 5, 3 * r + 6)).collect();
        let sql = format!("INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel) VALUES {}", values.join(", "));
        let mut query = sqlx::query(&sql).bind(&business_id).bind(kind).bind(at);
        for (conversation_id, channel) in chunk {
            let id: String = tx.new_id();
            query = query.bind(id.clone()).bind(*conversation_id).bind(channel.as_str());
            rows.push(super::metrics::Row {
                id,
                kind: kind.to_owned(),
                at,
                conversation_id: Some((*conversation_id).to_owned()),
                episode_at: Some(at),
                channel: Some(channel.as_str().to_owned()),
                ..Default::default()
            });
        }
        query.execute(tx.conn()).await?;
    }
    super::summaries::new_episodes(tx, &rows).await
}

/// A conversation was created (`reopened: false`) or an existing one opened again.
pub async fn conversation_opened(tx: &mut BusinessTx, conversation_id: &str, reopened: bool) -> Result<(), StoreError> {
    let kind = if reopened { OutcomeKind::ConversationReopened } else { OutcomeKind::ConversationOpened };
    let o = conversation_outcome(tx, kind, conversation_id).await?;
    record(tx, o).await
}

/// A conversation was resolved, or reopened by a person.
pub async fn status_changed(tx: &mut BusinessTx, conversation_id: &str, resolved: bool, by: Option<&str>) -> Result<(), StoreError> {
    let kind = if resolved { OutcomeKind::Resolved } else { OutcomeKind::ConversationReopened };
    let mut o = conversation_outcome(tx, kind, conversation_id).await?;
    o.staff_id = by.map(str::to_owned);
    record(tx, o).await
}

/// A message was stored: replies by people and by the assistant are outcomes (customers' messages
/// and timeline events are not; the reply's clock start is read from the messages).
pub async fn message_added(
    tx: &mut BusinessTx,
    conversation_id: &str,
    author: protocol::AuthorKind,
    staff_id: Option<&str>,
    kind: protocol::MessageKind,
    at: i64,
) -> Result<(), StoreError> {
    use protocol::{AuthorKind, MessageKind};
    if kind == MessageKind::Event {
        return Ok(());
    }
    match author {
        AuthorKind::Assistant => {
            let mut o = conversation_outcome(tx, OutcomeKind::AiReply, conversation_id).await?;
            o.at = Some(at);
            record(tx, o).await
        }
        AuthorKind::Staff => {
            let episode = episode_start(tx, conversation_id).await?.unwrap_or(i64::MIN);
            let last_reply: Option<i64> = sqlx::query_scalar(
                "SELECT MAX(at) FROM outcomes WHERE conversation_id = $1 AND business_id = $3 AND kind IN ('first_human_reply', 'human_reply') AND at >= $2",
            )
            .bind(conversation_id)
            .bind(episode)
            .bind(tx.business_id().to_owned())
            .fetch_one(tx.conn())
            .await?;
            // The clock runs from the oldest customer message no person has answered yet in this
            // episode; the assistant's replies do not stop it.
            let since: Option<i64> = sqlx::query_scalar(
                "SELECT MIN(created_at) FROM messages WHERE conversation_id = $1 AND author_kind = 'customer' AND created_at >= $2 \
                 AND created_at > $3 AND created_at <= $4 AND business_id = $5",
            )
            .bind(conversation_id)
            .bind(episode)
            .bind(last_reply.unwrap_or(i64::MIN))
            .bind(at)
            .bind(tx.business_id().to_owned())
            .fetch_one(tx.conn())
            .await?;
            let kind = if last_reply.is_none() { OutcomeKind::FirstHumanReply } else { OutcomeKind::HumanReply };
            let mut o = conversation_outcome(tx, kind, conversation_id).await?;
            o.at = Some(at);
            o.staff_id = staff_id.map(str::to_owned);
            o.since_at = since;
            record(tx, o).await
        }
        AuthorKind::Customer | AuthorKind::System => Ok(()),
    }
}

/// The assistant asked for a person (or, switched off, leaves the conversation to one).
pub async fn handed_over(tx: &mut BusinessTx, conversation_id: &str) -> Result<(), StoreError> {
    let o = conversation_outcome(tx, OutcomeKind::HandedOver, conversation_id).await?;
    record(tx, o).await
}

/// [`handed_over`] for several conversations at once (see
/// [`crate::conversations::takeover::wait_for_people`]): their episodes read in one statement,
/// the outcome rows written in statements of many, and the episodes' summaries refreshed together.
pub(crate) async fn handed_over_many(tx: &mut BusinessTx, conversations: &[protocol::Conversation]) -> Result<(), StoreError> {
    let engine = tx.engine();
    let business_id = tx.business_id().to_owned();
    let ids: Vec<&str> = conversations.iter().map(|c| c.id.as_str()).collect();
    let (from, on) = crate::store::json_join(engine, "o.conversation_id", "$2");
    let sql = format!(
        "SELECT o.conversation_id, MAX(o.at) FROM {from} outcomes o WHERE {on} AND o.business_id = $1 \
         AND o.kind IN ('conversation_opened', 'conversation_reopened') GROUP BY o.conversation_id"
    );
    let started: HashMap<String, i64> = sqlx::query_as::<_, (String, i64)>(&sql)
        .bind(&business_id)
        .bind(crate::store::json_param(&ids)?)
        .fetch_all(tx.conn())
        .await?
        .into_iter()
        .collect();
    let at = tx.now_ms();
    let kind = OutcomeKind::HandedOver.as_str();
    let mut episodes = Vec::new();
    for chunk in conversations.chunks(crate::store::rows_per_statement(4)) {
        let values: Vec<String> = (0..chunk.len()).map(|r| format!("(${}, $1, $2, $3, ${}, ${}, ${})", 4 * r + 4, 4 * r + 5, 4 * r + 6, 4 * r + 7)).collect();
        let sql = format!("INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel) VALUES {}", values.join(", "));
        let mut query = sqlx::query(&sql).bind(&business_id).bind(kind).bind(at);
        for conversation in chunk {
            let episode_at = started.get(conversation.id.as_str()).copied();
            query = query.bind(tx.new_id::<String>()).bind(conversation.id.to_string()).bind(episode_at).bind(conversation.channel.as_str());
            if let Some(episode_at) = episode_at {
                episodes.push((conversation.id.to_string(), episode_at));
            }
        }
        query.execute(tx.conn()).await?;
    }
    super::summaries::refresh_episodes(tx, &episodes).await
}

/// A person took the conversation over while the assistant was answering it.
pub async fn taken_over(tx: &mut BusinessTx, conversation_id: &str, staff_id: &str) -> Result<(), StoreError> {
    let mut o = conversation_outcome(tx, OutcomeKind::TakenOver, conversation_id).await?;
    o.staff_id = Some(staff_id.to_owned());
    record(tx, o).await
}

/// A booking was made or changed: made, moved (its time or person changed), cancelled,
/// completed or marked no-show. `moved` and a status change in one update are two outcomes.
/// `service`: the booking's service if the caller read it in this transaction (its price is
/// then not read again).
pub async fn booking_changed(
    tx: &mut BusinessTx,
    booking: &protocol::Booking,
    before: Option<&protocol::Booking>,
    service: Option<&protocol::Service>,
) -> Result<(), StoreError> {
    let source = booking_source(booking.source);
    let price: Option<i64> = match service.filter(|s| s.id == booking.service_id) {
        Some(s) => Some(s.price_cents),
        None => sqlx::query_scalar("SELECT price_cents FROM services WHERE id = $1")
            .bind(booking.service_id.as_str())
            .fetch_optional(tx.conn())
            .await?,
    };
    // The channel the booking came in on: the call for voice, the customer's most recently
    // active conversation for the assistant in a chat; none for the desk and the API.
    let channel: Option<String> = match booking.source {
        BookingSource::Voice => Some(Channel::Voice.as_str().to_owned()),
        BookingSource::Assistant => sqlx::query_scalar(
            "SELECT channel FROM conversations WHERE customer_id = $1 AND business_id = $2 AND channel <> 'voice' ORDER BY last_activity_at DESC, id DESC LIMIT 1",
        )
        .bind(booking.customer_id.as_str())
        .bind(tx.business_id().to_owned())
        .fetch_optional(tx.conn())
        .await?,
        _ => None,
    };
    let mut kinds = Vec::new();
    match before {
        None => kinds.push(OutcomeKind::BookingMade),
        Some(b) => {
            if b.start != booking.start || b.staff_id != booking.staff_id {
                kinds.push(OutcomeKind::BookingMoved);
            }
            if b.status != booking.status {
                match booking.status {
                    BookingStatus::Cancelled => kinds.push(OutcomeKind::BookingCancelled),
                    BookingStatus::Completed => kinds.push(OutcomeKind::BookingCompleted),
                    BookingStatus::NoShow => kinds.push(OutcomeKind::BookingNoShow),
                    BookingStatus::Pending | BookingStatus::Confirmed => {}
                }
            }
        }
    }
    if before.is_none() {
        recovered(tx, booking).await?;
    }
    for kind in kinds {
        let mut o = Outcome::new(kind);
        o.booking_id = Some(booking.id.to_string());
        o.channel = channel.clone();
        o.staff_id = Some(booking.staff_id.to_string());
        o.source = Some(source.to_owned());
        o.service_id = Some(booking.service_id.to_string());
        o.value_cents = Some(price.unwrap_or(0));
        o.starts_at = Some(booking.start.as_millis());
        record(tx, o).await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The automations' outcomes (docs/metrics.md, "Reminders" and "Missed calls")

/// How long after a missed call a booking by the caller recovers it.
pub const RECOVERY_MS: i64 = 7 * 86_400_000;

/// The outcomes of the runs among `run_ids` that are now sent: `reminder_sent` for a reminder,
/// `text_back` for a text-back, at the moment the run was marked sent, on the channel of the
/// conversation it went into, with the person the booking is with. A few statements for a step's
/// batch (a statement's worth of ids each, [`crate::store::rows_per_statement`]; the channel and
/// the person joined in, not looked up per run); the run's id is the outcome's, so a run is
/// recorded once whoever sends it (and migration 0026's backfill writes the same).
pub async fn automations_sent(tx: &mut BusinessTx, run_ids: &[String]) -> Result<(), StoreError> {
    let business_id = tx.business_id().to_owned();
    for chunk in run_ids.chunks(crate::store::rows_per_statement(1)) {
        let sql = format!(
            "INSERT INTO outcomes (id, business_id, kind, at, booking_id, customer_id, channel, staff_id) \
             SELECT r.id, r.business_id, CASE r.kind WHEN 'reminder' THEN 'reminder_sent' ELSE 'text_back' END, r.updated_at, r.booking_id, \
             r.customer_id, c.channel, b.staff_id \
             FROM automation_runs r LEFT JOIN conversations c ON c.id = r.conversation_id AND c.business_id = r.business_id \
             LEFT JOIN bookings b ON b.id = r.booking_id AND b.business_id = r.business_id \
             WHERE r.business_id = $1 AND r.id IN ({}) AND r.kind IN ('reminder', 'text_back') AND r.status = 'sent' \
             ON CONFLICT (id) DO NOTHING",
            crate::store::placeholders(2, chunk.len())
        );
        let mut q = sqlx::query(&sql).bind(&business_id);
        for id in chunk {
            q = q.bind(id);
        }
        q.execute(tx.conn()).await?;
    }
    Ok(())
}

/// A call nobody answered (`call_key`: the provider's call id, as the text-back's key uses it):
/// recorded once per call however often the provider reports it, text-back on or off.
pub async fn missed_call(tx: &mut BusinessTx, customer_id: &str, call_key: &str) -> Result<(), StoreError> {
    let business_id = tx.business_id().to_owned();
    let now = tx.now_ms();
    sqlx::query(
        "INSERT INTO outcomes (id, business_id, kind, at, customer_id, channel) VALUES ($1, $2, 'missed_call', $3, $4, 'voice') \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(format!("mc:{business_id}:{call_key}"))
    .bind(&business_id)
    .bind(now)
    .bind(customer_id)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The customer's reply to a reminder confirmed (`confirmed`) or cancelled the booking.
pub async fn reminder_reply(tx: &mut BusinessTx, booking: &protocol::Booking, confirmed: bool) -> Result<(), StoreError> {
    let business_id = tx.business_id().to_owned();
    let kind = if confirmed { OutcomeKind::ReminderConfirmed } else { OutcomeKind::ReminderCancelled };
    sqlx::query("INSERT INTO outcomes (id, business_id, kind, at, booking_id, customer_id, staff_id) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(tx.new_id::<String>())
        .bind(&business_id)
        .bind(kind.as_str())
        .bind(tx.now_ms())
        .bind(booking.id.as_str())
        .bind(booking.customer_id.as_str())
        .bind(booking.staff_id.as_str())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A booking was made: each of the customer's missed calls of the 7 days before that no booking
/// has recovered yet is recovered by this one (its row points at the call, and says when the
/// call was).
async fn recovered(tx: &mut BusinessTx, booking: &protocol::Booking) -> Result<(), StoreError> {
    let business_id = tx.business_id().to_owned();
    let now = tx.now_ms();
    sqlx::query(
        "INSERT INTO outcomes (id, business_id, kind, at, booking_id, customer_id, since_at, ref_id) \
         SELECT 'rec:' || m.id, m.business_id, 'recovered', $3, $4, m.customer_id, m.at, m.id FROM outcomes m \
         WHERE m.customer_id = $2 AND m.kind = 'missed_call' AND m.at < $3 AND m.at >= $5 AND m.business_id = $1 \
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(&business_id)
    .bind(booking.customer_id.as_str())
    .bind(now)
    .bind(booking.id.as_str())
    .bind(now - RECOVERY_MS)
    .execute(tx.conn())
    .await?;
    Ok(())
}
