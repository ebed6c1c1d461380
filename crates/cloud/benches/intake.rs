//! Webhook intake: signed WhatsApp webhooks per second and the time to acknowledge them (each
//! acknowledgement means the event is durably committed), then the time from acknowledgement to
//! the message being in its conversation. SQLite and PostgreSQL.
//!
//! Run: `cargo bench -p switchboard-cloud --bench intake [-- sqlite|postgres]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_testkit::bench::{on_engines, p50_p99};
use switchboard_testkit::whatsapp::sign_meta;
use switchboard_testkit::{Engine, TestApp};
use tokio::sync::Semaphore;

const WEBHOOKS: usize = 10_000;
const IN_FLIGHT: usize = 32;
const SECRET: &str = "bench-app-secret";

#[tokio::main]
async fn main() {
    // Acknowledged means durably committed: PostgreSQL with fsync on, as in production.
    std::env::set_var("SWITCHBOARD_TESTKIT_PG_DURABLE", "1");
    on_engines(run).await;
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
    // The acknowledgement path alone first; processing is measured after.
    let app = TestApp::spawn_live(engine, |c| {
        c.max_db_connections = 32;
        c.run_workers = false;
    })
    .await;
    let owner = app.signup("bench").await;
    let (base, business, db) = (&app.base, &owner.business_id, &app.db);
    let engine = engine.name();
    let client = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build().unwrap();
    let r = app
        .call(
            reqwest::Method::PUT,
            "/v1/channels/whatsapp",
            Some(&owner.access),
            Some(json!({"phone_number_id": "100200300", "access_token": "t", "app_secret": SECRET, "verify_token": "v"})),
        )
        .await;
    assert!(r.status.is_success(), "{r:?}");

    let bodies: Vec<(Vec<u8>, String)> = (0..WEBHOOKS).map(|i| { let b = webhook(i); let s = sign_meta(SECRET, &b); (b, s) }).collect();
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(WEBHOOKS);
    for (body, signature) in bodies {
        let permit = gate.clone().acquire_owned().await.unwrap();
        let client = client.clone();
        let url = format!("{base}/webhooks/whatsapp");
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let r = client.post(url).header("x-hub-signature-256", signature).body(body).send().await.unwrap();
            assert_eq!(r.status(), 200);
            drop(permit);
            t.elapsed()
        }));
    }
    let mut samples = Vec::with_capacity(WEBHOOKS);
    for t in tasks {
        samples.push(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    println!("| {engine} | signed webhooks acknowledged ({WEBHOOKS}, {IN_FLIGHT} in flight) | {:.0}/s |", WEBHOOKS as f64 / elapsed.as_secs_f64());
    println!("| {engine} | time to acknowledge (durably committed) | {} |", p50_p99(&mut samples));

    // Processing: a second instance with workers drains the backlog; then the latency of a
    // single webhook from acknowledgement to being in its conversation.
    let worker = app.another_instance(|c| c.run_workers = true).await;
    let worker_base = &worker.base;
    let drain = Instant::now();
    let count = |db: switchboard_cloud::store::Db, business: String| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM messages WHERE business_id = $1").bind(business).fetch_one(db.reader()).await.unwrap()
    };
    while count(db.clone(), business.clone()).await < WEBHOOKS as i64 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!("| {engine} | processing the backlog into conversations | {:.0} messages/s |", WEBHOOKS as f64 / drain.elapsed().as_secs_f64());
    let mut latencies = Vec::new();
    for i in 0..200 {
        let body = webhook(WEBHOOKS + i);
        let signature = sign_meta(SECRET, &body);
        let r = client.post(format!("{worker_base}/webhooks/whatsapp")).header("x-hub-signature-256", signature).body(body).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let acked = Instant::now();
        let id = format!("wamid.bench{}", WEBHOOKS + i);
        loop {
            let found: Option<String> = sqlx::query_scalar("SELECT id FROM messages WHERE provider_message_id = $1").bind(&id).fetch_optional(db.reader()).await.unwrap();
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_micros(500)).await;
        }
        latencies.push(acked.elapsed());
    }
    println!("| {engine} | acknowledgement → message in its conversation | {} |", p50_p99(&mut latencies));
}
