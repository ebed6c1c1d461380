//! The weekly summary as a desktop notification for those who see the reports (issue 15, point 5:
//! owners and admins, by the service's `view_reports` permission): from Monday
//! 08:00 in the business's time zone — and for three days, like the summary by mail — their
//! console fetches last week's figures beside the week before and
//! announces them once; clicking the notification opens the Reports screen. "Once" is per
//! device: the local store records the week announced, so neither another sync pass nor a
//! restart announces it again. A quiet week (no conversations, no bookings) announces nothing.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use protocol::{EntityKind, Permission, ReportFigures, ReportSummary};
use serde_json::Value;

use crate::alerts::{Alert, AlertKind};
use crate::store::LocalStore;
use crate::transport::{Transport, TransportError};

/// The setting that holds the Monday of the last week announced.
pub const ANNOUNCED: &str = "weekly_summary_announced";

/// How late a summary is still announced after Monday 08:00.
const LATE_MS: i64 = 3 * 86_400_000;

/// The Monday of the week whose summary is due at `now` in `tz`: the week before the current
/// one, from this Monday 08:00 local until three days later.
pub fn due_week(now_ms: i64, tz: &TimeZone) -> Option<Date> {
    let now = Timestamp::from_millisecond(now_ms).ok()?.to_zoned(tz.clone());
    let today = now.date();
    let monday = today.checked_sub(Span::new().days(i64::from(today.weekday().to_monday_zero_offset()))).ok()?;
    let due = monday.to_datetime(Time::new(8, 0, 0, 0).ok()?).to_zoned(tz.clone()).ok()?.timestamp().as_millisecond();
    if now_ms < due || now_ms - due > LATE_MS {
        return None;
    }
    monday.checked_sub(Span::new().days(7)).ok()
}

fn change(now: u32, before: u32) -> String {
    match now.cmp(&before) {
        std::cmp::Ordering::Equal => "as the week before".into(),
        std::cmp::Ordering::Greater => format!("{} more than the week before", now - before),
        std::cmp::Ordering::Less => format!("{} fewer than the week before", before - now),
    }
}

fn plural(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The notification for a week's figures; `None` for a quiet week.
pub fn alert(summary: &ReportSummary) -> Option<Alert> {
    let (c, p): (&ReportFigures, &ReportFigures) = (&summary.current, &summary.previous);
    if c.conversations == 0 && c.bookings == 0 {
        return None;
    }
    let mut body = format!(
        "{} ({}), {} ({}).",
        plural(c.conversations, "conversation", "conversations"),
        change(c.conversations, p.conversations),
        plural(c.bookings, "booking", "bookings"),
        change(c.bookings, p.bookings),
    );
    if let Some(share) = c.handled_by_assistant_pct {
        body.push_str(&format!(" The assistant handled {share}% on its own."));
    }
    Some(Alert {
        kind: AlertKind::WeeklySummary,
        key: format!("weekly_summary:{}", c.from),
        title: format!("Your week, {} to {}", c.from, c.to),
        body,
        conversation_id: None,
        opens_reports: true,
    })
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// The engine's weekly step: the summary's notification when one is due on this device,
/// fetched now and recorded as announced. Nothing for anyone the service does not let see the
/// reports (`view_reports`, as of the last sign-in or sync welcome), before the mirror knows the
/// business, or when this week's was announced already.
pub async fn check(store: &LocalStore, transport: &dyn Transport, now_ms: i64) -> Result<Option<Alert>, TransportError> {
    let local = |e: crate::store::StoreError| TransportError::Server(format!("local store: {e}"));
    if !store.permissions().await.map_err(local)?.contains(&Permission::ViewReports) {
        return Ok(None);
    }
    let businesses = store.entities(EntityKind::Business).await.map_err(local)?;
    let Some(tz) = businesses.first().and_then(|b| TimeZone::get(text(b, "timezone")).ok()) else { return Ok(None) };
    let Some(week) = due_week(now_ms, &tz) else { return Ok(None) };
    if store.setting(ANNOUNCED).await.map_err(local)?.as_deref() == Some(week.to_string().as_str()) {
        return Ok(None);
    }
    let to = week.checked_add(Span::new().days(6)).map_err(|e| TransportError::Server(e.to_string()))?;
    let summary = transport.report_summary(&week.to_string(), &to.to_string()).await?;
    store.set_setting(ANNOUNCED, &week.to_string()).await.map_err(local)?;
    Ok(alert(&summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_due_from_monday_eight_oclock_local_for_three_days() {
        let tz = TimeZone::get("Europe/London").unwrap();
        let at = |s: &str| s.parse::<jiff::civil::DateTime>().unwrap().to_zoned(tz.clone()).unwrap().timestamp().as_millisecond();
        assert_eq!(due_week(at("2026-03-30T07:59"), &tz), None);
        assert_eq!(due_week(at("2026-03-30T08:00"), &tz).map(|d| d.to_string()), Some("2026-03-23".into()));
        // The clocks went forward on Sunday the 29th: still Monday 08:00 local.
        assert_eq!(due_week(at("2026-04-02T08:00"), &tz).map(|d| d.to_string()), Some("2026-03-23".into()));
        assert_eq!(due_week(at("2026-04-02T08:01"), &tz), None, "more than three days late");
        assert_eq!(due_week(at("2026-03-29T12:00"), &tz), None, "Sunday");
    }
}
