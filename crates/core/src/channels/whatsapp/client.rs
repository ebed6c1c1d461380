//! The Graph API as a client: send a reply or a template, download a customer's media, and say
//! in plain words why Meta refused a send
//! (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).

use protocol::Customer;
use sqlx::pool::PoolConnection;
use sqlx::Any;

use super::wire::{
    ErrorResponse, Language, MediaInfo, OutgoingMedia, SendAction, SendBody, SendButton, SendContent, SendInteractive, SendReply, SendRequest, SendResponse, SendText, Template, TemplateComponent, TextParameter, UploadResponse,
};
use super::{Secrets, Settings};
use crate::channels::client::{download, exchange};
use crate::channels::wire::from_json;
use crate::channels::{Outgoing, SendError};
use crate::Core;

pub struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    pub fn new(http: reqwest::Client, base: &str) -> Client {
        Client { http, base: base.trim_end_matches('/').to_owned() }
    }

    /// Sends through the WhatsApp Cloud API; returns the `wamid`.
    pub async fn send(&self, settings: &Settings, secrets: &Secrets, to: &str, outgoing: &Outgoing) -> Result<String, SendError> {
        self.send_with(settings, secrets, to, outgoing, None).await
    }

    /// Sends; `uploaded` is the Graph id of the file an [`Outgoing::Media`] carries.
    async fn send_with(&self, settings: &Settings, secrets: &Secrets, to: &str, outgoing: &Outgoing, uploaded: Option<&str>) -> Result<String, SendError> {
        let content = content(outgoing, uploaded.unwrap_or_default());
        let request = SendRequest { messaging_product: "whatsapp", recipient_type: "individual", to, content };
        let url = format!("{}/{}/messages", self.base, settings.phone_number_id);
        // Accepted, even if the id is unreadable: sending again would send twice.
        let sent: SendResponse = exchange(self.http.post(url).bearer_auth(&secrets.access_token).json(&request), classify).await?;
        Ok(sent.messages.into_iter().next().map(|m| m.id).unwrap_or_else(|| format!("unknown:{}", uuid::Uuid::new_v4())))
    }

    /// Uploads a file for sending (`POST /{phone-number-id}/media`, multipart: `messaging_product`,
    /// `type`, `file`); returns its Graph id. Uploading again after a failed send only leaves
    /// an unused copy at Meta (they expire after 30 days), never a second message.
    pub async fn upload(&self, settings: &Settings, secrets: &Secrets, bytes: Vec<u8>, content_type: &str, filename: &str) -> Result<String, SendError> {
        let boundary = format!("switchboard-{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::with_capacity(bytes.len() + 512);
        let field = |body: &mut Vec<u8>, name: &str, value: &str| {
            body.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
        };
        field(&mut body, "messaging_product", "whatsapp");
        field(&mut body, "type", content_type);
        let filename: String = filename.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').collect();
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n").as_bytes(),
        );
        body.extend_from_slice(&bytes);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let url = format!("{}/{}/media", self.base, settings.phone_number_id);
        let request = self
            .http
            .post(url)
            .bearer_auth(&secrets.access_token)
            .header(reqwest::header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
            .body(body);
        let uploaded: UploadResponse = exchange(request, classify).await?;
        uploaded.id.ok_or_else(|| SendError::Retryable("WhatsApp accepted the file but gave no id".into()))
    }

    /// Downloads a WhatsApp media object: where it is from the Graph API, then the bytes; returns
    /// them with their content type.
    pub async fn media(&self, secrets: &Secrets, media_id: &str) -> Result<(Vec<u8>, String), String> {
        let info = self
            .http
            .get(format!("{}/{}", self.base, media_id))
            .bearer_auth(&secrets.access_token)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .error_for_status()
            .map_err(|e| e.to_string())?
            .bytes()
            .await
            .map_err(|e| e.to_string())?;
        let info: MediaInfo = from_json(&info).map_err(|e| e.to_string())?;
        let url = info.url.ok_or("the media has no URL")?;
        let content_type = info.mime_type.unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = download(self.http.get(url).bearer_auth(&secrets.access_token)).await?;
        Ok((bytes, content_type))
    }
}

