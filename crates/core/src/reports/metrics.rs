//! The figures, computed from outcome rows with no database in sight, so that the summary, the
//! rows behind each figure and the CSV exports are the same computation and cannot disagree.
//! Every definition here is written out in `docs/metrics.md` (version [`DEFINITIONS_VERSION`]);
//! change one only together with that file and a new version.

use std::collections::{BTreeMap, HashMap};

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;
use protocol::{Handling, ReportFigure};

pub const DEFINITIONS_VERSION: &str = "2";

/// One outcome row, as read for the reports.
#[derive(Debug, Clone, Default)]
pub struct Row {
    pub id: String,
    pub kind: String,
    pub at: i64,
    pub conversation_id: Option<String>,
    pub episode_at: Option<i64>,
    pub booking_id: Option<String>,
    pub channel: Option<String>,
    pub staff_id: Option<String>,
    pub source: Option<String>,
    pub service_id: Option<String>,
    pub value_cents: Option<i64>,
    pub starts_at: Option<i64>,
    pub since_at: Option<i64>,
}

/// A range of the business's local days, `from` to `to` inclusive, as instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: Date,
    pub to: Date,
    pub start_ms: i64,
    pub end_ms: i64,
}

fn day_start(date: Date, tz: &TimeZone) -> i64 {
    // The first instant of a local day (jiff resolves a day that starts in a gap to its first
    // existing instant).
    date.to_zoned(tz.clone()).map(|z| z.timestamp().as_millisecond()).unwrap_or(0)
}

impl Range {
    pub fn new(from: Date, to: Date, tz: &TimeZone) -> Range {
        let end = to.tomorrow().unwrap_or(to);
        Range { from, to, start_ms: day_start(from, tz), end_ms: day_start(end, tz) }
    }

    pub fn days(&self) -> i64 {
        (self.to - self.from).get_days() as i64 + 1
    }

    /// The same number of days just before.
    pub fn previous(&self, tz: &TimeZone) -> Range {
        let to = self.from.yesterday().unwrap_or(self.from);
        let from = to.checked_sub(jiff::Span::new().days(self.days() - 1)).unwrap_or(to);
        Range::new(from, to, tz)
    }

    pub fn contains(&self, ms: i64) -> bool {
        self.start_ms <= ms && ms < self.end_ms
    }
}

/// The local date of an instant.
pub fn local_date(ms: i64, tz: &TimeZone) -> Date {
    Timestamp::from_millisecond(ms).map(|t| t.to_zoned(tz.clone()).date()).unwrap_or_default()
}

/// The range cut into stretches of one local date each, `(start, end, date)`, tiling
/// `[start_ms, end_ms)`: every instant `t` of a stretch has `local_date(t) == date`, also where
/// the clocks go back across midnight and a local date comes round twice (Chile). Grouping by
/// these stretches in SQL gives exactly the days [`Period::days`] puts instants in.
pub fn local_day_intervals(range: Range, tz: &TimeZone) -> Vec<(i64, i64, Date)> {
    const DAY: i64 = 86_400_000;
    let mut cuts = vec![range.start_ms, range.end_ms];
    // Between two changes of the offset, the local date changes only at local midnight.
    let mut ends = Vec::new();
    if let Ok(start) = Timestamp::from_millisecond(range.start_ms) {
        for t in tz.following(start) {
            let ms = t.timestamp().as_millisecond();
            if ms >= range.end_ms {
                break;
            }
            ends.push(ms);
        }
    }
    ends.push(range.end_ms);
    let mut from = range.start_ms;
    for end in ends {
        let offset = Timestamp::from_millisecond(from).map(|t| i64::from(tz.to_offset(t).seconds()) * 1000).unwrap_or(0);
        let mut midnight = (from + offset).div_euclid(DAY) * DAY - offset;
        if midnight < from {
            midnight += DAY;
        }
        while midnight < end {
            cuts.push(midnight);
            midnight += DAY;
        }
        cuts.push(end);
        from = end;
    }
    cuts.retain(|c| (range.start_ms..=range.end_ms).contains(c));
    cuts.sort_unstable();
    cuts.dedup();
    cuts.windows(2).map(|w| (w[0], w[1], local_date(w[0], tz))).collect()
}

/// The business's opening hours: seven lists (Monday first) of `[start, end]` minutes since
/// local midnight.
pub type OpeningHours = Vec<Vec<[u16; 2]>>;

/// How much of `[from, to)` falls in opening hours, in milliseconds (time-zone and DST correct:
/// each interval is placed on its local day).
pub fn open_ms_between(from: i64, to: i64, hours: &OpeningHours, tz: &TimeZone) -> i64 {
    if to <= from {
        return 0;
    }
    let mut day = local_date(from, tz).yesterday().unwrap_or_default();
    let last = local_date(to, tz);
    let mut total = 0;
    // A bound on the walk: a wait longer than two years counts only its first two years.
    for _ in 0..800 {
        if day > last {
            break;
        }
        let weekday = day.weekday().to_monday_zero_offset() as usize;
        for [s, e] in hours.get(weekday).map(Vec::as_slice).unwrap_or(&[]) {
            let at = |minutes: u16| -> i64 {
                let (d, m) = if minutes >= 1440 { (day.tomorrow().unwrap_or(day), minutes - 1440) } else { (day, minutes) };
                let time = Time::new((m / 60) as i8, (m % 60) as i8, 0, 0).unwrap_or_default();
                d.to_datetime(time).to_zoned(tz.clone()).map(|z| z.timestamp().as_millisecond()).unwrap_or(0)
            };
            let (a, b) = (at(*s).max(from), at(*e).min(to));
            if b > a {
                total += b - a;
            }
        }
        day = match day.tomorrow() {
            Ok(d) => d,
            Err(_) => break,
        };
    }
    total
}

