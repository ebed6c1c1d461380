//! The providers' APIs, as clients: WhatsApp Cloud API (Meta Graph) and Twilio's REST API — send a
//! message, fetch media. Every base URL comes from the configuration, so tests point them at local
//! servers that speak the documented formats.
//!
//! Failures are sorted into those worth retrying (network errors, timeouts, 429, 5xx) and
//! permanent ones, which carry a reason written for the front desk ("The customer replied STOP").

use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};

use crate::channels::{TwilioSecrets, TwilioSettings, WhatsappSecrets, WhatsappSettings};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Try again later; the text is for the log and the channel's health.
    Retryable(String),
    /// Will never work as it is. `channel` is true when the business's set-up is at fault
    /// (a bad token), so the channel shows as unhealthy.
    Permanent { reason: String, channel: bool },
}

/// What to send.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Outgoing {
    Text { body: String },
    Template { name: String, language: String, variables: Vec<String>, twilio_content_sid: Option<String>, body: String },
}

pub struct Providers {
    http: reqwest::Client,
    whatsapp_base: String,
    twilio_base: String,
    public_url: String,
}

/// Largest media file kept (WhatsApp's own limit for documents is 100 MB; most are far smaller).
const MAX_MEDIA_BYTES: usize = 25 * 1024 * 1024;

