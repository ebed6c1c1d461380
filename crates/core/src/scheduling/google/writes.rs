//! Our bookings in the staff member's Google Calendar, through a durable queue: every booking
//! write of someone with a connection queues a row in the same transaction ([`queue`]); the
//! worker brings Google into line with the booking as it is *then* ([`reconcile`]): create the
//! event (marked with the booking id in its private extended properties), move it, or delete it
//! (cancelled, or given to someone else). We keep the event's id and the time we wrote, which is
//! how the sync tells our own changes from outside ones.

use sqlx::Row;

use super::client::GoogleError;
use super::connect::{access_token, Unusable};
use super::wire::{Event, EventTime, ExtendedProperties, BOOKING_PROPERTY};
use crate::error::Error;
use crate::store::{rfc3339, BusinessTx};
use crate::workers::{backoff_ms, Job};
use crate::Core;

/// Queues bringing `booking_id` into line in Google, when its staff member (`staff_id`, or whoever
/// held it before) has a connection. Part of the booking's own transaction.
pub async fn queue(tx: &mut BusinessTx, booking_id: &str, staff_id: &str) -> Result<(), Error> {
    let relevant: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM calendar_connections WHERE staff_id = $1) + (SELECT COUNT(*) FROM calendar_booking_events WHERE booking_id = $2 AND business_id = $3)",
    )
    .bind(staff_id)
    .bind(booking_id)
    .bind(tx.business_id().to_owned())
    .fetch_one(tx.conn())
    .await?;
    if relevant == 0 {
        return Ok(());
    }
    let now = tx.now_ms();
    sqlx::query("INSERT INTO calendar_writes (id, business_id, booking_id, next_attempt_at, created_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(tx.new_id::<String>())
        .bind(tx.business_id().to_owned())
        .bind(booking_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
    tx.wake(Job::Calendar);
    Ok(())
}

// Why a write did not happen is why a connection cannot be used ([`Unusable`]): the person must
// reconnect (wait for that), or something failed (retry). A refusal from Google is retried.
impl From<GoogleError> for Unusable {
    fn from(e: GoogleError) -> Self {
        Unusable::Failed(e.to_string())
    }
}

/// Runs the writes that are due. Returns how many were handled.
pub async fn process_due(core: &Core) -> Result<usize, Error> {
    let now = core.db.now_ms();
    let rows = sqlx::query(
        "SELECT id, business_id, booking_id, attempts, created_at FROM calendar_writes WHERE done_at IS NULL AND next_attempt_at <= $1 \
         ORDER BY created_at LIMIT 50",
    )
    .bind(now)
    .fetch_all(core.db.reader())
    .await?;
    for row in &rows {
        let (id, business_id, booking_id): (String, String, String) = (row.try_get("id")?, row.try_get("business_id")?, row.try_get("booking_id")?);
        let attempts: i64 = row.try_get("attempts")?;
        let created_at: i64 = row.try_get("created_at")?;
        let done = sqlx::query_scalar::<_, Option<i64>>("SELECT done_at FROM calendar_writes WHERE id = $1").bind(&id).fetch_one(core.db.reader()).await?;
        if done.is_some() {
            continue; // handled with an earlier row of the same booking
        }
        let now = core.db.now_ms();
        match reconcile(core, &business_id, &booking_id).await {
            Ok(()) => {
                // Every queued row of this booking up to this one is satisfied by this reconcile.
                sqlx::query("UPDATE calendar_writes SET done_at = $1, last_error = NULL WHERE booking_id = $2 AND business_id = $4 AND done_at IS NULL AND created_at <= $3")
                    .bind(now)
                    .bind(&booking_id)
                    .bind(created_at)
                    .bind(&business_id)
                    .execute(core.db.writer())
                    .await?;
            }
            Err(Unusable::NeedsReconnect) => {
                sqlx::query("UPDATE calendar_writes SET next_attempt_at = $1, last_error = 'waiting for the person to reconnect Google Calendar' WHERE id = $2")
                    .bind(now + 24 * 3_600_000)
                    .bind(&id)
                    .execute(core.db.writer())
                    .await?;
            }
            Err(Unusable::Failed(why)) => {
                tracing::warn!(booking_id, error = %why, "writing a booking to Google Calendar failed; it will be retried");
                sqlx::query("UPDATE calendar_writes SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2 WHERE id = $3")
                    .bind(now + backoff_ms(attempts + 1, 5_000, 15 * 60_000))
                    .bind(why)
                    .bind(&id)
                    .execute(core.db.writer())
                    .await?;
            }
        }
    }
    Ok(rows.len())
}

struct Link {
    staff_id: String,
    calendar_id: String,
    event_id: String,
    written: (i64, i64),
}

/// Calls Google with a token, refreshing it once if Google refuses it.
macro_rules! with_token {
    ($core:expr, $staff:expr, |$t:ident| $call:expr) => {{
        let $t = access_token($core, $staff, false).await?;
        match $call.await {
            Err(GoogleError::Unauthorized) => {
                let $t = access_token($core, $staff, true).await?;
                $call.await
            }
            other => other,
        }
    }};
}

/// Brings Google into line with the booking as it is now.
async fn reconcile(core: &Core, business_id: &str, booking_id: &str) -> Result<(), Unusable> {
    let mut conn = core.db.reader().acquire().await?;
    let Some(booking) = crate::scheduling::bookings::load(&mut conn, business_id, booking_id).await.map_err(Error::from)? else { return Ok(()) };
    let link = sqlx::query("SELECT staff_id, calendar_id, event_id, written_start, written_end FROM calendar_booking_events WHERE booking_id = $1 AND business_id = $2")
        .bind(booking_id)
        .bind(business_id)
        .fetch_optional(&mut *conn)
        .await?
        .map(|r| -> Result<Link, sqlx::Error> {
            Ok(Link {
                staff_id: r.try_get("staff_id")?,
                calendar_id: r.try_get("calendar_id")?,
                event_id: r.try_get("event_id")?,
                written: (r.try_get("written_start")?, r.try_get("written_end")?),
            })
        })
        .transpose()?;
    let staff_id = booking.staff_id.to_string();
    let write_calendar: Option<String> =
        sqlx::query_scalar("SELECT write_calendar FROM calendar_connections WHERE staff_id = $1 AND status = 'connected'").bind(&staff_id).fetch_optional(&mut *conn).await?;
    let times = (booking.start.as_millis(), booking.end.as_millis());
    let wanted = booking.status.holds_time();
    // The event's title: the service and the customer's name (none once they are erased; an
    // erasure forces the patch below so the name leaves Google too).
    let names = sqlx::query("SELECT s.name AS service, c.name AS customer FROM services s, customers c WHERE s.id = $1 AND c.id = $2 AND c.business_id = $3")
        .bind(booking.service_id.as_str())
        .bind(booking.customer_id.as_str())
        .bind(business_id)
        .fetch_optional(&mut *conn)
        .await?;
    let (service, customer): (String, Option<String>) = match &names {
        Some(r) => (r.try_get("service")?, r.try_get("customer")?),
        None => ("Appointment".into(), None),
    };
    let summary = match customer {
        Some(name) if !name.trim().is_empty() => format!("{service} — {name}"),
        _ => service,
    };

    if let Some(link) = &link {
        if wanted && link.staff_id == staff_id {
            if link.written == times {
                return Ok(());
            }
            let patch = Event { summary: Some(summary.clone()), start: Some(at(times.0)), end: Some(at(times.1)), ..Event::default() };
            match with_token!(core, &staff_id, |t| core.google.patch_event(&t, &link.calendar_id, &link.event_id, &patch)) {
                Ok(_) => {
                    sqlx::query("UPDATE calendar_booking_events SET written_start = $1, written_end = $2 WHERE booking_id = $3 AND business_id = $4")
                        .bind(times.0)
                        .bind(times.1)
                        .bind(booking_id)
                        .bind(business_id)
                        .execute(core.db.writer())
                        .await?;
                    return Ok(());
                }
                // Deleted in Google meanwhile: written again below.
                Err(GoogleError::NotFound) | Err(GoogleError::Gone) => {}
                Err(e) => return Err(e.into()),
            }
        } else {
            // Cancelled, or now someone else's: off the old calendar. A connection that is gone
            // cannot delete; the event stays there.
            let connected: Option<String> =
                sqlx::query_scalar("SELECT staff_id FROM calendar_connections WHERE staff_id = $1 AND status = 'connected'").bind(&link.staff_id).fetch_optional(&mut *conn).await?;
            if connected.is_some() {
                with_token!(core, &link.staff_id, |t| core.google.delete_event(&t, &link.calendar_id, &link.event_id))?;
            }
        }
        sqlx::query("DELETE FROM calendar_booking_events WHERE booking_id = $1 AND business_id = $2").bind(booking_id).bind(business_id).execute(core.db.writer()).await?;
    }
    if !wanted {
        return Ok(());
    }
    let Some(calendar_id) = write_calendar else {
        let exists: Option<String> = sqlx::query_scalar("SELECT staff_id FROM calendar_connections WHERE staff_id = $1").bind(&staff_id).fetch_optional(&mut *conn).await?;
        return if exists.is_some() { Err(Unusable::NeedsReconnect) } else { Ok(()) };
    };
    drop(conn);
    let event = Event {
        summary: Some(summary),
        description: Some("Booked with Switchboard. Moving or deleting it here asks the front desk before the booking changes.".into()),
        start: Some(at(times.0)),
        end: Some(at(times.1)),
        extended_properties: Some(ExtendedProperties { private: [(BOOKING_PROPERTY.to_owned(), booking_id.to_owned())].into(), ..Default::default() }),
        ..Event::default()
    };
    let created = with_token!(core, &staff_id, |t| core.google.insert_event(&t, &calendar_id, &event))?;
    sqlx::query(
        "INSERT INTO calendar_booking_events (booking_id, business_id, staff_id, calendar_id, event_id, written_start, written_end) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (booking_id, business_id) DO UPDATE SET staff_id = excluded.staff_id, calendar_id = excluded.calendar_id, event_id = excluded.event_id, \
         written_start = excluded.written_start, written_end = excluded.written_end",
    )
    .bind(booking_id)
    .bind(business_id)
    .bind(&staff_id)
    .bind(&calendar_id)
    .bind(&created.id)
    .bind(times.0)
    .bind(times.1)
    .execute(core.db.writer())
    .await?;
    Ok(())
}

fn at(ms: i64) -> EventTime {
    EventTime { date_time: Some(rfc3339(ms).to_string()), ..EventTime::default() }
}
