//! Publishing synced rows again when what the service ships about them grew: a migration that
//! gives a kind a new field lists the businesses in `republish`, and this job writes each of
//! their rows of that kind to the change log again (a batch per step, resuming after the last id
//! it did), so consoles pull the new shape instead of keeping the old one until the row next
//! changes. Migration 0016 did this for conversations when they gained their `reply_window`; 0017
//! for conversations (labels, when they were handed over) and businesses (their waiting target).

use protocol::{Business, Conversation, EntityKind};
use sqlx::Row;

use crate::error::Error;
use crate::Core;

/// Rows published per transaction: a step stays short however large a business is.
const BATCH: i64 = 200;

/// One batch of the first business and kind still to republish. Returns how many rows it wrote.
pub async fn step(core: &Core) -> Result<usize, Error> {
    let Some(row) = sqlx::query("SELECT business_id, entity, after_id FROM republish ORDER BY business_id, entity LIMIT 1")
        .fetch_optional(core.db.reader())
        .await?
    else {
        return Ok(0);
    };
    let (business_id, entity, after): (String, String, String) = (row.try_get("business_id")?, row.try_get("entity")?, row.try_get("after_id")?);
    let mut tx = core.db.begin_business(&business_id).await?;
    let ids: Vec<String> = match EntityKind::parse(&entity) {
        Some(EntityKind::Conversation) => {
            sqlx::query_scalar("SELECT id FROM conversations WHERE business_id = $1 AND id > $2 ORDER BY id LIMIT $3")
                .bind(&business_id)
                .bind(&after)
                .bind(BATCH)
                .fetch_all(tx.conn())
                .await?
        }
        // The business itself (0017: its waiting target): one row, published once.
        Some(EntityKind::Business) if after.is_empty() => vec![business_id.clone()],
        // A kind this version does not republish: nothing to do for it.
        _ => vec![],
    };
    for id in &ids {
        if entity == EntityKind::Business.as_str() {
            let business = crate::accounts::business::load(tx.conn(), &business_id).await?;
            tx.record(EntityKind::Business, id, Some::<&Business>(&business)).await?;
            continue;
        }
        let conversation = crate::conversations::load(tx.conn(), &business_id, id).await?.ok_or(Error::NotFound("conversation"))?;
        tx.record(EntityKind::Conversation, id, Some::<&Conversation>(&conversation)).await?;
    }
    let more = ids.len() as i64 == BATCH;
    let progress = if more {
        sqlx::query("UPDATE republish SET after_id = $1 WHERE business_id = $2 AND entity = $3").bind(ids.last().cloned())
    } else {
        sqlx::query("DELETE FROM republish WHERE business_id = $1 AND entity = $2")
    };
    progress.bind(&business_id).bind(&entity).execute(tx.conn()).await?;
    // The last step of a kind may find nothing left to publish: the bookkeeping still commits.
    tx.commit_even_if_unchanged().await?;
    Ok(ids.len().max(1))
}
