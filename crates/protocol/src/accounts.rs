//! Signing up, signing in and staying signed in.

use crate::ids::{BusinessId, StaffId};

wire_enum! {
    /// What a staff member may do. Owners can do everything; admins manage the business but not its
    /// owners; agents handle customers and conversations.
    Role { Owner = "owner", Admin = "admin", Agent = "agent" }
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
        /// Short-lived JWT for `Authorization: Bearer`.
        pub access_token: String,
        /// Seconds until the access token expires.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub expires_in: u64,
        /// Single-use token for `POST /v1/auth/refresh`; each refresh returns a new one.
        pub refresh_token: String,
    }
}
