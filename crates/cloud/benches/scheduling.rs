//! Scheduling figures: free slots over 31 days for a business with 5 staff and 2,000 bookings, and
//! booking throughput for distinct slots and for one contended slot, on SQLite and PostgreSQL.
//!
//! Run: `cargo bench -p switchboard-cloud --bench scheduling [-- sqlite|postgres]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_cloud::{Application, Config};
use tokio::sync::Semaphore;

const STAFF: usize = 5;
const BOOKINGS: usize = 2_000;
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    // Bookings are durable commits: PostgreSQL with fsync on, as in production.
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

struct Api {
    base: String,
    token: String,
    client: reqwest::Client,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self.client.request(method, format!("{}{path}", self.base)).bearer_auth(&self.token);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }
}

async fn run(engine: &str) {
    let dir = tempfile::tempdir().unwrap();
    let url = match engine {
        "sqlite" => format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()),
        "postgres" => switchboard_testkit::pg_cluster().create_database(),
        other => panic!("unknown engine {other}"),
    };
    let config = Config { bind: "127.0.0.1:0".parse().unwrap(), database_url: Some(url), data_dir: Some(dir.path().to_path_buf()), ..Config::default() };
    let app = Application::build(config).await.unwrap();
    let base = format!("http://{}", app.local_addr());
    let db_handle = app.state().db.clone();
    tokio::spawn(app.run_until(std::future::pending()));
    let client = reqwest::Client::new();
    let signup: Value = client.post(format!("{base}/v1/auth/signup"))
        .json(&json!({"business_name": "Bench", "timezone": "Europe/London", "name": "B", "email": "bench@example.com", "password": "bench-password"}))
        .send().await.unwrap().json().await.unwrap();
    let api = Arc::new(Api { base, token: signup["access_token"].as_str().unwrap().into(), client });

    let day = json!([{"start": "09:00", "end": "18:00"}]);
    let week = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day});
    api.send(reqwest::Method::PATCH, "/v1/schedule", Some(json!({"opening_hours": week, "min_notice_minutes": 0, "max_advance_days": 365, "slot_interval_minutes": 15}))).await;
    let mut staff = vec![signup["staff_id"].as_str().unwrap().to_owned()];
    for i in 1..STAFF {
        let (_, inv) = api.send(reqwest::Method::POST, "/v1/invitations", Some(json!({"email": format!("s{i}@example.com"), "role": "agent"}))).await;
        let (_, accepted) = api.send(reqwest::Method::POST, "/v1/auth/accept-invitation", Some(json!({"token": inv["token"], "name": format!("Staff {i}"), "password": "bench-password"}))).await;
        staff.push(accepted["staff_id"].as_str().unwrap().into());
    }
    let (_, service) = api.send(reqwest::Method::POST, "/v1/services", Some(json!({"name": "Cut", "duration_minutes": 30, "buffer_after_minutes": 10}))).await;
    let service = service["id"].as_str().unwrap().to_owned();
    let (_, customer) = api.send(reqwest::Method::POST, "/v1/customers", Some(json!({"name": "Bench"}))).await;
    let customer = customer["id"].as_str().unwrap().to_owned();

    // Distinct (time, person) pairs from the next ~60 days, booked 16 at a time.
    let mut pairs = Vec::new();
    let mut from = String::new();
    while pairs.len() < BOOKINGS {
        let (_, a) = api.send(reqwest::Method::GET, &format!("/v1/availability?service_id={service}&limit=2000{from}"), None).await;
        let slots = a["slots"].as_array().unwrap();
        // Every other 15-minute start keeps the 40-minute blocks of one person apart.
        for (i, s) in slots.iter().enumerate() {
            if i % 3 == 0 {
                for id in s["staff_ids"].as_array().unwrap() {
                    pairs.push((s["start"].as_str().unwrap().to_owned(), id.as_str().unwrap().to_owned()));
                }
            }
        }
        from = format!("&from={}", slots.last().unwrap()["end"].as_str().unwrap());
    }
    pairs.truncate(BOOKINGS);
    let gate = Arc::new(Semaphore::new(CONCURRENCY));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (start, staff_id) in pairs {
        let api = api.clone();
        let permit = gate.clone().acquire_owned().await.unwrap();
        let body = json!({"customer_id": customer, "service_id": service, "staff_id": staff_id, "start": start});
        tasks.push(tokio::spawn(async move {
            let (status, body) = api.send(reqwest::Method::POST, "/v1/bookings", Some(body)).await;
            drop(permit);
            assert_eq!(status, 201, "{body}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = started.elapsed();
    println!("| {engine} | booking throughput, {BOOKINGS} distinct slots, {CONCURRENCY} in flight | {:.0} bookings/s |", BOOKINGS as f64 / elapsed.as_secs_f64());

    // Free slots over 31 days with 2,000 bookings in place.
    let mut samples = Vec::new();
    for i in 0..2050 {
        let started = Instant::now();
        let res = api.client.get(format!("{}/v1/availability?service_id={service}&from=2027-01-04&to=2027-02-03&limit=2000", api.base))
            .bearer_auth(&api.token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body = res.bytes().await.unwrap();
        assert!(body.len() > 1000);
        if i >= 50 {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    let p = |q: f64| samples[((samples.len() as f64) * q) as usize].as_secs_f64() * 1e3;
    println!("| {engine} | free slots, 31 days, 5 staff, 2,000 bookings (over HTTP) | p50 {:.2} ms, p99 {:.2} ms |", p(0.5), p(0.99));

    // The same query's parts, in-process: database load, engine, answer encoding.
    let db = db_handle.clone();
    let business_id = signup["business_id"].as_str().unwrap().to_owned();
    let tz = jiff::tz::TimeZone::get("Europe/London").unwrap();
    let from: jiff::Timestamp = "2027-01-04T00:00:00Z".parse().unwrap();
    let to: jiff::Timestamp = "2027-02-04T00:00:00Z".parse().unwrap();
    let (mut load, mut engine_t, mut encode) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..300 {
        let mut conn = db.reader().acquire().await.unwrap();
        let t0 = Instant::now();
        let svc = switchboard_cloud::services::load(&mut conn, &business_id, &service).await.unwrap().unwrap();
        let loaded = switchboard_cloud::schedule::load_for_service(&mut conn, &business_id, &svc, from, to, false, None).await.unwrap();
        let t1 = Instant::now();
        let slots = loaded.schedule.free_slots(&loaded.spec, None, from, to, jiff::Timestamp::now(), 2000, false);
        let t2 = Instant::now();
        let wire: Vec<_> = slots.iter().map(|s| switchboard_cloud::bookings::slot_to_wire(s, &tz)).collect();
        let bytes = serde_json::to_vec(&wire).unwrap();
        let t3 = Instant::now();
        assert!(bytes.len() > 1000);
        load.push(t1 - t0);
        engine_t.push(t2 - t1);
        encode.push(t3 - t2);
    }
    for (label, samples) in [("database load", &mut load), ("engine", &mut engine_t), ("answer encoding", &mut encode)] {
        samples.sort();
        let p = |q: f64| samples[((samples.len() as f64) * q) as usize].as_secs_f64() * 1e3;
        println!("| {engine} | free slots, 31 days: {label} (in-process) | p50 {:.2} ms, p99 {:.2} ms |", p(0.5), p(0.99));
    }

    // One contended slot: 400 requests, 16 in flight; exactly one wins.
    let (_, a) = api.send(reqwest::Method::GET, &format!("/v1/availability?service_id={service}&from=2027-03-01&limit=1"), None).await;
    let start = a["slots"][0]["start"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..400 {
        let api = api.clone();
        let permit = gate.clone().acquire_owned().await.unwrap();
        let body = json!({"customer_id": customer, "service_id": service, "staff_id": staff[0], "start": start});
        tasks.push(tokio::spawn(async move {
            let (status, _) = api.send(reqwest::Method::POST, "/v1/bookings", Some(body)).await;
            drop(permit);
            status
        }));
    }
    let mut won = 0;
    for t in tasks {
        won += usize::from(t.await.unwrap() == 201);
    }
    let elapsed: Duration = started.elapsed();
    assert_eq!(won, 1);
    println!("| {engine} | one contended slot, 400 requests, {CONCURRENCY} in flight (1 booked, 399 slot_taken) | {:.0} requests/s |", 400.0 / elapsed.as_secs_f64());
}
