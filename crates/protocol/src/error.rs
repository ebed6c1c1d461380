//! The one error body every endpoint answers with, and the stable codes it carries.

use crate::ids::StaffId;

wire_enum! {
    /// Stable, machine-readable error codes (README lists when each is given). A client should
    /// act on the code, never on the message. Codes this build does not know read as `unknown`.
    ErrorCode {
        // The request itself.
        InvalidJson = "invalid_json",
        InvalidBody = "invalid_body",
        ValidationFailed = "validation_failed",
        InvalidPhone = "invalid_phone",
        UnsupportedMediaType = "unsupported_media_type",
        PayloadTooLarge = "payload_too_large",
        RequestTimeout = "request_timeout",
        InvalidQuery = "invalid_query",
        InvalidPath = "invalid_path",
        InvalidCursor = "invalid_cursor",
        RouteNotFound = "route_not_found",
        MethodNotAllowed = "method_not_allowed",
        // Who is asking.
        MissingToken = "missing_token",
        InvalidToken = "invalid_token",
        TokenExpired = "token_expired",
        SessionRevoked = "session_revoked",
        AccountDeactivated = "account_deactivated",
        InvalidCredentials = "invalid_credentials",
        InvalidRefreshToken = "invalid_refresh_token",
        RefreshTokenReused = "refresh_token_reused",
        RefreshTokenExpired = "refresh_token_expired",
        Forbidden = "forbidden",
        RateLimited = "rate_limited",
        InvitationInvalid = "invitation_invalid",
        InvitationExpired = "invitation_expired",
        /// The password was right; now a code (`details.challenge` goes to `/v1/auth/two-factor`).
        TwoFactorRequired = "two_factor_required",
        /// The business requires two-factor sign-in and this person has none yet: enrol first
        /// (`details.challenge` goes to `/v1/auth/two-factor/enrol`).
        TwoFactorEnrolmentRequired = "two_factor_enrolment_required",
        /// A wrong, reused or expired two-factor or recovery code.
        InvalidCode = "invalid_code",
        /// A sensitive action: prove it is you again (`POST /v1/me/reauthenticate`).
        ReauthenticationRequired = "reauthentication_required",
        /// A password-reset, verification or sign-in link that is unknown or was used.
        LinkInvalid = "link_invalid",
        LinkExpired = "link_expired",
        TwoFactorAlreadyEnabled = "two_factor_already_enabled",
        TwoFactorNotEnabled = "two_factor_not_enabled",
        // What it names.
        NotFound = "not_found",
        AlreadyExists = "already_exists",
        EmailTaken = "email_taken",
        CustomerExists = "customer_exists",
        ShortcutTaken = "shortcut_taken",
        LastOwner = "last_owner",
        ExceptionExists = "exception_exists",
        AddressInUse = "address_in_use",
        TemplateExists = "template_exists",
        // Scheduling.
        SlotTaken = "slot_taken",
        VersionConflict = "version_conflict",
        OutsideHours = "outside_hours",
        NotOnGrid = "not_on_grid",
        TooSoon = "too_soon",
        TooFarAhead = "too_far_ahead",
        NonexistentTime = "nonexistent_time",
        AmbiguousTime = "ambiguous_time",
        InvalidTime = "invalid_time",
        UnknownCustomer = "unknown_customer",
        UnknownService = "unknown_service",
        UnknownStaff = "unknown_staff",
        StaffCannotPerform = "staff_cannot_perform",
        ServiceInactive = "service_inactive",
        InvalidTransition = "invalid_transition",
        InvalidHours = "invalid_hours",
        InvalidRange = "invalid_range",
        // Conversations and sending.
        AlreadyHeld = "already_held",
        /// A conversation was assigned to a colleague who is no longer active.
        StaffInactive = "staff_inactive",
        CustomerOptedOut = "customer_opted_out",
        ChannelNotConfigured = "channel_not_configured",
        WhatsappWindowClosed = "whatsapp_window_closed",
        CannotReplyHere = "cannot_reply_here",
        UnknownTemplate = "unknown_template",
        UnknownCannedResponse = "unknown_canned_response",
        /// A file larger than the channel takes (`details`: `limit_bytes`, `size`, `channel`).
        MediaTooLarge = "media_too_large",
        /// A kind of file the channel does not take (`details`: `content_type`, `allowed`, `channel`).
        MediaTypeNotAllowed = "media_type_not_allowed",
        // Webhooks.
        MissingSignature = "missing_signature",
        InvalidSignature = "invalid_signature",
        StaleSignature = "stale_signature",
        InvalidPayload = "invalid_payload",
        InvalidVerifyToken = "invalid_verify_token",
        // Google Calendar.
        CalendarNotConfigured = "calendar_not_configured",
        CalendarNotConnected = "calendar_not_connected",
        InvalidOauthState = "invalid_oauth_state",
        GoogleRefused = "google_refused",
        GoogleUnavailable = "google_unavailable",
        TaskResolved = "task_resolved",
        // Sync.
        ResyncRequired = "resync_required",
        UnknownMutation = "unknown_mutation",
        // The service.
        Timeout = "timeout",
        DatabaseUnavailable = "database_unavailable",
        ShuttingDown = "shutting_down",
        Internal = "internal",
        /// A code from a newer service than this client knows.
        #[serde(other)]
        Unknown = "unknown",
    }
}

wire! {
    /// The one error body every endpoint answers with.
    #[derive(PartialEq)]
    pub struct ErrorBody {
        pub error: ErrorDetail,
    }

    #[derive(PartialEq)]
    pub struct ErrorDetail {
        pub code: ErrorCode,
        /// A sentence for people.
        pub message: String,
        /// Machine-readable context for some codes: `slot_taken` carries `{"alternatives": [...]}`,
        /// `version_conflict` carries `{"current": {...}}`, `already_held` the holder.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
        pub details: Option<serde_json::Value>,
    }
}

wire! {
    /// `details` of `already_held`: who has the conversation.
    #[derive(PartialEq)]
    pub struct HeldBy {
        pub holder_staff_id: StaffId,
        pub holder_name: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_unknown_ones_are_tolerated() {
        for code in ErrorCode::ALL {
            let json = serde_json::to_string(code).unwrap();
            assert_eq!(json, format!("\"{}\"", code.as_str()));
            assert_eq!(serde_json::from_str::<ErrorCode>(&json).unwrap(), *code);
        }
        assert_eq!(serde_json::from_str::<ErrorCode>("\"from_the_future\"").unwrap(), ErrorCode::Unknown);
    }
}
