//! Sync for the desktop console: the business's change log, pulled by cursor.
//!
//! The log holds one row per entity with its latest state (or a tombstone), numbered by a
//! per-business seq that is gap-free and in commit order (see `store.rs`), so "everything after
//! my cursor, in seq order" is exactly what a console is missing. Tombstones are compacted away
//! after a while; a console whose cursor is older than the compaction horizon might have missed a
//! deletion and gets 409 `resync_required`: it wipes its mirror (never its outbox) and pulls
//! from 0.

use axum::extract::State;
use axum::http::StatusCode;
use protocol::{SyncChange, SyncPage};
use serde::Deserialize;
use sqlx::Row;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::Auth;
use crate::error::ApiError;
use crate::http::extract::Query;
use crate::http::AppState;
use crate::store::{Db, StoreError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pull))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PullQuery {
    /// The `cursor` of the last page applied; 0 (or absent) for a first sync.
    cursor: Option<i64>,
    /// 1–2000, default 500.
    limit: Option<u32>,
}

/// The changes after `cursor`, in seq order. 409 `resync_required` when the cursor is older than
/// what the log still remembers: wipe the mirror and pull from 0.
#[utoipa::path(get, path = "/v1/sync/pull", tag = "sync", security(("bearer" = [])), params(PullQuery),
    responses((status = 200, body = SyncPage), (status = 409, body = protocol::ErrorBody)))]
async fn pull(State(state): State<AppState>, auth: Auth, Query(q): Query<PullQuery>) -> Result<axum::Json<SyncPage>, ApiError> {
    let cursor = q.cursor.unwrap_or(0);
    if cursor < 0 {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is not valid."));
    }
    let limit = i64::from(q.limit.unwrap_or(500).clamp(1, 2000));
    let mut conn = state.db.reader().acquire().await?;
    let row = sqlx::query("SELECT last_seq, compacted_through FROM businesses WHERE id = $1")
        .bind(&auth.business_id)
        .fetch_one(&mut *conn)
        .await?;
    let (last_seq, horizon): (i64, i64) = (row.try_get("last_seq")?, row.try_get("compacted_through")?);
    if cursor > 0 && cursor < horizon {
        return Err(ApiError::conflict("resync_required", "This device has been offline too long to catch up; it will reload everything.")
            .with_details(serde_json::json!({"horizon": horizon})));
    }
    if cursor > last_seq {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_cursor", "The cursor is ahead of this business's changes."));
    }
    let rows = sqlx::query("SELECT seq, entity, entity_id, data FROM changes WHERE business_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(&auth.business_id)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let has_more = rows.len() as i64 > limit;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    for row in rows.iter().take(limit as usize) {
        let data: Option<String> = row.try_get("data")?;
        changes.push(SyncChange {
            seq: row.try_get("seq")?,
            entity: row.try_get("entity")?,
            id: row.try_get("entity_id")?,
            data: data.map(|d| crate::store::json_column(&d, "changes.data")).transpose()?,
        });
    }
    // Nothing newer than the cursor is skipped: seqs are gap-free in commit order, so a page
    // ends exactly where the next one starts.
    let next = changes.last().map(|c| c.seq).unwrap_or(cursor);
    Ok(axum::Json(SyncPage { changes, cursor: next, has_more }))
}

/// Removes tombstones older than `older_than_ms` and moves the business's horizon past them.
/// Returns how many were removed.
pub async fn compact(db: &Db, business_id: &str, older_than_ms: i64) -> Result<u64, StoreError> {
    let mut tx = db.writer().begin().await?;
    let highest: Option<i64> =
        sqlx::query_scalar("SELECT MAX(seq) FROM changes WHERE business_id = $1 AND data IS NULL AND changed_at < $2")
            .bind(business_id)
            .bind(older_than_ms)
            .fetch_one(&mut *tx)
            .await?;
    let Some(highest) = highest else {
        tx.rollback().await?;
        return Ok(0);
    };
    let removed = sqlx::query("DELETE FROM changes WHERE business_id = $1 AND data IS NULL AND seq <= $2")
        .bind(business_id)
        .bind(highest)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    sqlx::query("UPDATE businesses SET compacted_through = $1 WHERE id = $2 AND compacted_through < $1")
        .bind(highest)
        .bind(business_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(removed)
}
