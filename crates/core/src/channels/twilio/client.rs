//! Twilio's REST API as a client: send a reply or a template (SMS or WhatsApp), download a
//! customer's media, and say in plain words why Twilio refused a send
//! (https://www.twilio.com/docs/api/errors).

use std::collections::BTreeMap;

use base64::Engine as _;
use protocol::{Channel, Customer};
use sqlx::pool::PoolConnection;
use sqlx::Any;

use super::wire::{ApiError, MessageResource, SendForm};
use super::{Secrets, Settings};
use crate::channels::client::{download, exchange};
use crate::channels::{Outgoing, SendError};
use crate::Core;

pub struct Client {
    http: reqwest::Client,
    base: String,
    /// Where Twilio reports on what we send: our `/webhooks/twilio/status`.
    status_callback: String,
}

impl Client {
    pub fn new(http: reqwest::Client, base: &str, public_url: &str) -> Client {
        Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            status_callback: format!("{}/webhooks/twilio/status", public_url.trim_end_matches('/')),
        }
    }

    /// Sends through Twilio's Messages API; returns the message SID.
    pub async fn send(&self, settings: &Settings, secrets: &Secrets, from: &str, to: &str, outgoing: &Outgoing) -> Result<String, SendError> {
        self.send_with(settings, secrets, from, to, outgoing, None).await
    }

    /// Sends; `media_url` is the signed public address of the file an [`Outgoing::Media`] carries.
    async fn send_with(&self, settings: &Settings, secrets: &Secrets, from: &str, to: &str, outgoing: &Outgoing, media_url: Option<&str>) -> Result<String, SendError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.base, settings.account_sid);
        let mut form =
            SendForm { to, from, status_callback: &self.status_callback, body: None, content_sid: None, content_variables: None, media_url: None };
        match outgoing {
            Outgoing::Text { body } | Outgoing::Buttons { body, .. } => form.body = Some(body),
            Outgoing::Media { caption, .. } => {
                form.body = (!caption.is_empty()).then_some(caption.as_str());
                form.media_url = media_url;
            }
            Outgoing::Template { twilio_content_sid: Some(sid), variables, .. } => {
                form.content_sid = Some(sid);
                let numbered: BTreeMap<String, &str> = variables.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v.as_str())).collect();
                form.content_variables = Some(serde_json::to_string(&numbered).expect("text serialises"));
            }
            // No approved Content item: the filled-in text.
            Outgoing::Template { body, .. } => form.body = Some(body),
        }
        let request = self.http.post(url).basic_auth(&settings.account_sid, Some(&secrets.auth_token)).form(&form);
        // Accepted, even if the SID is unreadable: sending again would send twice.
        let sent: MessageResource = exchange(request, classify).await?;
        Ok(sent.sid.unwrap_or_else(|| format!("unknown:{}", uuid::Uuid::new_v4())))
    }

    /// Downloads a Twilio media URL (Twilio asks for the account's credentials).
    pub async fn media(&self, settings: &Settings, secrets: &Secrets, url: &str) -> Result<Vec<u8>, String> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("not a web address".into());
        }
        download(self.http.get(url).basic_auth(&settings.account_sid, Some(&secrets.auth_token))).await
    }
}

/// Sends a queued message to the customer by SMS or WhatsApp, from the number the conversation
/// came in on (or the business's first). `conn` is let go before calling Twilio.
pub async fn deliver(
    core: &Core,
    mut conn: PoolConnection<Any>,
    business_id: &str,
    channel: Channel,
    customer: &Customer,
    from: Option<String>,
    outgoing: &Outgoing,
) -> Result<String, SendError> {
    let (settings, secrets) = super::setup::load(&mut conn, &core.secrets, business_id)
        .await
        .map_err(|e| SendError::internal(&e))?
        .ok_or_else(SendError::not_connected)?;
    drop(conn);
    let phone = customer.phone.clone().ok_or_else(|| SendError::permanent("The customer has no phone number."))?;
    let from = from.or_else(|| settings.numbers.first().cloned()).ok_or_else(SendError::not_connected)?;
    let (from, to) = if channel == Channel::TwilioWhatsapp { (format!("whatsapp:{from}"), format!("whatsapp:{phone}")) } else { (from, phone) };
    // Twilio fetches the file itself, from a signed address that expires.
    let media_url = match outgoing {
        Outgoing::Media { media_id, .. } => Some(crate::media::shared_url(core, business_id, media_id)),
        _ => None,
    };
    core.providers.twilio.send_with(&settings, &secrets, &from, &to, outgoing, media_url.as_deref()).await
}

/// Why Twilio refused a send, and whether trying again could help.
fn classify(status: u16, body: &ApiError) -> SendError {
    let code = body.code.unwrap_or(0);
    let message = body.message.as_deref().unwrap_or("");
    let permanent = |reason: &str| SendError::permanent(reason);
    match (status, code) {
        (429, _) | (_, 20429) => SendError::Retryable("Twilio rate limit".into()),
        (500..=599, _) => SendError::Retryable(format!("Twilio is having trouble ({status})")),
        (_, 21610) => permanent("The customer replied STOP and has opted out of messages from this number."),
        (_, 21211) | (_, 21614) | (_, 21217) => permanent("The phone number is not a valid mobile number."),
        (_, 21408) | (_, 21612) => permanent("Twilio cannot send to this country or number from this account."),
        (_, 63016) => permanent("More than 24 hours have passed since the customer last wrote, so WhatsApp only allows an approved template."),
        (_, 20003) | (401, _) => SendError::Permanent {
            reason: "Twilio refused the account credentials. Update the auth token in Settings → Channels.".into(),
            channel: true,
        },
        (_, 21606) | (_, 21659) => SendError::Permanent {
            reason: "This Twilio number cannot send these messages. Check the number in Twilio.".into(),
            channel: true,
        },
        _ => permanent(&format!("Twilio refused the message ({code}): {message}")),
    }
}

/// The `Authorization` header Twilio expects (basic auth with the account SID and auth token),
/// for the fakes in tests and for symmetry with reqwest's helper.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::wire::from_json;

    #[test]
    fn twilio_errors_are_sorted_into_retry_and_plain_reasons() {
        let stop = classify(400, &from_json(br#"{"code": 21610, "message": "Attempt to send to unsubscribed recipient"}"#).unwrap());
        assert!(matches!(&stop, SendError::Permanent { reason, .. } if reason.contains("STOP")));
        assert!(matches!(classify(503, &ApiError::default()), SendError::Retryable(_)));
        assert!(matches!(classify(401, &ApiError::default()), SendError::Permanent { channel: true, .. }));
    }
}
