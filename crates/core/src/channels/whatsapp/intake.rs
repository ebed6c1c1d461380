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
use crate::customers::{PhoneNumber, WhatsappId};
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
        let found = channels::for_address::<super::setup::Settings, super::setup::Secrets>(&mut conn, &core.secrets, KIND, &phone_number_id).await?;
        let Some((business_id, channel)) = found else {
            tracing::warn!(%phone_number_id, "WhatsApp notification for a number no business has connected; ignored");
            continue;
        };
        let Some((_, secrets)) = channel else { continue };
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

/// Whether a stored notification has media to fetch before its transaction (one that cannot be
/// read has none: [`process`] then reports it).
pub fn carries_media(payload: &str) -> bool {
    let Ok(notification) = from_json::<Notification>(payload.as_bytes()) else { return false };
    let mut messages = notification.message_changes().flat_map(|value| &value.messages);
    messages.any(|message| message.content.media().is_some())
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
    land(tx, incoming(value, message, provider_id, fetched)).await
}

/// A customer's message not stored yet, read from its notification: who wrote, to which of the
/// business's numbers, and what it says.
#[derive(Clone)]
struct Incoming {
    whatsapp_id: String,
    phone: Option<PhoneNumber>,
    profile_name: Option<String>,
    /// The business's number it came to (replies go out from it).
    address: String,
    /// What they typed (opt-out words are read from it; empty for anything but text).
    typed: String,
    /// What a tapped button answers, read as a typed reply would be.
    tapped: Option<String>,
    received: Received,
}

impl Incoming {
    /// What the message answers, as automations read it.
    fn text(&self) -> &str {
        self.tapped.as_deref().unwrap_or(&self.typed)
    }
}

fn incoming(value: &ChangeValue, message: &Message, provider_id: &str, fetched: &FetchedMedia) -> Incoming {
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
    let typed = match &message.content {
        Content::Text { text } => text.body.clone(),
        _ => String::new(),
    };
    Incoming {
        whatsapp_id,
        phone,
        profile_name: value.profile_name(from).map(str::to_owned),
        address: value.metadata.phone_number_id.clone().unwrap_or_default(),
        typed,
        // A tapped button answers as the code it carries (never as an opt-out word: a tap is no
        // carrier keyword).
        tapped: tapped_reply(&message.content),
        received: describe(message, provider_id, fetched),
    }
}

/// Lands one message (the message-by-message path): the customer found or created, opt-out
/// words applied, the message stored in their open conversation, automations told and the
/// assistant handed it.
async fn land(tx: &mut BusinessTx, message: Incoming) -> Result<(), Error> {
    let mut customer = inbound::find_or_create_customer(tx, message.phone.as_ref(), Some(&message.whatsapp_id), message.profile_name.as_deref()).await?;
    // Unmistakable opt-out words (as on Twilio's WhatsApp), and back in with START.
    let opted = inbound::apply_opt_out_keyword(tx, &mut customer, Channel::Whatsapp, &message.typed).await?;
    let text = message.text().to_owned();
    let conversation = open_for(tx, &customer.id, Channel::Whatsapp).await?;
    inbound::set_channel_address(tx, &conversation.id, &message.address).await?;
    let kind = message.received.kind;
    let stored = inbound::store_received(tx, &conversation.id, message.received).await?;
    if kind != MessageKind::Reaction {
        let handled = crate::automations::replies::customer_message(tx, &customer, &conversation, &stored.id, &text, opted == Some(true)).await?;
        if !handled {
            crate::assistant::enqueue(tx, &conversation, &stored.id).await?;
        }
    }
    Ok(())
}

/// Plain text messages of several stored notifications, landed together with a few statements
/// for all of them ([`Texts::land`]) instead of a dozen for each — the bulk of what arrives.
#[derive(Default)]
pub(crate) struct Texts {
    messages: Vec<Incoming>,
}

/// A stored notification's messages read before its transaction, when they are all plain text
/// ([`plain_texts`]), for [`Texts::take`].
#[derive(Clone)]
pub(crate) struct PlainTexts(Vec<Incoming>);

