//! The availability engine: which appointment times are free, computed from opening hours, staff
//! working hours, date exceptions, booking rules and existing bookings, in the business's IANA
//! time zone.
//!
//! This module is pure (no database, no clock): the store loads a [`Schedule`] and asks it. That
//! keeps the rules in one place for the assistant, voice calls, staff and the API, and lets
//! property tests throw generated schedules at it.
//!
//! Time handling, deliberately:
//! - Hours are local wall-clock times. Candidate start times are laid on the local grid (every
//!   `slot_interval` minutes from the start of each open interval), so a 09:00 appointment stays
//!   09:00 local on both sides of a DST change.
//! - A local time that does not exist (the hour skipped when clocks spring forward, or the half
//!   hour on Lord Howe Island) is never offered.
//! - A local time that happens twice (when clocks fall back) is offered twice, once per offset;
//!   clients show the offset, and bookings store the instant, so they are never confused.
//! - Appointment length is absolute: a 60-minute cut is 60 real minutes even across a change.
//! - An open interval's boundaries that fall in a gap are taken as the instant the clocks jump to;
//!   boundaries that fall in a fold are taken at their first occurrence.

use std::collections::BTreeMap;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;

/// Minutes since local midnight, `[start, end)`; `end` may be 1440 (midnight at the day's end).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalInterval {
    pub start: u16,
    pub end: u16,
}

impl LocalInterval {
    pub fn new(start: u16, end: u16) -> Option<LocalInterval> {
        (start < end && end <= 1440).then_some(LocalInterval { start, end })
    }
}

/// Open intervals per weekday, Monday first.
pub type WeekHours = [Vec<LocalInterval>; 7];

/// What a date exception does to a day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayOverride {
    Closed,
    /// Special hours replacing the usual ones.
    Hours(Vec<LocalInterval>),
}

/// Booking rules (the business's, or a service's override of them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How long before an appointment it can still be booked.
    pub min_notice_minutes: i64,
    /// How far ahead it can be booked.
    pub max_advance_days: i64,
    /// Distance between offered start times.
    pub slot_interval_minutes: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceSpec {
    pub duration_minutes: i64,
    pub buffer_before_minutes: i64,
    pub buffer_after_minutes: i64,
}

/// One bookable person.
#[derive(Debug, Clone)]
pub struct StaffCalendar {
    pub staff_id: String,
    /// `None`: works whenever the business is open.
    pub hours: Option<WeekHours>,
    pub exceptions: BTreeMap<Date, DayOverride>,
    /// Blocked time (bookings with their buffers) as `[start, end)` milliseconds, sorted and
    /// non-overlapping.
    pub busy: Vec<(i64, i64)>,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    pub tz: TimeZone,
    pub business_hours: WeekHours,
    pub business_exceptions: BTreeMap<Date, DayOverride>,
    pub staff: Vec<StaffCalendar>,
    pub rules: Rules,
}

/// A free appointment time and who is free for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
    pub staff_ids: Vec<String>,
}

/// Why an exact time cannot be booked, before looking at other bookings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unbookable {
    TooSoon,
    TooFarAhead,
    /// Outside opening or working hours, or a local time that does not exist.
    OutsideHours,
    /// Within hours, but not one of the start times on the grid.
    OffGrid,
}

const MINUTE_MS: i64 = 60_000;

/// Intersection of two sorted, non-overlapping interval lists.
fn intersect(a: &[LocalInterval], b: &[LocalInterval]) -> Vec<LocalInterval> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            if let Some(i) = LocalInterval::new(x.start.max(y.start), x.end.min(y.end)) {
                out.push(i);
            }
        }
    }
    out.sort();
    merge_touching(out)
}

/// `09:00–12:00` and `12:00–17:00` are one stretch: a 60-minute slot at 11:30 fits.
fn merge_touching(sorted: Vec<LocalInterval>) -> Vec<LocalInterval> {
    let mut merged: Vec<LocalInterval> = Vec::with_capacity(sorted.len());
    for i in sorted {
        match merged.last_mut() {
            Some(last) if i.start <= last.end => last.end = last.end.max(i.end),
            _ => merged.push(i),
        }
    }
    merged
}

fn day_hours<'a>(week: &'a WeekHours, exceptions: &'a BTreeMap<Date, DayOverride>, date: Date) -> &'a [LocalInterval] {
    match exceptions.get(&date) {
        Some(DayOverride::Closed) => &[],
        Some(DayOverride::Hours(hours)) => hours,
        None => &week[date.weekday().to_monday_zero_offset() as usize],
    }
}

