//! The owner's reports: figures for a range of the business's local days with the previous
//! period beside them, the rows behind each figure, and CSV exports. Definitions (versioned):
//! `docs/metrics.md`.

wire_enum! {
    /// A figure that can be drilled into: the conversations, bookings or calls it counts.
    ReportFigure {
        Conversations = "conversations",
        HandledByAssistant = "handled_by_assistant",
        HandedOver = "handed_over",
        TakenOver = "taken_over",
        Reopened = "reopened",
        /// Episodes a person answered after a handover (the wait-for-a-person times).
        WaitForPerson = "wait_for_person",
        /// Episodes with a measured first human response.
        FirstResponse = "first_response",
        Bookings = "bookings",
        Cancelled = "cancelled",
        /// Appointments in the range with a known outcome (completed or no-show).
        Attended = "attended",
        NoShows = "no_shows",
        /// Bookings whose first reminder was sent in the range.
        Reminded = "reminded",
        /// Of those, the ones confirmed / cancelled by a reply to a reminder.
        ReminderConfirmed = "reminder_confirmed",
        ReminderCancelled = "reminder_cancelled",
        /// Calls nobody answered in the range (listed as calls).
        MissedCalls = "missed_calls",
        /// Text-backs sent in the range (listed as the calls they answered).
        TextBacks = "text_backs",
        /// Of the range's missed calls, those a booking recovered (listed as calls).
        Recovered = "recovered",
    }
}

wire_enum! {
    /// How a conversation episode was handled; the three parts add up to all episodes.
    Handling { Assistant = "assistant", HandedOver = "handed_over", TakenOver = "taken_over" }
}

