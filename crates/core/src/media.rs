//! Files both ways: what customers send (fetched by intake and kept), what staff attach, and call
//! recordings — all kept in the `media` table and read through one business-scoped route.
//!
//! Staff upload a file first (`PUT /v1/media/{id}`, the id the client made, so an upload replayed
//! after a lost answer stores nothing twice), then send it like a reply (`media_id`); the channel's
//! documented limits are checked when it is queued, before anything is sent:
//!
//! - WhatsApp Cloud API (Meta, "Supported media types"): images JPEG/PNG up to 5 MB; audio
//!   AAC/AMR/MPEG/MP4/OGG and video MP4/3GPP up to 16 MB; documents (PDF, text, Office) up to
//!   100 MB — here 25 MB, the largest file the service keeps.
//! - Twilio WhatsApp ("Supported file types"): images JPEG/PNG 5 MB; audio OGG/AMR/3GPP/AAC/MPEG,
//!   video MP4 and documents (PDF, Office) 16 MB.
//! - Twilio SMS (MMS, "Accepted content types"): 5 MB per message; JPEG, PNG and GIF are shown
//!   as pictures, PDF, MP3/OGG audio and MP4 video are delivered as they are.
//!
//! WhatsApp takes the file as an upload to the Graph API (`POST /{phone-number-id}/media`) and the
//! message names the uploaded id; Twilio fetches a `MediaUrl` itself, so the service answers a
//! signed, expiring address under `SWITCHBOARD_PUBLIC_URL` (`/media/shared/{id}`) without a token.
//!
//! A call recording is fetched from the voice platform the first time someone plays it, kept like
//! a customer's photo, and linked from the call (its `recording_url` becomes `/v1/media/{id}`), so
//! retention, export and erasure treat it like any other kept file.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use protocol::{CallRecord, Channel, EntityKind, Media, MediaFile};
use serde_json::json;
use sha2::Sha256;
use sqlx::Row;

use crate::accounts::{Actor, Permission};
use crate::error::{Error, MediaRefusal};
use crate::store::columns::read_row;
use crate::Core;

/// The largest file kept, whichever way it came (the request body limit of the upload route).
pub const MAX_FILE_BYTES: usize = protocol::MEDIA_MAX_BYTES as usize;

#[cfg(test)]
const MB: u64 = 1024 * 1024;

/// What a channel takes: `(content types, largest size in bytes)` groups (the table is shared
/// with the console, which refuses the same files before queueing them).
pub fn limits(channel: Channel) -> &'static [(&'static [&'static str], u64)] {
    protocol::media_limits(channel)
}

/// `image/jpeg; charset=…` → `image/jpeg`.
pub fn essence(content_type: &str) -> String {
    protocol::media_essence(content_type)
}

/// Whether `channel` takes a file of this type and size; the refusal says why in plain words.
pub fn check(channel: Channel, content_type: &str, size: u64) -> Result<(), MediaRefusal> {
    let kind = essence(content_type);
    let groups = limits(channel);
    let Some((_, limit)) = groups.iter().find(|(types, _)| types.contains(&kind.as_str())) else {
        let allowed: Vec<&str> = groups.iter().flat_map(|(t, _)| t.iter().copied()).collect();
        return Err(MediaRefusal::TypeNotAllowed { channel, content_type: kind, allowed });
    };
    if size > *limit {
        return Err(MediaRefusal::TooLarge { channel, size, limit_bytes: *limit });
    }
    Ok(())
}

/// Whether any channel takes this type (an upload of anything else is refused at once).
fn known_type(content_type: &str) -> bool {
    let kind = essence(content_type);
    [Channel::Whatsapp, Channel::TwilioWhatsapp, Channel::Sms].iter().any(|c| limits(*c).iter().any(|(types, _)| types.contains(&kind.as_str())))
}

/// How a message's kind follows from the file.
pub fn kind_of(content_type: &str) -> protocol::MessageKind {
    match essence(content_type).split('/').next().unwrap_or("") {
        "image" => protocol::MessageKind::Image,
        "audio" => protocol::MessageKind::Audio,
        "video" => protocol::MessageKind::Video,
        _ => protocol::MessageKind::Document,
    }
}

fn file_from_row(row: &sqlx::any::AnyRow) -> Result<MediaFile, Error> {
    Ok(read_row!(row => MediaFile { id, content_type, filename, size, created_at }))
}

