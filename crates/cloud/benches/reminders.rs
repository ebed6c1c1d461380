//! Reminders (issue 14): 100,000 bookings whose reminders are due in the same minute, and the time
//! until every one of them has been handed to the provider (a local fake of Twilio's REST API);
//! then the planner's cost per booking change (create, move, cancel), timed around the real
//! planner call inside a real business transaction.
//!
//! Run: `cargo bench -p switchboard-cloud --bench reminders` (add `-- sqlite` or `-- postgres` for
//! one engine; `-- --small` for a tenth). Results go in BENCHMARKS.md.
//!
//! What is seeded how:
//! - 100 businesses are signed up through the API, each connects Twilio (SMS) through the API and
//!   turns confirmations off (so that only the reminders are due); their defaults stay: reminders
//!   24 h and 2 h before, quiet hours 21:00–08:00, Europe/London.
//! - In the database (one transaction per business): 1,000 staff members each, 1,000 customers with
//!   a phone number and no conversation yet, and one 45-minute booking per staff member, all at
//!   the same time two days after the planning time. (PostgreSQL refuses overlapping bookings of
//!   one staff member, so the same minute needs as many staff as bookings.)
//! - The reminders are then planned by the real planner: `automations::booking_changed(tx, None,
//!   booking)`, as a booking's creation calls it, 500 bookings per business transaction. Each
//!   call is timed (the planner's cost for a created booking).
//!
//! Measured: the service runs on a test clock with its background workers running. The clock moves
//! to the minute the 24-hour reminders are due and the automations job is woken (what its poll
//! does at that minute in production); the wall time runs until the fake Twilio has received the
//! 100,000th message request, and until every outbox row is recorded `sent`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;
use switchboard_core::scheduling::bookings;
use switchboard_core::workers::Job;
use switchboard_testkit::bench::{chunks, each_engine, numbers, quantile_cells, scaled};
use switchboard_testkit::whatsapp::{connect_twilio, spawn_with_fakes};
use switchboard_testkit::{Engine, Tenant, TestApp};

const BOOKINGS: i64 = 100_000;
const BUSINESSES: i64 = 100;
/// Bookings planned per business transaction while seeding.
const PLAN_PER_TX: usize = 500;
/// Planning happens at this time (UTC; 10:00 in London)...
const PLANNED_AT: &str = "2027-05-03T09:00:00Z";
/// ...for appointments at this time (10:00 in London two days later)...
const STARTS_AT: &str = "2027-05-05T09:00:00Z";
/// ...whose 24-hour reminders are due at this time.
const DUE_AT: &str = "2027-05-04T09:00:00Z";
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

#[tokio::main]
async fn main() {
    each_engine(&["engine", "measure", "p50 / result", "p99", "max"], |engine| run(engine, scaled(BOOKINGS))).await;
}