fn content<'a>(outgoing: &'a Outgoing, uploaded: &'a str) -> SendContent<'a> {
    match outgoing {
        Outgoing::Media { content_type, filename, caption, .. } => {
            let caption = (!caption.is_empty()).then_some(caption.as_str());
            match crate::media::kind_of(content_type) {
                protocol::MessageKind::Image => SendContent::Image { image: OutgoingMedia { id: uploaded, caption, filename: None } },
                protocol::MessageKind::Audio => SendContent::Audio { audio: OutgoingMedia { id: uploaded, caption: None, filename: None } },
                protocol::MessageKind::Video => SendContent::Video { video: OutgoingMedia { id: uploaded, caption, filename: None } },
                _ => SendContent::Document { document: OutgoingMedia { id: uploaded, caption, filename: filename.as_deref() } },
            }
        }
        Outgoing::Text { body } => SendContent::Text { text: SendText { body, preview_url: false } },
        Outgoing::Buttons { body, codes } => SendContent::Interactive {
            interactive: SendInteractive {
                kind: "button",
                body: SendBody { text: body },
                action: SendAction {
                    buttons: codes.iter().map(|code| SendButton { kind: "reply", reply: SendReply { id: code, title: crate::channels::client::button_title(code) } }).collect(),
                },
            },
        },
        Outgoing::Template { name, language, variables, quick_replies, .. } => {
            let parameters: Vec<TextParameter> = variables.iter().map(|v| TextParameter::text(v)).collect();
            let mut components = if parameters.is_empty() { vec![] } else { vec![TemplateComponent::body(parameters)] };
            components.extend(quick_replies.iter().enumerate().map(|(i, payload)| TemplateComponent::quick_reply(i, payload)));
            SendContent::Template { template: Template { name, language: Language { code: language }, components } }
        }
    }
}

/// Sends a queued message to the customer from the business's WhatsApp number. `conn` is let go
/// before calling Meta.
pub async fn deliver(core: &Core, mut conn: PoolConnection<Any>, business_id: &str, customer: &Customer, outgoing: &Outgoing) -> Result<String, SendError> {
    let (settings, secrets) = super::setup::load(&mut conn, &core.secrets, business_id)
        .await
        .map_err(|e| SendError::internal(&e))?
        .ok_or_else(SendError::not_connected)?;
    let file = match outgoing {
        Outgoing::Media { media_id, .. } => Some(
            crate::media::load(&mut conn, business_id, media_id)
                .await
                .map_err(|e| SendError::internal(&e))?
                .ok_or_else(|| SendError::permanent("The file was deleted before it could be sent; nothing was sent."))?,
        ),
        _ => None,
    };
    drop(conn);
    let to = recipient(customer).ok_or_else(|| SendError::permanent("The customer has no WhatsApp number."))?;
    let uploaded = match file {
        Some((file, bytes)) => {
            let name = file.filename.clone().unwrap_or_else(|| format!("file.{}", file.content_type.rsplit('/').next().unwrap_or("bin")));
            Some(core.providers.whatsapp.upload(&settings, &secrets, bytes, &file.content_type, &name).await?)
        }
        None => None,
    };
    core.providers.whatsapp.send_with(&settings, &secrets, &to, outgoing, uploaded.as_deref()).await
}

/// Who a message to the customer goes to: their WhatsApp id, else their number in digits.
fn recipient(customer: &Customer) -> Option<String> {
    customer.whatsapp_id.clone().or(customer.phone.as_ref().map(|p| p.trim_start_matches('+').to_owned()))
}

/// Why Meta refused a send, and whether trying again could help.
fn classify(status: u16, body: &ErrorResponse) -> SendError {
    let error = body.error.as_ref();
    let code = error.and_then(|e| e.code).unwrap_or(0);
    let detail = error.and_then(|e| e.error_data.as_ref().and_then(|d| d.details.as_deref()).or(e.message.as_deref())).unwrap_or("").to_owned();
    let permanent = |reason: &str| SendError::permanent(reason);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(body: &str) -> ErrorResponse {
        from_json(body.as_bytes()).unwrap()
    }

    #[test]
    fn meta_errors_are_sorted_into_retry_and_plain_reasons() {
        assert!(matches!(classify(500, &ErrorResponse::default()), SendError::Retryable(_)));
        assert!(matches!(classify(429, &ErrorResponse::default()), SendError::Retryable(_)));
        let window = classify(400, &refused(r#"{"error": {"code": 131047}}"#));
        assert!(matches!(&window, SendError::Permanent { reason, channel: false } if reason.contains("24 hours")), "{window:?}");
        let token = classify(401, &refused(r#"{"error": {"code": 190}}"#));
        assert!(matches!(token, SendError::Permanent { channel: true, .. }));
        let other = classify(400, &refused(r#"{"error": {"code": 100, "message": "Invalid parameter", "error_data": {"details": "bad `to`"}}}"#));
        assert!(matches!(&other, SendError::Permanent { reason, .. } if reason.ends_with("(100): bad `to`")), "{other:?}");
    }
}
