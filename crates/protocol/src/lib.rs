//! Wire types shared by `switchboard-cloud` and the `switchboard` desktop console.
//!
//! Everything that crosses the network between the two programs is defined here once: REST request
//! and response bodies, the error envelope, and (later) sync changes, mutations and WebSocket frames.
//! Ids are UUIDv7 strings; times are RFC 3339 strings in UTC (the business's IANA time zone travels
//! with the business, so clients render local times themselves).
//!
//! Request bodies reject unknown fields so that a typo in an integration is a clear 422, not a
//! silently ignored setting.

use serde::{Deserialize, Serialize};

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

/// An RFC 3339 timestamp in UTC, e.g. `2026-11-22T09:30:00Z`.
pub type Timestamp = String;

macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(ToSchema))]
        #[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The stable text form used on the wire and in storage.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum! {
    /// What a staff member may do. Owners can do everything; admins manage the business but not its
    /// owners; agents handle customers and conversations.
    Role { Owner = "owner", Admin = "admin", Agent = "agent" }
}

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

// ---------------------------------------------------------------------------------------------
// Errors

/// The one error body every endpoint answers with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ErrorDetail {
    /// Stable, machine-readable code (e.g. `not_found`, `validation_failed`, `invalid_token`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// Machine-readable context for some codes: `slot_taken` carries `{"alternatives": [...]}`,
    /// `version_conflict` carries `{"current": {...}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<serde_json::Value>,
}

// ---------------------------------------------------------------------------------------------
// Accounts

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    pub business_name: String,
    /// IANA time zone of the business, e.g. `Europe/London`.
    pub timezone: String,
    pub name: String,
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct LogoutRequest {
    /// The session to end. Without it, the session of the bearer token is ended.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitationRequest {
    pub token: String,
    pub name: String,
    pub password: String,
}

/// Tokens issued by signup, login, refresh and accepting an invitation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuthTokens {
    pub business_id: String,
    pub staff_id: String,
    pub role: Role,
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Seconds until the access token expires.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expires_in: u64,
    /// Single-use token for `POST /v1/auth/refresh`; each refresh returns a new one.
    pub refresh_token: String,
}

