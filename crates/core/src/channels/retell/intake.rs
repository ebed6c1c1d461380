//! Retell's webhooks (`POST /webhooks/retell/{business_id}`): authenticated, then handled at
//! once — the inbound-call webhook answered with the caller's name and next booking as dynamic
//! variables, custom function calls with the assistant's tools, and call events recorded as the
//! call's line in the caller's timeline ([`crate::channels::calls`]).
//!
//! Authentication: `x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256 of body + timestamp>`
//! under the API key; timestamps older than five minutes are refused.

use protocol::CallRecord;
use serde::Deserialize;
use serde_json::json;

use super::wire::{Answer, Call, DynamicVariables, Event, InboundAnswer, InboundVariables, Request};
use super::KIND;
use crate::assistant::Context;
use crate::channels::calls::{self, STALE_MS};
use crate::channels::signing::{hmac_sha256_hex, same};
use crate::channels::wire::from_json;
use crate::customers::PhoneNumber;
use crate::error::{Error, WebhookError};
use crate::Core;

/// Checks a Retell request's `x-retell-signature`.
pub fn authentic(api_key: &str, header: Option<&str>, body: &[u8], now_ms: i64) -> Result<(), WebhookError> {
    let refused = || WebhookError::InvalidSignature;
    let header = header.ok_or(WebhookError::MissingSignature("x-retell-signature"))?;
    let mut ts = None;
    let mut digest = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("v", v)) => ts = Some(v.to_owned()),
            Some(("d", d)) => digest = Some(d.to_owned()),
            _ => {}
        }
    }
    let (Some(ts), Some(digest)) = (ts, digest) else { return Err(refused()) };
    let at: i64 = ts.parse().map_err(|_| refused())?;
    if (now_ms - at).abs() > STALE_MS {
        return Err(WebhookError::StaleSignature);
    }
    if same(&digest, &hmac_sha256_hex(api_key, &[body, ts.as_bytes()])) {
        Ok(())
    } else {
        Err(refused())
    }
}

/// A Retell request for `business_id`: call events, the inbound-call webhook and custom function
/// calls. `header` looks a request header up by its lower-case name. `None`: answer 204.
pub async fn receive<'h>(core: &Core, business_id: &str, header: impl Fn(&str) -> Option<&'h str>, body: &[u8]) -> Result<Option<Answer>, Error> {
    let key = super::setup::api_key(core, business_id).await?;
    authentic(&key, header("x-retell-signature"), body, core.db.now_ms())?;
    let request: Request = from_json(body).map_err(|e| WebhookError::InvalidPayload(format!("The body is not a Retell request: {e}")))?;
    let call = request.call.unwrap_or_default();
    match request.event {
        Some(Event::CallInbound) => {
            let from = request.call_inbound.as_ref().and_then(|c| c.from_number.as_deref());
            Ok(Some(Answer::Inbound(greet(core, business_id, from).await?)))
        }
        Some(event @ (Event::CallStarted | Event::CallEnded | Event::CallAnalyzed)) => {
            record_event(core, business_id, event, call).await?;
            Ok(None)
        }
        Some(Event::Other) => Ok(None),
        None => {
            let Some(name) = request.name else {
                return Err(WebhookError::InvalidPayload("Neither an event nor a function call.".into()).into());
            };
            let on_call = call.call_id.as_deref().map(|id| calls::CallId { provider: KIND, id });
            let ctx = calls::caller_context(core, business_id, call.customer_number(), None, on_call).await?;
            Ok(Some(Answer::FunctionResult(calls::answer_tool(core, &ctx, &name, &calls::arguments(&request.args)).await)))
        }
    }
}

/// What the agent should know as the call starts: who is calling and their next booking.
async fn greet(core: &Core, business_id: &str, from: Option<&str>) -> Result<InboundAnswer, Error> {
    // Without a number (withheld) the caller is nobody yet: the agent greets them as anyone, and
    // the call's own events make them a customer (one per call).
    if from.and_then(PhoneNumber::caller).is_none() {
        let mut conn = core.db.reader().acquire().await?;
        let business = crate::accounts::business::load(&mut conn, business_id).await?;
        let dynamic_variables = DynamicVariables { customer_name: String::new(), next_booking: String::new(), business_name: business.name };
        return Ok(InboundAnswer { call_inbound: InboundVariables { dynamic_variables } });
    }
    let ctx = calls::caller_context(core, business_id, from, None, None).await?;
    let next_booking = next_booking(core, &ctx).await;
    Ok(InboundAnswer {
        call_inbound: InboundVariables {
            dynamic_variables: DynamicVariables {
                customer_name: ctx.customer.name.clone().unwrap_or_default(),
                next_booking,
                business_name: ctx.business_name,
            },
        },
    })
}

/// The `my_bookings` tool's answer, as far as the greeting needs it.
#[derive(Default, Deserialize)]
struct UpcomingBookings {
    #[serde(default)]
    bookings: Vec<BookingLine>,
}

#[derive(Deserialize)]
struct BookingLine {
    #[serde(default)]
    service: String,
    #[serde(default)]
    local: String,
}

/// The caller's next booking, as the assistant's `my_bookings` tool says it (`Haircut on …`).
async fn next_booking(core: &Core, ctx: &Context) -> String {
    let answer = crate::assistant::run_tool(core, ctx, "my_bookings", &json!({})).await;
    let upcoming: UpcomingBookings = serde_json::from_value(answer).unwrap_or_default();
    upcoming.bookings.first().map(|b| format!("{} on {}", b.service, b.local)).unwrap_or_default()
}

/// A call started, ended or was analysed: its line in the timeline.
async fn record_event(core: &Core, business_id: &str, event: Event, call: Call) -> Result<(), Error> {
    let call_id = call.call_id.clone().unwrap_or_default();
    if call_id.is_empty() {
        return Err(WebhookError::InvalidPayload("A call event names its call.".into()).into());
    }
    let record = CallRecord {
        provider: KIND.into(),
        call_id,
        status: if event == Event::CallStarted { "in_progress".into() } else { "ended".into() },
        transcript: call.transcript.clone(),
        summary: call.call_analysis.as_ref().and_then(|a| a.call_summary.clone()),
        recording_url: call.recording_url.clone(),
        // Rounded to seconds; a length past what a record holds (136 years: it was a 500) is no length.
        duration_seconds: call.duration_ms.and_then(|ms| u32::try_from(ms.saturating_add(500) / 1000).ok()),
        ended_reason: call.disconnection_reason.clone(),
    };
    calls::record_call(core, business_id, call.customer_number(), record).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retell_signatures_are_timestamped() {
        let body = br#"{"event":"call_ended"}"#;
        let now = 1_767_225_600_000i64;
        let sign = |at: i64, key: &str| format!("v={at},d={}", hmac_sha256_hex(key, &[body, at.to_string().as_bytes()]));
        assert!(authentic("key_abc", Some(&sign(now - 1000, "key_abc")), body, now).is_ok());
        assert!(matches!(authentic("key_abc", Some(&sign(now - 1000, "other")), body, now), Err(WebhookError::InvalidSignature)));
        assert!(matches!(authentic("key_abc", Some(&sign(now - 10 * 60_000, "key_abc")), body, now), Err(WebhookError::StaleSignature)));
        assert!(matches!(authentic("key_abc", None, body, now), Err(WebhookError::MissingSignature(_))));
    }
}
