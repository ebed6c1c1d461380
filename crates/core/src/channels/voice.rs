//! Phone calls through voice AI platforms: Vapi and Retell.
//!
//! The platform runs the call (speech, its own model); Switchboard answers its tool calls
//! synchronously with the same tools the chat assistant uses — free times, bookings — so a
//! caller can never be offered or given a time the engine would refuse. Call progress shows up
//! live in the customer's timeline, and the end-of-call report (transcript, summary, recording,
//! duration, why it ended) becomes the call's record there, next to their chats.
//!
//! Authentication: Vapi sends the configured secret as a Bearer token (its credential system) or
//! as `x-vapi-secret`, or signs the body with an HMAC credential (`x-vapi-signature`, hex
//! HMAC-SHA256 of the body, or of `timestamp.body` when `x-vapi-timestamp` is sent). Retell signs
//! with `x-retell-signature: v=<unix ms>,d=<hex HMAC-SHA256 of body + timestamp>` under the API
//! key; timestamps older than five minutes are refused.

use crate::Core;
use protocol::EntityKind;
use hmac::{Hmac, Mac};
use jiff::tz::TimeZone;
use protocol::{AuthorKind, CallRecord, Channel, DeliveryStatus, Direction, MessageKind, RetellChannelSetup, VapiChannelSetup};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::accounts::{required_text, Actor, Permission};
use crate::assistant::Context;
use crate::channels;
use crate::conversations::{add_message, open_for, NewMessage};
use crate::customers::PhoneNumber;
use crate::error::{Error, WebhookError};

const STALE_MS: i64 = 5 * 60_000;

#[derive(Clone, Serialize, Deserialize)]
struct VoiceSecret {
    secret: String,
}

impl std::fmt::Debug for VoiceSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VoiceSecret([REDACTED])")
    }
}

async fn secret_of(state: &Core, business_id: &str, kind: &str) -> Result<String, Error> {
    let mut conn = state.db.reader().acquire().await?;
    let loaded = channels::load::<Value, VoiceSecret>(&mut conn, &state.secrets, business_id, kind).await?;
    loaded.map(|(_, s)| s.secret).ok_or(WebhookError::InvalidSignature.into())
}

fn hmac_hex(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Checks a Vapi request; `header` looks a request header up by its lower-case name.
pub fn vapi_authentic<'h>(secret: &str, header: impl Fn(&str) -> Option<&'h str>, body: &[u8], now_ms: i64) -> Result<(), WebhookError> {
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
                hmac_hex(secret, &[ts.as_bytes(), b".", body])
            }
            None => hmac_hex(secret, &[body]),
        };
        return if same(signature.trim_start_matches("sha256="), &expected) { Ok(()) } else { Err(refused()) };
    }
    Err(WebhookError::MissingSignature("x-vapi-signature"))
}

pub fn retell_authentic(api_key: &str, header: Option<&str>, body: &[u8], now_ms: i64) -> Result<(), WebhookError> {
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
    if same(&digest, &hmac_hex(api_key, &[body, ts.as_bytes()])) {
        Ok(())
    } else {
        Err(refused())
    }
}

fn json_body(body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| WebhookError::InvalidPayload(format!("The body is not JSON: {e}")).into())
}

/// The caller as a customer, and their voice conversation.
async fn caller_context(state: &Core, business_id: &str, number: Option<&str>, name: Option<&str>) -> Result<Context, Error> {
    let phone = number.and_then(|n| PhoneNumber::parse(n, None).ok());
    let mut tx = state.db.begin_business(business_id).await?;
    let customer = crate::intake::find_or_create_customer(&mut tx, phone.as_ref(), None, name).await?;
    let conversation = open_for(&mut tx, &customer.id, Channel::Voice).await?;
    tx.commit_even_if_unchanged().await?;
    let mut conn = state.db.reader().acquire().await?;
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
        now: state.db.now().as_jiff(),
    })
}

