//! The database: one storage layer over SQLite (embedded default) and PostgreSQL (several
//! instances, one database), with one set of portable migrations.
//!
//! All business data is written through a [`BusinessTx`]: it is the only way to get a write
//! transaction on a business's data, and it records each change in the business's change log in
//! the same transaction. Recording bumps `businesses.last_seq` with `UPDATE … RETURNING`, which
//! takes the business row's write lock, so seqs are handed out in commit order and without gaps
//! (a rolled-back transaction gives its seqs back). A transaction that records nothing refuses to
//! commit, so a write path that forgot the log fails loudly in tests instead of silently
//! desynchronising consoles.
//!
//! A transaction opened for a console's mutation ([`Db::begin_mutation`]) also marks that mutation
//! applied when it commits, in the same transaction, so a replay after a crash can never apply it
//! twice. Work for the background workers is announced after commit ([`BusinessTx::wake`]).
//!
//! SQLite runs in WAL mode with `synchronous=FULL` (an acknowledged write survives power loss),
//! foreign keys on, and a busy timeout. Writes go through a single connection, so writers queue
//! in-process instead of fighting over SQLite's lock, and business transactions begin IMMEDIATE;
//! reads use a pool of read-only connections.

pub mod columns;
pub mod migrations;
pub mod query;
pub mod records;

pub use query::{bind_all, cursor, placeholders, Bind, Filter, Key, Order, PageQuery, Paging};
pub use records::Record;

use std::sync::Arc;
use std::time::Duration;

use protocol::{ClientId, EntityKind};
use serde::Serialize;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyConnection;
use sqlx::{Any, AnyPool, Executor, Transaction};
use tokio::sync::broadcast;

use crate::clock::Clock;
use crate::workers::{Job, Wakeups};

/// The PostgreSQL notification channel instances tell each other [`Signal`]s on.
pub const SIGNALS_CHANNEL: &str = "switchboard_signals";

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/cloud");

/// The embedded migrations (their text is where the privacy map is read from).
pub fn migrator() -> &'static sqlx::migrate::Migrator {
    &MIGRATOR
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read: {0}")]
    Corrupt(String),
    #[error("a business transaction wrote without recording a change")]
    NothingRecorded,
    #[error("unsupported database URL (expected sqlite:// or postgres://)")]
    UnsupportedUrl,
    #[error("cannot encode change: {0}")]
    Encode(#[from] serde_json::Error),
}

impl StoreError {
    /// A unique constraint refused the write (the caller usually turns this into a 409).
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.is_unique_violation())
    }

    /// PostgreSQL's exclusion constraint refused the write (two bookings overlapping).
    pub fn is_exclusion_violation(&self) -> bool {
        matches!(self, StoreError::Database(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23P01"))
    }
}

/// What happened, for whoever listens in this process and (on PostgreSQL) in the other instances
/// sharing the database: commits (consoles pull), work for the workers, live frames (presence,
/// typing) and account changes (live sessions re-check who they serve). Hints only: a lost one
/// costs latency, never data.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Signal {
    Committed { business_id: String, seq: i64 },
    Wake { jobs: Vec<String> },
    /// A live frame from `instance` for a business's consoles (see `live`).
    Live { instance: String, business_id: String, frame: serde_json::Value },
    AccountChanged { staff_id: String },
}

/// On the wire between instances: who sent it, and what.
#[derive(Serialize, serde::Deserialize)]
struct Envelope {
    instance: String,
    signal: Signal,
}

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    /// Where to open a LISTEN connection (PostgreSQL; never logged: it may hold a password).
    url: String,
    /// Tells this process's notifications from other instances'.
    instance: String,
    writer: AnyPool,
    reader: AnyPool,
    signals: broadcast::Sender<Signal>,
    clock: Arc<dyn Clock>,
    wake: Arc<Wakeups>,
}

