//! Services the business sells: name, duration, price and the buffers around each appointment.

use crate::Core;
use protocol::EntityKind;
use protocol::{CreateService, Service, UpdateService};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;

use crate::accounts::{required_text, Actor, Permission};
use crate::error::{BookingError, Error};
use crate::store::columns::read_row;
use crate::store::{BusinessTx, StoreError};

const COLUMNS: &str = "id, business_id, name, duration_minutes, price_cents, buffer_before_minutes, buffer_after_minutes, active, \
                       min_notice_minutes, max_advance_days, slot_interval_minutes, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Service, StoreError> {
    Ok(read_row!(row => Service {
        id, business_id, name, duration_minutes: int, price_cents, buffer_before_minutes: int, buffer_after_minutes: int,
        active: flag, staff_ids = Vec::new(), min_notice_minutes: int, max_advance_days: int, slot_interval_minutes: int,
        created_at, updated_at,
    }))
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Service>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM services WHERE id = $1 AND business_id = $2 AND deleted_at IS NULL"))
        .bind(id)
        .bind(business_id)
        .fetch_optional(&mut *conn)
        .await?;
    let Some(mut service) = row.as_ref().map(from_row).transpose()? else { return Ok(None) };
    service.staff_ids = sqlx::query_scalar("SELECT staff_id FROM service_staff WHERE service_id = $1 ORDER BY staff_id")
        .bind(id)
        .fetch_all(conn)
        .await?;
    Ok(Some(service))
}

/// The highest price a service may have, in cents: far above any appointment's, and low enough
/// that the reports' sums over every booking a business could make stay exact.
pub const MAX_PRICE_CENTS: i64 = 1_000_000_000;

fn validate(s: &Service) -> Result<(), Error> {
    if !(5..=24 * 60).contains(&s.duration_minutes) {
        return Err(Error::invalid("`duration_minutes` must be between 5 and 1440."));
    }
    if !(0..=MAX_PRICE_CENTS).contains(&s.price_cents) {
        return Err(Error::invalid("`price_cents` must be between 0 and 1000000000 (10,000,000.00)."));
    }
    if s.buffer_before_minutes > 240 || s.buffer_after_minutes > 240 {
        return Err(Error::invalid("Buffers must be at most 240 minutes."));
    }
    crate::scheduling::hours::check_rules(s.min_notice_minutes, s.max_advance_days, s.slot_interval_minutes)
}

pub async fn save(tx: &mut BusinessTx, s: &Service, insert: bool) -> Result<Service, Error> {
    validate(s)?;
    let sql = if insert {
        "INSERT INTO services (name, duration_minutes, price_cents, buffer_before_minutes, buffer_after_minutes, active, \
         min_notice_minutes, max_advance_days, slot_interval_minutes, updated_at, created_at, id, business_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)"
    } else {
        "UPDATE services SET name = $1, duration_minutes = $2, price_cents = $3, buffer_before_minutes = $4, buffer_after_minutes = $5, \
         active = $6, min_notice_minutes = $7, max_advance_days = $8, slot_interval_minutes = $9, updated_at = $10 \
         WHERE id = $11 AND business_id = $12"
    };
    let business_id = tx.business_id().to_owned();
    sqlx::query(sql)
        .bind(s.name.clone())
        .bind(s.duration_minutes as i64)
        .bind(s.price_cents)
        .bind(s.buffer_before_minutes as i64)
        .bind(s.buffer_after_minutes as i64)
        .bind(i64::from(s.active))
        .bind(s.min_notice_minutes.map(i64::from))
        .bind(s.max_advance_days.map(i64::from))
        .bind(s.slot_interval_minutes.map(i64::from))
        .bind(tx.now_ms())
        .bind(s.id.clone())
        .bind(business_id.clone())
        .execute(tx.conn())
        .await?;
    // Who can perform it: every listed id must be this business's staff.
    let mut staff_ids = s.staff_ids.clone();
    staff_ids.sort();
    staff_ids.dedup();
    for staff_id in &staff_ids {
        if crate::accounts::staff::load(tx.conn(), &business_id, staff_id).await?.is_none() {
            return Err(BookingError::UnknownStaff.into());
        }
    }
    sqlx::query("DELETE FROM service_staff WHERE service_id = $1").bind(s.id.clone()).execute(tx.conn()).await?;
    for staff_id in &staff_ids {
        sqlx::query("INSERT INTO service_staff (service_id, staff_id, business_id) VALUES ($1, $2, $3)")
            .bind(s.id.clone())
            .bind(staff_id.clone())
            .bind(business_id.clone())
            .execute(tx.conn())
            .await?;
    }
    let saved = load(tx.conn(), &business_id, &s.id).await?.ok_or_else(|| Error::NotFound("service"))?;
    tx.record(EntityKind::Service, &saved.id, Some(&saved)).await?;
    Ok(saved)
}

