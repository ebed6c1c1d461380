//! Meta's WhatsApp Cloud API as it is written on the wire: the webhook notification
//! (`entry` → `changes` → `value` with `metadata`, `contacts`, `messages` of every type,
//! `statuses` and `errors`) and the Graph API's send, error and media answers.
//!
//! Meta adds fields and message types without notice, so whatever it may leave out is optional
//! or defaulted, unknown fields are ignored, lists are read item by item, and a message of a type
//! this file does not know — or one that does not fit its documented shape — is kept as
//! [`Content::Unsupported`] with its raw JSON, never dropped.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::channels::wire::{items, list, optional};

// ---------------------------------------------------------------------------------------------
// A delivery, as routed

/// A notification as delivered, read only as far as routing needs: each change is kept exactly
/// as it came, to be stored with the business whose number it is for.
#[derive(Debug, Serialize, Deserialize)]
pub struct Delivery {
    #[serde(default, deserialize_with = "optional")]
    pub object: Option<String>,
    #[serde(deserialize_with = "list")]
    pub entry: Vec<DeliveredEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct DeliveredEntry {
    /// The WhatsApp Business Account's id.
    #[serde(default, deserialize_with = "optional")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "items")]
    pub changes: Vec<Value>,
}

/// The business phone number a change (as delivered) is for.
pub fn phone_number_id_of(change: &Value) -> Option<String> {
    let change: Change = serde_json::from_value(change.clone()).ok()?;
    change.value.metadata.phone_number_id
}

// ---------------------------------------------------------------------------------------------
// A notification, as processed

/// A business's part of a delivery.
#[derive(Debug, Deserialize)]
pub struct Notification {
    #[serde(default)]
    pub object: Option<String>,
    #[serde(default, deserialize_with = "items")]
    pub entry: Vec<Entry>,
}

impl Notification {
    /// What the `messages` field's changes say (other fields are not about messages).
    pub fn message_changes(&self) -> impl Iterator<Item = &ChangeValue> {
        self.entry
            .iter()
            .flat_map(|e| &e.changes)
            .filter(|c| c.field.as_deref().is_none_or(|f| f == "messages"))
            .map(|c| &c.value)
    }
}

#[derive(Debug, Deserialize)]
pub struct Entry {
    #[serde(default, deserialize_with = "optional")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "items")]
    pub changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub struct Change {
    #[serde(default, deserialize_with = "optional")]
    pub field: Option<String>,
    #[serde(default)]
    pub value: ChangeValue,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ChangeValue {
    pub messaging_product: Option<String>,
    pub metadata: Metadata,
    #[serde(deserialize_with = "items")]
    pub contacts: Vec<Profile>,
    #[serde(deserialize_with = "items")]
    pub messages: Vec<Message>,
    #[serde(deserialize_with = "items")]
    pub statuses: Vec<Status>,
    /// Problems Meta reports that are about no message in particular.
    #[serde(deserialize_with = "items")]
    pub errors: Vec<ErrorDetail>,
}

impl ChangeValue {
    /// The profile name a sender (by WhatsApp id) goes by.
    pub fn profile_name(&self, sender: &str) -> Option<&str> {
        self.contacts.iter().find(|c| c.sender_id() == Some(sender)).and_then(|c| c.profile.as_ref()?.name.as_deref())
    }
}

/// The business phone number a change is about.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Metadata {
    pub display_phone_number: Option<String>,
    pub phone_number_id: Option<String>,
}

/// Who wrote: their WhatsApp id (`wa_id`: the number in digits) or, for users who hide their
/// number, a business-scoped user id, and their profile name.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Profile {
    #[serde(deserialize_with = "optional")]
    pub profile: Option<ProfileName>,
    pub wa_id: Option<String>,
    pub user_id: Option<String>,
}

impl Profile {
    pub fn sender_id(&self) -> Option<&str> {
        self.wa_id.as_deref().or(self.user_id.as_deref())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProfileName {
    pub name: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Messages

/// A message a customer sent. Read on its own, so one that does not fit never costs the others:
/// its content, if not of a type (or shape) known here, is [`Content::Unsupported`], and the
/// message as delivered is always at hand in `raw`.
#[derive(Debug)]
pub struct Message {
    pub id: Option<String>,
    /// The customer's WhatsApp id: their number in digits, or a business-scoped user id.
    pub from: Option<String>,
    pub timestamp: Option<String>,
    /// The message this one answers or forwards.
    pub context: Option<MessageContext>,
    /// Why Meta could not pass the message on (with `unsupported` ones).
    pub errors: Vec<ErrorDetail>,
    pub content: Content,
    pub raw: Value,
}

/// The parts every message has, whatever its type.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Head {
    #[serde(deserialize_with = "optional")]
    id: Option<String>,
    #[serde(deserialize_with = "optional")]
    from: Option<String>,
    #[serde(deserialize_with = "optional")]
    from_user_id: Option<String>,
    #[serde(deserialize_with = "optional")]
    timestamp: Option<String>,
    #[serde(rename = "type", deserialize_with = "optional")]
    kind: Option<String>,
    #[serde(deserialize_with = "optional")]
    context: Option<MessageContext>,
    #[serde(deserialize_with = "items")]
    errors: Vec<ErrorDetail>,
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Message, D::Error> {
        let raw = Value::deserialize(d)?;
        let head: Head = serde_json::from_value(raw.clone()).unwrap_or_default();
        let content = serde_json::from_value(raw.clone())
            .unwrap_or_else(|_| Content::Unsupported { kind: head.kind.unwrap_or_else(|| "unknown".into()) });
        Ok(Message {
            // An empty id is no id: it cannot be told from a redelivery either.
            id: head.id.filter(|id| !id.trim().is_empty()),
            from: head.from.or(head.from_user_id),
            timestamp: head.timestamp,
            context: head.context,
            errors: head.errors,
            content,
            raw,
        })
    }
}

/// What a message says, by its `type`.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Content {
    Text {
        #[serde(default)]
        text: Text,
    },
    Image {
        #[serde(default)]
        image: MediaObject,
    },
    Audio {
        #[serde(default)]
        audio: MediaObject,
    },
    Video {
        #[serde(default)]
        video: MediaObject,
    },
    Document {
        #[serde(default)]
        document: MediaObject,
    },
    Sticker {
        #[serde(default)]
        sticker: MediaObject,
    },
    Location {
        location: Location,
    },
    Contacts {
        #[serde(default, deserialize_with = "items")]
        contacts: Vec<ContactCard>,
    },
    /// A tapped quick-reply button of a template.
    Button {
        #[serde(default)]
        button: Button,
    },
    /// A reply to an interactive message (a button or a list item).
    Interactive {
        #[serde(default)]
        interactive: Interactive,
    },
    Reaction {
        #[serde(default)]
        reaction: Reaction,
    },
    /// A cart sent from the business's catalogue.
    Order {
        #[serde(default)]
        order: Order,
    },
    /// The customer changed their number or identity.
    System {
        #[serde(default)]
        system: System,
    },
    /// The customer opened the chat for the first time.
    RequestWelcome,
    /// `unsupported`, `unknown`, a type Meta added since, or one whose content does not fit.
    #[serde(skip)]
    Unsupported { kind: String },
}

impl Content {
    /// The media this message carries, with its type's name (`image`, `audio`, …).
    pub fn media(&self) -> Option<(&'static str, &MediaObject)> {
        match self {
            Content::Image { image } => Some(("image", image)),
            Content::Audio { audio } => Some(("audio", audio)),
            Content::Video { video } => Some(("video", video)),
            Content::Document { document } => Some(("document", document)),
            Content::Sticker { sticker } => Some(("sticker", sticker)),
            _ => None,
        }
    }