// ---------------------------------------------------------------------------------------------
// Business and staff

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Business {
    pub id: String,
    pub name: String,
    pub timezone: String,
    pub locale: String,
    pub currency: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateBusiness {
    pub name: Option<String>,
    pub timezone: Option<String>,
    /// BCP 47 language tag, e.g. `en-GB`.
    pub locale: Option<String>,
    /// ISO 4217 code, e.g. `EUR`.
    pub currency: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Staff {
    pub id: String,
    pub business_id: String,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub active: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateStaff {
    pub name: Option<String>,
    pub role: Option<Role>,
    /// `false` deactivates the staff member and ends all their sessions.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateInvitation {
    pub email: String,
    pub role: Role,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Invitation {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub invited_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub accepted_at: Option<Timestamp>,
}

/// Returned once, when the invitation is created: the token is never shown again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CreatedInvitation {
    pub invitation: Invitation,
    /// One-time token for `POST /v1/auth/accept-invitation`.
    pub token: String,
}

// ---------------------------------------------------------------------------------------------
// Customers

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Customer {
    pub id: String,
    pub business_id: String,
    pub name: Option<String>,
    /// E.164, e.g. `+447911123456`.
    pub phone: Option<String>,
    pub whatsapp_id: Option<String>,
    pub email: Option<String>,
    pub tags: Vec<String>,
    pub notes: String,
    pub opted_out_sms: bool,
    pub opted_out_whatsapp: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateCustomer {
    pub name: Option<String>,
    /// Any common format; national numbers are read in the business's country when it can be
    /// told from its time zone. Stored as E.164.
    pub phone: Option<String>,
    pub whatsapp_id: Option<String>,
    pub email: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub notes: String,
}

/// Fields left out are unchanged; `null` clears an optional field.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateCustomer {
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub name: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub whatsapp_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub email: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
    pub opted_out_sms: Option<bool>,
    pub opted_out_whatsapp: Option<bool>,
}

// ---------------------------------------------------------------------------------------------
// Services

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Service {
    pub id: String,
    pub business_id: String,
    pub name: String,
    pub duration_minutes: u32,
    /// In the currency's minor unit (cents).
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub price_cents: i64,
    pub buffer_before_minutes: u32,
    pub buffer_after_minutes: u32,
    pub active: bool,
    /// Who can perform it; empty means every bookable staff member.
    pub staff_ids: Vec<String>,
    /// Overrides of the business's booking rules for this service (`null`: the business's).
    pub min_notice_minutes: Option<u32>,
    pub max_advance_days: Option<u32>,
    pub slot_interval_minutes: Option<u32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateService {
    pub name: String,
    pub duration_minutes: u32,
    #[serde(default)]
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub price_cents: i64,
    #[serde(default)]
    pub buffer_before_minutes: u32,
    #[serde(default)]
    pub buffer_after_minutes: u32,
    #[serde(default = "yes")]
    pub active: bool,
    #[serde(default)]
    pub staff_ids: Vec<String>,
    pub min_notice_minutes: Option<u32>,
    pub max_advance_days: Option<u32>,
    pub slot_interval_minutes: Option<u32>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateService {
    pub name: Option<String>,
    pub duration_minutes: Option<u32>,
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub price_cents: Option<i64>,
    pub buffer_before_minutes: Option<u32>,
    pub buffer_after_minutes: Option<u32>,
    pub active: Option<bool>,
    pub staff_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub min_notice_minutes: Option<Option<u32>>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub max_advance_days: Option<Option<u32>>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub slot_interval_minutes: Option<Option<u32>>,
}

// ---------------------------------------------------------------------------------------------
// Canned responses

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CannedResponse {
    pub id: String,
    pub business_id: String,
    /// What staff type after `/` in the composer, e.g. `hours`.
    pub shortcut: String,
    pub title: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateCannedResponse {
    pub shortcut: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateCannedResponse {
    pub shortcut: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Conversations, messages, notes

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Conversation {
    pub id: String,
    pub business_id: String,
    pub customer_id: String,
    pub channel: Channel,
    pub status: ConversationStatus,
    pub mode: ControlMode,
    /// The staff member holding the conversation when `mode` is `human`.
    pub holder_staff_id: Option<String>,
    /// Whose job this conversation is (independent of who holds it right now).
    #[serde(default)]
    pub assignee_staff_id: Option<String>,
    pub last_activity_at: Timestamp,
    pub last_message_preview: String,
    pub unread_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    pub customer_id: String,
    pub channel: Channel,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateConversation {
    pub status: Option<ConversationStatus>,
    /// `true` marks every message read (unread count 0).
    pub mark_read: Option<bool>,
    /// A staff id assigns the conversation to them; `null` unassigns it.
    #[serde(default, deserialize_with = "patch::field", skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub assignee_staff_id: Option<Option<String>>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Media {
    /// MIME type, e.g. `image/jpeg`.
    pub content_type: String,
    pub url: Option<String>,
    pub filename: Option<String>,
    pub caption: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Message {
    pub id: String,
    pub business_id: String,
    pub conversation_id: String,
    pub direction: Direction,
    pub author_kind: AuthorKind,
    pub author_staff_id: Option<String>,
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
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Note {
    pub id: String,
    pub business_id: String,
    pub conversation_id: String,
    pub author_staff_id: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateNote {
    pub body: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateNote {
    pub body: String,
}

/// One conversation with its newest messages (oldest first) and its notes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ConversationDetail {
    pub conversation: Conversation,
    pub customer: Customer,
    pub messages: Vec<Message>,
    /// Set when older messages exist: pass it as `before` to `GET /v1/conversations/{id}/messages`.
    pub older_messages_cursor: Option<String>,
    pub notes: Vec<Note>,
}

/// A page of a list. `next_cursor` is opaque; pass it back as `cursor` for the next page.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Scheduling: hours, exceptions, availability, bookings, calendar feeds

wire_enum! {
    BookingStatus {
        /// Held but not yet confirmed by the customer or staff.
        Pending = "pending",
        Confirmed = "confirmed",
        Cancelled = "cancelled",
        Completed = "completed",
        NoShow = "no_show",
    }
}

impl BookingStatus {
    /// Pending and confirmed bookings hold their time; the others free it.
    pub fn holds_time(self) -> bool {
        matches!(self, BookingStatus::Pending | BookingStatus::Confirmed)
    }
}

wire_enum! {
    /// Who made a booking.
    BookingSource { Assistant = "assistant", Voice = "voice", Staff = "staff", Api = "api" }
}

/// An open interval of a day in local wall-clock time, `HH:MM`–`HH:MM` (`24:00` ends at midnight).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct HoursInterval {
    pub start: String,
    pub end: String,
}

/// Opening (or working) hours for each weekday; a day with no intervals is closed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct WeeklyHours {
    #[serde(default)]
    pub monday: Vec<HoursInterval>,
    #[serde(default)]
    pub tuesday: Vec<HoursInterval>,
    #[serde(default)]
    pub wednesday: Vec<HoursInterval>,
    #[serde(default)]
    pub thursday: Vec<HoursInterval>,
    #[serde(default)]
    pub friday: Vec<HoursInterval>,
    #[serde(default)]
    pub saturday: Vec<HoursInterval>,
    #[serde(default)]
    pub sunday: Vec<HoursInterval>,
}

impl WeeklyHours {
    /// Monday first.
    pub fn days(&self) -> [&Vec<HoursInterval>; 7] {
        [&self.monday, &self.tuesday, &self.wednesday, &self.thursday, &self.friday, &self.saturday, &self.sunday]
    }

    pub fn from_days(days: [Vec<HoursInterval>; 7]) -> WeeklyHours {
        let [monday, tuesday, wednesday, thursday, friday, saturday, sunday] = days;
        WeeklyHours { monday, tuesday, wednesday, thursday, friday, saturday, sunday }
    }
}

/// A staff member's working hours; `hours: null` means "whenever the business is open".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct StaffHours {
    pub hours: Option<WeeklyHours>,
    /// `false` takes the person out of online booking (they can still be booked by staff).
    #[serde(default = "yes")]
    pub bookable: bool,
}

/// A date that differs from the usual week: closed, or special hours. Without `staff_id` it is
/// the whole business's.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct ScheduleException {
    pub id: String,
    pub business_id: String,
    pub staff_id: Option<String>,
    /// Local date, `YYYY-MM-DD`.
    pub date: String,
    pub closed: bool,
    pub hours: Vec<HoursInterval>,
    pub note: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateScheduleException {
    pub staff_id: Option<String>,
    pub date: String,
    #[serde(default)]
    pub closed: bool,
    #[serde(default)]
    pub hours: Vec<HoursInterval>,
    #[serde(default)]
    pub note: String,
}

/// Booking rules: the business's defaults, overridable per service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BookingRules {
    /// How long before an appointment it can still be booked online.
    pub min_notice_minutes: u32,
    /// How far ahead it can be booked.
    pub max_advance_days: u32,
    /// Distance between offered start times.
    pub slot_interval_minutes: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct BusinessSchedule {
    pub timezone: String,
    pub opening_hours: WeeklyHours,
    pub rules: BookingRules,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateBusinessSchedule {
    pub opening_hours: Option<WeeklyHours>,
    pub min_notice_minutes: Option<u32>,
    pub max_advance_days: Option<u32>,
    pub slot_interval_minutes: Option<u32>,
}

/// A free appointment time.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AvailableSlot {
    /// UTC.
    pub start: Timestamp,
    pub end: Timestamp,
    /// The same instants in the business's zone, RFC 9557 (e.g. `2026-03-09T09:00:00-04:00[America/New_York]`).
    pub local_start: String,
    pub local_end: String,
    /// Who is free then.
    pub staff_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Availability {
    pub service_id: String,
    pub timezone: String,
    pub slots: Vec<AvailableSlot>,
}

/// Whether an exact time is free, and if not, the nearest free times.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AvailabilityCheck {
    pub available: bool,
    /// When not available: `slot_taken`, `outside_hours`, `too_soon` or `too_far_ahead`.
    pub reason: Option<String>,
    pub slot: Option<AvailableSlot>,
    pub alternatives: Vec<AvailableSlot>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Booking {
    pub id: String,
    pub business_id: String,
    pub customer_id: String,
    pub service_id: String,
    pub staff_id: String,
    /// UTC.
    pub start: Timestamp,
    pub end: Timestamp,
    /// In the business's zone, RFC 9557.
    pub local_start: String,
    pub status: BookingStatus,
    pub source: BookingSource,
    pub notes: String,
    /// Bumped by every change; send it back as `expected_version`.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub version: i64,
    pub created_by_staff_id: Option<String>,
    pub cancel_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateBooking {
    pub customer_id: String,
    pub service_id: String,
    /// Leave out to let Switchboard choose among the free staff (fair rotation).
    pub staff_id: Option<String>,
    /// An instant with offset (`2026-03-09T13:00:00Z`), or a local time in the business's zone
    /// without offset (`2026-03-09T09:00`).
    pub start: String,
    #[serde(default)]
    pub notes: String,
    /// Default `api` for API keys, `staff` for signed-in staff.
    pub source: Option<BookingSource>,
    /// `pending` or `confirmed` (default).
    pub status: Option<BookingStatus>,
}

/// Reschedule, reassign, confirm, complete, mark no-show, cancel or edit notes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateBooking {
    /// The `version` you last saw; a stale one gets `version_conflict`.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub expected_version: i64,
    pub start: Option<String>,
    pub staff_id: Option<String>,
    pub status: Option<BookingStatus>,
    pub notes: Option<String>,
    pub cancel_reason: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CalendarFeed {
    pub id: String,
    /// Without it, the feed carries the whole business's bookings.
    pub staff_id: Option<String>,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateCalendarFeed {
    pub staff_id: Option<String>,
}

/// Returned once: the subscription URL contains the secret token.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct CreatedCalendarFeed {
    pub feed: CalendarFeed,
    /// Paste into Google, Apple or Outlook calendar ("subscribe by URL").
    pub url: String,
}

/// One line of the business's audit log.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AuditEntry {
    pub id: String,
    /// Who did it; `null` for the service itself (the assistant, a webhook).
    pub actor_staff_id: Option<String>,
    /// E.g. `staff.updated`, `booking.cancelled`, `invitation.accepted`.
    pub action: String,
    pub target_kind: Option<String>,
    pub target_id: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub detail: serde_json::Value,
    pub created_at: Timestamp,
}

// ---------------------------------------------------------------------------------------------
// Channels and sending

/// `PUT /v1/channels/whatsapp`: the WhatsApp Cloud API number of the business.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
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

/// `PUT /v1/channels/twilio`: the Twilio account and the numbers customers write to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct TwilioChannelSetup {
    pub account_sid: String,
    pub auth_token: String,
    /// E.164 numbers (SMS) or `whatsapp:+…` senders.
    pub numbers: Vec<String>,
}

/// A channel as anyone may see it: no secret is ever returned.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
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

/// A reply from staff.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    pub body: String,
    /// A UUID the client made, so a retried request sends once (also the message's id).
    pub client_message_id: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct WhatsappTemplate {
    pub id: String,
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

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct CreateWhatsappTemplate {
    pub name: String,
    pub language: String,
    pub body: String,
    pub twilio_content_sid: Option<String>,
}

/// Sends an approved template (the only thing WhatsApp allows once the 24-hour window is closed).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct SendTemplate {
    pub template_id: String,
    #[serde(default)]
    pub variables: Vec<String>,
    pub client_message_id: Option<String>,
}

/// How the assistant behaves for a business (`GET|PATCH /v1/assistant`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct AssistantSettings {
    /// `false`: every new conversation waits for a person.
    pub enabled: bool,
    /// Who the assistant is, e.g. "Mia, the friendly receptionist of Bloom Hair Studio".
    pub persona: String,
    /// Extra instructions from the owner.
    pub instructions: String,
    /// Facts and answers to common questions (address, parking, prices policy…).
    pub facts: String,
    /// Language to answer in, e.g. `en`.
    pub language: String,
    /// Overrides the service's default model.
    pub model: Option<String>,
    /// Minutes without activity after which a person's conversation goes back to the assistant
    /// (0: never).
    pub handback_idle_minutes: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct UpdateAssistantSettings {
    pub enabled: Option<bool>,
    pub persona: Option<String>,
    pub instructions: Option<String>,
    pub facts: Option<String>,
    pub language: Option<String>,
    #[serde(default, deserialize_with = "patch::field")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub model: Option<Option<String>>,
    pub handback_idle_minutes: Option<u32>,
}

/// A phone call handled by a voice AI platform, as it appears in the customer's timeline.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
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

/// `PUT /v1/channels/vapi`: the secret Vapi sends (Bearer credential, `x-vapi-secret`, or the key
/// of an HMAC credential).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct VapiChannelSetup {
    pub secret: String,
}

/// `PUT /v1/channels/retell`: the Retell API key with the webhook badge (it signs webhooks).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct RetellChannelSetup {
    pub api_key: String,
}

// ---------------------------------------------------------------------------------------------
// Sync

/// One entity's latest state in the change log (`data: null`: it was deleted).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SyncChange {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub seq: i64,
    /// e.g. `conversation`, `message`, `booking`, `customer`.
    pub entity: String,
    pub id: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub data: Option<serde_json::Value>,
}

/// `GET /v1/sync/pull`: the changes after a cursor, in seq order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct SyncPage {
    pub changes: Vec<SyncChange>,
    /// Pass it back as `cursor` for the next page.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub cursor: i64,
    pub has_more: bool,
    /// With `client_id`: the outcomes of that client's most recent mutations.
    #[serde(default)]
    pub outcomes: Vec<MutationOutcome>,
}

/// Something a person did at the console, to apply on the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct Mutation {
    /// Increases by one per client, from 1.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    /// `send_message`, `take_over`, `hand_back`, `mark_read`, `set_status`, `add_note`,
    /// `create_booking`, `reschedule_booking`, `cancel_booking`.
    pub name: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub args: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(deny_unknown_fields)]
pub struct PushRequest {
    /// The device's id (a UUID it made once); bound to the signed-in staff member on first use.
    pub client_id: String,
    pub mutations: Vec<Mutation>,
}

/// What became of a mutation. A refusal (`ok: false`) is final: the console shows the reason and
/// moves on; it never blocks the mutations after it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct MutationOutcome {
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    pub ok: bool,
    /// The stable error code when refused (e.g. `already_held`).
    pub code: Option<String>,
    pub message: Option<String>,
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub details: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PushResponse {
    /// In order; replays of already-applied mutations get their first outcome again.
    pub outcomes: Vec<MutationOutcome>,
    /// Set when the batch stopped at a missing mutation id (send from this id again).
    #[cfg_attr(feature = "ts", ts(type = "number | null"))]
    pub expected_id: Option<i64>,
}

/// The sync WebSocket's protocol version (`hello.protocol`).
pub const SYNC_PROTOCOL: u32 = 1;

/// WebSocket close codes: 4001 the token was refused, 4002 protocol version mismatch, 4003 no
/// hello in time, 4008 too many connections (retry later).
pub mod close {
    pub const AUTH_FAILED: u16 = 4001;
    pub const PROTOCOL_MISMATCH: u16 = 4002;
    pub const NO_HELLO: u16 = 4003;
    pub const TOO_MANY: u16 = 4008;
}

/// What a console sends on the sync WebSocket (JSON text frames).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    Hello { token: String, client_id: String, cursor: i64, protocol: u32 },
    /// Which conversation this person is looking at (`null`: none).
    Viewing { conversation_id: Option<String> },
    Typing { conversation_id: String },
    Ping,
}

/// Who is online and what they are looking at.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct PresenceEntry {
    pub staff_id: String,
    pub viewing: Option<String>,
}

/// What the service sends on the sync WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// After a good hello: the business's latest seq (pull if your cursor is behind).
    Welcome { seq: i64, protocol: u32 },
    /// Something was committed; pull. A hint: pokes may be lost, pulls are authoritative.
    Poke { seq: i64 },
    Presence { online: Vec<PresenceEntry> },
    Typing { conversation_id: String, staff_id: String },
    Pong,
}

/// `/healthz` answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Health {
    pub status: String,
    pub database: String,
    pub version: String,
}

