//! Files in the console: what the timeline shows (customers' photos, voice notes, documents, call
//! recordings) is kept in the local store after it was first seen, so it can be viewed offline,
//! within a size budget (the least recently viewed go first: `media_cache_budget_bytes`, 256 MB
//! unless set); a file staff attach is checked against the channel's limits (the table the
//! service uses), kept pinned until the sync engine has uploaded it (`PUT /v1/media/{id}`,
//! idempotent), and sent with a `send_media` mutation — offline like every other action.

use base64::Engine as _;
use protocol::{Channel, MediaId};
use serde::Serialize;
use ts_rs::TS;

use crate::store::{CachedMedia, KeptThumbnail, LocalStore, StoreError};
use crate::thumbnail::{self, Thumbnail};
use crate::transport::{Transport, TransportError};
use crate::ConsoleError;

/// The budget unless `media_cache_budget_bytes` says otherwise.
pub const DEFAULT_BUDGET: i64 = 256 * 1024 * 1024;

/// A file for the UI: its type, name and bytes (base64).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct MediaData {
    pub content_type: String,
    pub filename: Option<String>,
    pub data_base64: String,
    #[ts(type = "number")]
    pub size: i64,
}

/// A picture's small copy for the timeline (at most 320×240 pixels; see [`crate::thumbnail`]):
/// its type, size in pixels and bytes (base64).
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct MediaThumbnail {
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub data_base64: String,
}

impl From<Thumbnail> for MediaThumbnail {
    fn from(t: Thumbnail) -> Self {
        MediaThumbnail { content_type: t.content_type, width: t.width, height: t.height, data_base64: base64::engine::general_purpose::STANDARD.encode(&t.data) }
    }
}

/// Where the service answers a kept file: the cache's key.
pub fn key(id: &MediaId) -> String {
    format!("/v1/media/{id}")
}

pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

pub async fn budget(store: &LocalStore) -> Result<i64, StoreError> {
    Ok(store.setting("media_cache_budget_bytes").await?.and_then(|b| b.parse().ok()).unwrap_or(DEFAULT_BUDGET))
}

/// Whether `channel` takes this file; the type to send it as, or why not in plain words (the
/// service's own table, `protocol::media_limits`).
pub fn check(channel: Channel, content_type: &str, size: u64) -> Result<String, String> {
    let name = match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::TwilioWhatsapp => "WhatsApp (Twilio)",
        Channel::Sms => "SMS/MMS",
        Channel::Voice => return Err("This is a phone call; files can be sent on WhatsApp or SMS.".into()),
    };
    if size == 0 {
        return Err("The file is empty.".into());
    }
    let kind = protocol::media_essence(content_type);
    let groups = protocol::media_limits(channel);
    let Some((_, limit)) = groups.iter().find(|(types, _)| types.contains(&kind.as_str())) else {
        let allowed: Vec<&str> = groups.iter().flat_map(|(t, _)| t.iter().copied()).collect();
        let what = if kind.is_empty() { "this kind of file".to_owned() } else { format!("this kind of file ({kind})") };
        return Err(format!("{name} does not take {what}. It takes: {}.", allowed.join(", ")));
    };
    if size > *limit {
        return Err(format!("This file is {} MB; {name} takes files up to {} MB.", mb_up(size), mb(*limit)));
    }
    Ok(kind)
}

fn mb(bytes: u64) -> String {
    let mb = bytes as f64 / (1024.0 * 1024.0);
    if mb >= 10.0 {
        format!("{mb:.0}")
    } else {
        format!("{mb:.1}")
    }
}

/// A file's size in MB, rounded up (a file just over a limit never reads as equal to it).
fn mb_up(bytes: u64) -> String {
    let tenths = (bytes as f64 / (1024.0 * 1024.0) * 10.0).ceil();
    if tenths >= 100.0 {
        format!("{:.0}", (tenths / 10.0).ceil())
    } else {
        format!("{:.1}", tenths / 10.0)
    }
}

fn data(file: CachedMedia) -> MediaData {
    MediaData {
        size: file.data.len() as i64,
        content_type: file.content_type,
        filename: file.filename,
        data_base64: base64::engine::general_purpose::STANDARD.encode(&file.data),
    }
}

