//! Webhook intake, provider-neutral: a verified webhook is stored (the group committer makes many
//! concurrent acknowledgements share one durable commit), then a worker claims stored events with a
//! lease (`SKIP LOCKED` on PostgreSQL, so instances share them), and processes each business's events
//! several to a transaction, handing each to its provider's `intake` module (see [`process_due`]).
//! An event that fails is kept with its reason (`failed_at`), counted in the metrics, listed for
//! owners and admins and can be retried; nothing acknowledged is dropped.
use crate::Core;

use sqlx::Row;

use crate::channels::inbound::FetchedMedia;
use crate::channels::{twilio, whatsapp};
use crate::error::Error;
use crate::store::{BusinessTx, Db, Engine, StoreError};

// ---------------------------------------------------------------------------------------------
// Storing events

/// A verified webhook to store: its provider, the business it is for, the provider's key for it
/// (a redelivery has the same one) and the payload to process.
pub struct NewEvent {
    provider: &'static str,
    business_id: String,
    key: String,
    payload: String,
}

impl NewEvent {
    pub fn new(provider: &'static str, business_id: String, key: String, payload: String) -> NewEvent {
        NewEvent { provider, business_id, key, payload }
    }
}

/// Commits the events (a redelivered one is already there and stays as it was), then wakes the
/// worker. Returning `Ok` means they are durable: only then may the webhook be acknowledged.
pub async fn store_events(state: &Core, events: Vec<NewEvent>) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    let (done, committed) = tokio::sync::oneshot::channel();
    state
        .intake
        .send((events, done))
        .await
        .map_err(|_| Error::ShuttingDown)?;
    match committed.await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Error::internal(StoreError::Corrupt(format!("webhook events not committed: {e}")))),
        Err(_) => Err(Error::ShuttingDown),
    }
}

/// Events waiting to be committed, each with the acknowledgement to give once they are.
pub type IntakeQueue = tokio::sync::mpsc::Sender<(Vec<NewEvent>, tokio::sync::oneshot::Sender<Result<(), String>>)>;

/// Group commit: webhooks that arrive while a commit is in progress are committed together in
/// the next transaction — one fsync for all of them — and each is acknowledged only after its
/// transaction commits. Under load this multiplies what one SQLite writer can take; alone, a
/// webhook is committed at once.
pub fn start_committer(db: Db) -> IntakeQueue {
    let (queue, mut incoming) = tokio::sync::mpsc::channel::<(Vec<NewEvent>, tokio::sync::oneshot::Sender<Result<(), String>>)>(4096);
    tokio::spawn(async move {
        while let Some(first) = incoming.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match incoming.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let result = commit_events(&db, batch.iter().flat_map(|(events, _)| events.iter())).await.map_err(|e| e.to_string());
            if let Err(e) = &result {
                tracing::error!(error = %e, webhooks = batch.len(), "could not commit webhooks; they are refused and will be redelivered");
            }
            for (_, done) in batch {
                let _ = done.send(result.clone());
            }
            db.wakeups().wake(crate::workers::Job::Intake);
        }
    });
    queue
}

