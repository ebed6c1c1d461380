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

/// Why a channel does not take a file, in the words the composer shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileRefusal {
    #[error("This is a phone call; files can be sent on WhatsApp or SMS.")]
    Call,
    #[error("The file is empty.")]
    Empty,
    /// `what`: "this kind of file", with its type when it has one.
    #[error("{channel} does not take {what}. It takes: {allowed}.")]
    Kind { channel: &'static str, what: String, allowed: String },
    #[error("This file is {size_mb} MB; {channel} takes files up to {limit_mb} MB.")]
    TooBig { channel: &'static str, size_mb: String, limit_mb: String },
}

/// Whether `channel` takes this file: the type to send it as, or why not (the service's own
/// table, `protocol::media_limits`).
pub fn check(channel: Channel, content_type: &str, size: u64) -> Result<String, FileRefusal> {
    let name = match channel {
        Channel::Whatsapp => "WhatsApp",
        Channel::TwilioWhatsapp => "WhatsApp (Twilio)",
        Channel::Sms => "SMS/MMS",
        Channel::Voice => return Err(FileRefusal::Call),
    };
    if size == 0 {
        return Err(FileRefusal::Empty);
    }
    let kind = protocol::media_essence(content_type);
    let groups = protocol::media_limits(channel);
    let Some((_, limit)) = groups.iter().find(|(types, _)| types.contains(&kind.as_str())) else {
        let allowed: Vec<&str> = groups.iter().flat_map(|(t, _)| t.iter().copied()).collect();
        let what = if kind.is_empty() { "this kind of file".to_owned() } else { format!("this kind of file ({kind})") };
        return Err(FileRefusal::Kind { channel: name, what, allowed: allowed.join(", ") });
    };
    if size > *limit {
        return Err(FileRefusal::TooBig { channel: name, size_mb: mb_up(size), limit_mb: mb(*limit) });
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
    Ok(data(file(store, transport, file_path(path)?).await?))
}

/// `path` if it is a file's address on the service (`/v1/media/{id}`, `/v1/calls/{id}/recording`):
/// the only addresses the console fetches files from, with the signed-in person's token.
fn file_path(path: &str) -> Result<&str, ConsoleError> {
    match path.split('/').collect::<Vec<_>>()[..] {
        ["", "v1", "media", id] if is_id(id) => Ok(path),
        ["", "v1", "calls", id, "recording"] if is_id(id) => Ok(path),
        _ => Err(ConsoleError::Invalid(format!("`{}` is not a file's address.", path.chars().take(200).collect::<String>()))),
    }
}

/// [`fetch`]'s file as bytes.
async fn file(store: &LocalStore, transport: &dyn Transport, path: &str) -> Result<CachedMedia, ConsoleError> {
    if let Some(kept) = store.cached_media(path, now_ms()).await? {
        return Ok(kept);
    }
    Ok(from_service(store, transport, path).await?.0)
}

/// A picture's small copy by the file's service address: the kept one, else made from the kept
/// file, else from the service's file (then both kept). `None`: the file has no small copy (not
/// a picture, or one that does not decode); the timeline shows the file itself.
pub async fn thumbnail(store: &LocalStore, transport: &dyn Transport, path: &str) -> Result<Option<MediaThumbnail>, ConsoleError> {
    let path = file_path(path)?;
    Ok(small_copy(store, transport, path).await?.map(MediaThumbnail::from))
}

/// [`thumbnail`]'s small copy as bytes.
async fn small_copy(store: &LocalStore, transport: &dyn Transport, path: &str) -> Result<Option<Thumbnail>, ConsoleError> {
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
    Ok(made)
}

/// Which of a file's forms an address asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// The file itself.
    File,
    /// A picture's small copy (the file itself when it has none).
    Small,
}

/// A file the window's `<img>`/players load by address (the desktop app's `media:` scheme, the
/// UI bridge's `GET /media/…`), so that the web engine fetches and decodes it off the page's
/// main thread instead of the page unpacking base64 from a command's JSON.
///
/// An address is `{file|small}/{message id}/{the file's service address without its first /}`,
/// e.g. `small/3f…/v1/media/9a…` or `file/3f…/v1/calls/3f…/recording`. It parses only when every
/// part is an id (letters, digits, `-`, `_`): nothing else, no `..`, no escapes, no query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub form: Form,
    pub message_id: String,
    /// The service's address of the file (`/v1/media/{id}` or `/v1/calls/{message id}/recording`).
    pub path: String,
}