/// Every service, active or not, by name, a page at a time.
pub async fn list_services(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<Service>, Error> {
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM services WHERE business_id = $1 AND deleted_at IS NULL ORDER BY name, id"))
        .bind(&actor.business_id)
        .fetch_all(core.db.reader())
        .await?;
    let mut services = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    let links = sqlx::query("SELECT service_id, staff_id FROM service_staff WHERE business_id = $1 ORDER BY staff_id")
        .bind(&actor.business_id)
        .fetch_all(core.db.reader())
        .await?;
    for link in &links {
        let service_id: String = link.try_get("service_id")?;
        if let Some(service) = services.iter_mut().find(|s| s.id == service_id) {
            service.staff_ids.push(link.try_get("staff_id")?);
        }
    }
    Ok(paging.page_of(services, crate::store::Order::Asc, |s| (crate::store::Key::Text(s.name.clone()), s.id.to_string()))?)
}

/// Adds a service (owners and admins).
pub async fn create_service(core: &Core, actor: &Actor, req: CreateService) -> Result<Service, Error> {
    actor.require(Permission::ManageCatalog)?;
    let service = Service {
        id: core.db.new_id::<String>().into(),
        business_id: actor.business_id.clone().into(),
        name: required_text(&req.name, "name", 200)?,
        duration_minutes: req.duration_minutes,
        price_cents: req.price_cents,
        buffer_before_minutes: req.buffer_before_minutes,
        buffer_after_minutes: req.buffer_after_minutes,
        active: req.active,
        staff_ids: req.staff_ids,
        min_notice_minutes: req.min_notice_minutes,
        max_advance_days: req.max_advance_days,
        slot_interval_minutes: req.slot_interval_minutes,
        created_at: protocol::Timestamp::UNIX_EPOCH,
        updated_at: protocol::Timestamp::UNIX_EPOCH,
    };
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let saved = save(&mut tx, &service, true).await?;
    tx.audit(Some(&actor.staff_id), "service.created", Some(("service", &saved.id)), serde_json::to_value(&saved).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(saved)
}

/// One service.
pub async fn get_service(core: &Core, actor: &Actor, id: &str) -> Result<Service, Error> {
    let mut conn = core.db.reader().acquire().await?;
    Ok(load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("service"))?)
}

/// Changes a service (owners and admins).
pub async fn update_service(core: &Core, actor: &Actor, id: &str, req: UpdateService) -> Result<Service, Error> {
    actor.require(Permission::ManageCatalog)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let mut service = load(tx.conn(), &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("service"))?;
    if let Some(name) = &req.name {
        service.name = required_text(name, "name", 200)?;
    }
    service.duration_minutes = req.duration_minutes.unwrap_or(service.duration_minutes);
    service.price_cents = req.price_cents.unwrap_or(service.price_cents);
    service.buffer_before_minutes = req.buffer_before_minutes.unwrap_or(service.buffer_before_minutes);
    service.buffer_after_minutes = req.buffer_after_minutes.unwrap_or(service.buffer_after_minutes);
    service.active = req.active.unwrap_or(service.active);
    if let Some(staff_ids) = &req.staff_ids {
        service.staff_ids = staff_ids.clone();
    }
    service.min_notice_minutes = req.min_notice_minutes.unwrap_or(service.min_notice_minutes);
    service.max_advance_days = req.max_advance_days.unwrap_or(service.max_advance_days);
    service.slot_interval_minutes = req.slot_interval_minutes.unwrap_or(service.slot_interval_minutes);
    let saved = save(&mut tx, &service, false).await?;
    tx.audit(Some(&actor.staff_id), "service.updated", Some(("service", id)), serde_json::to_value(&req).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Removes a service (owners and admins). Past bookings keep it.
pub async fn delete_service(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::ManageCatalog)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    if !tx.soft_delete_row("services", ", active = 0", EntityKind::Service, id).await? {
        return Err(Error::NotFound("service"));
    }
    tx.audit(Some(&actor.staff_id), "service.deleted", Some(("service", id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}
