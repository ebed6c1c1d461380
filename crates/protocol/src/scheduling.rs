//! Scheduling: opening and working hours, exceptions, booking rules, availability, bookings and
//! calendar feeds.

use crate::ids::{BookingId, BusinessId, CalendarFeedId, CustomerId, ScheduleExceptionId, ServiceId, StaffId};
use crate::Timestamp;

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

request! {
    /// An open interval of a day in local wall-clock time, `HH:MM`–`HH:MM` (`24:00` ends at midnight).
    #[derive(PartialEq, Eq)]
    pub struct HoursInterval {
        pub start: String,
        pub end: String,
    }
}

request! {
    /// Opening (or working) hours for each weekday; a day with no intervals is closed.
    #[derive(Default, PartialEq, Eq)]
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
}

wire! {
    /// Something wrong with a day's hours, in the service's words ("Tuesday: 17:00–09:00 closes
    /// before it opens"): what `invalid_hours` lists in `details.problems`, and what
    /// `POST /v1/schedule/check-hours` answers while someone edits them.
    #[derive(PartialEq, Eq)]
    pub struct HoursProblem {
        /// The weekday (`monday` …) or date (`2026-12-24`) it is about.
        pub day: String,
        pub message: String,
    }
}

wire! {
    /// `POST /v1/schedule/check-hours`: what would be refused in these hours (empty: they can be
    /// saved).
    pub struct HoursCheck {
        pub problems: Vec<HoursProblem>,
    }
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

request! {
    /// A staff member's working hours; `hours: null` means "whenever the business is open".
    #[derive(PartialEq)]
    pub struct StaffHours {
        pub hours: Option<WeeklyHours>,
        /// `false` takes the person out of online booking (they can still be booked by staff).
        #[serde(default = "crate::yes")]
        pub bookable: bool,
    }
}

wire! {
    /// A date that differs from the usual week: closed, or special hours. Without `staff_id` it is
    /// the whole business's.
    #[derive(PartialEq)]
    pub struct ScheduleException {
        pub id: ScheduleExceptionId,
        pub business_id: BusinessId,
        pub staff_id: Option<StaffId>,
        /// Local date, `YYYY-MM-DD`.
        pub date: String,
        pub closed: bool,
        pub hours: Vec<HoursInterval>,
        pub note: String,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    pub struct CreateScheduleException {
        pub staff_id: Option<StaffId>,
        pub date: String,
        #[serde(default)]
        pub closed: bool,
        #[serde(default)]
        pub hours: Vec<HoursInterval>,
        #[serde(default)]
        pub note: String,
    }
}

wire! {
    /// Booking rules: the business's defaults, overridable per service.
    #[derive(PartialEq, Eq)]
    pub struct BookingRules {
        /// How long before an appointment it can still be booked online.
        pub min_notice_minutes: u32,
        /// How far ahead it can be booked.
        pub max_advance_days: u32,
        /// Distance between offered start times.
        pub slot_interval_minutes: u32,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct BusinessSchedule {
        pub timezone: String,
        pub opening_hours: WeeklyHours,
        pub rules: BookingRules,
    }
}

request! {
    #[derive(Default)]
    pub struct UpdateBusinessSchedule {
        pub opening_hours: Option<WeeklyHours>,
        pub min_notice_minutes: Option<u32>,
        pub max_advance_days: Option<u32>,
        pub slot_interval_minutes: Option<u32>,
    }
}

wire! {
    /// A free appointment time.
    #[derive(PartialEq)]
    pub struct AvailableSlot {
        /// UTC.
        pub start: Timestamp,
        pub end: Timestamp,
        /// The same instants in the business's zone, RFC 9557 (e.g. `2026-03-09T09:00:00-04:00[America/New_York]`).
        pub local_start: String,
        pub local_end: String,
        /// Who is free then.
        pub staff_ids: Vec<StaffId>,
    }
}

wire! {
    pub struct Availability {
        pub service_id: ServiceId,
        pub timezone: String,
        pub slots: Vec<AvailableSlot>,
        /// Why some people's free times may be wrong (a Google Calendar that needs reconnecting:
        /// their times follow business hours only).
        #[serde(default)]
        pub warnings: Vec<AvailabilityWarning>,
    }

    /// A person whose calendar could not be read: their free times follow their hours only.
    #[derive(PartialEq)]
    pub struct AvailabilityWarning {
        pub staff_id: StaffId,
        /// `calendar_reconnect_needed`.
        pub code: String,
        pub message: String,
    }
}

wire! {
    /// Whether an exact time is free, and if not, the nearest free times.
    pub struct AvailabilityCheck {
        pub available: bool,
        /// When not available: `slot_taken`, `outside_hours`, `too_soon` or `too_far_ahead`.
        pub reason: Option<String>,
        /// When not available: why, in the service's words (what a booking would be refused with).
        #[serde(default)]
        pub message: Option<String>,
        pub slot: Option<AvailableSlot>,
        pub alternatives: Vec<AvailableSlot>,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct Booking {
        pub id: BookingId,
        pub business_id: BusinessId,
        pub customer_id: CustomerId,
        pub service_id: ServiceId,
        pub staff_id: StaffId,
        /// UTC.
        pub start: Timestamp,
        pub end: Timestamp,
        /// In the business's zone, RFC 9557.
        pub local_start: String,
        pub local_end: String,
        pub status: BookingStatus,
        pub source: BookingSource,
        pub notes: String,
        /// Bumped by every change; send it back as `expected_version`.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub version: i64,
        pub created_by_staff_id: Option<StaffId>,
        pub cancel_reason: Option<String>,
        /// Whether the customer said they will come (a reply to a reminder, or staff for them).
        #[serde(default)]
        pub confirmation: crate::BookingConfirmation,
        pub created_at: Timestamp,
        pub updated_at: Timestamp,
    }
}

request! {
    pub struct CreateBooking {
        pub customer_id: CustomerId,
        pub service_id: ServiceId,
        /// Leave out to let Switchboard choose among the free staff (fair rotation).
        pub staff_id: Option<StaffId>,
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
}

request! {
    /// Reschedule, reassign, confirm, complete, mark no-show, cancel or edit notes.
    pub struct UpdateBooking {
        /// The `version` you last saw; a stale one gets `version_conflict`.
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub expected_version: i64,
        pub start: Option<String>,
        pub staff_id: Option<StaffId>,
        pub status: Option<BookingStatus>,
        pub notes: Option<String>,
        pub cancel_reason: Option<String>,
        /// Staff record that the customer said they will come (or that they have not, yet).
        pub confirmation: Option<crate::BookingConfirmation>,
    }
}

wire! {
    #[derive(PartialEq)]
    pub struct CalendarFeed {
        pub id: CalendarFeedId,
        /// Without it, the feed carries the whole business's bookings.
        pub staff_id: Option<StaffId>,
        pub created_at: Timestamp,
    }
}

request! {
    pub struct CreateCalendarFeed {
        pub staff_id: Option<StaffId>,
    }
}

wire! {
    /// Returned once: the subscription URL contains the secret token.
    pub struct CreatedCalendarFeed {
        pub feed: CalendarFeed,
        /// Paste into Google, Apple or Outlook calendar ("subscribe by URL").
        pub url: String,
    }
}

