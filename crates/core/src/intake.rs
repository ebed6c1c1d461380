//! Webhook intake, provider-neutral: a verified webhook is stored (the group committer makes many
//! concurrent acknowledgements share one durable commit), then a worker reads the due events and
//! processes each business's several to a transaction, which takes them (events with media to fetch
//! first are claimed with a lease before: `SKIP LOCKED` on PostgreSQL, so instances share them),
//! handing each to its provider's `intake` module (see [`process_due`]).
//! An event that fails is kept with its reason (`failed_at`), counted in the metrics, listed for
//! owners and admins and can be retried; nothing acknowledged is dropped.
use crate::Core;

use std::collections::HashMap;

use sqlx::Row;

use crate::channels::inbound::FetchedMedia;
use crate::channels::{twilio, whatsapp};
use crate::error::Error;
use crate::store::columns::read_row;
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
        Ok(Err(e)) => Err(Error::internal(e)),
        Err(_) => Err(Error::ShuttingDown),
    }
}

/// Events waiting to be committed, each with the acknowledgement to give once they are.
pub type IntakeQueue = tokio::sync::mpsc::Sender<(Vec<NewEvent>, tokio::sync::oneshot::Sender<Committed>)>;

/// Whether a group of webhooks was committed; a failure is shared by every webhook of the group.
type Committed = Result<(), std::sync::Arc<StoreError>>;