/// Keeps a file in the cache with its small copy, made off the async runtime; the small copy.
pub async fn keep(store: &LocalStore, path: &str, file: CachedMedia) -> Result<(CachedMedia, Option<Thumbnail>), StoreError> {
    let bytes = std::sync::Arc::new(file.data);
    let thumbnail = thumbnail::make_off_runtime(&file.content_type, bytes.clone()).await;
    let file = CachedMedia { data: std::sync::Arc::try_unwrap(bytes).unwrap_or_else(|shared| (*shared).clone()), ..file };
    store.keep_media(path, &file, thumbnail.as_ref(), now_ms(), budget(store).await?).await?;
    Ok((file, thumbnail))
}

/// A file by its service address: the kept copy, else the service's (then kept).
pub async fn fetch(store: &LocalStore, transport: &dyn Transport, path: &str) -> Result<MediaData, ConsoleError> {
    if let Some(kept) = store.cached_media(path, now_ms()).await? {
        return Ok(data(kept));
    }
    Ok(data(from_service(store, transport, path).await?.0))
}

/// A picture's small copy by the file's service address: the kept one, else made from the kept
/// file, else from the service's file (then both kept). `None`: the file has no small copy (not
/// a picture, or one that does not decode); the timeline shows the file itself.
pub async fn thumbnail(store: &LocalStore, transport: &dyn Transport, path: &str) -> Result<Option<MediaThumbnail>, ConsoleError> {
    let made = match store.cached_thumbnail(path, now_ms()).await? {
        Some(KeptThumbnail::Made(made)) => made,
        Some(KeptThumbnail::Unmade) => match store.cached_media(path, now_ms()).await? {
            Some(file) => {
                let bytes = std::sync::Arc::new(file.data);
                let made = thumbnail::make_off_runtime(&file.content_type, bytes.clone()).await;
                store.keep_thumbnail(path, &bytes, made.as_ref()).await?;
                made
            }
            None => from_service(store, transport, path).await?.1,
        },
        None => from_service(store, transport, path).await?.1,
    };
    Ok(made.map(MediaThumbnail::from))
}

/// The service's copy of a file, kept here with its small copy.
async fn from_service(store: &LocalStore, transport: &dyn Transport, path: &str) -> Result<(CachedMedia, Option<Thumbnail>), ConsoleError> {
    let (content_type, bytes) = match transport.media(path).await {
        Ok(found) => found,
        Err(TransportError::Offline(_)) => {
            return Err(ConsoleError::Transport(TransportError::Offline(
                "this file has not been opened on this computer yet; it shows once the service can be reached".into(),
            )))
        }
        Err(e) => return Err(e.into()),
    };
    let file = CachedMedia { content_type: protocol::media_essence(&content_type), filename: None, data: bytes, pinned: false };
    Ok(keep(store, path, file).await?)
}

/// Uploads the attachments a batch of mutations sends that the service does not have yet
/// (before the batch is pushed). An upload the service refuses is left for the push to report.
pub async fn upload_pending(store: &LocalStore, transport: &dyn Transport, batch: &[protocol::Mutation]) -> Result<(), TransportError> {
    for m in batch {
        let protocol::MutationOp::SendMedia { media_id, .. } = &m.op else { continue };
        let key = key(media_id);
        let kept = store.cached_media(&key, now_ms()).await.map_err(|e| TransportError::Server(format!("local store: {e}")))?;
        let Some(file) = kept.filter(|f| f.pinned) else { continue };
        match transport.upload_media(media_id.as_str(), &file).await {
            Ok(_) => {}
            Err(TransportError::Refused { code, message }) => {
                tracing::warn!(%code, %message, "the service refused an attachment");
                continue;
            }
            Err(e) => return Err(e),
        }
        let budget = budget(store).await.unwrap_or(DEFAULT_BUDGET);
        store.unpin_media(&key, budget).await.map_err(|e| TransportError::Server(format!("local store: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_in_plain_words() {
        assert_eq!(check(Channel::Whatsapp, "image/png", 10), Ok("image/png".into()));
        let big = check(Channel::Whatsapp, "image/jpeg", 6 * 1024 * 1024).unwrap_err();
        assert_eq!(big, "This file is 6.0 MB; WhatsApp takes files up to 5.0 MB.");
        let gif = check(Channel::Whatsapp, "image/gif", 10).unwrap_err();
        assert!(gif.starts_with("WhatsApp does not take this kind of file (image/gif). It takes: image/jpeg, image/png"), "{gif}");
        assert!(check(Channel::Sms, "image/gif", 10).is_ok());
        assert!(check(Channel::Voice, "image/png", 10).is_err());
        assert_eq!(check(Channel::Sms, "image/png", 0).unwrap_err(), "The file is empty.");
    }
}
