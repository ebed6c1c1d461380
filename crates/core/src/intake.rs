//! Webhook intake: WhatsApp (Meta Cloud API) and Twilio (SMS and WhatsApp).
//!
//! A webhook is verified (its provider's signature, in constant time) before anything is stored,
//! then committed to `webhook_events` — raw payload and the provider's event key — and only then
//! acknowledged. A worker processes stored events afterwards: it finds or creates the customer
//! and the conversation, stores the message, fetches and keeps media, applies opt-outs, and moves
//! delivery states forward. Processing an event and marking it done happen in one transaction,
//! and messages are unique per provider id, so redeliveries, retries and crashes never duplicate
//! anything. An event that keeps failing stays in the table with its error; nothing acknowledged
//! is dropped.

use crate::Core;
use protocol::EntityKind;
use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use protocol::{AuthorKind, Channel, Customer, DeliveryStatus, Direction, Media, MessageKind};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::channels::{self, TwilioSecrets, TwilioSettings, WhatsappSecrets, WhatsappSettings};
use crate::conversations::{add_message, open_for, NewMessage};
use crate::customers::PhoneNumber;
use crate::error::{Error, WebhookError};
use crate::store::{Engine, BusinessTx, Db, StoreError};

// ---------------------------------------------------------------------------------------------
// Signatures

/// Meta's `X-Hub-Signature-256`: `sha256=` + hex HMAC-SHA256 of the exact body with the app secret.
pub fn meta_signature_valid(app_secret: &str, body: &[u8], header: &str) -> bool {
    let Some(hex) = header.trim().strip_prefix("sha256=") else { return false };
    let Some(signature) = decode_hex(hex) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(app_secret.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(&signature).is_ok()
}

fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}

/// Twilio's `X-Twilio-Signature`: base64 HMAC-SHA1, keyed by the auth token, of the full URL
/// followed by every POST parameter sorted by name, as name then value. A repeated parameter's
/// values are sorted and identical pairs counted once, as Twilio's own libraries do.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
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

pub fn twilio_signature_valid(auth_token: &str, url: &str, params: &[(String, String)], header: &str) -> bool {
    use subtle::ConstantTimeEq;
    let expected = twilio_signature(auth_token, url, params);
    expected.as_bytes().ct_eq(header.trim().as_bytes()).into()
}

// ---------------------------------------------------------------------------------------------
// Storing events

pub struct NewEvent {
    provider: &'static str,
    business_id: String,
    key: String,
    payload: String,
}

/// Commits the events (a redelivered one is already there and stays as it was), then wakes the
/// worker. Returning `Ok` means they are durable.
async fn store(state: &Core, events: Vec<NewEvent>) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    let (done, committed) = tokio::sync::oneshot::channel();
    state
        .intake
        .send((events, done))
        .await
        .map_err(|_| Error::ShuttingDown)?;
    match committed.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::internal(StoreError::Corrupt(format!("webhook events not committed: {e}")))),
        Err(_) => Err(Error::ShuttingDown),
    }
}

/// Events waiting to be committed, each with the acknowledgement to give once they are.
pub type IntakeQueue = tokio::sync::mpsc::Sender<(Vec<NewEvent>, tokio::sync::oneshot::Sender<Result<(), String>>)>;

/// Group commit: webhooks that arrive while a commit is in progress are committed together in
/// the next transaction — one fsync for all of them — and each is acknowledged only after its
/// transaction commits. Under load this multiplies what one SQLite writer can take; alone, a
/// webhook is committed at once.
pub fn start_committer(db: Db) -> IntakeQueue {
    let (queue, mut incoming) = tokio::sync::mpsc::channel::<(Vec<NewEvent>, tokio::sync::oneshot::Sender<Result<(), String>>)>(4096);
    tokio::spawn(async move {
        while let Some(first) = incoming.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match incoming.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let result = commit_events(&db, batch.iter().flat_map(|(events, _)| events.iter())).await.map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::error!(error = %e, webhooks = batch.len(), "could not commit webhooks; they are refused and will be redelivered");
            }
            for (_, done) in batch {
                let _ = done.send(result.clone());
            }
            db.wakeups().wake(crate::workers::Job::Intake);
        }
    });
    queue
}

