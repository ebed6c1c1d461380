//! Assistant figures: how fast voice tool calls are answered (no model involved), and the
//! assistant's own overhead per turn — webhook acknowledged → reply committed — with a model that
//! answers instantly (so the model's own time is excluded) and with the built-in engine.
//!
//! Run: `cargo bench -p switchboard-cloud --bench assistant` (SQLite; the turn path is engine-agnostic).

use std::time::{Duration, Instant};

use serde_json::json;
use switchboard_cloud::Config;
use switchboard_testkit::bench::p50_p99;
use switchboard_testkit::fake_llm::{call, reply, FakeLlm};
use switchboard_testkit::whatsapp::sign_meta;
use switchboard_testkit::{every_day, Engine, Tenant, TestApp};

const TURNS: usize = 200;

/// A model that answers at once, every turn: first a tool call (the services), then a reply.
async fn instant_model() -> FakeLlm {
    let llm = FakeLlm::start().await;
    llm.script((0..TURNS).flat_map(|_| [call("list_services", json!({})), reply("We have 10:00 free tomorrow. Shall I book it?")]));
    llm
}

struct Running {
    app: TestApp,
    owner: Tenant,
    service: String,
}

async fn start(llm: Option<String>) -> Running {
    let app = TestApp::spawn_live(Engine::Sqlite, |c| {
        c.llm_base_url = llm;
        // Replies go nowhere: the outbox is not what is measured.
        c.whatsapp_api_base = "http://127.0.0.1:9".into();
        c.max_db_connections = Config::default().max_db_connections;
    })
    .await;
    let owner = app.signup("bench").await;
    let week = every_day("09:00", "18:00");
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": week, "min_notice_minutes": 0})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Haircut", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
    for (path, body) in [
        ("/v1/channels/whatsapp", json!({"phone_number_id": "42", "access_token": "t", "app_secret": "bench-secret", "verify_token": "v"})),
        ("/v1/channels/vapi", json!({"secret": "vapi-bench"})),
    ] {
        let r = app.call(reqwest::Method::PUT, path, Some(&owner.access), Some(body)).await;
        assert!(r.status.is_success(), "{r:?}");
    }
    Running { app, owner, service }
}

/// Webhook acknowledged → the assistant's reply committed, for `turns` customers.
async fn turn_latency(r: &Running, turns: usize) -> Vec<Duration> {
    let c = reqwest::Client::new();
    let mut samples = Vec::new();
    for i in 0..turns {
        let from = format!("4479111{:05}", i);
        let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
            "metadata": {"phone_number_id": "42"}, "contacts": [{"profile": {"name": "Bench"}, "wa_id": from}],
            "messages": [{"from": from, "id": format!("wamid.turn{i}"), "timestamp": "1767225600", "type": "text", "text": {"body": "Can I book a haircut tomorrow at 10am?"}}]}}]}]})).unwrap();
        let res = c.post(format!("{}/webhooks/whatsapp", r.app.base)).header("x-hub-signature-256", sign_meta("bench-secret", &body)).body(body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let acked = Instant::now();
        loop {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages m JOIN customers c ON c.business_id = m.business_id \
                JOIN conversations v ON v.id = m.conversation_id AND v.customer_id = c.id WHERE m.business_id = $1 AND m.author_kind = 'assistant' AND c.whatsapp_id = $2")
                .bind(&r.owner.business_id).bind(&from).fetch_one(r.app.db.reader()).await.unwrap();
            if n > 0 {
                break;
            }
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
        samples.push(acked.elapsed());
    }
    samples
}

#[tokio::main]
async fn main() {
    println!("| measure | result |");
    println!("|---|---|");
    let builtin = start(None).await;

    // Voice: Vapi tool calls, answered synchronously.
    let c = reqwest::Client::new();
    let tomorrow = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get("Europe/London").unwrap()).date().tomorrow().unwrap();
    for (label, name, args) in [
        ("list_services", "list_services", json!({})),
        ("find_free_slots (a day)", "find_free_slots", json!({"service_id": builtin.service, "date": tomorrow.to_string()})),
    ] {
        let body = json!({"message": {"type": "tool-calls", "call": {"id": "bench-call", "customer": {"number": "+14155550142"}},
            "toolCallList": [{"id": "t1", "type": "function", "function": {"name": name, "arguments": args}}]}});
        let mut samples = Vec::new();
        for i in 0..1050 {
            let t = Instant::now();
            let res = c.post(format!("{}/webhooks/vapi/{}", builtin.app.base, builtin.owner.business_id)).bearer_auth("vapi-bench").json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.bytes().await.unwrap();
            if i >= 50 {
                samples.push(t.elapsed());
            }
        }
        println!("| voice tool call answered: {label} (1,000 calls, over HTTP) | {} |", p50_p99(&mut samples));
    }

    println!("| turn, built-in engine: acknowledged → reply committed (200 customers) | {} |", p50_p99(&mut turn_latency(&builtin, TURNS).await));
    let model = instant_model().await;
    let with_model = start(Some(model.base.clone())).await;
    println!(
        "| turn with a model that answers instantly (one tool call + reply): acknowledged → reply committed (200 customers) | {} |",
        p50_p99(&mut turn_latency(&with_model, TURNS).await)
    );
}
