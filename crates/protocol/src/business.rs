//! The business, its staff and invitations, and its audit log.

use crate::ids::{AuditEntryId, BusinessId, InvitationId, StaffId};
use crate::{Role, Timestamp};

wire! {
    #[derive(PartialEq)]
    pub struct Business {
        pub id: BusinessId,
        pub name: String,
        pub timezone: String,
        /// BCP 47 (`en-GB`); a new business gets its time zone's (see `country`).
        pub locale: String,
        /// ISO 4217 (`GBP`); a new business gets its time zone's country's.
        pub currency: String,
        /// ISO 3166-1 alpha-2 (`GB`): where national phone numbers (`07911 123456`) are read.
        /// The region of `locale`, or, when it names none, the country of `timezone`; `null` for
        /// zones of no country (`UTC`). Change it by setting a `locale` with a region.
        #[serde(default)]
        pub country: Option<String>,
        /// How long a customer waiting for a person may wait before the console shows it as
        /// late (the queue colours waiting times against it).
        #[serde(default = "default_wait_target")]
        pub wait_target_minutes: u32,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    #[derive(Default)]
    pub struct UpdateBusiness {
        pub name: Option<String>,
        pub timezone: Option<String>,
        /// BCP 47 language tag, e.g. `en-GB`.
        pub locale: Option<String>,
        /// ISO 4217 code, e.g. `EUR`.
        pub currency: Option<String>,
        /// 1 to 1440.
        pub wait_target_minutes: Option<u32>,
    }
}

fn default_wait_target() -> u32 {
    5
}

wire! {
    #[derive(PartialEq)]
    pub struct Staff {
        pub id: StaffId,
        pub business_id: BusinessId,
        pub name: String,
        pub email: String,
        pub role: Role,
        pub active: bool,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

wire! {
    /// `GET /v1/me`: the signed-in staff member, and what their role lets them do.
    pub struct Me {
        #[serde(flatten)]
        pub staff: Staff,
        pub permissions: Vec<crate::accounts::Permission>,
    }
}

request! {
    #[derive(Default)]
    pub struct UpdateStaff {
        pub name: Option<String>,
        pub role: Option<Role>,
        /// `false` deactivates the staff member and ends all their sessions.
        pub active: Option<bool>,
    }
}

request! {
    pub struct CreateInvitation {
        pub email: String,
        pub role: Role,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct Invitation {
        pub id: InvitationId,
        pub email: String,
        pub role: Role,
        pub invited_by: StaffId,
        pub created_at: Timestamp,
        pub expires_at: Timestamp,
        pub accepted_at: Option<Timestamp>,
    }
}

wire! {
    /// Returned once, when the invitation is created: the token is never shown again.
    pub struct CreatedInvitation {
        pub invitation: Invitation,
        /// One-time token for `POST /v1/auth/accept-invitation`.
        pub token: String,
    }
}

wire! {
    /// One line of the business's audit log.
    #[derive(PartialEq)]
    pub struct AuditEntry {
        pub id: AuditEntryId,
        /// Who did it; `null` for the service itself (the assistant, a webhook).
        pub actor_staff_id: Option<StaffId>,
        /// E.g. `staff.updated`, `booking.cancelled`, `invitation.accepted`.
        pub action: String,
        pub target_kind: Option<String>,
        pub target_id: Option<String>,
        #[cfg_attr(feature = "openapi", schema(value_type = Object))]
        pub detail: serde_json::Value,
        pub created_at: Timestamp,
    }
}

wire! {
    /// How long the business keeps things (`null`: for ever).
    #[derive(PartialEq, Default)]
    pub struct RetentionPolicy {
        /// Conversations with no activity for this many months (of 30 days) are deleted.
        pub conversations_months: Option<u32>,
        /// Call recordings and transcripts older than this many days are removed (the call's
        /// line in the timeline stays).
        pub recordings_days: Option<u32>,
    }
}

request! {
    /// `PUT /v1/retention`: the whole policy, as [`RetentionPolicy`]. Unknown fields are refused:
    /// a misspelt setting must not reset the policy to "for ever".
    pub struct SetRetentionPolicy {
        pub conversations_months: Option<u32>,
        pub recordings_days: Option<u32>,
    }
}

impl From<SetRetentionPolicy> for RetentionPolicy {
    fn from(set: SetRetentionPolicy) -> RetentionPolicy {
        RetentionPolicy { conversations_months: set.conversations_months, recordings_days: set.recordings_days }
    }
}

wire! {
    /// What the next retention run deletes, exactly (a dry run).
    #[derive(PartialEq)]
    pub struct RetentionPlan {
        pub conversation_ids: Vec<crate::ids::ConversationId>,
        /// Calls whose recording and transcript go.
        pub recording_message_ids: Vec<crate::ids::MessageId>,
    }
}

// ---------------------------------------------------------------------------------------------
// First run: the short setup a new business goes through after signing up.

wire_enum! {
    /// One step of the first-run setup, in the order the console offers them.
    SetupStep {
        Timezone = "timezone",
        Hours = "hours",
        Services = "services",
        Staff = "staff",
        Channel = "channel",
    }
}

wire_enum! {
    /// Where a setup step stands: `todo`, `done` (saved in the setup, or already true of the
    /// business: a service exists, a colleague is invited, a channel is connected) or `skipped`
    /// (for later; it can be resumed at any time).
    SetupState {
        Todo = "todo",
        Done = "done",
        Skipped = "skipped",
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct SetupStepStatus {
        pub step: SetupStep,
        pub state: SetupState,
    }
}

wire! {
    /// `GET /v1/setup`: every step in order. `complete` when none is left to do (skipped ones
    /// count as handled; the console stops offering the setup but keeps it reachable).
    #[derive(PartialEq)]
    pub struct SetupProgress {
        pub steps: Vec<SetupStepStatus>,
        pub complete: bool,
    }
}

request! {
    /// `PATCH /v1/setup`: mark one step done, skipped, or to do again (resume).
    pub struct UpdateSetupStep {
        pub step: SetupStep,
        pub state: SetupState,
    }
}
