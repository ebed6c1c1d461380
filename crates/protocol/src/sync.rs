//! Sync between the service and consoles: the change log pulled by cursor, the mutations a console
//! pushes, and the WebSocket frames that say "pull now".

use serde::{Deserialize, Serialize};

use crate::customers::{CreateCustomer, UpdateCustomer};
use crate::error::ErrorCode;
use crate::ids::{BookingId, CannedResponseId, ClientId, ConversationId, CustomerId, MediaId, MessageId, NoteId, ServiceId, StaffId, TemplateId};
use crate::{Channel, ConversationStatus};

wire_enum! {
    /// The kinds of things the change log carries. A kind this build does not know (from a newer
    /// service) reads as `unknown`, and a console skips it.
    EntityKind {
        Business = "business",
        Staff = "staff",
        Invitation = "invitation",
        Customer = "customer",
        Service = "service",
        CannedResponse = "canned_response",
        Conversation = "conversation",
        Message = "message",
        Note = "note",
        /// The business's opening hours and booking rules (id: the business id).
        Schedule = "schedule",
        /// A staff member's working hours (id: the staff id).
        StaffHours = "staff_hours",
        ScheduleException = "schedule_exception",
        Booking = "booking",
        /// A channel's public status (id: `whatsapp`, `twilio`, `vapi` or `retell`).
        Channel = "channel",
        WhatsappTemplate = "whatsapp_template",
        /// The assistant's settings (id: the business id).
        AssistantSettings = "assistant_settings",
        /// A staff member's Google Calendar connection (id: the staff id).
        CalendarConnection = "calendar_connection",
        /// An outside move or delete of one of our Google Calendar events.
        CalendarTask = "calendar_task",
        #[serde(other)]
        Unknown = "unknown",
    }
}

wire! {
    /// One entity's latest state in the change log (`data: null`: it was deleted).
    #[derive(PartialEq)]
    pub struct SyncChange {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub seq: i64,
        pub entity: EntityKind,
        pub id: String,
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub data: Option<serde_json::Value>,
    }

    /// `GET /v1/sync/pull`: the changes after a cursor, in seq order.
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
}

