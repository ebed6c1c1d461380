//! Availability queries and bookings: create, reschedule, reassign, confirm, complete, no-show and
//! cancel. Every path that books — staff in the console, the API, the assistant, voice calls —
//! goes through [`create`] and [`update`], so the rules hold for all of them.
//!
//! No overlap, ever. The check and the write happen in one business transaction that is serialised
//! per business: on SQLite by the single writer connection, on PostgreSQL by locking the business
//! row first. Underneath, PostgreSQL also has an exclusion constraint (see `store.rs`), so even a
//! write that bypassed this module could not make two active bookings of one person overlap.

use crate::Core;
use protocol::EntityKind;
use std::str::FromStr;

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use protocol::{
    Availability, AvailabilityCheck, AvailabilityWarning, AvailableSlot, Booking, BookingConfirmation, BookingSource, BookingStatus, CreateBooking, Service,
    UpdateBooking,
};
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::accounts::{Actor, Permission};
use crate::scheduling::availability::{Slot, Unbookable};
use crate::error::{BookingError, Error};
use crate::scheduling::hours::{load_for_service, parse_date, Loaded};
use crate::store::columns::read_row;
use crate::store::records::{self, Record};
use crate::store::{BusinessTx, StoreError};

const ALTERNATIVES: usize = 5;
const DAY_MS: i64 = 86_400_000;


pub fn slot_to_wire(slot: &Slot, tz: &TimeZone) -> AvailableSlot {
    AvailableSlot {
        start: slot.start.into(),
        end: slot.end.into(),
        local_start: slot.start.to_zoned(tz.clone()).to_string(),
        local_end: slot.end.to_zoned(tz.clone()).to_string(),
        staff_ids: slot.staff_ids.iter().map(|s| s.as_str().into()).collect(),
    }
}

/// An instant with an offset, or a local time in the business's zone. A local time that does not
/// exist (clocks jumped over it) or that happens twice (clocks went back) is refused with a clear
/// code rather than guessed.
pub fn parse_start(text: &str, tz: &TimeZone) -> Result<Timestamp, Error> {
    use crate::scheduling::hours::{FIRST_YEAR, LAST_YEAR};
    let text = text.trim();
    let in_calendar = |year: i16| (FIRST_YEAR..=LAST_YEAR).contains(&year);
    // A time with its zone in brackets (RFC 9557: `2026-12-16T11:00[America/New_York]`) is that
    // zone's time, by the same rules as the business's own. A zone that is not one is refused:
    // the annotation was ignored before, and the booking landed at another moment.
    if let Some((time, annotation)) = text.split_once('[') {
        let invalid = || Error::from(BookingError::InvalidZone(text.to_owned()));
        let name = annotation.strip_suffix(']').map(|n| n.trim_start_matches('!')).ok_or_else(invalid)?;
        // A zone by the rule every zone the service takes follows (`Europe/London` spelt so).
        let zone = crate::accounts::check_timezone(name).ok().and_then(|name| TimeZone::get(&name).ok()).ok_or_else(invalid)?;
        if Timestamp::from_str(time).is_ok() {
            // With an offset too: it must be one the zone has at that time.
            let zoned = jiff::Zoned::from_str(text).map_err(|_| invalid())?;
            return if in_calendar(zoned.year()) { Ok(zoned.timestamp()) } else { Err(BookingError::InvalidTime(text.to_owned()).into()) };
        }
        return parse_start(time, &zone);
    }
    if let Ok(t) = Timestamp::from_str(text) {
        if !in_calendar(t.to_zoned(TimeZone::UTC).year()) || text.contains(":60") {
            return Err(BookingError::InvalidTime(text.to_owned()).into());
        }
        return Ok(t);
    }
    // A local time has its time of day (a bare date is not midnight), and no leap second (read
    // as :59 otherwise).
    let has_time = text.get(10..11).is_some_and(|sep| matches!(sep, "T" | "t" | " "));
    if !has_time || text.contains(":60") {
        return Err(BookingError::InvalidTime(text.to_owned()).into());
    }
    let dt = DateTime::from_str(text).map_err(|_| {
        BookingError::InvalidTime(text.to_owned())
    })?;
    if !in_calendar(dt.year()) {
        return Err(BookingError::InvalidTime(text.to_owned()).into());
    }
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).map_err(Error::internal),
        AmbiguousOffset::Gap { .. } => Err(BookingError::NonexistentTime { time: dt.to_string(), zone: zone_name(tz) }.into()),
        AmbiguousOffset::Fold { before, after } => {
            let instants: Vec<String> = [before, after].iter().filter_map(|o| o.to_timestamp(dt).ok()).map(|t| t.to_string()).collect();
            Err(BookingError::AmbiguousTime { time: dt.to_string(), zone: zone_name(tz), instants }.into())
        }
    }
}

