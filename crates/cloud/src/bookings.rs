//! Availability queries and bookings: create, reschedule, reassign, confirm, complete, no-show and
//! cancel. Every path that books — staff in the console, the API, the assistant, voice calls —
//! goes through [`create`] and [`update`], so the rules hold for all of them.
//!
//! No overlap, ever. The check and the write happen in one business transaction that is serialised
//! per business: on SQLite by the single writer connection, on PostgreSQL by locking the business
//! row first. Underneath, PostgreSQL also has an exclusion constraint (see `store.rs`), so even a
//! write that bypassed this module could not make two active bookings of one person overlap.

use protocol::EntityKind;
use std::str::FromStr;

use axum::extract::State;
use axum::http::StatusCode;
use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::Timestamp;
use protocol::{
    Availability, AvailabilityCheck, AvailableSlot, Booking, BookingSource, BookingStatus, CreateBooking, Service, UpdateBooking,
};
use serde::Deserialize;
use serde_json::json;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Auth, Permission};
use crate::availability::{Slot, Unbookable};
use crate::error::ApiError;
use crate::http::extract::{Json, Path, Query};
use crate::http::AppState;
use crate::schedule::{load_for_service, parse_date, Loaded};
use crate::store::{rfc3339, BusinessTx, StoreError};
use crate::legacy::{new_id, now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(availability))
        .routes(routes!(check_availability))
        .routes(routes!(list_bookings, create_booking))
        .routes(routes!(get_booking, update_booking, cancel_booking))
}

const ALTERNATIVES: usize = 5;
const DAY_MS: i64 = 86_400_000;

fn unprocessable(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
}

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
pub fn parse_start(text: &str, tz: &TimeZone) -> Result<Timestamp, ApiError> {
    let text = text.trim();
    if let Ok(t) = Timestamp::from_str(text) {
        return Ok(t);
    }
    let dt = DateTime::from_str(text).map_err(|_| {
        unprocessable("invalid_time", format!("`{text}` is not a time. Use 2026-03-09T09:00 (local) or 2026-03-09T13:00:00Z."))
    })?;
    match tz.to_ambiguous_timestamp(dt).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(dt).map_err(ApiError::internal),
        AmbiguousOffset::Gap { .. } => Err(unprocessable(
            "nonexistent_time",
            format!("{dt} does not exist in {}: the clocks skip it. Choose another time.", tz.iana_name().unwrap_or("this zone")),
        )),
        AmbiguousOffset::Fold { before, after } => {
            let options: Vec<String> = [before, after].iter().filter_map(|o| o.to_timestamp(dt).ok()).map(|t| t.to_string()).collect();
            Err(unprocessable("ambiguous_time", format!("{dt} happens twice in {} (the clocks go back). Send the instant with its offset.", tz.iana_name().unwrap_or("this zone")))
                .with_details(json!({ "instants": options })))
        }
    }
}

/// A query bound: a local date (`YYYY-MM-DD`, the start of that day; `end_of_day` for the end) or an instant.
fn parse_bound(text: &str, tz: &TimeZone, field: &str, end_of_day: bool) -> Result<Timestamp, ApiError> {
    if text.len() == 10 {
        let date = parse_date(text, field)?;
        let date = if end_of_day { date.tomorrow().map_err(ApiError::internal)? } else { date };
        return date.to_zoned(tz.clone()).map(|z| z.timestamp()).map_err(ApiError::internal);
    }
    parse_start(text, tz).map_err(|_| ApiError::validation(format!("`{field}` must be a date (2026-03-09) or an instant (2026-03-09T13:00:00Z).")))
}

async fn business_tz(conn: &mut AnyConnection, business_id: &str) -> Result<TimeZone, ApiError> {
    let name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(business_id).fetch_one(conn).await?;
    TimeZone::get(&name).map_err(ApiError::internal)
}

