//! Calendar feeds: a staff member's (or the whole business's) bookings as an iCalendar feed that
//! Google, Apple and Outlook calendars subscribe to by URL. The URL carries an unguessable token
//! (stored only as a hash) and stops working when the feed is revoked.
//!
//! Events are written in UTC (`DTSTART:…Z`), which every client reads unambiguously whatever its
//! own zone, and the calendar names the business's zone (`X-WR-TIMEZONE`) for display. Cancelled
//! bookings stay in the feed as `STATUS:CANCELLED` so subscribed calendars drop them.

use icalendar::{Calendar, Component, Event, EventLike, EventStatus};
use crate::Core;
use protocol::{CalendarFeed, CreateCalendarFeed, CreatedCalendarFeed};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::accounts::{role_allows, token_hash, Actor, Permission};
use crate::error::{BookingError, Error};
use crate::store::columns::read_row;
use crate::store::{rfc3339, StoreError};

fn from_row(row: &AnyRow) -> Result<CalendarFeed, StoreError> {
    Ok(read_row!(row => CalendarFeed { id, staff_id, created_at }))
}

/// Calendar feeds: your own, or all of them for owners and admins.
pub async fn list_feeds(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<CalendarFeed>, Error> {
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let all = role_allows(actor.role, Permission::ManageStaff);
    let rows = sqlx::query(
        "SELECT id, staff_id, created_at FROM calendar_feeds WHERE business_id = $1 AND revoked_at IS NULL \
         AND ($2 = 1 OR created_by = $3) ORDER BY created_at",
    )
    .bind(&actor.business_id)
    .bind(i64::from(all))
    .bind(&actor.staff_id)
    .fetch_all(core.db.reader())
    .await?;
    let feeds = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page_of(feeds, crate::store::Order::Asc, |f| (crate::store::Key::Int(f.created_at.as_millis()), f.id.to_string()))?)
}

