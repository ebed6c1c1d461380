//! The inbox: conversations, their messages and calls, and internal notes.

use crate::ids::{BusinessId, ConversationId, CustomerId, MessageId, NoteId, StaffId};
use crate::{patch, Customer, Timestamp};

wire_enum! {
    /// Where a conversation happens.
    Channel { Whatsapp = "whatsapp", Sms = "sms", TwilioWhatsapp = "twilio_whatsapp", Voice = "voice" }
}

wire_enum! {
    ConversationStatus { Open = "open", Resolved = "resolved" }
}

wire_enum! {
    /// Who answers the customer: the assistant, a person holding the conversation, or nobody yet
    /// because the assistant escalated and a person is needed.
    ControlMode { Ai = "ai", Human = "human", NeedsHuman = "needs_human" }
}

wire_enum! {
    Direction { Inbound = "inbound", Outbound = "outbound" }
}

wire_enum! {
    /// What a message is. Anything a provider sends that Switchboard cannot show is kept as
    /// `unsupported` with its raw payload, never dropped.
    MessageKind {
        Text = "text",
        Image = "image",
        Audio = "audio",
        Video = "video",
        Document = "document",
        Sticker = "sticker",
        Location = "location",
        Contacts = "contacts",
        /// A tapped quick-reply button or list item.
        Reply = "reply",
        Reaction = "reaction",
        Template = "template",
        Unsupported = "unsupported",
        /// Something that happened in the conversation (took over, handed back, booked), shown
        /// in the timeline; never sent to the customer.
        Event = "event",
        /// A phone call (details in `call`).
        Call = "call",
    }
}

wire_enum! {
    AuthorKind { Customer = "customer", Assistant = "assistant", Staff = "staff", System = "system" }
}

wire_enum! {
    /// Delivery state of a message; outbound messages only move forward through
    /// pending → sent → delivered → read, or end in failed.
    DeliveryStatus {
        Received = "received",
        Pending = "pending",
        Sent = "sent",
        Delivered = "delivered",
        Read = "read",
        Failed = "failed",
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct Conversation {
        pub id: ConversationId,
        pub business_id: BusinessId,
        pub customer_id: CustomerId,
        pub channel: Channel,
        pub status: ConversationStatus,
        pub mode: ControlMode,
        /// The staff member holding the conversation when `mode` is `human`.
        pub holder_staff_id: Option<StaffId>,
        /// Whose job this conversation is (independent of who holds it right now).
        #[serde(default)]
        pub assignee_staff_id: Option<StaffId>,
        /// Labels staff put on it (`complaint`, `wedding party`), in the order they were added.
        #[serde(default)]
        pub labels: Vec<String>,
        /// While `mode` is `needs_human`: when it was handed over to a person (the customer has
        /// been waiting at least since then).
        #[serde(default)]
        pub needs_human_since: Option<Timestamp>,
        pub last_activity_at: Timestamp,
        pub last_message_preview: String,
        pub unread_count: u32,
        /// What staff may send here, decided by the service (see [`ReplyWindow`]).
        #[serde(default)]
        pub reply_window: ReplyWindow,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

wire! {
    /// What staff may send in a conversation: the service's rule, the one that refuses a reply
    /// with `whatsapp_window_closed` or `cannot_reply_here`, computed by the service from what it
    /// stores (the channel, when the customer last wrote) and shipped with the conversation, so
    /// the console never decides it again. Free text is allowed while `free_text` holds and
    /// `until` has not passed; [`ReplyWindow::at`] says what holds at a given moment.
    #[derive(Copy, PartialEq, Eq)]
    pub struct ReplyWindow {
        /// Free-text replies can be sent (an SMS any time; on WhatsApp once the customer has
        /// written, until `until`).
        pub free_text: bool,
        /// When free text stops being allowed (WhatsApp: 24 hours after the customer last
        /// wrote); `None`: no limit, or never opened.
        pub until: Option<Timestamp>,
        /// An approved WhatsApp template can be sent (inside or outside the window).
        pub templates: bool,
    }
}

impl ReplyWindow {
    /// The window as it stands at `now`: free text ends once `until` has passed.
    pub fn at(self, now: Timestamp) -> ReplyWindow {
        ReplyWindow { free_text: self.free_text && self.until.is_none_or(|until| now <= until), ..self }
    }
}

/// A conversation written before the service shipped its reply window (an old synced row, until
/// it is published again): free text, and the service decides when the reply arrives.
impl Default for ReplyWindow {
    fn default() -> Self {
        ReplyWindow { free_text: true, until: None, templates: false }
    }
}

request! {
    pub struct CreateConversation {
        pub customer_id: CustomerId,
        pub channel: Channel,
    }
}

request! {
    #[derive(Default)]
    pub struct UpdateConversation {
        pub status: Option<ConversationStatus>,
        /// `true` marks every message read (unread count 0).
        pub mark_read: Option<bool>,
        /// A staff id assigns the conversation to them; `null` unassigns it.
        #[serde(default, deserialize_with = "patch::field", skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
        pub assignee_staff_id: Option<Option<StaffId>>,
        /// Replaces the conversation's labels (1 to 40 characters each, at most 20).
        pub labels: Option<Vec<String>>,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct Media {
        /// MIME type, e.g. `image/jpeg`.
        pub content_type: String,
        pub url: Option<String>,
        pub filename: Option<String>,
        pub caption: Option<String>,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct Message {
        pub id: MessageId,
        pub business_id: BusinessId,
        pub conversation_id: ConversationId,
        pub direction: Direction,
        pub author_kind: AuthorKind,
        pub author_staff_id: Option<StaffId>,
        pub kind: MessageKind,
        pub body: String,
        pub media: Vec<Media>,
        /// For `kind: call`: the call's record.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub call: Option<CallRecord>,
        pub provider_message_id: Option<String>,
        pub delivery_status: DeliveryStatus,
        /// Why delivery failed, in plain words.
        pub error: Option<String>,
        /// For an automated message: the rule that sent it (`reminder:24h`, `confirmation:created`, ...).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub automation: Option<String>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct Note {
        pub id: NoteId,
        pub business_id: BusinessId,
        pub conversation_id: ConversationId,
        pub author_staff_id: StaffId,
        pub body: String,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    pub struct CreateNote {
        pub body: String,
    }
}

request! {
    pub struct UpdateNote {
        pub body: String,
    }
}

wire! {
    /// One conversation with its newest messages (oldest first) and its notes.
    pub struct ConversationDetail {
        pub conversation: Conversation,
        pub customer: Customer,
        pub messages: Vec<Message>,
        /// Set when older messages exist: pass it as `before` to `GET /v1/conversations/{id}/messages`.
        pub older_messages_cursor: Option<String>,
        pub notes: Vec<Note>,
    }
}

/// A page of a list. `next_cursor` is opaque; pass it back as `cursor` for the next page.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

wire! {
    /// A phone call handled by a voice AI platform, as it appears in the customer's timeline.
    #[derive(Default, PartialEq)]
    pub struct CallRecord {
        /// `vapi` or `retell`.
        pub provider: String,
        pub call_id: String,
        /// `in_progress` while live, then `ended`.
        pub status: String,
        pub transcript: Option<String>,
        pub summary: Option<String>,
        pub recording_url: Option<String>,
        pub duration_seconds: Option<u32>,
        /// Why the call ended, as the platform says (e.g. `customer-ended-call`).
        pub ended_reason: Option<String>,
    }
}
