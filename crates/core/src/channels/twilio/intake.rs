//! Twilio webhooks, from Twilio's signed form POST to the inbox. Accepting one
//! (`POST /webhooks/twilio` for a customer's message, `/webhooks/twilio/status` for a delivery
//! callback): the `X-Twilio-Signature`, the business found by its number, and the parameters
//! stored as a webhook event — only then is it acknowledged. Processing a stored event (the intake
//! worker, [`crate::intake`]): MMS media fetched first, then the customer found or created, the
//! message stored in their SMS or WhatsApp conversation, opt-out keywords applied; a delivery
//! callback moves our message's status forward, with the reason in plain words when it failed.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use protocol::{DeliveryStatus, Media, MessageKind};

use super::wire::{channel_of, InboundMessage, MessageStatus, Params, StatusCallback};
use super::{CALL_EVENT, KIND, MESSAGE_EVENT, STATUS_EVENT};
use crate::channels::inbound::{self, FetchedMedia, Received};
use crate::channels::{self, signing};
use crate::conversations::open_for;
use crate::customers::PhoneNumber;
use crate::error::{Error, WebhookError};
use crate::intake::NewEvent;
use crate::store::BusinessTx;
use crate::Core;

// ---------------------------------------------------------------------------------------------
// Signatures

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the auth token, of the full URL
/// followed by every POST parameter sorted by name, as name then value. A repeated parameter's
/// values are sorted and identical pairs counted once, as Twilio's own libraries do.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    sorted.dedup();
    let mut data = url.to_owned();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

pub fn signature_valid(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    signing::same(&signature(auth_token, url, params), header.trim())
}

// ---------------------------------------------------------------------------------------------
// Accepting webhooks: verified, then stored (the caller acknowledges only after `Ok`)

/// An inbound message; the business is the `To` number. `url` is the full URL Twilio signed (our
/// public URL, path and query). A number no business has connected is ignored.
pub async fn accept_message(core: &Core, url: &str, signature: Option<&str>, params: Params) -> Result<(), Error> {
    let signature = signature.ok_or(WebhookError::MissingSignature("X-Twilio-Signature"))?;
    let message = InboundMessage::from_params(&params);
    let to = message.to.as_deref().ok_or_else(|| WebhookError::InvalidPayload("`To` is missing.".into()))?;
    if message.sid().is_empty() {
        return Err(WebhookError::InvalidPayload("`MessageSid` is missing.".into()).into());
    }
    if channel_of(&message.from).1.is_empty() {
        return Err(WebhookError::InvalidPayload("`From` is missing.".into()).into());
    }
    let key = message.sid().to_owned();
    accept(core, url, signature, params, Event { provider: MESSAGE_EVENT, key, business_number: to }).await
}

/// A delivery callback for a message we sent; the business is the sender, `From`.
pub async fn accept_status(core: &Core, url: &str, signature: Option<&str>, params: Params) -> Result<(), Error> {
    let signature = signature.ok_or(WebhookError::MissingSignature("X-Twilio-Signature"))?;
    let callback = StatusCallback::from_params(&params);
    if callback.message_sid.is_empty() || callback.message_status.is_empty() {
        return Err(WebhookError::InvalidPayload("`MessageSid` and `MessageStatus` are required.".into()).into());
    }
    let key = format!("{}:{}", callback.message_sid, callback.message_status);
    accept(core, url, signature, params, Event { provider: STATUS_EVENT, key, business_number: callback.from.as_deref().unwrap_or("") }).await
}

/// A voice call's status callback (a number's "Call status changes" URL,
/// `/webhooks/twilio/voice-status`, also usable as a `<Dial action>` URL); the business is the
/// number called, `To`. Only calls nobody answered matter here (see [`missed`]).
pub async fn accept_call_status(core: &Core, url: &str, signature: Option<&str>, params: Params) -> Result<(), Error> {
    let signature = signature.ok_or(WebhookError::MissingSignature("X-Twilio-Signature"))?;
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let (Some(sid), Some(status)) = (get("CallSid"), get("CallStatus")) else {
        return Err(WebhookError::InvalidPayload("`CallSid` and `CallStatus` are required.".into()).into());
    };
    let to = get("To").ok_or_else(|| WebhookError::InvalidPayload("`To` is missing.".into()))?;
    // The same call reports several times (a status, the answering-machine verdict, a dial's
    // outcome): each report is its own event; a redelivery of one is the same.
    let key = format!("{sid}:{status}:{}:{}", get("AnsweredBy").unwrap_or_default(), get("DialCallStatus").unwrap_or_default());
    accept(core, url, signature, params.clone(), Event { provider: CALL_EVENT, key, business_number: &to }).await
}