impl Providers {
    pub fn new(config: &crate::Config) -> Providers {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.provider_timeout_ms))
            .connect_timeout(Duration::from_secs(5))
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the HTTP client builds");
        Providers {
            http,
            whatsapp_base: config.whatsapp_api_base.trim_end_matches('/').to_owned(),
            twilio_base: config.twilio_api_base.trim_end_matches('/').to_owned(),
            public_url: config.public_url.trim_end_matches('/').to_owned(),
        }
    }

    /// Sends through the WhatsApp Cloud API; returns the `wamid`.
    pub async fn whatsapp_send(
        &self,
        settings: &WhatsappSettings,
        secrets: &WhatsappSecrets,
        to: &str,
        outgoing: &Outgoing,
    ) -> Result<String, SendError> {
        let mut payload = json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": to});
        match outgoing {
            Outgoing::Text { body } => {
                payload["type"] = json!("text");
                payload["text"] = json!({"body": body, "preview_url": false});
            }
            Outgoing::Template { name, language, variables, .. } => {
                payload["type"] = json!("template");
                let parameters: Vec<Value> = variables.iter().map(|v| json!({"type": "text", "text": v})).collect();
                let mut template = json!({"name": name, "language": {"code": language}});
                if !parameters.is_empty() {
                    template["components"] = json!([{"type": "body", "parameters": parameters}]);
                }
                payload["template"] = template;
            }
        }
        let url = format!("{}/{}/messages", self.whatsapp_base, settings.phone_number_id);
        let response = self.http.post(url).bearer_auth(&secrets.access_token).json(&payload).send().await.map_err(network)?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            // Accepted, even if the id is unreadable: sending again would send twice.
            return Ok(body["messages"][0]["id"].as_str().map(str::to_owned).unwrap_or_else(|| format!("unknown:{}", uuid::Uuid::new_v4())));
        }
        Err(classify_meta(status.as_u16(), &body))
    }

    /// Sends through Twilio's Messages API; returns the message SID.
    pub async fn twilio_send(
        &self,
        settings: &TwilioSettings,
        secrets: &TwilioSecrets,
        from: &str,
        to: &str,
        outgoing: &Outgoing,
    ) -> Result<String, SendError> {
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", self.twilio_base, settings.account_sid);
        let callback = format!("{}/webhooks/twilio/status", self.public_url);
        let mut form: Vec<(&str, String)> = vec![("To", to.to_owned()), ("From", from.to_owned()), ("StatusCallback", callback)];
        match outgoing {
            Outgoing::Text { body } => form.push(("Body", body.clone())),
            Outgoing::Template { twilio_content_sid: Some(sid), variables, .. } => {
                form.push(("ContentSid", sid.clone()));
                let vars: serde_json::Map<String, Value> =
                    variables.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), json!(v))).collect();
                form.push(("ContentVariables", Value::Object(vars).to_string()));
            }
            Outgoing::Template { body, .. } => form.push(("Body", body.clone())),
        }
        let response = self
            .http
            .post(url)
            .basic_auth(&settings.account_sid, Some(&secrets.auth_token))
            .form(&form)
            .send()
            .await
            .map_err(network)?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            // Accepted, even if the SID is unreadable: sending again would send twice.
            return Ok(body["sid"].as_str().map(str::to_owned).unwrap_or_else(|| format!("unknown:{}", uuid::Uuid::new_v4())));
        }
        Err(classify_twilio(status.as_u16(), &body))
    }

    /// Downloads a WhatsApp media object: its metadata from the Graph API, then the bytes.
    pub async fn whatsapp_media(&self, secrets: &WhatsappSecrets, media_id: &str) -> Result<(Vec<u8>, String), String> {
        let meta: Value = self
            .http
            .get(format!("{}/{}", self.whatsapp_base, media_id))
            .bearer_auth(&secrets.access_token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .error_for_status()
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let url = meta["url"].as_str().ok_or("the media has no URL")?;
        let content_type = meta["mime_type"].as_str().unwrap_or("application/octet-stream").to_owned();
        let bytes = self.download(self.http.get(url).bearer_auth(&secrets.access_token)).await?;
        Ok((bytes, content_type))
    }

    /// Downloads a Twilio media URL (Twilio asks for the account's credentials).
    pub async fn twilio_media(&self, settings: &TwilioSettings, secrets: &TwilioSecrets, url: &str) -> Result<Vec<u8>, String> {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("not a web address".into());
        }
        self.download(self.http.get(url).basic_auth(&settings.account_sid, Some(&secrets.auth_token))).await
    }

    async fn download(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, String> {
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
}

fn network(e: reqwest::Error) -> SendError {
    if e.is_timeout() {
        SendError::Retryable("the provider did not answer in time".into())
    } else {
        SendError::Retryable(format!("could not reach the provider: {}", without_url(&e)))
    }
}

/// reqwest's errors include the URL, which for some providers carries ids; keep the log plain.
fn without_url(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// Meta's error codes: https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
fn classify_meta(status: u16, body: &Value) -> SendError {
    let code = body["error"]["code"].as_i64().unwrap_or(0);
    let detail = body["error"]["error_data"]["details"].as_str().or(body["error"]["message"].as_str()).unwrap_or("").to_owned();
    let permanent = |reason: &str| SendError::Permanent { reason: reason.into(), channel: false };
    match (status, code) {
        (429, _) | (_, 4) | (_, 80007) | (_, 130429) | (_, 131048) | (_, 131056) => SendError::Retryable(format!("WhatsApp rate limit ({code})")),
        (500..=599, _) | (_, 1) | (_, 2) | (_, 131000) | (_, 131016) => SendError::Retryable(format!("WhatsApp is having trouble ({status}/{code})")),
        (_, 131047) => permanent("More than 24 hours have passed since the customer last wrote, so WhatsApp only allows an approved template."),
        (_, 131026) => permanent("This number cannot receive WhatsApp messages (it may not be on WhatsApp)."),
        (_, 131050) => permanent("The customer has stopped marketing messages from this business on WhatsApp."),
        (_, 131051) => permanent("WhatsApp does not support this kind of message."),
        (_, 132000..=132999) => permanent("The WhatsApp template is not approved or its variables do not match."),
        (_, 190) | (401, _) => SendError::Permanent {
            reason: "WhatsApp refused the access token: it has expired or was revoked. Update it in Settings → Channels.".into(),
            channel: true,
        },
        (_, 10) | (_, 200..=299) | (403, _) => SendError::Permanent {
            reason: "WhatsApp says the app has no permission to send from this number. Check the number's set-up in Meta.".into(),
            channel: true,
        },
        _ => permanent(&format!("WhatsApp refused the message ({code}): {detail}")),
    }
}

/// Twilio's error codes: https://www.twilio.com/docs/api/errors
fn classify_twilio(status: u16, body: &Value) -> SendError {
    let code = body["code"].as_i64().unwrap_or(0);
    let message = body["message"].as_str().unwrap_or("").to_owned();
    let permanent = |reason: &str| SendError::Permanent { reason: reason.into(), channel: false };
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

/// Basic-auth header value, for the fakes in tests and for symmetry with reqwest's helper.
pub fn basic_auth(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_errors_are_sorted_into_retry_and_plain_reasons() {
        assert!(matches!(classify_meta(500, &Value::Null), SendError::Retryable(_)));
        assert!(matches!(classify_meta(429, &Value::Null), SendError::Retryable(_)));
        let window = classify_meta(400, &json!({"error": {"code": 131047}}));
        assert!(matches!(&window, SendError::Permanent { reason, channel: false } if reason.contains("24 hours")), "{window:?}");
        let token = classify_meta(401, &json!({"error": {"code": 190}}));
        assert!(matches!(token, SendError::Permanent { channel: true, .. }));
        let stop = classify_twilio(400, &json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient"}));
        assert!(matches!(&stop, SendError::Permanent { reason, .. } if reason.contains("STOP")));
        assert!(matches!(classify_twilio(503, &Value::Null), SendError::Retryable(_)));
    }
}
