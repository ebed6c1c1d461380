//! Outside changes of our events become tasks for the front desk, never silent booking changes:
//! "Sam moved Ada's 10:00 to 11:30 in Google Calendar — apply?" or "… deleted … — cancel the
//! booking?". One open task per booking (a later change updates it). Applying goes through the
//! booking rules like any other change (a time that is taken is refused, the task stays open), and
//! the customer is told as of any change (the automations' confirmations); dismissing writes the booking back into Google.

use jiff::tz::TimeZone;
use protocol::{BookingSource, BookingStatus, CalendarTask, CalendarTaskKind, CalendarTaskStatus, EntityKind};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::accounts::{Actor, Permission};
use crate::error::{CalendarError, Error};
use crate::scheduling::bookings::{self, BookingChange};
use crate::store::columns::read_row;
use crate::store::BusinessTx;
use crate::Core;

const COLUMNS: &str = "id, staff_id, booking_id, kind, new_start, new_end, message, status, created_at, resolved_at";

fn from_row(r: &AnyRow) -> Result<CalendarTask, Error> {
    let kind: String = r.try_get("kind")?;
    let status: String = r.try_get("status")?;
    Ok(read_row!(r => CalendarTask {
        id, staff_id, booking_id, new_start, new_end, message, created_at, resolved_at,
        kind = CalendarTaskKind::parse(&kind).unwrap_or(CalendarTaskKind::Moved),
        status = CalendarTaskStatus::parse(&status).unwrap_or(CalendarTaskStatus::Open),
    }))
}

async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<CalendarTask>, Error> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM calendar_tasks WHERE id = $1 AND business_id = $2"))
        .bind(id)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

fn local(ms: i64, tz: &TimeZone, with_day: bool) -> String {
    let Ok(t) = jiff::Timestamp::from_millisecond(ms) else { return String::new() };
    let z = t.to_zoned(tz.clone());
    if with_day {
        z.strftime("%a %-d %b %H:%M").to_string()
    } else {
        z.strftime("%H:%M").to_string()
    }
}