/// A call nobody answered: the caller gets a text back (see [`crate::automations::missed_call`]).
pub async fn process_call_status(tx: &mut BusinessTx, payload: &str) -> Result<(), Error> {
    let params = stored_params(payload)?;
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    if !missed(get("CallStatus"), get("AnsweredBy"), get("DialCallStatus")) {
        return Ok(());
    }
    let Some(phone) = get("From").and_then(PhoneNumber::caller) else { return Ok(()) };
    let customer = inbound::find_or_create_customer(tx, Some(&phone), None, get("CallerName")).await?;
    crate::automations::missed_call(tx, customer.id.as_str(), &format!("twilio:{}", get("CallSid").unwrap_or(""))).await
}

/// Whether Twilio's report says nobody at the business took the call: its `CallStatus` is
/// no-answer, busy or failed; or answering-machine detection found voicemail (`AnsweredBy`:
/// `machine_start`, `machine_end_beep`, `machine_end_silence`, `machine_end_other`, or the older
/// `machine`) — the call "completed", but with a machine; or a forwarded `<Dial>` was not picked
/// up (`DialCallStatus`: no-answer, busy, failed). A person answering (`human`), a fax or an
/// unknown verdict on an answered call is not a missed call.
pub fn missed(call_status: Option<&str>, answered_by: Option<&str>, dial_status: Option<&str>) -> bool {
    let unanswered = |s: Option<&str>| matches!(s, Some("no-answer" | "busy" | "failed"));
    unanswered(call_status) || unanswered(dial_status) || answered_by.is_some_and(|a| a == "machine" || a.starts_with("machine_"))
}

/// A webhook to store: under which provider and key (redeliveries share it), for whose number.
struct Event<'a> {
    provider: &'static str,
    key: String,
    business_number: &'a str,
}

async fn accept(core: &Core, url: &str, signature: &str, params: Params, event: Event<'_>) -> Result<(), Error> {
    let (_, number) = channel_of(event.business_number);
    let mut conn = core.db.reader().acquire().await?;
    let found = channels::for_address::<super::setup::Settings, super::setup::Secrets>(&mut conn, &core.secrets, KIND, number).await?;
    let Some((business_id, channel)) = found else {
        tracing::warn!("Twilio webhook for a number no business has connected; ignored");
        return Ok(());
    };
    let Some((_, secrets)) = channel else { return Ok(()) };
    drop(conn);
    if !signature_valid(&secrets.auth_token, url, &params, signature) {
        return Err(WebhookError::InvalidSignature.into());
    }
    let payload = serde_json::to_string(&params)?;
    crate::intake::store_events(core, vec![NewEvent::new(event.provider, business_id, event.key, payload)]).await
}

// ---------------------------------------------------------------------------------------------
// Processing stored events

fn stored_params(payload: &str) -> Result<Params, Error> {
    serde_json::from_str(payload).map_err(Error::internal)
}

/// Downloads a stored message's MMS media and keeps it (before the transaction: network calls
/// never happen inside one). Media that cannot be fetched is still shown, without its file.
pub async fn prefetch_media(core: &Core, business_id: &str, payload: &str) -> Result<FetchedMedia, Error> {
    let message = InboundMessage::from_params(&stored_params(payload)?);
    let mut fetched = FetchedMedia::default();
    let items = message.media();
    if items.is_empty() || inbound::already_stored(&core.db, business_id, message.sid()).await? {
        return Ok(fetched);
    }
    let mut conn = core.db.reader().acquire().await?;
    let credentials = super::setup::load(&mut conn, &core.secrets, business_id).await?;
    drop(conn);
    let Some((settings, secrets)) = credentials else { return Ok(fetched) };
    for item in items {
        let content_type = item.content_type.unwrap_or("application/octet-stream").to_owned();
        let media = match core.providers.twilio.media(&settings, &secrets, item.url).await {
            Ok(bytes) => {
                let kept = inbound::keep_media(&core.db, business_id, bytes, &content_type, None).await?;
                Media { content_type, url: Some(inbound::media_url(&kept)), filename: None, caption: None }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch Twilio media");
                Media { content_type, url: None, filename: None, caption: None }
            }
        };
        fetched.insert(item.reference, media);
    }
    Ok(fetched)
}

/// Whether a stored message has MMS media to fetch before its transaction (one that cannot be
/// read has none: [`process_message`] then reports it).
pub fn carries_media(payload: &str) -> bool {
    stored_params(payload).is_ok_and(|params| !InboundMessage::from_params(&params).media().is_empty())
}

