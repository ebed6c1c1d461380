//! WhatsApp webhooks, from Meta's signed POST to the inbox. Accepting one (`POST
//! /webhooks/whatsapp`): Meta's subscription check, the `X-Hub-Signature-256` signature (every
//! business a delivery speaks for must have signed it), and the delivery split by business and
//! stored as webhook events — only then is it acknowledged. Processing a stored event (the intake
//! worker, [`crate::intake`]): media fetched first, then customers found or created, messages
//! stored in their conversations, opt-out keywords applied, and our messages' statuses moved
//! forward.

use std::collections::BTreeMap;

use protocol::{Channel, DeliveryStatus, Media, MessageKind};
use sha2::{Digest, Sha256};

use super::wire::{ChangeValue, Content, DeliveredEntry, Delivery, ErrorDetail, Message, Notification, Status, StatusKind};
use super::{EVENT, KIND};
use crate::channels::inbound::{self, FetchedMedia, Received};
use crate::channels::wire::from_json;
use crate::channels::{self, signing};
use crate::conversations::open_for;
use crate::customers::WhatsappId;
use crate::error::{Error, WebhookError};
use crate::intake::NewEvent;
use crate::store::BusinessTx;
use crate::Core;

// ---------------------------------------------------------------------------------------------
// Accepting webhooks: verified, then stored (the caller acknowledges only after `Ok`)

/// Meta's `X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the exact body with the app secret.
pub fn signature_valid(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else { return false };
    let Some(signature) = signing::decode_hex(hex) else { return false };
    signing::hmac_sha256_matches(app_secret, body, &signature)
}

/// Meta's subscription check: the challenge to echo when `verify_token` is a business's.
pub async fn verify_subscription(core: &Core, mode: Option<&str>, verify_token: Option<&str>, challenge: Option<String>) -> Result<String, Error> {
    let (Some("subscribe"), Some(token), Some(challenge)) = (mode, verify_token, challenge) else {
        return Err(WebhookError::InvalidVerifyToken.into());
    };
    let known: Option<String> = sqlx::query_scalar("SELECT business_id FROM channels WHERE kind = $1 AND verify_token_hash = $2")
        .bind(KIND)
        .bind(crate::accounts::token_hash(token))
        .fetch_optional(core.db.reader())
        .await?;
    known.ok_or(WebhookError::InvalidVerifyToken)?;
    Ok(challenge)
}

/// A WhatsApp Cloud API notification (messages and statuses) signed with `X-Hub-Signature-256`.
/// One body may speak for several businesses; every one of them must have signed it (a body
/// signed with one business's app secret cannot carry another business's messages).
pub async fn accept(core: &Core, signature: Option<&str>, body: &[u8]) -> Result<(), Error> {
    let signature = signature.ok_or(WebhookError::MissingSignature("X-Hub-Signature-256"))?;
    let delivery: Delivery = from_json(body).map_err(|e| {
        let why = if e.is_data() { "A WhatsApp notification has an `entry` list.".to_owned() } else { format!("The body is not JSON: {e}") };
        WebhookError::InvalidPayload(why)
    })?;
    let key: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    let mut events = Vec::new();
    let mut conn = core.db.reader().acquire().await?;
    for (phone_number_id, part) in split_by_number(delivery) {
        let Some(business_id) = channels::business_for(&mut conn, KIND, &phone_number_id).await? else {
            tracing::warn!(%phone_number_id, "WhatsApp notification for a number no business has connected; ignored");
            continue;
        };
        let Some((_, secrets)) = super::setup::load(&mut conn, &core.secrets, &business_id).await? else {
            continue;
        };
        if !signature_valid(&secrets.app_secret, body, signature) {
            return Err(WebhookError::InvalidSignature.into());
        }
        events.push(NewEvent::new(EVENT, business_id, key.clone(), serde_json::to_string(&part)?));
    }
    drop(conn);
    crate::intake::store_events(core, events).await
}

/// Each business number's part of a delivery: its changes, each as it came, under its entry's id.
fn split_by_number(delivery: Delivery) -> BTreeMap<String, Delivery> {
    let mut parts: BTreeMap<String, Delivery> = BTreeMap::new();
    for entry in delivery.entry {
        for change in entry.changes {
            let Some(phone_number_id) = super::wire::phone_number_id_of(&change) else { continue };
            let part = parts.entry(phone_number_id).or_insert_with(|| Delivery { object: delivery.object.clone(), entry: vec![] });
            part.entry.push(DeliveredEntry { id: entry.id.clone(), changes: vec![change] });
        }
    }
    parts
}

// ---------------------------------------------------------------------------------------------
// Processing stored events