impl Db {
    pub async fn connect(url: &str, max_connections: u32, clock: Arc<dyn Clock>) -> Result<Db, StoreError> {
        sqlx::any::install_default_drivers();
        let engine = if url.starts_with("sqlite:") {
            Engine::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Engine::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        let (writer, reader) = match engine {
            Engine::Sqlite => {
                // No ping before each acquire: a SQLite connection is a thread in this process,
                // and the ping was one more hand-over to it per statement outside a transaction.
                let writer = AnyPoolOptions::new()
                    .max_connections(1)
                    .test_before_acquire(false)
                    .acquire_timeout(Duration::from_secs(30))
                    .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn, false).await }))
                    .connect(url)
                    .await?;
                let reader = AnyPoolOptions::new()
                    .max_connections(4)
                    .test_before_acquire(false)
                    .after_connect(|conn, _| Box::pin(async move { sqlite_pragmas(conn, true).await }))
                    .connect(url)
                    .await?;
                (writer, reader)
            }
            Engine::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(max_connections)
                    .acquire_timeout(Duration::from_secs(10))
                    .connect(url)
                    .await?;
                (pool.clone(), pool)
            }
        };
        let (signals, _) = broadcast::channel(4096);
        let instance = crate::clock::new_id(clock.as_ref());
        let inner = Inner { engine, url: url.to_owned(), instance, writer, reader, signals, clock, wake: Arc::new(Wakeups::default()) };
        Ok(Db { inner: Arc::new(inner) })
    }

    /// The service's clock: the only source of "now" in the core.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    pub fn now(&self) -> protocol::Timestamp {
        self.inner.clock.now()
    }

    /// A new id (UUIDv7 at the clock's now).
    pub fn new_id<T: From<String>>(&self) -> T {
        T::from(crate::clock::new_id(self.inner.clock.as_ref()))
    }

    /// Wake-ups for the background workers.
    pub fn wakeups(&self) -> &Arc<Wakeups> {
        &self.inner.wake
    }

    /// This process's id among several instances on one database.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    pub fn engine(&self) -> Engine {
        self.inner.engine
    }

    /// Applies pending migrations (idempotent; on PostgreSQL concurrent instances take a lock).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        migrations::repair(self).await?;
        MIGRATOR.run(&self.inner.writer).await?;
        if self.engine() == Engine::Postgres {
            self.postgres_constraints().await?;
        }
        // Derived data a migration asked for: the reports' summaries of older outcomes.
        crate::reports::summaries::rebuild_pending(self).await?;
        Ok(())
    }

    /// What portable SQL cannot say: on PostgreSQL the database itself refuses two active
    /// bookings of one staff member whose blocked times overlap, whatever code path writes them.
    /// (On SQLite the single writer connection and the check in the booking transaction do it.)
    async fn postgres_constraints(&self) -> Result<(), StoreError> {
        let mut tx = self.inner.writer.begin().await?;
        // Instances starting together take turns.
        sqlx::query("SELECT pg_advisory_xact_lock(7355608)").execute(&mut *tx).await?;
        sqlx::query("CREATE EXTENSION IF NOT EXISTS btree_gist").execute(&mut *tx).await?;
        sqlx::query(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'bookings_no_overlap') THEN \
                 ALTER TABLE bookings ADD CONSTRAINT bookings_no_overlap EXCLUDE USING gist \
                   (staff_id WITH =, int8range(block_start, block_end) WITH &&) \
                   WHERE (status IN ('pending', 'confirmed')); \
               END IF; \
             END $$",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Pool for reads. On SQLite its connections are read-only.
    pub fn reader(&self) -> &AnyPool {
        &self.inner.reader
    }

    /// Pool for writes that are not business data (sessions, tokens). Business data goes through
    /// [`Db::begin_business`].
    pub fn writer(&self) -> &AnyPool {
        &self.inner.writer
    }

    pub fn pools(&self) -> [(&'static str, &AnyPool); 2] {
        [("writer", &self.inner.writer), ("reader", &self.inner.reader)]
    }

    /// Starts a write transaction on one business's data.
    pub async fn begin_business(&self, business_id: &str) -> Result<BusinessTx, StoreError> {
        // On SQLite, take the write lock up front (BEGIN IMMEDIATE): a transaction that reads,
        // checks (is this slot free?) and then writes can never find its reads overtaken, even if
        // another process opens the same file.
        let tx = match self.engine() {
            Engine::Sqlite => self.inner.writer.begin_with("BEGIN IMMEDIATE").await?,
            Engine::Postgres => self.inner.writer.begin().await?,
        };
        let mut tx = BusinessTx { tx, business_id: business_id.to_owned(), last_seq: None, db: self.clone(), mark: None, wakes: Vec::new(), deferred: None, audits: None };
        tx.lock().await?;
        Ok(tx)
    }

    /// Starts the transaction that applies a console's mutation: committing it also marks the
    /// mutation applied (see the module docs). Whatever the mutation changes goes through it.
    pub async fn begin_mutation(&self, business_id: &str, mark: MutationMark) -> Result<BusinessTx, StoreError> {
        let mut tx = self.begin_business(business_id).await?;
        tx.mark = Some(mark);
        Ok(tx)
    }

    /// Signals from this process and the other instances.
    pub fn subscribe(&self) -> broadcast::Receiver<Signal> {
        self.inner.signals.subscribe()
    }

    /// Tells this process's listeners, and the other instances (PostgreSQL), about `signal`.
    pub async fn announce(&self, signal: Signal) -> Result<(), StoreError> {
        if self.engine() == Engine::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(SIGNALS_CHANNEL).bind(self.envelope(&signal)?).execute(self.writer()).await?;
        }
        let _ = self.inner.signals.send(signal);
        Ok(())
    }

    /// Tells only the other instances (PostgreSQL; nothing on SQLite).
    pub async fn announce_to_others(&self, signal: Signal) -> Result<(), StoreError> {
        if self.engine() == Engine::Postgres {
            sqlx::query("SELECT pg_notify($1, $2)").bind(SIGNALS_CHANNEL).bind(self.envelope(&signal)?).execute(self.writer()).await?;
        }
        Ok(())
    }

    fn envelope(&self, signal: &Signal) -> Result<String, StoreError> {
        Ok(serde_json::to_string(&Envelope { instance: self.inner.instance.clone(), signal: signal.clone() })?)
    }

    /// On PostgreSQL with several instances: turns the other instances' signals into this
    /// instance's, so a console connected here hears about a webhook processed there, and work one
    /// instance queued wakes the workers here too. Reconnects with backoff; signals missed meanwhile
    /// only delay consoles and workers, which pull and poll anyway. Returns when `stop` flips (or
    /// at once on SQLite).
    pub async fn relay_other_instances(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        if self.engine() != Engine::Postgres {
            return;
        }
        let mut failures = 0u32;
        while !*stop.borrow() {
            let mut listener = match sqlx::postgres::PgListener::connect(&self.inner.url).await {
                Ok(l) => l,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(error = %e, "cannot listen for other instances' commits; retrying");
                    let wait = Duration::from_millis(200 * 2u64.pow(failures.min(6)));
                    tokio::select! { _ = tokio::time::sleep(wait) => continue, _ = stop.changed() => return }
                }
            };
            if let Err(e) = listener.listen(SIGNALS_CHANNEL).await {
                tracing::warn!(error = %e, "LISTEN failed; retrying");
                tokio::select! { _ = tokio::time::sleep(Duration::from_secs(1)) => continue, _ = stop.changed() => return }
            }
            failures = 0;
            loop {
                tokio::select! {
                    n = listener.try_recv() => match n {
                        Ok(Some(n)) => {
                            let Ok(envelope) = serde_json::from_str::<Envelope>(n.payload()) else { continue };
                            if envelope.instance == self.inner.instance {
                                continue;
                            }
                            if let Signal::Wake { jobs } = &envelope.signal {
                                self.inner.wake.notify(&jobs.iter().filter_map(|j| Job::parse(j)).collect::<Vec<_>>());
                            }
                            let _ = self.inner.signals.send(envelope.signal);
                        }
                        // The connection dropped; the next call reconnects and listens again.
                        Ok(None) => tracing::warn!("lost the LISTEN connection; reconnecting"),
                        Err(e) => {
                            tracing::warn!(error = %e, "LISTEN connection failed");
                            break;
                        }
                    },
                    _ = stop.changed() => return,
                }
            }
        }
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(self.reader()).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.inner.writer.close().await;
        self.inner.reader.close().await;
    }
}

