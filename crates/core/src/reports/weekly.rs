//! The weekly summary each owner gets by mail: last week's headline figures (Monday to Sunday,
//! the business's local days) beside the week before, due on Monday at 08:00 local time.
//!
//! A step of [`crate::workers::Job::WeeklySummary`] queues what is due into the mail outbox,
//! which the [`crate::workers::Job::Mail`] worker sends with its retries. Each mail's outbox id
//! is `weekly_summary:{staff}:{week's monday}`, so an owner gets one per week whichever instance
//! and however often the step runs. Only owners with a verified address get it (the figures are
//! the business's); a week with no conversation and no booking sends nothing; a summary more than
//! three days late (the service was down, or has just been installed) is not sent.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use protocol::{ReportFigures, ReportSummary, Role};
use sqlx::Row as _;

use crate::accounts::Actor;
use crate::error::Error;
use crate::mail::{self, MailKind};
use crate::workers::Job;
use crate::Core;

/// Local time on Monday when last week's summary is due.
const DUE_HOUR: i8 = 8;
/// How late a summary may still go out.
const LATE_MS: i64 = 3 * 86_400_000;

/// The week a summary is due for at `now`: its Monday, when it was due, in the zone `tz`.
pub fn due_week(now_ms: i64, tz: &TimeZone) -> Result<(Date, i64), Error> {
    let now = Timestamp::from_millisecond(now_ms).map_err(Error::internal)?.to_zoned(tz.clone());
    let today = now.date();
    let this_monday = today.checked_sub(Span::new().days(today.weekday().to_monday_zero_offset())).map_err(Error::internal)?;
    let due_at = |monday: Date| -> Result<i64, Error> { Ok(monday.at(DUE_HOUR, 0, 0, 0).to_zoned(tz.clone()).map_err(Error::internal)?.timestamp().as_millisecond()) };
    let monday = if now_ms >= due_at(this_monday)? { this_monday } else { this_monday.checked_sub(Span::new().days(7)).map_err(Error::internal)? };
    let week = monday.checked_sub(Span::new().days(7)).map_err(Error::internal)?;
    Ok((week, due_at(monday)?))
}

struct Owner {
    staff_id: String,
    email: String,
    business_id: String,
    business_name: String,
    timezone: String,
}

/// Queues every weekly summary that is due now; returns how many.
pub async fn queue_due(core: &Core) -> Result<usize, Error> {
    if core.mailer.is_none() {
        return Ok(0);
    }
    let now = core.db.now_ms();
    let rows = sqlx::query(
        "SELECT s.id, s.email, s.business_id, b.name, b.timezone FROM staff s JOIN businesses b ON b.id = s.business_id \
         WHERE s.role = 'owner' AND s.active = 1 AND s.email_verified_at IS NOT NULL ORDER BY s.business_id, s.id",
    )
    .fetch_all(core.db.reader())
    .await?;
    let owners = rows
        .iter()
        .map(|r| {
            Ok(Owner { staff_id: r.try_get("id")?, email: r.try_get("email")?, business_id: r.try_get("business_id")?, business_name: r.try_get("name")?, timezone: r.try_get("timezone")? })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    let mut queued = 0;
    // Computed once per business and week, for however many owners it has.
    let mut computed: Option<(String, Option<ReportSummary>)> = None;
    for owner in owners {
        let tz = TimeZone::get(&owner.timezone).map_err(Error::internal)?;
        let (week, due_at) = due_week(now, &tz)?;
        if now - due_at > LATE_MS {
            continue;
        }
        let id = format!("weekly_summary:{}:{week}", owner.staff_id);
        let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mail_outbox WHERE id = $1").bind(&id).fetch_one(core.db.reader()).await?;
        if sent > 0 {
            continue;
        }
        let key = format!("{}:{week}", owner.business_id);
        if computed.as_ref().is_none_or(|(k, _)| *k != key) {
            let actor = Actor { business_id: owner.business_id.clone(), staff_id: owner.staff_id.clone(), role: Role::Owner, session_id: "weekly_summary".into() };
            let to = week.checked_add(Span::new().days(6)).map_err(Error::internal)?;
            let q = super::ReportQuery { from: week.to_string(), to: to.to_string(), ..Default::default() };
            let summary = super::summary(core, &actor, q).await?;
            let quiet = summary.current.conversations == 0 && summary.current.bookings == 0;
            computed = Some((key, (!quiet).then_some(summary)));
        }
        let Some(summary) = computed.as_ref().and_then(|(_, s)| s.as_ref()) else { continue };
        let subject = format!("{}: your week, {}", owner.business_name, span_label(&summary.current));
        let mut conn = core.db.writer().acquire().await?;
        if mail::queue(&mut conn, core, Some(&id), Some(&owner.business_id), MailKind::WeeklySummary, &owner.email, &subject, &body(&owner.business_name, summary)).await? {
            queued += 1;
        }
    }
    if queued > 0 {
        core.db.wakeups().wake(Job::Mail);
    }
    Ok(queued)
}

fn span_label(f: &ReportFigures) -> String {
    format!("{} to {}", f.from, f.to)
}

fn duration(secs: Option<u32>) -> String {
    match secs {
        None => "none measured".into(),
        Some(s) if s < 60 => format!("{s} s"),
        Some(s) if s < 3600 => format!("{} min", (s + 30) / 60),
        Some(s) => format!("{} h {} min", s / 3600, (s % 3600 + 30) / 60),
    }
}

fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.1}%")).unwrap_or_else(|| "none".into())
}