/// What a person did at the console, to apply on the service. On the wire it is `{"name", "args"}`
/// (see [`Mutation`]). Everything it creates carries an id the console made, so applying it twice
/// is the same as applying it once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
#[serde(tag = "name", content = "args", rename_all = "snake_case", deny_unknown_fields)]
pub enum MutationOp {
    SendMessage { conversation_id: ConversationId, message_id: MessageId, body: String },
    /// A file staff attach (uploaded first with `PUT /v1/media/{media_id}`, idempotent), with an
    /// optional caption; refused with `media_too_large` / `media_type_not_allowed` when the
    /// conversation's channel does not take it.
    SendMedia {
        conversation_id: ConversationId,
        message_id: MessageId,
        media_id: MediaId,
        #[serde(default)]
        caption: String,
    },
    UseCannedResponse { conversation_id: ConversationId, message_id: MessageId, canned_response_id: CannedResponseId },
    SendTemplate {
        conversation_id: ConversationId,
        message_id: MessageId,
        template_id: TemplateId,
        #[serde(default)]
        variables: Vec<String>,
    },
    TakeOver { conversation_id: ConversationId },
    HandBack { conversation_id: ConversationId },
    MarkRead { conversation_id: ConversationId },
    SetStatus { conversation_id: ConversationId, status: ConversationStatus },
    /// `staff_id: null` unassigns. The assignee must be an active colleague (`unknown_staff`,
    /// `staff_inactive`); they get a notification.
    Assign { conversation_id: ConversationId, staff_id: Option<StaffId> },
    /// Adds and removes labels on a conversation. Labels someone else added meanwhile stay (two
    /// desks labelling offline both keep theirs); adding one it has, or removing one it lacks, is
    /// no change.
    LabelConversation {
        conversation_id: ConversationId,
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    AddNote { conversation_id: ConversationId, note_id: NoteId, body: String },
    CreateBooking {
        booking_id: BookingId,
        customer_id: CustomerId,
        service_id: ServiceId,
        /// An instant, or a local time in the business's zone.
        start: String,
        #[serde(default)]
        staff_id: Option<StaffId>,
        #[serde(default)]
        notes: String,
    },
    RescheduleBooking {
        booking_id: BookingId,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        expected_version: i64,
        start: String,
        #[serde(default)]
        staff_id: Option<StaffId>,
    },
    CancelBooking {
        booking_id: BookingId,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        expected_version: i64,
        #[serde(default)]
        reason: Option<String>,
    },
    /// Staff record that the customer said they will come (on the phone, at the counter).
    ConfirmBooking {
        booking_id: BookingId,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        expected_version: i64,
    },
    UpdateCustomer { customer_id: CustomerId, changes: UpdateCustomer },
    /// Adds and removes a customer's tags, merging like [`MutationOp::LabelConversation`] (where
    /// `update_customer` replaces the whole list).
    TagCustomer {
        customer_id: CustomerId,
        #[serde(default)]
        add: Vec<String>,
        #[serde(default)]
        remove: Vec<String>,
    },
    /// A customer added at the desk (a walk-in, someone who phoned), with the console's id.
    CreateCustomer { customer_id: CustomerId, customer: CreateCustomer },
    /// Writing first to a customer: opens their conversation on `channel` (the console's id; if
    /// they already have an open one there, that one, named in the outcome's `conversation_id`)
    /// and sends the first message: on WhatsApp an approved template (`template_id`,
    /// `variables`), since a business may not write freely to someone who has not written in the
    /// last 24 hours; on SMS the `body`.
    StartConversation {
        conversation_id: ConversationId,
        customer_id: CustomerId,
        channel: Channel,
        message_id: MessageId,
        #[serde(default)]
        body: Option<String>,
        #[serde(default)]
        template_id: Option<TemplateId>,
        #[serde(default)]
        variables: Vec<String>,
    },
    /// A mutation that could not be read (a name this build does not know, or arguments of the
    /// wrong shape), kept as it was written: the service refuses it with the reason, and a console
    /// sends it on as it is so that the service refuses it in its place, never blocking the
    /// ones after it.
    #[serde(skip)]
    #[cfg_attr(feature = "ts", ts(skip))]
    Unreadable { name: String, reason: String, args: serde_json::Value },
}

impl MutationOp {
    /// Every name a console may send.
    pub const NAMES: &'static [&'static str] = &[
        "send_message",
        "send_media",
        "use_canned_response",
        "send_template",
        "take_over",
        "hand_back",
        "mark_read",
        "set_status",
        "assign",
        "label_conversation",
        "add_note",
        "create_booking",
        "reschedule_booking",
        "cancel_booking",
        "confirm_booking",
        "update_customer",
        "tag_customer",
        "create_customer",
        "start_conversation",
    ];

    pub fn name(&self) -> &str {
        match self {
            MutationOp::SendMessage { .. } => "send_message",
            MutationOp::SendMedia { .. } => "send_media",
            MutationOp::UseCannedResponse { .. } => "use_canned_response",
            MutationOp::SendTemplate { .. } => "send_template",
            MutationOp::TakeOver { .. } => "take_over",
            MutationOp::HandBack { .. } => "hand_back",
            MutationOp::MarkRead { .. } => "mark_read",
            MutationOp::SetStatus { .. } => "set_status",
            MutationOp::Assign { .. } => "assign",
            MutationOp::LabelConversation { .. } => "label_conversation",
            MutationOp::AddNote { .. } => "add_note",
            MutationOp::CreateBooking { .. } => "create_booking",
            MutationOp::RescheduleBooking { .. } => "reschedule_booking",
            MutationOp::CancelBooking { .. } => "cancel_booking",
            MutationOp::ConfirmBooking { .. } => "confirm_booking",
            MutationOp::UpdateCustomer { .. } => "update_customer",
            MutationOp::TagCustomer { .. } => "tag_customer",
            MutationOp::CreateCustomer { .. } => "create_customer",
            MutationOp::StartConversation { .. } => "start_conversation",
            MutationOp::Unreadable { name, .. } => name,
        }
    }

