//! After the booking: confirmations, reminders and the customer's replies to them, missed-call
//! text-backs and follow-ups (`GET|PATCH /v1/automations`), and what each one did
//! ([`AutomationRun`]).

use crate::ids::{BookingId, BusinessId, ConversationId, CustomerId, MessageId};
use crate::Timestamp;

wire_enum! {
    /// Whether the customer said they will come (a reply to a reminder, or staff for them).
    BookingConfirmation { Unconfirmed = "unconfirmed", Confirmed = "confirmed" }
}

impl Default for BookingConfirmation {
    fn default() -> Self {
        BookingConfirmation::Unconfirmed
    }
}

wire_enum! {
    /// What an automated message is for.
    AutomationKind {
        /// A booking was made, moved or cancelled.
        Confirmation = "confirmation",
        /// An appointment is coming up.
        Reminder = "reminder",
        /// An answer to the customer's reply to a reminder.
        Reply = "reply",
        /// A call nobody answered.
        TextBack = "text_back",
        /// A customer asked about booking and went quiet.
        FollowUp = "follow_up",
        /// Staff marked a booking a no-show: an invitation to book again.
        NoShow = "no_show",
    }
}

wire_enum! {
    /// Where an automated message stands.
    AutomationStatus {
        /// Waiting for its time.
        Planned = "planned",
        /// Handed to the outbox (its message shows how delivery went).
        Sent = "sent",
        /// Not sent; `reason` says why (opted out, no channel, no WhatsApp template, ...).
        Skipped = "skipped",
        /// A follow-up that something ended (`reason`: inbound_message, booking, opted_out, takeover, resolved).
        Stopped = "stopped",
        /// Its booking was cancelled before it was due.
        Dropped = "dropped",
    }
}

wire_enum! {
    /// What a WhatsApp template's numbered variable is filled with.
    TemplateVariable {
        CustomerName = "customer_name",
        BusinessName = "business_name",
        Service = "service",
        Staff = "staff",
        Date = "date",
        Time = "time",
        ReplyCodes = "reply_codes",
    }
}

wire_enum! {
    /// What a template's quick-reply button does when tapped: the same as typing C, R or X.
    QuickReply { Confirm = "confirm", Reschedule = "reschedule", Cancel = "cancel" }
}

impl QuickReply {
    /// The payload the button carries back (the reply code it stands for).
    pub fn payload(self) -> &'static str {
        match self {
            QuickReply::Confirm => "C",
            QuickReply::Reschedule => "R",
            QuickReply::Cancel => "X",
        }
    }
}

wire! {
    /// A reminder before every appointment, `minutes_before` its start. Whole days keep the
    /// local time ("1440": the same time the day before, across daylight-saving changes).
    #[derive(PartialEq, Eq)]
    pub struct ReminderRule {
        /// Stable name (`24h`, `2h`): a booking gets exactly one reminder per rule.
        pub id: String,
        pub minutes_before: u32,
    }

    /// No automated message is sent between `start` and `end` (local `HH:MM`, may wrap midnight).
    #[derive(PartialEq, Eq)]
    pub struct QuietHours {
        pub start: String,
        pub end: String,
    }

    /// An approved WhatsApp template for when WhatsApp's 24-hour window is closed: its name and
    /// language as approved by Meta, and what fills `{{1}}`, `{{2}}`, ...
    #[derive(PartialEq, Eq)]
    pub struct TemplateMapping {
        pub template_name: String,
        pub language: String,
        pub variables: Vec<TemplateVariable>,
        /// The template's quick-reply buttons, in their approved order: what each one does. A tap
        /// works exactly as the typed code (C, R, X); a "Cancel" button never opts anyone out.
        #[serde(default)]
        pub quick_replies: Vec<QuickReply>,
    }

    /// The texts, with `{customer_name}`, `{business_name}`, `{service}`, `{staff}`, `{date}`,
    /// `{time}` and `{reply_codes}` filled in.
    #[derive(PartialEq, Eq)]
    #[serde(default)]
    pub struct AutomationTexts {
        pub confirmation_created: String,
        pub confirmation_moved: String,
        pub confirmation_cancelled: String,
        pub reminder: String,
        /// The answer to "C".
        pub reply_confirmed: String,
        /// The answer to a reply about a booking that was cancelled.
        pub reply_cancelled_already: String,
        pub text_back: String,
        pub follow_up: String,
        /// To a customer staff marked a no-show, inviting them to book again.
        pub no_show: String,
    }

    /// Which approved template each kind of message uses outside WhatsApp's 24-hour window.
    /// Without one, such a message is not sent (and its run says why).
    #[derive(PartialEq, Eq, Default)]
    #[serde(default)]
    pub struct AutomationTemplates {
        pub confirmation: Option<TemplateMapping>,
        pub reminder: Option<TemplateMapping>,
        pub text_back: Option<TemplateMapping>,
        pub follow_up: Option<TemplateMapping>,
        pub no_show: Option<TemplateMapping>,
    }

    /// One step of a follow-up: this long after the customer's last message.
    #[derive(PartialEq, Eq)]
    pub struct FollowUpStep {
        pub delay_minutes: u32,
    }

    /// A business's automations (`GET|PATCH /v1/automations`).
    #[derive(PartialEq, Eq)]
    #[serde(default)]
    pub struct AutomationSettings {
        /// A message when a booking is made, moved or cancelled.
        pub confirmations: bool,
        pub reminders: bool,
        pub reminder_rules: Vec<ReminderRule>,
        pub quiet_hours: Option<QuietHours>,
        /// A text to callers nobody answered (at most one per caller per 12 hours).
        pub missed_call_text_back: bool,
        /// Follow-ups to customers who asked about booking and went quiet.
        pub follow_ups: bool,
        pub follow_up_steps: Vec<FollowUpStep>,
        /// A rebooking message, once, when staff mark a booking a no-show (off by default).
        pub no_show_rebooking: bool,
        pub texts: AutomationTexts,
        pub whatsapp_templates: AutomationTemplates,
    }

    /// One automated message, planned, sent or not sent.
    pub struct AutomationRun {
        pub id: String,
        pub business_id: BusinessId,
        pub kind: AutomationKind,
        /// The rule that planned it: `reminder:24h`, `confirmation:moved`, `follow_up:1`, ...
        pub rule: String,
        pub booking_id: Option<BookingId>,
        pub customer_id: CustomerId,
        pub conversation_id: Option<ConversationId>,
        pub due_at: Timestamp,
        pub status: AutomationStatus,
        /// Why it was not sent, or what stopped it.
        pub reason: Option<String>,
        pub message_id: Option<MessageId>,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }

    /// `POST /v1/automations/preview`'s answer.
    pub struct AutomationPreview {
        pub body: String,
    }
}

