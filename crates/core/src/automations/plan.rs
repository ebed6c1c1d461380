//! When a reminder goes out: pure arithmetic on instants, the business's zone, its rules and
//! quiet hours (no database, so every case is a unit test).
//!
//! - A rule of whole days keeps the local time ("1440 minutes before" a 09:00 appointment is 09:00
//!   the day before, also across a daylight-saving change); other rules are elapsed time.
//! - A reminder that would fall in quiet hours moves to the end of them when that is still well
//!   before the appointment, otherwise to just before they begin.
//! - A booking made inside a rule's window: if a shorter rule will still fire, that one covers it;
//!   if none will, the shortest rule fires half-way between now and the appointment (never
//!   nothing, never a reminder on top of the confirmation just sent) — unless the appointment is
//!   less than an hour away.

use jiff::civil::Time;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp, ToSpan};
use protocol::{QuietHours, ReminderRule};

/// A reminder is never closer to the appointment than this after moving out of quiet hours.
const MIN_LEAD_MINUTES: i64 = 30;
/// A booking made less than this before its start gets no reminder (the confirmation is enough).
const MIN_INSIDE_WINDOW_MINUTES: i64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    At(Timestamp),
    Skip(String),
}

pub fn parse_hhmm(text: &str) -> Option<Time> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    if h == 24 && m == 0 {
        return Some(Time::midnight());
    }
    Time::new(h, m, 0, 0).ok()
}

/// The rule's nominal time: whole days in local time, anything else as elapsed minutes.
pub fn nominal(start: Timestamp, minutes_before: u32, tz: &TimeZone) -> Timestamp {
    if minutes_before > 0 && minutes_before % 1440 == 0 {
        let days = i64::from(minutes_before / 1440);
        if let Ok(z) = start.to_zoned(tz.clone()).checked_sub(Span::new().days(days)) {
            return z.timestamp();
        }
    }
    start.checked_sub(i64::from(minutes_before).minutes()).unwrap_or(start)
}

/// Whether `at` is inside quiet hours (`start`..`end` local, wrapping midnight when end < start).
pub fn in_quiet(at: Timestamp, quiet: &QuietHours, tz: &TimeZone) -> bool {
    let (Some(qs), Some(qe)) = (parse_hhmm(&quiet.start), parse_hhmm(&quiet.end)) else { return false };
    if qs == qe {
        return false;
    }
    let t = at.to_zoned(tz.clone()).time();
    if qs < qe {
        t >= qs && t < qe
    } else {
        t >= qs || t < qe
    }
}

/// The end and the beginning of the quiet period `at` is in.
fn quiet_bounds(at: Timestamp, quiet: &QuietHours, tz: &TimeZone) -> Option<(Timestamp, Timestamp)> {
    let (qs, qe) = (parse_hhmm(&quiet.start)?, parse_hhmm(&quiet.end)?);
    let z = at.to_zoned(tz.clone());
    let date = z.date();
    let t = z.time();
    // The quiet period's start date: today if we are after its start, else yesterday (wrapping).
    let start_date = if qs < qe || t >= qs { date } else { date.yesterday().ok()? };
    let begin = start_date.to_datetime(qs).to_zoned(tz.clone()).ok()?.timestamp();
    let end_date = if qs < qe { start_date } else { start_date.tomorrow().ok()? };
    let end = end_date.to_datetime(qe).to_zoned(tz.clone()).ok()?.timestamp();
    Some((end, begin))
}

/// Moves `at` out of quiet hours: to their end if that leaves time before `start`, else to a
/// minute before they began; `None` if neither works.
pub fn outside_quiet(at: Timestamp, start: Timestamp, now: Timestamp, quiet: Option<&QuietHours>, tz: &TimeZone) -> Option<Timestamp> {
    let Some(quiet) = quiet else { return Some(at) };
    if !in_quiet(at, quiet, tz) {
        return Some(at);
    }
    let (end, begin) = quiet_bounds(at, quiet, tz)?;
    let latest = start.checked_sub(MIN_LEAD_MINUTES.minutes()).ok()?;
    if end <= latest {
        return Some(end);
    }
    let before = begin.checked_sub(1.minute()).ok()?;
    (before > now).then_some(before)
}