/// Group commit: webhooks that arrive while a commit is in progress are committed together in
/// the next transaction — one fsync for all of them — and each is acknowledged only after its
/// transaction commits. Under load this multiplies what one SQLite writer can take; alone, a
/// webhook is committed at once.
///
/// `wake_others`: this instance runs no workers (PostgreSQL, several instances), so each commit
/// wakes the other instances' intake instead of leaving the events to their poll.
pub fn start_committer(db: Db, wake_others: bool) -> IntakeQueue {
    let (queue, mut incoming) = tokio::sync::mpsc::channel::<(Vec<NewEvent>, tokio::sync::oneshot::Sender<Committed>)>(4096);
    tokio::spawn(async move {
        while let Some(first) = incoming.recv().await {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match incoming.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let result = commit_events(&db, batch.iter().flat_map(|(events, _)| events.iter())).await.map_err(std::sync::Arc::new);
            if let Err(e) = &result {
                tracing::error!(error = %e, webhooks = batch.len(), "could not commit webhooks; they are refused and will be redelivered");
            }
            for (_, done) in batch {
                let _ = done.send(result.clone());
            }
            db.wakeups().wake(crate::workers::Job::Intake);
            if wake_others && result.is_ok() {
                let wake = crate::store::Signal::Wake { jobs: vec![crate::workers::Job::Intake.as_str().to_owned()] };
                if let Err(e) = db.announce_to_others(wake).await {
                    // The others' poll still finds the events.
                    tracing::warn!(error = %e, "could not wake the other instances' intake");
                }
            }
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
const BATCH: i64 = 512;
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
    /// A WhatsApp notification's messages, read before any transaction when they are all plain
    /// text ([`read_payloads`]).
    texts: Option<whatsapp::intake::PlainTexts>,
}

/// Which due events a step looks at: the longest due first. Ordered by `next_attempt_at`, the
/// pending index's own order, so the first [`BATCH`] are read without sorting every pending event
/// (a fresh event is due when it is received; a retried one, when its backoff ends).
const DUE: &str = "processed_at IS NULL AND failed_at IS NULL AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1)";

fn due_from_rows(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Due>, StoreError> {
    let mut due = rows
        .iter()
        .map(|r| {
            Ok(read_row!(r => Due { id, provider, business_id, payload, attempts, received_at, texts = None }))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    due.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
    Ok(due)
}

/// Due events, read without claiming them (a reader: on SQLite this does not wait for the
/// writer). Events with nothing to fetch are then taken inside the transaction that processes
/// them ([`take`]), so a step costs one write transaction, not a claim's commit and then another.
async fn peek(core: &Core) -> Result<Vec<Due>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT id, provider, business_id, payload, attempts, received_at FROM webhook_events WHERE {DUE} ORDER BY next_attempt_at, id LIMIT $2"
    ))
    .bind(core.db.now_ms())
    .bind(BATCH)
    .fetch_all(core.db.reader())
    .await?;
    due_from_rows(&rows)
}

/// Claims due events with a lease (`SKIP LOCKED` on PostgreSQL, so instances share the work), for
/// events whose media is fetched before their transaction.
async fn claim(core: &Core) -> Result<Vec<Due>, StoreError> {
    let now = core.db.now_ms();
    let lock = if core.db.engine() == Engine::Postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
    let rows = sqlx::query(&format!(
        "UPDATE webhook_events SET lease_until = $2 WHERE id IN (SELECT id FROM webhook_events WHERE {DUE} ORDER BY next_attempt_at, id LIMIT $3{lock}) \
         RETURNING id, provider, business_id, payload, attempts, received_at"
    ))
    .bind(now)
    .bind(now + LEASE_MS)
    .bind(BATCH)
    .fetch_all(core.db.writer())
    .await?;
    due_from_rows(&rows)
}

/// Takes peeked events in the transaction that processes them: those still due (another instance
/// may have processed or leased one meanwhile — on PostgreSQL it holds the business's lock until
/// it commits, so what it did is seen here) are marked processed in this transaction, one write
/// of each event's row: committed, they are done; rolled back, given back; one that fails is
/// unmarked by [`failed`]. Returns their ids with their tries before this one.
async fn take(tx: &mut BusinessTx, events: &[&Due]) -> Result<HashMap<String, i64>, StoreError> {
    let now = tx.now_ms();
    let mut taken = HashMap::with_capacity(events.len());
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    let sql = format!(
        "UPDATE webhook_events SET processed_at = $1, attempts = attempts + 1, lease_until = NULL WHERE {} AND {DUE} RETURNING id, attempts",
        crate::store::json_in(tx.engine(), "id", "$2")
    );
    for row in sqlx::query(&sql).bind(now).bind(crate::store::json_param(&ids)?).fetch_all(tx.conn()).await? {
        let attempts: i64 = row.try_get("attempts")?;
        taken.insert(row.try_get("id")?, attempts - 1);
    }
    Ok(taken)
}

/// Events of one business committed together: small enough that the first of them is in its
/// conversation soon (a transaction's events become visible at its commit). Plain texts land
/// set-wise, so a transaction's cost is mostly per statement and per commit, not per event:
/// 128 measured better than 32 and 64 both for a backlog and for the first event's wait; 256
/// since a batch's hand-overs went set-wise (a backlog's batch holds the single SQLite writer
/// ~30 ms); 512 was no better beyond the noise (BENCHMARKS.md, issue 13, sessions 8 and 11).
const PER_TRANSACTION: usize = 256;

/// Processes due events, a business's at a time, [`PER_TRANSACTION`] in a transaction; returns how
/// many were handled. Exactly once: an event and its effects commit together, and messages are
/// unique per provider id.
///
/// Due events are read first without a claim; when none has media to fetch (the common case),
/// each transaction takes its events itself ([`take`]) — one write transaction per batch. When
/// some have, the events are claimed with a lease (committed) and their media fetched before the
/// transactions, so no other instance fetches it too.
///
/// A transaction first applies its events together (plain text messages set-wise); if one
/// fails, it is rolled back and its events up to the failing one are applied again each on its
/// own (a savepoint each), so the failing event is kept with its reason and the others land — the
/// common case pays for no savepoints. If the set-wise part fails, all of the transaction's
/// events are applied again each on its own.
pub async fn process_due(core: &Core) -> Result<usize, Error> {
    let due = peek(core).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let due = read_payloads(due).await?;
    let (due, taking) = if due.iter().any(fetches_media) { (read_payloads(claim(core).await?).await?, Taking::Claimed) } else { (due, Taking::InTransaction) };
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
            let media = match taking {
                Taking::Claimed => prefetch_media(core, &event).await,
                Taking::InTransaction => Ok(FetchedMedia::default()),
            };
            work.push((event, media));
        }
        let mut rest = &work[..];
        while !rest.is_empty() {
            let batch = &rest[..rest.len().min(PER_TRANSACTION)];
            let (done, applied) = match apply_together(core, &business_id, batch, taking).await? {
                Applied::All(applied) => (batch.len(), applied),
                Applied::FailedAt(failing) => (failing + 1, apply_each(core, &business_id, &batch[..=failing], taking).await?),
                Applied::SetFailed(e) => {
                    tracing::warn!(error = %e.chain(), events = batch.len(), "webhook events could not be processed together; processing each on its own");
                    (batch.len(), apply_each(core, &business_id, batch, taking).await?)
                }
            };
            rest = &rest[done..];
            handled += applied;
        }
    }
    Ok(handled)
}

/// Reads the events' WhatsApp plain texts ([`whatsapp::intake::plain_texts`]) before any
/// transaction, on both cores for a backlog: reading payloads is most of a batch's CPU, and
/// inside the transaction it would hold the writer (on SQLite, the one acknowledgements wait for).
async fn read_payloads(mut due: Vec<Due>) -> Result<Vec<Due>, Error> {
    fn read(mut events: Vec<Due>) -> Vec<Due> {
        for event in &mut events {
            if event.provider == whatsapp::EVENT {
                event.texts = whatsapp::intake::plain_texts(&event.payload);
            }
        }
        events
    }
    // Only a backlog is worth another thread: handing a few live events to one costs more
    // latency (measured: +4 ms at the median) than reading them here.
    if due.len() < 128 {
        return Ok(read(due));
    }
    let second = due.split_off(due.len() / 2);
    let other = tokio::task::spawn_blocking(move || read(second));
    let mut due = read(due);
    due.extend(other.await.map_err(Error::internal)?);
    Ok(due)
}

/// Whether an event has media to fetch before its transaction.
fn fetches_media(event: &Due) -> bool {
    match event.provider.as_str() {
        // Plain texts have none.
        whatsapp::EVENT => event.texts.is_none() && whatsapp::intake::carries_media(&event.payload),
        twilio::MESSAGE_EVENT => twilio::intake::carries_media(&event.payload),
        _ => false,
    }
}

/// How a step holds its events: claimed with a committed lease before its transactions, or taken
/// by each transaction ([`take`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Taking {
    Claimed,
    InTransaction,
}

