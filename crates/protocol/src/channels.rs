//! Channels (WhatsApp, Twilio, Vapi, Retell) and sending through them.

use crate::ids::{MessageId, TemplateId};
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