async fn sqlite_pragmas(conn: &mut AnyConnection, read_only: bool) -> Result<(), sqlx::Error> {
    conn.execute("PRAGMA busy_timeout = 10000").await?;
    conn.execute("PRAGMA foreign_keys = ON").await?;
    if read_only {
        conn.execute("PRAGMA query_only = ON").await?;
    } else {
        conn.execute("PRAGMA journal_mode = WAL").await?;
        conn.execute("PRAGMA synchronous = FULL").await?;
    }
    Ok(())
}

/// A part of a business transaction that can be undone on its own (see [`BusinessTx::begin_part`]).
#[must_use]
pub struct Part {
    last_seq: Option<i64>,
    /// How many deferred change-log entries there were when it began.
    deferred: usize,
    /// How many deferred audit entries there were when it began.
    audits: usize,
}

/// A change-log entry held until commit ([`BusinessTx::defer_changes`]).
struct Deferred {
    entity: EntityKind,
    id: String,
    data: Option<String>,
    at: i64,
}

/// An audit-log entry held until commit ([`BusinessTx::defer_audit`]).
struct DeferredAudit {
    id: String,
    actor_staff_id: Option<String>,
    action: String,
    target: Option<(String, String)>,
    detail: String,
    at: i64,
}

/// A console's mutation being applied (see [`Db::begin_mutation`]).
#[derive(Debug, Clone)]
pub struct MutationMark {
    pub client_id: ClientId,
    pub mutation_id: i64,
    pub name: String,
    /// What applying it made (e.g. the message's id), recorded with the mark: a replay that
    /// finds the mark answers exactly what the first push answered.
    pub details: Option<serde_json::Value>,
}

