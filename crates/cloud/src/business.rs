//! The signed-in staff member's business: its name, time zone, locale and currency.

use protocol::EntityKind;
use axum::extract::State;
use protocol::{Business, UpdateBusiness};
use sqlx::AnyConnection;
use sqlx::Row;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{check_timezone, required_text, Auth, Permission};
use crate::error::ApiError;
use crate::http::extract::Json;
use crate::http::AppState;
use crate::store::{rfc3339};
use crate::legacy::{now_ms};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_business, update_business)).routes(routes!(audit_log))
}

pub async fn load(conn: &mut AnyConnection, business_id: &str) -> Result<Business, ApiError> {
    let row = sqlx::query("SELECT id, name, timezone, locale, currency, created_at, updated_at FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| ApiError::not_found("business"))?;
    Ok(Business {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        timezone: row.try_get("timezone")?,
        locale: row.try_get("locale")?,
        currency: row.try_get("currency")?,
        created_at: rfc3339(row.try_get("created_at")?),
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

/// The business's settings.
#[utoipa::path(get, path = "/v1/business", tag = "business", security(("bearer" = [])),
    responses((status = 200, body = Business), (status = 401, body = protocol::ErrorBody)))]
async fn get_business(State(state): State<AppState>, auth: Auth) -> Result<axum::Json<Business>, ApiError> {
    let mut conn = state.db.reader().acquire().await?;
    Ok(axum::Json(load(&mut conn, &auth.business_id).await?))
}

fn check_locale(locale: &str) -> Result<String, ApiError> {
    let locale = locale.trim();
    let ok = !locale.is_empty()
        && locale.len() <= 35
        && locale.split('-').all(|part| !part.is_empty() && part.len() <= 8 && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if ok {
        Ok(locale.to_owned())
    } else {
        Err(ApiError::validation("`locale` must be a language tag such as `en-GB`."))
    }
}

fn check_currency(currency: &str) -> Result<String, ApiError> {
    let currency = currency.trim().to_ascii_uppercase();
    if currency.len() == 3 && currency.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(currency)
    } else {
        Err(ApiError::validation("`currency` must be a three-letter ISO 4217 code such as `EUR`."))
    }
}

/// Changes the business's settings (owners and admins).
#[utoipa::path(patch, path = "/v1/business", tag = "business", security(("bearer" = [])), request_body = UpdateBusiness,
    responses((status = 200, body = Business), (status = 403, body = protocol::ErrorBody), (status = 422, body = protocol::ErrorBody)))]
async fn update_business(
    State(state): State<AppState>,
    auth: Auth,
    Json(req): Json<UpdateBusiness>,
) -> Result<axum::Json<Business>, ApiError> {
    auth.require(Permission::ManageBusiness)?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let mut business = load(tx.conn(), &auth.business_id).await?;
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
    sqlx::query("UPDATE businesses SET name = $1, timezone = $2, locale = $3, currency = $4, updated_at = $5 WHERE id = $6")
        .bind(&business.name)
        .bind(&business.timezone)
        .bind(&business.locale)
        .bind(&business.currency)
        .bind(now_ms())
        .bind(&auth.business_id)
        .execute(tx.conn())
        .await?;
    let timezone_changed = req.timezone.is_some();
    let business = load(tx.conn(), &auth.business_id).await?;
    tx.record(EntityKind::Business, &business.id, Some(&business)).await?;
    if timezone_changed {
        // What consoles hold in local time changes with the zone: the schedule and every
        // upcoming booking's local start.
        let schedule = crate::schedule::load_business_schedule(tx.conn(), &business.id).await?;
        tx.record(EntityKind::Schedule, &business.id, Some(&schedule)).await?;
        let upcoming: Vec<String> = sqlx::query_scalar("SELECT id FROM bookings WHERE business_id = $1 AND start_at >= $2")
            .bind(&business.id)
            .bind(now_ms() - 86_400_000)
            .fetch_all(tx.conn())
            .await?;
        for id in upcoming {
            if let Some(booking) = crate::bookings::load(tx.conn(), &business.id, &id).await? {
                tx.record(EntityKind::Booking, &id, Some(&booking)).await?;
            }
        }
    }
    tx.audit(Some(&auth.staff_id), "business.updated", Some(("business", &business.id)), serde_json::to_value(&req).unwrap_or_default())
        .await?;
    tx.commit().await?;
    Ok(axum::Json(business))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// From a previous page's `next_cursor`.
    cursor: Option<String>,
    /// 1–200, default 50.
    limit: Option<u32>,
}

/// Who did what in the business, newest first (owners and admins).
#[utoipa::path(get, path = "/v1/audit-log", tag = "business", security(("bearer" = [])), params(AuditQuery),
    responses((status = 200, body = protocol::Page<protocol::AuditEntry>), (status = 403, body = protocol::ErrorBody)))]
async fn audit_log(
    State(state): State<AppState>,
    auth: Auth,
    crate::http::extract::Query(q): crate::http::extract::Query<AuditQuery>,
) -> Result<axum::Json<protocol::Page<protocol::AuditEntry>>, ApiError> {
    use crate::store::{bind_all, cursor, Bind, Filter};
    auth.require(Permission::ManageBusiness)?;
    let limit = i64::from(q.limit.unwrap_or(50).clamp(1, 200));
    let mut f = Filter::default();
    f.and("business_id = ?", [Bind::Text(auth.business_id.clone())]);
    if let Some(c) = &q.cursor {
        let (ms, id) = cursor::decode(c)
            .ok_or_else(|| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is not valid."))?;
        f.and("(created_at < ? OR (created_at = ? AND id < ?))", [Bind::Int(ms), Bind::Int(ms), Bind::Text(id)]);
    }
    let sql = format!(
        "SELECT id, actor_staff_id, action, target_kind, target_id, detail, created_at FROM audit_log{} \
         ORDER BY created_at DESC, id DESC LIMIT ${}",
        f.where_sql(),
        f.next_placeholder()
    );
    let rows = bind_all(sqlx::query(&sql), &f.binds).bind(limit + 1).fetch_all(state.db.reader()).await?;
    let mut items = Vec::with_capacity(rows.len());
    let mut last = None;
    for row in rows.iter().take(limit as usize) {
        let at: i64 = row.try_get("created_at")?;
        let id: String = row.try_get("id")?;
        last = Some((at, id.clone()));
        items.push(protocol::AuditEntry {
            id: id.into(),
            actor_staff_id: row.try_get("actor_staff_id")?,
            action: row.try_get("action")?,
            target_kind: row.try_get("target_kind")?,
            target_id: row.try_get("target_id")?,
            detail: crate::store::json_column(&row.try_get::<String, _>("detail")?, "audit_log.detail")?,
            created_at: rfc3339(at),
        });
    }
    let next_cursor = if rows.len() as i64 > limit { last.map(|(at, id)| cursor::encode(at, &id)) } else { None };
    Ok(axum::Json(protocol::Page { items, next_cursor }))
}