async fn commit_events<'a>(db: &Db, events: impl Iterator<Item = &'a NewEvent>) -> Result<(), StoreError> {
    let now = db.now_ms();
    let mut tx = db.writer().begin().await?;
    for e in events {
        sqlx::query(
            "INSERT INTO webhook_events (id, provider, business_id, event_key, payload, received_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) ON CONFLICT (provider, business_id, event_key) DO NOTHING",
        )
        .bind(db.new_id::<String>())
        .bind(e.provider)
        .bind(&e.business_id)
        .bind(&e.key)
        .bind(&e.payload)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// WhatsApp webhooks

// ---------------------------------------------------------------------------------------------
// Twilio webhooks

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// Processing

const MAX_ATTEMPTS: i64 = 12;

/// A delivery status that beat the sender to recording the provider's message id: retried.
#[derive(Debug, thiserror::Error)]
#[error("the message this status is about is not recorded yet")]
struct NotYetKnown;

/// Events one step claims; they are processed per business, one transaction for each business.
const BATCH: i64 = 256;
/// Longer than processing a batch (media fetches included) takes.
const LEASE_MS: i64 = 5 * 60_000;

/// A stored event claimed for processing.
struct Due {
    id: String,
    provider: String,
    business_id: String,
    payload: String,
    attempts: i64,
    received_at: i64,
}

/// Claims due events with a lease (`SKIP LOCKED` on PostgreSQL, so instances share the work).
async fn claim(core: &Core) -> Result<Vec<Due>, StoreError> {
    let now = core.db.now_ms();
    let lock = if core.db.engine() == Engine::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = sqlx::query(&format!(
        "UPDATE webhook_events SET lease_until = $2 WHERE id IN (SELECT id FROM webhook_events WHERE processed_at IS NULL AND failed_at IS NULL \
         AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY received_at LIMIT $3{lock}) \
         RETURNING id, provider, business_id, payload, attempts, received_at"
    ))
    .bind(now)
    .bind(now + LEASE_MS)
    .bind(BATCH)
    .fetch_all(core.db.writer())
    .await?;
    let mut due = rows
        .iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("id")?,
                provider: r.try_get("provider")?,
                business_id: r.try_get("business_id")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    due.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    Ok(due)
}

/// Processes due events, a business's at a time in one transaction (each event undone on its own
/// if it fails); returns how many were handled. Exactly once: an event and its effects commit
/// together, and messages are unique per provider id.
pub async fn process_due(core: &Core) -> Result<usize, Error> {
    let due = claim(core).await?;
    let mut businesses: Vec<(String, Vec<Due>)> = Vec::new();
    for event in due {
        match businesses.iter_mut().find(|(b, _)| *b == event.business_id) {
            Some((_, events)) => events.push(event),
            None => businesses.push((event.business_id.clone(), vec![event])),
        }
    }
    let mut handled = 0;
    for (business_id, events) in businesses {
        // Network calls (media) before the transaction, never inside it.
        let mut fetched = Vec::with_capacity(events.len());
        for event in &events {
            fetched.push(prefetch_media(core, &event.provider, &business_id, &event.payload).await);
        }
        let mut tx = core.db.begin_business(&business_id).await?;
        for (event, media) in events.iter().zip(fetched) {
            let part = tx.begin_part().await?;
            let result = match media {
                Ok(media) => process_event(&mut tx, event, &media).await,
                Err(e) => Err(e),
            };
            match result {
                Ok(()) => {
                    tx.keep_part(part).await?;
                    sqlx::query("UPDATE webhook_events SET processed_at = $1, attempts = attempts + 1, lease_until = NULL WHERE id = $2")
                        .bind(tx.now_ms())
                        .bind(&event.id)
                        .execute(tx.conn())
                        .await?;
                }
                Err(e) => {
                    tx.undo_part(part).await?;
                    failed(core, &mut tx, event, &e).await?;
                }
            }
        }
        tx.wake(crate::workers::Job::Assistant);
        tx.commit_even_if_unchanged().await?;
        handled += events.len();
    }
    Ok(handled)
}

/// An event that failed: retried with backoff, and after [`MAX_ATTEMPTS`] kept as failed, with
/// its reason, for owners to see and retry ([`failed_events`], [`retry`]).
async fn failed(core: &Core, tx: &mut BusinessTx, event: &Due, e: &Error) -> Result<(), Error> {
    let reason = e.chain();
    let attempts = event.attempts + 1;
    let give_up = attempts >= MAX_ATTEMPTS;
    let now = tx.now_ms();
    if give_up {
        tracing::error!(event = %event.id, provider = %event.provider, error = %reason, "webhook event failed for good; kept for a person to retry");
        core.metrics.webhook_failed();
    } else {
        tracing::warn!(event = %event.id, provider = %event.provider, error = %reason, "webhook event failed; will retry");
    }
    sqlx::query("UPDATE webhook_events SET attempts = $1, last_error = $2, next_attempt_at = $3, failed_at = $4, lease_until = NULL WHERE id = $5")
        .bind(attempts)
        .bind(&reason)
        .bind(now + crate::workers::backoff_ms(attempts, 1_000, 10 * 60_000))
        .bind(give_up.then_some(now))
        .bind(&event.id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

async fn process_event(tx: &mut BusinessTx, event: &Due, fetched: &Fetched) -> Result<(), Error> {
    match event.provider.as_str() {
        "whatsapp" => process_whatsapp(tx, &event.payload, fetched).await,
        "twilio" => process_twilio(tx, &event.payload, fetched).await,
        "twilio_status" => process_twilio_status(tx, &event.payload, event.received_at).await,
        other => {
            tracing::warn!(provider = other, "unknown webhook provider; event marked done");
            Ok(())
        }
    }
}

/// The business's webhook events that failed for good, newest first (owners and admins).
pub async fn failed_events(core: &Core, actor: &crate::accounts::Actor) -> Result<Vec<protocol::FailedWebhook>, Error> {
    actor.require(crate::accounts::Permission::ManageBusiness)?;
    let rows = sqlx::query(
        "SELECT id, provider, received_at, failed_at, attempts, last_error FROM webhook_events WHERE business_id = $1 AND failed_at IS NOT NULL \
         ORDER BY failed_at DESC LIMIT 500",
    )
    .bind(&actor.business_id)
    .fetch_all(core.db.reader())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(protocol::FailedWebhook {
                id: r.try_get("id")?,
                provider: r.try_get("provider")?,
                received_at: r.try_get("received_at")?,
                failed_at: r.try_get("failed_at")?,
                attempts: r.try_get("attempts")?,
                reason: r.try_get::<Option<String>, _>("last_error")?.unwrap_or_default(),
            })
        })
        .collect()
}

/// Tries a failed event again (after its cause was fixed).
pub async fn retry(core: &Core, actor: &crate::accounts::Actor, id: &str) -> Result<(), Error> {
    actor.require(crate::accounts::Permission::ManageBusiness)?;
    let retried = sqlx::query(
        "UPDATE webhook_events SET failed_at = NULL, attempts = 0, next_attempt_at = $1, lease_until = NULL WHERE id = $2 AND business_id = $3 AND failed_at IS NOT NULL",
    )
    .bind(core.db.now_ms())
    .bind(id)
    .bind(&actor.business_id)
    .execute(core.db.writer())
    .await?
    .rows_affected();
    if retried == 0 {
        return Err(Error::NotFound("failed webhook event"));
    }
    core.db.wakeups().wake(crate::workers::Job::Intake);
    Ok(())
}

/// Media to fetch before the transaction (network calls never happen inside one).
struct Fetched {
    by_ref: BTreeMap<String, Media>,
}


async fn already_stored(db: &Db, business_id: &str, provider_message_id: &str) -> Result<bool, StoreError> {
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(business_id)
        .bind(provider_message_id)
        .fetch_optional(db.reader())
        .await?;
    Ok(found.is_some())
}

async fn keep_media(db: &Db, business_id: &str, bytes: Vec<u8>, content_type: &str, filename: Option<&str>) -> Result<String, StoreError> {
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

const MEDIA_TYPES: [&str; 5] = ["image", "audio", "video", "document", "sticker"];

async fn prefetch_media(state: &Core, provider: &str, business_id: &str, payload: &str) -> Result<Fetched, Error> {
    let mut fetched = Fetched { by_ref: BTreeMap::new() };
    let value: Value = serde_json::from_str(payload).map_err(Error::internal)?;
    match provider {
        "whatsapp" => {
            let mut wanted = Vec::new();
            for m in whatsapp_changes(&value).flat_map(|v| v["messages"].as_array().into_iter().flatten()) {
                let kind = m["type"].as_str().unwrap_or("");
                if MEDIA_TYPES.contains(&kind) && !already_stored(&state.db, business_id, m["id"].as_str().unwrap_or("")).await? {
                    let obj = &m[kind];
                    if let Some(media_id) = obj["id"].as_str() {
                        wanted.push((media_id.to_owned(), obj["filename"].as_str().map(str::to_owned), obj["caption"].as_str().map(str::to_owned)));
                    }
                }
            }
            if wanted.is_empty() {
                return Ok(fetched);
            }
            let mut conn = state.db.reader().acquire().await?;
            let creds = channels::load::<WhatsappSettings, WhatsappSecrets>(&mut conn, &state.secrets, business_id, channels::WHATSAPP).await?;
            drop(conn);
            let Some((_, secrets)) = creds else { return Ok(fetched) };
            for (media_id, filename, caption) in wanted {
                let media = match state.providers.whatsapp_media(&secrets, &media_id).await {
                    Ok((bytes, content_type)) => {
                        let kept = keep_media(&state.db, business_id, bytes, &content_type, filename.as_deref()).await?;
                        Media { content_type, url: Some(format!("/v1/media/{kept}")), filename, caption }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not fetch WhatsApp media");
                        Media { content_type: "application/octet-stream".into(), url: None, filename, caption }
                    }
                };
                fetched.by_ref.insert(media_id, media);
            }
        }
        "twilio" => {
            let params: Vec<(String, String)> = serde_json::from_value(value).map_err(Error::internal)?;
            let count: usize = param(&params, "NumMedia").and_then(|n| n.parse().ok()).unwrap_or(0);
            let sid = param(&params, "MessageSid").unwrap_or("");
            if count == 0 || already_stored(&state.db, business_id, sid).await? {
                return Ok(fetched);
            }
            let mut conn = state.db.reader().acquire().await?;
            let creds = channels::load::<TwilioSettings, TwilioSecrets>(&mut conn, &state.secrets, business_id, channels::TWILIO).await?;
            drop(conn);
            let Some((settings, secrets)) = creds else { return Ok(fetched) };
            for i in 0..count.min(10) {
                let Some(url) = param(&params, &format!("MediaUrl{i}")) else { continue };
                let content_type = param(&params, &format!("MediaContentType{i}")).unwrap_or("application/octet-stream").to_owned();
                let media = match state.providers.twilio_media(&settings, &secrets, url).await {
                    Ok(bytes) => {
                        let kept = keep_media(&state.db, business_id, bytes, &content_type, None).await?;
                        Media { content_type, url: Some(format!("/v1/media/{kept}")), filename: None, caption: None }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not fetch Twilio media");
                        Media { content_type, url: None, filename: None, caption: None }
                    }
                };
                fetched.by_ref.insert(format!("MediaUrl{i}"), media);
            }
        }
        _ => {}
    }
    Ok(fetched)
}

fn whatsapp_changes(payload: &Value) -> impl Iterator<Item = &Value> {
    payload["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|e| e["changes"].as_array().into_iter().flatten())
        .filter(|c| c["field"].as_str().is_none_or(|f| f == "messages"))
        .map(|c| &c["value"])
}

fn before_value<'a>(c: &'a Customer, field: &str) -> Option<&'a str> {
    match field {
        "phone" => c.phone.as_deref(),
        _ => c.whatsapp_id.as_deref(),
    }
}

/// Finds the customer by WhatsApp id or phone number, or creates them; fills in what was missing
/// unless another customer already has it.
pub async fn find_or_create_customer(
    tx: &mut BusinessTx,
    phone: Option<&PhoneNumber>,
    whatsapp_id: Option<&str>,
    profile_name: Option<&str>,
) -> Result<Customer, Error> {
    let business_id = tx.business_id().to_owned();
    let mut found: Option<String> = None;
    if let Some(wa) = whatsapp_id {
        found = sqlx::query_scalar("SELECT id FROM customers WHERE business_id = $1 AND whatsapp_id = $2 AND deleted_at IS NULL")
            .bind(&business_id)
            .bind(wa)
            .fetch_optional(tx.conn())
            .await?;
    }
    if found.is_none() {
        if let Some(phone) = phone {
            found = sqlx::query_scalar("SELECT id FROM customers WHERE business_id = $1 AND phone = $2 AND deleted_at IS NULL")
                .bind(&business_id)
                .bind(phone.as_str())
                .fetch_optional(tx.conn())
                .await?;
        }
    }
    let name = profile_name.map(str::trim).filter(|n| !n.is_empty()).map(|n| n.chars().take(200).collect::<String>());
    match found {
        Some(id) => {
            let mut customer = crate::customers::load(tx.conn(), &business_id, &id).await?.ok_or(Error::NotFound("customer"))?;
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
            // already has stays off this one, and staff are told (the audit log) instead.
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
                    let detail = json!({"field": field, "value": value, "other_customer_id": other});
                    tx.audit(None, "customer.detail_conflict", Some(("customer", &customer.id)), detail).await?;
                }
            }
            if customer != before {
                return crate::customers::save(tx, &customer, false).await;
            }
            Ok(customer)
        }
        None => {
            let customer = Customer {
                id: tx.new_id::<String>().into(),
                business_id: business_id.clone().into(),
                name,
                phone: phone.map(|p| p.as_str().to_owned()),
                whatsapp_id: whatsapp_id.map(str::to_owned),
                email: None,
                tags: vec![],
                notes: String::new(),
                opted_out_sms: false,
                opted_out_whatsapp: false,
                created_at: protocol::Timestamp::UNIX_EPOCH,
                updated_at: protocol::Timestamp::UNIX_EPOCH,
            };
            crate::customers::save(tx, &customer, true).await
        }
    }
}

