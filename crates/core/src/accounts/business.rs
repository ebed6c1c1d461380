//! The signed-in staff member's business: its name, time zone, locale and currency, and its audit
//! log (who did what).

use protocol::{AuditEntry, Business, EntityKind, Page, UpdateBusiness};
use sqlx::AnyConnection;
use sqlx::Row;

use crate::accounts::{check_timezone, required_text, Actor, Permission};
use crate::error::Error;
use crate::store::columns::read_row;
use crate::store::{bind_all, Bind, Filter, Key, Order, Paging};
use crate::Core;

pub async fn load(conn: &mut AnyConnection, business_id: &str) -> Result<Business, Error> {
    let row = sqlx::query("SELECT id, name, timezone, locale, currency, wait_target_minutes, created_at, updated_at FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_optional(conn)
        .await?
        .ok_or(Error::NotFound("business"))?;
    Ok(Business {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        timezone: row.try_get("timezone")?,
        country: crate::accounts::region::business_country(&row.try_get::<String, _>("locale")?, &row.try_get::<String, _>("timezone")?),
        locale: row.try_get("locale")?,
        currency: row.try_get("currency")?,
        wait_target_minutes: u32::try_from(row.try_get::<i64, _>("wait_target_minutes")?).unwrap_or(5),
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

/// The actor's business.
pub async fn get(core: &Core, actor: &Actor) -> Result<Business, Error> {
    load(&mut *core.db.reader().acquire().await?, &actor.business_id).await
}

fn check_locale(locale: &str) -> Result<String, Error> {
    let locale = locale.trim();
    let ok = !locale.is_empty()
        && locale.len() <= 35
        && locale.split('-').all(|part| !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(locale.to_owned())
    } else {
        Err(Error::invalid("`locale` must be a language tag such as `en-GB`."))
    }
}

fn check_currency(currency: &str) -> Result<String, Error> {
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() == 3 && currency.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(currency)
    } else {
        Err(Error::invalid("`currency` must be a three-letter ISO 4217 code such as `EUR`."))
    }
}

/// Changes the business's settings (owners and admins). A new time zone re-publishes what
/// consoles hold in local time: the schedule and every upcoming booking's local start.
pub async fn update(core: &Core, actor: &Actor, req: UpdateBusiness) -> Result<Business, Error> {
    actor.require(Permission::ManageBusiness)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let mut business = load(tx.conn(), &actor.business_id).await?;
    let zone_before = business.timezone.clone();
    if let Some(name) = &req.name {
        business.name = required_text(name, "name", 200)?;
    }
    if let Some(tz) = &req.timezone {
        business.timezone = check_timezone(tz.trim())?;
    }
    if let Some(locale) = &req.locale {
        business.locale = check_locale(locale)?;
    }
    if let Some(currency) = &req.currency {
        business.currency = check_currency(currency)?;
    }
    if let Some(minutes) = req.wait_target_minutes {
        if !(1..=1440).contains(&minutes) {
            return Err(Error::invalid("`wait_target_minutes` must be 1 to 1440."));
        }
        business.wait_target_minutes = minutes;
    }
    let now = tx.now_ms();
    sqlx::query("UPDATE businesses SET name = $1, timezone = $2, locale = $3, currency = $4, wait_target_minutes = $5, updated_at = $6 WHERE id = $7")
        .bind(&business.name)
        .bind(&business.timezone)
        .bind(&business.locale)
        .bind(&business.currency)
        .bind(i64::from(business.wait_target_minutes))
        .bind(now)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    let business = load(tx.conn(), &actor.business_id).await?;
    tx.record(EntityKind::Business, &business.id, Some(&business)).await?;
    if req.timezone.is_some() {
        let schedule = crate::scheduling::hours::load_business_schedule(tx.conn(), &business.id).await?;
        tx.record(EntityKind::Schedule, &business.id, Some(&schedule)).await?;
        let upcoming: Vec<String> = sqlx::query_scalar("SELECT id FROM bookings WHERE business_id = $1 AND start_at >= $2")
            .bind(&business.id)
            .bind(now - 86_400_000)
            .fetch_all(tx.conn())
            .await?;
        for id in upcoming {
            tx.publish::<protocol::Booking>(&id).await?;
        }
        // Reminders keep their local times and quiet hours in the new zone.
        if business.timezone != zone_before {
            crate::automations::replan_reminders(&mut tx).await?;
        }
    }
    tx.audit(Some(&actor.staff_id), "business.updated", Some(("business", &business.id)), serde_json::to_value(&req).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(business)
}

/// Who did what in the business, newest first (owners and admins).
pub async fn audit_log(core: &Core, actor: &Actor, after: Option<&str>, limit: u32) -> Result<Page<AuditEntry>, Error> {
    actor.require(Permission::ManageBusiness)?;
    let paging = Paging::new(after, Some(limit))?;
    let mut f = Filter::default();
    f.and("business_id = ?", [Bind::Text(actor.business_id.clone())]);
    paging.keyset(&mut f, "created_at", "id", Order::Desc)?;
    let sql = format!(
        "SELECT id, actor_staff_id, action, target_kind, target_id, detail, created_at FROM audit_log{}{}",
        f.where_sql(),
        paging.order_by("created_at", "id", Order::Desc)
    );
    let rows = bind_all(sqlx::query(&sql), &f.binds).fetch_all(core.db.reader()).await?;
    let mut items = Vec::with_capacity(rows.len());
    for row in rows.iter() {
        items.push(read_row!(row => AuditEntry {
            id, actor_staff_id, action, target_kind, target_id, detail: json, created_at,
        }));
    }
    Ok(paging.page(items, |e| (Key::Int(e.created_at.as_millis()), e.id.to_string())))
}
