//! Who answers a conversation: the assistant (`ai`), one person who holds it (`human`), or nobody
//! yet because the assistant asked for a person (`needs_human`).
//!
//! Taking over is a compare-and-set: the first person wins and a second learns who holds it
//! (`already_held`). A person's reply to a conversation the assistant answers takes it over; a
//! reply to one someone else holds is refused, so two people never talk over each other. Handing
//! back is explicit, or automatic after the business's quiet period. Every change is an event in
//! the timeline and in the change log, so every console sees it at once.

use crate::Core;
use protocol::EntityKind;

use protocol::{AssistantSettings, AuthorKind, ControlMode, Conversation, DeliveryStatus, Direction, MessageKind, UpdateAssistantSettings};
use serde_json::json;
use sqlx::{AnyConnection, Row};

use crate::accounts::{role_allows, Actor, Permission};
use crate::conversations::{add_message, NewMessage};
use crate::error::{Error, TakeoverError};
use crate::store::{bind_all, Bind, BusinessTx, StoreError};

/// Adds an event line to the timeline.
pub async fn event(tx: &mut BusinessTx, conversation_id: &str, text: String) -> Result<(), Error> {
    add_message(
        tx,
        conversation_id,
        NewMessage {
            id: None,
            direction: Direction::Outbound,
            kind: MessageKind::Event,
            raw: None,
            author_kind: AuthorKind::System,
            author_staff_id: None,
            body: text,
            media: vec![],
            provider_message_id: None,
            delivery_status: DeliveryStatus::Received,
            at_ms: None,
            automation: None,
        },
    )
    .await?;
    Ok(())
}

async fn staff_name(conn: &mut AnyConnection, staff_id: &str) -> Result<String, StoreError> {
    Ok(sqlx::query_scalar::<_, String>("SELECT name FROM staff WHERE id = $1").bind(staff_id).fetch_optional(conn).await?.unwrap_or_default())
}