async fn set_channel_address(tx: &mut BusinessTx, conversation_id: &str, address: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE conversations SET channel_address = $1 WHERE id = $2").bind(address).bind(conversation_id).execute(tx.conn()).await?;
    Ok(())
}

async fn message_exists(tx: &mut BusinessTx, provider_message_id: &str) -> Result<bool, StoreError> {
    let business_id = tx.business_id().to_owned();
    let found: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(business_id)
        .bind(provider_message_id)
        .fetch_optional(tx.conn())
        .await?;
    Ok(found.is_some())
}

/// What an inbound WhatsApp message says, in the inbox's terms.
fn describe_whatsapp(m: &Value, fetched: &Fetched) -> (MessageKind, String, Vec<Media>, Option<String>) {
    let kind = m["type"].as_str().unwrap_or("unknown");
    let text = |v: &Value| v.as_str().unwrap_or("").to_owned();
    match kind {
        "text" => (MessageKind::Text, text(&m["text"]["body"]), vec![], None),
        "image" | "audio" | "video" | "document" | "sticker" => {
            let obj = &m[kind];
            let media = obj["id"].as_str().and_then(|id| fetched.by_ref.get(id)).cloned().into_iter().collect();
            let message_kind = MessageKind::parse(kind).unwrap_or(MessageKind::Document);
            (message_kind, text(&obj["caption"]), media, None)
        }
        "location" => {
            let l = &m["location"];
            let place = [l["name"].as_str(), l["address"].as_str()].into_iter().flatten().collect::<Vec<_>>().join(", ");
            let coords = format!("{}, {}", l["latitude"], l["longitude"]);
            let body = if place.is_empty() { format!("Shared a location ({coords})") } else { format!("Shared a location: {place} ({coords})") };
            (MessageKind::Location, body, vec![], Some(m.to_string()))
        }
        "contacts" => {
            let cards: Vec<String> = m["contacts"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|c| {
                    let name = c["name"]["formatted_name"].as_str().unwrap_or("Someone");
                    let phones: Vec<&str> = c["phones"].as_array().into_iter().flatten().filter_map(|p| p["phone"].as_str()).collect();
                    if phones.is_empty() { name.to_owned() } else { format!("{name} ({})", phones.join(", ")) }
                })
                .collect();
            (MessageKind::Contacts, format!("Shared contact: {}", cards.join("; ")), vec![], Some(m.to_string()))
        }
        "button" => (MessageKind::Reply, text(&m["button"]["text"]), vec![], None),
        "interactive" => {
            let i = &m["interactive"];
            let title = i["button_reply"]["title"].as_str().or(i["list_reply"]["title"].as_str()).unwrap_or("");
            (MessageKind::Reply, title.to_owned(), vec![], Some(m.to_string()))
        }
        "reaction" => {
            let emoji = m["reaction"]["emoji"].as_str().unwrap_or("");
            let body = if emoji.is_empty() { "Removed a reaction".to_owned() } else { format!("Reacted {emoji}") };
            (MessageKind::Reaction, body, vec![], Some(m.to_string()))
        }
        other => (MessageKind::Unsupported, format!("A message Switchboard cannot show yet ({other})."), vec![], Some(m.to_string())),
    }
}