    /// The conversation it acts on, if any.
    pub fn conversation_id(&self) -> Option<&ConversationId> {
        match self {
            MutationOp::SendMessage { conversation_id, .. }
            | MutationOp::SendMedia { conversation_id, .. }
            | MutationOp::UseCannedResponse { conversation_id, .. }
            | MutationOp::SendTemplate { conversation_id, .. }
            | MutationOp::TakeOver { conversation_id }
            | MutationOp::HandBack { conversation_id }
            | MutationOp::MarkRead { conversation_id }
            | MutationOp::SetStatus { conversation_id, .. }
            | MutationOp::Assign { conversation_id, .. }
            | MutationOp::LabelConversation { conversation_id, .. }
            | MutationOp::AddNote { conversation_id, .. }
            | MutationOp::StartConversation { conversation_id, .. } => Some(conversation_id),
            _ => None,
        }
    }

    /// Reads `{"name", "args"}` as sent; what cannot be read becomes [`MutationOp::Unreadable`]
    /// (one bad mutation is refused on its own and never blocks the ones after it).
    pub fn from_wire(name: &str, args: serde_json::Value) -> MutationOp {
        let mut tagged = serde_json::json!({"name": name, "args": args});
        match MutationOp::deserialize(&tagged) {
            Ok(op) => op,
            Err(e) => MutationOp::Unreadable { name: name.to_owned(), reason: e.to_string(), args: tagged["args"].take() },
        }
    }

    /// `(name, args)`, as stored in a console's outbox.
    pub fn to_wire(&self) -> (String, serde_json::Value) {
        if let MutationOp::Unreadable { name, args, .. } = self {
            return (name.clone(), args.clone());
        }
        let mut value = serde_json::to_value(self).unwrap_or_default();
        let args = value.get_mut("args").map(serde_json::Value::take).unwrap_or(serde_json::Value::Null);
        (self.name().to_owned(), args)
    }
}

/// A numbered [`MutationOp`]: `{"id", "name", "args"}` on the wire.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(export))]
pub struct Mutation {
    /// Increases by one per client, from 1.
    #[cfg_attr(feature = "ts", ts(type = "number"))]
    pub id: i64,
    #[serde(flatten, serialize_with = "op_as_written")]
    pub op: MutationOp,
}

/// `"name", "args"` as [`MutationOp::to_wire`] gives them (an unreadable one as it was written),
/// for a flattened `op` field (`#[serde(flatten, serialize_with = "protocol::op_as_written")]`).
pub fn op_as_written<S: serde::Serializer>(op: &MutationOp, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let (name, args) = op.to_wire();
    let mut map = serializer.serialize_map(Some(2))?;
    map.serialize_entry("name", &name)?;
    map.serialize_entry("args", &args)?;
    map.end()
}

impl<'de> Deserialize<'de> for Mutation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            id: i64,
            name: String,
            #[serde(default)]
            args: serde_json::Value,
        }
        let wire = Wire::deserialize(deserializer)?;
        Ok(Mutation { id: wire.id, op: MutationOp::from_wire(&wire.name, wire.args) })
    }
}

request! {
    pub struct PushRequest {
        /// The device's id (a UUID it made once); bound to the signed-in staff member on first use.
        pub client_id: ClientId,
        pub mutations: Vec<Mutation>,
    }
}