request! {
    /// Changes some of the settings; what is left out stays.
    #[derive(Default)]
    pub struct UpdateAutomationSettings {
        pub confirmations: Option<bool>,
        pub reminders: Option<bool>,
        pub reminder_rules: Option<Vec<ReminderRule>>,
        #[serde(default, deserialize_with = "crate::patch::field")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<QuietHours>))]
        pub quiet_hours: Option<Option<QuietHours>>,
        pub missed_call_text_back: Option<bool>,
        pub follow_ups: Option<bool>,
        pub follow_up_steps: Option<Vec<FollowUpStep>>,
        pub no_show_rebooking: Option<bool>,
        pub texts: Option<AutomationTexts>,
        pub whatsapp_templates: Option<AutomationTemplates>,
    }

    /// A text filled in as it would be sent: with a real booking's details (`booking_id`), or
    /// with example ones.
    pub struct PreviewAutomation {
        pub text: String,
        pub booking_id: Option<BookingId>,
    }
}

impl Default for AutomationTexts {
    fn default() -> Self {
        AutomationTexts {
            confirmation_created: "Hi {customer_name}, you're booked at {business_name}: {service} with {staff} on {date} at {time}. To change it, just reply here.".into(),
            confirmation_moved: "Hi {customer_name}, your {service} at {business_name} is now on {date} at {time} with {staff}. To change it, just reply here.".into(),
            confirmation_cancelled: "Hi {customer_name}, your {service} at {business_name} on {date} at {time} is cancelled. Reply here to book another time.".into(),
            reminder: "Hi {customer_name}, a reminder of your {service} at {business_name} on {date} at {time} with {staff}. {reply_codes}".into(),
            reply_confirmed: "Thanks {customer_name}, you're confirmed for {date} at {time}. See you then!".into(),
            reply_cancelled_already: "Your {service} on {date} at {time} was cancelled, so there is nothing to confirm. Reply here to book another time.".into(),
            text_back: "Sorry we missed your call at {business_name}! Reply here and we'll help you book.".into(),
            follow_up: "Hi {customer_name}, would you still like to book at {business_name}? Reply here and we'll find you a time.".into(),
            no_show: "Hi {customer_name}, we missed you at {business_name} for your {service} on {date}. Reply here and we'll find you a new time.".into(),
        }
    }
}

impl Default for AutomationSettings {
    fn default() -> Self {
        AutomationSettings {
            confirmations: true,
            reminders: true,
            reminder_rules: vec![ReminderRule { id: "24h".into(), minutes_before: 1440 }, ReminderRule { id: "2h".into(), minutes_before: 120 }],
            quiet_hours: Some(QuietHours { start: "21:00".into(), end: "08:00".into() }),
            missed_call_text_back: true,
            follow_ups: false,
            follow_up_steps: vec![FollowUpStep { delay_minutes: 24 * 60 }, FollowUpStep { delay_minutes: 3 * 24 * 60 }],
            no_show_rebooking: false,
            texts: AutomationTexts::default(),
            whatsapp_templates: AutomationTemplates::default(),
        }
    }
}

/// The line a reminder ends with: how to answer it. "CANCEL" and "STOP" are carriers' opt-out
/// words, so cancelling is X.
pub const REPLY_CODES: &str = "Reply C to confirm, R to reschedule or X to cancel.";
