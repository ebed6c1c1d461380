//! What a phone call through a voice AI platform does here, whichever platform ([`super::vapi`],
//! [`super::retell`]). The platform runs the call (speech, its own model); the caller becomes a
//! customer with a voice conversation; the platform's tool calls are answered synchronously with
//! the same tools the chat assistant uses — free times, bookings — so a caller can never be
//! offered or given a time the engine would refuse; and the call's progress and its end-of-call
//! report (transcript, summary, recording, duration, why it ended) become the call's line in the
//! customer's timeline, next to their chats.

use jiff::tz::TimeZone;
use protocol::{AuthorKind, CallRecord, Channel, ChannelStatus, DeliveryStatus, Direction, EntityKind, MessageKind};
use serde::Deserialize;
use serde_json::{json, Value};
use sqlx::Row;

use crate::accounts::{required_text, Actor, Permission};
use crate::assistant::Context;
use crate::channels::inbound;
use crate::conversations::{add_message, open_for, NewMessage};
use crate::customers::PhoneNumber;
use crate::error::{Error, WebhookError};
use crate::store::BusinessTx;
use crate::Core;

/// Both platforms' signatures carry a time; older than this they are refused (replays).
pub const STALE_MS: i64 = 5 * 60_000;

/// A voice platform's one secret (Vapi's secret, Retell's API key), sealed as `{"secret": …}`.
#[derive(Clone, serde::Serialize, Deserialize)]
pub struct Secret {
    pub secret: String,
}

redacted_debug!(Secret, "VoiceSecret");

/// Connects a voice platform (`kind`) with its one secret (owners and admins); `field` names the
/// secret in the request. The webhook URL names the business, so there is no address.
pub async fn connect(core: &Core, actor: &Actor, kind: &str, secret: &str, field: &str) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let secret = Secret { secret: required_text(secret, field, 512)? };
    crate::channels::save_simple(core, actor, kind, core.secrets.seal(&secret)).await
}

/// The business's secret for a voice platform; a business that has not connected it signs nothing.
pub async fn secret(core: &Core, business_id: &str, kind: &str) -> Result<String, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let loaded = crate::channels::load::<serde::de::IgnoredAny, Secret>(&mut conn, &core.secrets, business_id, kind).await?;
    loaded.map(|(_, s)| s.secret).ok_or(WebhookError::InvalidSignature.into())
}

/// One call on a voice platform: `provider` (its kind) and the platform's call id.
#[derive(Debug, Clone, Copy)]
pub struct CallId<'a> {
    pub provider: &'a str,
    pub id: &'a str,
}

impl CallId<'_> {
    /// Its line's `provider_message_id`.
    fn line_key(&self) -> String {
        format!("{}:{}", self.provider, self.id)
    }
}

/// The caller as a customer (found by number, or created), and their voice conversation. A
/// caller without a number (a web call, a withheld number) is known by the call: its first
/// event makes the call's line, and the call's later events (tool calls, status, the report)
/// find the customer and conversation through it, one of each per call.
pub async fn caller_context(core: &Core, business_id: &str, number: Option<&str>, name: Option<&str>, call: Option<CallId<'_>>) -> Result<Context, Error> {
    let phone = number.and_then(PhoneNumber::caller);
    let call = call.filter(|c| !c.id.is_empty());
    let mut tx = core.db.begin_business(business_id).await?;
    let on_the_call = match (&phone, call) {
        (None, Some(call)) => on_call(&mut tx, call).await?,
        _ => None,
    };
    let (customer, conversation) = match on_the_call {
        Some(known) => known,
        None => {
            let customer = inbound::find_or_create_customer(&mut tx, phone.as_ref(), None, name).await?;
            let conversation = open_for(&mut tx, &customer.id, Channel::Voice).await?;
            if let (None, Some(call)) = (&phone, call) {
                let record = CallRecord { provider: call.provider.into(), call_id: call.id.into(), status: "in_progress".into(), ..CallRecord::default() };
                add_call_line(&mut tx, &conversation.id, &record).await?;
            }
            (customer, conversation)
        }
    };
    tx.commit_even_if_unchanged().await?;
    let mut conn = core.db.reader().acquire().await?;
    let business = crate::accounts::business::load(&mut conn, business_id).await?;
    let settings = crate::conversations::takeover::load_settings(&mut conn, business_id).await?;
    Ok(Context {
        business_id: business_id.to_owned(),
        business_name: business.name,
        tz: TimeZone::get(&business.timezone).map_err(Error::internal)?,
        conversation,
        customer,
        history: vec![],
        settings,
        source: protocol::BookingSource::Voice,
        now: core.db.now().as_jiff(),
    })
}

