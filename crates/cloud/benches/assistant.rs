//! Assistant figures: how fast voice tool calls are answered (no model involved), and the
//! assistant's own overhead per turn — webhook acknowledged → reply committed — with a model that
//! answers instantly (so the model's own time is excluded) and with the built-in engine.
//!
//! Run: `cargo bench -p switchboard-cloud --bench assistant` (SQLite; the turn path is engine-agnostic).

use std::time::{Duration, Instant};

use axum::routing::post;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_cloud::{Application, Config};

fn percentiles(mut samples: Vec<Duration>) -> String {
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64) * q) as usize].as_secs_f64() * 1e3;
    format!("p50 {:.2} ms, p99 {:.2} ms", p(0.5), p(0.99))
}

/// A model that answers at once: first a tool call (free slots), then a reply.
async fn instant_model() -> String {
    let app = axum::Router::new().route(
        "/v1/chat/completions",
        post(|axum::Json(body): axum::Json<Value>| async move {
            let asked_tools = body["messages"].as_array().map(|m| m.iter().any(|x| x["role"] == "tool")).unwrap_or(false);
            let message = if asked_tools {
                json!({"role": "assistant", "content": "We have 10:00 free tomorrow. Shall I book it?"})
            } else {
                json!({"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "list_services", "arguments": "{}"}}]})
            };
            axum::Json(json!({"choices": [{"index": 0, "message": message}], "usage": {"prompt_tokens": 100, "completion_tokens": 10}}))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

struct Running {
    base: String,
    token: String,
    business: String,
    service: String,
    db: switchboard_cloud::store::Db,
    _dir: tempfile::TempDir,
}

async fn start(llm: Option<String>) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        bind: "127.0.0.1:0".parse().unwrap(),
        database_url: Some(format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display())),
        data_dir: Some(dir.path().to_path_buf()),
        llm_base_url: llm,
        // Replies go nowhere: the outbox is not what is measured.
        whatsapp_api_base: "http://127.0.0.1:9".into(),
        ..Config::default()
    };
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let db = app.state().db.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let c = reqwest::Client::new();
    let signup: Value = c.post(format!("{base}/v1/auth/signup"))
        .json(&json!({"business_name": "Bench", "timezone": "Europe/London", "name": "B", "email": "bench@example.com", "password": "bench-password"}))
        .send().await.unwrap().json().await.unwrap();
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let day = json!([{"start": "09:00", "end": "18:00"}]);
    let week = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day});
    c.patch(format!("{base}/v1/schedule")).bearer_auth(&token).json(&json!({"opening_hours": week, "min_notice_minutes": 0})).send().await.unwrap();
    let service: Value = c.post(format!("{base}/v1/services")).bearer_auth(&token).json(&json!({"name": "Haircut", "duration_minutes": 30})).send().await.unwrap().json().await.unwrap();
    for (path, body) in [
        ("/v1/channels/whatsapp", json!({"phone_number_id": "42", "access_token": "t", "app_secret": "bench-secret", "verify_token": "v"})),
        ("/v1/channels/vapi", json!({"secret": "vapi-bench"})),
    ] {
        assert!(c.put(format!("{base}{path}")).bearer_auth(&token).json(&body).send().await.unwrap().status().is_success());
    }
    Running { base, token, business: signup["business_id"].as_str().unwrap().into(), service: service["id"].as_str().unwrap().into(), db, _dir: dir }
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
        let res = c.post(format!("{}/webhooks/whatsapp", r.base)).header("x-hub-signature-256", sign("bench-secret", &body)).body(body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let acked = Instant::now();
        loop {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages m JOIN customers c ON c.business_id = m.business_id \
                JOIN conversations v ON v.id = m.conversation_id AND v.customer_id = c.id WHERE m.business_id = $1 AND m.author_kind = 'assistant' AND c.whatsapp_id = $2")
                .bind(&r.business).bind(&from).fetch_one(r.db.reader()).await.unwrap();
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
            let res = c.post(format!("{}/webhooks/vapi/{}", builtin.base, builtin.business)).bearer_auth("vapi-bench").json(&body).send().await.unwrap();
            assert_eq!(res.status(), 200);
            res.bytes().await.unwrap();
            if i >= 50 {
                samples.push(t.elapsed());
            }
        }
        println!("| voice tool call answered: {label} (1,000 calls, over HTTP) | {} |", percentiles(samples));
    }
    let _ = &builtin.token;

    println!("| turn, built-in engine: acknowledged → reply committed (200 customers) | {} |", percentiles(turn_latency(&builtin, 200).await));
    let with_model = start(Some(instant_model().await)).await;
    println!(
        "| turn with a model that answers instantly (one tool call + reply): acknowledged → reply committed (200 customers) | {} |",
        percentiles(turn_latency(&with_model, 200).await)
    );
}
