//! Connecting a staff member's Google Calendar from the console, as Settings does: the desk's
//! command makes the PKCE verifier, listens on loopback and asks the real service to start; "the
//! browser" follows the Google stand-in's consent redirect to that listener; the desk finishes
//! with the service. A refusal on Google's page comes back as a refusal, and nothing is left
//! waiting. An event deleted in Google reaches the console as a synced task, which the desk
//! lists and applies.

use console_core::credentials::Keep;
use console_core::desk::{Command as C, Desk};
use console_core::desk::SettingsMethod;
use serde_json::{json, Value};
use switchboard_testkit::google::{GoogleStandIn, PRIMARY};
use switchboard_testkit::{every_day, free_port, Engine, TestApp};

const HOUR: i64 = 3_600_000;

/// Signs a desk in (this session only: no keyring needed) and connects the person's Google
/// Calendar through it, playing the browser.
async fn connected_desk(app: &TestApp, owner: &switchboard_testkit::Tenant, dir: &std::path::Path) -> std::sync::Arc<Desk> {
    std::env::set_var(console_core::google::BROWSER_ENV, "none");
    let desk = Desk::open(dir, None, switchboard_tests::quick()).await.unwrap();
    desk.dispatch(C::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), code: None, keep: Some(Keep::Session), passphrase: None }).await.unwrap();
    let started = desk.dispatch(C::GoogleCalendarConnect { staff_id: owner.staff_id.clone() }).await.unwrap();
    assert_eq!(reqwest::get(started["auth_url"].as_str().unwrap()).await.unwrap().status(), 200);
    let connection = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.unwrap();
    assert_eq!(connection["status"], "connected", "{connection}");
    desk
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_connects_google_calendar_through_its_loopback_listener() {
    // No real browser here: the test plays it.
    std::env::set_var(console_core::google::BROWSER_ENV, "none");
    let google = GoogleStandIn::start().await;
    let app = TestApp::spawn_live(Engine::Sqlite, |c| google.configure(c)).await;
    let owner = app.signup("gcal").await;
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path(), None, switchboard_tests::quick()).await.unwrap();
    desk.dispatch(C::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), code: None, keep: Some(Keep::Session), passphrase: None })
        .await
        .expect("signed in for this session");

    let started = desk.dispatch(C::GoogleCalendarConnect { staff_id: owner.staff_id.clone() }).await.unwrap();
    assert_eq!(started["browser_opened"], false, "{started}");
    let auth_url = reqwest::Url::parse(started["auth_url"].as_str().unwrap()).unwrap();
    let param = |url: &reqwest::Url, name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned()).unwrap_or_default();
    let redirect_uri = param(&auth_url, "redirect_uri");
    assert!(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/google-calendar"), "{redirect_uri}");
    assert_eq!(param(&auth_url, "code_challenge_method"), "S256");

    // A stray request (a stale tab, someone else's state) does not end the wait or slip a code in.
    let stray = reqwest::get(format!("{redirect_uri}?state=not-ours&code=4/forged")).await.unwrap();
    assert_eq!(stray.status(), 404);
    // The browser: Google's page approves and redirects to the console's listener.
    let page = reqwest::get(auth_url.as_str()).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("close this tab"));
    let connection = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.expect("connected");
    assert_eq!(connection["status"], "connected", "{connection}");
    let primary = connection["calendars"].as_array().unwrap().iter().find(|c| c["calendar_id"] == PRIMARY).expect("the primary calendar").clone();
    assert_eq!(primary["selected"], true, "{connection}");
    assert!(!connection.to_string().contains("token"), "no tokens in what the console gets: {connection}");
    // The service holds it too (Settings reads it from there).
    let shown = desk.dispatch(C::Settings { method: console_core::desk::SettingsMethod::Get, path: format!("/v1/staff/{}/google-calendar", owner.staff_id), body: None }).await.unwrap();
    assert_eq!(shown["status"], "connected");
    // Nothing is left waiting.
    let none = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.unwrap_err();
    assert_eq!(none.kind, "invalid", "{none:?}");

    // Declined on Google's page: the wait ends with a refusal, in words.
    let started = desk.dispatch(C::GoogleCalendarConnect { staff_id: owner.staff_id.clone() }).await.unwrap();
    let auth_url = reqwest::Url::parse(started["auth_url"].as_str().unwrap()).unwrap();
    let declined = reqwest::get(format!("{}?state={}&error=access_denied", param(&auth_url, "redirect_uri"), param(&auth_url, "state"))).await.unwrap();
    assert_eq!(declined.status(), 200);
    let refused = desk.dispatch(C::GoogleCalendarWait { staff_id: owner.staff_id.clone() }).await.unwrap_err();
    assert_eq!(refused.kind, "refused", "{refused:?}");
    assert!(refused.message.contains("not completed") && refused.message.contains("access_denied"), "{refused:?}");

    // A staff id that is not one cannot steer the request elsewhere.
    let bad = desk.dispatch(C::GoogleCalendarConnect { staff_id: "../customers".into() }).await.unwrap_err();
    assert_eq!(bad.kind, "invalid");
    desk.stop().await;
}

