//! Canned responses: saved replies staff insert by typing `/shortcut` in the composer.

use crate::Core;
use protocol::EntityKind;
use protocol::{CannedResponse, CreateCannedResponse, UpdateCannedResponse};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;

use crate::accounts::{required_text, Actor, Permission};
use crate::error::{CatalogError, Error};
use crate::store::columns::read_row;
use crate::store::records::{self, Record};
use crate::store::{BusinessTx, StoreError};

impl Record for CannedResponse {
    const TABLE: &'static str = "canned_responses";
    const COLUMNS: &'static str = "id, business_id, shortcut, title, body, created_at, updated_at";
    const KIND: EntityKind = EntityKind::CannedResponse;
    const NOUN: &'static str = "canned response";

    fn from_row(row: &AnyRow) -> Result<CannedResponse, StoreError> {
        Ok(read_row!(row => CannedResponse { id, business_id, shortcut, title, body, created_at, updated_at }))
    }
}

pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<CannedResponse>, StoreError> {
    records::find(conn, business_id, id).await
}

fn check_shortcut(shortcut: &str) -> Result<String, Error> {
    let shortcut = shortcut.trim().trim_start_matches('/').to_lowercase();
    if shortcut.is_empty() || shortcut.len() > 32 || !shortcut.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '_') {
        return Err(Error::invalid("`shortcut` must be 1–32 letters, digits, `-` or `_` (what staff type after `/`)."));
    }
    Ok(shortcut)
}

pub async fn save(tx: &mut BusinessTx, c: &CannedResponse, insert: bool) -> Result<CannedResponse, Error> {
    let sql = if insert {
        "INSERT INTO canned_responses (shortcut, title, body, updated_at, created_at, id, business_id) VALUES ($1, $2, $3, $4, $4, $5, $6)"
    } else {
        "UPDATE canned_responses SET shortcut = $1, title = $2, body = $3, updated_at = $4 WHERE id = $5 AND business_id = $6"
    };
    sqlx::query(sql)
        .bind(c.shortcut.clone())
        .bind(c.title.clone())
        .bind(c.body.clone())
        .bind(tx.now_ms())
        .bind(c.id.clone())
        .bind(tx.business_id().to_owned())
        .execute(tx.conn())
        .await
        .map_err(|e| match StoreError::from(e) {
            e if e.is_unique_violation() => Error::from(CatalogError::ShortcutTaken),
            e => e.into(),
        })?;
    tx.publish(&c.id).await
}

/// Every canned response, by shortcut, a page at a time.
pub async fn list_canned(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<CannedResponse>, Error> {
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let canned: Vec<CannedResponse> = records::list(&mut *core.db.reader().acquire().await?, &actor.business_id, "shortcut").await?;
    Ok(paging.page_of(canned, crate::store::Order::Asc, |c| (crate::store::Key::Text(c.shortcut.clone()), c.id.to_string()))?)
}

/// Adds a canned response (owners and admins).
pub async fn create_canned(core: &Core, actor: &Actor, req: CreateCannedResponse) -> Result<CannedResponse, Error> {
    actor.require(Permission::ManageCatalog)?;
    let canned = CannedResponse {
        id: core.db.new_id::<String>().into(),
        business_id: actor.business_id.clone().into(),
        shortcut: check_shortcut(&req.shortcut)?,
        title: required_text(&req.title, "title", 200)?,
        body: required_text(&req.body, "body", 4096)?,
        created_at: protocol::Timestamp::UNIX_EPOCH,
        updated_at: protocol::Timestamp::UNIX_EPOCH,
    };
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let saved = save(&mut tx, &canned, true).await?;
    tx.audit(Some(&actor.staff_id), "canned_response.created", Some(("canned_response", &saved.id)), serde_json::to_value(&saved).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(saved)
}

/// One canned response.
pub async fn get_canned(core: &Core, actor: &Actor, id: &str) -> Result<CannedResponse, Error> {
    records::get(&mut *core.db.reader().acquire().await?, &actor.business_id, id).await
}

/// Changes a canned response (owners and admins).
pub async fn update_canned(core: &Core, actor: &Actor, id: &str, req: UpdateCannedResponse) -> Result<CannedResponse, Error> {
    actor.require(Permission::ManageCatalog)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let mut canned: CannedResponse = records::get(tx.conn(), &actor.business_id, id).await?;
    if let Some(shortcut) = &req.shortcut {
        canned.shortcut = check_shortcut(shortcut)?;
    }
    if let Some(title) = &req.title {
        canned.title = required_text(title, "title", 200)?;
    }
    if let Some(body) = &req.body {
        canned.body = required_text(body, "body", 4096)?;
    }
    let saved = save(&mut tx, &canned, false).await?;
    tx.audit(Some(&actor.staff_id), "canned_response.updated", Some(("canned_response", id)), serde_json::to_value(&req).unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Deletes a canned response (owners and admins).
pub async fn delete_canned(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::ManageCatalog)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    tx.remove::<CannedResponse>(id).await?;
    tx.audit(Some(&actor.staff_id), "canned_response.deleted", Some(("canned_response", id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}