async fn process_whatsapp(tx: &mut BusinessTx, payload: &str, fetched: &Fetched) -> Result<(), Error> {
    let payload: Value = serde_json::from_str(payload).map_err(Error::internal)?;
    for value in whatsapp_changes(&payload) {
        let phone_number_id = value["metadata"]["phone_number_id"].as_str().unwrap_or("").to_owned();
        let names: BTreeMap<String, String> = value["contacts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| {
                let id = c["wa_id"].as_str().or(c["user_id"].as_str())?;
                Some((id.to_owned(), c["profile"]["name"].as_str()?.to_owned()))
            })
            .collect();
        for m in value["messages"].as_array().into_iter().flatten() {
            let Some(provider_id) = m["id"].as_str() else { continue };
            if message_exists(tx, provider_id).await? {
                continue;
            }
            // `from` is the customer's WhatsApp id: their number in digits, or (for users who
            // hide their number) a business-scoped user id.
            let from = m["from"].as_str().or(m["from_user_id"].as_str()).unwrap_or("");
            let phone = if from.chars().all(|c| c.is_ascii_digit()) && !from.is_empty() {
                PhoneNumber::parse(&format!("+{from}"), None).ok()
            } else {
                None
            };
            let mut customer = find_or_create_customer(tx, phone.as_ref(), Some(from), names.get(from).map(String::as_str)).await?;
            // Unmistakable opt-out words (as on Twilio's WhatsApp), and back in with START.
            let keyword = m["text"]["body"].as_str().unwrap_or("").trim().to_uppercase();
            let opt = if WHATSAPP_STOP_WORDS.contains(&keyword.as_str()) {
                Some(true)
            } else if customer.opted_out_whatsapp && START_WORDS.contains(&keyword.as_str()) {
                Some(false)
            } else {
                None
            };
            if let Some(out) = opt {
                customer.opted_out_whatsapp = out;
                customer = crate::customers::save(tx, &customer, false).await?;
                let action = if out { "customer.opted_out" } else { "customer.opted_in" };
                tx.audit(None, action, Some(("customer", &customer.id)), json!({"channel": "whatsapp", "keyword": keyword})).await?;
            }
            let conversation = open_for(tx, &customer.id, Channel::Whatsapp).await?;
            set_channel_address(tx, &conversation.id, &phone_number_id).await?;
            let (kind, body, media, raw) = describe_whatsapp(m, fetched);
            // The timeline is in the order messages reached the business: Meta's `timestamp`
            // has one-second precision and would sort a quick reply before the message it
            // answers.
            let at_ms = None;
            let message = add_message(
                tx,
                &conversation.id,
                NewMessage {
                    id: None,
                    direction: Direction::Inbound,
                    kind,
                    raw,
                    author_kind: AuthorKind::Customer,
                    author_staff_id: None,
                    body,
                    media,
                    provider_message_id: Some(provider_id.to_owned()),
                    delivery_status: DeliveryStatus::Received,
                    at_ms,
                },
            )
            .await?;
            if kind != MessageKind::Reaction && opt != Some(true) {
                crate::assistant::enqueue(tx, &conversation, &message.id).await?;
            }
        }
        for st in value["statuses"].as_array().into_iter().flatten() {
            let (Some(id), Some(status)) = (st["id"].as_str(), st["status"].as_str()) else { continue };
            let new = match status {
                "sent" => DeliveryStatus::Sent,
                "delivered" => DeliveryStatus::Delivered,
                "read" => DeliveryStatus::Read,
                "failed" => DeliveryStatus::Failed,
                _ => continue,
            };
            let error = st["errors"][0]["error_data"]["details"]
                .as_str()
                .or(st["errors"][0]["message"].as_str())
                .or(st["errors"][0]["title"].as_str())
                .map(|e| format!("WhatsApp could not deliver it: {e}"));
            advance_delivery(tx, id, new, error).await?;
        }
    }
    Ok(())
}

