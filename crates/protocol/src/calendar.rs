//! Google Calendar, both ways: connecting a staff member's account (OAuth 2.0 for installed apps:
//! the system browser, a loopback redirect, PKCE), the calendars whose busy times block them, and
//! the tasks an outside move or delete of one of our events becomes.

use crate::ids::{BookingId, CalendarTaskId, StaffId};
use crate::Timestamp;

wire_enum! {
    CalendarConnectionStatus {
        Connected = "connected",
        /// Google refused to refresh the sign-in (revoked, expired, password changed): the person
        /// signs in again. Until then their availability follows their hours only.
        ReconnectNeeded = "reconnect_needed",
    }
}

request! {
    /// `POST /v1/staff/{id}/google-calendar/start`: begin signing in with Google in the system
    /// browser. The console makes a PKCE verifier, keeps it, and sends its S256 challenge.
    pub struct StartGoogleCalendar {
        /// The console's loopback address Google redirects to, `http://127.0.0.1:PORT/…`.
        pub redirect_uri: String,
        /// BASE64URL(SHA-256(code_verifier)), without padding.
        pub code_challenge: String,
    }
}

wire! {
    /// Open `auth_url` in the system browser; Google redirects to the loopback address with
    /// `code` and this `state`.
    pub struct GoogleCalendarAuthStart {
        pub auth_url: String,
        pub state: String,
    }
}

request! {
    /// `POST /v1/staff/{id}/google-calendar/finish`: what the loopback redirect brought back,
    /// and the verifier the console kept.
    pub struct FinishGoogleCalendar {
        pub state: String,
        pub code: String,
        pub code_verifier: String,
    }
}

request! {
    /// `PUT /v1/staff/{id}/google-calendar/calendars`: which of the account's calendars block
    /// this person's availability (Google calendar ids).
    pub struct ChooseCalendars {
        pub calendar_ids: Vec<String>,
    }
}

wire! {
    /// A staff member's Google Calendar connection, as Settings shows it. Never carries tokens.
    #[derive(PartialEq)]
    pub struct CalendarConnection {
        pub staff_id: StaffId,
        pub status: CalendarConnectionStatus,
        pub account_email: Option<String>,
        pub calendars: Vec<ConnectedCalendar>,
        /// The last time every chosen calendar was read successfully.
        pub last_sync_at: Option<Timestamp>,
        /// What went wrong, in plain words.
        pub error: Option<String>,
    }

    /// One calendar of the account.
    #[derive(PartialEq)]
    pub struct ConnectedCalendar {
        pub calendar_id: String,
        pub summary: String,
        pub primary: bool,
        /// Its busy times block the person.
        pub selected: bool,
        pub last_sync_at: Option<Timestamp>,
        pub error: Option<String>,
        /// Google tells us about changes as they happen (otherwise we look every few minutes).
        pub push: bool,
    }
}

wire_enum! {
    CalendarTaskKind {
        /// Someone moved our event in Google: apply the new time to the booking?
        Moved = "moved",
        /// Someone deleted our event in Google: cancel the booking?
        Deleted = "deleted",
    }
}

wire_enum! {
    CalendarTaskStatus { Open = "open", Applied = "applied", Dismissed = "dismissed" }
}

wire! {
    /// An outside change of one of our events, waiting for the front desk. Applying goes through
    /// the booking rules like any change; dismissing writes our booking back into Google.
    #[derive(PartialEq)]
    pub struct CalendarTask {
        pub id: CalendarTaskId,
        pub staff_id: StaffId,
        pub booking_id: BookingId,
        pub kind: CalendarTaskKind,
        pub new_start: Option<Timestamp>,
        pub new_end: Option<Timestamp>,
        /// "Sam moved Ada's 10:00 to 11:30 in Google Calendar — apply?"
        pub message: String,
        pub status: CalendarTaskStatus,
        pub created_at: Timestamp,
        pub resolved_at: Option<Timestamp>,
    }
}