/// Deserialising PATCH fields where "absent" and "null" mean different things.
pub mod patch {
    use serde::{Deserialize, Deserializer};

    /// Absent → `None` (via `#[serde(default)]`), `null` → `Some(None)`, value → `Some(Some(v))`.
    pub fn field<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
    where
        T: Deserialize<'de>,
        D: Deserializer<'de>,
    {
        Option::<T>::deserialize(deserializer).map(Some)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_round_trip_through_their_text_form() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(*role));
            let json = serde_json::to_string(role).unwrap();
            assert_eq!(json, format!("\"{}\"", role.as_str()));
        }
        for mode in ControlMode::ALL {
            assert_eq!(ControlMode::parse(mode.as_str()), Some(*mode));
        }
        assert_eq!(ControlMode::parse("robot"), None);
    }

    #[test]
    fn patch_tells_absent_from_null() {
        let absent: UpdateCustomer = serde_json::from_str("{}").unwrap();
        assert_eq!(absent.email, None);
        let null: UpdateCustomer = serde_json::from_str(r#"{"email":null}"#).unwrap();
        assert_eq!(null.email, Some(None));
        let set: UpdateCustomer = serde_json::from_str(r#"{"email":"a@b.c"}"#).unwrap();
        assert_eq!(set.email, Some(Some("a@b.c".into())));
    }

    #[test]
    fn request_bodies_refuse_unknown_fields() {
        let err = serde_json::from_str::<CreateNote>(r#"{"body":"x","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field"));
    }
}