fn zone_name(tz: &TimeZone) -> String {
    tz.iana_name().unwrap_or("this zone").to_owned()
}

/// A query bound: a local date (`YYYY-MM-DD`, the start of that day; `end_of_day` for the end) or an instant.
fn parse_bound(text: &str, tz: &TimeZone, field: &str, end_of_day: bool) -> Result<Timestamp, Error> {
    if text.len() == 10 {
        let date = parse_date(text, field)?;
        let date = if end_of_day { date.tomorrow().map_err(Error::internal)? } else { date };
        return date.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(Error::internal);
    }
    parse_start(text, tz).map_err(|_| Error::invalid(format!("`{field}` must be a date (2026-03-09) or an instant (2026-03-09T13:00:00Z).")))
}

async fn business_tz(conn: &mut AnyConnection, business_id: &str) -> Result<TimeZone, Error> {
    let name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(business_id).fetch_one(conn).await?;
    TimeZone::get(&name).map_err(Error::internal)
}

/// [`parse_start`] for a request: the business's zone is read only for a local time (an instant
/// with an offset needs none, and is what the console and the API's clients mostly send).
async fn parse_requested_start(core: &Core, business_id: &str, text: &str) -> Result<Timestamp, Error> {
    if Timestamp::from_str(text.trim()).is_ok() {
        return parse_start(text, &TimeZone::UTC);
    }
    let mut conn = core.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, business_id).await?;
    parse_start(text, &tz)
}

