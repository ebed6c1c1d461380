//! The console's local SQLite file: the mirror of the service (written only by the sync engine,
//! one pulled page per transaction), the outbox of local mutations (never wiped by a resync), and
//! a few settings. See `migrations/console/0001_mirror.sql` for who owns which table.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use protocol::{EntityKind, ErrorCode, Mutation, MutationOp, MutationOutcome, SyncChange};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::thumbnail::Thumbnail;
use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqliteConnection, SqlitePool};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations/console");

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("local database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("local database migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("stored data could not be read: {0}")]
    Corrupt(#[from] serde_json::Error),
    /// The person this sync works for signed out of this console (from another window or
    /// process): what it pulled is not theirs to keep any more.
    #[error("signed out of this console")]
    SignedOut,
}

/// One synced entity changed by a pulled page: its state before and after (`None`: absent or
/// deleted). `before` is only read when the caller asks for it (not during a bootstrap).
#[derive(Debug, Clone)]
pub struct Applied {
    pub entity: EntityKind,
    pub id: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// A local mutation waiting for (or refused by) the service.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, TS)]
#[ts(export)]
pub struct OutboxEntry {
    #[ts(type = "number")]
    pub id: i64,
    /// What it does: `{"name", "args"}` (one this build cannot read, as it was written).
    #[serde(flatten, serialize_with = "protocol::op_as_written")]
    #[ts(flatten)]
    pub op: MutationOp,
    /// `pending` or `failed`.
    pub state: String,
    /// The service's stable code when refused (e.g. `already_held`).
    pub code: Option<ErrorCode>,
    /// Why it was refused, in plain words.
    pub message: Option<String>,
    pub details: Option<Value>,
    pub created_at: String,
}

const PERMISSIONS_KEY: &str = "permissions";

#[derive(Clone)]
pub struct LocalStore {
    pool: SqlitePool,
}

/// The table of the entities with one of their own (everything else lives in `entities`).
fn typed_table(entity: EntityKind) -> Option<&'static str> {
    match entity {
        EntityKind::Conversation => Some("conversations"),
        EntityKind::Message => Some("messages"),
        EntityKind::Customer => Some("customers"),
        EntityKind::Booking => Some("bookings"),
        EntityKind::Note => Some("notes"),
        _ => None,
    }
}