/// Someone changed one of our events in Google: moved to `moved_to`, or deleted (`None`). Nothing
/// happens when the booking no longer holds time, or when a write of ours is on its way (it will
/// overwrite what Google has, so what we read is our own past).
pub(crate) async fn outside_change(tx: &mut BusinessTx, booking_id: &str, moved_to: Option<(i64, i64)>) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_writes WHERE booking_id = $1 AND business_id = $2 AND done_at IS NULL")
        .bind(booking_id)
        .bind(&business_id)
        .fetch_one(tx.conn())
        .await?;
    if pending > 0 {
        return Ok(());
    }
    let Some(booking) = bookings::load(tx.conn(), &business_id, booking_id).await? else { return Ok(()) };
    if !booking.status.holds_time() {
        return Ok(());
    }
    if moved_to == Some((booking.start.as_millis(), booking.end.as_millis())) {
        // Moved to where the booking already is (applied from elsewhere): nothing to decide.
        return close_open(tx, booking_id, CalendarTaskStatus::Dismissed).await;
    }
    let row = sqlx::query("SELECT s.name AS staff, c.name AS customer, b.timezone FROM staff s, customers c, businesses b WHERE s.id = $1 AND c.id = $2 AND c.business_id = b.id AND b.id = $3")
        .bind(booking.staff_id.as_str())
        .bind(booking.customer_id.as_str())
        .bind(&business_id)
        .fetch_one(tx.conn())
        .await?;
    let staff: String = row.try_get("staff")?;
    let customer: Option<String> = row.try_get("customer")?;
    let customer = customer.filter(|c| !c.trim().is_empty()).unwrap_or_else(|| "a customer".into());
    let tz = TimeZone::get(&row.try_get::<String, _>("timezone")?).map_err(Error::internal)?;
    let was = local(booking.start.as_millis(), &tz, true);
    let (kind, message) = match moved_to {
        Some((start, _)) => {
            let day = |ms: i64| jiff::Timestamp::from_millisecond(ms).map(|t| t.to_zoned(tz.clone()).date()).ok();
            let same_day = day(start) == day(booking.start.as_millis());
            (CalendarTaskKind::Moved, format!("{staff} moved {customer}'s {was} to {} in Google Calendar — apply?", local(start, &tz, !same_day)))
        }
        None => (CalendarTaskKind::Deleted, format!("{staff} deleted {customer}'s {was} appointment in Google Calendar — cancel the booking?")),
    };
    let now = tx.now_ms();
    let existing: Option<String> =
        sqlx::query_scalar("SELECT id FROM calendar_tasks WHERE booking_id = $1 AND business_id = $2 AND status = 'open'")
            .bind(booking_id)
            .bind(tx.business_id().to_owned())
            .fetch_optional(tx.conn())
            .await?;
    let id = match existing {
        Some(id) => {
            sqlx::query("UPDATE calendar_tasks SET kind = $1, new_start = $2, new_end = $3, message = $4 WHERE id = $5")
                .bind(kind.as_str())
                .bind(moved_to.map(|m| m.0))
                .bind(moved_to.map(|m| m.1))
                .bind(&message)
                .bind(&id)
                .execute(tx.conn())
                .await?;
            id
        }
        None => {
            let id: String = tx.new_id();
            sqlx::query(
                "INSERT INTO calendar_tasks (id, business_id, staff_id, booking_id, kind, new_start, new_end, message, status, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'open', $9)",
            )
            .bind(&id)
            .bind(&business_id)
            .bind(booking.staff_id.as_str())
            .bind(booking_id)
            .bind(kind.as_str())
            .bind(moved_to.map(|m| m.0))
            .bind(moved_to.map(|m| m.1))
            .bind(&message)
            .bind(now)
            .execute(tx.conn())
            .await?;
            id
        }
    };
    record(tx, &id).await
}

async fn record(tx: &mut BusinessTx, id: &str) -> Result<(), Error> {
    let business_id = tx.business_id().to_owned();
    let task = load(tx.conn(), &business_id, id).await?;
    tx.record(EntityKind::CalendarTask, id, task.as_ref()).await?;
    Ok(())
}