async fn active_service(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Service, Error> {
    match crate::catalog::services::load(conn, business_id, id).await? {
        Some(s) if s.active => Ok(s),
        Some(_) => Err(BookingError::ServiceInactive.into()),
        None => Err(BookingError::UnknownService("No such service.".into()).into()),
    }
}

async fn check_staff(conn: &mut AnyConnection, business_id: &str, staff_id: &str, service: &Service) -> Result<(), Error> {
    crate::accounts::staff::require_active(conn, business_id, staff_id).await?;
    if !service.staff_ids.is_empty() && !service.staff_ids.iter().any(|s| s == staff_id) {
        return Err(BookingError::StaffCannotPerform.into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading bookings

impl Record for Booking {
    const TABLE: &'static str = "bookings b JOIN businesses bu ON bu.id = b.business_id";
    const COLUMNS: &'static str = "b.id, b.business_id, b.customer_id, b.service_id, b.staff_id, b.start_at, b.end_at, b.status, b.source, \
                                   b.notes, b.version, b.created_by_staff_id, b.cancel_reason, b.created_at, b.updated_at, bu.timezone, b.confirmation";
    const KIND: EntityKind = EntityKind::Booking;
    const NOUN: &'static str = "booking";
    const ID: &'static str = "b.id";
    const BUSINESS: &'static str = "b.business_id";

    fn from_row(row: &AnyRow) -> Result<Booking, StoreError> {
        let tz_name: String = row.try_get("timezone")?;
        let tz = TimeZone::get(&tz_name).map_err(|e| StoreError::Corrupt(format!("timezone {tz_name}: {e}")))?;
        booking_in_zone(row, tz)
    }
}

/// The booking columns of [`Booking::COLUMNS`] without the table's prefix or the business's zone:
/// what a new booking's `INSERT … RETURNING` gives back for [`booking_in_zone`].
const RETURNED: &str = "id, business_id, customer_id, service_id, staff_id, start_at, end_at, status, source, notes, version, \
                        created_by_staff_id, cancel_reason, created_at, updated_at, confirmation";

/// A booking row (the columns of [`RETURNED`]) with its local times in `tz`, the business's zone.
fn booking_in_zone(row: &AnyRow, tz: TimeZone) -> Result<Booking, StoreError> {
    let start: protocol::Timestamp = row.try_get("start_at")?;
    let end: protocol::Timestamp = row.try_get("end_at")?;
    Ok(read_row!(row => Booking {
        id, business_id, customer_id, service_id, staff_id, start = start, end = end,
        local_start = start.as_jiff().to_zoned(tz.clone()).to_string(),
        local_end = end.as_jiff().to_zoned(tz).to_string(),
        status, source, notes, version, created_by_staff_id, cancel_reason, confirmation, created_at, updated_at,
    }))
}

/// The business's bookings still to come that hold their time (pending or confirmed), by start.
pub async fn upcoming(conn: &mut AnyConnection, business_id: &str, now_ms: i64) -> Result<Vec<Booking>, StoreError> {
    let sql = format!(
        "SELECT {} FROM {} WHERE b.business_id = $1 AND b.start_at > $2 AND b.status IN ('pending', 'confirmed') ORDER BY b.start_at, b.id",
        Booking::COLUMNS,
        Booking::TABLE
    );
    sqlx::query(&sql).bind(business_id).bind(now_ms).fetch_all(conn).await?.iter().map(Booking::from_row).collect()
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Booking>, StoreError> {
    records::find(conn, business_id, id).await
}

// ---------------------------------------------------------------------------------------------
// Writing bookings

/// A booking to make, from whichever path.
#[derive(Debug, Clone)]
pub struct NewBooking {
    /// Made by a console (booked offline): booking it again returns it.
    pub id: Option<String>,
    pub customer_id: String,
    pub service_id: String,
    pub staff_id: Option<String>,
    pub start: Timestamp,
    pub notes: String,
    pub source: BookingSource,
    pub status: BookingStatus,
    pub created_by_staff_id: Option<String>,
}

fn window(start: Timestamp) -> (Timestamp, Timestamp) {
    let ms = start.as_millisecond();
    (Timestamp::from_millisecond(ms - 8 * DAY_MS).unwrap_or(start), Timestamp::from_millisecond(ms + 8 * DAY_MS).unwrap_or(start))
}

/// Checks that `start` can be booked for the service (and staff member, if one is asked for) and
/// returns who is free then. Staff booking from the console are not held to online notice and
/// horizon rules; everyone is held to hours and to other bookings.
fn free_for(loaded: &mut Loaded, staff: Option<&str>, start: Timestamp, now: Timestamp, source: BookingSource) -> Result<Slot, Error> {
    if source == BookingSource::Staff {
        loaded.schedule.rules.min_notice_minutes = 0;
        loaded.schedule.rules.max_advance_days = 730;
    }
    let filter = staff.map(|s| vec![s.to_owned()]);
    let filter = filter.as_deref();
    let alternatives = |loaded: &Loaded| {
        let tz = loaded.schedule.tz.clone();
        let slots = loaded.schedule.nearest(&loaded.spec, filter, start, now, ALTERNATIVES);
        slots.iter().map(|s| slot_to_wire(s, &tz)).collect::<Vec<_>>()
    };
    if let Err(why) = loaded.schedule.check_bookable(&loaded.spec, filter, start, now) {
        let alternatives = alternatives(loaded);
        return Err(match why {
            Unbookable::TooSoon => BookingError::TooSoon { alternatives },
            Unbookable::TooFarAhead => BookingError::TooFarAhead { alternatives },
            Unbookable::OutsideHours => BookingError::OutsideHours { alternatives },
            Unbookable::OffGrid => {
                BookingError::NotOnGrid { interval_minutes: u32::try_from(loaded.schedule.rules.slot_interval_minutes).unwrap_or(0), alternatives }
            }
        }
        .into());
    }
    loaded.schedule.free_at(&loaded.spec, filter, start, now).ok_or_else(|| BookingError::SlotTaken { alternatives: alternatives(loaded) }.into())
}

/// Among the free staff, the one who was given a booking longest ago (then by id), so that work
/// is shared out fairly when the customer has no preference.
/// The free staff's last assignments are read in one statement.
async fn fair_choice(tx: &mut BusinessTx, free: &[String]) -> Result<String, Error> {
    let last: std::collections::HashMap<String, i64> = if free.is_empty() {
        Default::default()
    } else {
        let sql = format!("SELECT id, last_assigned_at FROM staff WHERE id IN ({})", crate::store::placeholders(1, free.len()));
        let mut query = sqlx::query_as::<_, (String, i64)>(&sql);
        for id in free {
            query = query.bind(id);
        }
        query.fetch_all(tx.conn()).await?.into_iter().collect()
    };
    let mut best: Option<(i64, String)> = None;
    for id in free {
        // (Every free person has a staff row; a missing one is the error reading it alone gave.)
        let last = *last.get(id).ok_or(sqlx::Error::RowNotFound)?;
        if best.as_ref().is_none_or(|(l, b)| (last, id) < (*l, b)) {
            best = Some((last, id.clone()));
        }
    }
    best.map(|(_, id)| id).ok_or_else(|| BookingError::SlotTaken { alternatives: vec![] }.into())
}

fn map_overlap(e: sqlx::Error) -> Error {
    match StoreError::from(e) {
        e if e.is_exclusion_violation() => BookingError::SlotTaken { alternatives: vec![] }.into(),
        e => e.into(),
    }
}

/// Books an appointment. See the module docs for why it can never double-book.
pub async fn create(tx: &mut BusinessTx, new: NewBooking) -> Result<Booking, Error> {
    let business_id = tx.business_id().to_owned();
    let business_id = business_id.as_str();
    if !matches!(new.status, BookingStatus::Pending | BookingStatus::Confirmed) {
        return Err(Error::invalid("A new booking is `pending` or `confirmed`."));
    }
    let notes = new.notes.trim().to_owned();
    if notes.chars().count() > 2000 {
        return Err(Error::invalid("`notes` must be at most 2000 characters."));
    }
    if let Some(id) = &new.id {
        if let Some(existing) = load(tx.conn(), business_id, id).await? {
            return Ok(existing);
        }
    }
    if crate::customers::load(tx.conn(), business_id, &new.customer_id).await?.is_none() {
        return Err(BookingError::UnknownCustomer.into());
    }
    let service = active_service(tx.conn(), business_id, &new.service_id).await?;
    if let Some(staff_id) = &new.staff_id {
        check_staff(tx.conn(), business_id, staff_id, &service).await?;
    }
    let (from, to) = window(new.start);
    // People taken out of online booking can still be booked by name, never by rotation.
    let include_unbookable = new.staff_id.is_some();
    let mut loaded = load_for_service(tx.conn(), business_id, &service, from, to, include_unbookable, None).await?;
    let slot = free_for(&mut loaded, new.staff_id.as_deref(), new.start, tx.db().now().as_jiff(), new.source)?;
    let staff_id = match &new.staff_id {
        Some(id) => id.clone(),
        None => fair_choice(tx, &slot.staff_ids).await?,
    };

    let id = new.id.clone().unwrap_or_else(|| tx.new_id());
    let now = tx.now_ms();
    let (start, end) = (slot.start.as_millisecond(), slot.end.as_millisecond());
    let (before, after) = (loaded.spec.buffer_before_minutes * 60_000, loaded.spec.buffer_after_minutes * 60_000);
    // The row comes back as stored (defaults included), so it is not read again; its local times
    // are in the zone the schedule was loaded in, the business's, read in this transaction.
    let row = sqlx::query(&format!(
        "INSERT INTO bookings (id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, \
         notes, version, created_by_staff_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $14) \
         RETURNING {RETURNED}"
    ))
    .bind(&id)
    .bind(business_id)
    .bind(&new.customer_id)
    .bind(&service.id)
    .bind(&staff_id)
    .bind(start)
    .bind(end)
    .bind(start - before)
    .bind(end + after)
    .bind(new.status.as_str())
    .bind(new.source.as_str())
    .bind(&notes)
    .bind(new.created_by_staff_id.clone())
    .bind(now)
    .fetch_one(tx.conn())
    .await
    .map_err(map_overlap)?;
    let booking = booking_in_zone(&row, loaded.schedule.tz.clone())?;
    sqlx::query("UPDATE staff SET last_assigned_at = $1 WHERE id = $2").bind(now).bind(&staff_id).execute(tx.conn()).await?;
    tx.record(EntityKind::Booking, &id, Some(&booking)).await?;
    crate::reports::outcomes::booking_changed(tx, &booking, None, Some(&service)).await?;
    crate::scheduling::google::writes::queue(tx, &id, &staff_id).await?;
    tx.audit(
        new.created_by_staff_id.as_deref(),
        "booking.created",
        Some(("booking", &id)),
        json!({"source": new.source, "start": booking.start, "staff_id": staff_id}),
    )
    .await?;
    crate::automations::booking_changed(tx, None, &booking).await?;
    Ok(booking)
}

fn transition_allowed(from: BookingStatus, to: BookingStatus) -> bool {
    use BookingStatus::*;
    from == to
        || matches!(
            (from, to),
            (Pending, Confirmed) | (Pending, Cancelled) | (Confirmed, Completed) | (Confirmed, NoShow) | (Confirmed, Cancelled)
        )
}

/// Why a booking's confirmation can no longer change (by staff, the API or a customer's reply):
/// only an appointment still going ahead and not yet begun is confirmed or unconfirmed.
fn confirmation_refused(status: BookingStatus, start_ms: i64, now_ms: i64) -> Option<&'static str> {
    match status {
        BookingStatus::Cancelled => Some("The booking was cancelled"),
        BookingStatus::Completed => Some("The appointment is over"),
        BookingStatus::NoShow => Some("The booking was marked a no-show"),
        BookingStatus::Pending | BookingStatus::Confirmed if start_ms <= now_ms => Some("The appointment has already started"),
        BookingStatus::Pending | BookingStatus::Confirmed => None,
    }
}

/// A change to a booking, from whichever path.
#[derive(Debug, Clone, Default)]
pub struct BookingChange {
    pub expected_version: i64,
    pub start: Option<Timestamp>,
    pub staff_id: Option<String>,
    pub status: Option<BookingStatus>,
    pub notes: Option<String>,
    pub cancel_reason: Option<String>,
    /// The customer said they will come (or staff take it back).
    pub confirmation: Option<BookingConfirmation>,
}

/// Changes a booking if it is still at `expected_version`.
pub async fn update(
    tx: &mut BusinessTx,
    id: &str,
    change: BookingChange,
    actor: Option<&str>,
    source: BookingSource,
) -> Result<Booking, Error> {
    let business_id = tx.business_id().to_owned();
    let business_id = business_id.as_str();

    let current = load(tx.conn(), business_id, id).await?.ok_or_else(|| Error::NotFound("booking"))?;
    let conflict = |current: &Booking| {
        Error::from(BookingError::VersionConflict { current: Box::new(current.clone()) })
    };
    // Checked before the version: a confirmation that came after a cancellation (or after the
    // appointment began) is refused for that reason, in those words, whatever it expected.
    if let Some(wanted) = change.confirmation.filter(|c| *c != current.confirmation) {
        let status = change.status.unwrap_or(current.status);
        let start = change.start.map_or(current.start.as_millis(), |s| s.as_millisecond());
        if let Some(why) = confirmation_refused(status, start, tx.now_ms()) {
            return Err(BookingError::InvalidTransition(format!("{why}, so it cannot be marked {}.", wanted.as_str())).into());
        }
    }
    if current.version != change.expected_version {
        return Err(conflict(&current));
    }
    let status = change.status.unwrap_or(current.status);
    if !transition_allowed(current.status, status) {
        return Err(BookingError::InvalidTransition(format!(
            "A {} booking cannot become {}.",
            current.status.as_str().replace('_', "-"),
            status.as_str().replace('_', "-")
        ))
        .into());
    }
    // Whether someone came, or the work was done, is known once the appointment has begun: a
    // booking marked a no-show days ahead would send the customer the no-show message and drop
    // their reminders.
    if status != current.status && matches!(status, BookingStatus::Completed | BookingStatus::NoShow) && current.start.as_millis() > tx.now_ms() {
        let what = if status == BookingStatus::NoShow { "a no-show" } else { "completed" };
        return Err(BookingError::InvalidTransition(format!("The appointment has not started yet, so it cannot be marked {what}.")).into());
    }
    let current_start = current.start.as_jiff();
    let start = change.start.unwrap_or(current_start);
    let staff_id = change.staff_id.clone().unwrap_or_else(|| current.staff_id.to_string());
    let moved = start != current_start || current.staff_id != staff_id;
    // Moving is only for bookings that hold time before and after the change: a move folded
    // into a cancellation or completion would write a time and person nobody checked.
    if moved && !(current.status.holds_time() && status.holds_time()) {
        return Err(BookingError::InvalidTransition("Only pending or confirmed bookings can be moved; move it and change its status separately.".into()).into());
    }
    let notes = change.notes.map(|n| n.trim().to_owned()).unwrap_or(current.notes.clone());
    let cancel_reason = if status == BookingStatus::Cancelled { change.cancel_reason.or(current.cancel_reason.clone()) } else { None };
    if notes.chars().count() > 2000 || cancel_reason.as_deref().is_some_and(|r| r.chars().count() > 500) {
        return Err(Error::invalid("`notes` must be at most 2000 characters and `cancel_reason` at most 500."));
    }
    let confirmation = change.confirmation.unwrap_or(current.confirmation);
    // A booking asked to be what it already is (a confirmation repeated after it was cancelled,
    // a client sending the whole booking back, a change with nothing in it): answered as it is,
    // without a new version that every other desk would then conflict with.
    let unchanged = status == current.status && !moved && notes == current.notes && cancel_reason == current.cancel_reason && confirmation == current.confirmation;
    if unchanged {
        return Ok(current);
    }
    // The stored blocked time stands unless the booking moves (the service's buffers may have
    // changed since; re-deriving them would shift a booking nobody moved). A deleted service's
    // bookings can still be confirmed, completed or cancelled.
    let row = sqlx::query("SELECT start_at, end_at, block_start, block_end FROM bookings WHERE id = $1 AND business_id = $2")
        .bind(id)
        .bind(business_id)
        .fetch_one(tx.conn())
        .await?;
    let (mut start_ms, mut end_ms, mut block_start, mut block_end): (i64, i64, i64, i64) =
        (row.try_get("start_at")?, row.try_get("end_at")?, row.try_get("block_start")?, row.try_get("block_end")?);
    let mut service = None;
    if moved {
        let loaded_service = crate::catalog::services::load(tx.conn(), business_id, &current.service_id)
            .await?
            .ok_or_else(|| BookingError::UnknownService("The booking's service no longer exists, so it cannot be moved; cancel it and book again.".into()))?;
        let service = service.insert(loaded_service);
        check_staff(tx.conn(), business_id, &staff_id, service).await?;
        let (from, to) = window(start);
        let mut loaded = load_for_service(tx.conn(), business_id, service, from, to, true, Some(id)).await?;
        let slot = free_for(&mut loaded, Some(&staff_id), start, tx.db().now().as_jiff(), source)?;
        (start_ms, end_ms) = (slot.start.as_millisecond(), slot.end.as_millisecond());
        block_start = start_ms - i64::from(service.buffer_before_minutes) * 60_000;
        block_end = end_ms + i64::from(service.buffer_after_minutes) * 60_000;
    }
    let confirmed_at = (confirmation == BookingConfirmation::Confirmed).then(|| tx.now_ms());
    let updated = sqlx::query(
        "UPDATE bookings SET start_at = $1, end_at = $2, block_start = $3, block_end = $4, staff_id = $5, status = $6, notes = $7, \
         cancel_reason = $8, version = version + 1, updated_at = $9, confirmation = $13, \
         confirmed_at = CASE WHEN confirmation = $13 THEN confirmed_at ELSE $14 END WHERE id = $10 AND business_id = $11 AND version = $12",
    )
    .bind(start_ms)
    .bind(end_ms)
    .bind(block_start)
    .bind(block_end)
    .bind(&staff_id)
    .bind(status.as_str())
    .bind(&notes)
    .bind(cancel_reason)
    .bind(tx.now_ms())
    .bind(id)
    .bind(business_id)
    .bind(change.expected_version)
    .bind(confirmation.as_str())
    .bind(confirmed_at)
    .execute(tx.conn())
    .await
    .map_err(map_overlap)?
    .rows_affected();
    if updated == 0 {
        return Err(conflict(&current));
    }
    let booking = load(tx.conn(), business_id, id).await?.ok_or_else(|| Error::NotFound("booking"))?;
    tx.record(EntityKind::Booking, id, Some(&booking)).await?;
    crate::reports::outcomes::booking_changed(tx, &booking, Some(&current), service.as_ref()).await?;
    crate::scheduling::google::writes::queue(tx, id, booking.staff_id.as_str()).await?;
    let action = if status != current.status {
        format!("booking.{}", status.as_str())
    } else if moved {
        "booking.moved".into()
    } else if confirmation != current.confirmation {
        format!("booking.{}", confirmation.as_str())
    } else {
        "booking.edited".into()
    };
    tx.audit(actor, &action, Some(("booking", id)), json!({"version": booking.version, "start": booking.start, "staff_id": booking.staff_id}))
        .await?;
    crate::automations::booking_changed(tx, Some(&current), &booking).await?;
    Ok(booking)
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    pub service_id: String,
    /// Only this staff member.
    pub staff_id: Option<String>,
    /// Local date (`2026-03-09`, from the start of that day) or instant. Default: now.
    pub from: Option<String>,
    /// Local date (until the end of that day) or instant. Default: 7 days after `from`; at most 62 days after it.
    pub to: Option<String>,
    /// At most this many slots, earliest first (default 500, at most 2000): `from` + `limit` is
    /// "the next N free times".
    pub limit: Option<u32>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    pub service_id: String,
    /// Instant, or local time in the business's zone.
    pub start: String,
    pub staff_id: Option<String>,
    /// Whose rules apply: `staff` (default, as for bookings made in the console: no notice or
    /// horizon limits) or `api`/`assistant`/`voice` (online booking rules).
    pub source: Option<BookingSource>,
    /// A booking being moved: its own time does not count as taken.
    pub booking_id: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListBookings {
    /// Local date or instant (default: a day ago).
    pub from: Option<String>,
    /// Local date (inclusive) or instant (default: 31 days after `from`; at most 366).
    pub to: Option<String>,
    pub staff_id: Option<String>,
    pub customer_id: Option<String>,
    pub status: Option<BookingStatus>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelQuery {
    /// When given, the booking must still be at this version.
    pub expected_version: Option<i64>,
    pub reason: Option<String>,
}

/// Free appointment times for a service, in UTC and in the business's local time.
pub async fn availability(core: &Core, actor: &Actor, q: AvailabilityQuery) -> Result<Availability, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, &actor.business_id).await?;
    let now = core.db.now().as_jiff();
    let from = q.from.as_deref().map(|f| parse_bound(f, &tz, "from", false)).transpose()?.unwrap_or(now);
    let to = match q.to.as_deref() {
        Some(t) => parse_bound(t, &tz, "to", true)?,
        None => Timestamp::from_millisecond(from.as_millisecond() + 7 * DAY_MS).map_err(Error::internal)?,
    };
    if to <= from {
        return Err(BookingError::InvalidRange("`to` must be after `from`.".into()).into());
    }
    if to.as_millisecond() - from.as_millisecond() > 62 * DAY_MS {
        return Err(BookingError::InvalidRange("Ask for at most 62 days at a time.".into()).into());
    }
    let service = active_service(&mut conn, &actor.business_id, &q.service_id).await?;
    if let Some(staff_id) = &q.staff_id {
        check_staff(&mut conn, &actor.business_id, staff_id, &service).await?;
    }
    let loaded = load_for_service(&mut conn, &actor.business_id, &service, from, to, q.staff_id.is_some(), None).await?;
    let filter = q.staff_id.map(|s| vec![s]);
    let limit = q.limit.unwrap_or(500).clamp(1, 2000) as usize;
    let slots = loaded.schedule.free_slots(&loaded.spec, filter.as_deref(), from, to, now, limit, false);
    let reconnect = crate::scheduling::google::connect::needing_reconnect(&mut conn, &actor.business_id).await?;
    let warnings = loaded
        .schedule
        .staff
        .iter()
        .filter(|s| reconnect.contains(&s.staff_id))
        .map(|s| AvailabilityWarning {
            staff_id: s.staff_id.as_str().into(),
            code: "calendar_reconnect_needed".into(),
            message: "This person's Google Calendar needs reconnecting, so their free times follow their working hours only and may include times they are busy.".into(),
        })
        .collect();
    Ok(Availability {
        service_id: service.id,
        timezone: tz.iana_name().unwrap_or_default().to_owned(),
        slots: slots.iter().map(|s| slot_to_wire(s, &tz)).collect(),
        warnings,
    })
}

/// Is this exact time free? If not, the nearest free times.
pub async fn check_availability(core: &Core, actor: &Actor, q: CheckQuery) -> Result<AvailabilityCheck, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, &actor.business_id).await?;
    let start = parse_start(&q.start, &tz)?;
    let service = active_service(&mut conn, &actor.business_id, &q.service_id).await?;
    if let Some(staff_id) = &q.staff_id {
        check_staff(&mut conn, &actor.business_id, staff_id, &service).await?;
    }
    let (from, to) = window(start);
    let mut loaded = load_for_service(&mut conn, &actor.business_id, &service, from, to, q.staff_id.is_some(), q.booking_id.as_deref()).await?;
    let answer = match free_for(&mut loaded, q.staff_id.as_deref(), start, core.db.now().as_jiff(), q.source.unwrap_or(BookingSource::Staff)) {
        Ok(slot) => AvailabilityCheck { available: true, reason: None, message: None, slot: Some(slot_to_wire(&slot, &tz)), alternatives: vec![] },
        Err(Error::Booking(refused)) => {
            let alternatives = match &refused {
                BookingError::SlotTaken { alternatives }
                | BookingError::OutsideHours { alternatives }
                | BookingError::TooSoon { alternatives }
                | BookingError::TooFarAhead { alternatives }
                | BookingError::NotOnGrid { alternatives, .. } => alternatives.clone(),
                _ => vec![],
            };
            let message = refused.to_string();
            let code = Error::Booking(refused).code();
            AvailabilityCheck { available: false, reason: Some(code.as_str().to_owned()), message: Some(message), slot: None, alternatives }
        }
        Err(other) => return Err(other),
    };
    Ok(answer)
}

/// Bookings starting in a range, earliest first: the calendar.
pub async fn list_bookings(core: &Core, actor: &Actor, q: ListBookings) -> Result<protocol::Page<Booking>, Error> {
    use crate::store::{Key, Order, Paging};
    let paging = Paging::new(q.cursor.as_deref(), q.limit)?;
    let mut conn = core.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, &actor.business_id).await?;
    let from = match q.from.as_deref() {
        Some(f) => parse_bound(f, &tz, "from", false)?,
        None => Timestamp::from_millisecond(core.db.now_ms() - DAY_MS).map_err(Error::internal)?,
    };
    let to = match q.to.as_deref() {
        Some(t) => parse_bound(t, &tz, "to", true)?,
        None => Timestamp::from_millisecond(from.as_millisecond() + 31 * DAY_MS).map_err(Error::internal)?,
    };
    if to <= from || to.as_millisecond() - from.as_millisecond() > 366 * DAY_MS {
        return Err(BookingError::InvalidRange("`to` must be after `from`, and at most 366 days after it.".into()).into());
    }
    let mut f = crate::store::Filter::default();
    f.and("b.business_id = ?", [crate::store::Bind::Text(actor.business_id.clone())]);
    f.and("b.start_at >= ?", [crate::store::Bind::Int(from.as_millisecond())]);
    f.and("b.start_at < ?", [crate::store::Bind::Int(to.as_millisecond())]);
    if let Some(s) = q.staff_id {
        f.and("b.staff_id = ?", [crate::store::Bind::Text(s)]);
    }
    if let Some(c) = q.customer_id {
        f.and("b.customer_id = ?", [crate::store::Bind::Text(c)]);
    }
    if let Some(s) = q.status {
        f.and("b.status = ?", [crate::store::Bind::Text(s.as_str().into())]);
    }
    paging.keyset(&mut f, "b.start_at", "b.id", Order::Asc)?;
    let sql = format!("SELECT {} FROM {}{}{}", Booking::COLUMNS, Booking::TABLE, f.where_sql(), paging.order_by("b.start_at", "b.id", Order::Asc));
    let rows = crate::store::bind_all(sqlx::query(&sql), &f.binds).fetch_all(&mut *conn).await?;
    let bookings = rows.iter().map(Booking::from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(bookings, |b| (Key::Int(b.start.as_millis()), b.id.to_string())))
}

/// Books an appointment. A taken time gets 409 `slot_taken` with the nearest free times in
/// `error.details.alternatives`; a time outside hours gets 422 `outside_hours` (also with
/// alternatives).
pub async fn create_booking(core: &Core, actor: &Actor, req: CreateBooking) -> Result<Booking, Error> {
    actor.require(Permission::HandleConversations)?;
    let start = parse_requested_start(core, &actor.business_id, &req.start).await?;
    let new = NewBooking {
        id: None,
        customer_id: req.customer_id.into(),
        service_id: req.service_id.into(),
        staff_id: req.staff_id.map(String::from),
        start,
        notes: req.notes,
        source: req.source.unwrap_or(BookingSource::Staff),
        status: req.status.unwrap_or(BookingStatus::Confirmed),
        created_by_staff_id: Some(actor.staff_id.clone()),
    };
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let booking = create(&mut tx, new).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(booking)
}

/// One booking.
pub async fn get_booking(core: &Core, actor: &Actor, id: &str) -> Result<Booking, Error> {
    let mut conn = core.db.reader().acquire().await?;
    Ok(load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("booking"))?)
}