/// When `rule` reminds of an appointment at `start`, planned at `now`.
pub fn reminder(now: Timestamp, start: Timestamp, rule: &ReminderRule, rules: &[ReminderRule], quiet: Option<&QuietHours>, tz: &TimeZone) -> Plan {
    if start <= now {
        return Plan::Skip("The appointment has already started.".into());
    }
    let due = nominal(start, rule.minutes_before, tz);
    let due = if due > now {
        due
    } else {
        // Inside this rule's window. A shorter rule that will still fire covers it.
        let covering = rules
            .iter()
            .filter(|r| r.minutes_before < rule.minutes_before)
            .filter(|r| matches!(reminder(now, start, r, &[], quiet, tz), Plan::At(_)))
            .min_by_key(|r| r.minutes_before);
        if let Some(other) = covering {
            return Plan::Skip(format!("Booked inside this reminder's window; the {} reminder covers it.", other.id));
        }
        // Of the rules inside their window, only the shortest fires.
        if let Some(shorter) = rules.iter().filter(|r| r.minutes_before < rule.minutes_before).min_by_key(|r| r.minutes_before) {
            return Plan::Skip(format!("Booked inside this reminder's window; the {} reminder covers it.", shorter.id));
        }
        let left = start.as_millisecond() - now.as_millisecond();
        if left < MIN_INSIDE_WINDOW_MINUTES * 60_000 {
            return Plan::Skip("Booked less than an hour before the appointment; the confirmation is the reminder.".into());
        }
        Timestamp::from_millisecond(now.as_millisecond() + left / 2).unwrap_or(start)
    };
    match outside_quiet(due, start, now, quiet, tz) {
        Some(at) => Plan::At(at),
        None => Plan::Skip("Every time for this reminder falls in quiet hours.".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Vec<ReminderRule> {
        vec![ReminderRule { id: "24h".into(), minutes_before: 1440 }, ReminderRule { id: "2h".into(), minutes_before: 120 }]
    }

    fn quiet() -> QuietHours {
        QuietHours { start: "21:00".into(), end: "08:00".into() }
    }

    fn local(text: &str, tz: &TimeZone) -> Timestamp {
        text.parse::<jiff::civil::DateTime>().unwrap().to_zoned(tz.clone()).unwrap().timestamp()
    }

    fn at_local(plan: &Plan, tz: &TimeZone) -> String {
        match plan {
            Plan::At(t) => t.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M").to_string(),
            Plan::Skip(why) => format!("skip: {why}"),
        }
    }

    #[test]
    fn a_day_before_keeps_the_local_time_across_daylight_saving() {
        // New York springs forward on 2027-03-14 and falls back on 2027-11-07; London on
        // 2027-03-28 and 2027-10-31.
        for (zone, start, want) in [
            ("America/New_York", "2027-03-15T09:00", "2027-03-14 09:00"),
            ("America/New_York", "2027-11-08T09:00", "2027-11-07 09:00"),
            ("Europe/London", "2027-03-29T09:00", "2027-03-28 09:00"),
            ("Europe/London", "2027-11-01T09:00", "2027-10-31 09:00"),
        ] {
            let tz = TimeZone::get(zone).unwrap();
            let now = local("2027-01-01T12:00", &tz);
            let plan = reminder(now, local(start, &tz), &rules()[0], &rules(), None, &tz);
            assert_eq!(at_local(&plan, &tz), want, "{zone} {start}");
        }
        // Two hours before is two hours of elapsed time, even over the jump (01:30 → 03:30 local is 1 h).
        let tz = TimeZone::get("America/New_York").unwrap();
        let plan = reminder(local("2027-01-01T12:00", &tz), local("2027-03-14T04:00", &tz), &rules()[1], &rules(), None, &tz);
        assert_eq!(at_local(&plan, &tz), "2027-03-14 01:00");
    }

    #[test]
    fn quiet_hours_move_a_reminder_to_their_end_or_before_them() {
        let tz = TimeZone::get("Europe/London").unwrap();
        let now = local("2027-05-01T12:00", &tz);
        // 10:00 appointment: 2 h before is 08:00, fine. 09:00: 07:00 is quiet; 08:00 is an hour
        // before the appointment, so 08:00.
        assert_eq!(at_local(&reminder(now, local("2027-05-10T10:00", &tz), &rules()[1], &rules(), Some(&quiet()), &tz), &tz), "2027-05-10 08:00");
        assert_eq!(at_local(&reminder(now, local("2027-05-10T09:00", &tz), &rules()[1], &rules(), Some(&quiet()), &tz), &tz), "2027-05-10 08:00");
        // 08:15 appointment: 06:15 is quiet and 08:00 is too close, so the evening before at 20:59.
        assert_eq!(at_local(&reminder(now, local("2027-05-10T08:15", &tz), &rules()[1], &rules(), Some(&quiet()), &tz), &tz), "2027-05-09 20:59");
        // A late appointment's 24 h reminder at 22:00 moves to 08:00 the next morning.
        assert_eq!(at_local(&reminder(now, local("2027-05-10T22:00", &tz), &rules()[0], &rules(), Some(&quiet()), &tz), &tz), "2027-05-10 08:00");
        // Quiet hours that do not wrap midnight.
        let lunch = QuietHours { start: "12:00".into(), end: "13:00".into() };
        assert_eq!(at_local(&reminder(now, local("2027-05-10T14:30", &tz), &rules()[1], &rules(), Some(&lunch), &tz), &tz), "2027-05-10 13:00");
        for plan in [reminder(now, local("2027-05-10T09:00", &tz), &rules()[0], &rules(), Some(&quiet()), &tz)] {
            if let Plan::At(t) = plan {
                assert!(!in_quiet(t, &quiet(), &tz));
            }
        }
    }

    #[test]
    fn a_booking_inside_a_window_gets_the_nearest_sensible_reminder() {
        let tz = TimeZone::get("Europe/London").unwrap();
        let now = local("2027-05-10T10:00", &tz);
        // Booked 5 hours ahead: the 24 h rule is covered by the 2 h one.
        let start = local("2027-05-10T15:00", &tz);
        assert!(matches!(reminder(now, start, &rules()[0], &rules(), None, &tz), Plan::Skip(why) if why.contains("2h reminder covers")));
        assert_eq!(at_local(&reminder(now, start, &rules()[1], &rules(), None, &tz), &tz), "2027-05-10 13:00");
        // Booked 90 minutes ahead: the 2 h reminder goes half-way, the 24 h one is covered.
        let start = local("2027-05-10T11:30", &tz);
        assert_eq!(at_local(&reminder(now, start, &rules()[1], &rules(), None, &tz), &tz), "2027-05-10 10:45");
        assert!(matches!(reminder(now, start, &rules()[0], &rules(), None, &tz), Plan::Skip(_)));
        // Booked 40 minutes ahead: the confirmation is enough.
        let start = local("2027-05-10T10:40", &tz);
        assert!(matches!(reminder(now, start, &rules()[1], &rules(), None, &tz), Plan::Skip(why) if why.contains("less than an hour")));
    }
}