async fn active_service(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Service, ApiError> {
    match crate::services::load(conn, business_id, id).await? {
        Some(s) if s.active => Ok(s),
        Some(_) => Err(unprocessable("service_inactive", "That service is not offered at the moment.")),
        None => Err(unprocessable("unknown_service", "No such service.")),
    }
}

async fn check_staff(conn: &mut AnyConnection, business_id: &str, staff_id: &str, service: &Service) -> Result<(), ApiError> {
    crate::staff::require_active(conn, business_id, staff_id).await?;
    if !service.staff_ids.is_empty() && !service.staff_ids.iter().any(|s| s == staff_id) {
        return Err(unprocessable("staff_cannot_perform", "That staff member does not do this service."));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reading bookings

const COLUMNS: &str = "b.id, b.business_id, b.customer_id, b.service_id, b.staff_id, b.start_at, b.end_at, b.status, b.source, \
                       b.notes, b.version, b.created_by_staff_id, b.cancel_reason, b.created_at, b.updated_at, bu.timezone";

fn from_row(row: &AnyRow) -> Result<Booking, StoreError> {
    let tz_name: String = row.try_get("timezone")?;
    let tz = TimeZone::get(&tz_name).map_err(|e| StoreError::Corrupt(format!("timezone {tz_name}: {e}")))?;
    let status: String = row.try_get("status")?;
    let source: String = row.try_get("source")?;
    let start: i64 = row.try_get("start_at")?;
    let start_ts = Timestamp::from_millisecond(start).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(Booking {
        id: row.try_get("id")?,
        business_id: row.try_get("business_id")?,
        customer_id: row.try_get("customer_id")?,
        service_id: row.try_get("service_id")?,
        staff_id: row.try_get("staff_id")?,
        start: rfc3339(start),
        end: rfc3339(row.try_get("end_at")?),
        local_start: start_ts.to_zoned(tz).to_string(),
        status: BookingStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("booking status {status}")))?,
        source: BookingSource::parse(&source).ok_or_else(|| StoreError::Corrupt(format!("booking source {source}")))?,
        notes: row.try_get("notes")?,
        version: row.try_get("version")?,
        created_by_staff_id: row.try_get("created_by_staff_id")?,
        cancel_reason: row.try_get("cancel_reason")?,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Booking>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM bookings b JOIN businesses bu ON bu.id = b.business_id WHERE b.id = $1 AND b.business_id = $2"
    ))
    .bind(id)
    .bind(business_id)
    .fetch_optional(conn)
    .await?;
    row.as_ref().map(from_row).transpose()
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
fn free_for(loaded: &mut Loaded, staff: Option<&str>, start: Timestamp, source: BookingSource) -> Result<Slot, ApiError> {
    if source == BookingSource::Staff {
        loaded.schedule.rules.min_notice_minutes = 0;
        loaded.schedule.rules.max_advance_days = 730;
    }
    let now = Timestamp::now();
    let filter = staff.map(|s| vec![s.to_owned()]);
    let filter = filter.as_deref();
    let alternatives = |loaded: &Loaded| {
        let tz = loaded.schedule.tz.clone();
        let slots = loaded.schedule.nearest(&loaded.spec, filter, start, now, ALTERNATIVES);
        json!({ "alternatives": slots.iter().map(|s| slot_to_wire(s, &tz)).collect::<Vec<_>>() })
    };
    if let Err(why) = loaded.schedule.check_bookable(&loaded.spec, filter, start, now) {
        let error = match why {
            Unbookable::TooSoon => unprocessable("too_soon", "That time is too soon to book."),
            Unbookable::TooFarAhead => unprocessable("too_far_ahead", "That time is too far ahead to book."),
            Unbookable::OutsideHours => unprocessable("outside_hours", "That time is outside opening or working hours."),
            Unbookable::OffGrid => unprocessable(
                "not_on_grid",
                format!("Appointments start every {} minutes; pick one of the times offered.", loaded.schedule.rules.slot_interval_minutes),
            ),
        };
        return Err(error.with_details(alternatives(loaded)));
    }
    loaded.schedule.free_at(&loaded.spec, filter, start, now).ok_or_else(|| {
        ApiError::conflict("slot_taken", "That time has just been taken. Here are the nearest free times.").with_details(alternatives(loaded))
    })
}

/// Among the free staff, the one who was given a booking longest ago (then by id), so that work
/// is shared out fairly when the customer has no preference.
async fn fair_choice(tx: &mut BusinessTx, free: &[String]) -> Result<String, ApiError> {
    let mut best: Option<(i64, String)> = None;
    for id in free {
        let last: i64 = sqlx::query_scalar("SELECT last_assigned_at FROM staff WHERE id = $1").bind(id).fetch_one(tx.conn()).await?;
        if best.as_ref().is_none_or(|(l, b)| (last, id) < (*l, b)) {
            best = Some((last, id.clone()));
        }
    }
    best.map(|(_, id)| id).ok_or_else(|| ApiError::conflict("slot_taken", "Nobody is free at that time."))
}

fn map_overlap(e: sqlx::Error) -> ApiError {
    match StoreError::from(e) {
        e if e.is_exclusion_violation() => ApiError::conflict("slot_taken", "That time has just been taken."),
        e => e.into(),
    }
}

/// Books an appointment. See the module docs for why it can never double-book.
pub async fn create(tx: &mut BusinessTx, new: NewBooking) -> Result<Booking, ApiError> {
    let business_id = tx.business_id().to_owned();
    let business_id = business_id.as_str();
    if !matches!(new.status, BookingStatus::Pending | BookingStatus::Confirmed) {
        return Err(ApiError::validation("A new booking is `pending` or `confirmed`."));
    }
    let notes = new.notes.trim().to_owned();
    if notes.chars().count() > 2000 {
        return Err(ApiError::validation("`notes` must be at most 2000 characters."));
    }
    if let Some(id) = &new.id {
        if let Some(existing) = load(tx.conn(), business_id, id).await? {
            return Ok(existing);
        }
    }
    if crate::customers::load(tx.conn(), business_id, &new.customer_id).await?.is_none() {
        return Err(unprocessable("unknown_customer", "No such customer."));
    }
    let service = active_service(tx.conn(), business_id, &new.service_id).await?;
    if let Some(staff_id) = &new.staff_id {
        check_staff(tx.conn(), business_id, staff_id, &service).await?;
    }
    let (from, to) = window(new.start);
    // People taken out of online booking can still be booked by name, never by rotation.
    let include_unbookable = new.staff_id.is_some();
    let mut loaded = load_for_service(tx.conn(), business_id, &service, from, to, include_unbookable, None).await?;
    let slot = free_for(&mut loaded, new.staff_id.as_deref(), new.start, new.source)?;
    let staff_id = match &new.staff_id {
        Some(id) => id.clone(),
        None => fair_choice(tx, &slot.staff_ids).await?,
    };

    let id = new.id.clone().unwrap_or_else(new_id);
    let now = now_ms();
    let (start, end) = (slot.start.as_millisecond(), slot.end.as_millisecond());
    let (before, after) = (loaded.spec.buffer_before_minutes * 60_000, loaded.spec.buffer_after_minutes * 60_000);
    sqlx::query(
        "INSERT INTO bookings (id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, \
         notes, version, created_by_staff_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 1, $13, $14, $14)",
    )
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
    .execute(tx.conn())
    .await
    .map_err(map_overlap)?;
    sqlx::query("UPDATE staff SET last_assigned_at = $1 WHERE id = $2").bind(now).bind(&staff_id).execute(tx.conn()).await?;
    let booking = load(tx.conn(), business_id, &id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    tx.record(EntityKind::Booking, &id, Some(&booking)).await?;
    tx.audit(
        new.created_by_staff_id.as_deref(),
        "booking.created",
        Some(("booking", &id)),
        json!({"source": new.source, "start": booking.start, "staff_id": staff_id}),
    )
    .await?;
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

/// A change to a booking, from whichever path.
#[derive(Debug, Clone, Default)]
pub struct BookingChange {
    pub expected_version: i64,
    pub start: Option<Timestamp>,
    pub staff_id: Option<String>,
    pub status: Option<BookingStatus>,
    pub notes: Option<String>,
    pub cancel_reason: Option<String>,
}

/// Changes a booking if it is still at `expected_version`.
pub async fn update(
    tx: &mut BusinessTx,
    id: &str,
    change: BookingChange,
    actor: Option<&str>,
    source: BookingSource,
) -> Result<Booking, ApiError> {
    let business_id = tx.business_id().to_owned();
    let business_id = business_id.as_str();

    let current = load(tx.conn(), business_id, id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    let conflict = |current: &Booking| {
        ApiError::conflict("version_conflict", "This booking was changed by someone else; here is how it is now.")
            .with_details(json!({ "current": current }))
    };
    if current.version != change.expected_version {
        return Err(conflict(&current));
    }
    let status = change.status.unwrap_or(current.status);
    if !transition_allowed(current.status, status) {
        return Err(unprocessable(
            "invalid_transition",
            format!("A {} booking cannot become {}.", current.status.as_str().replace('_', "-"), status.as_str().replace('_', "-")),
        ));
    }
    let current_start = current.start.as_jiff();
    let start = change.start.unwrap_or(current_start);
    let staff_id = change.staff_id.clone().unwrap_or_else(|| current.staff_id.to_string());
    let moved = start != current_start || current.staff_id != staff_id;
    // Moving is only for bookings that hold time before and after the change: a move folded
    // into a cancellation or completion would write a time and person nobody checked.
    if moved && !(current.status.holds_time() && status.holds_time()) {
        return Err(unprocessable("invalid_transition", "Only pending or confirmed bookings can be moved; move it and change its status separately."));
    }
    let notes = change.notes.map(|n| n.trim().to_owned()).unwrap_or(current.notes.clone());
    let cancel_reason = if status == BookingStatus::Cancelled { change.cancel_reason.or(current.cancel_reason.clone()) } else { None };
    if notes.chars().count() > 2000 || cancel_reason.as_deref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::validation("`notes` must be at most 2000 characters and `cancel_reason` at most 500."));
    }
    // The stored blocked time stands unless the booking moves (the service's buffers may have
    // changed since; re-deriving them would shift a booking nobody moved). A deleted service's
    // bookings can still be confirmed, completed or cancelled.
    let row = sqlx::query("SELECT start_at, end_at, block_start, block_end FROM bookings WHERE id = $1")
        .bind(id)
        .fetch_one(tx.conn())
        .await?;
    let (mut start_ms, mut end_ms, mut block_start, mut block_end): (i64, i64, i64, i64) =
        (row.try_get("start_at")?, row.try_get("end_at")?, row.try_get("block_start")?, row.try_get("block_end")?);
    if moved {
        let service = crate::services::load(tx.conn(), business_id, &current.service_id)
            .await?
            .ok_or_else(|| unprocessable("unknown_service", "The booking's service no longer exists, so it cannot be moved; cancel it and book again."))?;
        check_staff(tx.conn(), business_id, &staff_id, &service).await?;
        let (from, to) = window(start);
        let mut loaded = load_for_service(tx.conn(), business_id, &service, from, to, true, Some(id)).await?;
        let slot = free_for(&mut loaded, Some(&staff_id), start, source)?;
        (start_ms, end_ms) = (slot.start.as_millisecond(), slot.end.as_millisecond());
        block_start = start_ms - i64::from(service.buffer_before_minutes) * 60_000;
        block_end = end_ms + i64::from(service.buffer_after_minutes) * 60_000;
    }
    let updated = sqlx::query(
        "UPDATE bookings SET start_at = $1, end_at = $2, block_start = $3, block_end = $4, staff_id = $5, status = $6, notes = $7, \
         cancel_reason = $8, version = version + 1, updated_at = $9 WHERE id = $10 AND business_id = $11 AND version = $12",
    )
    .bind(start_ms)
    .bind(end_ms)
    .bind(block_start)
    .bind(block_end)
    .bind(&staff_id)
    .bind(status.as_str())
    .bind(&notes)
    .bind(cancel_reason)
    .bind(now_ms())
    .bind(id)
    .bind(business_id)
    .bind(change.expected_version)
    .execute(tx.conn())
    .await
    .map_err(map_overlap)?
    .rows_affected();
    if updated == 0 {
        return Err(conflict(&current));
    }
    let booking = load(tx.conn(), business_id, id).await?.ok_or_else(|| ApiError::not_found("booking"))?;
    tx.record(EntityKind::Booking, id, Some(&booking)).await?;
    let action = if status != current.status { format!("booking.{}", status.as_str()) } else if moved { "booking.moved".into() } else { "booking.edited".into() };
    tx.audit(actor, &action, Some(("booking", id)), json!({"version": booking.version, "start": booking.start, "staff_id": booking.staff_id}))
        .await?;
    Ok(booking)
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AvailabilityQuery {
    service_id: String,
    /// Only this staff member.
    staff_id: Option<String>,
    /// Local date (`2026-03-09`, from the start of that day) or instant. Default: now.
    from: Option<String>,
    /// Local date (until the end of that day) or instant. Default: 7 days after `from`; at most 62 days after it.
    to: Option<String>,
    /// At most this many slots, earliest first (default 500, at most 2000): `from` + `limit` is
    /// "the next N free times".
    limit: Option<u32>,
}

/// Free appointment times for a service, in UTC and in the business's local time.
#[utoipa::path(get, path = "/v1/availability", tag = "scheduling", security(("bearer" = [])), params(AvailabilityQuery),
    responses((status = 200, body = Availability), (status = 422, body = protocol::ErrorBody)))]
async fn availability(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<AvailabilityQuery>,
) -> Result<axum::Json<Availability>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, &auth.business_id).await?;
    let now = Timestamp::now();
    let from = q.from.as_deref().map(|f| parse_bound(f, &tz, "from", false)).transpose()?.unwrap_or(now);
    let to = match q.to.as_deref() {
        Some(t) => parse_bound(t, &tz, "to", true)?,
        None => Timestamp::from_millisecond(from.as_millisecond() + 7 * DAY_MS).map_err(ApiError::internal)?,
    };
    if to <= from {
        return Err(unprocessable("invalid_range", "`to` must be after `from`."));
    }
    if to.as_millisecond() - from.as_millisecond() > 62 * DAY_MS {
        return Err(unprocessable("invalid_range", "Ask for at most 62 days at a time."));
    }
    let service = active_service(&mut conn, &auth.business_id, &q.service_id).await?;
    if let Some(staff_id) = &q.staff_id {
        check_staff(&mut conn, &auth.business_id, staff_id, &service).await?;
    }
    let loaded = load_for_service(&mut conn, &auth.business_id, &service, from, to, q.staff_id.is_some(), None).await?;
    let filter = q.staff_id.map(|s| vec![s]);
    let limit = q.limit.unwrap_or(500).clamp(1, 2000) as usize;
    let slots = loaded.schedule.free_slots(&loaded.spec, filter.as_deref(), from, to, now, limit, false);
    Ok(axum::Json(Availability {
        service_id: service.id,
        timezone: tz.iana_name().unwrap_or_default().to_owned(),
        slots: slots.iter().map(|s| slot_to_wire(s, &tz)).collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CheckQuery {
    service_id: String,
    /// Instant, or local time in the business's zone.
    start: String,
    staff_id: Option<String>,
    /// Whose rules apply: `staff` (default, as for bookings made in the console: no notice or
    /// horizon limits) or `api`/`assistant`/`voice` (online booking rules).
    source: Option<BookingSource>,
}

/// Is this exact time free? If not, the nearest free times.
#[utoipa::path(get, path = "/v1/availability/check", tag = "scheduling", security(("bearer" = [])), params(CheckQuery),
    responses((status = 200, body = AvailabilityCheck), (status = 422, body = protocol::ErrorBody)))]
async fn check_availability(
    State(state): State<AppState>,
    auth: Auth,
    Query(q): Query<CheckQuery>,
) -> Result<axum::Json<AvailabilityCheck>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, &auth.business_id).await?;
    let start = parse_start(&q.start, &tz)?;
    let service = active_service(&mut conn, &auth.business_id, &q.service_id).await?;
    if let Some(staff_id) = &q.staff_id {
        check_staff(&mut conn, &auth.business_id, staff_id, &service).await?;
    }
    let (from, to) = window(start);
    let mut loaded = load_for_service(&mut conn, &auth.business_id, &service, from, to, q.staff_id.is_some(), None).await?;
    let answer = match free_for(&mut loaded, q.staff_id.as_deref(), start, q.source.unwrap_or(BookingSource::Staff)) {
        Ok(slot) => AvailabilityCheck { available: true, reason: None, slot: Some(slot_to_wire(&slot, &tz)), alternatives: vec![] },
        Err(ApiError::Client { code, details, .. }) => AvailabilityCheck {
            available: false,
            reason: Some(code.to_owned()),
            slot: None,
            alternatives: details
                .and_then(|d| serde_json::from_value(d["alternatives"].clone()).ok())
                .unwrap_or_default(),
        },
        Err(other) => return Err(other),
    };
    Ok(axum::Json(answer))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListBookings {
    /// Local date or instant (default: a day ago).
    from: Option<String>,
    /// Local date (inclusive) or instant (default: 31 days after `from`; at most 366).
    to: Option<String>,
    staff_id: Option<String>,
    customer_id: Option<String>,
    status: Option<BookingStatus>,
    /// Default 500, at most 2000.
    limit: Option<u32>,
}

/// Bookings starting in a range, earliest first: the calendar.
#[utoipa::path(get, path = "/v1/bookings", tag = "scheduling", security(("bearer" = [])), params(ListBookings),
    responses((status = 200, body = Vec<Booking>), (status = 422, body = protocol::ErrorBody)))]
