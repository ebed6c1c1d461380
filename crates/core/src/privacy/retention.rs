//! Retention: each business says how long it keeps conversations (inactive for N months, of 30
//! days) and call recordings (N days); a daily worker deletes what is older. [`plan`] is the dry
//! run, and [`apply`] deletes exactly what the plan lists — computed by the same query in the same
//! transaction — so "what would go" and "what went" never differ.

use protocol::{EntityKind, RetentionPlan, RetentionPolicy};
use sqlx::{AnyConnection, Row};

use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::Core;

const DAY_MS: i64 = 86_400_000;

pub async fn policy(core: &Core, actor: &Actor) -> Result<RetentionPolicy, Error> {
    let mut conn = core.db.reader().acquire().await?;
    load_policy(&mut conn, &actor.business_id).await
}

async fn load_policy(conn: &mut AnyConnection, business_id: &str) -> Result<RetentionPolicy, Error> {
    let row = sqlx::query("SELECT retain_conversations_months, retain_recordings_days FROM businesses WHERE id = $1").bind(business_id).fetch_one(conn).await?;
    Ok(RetentionPolicy {
        conversations_months: row.try_get::<Option<i64>, _>("retain_conversations_months")?.map(|v| v as u32),
        recordings_days: row.try_get::<Option<i64>, _>("retain_recordings_days")?.map(|v| v as u32),
    })
}

/// Sets the policy (owners and admins). Zero is refused: "keep nothing" is not a policy.
pub async fn set_policy(core: &Core, actor: &Actor, policy: RetentionPolicy) -> Result<RetentionPolicy, Error> {
    actor.require(Permission::ManageBusiness)?;
    if policy.conversations_months.is_some_and(|m| m == 0 || m > 1200) || policy.recordings_days.is_some_and(|d| d == 0 || d > 36_500) {
        return Err(Error::invalid("Keep conversations 1–1200 months and recordings 1–36500 days, or `null` for ever."));
    }
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    sqlx::query("UPDATE businesses SET retain_conversations_months = $1, retain_recordings_days = $2 WHERE id = $3")
        .bind(policy.conversations_months.map(i64::from))
        .bind(policy.recordings_days.map(i64::from))
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    tx.audit(Some(&actor.staff_id), "retention.updated", Some(("business", &actor.business_id)), serde_json::to_value(&policy).unwrap_or_default()).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(policy)
}

/// What a run now would delete.
pub async fn dry_run(core: &Core, actor: &Actor) -> Result<RetentionPlan, Error> {
    actor.require(Permission::ManageBusiness)?;
    let mut conn = core.db.reader().acquire().await?;
    plan(&mut conn, &actor.business_id, core.db.now_ms()).await
}

/// What the policy deletes at `now`.
pub async fn plan(conn: &mut AnyConnection, business_id: &str, now: i64) -> Result<RetentionPlan, Error> {
    let policy = load_policy(conn, business_id).await?;
    let conversation_ids: Vec<String> = match policy.conversations_months {
        Some(months) => sqlx::query_scalar("SELECT id FROM conversations WHERE business_id = $1 AND last_activity_at < $2 ORDER BY id")
            .bind(business_id)
            .bind(now - i64::from(months) * 30 * DAY_MS)
            .fetch_all(&mut *conn)
            .await?,
        None => vec![],
    };
    let recording_message_ids: Vec<String> = match policy.recordings_days {
        Some(days) => sqlx::query_scalar(
            "SELECT id FROM messages WHERE business_id = $1 AND kind = 'call' AND recording_purged_at IS NULL AND created_at < $2 \
             AND (raw LIKE '%\"recording_url\":\"%' OR raw LIKE '%\"transcript\":\"%') ORDER BY id",
        )
        .bind(business_id)
        .bind(now - i64::from(days) * DAY_MS)
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        // A call in a conversation that goes anyway is not listed twice.
        .filter(|id: &String| !id.is_empty())
        .collect(),
        None => vec![],
    };
    Ok(RetentionPlan {
        conversation_ids: conversation_ids.into_iter().map(Into::into).collect(),
        recording_message_ids: recording_message_ids.into_iter().map(Into::into).collect(),
    })
}

/// Runs the policy for one business now; returns what it deleted (the plan it carried out).
pub async fn apply(core: &Core, business_id: &str) -> Result<RetentionPlan, Error> {
    let mut tx = core.db.begin_business(business_id).await?;
    let now = tx.now_ms();
    let plan = plan(tx.conn(), business_id, now).await?;
    let conversations: Vec<String> = plan.conversation_ids.iter().map(|c| c.as_str().to_owned()).collect();
    super::purge::conversations(&mut tx, &conversations).await?;
    for id in &plan.recording_message_ids {
        let raw: Option<String> = sqlx::query_scalar("SELECT raw FROM messages WHERE id = $1 AND business_id = $2").bind(id.as_str()).bind(business_id).fetch_optional(tx.conn()).await?.flatten();
        // (A call in a conversation deleted above is already gone.)
        let Some(raw) = raw else { continue };
        let mut record: serde_json::Value = serde_json::from_str(&raw).unwrap_or_default();
        // A recording kept here (`/v1/media/{id}`, see `crate::media::recording`) goes with it.
        if let Some(kept) = record.get("recording_url").and_then(|u| u.as_str()).and_then(|u| u.strip_prefix("/v1/media/")).map(str::to_owned) {
            crate::media::forget(&mut tx, id.as_str(), &kept).await?;
        }
        if let Some(o) = record.as_object_mut() {
            o.insert("recording_url".into(), serde_json::Value::Null);
            o.insert("transcript".into(), serde_json::Value::Null);
        }
        sqlx::query("UPDATE messages SET raw = $1, recording_purged_at = $2, updated_at = $2 WHERE id = $3 AND business_id = $4")
            .bind(record.to_string())
            .bind(now)
            .bind(id.as_str())
            .bind(business_id)
            .execute(tx.conn())
            .await?;
        let message = crate::conversations::load_message(tx.conn(), business_id, id.as_str()).await?;
        tx.record(EntityKind::Message, id.as_str(), message.as_ref()).await?;
    }
    sqlx::query("UPDATE businesses SET retention_last_run_at = $1 WHERE id = $2").bind(now).bind(business_id).execute(tx.conn()).await?;
    if !plan.conversation_ids.is_empty() || !plan.recording_message_ids.is_empty() {
        tx.audit(None, "retention.applied", Some(("business", business_id)), serde_json::json!({
            "conversations": plan.conversation_ids.len(), "recordings": plan.recording_message_ids.len()
        }))
        .await?;
    }
    tx.commit_even_if_unchanged().await?;
    Ok(plan)
}

/// The daily job: every business with a policy whose last run is a day old.
pub async fn run_due(core: &Core) -> Result<usize, Error> {
    let now = core.db.now_ms();
    let due: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM businesses WHERE (retain_conversations_months IS NOT NULL OR retain_recordings_days IS NOT NULL) \
         AND (retention_last_run_at IS NULL OR retention_last_run_at <= $1)",
    )
    .bind(now - DAY_MS)
    .fetch_all(core.db.reader())
    .await?;
    for business_id in &due {
        apply(core, business_id).await?;
    }
    Ok(due.len())
}