/// Runs the workers and delivers Google's notifications until neither has anything left.
async fn settle(app: &TestApp, google: &GoogleStandIn) {
    for _ in 0..20 {
        app.drain().await;
        if google.pending().is_empty() {
            return;
        }
        google.deliver().await;
    }
    panic!("the service and Google never settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booking_deleted_in_google_reaches_the_console_as_a_task_it_can_apply() {
    let google = GoogleStandIn::start().await;
    let port = free_port();
    let app = TestApp::spawn_with(Engine::Sqlite, |c| {
        google.configure(c);
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let clock = app.clock.clone().unwrap();
    google.use_clock(move || switchboard_cloud::clock::Clock::now_ms(&*clock));
    let owner = app.signup("tasks").await;
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("00:00", "24:00"), "min_notice_minutes": 0, "max_advance_days": 730, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 60})).await.body["id"].as_str().unwrap().to_owned();
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ada"})).await.body["id"].as_str().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let desk = connected_desk(&app, &owner, dir.path()).await;
    settle(&app, &google).await;

    let start = jiff::Timestamp::from_millisecond(app.now_ms() / HOUR * HOUR + 10 * HOUR).unwrap().to_string();
    let booking = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "staff_id": owner.staff_id, "start": start})).await;
    assert_eq!(booking.status, 201, "{booking:?}");
    let booking_id = booking.body["id"].as_str().unwrap().to_owned();
    settle(&app, &google).await;
    let ours = switchboard_testkit::google::ours(&google.events(PRIMARY));
    google.delete_event(PRIMARY, &ours[&booking_id].id);
    settle(&app, &google).await;

    // The console has it from sync, not from asking the service.
    desk.dispatch(C::SyncNow).await.unwrap();
    let tasks = desk.dispatch(C::CalendarTasks).await.unwrap();
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1, "{tasks:?}");
    assert_eq!((tasks[0]["kind"].as_str(), tasks[0]["status"].as_str(), tasks[0]["booking_id"].as_str()), (Some("deleted"), Some("open"), Some(booking_id.as_str())));
    let id = tasks[0]["id"].as_str().unwrap();

    // Applied from the console: the booking is cancelled through the booking rules.
    let applied = desk.dispatch(C::Settings { method: SettingsMethod::Post, path: format!("/v1/calendar-tasks/{id}/apply"), body: None }).await.unwrap();
    assert_eq!(applied["status"], "applied", "{applied}");
    let again = desk.dispatch(C::Settings { method: SettingsMethod::Post, path: format!("/v1/calendar-tasks/{id}/dismiss"), body: None }).await.unwrap_err();
    assert_eq!((again.kind.as_str(), again.code.as_deref()), ("refused", Some("task_resolved")), "{again:?}");
    assert_eq!(app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await.body["status"], "cancelled");
    desk.dispatch(C::SyncNow).await.unwrap();
    let tasks: Value = desk.dispatch(C::CalendarTasks).await.unwrap();
    assert_eq!(tasks[0]["status"], "applied", "the console sees it resolved: {tasks}");
    desk.stop().await;
}