wire! {
    /// What became of a mutation. A refusal (`ok: false`) is final: the console shows the reason and
    /// moves on; it never blocks the mutations after it.
    #[derive(PartialEq)]
    pub struct MutationOutcome {
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub id: i64,
        pub ok: bool,
        /// The stable error code when refused (e.g. `already_held`).
        pub code: Option<ErrorCode>,
        pub message: Option<String>,
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub details: Option<serde_json::Value>,
    }

    pub struct PushResponse {
        /// In order; replays of already-applied mutations get their first outcome again.
        pub outcomes: Vec<MutationOutcome>,
        /// Set when the batch stopped at a missing mutation id (send from this id again).
        #[cfg_attr(feature = "ts", ts(type = "number | null"))]
        pub expected_id: Option<i64>,
    }
}

/// The sync WebSocket's protocol version (`hello.protocol`).
pub const SYNC_PROTOCOL: u32 = 1;

/// WebSocket close codes: 4001 the token was refused (or the account was deactivated), 4002
/// protocol version mismatch, 4003 no hello in time, 4008 too many connections (retry later).
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
    Hello { token: String, client_id: ClientId, cursor: i64, protocol: u32 },
    /// Which conversation this person is looking at (`null`: none).
    Viewing { conversation_id: Option<ConversationId> },
    Typing { conversation_id: ConversationId },
    Ping,
}

wire! {
    /// Who is online and what they are looking at.
    #[derive(PartialEq)]
    pub struct PresenceEntry {
        pub staff_id: StaffId,
        pub viewing: Option<ConversationId>,
    }
}

/// What the service sends on the sync WebSocket.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// After a good hello: the business's latest seq (pull if your cursor is behind), and what
    /// the signed-in person may do now (a role change closes the socket with 4009; the next
    /// welcome carries the new list; the console then reloads, as what it pulled was chosen for
    /// the old role).
    Welcome {
        seq: i64,
        protocol: u32,
        #[serde(default)]
        permissions: Vec<crate::accounts::Permission>,
    },
    /// Something was committed; pull. A hint: pokes may be lost, pulls are authoritative.
    Poke { seq: i64 },
    Presence { online: Vec<PresenceEntry> },
    Typing { conversation_id: ConversationId, staff_id: StaffId },
    Pong,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn mutations_keep_their_wire_shape() {
        let m = Mutation {
            id: 3,
            op: MutationOp::SendMessage { conversation_id: "c1".into(), message_id: "m1".into(), body: "Hi".into() },
        };
        let wire = json!({"id": 3, "name": "send_message", "args": {"conversation_id": "c1", "message_id": "m1", "body": "Hi"}});
        assert_eq!(serde_json::to_value(&m).unwrap(), wire);
        assert_eq!(serde_json::from_value::<Mutation>(wire).unwrap(), m);
        assert_eq!(m.op.to_wire().0, "send_message");
    }

    #[test]
    fn unreadable_mutations_are_kept_with_the_reason() {
        let unknown: Mutation = serde_json::from_value(json!({"id": 1, "name": "teleport", "args": {}})).unwrap();
        assert!(matches!(&unknown.op, MutationOp::Unreadable { name, .. } if name == "teleport"));
        let bad: Mutation = serde_json::from_value(json!({"id": 2, "name": "take_over", "args": {"conversation": "x"}})).unwrap();
        assert!(matches!(&bad.op, MutationOp::Unreadable { reason, .. } if reason.contains("conversation")), "{bad:?}");
        assert!(serde_json::from_value::<Mutation>(json!({"id": 2, "name": "take_over", "extra": 1})).is_err());
    }

    #[test]
    fn every_name_reads_back() {
        for name in MutationOp::NAMES {
            let op = MutationOp::from_wire(name, json!({}));
            // Missing arguments are refused, but the name itself is known.
            if let MutationOp::Unreadable { reason, .. } = &op {
                assert!(!reason.contains("unknown variant"), "{name}: {reason}");
            }
        }
    }

    #[test]
    fn unknown_entity_kinds_are_tolerated() {
        let change: SyncChange = serde_json::from_value(json!({"seq": 1, "entity": "hologram", "id": "x", "data": null})).unwrap();
        assert_eq!(change.entity, EntityKind::Unknown);
    }
}
