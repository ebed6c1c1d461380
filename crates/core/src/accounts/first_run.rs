//! First run: where a new business stands in its short setup (time zone, opening hours,
//! services, invite staff, connect a channel). The service keeps it, so the setup follows the
//! owner to another computer and survives a restart or a reinstall of the console.
//!
//! A step is `done` when the owner saved it in the setup, or when the business's own data already
//! says so (an active service, a colleague or a pending invitation, a connected channel — done in
//! Settings counts too); `skipped` when the owner left it for later; otherwise `todo`. The time
//! zone (chosen at signup) and the opening hours have no such sign in the data, so only the
//! owner's word marks them done. Marking a step `todo` again is how it is resumed.

use protocol::{SetupProgress, SetupState, SetupStep, SetupStepStatus};
use sqlx::AnyConnection;
use sqlx::Row;

use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::Core;

/// Every step, in order, as it stands (owners and admins).
pub async fn progress(core: &Core, actor: &Actor) -> Result<SetupProgress, Error> {
    actor.require(Permission::ManageBusiness)?;
    load(&mut *core.db.reader().acquire().await?, &actor.business_id).await
}

/// Marks one step `done`, `skipped` or `todo` (resume), and answers the whole progress.
pub async fn mark(core: &Core, actor: &Actor, step: SetupStep, state: SetupState) -> Result<SetupProgress, Error> {
    actor.require(Permission::ManageBusiness)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let now = tx.now_ms();
    if state == SetupState::Todo {
        sqlx::query("DELETE FROM setup_steps WHERE business_id = $1 AND step = $2")
            .bind(&actor.business_id)
            .bind(step.as_str())
            .execute(tx.conn())
            .await?;
    } else {
        sqlx::query(
            "INSERT INTO setup_steps (business_id, step, state, updated_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (business_id, step) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
        )
        .bind(&actor.business_id)
        .bind(step.as_str())
        .bind(state.as_str())
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    let progress = load(tx.conn(), &actor.business_id).await?;
    tx.audit(Some(&actor.staff_id), "setup.step", Some(("business", &actor.business_id)), serde_json::json!({"step": step, "state": state})).await?;
    // The setup is the owner's progress, not something consoles mirror: nothing to record.
    tx.commit_even_if_unchanged().await?;
    Ok(progress)
}

async fn load(conn: &mut AnyConnection, business_id: &str) -> Result<SetupProgress, Error> {
    let rows = sqlx::query("SELECT step, state FROM setup_steps WHERE business_id = $1").bind(business_id).fetch_all(&mut *conn).await?;
    let mut marked = Vec::new();
    for row in rows {
        let (step, state): (String, String) = (row.try_get("step")?, row.try_get("state")?);
        if let (Some(step), Some(state)) = (SetupStep::parse(&step), SetupState::parse(&state)) {
            marked.push((step, state));
        }
    }
    let count = async |conn: &mut AnyConnection, sql: &str| -> Result<i64, Error> { Ok(sqlx::query_scalar(sql).bind(business_id).fetch_one(conn).await?) };
    let has_service = count(&mut *conn, "SELECT COUNT(*) FROM services WHERE business_id = $1 AND active = 1 AND deleted_at IS NULL").await? > 0;
    let has_colleague = count(&mut *conn, "SELECT COUNT(*) FROM staff WHERE business_id = $1").await? > 1
        || count(&mut *conn, "SELECT COUNT(*) FROM invitations WHERE business_id = $1 AND revoked_at IS NULL").await? > 0;
    let has_channel = count(&mut *conn, "SELECT COUNT(*) FROM channels WHERE business_id = $1").await? > 0;
    let steps: Vec<SetupStepStatus> = SetupStep::ALL
        .iter()
        .map(|&step| {
            let shown_by_data = match step {
                SetupStep::Services => has_service,
                SetupStep::Staff => has_colleague,
                SetupStep::Channel => has_channel,
                SetupStep::Timezone | SetupStep::Hours => false,
            };
            let state = if shown_by_data {
                SetupState::Done
            } else {
                marked.iter().find(|(s, _)| *s == step).map_or(SetupState::Todo, |(_, state)| *state)
            };
            SetupStepStatus { step, state }
        })
        .collect();
    let complete = steps.iter().all(|s| s.state != SetupState::Todo);
    Ok(SetupProgress { steps, complete })
}