async fn reload(tx: &mut BusinessTx, id: &str) -> Result<Conversation, Error> {
    let business_id = tx.business_id().to_owned();
    let conversation = crate::conversations::load(tx.conn(), &business_id, id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    tx.record(EntityKind::Conversation, id, Some(&conversation)).await?;
    Ok(conversation)
}

/// The compare-and-set every change of who answers is: `UPDATE conversations SET {set} WHERE id =
/// $1 AND business_id = $2 AND ({only_if})`, with `$3` now and `$4`, … `extra`. `true` if it
/// changed the conversation.
async fn change_if(tx: &mut BusinessTx, conversation_id: &str, set: &str, only_if: &str, extra: &[Bind]) -> Result<bool, StoreError> {
    let sql = format!("UPDATE conversations SET {set} WHERE id = $1 AND business_id = $2 AND ({only_if})");
    let business_id = tx.business_id().to_owned();
    let now = tx.now_ms();
    let query = sqlx::query(&sql).bind(conversation_id).bind(business_id).bind(now);
    Ok(bind_all(query, extra).execute(tx.conn()).await?.rows_affected() > 0)
}

/// The error a second person gets, naming who holds the conversation.
async fn held_by(tx: &mut BusinessTx, conversation: &Conversation) -> Error {
    let holder = conversation.holder_staff_id.as_deref().unwrap_or_default().to_owned();
    let name = staff_name(tx.conn(), &holder).await.unwrap_or_default();
    TakeoverError::AlreadyHeld { holder: holder.into(), holder_name: name }.into()
}

/// Makes `staff_id` the holder unless someone else already is. Holding it already is fine.
pub async fn take_over(tx: &mut BusinessTx, conversation_id: &str, staff_id: &str) -> Result<Conversation, Error> {
    let business_id = tx.business_id().to_owned();
    let current = crate::conversations::load(tx.conn(), &business_id, conversation_id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    if current.mode == ControlMode::Human && current.holder_staff_id.as_deref() == Some(staff_id) {
        return Ok(current);
    }
    let won = change_if(
        tx,
        conversation_id,
        "mode = 'human', holder_staff_id = $4, held_at = $3, last_human_activity_at = $3, updated_at = $3",
        "mode <> 'human' OR holder_staff_id IS NULL",
        &[Bind::Text(staff_id.to_owned())],
    )
    .await?;
    if !won {
        return Err(held_by(tx, &current).await);
    }
    if current.mode == ControlMode::Ai {
        crate::reports::outcomes::taken_over(tx, conversation_id, staff_id).await?;
    }
    // Whatever the built-in assistant was waiting for is not a question any more.
    sqlx::query("DELETE FROM assistant_state WHERE conversation_id = $1 AND business_id = $2").bind(conversation_id).bind(tx.business_id().to_owned()).execute(tx.conn()).await?;
    let name = staff_name(tx.conn(), staff_id).await?;
    event(tx, conversation_id, format!("{name} took over from the assistant.")).await?;
    tx.audit(Some(staff_id), "conversation.taken_over", Some(("conversation", conversation_id)), json!({"from": current.mode})).await?;
    reload(tx, conversation_id).await
}

/// Gives the conversation back to the assistant. `by`: the person doing it (the holder, or an
/// owner or admin); `None`: the quiet-period timer.
pub async fn hand_back(tx: &mut BusinessTx, conversation_id: &str, by: Option<&Actor>, why: &str) -> Result<Conversation, Error> {
    hand_back_if_quiet_since(tx, conversation_id, by, why, None).await
}

/// As [`hand_back`]; with `quiet_since`, only if nobody acted in it since then (checked in the
/// same statement that hands it back, so a reply a moment ago keeps it).
async fn hand_back_if_quiet_since(
    tx: &mut BusinessTx,
    conversation_id: &str,
    by: Option<&Actor>,
    why: &str,
    quiet_since: Option<i64>,
) -> Result<Conversation, Error> {
    let business_id = tx.business_id().to_owned();
    let current = crate::conversations::load(tx.conn(), &business_id, conversation_id).await?.ok_or_else(|| Error::NotFound("conversation"))?;
    if current.mode == ControlMode::Ai {
        return Ok(current);
    }
    if let Some(auth) = by {
        let holds = current.holder_staff_id.as_deref() == Some(auth.staff_id.as_str());
        if current.holder_staff_id.is_some() && !holds && !role_allows(auth.role, Permission::ManageStaff) {
            return Err(held_by(tx, &current).await);
        }
    }
    let handed = change_if(
        tx,
        conversation_id,
        "mode = 'ai', holder_staff_id = NULL, held_at = NULL, escalated_at = NULL, updated_at = $3",
        "$4 = 0 OR COALESCE(last_human_activity_at, held_at, updated_at) < $5",
        &[Bind::Int(i64::from(quiet_since.is_some())), Bind::Int(quiet_since.unwrap_or(0))],
    )
    .await?;
    if !handed {
        return Ok(current);
    }
    let text = match by {
        Some(auth) => format!("{} handed the conversation back to the assistant.", staff_name(tx.conn(), &auth.staff_id).await?),
        None => format!("Handed back to the assistant {why}."),
    };
    event(tx, conversation_id, text).await?;
    tx.audit(by.map(|a| a.staff_id.as_str()), "conversation.handed_back", Some(("conversation", conversation_id)), json!({"why": why})).await?;
    let conversation = reload(tx, conversation_id).await?;
    // A customer who wrote while a person held it, and got no answer, is answered now.
    let last: Option<(String, String)> = sqlx::query_as(
        "SELECT id, author_kind FROM messages WHERE conversation_id = $1 AND business_id = $2 AND kind <> 'event' ORDER BY created_at DESC, id DESC LIMIT 1",
    )
    .bind(conversation_id)
    .bind(tx.business_id().to_owned())
    .fetch_optional(tx.conn())
    .await?;
    if let Some((id, author)) = last {
        if author == "customer" {
            crate::assistant::enqueue(tx, &conversation, &id).await?;
        }
    }
    Ok(conversation)
}

/// The assistant steps aside: the conversation waits for a person. Returns `true` the first time
/// (the caller then sends the customer one holding reply), `false` if it was already waiting or
/// someone holds it.
pub async fn escalate(tx: &mut BusinessTx, conversation_id: &str, reason: &str) -> Result<bool, Error> {
    let set = "mode = 'needs_human', holder_staff_id = NULL, escalated_at = $3, updated_at = $3";
    if !change_if(tx, conversation_id, set, "mode = 'ai'", &[]).await? {
        return Ok(false);
    }
    crate::reports::outcomes::handed_over(tx, conversation_id).await?;
    sqlx::query("DELETE FROM assistant_state WHERE conversation_id = $1 AND business_id = $2").bind(conversation_id).bind(tx.business_id().to_owned()).execute(tx.conn()).await?;
    event(tx, conversation_id, format!("The assistant asked for a person: {reason}")).await?;
    tx.audit(None, "conversation.escalated", Some(("conversation", conversation_id)), json!({"reason": reason})).await?;
    reload(tx, conversation_id).await?;
    Ok(true)
}

/// The assistant is switched off: a customer's message leaves each of these conversations the
/// assistant had waiting for a person (no system note, no holding reply: nothing was escalated,
/// nobody was ever answering). For a batch of messages at once: one statement hands them over,
/// one appends their outcomes and the summaries of their episodes are recomputed together.
pub(crate) async fn wait_for_people(tx: &mut BusinessTx, conversation_ids: &[&str]) -> Result<(), Error> {
    if conversation_ids.is_empty() {
        return Ok(());
    }
    #[derive(serde::Serialize)]
    struct Key<'a> {
        id: &'a str,
        business_id: &'a str,
    }
    let business_id = tx.business_id().to_owned();
    let keys: Vec<Key> = conversation_ids.iter().map(|id| Key { id, business_id: &business_id }).collect();
    // The business is in each row (as in `MessageBatch::write`): given a constant business,
    // SQLite would scan the business's conversations for the ids.
    let sql = format!(
        "WITH v AS (SELECT value ->> 'id' AS cid, value ->> 'business_id' AS bid FROM {}) \
         UPDATE conversations SET mode = 'needs_human', escalated_at = $2 FROM v \
         WHERE conversations.id = v.cid AND conversations.business_id = v.bid AND conversations.mode = 'ai' RETURNING {}",
        crate::store::json_rows(tx.engine(), "$1"),
        super::COLUMNS
    );
    let rows = sqlx::query(&sql).bind(crate::store::json_param(&keys)?).bind(tx.now_ms()).fetch_all(tx.conn()).await?;
    let handed = rows.iter().map(super::from_row).collect::<Result<Vec<Conversation>, StoreError>>()?;
    if handed.is_empty() {
        return Ok(());
    }
    crate::reports::outcomes::handed_over_many(tx, &handed).await?;
    for conversation in &handed {
        tx.record(EntityKind::Conversation, conversation.id.as_str(), Some(conversation)).await?;
    }
    Ok(())
}

/// Notes that a person acted in a conversation they hold (resets the quiet-period timer).
pub async fn touch(tx: &mut BusinessTx, conversation_id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE conversations SET last_human_activity_at = $1 WHERE id = $2 AND business_id = $3")
        .bind(tx.now_ms())
        .bind(conversation_id)
        .bind(tx.business_id().to_owned())
        .execute(tx.conn())
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Settings

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
struct StoredSettings {
    disabled: bool,
    persona: String,
    instructions: String,
    facts: String,
    language: String,
    model: Option<String>,
}

pub async fn load_settings(conn: &mut AnyConnection, business_id: &str) -> Result<AssistantSettings, Error> {
    let row = sqlx::query("SELECT name, assistant_settings, handback_idle_minutes FROM businesses WHERE id = $1")
        .bind(business_id)
        .fetch_optional(conn)
        .await?
        .ok_or_else(|| Error::NotFound("business"))?;
    let name: String = row.try_get("name")?;
    let stored: StoredSettings = crate::store::json_column(&row.try_get::<String, _>("assistant_settings")?, "assistant_settings")?;
    Ok(AssistantSettings {
        enabled: !stored.disabled,
        persona: if stored.persona.is_empty() { format!("the friendly receptionist of {name}") } else { stored.persona },
        instructions: stored.instructions,
        facts: stored.facts,
        language: if stored.language.is_empty() { "en".into() } else { stored.language },
        model: stored.model,
        handback_idle_minutes: u32::try_from(row.try_get::<i64, _>("handback_idle_minutes")?).unwrap_or(0),
    })
}

// ---------------------------------------------------------------------------------------------
// The quiet-period timer

/// Hands back conversations whose holder has been quiet for the business's hand-back time.
pub async fn hand_back_idle(state: &Core) -> Result<usize, Error> {
    let now = state.db.now_ms();
    let rows = sqlx::query(
        "SELECT c.id, c.business_id, b.handback_idle_minutes FROM conversations c JOIN businesses b ON b.id = c.business_id \
         WHERE c.mode = 'human' AND b.handback_idle_minutes > 0 \
         AND COALESCE(c.last_human_activity_at, c.held_at, c.updated_at) < $1 - b.handback_idle_minutes * 60000 LIMIT 100",
    )
    .bind(now)
    .fetch_all(state.db.reader())
    .await?;
    for row in &rows {
        let id: String = row.try_get("id")?;
        let business_id: String = row.try_get("business_id")?;
        let minutes: i64 = row.try_get("handback_idle_minutes")?;
        let mut tx = state.db.begin_business(&business_id).await?;
        let cutoff = now - minutes * 60_000;
        hand_back_if_quiet_since(&mut tx, &id, None, &format!("after {minutes} minutes without activity"), Some(cutoff)).await?;
        tx.commit_even_if_unchanged().await?;
    }
    Ok(rows.len())
}


/// Whether the staff member may write in the conversation now; takes it over from the
/// assistant (or the waiting queue) if needed. Someone else holding it: `already_held`.
pub async fn claim_for_reply(tx: &mut BusinessTx, conversation_id: &str, staff_id: &str) -> Result<(), Error> {
    take_over(tx, conversation_id, staff_id).await?;
    touch(tx, conversation_id).await?;
    Ok(())
}

/// Takes the conversation over from the assistant (or from the waiting queue). If someone else
/// holds it: 409 `already_held`, naming them.
pub async fn takeover(core: &Core, actor: &Actor, id: &str) -> Result<Conversation, Error> {
    actor.require(Permission::HandleConversations)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let conversation = take_over(&mut tx, id, &actor.staff_id).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(conversation)
}

/// Gives the conversation back to the assistant (the holder, or an owner or admin).
pub async fn handback(core: &Core, actor: &Actor, id: &str) -> Result<Conversation, Error> {
    actor.require(Permission::HandleConversations)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let conversation = hand_back(&mut tx, id, Some(actor), "").await?;
    tx.commit_even_if_unchanged().await?;
    Ok(conversation)
}

/// How the assistant behaves.
pub async fn get_settings(core: &Core, actor: &Actor) -> Result<AssistantSettings, Error> {
    let mut conn = core.db.reader().acquire().await?;
    Ok(load_settings(&mut conn, &actor.business_id).await?)
}

/// Changes the assistant's persona, instructions, facts, language, model or hand-back timer
/// (owners and admins).
pub async fn update_settings(core: &Core, actor: &Actor, req: UpdateAssistantSettings) -> Result<AssistantSettings, Error> {
    actor.require(Permission::ManageBusiness)?;
    let limit = |value: &Option<String>, field: &str, max: usize| -> Result<(), Error> {
        match value {
            Some(v) if v.chars().count() > max => Err(Error::invalid(format!("`{field}` must be at most {max} characters."))),
            _ => Ok(()),
        }
    };
    limit(&req.persona, "persona", 500)?;
    limit(&req.instructions, "instructions", 4000)?;
    limit(&req.facts, "facts", 8000)?;
    limit(&req.language, "language", 16)?;
    // (`model: null` puts the default back.)
    let model = req.model.as_ref().and_then(|m| m.as_deref());
    limit(&model.map(str::to_owned), "model", 100)?;
    // A language tag (`en`, `pt-BR`), and a model's name as providers spell them
    // (`gpt-4o-mini`, `claude-3-5-haiku-latest`, `org/model:tag`).
    if req.language.as_deref().is_some_and(|l| !l.trim().is_empty() && !l.trim().chars().all(|c| c.is_ascii_alphanumeric() || c == '-')) {
        return Err(Error::invalid("`language` is a language tag like `en` or `pt-BR`."));
    }
    if model.is_some_and(|m| !m.trim().chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':' | '/'))) {
        return Err(Error::invalid("`model` is a model's name as the provider spells it, like `gpt-4o-mini`."));
    }
    if req.handback_idle_minutes.is_some_and(|m| m > 7 * 1440) {
        return Err(Error::invalid("`handback_idle_minutes` must be at most 10080 (a week)."));
    }
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let current = load_settings(tx.conn(), &actor.business_id).await?;
    let stored = StoredSettings {
        disabled: !req.enabled.unwrap_or(current.enabled),
        persona: req.persona.unwrap_or(current.persona).trim().to_owned(),
        instructions: req.instructions.unwrap_or(current.instructions).trim().to_owned(),
        facts: req.facts.unwrap_or(current.facts).trim().to_owned(),
        language: req.language.unwrap_or(current.language).trim().to_owned(),
        model: req.model.unwrap_or(current.model).map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()),
    };
    sqlx::query("UPDATE businesses SET assistant_settings = $1, handback_idle_minutes = $2, updated_at = $3 WHERE id = $4")
        .bind(serde_json::to_string(&stored).map_err(Error::internal)?)
        .bind(i64::from(req.handback_idle_minutes.unwrap_or(current.handback_idle_minutes)))
        .bind(tx.now_ms())
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    let settings = load_settings(tx.conn(), &actor.business_id).await?;
    tx.record(EntityKind::AssistantSettings, &actor.business_id, Some(&settings)).await?;
    tx.audit(Some(&actor.staff_id), "assistant.updated", None, json!({})).await?;
    tx.commit().await?;
    Ok(settings)
}