/// Opt-out and opt-in keywords (carriers' and Twilio's standard lists).
const STOP_WORDS: [&str; 8] = ["STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"];
const START_WORDS: [&str; 3] = ["START", "UNSTOP", "YES"];
const WHATSAPP_STOP_WORDS: [&str; 3] = ["STOP", "UNSUBSCRIBE", "OPTOUT"];

async fn process_twilio(tx: &mut BusinessTx, payload: &str, fetched: &Fetched) -> Result<(), Error> {
    let params: Vec<(String, String)> = serde_json::from_str(payload).map_err(Error::internal)?;
    let sid = param(&params, "MessageSid").or(param(&params, "SmsSid")).unwrap_or("").to_owned();
    if message_exists(tx, &sid).await? {
        return Ok(());
    }
    let from = param(&params, "From").unwrap_or("");
    let to = param(&params, "To").unwrap_or("");
    let (channel, number) = match from.strip_prefix("whatsapp:") {
        Some(n) => (Channel::TwilioWhatsapp, n),
        None => (Channel::Sms, from),
    };
    let phone = PhoneNumber::parse(number, None).ok();
    let mut customer = find_or_create_customer(tx, phone.as_ref(), None, param(&params, "ProfileName")).await?;
    let body = param(&params, "Body").unwrap_or("").to_owned();
    let keyword = body.trim().to_uppercase();
    let on_whatsapp = channel == Channel::TwilioWhatsapp;
    let opted_out = if on_whatsapp { customer.opted_out_whatsapp } else { customer.opted_out_sms };
    // Carriers' keyword list applies to SMS; on WhatsApp "Cancel" means an appointment, so only
    // unmistakable words opt out. START/YES only mean "opt back in" to someone opted out — a
    // "Yes" to "Shall I book it?" is an answer, not a keyword.
    let stop_words: &[&str] = if on_whatsapp { &WHATSAPP_STOP_WORDS } else { &STOP_WORDS };
    let opt_out = if stop_words.contains(&keyword.as_str()) {
        Some(true)
    } else if opted_out && START_WORDS.contains(&keyword.as_str()) {
        Some(false)
    } else {
        None
    };
    if let Some(out) = opt_out {
        match channel {
            Channel::TwilioWhatsapp => customer.opted_out_whatsapp = out,
            _ => customer.opted_out_sms = out,
        }
        customer = crate::customers::save(tx, &customer, false).await?;
        let actor = None;
        let action = if out { "customer.opted_out" } else { "customer.opted_in" };
        tx.audit(actor, action, Some(("customer", &customer.id)), json!({"channel": channel, "keyword": keyword})).await?;
    }
    let conversation = open_for(tx, &customer.id, channel).await?;
    set_channel_address(tx, &conversation.id, to.trim_start_matches("whatsapp:")).await?;
    let media: Vec<Media> = (0..10).filter_map(|i| fetched.by_ref.get(&format!("MediaUrl{i}")).cloned()).collect();
    let kind = match media.first().map(|m| m.content_type.split('/').next().unwrap_or("").to_owned()) {
        None => MessageKind::Text,
        Some(t) if t == "image" => MessageKind::Image,
        Some(t) if t == "audio" => MessageKind::Audio,
        Some(t) if t == "video" => MessageKind::Video,
        Some(_) => MessageKind::Document,
    };
    let message = add_message(
        tx,
        &conversation.id,
        NewMessage {
            id: None,
            direction: Direction::Inbound,
            kind,
            raw: None,
            author_kind: AuthorKind::Customer,
            author_staff_id: None,
            body,
            media,
            provider_message_id: Some(sid),
            delivery_status: DeliveryStatus::Received,
            at_ms: None,
        },
    )
    .await?;
    // An opt-out is handled, not a question for the assistant.
    if opt_out != Some(true) {
        crate::assistant::enqueue(tx, &conversation, &message.id).await?;
    }
    Ok(())
}