/// The customer and conversation of a call that has its line already.
async fn on_call(tx: &mut BusinessTx, call: CallId<'_>) -> Result<Option<(protocol::Customer, protocol::Conversation)>, Error> {
    let business_id = tx.business_id().to_owned();
    let conversation_id: Option<String> = sqlx::query_scalar("SELECT conversation_id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(&business_id)
        .bind(call.line_key())
        .fetch_optional(tx.conn())
        .await?;
    let Some(conversation_id) = conversation_id else { return Ok(None) };
    let Some(conversation) = crate::conversations::load(tx.conn(), &business_id, &conversation_id).await? else { return Ok(None) };
    // Whoever the line's conversation is with, even if they were removed meanwhile (a second
    // line for the call could not be made).
    let customer = crate::customers::load_any(tx.conn(), &business_id, conversation.customer_id.as_str()).await?;
    Ok(customer.map(|customer| (customer, conversation)))
}

/// A call's line in its conversation's timeline, as `record` says it stands.
async fn add_call_line(tx: &mut BusinessTx, conversation_id: &str, record: &CallRecord) -> Result<(), Error> {
    let new = NewMessage {
        id: None,
        direction: Direction::Inbound,
        kind: MessageKind::Call,
        raw: Some(serde_json::to_string(record).map_err(Error::internal)?),
        author_kind: AuthorKind::Customer,
        author_staff_id: None,
        body: line_text(record),
        media: vec![],
        provider_message_id: Some(format!("{}:{}", record.provider, record.call_id)),
        delivery_status: DeliveryStatus::Received,
        at_ms: None,
        automation: None,
    };
    add_message(tx, conversation_id, new).await?;
    Ok(())
}

/// Creates or updates the call's line in the caller's timeline. A later report never loses
/// what an earlier one said (status updates carry less than end-of-call reports).
pub async fn record_call(core: &Core, business_id: &str, number: Option<&str>, record: CallRecord) -> Result<(), Error> {
    let call = CallId { provider: &record.provider, id: &record.call_id };
    let ctx = caller_context(core, business_id, number, None, Some(call)).await?;
    let provider_id = call.line_key();
    let mut tx = core.db.begin_business(business_id).await?;
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(business_id)
        .bind(&provider_id)
        .fetch_optional(tx.conn())
        .await?;
    let ended_now = record.status == "ended";
    let call_key = provider_id.clone();
    let ended_reason = record.ended_reason.clone().unwrap_or_default();
    let duration_ms = i64::from(record.duration_seconds.unwrap_or(0)) * 1000;
    let mut started_at = tx.now_ms() - duration_ms - 60_000;
    let was_ended = match &existing {
        Some(id) => {
            let row = sqlx::query("SELECT raw, created_at FROM messages WHERE id = $1 AND business_id = $2").bind(id).bind(business_id).fetch_one(tx.conn()).await?;
            started_at = started_at.min(row.try_get::<i64, _>("created_at")?);
            let raw: Option<String> = row.try_get("raw")?;
            raw.and_then(|r| serde_json::from_str::<CallRecord>(&r).ok()).is_some_and(|r| r.status == "ended")
        }
        None => false,
    };
    match existing {
        Some(id) => update_call_line(&mut tx, &id, record).await?,
        None => add_call_line(&mut tx, &ctx.conversation.id, &record).await?,
    }
    if ended_now && !was_ended && !ended_in_booking_or_transfer(&mut tx, ctx.customer.id.as_str(), started_at, &ended_reason).await? {
        crate::automations::missed_call(&mut tx, ctx.customer.id.as_str(), &call_key).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Whether a call that ended did what the caller called for: a booking made, moved or
/// cancelled during it, or the call transferred to a person (Vapi's `assistant-forwarded-call`,
/// Retell's `call_transfer`). Otherwise the caller gets a text back.
async fn ended_in_booking_or_transfer(tx: &mut BusinessTx, customer_id: &str, started_at: i64, ended_reason: &str) -> Result<bool, Error> {
    let reason = ended_reason.to_lowercase();
    if reason.contains("forward") || reason.contains("transfer") {
        return Ok(true);
    }
    let business_id = tx.business_id().to_owned();
    let touched: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE business_id = $1 AND customer_id = $2 AND updated_at >= $3")
        .bind(business_id)
        .bind(customer_id)
        .bind(started_at)
        .fetch_one(tx.conn())
        .await?;
    Ok(touched > 0)
}

/// What the timeline says of a call: its summary, else how it stands.
fn line_text(record: &CallRecord) -> String {
    match (&record.summary, record.status.as_str()) {
        (Some(summary), _) => summary.clone(),
        (None, "in_progress") => "Call in progress…".to_owned(),
        (None, _) => "Call ended".to_owned(),
    }
}

async fn update_call_line(tx: &mut BusinessTx, id: &str, record: CallRecord) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let old: Option<String> = sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1 AND business_id = $2").bind(id).bind(&business_id).fetch_one(tx.conn()).await?;
    let old: CallRecord = old.and_then(|r| serde_json::from_str(&r).ok()).unwrap_or_default();
    let merged = CallRecord {
        status: if old.status == "ended" { old.status } else { record.status.clone() },
        transcript: record.transcript.or(old.transcript),
        summary: record.summary.or(old.summary),
        recording_url: record.recording_url.or(old.recording_url),
        duration_seconds: record.duration_seconds.or(old.duration_seconds),
        ended_reason: record.ended_reason.or(old.ended_reason),
        ..record
    };
    sqlx::query("UPDATE messages SET body = $1, raw = $2, updated_at = $3 WHERE id = $4 AND business_id = $5")
        .bind(line_text(&merged))
        .bind(serde_json::to_string(&merged).map_err(Error::internal)?)
        .bind(tx.now_ms())
        .bind(id)
        .bind(&business_id)
        .execute(tx.conn())
        .await?;
    let message = crate::conversations::load_message(tx.conn(), &business_id, id).await?.ok_or_else(|| Error::NotFound("message"))?;
    tx.record(EntityKind::Message, id, Some(&message)).await?;
    Ok(())
}

/// A tool call's arguments, which arrive as an object or as JSON text depending on the platform
/// and its version.
pub fn arguments(given: &Value) -> Value {
    match given {
        Value::String(text) => serde_json::from_str(text).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

/// `hand_off`'s arguments.
#[derive(Deserialize)]
struct HandOff {
    #[serde(default)]
    reason: Option<String>,
}

/// Answers one of the platform's tool calls with the assistant's tools; `hand_off` asks a person
/// to call back (the voice agent says so — no text goes into a call).
pub async fn answer_tool(core: &Core, ctx: &Context, name: &str, args: &Value) -> Value {
    if !args.is_object() {
        return json!({"error": "The arguments were not a JSON object."});
    }
    if name == "hand_off" {
        let hand_off: HandOff = serde_json::from_value(args.clone()).unwrap_or(HandOff { reason: None });
        let reason = hand_off.reason.as_deref().unwrap_or("the caller asked for a person");
        return match crate::assistant::escalate_with_holding_reply(core, &ctx.business_id, &ctx.conversation.id, reason).await {
            Ok(()) => json!({"done": true, "say": "I've asked a member of the team to call you back."}),
            Err(_) => json!({"error": "internal"}),
        };
    }
    crate::assistant::run_tool(core, ctx, name, args).await
}
