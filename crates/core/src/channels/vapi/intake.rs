//! Vapi's webhooks (`POST /webhooks/vapi/{business_id}`): authenticated, then answered at once —
//! tool calls with the assistant's tools, status updates and end-of-call reports recorded as the
//! call's line in the caller's timeline ([`crate::channels::calls`]).
//!
//! Authentication: Vapi sends the configured secret as a Bearer token (its credential system) or
//! as `x-vapi-secret`, or signs the body with an HMAC credential (`x-vapi-signature`, hex
//! HMAC-SHA256 of the body, or of `timestamp.body` when `x-vapi-timestamp` is sent; a timestamp
//! older than five minutes is refused).

use protocol::CallRecord;

use super::wire::{caller_number, Answer, CallStatus, EndOfCallReport, Envelope, FunctionCallMessage, ServerMessage, StatusUpdate, ToolCalls, ToolResult};
use super::KIND;
use crate::channels::calls::{self, STALE_MS};
use crate::channels::signing::{hmac_sha256_hex, same};
use crate::channels::wire::from_json;
use crate::error::{Error, WebhookError};
use crate::Core;

/// Checks a Vapi request; `header` looks a request header up by its lower-case name.
pub fn authentic<'h>(secret: &str, header: impl Fn(&str) -> Option<&'h str>, body: &[u8], now_ms: i64) -> Result<(), WebhookError> {
    let header = |name: &str| header(name).map(str::trim);
    let refused = || WebhookError::InvalidSignature;
    if let Some(bearer) = header("authorization").and_then(|v| v.strip_prefix("Bearer ")) {
        return if same(bearer.trim(), secret) { Ok(()) } else { Err(refused()) };
    }
    if let Some(given) = header("x-vapi-secret") {
        return if same(given, secret) { Ok(()) } else { Err(refused()) };
    }
    if let Some(signature) = header("x-vapi-signature") {
        let expected = match header("x-vapi-timestamp") {
            Some(ts) => {
                let at: i64 = ts.parse().map_err(|_| refused())?;
                let at_ms = if at < 10_000_000_000 { at * 1000 } else { at };
                if (now_ms - at_ms).abs() > STALE_MS {
                    return Err(WebhookError::StaleSignature);
                }
                hmac_sha256_hex(secret, &[ts.as_bytes(), b".", body])
            }
            None => hmac_sha256_hex(secret, &[body]),
        };
        return if same(signature.trim_start_matches("sha256="), &expected) { Ok(()) } else { Err(refused()) };
    }
    Err(WebhookError::MissingSignature("x-vapi-signature"))
}

/// A Vapi server message for `business_id`: tool calls answered, call progress and the
/// end-of-call report recorded. `header` looks a request header up by its lower-case name.
pub async fn receive<'h>(core: &Core, business_id: &str, header: impl Fn(&str) -> Option<&'h str>, body: &[u8]) -> Result<Answer, Error> {
    let secret = super::setup::secret(core, business_id).await?;
    authentic(&secret, header, body, core.db.now_ms())?;
    let envelope: Envelope = from_json(body).map_err(|e| WebhookError::InvalidPayload(format!("The body is not a Vapi server message: {e}")))?;
    match envelope.message {
        Some(ServerMessage::ToolCalls(message)) => answer_tool_calls(core, business_id, &message).await,
        Some(ServerMessage::FunctionCall(message)) => answer_function_call(core, business_id, &message).await,
        Some(ServerMessage::StatusUpdate(message)) => record_status(core, business_id, message).await,
        Some(ServerMessage::EndOfCallReport(report)) => record_report(core, business_id, report).await,
        Some(ServerMessage::Other) | None => Ok(Answer::Ack {}),
    }
}

async fn answer_tool_calls(core: &Core, business_id: &str, message: &ToolCalls) -> Result<Answer, Error> {
    let name = message.call.as_ref().and_then(|c| c.caller_name());
    let ctx = calls::caller_context(core, business_id, caller_number(&message.call, &message.customer), name, call_id(&message.call)).await?;
    let mut results = Vec::new();
    for (id, tool, arguments) in message.calls() {
        let result = calls::answer_tool(core, &ctx, tool, &calls::arguments(arguments)).await;
        results.push(ToolResult { tool_call_id: id.to_owned(), result: result.to_string() });
    }
    Ok(Answer::ToolResults { results })
}