async fn process_twilio_status(tx: &mut BusinessTx, payload: &str, received_at: i64) -> Result<(), Error> {
    let params: Vec<(String, String)> = serde_json::from_str(payload).map_err(Error::internal)?;
    let sid = param(&params, "MessageSid").unwrap_or("");
    let new = match param(&params, "MessageStatus").unwrap_or("") {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "read" => DeliveryStatus::Read,
        "failed" | "undelivered" => DeliveryStatus::Failed,
        _ => return Ok(()),
    };
    let error = (new == DeliveryStatus::Failed).then(|| {
        let code = param(&params, "ErrorCode").unwrap_or("");
        match code {
            "30003" => "The customer's phone is off or out of reach.".to_owned(),
            "30004" | "21610" => "The customer has blocked or opted out of these messages.".to_owned(),
            "30005" | "30006" => "The number does not exist or cannot receive texts.".to_owned(),
            "30007" => "The carrier filtered the message as spam.".to_owned(),
            "63016" => "More than 24 hours have passed since the customer last wrote; send an approved template.".to_owned(),
            _ => format!("The message could not be delivered (Twilio error {code})."),
        }
    });
    let known: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE business_id = $1 AND provider_message_id = $2")
        .bind(tx.business_id().to_owned())
        .bind(sid)
        .fetch_optional(tx.conn())
        .await?;
    if known.is_none() && received_at > tx.now_ms() - 10 * 60_000 {
        // The callback can beat the sender recording the SID; try again shortly.
        return Err(Error::internal(NotYetKnown));
    }
    advance_delivery(tx, sid, new, error).await?;
    Ok(())
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
    let row = sqlx::query("SELECT id, delivery_status FROM messages WHERE business_id = $1 AND provider_message_id = $2")
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
    sqlx::query("UPDATE messages SET delivery_status = $1, error = $2, updated_at = $3 WHERE id = $4")
        .bind(new.as_str())
        .bind(if new == DeliveryStatus::Failed { error } else { None })
        .bind(tx.now_ms())
        .bind(&id)
        .execute(tx.conn())
        .await?;
    let message = crate::conversations::load_message(tx.conn(), &business_id, &id).await?.ok_or_else(|| Error::NotFound("message"))?;
    tx.record(EntityKind::Message, &id, Some(&message)).await?;
    Ok(true)
}