/// The events of `batch` this transaction may process, with their tries so far: all of them when
/// they were claimed, else those it could take.
async fn taken(tx: &mut BusinessTx, batch: &[(Due, Result<FetchedMedia, Error>)], taking: Taking) -> Result<HashMap<String, i64>, StoreError> {
    match taking {
        Taking::Claimed => Ok(batch.iter().map(|(e, _)| (e.id.clone(), e.attempts)).collect()),
        Taking::InTransaction => take(tx, &batch.iter().map(|(e, _)| e).collect::<Vec<_>>()).await,
    }
}

/// How applying a transaction's events together went (nothing is committed unless all of them
/// applied).
enum Applied {
    /// Committed; how many events it processed (another instance may have taken some).
    All(usize),
    /// Event `i` failed on its own.
    FailedAt(usize),
    /// Plain text messages applied together failed (which event's is not known).
    SetFailed(Error),
}

/// Applies the events in one transaction and commits it: plain text messages set-wise
/// ([`whatsapp::intake::Texts`]: a few statements for all of them), each other event on its own
/// in its turn (the texts taken before it land first).
async fn apply_together(core: &Core, business_id: &str, batch: &[(Due, Result<FetchedMedia, Error>)], taking: Taking) -> Result<Applied, Error> {
    let mut tx = core.db.begin_business(business_id).await?;
    tx.defer_changes();
    let taken = taken(&mut tx, batch, taking).await?;
    if taken.is_empty() {
        tx.rollback().await?;
        return Ok(Applied::All(0));
    }
    let mut texts = whatsapp::intake::Texts::default();
    for (i, (event, media)) in batch.iter().enumerate() {
        if !taken.contains_key(&event.id) {
            continue;
        }
        if let (Some(plain), Ok(_)) = (&event.texts, media) {
            texts.take(plain);
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
    if taking == Taking::Claimed {
        mark_processed(&mut tx, batch.iter().map(|(e, _)| e.id.as_str())).await?;
    }
    tx.commit_even_if_unchanged().await?;
    Ok(Applied::All(taken.len()))
}

/// Applies the events in one transaction, each undone on its own if it fails (and kept as
/// failed, see [`failed`]); returns how many it processed.
async fn apply_each(core: &Core, business_id: &str, batch: &[(Due, Result<FetchedMedia, Error>)], taking: Taking) -> Result<usize, Error> {
    let mut tx = core.db.begin_business(business_id).await?;
    tx.defer_changes();
    let taken = taken(&mut tx, batch, taking).await?;
    let mut processed = Vec::with_capacity(batch.len());
    for (event, media) in batch {
        let Some(&attempts) = taken.get(&event.id) else { continue };
        let media = match media {
            Ok(media) => media,
            Err(e) => {
                failed(core, &mut tx, event, attempts, e).await?;
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
                failed(core, &mut tx, event, attempts, &e).await?;
            }
        }
    }
    if taking == Taking::Claimed {
        mark_processed(&mut tx, processed.into_iter()).await?;
    }
    tx.commit_even_if_unchanged().await?;
    Ok(taken.len())
}

/// Marks the events processed (one statement for all of them).
async fn mark_processed<'a>(tx: &mut BusinessTx, ids: impl Iterator<Item = &'a str>) -> Result<(), StoreError> {
    let ids: Vec<&str> = ids.collect();
    if ids.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE webhook_events SET processed_at = $1, attempts = attempts + 1, lease_until = NULL WHERE id IN ({})",
        crate::store::placeholders(2, ids.len())
    );
    let mut query = sqlx::query(&sql).bind(tx.now_ms());
    for id in ids {
        query = query.bind(id);
    }
    query.execute(tx.conn()).await?;
    Ok(())
}

/// An event that failed (`tried`: its tries before this one): retried with backoff, and after
/// [`MAX_ATTEMPTS`] kept as failed, with its reason, for owners to see and retry
/// ([`failed_events`], [`retry`]).
async fn failed(core: &Core, tx: &mut BusinessTx, event: &Due, tried: i64, e: &Error) -> Result<(), Error> {
    let reason = e.chain();
    let attempts = tried + 1;
    let give_up = attempts >= MAX_ATTEMPTS;
    let now = tx.now_ms();
    if give_up {
        tracing::error!(event = %event.id, provider = %event.provider, error = %reason, "webhook event failed for good; kept for a person to retry");
        core.metrics.webhook_failed();
    } else {
        tracing::warn!(event = %event.id, provider = %event.provider, error = %reason, "webhook event failed; will retry");
    }
    sqlx::query(
        "UPDATE webhook_events SET processed_at = NULL, attempts = $1, last_error = $2, next_attempt_at = $3, failed_at = $4, lease_until = NULL WHERE id = $5",
    )
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
