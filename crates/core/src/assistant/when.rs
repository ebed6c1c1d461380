//! Reading "when" out of what customers write: "tomorrow at 3pm", "next Tuesday half past 4",
//! "Friday noon", "5 December at 14:30", "tonight at 7 New York time".
//!
//! Dates are parsed by `interim` (a maintained fork of chrono-english: relative days, weekdays,
//! month names, ISO and UK numeric dates) from the words of the sentence that form a date; times
//! are read here, because customers write them in ways date libraries do not expect ("half past
//! 4", "noon", a bare "at 4" that means the afternoon at a hair salon). A zone the customer names
//! ("New York time", "GMT") is honoured; otherwise the business's zone applies.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::Zoned;

/// What a message says about when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct When {
    pub date: Option<Date>,
    pub time: Option<Time>,
    /// A zone the customer named, if any.
    pub zone: Option<TimeZone>,
}

impl When {
    /// The instant meant, in the business's zone unless the customer named one. A time without a
    /// date is today if still ahead, else tomorrow.
    pub fn resolve(&self, now: &Zoned) -> Option<jiff::Timestamp> {
        let time = self.time?;
        let zone = self.zone.clone().unwrap_or_else(|| now.time_zone().clone());
        let today = now.with_time_zone(zone.clone()).date();
        let date = match self.date {
            Some(d) => d,
            None if today.to_datetime(time).to_zoned(zone.clone()).ok()?.timestamp() > now.timestamp() => today,
            None => today.tomorrow().ok()?,
        };
        date.to_datetime(time).to_zoned(zone).ok().map(|z| z.timestamp())
    }
}

const WEEKDAYS: [&str; 14] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

fn is_month(w: &str) -> bool {
    w.len() >= 3 && MONTHS.iter().any(|m| w.starts_with(m))
}

/// Words that start or continue a date: relative days, weekdays, months, numeric dates.
fn is_date_word(w: &str) -> bool {
    matches!(w, "today" | "tomorrow" | "next" | "this") || WEEKDAYS.contains(&w) || is_month(w) || numeric_date(w)
}

/// 5/12, 05/12/2026, 2026-12-05.
fn numeric_date(w: &str) -> bool {
    w.chars().next().is_some_and(|c| c.is_ascii_digit()) && (w.contains('/') || w.contains('-')) && w.chars().all(|c| c.is_ascii_digit() || c == '/' || c == '-')
}

/// Short forms interim does not know.
fn normalise(w: &str) -> &str {
    match w {
        "tues" => "tuesday",
        "weds" => "wednesday",
        "thur" | "thurs" => "thursday",
        "sept" => "sep",
        other => other,
    }
}

/// "5th" → 5, "21st" → 21, "5" → 5 (1–31).
fn ordinal(w: &str) -> Option<u32> {
    let digits: String = w.chars().take_while(|c| c.is_ascii_digit()).collect();
    let rest = &w[digits.len()..];
    if digits.is_empty() || !matches!(rest, "" | "st" | "nd" | "rd" | "th") {
        return None;
    }
    digits.parse().ok().filter(|d| (1..=31).contains(d))
}

fn zone_named(text: &str) -> Option<TimeZone> {
    let names: [(&str, &str); 14] = [
        ("new york", "America/New_York"),
        ("eastern", "America/New_York"),
        ("est", "America/New_York"),
        ("edt", "America/New_York"),
        ("pacific", "America/Los_Angeles"),
        ("pst", "America/Los_Angeles"),
        ("pdt", "America/Los_Angeles"),
        ("london", "Europe/London"),
        ("uk time", "Europe/London"),
        ("bst", "Europe/London"),
        ("paris", "Europe/Paris"),
        ("cet", "Europe/Paris"),
        ("utc", "UTC"),
        ("gmt", "UTC"),
    ];
    let words: Vec<&str> = text.split_whitespace().collect();
    names.iter().find_map(|(name, iana)| {
        let hit = if name.contains(' ') { text.contains(name) } else { words.contains(name) };
        hit.then(|| TimeZone::get(iana).ok()).flatten()
    })
}

fn number_word(w: &str) -> Option<i8> {
    let words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"];
    words.iter().position(|x| *x == w).map(|i| i as i8 + 1).or_else(|| w.parse().ok().filter(|h: &i8| (0..=23).contains(h)))
}

/// Hours 1–7 without am/pm mean the afternoon: nobody books a haircut at 4 in the morning.
fn business_hour(h: i8, meridiem: Option<&str>) -> i8 {
    match meridiem {
        Some("pm") if h < 12 => h + 12,
        Some("am") if h == 12 => 0,
        Some(_) => h,
        None if (1..=7).contains(&h) => h + 12,
        None => h,
    }
}

