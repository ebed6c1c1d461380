//! What the providers' API clients share: one HTTP client with the configured timeouts, what a
//! message to send is ([`Outgoing`], as the outbox stores it), how a send fails ([`SendError`]),
//! and downloading media within a size limit. Each provider's calls are in its own `client`
//! module; every base URL comes from the configuration, so tests point them at local servers that
//! speak the documented formats.
//!
//! Failures are sorted into those worth retrying (network errors, timeouts, 429, 5xx) and
//! permanent ones, which carry a reason written for the front desk ("The customer replied STOP").

use std::time::Duration;

use super::{twilio, whatsapp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Try again later; the text is for the log and the channel's health.
    Retryable(String),
    /// Will never work as it is. `channel` is true when the business's set-up is at fault
    /// (a bad token), so the channel shows as unhealthy.
    Permanent { reason: String, channel: bool },
}

impl SendError {
    /// Will never work, and the business's set-up is not to blame.
    pub fn permanent(reason: impl Into<String>) -> SendError {
        SendError::Permanent { reason: reason.into(), channel: false }
    }

    /// The channel was disconnected after the message was queued.
    pub fn not_connected() -> SendError {
        SendError::permanent("The channel is no longer connected. Reconnect it in Settings → Channels.")
    }

    /// Our side failed before calling the provider (the database, say): worth another try.
    pub fn internal(e: &dyn std::fmt::Display) -> SendError {
        SendError::Retryable(format!("internal: {e}"))
    }
}

/// What to send.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    Text { body: String },
    /// A kept file (`media` table) with an optional caption.
    Media { media_id: String, content_type: String, filename: Option<String>, caption: String },
    Template {
        name: String,
        language: String,
        variables: Vec<String>,
        twilio_content_sid: Option<String>,
        body: String,
        /// The payloads of the template's quick-reply buttons, in order (`C`, `R`, `X`).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        quick_replies: Vec<String>,
    },
    /// Text with reply buttons, free-form (inside WhatsApp's 24-hour window): each button's id is
    /// a reply code (`C`, `R`, `X`) that comes back when it is tapped. Where buttons cannot be
    /// shown (SMS, Twilio), it is the text alone.
    Buttons { body: String, codes: Vec<String> },
}

/// The title a reply code's button shows (WhatsApp allows 20 characters).
pub fn button_title(code: &str) -> &'static str {
    match code {
        "C" => "Confirm",
        "R" => "Change the time",
        _ => "Cancel booking",
    }
}

/// The HTTP client every provider is called with (messaging, voice, Google): the configured
/// timeout, 5 s to connect, and our user agent.
pub fn http_client(config: &crate::Config) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_millis(config.provider_timeout_ms))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
        .build()
        .expect("the HTTP client builds")
}

/// The providers' API clients.
pub struct Providers {
    pub whatsapp: whatsapp::Client,
    pub twilio: twilio::Client,
    /// Plain downloads: voice platforms' call recordings.
    http: reqwest::Client,
}

impl Providers {
    pub fn new(config: &crate::Config) -> Providers {
        let http = http_client(config);
        Providers {
            whatsapp: whatsapp::Client::new(http.clone(), &config.whatsapp_api_base),
            twilio: twilio::Client::new(http.clone(), &config.twilio_api_base, &config.public_url),
            http,
        }
    }

    /// Downloads a call recording from the voice platform's storage (Vapi's and Retell's
    /// recording URLs are signed addresses that need no credentials); the bytes and their type.
    pub async fn fetch_recording(&self, url: &str) -> Result<(Vec<u8>, String), String> {
        let response = self.http.get(url).send().await.map_err(|e| without_url(&e))?.error_for_status().map_err(|e| without_url(&e))?;
        let content_type = response.headers().get(reqwest::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(crate::media::essence).unwrap_or_default();
        if response.content_length().is_some_and(|n| n as usize > MAX_MEDIA_BYTES) {
            return Err("the file is too large to keep".into());
        }
        let bytes = response.bytes().await.map_err(|e| without_url(&e))?;
        if bytes.len() > MAX_MEDIA_BYTES {
            return Err("the file is too large to keep".into());
        }
        Ok((bytes.to_vec(), content_type))
    }
}

/// Largest media file kept (WhatsApp's own limit for documents is 100 MB; most are far smaller).
const MAX_MEDIA_BYTES: usize = 25 * 1024 * 1024;

/// Downloads a file the provider holds, refusing one larger than we keep.
pub(crate) async fn download(request: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
    let response = request.send().await.map_err(|e| e.to_string())?.error_for_status().map_err(|e| e.to_string())?;
    if response.content_length().is_some_and(|n| n as usize > MAX_MEDIA_BYTES) {
        return Err("the file is too large to keep".into());
    }
    let bytes = response.bytes().await.map_err(|e| e.to_string())?;
    if bytes.len() > MAX_MEDIA_BYTES {
        return Err("the file is too large to keep".into());
    }
    Ok(bytes.to_vec())
}

/// A provider that could not be reached, or did not answer in time: worth another try.
pub(crate) fn network(e: reqwest::Error) -> SendError {
    if e.is_timeout() {
        SendError::Retryable("the provider did not answer in time".into())
    } else {
        SendError::Retryable(format!("could not reach the provider: {}", without_url(&e)))
    }
}

/// Sends a request to a provider and reads its answer: what it accepted (read as `T`, or `T`'s
/// default when unreadable — accepted is accepted, and sending again would send twice), or why it
/// refused, as the provider's `classify` sorts its status and error body `E`.
pub(crate) async fn exchange<T, E>(request: reqwest::RequestBuilder, classify: fn(u16, &E) -> SendError) -> Result<T, SendError>
where
    T: serde::de::DeserializeOwned + Default,
    E: serde::de::DeserializeOwned + Default,
{
    let response = request.send().await.map_err(network)?;
    let status = response.status();
    let body = response.bytes().await.unwrap_or_default();
    if status.is_success() {
        return Ok(super::wire::from_json(&body).unwrap_or_default());
    }
    Err(classify(status.as_u16(), &super::wire::from_json(&body).unwrap_or_default()))
}

/// reqwest's errors include the URL, which for some providers carries ids; keep the log plain.
fn without_url(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}