/// A kept file of the business (`None`: not there, or another business's).
pub async fn load(conn: &mut sqlx::AnyConnection, business_id: &str, id: &str) -> Result<Option<(MediaFile, Vec<u8>)>, Error> {
    let row = sqlx::query("SELECT id, content_type, filename, size, data, created_at FROM media WHERE id = $1 AND business_id = $2")
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let data: String = row.try_get("data")?;
    let bytes = base64::engine::general_purpose::STANDARD.decode(data).map_err(Error::internal)?;
    Ok(Some((file_from_row(&row)?, bytes)))
}

/// Describes a kept file of the business without its bytes.
pub async fn describe(conn: &mut sqlx::AnyConnection, business_id: &str, id: &str) -> Result<Option<MediaFile>, Error> {
    let row = sqlx::query("SELECT id, content_type, filename, size, created_at FROM media WHERE id = $1 AND business_id = $2")
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(file_from_row).transpose()
}

/// Keeps a file staff upload to send. The id is the client's (a UUID): the same upload again
/// answers the file kept the first time (`false`: nothing new). Types no channel takes are
/// refused (`media_type_not_allowed`); the size limit of each channel is checked at sending.
pub async fn upload(core: &Core, actor: &Actor, id: &str, content_type: &str, filename: Option<&str>, bytes: Vec<u8>) -> Result<(bool, MediaFile), Error> {
    actor.require(Permission::HandleConversations)?;
    // Ids are per business (migration 0028): another business's file with this id is neither
    // seen nor touched, and this upload is answered as for an unused id.
    if uuid::Uuid::parse_str(id).is_err() {
        return Err(Error::invalid("A media id is a UUID the client makes."));
    }
    let mut conn = core.db.reader().acquire().await?;
    if let Some(existing) = describe(&mut conn, &actor.business_id, id).await? {
        return Ok((false, existing));
    }
    drop(conn);
    let kind = essence(content_type);
    if !known_type(&kind) {
        let mut allowed: Vec<&str> = [Channel::Whatsapp, Channel::TwilioWhatsapp, Channel::Sms]
            .iter()
            .flat_map(|c| limits(*c).iter().flat_map(|(t, _)| t.iter().copied()))
            .collect();
        allowed.sort_unstable();
        allowed.dedup();
        return Err(MediaRefusal::NoChannelTakes { content_type: kind, allowed }.into());
    }
    if bytes.is_empty() {
        return Err(Error::invalid("The file is empty."));
    }
    if bytes.len() > MAX_FILE_BYTES {
        return Err(MediaRefusal::TooLarge { channel: Channel::Whatsapp, size: bytes.len() as u64, limit_bytes: MAX_FILE_BYTES as u64 }.into());
    }
    let filename = filename.map(str::trim).filter(|f| !f.is_empty()).map(|f| f.chars().filter(|c| !c.is_control()).take(200).collect::<String>());
    let now = core.db.now_ms();
    let size = bytes.len() as i64;
    let inserted = sqlx::query(
        "INSERT INTO media (id, business_id, content_type, filename, size, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id, business_id) DO NOTHING",
    )
    .bind(id)
    .bind(&actor.business_id)
    .bind(&kind)
    .bind(filename.as_deref())
    .bind(size)
    .bind(base64::engine::general_purpose::STANDARD.encode(&bytes))
    .bind(now)
    .execute(core.db.writer())
    .await?
    .rows_affected();
    let mut conn = core.db.reader().acquire().await?;
    match describe(&mut conn, &actor.business_id, id).await? {
        Some(file) => Ok((inserted == 1, file)),
        // Only this business's own row can stand in the way, and it is read above.
        None => Err(Error::NotFound("media")),
    }
}

/// A kept file of the caller's business: what it is and its bytes (404 for another business's).
pub async fn read(core: &Core, actor: &Actor, id: &str) -> Result<(MediaFile, Vec<u8>), Error> {
    let mut conn = core.db.reader().acquire().await?;
    load(&mut conn, &actor.business_id, id).await?.ok_or(Error::NotFound("media"))
}

// ---------------------------------------------------------------------------------------------
// Signed addresses (Twilio fetches a `MediaUrl` itself, without our tokens)

/// How long a signed address works: long enough for Twilio's retries of one send.
const SHARE_MS: i64 = 24 * 3600 * 1000;

