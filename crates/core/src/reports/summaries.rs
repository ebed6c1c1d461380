//! The reports' summaries: one row per conversation episode (`report_episodes`) and one per
//! booking (`report_bookings`), each the [`metrics::episodes`] / [`metrics::bookings`] of its
//! outcome rows. [`super::outcomes::record`] refreshes the episode or booking it appends to in
//! the same transaction, so a summary can never disagree with the record it is derived from; a
//! business whose outcomes predate the summaries is rebuilt once ([`rebuild_pending`], when the
//! service migrates).
//!
//! A period's figures are then read as: every episode a person was involved in, as a row (the
//! waits, response times and per-person figures need each of them); the episodes the assistant
//! handled alone, counted per local day, channel and reopening in SQL; the bookings made in the
//! period counted per local day and what the breakdowns group by; the appointments' outcomes
//! counted. The counts stand in the period as grouped [`Episode`]s and [`BookingFacts`]
//! (`count` > 1), and every figure sums counts, so the numbers are the ones the outcome rows
//! give — `tests/reports.rs` compares the two over generated histories on both engines.

use sqlx::any::AnyRow;
use sqlx::Row as _;

use super::metrics::{self, BookingFacts, Episode, Range, Row};
use crate::store::{BusinessTx, Db, Engine, StoreError};
use jiff::tz::TimeZone;
use protocol::Handling;

/// The columns [`row_of`] reads.
pub(crate) const ROW_COLUMNS: &str =
    "id, kind, at, conversation_id, episode_at, booking_id, channel, staff_id, source, service_id, value_cents, starts_at, since_at";

pub(crate) fn row_of(r: &AnyRow) -> Result<Row, sqlx::Error> {
    Ok(Row {
        id: r.try_get(0)?,
        kind: r.try_get(1)?,
        at: r.try_get(2)?,
        conversation_id: r.try_get(3)?,
        episode_at: r.try_get(4)?,
        booking_id: r.try_get(5)?,
        channel: r.try_get(6)?,
        staff_id: r.try_get(7)?,
        source: r.try_get(8)?,
        service_id: r.try_get(9)?,
        value_cents: r.try_get(10)?,
        starts_at: r.try_get(11)?,
        since_at: r.try_get(12)?,
    })
}

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("report summary: {e}"))
}

const EPISODE_COLUMNS: &str = "business_id, conversation_id, episode_at, channel, reopened, handling, ai_replies, human_replies, \
     first_response_since, first_response_at, wait_ms, staff, reply_times, resolved";
const BOOKING_COLUMNS: &str = "business_id, booking_id, made_at, source, channel, service_id, staff_id, value_cents, starts_at, outcome, moves";

/// `($1, $2, …), (…)` for `rows` rows of `width` values.
fn placeholders(rows: usize, width: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>().join(", ")))
        .collect::<Vec<_>>()
        .join(", ")
}

