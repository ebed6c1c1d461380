//! Webhook intake against the durable-commit limit of the same database, in one run per engine:
//!
//! 1. The limit (measured last, in the same database): single-row durable commits per second, and
//!    rows per second in commits of 100 (a scratch table in the service's database, through its
//!    writer pool: SQLite `synchronous=FULL`, PostgreSQL with fsync on).
//! 2. Acknowledging: 10,000 signed WhatsApp webhooks, 32 in flight, workers off (each
//!    acknowledgement means the event is durably committed), and that rate as a share of the
//!    rows/s of commits of 100 (target ≥ 10%).
//! 3. The backlog: an instance with workers turns the 10,000 stored events into messages in their
//!    conversations (target: at least the acknowledge rate).
//! 4. Live: 10,000 more webhooks, 32 in flight, to the instance whose workers run; for each, the
//!    time from its acknowledgement reaching the client to the commit that put its message in its
//!    conversation (target p99 < 50 ms).
//!
//! The assistant is switched off for the business (as a business that answers by hand has it), so
//! the figures are intake's own; the assistant's turn has its own benchmark.
//!
//! Run: `cargo bench -p switchboard-cloud --bench intake [-- sqlite|postgres]`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_cloud::store::{Db, Signal};
use switchboard_testkit::bench::{each_engine, p50_p99, quantile_ms};
use switchboard_testkit::whatsapp::{quiet_assistant, sign_meta};
use switchboard_testkit::{Engine, TestApp};
use tokio::sync::Semaphore;

const WEBHOOKS: usize = 10_000;
const IN_FLIGHT: usize = 32;
const SECRET: &str = "bench-app-secret";
/// Single-row commits timed for the limit, and commits of 100, in each of three rounds.
const SINGLE_COMMITS: usize = 500;
const COMMITS_OF_100: usize = 100;

#[tokio::main]
async fn main() {
    // Acknowledged means durably committed: PostgreSQL with fsync on, as in production.
    std::env::set_var("SWITCHBOARD_TESTKIT_PG_DURABLE", "1");
    each_engine(&["engine", "measure", "result", "target"], run).await;
}

fn webhook(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911000000", "phone_number_id": "100200300"},
        "contacts": [{"profile": {"name": format!("Customer {}", i % 500)}, "wa_id": format!("4479111{:05}", i % 500)}],
        "messages": [{"from": format!("4479111{:05}", i % 500), "id": format!("wamid.bench{i}"), "timestamp": "1767225600", "type": "text",
                      "text": {"body": format!("Hello, is there anything free on Saturday? ({i})")}}]}}]}]}))
    .unwrap()
}