/// Reads a stored notification's messages when they are all plain text, none of them an opt-out
/// or opt-in word, and it carries no statuses; `None` leaves it to [`process`]. Pure CPU (the
/// payload's JSON, the senders' numbers): done before the transaction, so a writer is not held
/// while payloads are read.
pub(crate) fn plain_texts(payload: &str) -> Option<PlainTexts> {
    let notification = from_json::<Notification>(payload.as_bytes()).ok()?;
    let mut taken = Vec::new();
    for value in notification.message_changes() {
        if !value.statuses.is_empty() {
            return None;
        }
        for message in &value.messages {
            let Content::Text { text } = &message.content else { return None };
            if inbound::may_be_keyword(&text.body) {
                return None;
            }
            let Some(provider_id) = message.id.as_deref() else {
                tracing::warn!("a WhatsApp message without an id; it cannot be told from a redelivery, so it is left out");
                continue;
            };
            taken.push(incoming(value, message, provider_id, &FetchedMedia::default()));
        }
    }
    Some(PlainTexts(taken))
}

impl Texts {
    /// Takes a notification's plain texts ([`plain_texts`]) to land with the others.
    pub(crate) fn take(&mut self, texts: &PlainTexts) {
        self.messages.extend(texts.0.iter().cloned());
    }

    /// Lands the messages taken, as [`land`] would one by one, in the business's transaction:
    /// one statement each for those stored already, their customers, the customers' open
    /// conversations, the new customers, the new conversations, the messages, the
    /// conversations' activity and the follow-ups they end. A message whose customer needs more
    /// (details to fill in, a closed conversation to reopen, a reminder it may answer, a
    /// follow-up to plan) lands on its own after the others, with every other message of that
    /// customer's, in their order.
    pub(crate) async fn land(&mut self, tx: &mut BusinessTx) -> Result<(), Error> {
        use std::collections::HashSet;
        let mut messages = std::mem::take(&mut self.messages);
        if messages.is_empty() {
            return Ok(());
        }
        // Stored already (a redelivery), or twice in this batch: the first one lands.
        let ids: Vec<&str> = messages.iter().map(|m| m.received.provider_message_id.as_str()).collect();
        let stored = inbound::stored_already(tx, &ids).await?;
        let mut seen = HashSet::new();
        messages.retain(|m| !stored.contains(&m.received.provider_message_id) && seen.insert(m.received.provider_message_id.clone()));
        if messages.is_empty() {
            return Ok(());
        }

        // Their customers, found as `find_or_create_customer` finds them: by WhatsApp id, else by number.
        let mut whatsapp_ids: Vec<&str> = messages.iter().map(|m| m.whatsapp_id.as_str()).collect();
        let mut phones: Vec<&str> = messages.iter().filter_map(|m| m.phone.as_ref().map(PhoneNumber::as_str)).collect();
        for list in [&mut whatsapp_ids, &mut phones] {
            list.sort_unstable();
            list.dedup();
        }
        let business_id = tx.business_id().to_owned();
        let known = crate::customers::find_by_contacts(tx, &whatsapp_ids, &phones).await?;
        // Each message's customer: a known one's index in `known`, or `None` for a new one.
        let customer_of = |m: &Incoming| -> Option<usize> {
            known.iter().position(|c| c.whatsapp_id.as_deref() == Some(m.whatsapp_id.as_str())).or_else(|| {
                let phone = m.phone.as_ref()?;
                known.iter().position(|c| c.phone.as_deref() == Some(phone.as_str()))
            })
        };
        // Who each message is from: a known customer's id, or the WhatsApp id of a new one.
        let sender = |m: &Incoming| -> String {
            match customer_of(m) {
                Some(i) => known[i].id.to_string(),
                None => format!("new:{}", m.whatsapp_id),
            }
        };
        let mut on_own: HashSet<String> = HashSet::new();
        for m in &messages {
            let Some(i) = customer_of(m) else { continue };
            let c = &known[i];
            let name = inbound::clean_name(m.profile_name.as_deref());
            let fills = (c.whatsapp_id.is_none()) || (c.phone.is_none() && m.phone.is_some()) || (c.name.is_none() && name.is_some());
            if fills {
                on_own.insert(sender(m));
            }
        }
        // The conversation `open_for` would take for each known customer, and what we last said
        // in it.
        let customer_ids: Vec<&str> = {
            let mut ids: Vec<&str> = Vec::new();
            for m in &messages {
                if let Some(i) = customer_of(m) {
                    if !ids.contains(&known[i].id.as_str()) {
                        ids.push(known[i].id.as_str());
                    }
                }
            }
            ids
        };
        let conversations = crate::conversations::current_for(tx, &customer_ids, Channel::Whatsapp).await?;
        for (customer_id, conversation) in &conversations {
            let answers_reminder = conversation.last_automation.as_deref().is_some_and(|a| a.starts_with("reminder:"));
            if conversation.status != protocol::ConversationStatus::Open || answers_reminder {
                on_own.insert(customer_id.clone());
            }
        }
        // A question about booking may start follow-ups: those land on their own when the
        // business has follow-ups on.
        if messages.iter().any(|m| crate::automations::asks_about_booking(m.text())) {
            let settings = crate::automations::load_settings(tx.conn(), &business_id).await?;
            if settings.follow_ups {
                for m in messages.iter().filter(|m| crate::automations::asks_about_booking(m.text())) {
                    on_own.insert(sender(m));
                }
            }
        }

        // New customers, one each however many messages they sent.
        let mut created: Vec<protocol::Customer> = Vec::new();
        for m in &messages {
            if customer_of(m).is_some() || on_own.contains(&sender(m)) || created.iter().any(|c| c.whatsapp_id.as_deref() == Some(m.whatsapp_id.as_str())) {
                continue;
            }
            created.push(inbound::new_customer(tx, m.phone.as_ref(), Some(&m.whatsapp_id), inbound::clean_name(m.profile_name.as_deref())));
        }
        crate::customers::insert_many(tx, &created).await?;

        // The messages, in their customers' conversations (opened for new customers).
        let mut batch = crate::conversations::MessageBatch::default();
        let mut landed: Vec<(String, String)> = Vec::new(); // (conversation, message)
        let mut own = Vec::new();
        let mut wrote: Vec<String> = Vec::new();
        for m in messages {
            let who = sender(&m);
            if on_own.contains(&who) {
                own.push(m);
                continue;
            }
            let customer_id = match customer_of(&m) {
                Some(i) => known[i].id.to_string(),
                None => created.iter().find(|c| c.whatsapp_id.as_deref() == Some(m.whatsapp_id.as_str())).map(|c| c.id.to_string()).unwrap_or_default(),
            };
            let conversation_id = match conversations.get(&customer_id) {
                Some(conversation) => conversation.id.clone(),
                None => match batch.opened_for(&customer_id, Channel::Whatsapp) {
                    Some(id) => id.to_owned(),
                    None => batch.open(tx, &customer_id, Channel::Whatsapp),
                },
            };
            batch.address(&conversation_id, &m.address);
            let message_id = batch.add(tx, &conversation_id, inbound::received_message(m.received)).await?;
            landed.push((conversation_id, message_id));
            if !wrote.contains(&customer_id) {
                wrote.push(customer_id);
            }
        }
        let written = batch.write(tx).await?;
        // They wrote: their planned follow-ups stop.
        let wrote: Vec<&str> = wrote.iter().map(String::as_str).collect();
        crate::automations::customers_wrote(tx, &wrote).await?;
        // The assistant answers each (or, switched off, leaves the conversation to a person) —
        // in conversations it answers (a message does not change who does).
        let handed: Vec<(&protocol::Conversation, &str)> = landed
            .iter()
            .filter_map(|(c, m)| written.iter().find(|w| w.id.as_str() == c && w.mode == protocol::ControlMode::Ai).map(|w| (w, m.as_str())))
            .collect();
        crate::assistant::enqueue_many(tx, &handed).await?;
        // The rest, one by one.
        for m in own {
            land(tx, m).await?;
        }
        Ok(())
    }
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