type Insert<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Inserts `items` into `table` in statements of 100 rows: each row's first value is the business,
/// the `width - 1` others are bound by `bind`. `on_conflict`: what a row whose key is taken does
/// (empty: the insert fails).
async fn insert_rows<T>(
    conn: &mut sqlx::AnyConnection,
    business_id: &str,
    (table, columns, width, on_conflict): (&str, &str, usize, &str),
    items: &[T],
    bind: impl for<'q> Fn(Insert<'q>, &T) -> Result<Insert<'q>, StoreError>,
) -> Result<(), StoreError> {
    for chunk in items.chunks(100) {
        let sql = format!("INSERT INTO {table} ({columns}) VALUES {} {on_conflict}", placeholders(chunk.len(), width));
        let mut q = sqlx::query(&sql);
        for item in chunk {
            q = bind(q.bind(business_id.to_owned()), item)?;
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

async fn insert_episodes(conn: &mut sqlx::AnyConnection, business_id: &str, episodes: &[Episode]) -> Result<(), StoreError> {
    insert_rows(conn, business_id, ("report_episodes", EPISODE_COLUMNS, 14, ""), episodes, |q, e| {
        Ok(q.bind(e.conversation_id.clone())
            .bind(e.start)
            .bind(e.channel.clone())
            .bind(i64::from(e.reopened))
            .bind(e.handling.as_str())
            .bind(i64::from(e.ai_replies))
            .bind(i64::from(e.human_replies))
            .bind(e.first_response.map(|(s, _)| s))
            .bind(e.first_response.map(|(_, a)| a))
            .bind(e.wait_for_person_ms)
            .bind(serde_json::to_string(&e.staff)?)
            .bind(serde_json::to_string(&e.reply_times)?)
            .bind(i64::from(e.resolved)))
    })
    .await
}

/// A booking's summary written over the one it had (one per booking: its key).
const BOOKING_UPSERT: &str = "ON CONFLICT (business_id, booking_id) DO UPDATE SET made_at = excluded.made_at, source = excluded.source, \
     channel = excluded.channel, service_id = excluded.service_id, staff_id = excluded.staff_id, value_cents = excluded.value_cents, \
     starts_at = excluded.starts_at, outcome = excluded.outcome, moves = excluded.moves";

/// Writes bookings' summaries; `on_conflict` as for [`insert_rows`] (`""` or [`BOOKING_UPSERT`]).
async fn insert_bookings(conn: &mut sqlx::AnyConnection, business_id: &str, bookings: &[BookingFacts], on_conflict: &str) -> Result<(), StoreError> {
    insert_rows(conn, business_id, ("report_bookings", BOOKING_COLUMNS, 11, on_conflict), bookings, |q, b| {
        Ok(q.bind(b.booking_id.clone())
            .bind(b.made_at)
            .bind(b.source.clone())
            .bind(b.channel.clone())
            .bind(b.service_id.clone())
            .bind(b.staff_id.clone())
            .bind(b.value_cents)
            .bind(b.starts_at)
            .bind(b.outcome)
            .bind(i64::from(b.moves)))
    })
    .await
}

/// Recomputes the summaries of these episodes (conversation, start) from their outcome rows
/// (called by `record` for one, by `handed_over_many` for a batch): the rows read in one
/// statement, the summaries deleted in one and written in statements of many.
pub(crate) async fn refresh_episodes(tx: &mut BusinessTx, episodes: &[(String, i64)]) -> Result<(), StoreError> {
    let Some(earliest) = episodes.iter().map(|(_, at)| *at).min() else { return Ok(()) };
    let engine = tx.engine();
    let business_id = tx.business_id().to_owned();
    let ids: Vec<&str> = episodes.iter().map(|(c, _)| c.as_str()).collect();
    // By conversation through its index, then only the episodes asked for.
    let (from, on) = crate::store::json_join(engine, "outcomes.conversation_id", "$2");
    let sql = format!("SELECT {} FROM {from} outcomes WHERE {on} AND outcomes.business_id = $1 AND outcomes.episode_at >= $3", qualified_row_columns());
    let rows = sqlx::query(&sql).bind(&business_id).bind(crate::store::json_param(&ids)?).bind(earliest).fetch_all(tx.conn()).await?;
    let wanted: std::collections::HashSet<(&str, i64)> = episodes.iter().map(|(c, at)| (c.as_str(), *at)).collect();
    let mut kept = Vec::with_capacity(rows.len());
    for row in &rows {
        let row = row_of(row)?;
        if let (Some(c), Some(at)) = (row.conversation_id.as_deref(), row.episode_at) {
            if wanted.contains(&(c, at)) {
                kept.push(row);
            }
        }
    }
    #[derive(serde::Serialize)]
    struct Key<'a> {
        c: &'a str,
        e: i64,
    }
    let keys: Vec<Key> = episodes.iter().map(|(c, e)| Key { c, e: *e }).collect();
    let delete = format!(
        "DELETE FROM report_episodes WHERE (business_id, conversation_id, episode_at) IN \
         (SELECT $1, value ->> 'c', CAST(value ->> 'e' AS BIGINT) FROM {})",
        crate::store::json_rows(engine, "$2")
    );
    sqlx::query(&delete).bind(&business_id).bind(crate::store::json_param(&keys)?).execute(tx.conn()).await?;
    insert_episodes(tx.conn(), &business_id, &metrics::episodes(&kept)).await
}

/// [`ROW_COLUMNS`], each with its table's name (for statements that join another table).
fn qualified_row_columns() -> String {
    ROW_COLUMNS.split(',').map(|c| format!("outcomes.{}", c.trim())).collect::<Vec<_>>().join(", ")
}

/// The summaries of new conversations' first episodes from their opening rows alone (see
/// [`super::outcomes::conversations_created`]).
pub(crate) async fn new_episodes(tx: &mut BusinessTx, openings: &[Row]) -> Result<(), StoreError> {
    let business_id = tx.business_id().to_owned();
    // (Each opening is an episode of its own; statements of a few hundred parameters.)
    for chunk in openings.chunks(crate::store::rows_per_statement(14)) {
        insert_episodes(tx.conn(), &business_id, &metrics::episodes(chunk)).await?;
    }
    Ok(())
}

/// Recomputes one booking's summary from its outcome rows (called by `record`): written over the
/// one it had with one upsert on its key (business, booking); removed if its rows make none (no
/// `booking_…` row; `record` always has just added one).
pub(crate) async fn refresh_booking(tx: &mut BusinessTx, booking_id: &str) -> Result<(), StoreError> {
    let business_id = tx.business_id().to_owned();
    let rows = sqlx::query(&format!("SELECT {ROW_COLUMNS} FROM outcomes WHERE business_id = $1 AND booking_id = $2"))
        .bind(&business_id)
        .bind(booking_id)
        .fetch_all(tx.conn())
        .await?;
    let rows = rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?;
    // (Every row is this booking's, so there is at most one summary.)
    let summary = metrics::bookings(&rows);
    if summary.is_empty() {
        sqlx::query("DELETE FROM report_bookings WHERE business_id = $1 AND booking_id = $2").bind(&business_id).bind(booking_id).execute(tx.conn()).await?;
        return Ok(());
    }
    insert_bookings(tx.conn(), &business_id, &summary, BOOKING_UPSERT).await
}

/// Rebuilds a business's summaries from all of its outcome rows, in one business transaction
/// (so no outcome is appended meanwhile), and clears its line in `report_rebuild`.
pub async fn rebuild(db: &Db, business_id: &str) -> Result<(), StoreError> {
    const WINDOW: i64 = 30 * 86_400_000;
    let mut tx = db.begin_business(business_id).await?;
    for table in ["report_episodes", "report_bookings"] {
        sqlx::query(&format!("DELETE FROM {table} WHERE business_id = $1")).bind(business_id).execute(tx.conn()).await?;
    }
    // Episodes a month of starts at a time (all rows of an episode share its start).
    let first: Option<i64> = sqlx::query_scalar("SELECT MIN(episode_at) FROM outcomes WHERE business_id = $1 AND episode_at IS NOT NULL")
        .bind(business_id)
        .fetch_one(tx.conn())
        .await?;
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(episode_at) FROM outcomes WHERE business_id = $1 AND episode_at IS NOT NULL")
        .bind(business_id)
        .fetch_one(tx.conn())
        .await?;
    if let (Some(first), Some(last)) = (first, last) {
        let mut from = first;
        while from <= last {
            let rows = sqlx::query(&format!(
                "SELECT {ROW_COLUMNS} FROM outcomes WHERE business_id = $1 AND episode_at >= $2 AND episode_at < $3 AND conversation_id IS NOT NULL"
            ))
            .bind(business_id)
            .bind(from)
            .bind(from.saturating_add(WINDOW))
            .fetch_all(tx.conn())
            .await?;
            let rows = rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?;
            insert_episodes(tx.conn(), business_id, &metrics::episodes(&rows)).await?;
            from = from.saturating_add(WINDOW);
        }
    }
    let rows = sqlx::query(&format!("SELECT {ROW_COLUMNS} FROM outcomes WHERE business_id = $1 AND booking_id IS NOT NULL"))
        .bind(business_id)
        .fetch_all(tx.conn())
        .await?;
    let rows = rows.iter().map(row_of).collect::<Result<Vec<_>, _>>()?;
    insert_bookings(tx.conn(), business_id, &metrics::bookings(&rows), "").await?;
    sqlx::query("DELETE FROM report_rebuild WHERE business_id = $1").bind(business_id).execute(tx.conn()).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(())
}

/// Builds the summaries of every business listed in `report_rebuild` (after the migration that
/// added them: the businesses that had outcomes then). Several instances starting together take
/// turns per business and rebuild the same thing.
pub async fn rebuild_pending(db: &Db) -> Result<usize, StoreError> {
    let pending: Vec<String> = sqlx::query_scalar("SELECT business_id FROM report_rebuild ORDER BY business_id").fetch_all(db.writer()).await?;
    for business_id in &pending {
        rebuild(db, business_id).await?;
    }
    Ok(pending.len())
}

fn outcome_word(text: &str) -> Result<&'static str, StoreError> {
    ["booked", "cancelled", "completed", "no_show"].into_iter().find(|w| *w == text).ok_or_else(|| corrupt(format!("outcome {text}")))
}

/// Which episodes a listing needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which {
    All,
    /// Only episodes a person was involved in (handed or taken over).
    Involved,
}

