//! When the business is open and who works when: opening hours, staff working hours, date
//! exceptions (closed days, holidays, special hours) and the booking rules. Also where the
//! [`Schedule`] the availability engine works on is loaded from the database.

use crate::Core;
use protocol::EntityKind;
use std::collections::BTreeMap;

use jiff::civil::Date;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use protocol::{
    BookingRules, BusinessSchedule, CreateScheduleException, HoursCheck, HoursInterval, HoursProblem, ScheduleException, Service, StaffHours,
    UpdateBusinessSchedule, WeeklyHours,
};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::accounts::{Actor, Permission};
use crate::scheduling::availability::{format_hhmm, parse_hhmm, DayOverride, LocalInterval, Rules, Schedule, ServiceSpec, StaffCalendar, WeekHours};
use crate::error::{BookingError, CatalogError, Error};
use crate::store::columns::read_row;
use crate::store::{json_column, StoreError};

/// Stored form of hours: seven arrays (Monday first) of `[start, end]` minutes.
type StoredWeek = Vec<Vec<[u16; 2]>>;

const DAY_NAMES: [&str; 7] = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"];

/// What is wrong with one day's intervals (`day`: a weekday or a date), each problem in words;
/// empty when they can be saved. The one rule for hours: saving refuses exactly these
/// (`invalid_hours`), and the console shows them while the owner edits.
pub fn day_problems(day: &str, intervals: &[HoursInterval]) -> Vec<HoursProblem> {
    let label = match day.chars().next() {
        Some(first) if first.is_ascii_lowercase() => first.to_ascii_uppercase().to_string() + &day[1..],
        _ => day.to_owned(),
    };
    let problem = |message: String| HoursProblem { day: day.to_owned(), message: format!("{label}: {message}") };
    let mut problems = Vec::new();
    let mut valid: Vec<(LocalInterval, &HoursInterval)> = Vec::with_capacity(intervals.len());
    for i in intervals {
        match (parse_hhmm(&i.start), parse_hhmm(&i.end)) {
            (Some(start), Some(end)) => match LocalInterval::new(start, end) {
                Some(interval) => valid.push((interval, i)),
                None => problems.push(problem(format!("{}–{} closes before it opens.", i.start, i.end))),
            },
            _ => problems.push(problem(format!("times are HH:MM between 00:00 and 24:00 (got {}–{}).", i.start, i.end))),
        }
    }
    valid.sort_by_key(|(interval, _)| *interval);
    for w in valid.windows(2) {
        if w[0].0.end > w[1].0.start {
            problems.push(problem(format!("{}–{} overlaps {}–{}.", w[0].1.start, w[0].1.end, w[1].1.start, w[1].1.end)));
        }
    }
    problems
}

/// Every problem of a week's hours, Monday first.
pub fn week_problems(hours: &WeeklyHours) -> Vec<HoursProblem> {
    hours.days().iter().zip(DAY_NAMES).flat_map(|(day, name)| day_problems(name, day)).collect()
}

/// Validated intervals of one day: each `start < end`, sorted, not overlapping.
fn day_from_wire(day: &str, intervals: &[HoursInterval]) -> Result<Vec<LocalInterval>, Error> {
    let problems = day_problems(day, intervals);
    if !problems.is_empty() {
        return Err(BookingError::InvalidHours { problems }.into());
    }
    let mut out: Vec<LocalInterval> =
        intervals.iter().filter_map(|i| LocalInterval::new(parse_hhmm(&i.start)?, parse_hhmm(&i.end)?)).collect();
    out.sort();
    Ok(out)
}

pub fn week_from_wire(hours: &WeeklyHours) -> Result<WeekHours, Error> {
    let problems = week_problems(hours);
    if !problems.is_empty() {
        return Err(BookingError::InvalidHours { problems }.into());
    }
    let mut week: WeekHours = Default::default();
    for (i, day) in hours.days().iter().enumerate() {
        week[i] = day_from_wire(DAY_NAMES[i], day)?;
    }
    Ok(week)
}

fn day_to_wire(day: &[LocalInterval]) -> Vec<HoursInterval> {
    day.iter().map(|i| HoursInterval { start: format_hhmm(i.start), end: format_hhmm(i.end) }).collect()
}