async fn commit_events<'a>(db: &Db, events: impl Iterator<Item = &'a NewEvent>) -> Result<(), StoreError> {
    let now = db.now_ms();
    let events: Vec<&NewEvent> = events.collect();
    let mut tx = db.writer().begin().await?;
    // Multi-row statements: the writer is held for as few round trips as can be (processing waits
    // for it too).
    for chunk in events.chunks(crate::store::rows_per_statement(5)) {
        let values: Vec<String> =
            (0..chunk.len()).map(|r| format!("(${}, ${}, ${}, ${}, ${}, $1, $1)", 5 * r + 2, 5 * r + 3, 5 * r + 4, 5 * r + 5, 5 * r + 6)).collect();
        let sql = format!(
            "INSERT INTO webhook_events (id, provider, business_id, event_key, payload, received_at, next_attempt_at) VALUES {} \
             ON CONFLICT (provider, business_id, event_key) DO NOTHING",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now);
        for e in chunk {
            query = query.bind(db.new_id::<String>()).bind(e.provider).bind(&e.business_id).bind(&e.key).bind(&e.payload);
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Processing

/// Tries before an event is kept as failed.
pub const MAX_ATTEMPTS: i64 = 12;

/// Events one step claims; they are processed per business, one transaction for each business.
const BATCH: i64 = 256;
/// Longer than processing a batch (media fetches included) takes.
const LEASE_MS: i64 = 5 * 60_000;

/// A stored event claimed for processing.
struct Due {
    id: String,
    provider: String,
    business_id: String,
    payload: String,
    attempts: i64,
    received_at: i64,
}

/// Claims due events with a lease (`SKIP LOCKED` on PostgreSQL, so instances share the work).
async fn claim(core: &Core) -> Result<Vec<Due>, StoreError> {
    let now = core.db.now_ms();
    let lock = if core.db.engine() == Engine::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = sqlx::query(&format!(
        "UPDATE webhook_events SET lease_until = $2 WHERE id IN (SELECT id FROM webhook_events WHERE processed_at IS NULL AND failed_at IS NULL \
         AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY received_at LIMIT $3{lock}) \
         RETURNING id, provider, business_id, payload, attempts, received_at"
    ))
    .bind(now)
    .bind(now + LEASE_MS)
    .bind(BATCH)
    .fetch_all(core.db.writer())
    .await?;
    let mut due = rows
        .iter()
        .map(|r| {
            Ok(Due {
                id: r.try_get("id")?,
                provider: r.try_get("provider")?,
                business_id: r.try_get("business_id")?,
                payload: r.try_get("payload")?,
                attempts: r.try_get("attempts")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    due.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    Ok(due)
}

/// Events of one business committed together: small enough that the first of them is in its
/// conversation soon (a transaction's events become visible at its commit). Plain texts land
/// set-wise, so a transaction's cost is mostly per statement and per commit, not per event:
/// 128 measured better than 32 and 64 both for a backlog and for the first event's wait
/// (BENCHMARKS.md, issue 13).
const PER_TRANSACTION: usize = 128;

/// Processes due events, a business's at a time, [`PER_TRANSACTION`] in a transaction; returns how
/// many were handled. Exactly once: an event and its effects commit together, and messages are
/// unique per provider id.
///
/// A transaction first applies its events together (plain text messages set-wise); if one
/// fails, it is rolled back and its events up to the failing one are applied again each on its
/// own (a savepoint each), so the failing event is kept with its reason and the others land — the
/// common case pays for no savepoints. If the set-wise part fails, all of the transaction's
/// events are applied again each on its own.
pub async fn process_due(core: &Core) -> Result<usize, Error> {
    let due = claim(core).await?;
    let mut businesses: Vec<(String, Vec<Due>)> = Vec::new();
    for event in due {
        match businesses.iter_mut().find(|(b, _)| *b == event.business_id) {
            Some((_, events)) => events.push(event),
            None => businesses.push((event.business_id.clone(), vec![event])),
        }
    }
    let mut handled = 0;
    for (business_id, events) in businesses {
        // Network calls (media) before the transaction, never inside it.
        let mut work = Vec::with_capacity(events.len());
        for event in events {
            let media = prefetch_media(core, &event).await;
            work.push((event, media));
        }
        let mut rest = &work[..];
        while !rest.is_empty() {
            let batch = &rest[..rest.len().min(PER_TRANSACTION)];
            let done = match apply_together(core, &business_id, batch).await? {
                Applied::All => batch.len(),
                Applied::FailedAt(failing) => {
                    apply_each(core, &business_id, &batch[..=failing]).await?;
                    failing + 1
                }
                Applied::SetFailed(e) => {
                    tracing::warn!(error = %e.chain(), events = batch.len(), "webhook events could not be processed together; processing each on its own");
                    apply_each(core, &business_id, batch).await?;
                    batch.len()
                }
            };
            rest = &rest[done..];
            handled += done;
        }
    }
    Ok(handled)
}

/// How applying a transaction's events together went (nothing is committed unless all of them
/// applied).
enum Applied {
    All,
    /// Event `i` failed on its own.
    FailedAt(usize),
    /// Plain text messages applied together failed (which event's is not known).
    SetFailed(Error),
}

/// Applies the events in one transaction and commits it: plain text messages set-wise
/// ([`whatsapp::intake::Texts`]: a few statements for all of them), each other event on its own
/// in its turn (the texts taken before it land first).
async fn apply_together(core: &Core, business_id: &str, batch: &[(Due, Result<FetchedMedia, Error>)]) -> Result<Applied, Error> {
    let mut tx = core.db.begin_business(business_id).await?;
    tx.defer_changes();
    let mut texts = whatsapp::intake::Texts::default();
    for (i, (event, media)) in batch.iter().enumerate() {
        if event.provider == whatsapp::EVENT && media.is_ok() && texts.take(&event.payload) {
            continue;
        }
        if let Err(e) = texts.land(&mut tx).await {
            tx.rollback().await?;
            return Ok(Applied::SetFailed(e));
        }
        let applied = match media {
            Ok(media) => process_event(&mut tx, event, media).await.is_ok(),
            Err(_) => false,
        };
        if !applied {
            tx.rollback().await?;
            return Ok(Applied::FailedAt(i));
        }
    }
    if let Err(e) = texts.land(&mut tx).await {
        tx.rollback().await?;
        return Ok(Applied::SetFailed(e));
    }
    mark_processed(&mut tx, batch.iter().map(|(e, _)| e.id.as_str())).await?;
    tx.wake(crate::workers::Job::Assistant);
    tx.commit_even_if_unchanged().await?;
    Ok(Applied::All)
}

/// Applies the events in one transaction, each undone on its own if it fails (and kept as
/// failed, see [`failed`]).
async fn apply_each(core: &Core, business_id: &str, batch: &[(Due, Result<FetchedMedia, Error>)]) -> Result<(), Error> {
    let mut tx = core.db.begin_business(business_id).await?;
    tx.defer_changes();
    let mut processed = Vec::with_capacity(batch.len());
    for (event, media) in batch {
        let media = match media {
            Ok(media) => media,
            Err(e) => {
                failed(core, &mut tx, event, e).await?;
                continue;
            }
        };
        let part = tx.begin_part().await?;
        match process_event(&mut tx, event, media).await {
            Ok(()) => {
                tx.keep_part(part).await?;
                processed.push(event.id.as_str());
            }
            Err(e) => {
                tx.undo_part(part).await?;
                failed(core, &mut tx, event, &e).await?;
            }
        }
    }
    mark_processed(&mut tx, processed.into_iter()).await?;
    tx.wake(crate::workers::Job::Assistant);
    tx.commit_even_if_unchanged().await?;
    Ok(())
}

/// Marks the events processed (one statement for all of them).
async fn mark_processed<'a>(tx: &mut BusinessTx, ids: impl Iterator<Item = &'a str>) -> Result<(), StoreError> {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (0..ids.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "UPDATE webhook_events SET processed_at = $1, attempts = attempts + 1, lease_until = NULL WHERE id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(&sql).bind(tx.now_ms());
    for id in ids {
        query = query.bind(id);
    }
    query.execute(tx.conn()).await?;
    Ok(())
}

/// An event that failed: retried with backoff, and after [`MAX_ATTEMPTS`] kept as failed, with
/// its reason, for owners to see and retry ([`failed_events`], [`retry`]).
async fn failed(core: &Core, tx: &mut BusinessTx, event: &Due, e: &Error) -> Result<(), Error> {
    let reason = e.chain();
    let attempts = event.attempts + 1;
    let give_up = attempts >= MAX_ATTEMPTS;
    let now = tx.now_ms();
    if give_up {
        tracing::error!(event = %event.id, provider = %event.provider, error = %reason, "webhook event failed for good; kept for a person to retry");
        core.metrics.webhook_failed();
    } else {
        tracing::warn!(event = %event.id, provider = %event.provider, error = %reason, "webhook event failed; will retry");
    }
    sqlx::query("UPDATE webhook_events SET attempts = $1, last_error = $2, next_attempt_at = $3, failed_at = $4, lease_until = NULL WHERE id = $5")
        .bind(attempts)
        .bind(&reason)
        .bind(now + crate::workers::backoff_ms(attempts, 1_000, 10 * 60_000))
        .bind(give_up.then_some(now))
        .bind(&event.id)
        .execute(tx.conn())
        .await?;
    Ok(())
}

/// Media an event's messages carry, fetched by its provider before the transaction.
async fn prefetch_media(core: &Core, event: &Due) -> Result<FetchedMedia, Error> {
    match event.provider.as_str() {
        whatsapp::EVENT => whatsapp::intake::prefetch_media(core, &event.business_id, &event.payload).await,
        twilio::MESSAGE_EVENT => twilio::intake::prefetch_media(core, &event.business_id, &event.payload).await,
        _ => Ok(FetchedMedia::default()),
    }
}

/// Applies an event through its provider's intake, in the business's transaction.
async fn process_event(tx: &mut BusinessTx, event: &Due, fetched: &FetchedMedia) -> Result<(), Error> {
    match event.provider.as_str() {
        whatsapp::EVENT => whatsapp::intake::process(tx, &event.payload, fetched).await,
        twilio::MESSAGE_EVENT => twilio::intake::process_message(tx, &event.payload, fetched).await,
        twilio::STATUS_EVENT => twilio::intake::process_status(tx, &event.payload, event.received_at).await,
        twilio::CALL_EVENT => twilio::intake::process_call_status(tx, &event.payload).await,
        other => {
            tracing::warn!(provider = other, "unknown webhook provider; event marked done");
            Ok(())
        }
    }
}

/// The business's webhook events that failed for good, newest first (owners and admins).
pub async fn failed_events(core: &Core, actor: &crate::accounts::Actor, page: crate::store::PageQuery) -> Result<protocol::Page<protocol::FailedWebhook>, Error> {
    use crate::store::{Bind, Key, Order, Paging};
    actor.require(crate::accounts::Permission::ManageBusiness)?;
    let paging = Paging::new(page.cursor.as_deref(), page.limit)?;
    let mut f = crate::store::Filter::default();
    f.and("business_id = ?", [Bind::Text(actor.business_id.clone())]);
    f.and("failed_at IS NOT NULL", []);
    paging.keyset(&mut f, "failed_at", "id", Order::Desc)?;
    let sql = format!(
        "SELECT id, provider, received_at, failed_at, attempts, last_error FROM webhook_events{}{}",
        f.where_sql(),
        paging.order_by("failed_at", "id", Order::Desc)
    );
    let rows = crate::store::bind_all(sqlx::query(&sql), &f.binds).fetch_all(core.db.reader()).await?;
    let failed = rows
        .iter()
        .map(|r| {
            Ok(protocol::FailedWebhook {
                id: r.try_get("id")?,
                provider: r.try_get("provider")?,
                received_at: r.try_get("received_at")?,
                failed_at: r.try_get("failed_at")?,
                attempts: r.try_get("attempts")?,
                reason: r.try_get::<Option<String>, _>("last_error")?.unwrap_or_default(),
            })
        })
        .collect::<Result<Vec<protocol::FailedWebhook>, Error>>()?;
    Ok(paging.page(failed, |w| (Key::Int(w.failed_at.as_millis()), w.id.clone())))
}

/// Tries a failed event again (after its cause was fixed).
pub async fn retry(core: &Core, actor: &crate::accounts::Actor, id: &str) -> Result<(), Error> {
    actor.require(crate::accounts::Permission::ManageBusiness)?;
    let retried = sqlx::query(
        "UPDATE webhook_events SET failed_at = NULL, attempts = 0, next_attempt_at = $1, lease_until = NULL WHERE id = $2 AND business_id = $3 AND failed_at IS NOT NULL",
    )
    .bind(core.db.now_ms())
    .bind(id)
    .bind(&actor.business_id)
    .execute(core.db.writer())
    .await?
    .rows_affected();
    if retried == 0 {
        return Err(Error::NotFound("failed webhook event"));
    }
    core.db.wakeups().wake(crate::workers::Job::Intake);
    Ok(())
}