/// Nearest-rank percentile of `values` (sorted here), in whole seconds.
pub fn percentile(values: &mut [i64], p: u32) -> Option<u32> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = ((u64::from(p) * values.len() as u64).div_ceil(100)).max(1) as usize;
    Some(u32::try_from(values[rank - 1].max(0) / 1000).unwrap_or(u32::MAX))
}

/// `part` of `whole` as a percentage with one decimal; `None` when `whole` is 0.
pub fn pct(part: u32, whole: u32) -> Option<f64> {
    (whole > 0).then(|| (f64::from(part) * 1000.0 / f64::from(whole)).round() / 10.0)
}

/// Shares of `whole` with one decimal that add up to exactly 100.0 (largest remainder), so parts
/// of one denominator never add up to more, or less, than the whole.
pub fn shares(parts: &[u32]) -> Vec<Option<f64>> {
    let whole: u64 = parts.iter().map(|p| u64::from(*p)).sum();
    if whole == 0 {
        return parts.iter().map(|_| None).collect();
    }
    let exact: Vec<u64> = parts.iter().map(|p| u64::from(*p) * 1000).collect();
    let mut tenths: Vec<u64> = exact.iter().map(|e| e / whole).collect();
    let mut left = 1000 - tenths.iter().sum::<u64>();
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse((exact[i] % whole, parts[i])));
    for &i in order.iter().cycle().take(parts.len() * 2) {
        if left == 0 {
            break;
        }
        if parts[i] > 0 {
            tenths[i] += 1;
            left -= 1;
        }
    }
    tenths.iter().map(|t| Some(*t as f64 / 10.0)).collect()
}

/// One stretch of a conversation from opening (or reopening) on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Episode {
    /// How many episodes this stands for: 1, or a group of episodes the assistant handled alone
    /// on one local day (the summary reads those as counts; see [`super::summaries`]).
    pub count: u32,
    pub conversation_id: String,
    pub start: i64,
    pub channel: String,
    pub reopened: bool,
    pub handling: Handling,
    pub ai_replies: u32,
    pub human_replies: u32,
    /// (clock start, first human reply) of the episode's first human reply, if measured.
    pub first_response: Option<(i64, i64)>,
    pub wait_for_person_ms: Option<i64>,
    /// People who replied or took over, in order.
    pub staff: Vec<String>,
    /// (staff id, reply time in ms) of each measured reply by a person.
    pub reply_times: Vec<(String, Option<i64>)>,
    pub resolved: bool,
}

impl Episode {
    /// An episode as it opens: the assistant answering, nothing counted yet.
    pub fn opened(count: u32, conversation_id: String, start: i64, channel: String, reopened: bool) -> Episode {
        Episode {
            count,
            conversation_id,
            start,
            channel,
            reopened,
            handling: Handling::Assistant,
            ai_replies: 0,
            human_replies: 0,
            first_response: None,
            wait_for_person_ms: None,
            staff: vec![],
            reply_times: vec![],
            resolved: false,
        }
    }
}

/// Groups conversation outcome rows (sorted by time, then id) into episodes.
pub fn episodes(rows: &[Row]) -> Vec<Episode> {
    let mut by_key: BTreeMap<(i64, String), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        if let (Some(c), Some(e)) = (&r.conversation_id, r.episode_at) {
            by_key.entry((e, c.clone())).or_default().push(r);
        }
    }
    let mut out = Vec::new();
    for ((start, conversation_id), mut rows) in by_key {
        rows.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        let Some(opening) = rows.iter().find(|r| r.kind == "conversation_opened" || r.kind == "conversation_reopened") else { continue };
        let mut e = Episode::opened(1, conversation_id, start, opening.channel.clone().unwrap_or_default(), opening.kind == "conversation_reopened");
        let mut involved = false;
        let mut handed_at: Option<i64> = None;
        for r in &rows {
            let person = |e: &mut Episode| {
                if let Some(s) = &r.staff_id {
                    if !e.staff.contains(s) {
                        e.staff.push(s.clone());
                    }
                }
            };
            match r.kind.as_str() {
                "ai_reply" => e.ai_replies += 1,
                "handed_over" => {
                    if !involved {
                        involved = true;
                        e.handling = Handling::HandedOver;
                    }
                    handed_at.get_or_insert(r.at);
                }
                "taken_over" => {
                    if !involved {
                        involved = true;
                        e.handling = Handling::TakenOver;
                    }
                    person(&mut e);
                }
                "first_human_reply" | "human_reply" => {
                    if !involved {
                        involved = true;
                        e.handling = Handling::TakenOver;
                    }
                    e.human_replies += 1;
                    person(&mut e);
                    if r.kind == "first_human_reply" && e.first_response.is_none() {
                        e.first_response = r.since_at.map(|s| (s, r.at));
                    }
                    if let (Some(h), None) = (handed_at, e.wait_for_person_ms) {
                        if r.at >= h {
                            e.wait_for_person_ms = Some(r.at - h);
                        }
                    }
                    e.reply_times.push((r.staff_id.clone().unwrap_or_default(), r.since_at.map(|s| r.at - s)));
                }
                "resolved" => e.resolved = true,
                _ => {}
            }
        }
        out.push(e);
    }
    out
}

/// A booking as the reports see it: made when, for what, where it stands now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingFacts {
    /// How many bookings this stands for: 1, or a group counted together (the summary's fast
    /// path; `value_cents` is then their sum).
    pub count: u32,
    pub booking_id: String,
    pub made_at: Option<i64>,
    pub source: String,
    pub channel: Option<String>,
    pub service_id: String,
    pub staff_id: String,
    pub value_cents: i64,
    pub starts_at: i64,
    /// `booked`, `cancelled`, `completed`, `no_show`.
    pub outcome: &'static str,
    pub moves: u32,
}