fn ms(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

struct Business {
    owner: Tenant,
    service: String,
}

async fn run(engine: Engine, total: i64) {
    let (app, fake) = spawn_with_fakes(engine, |c| {
        c.run_workers = true;
        c.max_db_connections = switchboard_cloud::Config::default().max_db_connections;
        c.provider_timeout_ms = 10_000;
        // A hundred sign-ups (and re-authentications) from the one bench address.
        c.signups_per_address_per_hour = 10_000;
        c.login_attempts_per_address_per_minute = 10_000;
        c.login_attempts_per_account_per_minute = 10_000;
    })
    .await;
    let name = engine.name();
    let clock = app.clock.clone().expect("a test clock");
    clock.set(PLANNED_AT.parse().unwrap());
    let per = total / BUSINESSES;

    let started = Instant::now();
    let mut businesses = Vec::new();
    for b in 0..BUSINESSES {
        businesses.push(business(&app, b).await);
    }
    eprintln!("{name}: {BUSINESSES} businesses signed up with Twilio connected in {:.1?}", started.elapsed());

    let started = Instant::now();
    for (b, business) in businesses.iter().enumerate() {
        seed(&app, b, business, per).await;
    }
    eprintln!("{name}: {} staff, customers and bookings seeded in {:.1?}", per * BUSINESSES, started.elapsed());

    // The real planner plans each booking's reminders, as creating it does.
    let started = Instant::now();
    let mut created = Vec::with_capacity(total as usize);
    for business in &businesses {
        created.extend(plan_all(&app, &business.owner.business_id, "bk-", None).await);
    }
    eprintln!("{name}: reminders of {} bookings planned in {:.1?}", created.len(), started.elapsed());
    let due: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM automation_runs WHERE status = 'planned' AND due_at = $1")
        .bind(ms(DUE_AT))
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(due, per * BUSINESSES, "one 24 h reminder per booking due at {DUE_AT}");
    let planned: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM automation_runs WHERE status = 'planned'").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(planned, 2 * due, "and one 2 h reminder each, later");
    assert_eq!(fake.sends().len(), 0, "nothing sent before the minute");
    if engine == Engine::Postgres {
        sqlx::query("ANALYZE").execute(app.db.writer()).await.unwrap();
    }

    // The minute comes.
    let n = due as usize;
    clock.set(DUE_AT.parse().unwrap());
    let started = Instant::now();
    app.db.wakeups().wake(Job::Automations);
    let mut all_planned_at = None;
    let mut last_report = Instant::now();
    let handed = loop {
        let accepted = fake.accepted();
        if accepted >= n {
            break started.elapsed();
        }
        if all_planned_at.is_none() && last_report.elapsed() >= Duration::from_millis(500) {
            let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM automation_runs WHERE status = 'planned' AND due_at <= $1")
                .bind(ms(DUE_AT))
                .fetch_one(app.db.reader())
                .await
                .unwrap();
            if left == 0 {
                all_planned_at = Some(started.elapsed());
            }
        }
        if last_report.elapsed() >= Duration::from_secs(10) {
            eprintln!("{name}: {:.0?}: {accepted} of {n} handed to Twilio", started.elapsed());
            last_report = Instant::now();
        }
        assert!(started.elapsed() < Duration::from_secs(1800), "{accepted} of {n} sent after 30 minutes");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let recorded = loop {
        let unsent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE status <> 'sent'").fetch_one(app.db.reader()).await.unwrap();
        if unsent == 0 {
            break started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let all_planned_at = match all_planned_at {
        Some(at) => at,
        None => handed,
    };

    // Exactly one reminder per booking, to each customer's number.
    let sends = fake.sends();
    let to: HashSet<(String, String)> =
        sends.iter().map(|s| (s.body["From"].as_str().unwrap_or("").to_owned(), s.body["To"].as_str().unwrap_or("").to_owned())).collect();
    assert_eq!(sends.len(), n, "one request per reminder");
    assert_eq!(to.len(), n, "each customer once");
    assert!(sends.iter().all(|s| s.body["Body"].as_str().is_some_and(|b| b.contains("Reply C to confirm"))), "reminder texts");
    let sent: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM automation_runs WHERE status = 'sent' AND rule = 'reminder:24h'").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(sent as usize, n);
    let messages: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE automation = 'reminder:24h' AND delivery_status = 'sent'").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(messages as usize, n);

    let rate = |d: Duration| format!("{:.1} s ({:.0} reminders/s)", d.as_secs_f64(), n as f64 / d.as_secs_f64());
    println!("| {name} | {n} reminders due in one minute ({BUSINESSES} businesses): every run made a message and outbox row | {} | | |", rate(all_planned_at));
    println!("| {name} | ... every message handed to the provider (the fake Twilio received the last request) | {} | | |", rate(handed));
    println!("| {name} | ... every outbox row recorded `sent` | {} | | |", rate(recorded));
    report(name, &format!("planner, booking created ({} calls; confirmations off)", created.len()), &mut created);

    // The planner on the same store with the default settings (confirmations on): new bookings a
    // week later, then each moved a day, then each cancelled.
    let first = &businesses[0];
    let patched = app.patch("/v1/automations", &first.owner.access, json!({"confirmations": true})).await;
    assert_eq!(patched.status, StatusCode::OK, "{patched:?}");
    seed_bookings(&app, 0, first, per, "bk2-", ms(STARTS_AT) + 7 * DAY_MS).await;
    let mut created = plan_all(&app, &first.owner.business_id, "bk2-", None).await;
    report(name, &format!("planner, booking created ({} calls)", created.len()), &mut created);
    let mut moved = plan_all(&app, &first.owner.business_id, "bk2-", Some("start_at = start_at + 86400000, end_at = end_at + 86400000, block_start = block_start + 86400000, block_end = block_end + 86400000")).await;
    report(name, &format!("planner, booking moved a day ({} calls)", moved.len()), &mut moved);
    let mut cancelled = plan_all(&app, &first.owner.business_id, "bk2-", Some("status = 'cancelled'")).await;
    report(name, &format!("planner, booking cancelled ({} calls)", cancelled.len()), &mut cancelled);
    let runs: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM automation_runs WHERE business_id = $1 AND booking_id LIKE 'bk2-%' AND kind = 'reminder'")
        .bind(&first.owner.business_id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(runs, 2 * per, "a move re-plans the same two reminder runs");
    app.db.close().await;
}

fn report(engine: &str, label: &str, samples: &mut [Duration]) {
    println!("| {engine} | {label} | {} |", quantile_cells(samples, 3));
}

/// A business signed up through the API, with Twilio connected and confirmations off.
async fn business(app: &TestApp, b: i64) -> Business {
    let owner = app.signup(&format!("remind{b}")).await;
    let r = connect_twilio(app, &owner, &format!("+1415550{b:04}")).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app.patch("/v1/automations", &owner.access, json!({"confirmations": false})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 45, "price_cents": 4500})).await;
    assert_eq!(service.status, StatusCode::CREATED, "{service:?}");
    Business { service: service.body["id"].as_str().unwrap().to_owned(), owner }
}

/// `per` staff members and customers, and one booking per staff member at [`STARTS_AT`].
async fn seed(app: &TestApp, b: usize, business: &Business, per: i64) {
    let now = ms(PLANNED_AT);
    for (from, to) in chunks(per) {
        let mut tx = app.db.writer().begin().await.unwrap();
        let n = numbers(from, to);
        for sql in [
            format!(
                "{n}INSERT INTO staff (id, business_id, name, email, password_hash, role, active, created_at, updated_at) \
                 SELECT 'st-{b}-' || i, $1, 'Stylist ' || i, 'st-{b}-' || i || '@bench.example', 'no login', 'agent', 1, $2, $2 FROM n"
            ),
            format!(
                "{n}INSERT INTO customers (id, business_id, name, phone, search_text, created_at, updated_at) \
                 SELECT 'cu-{b}-' || i, $1, 'Customer ' || i, '+447700' || (900000 + i), 'customer ' || i, $2, $2 FROM n"
            ),
        ] {
            sqlx::query(&sql).bind(&business.owner.business_id).bind(now).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    seed_bookings(app, b, business, per, "bk-", ms(STARTS_AT)).await;
}

/// One 45-minute booking per seeded staff member (and customer) at `start`, ids `{prefix}{b}-{i}`.
async fn seed_bookings(app: &TestApp, b: usize, business: &Business, per: i64, prefix: &str, start: i64) {
    let now = app.now_ms();
    for (from, to) in chunks(per) {
        let n = numbers(from, to);
        sqlx::query(&format!(
            "{n}INSERT INTO bookings (id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, \
             created_by_staff_id, created_at, updated_at) \
             SELECT '{prefix}{b}-' || i, $1, 'cu-{b}-' || i, $2, 'st-{b}-' || i, $3, $4, $3, $4, 'confirmed', 'staff', $5, $6, $6 FROM n"
        ))
        .bind(&business.owner.business_id)
        .bind(&business.service)
        .bind(start)
        .bind(start + 45 * MINUTE_MS)
        .bind(&business.owner.staff_id)
        .bind(now)
        .execute(app.db.writer())
        .await
        .unwrap();
    }
}

async fn booking_ids(app: &TestApp, business_id: &str, prefix: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT id FROM bookings WHERE business_id = $1 AND id LIKE $2 ORDER BY id")
        .bind(business_id)
        .bind(format!("{prefix}%"))
        .fetch_all(app.db.reader())
        .await
        .unwrap()
}

/// Plans the business's bookings `{prefix}…` as created ones (`change` is `None`), or changes
/// each (`change`: SQL for `SET`, with a new version) as the booking rules would have and plans
/// that change; the time of each planner call.
async fn plan_all(app: &TestApp, business_id: &str, prefix: &str, change: Option<&str>) -> Vec<Duration> {
    let ids = booking_ids(app, business_id, prefix).await;
    let mut samples = Vec::with_capacity(ids.len());
    for group in ids.chunks(PLAN_PER_TX) {
        let mut tx = app.db.begin_business(business_id).await.unwrap();
        for id in group {
            let booking = bookings::load(tx.conn(), business_id, id).await.unwrap().expect("the booking");
            let (before, after) = match change {
                None => (None, booking),
                Some(set) => {
                    sqlx::query(&format!("UPDATE bookings SET {set}, version = version + 1, updated_at = $1 WHERE id = $2"))
                        .bind(app.now_ms())
                        .bind(id)
                        .execute(tx.conn())
                        .await
                        .unwrap();
                    (Some(booking), bookings::load(tx.conn(), business_id, id).await.unwrap().expect("the booking"))
                }
            };
            let started = Instant::now();
            switchboard_core::automations::booking_changed(&mut tx, before.as_ref(), &after).await.unwrap();
            samples.push(started.elapsed());
        }
        tx.commit_even_if_unchanged().await.unwrap();
    }
    samples
}