/// Downloads the media of a stored event's new messages and keeps it (before the transaction:
/// network calls never happen inside one). Media that cannot be fetched is still shown, without
/// its file.
pub async fn prefetch_media(core: &Core, business_id: &str, payload: &str) -> Result<FetchedMedia, Error> {
    let notification: Notification = from_json(payload.as_bytes()).map_err(Error::internal)?;
    let mut fetched = FetchedMedia::default();
    let mut wanted = Vec::new();
    for message in notification.message_changes().flat_map(|value| &value.messages) {
        let Some((_, media)) = message.content.media() else { continue };
        if inbound::already_stored(&core.db, business_id, message.id.as_deref().unwrap_or("")).await? {
            continue;
        }
        if let Some(media_id) = &media.id {
            wanted.push((media_id.clone(), media.filename.clone(), media.caption.clone()));
        }
    }
    if wanted.is_empty() {
        return Ok(fetched);
    }
    let mut conn = core.db.reader().acquire().await?;
    let credentials = super::setup::load(&mut conn, &core.secrets, business_id).await?;
    drop(conn);
    let Some((_, secrets)) = credentials else { return Ok(fetched) };
    for (media_id, filename, caption) in wanted {
        let media = match core.providers.whatsapp.media(&secrets, &media_id).await {
            Ok((bytes, content_type)) => {
                let kept = inbound::keep_media(&core.db, business_id, bytes, &content_type, filename.as_deref()).await?;
                Media { content_type, url: Some(inbound::media_url(&kept)), filename, caption }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not fetch WhatsApp media");
                Media { content_type: "application/octet-stream".into(), url: None, filename, caption }
            }
        };
        fetched.insert(media_id, media);
    }
    Ok(fetched)
}

/// Turns a stored notification into messages and delivery states, in the business's transaction.
pub async fn process(tx: &mut BusinessTx, payload: &str, fetched: &FetchedMedia) -> Result<(), Error> {
    let notification: Notification = from_json(payload.as_bytes()).map_err(Error::internal)?;
    for value in notification.message_changes() {
        for message in &value.messages {
            receive(tx, value, message, fetched).await?;
        }
        for status in &value.statuses {
            apply_status(tx, status).await?;
        }
    }
    Ok(())
}

/// Stores a customer's message once, in their WhatsApp conversation (both made if new), and
/// hands it to the assistant — unless it opted them out, or is a reaction.
async fn receive(tx: &mut BusinessTx, value: &ChangeValue, message: &Message, fetched: &FetchedMedia) -> Result<(), Error> {
    let Some(provider_id) = message.id.as_deref() else {
        tracing::warn!("a WhatsApp message without an id; it cannot be told from a redelivery, so it is left out");
        return Ok(());
    };
    if inbound::message_exists(tx, provider_id).await? {
        return Ok(());
    }
    let from = message.from.as_deref().unwrap_or("");
    // The same rule as the customers API (`WhatsappId`). Meta's ids always follow it; one that
    // does not still lands, as sent, rather than losing an acknowledged message.
    let (whatsapp_id, phone) = match WhatsappId::parse(from) {
        Ok(id) => (id.as_str().to_owned(), id.phone()),
        Err(_) => {
            tracing::warn!("a WhatsApp message from an id that is neither a number nor a user id; kept as sent");
            (from.to_owned(), None)
        }
    };
    let mut customer = inbound::find_or_create_customer(tx, phone.as_ref(), Some(&whatsapp_id), value.profile_name(from)).await?;
    // Unmistakable opt-out words (as on Twilio's WhatsApp), and back in with START.
    let typed = match &message.content {
        Content::Text { text } => text.body.as_str(),
        _ => "",
    };
    let opted = inbound::apply_opt_out_keyword(tx, &mut customer, Channel::Whatsapp, typed).await?;
    // A tapped button answers as the code it carries (never as an opt-out word: a tap is no
    // carrier keyword).
    let tapped = tapped_reply(&message.content);
    let text = tapped.as_deref().unwrap_or(typed);
    let conversation = open_for(tx, &customer.id, Channel::Whatsapp).await?;
    inbound::set_channel_address(tx, &conversation.id, value.metadata.phone_number_id.as_deref().unwrap_or("")).await?;
    let received = describe(message, provider_id, fetched);
    let kind = received.kind;
    let stored = inbound::store_received(tx, &conversation.id, received).await?;
    if kind != MessageKind::Reaction {
        let handled = crate::automations::replies::customer_message(tx, &customer, &conversation, &stored.id, text, opted == Some(true)).await?;
        if !handled {
            crate::assistant::enqueue(tx, &conversation, &stored.id).await?;
        }
    }
    Ok(())
}

/// What a tapped button says, as a typed reply would: the payload our template's quick-reply
/// button carries (`C`, `R`, `X`) or an interactive reply button's id when it reads as a reply,
/// else the button's text — where a plain "Cancel" (which typed alone stays a carrier's opt-out
/// word and goes to a person) is the cancel code, since a tap is unmistakable. `None` for
/// anything but a button.
fn tapped_reply(content: &Content) -> Option<String> {
    use crate::automations::replies::{interpret, Intent};
    let (id, title) = match content {
        Content::Button { button } => (button.payload.as_deref(), button.text.as_str()),
        Content::Interactive { interactive } => {
            let choice = interactive.button_reply.as_ref()?;
            (choice.id.as_deref(), choice.title.as_deref().unwrap_or(""))
        }
        _ => return None,
    };
    for said in [id.unwrap_or(""), title].map(str::trim).into_iter().filter(|s| !s.is_empty()) {
        if said.eq_ignore_ascii_case("cancel") {
            return Some("X".to_owned());
        }
        if interpret(said) != Intent::Unclear {
            return Some(said.to_owned());
        }
    }
    Some(title.trim().to_owned())
}