/// The time of day in the words, if any.
fn time_in(words: &[String]) -> Option<Time> {
    let at = |h: i8, m: i8| Time::new(h, m, 0, 0).ok();
    for (i, w) in words.iter().enumerate() {
        let next = words.get(i + 1).map(String::as_str);
        let after = words.get(i + 2).map(String::as_str);
        fn meridiem_of(s: Option<&str>) -> Option<&str> {
            s.filter(|s| matches!(*s, "am" | "pm"))
        }
        match w.as_str() {
            "noon" | "midday" | "lunchtime" => return at(12, 0),
            "half" if next == Some("past") => {
                let h = number_word(after?)?;
                return at(business_hour(h, meridiem_of(words.get(i + 3).map(String::as_str))), 30);
            }
            "quarter" if next == Some("past") => {
                let h = number_word(after?)?;
                return at(business_hour(h, meridiem_of(words.get(i + 3).map(String::as_str))), 15);
            }
            "quarter" if next == Some("to") => {
                let h = number_word(after?)?;
                return at(business_hour(h, meridiem_of(words.get(i + 3).map(String::as_str))) - 1, 45);
            }
            _ => {}
        }
        // 3pm, 3:30pm, 9.30am, 15:00, "3 pm", "4 o'clock", "at 4".
        let (body, suffix) = if let Some(b) = w.strip_suffix("am") { (b, Some("am")) } else if let Some(b) = w.strip_suffix("pm") { (b, Some("pm")) } else { (w.as_str(), None) };
        let suffix = suffix.or(meridiem_of(next));
        let (h, m) = match body.split_once([':', '.']) {
            Some((h, m)) if m.len() == 2 => (h.parse::<i8>().ok(), m.parse::<i8>().ok()),
            Some(_) => (None, None),
            None => (body.parse::<i8>().ok(), Some(0)),
        };
        let (Some(h), Some(m)) = (h, m) else { continue };
        if !(0..=23).contains(&h) || !(0..=59).contains(&m) || body.is_empty() {
            continue;
        }
        let has_colon = body.contains([':', '.']);
        let oclock = next == Some("o'clock") || next == Some("oclock");
        let after_at = i > 0 && words[i - 1] == "at";
        if suffix.is_some() || has_colon || oclock || after_at {
            let h = if h > 12 { h } else { business_hour(h, suffix) };
            return at(h, m);
        }
    }
    None
}

/// Parses what a message says about when, relative to `now` (in the business's zone).
pub fn parse(text: &str, now: &Zoned) -> When {
    let lower = text.to_lowercase().replace(['?', '!', ',', ';'], " ");
    let zone = zone_named(&lower);
    let words: Vec<String> = lower.split_whitespace().map(|w| w.trim_matches(|c: char| c == '\'' || c == '"').to_owned()).filter(|w| !w.is_empty()).collect();
    let time = time_in(&words).or_else(|| {
        if words.iter().any(|w| w == "tonight") {
            Time::new(19, 0, 0, 0).ok()
        } else {
            None
        }
    });
    let reference = zone.as_ref().map_or_else(|| now.clone(), |z| now.with_time_zone(z.clone()));
    let date = parse_date(&words, &reference);
    When { date, time, zone }
}