pub fn week_to_wire(week: &WeekHours) -> WeeklyHours {
    WeeklyHours::from_days(std::array::from_fn(|i| day_to_wire(&week[i])))
}

fn week_to_stored(week: &WeekHours) -> String {
    let stored: StoredWeek = week.iter().map(|day| day.iter().map(|i| [i.start, i.end]).collect()).collect();
    serde_json::to_string(&stored).expect("plain data serialises")
}

fn week_from_stored(text: &str) -> Result<WeekHours, StoreError> {
    let stored: StoredWeek = json_column(text, "hours")?;
    let mut week: WeekHours = Default::default();
    for (i, day) in stored.into_iter().take(7).enumerate() {
        week[i] = day.into_iter().filter_map(|[s, e]| LocalInterval::new(s, e)).collect();
    }
    Ok(week)
}

fn day_from_stored(text: &str) -> Result<Vec<LocalInterval>, StoreError> {
    let stored: Vec<[u16; 2]> = json_column(text, "hours")?;
    Ok(stored.into_iter().filter_map(|[s, e]| LocalInterval::new(s, e)).collect())
}

/// Booking rules must be sensible: notice up to 30 days, horizon 1 day to 2 years, grid 5 minutes to
/// 4 hours.
pub fn check_rules(notice: Option<u32>, advance: Option<u32>, interval: Option<u32>) -> Result<(), Error> {
    if notice.is_some_and(|n| n > 30 * 1440) {
        return Err(Error::invalid("`min_notice_minutes` must be at most 43200 (30 days)."));
    }
    if advance.is_some_and(|d| !(1..=730).contains(&d)) {
        return Err(Error::invalid("`max_advance_days` must be between 1 and 730."));
    }
    if interval.is_some_and(|i| !(5..=240).contains(&i)) {
        return Err(Error::invalid("`slot_interval_minutes` must be between 5 and 240."));
    }
    Ok(())
}

struct BusinessRow {
    timezone: String,
    hours: WeekHours,
    rules: BookingRules,
}

async fn business_row(conn: &mut AnyConnection, business_id: &str) -> Result<BusinessRow, Error> {
    let row = sqlx::query(
        "SELECT timezone, opening_hours, min_notice_minutes, max_advance_days, slot_interval_minutes FROM businesses WHERE id = $1",
    )
    .bind(business_id)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::NotFound("business"))?;
    let int = |col: &str| -> Result<u32, Error> { Ok(u32::try_from(row.try_get::<i64, _>(col)?).unwrap_or(0)) };
    Ok(BusinessRow {
        timezone: row.try_get("timezone")?,
        hours: week_from_stored(&row.try_get::<String, _>("opening_hours")?)?,
        rules: BookingRules {
            min_notice_minutes: int("min_notice_minutes")?,
            max_advance_days: int("max_advance_days")?,
            slot_interval_minutes: int("slot_interval_minutes")?,
        },
    })
}

pub async fn load_business_schedule(conn: &mut AnyConnection, business_id: &str) -> Result<BusinessSchedule, Error> {
    let b = business_row(conn, business_id).await?;
    Ok(BusinessSchedule { timezone: b.timezone, opening_hours: week_to_wire(&b.hours), rules: b.rules })
}

async fn staff_hours(conn: &mut AnyConnection, business_id: &str, staff_id: &str) -> Result<StaffHours, Error> {
    let row = sqlx::query("SELECT working_hours, bookable FROM staff WHERE id = $1 AND business_id = $2")
        .bind(staff_id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::NotFound("staff member"))?;
    let hours: Option<String> = row.try_get("working_hours")?;
    Ok(StaffHours {
        hours: hours.as_deref().map(week_from_stored).transpose()?.as_ref().map(week_to_wire),
        bookable: row.try_get::<i64, _>("bookable")? != 0,
    })
}

const EXCEPTION_COLUMNS: &str = "id, business_id, staff_id, date, closed, hours, note, created_at, updated_at";

fn exception_from_row(row: &AnyRow) -> Result<ScheduleException, StoreError> {
    Ok(read_row!(row => ScheduleException {
        id, business_id, staff_id, date, closed: flag,
        hours = day_to_wire(&day_from_stored(&row.try_get::<String, _>("hours")?)?),
        note, created_at, updated_at,
    }))
}

