//! Signing up, signing in and staying signed in.

use crate::ids::{BusinessId, StaffId};

wire_enum! {
    /// What a staff member may do. Owners can do everything; admins manage the business but not its
    /// owners; agents handle customers and conversations.
    Role { Owner = "owner", Admin = "admin", Agent = "agent" }
}

wire_enum! {
    /// Something a role allows. Which role allows what is the service's rule alone: it sends
    /// the signed-in person's list (sign-in, `GET /v1/me`, the sync welcome) and the console
    /// shows or hides things by these names, never by the role.
    Permission {
        /// Answer customers, handle conversations, edit customers, write notes, book.
        HandleConversations = "handle_conversations",
        /// Services, canned responses.
        ManageCatalog = "manage_catalog",
        /// Business settings: hours, the assistant, automations, channels, the audit log.
        ManageBusiness = "manage_business",
        /// Invite, change and deactivate staff; their hours, calendars and feeds.
        ManageStaff = "manage_staff",
        /// Delete customers and conversations.
        DeleteData = "delete_data",
        /// Make or unmake owners.
        ManageOwners = "manage_owners",
        /// The reports (figures, their rows, CSV exports).
        ViewReports = "view_reports",
    }
}

request! {
    pub struct SignupRequest {
        pub business_name: String,
        /// IANA time zone of the business, e.g. `Europe/London`.
        pub timezone: String,
        pub name: String,
        pub email: String,
        pub password: String,
    }
}

request! {
    pub struct LoginRequest {
        pub email: String,
        pub password: String,
    }
}

request! {
    pub struct RefreshRequest {
        pub refresh_token: String,
    }
}

request! {
    #[derive(Default)]
    pub struct LogoutRequest {
        /// The session to end. Without it, the session of the bearer token is ended.
        #[serde(default)]
        pub refresh_token: Option<String>,
    }
}

request! {
    pub struct AcceptInvitationRequest {
        pub token: String,
        pub name: String,
        pub password: String,
    }
}

wire! {
    /// Tokens issued by signup, login, refresh and accepting an invitation.
    pub struct AuthTokens {
        pub business_id: BusinessId,
        pub staff_id: StaffId,
        pub role: Role,
        /// What this role may do (the console shows and hides by these).
        #[serde(default)]
        pub permissions: Vec<Permission>,
        /// Short-lived JWT for `Authorization: Bearer`.
        pub access_token: String,
        /// Seconds until the access token expires.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub expires_in: u64,
        /// Single-use token for `POST /v1/auth/refresh`; each refresh returns a new one.
        pub refresh_token: String,
    }
}

// ---------------------------------------------------------------------------------------------
// Account security: two-factor sign-in, re-authentication, passwords, email verification.

request! {
    /// The second step of signing in (after `two_factor_required`), or of enrolling (after
    /// `two_factor_enrolment_required`): the challenge from the error's details and a code from
    /// the authenticator app (or, to sign in, one of the recovery codes).
    pub struct TwoFactorChallengeRequest {
        pub challenge: String,
        #[serde(default)]
        pub code: Option<String>,
    }
}

wire! {
    /// A new authenticator secret, shown once while enrolling: add it to an authenticator app
    /// (type the secret, or open the `otpauth://` link as a QR code), then confirm with a code.
    pub struct TwoFactorSetup {
        /// Base32, as authenticator apps take it.
        pub secret: String,
        pub otpauth_url: String,
    }
}

request! {
    pub struct ConfirmTwoFactorRequest {
        pub code: String,
    }
}

wire! {
    /// Recovery codes, shown this once: each signs in once when the authenticator is lost.
    pub struct RecoveryCodes {
        pub recovery_codes: Vec<String>,
    }
}

wire! {
    /// Enrolment finished at sign-in: the session's tokens and the recovery codes (shown once).
    pub struct EnrolledSignIn {
        pub tokens: AuthTokens,
        pub recovery_codes: Vec<String>,
    }
}

request! {
    /// Proves it is still you before a sensitive action: the password, or a current code when
    /// two-factor sign-in is on.
    #[derive(Default)]
    pub struct ReauthenticateRequest {
        #[serde(default)]
        pub password: Option<String>,
        #[serde(default)]
        pub code: Option<String>,
    }
}

request! {
    pub struct ChangePasswordRequest {
        pub current_password: String,
        pub new_password: String,
    }
}

request! {
    pub struct PasswordResetRequest {
        pub email: String,
    }
}

request! {
    pub struct ConfirmPasswordResetRequest {
        pub token: String,
        pub new_password: String,
    }
}

request! {
    pub struct VerifyEmailRequest {
        pub token: String,
    }
}

wire! {
    /// A one-time link for someone else: mailed when the service has SMTP, otherwise returned
    /// here to hand over.
    pub struct Handover {
        pub mailed: bool,
        /// Only when it was not mailed.
        pub link: Option<String>,
    }
}

wire! {
    /// How the signed-in person's account is protected.
    pub struct AccountSecurity {
        pub email_verified: bool,
        pub two_factor_enabled: bool,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub recovery_codes_left: u32,
        /// Sensitive actions are allowed without asking again until then.
        pub reauthenticated_until: Option<crate::Timestamp>,
        /// The business requires two-factor sign-in of everyone.
        pub business_requires_two_factor: bool,
    }
}

wire! {
    pub struct SecuritySettings {
        /// Everyone must sign in with a second factor; staff without one must enrol at sign-in.
        pub require_two_factor: bool,
    }
}

request! {
    pub struct UpdateSecuritySettings {
        pub require_two_factor: bool,
    }
}