async fn list_bookings(State(state): State<AppState>, auth: Auth, Query(q): Query<ListBookings>) -> Result<axum::Json<Vec<Booking>>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    let tz = business_tz(&mut conn, &auth.business_id).await?;
    let from = match q.from.as_deref() {
        Some(f) => parse_bound(f, &tz, "from", false)?,
        None => Timestamp::from_millisecond(now_ms() - DAY_MS).map_err(ApiError::internal)?,
    };
    let to = match q.to.as_deref() {
        Some(t) => parse_bound(t, &tz, "to", true)?,
        None => Timestamp::from_millisecond(from.as_millisecond() + 31 * DAY_MS).map_err(ApiError::internal)?,
    };
    if to <= from || to.as_millisecond() - from.as_millisecond() > 366 * DAY_MS {
        return Err(unprocessable("invalid_range", "`to` must be after `from`, and at most 366 days after it."));
    }
    let mut f = crate::store::Filter::default();
    f.and("b.business_id = ?", [crate::store::Bind::Text(auth.business_id.clone())]);
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
    let sql = format!(
        "SELECT {COLUMNS} FROM bookings b JOIN businesses bu ON bu.id = b.business_id{} ORDER BY b.start_at, b.id LIMIT ${}",
        f.where_sql(),
        f.next_placeholder()
    );
    let limit = i64::from(q.limit.unwrap_or(500).clamp(1, 2000));
    let rows = crate::store::bind_all(sqlx::query(&sql), &f.binds).bind(limit).fetch_all(&mut *conn).await?;
    Ok(axum::Json(rows.iter().map(from_row).collect::<Result<_, _>>()?))
}