pub fn bookings(rows: &[Row]) -> Vec<BookingFacts> {
    let mut by_id: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    // (Reminders and recoveries name their booking too; they are not the booking's history.)
    for r in rows.iter().filter(|r| r.kind.starts_with("booking_")) {
        if let Some(b) = &r.booking_id {
            by_id.entry(b).or_default().push(r);
        }
    }
    let mut out = Vec::new();
    for (id, mut rows) in by_id {
        rows.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
        let first = rows[0];
        let mut f = BookingFacts {
            count: 1,
            booking_id: id.to_owned(),
            made_at: None,
            source: first.source.clone().unwrap_or_default(),
            channel: first.channel.clone(),
            service_id: first.service_id.clone().unwrap_or_default(),
            staff_id: first.staff_id.clone().unwrap_or_default(),
            value_cents: first.value_cents.unwrap_or(0),
            starts_at: first.starts_at.unwrap_or(0),
            outcome: "booked",
            moves: 0,
        };
        for r in &rows {
            match r.kind.as_str() {
                "booking_made" => {
                    f.made_at = Some(r.at);
                    f.value_cents = r.value_cents.unwrap_or(0);
                }
                "booking_moved" => f.moves += 1,
                "booking_cancelled" => f.outcome = "cancelled",
                "booking_completed" => f.outcome = "completed",
                "booking_no_show" => f.outcome = "no_show",
                _ => {}
            }
            if let Some(s) = r.starts_at {
                f.starts_at = s;
            }
            if let Some(s) = &r.staff_id {
                f.staff_id = s.clone();
            }
        }
        out.push(f);
    }
    out
}

/// One outcome of the automations, as read for the reports (see [`automations`]).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AutomationRow {
    pub id: String,
    pub kind: String,
    pub at: i64,
    pub booking_id: Option<String>,
    pub channel: Option<String>,
    pub staff_id: Option<String>,
    /// `recovered`: the missed call's outcome.
    pub ref_id: Option<String>,
    /// The customer a missed call, text-back or recovery is about.
    #[serde(default)]
    pub customer_id: Option<String>,
}

/// A booking that was sent a reminder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reminded {
    pub booking_id: String,
    /// When its first reminder was sent, on which channel, with whom the booking was then.
    pub first_sent_at: i64,
    pub channel: Option<String>,
    pub staff_id: Option<String>,
    /// Whether a reply to a reminder confirmed it / cancelled it (so far).
    pub confirmed: bool,
    pub cancelled: bool,
}

/// A call nobody answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCall {
    /// Its outcome's id (`mc:{business}:{call}`).
    pub id: String,
    pub at: i64,
    pub customer_id: Option<String>,
    /// The booking that recovered it (the caller's first within 7 days) and when that booking
    /// was made, if any yet.
    pub recovered_by: Option<String>,
    pub recovered_at: Option<i64>,
}

/// A text-back sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextBack {
    /// Its outcome's id: the automation run's.
    pub id: String,
    pub at: i64,
    pub channel: Option<String>,
    pub customer_id: Option<String>,
}

/// What the automations did: the reminded bookings, the missed calls, the text-backs sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Automations {
    pub reminded: Vec<Reminded>,
    pub missed_calls: Vec<MissedCall>,
    pub text_backs: Vec<TextBack>,
}