    /// The type's name as Meta writes it.
    pub fn kind(&self) -> &str {
        match self {
            Content::Text { .. } => "text",
            Content::Location { .. } => "location",
            Content::Contacts { .. } => "contacts",
            Content::Button { .. } => "button",
            Content::Interactive { .. } => "interactive",
            Content::Reaction { .. } => "reaction",
            Content::Order { .. } => "order",
            Content::System { .. } => "system",
            Content::RequestWelcome => "request_welcome",
            Content::Unsupported { kind } => kind,
            media => media.media().map(|(kind, _)| kind).unwrap_or("unknown"),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Text {
    pub body: String,
}

/// An image, voice note, video, document or sticker: fetched by `id` from the Graph API.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MediaObject {
    pub id: Option<String>,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    pub caption: Option<String>,
    pub filename: Option<String>,
    /// A voice note rather than an audio file.
    pub voice: Option<bool>,
    /// An animated sticker.
    pub animated: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub url: Option<String>,
}

/// A shared contact card.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactCard {
    #[serde(deserialize_with = "optional")]
    pub name: Option<ContactName>,
    #[serde(deserialize_with = "items")]
    pub phones: Vec<ContactPhone>,
    #[serde(deserialize_with = "items")]
    pub emails: Vec<ContactEmail>,
    #[serde(deserialize_with = "optional")]
    pub org: Option<ContactOrg>,
    pub birthday: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactName {
    pub formatted_name: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactPhone {
    pub phone: Option<String>,
    pub wa_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactEmail {
    pub email: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ContactOrg {
    pub company: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Button {
    pub payload: Option<String>,
    pub text: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Interactive {
    /// `button_reply`, `list_reply` or `nfm_reply` (a WhatsApp Flow's answer).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub button_reply: Option<ReplyChoice>,
    #[serde(deserialize_with = "optional")]
    pub list_reply: Option<ReplyChoice>,
    #[serde(deserialize_with = "optional")]
    pub nfm_reply: Option<FlowReply>,
}

impl Interactive {
    /// What the customer tapped, as they saw it.
    pub fn title(&self) -> &str {
        self.button_reply.as_ref().or(self.list_reply.as_ref()).and_then(|r| r.title.as_deref()).unwrap_or("")
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ReplyChoice {
    pub id: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FlowReply {
    pub name: Option<String>,
    pub body: Option<String>,
    pub response_json: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Reaction {
    /// The message reacted to.
    pub message_id: Option<String>,
    /// Absent or empty when the reaction was taken back.
    pub emoji: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Order {
    pub catalog_id: Option<String>,
    pub text: Option<String>,
    #[serde(deserialize_with = "items")]
    pub product_items: Vec<ProductItem>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ProductItem {
    pub product_retailer_id: Option<String>,
    pub quantity: Option<f64>,
    pub item_price: Option<f64>,
    pub currency: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct System {
    pub body: Option<String>,
    /// `user_changed_number`, `user_changed_user_id`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub wa_id: Option<String>,
    pub new_wa_id: Option<String>,
}

/// The message a customer's message replies to or forwards.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MessageContext {
    pub from: Option<String>,
    pub id: Option<String>,
    pub forwarded: Option<bool>,
    pub frequently_forwarded: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Statuses of our messages

/// Where one of our messages has got to.
#[derive(Debug, Deserialize)]
pub struct Status {
    /// The `wamid` the Graph API gave when we sent it.
    pub id: String,
    pub status: StatusKind,
    #[serde(default, deserialize_with = "optional")]
    pub timestamp: Option<String>,
    #[serde(default, deserialize_with = "optional")]
    pub recipient_id: Option<String>,
    #[serde(default, deserialize_with = "items")]
    pub errors: Vec<ErrorDetail>,
    #[serde(default, deserialize_with = "optional")]
    pub conversation: Option<StatusConversation>,
    #[serde(default, deserialize_with = "optional")]
    pub pricing: Option<Pricing>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    Sent,
    Delivered,
    Read,
    Failed,
    /// `deleted`, `played`, `warning` and whatever comes next: nothing for the inbox.
    #[serde(other)]
    Other,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct StatusConversation {
    pub id: Option<String>,
    pub expiration_timestamp: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Pricing {
    pub billable: Option<bool>,
    pub pricing_model: Option<String>,
    pub category: Option<String>,
}

/// A problem Meta reports (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub code: Option<i64>,
    pub title: Option<String>,
    pub message: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub error_data: Option<ErrorData>,
    pub href: Option<String>,
}

impl ErrorDetail {
    /// The most specific explanation Meta gave.
    pub fn explanation(&self) -> Option<&str> {
        self.error_data.as_ref().and_then(|d| d.details.as_deref()).or(self.message.as_deref()).or(self.title.as_deref())
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorData {
    pub details: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// The Graph API

/// `POST /{phone_number_id}/messages`.
#[derive(Debug, Serialize)]
pub struct SendRequest<'a> {
    pub messaging_product: &'static str,
    pub recipient_type: &'static str,
    pub to: &'a str,
    #[serde(flatten)]
    pub content: SendContent<'a>,
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SendContent<'a> {
    Text { text: SendText<'a> },
    Template { template: Template<'a> },
    Image { image: OutgoingMedia<'a> },
    Audio { audio: OutgoingMedia<'a> },
    Video { video: OutgoingMedia<'a> },
    Document { document: OutgoingMedia<'a> },
    /// Reply buttons (up to three), inside the customer-service window.
    Interactive { interactive: SendInteractive<'a> },
}

/// An interactive message: `{"type": "button", "body": {"text"}, "action": {"buttons": [...]}}`.
#[derive(Debug, Serialize)]
pub struct SendInteractive<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub body: SendBody<'a>,
    pub action: SendAction<'a>,
}

#[derive(Debug, Serialize)]
pub struct SendBody<'a> {
    pub text: &'a str,
}

#[derive(Debug, Serialize)]
pub struct SendAction<'a> {
    pub buttons: Vec<SendButton<'a>>,
}

/// `{"type": "reply", "reply": {"id", "title"}}`: the id comes back in the tap's `button_reply`.
#[derive(Debug, Serialize)]
pub struct SendButton<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub reply: SendReply<'a>,
}

#[derive(Debug, Serialize)]
pub struct SendReply<'a> {
    pub id: &'a str,
    pub title: &'a str,
}

/// A file uploaded with `POST /{phone-number-id}/media`, named by its id. Audio takes no caption;
/// only documents carry a file name.
#[derive(Debug, Serialize)]
pub struct OutgoingMedia<'a> {
    pub id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caption: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<&'a str>,
}

/// The answer to a media upload.
#[derive(Debug, Default, Deserialize)]
pub struct UploadResponse {
    pub id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SendText<'a> {
    pub body: &'a str,
    pub preview_url: bool,
}

#[derive(Debug, Serialize)]
pub struct Template<'a> {
    pub name: &'a str,
    pub language: Language<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<TemplateComponent<'a>>,
}

#[derive(Debug, Serialize)]
pub struct Language<'a> {
    pub code: &'a str,
}

#[derive(Debug, Serialize)]
pub struct TemplateComponent<'a> {
    /// `body`: the variables fill the template's text; `button`: what one of its buttons carries.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `quick_reply`, for a button.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub_type: Option<&'static str>,
    /// Which button (from 0, as a string, as Meta documents it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<String>,
    pub parameters: Vec<TextParameter<'a>>,
}

impl<'a> TemplateComponent<'a> {
    pub fn body(parameters: Vec<TextParameter<'a>>) -> Self {
        TemplateComponent { kind: "body", sub_type: None, index: None, parameters }
    }

    /// Quick-reply button `index`: a tap sends `payload` back in the webhook (`button.payload`).
    pub fn quick_reply(index: usize, payload: &'a str) -> Self {
        TemplateComponent { kind: "button", sub_type: Some("quick_reply"), index: Some(index.to_string()), parameters: vec![TextParameter::payload(payload)] }
    }
}

#[derive(Debug, Serialize)]
pub struct TextParameter<'a> {
    /// `text` or `payload`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payload: Option<&'a str>,
}

impl<'a> TextParameter<'a> {
    pub fn text(text: &'a str) -> Self {
        TextParameter { kind: "text", text: Some(text), payload: None }
    }

    pub fn payload(payload: &'a str) -> Self {
        TextParameter { kind: "payload", text: None, payload: Some(payload) }
    }
}

/// The Graph API's answer to an accepted send.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SendResponse {
    #[serde(deserialize_with = "items")]
    pub messages: Vec<SentMessage>,
}

#[derive(Debug, Deserialize)]
pub struct SentMessage {
    /// The `wamid` statuses will name.
    pub id: String,
}

/// The Graph API's answer to a refused call.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorResponse {
    #[serde(deserialize_with = "optional")]
    pub error: Option<GraphError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct GraphError {
    pub message: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub code: Option<i64>,
    pub error_subcode: Option<i64>,
    #[serde(deserialize_with = "optional")]
    pub error_data: Option<ErrorData>,
    pub fbtrace_id: Option<String>,
}

/// `GET /{media_id}`: where to download a media object, and what it is.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct MediaInfo {
    pub url: Option<String>,
    pub mime_type: Option<String>,
    pub sha256: Option<String>,
    #[serde(deserialize_with = "optional")]
    pub file_size: Option<u64>,
    pub id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_message_is_read_and_an_unknown_one_is_kept_raw() {
        let value = json!({"messages": [
            {"from": "447700900001", "id": "wamid.1", "timestamp": "1", "type": "text", "text": {"body": "Hi"}},
            {"from": "447700900001", "id": "wamid.2", "type": "image", "image": {"id": "M1", "mime_type": "image/jpeg", "caption": "me"}},
            {"from": "447700900001", "id": "wamid.3", "type": "poll_creation", "poll": {"question": "?"}},
            {"from": "447700900001", "id": "wamid.4", "type": "location", "location": {"name": "no coordinates"}},
            {"from_user_id": "GB.1", "id": "wamid.5", "type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "a", "title": "Tuesday"}}},
            7,
        ], "statuses": [{"id": "wamid.9", "status": "played", "timestamp": "1"}, {"status": "read"}]});
        let value: ChangeValue = serde_json::from_value(value).unwrap();
        assert_eq!(value.messages.len(), 6, "none dropped");
        assert!(matches!(&value.messages[0].content, Content::Text { text } if text.body == "Hi"));
        assert_eq!(value.messages[1].content.media().map(|(k, m)| (k, m.id.as_deref())), Some(("image", Some("M1"))));
        assert!(matches!(&value.messages[2].content, Content::Unsupported { kind } if kind == "poll_creation"));
        assert!(value.messages[2].raw.to_string().contains("question"));
        assert!(matches!(&value.messages[3].content, Content::Unsupported { kind } if kind == "location"));
        assert!(matches!(&value.messages[4].content, Content::Interactive { interactive } if interactive.title() == "Tuesday"));
        assert_eq!(value.messages[4].from.as_deref(), Some("GB.1"));
        assert_eq!(value.messages[5].id, None);
        assert_eq!(value.statuses.len(), 1, "a status without an id is no status");
        assert_eq!(value.statuses[0].status, StatusKind::Other);
    }

    #[test]
    fn a_template_send_is_written_as_meta_documents_it() {
        let request = SendRequest {
            messaging_product: "whatsapp",
            recipient_type: "individual",
            to: "447700900001",
            content: SendContent::Template {
                template: Template {
                    name: "reminder",
                    language: Language { code: "en_GB" },
                    components: vec![TemplateComponent::body(vec![TextParameter::text("Sam")]), TemplateComponent::quick_reply(1, "X")],
                },
            },
        };
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "447700900001", "type": "template",
                   "template": {"name": "reminder", "language": {"code": "en_GB"}, "components": [
                       {"type": "body", "parameters": [{"type": "text", "text": "Sam"}]},
                       {"type": "button", "sub_type": "quick_reply", "index": "1", "parameters": [{"type": "payload", "payload": "X"}]}]}})
        );
    }
}
