//! Inbox latency: the newest 50 conversations of a business with 100k conversations and 1M
//! messages, over real HTTP (auth included), on SQLite and on PostgreSQL.
//!
//! Run: `cargo bench -p switchboard-cloud --bench inbox` (add `-- sqlite` or `-- postgres` for one
//! engine; `-- --small` seeds 10k/100k for a quick look). Results go in BENCHMARKS.md.

use std::time::{Duration, Instant};

use serde_json::Value;
use switchboard_testkit::bench::{chunks, each_engine, live_business, messages_sql, numbers, quantile_cells, scaled};
use switchboard_testkit::Engine;

const CONVERSATIONS: i64 = 100_000;
const MESSAGES_PER_CONVERSATION: i64 = 10;
const REQUESTS: usize = 1_000;

#[tokio::main]
async fn main() {
    each_engine(&["engine", "conversations", "messages", "query", "p50", "p99", "max"], |engine| run(engine, scaled(CONVERSATIONS))).await;
}

async fn run(engine: Engine, conversations: i64) {
    let (app, owner) = live_business(engine).await;
    let (base, token, business, db, client) = (&app.base, &owner.access, &owner.business_id, &app.db, &app.client);
    let engine = engine.name();

    let seeded = Instant::now();
    seed(db, business, conversations).await;
    eprintln!("{engine}: seeded {conversations} conversations and {} messages in {:.1?}", conversations * MESSAGES_PER_CONVERSATION, seeded.elapsed());

    let queries = [
        ("newest 50", "/v1/conversations?limit=50".to_string()),
        ("newest 50 needing a human", "/v1/conversations?limit=50&mode=needs_human".to_string()),
    ];
    for (label, path) in queries {
        let mut samples = Vec::with_capacity(REQUESTS);
        for i in 0..(REQUESTS + 50) {
            let started = Instant::now();
            let r = client.get(format!("{base}{path}")).bearer_auth(&token).send().await.unwrap();
            assert!(r.status().is_success());
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["items"].as_array().unwrap().len(), 50);
            if i >= 50 {
                samples.push(started.elapsed());
            }
        }
        report(engine, conversations, label, &mut samples);
    }
    // Deep in the inbox: follow cursors 20 pages down, then time that page.
    let mut cursor = String::new();
    for _ in 0..20 {
        let body: Value = client.get(format!("{base}/v1/conversations?limit=50{cursor}")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        cursor = format!("&cursor={}", body["next_cursor"].as_str().unwrap());
    }
    let mut samples = Vec::new();
    for _ in 0..REQUESTS {
        let started = Instant::now();
        let r = client.get(format!("{base}/v1/conversations?limit=50{cursor}")).bearer_auth(&token).send().await.unwrap();
        r.bytes().await.unwrap();
        samples.push(started.elapsed());
    }
    report(engine, conversations, "page 21 (by cursor)", &mut samples);
    db.close().await;
}

fn report(engine: &str, conversations: i64, label: &str, samples: &mut [Duration]) {
    println!("| {engine} | {conversations} | {} | {label} | {} |", conversations * MESSAGES_PER_CONVERSATION, quantile_cells(samples, 2));
}

/// Bulk fixture: customers, conversations (a tenth needing a human) and messages, generated in
/// the database with a recursive CTE (portable to both engines), in chunks.
async fn seed(db: &switchboard_cloud::store::Db, business: &str, conversations: i64) {
    let now = db.now_ms();
    for (from, to) in chunks(conversations) {
        let mut tx = db.writer().begin().await.unwrap();
        let range = numbers(from, to);
        sqlx::query(&format!(
            "{range}INSERT INTO customers (id, business_id, name, phone, search_text, created_at, updated_at) \
             SELECT 'cust-' || i, $1, 'Customer ' || i, '+1415555' || i, 'customer ' || i, $2, $2 FROM n"
        ))
        .bind(business).bind(now).execute(&mut *tx).await.unwrap();
        sqlx::query(&format!(
            "{range}INSERT INTO conversations (id, business_id, customer_id, channel, status, mode, last_activity_at, last_message_preview, unread_count, created_at, updated_at) \
             SELECT 'conv-' || i, $1, 'cust-' || i, 'whatsapp', 'open', CASE WHEN i % 10 = 0 THEN 'needs_human' ELSE 'ai' END, \
             $2 - i * 1000, 'Message from customer ' || i, 1, $2, $2 FROM n"
        ))
        .bind(business).bind(now).execute(&mut *tx).await.unwrap();
        let messages = MESSAGES_PER_CONVERSATION;
        let created_at = format!("$2 - (j / {messages}) * 1000 - ({messages} - j % {messages}) * 10");
        sqlx::query(&messages_sql(from, to, messages, &created_at)).bind(business).bind(now).execute(&mut *tx).await.unwrap();
        tx.commit().await.unwrap();
    }
    sqlx::query("ANALYZE").execute(db.writer()).await.unwrap();
}