// ---------------------------------------------------------------------------------------------
// Accepting webhooks: verified, then committed (the caller acknowledges only after `Ok`)

/// Meta's subscription check: the challenge to echo when `verify_token` is a business's.
pub async fn verify_whatsapp_subscription(core: &Core, mode: Option<&str>, verify_token: Option<&str>, challenge: Option<String>) -> Result<String, Error> {
    let (Some("subscribe"), Some(token), Some(challenge)) = (mode, verify_token, challenge) else {
        return Err(WebhookError::InvalidVerifyToken.into());
    };
    let known: Option<String> = sqlx::query_scalar("SELECT business_id FROM channels WHERE kind = 'whatsapp' AND verify_token_hash = $1")
        .bind(crate::accounts::token_hash(token))
        .fetch_optional(core.db.reader())
        .await?;
    known.ok_or(WebhookError::InvalidVerifyToken)?;
    Ok(challenge)
}

/// A WhatsApp Cloud API notification (messages and statuses) signed with `X-Hub-Signature-256`.
/// One body may speak for several businesses; every one of them must have signed it (a body
/// signed with one business's app secret cannot carry another business's messages).
pub async fn accept_whatsapp(core: &Core, signature: Option<&str>, body: &[u8]) -> Result<(), Error> {
    let signature = signature.ok_or(WebhookError::MissingSignature("X-Hub-Signature-256"))?;
    let payload: Value = serde_json::from_slice(body).map_err(|e| WebhookError::InvalidPayload(format!("The body is not JSON: {e}")))?;
    let entries = payload["entry"].as_array().ok_or_else(|| WebhookError::InvalidPayload("A WhatsApp notification has an `entry` list.".into()))?;
    // Split the delivery by business, keeping each business's part.
    let mut parts: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in entries {
        for change in entry["changes"].as_array().into_iter().flatten() {
            if let Some(id) = change["value"]["metadata"]["phone_number_id"].as_str() {
                parts.entry(id.to_owned()).or_default().push(json!({"id": entry["id"], "changes": [change]}));
            }
        }
    }
    let key: String = Sha256::digest(body).iter().map(|b| format!("{b:02x}")).collect();
    let mut events = Vec::new();
    let mut conn = core.db.reader().acquire().await?;
    for (phone_number_id, changes) in parts {
        let Some(business_id) = channels::business_for(&mut conn, channels::WHATSAPP, &phone_number_id).await? else {
            tracing::warn!(%phone_number_id, "WhatsApp notification for a number no business has connected; ignored");
            continue;
        };
        let Some((_, secrets)) = channels::load::<WhatsappSettings, WhatsappSecrets>(&mut conn, &core.secrets, &business_id, channels::WHATSAPP).await? else {
            continue;
        };
        if !meta_signature_valid(&secrets.app_secret, body, signature) {
            return Err(WebhookError::InvalidSignature.into());
        }
        events.push(NewEvent { provider: "whatsapp", business_id, key: key.clone(), payload: json!({"object": payload["object"], "entry": changes}).to_string() });
    }
    drop(conn);
    store(core, events).await
}