/// Creates or updates the call's line in the caller's timeline.
async fn record_call(state: &Core, business_id: &str, number: Option<&str>, record: CallRecord) -> Result<(), Error> {
    let ctx = caller_context(state, business_id, number, None).await?;
    let provider_id = format!("{}:{}", record.provider, record.call_id);
    let body = match (&record.summary, record.status.as_str()) {
        (Some(summary), _) => summary.clone(),
        (None, "in_progress") => "Call in progress…".to_owned(),
        (None, _) => "Call ended".to_owned(),
    };
    let raw = serde_json::to_string(&record).map_err(Error::internal)?;
    let mut tx = state.db.begin_business(business_id).await?;
    let existing: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(business_id)
        .bind(&provider_id)
        .fetch_optional(tx.conn())
        .await?;
    match existing {
        Some(id) => {
            // A later report never loses what an earlier one said (status updates carry less).
            let old: Option<String> = sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1").bind(&id).fetch_one(tx.conn()).await?;
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
            let body = merged.summary.clone().unwrap_or(if merged.status == "ended" { "Call ended".into() } else { body });
            sqlx::query("UPDATE messages SET body = $1, raw = $2, updated_at = $3 WHERE id = $4")
                .bind(&body)
                .bind(serde_json::to_string(&merged).map_err(Error::internal)?)
                .bind(tx.now_ms())
                .bind(&id)
                .execute(tx.conn())
                .await?;
            let message = crate::conversations::load_message(tx.conn(), business_id, &id).await?.ok_or_else(|| Error::NotFound("message"))?;
            tx.record(EntityKind::Message, &id, Some(&message)).await?;
        }
        None => {
            add_message(
                &mut tx,
                &ctx.conversation.id,
                NewMessage {
                    id: None,
                    direction: Direction::Inbound,
                    kind: MessageKind::Call,
                    raw: Some(raw),
                    author_kind: AuthorKind::Customer,
                    author_staff_id: None,
                    body,
                    media: vec![],
                    provider_message_id: Some(provider_id),
                    delivery_status: DeliveryStatus::Received,
                    at_ms: None,
                },
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Arguments arrive as an object or as JSON text, depending on the platform and its version.
fn arguments(v: &Value) -> Value {
    match v {
        Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
        other => other.clone(),
    }
}

async fn answer_tool(state: &Core, ctx: &Context, name: &str, args: &Value) -> Value {
    if !args.is_object() {
        return json!({"error": "The arguments were not a JSON object."});
    }
    if name == "hand_off" {
        let reason = args["reason"].as_str().unwrap_or("the caller asked for a person");
        return match crate::assistant::escalate_with_holding_reply(state, &ctx.business_id, &ctx.conversation.id, reason).await {
            Ok(()) => json!({"done": true, "say": "I've asked a member of the team to call you back."}),
            Err(_) => json!({"error": "internal"}),
        };
    }
    crate::assistant::run_tool(state, ctx, name, args).await
}

/// Connects Vapi: the secret it authenticates its requests with (owners and admins).
pub async fn connect_vapi(core: &Core, actor: &Actor, req: VapiChannelSetup) -> Result<protocol::ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let secret = VoiceSecret { secret: required_text(&req.secret, "secret", 512)? };
    channels::save_simple(core, actor, "vapi", core.secrets.seal(&secret)).await
}

/// Connects Retell: the API key with the webhook badge (owners and admins).
pub async fn connect_retell(core: &Core, actor: &Actor, req: RetellChannelSetup) -> Result<protocol::ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let secret = VoiceSecret { secret: required_text(&req.api_key, "api_key", 512)? };
    channels::save_simple(core, actor, "retell", core.secrets.seal(&secret)).await
}

/// A Vapi webhook for `business_id`: tool calls answered, call progress and the end-of-call
/// report recorded. `header` looks a request header up by its lower-case name. The answer is the
/// JSON to send back (`None`: nothing to say).
pub async fn vapi<'h>(core: &Core, business_id: &str, header: impl Fn(&str) -> Option<&'h str>, body: &[u8]) -> Result<Option<Value>, Error> {
    let secret = secret_of(core, &business_id, "vapi").await?;
    vapi_authentic(&secret, header, body, core.db.now_ms())?;
    let payload = json_body(body)?;
    let message = &payload["message"];
    let call = &message["call"];
    let number = call["customer"]["number"].as_str().or(message["customer"]["number"].as_str());
    let call_id = call["id"].as_str().unwrap_or("").to_owned();
    match message["type"].as_str().unwrap_or("") {
        "tool-calls" => {
            let ctx = caller_context(core, &business_id, number, call["customer"]["name"].as_str()).await?;
            let mut results = Vec::new();
            let calls: Vec<(String, String, Value)> = message["toolCallList"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| (c["id"].as_str().unwrap_or("").to_owned(), c["function"]["name"].as_str().unwrap_or("").to_owned(), arguments(&c["function"]["arguments"])))
                .chain(message["toolWithToolCallList"].as_array().into_iter().flatten().filter(|_| message["toolCallList"].is_null()).map(|t| {
                    let c = &t["toolCall"];
                    (c["id"].as_str().unwrap_or("").to_owned(), t["function"]["name"].as_str().or(c["function"]["name"].as_str()).unwrap_or("").to_owned(), arguments(&c["function"]["arguments"]))
                }))
                .collect();
            for (id, name, args) in calls {
                let result = answer_tool(core, &ctx, &name, &args).await;
                results.push(json!({"toolCallId": id, "result": result.to_string()}));
            }
            Ok(Some(json!({"results": results})))
        }
        "function-call" => {
            let ctx = caller_context(core, &business_id, number, None).await?;
            let f = &message["functionCall"];
            let result = answer_tool(core, &ctx, f["name"].as_str().unwrap_or(""), &arguments(&f["parameters"])).await;
            Ok(Some(json!({"result": result.to_string()})))
        }
        "status-update" => {
            let status = match message["status"].as_str().unwrap_or("") {
                "ended" => "ended",
                "in-progress" | "ringing" | "queued" | "forwarding" => "in_progress",
                _ => return Ok(Some(json!({}))),
            };
            if !call_id.is_empty() {
                let record = CallRecord { provider: "vapi".into(), call_id, status: status.into(), ended_reason: message["endedReason"].as_str().map(str::to_owned), ..CallRecord::default() };
                record_call(core, &business_id, number, record).await?;
            }
            Ok(Some(json!({})))
        }
        "end-of-call-report" => {
            let artifact = &message["artifact"];
            let duration = message["durationSeconds"].as_f64().or(call["durationSeconds"].as_f64()).map(|d| d.round() as u32);
            let record = CallRecord {
                provider: "vapi".into(),
                call_id,
                status: "ended".into(),
                transcript: artifact["transcript"].as_str().or(message["transcript"].as_str()).map(str::to_owned),
                summary: message["analysis"]["summary"].as_str().or(message["summary"].as_str()).map(str::to_owned),
                recording_url: artifact["recordingUrl"].as_str().or(message["recordingUrl"].as_str()).map(str::to_owned),
                duration_seconds: duration,
                ended_reason: message["endedReason"].as_str().map(str::to_owned),
            };
            if record.call_id.is_empty() {
                return Err(Error::from(WebhookError::InvalidPayload("An end-of-call report names its call.".into())));
            }
            record_call(core, &business_id, number, record).await?;
            Ok(Some(json!({})))
        }
        _ => Ok(Some(json!({}))),
    }
}

/// A Retell webhook for `business_id`: call events, the inbound-call webhook (the caller's name
/// and next booking as dynamic variables) and custom function calls. `None`: answer 204.
pub async fn retell<'h>(core: &Core, business_id: &str, header: impl Fn(&str) -> Option<&'h str>, body: &[u8]) -> Result<Option<Value>, Error> {
    let key = secret_of(core, &business_id, "retell").await?;
    retell_authentic(&key, header("x-retell-signature"), body, core.db.now_ms())?;
    let payload = json_body(body)?;
    let call = &payload["call"];
    let inbound = call["direction"].as_str() != Some("outbound");
    let number = if inbound { call["from_number"].as_str() } else { call["to_number"].as_str() };
    match payload["event"].as_str() {
        Some("call_inbound") => {
            let from = payload["call_inbound"]["from_number"].as_str();
            let ctx = caller_context(core, &business_id, from, None).await?;
            let next = crate::assistant::run_tool(core, &ctx, "my_bookings", &json!({})).await;
            let next_booking = next["bookings"][0].as_object().map(|b| format!("{} on {}", b["service"].as_str().unwrap_or(""), b["local"].as_str().unwrap_or(""))).unwrap_or_default();
            Ok(Some(json!({"call_inbound": {"dynamic_variables": {
                "customer_name": ctx.customer.name.clone().unwrap_or_default(),
                "next_booking": next_booking,
                "business_name": ctx.business_name,
            }}})))
        }
        Some(event @ ("call_started" | "call_ended" | "call_analyzed")) => {
            let call_id = call["call_id"].as_str().unwrap_or("").to_owned();
            if call_id.is_empty() {
                return Err(Error::from(WebhookError::InvalidPayload("A call event names its call.".into())));
            }
            let record = CallRecord {
                provider: "retell".into(),
                call_id,
                status: if event == "call_started" { "in_progress".into() } else { "ended".into() },
                transcript: call["transcript"].as_str().map(str::to_owned),
                summary: call["call_analysis"]["call_summary"].as_str().map(str::to_owned),
                recording_url: call["recording_url"].as_str().map(str::to_owned),
                duration_seconds: call["duration_ms"].as_u64().map(|ms| ((ms + 500) / 1000) as u32),
                ended_reason: call["disconnection_reason"].as_str().map(str::to_owned),
            };
            record_call(core, &business_id, number, record).await?;
            Ok(None)
        }
        Some(_) => Ok(None),
        None => {
            // A custom function call: {"name", "args", "call"}.
            let Some(name) = payload["name"].as_str() else {
                return Err(Error::from(WebhookError::InvalidPayload("Neither an event nor a function call.".into())));
            };
            let ctx = caller_context(core, &business_id, number, None).await?;
            Ok(Some(answer_tool(core, &ctx, name, &arguments(&payload["args"])).await))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retell_signatures_are_timestamped() {
        let body = br#"{"event":"call_ended"}"#;
        let now = 1_767_225_600_000i64;
        let sign = |at: i64, key: &str| format!("v={at},d={}", hmac_hex(key, &[body, at.to_string().as_bytes()]));
        assert!(retell_authentic("key_abc", Some(&sign(now - 1000, "key_abc")), body, now).is_ok());
        assert!(matches!(retell_authentic("key_abc", Some(&sign(now - 1000, "other")), body, now), Err(WebhookError::InvalidSignature)));
        assert!(matches!(retell_authentic("key_abc", Some(&sign(now - 10 * 60_000, "key_abc")), body, now), Err(WebhookError::StaleSignature)));
        assert!(matches!(retell_authentic("key_abc", None, body, now), Err(WebhookError::MissingSignature(_))));
    }

    #[test]
    fn vapi_accepts_bearer_secret_or_hmac() {
        let body = br#"{"message":{"type":"status-update"}}"#;
        let now = 1_767_225_600_000i64;
        let with = |pairs: Vec<(&'static str, String)>| move |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        let check = |pairs: Vec<(&'static str, String)>| {
            let headers = with(pairs);
            let owned: Vec<(String, Option<String>)> =
                ["authorization", "x-vapi-secret", "x-vapi-signature", "x-vapi-timestamp"].iter().map(|n| (n.to_string(), headers(n))).collect();
            vapi_authentic("s3cret", |name: &str| owned.iter().find(|(k, _)| k == name).and_then(|(_, v)| v.as_deref()), body, now)
        };
        assert!(check(vec![("authorization", "Bearer s3cret".into())]).is_ok());
        assert!(check(vec![("authorization", "Bearer wrong".into())]).is_err());
        assert!(check(vec![("x-vapi-secret", "s3cret".into())]).is_ok());
        assert!(check(vec![("x-vapi-signature", hmac_hex("s3cret", &[body]))]).is_ok());
        let ts = (now / 1000 - 3600).to_string();
        let stale = vec![("x-vapi-timestamp", ts.clone()), ("x-vapi-signature", hmac_hex("s3cret", &[ts.as_bytes(), b".", body]))];
        assert!(matches!(check(stale), Err(WebhookError::StaleSignature)));
        assert!(check(vec![]).is_err());
    }

}