/// Books an appointment. A taken time gets 409 `slot_taken` with the nearest free times in
/// `error.details.alternatives`; a time outside hours gets 422 `outside_hours` (also with
/// alternatives).
#[utoipa::path(post, path = "/v1/bookings", tag = "scheduling", security(("bearer" = [])), request_body = CreateBooking,
    responses((status = 201, body = Booking), (status = 409, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn create_booking(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<CreateBooking>,
) -> Result<(StatusCode, axum::Json<Booking>), ApiError> {
    auth.require(Permission::HandleConversations)?;
    let tz = {
        let mut conn = state.db.reader().acquire().await?;
        business_tz(&mut conn, &auth.business_id).await?
    };
    let new = NewBooking {
        id: None,
        customer_id: req.customer_id.into(),
        service_id: req.service_id.into(),
        staff_id: req.staff_id.map(String::from),
        start: parse_start(&req.start, &tz)?,
        notes: req.notes,
        source: req.source.unwrap_or(BookingSource::Staff),
        status: req.status.unwrap_or(BookingStatus::Confirmed),
        created_by_staff_id: Some(auth.staff_id.clone()),
    };
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let booking = create(&mut tx, new).await?;
    tx.commit_even_if_unchanged().await?;
    Ok((StatusCode::CREATED, axum::Json(booking)))
}

/// One booking.
#[utoipa::path(get, path = "/v1/bookings/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, body = Booking), (status = 404, body = protocol::ErrorBody)))]
async fn get_booking(State(state): State<AppState>, auth: Auth, Path(id): Path<String>) -> Result<axum::Json<Booking>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(axum::Json(load(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("booking"))?))
}

/// Reschedules, reassigns, confirms, completes, marks a no-show, cancels or edits notes.
/// `expected_version` must be the booking's current version (else 409 `version_conflict`).
#[utoipa::path(patch, path = "/v1/bookings/{id}", tag = "scheduling", security(("bearer" = [])), request_body = UpdateBooking,
    params(("id" = String, Path, description = "Booking id")),
    responses((status = 200, body = Booking), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody),
        (status = 422, body = protocol::ErrorBody)))]
