//! Twilio as it is written on the wire: the form parameters of its messaging webhooks (an
//! inbound SMS, MMS or WhatsApp message; a delivery status callback), and the Messages API's
//! send form and answers (https://www.twilio.com/docs/messaging/guides/webhook-request,
//! https://www.twilio.com/docs/messaging/api/message-resource).
//!
//! Webhook parameters are kept as they came ([`Params`]: what Twilio signs, and what is stored);
//! the typed views read them with NUL characters taken out, every parameter Twilio may leave out
//! optional, and unknown ones ignored.

use std::collections::BTreeMap;

use protocol::Channel;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::channels::wire::without_nul;

/// A webhook's form parameters as they came, in order.
pub type Params = Vec<(String, String)>;

/// Reads form parameters as a typed view. A repeated parameter's first value counts.
fn read<T: DeserializeOwned + Default>(params: &[(String, String)]) -> T {
    let mut fields = Map::new();
    for (name, value) in params {
        fields.entry(without_nul(name)).or_insert_with(|| Value::String(without_nul(value)));
    }
    serde_json::from_value(Value::Object(fields)).unwrap_or_default()
}

/// An inbound message (`POST /webhooks/twilio`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct InboundMessage {
    pub message_sid: Option<String>,
    /// The older name of `MessageSid`.
    pub sms_sid: Option<String>,
    pub account_sid: Option<String>,
    pub messaging_service_sid: Option<String>,
    /// The customer: `+14155550123`, or `whatsapp:+14155550123`.
    pub from: String,
    /// The business's number it was sent to, written as `From` is.
    pub to: Option<String>,
    pub body: String,
    pub num_media: Option<String>,
    pub num_segments: Option<String>,
    /// The customer's WhatsApp profile name.
    pub profile_name: Option<String>,
    pub wa_id: Option<String>,
    /// `MediaUrl{N}`, `MediaContentType{N}` and whatever else Twilio sends.
    #[serde(flatten)]
    pub indexed: BTreeMap<String, String>,
}

/// Twilio sends at most ten media files with a message.
const MAX_MEDIA: usize = 10;

impl InboundMessage {
    pub fn from_params(params: &[(String, String)]) -> InboundMessage {
        read(params)
    }

    /// The message's SID (empty when Twilio sent none).
    pub fn sid(&self) -> &str {
        self.message_sid.as_deref().or(self.sms_sid.as_deref()).unwrap_or("")
    }

    /// The files attached, as `NumMedia` counts them.
    pub fn media(&self) -> Vec<MediaItem<'_>> {
        let count: usize = self.num_media.as_deref().and_then(|n| n.trim().parse().ok()).unwrap_or(0);
        (0..count.min(MAX_MEDIA))
            .filter_map(|i| {
                let reference = format!("MediaUrl{i}");
                let url = self.indexed.get(&reference)?;
                let content_type = self.indexed.get(&format!("MediaContentType{i}")).map(String::as_str);
                Some(MediaItem { reference, url, content_type })
            })
            .collect()
    }
}

/// A file attached to a message: Twilio holds it at `url`.
pub struct MediaItem<'a> {
    /// The parameter that named it (`MediaUrl0`, …).
    pub reference: String,
    pub url: &'a str,
    pub content_type: Option<&'a str>,
}

/// A delivery status callback for a message we sent (`POST /webhooks/twilio/status`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "PascalCase")]
pub struct StatusCallback {
    pub message_sid: String,
    pub message_status: String,
    pub error_code: Option<String>,
    pub account_sid: Option<String>,
    /// The business's number the message went out from.
    pub from: Option<String>,
    pub to: Option<String>,
}

impl StatusCallback {
    pub fn from_params(params: &[(String, String)]) -> StatusCallback {
        read(params)
    }

    pub fn status(&self) -> MessageStatus {
        MessageStatus::parse(&self.message_status)
    }
}

/// A message's status, as Twilio names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageStatus {
    Sent,
    Delivered,
    Read,
    Failed,
    Undelivered,
    /// `accepted`, `queued`, `sending`, `scheduled`, `canceled`, … : nothing for the inbox.
    Other,
}

impl MessageStatus {
    fn parse(text: &str) -> MessageStatus {
        match text {
            "sent" => MessageStatus::Sent,
            "delivered" => MessageStatus::Delivered,
            "read" => MessageStatus::Read,
            "failed" => MessageStatus::Failed,
            "undelivered" => MessageStatus::Undelivered,
            _ => MessageStatus::Other,
        }
    }
}

/// Which channel an address is on, and its number: `whatsapp:+1…` is WhatsApp through Twilio.
pub fn channel_of(address: &str) -> (Channel, &str) {
    match address.trim().strip_prefix("whatsapp:") {
        Some(number) => (Channel::TwilioWhatsapp, number),
        None => (Channel::Sms, address.trim()),
    }
}

// ---------------------------------------------------------------------------------------------
// The Messages API

/// `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendForm<'a> {
    pub to: &'a str,
    pub from: &'a str,
    pub status_callback: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<&'a str>,
    /// An approved WhatsApp template (a Content API item).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_sid: Option<&'a str>,
    /// The template's variables as JSON text: `{"1": "Sam", "2": "10:00"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_variables: Option<String>,
    /// A public address Twilio fetches the file from (MMS, WhatsApp media).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_url: Option<&'a str>,
}

/// The Messages API's answer to an accepted send.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageResource {
    pub sid: Option<String>,
    pub status: Option<String>,
}

/// The Messages API's answer to a refused call (https://www.twilio.com/docs/api/errors).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub code: Option<i64>,
    pub message: Option<String>,
    pub more_info: Option<String>,
    pub status: Option<u16>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn an_mms_is_read_with_its_media_and_without_nul_characters() {
        let message = InboundMessage::from_params(&params(&[
            ("SmsSid", "SM1"),
            ("From", "whatsapp:+14155550123"),
            ("Body", "hi\0 there"),
            ("ProfileName", "A\0na"),
            ("NumMedia", "2"),
            ("MediaUrl0", "https://api.twilio.com/m/0"),
            ("MediaContentType0", "image/png"),
            ("MediaUrl1", "https://api.twilio.com/m/1"),
            ("MediaUrl5", "https://api.twilio.com/m/5"),
            ("Body", "a repeated parameter's first value counts"),
        ]));
        assert_eq!((message.sid(), message.body.as_str(), message.profile_name.as_deref()), ("SM1", "hi there", Some("Ana")));
        let media = message.media();
        assert_eq!(media.iter().map(|m| (m.reference.as_str(), m.url, m.content_type)).collect::<Vec<_>>(), vec![
            ("MediaUrl0", "https://api.twilio.com/m/0", Some("image/png")),
            ("MediaUrl1", "https://api.twilio.com/m/1", None),
        ]);
        assert_eq!(channel_of(&message.from), (Channel::TwilioWhatsapp, "+14155550123"));
    }
}
