//! Reading the change log, and compacting its tombstones.
//!
//! A console is sent only what its person may read through the API ([`may_read`]); what it may
//! not read still moves its cursor on. A role change makes a cursor from before it stale
//! (`resync_required`): what was pulled was chosen for the old role.

use protocol::{EntityKind, MutationOutcome, Permission, Role, SyncChange, SyncPage};
use sqlx::Row;

use crate::accounts::{parse_role, role_allows, Actor};
use crate::error::{Error, SyncError};
use crate::store::{json_column, Db, StoreError};
use crate::Core;

/// How long a tombstone is kept: a console away longer than this reloads everything.
pub const TOMBSTONE_HORIZON_MS: i64 = 30 * 86_400_000;

/// Whether a console of someone in `role` is sent changes of `kind`: whether the API lets them
/// read it. Every kind is named, so a new one is decided here.
pub fn may_read(role: Role, kind: EntityKind) -> bool {
    use EntityKind as K;
    match kind {
        // `GET /v1/invitations` (and their emails, roles, inviters): managing staff.
        K::Invitation => role_allows(role, Permission::ManageStaff),
        // Conversations and what hangs off them, customers, bookings and calendar tasks: handling
        // conversations, which every role has.
        K::Conversation | K::Message | K::Note | K::Customer | K::Booking | K::CalendarTask => role_allows(role, Permission::HandleConversations),
        // Any signed-in staff member: the business, colleagues, the catalogue and templates, hours
        // and exceptions, channels' secret-free status, the assistant's settings, calendar
        // connections.
        K::Business
        | K::Staff
        | K::Service
        | K::CannedResponse
        | K::Schedule
        | K::StaffHours
        | K::ScheduleException
        | K::Channel
        | K::WhatsappTemplate
        | K::AssistantSettings
        | K::CalendarConnection => true,
        // Written by a newer service: this one cannot tell who may read it.
        K::Unknown => false,
    }
}

/// The changes after `cursor` that the actor may read ([`may_read`]), in seq order, and with
/// `client_id` that device's recent outcomes. `resync_required` when the cursor is older than
/// what the log still remembers. After a role change the console pulls from 0 again (it learns
/// of the change from the next welcome), so what it holds is what the new role may read.
pub async fn pull(core: &Core, actor: &Actor, cursor: i64, client_id: Option<&str>, limit: u32) -> Result<SyncPage, Error> {
    if cursor < 0 {
        return Err(SyncError::InvalidCursor("The cursor is not valid.").into());
    }
    let limit = i64::from(limit.clamp(1, 2000));
    let mut conn = core.db.reader().acquire().await?;
    let row = sqlx::query("SELECT last_seq, compacted_through FROM businesses WHERE id = $1").bind(&actor.business_id).fetch_one(&mut *conn).await?;
    let (last_seq, horizon): (i64, i64) = (row.try_get("last_seq")?, row.try_get("compacted_through")?);
    if cursor > 0 && cursor < horizon {
        return Err(SyncError::ResyncRequired { horizon }.into());
    }
    if cursor > last_seq {
        return Err(SyncError::InvalidCursor("The cursor is ahead of this business's changes.").into());
    }
    let rows = sqlx::query("SELECT seq, entity, entity_id, data FROM changes WHERE business_id = $1 AND seq > $2 ORDER BY seq LIMIT $3")
        .bind(&actor.business_id)
        .bind(cursor)
        .bind(limit + 1)
        .fetch_all(&mut *conn)
        .await?;
    let has_more = rows.len() as i64 > limit;
    // The role as it is now (read with the page).
    let me = sqlx::query("SELECT role FROM staff WHERE id = $1 AND business_id = $2")
        .bind(&actor.staff_id)
        .bind(&actor.business_id)
        .fetch_one(&mut *conn)
        .await?;
    let role = parse_role(&me.try_get::<String, _>("role")?)?;
    let mut changes = Vec::with_capacity(rows.len().min(limit as usize));
    // Nothing newer than the cursor is skipped: seqs are gap-free in commit order, so a page
    // ends exactly where the next one starts. A change the actor may not read moves the cursor
    // past it all the same (a page of nothing else is empty, with `has_more`).
    let mut next = cursor;
    for row in rows.iter().take(limit as usize) {
        next = row.try_get("seq")?;
        let entity: EntityKind = row.try_get("entity")?;
        if !may_read(role, entity) {
            continue;
        }
        let data: Option<String> = row.try_get("data")?;
        changes.push(SyncChange {
            seq: next,
            entity,
            id: row.try_get("entity_id")?,
            data: data.map(|d| json_column(&d, "changes.data")).transpose()?,
        });
    }
    let outcomes = match client_id {
        Some(client_id) => recent_outcomes(&mut conn, actor, client_id).await?,
        None => vec![],
    };
    Ok(SyncPage { changes, cursor: next, has_more, outcomes })
}

async fn recent_outcomes(conn: &mut sqlx::AnyConnection, actor: &Actor, client_id: &str) -> Result<Vec<MutationOutcome>, Error> {
    let rows = sqlx::query(
        "SELECT outcome FROM sync_mutations WHERE client_id = $1 AND business_id = $2 AND client_id IN \
         (SELECT client_id FROM sync_clients WHERE staff_id = $3 AND business_id = $2) ORDER BY mutation_id DESC LIMIT 100",
    )
    .bind(client_id)
    .bind(&actor.business_id)
    .bind(&actor.staff_id)
    .fetch_all(conn)
    .await?;
    let mut outcomes = rows.iter().map(|r| json_column(&r.try_get::<String, _>("outcome")?, "sync_mutations.outcome")).collect::<Result<Vec<MutationOutcome>, StoreError>>()?;
    outcomes.reverse();
    Ok(outcomes)
}

/// Removes the business's tombstones older than `older_than_ms` and moves its horizon past them.
/// Returns how many were removed.
pub async fn compact(db: &Db, business_id: &str, older_than_ms: i64) -> Result<u64, StoreError> {
    let mut tx = db.writer().begin().await?;
    let highest: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM changes WHERE business_id = $1 AND data IS NULL AND changed_at < $2")
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
    sqlx::query("UPDATE businesses SET compacted_through = $1 WHERE id = $2 AND compacted_through < $1").bind(highest).bind(business_id).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(removed)
}

/// One pass of the compaction job: every business's tombstones older than the horizon. Returns
/// how many were removed.
pub async fn compact_all(db: &Db) -> Result<u64, StoreError> {
    let older_than = db.now_ms() - TOMBSTONE_HORIZON_MS;
    let businesses: Vec<String> = sqlx::query_scalar("SELECT DISTINCT business_id FROM changes WHERE data IS NULL AND changed_at < $1")
        .bind(older_than)
        .fetch_all(db.reader())
        .await?;
    let mut removed = 0;
    for business_id in businesses {
        removed += compact(db, &business_id, older_than).await?;
    }
    Ok(removed)
}