fn money(cents: i64, currency: &str) -> String {
    format!("{}.{:02} {currency}", cents / 100, (cents % 100).abs())
}

/// The mail's text: the week's figures, each beside the week before.
pub fn body(business: &str, s: &ReportSummary) -> String {
    let (c, p) = (&s.current, &s.previous);
    format!(
        "{business} — the week of {} (days in {})\n\n\
         Conversations: {} (the week before: {})\n\
         \x20 handled by the assistant alone: {} ({})\n\
         \x20 handed to a person: {} ({})\n\
         \x20 taken over by a person: {} ({})\n\
         Wait for a person, median: {} (the week before: {})\n\
         First reply by a person, median: {} ({} counting opening hours only)\n\
         Bookings: {} (the week before: {}), booked value {} (the week before: {})\n\
         Cancellation rate: {} · No-show rate: {}\n\n\
         The figures per day, per channel and per person, and the conversations and bookings behind each one, are in \
         Reports in the Switchboard console. How each figure is counted: docs/metrics.md, version {}.\n",
        span_label(c),
        s.timezone,
        c.conversations,
        p.conversations,
        c.handled_by_assistant,
        pct(c.handled_by_assistant_pct),
        c.handed_over,
        pct(c.handed_over_pct),
        c.taken_over,
        pct(c.taken_over_pct),
        duration(c.wait_for_person_p50_secs),
        duration(p.wait_for_person_p50_secs),
        duration(c.first_response_p50_secs),
        duration(c.first_response_business_p50_secs),
        c.bookings,
        p.bookings,
        money(c.booked_value_cents, &s.currency),
        money(p.booked_value_cents, &s.currency),
        pct(c.cancellation_pct),
        pct(c.no_show_pct),
        s.definitions_version,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(local: &str, tz: &TimeZone) -> i64 {
        local.parse::<jiff::civil::DateTime>().unwrap().to_zoned(tz.clone()).unwrap().timestamp().as_millisecond()
    }

    #[test]
    fn a_week_is_due_on_monday_at_eight_local_for_the_week_before() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // Monday 2026-11-30, 07:59 local: still last Monday's (the week of 16 November).
        let (week, due) = due_week(at("2026-11-30T07:59", &tz), &tz).unwrap();
        assert_eq!((week.to_string(), due), ("2026-11-16".to_owned(), at("2026-11-23T08:00", &tz)));
        // 08:00: the week of 23 November is due.
        let (week, due) = due_week(at("2026-11-30T08:00", &tz), &tz).unwrap();
        assert_eq!((week.to_string(), due), ("2026-11-23".to_owned(), at("2026-11-30T08:00", &tz)));
        // Sunday night: still that one.
        assert_eq!(due_week(at("2026-12-06T23:59", &tz), &tz).unwrap().0.to_string(), "2026-11-23");
        // The Monday after the clocks change (8 March 2026): 08:00 local, a UTC hour earlier.
        let (week, due) = due_week(at("2026-03-09T08:00", &tz), &tz).unwrap();
        assert_eq!((week.to_string(), due), ("2026-03-02".to_owned(), at("2026-03-09T08:00", &tz)));
        assert_eq!(due, Timestamp::from_millisecond(due).unwrap().as_millisecond());
        assert_eq!(Timestamp::from_millisecond(due).unwrap().to_string(), "2026-03-09T12:00:00Z");
    }

    #[test]
    fn money_and_durations_read_as_people_write_them() {
        assert_eq!(money(54_005, "GBP"), "540.05 GBP");
        assert_eq!(duration(Some(45)), "45 s");
        assert_eq!(duration(Some(299)), "5 min");
        assert_eq!(duration(Some(3 * 3600 + 5 * 60)), "3 h 5 min");
        assert_eq!(duration(None), "none measured");
    }
}