/// Every episode that began in the range and every booking made in it or with its appointment
/// in it, one by one, in the order the outcome rows would give them.
/// `episodes: None` and `bookings: false` leave those out.
pub(crate) async fn load_all(
    db: &Db,
    business_id: &str,
    range: Range,
    episodes: Option<Which>,
    bookings: bool,
) -> Result<(Vec<Episode>, Vec<BookingFacts>), StoreError> {
    let mut out = (Vec::new(), Vec::new());
    if let Some(which) = episodes {
        out.0 = load_episodes(db, business_id, range, which).await?;
    }
    if bookings {
        out.1 = load_bookings(db, business_id, range).await?;
    }
    Ok(out)
}

/// A `report_episodes` row as [`EPISODE_JSON`] gives it (`staff` and `reply_times` are JSON
/// texts).
#[derive(serde::Deserialize)]
struct EpisodeRow(String, i64, String, i64, String, u32, u32, Option<i64>, Option<i64>, Option<i64>, String, String, i64);

/// Every column of an episode's summary (the listings).
const EPISODE_JSON: &str = "conversation_id AS c0, episode_at AS c1, channel AS c2, reopened AS c3, handling AS c4, ai_replies AS c5, \
     human_replies AS c6, first_response_since AS c7, first_response_at AS c8, wait_ms AS c9, staff AS c10, reply_times AS c11, resolved AS c12";