async fn run(engine: Engine) {
    let app = TestApp::spawn_live(engine, |c| {
        c.max_db_connections = 32;
        c.run_workers = false;
        // Nothing is sent (the assistant is off); a stray send fails at once instead of waiting on DNS.
        c.whatsapp_api_base = "http://127.0.0.1:9".into();
    })
    .await;
    let owner = app.signup("bench").await;
    quiet_assistant(&app, &owner).await;
    let business = owner.business_id.clone();
    let name = engine.name();
    let r = app
        .call(
            reqwest::Method::PUT,
            "/v1/channels/whatsapp",
            Some(&owner.access),
            Some(json!({"phone_number_id": "100200300", "access_token": "t", "app_secret": SECRET, "verify_token": "v"})),
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");

    // 2. Acknowledging, workers off.
    let (acked, mut ack_times) = acknowledge(&app.base, 0..WEBHOOKS).await;
    let ack_rate = WEBHOOKS as f64 / acked.as_secs_f64();
    println!("| {name} | signed webhooks acknowledged ({WEBHOOKS}, {IN_FLIGHT} in flight, workers off) | {ack_rate:.0}/s | |");
    println!("| {name} | time to acknowledge (durably committed) | {} | |", p50_p99(&mut ack_times));

    // 3. The backlog, drained by an instance with workers.
    let mut worker = app.another_instance(|c| c.run_workers = true).await;
    let drain = Instant::now();
    // An event is marked processed in the transaction that stores its message: none pending
    // means every message is in. The poll stops at the first pending event; counting them all
    // (with `failed_at` read from the table) read up to 10,000 rows every 5 ms and took about a
    // quarter of the CPU that the drain was meant to have.
    while any_pending(&app.db).await {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain_rate = WEBHOOKS as f64 / drain.elapsed().as_secs_f64();
    assert_eq!(inbound(&app.db, &business).await, WEBHOOKS as i64, "every webhook is one message");
    println!(
        "| {name} | backlog of {WEBHOOKS} processed into conversations | {drain_rate:.0} messages/s | ≥ acknowledged ({ack_rate:.0}/s): {} |",
        verdict(drain_rate >= ack_rate)
    );

    // 4. Live: webhooks arrive while the workers run; each message's commit is seen through the
    // service's own commit signal (what pokes consoles) and read from the change log.
    let seen = watch_messages(worker.db.clone(), business.clone(), WEBHOOKS);
    let client_acks = Arc::new(Mutex::new(HashMap::with_capacity(WEBHOOKS)));
    let (live, mut live_ack_times) = acknowledge_noting(&worker.base, WEBHOOKS..2 * WEBHOOKS, Some(client_acks.clone())).await;
    let seen = seen.await.unwrap();
    let acks = client_acks.lock().unwrap();
    let mut latencies: Vec<Duration> = acks.iter().map(|(id, acked)| seen[id].saturating_duration_since(*acked)).collect();
    let p99 = quantile_ms(&mut latencies, 0.99);
    println!(
        "| {name} | live: acknowledged ({WEBHOOKS}, {IN_FLIGHT} in flight, workers running) | {:.0}/s, {} | |",
        WEBHOOKS as f64 / live.as_secs_f64(),
        p50_p99(&mut live_ack_times)
    );
    println!(
        "| {name} | live: acknowledgement → message in its conversation | {}, max {:.2} ms | p99 < 50 ms: {} |",
        p50_p99(&mut latencies),
        quantile_ms(&mut latencies, 1.0),
        verdict(p99 < 50.0)
    );

    // 1. The durable-commit limit of this database, measured last (its scratch rows, dropped
    // after, would otherwise leave the intake a database full of free pages).
    drop(acks);
    worker.stop().await;
    let (single, per_100) = commit_limit(&app.db).await;
    println!("| {name} | durable commits, one row each (same database, after) | {single:.0} commits/s | (the limit) |");
    println!("| {name} | durable commits of 100 rows (same database, after) | {per_100:.0} rows/s | (the limit) |");
    let share = 100.0 * ack_rate / per_100;
    println!("| {name} | acknowledged (workers off) / rows per second in commits of 100 | {share:.1}% | ≥ 10%: {} |", verdict(share >= 10.0));
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "**missed**"
    }
}

/// Whether any event is still waiting to be processed (the first entry of the partial index that
/// has not failed; none fail here).
async fn any_pending(db: &Db) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM (SELECT 1 FROM webhook_events WHERE processed_at IS NULL AND failed_at IS NULL LIMIT 1) AS p")
        .fetch_one(db.reader())
        .await
        .unwrap()
        > 0
}

async fn inbound(db: &Db, business: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM messages WHERE business_id = $1 AND direction = 'inbound'")
        .bind(business)
        .fetch_one(db.reader())
        .await
        .unwrap()
}