fn parse_date(words: &[String], now: &Zoned) -> Option<Date> {
    let today = now.date();
    let joined = words.join(" ");
    if joined.contains("day after tomorrow") {
        return today.tomorrow().ok()?.tomorrow().ok();
    }
    // "in 3 days"
    if let Some(i) = words.iter().position(|w| w == "in") {
        if let (Some(n), Some(unit)) = (words.get(i + 1).and_then(|n| n.parse::<i64>().ok()), words.get(i + 2)) {
            if unit.starts_with("day") {
                return today.checked_add(jiff::Span::new().days(n)).ok();
            }
            if unit.starts_with("week") {
                return today.checked_add(jiff::Span::new().weeks(n)).ok();
            }
        }
    }
    if words.iter().any(|w| w == "tonight") {
        return Some(today);
    }
    // A run of date words interim understands ("next friday", "5 december", "december 5th",
    // "5/12", "2026-12-05"), shortened from the end until it parses.
    let words: Vec<String> = words.iter().map(|w| normalise(w).to_owned()).collect();
    let day_number = |w: &str| ordinal(w);
    for start in 0..words.len() {
        let starts = is_date_word(&words[start])
            || (day_number(&words[start]).is_some() && words.get(start + 1).is_some_and(|n| is_month(n) || (n == "of" && words.get(start + 2).is_some_and(|m| is_month(m)))));
        if !starts {
            continue;
        }
        let mut run: Vec<String> = Vec::new();
        for w in &words[start..] {
            if is_date_word(w) || day_number(w).is_some() && (run.last().is_some_and(|p| is_month(p)) || run.is_empty()) {
                run.push(day_number(w).filter(|_| w.chars().any(char::is_alphabetic)).map(|d| d.to_string()).unwrap_or_else(|| w.clone()));
            } else if matches!(w.as_str(), "of" | "the") && !run.is_empty() {
                continue;
            } else {
                break;
            }
        }
        while !run.is_empty() {
            if let Ok(parsed) = interim::parse_date_string(&run.join(" "), now.clone(), interim::Dialect::Uk) {
                return Some(parsed.date());
            }
            run.pop();
        }
    }
    // "the 30th": the next day of the month with that number.
    let nth = words.iter().find(|w| w.chars().any(char::is_alphabetic)).and_then(|_| words.iter().find_map(|w| ordinal(w).filter(|_| w.chars().any(char::is_alphabetic))))?;
    let mut month_start = today.first_of_month();
    for _ in 0..3 {
        if let Ok(candidate) = Date::new(month_start.year(), month_start.month(), nth as i8) {
            if candidate >= today {
                return Some(candidate);
            }
        }
        month_start = month_start.checked_add(jiff::Span::new().months(1)).ok()?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Zoned {
        // Sunday 22 November 2026, 09:15 in London.
        "2026-11-22T09:15:00[Europe/London]".parse().unwrap()
    }

    #[test]
    fn thirty_ways_of_saying_when() {
        let cases: &[(&str, &str)] = &[
            ("Can I book a haircut tomorrow at 3pm?", "2026-11-23T15:00:00+00:00[Europe/London]"),
            ("tomorrow 15:00 please", "2026-11-23T15:00:00+00:00[Europe/London]"),
            ("next Tuesday at 10am", "2026-12-01T10:00:00+00:00[Europe/London]"),
            ("this Tuesday at 10am", "2026-11-24T10:00:00+00:00[Europe/London]"),
            ("Friday at noon", "2026-11-27T12:00:00+00:00[Europe/London]"),
            ("saturday half past 4", "2026-11-28T16:30:00+00:00[Europe/London]"),
            ("Monday at quarter past 11", "2026-11-23T11:15:00+00:00[Europe/London]"),
            ("wednesday at quarter to 2", "2026-11-25T13:45:00+00:00[Europe/London]"),
            ("tomorrow at 4 o'clock", "2026-11-23T16:00:00+00:00[Europe/London]"),
            ("the day after tomorrow at 2pm", "2026-11-24T14:00:00+00:00[Europe/London]"),
            ("in 3 days at 11am", "2026-11-25T11:00:00+00:00[Europe/London]"),
            ("on 5 December at 14:30", "2026-12-05T14:30:00+00:00[Europe/London]"),
            ("December 5th at 2:30pm", "2026-12-05T14:30:00+00:00[Europe/London]"),
            ("5/12 at 10am", "2026-12-05T10:00:00+00:00[Europe/London]"),
            ("2026-12-05 at 9am", "2026-12-05T09:00:00+00:00[Europe/London]"),
            ("today at 5pm", "2026-11-22T17:00:00+00:00[Europe/London]"),
            ("tonight at 7", "2026-11-22T19:00:00+00:00[Europe/London]"),
            ("Friday 9.30am", "2026-11-27T09:30:00+00:00[Europe/London]"),
            ("thursday at 3", "2026-11-26T15:00:00+00:00[Europe/London]"),
            ("tomorrow at 10 in the morning", "2026-11-23T10:00:00+00:00[Europe/London]"),
            ("next friday 4pm", "2026-12-04T16:00:00+00:00[Europe/London]"),
            ("the 30th at 11am", "2026-11-30T11:00:00+00:00[Europe/London]"),
            ("at 4pm", "2026-11-22T16:00:00+00:00[Europe/London]"),
            ("8am", "2026-11-23T08:00:00+00:00[Europe/London]"),
            ("Tues at midday", "2026-11-24T12:00:00+00:00[Europe/London]"),
            ("could you do Sat 11:45?", "2026-11-28T11:45:00+00:00[Europe/London]"),
            ("tomorrow at 3pm New York time", "2026-11-23T20:00:00+00:00[Europe/London]"),
            ("Monday 10am GMT", "2026-11-23T10:00:00+00:00[Europe/London]"),
            ("tomorrow at 9 pm", "2026-11-23T21:00:00+00:00[Europe/London]"),
            ("in 2 weeks at 1pm", "2026-12-06T13:00:00+00:00[Europe/London]"),
            ("1st of December at half past ten", "2026-12-01T10:30:00+00:00[Europe/London]"),
        ];
        let tz = TimeZone::get("Europe/London").unwrap();
        let mut failures = Vec::new();
        for (text, expected) in cases {
            let got = parse(text, &now()).resolve(&now()).map(|t| t.to_zoned(tz.clone()).to_string());
            if got.as_deref() != Some(*expected) {
                failures.push(format!("{text:?}: expected {expected}, got {got:?}"));
            }
        }
        assert!(cases.len() >= 30);
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn dates_without_times_and_no_dates() {
        let w = parse("Do you have anything on Friday?", &now());
        assert_eq!(w.date, Some("2026-11-27".parse().unwrap()));
        assert_eq!(w.time, None);
        assert_eq!(parse("How much is a haircut?", &now()), When { date: None, time: None, zone: None });
        assert_eq!(parse("I have 2 kids", &now()).time, None, "a number is not a time");
    }
}