/// Local minutes → civil datetime on `date` (1440 is the next midnight).
fn civil(date: Date, minutes: u16) -> DateTime {
    let base = date.to_datetime(jiff::civil::Time::midnight());
    base.checked_add(jiff::Span::new().minutes(i64::from(minutes))).unwrap_or(base)
}

/// The instants a local time denotes: none in a gap, two in a fold.
fn instants(tz: &TimeZone, dt: DateTime) -> Vec<Timestamp> {
    let ambiguous = tz.to_ambiguous_timestamp(dt);
    match ambiguous.offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).into_iter().collect(),
        AmbiguousOffset::Gap { .. } => vec![],
        AmbiguousOffset::Fold { before, after } => {
            before.to_timestamp(dt).into_iter().chain(after.to_timestamp(dt)).collect()
        }
    }
}

/// An interval boundary as an instant (see the module docs for gaps and folds).
fn boundary(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).ok(),
        // In a gap: the instant the clocks jump. Read with the later offset, the local time
        // lands just before the jump; the next transition from there is the jump itself.
        AmbiguousOffset::Gap { after, .. } => {
            let probe = after.to_timestamp(dt).ok()?;
            tz.following(probe).next().map(|t| t.timestamp())
        }
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(dt).ok(),
    }
}

fn overlaps_busy(busy: &[(i64, i64)], start: i64, end: i64) -> bool {
    // Blocks are sorted and disjoint, so their ends are sorted too.
    let i = busy.partition_point(|b| b.1 <= start);
    busy.get(i).is_some_and(|b| b.0 < end)
}

impl Schedule {
    /// The intervals a staff member can be booked in on a local date.
    pub fn open_intervals(&self, staff: &StaffCalendar, date: Date) -> Vec<LocalInterval> {
        let business = day_hours(&self.business_hours, &self.business_exceptions, date);
        let own = match (&staff.hours, staff.exceptions.get(&date)) {
            (_, Some(DayOverride::Closed)) => return vec![],
            (_, Some(DayOverride::Hours(h))) => h.as_slice(),
            (Some(week), None) => &week[date.weekday().to_monday_zero_offset() as usize],
            (None, None) => business,
        };
        intersect(business, own)
    }

    /// Free slots for `service` starting in `[from, to)`, at most `limit`, earliest first.
    /// `staff_filter` limits who may be booked; `ignore_busy` answers "is this within hours and
    /// rules at all" (bookings are not looked at).
    #[allow(clippy::too_many_arguments)]
    pub fn free_slots(
        &self,
        service: &ServiceSpec,
        staff_filter: Option<&[String]>,
        from: Timestamp,
        to: Timestamp,
        now: Timestamp,
        limit: usize,
        ignore_busy: bool,
    ) -> Vec<Slot> {
        let earliest = now.as_millisecond() + self.rules.min_notice_minutes * MINUTE_MS;
        let latest = now.as_millisecond() + self.rules.max_advance_days * 1440 * MINUTE_MS;
        let from_ms = from.as_millisecond().max(earliest);
        let to_ms = to.as_millisecond().min(latest + 1);
        if from_ms >= to_ms || limit == 0 {
            return vec![];
        }
        let step = self.rules.slot_interval_minutes.max(1);
        let duration = service.duration_minutes * MINUTE_MS;
        let (before, after) = (service.buffer_before_minutes * MINUTE_MS, service.buffer_after_minutes * MINUTE_MS);
        // A day earlier than `from`'s local date: an interval of the previous day may end after it.
        let Ok(first_day) = Timestamp::from_millisecond(from_ms).map(|t| t.to_zoned(self.tz.clone()).date().yesterday()) else {
            return vec![];
        };
        let Ok(last_day) = Timestamp::from_millisecond(to_ms).map(|t| t.to_zoned(self.tz.clone()).date()) else {
            return vec![];
        };
        let Ok(first_day) = first_day else { return vec![] };

        // Staff are carried as indices and local times converted once per day, whatever the
        // number of staff: the conversions are most of the engine's work.
        let mut found: BTreeMap<i64, (i64, Vec<usize>)> = BTreeMap::new();
        let mut day = first_day;
        let mut converted: std::collections::HashMap<u16, Vec<i64>> = std::collections::HashMap::new();
        while day <= last_day {
            converted.clear();
            for (index, staff) in self.staff.iter().enumerate() {
                if staff_filter.is_some_and(|ids| !ids.iter().any(|id| id == &staff.staff_id)) {
                    continue;
                }
                for interval in self.open_intervals(staff, day) {
                    // Open until midnight and open again from midnight is one stretch: an
                    // appointment may run past 24:00.
                    let close_at = match (interval.end, day.tomorrow()) {
                        (1440, Ok(next)) => match self.open_intervals(staff, next).first() {
                            Some(first) if first.start == 0 => civil(next, first.end),
                            _ => civil(day, interval.end),
                        },
                        _ => civil(day, interval.end),
                    };
                    let (Some(open), Some(close)) = (boundary(&self.tz, civil(day, interval.start)), boundary(&self.tz, close_at)) else {
                        continue;
                    };
                    let (open, close) = (open.as_millisecond(), close.as_millisecond());
                    let mut minute = i64::from(interval.start);
                    while minute < i64::from(interval.end) {
                        let starts = converted
                            .entry(minute as u16)
                            .or_insert_with(|| instants(&self.tz, civil(day, minute as u16)).iter().map(|t| t.as_millisecond()).collect());
                        for &start in starts.iter() {
                            let end = start + duration;
                            if start < from_ms || start >= to_ms || start < open || end > close {
                                continue;
                            }
                            if !ignore_busy && overlaps_busy(&staff.busy, start - before, end + after) {
                                continue;
                            }
                            found.entry(start).or_insert_with(|| (end, Vec::new())).1.push(index);
                        }
                        minute += step;
                    }
                }
            }
            // Days are processed in order, and a day's slots never start before the previous
            // day's, so once enough slots start before the next day they are final.
            if found.len() >= limit {
                let next_midnight = day.tomorrow().ok().and_then(|d| boundary(&self.tz, civil(d, 0))).map(|t| t.as_millisecond());
                if next_midnight.is_some_and(|m| found.keys().nth(limit - 1).is_some_and(|k| *k < m)) {
                    break;
                }
            }
            match day.tomorrow() {
                Ok(next) => day = next,
                Err(_) => break,
            }
        }
        found
            .into_iter()
            .take(limit)
            .filter_map(|(start, (end, staff))| {
                Some(Slot {
                    start: Timestamp::from_millisecond(start).ok()?,
                    end: Timestamp::from_millisecond(end).ok()?,
                    staff_ids: staff.into_iter().map(|i| self.staff[i].staff_id.clone()).collect(),
                })
            })
            .collect()
    }