/// What the figures read of an episode, in the order of [`EPISODE_JSON`]: not its conversation,
/// nor whether it was resolved (they count neither); those columns are left empty.
const EPISODE_FIGURES: [&str; 13] = [
    "CAST('' AS TEXT)", "episode_at", "channel", "reopened", "handling", "ai_replies", "human_replies", "first_response_since",
    "first_response_at", "wait_ms", "staff", "reply_times", "0",
];

impl EpisodeRow {
    /// A row of [`involved_for_figures`]' text: its 13 fields, separated by U+001F.
    fn from_text(row: &str) -> Result<EpisodeRow, StoreError> {
        let f: Vec<&str> = row.split('\u{1f}').collect();
        if f.len() != 13 {
            return Err(corrupt(format!("episode row of {} fields", f.len())));
        }
        let int = |s: &str| s.parse::<i64>().map_err(corrupt);
        let opt = |s: &str| if s.is_empty() { Ok(None) } else { int(s).map(Some) };
        let count = |s: &str| s.parse::<u32>().map_err(corrupt);
        Ok(EpisodeRow(
            f[0].to_owned(),
            int(f[1])?,
            f[2].to_owned(),
            int(f[3])?,
            f[4].to_owned(),
            count(f[5])?,
            count(f[6])?,
            opt(f[7])?,
            opt(f[8])?,
            opt(f[9])?,
            f[10].to_owned(),
            f[11].to_owned(),
            int(f[12])?,
        ))
    }

    fn episode(self) -> Result<Episode, StoreError> {
        let EpisodeRow(conversation_id, start, channel, reopened, handling, ai_replies, human_replies, since, at, wait, staff, reply_times, resolved) = self;
        Ok(Episode {
            count: 1,
            conversation_id,
            start,
            channel,
            reopened: reopened != 0,
            handling: Handling::parse(&handling).ok_or_else(|| corrupt(format!("handling {handling}")))?,
            ai_replies,
            human_replies,
            first_response: since.zip(at),
            wait_for_person_ms: wait,
            staff: serde_json::from_str(&staff).map_err(corrupt)?,
            reply_times: serde_json::from_str(&reply_times).map_err(corrupt)?,
            resolved: resolved != 0,
        })
    }
}