async fn close_open(tx: &mut BusinessTx, booking_id: &str, status: CalendarTaskStatus) -> Result<(), Error> {
    let open: Option<String> = sqlx::query_scalar("SELECT id FROM calendar_tasks WHERE booking_id = $1 AND business_id = $2 AND status = 'open'")
        .bind(booking_id)
        .bind(tx.business_id().to_owned())
        .fetch_optional(tx.conn())
        .await?;
    if let Some(id) = open {
        sqlx::query("UPDATE calendar_tasks SET status = $1, resolved_at = $2 WHERE id = $3").bind(status.as_str()).bind(tx.now_ms()).bind(&id).execute(tx.conn()).await?;
        record(tx, &id).await?;
    }
    Ok(())
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskQuery {
    /// `open` (default), `applied`, `dismissed`.
    pub status: Option<CalendarTaskStatus>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// The business's calendar tasks, newest first.
pub async fn list(core: &Core, actor: &Actor, q: TaskQuery) -> Result<protocol::Page<CalendarTask>, Error> {
    use crate::store::{Bind, Key, Order, Paging};
    actor.require(Permission::HandleConversations)?;
    let paging = Paging::new(q.cursor.as_deref(), q.limit)?;
    let status = q.status.unwrap_or(CalendarTaskStatus::Open);
    let mut f = crate::store::Filter::default();
    f.and("business_id = ?", [Bind::Text(actor.business_id.clone())]);
    f.and("status = ?", [Bind::Text(status.as_str().into())]);
    paging.keyset(&mut f, "created_at", "id", Order::Desc)?;
    let sql = format!("SELECT {COLUMNS} FROM calendar_tasks{}{}", f.where_sql(), paging.order_by("created_at", "id", Order::Desc));
    let rows = crate::store::bind_all(sqlx::query(&sql), &f.binds).fetch_all(core.db.reader()).await?;
    let tasks = rows.iter().map(from_row).collect::<Result<Vec<_>, Error>>()?;
    Ok(paging.page(tasks, |t| (Key::Int(t.created_at.as_millis()), t.id.to_string())))
}

async fn open_task(tx: &mut BusinessTx, id: &str) -> Result<CalendarTask, Error> {
    let business_id = tx.business_id().to_owned();
    let task = load(tx.conn(), &business_id, id).await?.ok_or(Error::NotFound("task"))?;
    match task.status {
        CalendarTaskStatus::Open => Ok(task),
        CalendarTaskStatus::Applied => Err(CalendarError::TaskResolved("applied").into()),
        CalendarTaskStatus::Dismissed => Err(CalendarError::TaskResolved("dismissed").into()),
    }
}

/// Applies an outside change to the booking through the booking rules; the customer hears of it
/// as of any change (the automations' confirmation of a move or a cancellation).
pub async fn apply(core: &Core, actor: &Actor, id: &str) -> Result<CalendarTask, Error> {
    actor.require(Permission::HandleConversations)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let task = open_task(&mut tx, id).await?;
    let booking_id = task.booking_id.to_string();
    let current = bookings::load(tx.conn(), &actor.business_id, &booking_id).await?.ok_or(Error::NotFound("booking"))?;
    let change = match (task.kind, task.new_start) {
        (CalendarTaskKind::Moved, Some(start)) => BookingChange { expected_version: current.version, start: Some(start.as_jiff()), ..Default::default() },
        _ => BookingChange {
            expected_version: current.version,
            status: Some(BookingStatus::Cancelled),
            cancel_reason: Some("Deleted in Google Calendar".into()),
            ..Default::default()
        },
    };
    bookings::update(&mut tx, &booking_id, change, Some(&actor.staff_id), BookingSource::Staff).await?;
    sqlx::query("UPDATE calendar_tasks SET status = 'applied', resolved_at = $1 WHERE id = $2").bind(tx.now_ms()).bind(id).execute(tx.conn()).await?;
    record(&mut tx, id).await?;
    let task = load(tx.conn(), &actor.business_id, id).await?.ok_or(Error::NotFound("task"))?;
    tx.commit().await?;
    Ok(task)
}

/// Leaves the booking as it is and writes it back into Google.
pub async fn dismiss(core: &Core, actor: &Actor, id: &str) -> Result<CalendarTask, Error> {
    actor.require(Permission::HandleConversations)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let task = open_task(&mut tx, id).await?;
    let booking_id = task.booking_id.to_string();
    match (task.kind, task.new_start, task.new_end) {
        // What Google holds now is what our write must correct.
        (CalendarTaskKind::Moved, Some(start), Some(end)) => {
            sqlx::query("UPDATE calendar_booking_events SET written_start = $1, written_end = $2 WHERE booking_id = $3 AND business_id = $4")
                .bind(start.as_millis())
                .bind(end.as_millis())
                .bind(&booking_id)
                .bind(&actor.business_id)
                .execute(tx.conn())
                .await?;
        }
        // Gone from Google: written anew.
        _ => {
            sqlx::query("DELETE FROM calendar_booking_events WHERE booking_id = $1 AND business_id = $2").bind(&booking_id).bind(&actor.business_id).execute(tx.conn()).await?;
        }
    }
    super::writes::queue(&mut tx, &booking_id, task.staff_id.as_str()).await?;
    sqlx::query("UPDATE calendar_tasks SET status = 'dismissed', resolved_at = $1 WHERE id = $2").bind(tx.now_ms()).bind(id).execute(tx.conn()).await?;
    record(&mut tx, id).await?;
    let task = load(tx.conn(), &actor.business_id, id).await?.ok_or(Error::NotFound("task"))?;
    tx.commit().await?;
    Ok(task)
}