    /// Can `start` be booked at all (hours, grid, rules), ignoring other bookings?
    pub fn check_bookable(
        &self,
        service: &ServiceSpec,
        staff_filter: Option<&[String]>,
        start: Timestamp,
        now: Timestamp,
    ) -> Result<Slot, Unbookable> {
        let ms = start.as_millisecond();
        if ms < now.as_millisecond() + self.rules.min_notice_minutes * MINUTE_MS {
            return Err(Unbookable::TooSoon);
        }
        if ms > now.as_millisecond() + self.rules.max_advance_days * 1440 * MINUTE_MS {
            return Err(Unbookable::TooFarAhead);
        }
        let end = Timestamp::from_millisecond(ms + 1).map_err(|_| Unbookable::OutsideHours)?;
        if let Some(slot) = self.free_slots(service, staff_filter, start, end, now, 1, true).into_iter().next() {
            return Ok(slot);
        }
        // Within hours on a one-minute grid? Then it is only off the real grid. A start with
        // seconds (`11:00:30`) is judged by its minute: off the grid, not outside the hours.
        let mut any_minute = self.clone();
        any_minute.rules.slot_interval_minutes = 1;
        let minute = Timestamp::from_millisecond(ms - ms.rem_euclid(MINUTE_MS)).map_err(|_| Unbookable::OutsideHours)?;
        let end = Timestamp::from_millisecond(minute.as_millisecond() + 1).map_err(|_| Unbookable::OutsideHours)?;
        match any_minute.free_slots(service, staff_filter, minute, end, now, 1, true).is_empty() {
            true => Err(Unbookable::OutsideHours),
            false => Err(Unbookable::OffGrid),
        }
    }

    /// Who is free at exactly `start` (within hours and not busy).
    pub fn free_at(&self, service: &ServiceSpec, staff_filter: Option<&[String]>, start: Timestamp, now: Timestamp) -> Option<Slot> {
        let end = Timestamp::from_millisecond(start.as_millisecond() + 1).ok()?;
        self.free_slots(service, staff_filter, start, end, now, 1, false).into_iter().next()
    }

    /// Up to `count` free slots nearest to `target` (before or after), nearest first.
    pub fn nearest(&self, service: &ServiceSpec, staff_filter: Option<&[String]>, target: Timestamp, now: Timestamp, count: usize) -> Vec<Slot> {
        let window = 7 * 1440 * MINUTE_MS;
        let from = Timestamp::from_millisecond(target.as_millisecond() - window).unwrap_or(target);
        let to = Timestamp::from_millisecond(target.as_millisecond() + window).unwrap_or(target);
        let mut slots = self.free_slots(service, staff_filter, from, to, now, usize::MAX, false);
        slots.sort_by_key(|s| ((s.start.as_millisecond() - target.as_millisecond()).abs(), s.start));
        slots.truncate(count);
        slots
    }
}

