//! Applying a console's mutations: in order, each in its own transaction, exactly once.
//!
//! Already-applied ids get their first outcome again (a replay after a lost answer changes
//! nothing); a missing id stops the batch (`expected_id`); a refusal (validation, conflict) is that
//! mutation's outcome and the batch goes on; our own fault is an error and the console retries.
//! The transaction that applies a mutation also records it with its outcome
//! (`Db::begin_mutation`), so no crash can let a replay apply it twice, and a replay (or a push
//! racing the first) answers exactly what the first push answered.

use protocol::{MutationOutcome, PushRequest, PushResponse};

use crate::accounts::Actor;
use crate::error::Error;
use crate::store::{json_column, MutationMark, StoreError};
use crate::Core;


/// At most this many mutations in one push.
pub const MAX_BATCH: usize = 500;

pub async fn push(core: &Core, actor: &Actor, req: PushRequest) -> Result<PushResponse, Error> {
    bind_client(core, actor, &req.client_id).await?;
    if req.mutations.len() > MAX_BATCH {
        return Err(Error::invalid(format!("Push at most {MAX_BATCH} mutations at a time.")));
    }
    // Ids count from 1: one below could never be applied nor replayed (it was answered with no
    // outcome at all, and the console would wait for it for ever).
    if let Some(m) = req.mutations.iter().find(|m| m.id < 1) {
        return Err(Error::invalid(format!("Mutation ids count from 1; {} is none.", m.id)));
    }
    let db = &core.db;
    let mut outcomes = Vec::with_capacity(req.mutations.len());
    let mut last: i64 = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(mutation_id) FROM sync_mutations WHERE client_id = $1 AND business_id = $2")
        .bind(&req.client_id)
        .bind(&actor.business_id)
        .fetch_one(db.writer())
        .await?
        .unwrap_or(0);
    for m in &req.mutations {
        if m.id <= last {
            if let Some(stored) = recorded(db.writer(), &req.client_id, &actor.business_id, m.id).await? {
                outcomes.push(stored);
            }
            continue;
        }
        if m.id != last + 1 {
            return Ok(PushResponse { outcomes, expected_id: Some(last + 1) });
        }
        let mark = MutationMark { client_id: req.client_id.clone(), mutation_id: m.id, name: m.op.name().to_owned(), details: None };
        let mut tx = db.begin_mutation(&actor.business_id, mark).await?;
        // Two pushes of one batch racing (a retry while the first is still on its way): the
        // business's lock, which this transaction holds, lets one apply the mutation; the other
        // then finds it applied here and answers it as a replay, before applying anything.
        if let Some(stored) = recorded(tx.conn(), &req.client_id, &actor.business_id, m.id).await? {
            tx.rollback().await?;
            last = m.id;
            outcomes.push(stored);
            continue;
        }
        let applied = super::mutations::apply(&mut tx, actor, &m.op).await;
        let outcome = match applied {
            // The commit that applies it records it, with its outcome.
            Ok(details) => {
                tx.set_mutation_details(details.clone());
                tx.commit_even_if_unchanged().await?;
                MutationOutcome { id: m.id, ok: true, code: None, message: None, details }
            }
            // Our fault: nothing was applied; the console retries the batch from here.
            Err(e) if e.is_internal() => return Err(e),
            Err(e) => {
                tx.rollback().await?;
                let refused = MutationOutcome { id: m.id, ok: false, code: Some(e.code()), message: Some(e.to_string()), details: e.details() };
                // A refusal committed nothing: it is recorded now — unless a racing push recorded
                // this mutation meanwhile, whose outcome is then the answer.
                sqlx::query(
                    "INSERT INTO sync_mutations (client_id, mutation_id, business_id, name, outcome, applied_at) VALUES ($1, $2, $3, $4, $5, $6) \
                     ON CONFLICT (client_id, business_id, mutation_id) DO NOTHING",
                )
                .bind(&req.client_id)
                .bind(m.id)
                .bind(&actor.business_id)
                .bind(m.op.name())
                .bind(serde_json::to_string(&refused)?)
                .bind(db.now_ms())
                .execute(db.writer())
                .await?;
                recorded(db.writer(), &req.client_id, &actor.business_id, m.id).await?.unwrap_or(refused)
            }
        };
        last = m.id;
        outcomes.push(outcome);
    }
    Ok(PushResponse { outcomes, expected_id: None })
}

/// The recorded outcome of a client's mutation, if it was applied (or refused) before.
async fn recorded<'e>(db: impl sqlx::Executor<'e, Database = sqlx::Any>, client_id: &str, business_id: &str, id: i64) -> Result<Option<MutationOutcome>, StoreError> {
    let stored: Option<String> = sqlx::query_scalar("SELECT outcome FROM sync_mutations WHERE client_id = $1 AND business_id = $2 AND mutation_id = $3")
        .bind(client_id)
        .bind(business_id)
        .bind(id)
        .fetch_optional(db)
        .await?;
    stored.map(|s| json_column(&s, "sync_mutations.outcome")).transpose()
}

/// Binds a client id to the signed-in staff member on first use; refuses it for anyone else of
/// the business. Device ids are per business (migration 0028): another business's device with the
/// same id is not seen, and this one is bound as an unused id would be.
async fn bind_client(core: &Core, actor: &Actor, client_id: &str) -> Result<(), Error> {
    if !super::valid_client_id(client_id) {
        return Err(Error::invalid("`client_id` is the device's id: letters, digits and `-`, at most 64."));
    }
    let db = &core.db;
    let now = db.now_ms();
    sqlx::query(
        "INSERT INTO sync_clients (client_id, business_id, staff_id, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4) \
         ON CONFLICT (client_id, business_id) DO NOTHING",
    )
    .bind(client_id)
    .bind(&actor.business_id)
    .bind(&actor.staff_id)
    .bind(now)
    .execute(db.writer())
    .await?;
    let owner: String = sqlx::query_scalar("SELECT staff_id FROM sync_clients WHERE client_id = $1 AND business_id = $2")
        .bind(client_id)
        .bind(&actor.business_id)
        .fetch_one(db.writer())
        .await?;
    if owner != actor.staff_id {
        return Err(Error::Forbidden("This device id belongs to someone else's sign-in.".into()));
    }
    sqlx::query("UPDATE sync_clients SET last_seen_at = $1 WHERE client_id = $2 AND business_id = $3")
        .bind(now)
        .bind(client_id)
        .bind(&actor.business_id)
        .execute(db.writer())
        .await?;
    Ok(())
}
