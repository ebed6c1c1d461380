//! Webhook intake: signed WhatsApp webhooks per second and the time to acknowledge them (each
//! acknowledgement means the event is durably committed), then the time from acknowledgement to
//! the message being in its conversation. SQLite and PostgreSQL.
//!
//! Run: `cargo bench -p switchboard-cloud --bench intake [-- sqlite|postgres]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_cloud::{Application, Config};
use tokio::sync::Semaphore;

const WEBHOOKS: usize = 10_000;
const IN_FLIGHT: usize = 32;
const SECRET: &str = "bench-app-secret";

#[tokio::main]
async fn main() {
    // Acknowledged means durably committed: PostgreSQL with fsync on, as in production.
    std::env::set_var("SWITCHBOARD_TESTKIT_PG_DURABLE", "1");
    let engines: Vec<String> = match std::env::args().skip(1).find(|a| !a.starts_with("--")) {
        Some(e) => vec![e],
        None => vec!["sqlite".into(), "postgres".into()],
    };
    println!("| engine | measure | result |");
    println!("|---|---|---|");
    for engine in engines {
        run(&engine).await;
    }
}

fn sign(body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn webhook(i: usize) -> Vec<u8> {
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911000000", "phone_number_id": "100200300"},
        "contacts": [{"profile": {"name": format!("Customer {}", i % 500)}, "wa_id": format!("4479111{:05}", i % 500)}],
        "messages": [{"from": format!("4479111{:05}", i % 500), "id": format!("wamid.bench{i}"), "timestamp": "1767225600", "type": "text",
                      "text": {"body": format!("Hello, is there anything free on Saturday? ({i})")}}]}}]}]}))
    .unwrap()
}

async fn run(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = match engine {
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()),
        "postgres" => switchboard_testkit::pg_cluster().create_database(),
        other => panic!("unknown engine {other}"),
    };
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(url),
        data_dir: Some(dir.path().to_path_buf()),
        max_db_connections: 32,
        // The acknowledgement path alone first; processing is measured after.
        run_workers: false,
        ..Config::default()
    };
    let app = Application::build(config.clone()).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let db = app.state().db.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::builder().pool_max_idle_per_host(IN_FLIGHT).build().unwrap();
    let signup: Value = client.post(format!("{base}/v1/auth/signup"))
        .json(&json!({"business_name": "Bench", "timezone": "Europe/London", "name": "B", "email": "bench@example.com", "password": "bench-password"}))
        .send().await.unwrap().json().await.unwrap();
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let business = signup["business_id"].as_str().unwrap().to_owned();
    let r = client.put(format!("{base}/v1/channels/whatsapp")).bearer_auth(&token)
        .json(&json!({"phone_number_id": "100200300", "access_token": "t", "app_secret": SECRET, "verify_token": "v"})).send().await.unwrap();
    assert!(r.status().is_success());

    let bodies: Vec<(Vec<u8>, String)> = (0..WEBHOOKS).map(|i| { let b = webhook(i); let s = sign(&b); (b, s) }).collect();
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
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64) * q) as usize].as_secs_f64() * 1e3;
    println!("| {engine} | signed webhooks acknowledged ({WEBHOOKS}, {IN_FLIGHT} in flight) | {:.0}/s |", WEBHOOKS as f64 / elapsed.as_secs_f64());
    println!("| {engine} | time to acknowledge (durably committed) | p50 {:.2} ms, p99 {:.2} ms |", p(0.5), p(0.99));

    // Processing: a second instance with workers drains the backlog; then the latency of a
    // single webhook from acknowledgement to being in its conversation.
    let worker = Application::build(Config { run_workers: true, ..config.clone() }).await.unwrap();
    let worker_base = format!("http://{}", worker.local_addr());
    tokio::spawn(worker.run_until(std::future::pending()));
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
        let signature = sign(&body);
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
    latencies.sort();
    let p = |q: f64| latencies[((latencies.len() as f64) * q) as usize].as_secs_f64() * 1e3;
    println!("| {engine} | acknowledgement → message in its conversation | p50 {:.2} ms, p99 {:.2} ms |", p(0.5), p(0.99));
}