/// Stores a customer's SMS or WhatsApp message once, in their conversation (both made if new),
/// and hands it to the assistant — unless it opted them out.
pub async fn process_message(tx: &mut BusinessTx, payload: &str, fetched: &FetchedMedia) -> Result<(), Error> {
    let message = InboundMessage::from_params(&stored_params(payload)?);
    let sid = message.sid().to_owned();
    if inbound::message_exists(tx, &sid).await? {
        return Ok(());
    }
    let (channel, number) = channel_of(&message.from);
    // Whatever address it came from is the customer's (one sender, one customer), valid number
    // or not: a short code, a name, a number the numbering plans here do not know yet.
    let phone = PhoneNumber::sender(number);
    let mut customer = inbound::find_or_create_customer(tx, phone.as_ref(), None, message.profile_name.as_deref()).await?;
    let opted = inbound::apply_opt_out_keyword(tx, &mut customer, channel, &message.body).await?;
    let conversation = open_for(tx, &customer.id, channel).await?;
    let (_, business_number) = channel_of(message.to.as_deref().unwrap_or(""));
    inbound::set_channel_address(tx, &conversation.id, business_number).await?;
    let media: Vec<Media> = message.media().iter().filter_map(|item| fetched.get(&item.reference).cloned()).collect();
    let received = Received { kind: kind_of(&media), body: message.body.clone(), media, raw: None, provider_message_id: sid };
    let stored = inbound::store_received(tx, &conversation.id, received).await?;
    // An opt-out is handled, not a question for the assistant; nor is a reply to a reminder
    // the automations answered.
    let handled = crate::automations::replies::customer_message(tx, &customer, &conversation, &stored.id, &message.body, opted == Some(true)).await?;
    // A sender that takes no answer (a short code, a sender's name) is for a person to read.
    if !handled && crate::customers::takes_answers(&customer) {
        crate::assistant::enqueue(tx, &conversation, &stored.id).await?;
    }
    Ok(())
}

/// A message is what its first file is; without files, text.
fn kind_of(media: &[Media]) -> MessageKind {
    match media.first().map(|m| m.content_type.split('/').next().unwrap_or("")) {
        None => MessageKind::Text,
        Some("image") => MessageKind::Image,
        Some("audio") => MessageKind::Audio,
        Some("video") => MessageKind::Video,
        Some(_) => MessageKind::Document,
    }
}

/// A delivery status that beat the sender to recording the provider's message id: retried.
#[derive(Debug, thiserror::Error)]
#[error("the message this status is about is not recorded yet")]
struct NotYetKnown;

/// Moves one of our messages' delivery state forward (never back: callbacks arrive out of
/// order), with the reason in plain words when it failed.
pub async fn process_status(tx: &mut BusinessTx, payload: &str, received_at: i64) -> Result<(), Error> {
    let callback = StatusCallback::from_params(&stored_params(payload)?);
    let new = match callback.status() {
        MessageStatus::Sent => DeliveryStatus::Sent,
        MessageStatus::Delivered => DeliveryStatus::Delivered,
        MessageStatus::Read => DeliveryStatus::Read,
        MessageStatus::Failed | MessageStatus::Undelivered => DeliveryStatus::Failed,
        MessageStatus::Other => return Ok(()),
    };
    let error = (new == DeliveryStatus::Failed).then(|| undelivered_reason(callback.error_code.as_deref().unwrap_or("")));
    if !inbound::message_exists(tx, &callback.message_sid).await? && received_at > tx.now_ms() - 10 * 60_000 {
        // The callback can beat the sender recording the SID; try again shortly.
        return Err(Error::internal(NotYetKnown));
    }
    inbound::advance_delivery(tx, &callback.message_sid, new, error).await?;
    Ok(())
}

/// Why Twilio could not deliver a message, for the front desk (its delivery error codes).
fn undelivered_reason(code: &str) -> String {
    match code {
        "30003" => "The customer's phone is off or out of reach.".to_owned(),
        "30004" | "21610" => "The customer has blocked or opted out of these messages.".to_owned(),
        "30005" | "30006" => "The number does not exist or cannot receive texts.".to_owned(),
        "30007" => "The carrier filtered the message as spam.".to_owned(),
        "63016" => "More than 24 hours have passed since the customer last wrote; send an approved template.".to_owned(),
        _ => format!("The message could not be delivered (Twilio error {code})."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twilio_published_vectors() {
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+14158675309"),
            ("Digits", "1234"),
            ("From", "+14158675309"),
            ("To", "+18005551212"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(signature_valid("12345", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!signature_valid("12345", &format!("{url}&x=1"), &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!signature_valid("54321", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        // Repeated parameters, from Twilio's libraries' tests.
        let repeated: Vec<(String, String)> = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(signature("12345", url, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }
}
