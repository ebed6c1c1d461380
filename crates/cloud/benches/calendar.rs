//! Google Calendar figures (issue 18), against the local Google stand-in over loopback HTTP, the
//! service on its real clock with its workers running, on SQLite and PostgreSQL:
//!
//! * an outside event added in Google → the person's time answers "not available": the stand-in
//!   sends its change notification at once, the service reads the change (`events.list` by sync
//!   token) and its availability check sees it. Timed from just before the event is added until
//!   the first check that answers busy, so the stand-in's own time is included (an upper bound);
//! * free slots over 31 days for 10 staff, before and after each connects a calendar of 2,000
//!   events (spread over the year ahead, so ~170 of them in the queried month).
//!
//! Run: `cargo bench -p switchboard-cloud --bench calendar [-- sqlite|postgres]`.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use switchboard_testkit::bench::{on_engines, p50_p99};
use switchboard_testkit::google::{GoogleStandIn, PRIMARY};
use switchboard_testkit::{every_day, free_port, Engine, Tenant, TestApp};

const STAFF: usize = 10;
const EVENTS: i64 = 2_000;
const NOTIFICATIONS: usize = 200;
const QUERIES: usize = 300;
const HOUR: i64 = 3_600_000;

#[tokio::main]
async fn main() {
    on_engines(run).await;
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

/// Connects `person`'s Google Calendar as the console does (PKCE, consent redirected to a
/// loopback address, then finish), by `owner`.
async fn connect(app: &TestApp, owner: &Tenant, person: &str) {
    let verifier = format!("bench-verifier-{person}-{}", "x".repeat(40));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let started = app
        .post(&format!("/v1/staff/{person}/google-calendar/start"), &owner.access, json!({"redirect_uri": "http://127.0.0.1:53682/", "code_challenge": challenge}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{started:?}");
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let consent = browser.get(started.body["auth_url"].as_str().unwrap()).send().await.unwrap();
    let location = consent.headers()["location"].to_str().unwrap().to_owned();
    let query: std::collections::HashMap<String, String> = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    let finished = app
        .post(&format!("/v1/staff/{person}/google-calendar/finish"), &owner.access, json!({"state": query["state"], "code": query["code"], "code_verifier": verifier}))
        .await;
    assert_eq!(finished.status, StatusCode::OK, "{finished:?}");
}

/// Waits until every connected person's calendar has been read once.
async fn synced(app: &TestApp, owner: &Tenant, staff: &[String]) {
    for person in staff {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let shown = app.get(&format!("/v1/staff/{person}/google-calendar"), &owner.access).await;
            if shown.body["last_sync_at"].is_string() {
                break;
            }
            assert!(Instant::now() < deadline, "never synced: {shown:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn free_slots(app: &TestApp, owner: &Tenant, service: &str, from: &str, to: &str) -> Duration {
    let started = Instant::now();
    let res = app
        .client
        .get(format!("{}/v1/availability?service_id={service}&from={from}&to={to}&limit=2000", app.base))
        .bearer_auth(&owner.access)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.bytes().await.unwrap();
    assert!(body.len() > 1000);
    started.elapsed()
}

/// A business open 08:00–20:00 every day with `STAFF` people and a 30-minute service.
async fn business(app: &TestApp, label: &str) -> (Tenant, Vec<String>, String) {
    let owner = app.signup(label).await;
    let mut staff = vec![owner.staff_id.clone()];
    for _ in 1..STAFF {
        staff.push(app.add_staff(&owner, "agent").await.staff_id);
    }
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("08:00", "20:00"), "min_notice_minutes": 0, "max_advance_days": 730, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await;
    (owner, staff, service.body["id"].as_str().unwrap().to_owned())
}

async fn run(engine: Engine) {
    let google = GoogleStandIn::start().await;
    // Google's own page size for events.list.
    google.state.page_size.store(250, Ordering::SeqCst);
    let port = free_port();
    let app = TestApp::spawn_live(engine, |c| {
        google.configure(c);
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    // Two businesses alike but for Google: the same query is timed in both, alternately, so that
    // whatever else the machine is doing weighs on both the same.
    let (plain, _, plain_service) = business(&app, "calendar-bench-plain").await;
    let (owner, staff, service) = business(&app, "calendar-bench").await;
    let engine = engine.name();

    // The queried month: from tomorrow, 31 days.
    let day = 24 * HOUR;
    let today = app.now_ms() / day * day;
    let (from, to) = (rfc3339(today + day), rfc3339(today + 32 * day));
    let from_q = from.replace('+', "%2B");
    let to_q = to.replace('+', "%2B");

    // 2,000 one-hour events over the next 365 days (every ~4.4 hours, in and out of opening
    // hours), then everyone connects: each reads the calendar whole.
    let step = 365 * day / EVENTS;
    for i in 0..EVENTS {
        let start = today + day + i * step;
        google.add_event(PRIMARY, &rfc3339(start), &rfc3339(start + HOUR), json!({}));
    }
    let connecting = Instant::now();
    for person in &staff {
        connect(&app, &owner, person).await;
    }
    synced(&app, &owner, &staff).await;
    println!("| {engine} | {STAFF} people connect, each calendar read whole ({EVENTS} events) | {:.2} s |", connecting.elapsed().as_secs_f64());
    let cached: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_events").fetch_one(app.db.reader()).await.unwrap();
    assert!(cached >= STAFF as i64 * EVENTS, "only {cached} events cached");

    // The calendars' events do block: fewer free slots where they are connected.
    let slots = |t: &Tenant, service: &str| {
        let path = format!("/v1/availability?service_id={service}&from={from_q}&to={to_q}&limit=2000");
        let (app, access) = (&app, t.access.clone());
        async move { app.get(&path, &access).await.body["slots"].as_array().map_or(0, Vec::len) }
    };
    let (plain_slots, busy_slots) = (slots(&plain, &plain_service).await, slots(&owner, &service).await);
    assert!(busy_slots < plain_slots, "{busy_slots} free slots with calendars, {plain_slots} without");
    println!("| {engine} | free slots listed, without calendars / with | {plain_slots} / {busy_slots} |");

    let (mut without, mut with) = (Vec::new(), Vec::new());
    for i in 0..QUERIES + 20 {
        let (a, b) = (free_slots(&app, &plain, &plain_service, &from_q, &to_q).await, free_slots(&app, &owner, &service, &from_q, &to_q).await);
        if i >= 20 {
            without.push(a);
            with.push(b);
        }
    }
    let without_p99 = switchboard_testkit::bench::quantile_ms(&mut without, 0.99);
    let with_p99 = switchboard_testkit::bench::quantile_ms(&mut with, 0.99);
    println!("| {engine} | free slots, 31 days, {STAFF} staff, no calendars connected ({QUERIES} queries) | {} |", p50_p99(&mut without));
    println!("| {engine} | free slots, 31 days, {STAFF} staff, each with a connected calendar of {EVENTS} events ({QUERIES} queries, alternating with the row above) | {} |", p50_p99(&mut with));
    println!("| {engine} | free-slot p99 with calendars ÷ without | {:.2}× (target ≤ 1.20×) |", with_p99 / without_p99);

    // Notification → availability: one person's calendar only, so one channel is told.
    for person in staff.iter().skip(1) {
        assert_eq!(app.delete(&format!("/v1/staff/{person}/google-calendar"), &owner.access).await.status, StatusCode::NO_CONTENT);
    }
    google.deliver_immediately(true);
    let mut samples = Vec::with_capacity(NOTIFICATIONS);
    let mut i = 0;
    while samples.len() < NOTIFICATIONS {
        // A 15-minute event at a quarter hour of the second month (inside opening hours) that
        // nothing blocks yet.
        let start = today + 40 * day + (i / 40) * day + 9 * HOUR + (i % 40) * 15 * 60_000;
        i += 1;
        let (start_s, end_s) = (rfc3339(start), rfc3339(start + 15 * 60_000));
        let check = format!("/v1/availability/check?service_id={service}&start={}&staff_id={}", start_s.replace('+', "%2B"), owner.staff_id);
        if app.get(&check, &owner.access).await.body["available"] != true {
            continue;
        }
        let t0 = Instant::now();
        google.add_event(PRIMARY, &start_s, &end_s, json!({"summary": format!("Outside {i}")}));
        loop {
            let now = app.get(&check, &owner.access).await;
            if now.body["available"] == false {
                break;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "the event never blocked its time");
        }
        samples.push(t0.elapsed());
    }
    println!("| {engine} | outside event added in Google → its time unavailable ({NOTIFICATIONS} events; stand-in time included) | {} |", p50_p99(&mut samples));
}