fn is_id(part: &str) -> bool {
    (1..=64).contains(&part.len()) && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Address {
    pub fn parse(address: &str) -> Option<Address> {
        let parts: Vec<&str> = address.strip_prefix('/').unwrap_or(address).split('/').collect();
        let form = match parts.first()? {
            &"file" => Form::File,
            &"small" => Form::Small,
            _ => return None,
        };
        let message_id = *parts.get(1).filter(|p| is_id(p))?;
        let path = format!("/{}", parts.get(2..)?.join("/"));
        file_path(&path).ok()?;
        // A call's recording, only at its own message's address.
        if path.starts_with("/v1/calls/") && path != format!("/v1/calls/{message_id}/recording") {
            return None;
        }
        Some(Address { form, message_id: message_id.to_owned(), path })
    }
}

/// What an address answers: the bytes and their type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Whether the message `address` names is in this console's mirror (the signed-in business's;
/// signing out wipes it) and shows that file, or is one waiting in the outbox with that file.
async fn shows(store: &LocalStore, address: &Address) -> Result<bool, StoreError> {
    let data: Option<String> = sqlx::query_scalar("SELECT data FROM messages WHERE id = ?").bind(&address.message_id).fetch_optional(store.pool()).await?;
    if let Some(message) = data.and_then(|d| serde_json::from_str::<protocol::Message>(&d).ok()) {
        let recording = message.kind == protocol::MessageKind::Call && message.call.as_ref().is_some_and(|c| c.recording_url.is_some()) && address.path == format!("/v1/calls/{}/recording", message.id.as_str());
        return Ok(recording || message.media.iter().any(|m| m.url.as_deref() == Some(address.path.as_str())));
    }
    // An attachment waiting in the outbox is no message in the mirror yet (its file is kept here).
    let waiting: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM outbox WHERE name = 'send_media' AND json_extract(args, '$.message_id') = ? AND '/v1/media/' || json_extract(args, '$.media_id') = ?",
    )
    .bind(&address.message_id)
    .bind(&address.path)
    .fetch_optional(store.pool())
    .await?;
    Ok(waiting.is_some())
}

