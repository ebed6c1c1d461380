//! How what a customer sends lands, whichever provider brought it: the customer found (by
//! WhatsApp id or number) or created, opt-out and opt-in keywords, media fetched before the
//! transaction and kept, the message stored in their conversation with the address it came to,
//! and delivery statuses of our own messages, which only move forward.
//!
//! The providers' `intake` modules call these; the stored webhook events themselves, their
//! retries and failures are [`crate::intake`]'s.

use std::collections::BTreeMap;

use base64::Engine as _;
use protocol::{AuthorKind, Channel, Customer, DeliveryStatus, Direction, EntityKind, Media, Message, MessageKind};
use serde_json::json;
use sqlx::Row;

use crate::conversations::{add_message, NewMessage};
use crate::customers::PhoneNumber;
use crate::error::Error;
use crate::store::{BusinessTx, Db, StoreError};

// ---------------------------------------------------------------------------------------------
// Media

/// Media fetched from a provider before the transaction (network calls never happen inside
/// one), by the provider's reference for it (a WhatsApp media id, a Twilio media parameter).
#[derive(Debug, Default)]
pub struct FetchedMedia {
    by_ref: BTreeMap<String, Media>,
}

impl FetchedMedia {
    pub fn insert(&mut self, reference: String, media: Media) {
        self.by_ref.insert(reference, media);
    }

    pub fn get(&self, reference: &str) -> Option<&Media> {
        self.by_ref.get(reference)
    }
}

/// Keeps a downloaded file for the business; returns the media id the inbox links to.
pub async fn keep_media(db: &Db, business_id: &str, bytes: Vec<u8>, content_type: &str, filename: Option<&str>) -> Result<String, StoreError> {
    let id = db.new_id::<String>();
    sqlx::query("INSERT INTO media (id, business_id, content_type, filename, size, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&id)
        .bind(business_id)
        .bind(content_type)
        .bind(filename)
        .bind(bytes.len() as i64)
        .bind(base64::engine::general_purpose::STANDARD.encode(&bytes))
        .bind(db.now_ms())
        .execute(db.writer())
        .await?;
    Ok(id)
}

/// The inbox's link to kept media.
pub fn media_url(kept_id: &str) -> String {
    format!("/v1/media/{kept_id}")
}

/// Whether a message with this provider id is stored already (before any transaction: a
/// redelivered message's media is not fetched again).
pub async fn already_stored(db: &Db, business_id: &str, provider_message_id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(business_id)
        .bind(provider_message_id)
        .fetch_optional(db.reader())
        .await?;
    Ok(found.is_some())
}

// ---------------------------------------------------------------------------------------------
// Customers

fn before_value<'a>(c: &'a Customer, field: &str) -> Option<&'a str> {
    match field {
        "phone" => c.phone.as_deref(),
        _ => c.whatsapp_id.as_deref(),
    }
}

/// The line a customer's notes get when a detail they wrote from belongs to another customer.
fn conflict_flag(field: &str, value: &str, other_customer_id: &str) -> String {
    let what = if field == "phone" { "phone number" } else { "WhatsApp id" };
    format!("[Switchboard] This customer wrote from {what} {value}, which customer {other_customer_id} already has; it was not added here. Merge or correct the two customers.")
}

/// A profile name as a customer's name is kept: trimmed, at most 200 characters, none if empty.
pub(crate) fn clean_name(name: Option<&str>) -> Option<String> {
    name.map(str::trim).filter(|n| !n.is_empty()).map(|n| n.chars().take(200).collect::<String>())
}

/// A customer who wrote for the first time, as they are created (not stored yet).
pub(crate) fn new_customer(tx: &BusinessTx, phone: Option<&PhoneNumber>, whatsapp_id: Option<&str>, name: Option<String>) -> Customer {
    crate::customers::unsaved(tx.new_id::<String>(), tx.business_id(), phone.map(PhoneNumber::as_str), whatsapp_id, name)
}