/// Single-row commits per second and rows per second in commits of 100, one statement per row
/// (as the intake's committer writes), in a scratch table shaped like `webhook_events`' row. The
/// best of three rounds (the machine may be shared; the limit is what the disk allows).
async fn commit_limit(db: &Db) -> (f64, f64) {
    sqlx::query("CREATE TABLE bench_commit_limit (id TEXT PRIMARY KEY, payload TEXT NOT NULL, received_at BIGINT NOT NULL)")
        .execute(db.writer())
        .await
        .unwrap();
    let payload = String::from_utf8(webhook(0)).unwrap();
    let insert = "INSERT INTO bench_commit_limit (id, payload, received_at) VALUES ($1, $2, $3)";
    let (mut single, mut per_100) = (0f64, 0f64);
    for round in 0..3 {
        let started = Instant::now();
        for i in 0..SINGLE_COMMITS {
            let mut tx = db.writer().begin().await.unwrap();
            sqlx::query(insert).bind(format!("single-{round}-{i}")).bind(&payload).bind(i as i64).execute(&mut *tx).await.unwrap();
            tx.commit().await.unwrap();
        }
        single = single.max(SINGLE_COMMITS as f64 / started.elapsed().as_secs_f64());
        let started = Instant::now();
        for c in 0..COMMITS_OF_100 {
            let mut tx = db.writer().begin().await.unwrap();
            for r in 0..100 {
                sqlx::query(insert).bind(format!("batch-{round}-{c}-{r}")).bind(&payload).bind(r as i64).execute(&mut *tx).await.unwrap();
            }
            tx.commit().await.unwrap();
        }
        per_100 = per_100.max((COMMITS_OF_100 * 100) as f64 / started.elapsed().as_secs_f64());
    }
    sqlx::query("DROP TABLE bench_commit_limit").execute(db.writer()).await.unwrap();
    (single, per_100)
}

/// Posts the webhooks `range`, `IN_FLIGHT` at a time: the time it took and each one's time to
/// be acknowledged.
async fn acknowledge(base: &str, range: std::ops::Range<usize>) -> (Duration, Vec<Duration>) {
    acknowledge_noting(base, range, None).await
}

/// As [`acknowledge`], and notes when each acknowledgement reached the client, by message id.
async fn acknowledge_noting(base: &str, range: std::ops::Range<usize>, acks: Option<Arc<Mutex<HashMap<String, Instant>>>>) -> (Duration, Vec<Duration>) {
    let client = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build().unwrap();
    let bodies: Vec<(usize, Vec<u8>, String)> = range
        .map(|i| {
            let b = webhook(i);
            let s = sign_meta(SECRET, &b);
            (i, b, s)
        })
        .collect();
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(bodies.len());
    for (i, body, signature) in bodies {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let client = client.clone();
        let url = format!("{base}/webhooks/whatsapp");
        let acks = acks.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client.post(url).header("x-hub-signature-256", signature).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            let acked = Instant::now();
            drop(permit);
            if let Some(acks) = acks {
                acks.lock().unwrap().insert(format!("wamid.bench{i}"), acked);
            }
            acked - t
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        samples.push(t.await.unwrap());
    }
    (started.elapsed(), samples)
}

/// When each new message of the business became visible: on every commit the service signals
/// (in-process, right after the commit — what pokes consoles), the change log's message entries
/// after the last one read are looked up (each entry holds the message as consoles get it); each message is timed at the signal that revealed it
/// (so a figure includes the bench's own reading, never less than the truth). Ends after `count`.
fn watch_messages(db: Db, business: String, count: usize) -> tokio::task::JoinHandle<HashMap<String, Instant>> {
    let mut signals = db.subscribe();
    tokio::spawn(async move {
        let mut seen = HashMap::with_capacity(count);
        let mut last = sqlx::query_scalar::<_, i64>("SELECT last_seq FROM businesses WHERE id = $1").bind(&business).fetch_one(db.reader()).await.unwrap();
        while seen.len() < count {
            match signals.recv().await {
                Ok(Signal::Committed { business_id, .. }) if business_id == business => {}
                Ok(_) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => panic!("the service stopped"),
            }
            let at = Instant::now();
            // The entries alone, through the change log's (business, seq) index: joined to
            // `messages`, PostgreSQL's generic plan for this prepared statement read the whole
            // table each time (6.6 ms a commit, on the cores the service needed).
            let rows: Vec<(i64, Option<String>)> =
                sqlx::query_as("SELECT seq, data FROM changes WHERE business_id = $1 AND entity = 'message' AND seq > $2")
                    .bind(&business)
                    .bind(last)
                    .fetch_all(db.reader())
                    .await
                    .unwrap();
            for (seq, data) in rows {
                last = last.max(seq);
                let message: serde_json::Value = serde_json::from_str(data.as_deref().unwrap_or("null")).unwrap();
                if let Some(id) = message["provider_message_id"].as_str() {
                    seen.entry(id.to_owned()).or_insert(at);
                }
            }
        }
        seen
    })
}