async fn answer_function_call(core: &Core, business_id: &str, message: &FunctionCallMessage) -> Result<Answer, Error> {
    let ctx = calls::caller_context(core, business_id, caller_number(&message.call, &message.customer), None, call_id(&message.call)).await?;
    let f = &message.function_call;
    let result = calls::answer_tool(core, &ctx, &f.name, &calls::arguments(&f.parameters)).await;
    Ok(Answer::FunctionResult { result: result.to_string() })
}

/// The call a message is about, when Vapi names it.
fn call_id(call: &Option<super::wire::Call>) -> Option<calls::CallId<'_>> {
    call.as_ref().and_then(|c| c.id.as_deref()).map(|id| calls::CallId { provider: KIND, id })
}

/// The call shows live in the timeline, and as ended when it ends.
async fn record_status(core: &Core, business_id: &str, message: StatusUpdate) -> Result<Answer, Error> {
    let status = match message.status {
        Some(CallStatus::Ended) => "ended",
        Some(CallStatus::InProgress | CallStatus::Ringing | CallStatus::Queued | CallStatus::Forwarding) => "in_progress",
        _ => return Ok(Answer::Ack {}),
    };
    let call_id = message.call.as_ref().and_then(|c| c.id.clone()).unwrap_or_default();
    if !call_id.is_empty() {
        let record = CallRecord { provider: KIND.into(), call_id, status: status.into(), ended_reason: message.ended_reason.clone(), ..CallRecord::default() };
        calls::record_call(core, business_id, caller_number(&message.call, &message.customer), record).await?;
    }
    Ok(Answer::Ack {})
}

/// The end-of-call report becomes the call's record: transcript, summary, recording, duration.
async fn record_report(core: &Core, business_id: &str, report: EndOfCallReport) -> Result<Answer, Error> {
    let call = report.call.as_ref();
    let artifact = report.artifact.as_ref();
    let record = CallRecord {
        provider: KIND.into(),
        call_id: call.and_then(|c| c.id.clone()).unwrap_or_default(),
        status: "ended".into(),
        transcript: artifact.and_then(|a| a.transcript.clone()).or(report.transcript.clone()),
        summary: report.analysis.as_ref().and_then(|a| a.summary.clone()).or(report.summary.clone()),
        recording_url: artifact.and_then(|a| a.recording_url.clone()).or(report.recording_url.clone()),
        duration_seconds: report.duration_seconds.or(call.and_then(|c| c.duration_seconds)).map(|d| d.round() as u32),
        ended_reason: report.ended_reason.clone(),
    };
    if record.call_id.is_empty() {
        return Err(WebhookError::InvalidPayload("An end-of-call report names its call.".into()).into());
    }
    calls::record_call(core, business_id, caller_number(&report.call, &report.customer), record).await?;
    Ok(Answer::Ack {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vapi_accepts_bearer_secret_or_hmac() {
        let body = br#"{"message":{"type":"status-update"}}"#;
        let now = 1_767_225_600_000i64;
        let with = |pairs: Vec<(&'static str, String)>| move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        let check = |pairs: Vec<(&'static str, String)>| {
            let headers = with(pairs);
            let owned: Vec<(String, Option<String>)> =
                ["authorization", "x-vapi-secret", "x-vapi-signature", "x-vapi-timestamp"].iter().map(|n| (n.to_string(), headers(n))).collect();
            authentic("s3cret", |name: &str| owned.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref()), body, now)
        };
        assert!(check(vec![("authorization", "Bearer s3cret".into())]).is_ok());
        assert!(check(vec![("authorization", "Bearer wrong".into())]).is_err());
        assert!(check(vec![("x-vapi-secret", "s3cret".into())]).is_ok());
        assert!(check(vec![("x-vapi-signature", hmac_sha256_hex("s3cret", &[body]))]).is_ok());
        let ts = (now / 1000 - 3600).to_string();
        let stale = vec![("x-vapi-timestamp", ts.clone()), ("x-vapi-signature", hmac_sha256_hex("s3cret", &[ts.as_bytes(), b".", body]))];
        assert!(matches!(check(stale), Err(WebhookError::StaleSignature)));
        assert!(check(vec![]).is_err());
    }
}