/// A write transaction on one business's data. See the module docs.
pub struct BusinessTx {
    tx: Transaction<'static, Any>,
    business_id: String,
    last_seq: Option<i64>,
    db: Db,
    /// Set for a console's mutation: the commit marks it applied.
    mark: Option<MutationMark>,
    /// Workers to wake once this commits.
    wakes: Vec<Job>,
    /// `Some` once [`BusinessTx::defer_changes`] was called: the change-log entries to write at commit.
    deferred: Option<Vec<Deferred>>,
    /// `Some` once [`BusinessTx::defer_audit`] was called: the audit entries to write at commit.
    audits: Option<Vec<DeferredAudit>>,
}

impl BusinessTx {
    pub fn business_id(&self) -> &str {
        &self.business_id
    }

    pub fn engine(&self) -> Engine {
        self.db.engine()
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    pub fn now_ms(&self) -> i64 {
        self.db.now_ms()
    }

    pub fn new_id<T: From<String>>(&self) -> T {
        self.db.new_id()
    }

    /// What applying this transaction's mutation made, to record with its mark.
    pub fn set_mutation_details(&mut self, details: Option<serde_json::Value>) {
        if let Some(mark) = &mut self.mark {
            mark.details = details;
        }
    }

    /// The mutation this transaction applies, if it is one.
    pub fn mutation(&self) -> Option<&MutationMark> {
        self.mark.as_ref()
    }

    /// Wakes `job` once this transaction commits (the work it queued is then visible).
    pub fn wake(&mut self, job: Job) {
        if !self.wakes.contains(&job) {
            self.wakes.push(job);
        }
    }

    /// Serialises this transaction with every other write of the business, so read-check-write
    /// logic (is this slot free? is this the last owner? have we stored this message?) cannot
    /// interleave. SQLite transactions already hold the write lock (BEGIN IMMEDIATE); on
    /// PostgreSQL this locks the business row (which the change log's seq bump would lock anyway,
    /// only later). Taken by [`Db::begin_business`].
    async fn lock(&mut self) -> Result<(), StoreError> {
        if self.engine() == Engine::Postgres {
            sqlx::query("SELECT id FROM businesses WHERE id = $1 FOR UPDATE").bind(&self.business_id).execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// The connection, for the statements of this transaction.
    pub fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    /// Holds this transaction's change-log entries until it commits, then writes them at once:
    /// one seq bump and one multi-row statement, and an entity recorded several times (a
    /// conversation with several messages in one batch of webhooks) once, with its last state.
    /// For transactions that record many changes (intake batches). [`BusinessTx::record`] then
    /// returns 0 instead of the seq (which is only known at commit).
    pub fn defer_changes(&mut self) {
        self.deferred.get_or_insert_with(Vec::new);
    }

    /// Holds this transaction's audit entries until it commits, then writes them with multi-row
    /// statements. For transactions that audit many things (a batch of automated sends).
    pub fn defer_audit(&mut self) {
        self.audits.get_or_insert_with(Vec::new);
    }

    /// Records that `entity` `id` now has `state` (`None`: it was deleted). Returns its seq (0 for
    /// a transaction that defers its changes, see [`BusinessTx::defer_changes`]).
    pub async fn record<T: Serialize>(&mut self, entity: EntityKind, id: &str, state: Option<&T>) -> Result<i64, StoreError> {
        if self.deferred.is_some() {
            let data = state.map(serde_json::to_string).transpose()?;
            let at = self.now_ms();
            self.deferred.get_or_insert_with(Vec::new).push(Deferred { entity, id: id.to_owned(), data, at });
            return Ok(0);
        }
        let seq: i64 = sqlx::query_scalar("UPDATE businesses SET last_seq = last_seq + 1 WHERE id = $1 RETURNING last_seq")
            .bind(&self.business_id)
            .fetch_one(&mut *self.tx)
            .await?;
        let data = state.map(serde_json::to_string).transpose()?;
        sqlx::query(
            "INSERT INTO changes (business_id, entity, entity_id, seq, data, changed_at) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (business_id, entity, entity_id) DO UPDATE SET seq = excluded.seq, data = excluded.data, changed_at = excluded.changed_at",
        )
        .bind(&self.business_id)
        .bind(entity.as_str())
        .bind(id)
        .bind(seq)
        .bind(data)
        .bind(self.now_ms())
        .execute(&mut *self.tx)
        .await?;
        self.last_seq = Some(seq);
        Ok(seq)
    }

    /// Deletes one of this business's rows in `table` and records the entity's tombstone.
    /// `false` when the business has no such row (nothing is recorded).
    pub async fn delete_row(&mut self, table: &'static str, entity: EntityKind, id: &str) -> Result<bool, StoreError> {
        self.remove_row(format!("DELETE FROM {table} WHERE id = $1 AND business_id = $2"), None, entity, id).await
    }

    /// Marks one of this business's live rows in `table` deleted (`deleted_at` now, plus
    /// `also_set`, e.g. `", active = 0"`, where `$3` is now) and records the entity's tombstone.
    /// `false` when the business has no such live row (nothing is recorded).
    pub async fn soft_delete_row(&mut self, table: &'static str, also_set: &'static str, entity: EntityKind, id: &str) -> Result<bool, StoreError> {
        let sql = format!("UPDATE {table} SET deleted_at = $3{also_set} WHERE id = $1 AND business_id = $2 AND deleted_at IS NULL");
        let now = self.now_ms();
        self.remove_row(sql, Some(now), entity, id).await
    }

    /// Runs a delete (`$1` the id, `$2` the business, `$3` now if given); records the tombstone
    /// if it touched a row.
    async fn remove_row(&mut self, sql: String, now: Option<i64>, entity: EntityKind, id: &str) -> Result<bool, StoreError> {
        let mut query = sqlx::query(&sql).bind(id).bind(&self.business_id);
        if let Some(now) = now {
            query = query.bind(now);
        }
        let removed = query.execute(&mut *self.tx).await?.rows_affected() > 0;
        if removed {
            self.record::<()>(entity, id, None).await?;
        }
        Ok(removed)
    }

    /// Adds an entry to the business's audit log (who did what; not synced).
    pub async fn audit(
        &mut self,
        actor_staff_id: Option<&str>,
        action: &str,
        target: Option<(&str, &str)>,
        detail: serde_json::Value,
    ) -> Result<(), StoreError> {
        if let Some(audits) = &mut self.audits {
            audits.push(DeferredAudit {
                id: self.db.new_id(),
                actor_staff_id: actor_staff_id.map(str::to_owned),
                action: action.to_owned(),
                target: target.map(|(kind, id)| (kind.to_owned(), id.to_owned())),
                detail: detail.to_string(),
                at: self.db.now_ms(),
            });
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO audit_log (id, business_id, actor_staff_id, action, target_kind, target_id, detail, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(self.new_id::<String>())
        .bind(&self.business_id)
        .bind(actor_staff_id)
        .bind(action)
        .bind(target.map(|t| t.0))
        .bind(target.map(|t| t.1))
        .bind(detail.to_string())
        .bind(self.now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Commits a transaction that may legitimately have changed nothing consoles see (a webhook
    /// status for a message we do not know, a send whose outcome only touched the outbox).
    /// Everything it did record is announced as usual.
    pub async fn commit_even_if_unchanged(mut self) -> Result<Option<i64>, StoreError> {
        self.write_deferred().await?;
        if self.last_seq.is_some() {
            return self.commit().await.map(Some);
        }
        self.mark_applied().await?;
        self.notify_others(None).await?;
        self.tx.commit().await?;
        self.db.inner.wake.notify(&self.wakes);
        Ok(None)
    }

    /// Other instances (PostgreSQL): one notification per transaction, delivered on commit,
    /// for the commit and for the work it queued — both sent by one statement, in that order.
    async fn notify_others(&mut self, seq: Option<i64>) -> Result<(), StoreError> {
        if self.engine() != Engine::Postgres {
            return Ok(());
        }
        let mut signals = Vec::new();
        if let Some(seq) = seq {
            signals.push(Signal::Committed { business_id: self.business_id.clone(), seq });
        }
        if !self.wakes.is_empty() {
            signals.push(Signal::Wake { jobs: self.wakes.iter().map(|j| j.as_str().to_owned()).collect() });
        }
        if signals.is_empty() {
            return Ok(());
        }
        let calls: Vec<String> = (0..signals.len()).map(|i| format!("pg_notify($1, ${})", i + 2)).collect();
        let sql = format!("SELECT {}", calls.join(", "));
        let mut query = sqlx::query(&sql).bind(SIGNALS_CHANNEL);
        for signal in &signals {
            query = query.bind(self.db.envelope(signal)?);
        }
        query.execute(&mut *self.tx).await?;
        Ok(())
    }

    /// For a mutation's transaction: records it as applied, with its outcome, in this
    /// transaction. If the same mutation was applied meanwhile, the key refuses this commit, so it
    /// can never take effect twice.
    async fn mark_applied(&mut self) -> Result<(), StoreError> {
        let Some(mark) = self.mark.clone() else { return Ok(()) };
        let outcome = serde_json::json!({"id": mark.mutation_id, "ok": true, "code": null, "message": null, "details": mark.details});
        sqlx::query(
            "INSERT INTO sync_mutations (client_id, mutation_id, business_id, name, outcome, applied_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&mark.client_id)
        .bind(mark.mutation_id)
        .bind(&self.business_id)
        .bind(&mark.name)
        .bind(outcome.to_string())
        .bind(self.now_ms())
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Starts a part of the transaction that can be undone on its own ([`BusinessTx::undo_part`])
    /// without losing the rest (one webhook event of a batch that fails). Returns what to pass
    /// back.
    pub async fn begin_part(&mut self) -> Result<Part, StoreError> {
        sqlx::query("SAVEPOINT part").execute(&mut *self.tx).await?;
        Ok(Part { last_seq: self.last_seq, deferred: self.deferred.as_ref().map_or(0, Vec::len), audits: self.audits.as_ref().map_or(0, Vec::len) })
    }

    /// Keeps what the part did.
    pub async fn keep_part(&mut self, _part: Part) -> Result<(), StoreError> {
        sqlx::query("RELEASE SAVEPOINT part").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Undoes what the part did (the change log's seqs it took are given back too).
    pub async fn undo_part(&mut self, part: Part) -> Result<(), StoreError> {
        sqlx::query("ROLLBACK TO SAVEPOINT part").execute(&mut *self.tx).await?;
        sqlx::query("RELEASE SAVEPOINT part").execute(&mut *self.tx).await?;
        self.last_seq = part.last_seq;
        if let Some(deferred) = &mut self.deferred {
            deferred.truncate(part.deferred);
        }
        if let Some(audits) = &mut self.audits {
            audits.truncate(part.audits);
        }
        Ok(())
    }

    /// Writes the deferred audit entries (see [`BusinessTx::defer_audit`]), in the order they
    /// were made, with multi-row statements.
    async fn write_audits(&mut self) -> Result<(), StoreError> {
        let Some(audits) = self.audits.take() else { return Ok(()) };
        for chunk in audits.chunks(rows_per_statement(7)) {
            let rows: Vec<String> = (0..chunk.len())
                .map(|r| {
                    let p = 7 * r + 2;
                    format!("(${p}, $1, ${}, ${}, ${}, ${}, ${}, ${})", p + 1, p + 2, p + 3, p + 4, p + 5, p + 6)
                })
                .collect();
            let sql = format!(
                "INSERT INTO audit_log (id, business_id, actor_staff_id, action, target_kind, target_id, detail, created_at) VALUES {}",
                rows.join(", ")
            );
            let mut query = sqlx::query(&sql).bind(&self.business_id);
            for a in chunk {
                let (kind, id) = match &a.target {
                    Some((kind, id)) => (Some(kind.as_str()), Some(id.as_str())),
                    None => (None, None),
                };
                query = query.bind(&a.id).bind(a.actor_staff_id.as_deref()).bind(a.action.as_str()).bind(kind).bind(id).bind(a.detail.as_str()).bind(a.at);
            }
            query.execute(&mut *self.tx).await?;
        }
        Ok(())
    }

    /// Writes the deferred change-log entries (see [`BusinessTx::defer_changes`]): each entity's
    /// last state, seqs handed out in the order of those last records, without gaps. Deferred
    /// audit entries are written first.
    async fn write_deferred(&mut self) -> Result<(), StoreError> {
        self.write_audits().await?;
        let Some(entries) = self.deferred.take() else { return Ok(()) };
        if entries.is_empty() {
            return Ok(());
        }
        let mut last = std::collections::HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            last.insert((e.entity.as_str(), e.id.as_str()), i);
        }
        let kept: Vec<&Deferred> = entries.iter().enumerate().filter(|(i, e)| last[&(e.entity.as_str(), e.id.as_str())] == *i).map(|(_, e)| e).collect();
        let top: i64 = sqlx::query_scalar("UPDATE businesses SET last_seq = last_seq + $2 WHERE id = $1 RETURNING last_seq")
            .bind(&self.business_id)
            .bind(kept.len() as i64)
            .fetch_one(&mut *self.tx)
            .await?;
        // One statement for all of them, the rows as one JSON parameter.
        let first = top - kept.len() as i64 + 1;
        #[derive(Serialize)]
        struct Row<'a> {
            entity: &'a str,
            id: &'a str,
            seq: i64,
            data: Option<&'a str>,
            at: i64,
        }
        let rows: Vec<Row> =
            kept.iter().enumerate().map(|(i, e)| Row { entity: e.entity.as_str(), id: &e.id, seq: first + i as i64, data: e.data.as_deref(), at: e.at }).collect();
        let sql = format!(
            "INSERT INTO changes (business_id, entity, entity_id, seq, data, changed_at) \
             SELECT $1, value ->> 'entity', value ->> 'id', CAST(value ->> 'seq' AS BIGINT), value ->> 'data', CAST(value ->> 'at' AS BIGINT) \
             FROM {} WHERE true \
             ON CONFLICT (business_id, entity, entity_id) DO UPDATE SET seq = excluded.seq, data = excluded.data, changed_at = excluded.changed_at",
            json_rows(self.engine(), "$2")
        );
        sqlx::query(&sql).bind(&self.business_id).bind(json_param(&rows)?).execute(&mut *self.tx).await?;
        self.last_seq = Some(top);
        Ok(())
    }

    /// Undoes everything this transaction did (a mutation that was refused).
    pub async fn rollback(self) -> Result<(), StoreError> {
        self.tx.rollback().await?;
        Ok(())
    }

    /// Commits, then tells live listeners. Refuses if nothing was recorded (see module docs).
    pub async fn commit(mut self) -> Result<i64, StoreError> {
        self.write_deferred().await?;
        let Some(seq) = self.last_seq else {
            self.tx.rollback().await?;
            return Err(StoreError::NothingRecorded);
        };
        self.mark_applied().await?;
        self.notify_others(Some(seq)).await?;
        self.tx.commit().await?;
        self.db.inner.wake.notify(&self.wakes);
        // Nobody listening is fine: pokes are hints.
        let _ = self.db.inner.signals.send(Signal::Committed { business_id: self.business_id, seq });
        Ok(seq)
    }
}

/// How many rows of `width` values a multi-row statement takes: about 200 parameters. SQLite
/// finds a numbered parameter (`$7`) by walking the statement's list of them, when it parses the
/// statement and again when the driver binds each value, so a statement's cost grows with the
/// square of its parameters: a few hundred make one statement out of many round trips, a
/// thousand spend more on finding parameters than on the rows.
pub fn rows_per_statement(width: usize) -> usize {
    (200 / width.max(1)).max(1)
}

/// Many rows passed as ONE parameter: `param` (e.g. `$2`) bound to a JSON array (see [`json_param`])
/// read as a table with one row per element, in a column `value`; an object's fields are read
/// with `value ->> 'name'` (text, or SQL NULL for JSON null; `CAST(… AS BIGINT)` for numbers), a
/// string element is `value` itself. Use it in `FROM` (`FROM {} CROSS JOIN
/// table …`: on SQLite `CROSS JOIN` keeps the array the outer loop, so each element is an index
/// lookup). One statement, prepared once, however many rows — instead of multi-row statements of
/// a couple of hundred parameters, each a round trip to the database.
pub fn json_rows(engine: Engine, param: &str) -> String {
    match engine {
        Engine::Sqlite => format!("json_each({param})"),
        Engine::Postgres => format!("jsonb_array_elements(CAST({param} AS jsonb))"),
    }
}

/// `column` is one of the strings of the JSON array `param` is bound to (`WHERE {}`): each an
/// index lookup on `column` — on PostgreSQL the array is read once (`= ANY(ARRAY(…))`), which
/// the planner turns into an index scan where `IN (SELECT …)` may become a hash join over the
/// whole table.
pub fn json_in(engine: Engine, column: &str, param: &str) -> String {
    match engine {
        Engine::Sqlite => format!("{column} IN (SELECT value FROM json_each({param}))"),
        Engine::Postgres => format!("{column} = ANY(ARRAY(SELECT jsonb_array_elements_text(CAST({param} AS jsonb))))"),
    }
}

/// [`json_in`] for a lookup whose table is `alias`: what to put before the table in `FROM`, and
/// the condition. On SQLite the array is the outer loop of a `CROSS JOIN` (with `IN`, SQLite
/// without statistics may rather scan the business's rows by another index); on PostgreSQL it
/// is [`json_in`].
pub fn json_join(engine: Engine, column: &str, param: &str) -> (String, String) {
    match engine {
        Engine::Sqlite => (format!("json_each({param}) CROSS JOIN"), format!("{column} = value")),
        Engine::Postgres => (String::new(), json_in(engine, column, param)),
    }
}

/// The JSON text to bind for [`json_rows`], [`json_in`] or [`json_join`]. PostgreSQL's `jsonb` cannot hold
/// U+0000 (nor can its `text`), so on PostgreSQL a NUL in a string fails the statement, as it
/// would bound on its own: callers keep NULs out of text they store.
pub fn json_param<T: Serialize + ?Sized>(rows: &T) -> Result<String, StoreError> {
    Ok(serde_json::to_string(rows)?)
}

/// Milliseconds since the epoch → an instant (RFC 3339 UTC on the wire).
pub fn rfc3339(ms: i64) -> protocol::Timestamp {
    protocol::Timestamp::from_millis(ms).unwrap_or(protocol::Timestamp::UNIX_EPOCH)
}

/// Reads a JSON text column into a value, reporting which column was bad.
pub fn json_column<T: serde::de::DeserializeOwned>(text: &str, column: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}