/// A Twilio webhook: an inbound message (`status: false`; the business is the `To` number) or a
/// delivery callback (`status: true`; the business is the sender, `From`). `url` is the full URL
/// Twilio signed (our public URL, path and query). A number no business has connected is ignored.
pub async fn accept_twilio(core: &Core, url: &str, signature: Option<&str>, params: Vec<(String, String)>, status: bool) -> Result<(), Error> {
    let signature = signature.ok_or(WebhookError::MissingSignature("X-Twilio-Signature"))?;
    let (provider, key, address) = if status {
        let sid = param(&params, "MessageSid").unwrap_or("");
        let state = param(&params, "MessageStatus").unwrap_or("");
        if sid.is_empty() || state.is_empty() {
            return Err(WebhookError::InvalidPayload("`MessageSid` and `MessageStatus` are required.".into()).into());
        }
        ("twilio_status", format!("{sid}:{state}"), param(&params, "From").unwrap_or(""))
    } else {
        let to = param(&params, "To").ok_or_else(|| WebhookError::InvalidPayload("`To` is missing.".into()))?;
        let sid = param(&params, "MessageSid").or(param(&params, "SmsSid")).unwrap_or("");
        if sid.is_empty() {
            return Err(WebhookError::InvalidPayload("`MessageSid` is missing.".into()).into());
        }
        ("twilio", sid.to_owned(), to)
    };
    let number = address.trim().trim_start_matches("whatsapp:");
    let mut conn = core.db.reader().acquire().await?;
    let Some(business_id) = channels::business_for(&mut conn, channels::TWILIO, number).await? else {
        tracing::warn!("Twilio webhook for a number no business has connected; ignored");
        return Ok(());
    };
    let Some((_, secrets)) = channels::load::<TwilioSettings, TwilioSecrets>(&mut conn, &core.secrets, &business_id, channels::TWILIO).await? else {
        return Ok(());
    };
    drop(conn);
    if !twilio_signature_valid(&secrets.auth_token, url, &params, signature) {
        return Err(WebhookError::InvalidSignature.into());
    }
    let payload = serde_json::to_string(&params)?;
    store(core, vec![NewEvent { provider, business_id, key, payload }]).await
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
        assert_eq!(twilio_signature("12345", url, &params), "RSOYDt4T1cUTdK1PDd93/VVr8B8=");
        assert!(twilio_signature_valid("12345", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!twilio_signature_valid("12345", &format!("{url}&x=1"), &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        assert!(!twilio_signature_valid("54321", url, &params, "RSOYDt4T1cUTdK1PDd93/VVr8B8="));
        // Repeated parameters, from Twilio's libraries' tests.
        let repeated: Vec<(String, String)> = [("Sid", "CA123"), ("SidAccount", "AC123"), ("Digits", "5678"), ("Digits", "1234"), ("Digits", "1234")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(twilio_signature("12345", url, &repeated), "IK+Dwps556ElfBT0I3Rgjkr1wJU=");
    }

    #[test]
    fn hub_signature_published_vector() {
        // The X-Hub-Signature-256 scheme's documented example (GitHub uses the same scheme).
        let secret = "It's a Secret to Everybody";
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(meta_signature_valid(secret, b"Hello, World!", header));
        assert!(!meta_signature_valid(secret, b"Hello, World?", header));
        assert!(!meta_signature_valid("another secret", b"Hello, World!", header));
        assert!(!meta_signature_valid(secret, b"Hello, World!", "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"));
        assert!(!meta_signature_valid(secret, b"Hello, World!", "sha256=zz"));
    }
}
