//! Reports latency (issue 15): a business with 100k conversations, 1M messages and 50k bookings
//! over a year; the Reports screen's queries for the last 90 local days over real HTTP (auth
//! included) — the summary, a figure's rows — and the CSV export of every booking (rows/s), on
//! SQLite and on PostgreSQL.
//!
//! Run: `cargo bench -p switchboard-cloud --bench reports` (add `-- sqlite` or `-- postgres` for
//! one engine; `-- --small` seeds a tenth for a quick look). Results go in BENCHMARKS.md.
//!
//! The history is generated in the database (recursive CTEs, portable to both engines): the
//! conversations and messages as the inbox benchmark makes them, and the `outcomes` rows the
//! write paths would have recorded for them — each conversation opened, answered three times by
//! the assistant, a fifth handed to a person who answers, a share taken over, all resolved; each
//! booking made by one of the four sources, some moved, cancelled, completed or missed. The
//! reports' summaries are then built from those rows, as the service does after migrating.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_testkit::bench::{chunks, each_engine, live_business, messages_sql, numbers, quantile_cells, scaled};
use switchboard_testkit::Engine;

const CONVERSATIONS: i64 = 100_000;
const MESSAGES_PER_CONVERSATION: i64 = 10;
const BOOKINGS: i64 = 50_000;
const DAY_MS: i64 = 86_400_000;
const HISTORY_DAYS: i64 = 365;
const REQUESTS: usize = 200;

#[tokio::main]
async fn main() {
    each_engine(&["engine", "conversations", "bookings", "query (90 days)", "p50", "p99", "max"], |engine| run(engine, scaled(CONVERSATIONS), scaled(BOOKINGS))).await;
}

async fn run(engine: Engine, conversations: i64, bookings: i64) {
    let (app, owner) = live_business(engine).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 60, "price_cents": 4500})).await;
    let service = service.body["id"].as_str().unwrap().to_owned();
    let (base, token, client) = (&app.base, &owner.access, &app.client);
    let name = engine.name();

    let seeded = Instant::now();
    let end = app.db.now_ms();
    seed(&app.db, &owner.business_id, &owner.staff_id, &service, conversations, bookings, end).await;
    eprintln!("{name}: seeded {conversations} conversations, {} messages, {bookings} bookings in {:.1?}", conversations * MESSAGES_PER_CONVERSATION, seeded.elapsed());

    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let today = jiff::Timestamp::from_millisecond(end).unwrap().to_zoned(tz).date();
    let from = today - jiff::Span::new().days(89);
    let range = format!("from={from}&to={today}");
    let summary: Value = client.get(format!("{base}/v1/reports/summary?{range}")).bearer_auth(token).send().await.unwrap().json().await.unwrap();
    eprintln!(
        "{name}: 90 days hold {} conversations ({} handed over) and {} bookings",
        summary["current"]["conversations"], summary["current"]["handed_over"], summary["current"]["bookings"]
    );
    assert!(summary["current"]["conversations"].as_u64().unwrap() > 0, "{summary}");

    let queries = [
        ("summary (figures, previous period, days, breakdowns)", format!("/v1/reports/summary?{range}")),
        ("summary, one channel", format!("/v1/reports/summary?{range}&channel=whatsapp")),
        ("rows behind \"handed over\"", format!("/v1/reports/rows?{range}&figure=handed_over")),
    ];
    for (label, path) in queries {
        let mut samples = Vec::with_capacity(REQUESTS);
        let mut cpu = 0.0;
        for i in 0..(REQUESTS + 10) {
            if i == 10 {
                cpu = cpu_ms();
            }
            let started = Instant::now();
            let r = client.get(format!("{base}{path}")).bearer_auth(token).send().await.unwrap();
            assert!(r.status().is_success(), "{path}: {}", r.status());
            r.bytes().await.unwrap();
            if i >= 10 {
                samples.push(started.elapsed());
            }
        }
        report(name, conversations, bookings, label, &mut samples);
        // The whole process's CPU time (the service, SQLite's threads, this client; not a
        // PostgreSQL server's): what a request costs, whatever else shares the machine.
        eprintln!("{name}: {label}: {:.1} ms of CPU per request", (cpu_ms() - cpu) / REQUESTS as f64);
    }

    // The same 90-day summary computed from the outcome rows themselves (the path the routes
    // took before the summaries): a few samples, and the figures must be the same.
    let actor = switchboard_core::accounts::Actor {
        business_id: owner.business_id.clone(),
        staff_id: owner.staff_id.clone(),
        role: protocol::Role::Owner,
        session_id: "bench".into(),
    };
    let q = switchboard_core::reports::ReportQuery { from: from.to_string(), to: today.to_string(), ..Default::default() };
    let fast = switchboard_core::reports::summary(&app.core, &actor, q.clone()).await.unwrap();
    let mut samples = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let reference = switchboard_core::reports::summary_from_outcomes(&app.core, &actor, q.clone()).await.unwrap();
        samples.push(started.elapsed());
        assert_eq!(serde_json::to_value(&reference).unwrap(), serde_json::to_value(&fast).unwrap(), "the summaries equal the outcome rows");
    }
    report(name, conversations, bookings, "summary from the outcome rows (before; 3 runs, in-process)", &mut samples);

    // Every booking: the longest range that holds the whole year.
    let from = today - jiff::Span::new().days(HISTORY_DAYS);
    let mut best = Duration::MAX;
    let mut rows = 0;
    for _ in 0..3 {
        let started = Instant::now();
        let csv = client.get(format!("{base}/v1/reports/bookings.csv?from={from}&to={today}")).bearer_auth(token).send().await.unwrap().text().await.unwrap();
        best = best.min(started.elapsed());
        rows = csv.lines().count() - 1;
    }
    println!("| {name} | {conversations} | {bookings} | bookings.csv, all {rows} bookings | {:.0} ms | {:.0} rows/s | |", best.as_secs_f64() * 1e3, rows as f64 / best.as_secs_f64());
    app.db.close().await;
}