async fn load_episodes(db: &Db, business_id: &str, range: Range, which: Which) -> Result<Vec<Episode>, StoreError> {
    let handling = match which {
        Which::All => "",
        Which::Involved => " AND handling IN ('handed_over', 'taken_over')",
    };
    let select = format!("SELECT {EPISODE_JSON} FROM report_episodes WHERE business_id = $1 AND episode_at >= $2 AND episode_at < $3{handling}");
    let rows: Vec<EpisodeRow> = json_rows(db, "", &select, 13, business_id, Some(range)).await?;
    let mut episodes = rows.into_iter().map(EpisodeRow::episode).collect::<Result<Vec<_>, _>>()?;
    episodes.sort_by(|a, b| (a.start, &a.conversation_id).cmp(&(b.start, &b.conversation_id)));
    Ok(episodes)
}

async fn load_bookings(db: &Db, business_id: &str, range: Range) -> Result<Vec<BookingFacts>, StoreError> {
    let columns = "booking_id AS c0, made_at AS c1, source AS c2, channel AS c3, service_id AS c4, staff_id AS c5, value_cents AS c6, \
         starts_at AS c7, outcome AS c8, moves AS c9";
    let select = format!(
        "SELECT {columns} FROM report_bookings WHERE business_id = $1 AND made_at >= $2 AND made_at < $3 \
         UNION SELECT {columns} FROM report_bookings WHERE business_id = $1 AND starts_at >= $2 AND starts_at < $3"
    );
    type BookingRow = (String, Option<i64>, String, Option<String>, String, String, i64, i64, String, u32);
    let rows: Vec<BookingRow> = json_rows(db, "", &select, 10, business_id, Some(range)).await?;
    let mut bookings = Vec::with_capacity(rows.len());
    for (booking_id, made_at, source, channel, service_id, staff_id, value_cents, starts_at, outcome, moves) in rows {
        let outcome = outcome_word(&outcome)?;
        bookings.push(BookingFacts { count: 1, booking_id, made_at, source, channel, service_id, staff_id, value_cents, starts_at, outcome, moves });
    }
    bookings.sort_by(|a, b| a.booking_id.cmp(&b.booking_id));
    Ok(bookings)
}

/// `WITH d(i, s, e) AS (VALUES …)`: the range's local-day stretches, for grouping by local day.
fn stretches_cte(stretches: &[(i64, i64, jiff::civil::Date)]) -> String {
    let values: Vec<String> = stretches.iter().enumerate().map(|(i, (s, e, _))| format!("({i}, {s}, {e})")).collect();
    format!("WITH d(i, s, e) AS (VALUES {}) ", values.join(", "))
}

/// Runs `select` (its `columns` columns named `c0`, `c1`, …; `$1` the business, `$2`/`$3` the
/// range when given) and brings its rows back as one JSON text, read straight into `T`s (each
/// row an array). Handing rows over from the database one by one was most of a report's time
/// (the driver's per-row channel and conversions); one row with thousands inside is parsed in a
/// few milliseconds, and with no `serde_json::Value` tree in between.
async fn json_rows<T: serde::de::DeserializeOwned>(
    db: &Db,
    cte: &str,
    select: &str,
    columns: usize,
    business_id: &str,
    range: Option<Range>,
) -> Result<Vec<T>, StoreError> {
    let cols = (0..columns).map(|i| format!("c{i}")).collect::<Vec<_>>().join(", ");
    let sql = match db.engine() {
        Engine::Sqlite => format!("{cte}SELECT json_group_array(json_array({cols})) FROM ({select}) t"),
        Engine::Postgres => format!("{cte}SELECT CAST(COALESCE(json_agg(json_build_array({cols})), CAST('[]' AS json)) AS TEXT) FROM ({select}) t"),
    };
    let mut q = sqlx::query_scalar::<_, String>(&sql).bind(business_id);
    if let Some(r) = range {
        q = q.bind(r.start_ms).bind(r.end_ms);
    }
    let text = q.fetch_one(db.reader()).await?;
    serde_json::from_str(&text).map_err(corrupt)
}