/// Signs a business's file: ids are per business, so the signature names whose file it is (v2;
/// v1 signed `{id}:{expires}` alone, when an id was one business's everywhere).
fn signature(core: &Core, business_id: &str, id: &str, expires_ms: i64) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&core.secrets.derived_key(b"switchboard shared media v2")).expect("any key length");
    mac.update(format!("{business_id}:{id}:{expires_ms}").as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// Compares in constant time.
fn same(expected: &str, given: &str) -> bool {
    expected.len() == given.len() && expected.bytes().zip(given.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The public address a provider fetches a kept file from (`/media/shared/{id}?expires&signature`).
pub fn shared_url(core: &Core, business_id: &str, id: &str) -> String {
    let expires = core.db.now_ms() + SHARE_MS;
    format!("{}/media/shared/{id}?expires={expires}&signature={}", core.config.public_url.trim_end_matches('/'), signature(core, business_id, id, expires))
}

/// The file a signed address names; `NotFound` for a wrong or expired signature (nothing told).
pub async fn read_shared(core: &Core, id: &str, expires_ms: i64, given: &str) -> Result<(MediaFile, Vec<u8>), Error> {
    if expires_ms < core.db.now_ms() {
        return Err(Error::NotFound("media"));
    }
    // The businesses holding a file with this id (ids are per business); the signature says whose.
    let owners: Vec<String> = sqlx::query_scalar("SELECT business_id FROM media WHERE id = $1").bind(id).fetch_all(core.db.reader()).await?;
    let Some(business_id) = owners.into_iter().find(|b| same(&signature(core, b, id, expires_ms), given)) else {
        return Err(Error::NotFound("media"));
    };
    let mut conn = core.db.reader().acquire().await?;
    load(&mut conn, &business_id, id).await?.ok_or(Error::NotFound("media"))
}

// ---------------------------------------------------------------------------------------------
// Call recordings

/// A call's recording: fetched from the voice platform the first time and kept; afterwards read
/// from here. 404 when the call has none (or it was removed by the retention policy).
pub async fn recording(core: &Core, actor: &Actor, message_id: &str) -> Result<(MediaFile, Vec<u8>), Error> {
    let row = sqlx::query("SELECT kind, raw, conversation_id FROM messages WHERE id = $1 AND business_id = $2")
        .bind(message_id)
        .bind(&actor.business_id)
        .fetch_optional(core.db.reader())
        .await?
        .ok_or(Error::NotFound("call"))?;
    let kind: String = row.try_get("kind")?;
    let raw: Option<String> = row.try_get("raw")?;
    if kind != "call" {
        return Err(Error::NotFound("call"));
    }
    let record: CallRecord = raw.as_deref().and_then(|r| serde_json::from_str(r).ok()).ok_or(Error::NotFound("recording"))?;
    let url = record.recording_url.clone().ok_or(Error::NotFound("recording"))?;
    if let Some(kept) = url.strip_prefix("/v1/media/") {
        return read(core, actor, kept).await;
    }
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(Error::NotFound("recording"));
    }
    let (bytes, content_type) = core
        .providers
        .fetch_recording(&url)
        .await
        .map_err(|e| Error::invalid(format!("The recording could not be fetched from the voice platform ({e}); try again later.")))?;
    let content_type = if content_type.starts_with("audio/") { content_type } else { guess_audio(&url).to_owned() };
    let filename = format!("call-{}.{}", record.call_id, extension(&content_type));
    let kept = crate::channels::inbound::keep_media(&core.db, &actor.business_id, bytes, &content_type, Some(&filename)).await?;
    let link = crate::channels::inbound::media_url(&kept);
    // Link it from the call: the message's media (so erasure and export find it) and its record.
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let current: Option<(Option<String>, String)> = sqlx::query("SELECT raw, media FROM messages WHERE id = $1 AND business_id = $2")
        .bind(message_id)
        .bind(&actor.business_id)
        .fetch_optional(tx.conn())
        .await?
        .map(|r| Ok::<_, sqlx::Error>((r.try_get("raw")?, r.try_get("media")?)))
        .transpose()?;
    let Some((raw, media)) = current else { return Err(Error::NotFound("call")) };
    let mut record: serde_json::Value = raw.as_deref().and_then(|r| serde_json::from_str(r).ok()).unwrap_or_default();
    // Someone else kept it meanwhile, or retention removed it: keep what is there.
    if record.get("recording_url").and_then(|u| u.as_str()) != Some(url.as_str()) {
        tx.commit_even_if_unchanged().await?;
        sqlx::query("DELETE FROM media WHERE id = $1 AND business_id = $2").bind(&kept).bind(&actor.business_id).execute(core.db.writer()).await?;
        return match record.get("recording_url").and_then(|u| u.as_str()).and_then(|u| u.strip_prefix("/v1/media/")) {
            Some(other) => read(core, actor, other).await,
            None => Err(Error::NotFound("recording")),
        };
    }
    record["recording_url"] = json!(link);
    let mut list: Vec<Media> = serde_json::from_str(&media).unwrap_or_default();
    list.push(Media { content_type: content_type.clone(), url: Some(link.clone()), filename: Some(filename), caption: None });
    sqlx::query("UPDATE messages SET raw = $1, media = $2, updated_at = $3 WHERE id = $4 AND business_id = $5")
        .bind(record.to_string())
        .bind(serde_json::to_string(&list).map_err(Error::internal)?)
        .bind(tx.now_ms())
        .bind(message_id)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    let message = crate::conversations::load_message(tx.conn(), &actor.business_id, message_id).await?;
    tx.record(EntityKind::Message, message_id, message.as_ref()).await?;
    tx.commit().await?;
    read(core, actor, &kept).await
}

/// Deletes a kept recording and its link from the call's media (retention).
pub(crate) async fn forget(tx: &mut crate::store::BusinessTx, message_id: &str, media_id: &str) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    sqlx::query("DELETE FROM media WHERE id = $1 AND business_id = $2").bind(media_id).bind(&business_id).execute(tx.conn()).await?;
    let media: Option<String> = sqlx::query_scalar("SELECT media FROM messages WHERE id = $1 AND business_id = $2")
        .bind(message_id)
        .bind(&business_id)
        .fetch_optional(tx.conn())
        .await?;
    let link = crate::channels::inbound::media_url(media_id);
    let list: Vec<Media> = media.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default();
    let kept: Vec<Media> = list.into_iter().filter(|m| m.url.as_deref() != Some(link.as_str())).collect();
    sqlx::query("UPDATE messages SET media = $1 WHERE id = $2 AND business_id = $3")
        .bind(serde_json::to_string(&kept).map_err(Error::internal)?)
        .bind(message_id)
        .bind(&business_id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

fn guess_audio(url: &str) -> &'static str {
    let path = url.split('?').next().unwrap_or("").to_ascii_lowercase();
    if path.ends_with(".mp3") {
        "audio/mpeg"
    } else if path.ends_with(".ogg") {
        "audio/ogg"
    } else {
        "audio/wav"
    }
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "audio/mpeg" => "mp3",
        "audio/ogg" => "ogg",
        "audio/wav" | "audio/x-wav" | "audio/wave" => "wav",
        _ => "audio",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_has_its_documented_limits() {
        assert!(check(Channel::Whatsapp, "image/jpeg", 5 * MB).is_ok());
        assert!(matches!(check(Channel::Whatsapp, "image/jpeg", 5 * MB + 1), Err(MediaRefusal::TooLarge { limit_bytes, .. }) if limit_bytes == 5 * MB));
        assert!(check(Channel::Whatsapp, "application/pdf", 20 * MB).is_ok());
        assert!(check(Channel::TwilioWhatsapp, "application/pdf", 17 * MB).is_err());
        assert!(check(Channel::Sms, "image/gif", MB).is_ok());
        assert!(matches!(check(Channel::Whatsapp, "image/gif", MB), Err(MediaRefusal::TypeNotAllowed { .. })));
        assert!(matches!(check(Channel::Sms, "application/zip", 10), Err(MediaRefusal::TypeNotAllowed { .. })));
        assert!(check(Channel::Voice, "image/png", 10).is_err());
        assert!(check(Channel::Whatsapp, "Image/PNG; charset=binary", 10).is_ok());
    }

    #[test]
    fn kinds_follow_the_file() {
        assert_eq!(kind_of("image/png"), protocol::MessageKind::Image);
        assert_eq!(kind_of("audio/ogg"), protocol::MessageKind::Audio);
        assert_eq!(kind_of("application/pdf"), protocol::MessageKind::Document);
    }
}