async fn update_booking(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Json(req): Json<UpdateBooking>,
) -> Result<axum::Json<Booking>, ApiError> {
    auth.require(Permission::HandleConversations)?;
    let start = match &req.start {
        Some(text) => {
            let mut conn = state.db.reader().acquire().await?;
            let tz = business_tz(&mut conn, &auth.business_id).await?;
            Some(parse_start(text, &tz)?)
        }
        None => None,
    };
    let change = BookingChange {
        expected_version: req.expected_version,
        start,
        staff_id: req.staff_id.map(String::from),
        status: req.status,
        notes: req.notes,
        cancel_reason: req.cancel_reason,
    };
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let booking = update(&mut tx, &id, change, Some(&auth.staff_id), BookingSource::Staff).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(axum::Json(booking))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CancelQuery {
    /// When given, the booking must still be at this version.
    expected_version: Option<i64>,
    reason: Option<String>,
}

/// Cancels a booking; its time is free again.
#[utoipa::path(delete, path = "/v1/bookings/{id}", tag = "scheduling", security(("bearer" = [])),
    params(("id" = String, Path, description = "Booking id"), CancelQuery),
    responses((status = 200, body = Booking), (status = 404, body = protocol::ErrorBody), (status = 409, body = protocol::ErrorBody)))]
async fn cancel_booking(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<CancelQuery>,
) -> Result<axum::Json<Booking>, ApiError> {
    auth.require(Permission::HandleConversations)?;
    let expected_version = match q.expected_version {
        Some(v) => v,
        None => {
            let mut conn = state.db.reader().acquire().await?;
            load(&mut conn, &auth.business_id, &id).await?.ok_or_else(|| ApiError::not_found("booking"))?.version
        }
    };
    let change = BookingChange { expected_version, status: Some(BookingStatus::Cancelled), cancel_reason: q.reason, ..Default::default() };
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let booking = update(&mut tx, &id, change, Some(&auth.staff_id), BookingSource::Staff).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(axum::Json(booking))
}