/// Parses `HH:MM` (00:00–24:00) into minutes since midnight.
pub fn parse_hhmm(text: &str) -> Option<u16> {
    let (h, m) = text.trim().split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    let minutes = h * 60 + m;
    (m < 60 && minutes <= 1440).then_some(minutes)
}

pub fn format_hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weekdays(start: u16, end: u16) -> WeekHours {
        let day = vec![LocalInterval::new(start, end).unwrap()];
        [day.clone(), day.clone(), day.clone(), day.clone(), day.clone(), day.clone(), day]
    }

    fn schedule(tz: &str, open: u16, close: u16) -> Schedule {
        Schedule {
            tz: TimeZone::get(tz).unwrap(),
            business_hours: weekdays(open, close),
            business_exceptions: BTreeMap::new(),
            staff: vec![StaffCalendar { staff_id: "s1".into(), hours: None, exceptions: BTreeMap::new(), busy: vec![] }],
            rules: Rules { min_notice_minutes: 0, max_advance_days: 3650, slot_interval_minutes: 30 },
        }
    }

    const CUT: ServiceSpec = ServiceSpec { duration_minutes: 60, buffer_before_minutes: 0, buffer_after_minutes: 0 };

    fn local(s: &Schedule, slot: &Slot) -> String {
        slot.start.to_zoned(s.tz.clone()).strftime("%H:%M%:z").to_string()
    }

    fn day_slots(s: &Schedule, date: &str, service: &ServiceSpec) -> Vec<String> {
        let d: Date = date.parse().unwrap();
        let from = d.to_zoned(s.tz.clone()).unwrap().timestamp();
        let to = d.tomorrow().unwrap().to_zoned(s.tz.clone()).unwrap().timestamp();
        let now = Timestamp::from_millisecond(from.as_millisecond() - 86_400_000).unwrap();
        s.free_slots(service, None, from, to, now, usize::MAX, false).iter().map(|slot| local(s, slot)).collect()
    }

    #[test]
    fn nine_oclock_stays_nine_oclock_across_dst() {
        for (tz, before, after) in [
            ("America/New_York", "2026-03-07", "2026-03-09"),
            ("America/New_York", "2026-10-31", "2026-11-02"),
            ("Europe/London", "2026-03-28", "2026-03-30"),
            ("Europe/London", "2026-10-24", "2026-10-26"),
            ("Australia/Lord_Howe", "2026-04-04", "2026-04-06"),
            ("Australia/Lord_Howe", "2026-10-03", "2026-10-05"),
        ] {
            let s = schedule(tz, 9 * 60, 12 * 60);
            let a = day_slots(&s, before, &CUT);
            let b = day_slots(&s, after, &CUT);
            assert_eq!(a[0][..5].to_owned(), "09:00", "{tz} {before}: {a:?}");
            assert_eq!(b[0][..5].to_owned(), "09:00", "{tz} {after}: {b:?}");
            assert_eq!(a.len(), 5);
            assert_eq!(b.len(), 5);
            assert_ne!(a[0][5..], b[0][5..], "{tz}: the offset changed between {before} and {after}");
        }
    }

    #[test]
    fn skipped_local_times_are_never_offered() {
        // New York springs forward at 02:00 on 8 March 2026: 02:00–02:59 does not exist.
        let s = schedule("America/New_York", 0, 6 * 60);
        let slots = day_slots(&s, "2026-03-08", &ServiceSpec { duration_minutes: 30, ..CUT });
        assert!(!slots.iter().any(|t| t.starts_with("02:")), "{slots:?}");
        assert!(slots.contains(&"01:30-05:00".to_string()) && slots.contains(&"03:00-04:00".to_string()), "{slots:?}");
        // The night is an hour shorter: 12 half-hour starts in 6 local hours less the skipped two.
        assert_eq!(slots.len(), 10);
        // Lord Howe skips 02:00–02:29 on 4 October 2026.
        let s = schedule("Australia/Lord_Howe", 0, 6 * 60);
        let slots = day_slots(&s, "2026-10-04", &ServiceSpec { duration_minutes: 30, ..CUT });
        assert!(!slots.iter().any(|t| t.starts_with("02:00")), "{slots:?}");
        assert!(slots.iter().any(|t| t.starts_with("02:30")), "{slots:?}");
    }

    #[test]
    fn repeated_local_times_are_offered_once_per_offset() {
        // New York falls back at 02:00 on 1 November 2026: 01:00–01:59 happens twice.
        let s = schedule("America/New_York", 0, 4 * 60);
        let slots = day_slots(&s, "2026-11-01", &ServiceSpec { duration_minutes: 30, ..CUT });
        let one_thirty: Vec<_> = slots.iter().filter(|t| t.starts_with("01:30")).collect();
        assert_eq!(one_thirty, vec!["01:30-04:00", "01:30-05:00"], "{slots:?}");
        // London falls back at 02:00 BST on 25 October 2026: 01:00–01:59 happens twice.
        let s = schedule("Europe/London", 0, 3 * 60);
        let slots = day_slots(&s, "2026-10-25", &ServiceSpec { duration_minutes: 30, ..CUT });
        assert_eq!(slots.iter().filter(|t| t.starts_with("01:00")).count(), 2, "{slots:?}");
    }

    #[test]
    fn bookings_and_buffers_block_time() {
        let mut s = schedule("Europe/London", 9 * 60, 12 * 60);
        let at = |t: &str| t.parse::<Timestamp>().unwrap().as_millisecond();
        // A booking 10:00–11:00 UTC (= local in winter).
        s.staff[0].busy = vec![(at("2026-01-05T10:00:00Z"), at("2026-01-05T11:00:00Z"))];
        let with_buffer = ServiceSpec { duration_minutes: 30, buffer_before_minutes: 0, buffer_after_minutes: 15 };
        let slots = day_slots(&s, "2026-01-05", &with_buffer);
        // 09:30 would run into the booking with its 15-minute clean-up.
        assert_eq!(slots, vec!["09:00+00:00", "11:00+00:00", "11:30+00:00"]);
    }

    #[test]
    fn notice_horizon_and_exceptions() {
        let mut s = schedule("Europe/London", 9 * 60, 17 * 60);
        s.rules.min_notice_minutes = 120;
        s.rules.max_advance_days = 1;
        let now: Timestamp = "2026-01-05T09:10:00Z".parse().unwrap();
        let slots = s.free_slots(&CUT, None, now, "2026-01-10T00:00:00Z".parse().unwrap(), now, usize::MAX, false);
        assert_eq!(slots[0].start, "2026-01-05T11:30:00Z".parse().unwrap(), "two hours' notice, on the grid");
        assert!(slots.iter().all(|x| x.start <= "2026-01-06T09:10:00Z".parse().unwrap()), "one day ahead at most");
        assert_eq!(s.check_bookable(&CUT, None, "2026-01-05T10:00:00Z".parse().unwrap(), now), Err(Unbookable::TooSoon));
        assert_eq!(s.check_bookable(&CUT, None, "2026-01-08T10:00:00Z".parse().unwrap(), now), Err(Unbookable::TooFarAhead));
        assert_eq!(s.check_bookable(&CUT, None, "2026-01-05T16:30:00Z".parse().unwrap(), now), Err(Unbookable::OutsideHours));
        assert_eq!(s.check_bookable(&CUT, None, "2026-01-05T12:10:00Z".parse().unwrap(), now), Err(Unbookable::OffGrid));

        let mut s = schedule("Europe/London", 9 * 60, 17 * 60);
        s.business_exceptions.insert("2026-12-25".parse().unwrap(), DayOverride::Closed);
        s.business_exceptions.insert("2026-12-24".parse().unwrap(), DayOverride::Hours(vec![LocalInterval::new(9 * 60, 12 * 60).unwrap()]));
        assert!(day_slots(&s, "2026-12-25", &CUT).is_empty());
        assert_eq!(day_slots(&s, "2026-12-24", &CUT).last().unwrap(), "11:00+00:00");
        // A staff member's own day off.
        s.staff[0].exceptions.insert("2026-12-23".parse().unwrap(), DayOverride::Closed);
        assert!(day_slots(&s, "2026-12-23", &CUT).is_empty());
    }

    #[test]
    fn nearest_alternatives_come_nearest_first() {
        let mut s = schedule("Europe/London", 9 * 60, 12 * 60);
        let at = |t: &str| t.parse::<Timestamp>().unwrap();
        s.staff[0].busy = vec![(at("2026-01-05T10:00:00Z").as_millisecond(), at("2026-01-05T11:00:00Z").as_millisecond())];
        let now = at("2026-01-01T00:00:00Z");
        assert!(s.free_at(&CUT, None, at("2026-01-05T10:00:00Z"), now).is_none());
        let near = s.nearest(&CUT, None, at("2026-01-05T10:00:00Z"), now, 3);
        let starts: Vec<_> = near.iter().map(|x| x.start.to_string()).collect();
        assert_eq!(starts, vec!["2026-01-05T09:00:00Z", "2026-01-05T11:00:00Z", "2026-01-04T11:00:00Z"]);
    }

    #[test]
    fn touching_intervals_are_one_stretch_and_gap_closing_times_end_at_the_jump() {
        let mut s = schedule("Europe/London", 9 * 60, 12 * 60);
        s.business_hours = std::array::from_fn(|_| vec![LocalInterval::new(540, 720).unwrap(), LocalInterval::new(720, 1020).unwrap()]);
        assert!(day_slots(&s, "2026-01-05", &CUT).contains(&"11:30+00:00".to_string()), "a 60-minute slot across 12:00");
        // New York closes at 02:30 on the night it springs forward: 02:30 does not exist, so it
        // closes at the jump (03:00 EDT); a 60-minute slot from 01:30 EST ends after that.
        let s = schedule("America/New_York", 0, 150);
        let slots = day_slots(&s, "2026-03-08", &CUT);
        assert_eq!(slots.last().unwrap(), "01:00-05:00", "{slots:?}");
    }

    #[test]
    fn open_round_the_clock_means_appointments_can_cross_midnight() {
        let s = schedule("America/Chicago", 0, 1440);
        let slots = day_slots(&s, "2026-11-21", &CUT);
        assert!(slots.contains(&"23:30-06:00".to_string()), "23:30–00:30 fits: {slots:?}");
        let s = schedule("America/Chicago", 9 * 60, 1440);
        assert!(!day_slots(&s, "2026-11-21", &CUT).contains(&"23:30-06:00".to_string()), "closed from midnight: it does not fit");
    }

    #[test]
    fn hhmm_parsing() {
        assert_eq!(parse_hhmm("09:30"), Some(570));
        assert_eq!(parse_hhmm("24:00"), Some(1440));
        assert_eq!(parse_hhmm("24:30"), None);
        assert_eq!(parse_hhmm("9:30"), None);
        assert_eq!(parse_hhmm("09:60"), None);
        assert_eq!(format_hhmm(570), "09:30");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        const ZONES: &[&str] = &[
            "America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC", "America/Sao_Paulo", "Pacific/Chatham",
        ];
        const DAY: i64 = 86_400_000;

        fn day() -> impl Strategy<Value = Vec<LocalInterval>> {
            // Up to three intervals from sorted distinct 5-minute boundaries.
            proptest::collection::btree_set(0u16..=288, 0..=6).prop_map(|points| {
                let points: Vec<u16> = points.into_iter().map(|p| p * 5).collect();
                points.chunks_exact(2).filter_map(|c| LocalInterval::new(c[0], c[1])).collect()
            })
        }

        fn week() -> impl Strategy<Value = WeekHours> {
            proptest::array::uniform7(day())
        }

        fn overrides(base: i64) -> impl Strategy<Value = BTreeMap<Date, DayOverride>> {
            proptest::collection::btree_map(0i64..14, prop_oneof![Just(None), day().prop_map(Some)], 0..4).prop_map(move |m| {
                m.into_iter()
                    .map(|(offset, hours)| {
                        let date = Timestamp::from_millisecond(base + offset * DAY).unwrap().to_zoned(TimeZone::UTC).date();
                        (date, hours.map_or(DayOverride::Closed, DayOverride::Hours))
                    })
                    .collect()
            })
        }

        fn busy(base: i64) -> impl Strategy<Value = Vec<(i64, i64)>> {
            proptest::collection::vec((0i64..14 * 1440, 15i64..=240), 0..12).prop_map(move |raw| {
                let mut blocks: Vec<(i64, i64)> = raw.into_iter().map(|(m, len)| (base + m * 60_000, base + (m + len) * 60_000)).collect();
                blocks.sort();
                // Merge overlaps: a person's blocked time is disjoint.
                let mut merged: Vec<(i64, i64)> = Vec::new();
                for b in blocks {
                    match merged.last_mut() {
                        Some(last) if b.0 <= last.1 => last.1 = last.1.max(b.1),
                        _ => merged.push(b),
                    }
                }
                merged
            })
        }

        #[derive(Debug, Clone)]
        struct Case {
            schedule: Schedule,
            service: ServiceSpec,
            now: Timestamp,
            from: Timestamp,
            to: Timestamp,
        }

        fn case() -> impl Strategy<Value = Case> {
            // A base day somewhere in 2026–2027, so DST changes of every zone are covered.
            (0i64..730, 0usize..ZONES.len()).prop_flat_map(|(day_offset, zone)| {
                let base = 1_767_225_600_000 + day_offset * DAY; // 2026-01-01T00:00Z
                let staff = (proptest::option::of(week()), overrides(base), busy(base));
                (
                    week(),
                    overrides(base),
                    proptest::collection::vec(staff, 1..=3),
                    (0i64..=600, 1i64..=30, prop::sample::select(vec![5i64, 10, 15, 20, 30, 45, 60])),
                    (5i64..=240, 0i64..=30, 0i64..=30),
                    (0i64..2 * 1440, 1i64..=10),
                )
                    .prop_map(move |(business_hours, business_exceptions, staff, (notice, advance, step), (duration, before, after), (start_min, days))| {
                        let now = Timestamp::from_millisecond(base + start_min * 60_000).unwrap();
                        Case {
                            schedule: Schedule {
                                tz: TimeZone::get(ZONES[zone]).unwrap(),
                                business_hours,
                                business_exceptions,
                                staff: staff
                                    .into_iter()
                                    .enumerate()
                                    .map(|(i, (hours, exceptions, busy))| StaffCalendar { staff_id: format!("s{i}"), hours, exceptions, busy })
                                    .collect(),
                                rules: Rules { min_notice_minutes: notice, max_advance_days: advance, slot_interval_minutes: step },
                            },
                            service: ServiceSpec { duration_minutes: duration, buffer_before_minutes: before, buffer_after_minutes: after },
                            now,
                            from: Timestamp::from_millisecond(now.as_millisecond() - DAY).unwrap(),
                            to: Timestamp::from_millisecond(now.as_millisecond() + days * DAY).unwrap(),
                        }
                    })
            })
        }

        /// Written independently of the engine: is `[start, end)` inside one of `hours` on `date`?
        fn inside(tz: &TimeZone, date: Date, hours: &[LocalInterval], start: i64, end: i64) -> bool {
            hours.iter().any(|i| {
                // A boundary is the first instant whose wall-clock time is at or past it (so a
                // boundary the clocks skip is the jump), found by search, not by the engine's way.
                let at = |m: u16| {
                    let dt = date.to_datetime(jiff::civil::Time::midnight()) + jiff::Span::new().minutes(i64::from(m));
                    let later = tz.to_ambiguous_timestamp(dt).later().unwrap().as_millisecond();
                    let (mut lo, mut hi) = (later - 3 * 3_600_000, later);
                    while hi - lo > 1_000 {
                        let mid = lo + (hi - lo) / 2;
                        let local = Timestamp::from_millisecond(mid).unwrap().to_zoned(tz.clone()).datetime();
                        if local >= dt { hi = mid } else { lo = mid }
                    }
                    // Folds: the earlier of the two instants, which the search above skips past.
                    // (Only folds: in a gap the "earlier" instant is before the jump, a wall-clock
                    // time short of the boundary; taking it ended an interval that closes at a
                    // skipped time, 00:40–02:00 on a spring-forward night, an hour early.)
                    let ambiguous = tz.to_ambiguous_timestamp(dt);
                    let fold = matches!(ambiguous.offset(), jiff::tz::AmbiguousOffset::Fold { .. });
                    let earlier = if fold { ambiguous.earlier().unwrap().as_millisecond() } else { hi };
                    hi.min(earlier).max(later - 3 * 3_600_000)
                };
                at(i.start) <= start && end <= at(i.end)
            })
        }

        /// Inside one interval of `date`, or inside an interval ending at 24:00 that the next
        /// day's interval from 00:00 continues.
        fn inside_two_days(tz: &TimeZone, date: Date, today: &[LocalInterval], tomorrow: &[LocalInterval], start: i64, end: i64) -> bool {
            if inside(tz, date, today, start, end) {
                return true;
            }
            let Some(last) = today.iter().find(|i| i.end == 1440) else { return false };
            let Some(first) = tomorrow.iter().find(|i| i.start == 0) else { return false };
            let at = |d: Date, m: u16| {
                let dt = d.to_datetime(jiff::civil::Time::midnight()) + jiff::Span::new().minutes(i64::from(m));
                tz.to_ambiguous_timestamp(dt).compatible().unwrap().as_millisecond()
            };
            let next = date.tomorrow().unwrap();
            at(date, last.start) <= start && end <= at(next, first.end)
        }

        fn hours_on<'a>(week: &'a WeekHours, exceptions: &'a BTreeMap<Date, DayOverride>, date: Date) -> &'a [LocalInterval] {
            match exceptions.get(&date) {
                Some(DayOverride::Closed) => &[],
                Some(DayOverride::Hours(h)) => h,
                None => &week[date.weekday().to_monday_zero_offset() as usize],
            }
        }

        #[test]
        fn generated_cases_offer_plenty_of_slots() {
            // Guards against the properties passing vacuously on schedules with no free time.
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            let (mut total, mut with_slots, mut with_busy) = (0, 0, 0);
            for _ in 0..200 {
                let c = case().new_tree(&mut runner).unwrap().current();
                let n = c.schedule.free_slots(&c.service, None, c.from, c.to, c.now, usize::MAX, false).len();
                total += n;
                with_slots += usize::from(n > 0);
                with_busy += usize::from(c.schedule.staff.iter().any(|s| !s.busy.is_empty()));
            }
            assert!(total > 2_000 && with_slots > 100 && with_busy > 150, "{total} slots, {with_slots} cases with slots, {with_busy} with bookings");
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

            #[test]
            fn every_offered_slot_is_valid(c in case()) {
                let s = &c.schedule;
                let slots = s.free_slots(&c.service, None, c.from, c.to, c.now, usize::MAX, false);
                let duration = c.service.duration_minutes * 60_000;
                let earliest = c.now.as_millisecond() + s.rules.min_notice_minutes * 60_000;
                let latest = c.now.as_millisecond() + s.rules.max_advance_days * DAY;
                let mut previous = i64::MIN;
                for slot in &slots {
                    let (start, end) = (slot.start.as_millisecond(), slot.end.as_millisecond());
                    prop_assert!(start > previous, "slots are sorted and distinct");
                    previous = start;
                    prop_assert_eq!(end - start, duration);
                    prop_assert!(c.from.as_millisecond() <= start && start < c.to.as_millisecond());
                    prop_assert!(start >= earliest, "notice");
                    prop_assert!(start <= latest, "horizon");
                    prop_assert!(!slot.staff_ids.is_empty());
                    let local = slot.start.to_zoned(s.tz.clone());
                    for id in &slot.staff_ids {
                        let staff = s.staff.iter().find(|x| &x.staff_id == id).unwrap();
                        // The interval containing the slot belongs to the start's local date or,
                        // around a transition at midnight, the day before.
                        let hours_for = |date: Date| {
                            let business = hours_on(&s.business_hours, &s.business_exceptions, date).to_vec();
                            let own = match (&staff.hours, staff.exceptions.get(&date)) {
                                (_, Some(DayOverride::Closed)) => vec![],
                                (_, Some(DayOverride::Hours(h))) => h.clone(),
                                (Some(w), None) => w[date.weekday().to_monday_zero_offset() as usize].clone(),
                                (None, None) => business.clone(),
                            };
                            (business, own)
                        };
                        let ok = [local.date(), local.date().yesterday().unwrap()].into_iter().any(|date| {
                            let next = date.tomorrow().unwrap();
                            let ((b0, o0), (b1, o1)) = (hours_for(date), hours_for(next));
                            inside_two_days(&s.tz, date, &b0, &b1, start, end) && inside_two_days(&s.tz, date, &o0, &o1, start, end)
                        });
                        prop_assert!(ok, "{} at {} is outside opening or working hours", id, local);
                        let block = (start - c.service.buffer_before_minutes * 60_000, end + c.service.buffer_after_minutes * 60_000);
                        prop_assert!(
                            staff.busy.iter().all(|b| b.1 <= block.0 || block.1 <= b.0),
                            "{} at {} overlaps a booking (buffers included)", id, local
                        );
                    }
                    // On the grid: whole steps of local time from some interval start.
                    let minute = i64::from(local.hour()) * 60 + i64::from(local.minute());
                    prop_assert_eq!(local.second(), 0);
                    prop_assert!(
                        s.business_hours.iter().flatten().chain(s.business_exceptions.values().flat_map(|o| match o { DayOverride::Hours(h) => h.as_slice(), _ => &[] }))
                            .chain(s.staff.iter().flat_map(|x| x.hours.iter().flatten().flatten()))
                            .chain(s.staff.iter().flat_map(|x| x.exceptions.values().flat_map(|o| match o { DayOverride::Hours(h) => h.as_slice(), _ => &[] })))
                            .any(|i| (minute - i64::from(i.start)).rem_euclid(s.rules.slot_interval_minutes) == 0),
                        "{} is off the grid", local
                    );
                }
            }

            #[test]
            fn a_free_slot_is_bookable_and_then_taken(c in case()) {
                let s = &c.schedule;
                let Some(slot) = s.free_slots(&c.service, None, c.from, c.to, c.now, 1, false).into_iter().next() else { return Ok(()) };
                prop_assert!(s.check_bookable(&c.service, None, slot.start, c.now).is_ok());
                prop_assert_eq!(s.free_at(&c.service, None, slot.start, c.now).map(|x| x.staff_ids), Some(slot.staff_ids.clone()));
                // Book it for everyone free: then nobody is free at that time.
                let mut booked = s.clone();
                for id in &slot.staff_ids {
                    let staff = booked.staff.iter_mut().find(|x| &x.staff_id == id).unwrap();
                    staff.busy.push((slot.start.as_millisecond(), slot.end.as_millisecond()));
                    staff.busy.sort();
                }
                prop_assert!(booked.free_at(&c.service, None, slot.start, c.now).is_none());
            }
        }
    }

}