impl crate::store::Record for ScheduleException {
    const TABLE: &'static str = "schedule_exceptions";
    const COLUMNS: &'static str = EXCEPTION_COLUMNS;
    const KIND: EntityKind = EntityKind::ScheduleException;
    const NOUN: &'static str = "exception";

    fn from_row(row: &AnyRow) -> Result<ScheduleException, StoreError> {
        exception_from_row(row)
    }
}

/// The calendar the service books in: days from 1970 to 2999. Nearer the edges of what a date type
/// can hold, "the next day" or "a week later" would not exist; such dates are refused up front.
pub const FIRST_YEAR: i16 = 1970;
pub const LAST_YEAR: i16 = 2999;

pub fn parse_date(text: &str, field: &str) -> Result<Date, Error> {
    let date = text.trim().parse::<Date>().map_err(|_| Error::invalid(format!("`{field}` must be a date like 2026-12-24.")))?;
    if !(FIRST_YEAR..=LAST_YEAR).contains(&date.year()) {
        return Err(Error::invalid(format!("`{field}` must be a date between {FIRST_YEAR} and {LAST_YEAR}.")));
    }
    Ok(date)
}

// ---------------------------------------------------------------------------------------------
// Loading a schedule for the availability engine

/// Everything the engine needs to answer for one service: the business's zone, hours and rules
/// (with the service's overrides), the staff who can perform it with their hours, exceptions and
/// blocked times between `from` and `to`. `exclude_booking` leaves one booking's own time out
/// (when moving it).
pub struct Loaded {
    pub schedule: Schedule,
    pub spec: ServiceSpec,
}

