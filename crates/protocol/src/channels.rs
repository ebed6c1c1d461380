//! Channels (WhatsApp, Twilio, Vapi, Retell) and sending through them.

use crate::ids::{MediaId, MessageId, TemplateId};
use crate::Timestamp;

request! {
    /// `PUT /v1/channels/whatsapp`: the WhatsApp Cloud API number of the business.
    pub struct WhatsappChannelSetup {
        /// Meta's id of the business phone number (not the number itself).
        pub phone_number_id: String,
        /// The number as customers see it, for display.
        pub display_phone_number: Option<String>,
        /// A system-user access token with `whatsapp_business_messaging`.
        pub access_token: String,
        /// The Meta app's secret: webhooks are verified with it.
        pub app_secret: String,
        /// The token you type into Meta's webhook settings.
        pub verify_token: String,
    }
}

request! {
    /// `PUT /v1/channels/twilio`: the Twilio account and the numbers customers write to.
    pub struct TwilioChannelSetup {
        pub account_sid: String,
        pub auth_token: String,
        /// E.164 numbers (SMS) or `whatsapp:+…` senders.
        pub numbers: Vec<String>,
    }
}

wire! {
    /// A channel as anyone may see it: no secret is ever returned.
    #[derive(PartialEq)]
    pub struct ChannelStatus {
        /// `whatsapp` or `twilio`.
        pub kind: String,
        /// `ok` (last call worked), `error` (see `last_error`) or `unknown` (nothing sent yet).
        pub health: String,
        pub last_error: Option<String>,
        pub last_ok_at: Option<Timestamp>,
        /// Non-secret settings: phone number id, account SID, numbers.
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub settings: serde_json::Value,
        pub updated_at: Timestamp,
    }
}

request! {
    /// A reply from staff.
    pub struct SendMessage {
        pub body: String,
        /// A UUID the client made, so a retried request sends once (also the message's id).
        pub client_message_id: Option<MessageId>,
        /// A file uploaded with `PUT /v1/media/{id}` to send with it; `body` is then its caption
        /// (may be empty). Refused with `media_too_large` or `media_type_not_allowed` when the
        /// conversation's channel does not take it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub media_id: Option<MediaId>,
    }
}

wire! {
    /// A kept file (`GET /v1/media/{id}` answers its bytes).
    #[derive(PartialEq)]
    pub struct MediaFile {
        pub id: MediaId,
        /// MIME type, e.g. `image/jpeg`.
        pub content_type: String,
        pub filename: Option<String>,
        /// Bytes.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub size: i64,
        pub created_at: Timestamp,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct WhatsappTemplate {
        pub id: TemplateId,
        pub name: String,
        /// e.g. `en_GB`.
        pub language: String,
        /// The approved text, with `{{1}}`, `{{2}}`… for variables.
        pub body: String,
        pub variables: u32,
        pub twilio_content_sid: Option<String>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    pub struct CreateWhatsappTemplate {
        pub name: String,
        pub language: String,
        pub body: String,
        pub twilio_content_sid: Option<String>,
    }
}

request! {
    /// Sends an approved template (the only thing WhatsApp allows once the 24-hour window is closed).
    pub struct SendTemplate {
        pub template_id: TemplateId,
        #[serde(default)]
        pub variables: Vec<String>,
        pub client_message_id: Option<MessageId>,
    }
}

request! {
    /// `PUT /v1/channels/vapi`: the secret Vapi sends (Bearer credential, `x-vapi-secret`, or the key
    /// of an HMAC credential).
    pub struct VapiChannelSetup {
        pub secret: String,
    }
}

request! {
    /// `PUT /v1/channels/retell`: the Retell API key with the webhook badge (it signs webhooks).
    pub struct RetellChannelSetup {
        pub api_key: String,
    }
}

wire! {
    /// A webhook that was acknowledged but could not be processed after its retries. It is kept,
    /// with the reason, until someone retries it (`POST /v1/webhook-events/{id}/retry`).
    #[derive(PartialEq)]
    pub struct FailedWebhook {
        pub id: String,
        /// `whatsapp`, `twilio` or `twilio_status`.
        pub provider: String,
        pub received_at: Timestamp,
        pub failed_at: Timestamp,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub attempts: i64,
        pub reason: String,
    }
}

/// What a channel takes from staff: `(content types, largest size in bytes)` groups, from each
/// provider's documentation (the service refuses anything else with `media_type_not_allowed` or
/// `media_too_large`; the console checks the same table before queueing a file):
///
/// - WhatsApp Cloud API ("Supported media types"): images JPEG/PNG 5 MB; audio AAC/AMR/MPEG/MP4/OGG
///   and video MP4/3GPP 16 MB; documents (PDF, text, Office) 100 MB — 25 MB here, the largest file
///   the service keeps.
/// - Twilio WhatsApp ("Supported file types"): images JPEG/PNG 5 MB; audio OGG/AMR/3GPP/AAC/MPEG,
///   video MP4 and documents (PDF, Office) 16 MB.
/// - Twilio SMS (MMS, "Accepted content types"): 5 MB a message; JPEG, PNG and GIF are shown as
///   pictures; PDF, MP3/OGG audio and MP4 video are delivered as they are.
pub fn media_limits(channel: crate::Channel) -> &'static [(&'static [&'static str], u64)] {
    const MB: u64 = 1024 * 1024;
    const WA_DOCS: &[&str] = &[
        "application/pdf",
        "text/plain",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ];
    const TW_DOCS: &[&str] = &[
        "application/pdf",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ];
    match channel {
        crate::Channel::Whatsapp => &[
            (&["image/jpeg", "image/png"], 5 * MB),
            (&["audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg", "video/mp4", "video/3gpp"], 16 * MB),
            (WA_DOCS, MEDIA_MAX_BYTES),
        ],
        crate::Channel::TwilioWhatsapp => &[
            (&["image/jpeg", "image/png"], 5 * MB),
            (&["audio/ogg", "audio/amr", "audio/3gpp", "audio/aac", "audio/mpeg", "video/mp4"], 16 * MB),
            (TW_DOCS, 16 * MB),
        ],
        crate::Channel::Sms => &[(&["image/jpeg", "image/png", "image/gif", "application/pdf", "audio/mpeg", "audio/ogg", "video/mp4"], 5 * MB)],
        crate::Channel::Voice => &[],
    }
}

/// The largest file the service keeps (25 MB), whichever way it came.
pub const MEDIA_MAX_BYTES: u64 = 25 * 1024 * 1024;

/// `image/jpeg; charset=…` → `image/jpeg`.
pub fn media_essence(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}