/// The episodes of the range a person was involved in, with what the figures read of them
/// ([`EPISODE_FIGURES`]). PostgreSQL writes JSON strings slowly when they hold quotes, as
/// the `staff` and `reply_times` texts do (most of its summary's time went there), so it sends
/// these rows as plain text instead: fields separated by the ASCII unit separator, rows by the
/// record separator — characters no field can hold (numbers, the channel and handling words, the
/// empty conversation, and JSON texts, which escape every control character).
async fn involved_for_figures(db: &Db, business_id: &str, range: Range) -> Result<Vec<Episode>, StoreError> {
    let from = "FROM report_episodes WHERE business_id = $1 AND handling IN ('handed_over', 'taken_over') AND episode_at >= $2 AND episode_at < $3";
    let rows: Vec<EpisodeRow> = match db.engine() {
        Engine::Sqlite => {
            let columns = EPISODE_FIGURES.iter().enumerate().map(|(i, c)| format!("{c} AS c{i}")).collect::<Vec<_>>().join(", ");
            json_rows(db, "", &format!("SELECT {columns} {from}"), 13, business_id, Some(range)).await?
        }
        Engine::Postgres => {
            let fields = EPISODE_FIGURES.iter().map(|c| format!("COALESCE(CAST({c} AS TEXT), '')")).collect::<Vec<_>>().join(", ");
            let sql = format!("SELECT COALESCE(string_agg(concat_ws(chr(31), {fields}), chr(30)), '') {from}");
            let text: String = sqlx::query_scalar(&sql).bind(business_id).bind(range.start_ms).bind(range.end_ms).fetch_one(db.reader()).await?;
            text.split('\u{1e}').filter(|r| !r.is_empty()).map(EpisodeRow::from_text).collect::<Result<_, _>>()?
        }
    };
    rows.into_iter().map(EpisodeRow::episode).collect()
}

/// What a period's summary needs: the episodes a person was involved in one by one (only the
/// columns the figures read), the rest grouped; the bookings grouped (see the module docs).
pub(crate) async fn load_for_summary(
    db: &Db,
    business_id: &str,
    range: Range,
    tz: &TimeZone,
) -> Result<(Vec<Episode>, Vec<BookingFacts>), StoreError> {
    let stretches = metrics::local_day_intervals(range, tz);
    let cte = stretches_cte(&stretches);
    let stretch = |i: usize| -> Result<i64, StoreError> { stretches.get(i).map(|(start, _, _)| *start).ok_or_else(|| corrupt("stretch")) };
    let mut episodes = involved_for_figures(db, business_id, range).await?;
    // The assistant's own episodes per local day, channel and reopening: each group stands at
    // the start of its day's stretch (in the period, on that local date).
    let groups: Vec<(usize, String, i64, u32, u32)> = json_rows(
        db,
        &cte,
        "SELECT d.i AS c0, r.channel AS c1, r.reopened AS c2, COUNT(*) AS c3, SUM(r.ai_replies) AS c4 \
         FROM d JOIN report_episodes r ON r.business_id = $1 AND r.handling = 'assistant' AND r.episode_at >= d.s AND r.episode_at < d.e \
         GROUP BY d.i, r.channel, r.reopened",
        5,
        business_id,
        None,
    )
    .await?;
    for (i, channel, reopened, count, ai_replies) in groups {
        let group = Episode::opened(count, String::new(), stretch(i)?, channel, reopened != 0);
        episodes.push(Episode { ai_replies, ..group });
    }
    // Bookings made in the period, per local day and what the figures tell apart. A group has
    // no appointment time in any period (the appointment figures are counted below).
    let groups: Vec<(usize, String, Option<String>, String, String, String, u32, i64)> = json_rows(
        db,
        &cte,
        "SELECT d.i AS c0, r.source AS c1, r.channel AS c2, r.service_id AS c3, r.staff_id AS c4, r.outcome AS c5, COUNT(*) AS c6, \
         SUM(r.value_cents) AS c7 \
         FROM d JOIN report_bookings r ON r.business_id = $1 AND r.made_at >= d.s AND r.made_at < d.e \
         GROUP BY d.i, r.source, r.channel, r.service_id, r.staff_id, r.outcome",
        8,
        business_id,
        None,
    )
    .await?;
    let mut bookings = Vec::new();
    for (i, source, channel, service_id, staff_id, outcome, count, value_cents) in groups {
        bookings.push(BookingFacts {
            count,
            booking_id: String::new(),
            made_at: Some(stretch(i)?),
            source,
            channel,
            service_id,
            staff_id,
            value_cents,
            starts_at: i64::MIN,
            outcome: outcome_word(&outcome)?,
            moves: 0,
        });
    }
    // Appointments in the period with an outcome, per what the filters tell apart. A group was
    // made in no period (the made figures are counted above).
    let groups: Vec<(String, Option<String>, String, u32)> = json_rows(
        db,
        "",
        "SELECT outcome AS c0, channel AS c1, staff_id AS c2, COUNT(*) AS c3 FROM report_bookings \
         WHERE business_id = $1 AND starts_at >= $2 AND starts_at < $3 AND outcome IN ('completed', 'no_show') \
         GROUP BY outcome, channel, staff_id",
        4,
        business_id,
        Some(range),
    )
    .await?;
    for (outcome, channel, staff_id, count) in groups {
        bookings.push(BookingFacts {
            count,
            booking_id: String::new(),
            made_at: None,
            source: String::new(),
            channel,
            service_id: String::new(),
            staff_id,
            value_cents: 0,
            starts_at: range.start_ms,
            outcome: outcome_word(&outcome)?,
            moves: 0,
        });
    }
    Ok((episodes, bookings))
}

