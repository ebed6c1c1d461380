//! A customer's message, seen by the automations before the assistant: it stops their
//! follow-ups, and when it answers a reminder (the last thing we sent in the conversation), it
//! confirms, cancels or asks to move the booking.
//!
//! Short codes C, R and X, and plain words. "CANCEL" and "STOP" are carriers' opt-out keywords and
//! keep meaning opt-out (handled before this), so cancelling is X or words like "please cancel
//! it". A reply after the appointment started confirms nothing (it goes on to whoever answers the
//! conversation); a reply about a booking that was cancelled gets told so; "move" goes to the
//! assistant, which sees the reminder and the customer's bookings (or to a person when the
//! assistant is off); anything else goes to a person.

use protocol::{AutomationKind, AutomationStatus, BookingStatus, ControlMode, Conversation, Customer};
use sqlx::Row;

use super::{end_planned, plan_run, NewRun};
use crate::error::Error;
use crate::scheduling::bookings::BookingChange;
use crate::store::BusinessTx;

/// What a reply to a reminder asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Confirm,
    Cancel,
    Move,
    Unclear,
}

pub fn interpret(text: &str) -> Intent {
    let lower = text.trim().to_lowercase();
    let words: String = lower.chars().map(|c| if c.is_alphanumeric() || c == '\'' || c == ' ' { c } else { ' ' }).collect();
    let words = words.split_whitespace().collect::<Vec<_>>().join(" ");
    let has = |list: &[&str]| list.iter().any(|w| words.contains(w));
    if lower == "👍" {
        return Intent::Confirm;
    }
    match words.as_str() {
        "c" | "confirm" | "confirmed" | "yes" | "y" | "yes please" | "yep" | "ok" | "okay" | "sure" | "see you then" | "i'll be there" => {
            return Intent::Confirm
        }
        "x" => return Intent::Cancel,
        "r" | "reschedule" | "move" | "move it" | "rebook" | "change" => return Intent::Move,
        // Alone, it is a carrier's opt-out word on SMS; on WhatsApp, a person reads it.
        "cancel" | "stop" | "" => return Intent::Unclear,
        _ => {}
    }
    if has(&["can't make it", "cant make it", "cannot make it", "won't make it", "can't come", "cant come", "won't be able"]) || words.contains("cancel") {
        return Intent::Cancel;
    }
    if has(&["reschedule", "move it", "move my", "another time", "different time", "another day", "change the time", "change my"]) {
        return Intent::Move;
    }
    if has(&["confirm", "i'll be there", "see you", "will be there"]) {
        return Intent::Confirm;
    }
    Intent::Unclear
}