/// Finds the customer by WhatsApp id or phone number, or creates them; fills in what was missing
/// unless another customer already has it.
pub async fn find_or_create_customer(
    tx: &mut BusinessTx,
    phone: Option<&PhoneNumber>,
    whatsapp_id: Option<&str>,
    profile_name: Option<&str>,
) -> Result<Customer, Error> {
    use crate::customers::{find_by, ContactColumn};
    let business_id = tx.business_id().to_owned();
    let mut found: Option<Customer> = None;
    if let Some(wa) = whatsapp_id {
        found = find_by(tx.conn(), &business_id, ContactColumn::WhatsappId, wa).await?;
    }
    if found.is_none() {
        if let Some(phone) = phone {
            found = find_by(tx.conn(), &business_id, ContactColumn::Phone, phone.as_str()).await?;
        }
    }
    let name = clean_name(profile_name);
    match found {
        Some(mut customer) => {
            let before = customer.clone();
            if customer.whatsapp_id.is_none() {
                customer.whatsapp_id = whatsapp_id.map(str::to_owned);
            }
            if customer.phone.is_none() {
                customer.phone = phone.map(|p| p.as_str().to_owned());
            }
            if customer.name.is_none() {
                customer.name = name;
            }
            // Filling in what was missing must never cost the message: a detail another customer
            // already has stays off this one, and staff are told instead — once, on the customer's
            // notes (every staff member sees them beside the conversation), and in the audit log.
            for (field, value) in [("phone", customer.phone.clone()), ("whatsapp_id", customer.whatsapp_id.clone())] {
                let Some(value) = value.filter(|v| before_value(&before, field) != Some(v.as_str())) else { continue };
                let other: Option<String> = sqlx::query_scalar(&format!(
                    "SELECT id FROM customers WHERE business_id = $1 AND {field} = $2 AND id <> $3 AND deleted_at IS NULL"
                ))
                .bind(&business_id)
                .bind(&value)
                .bind(&customer.id)
                .fetch_optional(tx.conn())
                .await?;
                if let Some(other) = other {
                    match field {
                        "phone" => customer.phone = None,
                        _ => customer.whatsapp_id = None,
                    }
                    let flag = conflict_flag(field, &value, &other);
                    if !customer.notes.contains(&flag) {
                        if !customer.notes.is_empty() && !customer.notes.ends_with('\n') {
                            customer.notes.push('\n');
                        }
                        customer.notes.push_str(&flag);
                        let detail = json!({"field": field, "value": value, "other_customer_id": other});
                        tx.audit(None, "customer.detail_conflict", Some(("customer", &customer.id)), detail).await?;
                    }
                }
            }
            if customer != before {
                return crate::customers::save(tx, &customer, false).await;
            }
            Ok(customer)
        }
        None => {
            let customer = new_customer(tx, phone, whatsapp_id, name);
            crate::customers::save(tx, &customer, true).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Opting out

/// Opt-out and opt-in keywords (carriers' and Twilio's standard lists).
const STOP_WORDS: [&str; 8] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];
const WHATSAPP_STOP_WORDS: [&str; 3] = ["STOP", "UNSUBSCRIBE", "OPTOUT"];

/// Whether `text` is an opt-out or opt-in keyword on some channel (such a message lands on its
/// own, through [`apply_opt_out_keyword`]).
pub(crate) fn may_be_keyword(text: &str) -> bool {
    let keyword = text.trim().to_uppercase();
    STOP_WORDS.iter().chain(&START_WORDS).chain(&WHATSAPP_STOP_WORDS).any(|w| *w == keyword)
}

/// Applies an opt-out or opt-in keyword the customer wrote on `channel`: `Some(true)` when they
/// opted out now, `Some(false)` when they opted back in, `None` when the text is no keyword.
///
/// Carriers' keyword list applies to SMS; on WhatsApp "Cancel" means an appointment, so only
/// unmistakable words opt out. START/YES only mean "opt back in" to someone opted out — a "Yes"
/// to "Shall I book it?" is an answer, not a keyword.
pub async fn apply_opt_out_keyword(tx: &mut BusinessTx, customer: &mut Customer, channel: Channel, text: &str) -> Result<Option<bool>, Error> {
    let keyword = text.trim().to_uppercase();
    let on_sms = channel == Channel::Sms;
    let opted_out = if on_sms { customer.opted_out_sms } else { customer.opted_out_whatsapp };
    let stop_words: &[&str] = if on_sms { &STOP_WORDS } else { &WHATSAPP_STOP_WORDS };
    let out = if stop_words.contains(&keyword.as_str()) {
        true
    } else if opted_out && START_WORDS.contains(&keyword.as_str()) {
        false
    } else {
        return Ok(None);
    };
    if on_sms {
        customer.opted_out_sms = out;
    } else {
        customer.opted_out_whatsapp = out;
    }
    *customer = crate::customers::save(tx, customer, false).await?;
    let action = if out { "customer.opted_out" } else { "customer.opted_in" };
    tx.audit(None, action, Some(("customer", &customer.id)), json!({"channel": channel, "keyword": keyword})).await?;
    Ok(Some(out))
}

// ---------------------------------------------------------------------------------------------
// Messages

/// Whether a message with this provider id is stored already (inside the transaction).
pub async fn message_exists(tx: &mut BusinessTx, provider_message_id: &str) -> Result<bool, StoreError> {
    let business_id = tx.business_id().to_owned();
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(business_id)
        .bind(provider_message_id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(found.is_some())
}

/// Which of these provider ids are stored already (one statement).
pub(crate) async fn stored_already(tx: &mut BusinessTx, provider_message_ids: &[&str]) -> Result<std::collections::HashSet<String>, StoreError> {
    let business_id = tx.business_id().to_owned();
    let sql = format!(
        "SELECT provider_message_id FROM messages WHERE business_id = $1 AND {}",
        crate::store::json_in(tx.engine(), "provider_message_id", "$2")
    );
    let found = sqlx::query_scalar::<_, String>(&sql).bind(&business_id).bind(crate::store::json_param(provider_message_ids)?).fetch_all(tx.conn()).await?;
    let found: std::collections::HashSet<String> = found.into_iter().collect();
    Ok(found)
}

/// The business's address a conversation's replies go out from (a WhatsApp phone_number_id, a
/// Twilio number).
pub async fn set_channel_address(tx: &mut BusinessTx, conversation_id: &str, address: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE conversations SET channel_address = $1 WHERE id = $2 AND business_id = $3")
        .bind(address)
        .bind(conversation_id)
        .bind(tx.business_id().to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// A customer's message, in the inbox's terms.
#[derive(Clone)]
pub struct Received {
    pub kind: MessageKind,
    pub body: String,
    pub media: Vec<Media>,
    /// The provider's payload, kept for kinds the inbox shows only in part.
    pub raw: Option<String>,
    pub provider_message_id: String,
}

/// Stores a customer's message in their conversation.
pub async fn store_received(tx: &mut BusinessTx, conversation_id: &str, received: Received) -> Result<Message, Error> {
    add_message(tx, conversation_id, received_message(received)).await
}

/// A customer's message as it is stored.
pub(crate) fn received_message(received: Received) -> NewMessage {
    NewMessage {
        id: None,
        direction: Direction::Inbound,
        kind: received.kind,
        raw: received.raw,
        author_kind: AuthorKind::Customer,
        author_staff_id: None,
        body: received.body,
        media: received.media,
        provider_message_id: Some(received.provider_message_id),
        delivery_status: DeliveryStatus::Received,
        // The timeline is in the order messages reached the business: providers' timestamps
        // have one-second precision and would sort a quick reply before the message it answers.
        at_ms: None,
        automation: None,
    }
}

fn rank(status: DeliveryStatus) -> u8 {
    match status {
        DeliveryStatus::Received | DeliveryStatus::Pending => 0,
        DeliveryStatus::Sent => 1,
        DeliveryStatus::Failed => 2,
        DeliveryStatus::Delivered => 3,
        DeliveryStatus::Read => 4,
    }
}

/// Moves a message's delivery state forward only: statuses arrive out of order and skip steps.
/// A status for a message we do not know is ignored. Returns whether anything changed.
pub async fn advance_delivery(
    tx: &mut BusinessTx,
    provider_message_id: &str,
    new: DeliveryStatus,
    error: Option<String>,
) -> Result<bool, Error> {
    let business_id = tx.business_id().to_owned();
    // Only what we sent has a delivery: a status naming a customer's own message moves nothing.
    let row = sqlx::query("SELECT id, delivery_status FROM messages WHERE business_id = $1 AND provider_message_id = $2 AND direction = 'outbound'")
        .bind(&business_id)
        .bind(provider_message_id)
        .fetch_optional(tx.conn())
        .await?;
    let Some(row) = row else { return Ok(false) };
    let id: String = row.try_get("id")?;
    let current = DeliveryStatus::parse(&row.try_get::<String, _>("delivery_status")?).unwrap_or(DeliveryStatus::Pending);
    if rank(new) <= rank(current) {
        return Ok(false);
    }
    sqlx::query("UPDATE messages SET delivery_status = $1, error = $2, updated_at = $3 WHERE id = $4 AND business_id = $5")
        .bind(new.as_str())
        .bind(if new == DeliveryStatus::Failed { error } else { None })
        .bind(tx.now_ms())
        .bind(&id)
        .bind(&business_id)
        .execute(tx.conn())
        .await?;
    let message = crate::conversations::load_message(tx.conn(), &business_id, &id).await?.ok_or_else(|| Error::NotFound("message"))?;
    tx.record(EntityKind::Message, &id, Some(&message)).await?;
    Ok(true)
}