/// Creates a feed for a staff member (yourself, or anyone for owners and admins) or, without
/// `staff_id`, for the whole business (owners and admins). The URL is shown once.
pub async fn create_feed(core: &Core, actor: &Actor, req: CreateCalendarFeed) -> Result<CreatedCalendarFeed, Error> {
    if req.staff_id.as_deref() != Some(actor.staff_id.as_str()) {
        actor.require(Permission::ManageStaff)?;
    }
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    if let Some(staff_id) = &req.staff_id {
        if crate::accounts::staff::load(tx.conn(), &actor.business_id, staff_id).await?.is_none() {
            return Err(BookingError::UnknownStaff.into());
        }
    }
    let token = crate::accounts::random_token();
    let id: String = tx.new_id();
    let now = tx.now_ms();
    sqlx::query("INSERT INTO calendar_feeds (id, business_id, staff_id, token_hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&id)
        .bind(&actor.business_id)
        .bind(req.staff_id.clone())
        .bind(token_hash(&token))
        .bind(&actor.staff_id)
        .bind(now)
        .execute(tx.conn())
        .await?;
    // Who can read whose bookings from outside: the feed and whose it is, never its link.
    tx.audit(Some(&actor.staff_id), "calendar_feed.created", Some(("calendar_feed", &id)), serde_json::json!({"staff_id": req.staff_id})).await?;
    tx.commit_even_if_unchanged().await?;
    let url = format!("{}/calendar/{token}.ics", core.config.public_url.trim_end_matches('/'));
    Ok(CreatedCalendarFeed { feed: CalendarFeed { id: id.into(), staff_id: req.staff_id, created_at: rfc3339(now) }, url })
}

/// Revokes a feed: its URL stops working at once.
pub async fn revoke_feed(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    let all = role_allows(actor.role, Permission::ManageStaff);
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let now = tx.now_ms();
    let revoked = sqlx::query(
        "UPDATE calendar_feeds SET revoked_at = $1 WHERE id = $2 AND business_id = $3 AND revoked_at IS NULL AND ($4 = 1 OR created_by = $5)",
    )
    .bind(now)
    .bind(id)
    .bind(&actor.business_id)
    .bind(i64::from(all))
    .bind(&actor.staff_id)
    .execute(tx.conn())
    .await?
    .rows_affected();
    if revoked == 0 {
        return Err(Error::NotFound("calendar feed"));
    }
    tx.audit(Some(&actor.staff_id), "calendar_feed.revoked", Some(("calendar_feed", id)), serde_json::json!({})).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(())
}

/// The iCalendar text of the feed behind `token` (`…​.ics` allowed): the last 30 days' and the
/// next year's bookings. A revoked feed, or one whose maker lost their access, is `not_found`.
pub async fn ical(core: &Core, token: &str) -> Result<String, Error> {
    let token = token.trim_end_matches(".ics");
    let row = sqlx::query(
        "SELECT f.business_id, f.staff_id, b.name, b.timezone FROM calendar_feeds f JOIN businesses b ON b.id = f.business_id \
         JOIN staff creator ON creator.id = f.created_by WHERE f.token_hash = $1 AND f.revoked_at IS NULL AND creator.active = 1",
    )
    .bind(token_hash(token))
    .fetch_optional(core.db.reader())
    .await?
    .ok_or_else(|| Error::NotFound("calendar feed"))?;
    let business_id: String = row.try_get("business_id")?;
    let staff_id: Option<String> = row.try_get("staff_id")?;
    let business_name: String = row.try_get("name")?;
    let timezone: String = row.try_get("timezone")?;

    let now = core.db.now_ms();
    let bookings = sqlx::query(
        "SELECT bk.id, bk.start_at, bk.end_at, bk.status, bk.notes, bk.updated_at, s.name AS service, st.name AS staff, \
         COALESCE(c.name, c.phone, '') AS customer FROM bookings bk \
         JOIN services s ON s.id = bk.service_id JOIN staff st ON st.id = bk.staff_id JOIN customers c ON c.id = bk.customer_id AND c.business_id = bk.business_id \
         WHERE bk.business_id = $1 AND ($2 = '' OR bk.staff_id = $2) AND bk.start_at >= $3 AND bk.start_at < $4 \
         ORDER BY bk.start_at LIMIT 5000",
    )
    .bind(&business_id)
    .bind(staff_id.clone().unwrap_or_default())
    .bind(now - 30 * 86_400_000)
    .bind(now + 366 * 86_400_000)
    .fetch_all(core.db.reader())
    .await?;

    let staff_name = bookings.first().and_then(|b| b.try_get::<String, _>("staff").ok());
    let mut calendar = Calendar::new();
    match (&staff_id, staff_name) {
        (Some(_), Some(name)) => calendar.name(&ics_text(&format!("{business_name} — {name}"))),
        _ => calendar.name(&ics_text(&business_name)),
    };
    calendar.timezone(timezone.as_str());
    let utc = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    for b in &bookings {
        let id: String = b.try_get("id")?;
        let service: String = b.try_get("service")?;
        let customer: String = b.try_get("customer")?;
        let staff: String = b.try_get("staff")?;
        let status: String = b.try_get("status")?;
        let summary = if staff_id.is_some() { format!("{service} — {customer}") } else { format!("{service} — {customer} (with {staff})") };
        let mut event = Event::new();
        event
            .uid(&format!("{id}@switchboard"))
            .summary(&ics_text(&summary))
            .starts(utc(b.try_get("start_at")?))
            .ends(utc(b.try_get("end_at")?))
            .timestamp(utc(b.try_get("updated_at")?))
            .status(match status.as_str() {
                "pending" => EventStatus::Tentative,
                "cancelled" => EventStatus::Cancelled,
                _ => EventStatus::Confirmed,
            });
        let notes: String = b.try_get("notes")?;
        if !notes.is_empty() {
            event.description(&ics_text(&notes));
        }
        calendar.push(event.done());
    }
    Ok(calendar.done().to_string())
}

/// Text as a calendar property may hold it: line breaks as `\n` (the library escapes those), and
/// no other control character. A lone carriage return in a customer's name (a WhatsApp profile
/// name is theirs to set) reads as a line break to some calendar apps, which then took the rest
/// as a property of its own (`\rLOCATION:…`); RFC 5545 allows no control characters in text.
fn ics_text(text: &str) -> String {
    text.replace("\r\n", "\n").chars().map(|c| if c.is_control() && c != '\n' && c != '\t' { ' ' } else { c }).collect()
}