pub async fn load_for_service(
    conn: &mut AnyConnection,
    business_id: &str,
    service: &Service,
    from: Timestamp,
    to: Timestamp,
    include_unbookable: bool,
    exclude_booking: Option<&str>,
) -> Result<Loaded, Error> {
    let business = business_row(conn, business_id).await?;
    let tz = TimeZone::get(&business.timezone).map_err(Error::internal)?;
    let rules = Rules {
        min_notice_minutes: i64::from(service.min_notice_minutes.unwrap_or(business.rules.min_notice_minutes)),
        max_advance_days: i64::from(service.max_advance_days.unwrap_or(business.rules.max_advance_days)),
        slot_interval_minutes: i64::from(service.slot_interval_minutes.unwrap_or(business.rules.slot_interval_minutes)),
    };
    let rows = sqlx::query("SELECT id, working_hours, bookable FROM staff WHERE business_id = $1 AND active = 1 ORDER BY id")
        .bind(business_id)
        .fetch_all(&mut *conn)
        .await?;
    let mut staff = Vec::new();
    for row in &rows {
        let id: String = row.try_get("id")?;
        let bookable = row.try_get::<i64, _>("bookable")? != 0;
        let can_perform = service.staff_ids.is_empty() || service.staff_ids.iter().any(|s| *s == id);
        if !can_perform || !(bookable || include_unbookable) {
            continue;
        }
        let hours: Option<String> = row.try_get("working_hours")?;
        staff.push(StaffCalendar {
            staff_id: id,
            hours: hours.as_deref().map(week_from_stored).transpose()?,
            exceptions: BTreeMap::new(),
            busy: Vec::new(),
        });
    }

    // Exceptions of the local dates involved (a day either side for intervals crossing midnight).
    let local = |t: Timestamp, days: i64| {
        t.to_zoned(tz.clone()).date().checked_add(jiff::Span::new().days(days)).unwrap_or_default().to_string()
    };
    let rows = sqlx::query("SELECT staff_id, date, closed, hours FROM schedule_exceptions WHERE business_id = $1 AND date >= $2 AND date <= $3")
        .bind(business_id)
        .bind(local(from, -1))
        .bind(local(to, 1))
        .fetch_all(&mut *conn)
        .await?;
    let mut business_exceptions = BTreeMap::new();
    for row in &rows {
        let date: Date = row.try_get::<String, _>("date")?.parse().map_err(|_| StoreError::Corrupt("exception date".into()))?;
        let rule = if row.try_get::<i64, _>("closed")? != 0 {
            DayOverride::Closed
        } else {
            DayOverride::Hours(day_from_stored(&row.try_get::<String, _>("hours")?)?)
        };
        match row.try_get::<Option<String>, _>("staff_id")? {
            None => {
                business_exceptions.insert(date, rule);
            }
            Some(staff_id) => {
                if let Some(s) = staff.iter_mut().find(|s| s.staff_id == staff_id) {
                    s.exceptions.insert(date, rule);
                }
            }
        }
    }

    // Blocked times: active bookings overlapping the window (widened by a day for buffers), and
    // the busy times from the chosen Google calendars of people whose connection works (with one
    // that needs reconnecting, their hours alone decide, and availability says so; our own events
    // are the bookings). Both come back as one text each, `staff start end start end …, staff
    // start end …` (ids are UUIDs): row by row, the driver's per-row cost was most of a free-slot
    // query's time (a month of 1,000 bookings: 1.4 ms as rows on SQLite).
    let (window_start, window_end) = (from.as_millisecond() - 86_400_000, to.as_millisecond() + 86_400_000);
    let bookings: Option<String> = sqlx::query_scalar(
        "SELECT string_agg(staff_id || ' ' || block_start || ' ' || block_end, ',') FROM bookings \
         WHERE business_id = $1 AND status IN ('pending', 'confirmed') AND block_end > $2 AND block_start < $3 AND id <> $4",
    )
    .bind(business_id)
    .bind(window_start)
    .bind(window_end)
    .bind(exclude_booking.unwrap_or(""))
    .fetch_one(&mut *conn)
    .await?;
    // Google events of up to two days come from the busy days kept as the calendars sync
    // (migration 0027: per person and UTC day, that day's starts as one text), from two days
    // before the window to its end; longer ones by their end (0025's index of them). A busy month
    // of ten calendars is ~340 day rows against ~1,760 events. The working connections are a
    // handful of rows, read once for the query: on PostgreSQL as an array (`= ANY`), which no plan
    // can turn into a join (a join, or `IN`, made it scan the connections once per event before it
    // had statistics for freshly synced events).
    let postgres = conn.backend_name() == "PostgreSQL";
    let connected = |table: &str| {
        if postgres {
            format!("{table}.staff_id = ANY(ARRAY(SELECT staff_id FROM calendar_connections WHERE business_id = $1 AND status = 'connected'))")
        } else {
            format!("{table}.staff_id IN (SELECT staff_id FROM calendar_connections WHERE business_id = $1 AND status = 'connected')")
        }
    };
    let sql = format!(
        "SELECT string_agg(t, ',') FROM (\
         SELECT d.staff_id || ' ' || d.busy AS t FROM calendar_busy_days d WHERE d.business_id = $1 AND d.day >= $4 AND d.day <= $5 AND {} \
         UNION ALL \
         SELECT e.staff_id || ' ' || e.start_at || ' ' || e.end_at FROM calendar_events e \
         WHERE e.business_id = $1 AND e.busy = 1 AND e.booking_id IS NULL AND e.end_at - e.start_at > 172800000 AND e.end_at > $2 AND e.start_at < $3 \
         AND {}) u",
        connected("d"),
        connected("e"),
    );
    let calendars: Option<String> = sqlx::query_scalar(&sql)
        .bind(business_id)
        .bind(window_start)
        .bind(window_end)
        .bind((window_start - 172_800_000).div_euclid(86_400_000))
        .bind((window_end - 1).div_euclid(86_400_000))
        .fetch_one(&mut *conn)
        .await?;
    for text in [bookings, calendars].iter().flatten() {
        add_busy_times(&mut staff, text)?;
    }
    // The engine wants each person's busy times sorted and not overlapping.
    for s in &mut staff {
        s.busy.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(s.busy.len());
        for (start, end) in s.busy.drain(..) {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        s.busy = merged;
    }
    Ok(Loaded {
        schedule: Schedule { tz, business_hours: business.hours, business_exceptions, staff, rules },
        spec: ServiceSpec {
            duration_minutes: i64::from(service.duration_minutes),
            buffer_before_minutes: i64::from(service.buffer_before_minutes),
            buffer_after_minutes: i64::from(service.buffer_after_minutes),
        },
    })
}

/// Adds busy times given as `staff start end start end …, staff start end …` (milliseconds) to
/// the people they belong to; people not in `staff` (who cannot perform the service) are skipped.
fn add_busy_times(staff: &mut [StaffCalendar], text: &str) -> Result<(), StoreError> {
    let corrupt = || StoreError::Corrupt("busy times".into());
    for person in text.split(',') {
        let mut words = person.split_ascii_whitespace();
        let staff_id = words.next().ok_or_else(corrupt)?;
        let mut numbers = words.map(|w| w.parse::<i64>().map_err(|_| corrupt()));
        let mut busy = Vec::new();
        while let Some(start_at) = numbers.next() {
            busy.push((start_at?, numbers.next().ok_or_else(corrupt)??));
        }
        if let Some(s) = staff.iter_mut().find(|s| s.staff_id == staff_id) {
            s.busy.extend(busy);
        }
    }
    Ok(())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionRange {
    /// First local date, `YYYY-MM-DD` (default: today).
    pub from: Option<String>,
    /// Last local date (default: a year after `from`).
    pub to: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// The business's opening hours, booking rules and time zone.
pub async fn get_schedule(core: &Core, actor: &Actor) -> Result<BusinessSchedule, Error> {
    let mut conn = core.db.reader().acquire().await?;
    Ok(load_business_schedule(&mut conn, &actor.business_id).await?)
}

/// What saving these hours would refuse, without saving anything (the console asks while the
/// owner edits; any signed-in person may ask).
pub fn check_hours(_actor: &Actor, hours: &WeeklyHours) -> HoursCheck {
    HoursCheck { problems: week_problems(hours) }
}

/// Changes opening hours or booking rules (owners and admins). Existing bookings stay.
pub async fn update_schedule(core: &Core, actor: &Actor, req: UpdateBusinessSchedule) -> Result<BusinessSchedule, Error> {
    actor.require(Permission::ManageBusiness)?;
    check_rules(req.min_notice_minutes, req.max_advance_days, req.slot_interval_minutes)?;
    let hours = req.opening_hours.as_ref().map(week_from_wire).transpose()?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let current = business_row(tx.conn(), &actor.business_id).await?;
    let hours = hours.unwrap_or(current.hours);
    sqlx::query(
        "UPDATE businesses SET opening_hours = $1, min_notice_minutes = $2, max_advance_days = $3, slot_interval_minutes = $4, \
         updated_at = $5 WHERE id = $6",
    )
    .bind(week_to_stored(&hours))
    .bind(i64::from(req.min_notice_minutes.unwrap_or(current.rules.min_notice_minutes)))
    .bind(i64::from(req.max_advance_days.unwrap_or(current.rules.max_advance_days)))
    .bind(i64::from(req.slot_interval_minutes.unwrap_or(current.rules.slot_interval_minutes)))
    .bind(tx.now_ms())
    .bind(&actor.business_id)
    .execute(tx.conn())
    .await?;
    let schedule = load_business_schedule(tx.conn(), &actor.business_id).await?;
    tx.record(EntityKind::Schedule, &actor.business_id, Some(&schedule)).await?;
    tx.audit(Some(&actor.staff_id), "schedule.updated", Some(("business", &actor.business_id)), serde_json::to_value(&req).unwrap_or_default())
        .await?;
    tx.commit().await?;
    Ok(schedule)
}

/// A staff member's working hours (`null`: whenever the business is open).
pub async fn get_staff_hours(core: &Core, actor: &Actor, id: &str) -> Result<StaffHours, Error> {
    let mut conn = core.db.reader().acquire().await?;
    Ok(staff_hours(&mut conn, &actor.business_id, id).await?)
}

/// Sets a staff member's working hours (owners and admins).
pub async fn put_staff_hours(core: &Core, actor: &Actor, id: &str, req: StaffHours) -> Result<StaffHours, Error> {
    actor.require(Permission::ManageStaff)?;
    let hours = req.hours.as_ref().map(week_from_wire).transpose()?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let updated = sqlx::query("UPDATE staff SET working_hours = $1, bookable = $2, updated_at = $3 WHERE id = $4 AND business_id = $5")
        .bind(hours.as_ref().map(week_to_stored))
        .bind(i64::from(req.bookable))
        .bind(tx.now_ms())
        .bind(id)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if updated == 0 {
        return Err(Error::NotFound("staff member"));
    }
    let saved = staff_hours(tx.conn(), &actor.business_id, id).await?;
    tx.record(EntityKind::StaffHours, id, Some(&saved)).await?;
    tx.audit(Some(&actor.staff_id), "staff_hours.updated", Some(("staff", id)), serde_json::json!({"bookable": req.bookable})).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Date exceptions in a range, by date.
pub async fn list_exceptions(core: &Core, actor: &Actor, q: ExceptionRange) -> Result<protocol::Page<ScheduleException>, Error> {
    let paging = crate::store::Paging::new(q.cursor.as_deref(), q.limit)?;
    let from = match &q.from {
        Some(d) => parse_date(d, "from")?,
        None => core.db.now().as_jiff().to_zoned(TimeZone::UTC).date().yesterday().unwrap_or_default(),
    };
    let to = match &q.to {
        Some(d) => parse_date(d, "to")?,
        None => from.checked_add(jiff::Span::new().years(1)).unwrap_or(from),
    };
    if to < from {
        return Err(crate::error::BookingError::InvalidRange("`to` must not be before `from`.".into()).into());
    }
    let rows = sqlx::query(&format!(
        "SELECT {EXCEPTION_COLUMNS} FROM schedule_exceptions WHERE business_id = $1 AND date >= $2 AND date <= $3 ORDER BY date, id"
    ))
    .bind(&actor.business_id)
    .bind(from.to_string())
    .bind(to.to_string())
    .fetch_all(core.db.reader())
    .await?;
    let exceptions = rows.iter().map(exception_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page_of(exceptions, crate::store::Order::Asc, |e| (crate::store::Key::Text(e.date.clone()), e.id.to_string()))?)
}

/// Closes a date, or sets special hours for it, for the business or one staff member.
pub async fn create_exception(core: &Core, actor: &Actor, req: CreateScheduleException) -> Result<ScheduleException, Error> {
    actor.require(Permission::ManageBusiness)?;
    let date = parse_date(&req.date, "date")?;
    let hours = day_from_wire(&req.date, &req.hours)?;
    if req.closed != hours.is_empty() {
        let message = format!("{}: either mark the date closed, or give its special hours — one of the two.", req.date);
        return Err(BookingError::InvalidHours { problems: vec![HoursProblem { day: req.date.clone(), message }] }.into());
    }
    let id = core.db.new_id::<String>();
    let now = core.db.now_ms();
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    if let Some(staff_id) = &req.staff_id {
        if crate::accounts::staff::load(tx.conn(), &actor.business_id, staff_id).await?.is_none() {
            return Err(BookingError::UnknownStaff.into());
        }
    }
    let stored: Vec<[u16; 2]> = hours.iter().map(|i| [i.start, i.end]).collect();
    sqlx::query(&format!("INSERT INTO schedule_exceptions ({EXCEPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)"))
        .bind(&id)
        .bind(&actor.business_id)
        .bind(req.staff_id.clone())
        .bind(date.to_string())
        .bind(i64::from(req.closed))
        .bind(serde_json::to_string(&stored).map_err(Error::internal)?)
        .bind(req.note.trim())
        .bind(now)
        .execute(tx.conn())
        .await
        .map_err(|e| match StoreError::from(e) {
            e if e.is_unique_violation() => Error::from(CatalogError::ExceptionExists),
            e => e.into(),
        })?;
    let saved: ScheduleException = tx.publish(&id).await?;
    tx.audit(Some(&actor.staff_id), "schedule_exception.created", Some(("schedule_exception", &id)), serde_json::json!({"date": date.to_string(), "closed": req.closed})).await?;
    tx.commit().await?;
    Ok(saved)
}

/// One date exception.
pub async fn get_exception(core: &Core, actor: &Actor, id: &str) -> Result<ScheduleException, Error> {
    crate::store::records::get(&mut *core.db.reader().acquire().await?, &actor.business_id, id).await
}

/// Removes a date exception: the usual hours apply again.
pub async fn delete_exception(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::ManageBusiness)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    tx.remove::<ScheduleException>(id).await?;
    tx.audit(Some(&actor.staff_id), "schedule_exception.deleted", Some(("schedule_exception", id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}