/// The customer's message `message_id` in `conversation`. `opted_out`: it was an opt-out
/// keyword. Returns `true` when it was handled here and the assistant should not answer it.
pub async fn customer_message(
    tx: &mut BusinessTx,
    customer: &Customer,
    conversation: &Conversation,
    message_id: &str,
    text: &str,
    opted_out: bool,
) -> Result<bool, Error> {
    if opted_out {
        end_planned(tx, "customer_id = $2 AND kind = 'follow_up'", customer.id.as_str(), AutomationStatus::Stopped, "opted_out").await?;
        return Ok(true);
    }
    super::customer_wrote(tx, customer.id.as_str(), conversation.id.as_str(), text).await?;
    let business_id = tx.business_id().to_owned();
    // Is this a reply to a reminder? Only if the reminder is the last thing we said here.
    let last = sqlx::query(
        "SELECT id, automation FROM messages WHERE conversation_id = $1 AND business_id = $2 AND direction = 'outbound' AND kind <> 'event' ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(conversation.id.as_str())
    .bind(&business_id)
    .fetch_optional(tx.conn())
    .await?;
    let Some(last) = last else { return Ok(false) };
    let automation: Option<String> = last.try_get("automation")?;
    if !automation.as_deref().is_some_and(|a| a.starts_with("reminder:")) {
        return Ok(false);
    }
    let last_id: String = last.try_get("id")?;
    let booking_id: Option<String> = sqlx::query_scalar("SELECT booking_id FROM automation_runs WHERE business_id = $1 AND message_id = $2")
        .bind(&business_id)
        .bind(&last_id)
        .fetch_optional(tx.conn())
        .await?
        .flatten();
    let Some(booking_id) = booking_id else { return Ok(false) };
    let Some(booking) = crate::scheduling::bookings::load(tx.conn(), &business_id, &booking_id).await? else { return Ok(false) };
    let intent = interpret(text);
    let now = tx.now_ms();
    let answer = |rule: &str| NewRun {
        kind: AutomationKind::Reply,
        rule: rule.to_owned(),
        key: format!("reply:{message_id}"),
        booking_id: Some(booking.id.as_str()),
        customer_id: customer.id.as_str(),
        conversation_id: Some(conversation.id.as_str()),
        due_at: now,
        status: AutomationStatus::Planned,
        reason: None,
    };
    if booking.status == BookingStatus::Cancelled {
        plan_run(tx, answer("reply:cancelled"), false).await?;
        return Ok(true);
    }
    if !booking.status.holds_time() || booking.start.as_millis() <= tx.now_ms() {
        // Too late to confirm or cancel anything: whoever answers the conversation sees it.
        return Ok(false);
    }
    let audit = serde_json::json!({"booking_id": booking.id, "intent": format!("{intent:?}").to_lowercase(), "message_id": message_id});
    tx.audit(None, "automation.reply", Some(("booking", booking.id.as_str())), audit).await?;
    match intent {
        Intent::Confirm => {
            super::confirm_booking(tx, &booking).await?;
            crate::reports::outcomes::reminder_reply(tx, &booking, true).await?;
            plan_run(tx, answer("reply:confirmed"), false).await?;
            Ok(true)
        }
        Intent::Cancel => {
            let change = BookingChange {
                expected_version: booking.version,
                status: Some(BookingStatus::Cancelled),
                cancel_reason: Some("The customer replied to the reminder to cancel.".into()),
                ..Default::default()
            };
            // The cancellation's confirmation (planned by the change) tells the customer.
            crate::scheduling::bookings::update(tx, booking.id.as_str(), change, None, protocol::BookingSource::Assistant).await?;
            crate::reports::outcomes::reminder_reply(tx, &booking, false).await?;
            Ok(true)
        }
        Intent::Move => {
            let settings = crate::conversations::takeover::load_settings(tx.conn(), &business_id).await?;
            if settings.enabled && conversation.mode == ControlMode::Ai {
                return Ok(false); // The assistant answers, with the reminder and the booking before it.
            }
            crate::conversations::takeover::wait_for_people(tx, &[conversation.id.as_str()]).await?;
            Ok(true)
        }
        Intent::Unclear => {
            if conversation.mode == ControlMode::Ai {
                crate::conversations::takeover::escalate(tx, conversation.id.as_str(), "The customer's reply to a reminder needs a person.").await?;
            }
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_plain_words() {
        for (text, want) in [
            ("C", Intent::Confirm),
            ("c.", Intent::Confirm),
            ("Yes", Intent::Confirm),
            ("I'll be there!", Intent::Confirm),
            ("👍", Intent::Confirm),
            ("X", Intent::Cancel),
            ("Please cancel it", Intent::Cancel),
            ("sorry I can't make it", Intent::Cancel),
            ("R", Intent::Move),
            ("can we reschedule?", Intent::Move),
            ("another day would be better", Intent::Move),
            ("CANCEL", Intent::Unclear),
            ("STOP", Intent::Unclear),
            ("where do I park?", Intent::Unclear),
            ("no", Intent::Unclear),
        ] {
            assert_eq!(interpret(text), want, "{text}");
        }
    }
}