/// The file an address names, when this console shows it (see [`Address`] and [`shows`]);
/// `None` for anything else.
pub async fn serve(store: &LocalStore, transport: &dyn Transport, address: &str) -> Result<Option<Served>, ConsoleError> {
    let Some(address) = Address::parse(address) else { return Ok(None) };
    if !shows(store, &address).await? {
        return Ok(None);
    }
    if address.form == Form::Small {
        if let Some(small) = small_copy(store, transport, &address.path).await? {
            return Ok(Some(Served { content_type: small.content_type, bytes: small.data }));
        }
    }
    let file = file(store, transport, &address.path).await?;
    Ok(Some(Served { content_type: file.content_type, bytes: file.data }))
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

/// At most this many pictures and voice notes of a sync's new messages are fetched ahead (newest
/// first).
pub const ARRIVED_AT_ONCE: usize = 250;
/// A batch of messages larger than this (a first sync) is not looked up message by message: the
/// newest messages with files are read instead.
const LOOKUP_AT_MOST: usize = 2_000;

/// The pictures and voice notes (any sound a customer sent) among `message_ids` (messages a sync
/// just brought into the mirror) whose files are not kept here yet: `(message id, the file's
/// service address)`, newest first, at most [`ARRIVED_AT_ONCE`]. Both are what a front desk opens
/// at once, offline too; videos and documents are fetched when opened.
pub async fn arrived(store: &LocalStore, message_ids: &[String]) -> Result<Vec<(String, String)>, StoreError> {
    // Only messages that name a file of the service are read and parsed.
    const WITH_FILES: &str = "data LIKE '%\"url\":\"/v1/media/%'";
    let rows: Vec<(String, i64, String)> = if message_ids.len() > LOOKUP_AT_MOST {
        sqlx::query_as(&format!("SELECT id, created_ms, data FROM messages WHERE {WITH_FILES} ORDER BY created_ms DESC LIMIT ?"))
            .bind(ARRIVED_AT_ONCE as i64)
            .fetch_all(store.pool())
            .await?
    } else {
        let ids = serde_json::to_string(message_ids).unwrap_or_else(|_| "[]".into());
        sqlx::query_as(&format!("SELECT id, created_ms, data FROM messages WHERE id IN (SELECT value FROM json_each(?)) AND {WITH_FILES}"))
            .bind(ids)
            .fetch_all(store.pool())
            .await?
    };
    let mut pictures = Vec::new();
    for (id, created_ms, data) in rows {
        let Ok(message) = serde_json::from_str::<protocol::Message>(&data) else { continue };
        for m in &message.media {
            let Some(url) = m.url.as_deref().filter(|u| u.starts_with("/v1/media/")) else { continue };
            let essence = protocol::media_essence(&m.content_type);
            if essence.starts_with("image/") || essence.starts_with("audio/") {
                pictures.push((created_ms, id.clone(), url.to_owned()));
            }
        }
    }
    // Newest first (ids are time-ordered: the later of two messages of one millisecond).
    pictures.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    let mut wanted = Vec::new();
    for (_, id, path) in pictures {
        if wanted.len() == ARRIVED_AT_ONCE {
            break;
        }
        let kept: Option<i64> = sqlx::query_scalar("SELECT 1 FROM media_cache WHERE key = ?").bind(&path).fetch_optional(store.pool()).await?;
        if kept.is_none() && !wanted.iter().any(|(_, p)| p == &path) {
            wanted.push((id, path));
        }
    }
    Ok(wanted)
}

/// Fetches the files [`arrived`] names (pictures with their small copies), one at a time, before
/// anyone scrolls to them (a timeline then shows kept copies), while what they take stays under
/// half the cache's budget (so that arrivals never push out most of what was viewed). A message
/// no longer in the mirror (signed out, or another business since) is skipped. How many were kept.
pub async fn prepare_arrived(store: &LocalStore, transport: &dyn Transport, message_ids: &[String]) -> Result<usize, ConsoleError> {
    let wanted = arrived(store, message_ids).await?;
    let allowance = budget(store).await? / 2;
    let (mut taken, mut kept) = (0i64, 0usize);
    for (message_id, path) in wanted {
        if taken >= allowance {
            break;
        }
        let address = Address { form: Form::Small, message_id, path };
        if !shows(store, &address).await? || store.cached_thumbnail(&address.path, now_ms()).await?.is_some() {
            continue;
        }
        let (file, small) = from_service(store, transport, &address.path).await?;
        taken += (file.data.len() + small.filter(|s| s.data != file.data).map_or(0, |s| s.data.len())) as i64;
        kept += 1;
    }
    Ok(kept)
}

/// The background worker that runs [`prepare_arrived`] for each batch of new messages the sync
/// engine sends it, one batch and one file at a time; it ends with the engine (the sender
/// dropped). A failure (offline) leaves the files to be fetched when they are first shown.
pub fn spawn_preparer(store: LocalStore, transport: std::sync::Arc<dyn Transport>) -> tokio::sync::mpsc::UnboundedSender<Vec<String>> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<String>>();
    tokio::spawn(async move {
        while let Some(mut ids) = rx.recv().await {
            // Batches that queued up meanwhile are taken together.
            while let Ok(more) = rx.try_recv() {
                ids.extend(more);
            }
            let started = std::time::Instant::now();
            match prepare_arrived(&store, transport.as_ref(), &ids).await {
                Ok(0) => {}
                Ok(kept) => tracing::debug!(kept, ms = started.elapsed().as_millis() as u64, "kept the files that arrived"),
                Err(e) => tracing::debug!(error = %e, "the files that arrived are fetched when first shown"),
            }
        }
    });
    tx
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
    fn an_address_names_a_message_and_one_of_its_files_and_nothing_else() {
        let small = Address::parse("small/m-1/v1/media/abc_9").unwrap();
        assert_eq!(small, Address { form: Form::Small, message_id: "m-1".into(), path: "/v1/media/abc_9".into() });
        let recording = Address::parse("/file/call-7/v1/calls/call-7/recording").unwrap();
        assert_eq!((recording.form, recording.path.as_str()), (Form::File, "/v1/calls/call-7/recording"));
        for refused in [
            "",
            "small",
            "big/m-1/v1/media/abc",
            "small//v1/media/abc",
            "small/m-1/v1/media/",
            "small/m-1/v1/media/../auth/me",
            "small/m-1/v1/media/..",
            "small/../v1/media/abc",
            "small/m-1/v1/media/%2e%2e",
            "small/m-1/v1/media/abc/more",
            "small/m-1/v1/media/abc?x=1",
            "small/m-1/v1/auth/me",
            "small/m-1/v1/calls/other-call/recording",
            "small/m-1/v2/media/abc",
            "small/m-1//v1/media/abc",
        ] {
            assert_eq!(Address::parse(refused), None, "{refused}");
        }
        assert_eq!(Address::parse(&format!("small/m/v1/media/{}", "a".repeat(65))), None);
    }

    #[test]
    fn files_are_fetched_only_from_file_addresses() {
        for ok in ["/v1/media/0190abc-d_e", "/v1/calls/m1/recording"] {
            assert_eq!(file_path(ok).unwrap(), ok);
        }
        for refused in ["/v1/customers", "/v1/../healthz", "/v1/media/../../etc/passwd", "/v1/media/a/b", "/v1/media/", "v1/media/x", "/v1/media/x%2f", "/v1/calls/x/recording/..", "https://evil.example/v1/media/x", "/v1/media/a\\b"] {
            assert!(matches!(file_path(refused), Err(ConsoleError::Invalid(_))), "{refused}");
        }
    }

    #[test]
    fn refusals_are_in_plain_words() {
        assert_eq!(check(Channel::Whatsapp, "image/png", 10), Ok("image/png".into()));
        let big = check(Channel::Whatsapp, "image/jpeg", 6 * 1024 * 1024).unwrap_err().to_string();
        assert_eq!(big, "This file is 6.0 MB; WhatsApp takes files up to 5.0 MB.");
        let gif = check(Channel::Whatsapp, "image/gif", 10).unwrap_err().to_string();
        assert!(gif.starts_with("WhatsApp does not take this kind of file (image/gif). It takes: image/jpeg, image/png"), "{gif}");
        assert!(check(Channel::Sms, "image/gif", 10).is_ok());
        assert!(check(Channel::Voice, "image/png", 10).is_err());
        assert_eq!(check(Channel::Sms, "image/png", 0).unwrap_err().to_string(), "The file is empty.");
    }
}