/// The automations' outcome rows a period's figures read (from the record itself: they are few
/// and indexed by kind and time): the missed calls and text-backs in the range, the recoveries
/// of those calls, and every reminder outcome of the bookings sent a reminder in the range (all
/// of them, so a booking's first reminder is known).
pub(crate) async fn load_automations(db: &Db, business_id: &str, range: Range) -> Result<metrics::Automations, StoreError> {
    let select = "SELECT id AS c0, kind AS c1, at AS c2, booking_id AS c3, channel AS c4, staff_id AS c5, ref_id AS c6, customer_id AS c7 FROM outcomes \
         WHERE business_id = $1 AND ( \
           (kind IN ('missed_call', 'text_back') AND at >= $2 AND at < $3) \
           OR (kind = 'recovered' AND since_at >= $2 AND since_at < $3) \
           OR (kind IN ('reminder_sent', 'reminder_confirmed', 'reminder_cancelled') AND booking_id IN ( \
                 SELECT booking_id FROM outcomes WHERE business_id = $1 AND kind = 'reminder_sent' AND at >= $2 AND at < $3)))";
    let rows: Vec<metrics::AutomationRow> = json_rows(db, "", select, 8, business_id, Some(range)).await?;
    Ok(metrics::automations(&rows))
}

/// The summaries of the bookings `ids` (a reminder figure's bookings, made or seen at any time).
pub(crate) async fn load_bookings_by_id(db: &Db, business_id: &str, ids: &[String]) -> Result<Vec<BookingFacts>, StoreError> {
    let mut bookings = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(crate::store::rows_per_statement(1)) {
        let marks: Vec<String> = (0..chunk.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT booking_id, made_at, source, channel, service_id, staff_id, value_cents, starts_at, outcome, moves FROM report_bookings \
             WHERE business_id = $1 AND booking_id IN ({})",
            marks.join(", ")
        );
        let mut q = sqlx::query(&sql).bind(business_id);
        for id in chunk {
            q = q.bind(id);
        }
        for r in q.fetch_all(db.reader()).await? {
            let outcome: String = r.try_get(8)?;
            bookings.push(BookingFacts {
                count: 1,
                booking_id: r.try_get(0)?,
                made_at: r.try_get(1)?,
                source: r.try_get(2)?,
                channel: r.try_get(3)?,
                service_id: r.try_get(4)?,
                staff_id: r.try_get(5)?,
                value_cents: r.try_get(6)?,
                starts_at: r.try_get(7)?,
                outcome: outcome_word(&outcome)?,
                moves: u32::try_from(r.try_get::<i64, _>(9)?).map_err(corrupt)?,
            });
        }
    }
    Ok(bookings)
}