wire! {
    /// The headline figures of one period. Durations are whole seconds; `*_pct` are percentages
    /// (0–100, one decimal) and `None` when their denominator is 0.
    pub struct ReportFigures {
        /// Local dates, inclusive.
        pub from: String,
        pub to: String,
        pub conversations: u32,
        pub handled_by_assistant: u32,
        pub handed_over: u32,
        pub taken_over: u32,
        /// Shares of `conversations`; the three always add up to exactly 100.0.
        pub handled_by_assistant_pct: Option<f64>,
        pub handed_over_pct: Option<f64>,
        pub taken_over_pct: Option<f64>,
        pub reopened: u32,
        pub ai_replies: u32,
        pub human_replies: u32,
        pub wait_for_person_count: u32,
        pub wait_for_person_p50_secs: Option<u32>,
        pub wait_for_person_p90_secs: Option<u32>,
        pub first_response_count: u32,
        pub first_response_p50_secs: Option<u32>,
        pub first_response_p90_secs: Option<u32>,
        /// The same first responses, counting only the business's opening hours.
        pub first_response_business_p50_secs: Option<u32>,
        pub first_response_business_p90_secs: Option<u32>,
        pub bookings: u32,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub booked_value_cents: i64,
        pub cancelled: u32,
        pub cancellation_pct: Option<f64>,
        pub attended: u32,
        pub no_shows: u32,
        pub no_show_pct: Option<f64>,
        /// Bookings whose first reminder was sent in the period (a booking sent two reminders
        /// counts once), and of those the ones the customer confirmed / cancelled by replying
        /// to a reminder.
        pub reminded: u32,
        pub reminder_confirmed: u32,
        pub reminder_confirmed_pct: Option<f64>,
        pub reminder_cancelled: u32,
        pub reminder_cancelled_pct: Option<f64>,
        /// Calls nobody answered in the period, and the text-backs sent in it.
        pub missed_calls: u32,
        pub text_backs: u32,
        /// Of the period's missed calls, those followed by a booking of the caller within 7 days.
        pub recovered: u32,
        pub recovered_pct: Option<f64>,
    }

    /// One local day of the current period.
    pub struct ReportDay {
        pub date: String,
        pub conversations: u32,
        pub handled_by_assistant: u32,
        pub handed_over: u32,
        pub taken_over: u32,
        pub bookings: u32,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub booked_value_cents: i64,
    }

    /// A figure split by one dimension (a channel, a source, a service, a person).
    pub struct ReportBreakdown {
        pub key: String,
        pub label: String,
        pub count: u32,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub value_cents: i64,
    }

    /// What one person did in the period.
    pub struct StaffReport {
        pub staff_id: String,
        pub name: String,
        /// Episodes of the period they replied in.
        pub conversations: u32,
        /// Their replies sent in the period.
        pub replies: u32,
        pub reply_p50_secs: Option<u32>,
        pub reply_p90_secs: Option<u32>,
        pub bookings: u32,
    }

    /// `GET /v1/reports/summary`.
    pub struct ReportSummary {
        /// The version of docs/metrics.md these figures follow.
        pub definitions_version: String,
        pub timezone: String,
        pub currency: String,
        pub current: ReportFigures,
        pub previous: ReportFigures,
        pub days: Vec<ReportDay>,
        pub conversations_by_channel: Vec<ReportBreakdown>,
        pub bookings_by_source: Vec<ReportBreakdown>,
        pub bookings_by_channel: Vec<ReportBreakdown>,
        pub bookings_by_service: Vec<ReportBreakdown>,
        pub bookings_by_staff: Vec<ReportBreakdown>,
        pub staff: Vec<StaffReport>,
    }

    /// One conversation episode behind a figure (also a CSV row).
    pub struct ReportConversationRow {
        pub conversation_id: String,
        /// When this episode began (opened, or reopened).
        pub opened_at: String,
        /// Its local date.
        pub date: String,
        pub channel: String,
        pub reopened: bool,
        pub handling: Handling,
        pub customer_name: Option<String>,
        pub ai_replies: u32,
        pub human_replies: u32,
        pub first_response_secs: Option<u32>,
        pub first_response_business_secs: Option<u32>,
        pub wait_for_person_secs: Option<u32>,
        /// Names of the people who replied, in order of their first reply.
        pub staff: Vec<String>,
        pub resolved: bool,
    }

    /// One booking behind a figure (also a CSV row).
    pub struct ReportBookingRow {
        pub booking_id: String,
        pub made_at: String,
        pub made_date: String,
        /// The appointment's start now (after any moves), and its local date.
        pub starts_at: String,
        pub starts_date: String,
        pub source: String,
        pub channel: Option<String>,
        pub service_id: String,
        pub service: String,
        pub staff_id: String,
        pub staff: String,
        #[cfg_attr(feature = "ts", ts(type = "number"))]
        pub value_cents: i64,
        /// `booked`, `cancelled`, `completed` or `no_show`.
        pub outcome: String,
        pub moves: u32,
    }

    /// One call behind a figure (also a CSV row): a missed call (`missed_calls`, `recovered`),
    /// or the missed call a text-back answered (`text_backs`: one row per text-back).
    pub struct ReportCallRow {
        /// The call: its provider and the provider's id of it (`twilio:CA…`).
        pub call_id: String,
        /// When the call was missed, and its local date.
        pub called_at: String,
        pub date: String,
        pub customer_id: String,
        pub customer_name: Option<String>,
        pub customer_phone: Option<String>,
        /// The text-back sent for this call (when, on which channel), if one was sent.
        pub text_back_sent_at: Option<String>,
        pub text_back_channel: Option<String>,
        /// The booking that recovered the call (the caller's first within 7 days), and when it
        /// was made.
        pub recovered_by_booking_id: Option<String>,
        pub booked_at: Option<String>,
    }

    /// `GET /v1/reports/rows`: exactly the rows a figure counts — conversation episodes,
    /// bookings or calls, as the figure counts them (the other two lists are empty).
    pub struct ReportRows {
        pub figure: ReportFigure,
        pub conversations: Vec<ReportConversationRow>,
        pub bookings: Vec<ReportBookingRow>,
        /// Added with the call figures: empty from a service that lists no calls.
        #[serde(default)]
        pub calls: Vec<ReportCallRow>,
    }
}