/// The calls a call figure counts: missed calls, or text-backs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallsListed<'a> {
    Missed(Vec<&'a MissedCall>),
    TextBacks(Vec<&'a TextBack>),
}

impl CallsListed<'_> {
    pub fn len(&self) -> usize {
        match self {
            CallsListed::Missed(v) => v.len(),
            CallsListed::TextBacks(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Puts the automations' outcome rows together: per booking its reminders and the replies to
/// them, per missed call its recovery.
pub fn automations(rows: &[AutomationRow]) -> Automations {
    let mut rows: Vec<&AutomationRow> = rows.iter().collect();
    rows.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    let mut reminded: BTreeMap<&str, Reminded> = BTreeMap::new();
    let mut replies: Vec<(&str, bool)> = Vec::new();
    let mut calls: BTreeMap<&str, MissedCall> = BTreeMap::new();
    let mut recovered: Vec<(&str, &str, i64)> = Vec::new();
    let mut out = Automations::default();
    for r in rows {
        match (r.kind.as_str(), r.booking_id.as_deref()) {
            ("reminder_sent", Some(b)) => {
                reminded.entry(b).or_insert_with(|| Reminded {
                    booking_id: b.to_owned(),
                    first_sent_at: r.at,
                    channel: r.channel.clone(),
                    staff_id: r.staff_id.clone(),
                    confirmed: false,
                    cancelled: false,
                });
            }
            ("reminder_confirmed", Some(b)) => replies.push((b, true)),
            ("reminder_cancelled", Some(b)) => replies.push((b, false)),
            ("missed_call", _) => {
                calls.entry(&r.id).or_insert_with(|| MissedCall {
                    id: r.id.clone(),
                    at: r.at,
                    customer_id: r.customer_id.clone(),
                    recovered_by: None,
                    recovered_at: None,
                });
            }
            ("recovered", Some(b)) => recovered.extend(r.ref_id.as_deref().map(|m| (m, b, r.at))),
            ("text_back", _) => out.text_backs.push(TextBack { id: r.id.clone(), at: r.at, channel: r.channel.clone(), customer_id: r.customer_id.clone() }),
            _ => {}
        }
    }
    // A reply counts for a booking that was sent a reminder (the only way to reply to one).
    for (b, confirmed) in replies {
        if let Some(x) = reminded.get_mut(b) {
            if confirmed {
                x.confirmed = true;
            } else {
                x.cancelled = true;
            }
        }
    }
    // (In time order: the first recovery of a call is the one.)
    for (call, booking, at) in recovered {
        if let Some(c) = calls.get_mut(call) {
            if c.recovered_by.is_none() {
                c.recovered_by = Some(booking.to_owned());
                c.recovered_at = Some(at);
            }
        }
    }
    out.reminded = reminded.into_values().collect();
    out.missed_calls = calls.into_values().collect();
    out.missed_calls.sort_by(|a, b| (a.at, &a.id).cmp(&(b.at, &b.id)));
    out
}

/// The channel and person a report is narrowed to.
#[derive(Debug, Clone, Default)]
pub struct Filters {
    pub channel: Option<String>,
    pub staff_id: Option<String>,
}

impl Filters {
    pub fn episode(&self, e: &Episode) -> bool {
        self.channel.as_ref().is_none_or(|c| &e.channel == c) && self.staff_id.as_ref().is_none_or(|s| e.staff.contains(s))
    }

    pub fn booking(&self, b: &BookingFacts) -> bool {
        self.channel.as_ref().is_none_or(|c| b.channel.as_ref() == Some(c)) && self.staff_id.as_ref().is_none_or(|s| &b.staff_id == s)
    }

    /// A reminded booking: by the channel its first reminder went on and the person it was with.
    pub fn reminded(&self, r: &Reminded) -> bool {
        self.channel.as_ref().is_none_or(|c| r.channel.as_ref() == Some(c)) && self.staff_id.as_ref().is_none_or(|s| r.staff_id.as_ref() == Some(s))
    }

    /// Missed calls are on the voice channel and with nobody; text-backs on the channel they
    /// went on, with nobody.
    pub fn missed_call(&self) -> bool {
        self.channel.as_ref().is_none_or(|c| c == "voice") && self.staff_id.is_none()
    }

    pub fn text_back(&self, channel: Option<&String>) -> bool {
        self.channel.as_ref().is_none_or(|c| channel == Some(c)) && self.staff_id.is_none()
    }
}

/// Everything one period's figures are computed from.
pub struct Period<'a> {
    pub range: Range,
    pub tz: &'a TimeZone,
    pub hours: &'a OpeningHours,
    pub episodes: Vec<Episode>,
    pub bookings: Vec<BookingFacts>,
    /// The period's reminded bookings, missed calls and text-backs (see [`Period::with_automations`]).
    pub automations: Automations,
}

impl Period<'_> {
    /// Builds a period from the rows of its episodes and bookings, narrowed by `filters`.
    pub fn new<'a>(range: Range, tz: &'a TimeZone, hours: &'a OpeningHours, rows: &[Row], filters: &Filters) -> Period<'a> {
        Period::from_facts(range, tz, hours, episodes(rows), bookings(rows), filters)
    }

    /// Builds a period from episodes and bookings already put together (or grouped: see
    /// [`Episode::count`]), narrowed by `filters` exactly as [`Period::new`] narrows them.
    pub fn from_facts<'a>(
        range: Range,
        tz: &'a TimeZone,
        hours: &'a OpeningHours,
        episodes: Vec<Episode>,
        bookings: Vec<BookingFacts>,
        filters: &Filters,
    ) -> Period<'a> {
        let episodes = episodes.into_iter().filter(|e| range.contains(e.start) && filters.episode(e)).collect();
        let bookings = bookings.into_iter().filter(|b| filters.booking(b)).collect();
        Period { range, tz, hours, episodes, bookings, automations: Automations::default() }
    }

    /// The automations' facts of the period, narrowed by `filters`: bookings whose first
    /// reminder was sent in it, its missed calls and its text-backs.
    pub fn with_automations(mut self, a: Automations, filters: &Filters) -> Self {
        let range = self.range;
        self.automations = Automations {
            reminded: a.reminded.into_iter().filter(|r| range.contains(r.first_sent_at) && filters.reminded(r)).collect(),
            missed_calls: a.missed_calls.into_iter().filter(|c| range.contains(c.at) && filters.missed_call()).collect(),
            text_backs: a.text_backs.into_iter().filter(|t| range.contains(t.at) && filters.text_back(t.channel.as_ref())).collect(),
        };
        self
    }

    /// The reminded bookings a reminder figure counts (`None`: not a reminder figure), in the
    /// order of their ids.
    pub fn reminded_for(&self, figure: ReportFigure) -> Option<Vec<&Reminded>> {
        let counts: fn(&Reminded) -> bool = match figure {
            ReportFigure::Reminded => |_| true,
            ReportFigure::ReminderConfirmed => |r| r.confirmed,
            ReportFigure::ReminderCancelled => |r| r.cancelled,
            _ => return None,
        };
        Some(self.automations.reminded.iter().filter(|r| counts(r)).collect())
    }

    /// The calls a call figure counts (`None`: not a call figure): the missed calls, the
    /// recovered ones among them (in time order), or the text-backs (in time order).
    pub fn calls_for(&self, figure: ReportFigure) -> Option<CallsListed<'_>> {
        let a = &self.automations;
        match figure {
            ReportFigure::MissedCalls => Some(CallsListed::Missed(a.missed_calls.iter().collect())),
            ReportFigure::Recovered => Some(CallsListed::Missed(a.missed_calls.iter().filter(|c| c.recovered_by.is_some()).collect())),
            ReportFigure::TextBacks => Some(CallsListed::TextBacks(a.text_backs.iter().collect())),
            _ => None,
        }
    }

    pub fn business_first_response(&self, e: &Episode) -> Option<i64> {
        e.first_response.map(|(s, a)| open_ms_between(s, a, self.hours, self.tz))
    }

    /// Whether an episode counts towards `figure`.
    pub fn counts_episode(&self, figure: ReportFigure, e: &Episode) -> bool {
        match figure {
            ReportFigure::Conversations => true,
            ReportFigure::HandledByAssistant => e.handling == Handling::Assistant,
            ReportFigure::HandedOver => e.handling == Handling::HandedOver,
            ReportFigure::TakenOver => e.handling == Handling::TakenOver,
            ReportFigure::Reopened => e.reopened,
            ReportFigure::WaitForPerson => e.wait_for_person_ms.is_some(),
            ReportFigure::FirstResponse => e.first_response.is_some(),
            _ => false,
        }
    }

    /// Whether a booking counts towards `figure`.
    pub fn counts_booking(&self, figure: ReportFigure, b: &BookingFacts) -> bool {
        let made = b.made_at.is_some_and(|m| self.range.contains(m));
        let appointment = self.range.contains(b.starts_at);
        match figure {
            ReportFigure::Bookings => made,
            ReportFigure::Cancelled => made && b.outcome == "cancelled",
            ReportFigure::Attended => appointment && matches!(b.outcome, "completed" | "no_show"),
            ReportFigure::NoShows => appointment && b.outcome == "no_show",
            _ => false,
        }
    }

    pub fn episodes_for(&self, figure: ReportFigure) -> Vec<&Episode> {
        self.episodes.iter().filter(|e| self.counts_episode(figure, e)).collect()
    }

    pub fn bookings_for(&self, figure: ReportFigure) -> Vec<&BookingFacts> {
        self.bookings.iter().filter(|b| self.counts_booking(figure, b)).collect()
    }

    pub fn figures(&self) -> protocol::ReportFigures {
        let n = |f: ReportFigure| self.episodes_for(f).iter().map(|e| e.count).sum::<u32>();
        let m = |f: ReportFigure| self.bookings_for(f).iter().map(|b| b.count).sum::<u32>();
        let (a, h, t) = (n(ReportFigure::HandledByAssistant), n(ReportFigure::HandedOver), n(ReportFigure::TakenOver));
        let split = shares(&[a, h, t]);
        let mut waits: Vec<i64> = self.episodes.iter().filter_map(|e| e.wait_for_person_ms).collect();
        let mut first: Vec<i64> = self.episodes.iter().filter_map(|e| e.first_response.map(|(s, a)| a - s)).collect();
        let mut business: Vec<i64> = self.episodes.iter().filter_map(|e| self.business_first_response(e)).collect();
        let made = self.bookings_for(ReportFigure::Bookings);
        let made_count = m(ReportFigure::Bookings);
        let cancelled = m(ReportFigure::Cancelled);
        let attended = m(ReportFigure::Attended);
        let no_shows = m(ReportFigure::NoShows);
        let auto = &self.automations;
        let reminded = auto.reminded.len() as u32;
        // (The same counts as `reminded_for`.)
        let reminder_confirmed = auto.reminded.iter().filter(|r| r.confirmed).count() as u32;
        let reminder_cancelled = auto.reminded.iter().filter(|r| r.cancelled).count() as u32;
        let calls = |f: ReportFigure| self.calls_for(f).map_or(0, |c| c.len() as u32);
        let missed_calls = calls(ReportFigure::MissedCalls);
        let recovered = calls(ReportFigure::Recovered);
        protocol::ReportFigures {
            from: self.range.from.to_string(),
            to: self.range.to.to_string(),
            conversations: n(ReportFigure::Conversations),
            handled_by_assistant: a,
            handed_over: h,
            taken_over: t,
            handled_by_assistant_pct: split[0],
            handed_over_pct: split[1],
            taken_over_pct: split[2],
            reopened: n(ReportFigure::Reopened),
            ai_replies: self.episodes.iter().map(|e| e.ai_replies).sum(),
            human_replies: self.episodes.iter().map(|e| e.human_replies).sum(),
            wait_for_person_count: waits.len() as u32,
            wait_for_person_p50_secs: percentile(&mut waits, 50),
            wait_for_person_p90_secs: percentile(&mut waits, 90),
            first_response_count: first.len() as u32,
            first_response_p50_secs: percentile(&mut first, 50),
            first_response_p90_secs: percentile(&mut first, 90),
            first_response_business_p50_secs: percentile(&mut business, 50),
            first_response_business_p90_secs: percentile(&mut business, 90),
            bookings: made_count,
            booked_value_cents: made.iter().map(|b| b.value_cents).sum(),
            cancelled,
            cancellation_pct: pct(cancelled, made_count),
            attended,
            no_shows,
            no_show_pct: pct(no_shows, attended),
            reminded,
            reminder_confirmed,
            reminder_confirmed_pct: pct(reminder_confirmed, reminded),
            reminder_cancelled,
            reminder_cancelled_pct: pct(reminder_cancelled, reminded),
            missed_calls,
            text_backs: calls(ReportFigure::TextBacks),
            recovered,
            recovered_pct: pct(recovered, missed_calls),
        }
    }

    pub fn days(&self) -> Vec<protocol::ReportDay> {
        let mut days: BTreeMap<Date, protocol::ReportDay> = BTreeMap::new();
        let mut day = self.range.from;
        while day <= self.range.to {
            days.insert(
                day,
                protocol::ReportDay {
                    date: day.to_string(),
                    conversations: 0,
                    handled_by_assistant: 0,
                    handed_over: 0,
                    taken_over: 0,
                    bookings: 0,
                    booked_value_cents: 0,
                },
            );
            day = match day.tomorrow() {
                Ok(d) => d,
                Err(_) => break,
            };
        }
        for e in &self.episodes {
            if let Some(d) = days.get_mut(&local_date(e.start, self.tz)) {
                d.conversations += e.count;
                match e.handling {
                    Handling::Assistant => d.handled_by_assistant += e.count,
                    Handling::HandedOver => d.handed_over += e.count,
                    Handling::TakenOver => d.taken_over += e.count,
                }
            }
        }
        for b in self.bookings_for(ReportFigure::Bookings) {
            if let Some(d) = days.get_mut(&local_date(b.made_at.unwrap_or(0), self.tz)) {
                d.bookings += b.count;
                d.booked_value_cents += b.value_cents;
            }
        }
        days.into_values().collect()
    }

    /// Bookings made in the period, counted and valued by `key`.
    pub fn bookings_by(&self, key: impl Fn(&BookingFacts) -> String, label: impl Fn(&str) -> String) -> Vec<protocol::ReportBreakdown> {
        let mut by: BTreeMap<String, (u32, i64)> = BTreeMap::new();
        for b in self.bookings_for(ReportFigure::Bookings) {
            let e = by.entry(key(b)).or_default();
            e.0 += b.count;
            e.1 += b.value_cents;
        }
        let mut out: Vec<_> =
            by.into_iter().map(|(k, (count, value_cents))| protocol::ReportBreakdown { label: label(&k), key: k, count, value_cents }).collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        out
    }

    pub fn conversations_by_channel(&self) -> Vec<protocol::ReportBreakdown> {
        let mut by: BTreeMap<String, u32> = BTreeMap::new();
        for e in &self.episodes {
            *by.entry(e.channel.clone()).or_default() += e.count;
        }
        let mut out: Vec<_> =
            by.into_iter().map(|(k, count)| protocol::ReportBreakdown { label: k.clone(), key: k, count, value_cents: 0 }).collect();
        out.sort_by(|a, b| b.count.cmp(&a.count).then(a.key.cmp(&b.key)));
        out
    }

    pub fn staff(&self, names: &HashMap<String, String>) -> Vec<protocol::StaffReport> {
        let mut by: BTreeMap<String, (u32, u32, Vec<i64>, u32)> = BTreeMap::new();
        for id in names.keys() {
            by.entry(id.clone()).or_default();
        }
        for e in &self.episodes {
            for s in &e.staff {
                if e.reply_times.iter().any(|(who, _)| who == s) {
                    by.entry(s.clone()).or_default().0 += 1;
                }
            }
            for (who, time) in &e.reply_times {
                let entry = by.entry(who.clone()).or_default();
                entry.1 += 1;
                if let Some(t) = time {
                    entry.2.push(*t);
                }
            }
        }
        for b in self.bookings_for(ReportFigure::Bookings) {
            by.entry(b.staff_id.clone()).or_default().3 += b.count;
        }
        by.into_iter()
            .map(|(staff_id, (conversations, replies, mut times, bookings))| protocol::StaffReport {
                name: names.get(&staff_id).cloned().unwrap_or_else(|| "(removed)".into()),
                staff_id,
                conversations,
                replies,
                reply_p50_secs: percentile(&mut times, 50),
                reply_p90_secs: percentile(&mut times, 90),
                bookings,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_to_exactly_one_hundred() {
        assert_eq!(shares(&[1, 1, 1]), vec![Some(33.4), Some(33.3), Some(33.3)]);
        assert_eq!(shares(&[0, 0, 0]), vec![None, None, None]);
        assert_eq!(shares(&[2, 0, 0]), vec![Some(100.0), Some(0.0), Some(0.0)]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let mut v: Vec<i64> = (1..=10).map(|s| s * 1000).collect();
        assert_eq!(percentile(&mut v, 50), Some(5));
        assert_eq!(percentile(&mut v, 90), Some(9));
        assert_eq!(percentile(&mut [], 50), None);
    }

    #[test]
    fn opening_hours_are_counted_on_local_days_across_a_clock_change() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // Every day 09:00–17:00.
        let hours: OpeningHours = vec![vec![[540, 1020]]; 7];
        let at = |s: &str| s.parse::<jiff::civil::DateTime>().unwrap().to_zoned(tz.clone()).unwrap().timestamp().as_millisecond();
        // Saturday 16:30 (EST) to Sunday 09:30 (EDT, the clocks went forward at 02:00): one hour open.
        assert_eq!(open_ms_between(at("2026-03-07T16:30"), at("2026-03-08T09:30"), &hours, &tz), 3_600_000);
        // A day that starts with a 23-hour local day is still one local day.
        let range = Range::new("2026-03-08".parse().unwrap(), "2026-03-08".parse().unwrap(), &tz);
        assert_eq!(range.end_ms - range.start_ms, 23 * 3_600_000);
        assert_eq!(range.previous(&tz).from.to_string(), "2026-03-07");
    }

    #[test]
    fn local_day_stretches_hold_one_local_date_each() {
        // New York springs forward, Santiago goes back across midnight (a Saturday comes round
        // twice), Kolkata is half an hour off, Apia skipped a whole day (2011-12-30).
        for (zone, from, to) in [
            ("America/New_York", "2026-03-01", "2026-03-20"),
            ("America/Santiago", "2026-03-25", "2026-04-15"),
            ("America/Santiago", "2026-08-25", "2026-09-15"),
            ("Asia/Kolkata", "2026-01-01", "2026-01-05"),
            ("Pacific/Apia", "2011-12-25", "2012-01-05"),
        ] {
            let tz = TimeZone::get(zone).unwrap();
            let range = Range::new(from.parse().unwrap(), to.parse().unwrap(), &tz);
            let stretches = local_day_intervals(range, &tz);
            assert_eq!(stretches.first().unwrap().0, range.start_ms, "{zone}");
            assert_eq!(stretches.last().unwrap().1, range.end_ms, "{zone}");
            for w in stretches.windows(2) {
                assert_eq!(w[0].1, w[1].0, "{zone}: stretches tile the range");
            }
            for (start, end, date) in &stretches {
                assert!(start < end);
                // Every minute of the stretch, and its last millisecond, is on its date.
                let mut t = *start;
                while t < *end {
                    assert_eq!(local_date(t, &tz), *date, "{zone} at {t}");
                    t += 60_000;
                }
                assert_eq!(local_date(end - 1, &tz), *date, "{zone} at {}", end - 1);
            }
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const HOUR: i64 = 3_600_000;
        const KINDS: &[&str] = &["ai_reply", "handed_over", "taken_over", "first_human_reply", "human_reply", "resolved"];
        const BOOKING: &[&str] = &["booking_moved", "booking_cancelled", "booking_completed", "booking_no_show"];

        /// A generated history: conversations with openings and events, bookings with changes,
        /// spread over 20 days from a fixed instant.
        fn history() -> impl Strategy<Value = Vec<Row>> {
            let conversation = (0..3u8, 0..20 * 24i64, prop::collection::vec((0..6usize, 0..72i64, 0..3u8, any::<bool>()), 0..8), any::<bool>());
            let booking = (0..20 * 24i64, 0..30 * 24i64, 0..4u8, 0..3u8, prop::collection::vec((0..4usize, 0..48i64, 0..30 * 24i64), 0..3));
            (prop::collection::vec(conversation, 0..25), prop::collection::vec(booking, 0..25)).prop_map(|(cs, bs)| {
                let base = 1_780_000_000_000i64;
                let mut rows = Vec::new();
                let mut n = 0;
                let mut id = || {
                    n += 1;
                    format!("{n:08}")
                };
                for (c, (channel, start, events, reopened)) in cs.into_iter().enumerate() {
                    let start = base + start * HOUR;
                    let conv = format!("c{c}");
                    let channel = ["whatsapp", "sms", "voice"][channel as usize].to_owned();
                    let row = |id: String, kind: &str, at: i64| Row {
                        id, kind: kind.into(), at, conversation_id: Some(conv.clone()), episode_at: Some(start), booking_id: None,
                        channel: Some(channel.clone()), staff_id: None, source: None, service_id: None, value_cents: None, starts_at: None, since_at: None,
                    };
                    rows.push(row(id(), if reopened { "conversation_reopened" } else { "conversation_opened" }, start));
                    for (k, after, staff, measured) in events {
                        let mut r = row(id(), KINDS[k], start + after * HOUR / 3);
                        r.staff_id = (k >= 2 && k <= 4).then(|| format!("s{staff}"));
                        r.since_at = (measured && k >= 3 && k <= 4).then_some(start);
                        rows.push(r);
                    }
                }
                for (b, (made, starts, source, staff, changes)) in bs.into_iter().enumerate() {
                    let row = |id: String, kind: &str, at: i64, starts_at: i64| Row {
                        id, kind: kind.into(), at, conversation_id: None, episode_at: None, booking_id: Some(format!("b{b}")),
                        channel: Some("whatsapp".into()), staff_id: Some(format!("s{staff}")), source: Some(["staff", "api", "assistant_chat", "assistant_voice"][source as usize].into()),
                        service_id: Some("svc".into()), value_cents: Some(4500), starts_at: Some(starts_at), since_at: None,
                    };
                    let made = base + made * HOUR;
                    rows.push(row(id(), "booking_made", made, base + starts * HOUR));
                    for (k, after, to) in changes {
                        rows.push(row(id(), BOOKING[k], made + after * HOUR, base + to * HOUR));
                    }
                }
                rows
            })
        }

        /// Generated automation outcomes: reminders (some bookings several, replies among them),
        /// missed calls (some recovered, some twice), text-backs, over 20 days.
        fn automation_history() -> impl Strategy<Value = Vec<AutomationRow>> {
            let event = (0..6usize, 0..8u8, 0..20 * 24i64, 0..3u8);
            prop::collection::vec(event, 0..60).prop_map(|events| {
                let base = 1_780_000_000_000i64;
                events
                    .into_iter()
                    .enumerate()
                    .map(|(n, (k, target, hour, channel))| {
                        let kind = ["reminder_sent", "reminder_sent", "reminder_confirmed", "reminder_cancelled", "missed_call", "recovered"][k];
                        AutomationRow {
                            id: if kind == "missed_call" { format!("m{target}") } else { format!("{n:08}") },
                            kind: if k == 5 && n % 3 == 0 { "text_back".into() } else { kind.into() },
                            at: base + hour * HOUR,
                            booking_id: Some(format!("b{target}")),
                            channel: Some(["whatsapp", "sms", "voice"][channel as usize].into()),
                            staff_id: Some(format!("s{channel}")),
                            ref_id: (k == 5).then(|| format!("m{target}")),
                            customer_id: Some(format!("cu{target}")),
                        }
                    })
                    .collect()
            })
        }

        proptest! {
            #[test]
            fn automation_rates_are_percentages_and_their_rows_their_counts(rows in automation_history(), from in 0..15i64, days in 1..10i64,
                channel in prop::option::of(0..3usize), staff in prop::option::of(0..3usize)) {
                let tz = TimeZone::get("Europe/London").unwrap();
                let hours: OpeningHours = vec![vec![[540, 1020]]; 7];
                let start: Date = local_date(1_780_000_000_000 + from * 24 * HOUR, &tz);
                let range = Range::new(start, start + jiff::Span::new().days(days - 1), &tz);
                let filters = Filters { channel: channel.map(|c| ["whatsapp", "sms", "voice"][c].to_owned()), staff_id: staff.map(|s| format!("s{s}")) };
                let period = Period::new(range, &tz, &hours, &[], &filters).with_automations(automations(&rows), &filters);
                let f = period.figures();
                for rate in [f.reminder_confirmed_pct, f.reminder_cancelled_pct, f.recovered_pct].into_iter().flatten() {
                    prop_assert!((0.0..=100.0).contains(&rate), "{rate}");
                }
                prop_assert!(f.reminder_confirmed <= f.reminded && f.reminder_cancelled <= f.reminded && f.recovered <= f.missed_calls);
                for (figure, count) in [(ReportFigure::Reminded, f.reminded), (ReportFigure::ReminderConfirmed, f.reminder_confirmed), (ReportFigure::ReminderCancelled, f.reminder_cancelled)] {
                    let listed = period.reminded_for(figure).unwrap();
                    prop_assert_eq!(listed.len() as u32, count);
                    // Each booking once, its first reminder in the range.
                    prop_assert!(listed.iter().all(|r| range.contains(r.first_sent_at)));
                    let mut ids: Vec<&str> = listed.iter().map(|r| r.booking_id.as_str()).collect();
                    ids.dedup();
                    prop_assert_eq!(ids.len(), listed.len());
                }
                prop_assert!(period.reminded_for(ReportFigure::Bookings).is_none());
                // The calls behind each call figure: as many as it counts, each once, in the range.
                for (figure, count) in [(ReportFigure::MissedCalls, f.missed_calls), (ReportFigure::TextBacks, f.text_backs), (ReportFigure::Recovered, f.recovered)] {
                    let (ids, ats): (Vec<&str>, Vec<i64>) = match period.calls_for(figure).unwrap() {
                        CallsListed::Missed(v) => {
                            prop_assert!(figure != ReportFigure::Recovered || v.iter().all(|c| c.recovered_by.is_some() && c.recovered_at.is_some()));
                            v.iter().map(|c| (c.id.as_str(), c.at)).unzip()
                        }
                        CallsListed::TextBacks(v) => v.iter().map(|t| (t.id.as_str(), t.at)).unzip(),
                    };
                    prop_assert_eq!(ids.len() as u32, count, "{:?}", figure);
                    prop_assert!(ats.iter().all(|at| range.contains(*at)));
                    let mut unique = ids.clone();
                    unique.sort_unstable();
                    unique.dedup();
                    prop_assert_eq!(unique.len(), ids.len());
                }
                prop_assert!(period.calls_for(ReportFigure::Reminded).is_none());
            }

            #[test]
            fn figures_hold_together_over_any_history(rows in history(), from in 0..15i64, days in 1..10i64, channel in prop::option::of(0..3usize)) {
                let tz = TimeZone::get("Europe/London").unwrap();
                let hours: OpeningHours = vec![vec![[540, 1020]]; 7];
                let start: Date = local_date(1_780_000_000_000 + from * 24 * HOUR, &tz);
                let range = Range::new(start, start + jiff::Span::new().days(days - 1), &tz);
                let filters = Filters { channel: channel.map(|c| ["whatsapp", "sms", "voice"][c].to_owned()), staff_id: None };
                let period = Period::new(range, &tz, &hours, &rows, &filters);
                let f = period.figures();
                // The parts of one denominator add up to the whole, their shares to exactly 100%.
                prop_assert_eq!(f.handled_by_assistant + f.handed_over + f.taken_over, f.conversations);
                let shares = [f.handled_by_assistant_pct, f.handed_over_pct, f.taken_over_pct];
                if f.conversations > 0 {
                    let tenths: f64 = shares.iter().map(|s| (s.unwrap() * 10.0).round()).sum();
                    prop_assert_eq!(tenths, 1000.0);
                }
                // Every rate is a percentage.
                for rate in shares.iter().chain([&f.cancellation_pct, &f.no_show_pct]) {
                    if let Some(r) = rate {
                        prop_assert!((0.0..=100.0).contains(r), "{r}");
                    }
                }
                // The rows behind each figure are exactly as many as the figure, all of them
                // counted by it, and none counted is left out.
                let counts = [
                    (ReportFigure::Conversations, f.conversations), (ReportFigure::HandledByAssistant, f.handled_by_assistant),
                    (ReportFigure::HandedOver, f.handed_over), (ReportFigure::TakenOver, f.taken_over), (ReportFigure::Reopened, f.reopened),
                    (ReportFigure::WaitForPerson, f.wait_for_person_count), (ReportFigure::FirstResponse, f.first_response_count),
                ];
                for (figure, count) in counts {
                    let listed = period.episodes_for(figure);
                    prop_assert_eq!(listed.len() as u32, count, "{:?}", figure);
                    prop_assert!(listed.iter().all(|e| range.contains(e.start)));
                }
                for (figure, count) in [(ReportFigure::Bookings, f.bookings), (ReportFigure::Cancelled, f.cancelled), (ReportFigure::Attended, f.attended), (ReportFigure::NoShows, f.no_shows)] {
                    prop_assert_eq!(period.bookings_for(figure).len() as u32, count, "{:?}", figure);
                }
                prop_assert!(f.cancelled <= f.bookings && f.no_shows <= f.attended);
                prop_assert_eq!(period.bookings_for(ReportFigure::Bookings).iter().map(|b| b.value_cents).sum::<i64>(), f.booked_value_cents);
                // The days add up to the period.
                let days_total: u32 = period.days().iter().map(|d| d.conversations).sum();
                prop_assert_eq!(days_total, f.conversations);
                prop_assert_eq!(period.days().iter().map(|d| d.bookings).sum::<u32>(), f.bookings);
                // Business-hours times never exceed the wall-clock times.
                for e in &period.episodes {
                    if let (Some((s, a)), Some(b)) = (e.first_response, period.business_first_response(e)) {
                        prop_assert!(0 <= b && b <= a - s);
                    }
                }
            }
        }
    }
}