impl LocalStore {
    /// Opens (creating if needed) the store at `path` and applies migrations.
    pub async fn open(path: &Path) -> Result<LocalStore, StoreError> {
        // The business's customers and conversations: readable by this computer's user alone
        // (SQLite gives its log and shared-memory files the same mode).
        #[cfg(unix)]
        {
            use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
            let io = |e| StoreError::Database(sqlx::Error::Io(e));
            let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path).map_err(io)?;
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
            // A folder from an older console may have its log and shared memory readable by all.
            for suffix in ["-wal", "-shm"] {
                let mut side = path.as_os_str().to_owned();
                side.push(suffix);
                if let Err(e) = std::fs::set_permissions(&side, std::fs::Permissions::from_mode(0o600)) {
                    if e.kind() != std::io::ErrorKind::NotFound {
                        return Err(io(e));
                    }
                }
            }
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            // What is deleted (an erased customer's rows) is overwritten in the file, not left
            // in free pages for anyone reading the disk.
            .pragma("secure_delete", "ON")
            // 1 MiB of pages per connection rather than SQLite's 2 MiB: the file is in the
            // system's cache anyway, and four connections' caches showed in the console's memory
            // against an empty window (BENCHMARKS.md).
            .pragma("cache_size", "-1024");
        let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
        MIGRATOR.run(&pool).await?;
        // The same for the search indexes: without it FTS5 only marks a deleted row's words as
        // gone, and they stay in the index's segments until a merge (a setting kept in each
        // index, so setting it again is harmless).
        for index in ["message_search", "customer_search", "conversation_search"] {
            sqlx::query(&format!("INSERT INTO {index}({index}, rank) VALUES ('secure-delete', 1)")).execute(&pool).await?;
        }
        Ok(LocalStore { pool })
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM settings WHERE key = ?").bind(key).fetch_optional(&self.pool).await?)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(key)
            .bind(value)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub async fn remove_setting(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM settings WHERE key = ?").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    /// What the signed-in person may do, as the service last said (at sign-in, then in every
    /// sync welcome); empty before it has said.
    pub async fn permissions(&self) -> Result<Vec<protocol::Permission>, StoreError> {
        Ok(self.setting(PERMISSIONS_KEY).await?.and_then(|p| serde_json::from_str(&p).ok()).unwrap_or_default())
    }

    /// Keeps the service's list of what the signed-in person may do; `true` when it changed.
    pub async fn set_permissions(&self, permissions: &[protocol::Permission]) -> Result<bool, StoreError> {
        if self.permissions().await? == permissions {
            return Ok(false);
        }
        self.set_setting(PERMISSIONS_KEY, &serde_json::to_string(permissions).expect("permissions serialise")).await?;
        Ok(true)
    }

    /// The seq of the last change applied (0: nothing yet).
    pub async fn cursor(&self) -> Result<i64, StoreError> {
        Ok(self.setting("cursor").await?.and_then(|c| c.parse().ok()).unwrap_or(0))
    }

    /// A write transaction whose write lock is taken at its start (`BEGIN IMMEDIATE`). One begun as
    /// a read and upgraded at its first write fails at once with SQLITE_BUSY when another
    /// connection wrote in between — the busy timeout does not cover that — and the sync engine's
    /// writes beside a person's action made it happen (an action answered "local store" error).
    async fn write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }

    /// Applies one pulled page and moves the cursor, in one transaction: the mirror is always a
    /// state the service was in. With `with_before`, each change carries the state it replaced.
    pub async fn apply_page(&self, changes: &[SyncChange], cursor: i64, with_before: bool) -> Result<Vec<Applied>, StoreError> {
        self.apply_page_for(None, changes, cursor, with_before).await
    }

    /// [`LocalStore::apply_page`] for the sync of `staff_id`: refused ([`StoreError::SignedOut`])
    /// once that person is no longer the one signed in here, in the same transaction as the
    /// write, so a sync still running elsewhere (a `watch` beside a `logout`) never brings the
    /// last person's customers back after the wipe.
    pub async fn apply_page_for(&self, staff_id: Option<&str>, changes: &[SyncChange], cursor: i64, with_before: bool) -> Result<Vec<Applied>, StoreError> {
        let mut tx = self.write().await?;
        if let Some(staff_id) = staff_id {
            let signed_in: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'staff_id'").fetch_optional(&mut *tx).await?;
            if signed_in.as_deref() != Some(staff_id) {
                return Err(StoreError::SignedOut);
            }
        }
        let mut applied = Vec::with_capacity(changes.len());
        for change in changes {
            let before = if with_before { read(&mut tx, change.entity, &change.id).await? } else { None };
            applied.push(Applied { entity: change.entity, id: change.id.clone(), before, after: change.data.clone() });
        }
        write_all(&mut tx, changes).await?;
        sqlx::query("INSERT INTO settings (key, value) VALUES ('cursor', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(cursor.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(applied)
    }

    /// Forgets the mirror (for a resync from 0). The outbox and settings other than the cursor
    /// stay: what staff did offline is replayed after the resync.
    pub async fn wipe_mirror(&self) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for table in ["entities", "conversations", "messages", "customers", "bookings", "notes"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
        }
        sqlx::query("INSERT INTO conversation_search (conversation_search) VALUES ('delete-all')").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM settings WHERE key = 'cursor'").execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets everything (signing out): mirror, outbox, kept files, who was signed in and the
    /// device id. Then the file is rewritten and the write-ahead log emptied: deleted rows are
    /// zeroed in the pages that held them, but older copies of those pages stay in the log
    /// and in the file until both are, and the next person of this computer must not find the
    /// last one's customers on the disk.
    pub async fn wipe_all(&self) -> Result<(), StoreError> {
        self.wipe_mirror().await?;
        let mut tx = self.write().await?;
        for table in ["outbox", "media_cache", "settings"] {
            sqlx::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        sqlx::query("VACUUM").execute(&self.pool).await?;
        // The log's old frames hold the deleted rows until it is truncated; another connection
        // reading at that moment makes the checkpoint wait its turn (`busy`), so it is tried again.
        for _ in 0..50 {
            let (busy,): (i64,) = sqlx::query_as("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(&self.pool).await?;
            if busy == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }

    // -----------------------------------------------------------------------------------------
    // Media kept for offline viewing (`media_cache`)

    /// A kept file by its service address, marked as just used: `(content_type, filename, bytes)`.
    pub async fn cached_media(&self, key: &str, now_ms: i64) -> Result<Option<CachedMedia>, StoreError> {
        let row: Option<(String, Option<String>, Vec<u8>, i64)> =
            sqlx::query_as("UPDATE media_cache SET used_at = ? WHERE key = ? RETURNING content_type, filename, data, pinned")
                .bind(now_ms)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(content_type, filename, data, pinned)| CachedMedia { content_type, filename, data, pinned: pinned != 0 }))
    }

    /// Keeps a file with its small copy (`None`: it has none); unpinned files beyond `budget`
    /// bytes in all (small copies counted) are let go, least recently used first (this one
    /// last). Pinned files (attachments not uploaded yet) are never let go.
    pub async fn keep_media(&self, key: &str, file: &CachedMedia, thumbnail: Option<&Thumbnail>, now_ms: i64, budget: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let own = thumbnail.is_some_and(|t| t.data == file.data);
        sqlx::query(
            "INSERT INTO media_cache (key, content_type, filename, size, data, pinned, used_at, \
                                      thumbnail, thumbnail_type, thumbnail_width, thumbnail_height, thumbnail_made) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1) \
             ON CONFLICT (key) DO UPDATE SET used_at = excluded.used_at, pinned = MAX(media_cache.pinned, excluded.pinned)",
        )
        .bind(key)
        .bind(&file.content_type)
        .bind(&file.filename)
        .bind((file.data.len() + thumbnail.filter(|_| !own).map_or(0, |t| t.data.len())) as i64)
        .bind(&file.data)
        .bind(i64::from(file.pinned))
        .bind(now_ms)
        // A picture that is its own small copy is not kept twice.
        .bind(thumbnail.filter(|_| !own).map(|t| &t.data))
        .bind(thumbnail.map(|t| &t.content_type))
        .bind(thumbnail.map(|t| t.width))
        .bind(thumbnail.map(|t| t.height))
        .execute(&mut *tx)
        .await?;
        evict(&mut tx, budget).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A kept file's small copy: `None` when the file is not kept; `Some(Unmade)` when it was kept
    /// before small copies were made; `Some(None)` when it has none. Marks the file as used.
    pub async fn cached_thumbnail(&self, key: &str, now_ms: i64) -> Result<Option<KeptThumbnail>, StoreError> {
        type Row = (i64, Option<Vec<u8>>, Option<String>, Option<u32>, Option<u32>, Option<Vec<u8>>);
        let row: Option<Row> = sqlx::query_as(
            "UPDATE media_cache SET used_at = ? WHERE key = ? RETURNING thumbnail_made, thumbnail, thumbnail_type, thumbnail_width, thumbnail_height, \
             CASE WHEN thumbnail IS NULL AND thumbnail_type IS NOT NULL THEN data END",
        )
        .bind(now_ms)
        .bind(key)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(made, thumbnail, content_type, width, height, own)| match (made, thumbnail.or(own), content_type, width, height) {
            (0, ..) => KeptThumbnail::Unmade,
            (_, Some(data), Some(content_type), Some(width), Some(height)) => KeptThumbnail::Made(Some(Thumbnail { content_type, data, width, height })),
            _ => KeptThumbnail::Made(None),
        }))
    }

    /// Records the small copy made for a file kept before small copies were (see
    /// [`Self::cached_thumbnail`]).
    pub async fn keep_thumbnail(&self, key: &str, data: &[u8], thumbnail: Option<&Thumbnail>) -> Result<(), StoreError> {
        let own = thumbnail.is_some_and(|t| t.data == data);
        let stored = thumbnail.filter(|_| !own);
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE media_cache SET thumbnail = ?, thumbnail_type = ?, thumbnail_width = ?, thumbnail_height = ?, thumbnail_made = 1, size = size + ? \
             WHERE key = ? AND thumbnail_made = 0",
        )
        .bind(stored.map(|t| &t.data))
        .bind(thumbnail.map(|t| &t.content_type))
        .bind(thumbnail.map(|t| t.width))
        .bind(thumbnail.map(|t| t.height))
        .bind(stored.map_or(0, |t| t.data.len() as i64))
        .bind(key)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The service has an attachment now: it may be let go like any other file.
    pub async fn unpin_media(&self, key: &str, budget: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE media_cache SET pinned = 0 WHERE key = ?").bind(key).execute(&mut *tx).await?;
        evict(&mut tx, budget).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Bytes kept, and how many files.
    pub async fn media_usage(&self) -> Result<(i64, i64), StoreError> {
        Ok(sqlx::query_as("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM media_cache").fetch_one(&self.pool).await?)
    }

    /// One synced entity's current state.
    pub async fn entity(&self, entity: EntityKind, id: &str) -> Result<Option<Value>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read(&mut conn, entity, id).await
    }

    /// Every synced entity of a kind without a typed table (services, staff, canned responses…).
    pub async fn entities(&self, entity: EntityKind) -> Result<Vec<Value>, StoreError> {
        let rows: Vec<String> = sqlx::query_scalar("SELECT data FROM entities WHERE entity = ? ORDER BY id").bind(entity.as_str()).fetch_all(&self.pool).await?;
        rows.iter().map(|r| Ok(serde_json::from_str(r)?)).collect()
    }

    // -----------------------------------------------------------------------------------------
    // Outbox

    /// Queues a mutation; returns its id (the next of this device, never reused).
    pub async fn enqueue(&self, op: &MutationOp) -> Result<i64, StoreError> {
        let (name, args) = op.to_wire();
        let mut tx = self.write().await?;
        let last: i64 = sqlx::query_scalar("SELECT value FROM settings WHERE key = 'last_mutation_id'")
            .fetch_optional(&mut *tx)
            .await?
            .and_then(|v: String| v.parse().ok())
            .unwrap_or(0);
        let id = last + 1;
        sqlx::query("INSERT INTO settings (key, value) VALUES ('last_mutation_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO outbox (id, name, args, created_at) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(name)
            .bind(args.to_string())
            .bind(jiff::Timestamp::now().to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The oldest pending mutations, in order.
    pub async fn pending(&self, limit: i64) -> Result<Vec<Mutation>, StoreError> {
        let rows = sqlx::query("SELECT id, name, args FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?").bind(limit).fetch_all(&self.pool).await?;
        rows.iter()
            .map(|r| Ok(Mutation { id: r.try_get("id")?, op: op_of(r)? }))
            .collect()
    }

    /// Everything in the outbox (pending and failed), oldest first.
    pub async fn outbox(&self) -> Result<Vec<OutboxEntry>, StoreError> {
        let rows = sqlx::query("SELECT id, name, args, state, code, message, details, created_at FROM outbox ORDER BY id").fetch_all(&self.pool).await?;
        rows.iter().map(outbox_entry).collect()
    }

    /// Settles outcomes from the service: a success leaves the outbox (its effect arrives with
    /// the next pull), a refusal stays as `failed` with its reason. Outcomes for mutations no
    /// longer in the outbox are ignored. Returns the entries that failed just now.
    pub async fn settle(&self, outcomes: &[MutationOutcome]) -> Result<Vec<OutboxEntry>, StoreError> {
        let mut tx = self.write().await?;
        let mut failed = Vec::new();
        for o in outcomes {
            if o.ok {
                sqlx::query("DELETE FROM outbox WHERE id = ? AND state = 'pending'").bind(o.id).execute(&mut *tx).await?;
            } else {
                let changed = sqlx::query("UPDATE outbox SET state = 'failed', code = ?, message = ?, details = ? WHERE id = ? AND state = 'pending'")
                    .bind(o.code.map(ErrorCode::as_str))
                    .bind(&o.message)
                    .bind(o.details.as_ref().map(Value::to_string))
                    .bind(o.id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if changed > 0 {
                    let row = sqlx::query("SELECT id, name, args, state, code, message, details, created_at FROM outbox WHERE id = ?")
                        .bind(o.id)
                        .fetch_one(&mut *tx)
                        .await?;
                    failed.push(outbox_entry(&row)?);
                }
            }
        }
        tx.commit().await?;
        Ok(failed)
    }

    /// Renumbers the pending mutations from `from` on, keeping their order (the service expects
    /// `from` next and this device no longer has what came before).
    pub async fn renumber_pending(&self, from: i64) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM outbox WHERE state = 'pending' ORDER BY id").fetch_all(&mut *tx).await?;
        // Out of the way first (negative ids are never used), then into place.
        for id in &ids {
            sqlx::query("UPDATE outbox SET id = ? WHERE id = ?").bind(-id).bind(id).execute(&mut *tx).await?;
        }
        for (i, id) in ids.iter().enumerate() {
            sqlx::query("UPDATE outbox SET id = ? WHERE id = ?").bind(from + i as i64).bind(-id).execute(&mut *tx).await?;
        }
        let last = from + ids.len() as i64 - 1;
        sqlx::query("INSERT INTO settings (key, value) VALUES ('last_mutation_id', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(last.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Drops a failed entry (the person gave up on it). Pending entries cannot be discarded:
    /// they may already have reached the service.
    pub async fn discard(&self, id: i64) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM outbox WHERE id = ? AND state = 'failed'").bind(id).execute(&self.pool).await?.rows_affected() > 0)
    }

    /// Ids a pending mutation carries that must be fresh when it is tried again (a refused
    /// message's id is taken by nothing, but a new attempt is a new message).
    pub async fn retry(&self, id: i64) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT name, args FROM outbox WHERE id = ? AND state = 'failed'").bind(id).fetch_optional(&self.pool).await?;
        let Some(row) = row else { return Ok(None) };
        let mut op = op_of(&row)?;
        match &mut op {
            MutationOp::SendMessage { message_id, .. }
            | MutationOp::SendMedia { message_id, .. }
            | MutationOp::UseCannedResponse { message_id, .. }
            | MutationOp::SendTemplate { message_id, .. } => {
                *message_id = protocol::MessageId::new()
            }
            MutationOp::AddNote { note_id, .. } => *note_id = protocol::NoteId::new(),
            MutationOp::CreateBooking { booking_id, .. } => *booking_id = protocol::BookingId::new(),
            _ => {}
        }
        let new_id = self.enqueue(&op).await?;
        self.discard(id).await?;
        Ok(Some(new_id))
    }
}

fn outbox_entry(r: &sqlx::sqlite::SqliteRow) -> Result<OutboxEntry, StoreError> {
    Ok(OutboxEntry {
        id: r.try_get("id")?,
        op: op_of(r)?,
        state: r.try_get("state")?,
        code: r.try_get("code")?,
        message: r.try_get("message")?,
        details: r.try_get::<Option<String>, _>("details")?.map(|d| serde_json::from_str(&d)).transpose()?,
        created_at: r.try_get("created_at")?,
    })
}

/// A stored mutation (an entry this build cannot read again shows as unreadable, never lost).
fn op_of(r: &sqlx::sqlite::SqliteRow) -> Result<MutationOp, StoreError> {
    let args: Value = serde_json::from_str(&r.try_get::<String, _>("args")?)?;
    Ok(MutationOp::from_wire(&r.try_get::<String, _>("name")?, args))
}

async fn read(conn: &mut SqliteConnection, entity: EntityKind, id: &str) -> Result<Option<Value>, StoreError> {
    let data: Option<String> = if let Some(table) = typed_table(entity) {
        sqlx::query_scalar(&format!("SELECT data FROM {table} WHERE id = ?")).bind(id).fetch_optional(&mut *conn).await?
    } else {
        sqlx::query_scalar("SELECT data FROM entities WHERE entity = ? AND id = ?").bind(entity.as_str()).bind(id).fetch_optional(&mut *conn).await?
    };
    Ok(data.map(|d| serde_json::from_str(&d)).transpose()?)
}

/// An RFC 3339 field as UTC milliseconds (0 if absent or unreadable).
pub(crate) fn millis(v: &Value, key: &str) -> i64 {
    v.get(key).and_then(Value::as_str).and_then(|t| t.parse::<jiff::Timestamp>().ok()).map(|t| t.as_millisecond()).unwrap_or(0)
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// A value bound into a batched upsert.
enum Bind {
    Text(String),
    Maybe(Option<String>),
    Int(i64),
}

/// Rows for one table, written as multi-row upserts (one statement per 200 rows rather than one
/// per row: a bootstrap applies over a hundred thousand).
struct Batch {
    table: &'static str,
    columns: &'static [&'static str],
    key: &'static str,
    rows: Vec<Vec<Bind>>,
}

impl Batch {
    fn new(table: &'static str, columns: &'static [&'static str], key: &'static str) -> Batch {
        Batch { table, columns, key, rows: Vec::new() }
    }

    async fn flush(&mut self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        const ROWS_PER_STATEMENT: usize = 200;
        let keys: Vec<&str> = self.key.split(", ").collect();
        let updates: Vec<String> = self.columns.iter().filter(|c| !keys.contains(c)).map(|c| format!("{c} = excluded.{c}")).collect();
        let placeholders = format!("({})", vec!["?"; self.columns.len()].join(", "));
        for chunk in self.rows.chunks(ROWS_PER_STATEMENT) {
            let sql = format!(
                "INSERT INTO {} ({}) VALUES {} ON CONFLICT ({}) DO UPDATE SET {}",
                self.table,
                self.columns.join(", "),
                vec![placeholders.as_str(); chunk.len()].join(", "),
                self.key,
                updates.join(", ")
            );
            let mut query = sqlx::query(&sql);
            for row in chunk {
                for value in row {
                    query = match value {
                        Bind::Text(t) => query.bind(t.as_str()),
                        Bind::Maybe(t) => query.bind(t.as_deref()),
                        Bind::Int(i) => query.bind(*i),
                    };
                }
            }
            query.execute(&mut *conn).await?;
        }
        self.rows.clear();
        Ok(())
    }
}

fn maybe(v: &Value, key: &str) -> Bind {
    Bind::Maybe(v.get(key).and_then(Value::as_str).map(str::to_owned))
}

/// Writes a page's changes: upserts batched per table, deletions one by one (the log holds one
/// change per entity, so no id appears twice in a page and the order within it does not matter).
async fn write_all(conn: &mut SqliteConnection, changes: &[SyncChange]) -> Result<(), StoreError> {
    let mut conversations = Batch::new(
        "conversations",
        &["id", "customer_id", "channel", "status", "mode", "holder_staff_id", "assignee_staff_id", "unread_count", "last_activity_ms", "data"],
        "id",
    );
    let mut messages = Batch::new("messages", &["id", "conversation_id", "created_ms", "body", "data"], "id");
    let mut customers = Batch::new("customers", &["id", "name", "phone", "email", "data"], "id");
    let mut bookings = Batch::new("bookings", &["id", "customer_id", "staff_id", "start_ms", "end_ms", "status", "data"], "id");
    let mut notes = Batch::new("notes", &["id", "conversation_id", "created_ms", "data"], "id");
    let mut others = Batch::new("entities", &["entity", "id", "data"], "entity, id");
    // Conversations whose search document (conversation_search) must be rebuilt.
    let mut touched: Vec<String> = Vec::new();
    for change in changes {
        let entity = change.entity;
        if entity == EntityKind::Unknown {
            continue; // From a newer service: nothing here shows it.
        }
        let Some(data) = &change.data else {
            if entity == EntityKind::Conversation {
                // Its document is keyed by its rowid, which goes with it.
                sqlx::query("DELETE FROM conversation_search WHERE rowid = (SELECT rowid FROM conversations WHERE id = ?)").bind(&change.id).execute(&mut *conn).await?;
            }
            if entity == EntityKind::Message {
                let gone: Option<(String, String)> =
                    sqlx::query_as("DELETE FROM messages WHERE id = ? RETURNING conversation_id, data").bind(&change.id).fetch_optional(&mut *conn).await?;
                if let Some((conversation, data)) = gone {
                    // The files it showed go with it from the media cache (an erased customer's
                    // photos, kept here when they arrived, are not left behind).
                    sqlx::query(
                        "DELETE FROM media_cache WHERE key IN (SELECT json_extract(value, '$.url') FROM json_each(?, '$.media')) \
                         OR key = '/v1/calls/' || ? || '/recording'",
                    )
                    .bind(&data)
                    .bind(&change.id)
                    .execute(&mut *conn)
                    .await?;
                    touched.push(conversation);
                }
            } else if let Some(table) = typed_table(entity) {
                sqlx::query(&format!("DELETE FROM {table} WHERE id = ?")).bind(&change.id).execute(&mut *conn).await?;
            } else {
                sqlx::query("DELETE FROM entities WHERE entity = ? AND id = ?").bind(entity.as_str()).bind(&change.id).execute(&mut *conn).await?;
            }
            continue;
        };
        let id = Bind::Text(change.id.clone());
        let json = Bind::Text(data.to_string());
        match entity {
            EntityKind::Conversation => touched.push(change.id.clone()),
            EntityKind::Message => touched.push(text(data, "conversation_id")),
            _ => {}
        }
        match entity {
            EntityKind::Conversation => conversations.rows.push(vec![
                id,
                Bind::Text(text(data, "customer_id")),
                Bind::Text(text(data, "channel")),
                Bind::Text(text(data, "status")),
                Bind::Text(text(data, "mode")),
                maybe(data, "holder_staff_id"),
                maybe(data, "assignee_staff_id"),
                Bind::Int(data.get("unread_count").and_then(Value::as_i64).unwrap_or(0)),
                Bind::Int(millis(data, "last_activity_at")),
                json,
            ]),
            EntityKind::Message => messages.rows.push(vec![
                id,
                Bind::Text(text(data, "conversation_id")),
                Bind::Int(millis(data, "created_at")),
                Bind::Text(text(data, "body")),
                json,
            ]),
            EntityKind::Customer => {
                let phone = text(data, "phone");
                customers.rows.push(vec![
                    id,
                    Bind::Text(text(data, "name")),
                    // Searchable with the plus and without it.
                    Bind::Text(format!("{phone} {}", phone.trim_start_matches('+'))),
                    Bind::Text(text(data, "email")),
                    json,
                ])
            }
            EntityKind::Booking => bookings.rows.push(vec![
                id,
                Bind::Text(text(data, "customer_id")),
                Bind::Text(text(data, "staff_id")),
                Bind::Int(millis(data, "start")),
                Bind::Int(millis(data, "end")),
                Bind::Text(text(data, "status")),
                json,
            ]),
            EntityKind::Note => notes.rows.push(vec![id, Bind::Text(text(data, "conversation_id")), Bind::Int(millis(data, "created_at")), json]),
            _ => others.rows.push(vec![Bind::Text(entity.as_str().to_owned()), id, json]),
        }
    }
    for batch in [&mut conversations, &mut messages, &mut customers, &mut bookings, &mut notes, &mut others] {
        batch.flush(conn).await?;
    }
    refresh_conversation_search(conn, touched).await
}

/// Rebuilds the search documents of these conversations from their messages (two statements
/// for a whole page).
async fn refresh_conversation_search(conn: &mut SqliteConnection, mut ids: Vec<String>) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    ids.sort_unstable();
    ids.dedup();
    let ids = serde_json::to_string(&ids)?;
    sqlx::query("DELETE FROM conversation_search WHERE rowid IN (SELECT rowid FROM conversations WHERE id IN (SELECT value FROM json_each(?)))")
        .bind(&ids)
        .execute(&mut *conn)
        .await?;
    // The conversation's labels are part of its document, so the inbox search finds them too.
    sqlx::query(
        "INSERT INTO conversation_search (rowid, body) SELECT c.rowid, COALESCE(group_concat(m.body, ' '), '') || ' ' || \
         COALESCE((SELECT group_concat(l.value, ' ') FROM json_each(c.data, '$.labels') l), '') FROM conversations c \
         LEFT JOIN messages m ON m.conversation_id = c.id WHERE c.id IN (SELECT value FROM json_each(?)) GROUP BY c.id",
    )
    .bind(&ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A file kept for offline viewing.
#[derive(Debug, Clone, PartialEq)]
pub struct CachedMedia {
    pub content_type: String,
    pub filename: Option<String>,
    pub data: Vec<u8>,
    /// An attachment the service does not have yet.
    pub pinned: bool,
}

/// What the cache holds of a file's small copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptThumbnail {
    /// Kept before small copies were made.
    Unmade,
    /// Made: the small copy, or `None` when the file has none.
    Made(Option<Thumbnail>),
}

/// Lets go of the least recently used unpinned files until those left fit in `budget`.
async fn evict(tx: &mut sqlx::SqliteConnection, budget: i64) -> Result<(), StoreError> {
    loop {
        let used: i64 = sqlx::query_scalar("SELECT COALESCE(SUM(size), 0) FROM media_cache WHERE pinned = 0").fetch_one(&mut *tx).await?;
        if used <= budget {
            return Ok(());
        }
        let oldest: Option<String> =
            sqlx::query_scalar("SELECT key FROM media_cache WHERE pinned = 0 ORDER BY used_at, key LIMIT 1").fetch_optional(&mut *tx).await?;
        let Some(oldest) = oldest else { return Ok(()) };
        sqlx::query("DELETE FROM media_cache WHERE key = ?").bind(oldest).execute(&mut *tx).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::{EntityKind, MutationOp, SyncChange};

    /// A person's action and the sync engine's pages write the same file at once: every action is
    /// kept (none answered "database is locked"), and so is every page.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn actions_and_pulled_pages_written_at_once_all_land() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("console.db")).await.unwrap();
        let pages = {
            let store = store.clone();
            tokio::spawn(async move {
                for seq in 1..=200i64 {
                    let change = SyncChange { seq, entity: EntityKind::Conversation, id: format!("c{}", seq % 7), data: Some(serde_json::json!({"seq": seq})) };
                    store.apply_page(&[change], seq, true).await.expect("a page is applied");
                }
            })
        };
        let mut queued = Vec::new();
        for _ in 0..200 {
            queued.push(store.enqueue(&MutationOp::MarkRead { conversation_id: "c1".into() }).await.expect("an action is queued"));
        }
        pages.await.unwrap();
        assert_eq!(store.outbox().await.unwrap().len(), 200);
        assert_eq!(store.cursor().await.unwrap(), 200);
        queued.dedup();
        assert_eq!(queued.len(), 200, "each action has its own id");
    }

    /// A sync still running for someone who signed out meanwhile (a `watch` beside a `logout`)
    /// writes nothing: the wiped store stays empty, with no cursor for the next person.
    #[tokio::test]
    async fn a_page_for_someone_signed_out_is_not_written() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("console.db")).await.unwrap();
        let change = |seq: i64| SyncChange { seq, entity: EntityKind::Staff, id: "s1".into(), data: Some(serde_json::json!({"name": "Maya"})) };
        store.set_setting("staff_id", "maya").await.unwrap();
        store.apply_page_for(Some("maya"), &[change(1)], 1, false).await.unwrap();
        assert_eq!(store.cursor().await.unwrap(), 1);
        assert!(matches!(store.apply_page_for(Some("sam"), &[change(2)], 2, false).await, Err(StoreError::SignedOut)), "not Sam's console");
        store.wipe_all().await.unwrap();
        assert!(matches!(store.apply_page_for(Some("maya"), &[change(3)], 3, false).await, Err(StoreError::SignedOut)));
        assert_eq!(store.cursor().await.unwrap(), 0);
        assert!(store.entities(EntityKind::Staff).await.unwrap().is_empty());
    }

    /// A message removed from the mirror (its customer erased, or past the retention period)
    /// takes the files it showed out of the media cache; other files stay.
    #[tokio::test]
    async fn a_removed_message_takes_its_kept_files_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::open(&dir.path().join("console.db")).await.unwrap();
        let message = |id: &str, url: &str| SyncChange {
            seq: 1,
            entity: EntityKind::Message,
            id: id.into(),
            data: Some(serde_json::json!({"id": id, "conversation_id": "c1", "created_at": "2026-12-05T09:00:00Z", "body": "",
                                          "media": [{"content_type": "image/jpeg", "url": url, "filename": null, "caption": null}]})),
        };
        store.apply_page(&[message("m1", "/v1/media/a"), message("m2", "/v1/media/b")], 2, false).await.unwrap();
        let file = |bytes: &[u8]| CachedMedia { content_type: "image/jpeg".into(), filename: None, data: bytes.to_vec(), pinned: false };
        for (key, bytes) in [("/v1/media/a", b"photo a"), ("/v1/media/b", b"photo b"), ("/v1/calls/m1/recording", b"call m1")] {
            store.keep_media(key, &file(bytes), None, 1, i64::MAX).await.unwrap();
        }
        store.apply_page(&[SyncChange { seq: 3, entity: EntityKind::Message, id: "m1".into(), data: None }], 3, true).await.unwrap();
        assert!(store.cached_media("/v1/media/a", 2).await.unwrap().is_none());
        assert!(store.cached_media("/v1/calls/m1/recording", 2).await.unwrap().is_none());
        assert_eq!(store.cached_media("/v1/media/b", 2).await.unwrap().expect("kept").data, b"photo b");
    }
}