/// What an inbound WhatsApp message says, in the inbox's terms. Kinds the inbox shows only in
/// part keep Meta's payload with them.
fn describe(message: &Message, provider_id: &str, fetched: &FetchedMedia) -> Received {
    let raw = || Some(message.raw.to_string());
    let (kind, body, media, raw) = match &message.content {
        Content::Text { text } => (MessageKind::Text, text.body.clone(), vec![], None),
        Content::Location { location } => {
            let place = [location.name.as_deref(), location.address.as_deref()].into_iter().flatten().collect::<Vec<_>>().join(", ");
            let coords = format!("{}, {}", location.latitude, location.longitude);
            let body = if place.is_empty() { format!("Shared a location ({coords})") } else { format!("Shared a location: {place} ({coords})") };
            (MessageKind::Location, body, vec![], raw())
        }
        Content::Contacts { contacts } => {
            let cards: Vec<String> = contacts
                .iter()
                .map(|card| {
                    let name = card.name.as_ref().and_then(|n| n.formatted_name.as_deref()).unwrap_or("Someone");
                    let phones: Vec<&str> = card.phones.iter().filter_map(|p| p.phone.as_deref()).collect();
                    if phones.is_empty() { name.to_owned() } else { format!("{name} ({})", phones.join(", ")) }
                })
                .collect();
            (MessageKind::Contacts, format!("Shared contact: {}", cards.join("; ")), vec![], raw())
        }
        Content::Button { button } => (MessageKind::Reply, button.text.clone(), vec![], None),
        Content::Interactive { interactive } => (MessageKind::Reply, interactive.title().to_owned(), vec![], raw()),
        Content::Reaction { reaction } => {
            let emoji = reaction.emoji.as_deref().unwrap_or("");
            let body = if emoji.is_empty() { "Removed a reaction".to_owned() } else { format!("Reacted {emoji}") };
            (MessageKind::Reaction, body, vec![], raw())
        }
        content => match content.media() {
            Some((kind, object)) => {
                let media = object.id.as_deref().and_then(|id| fetched.get(id)).cloned().into_iter().collect();
                let kind = MessageKind::parse(kind).unwrap_or(MessageKind::Document);
                (kind, object.caption.clone().unwrap_or_default(), media, None)
            }
            // Orders, system notices, first-contact requests and whatever Meta adds next.
            None => (MessageKind::Unsupported, format!("A message Switchboard cannot show yet ({}).", content.kind()), vec![], raw()),
        },
    };
    Received { kind, body, media, raw, provider_message_id: provider_id.to_owned() }
}

/// Moves one of our messages' delivery state forward (never back: statuses arrive out of order).
async fn apply_status(tx: &mut BusinessTx, status: &Status) -> Result<(), Error> {
    let new = match status.status {
        StatusKind::Sent => DeliveryStatus::Sent,
        StatusKind::Delivered => DeliveryStatus::Delivered,
        StatusKind::Read => DeliveryStatus::Read,
        StatusKind::Failed => DeliveryStatus::Failed,
        StatusKind::Other => return Ok(()),
    };
    let error = status.errors.first().and_then(ErrorDetail::explanation).map(|e| format!("WhatsApp could not deliver it: {e}"));
    inbound::advance_delivery(tx, &status.id, new, error).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_signature_published_vector() {
        // The X-Hub-Signature-256 scheme's documented example (GitHub uses the same scheme).
        let secret = "It's a Secret to Everybody";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(signature_valid(secret, b"Hello, World!", header));
        assert!(!signature_valid(secret, b"Hello, World?", header));
        assert!(!signature_valid("another secret", b"Hello, World!", header));
        assert!(!signature_valid(secret, b"Hello, World!", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
        assert!(!signature_valid(secret, b"Hello, World!", "sha256=zz"));
    }

    #[test]
    fn a_tapped_button_answers_as_its_code() {
        let button = |payload: Option<&str>, text: &str| Content::Button { button: super::super::wire::Button { payload: payload.map(String::from), text: text.into() } };
        assert_eq!(tapped_reply(&button(Some("C"), "Confirm")).as_deref(), Some("C"));
        assert_eq!(tapped_reply(&button(Some("X"), "Cancel")).as_deref(), Some("X"));
        // Meta sends the button's text as the payload when the template set none.
        assert_eq!(tapped_reply(&button(Some("Cancel"), "Cancel")).as_deref(), Some("X"));
        assert_eq!(tapped_reply(&button(Some("BTN_7"), "Reschedule")).as_deref(), Some("Reschedule"));
        assert_eq!(tapped_reply(&button(None, "Something else")).as_deref(), Some("Something else"));
        let text = Content::Text { text: super::super::wire::Text { body: "C".into() } };
        assert_eq!(tapped_reply(&text), None);
    }
}
