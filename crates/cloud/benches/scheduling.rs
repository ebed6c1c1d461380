//! Scheduling figures: free slots over 31 days for a business with 5 staff and 2,000 bookings, and
//! booking throughput for distinct slots and for one contended slot, on SQLite and PostgreSQL.
//!
//! Run: `cargo bench -p switchboard-cloud --bench scheduling [-- sqlite|postgres]`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_cloud::Config;
use switchboard_testkit::bench::{on_engines, p50_p99};
use switchboard_testkit::{Engine, TestApp};
use tokio::sync::Semaphore;

const STAFF: usize = 5;
const BOOKINGS: usize = 2_000;
const CONCURRENCY: usize = 16;

#[tokio::main]
async fn main() {
    // Bookings are durable commits: PostgreSQL with fsync on, as in production.
    std::env::set_var("SWITCHBOARD_TESTKIT_PG_DURABLE", "1");
    on_engines(run).await;
}

/// The owner's calls to the service, from many tasks at once.
struct Api {
    app: TestApp,
    token: String,
}

impl Api {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let reply = self.app.call(method, path, Some(&self.token), body).await;
        (reply.status.as_u16(), reply.body)
    }
}

async fn run(engine: Engine) {
    let app = TestApp::spawn_live(engine, |c| c.max_db_connections = Config::default().max_db_connections).await;
    let owner = app.signup("bench").await;
    let mut staff = vec![owner.staff_id.clone()];
    for _ in 1..STAFF {
        staff.push(app.add_staff(&owner, "agent").await.staff_id);
    }
    let db_handle = app.db.clone();
    let engine = engine.name();
    let api = Arc::new(Api { app, token: owner.access.clone() });

    let day = json!([{"start": "09:00", "end": "18:00"}]);
    let week = json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day});
    api.send(reqwest::Method::PATCH, "/v1/schedule", Some(json!({"opening_hours": week, "min_notice_minutes": 0, "max_advance_days": 365, "slot_interval_minutes": 15}))).await;
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
        let res = api.app.client.get(format!("{}/v1/availability?service_id={service}&from=2027-01-04&to=2027-02-03&limit=2000", api.app.base))
            .bearer_auth(&api.token).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let body = res.bytes().await.unwrap();
        assert!(body.len() > 1000);
        if i >= 50 {
            samples.push(started.elapsed());
        }
    }
    println!("| {engine} | free slots, 31 days, 5 staff, 2,000 bookings (over HTTP) | {} |", p50_p99(&mut samples));

    // The same query's parts, in-process: database load, engine, answer encoding.
    let db = db_handle.clone();
    let business_id = owner.business_id.clone();
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
        println!("| {engine} | free slots, 31 days: {label} (in-process) | {} |", p50_p99(samples));
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