/// Reschedules, reassigns, confirms, completes, marks a no-show, cancels or edits notes.
/// `expected_version` must be the booking's current version (else 409 `version_conflict`).
pub async fn update_booking(core: &Core, actor: &Actor, id: &str, req: UpdateBooking) -> Result<Booking, Error> {
    actor.require(Permission::HandleConversations)?;
    let start = match &req.start {
        Some(text) => Some(parse_requested_start(core, &actor.business_id, text).await?),
        None => None,
    };
    let change = BookingChange {
        expected_version: req.expected_version,
        start,
        staff_id: req.staff_id.map(String::from),
        status: req.status,
        notes: req.notes,
        cancel_reason: req.cancel_reason,
        confirmation: req.confirmation,
    };
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let booking = update(&mut tx, id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(booking)
}

/// Cancels a booking; its time is free again.
pub async fn cancel_booking(core: &Core, actor: &Actor, id: &str, q: CancelQuery) -> Result<Booking, Error> {
    actor.require(Permission::HandleConversations)?;
    let expected_version = match q.expected_version {
        Some(v) => v,
        None => {
            let mut conn = core.db.reader().acquire().await?;
            load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("booking"))?.version
        }
    };
    let change = BookingChange { expected_version, status: Some(BookingStatus::Cancelled), cancel_reason: q.reason, ..Default::default() };
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let booking = update(&mut tx, id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(booking)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_start_with_its_zone_in_brackets_is_that_zones_time() {
        let london = TimeZone::get("Europe/London").unwrap();
        let at = |text: &str| parse_start(text, &london).map(|t| t.to_string());
        assert_eq!(at("2026-12-16T11:00:00").unwrap(), "2026-12-16T11:00:00Z", "the business's zone");
        assert_eq!(at("2026-12-16T11:00:00[America/New_York]").unwrap(), "2026-12-16T16:00:00Z");
        assert_eq!(at("2026-12-16T11:00[!America/New_York]").unwrap(), "2026-12-16T16:00:00Z");
        assert_eq!(at("2026-12-16T11:00:00-05:00[America/New_York]").unwrap(), "2026-12-16T16:00:00Z");
        // An offset the zone does not have then, a zone that is none, an annotation left open.
        for refused in ["2026-12-16T11:00:00+01:00[America/New_York]", "2026-12-16T11:00:00[Not/AZone]", "2026-12-16T11:00:00[America/New_York", "2026-12-16T11:00[]", "2026-12-16T11:00[GB]", "2026-12-16T11:00[localtime]", "2026-12-16T11:00[europe/london]"] {
            assert!(matches!(parse_start(refused, &london), Err(Error::Booking(BookingError::InvalidZone(_)))), "{refused}");
        }
        // The zone's own gaps are the zone's: 02:30 on 8 March 2026 does not exist in New York.
        assert!(matches!(parse_start("2026-03-08T02:30[America/New_York]", &london), Err(Error::Booking(BookingError::NonexistentTime { .. }))));
    }
}