/// This process's user and system CPU time so far, in milliseconds (Linux: `/proc/self/stat`).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command (which is in parentheses): utime and stime are the 12th and
    // 13th, in clock ticks (100 a second on Linux).
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let ticks: f64 = after.split_whitespace().skip(11).take(2).filter_map(|t| t.parse::<f64>().ok()).sum();
    ticks * 10.0
}

fn report(engine: &str, conversations: i64, bookings: i64, label: &str, samples: &mut [Duration]) {
    println!("| {engine} | {conversations} | {bookings} | {label} | {} |", quantile_cells(samples, 1));
}

/// Bulk fixture, in chunks of 10k conversations (or bookings), ending at `end`.
async fn seed(db: &switchboard_cloud::store::Db, business: &str, staff: &str, service: &str, conversations: i64, bookings: i64, end: i64) {
    let start = end - HISTORY_DAYS * DAY_MS;
    let every = HISTORY_DAYS * DAY_MS / conversations;
    for (from, to) in chunks(conversations) {
        let mut tx = db.writer().begin().await.unwrap();
        let n = numbers(from, to);
        // (CAST: on PostgreSQL the counter is an int4, and i × every is not.)
        let opened = format!("($2 + CAST(i AS BIGINT) * {every})");
        for sql in [
            format!(
                "{n}INSERT INTO customers (id, business_id, name, phone, search_text, created_at, updated_at) \
                 SELECT 'cust-' || i, $1, 'Customer ' || i, '+1415555' || i, 'customer ' || i, {opened}, {opened} FROM n"
            ),
            format!(
                "{n}INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, last_message_preview, unread_count, created_at, updated_at) \
                 SELECT 'conv-' || i, $1, 'cust-' || i, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'whatsapp' END, 'resolved', 'ai', {opened} + 3600000, \
                 'Message from customer ' || i, 0, {opened}, {opened} FROM n"
            ),
            // What the write paths record: opened, three assistant replies, resolved.
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel) \
                 SELECT 'oo-' || i, $1, 'conversation_opened', {opened}, 'conv-' || i, {opened}, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'whatsapp' END FROM n"
            ),
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel) \
                 SELECT 'oa-' || i || '-' || k, $1, 'ai_reply', {opened} + k * 60000, 'conv-' || i, {opened}, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'whatsapp' END \
                 FROM n CROSS JOIN (SELECT 1 AS k UNION ALL SELECT 2 UNION ALL SELECT 3) r"
            ),
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel) \
                 SELECT 'or-' || i, $1, 'resolved', {opened} + 3600000, 'conv-' || i, {opened}, CASE WHEN i % 3 = 0 THEN 'sms' ELSE 'whatsapp' END FROM n"
            ),
            // A fifth handed to a person, who answers twice.
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel) \
                 SELECT 'oh-' || i, $1, 'handed_over', {opened} + 300000, 'conv-' || i, {opened}, 'whatsapp' FROM n WHERE i % 5 = 1"
            ),
            // Those, and a seventh of the rest (taken over), get a person's replies.
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, staff_id) \
                 SELECT 'ot-' || i, $1, 'taken_over', {opened} + 200000, 'conv-' || i, {opened}, 'whatsapp', $3 FROM n WHERE i % 5 <> 1 AND i % 7 = 2"
            ),
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, staff_id, since_at) \
                 SELECT 'of-' || i, $1, 'first_human_reply', {opened} + 300000 + (i % 13) * 60000, 'conv-' || i, {opened}, 'whatsapp', $3, {opened} \
                 FROM n WHERE i % 5 = 1 OR i % 7 = 2"
            ),
            format!(
                "{n}INSERT INTO outcomes (id, business_id, kind, at, conversation_id, episode_at, channel, staff_id, since_at) \
                 SELECT 'os-' || i, $1, 'human_reply', {opened} + 1500000, 'conv-' || i, {opened}, 'whatsapp', $3, {opened} + 1200000 \
                 FROM n WHERE i % 5 = 1 OR i % 7 = 2"
            ),
        ] {
            sqlx::query(&sql).bind(business).bind(start).bind(staff).execute(&mut *tx).await.unwrap();
        }
        let messages = MESSAGES_PER_CONVERSATION;
        let created_at = format!("$2 + CAST(j / {messages} AS BIGINT) * {every} + (j % {messages}) * 60000");
        sqlx::query(&messages_sql(from, to, messages, &created_at)).bind(business).bind(start).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }

    // Bookings: made through the year by the four sources, for two days later; some moved a day,
    // cancelled, completed or missed. Only the outcomes record is read by the reports.
    let every = HISTORY_DAYS * DAY_MS / bookings;
    for (from, to) in chunks(bookings) {
        let mut tx = db.writer().begin().await.unwrap();
        let n = numbers(from, to);
        let made = format!("($2 + CAST(i AS BIGINT) * {every})");
        let columns = "id, business_id, kind, at, booking_id, channel, staff_id, source, service_id, value_cents, starts_at";
        let facts = format!("'book-' || i, CASE WHEN i % 4 = 2 OR i % 4 = 3 THEN NULL WHEN i % 4 = 1 THEN 'voice' ELSE 'whatsapp' END, $3, \
             CASE i % 4 WHEN 0 THEN 'assistant_chat' WHEN 1 THEN 'assistant_voice' WHEN 2 THEN 'staff' ELSE 'api' END, $4, 4500");
        for (prefix, kind, at, starts, filter) in [
            ("bm", "booking_made", made.clone(), format!("{made} + {}", 2 * DAY_MS), "1 = 1"),
            ("bv", "booking_moved", format!("{made} + 3600000"), format!("{made} + {}", 3 * DAY_MS), "i % 15 = 3"),
            ("bc", "booking_cancelled", format!("{made} + 7200000"), format!("{made} + {}", 2 * DAY_MS), "i % 10 = 0"),
            ("bd", "booking_completed", format!("{made} + {}", 2 * DAY_MS + 3_600_000), format!("{made} + {}", 2 * DAY_MS), "i % 10 = 1"),
            ("bn", "booking_no_show", format!("{made} + {}", 2 * DAY_MS + 3_600_000), format!("{made} + {}", 2 * DAY_MS), "i % 20 = 2"),
        ] {
            sqlx::query(&format!("{n}INSERT INTO outcomes ({columns}) SELECT '{prefix}-' || i, $1, '{kind}', {at}, {facts}, {starts} FROM n WHERE {filter}"))
                .bind(business)
                .bind(start)
                .bind(staff)
                .bind(service)
                .execute(&mut *tx)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    // The reports' summaries of those outcomes, as the service builds them after the migration
    // that added them (the write paths keep them current as they append).
    let built = Instant::now();
    switchboard_core::reports::summaries::rebuild(db, business).await.unwrap();
    eprintln!("summaries built from the outcome rows in {:.1?}", built.elapsed());
    sqlx::query("ANALYZE").execute(db.writer()).await.unwrap();
}
