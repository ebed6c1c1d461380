//! Google Calendar both ways, against the local stand-in of Google's OAuth server and Calendar API
//! (real HTTP on loopback), on SQLite and PostgreSQL: connecting with PKCE, outside events
//! blocking availability and the booking path, push notifications late, twice and out of order,
//! channel renewal, 410 full resyncs, our own writes not echoing, outside moves and deletes
//! becoming tasks, and a revoked sign-in falling back to working hours with a warning.

use std::time::Duration;

use base64::Engine as _;
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use switchboard_cloud::clock::Clock;
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::google::{GoogleStandIn, FAMILY, PRIMARY};
use switchboard_testkit::whatsapp::{app_secret, connect_whatsapp, whatsapp_customer, PHONE_ID};
use switchboard_testkit::{every_day, free_port, on_both_engines, Engine, Tenant, TestApp};

const HOUR: i64 = 3_600_000;

/// The service on a test clock, with Google at the stand-in (whose channels expire by that clock).
async fn spawn(engine: Engine) -> (TestApp, GoogleStandIn) {
    let google = GoogleStandIn::start().await;
    let port = free_port();
    let app = TestApp::spawn_with(engine, |c| {
        google.configure(c);
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let clock = app.clock.clone().unwrap();
    google.use_clock(move || clock.now_ms());
    (app, google)
}

/// As [`spawn`], with WhatsApp at the provider fakes too (customers to tell).
async fn spawn_with_whatsapp(engine: Engine) -> (TestApp, GoogleStandIn, FakeProviders) {
    let google = GoogleStandIn::start().await;
    let fake = FakeProviders::start().await;
    let port = free_port();
    let app = TestApp::spawn_with(engine, |c| {
        google.configure(c);
        c.whatsapp_api_base = fake.base.clone();
        c.bind = format!("127.0.0.1:{port}").parse().unwrap();
        c.public_url = format!("http://127.0.0.1:{port}");
    })
    .await;
    let clock = app.clock.clone().unwrap();
    google.use_clock(move || clock.now_ms());
    (app, google, fake)
}

/// Open round the clock, no notice, a 15-minute grid; a one-hour service; a customer.
async fn business(app: &TestApp, t: &Tenant) -> (String, String) {
    let r = app.patch("/v1/schedule", &t.access, json!({"opening_hours": every_day("00:00", "24:00"), "min_notice_minutes": 0, "max_advance_days": 730, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app.post("/v1/services", &t.access, json!({"name": "Cut", "duration_minutes": 60})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let service = r.body["id"].as_str().unwrap().to_owned();
    let r = app.post("/v1/customers", &t.access, json!({"name": "Ada"})).await;
    (service, r.body["id"].as_str().unwrap().to_owned())
}

/// An instant `hours` from the top of the hour now, RFC 3339.
fn at(app: &TestApp, hours: i64) -> String {
    let top = app.now_ms() / HOUR * HOUR;
    jiff::Timestamp::from_millisecond(top + hours * HOUR).unwrap().to_string()
}

/// Connects the tenant's own Google Calendar the way the console does: a PKCE verifier, the
/// consent URL opened "in the browser" (the stand-in approves and redirects to the loopback
/// address), then the code and the verifier back to the service. Then the first sync.
async fn connect(app: &TestApp, google: &GoogleStandIn, t: &Tenant) -> Value {
    let verifier = format!("verifier-{}-{}", switchboard_testkit::uuid_suffix(), "x".repeat(40));
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let started = app
        .post(&format!("/v1/staff/{}/google-calendar/start", t.staff_id), &t.access, json!({"redirect_uri": "http://127.0.0.1:53682/", "code_challenge": challenge}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{started:?}");
    let (code, state) = browser(started.body["auth_url"].as_str().unwrap()).await;
    assert_eq!(state, started.body["state"].as_str().unwrap());
    let finished = app
        .post(&format!("/v1/staff/{}/google-calendar/finish", t.staff_id), &t.access, json!({"state": state, "code": code, "code_verifier": verifier}))
        .await;
    assert_eq!(finished.status, StatusCode::OK, "{finished:?}");
    assert_eq!(finished.body["status"], "connected");
    settle(app, google).await;
    finished.body
}

/// Follows the consent URL like a browser that is signed in and clicks Allow: the redirect to
/// the loopback address carries `code` and `state`.
async fn browser(auth_url: &str) -> (String, String) {
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let res = client.get(auth_url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("http://127.0.0.1:53682/?"), "{location}");
    let query: std::collections::HashMap<String, String> = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes()).into_owned().collect();
    (query["code"].clone(), query["state"].clone())
}

/// Runs the workers and delivers Google's notifications until neither has anything left.
async fn settle(app: &TestApp, google: &GoogleStandIn) {
    for _ in 0..20 {
        app.drain().await;
        if google.pending().is_empty() {
            return;
        }
        for status in google.deliver().await {
            assert_eq!(status, StatusCode::OK);
        }
    }
    panic!("the service and Google never settled");
}

async fn check(app: &TestApp, t: &Tenant, service: &str, start: &str) -> Value {
    let r = app.get(&format!("/v1/availability/check?service_id={service}&start={}&staff_id={}", start.replace('+', "%2B"), t.staff_id), &t.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body
}

async fn free(app: &TestApp, t: &Tenant, service: &str, start: &str) -> bool {
    check(app, t, service, start).await["available"].as_bool().unwrap()
}

async fn tasks(app: &TestApp, t: &Tenant) -> Vec<Value> {
    app.all_items("/v1/calendar-tasks", &t.access).await
}

async fn book(app: &TestApp, t: &Tenant, service: &str, customer: &str, start: &str) -> Value {
    let r = app.post("/v1/bookings", &t.access, json!({"customer_id": customer, "service_id": service, "staff_id": t.staff_id, "start": start})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body
}

on_both_engines! {

spawn = spawn;

/// Connecting stores the tokens sealed (never shown), lists the calendars with the primary one
/// chosen, and opens a push channel; the bad paths are refused with stable codes.
async fn connecting_uses_pkce_and_never_shows_tokens((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("connect").await;
    let agent = app.add_staff(&owner, "agent").await;
    // Only loopback redirects, a real challenge, and only yourself unless you manage staff.
    let bad = app.post(&format!("/v1/staff/{}/google-calendar/start", owner.staff_id), &owner.access, json!({"redirect_uri": "https://evil.example/", "code_challenge": "a".repeat(43)})).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"));
    let bad = app.post(&format!("/v1/staff/{}/google-calendar/start", owner.staff_id), &agent.access, json!({"redirect_uri": "http://127.0.0.1:1/", "code_challenge": "a".repeat(43)})).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let none = app.get(&format!("/v1/staff/{}/google-calendar", owner.staff_id), &owner.access).await;
    assert_eq!((none.status, none.code()), (StatusCode::NOT_FOUND, "calendar_not_connected"));

    // A wrong verifier is refused and uses the sign-in up.
    let started = app.post(&format!("/v1/staff/{}/google-calendar/start", owner.staff_id), &owner.access, json!({"redirect_uri": "http://127.0.0.1:53682/", "code_challenge": "b".repeat(43)})).await;
    let (code, state) = browser(started.body["auth_url"].as_str().unwrap()).await;
    let wrong = app.post(&format!("/v1/staff/{}/google-calendar/finish", owner.staff_id), &owner.access, json!({"state": state, "code": code, "code_verifier": "not-the-verifier"})).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::BAD_REQUEST, "invalid_oauth_state"));

    let connection = connect(&app, &google, &owner).await;
    assert_eq!(connection["account_email"], PRIMARY);
    let calendars = connection["calendars"].as_array().unwrap();
    assert_eq!(calendars.len(), 2);
    assert_eq!((calendars[0]["calendar_id"].as_str(), calendars[0]["selected"].as_bool()), (Some(PRIMARY), Some(true)));
    assert_eq!((calendars[1]["calendar_id"].as_str(), calendars[1]["selected"].as_bool()), (Some(FAMILY), Some(false)));
    let shown = app.get(&format!("/v1/staff/{}/google-calendar", owner.staff_id), &owner.access).await;
    assert!(shown.body["last_sync_at"].is_string(), "{shown:?}");
    assert_eq!(shown.body["calendars"][0]["push"], true);
    assert_eq!(google.live_channels().len(), 1);
    let stored: String = sqlx::query_scalar("SELECT tokens FROM calendar_connections").fetch_one(app.db.reader()).await.unwrap();
    let everything = format!("{} {} {stored}", shown.body, app.get("/v1/sync/pull?cursor=0", &owner.access).await.body);
    assert!(!everything.contains("ya29.") && !everything.contains("1//"), "tokens leaked: {everything}");

    // Choosing a second calendar reads it too; an unknown one is refused.
    let bad = app.call(reqwest::Method::PUT, &format!("/v1/staff/{}/google-calendar/calendars", owner.staff_id), Some(&owner.access), Some(json!({"calendar_ids": ["nope"]}))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let chosen = app.call(reqwest::Method::PUT, &format!("/v1/staff/{}/google-calendar/calendars", owner.staff_id), Some(&owner.access), Some(json!({"calendar_ids": [PRIMARY, FAMILY]}))).await;
    assert_eq!(chosen.status, StatusCode::OK, "{chosen:?}");
    settle(&app, &google).await;
    assert_eq!(google.live_channels().len(), 2);

    // Disconnecting stops the channels, revokes the sign-in and forgets the tokens.
    let gone = app.delete(&format!("/v1/staff/{}/google-calendar", owner.staff_id), &owner.access).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{gone:?}");
    assert!(google.live_channels().is_empty());
    assert_eq!(app.get(&format!("/v1/staff/{}/google-calendar", owner.staff_id), &owner.access).await.status, StatusCode::NOT_FOUND);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_connections").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(left, 0);

    // Connecting, the calendars chosen and disconnecting are in the audit log, without tokens.
    let log = app.get("/v1/audit-log?limit=200", &owner.access).await;
    let entries = log.body["items"].as_array().unwrap();
    let detail = |action: &str| entries.iter().find(|e| e["action"] == action && e["target_id"] == owner.staff_id.as_str()).map(|e| e["detail"].clone());
    assert_eq!(detail("calendar.connected"), Some(json!({"calendars": 2})), "{log:?}");
    assert_eq!(detail("calendar.calendars_chosen"), Some(json!({"selected": 2})), "{log:?}");
    assert!(detail("calendar.disconnected").is_some(), "{log:?}");
    assert!(!log.body.to_string().contains("ya29.") && !log.body.to_string().contains("1//"), "tokens in the audit log");
}

/// An outside event blocks its time as soon as its notification is handled, and deleting it frees
/// the time; free/transparent and declined events block nothing; notifications late, twice or out
/// of order change nothing more; one with a wrong token is refused.
async fn outside_events_block_availability_and_deleting_frees((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("busy").await;
    let (service, _) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let (t1, t2, t3) = (at(&app, 24), at(&app, 26), at(&app, 28));
    assert!(free(&app, &owner, &service, &t1).await);

    let dentist = google.add_event(PRIMARY, &t1, &at(&app, 25), json!({}));
    google.add_event(PRIMARY, &t2, &at(&app, 27), json!({"transparency": "transparent"}));
    google.add_event(PRIMARY, &t3, &at(&app, 29), json!({"attendees": [{"email": PRIMARY, "self": true, "responseStatus": "declined"}]}));
    // Held back, then delivered twice and in reverse order, with the channel's opening
    // notification arriving late among them.
    let held = google.take_pending();
    assert!(!held.is_empty());
    let mut shuffled: Vec<_> = held.iter().rev().cloned().collect();
    shuffled.extend(held.iter().cloned());
    for status in google.send(shuffled).await {
        assert_eq!(status, StatusCode::OK);
    }
    app.drain().await;
    let answer = check(&app, &owner, &service, &t1).await;
    assert_eq!((answer["available"].as_bool(), answer["reason"].as_str()), (Some(false), Some("slot_taken")), "{answer}");
    assert!(free(&app, &owner, &service, &t2).await, "a transparent event does not block");
    assert!(free(&app, &owner, &service, &t3).await, "a declined event does not block");
    let listed = app.get(&format!("/v1/availability?service_id={service}&from={}&to={}", t1.replace('+', "%2B"), at(&app, 25)), &owner.access).await;
    assert!(listed.body["slots"].as_array().unwrap().iter().all(|s| s["start"] != t1.as_str()), "{listed:?}");

    // A notification with the wrong token is refused and does nothing.
    let mut forged = held[0].clone();
    forged.token = "guess".into();
    assert_eq!(google.send(vec![forged]).await, vec![StatusCode::UNAUTHORIZED]);

    google.delete_event(PRIMARY, &dentist);
    settle(&app, &google).await;
    assert!(free(&app, &owner, &service, &t1).await, "deleting the event frees its time");

    // A long event (a week's holiday that began days ago) blocks every time it covers, found
    // apart from the short ones (migration 0025); a two-day course exactly at the edge too.
    let (holiday_day, course_day) = (at(&app, 24 * 10), at(&app, 24 * 20 + 47));
    assert!(free(&app, &owner, &service, &holiday_day).await && free(&app, &owner, &service, &course_day).await);
    google.add_event(PRIMARY, &at(&app, 24 * 5), &at(&app, 24 * 12), json!({"summary": "Holiday"}));
    google.add_event(PRIMARY, &at(&app, 24 * 20), &at(&app, 24 * 22), json!({"summary": "Course"}));
    settle(&app, &google).await;
    assert!(!free(&app, &owner, &service, &holiday_day).await, "a week's holiday blocks its middle");
    assert!(!free(&app, &owner, &service, &course_day).await, "a two-day course blocks its last hour");
    let listed = app.get(&format!("/v1/availability?service_id={service}&from={}&to={}", holiday_day.replace('+', "%2B"), at(&app, 24 * 10 + 12).replace('+', "%2B")), &owner.access).await;
    assert_eq!(listed.body["slots"].as_array().map(Vec::len), Some(0), "{listed:?}");
}

/// Short events are read from the busy days kept per person as the calendars sync (migration
/// 0027); those follow every change: overlapping events, a deletion that leaves the overlapping
/// one blocking, an event moved to another day, a second calendar chosen and then dropped, and
/// disconnecting.
async fn busy_days_follow_overlaps_moves_and_chosen_calendars((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("busy-days").await;
    let (service, _) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let blocked = |hours: i64| {
        let (app, owner, service) = (&app, &owner, &service);
        async move { !free(app, owner, service, &at(app, hours)).await }
    };

    // Two events overlapping, the second ending the next day: 24–26 h and 25–28 h from now.
    let first = google.add_event(PRIMARY, &at(&app, 24), &at(&app, 26), json!({}));
    let second = google.add_event(PRIMARY, &at(&app, 25), &at(&app, 28), json!({}));
    settle(&app, &google).await;
    for hours in [24, 25, 26, 27] {
        assert!(blocked(hours).await, "{hours} h is busy");
    }
    assert!(!blocked(28).await && !blocked(23).await);

    // Deleting the first frees only what the second does not cover.
    google.delete_event(PRIMARY, &first);
    settle(&app, &google).await;
    assert!(!blocked(24).await, "the deleted event's own time is free");
    assert!(blocked(25).await && blocked(27).await, "the overlapping event still blocks");

    // Moved three days later: free where it was, busy where it went.
    google.move_event(PRIMARY, &second, &at(&app, 24 * 4 + 1), &at(&app, 24 * 4 + 4));
    settle(&app, &google).await;
    assert!(!blocked(25).await && !blocked(27).await, "the old time is free after the move");
    assert!(blocked(24 * 4 + 1).await && blocked(24 * 4 + 3).await, "the new time is busy");

    // A second calendar chosen blocks its events; dropped again, they no longer block.
    let path = format!("/v1/staff/{}/google-calendar/calendars", owner.staff_id);
    let choose = |calendars: Value| {
        let (app, owner, path) = (&app, &owner, &path);
        async move { app.call(reqwest::Method::PUT, path, Some(&owner.access), Some(calendars)).await }
    };
    google.add_event(FAMILY, &at(&app, 30), &at(&app, 31), json!({}));
    assert_eq!(choose(json!({"calendar_ids": [PRIMARY, FAMILY]})).await.status, StatusCode::OK);
    settle(&app, &google).await;
    assert!(blocked(30).await, "the family calendar's event blocks once it is chosen");
    assert_eq!(choose(json!({"calendar_ids": [PRIMARY]})).await.status, StatusCode::OK);
    assert!(!blocked(30).await, "and not once it is dropped");
    assert!(blocked(24 * 4 + 1).await, "the primary calendar's event still blocks");

    // Disconnecting leaves no busy time behind.
    assert_eq!(app.delete(&format!("/v1/staff/{}/google-calendar", owner.staff_id), &owner.access).await.status, StatusCode::NO_CONTENT);
    assert!(!blocked(24 * 4 + 1).await);
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_busy_days").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(left, 0, "a disconnected person's busy days are removed");
}

/// 50 simultaneous booking attempts into a time an outside event blocks: none succeeds.
async fn fifty_concurrent_bookings_into_a_blocked_time_all_fail((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("rush").await;
    let (service, customer) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let start = at(&app, 30);
    google.add_event(PRIMARY, &at(&app, 29), &at(&app, 31), json!({}));
    settle(&app, &google).await;
    let attempts = (0..50).map(|i| {
        let (app, owner, service, customer, start) = (&app, &owner, &service, &customer, &start);
        async move {
            let staff = if i % 2 == 0 { json!(owner.staff_id) } else { Value::Null };
            app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "staff_id": staff, "start": start})).await
        }
    });
    let replies = futures_util::future::join_all(attempts).await;
    for r in &replies {
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "slot_taken"), "{r:?}");
    }
    let made: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE business_id = $1").bind(&owner.business_id).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(made, 0);
}

/// 100 bookings written into Google (and some moved and cancelled there by us) never come back
/// as outside changes: no tasks, no booking touched by the sync.
async fn our_own_writes_never_echo_back((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("echo").await;
    let (service, customer) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let mut bookings = Vec::new();
    for i in 0..100 {
        bookings.push(book(&app, &owner, &service, &customer, &at(&app, 2 + i)).await);
        if i % 25 == 24 {
            settle(&app, &google).await;
        }
    }
    settle(&app, &google).await;
    let events = google.events(PRIMARY);
    assert_eq!(events.len(), 100);
    let ours = switchboard_testkit::google::ours(&events);
    for b in &bookings {
        let event = &ours[b["id"].as_str().unwrap()];
        assert_eq!(event.start(), b["start"].as_str().unwrap());
    }
    // Moved and cancelled by us: Google follows, and still nothing echoes.
    for (i, b) in bookings[..5].iter().enumerate() {
        let moved = app.patch(&format!("/v1/bookings/{}", b["id"].as_str().unwrap()), &owner.access, json!({"expected_version": 1, "start": at(&app, 200 + i as i64)})).await;
        assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
    }
    for b in &bookings[5..10] {
        let cancelled = app.call(reqwest::Method::DELETE, &format!("/v1/bookings/{}", b["id"].as_str().unwrap()), Some(&owner.access), None).await;
        assert!(cancelled.status.is_success(), "{cancelled:?}");
    }
    settle(&app, &google).await;
    assert_eq!(google.events(PRIMARY).len(), 95);
    assert!(tasks(&app, &owner).await.is_empty(), "our own writes came back as outside changes");
    let touched: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM bookings WHERE business_id = $1 AND version > 2").bind(&owner.business_id).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(touched, 0);
    let busy: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM calendar_events WHERE busy = 1 AND booking_id IS NULL").fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(busy, 0, "our events are not outside busy time");
}

/// Google forgets our sync token (410): a full read rebuilds the cache and finds what was deleted
/// while no notification told us — an outside event (its time is free again) and one of ours (a task).
async fn a_forced_410_rebuilds_and_finds_deletions_made_while_not_listening((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("gone").await;
    let (service, customer) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let (a_at, b_at) = (at(&app, 40), at(&app, 42));
    let a = google.add_event(PRIMARY, &a_at, &at(&app, 41), json!({}));
    google.add_event(PRIMARY, &b_at, &at(&app, 43), json!({}));
    let booking = book(&app, &owner, &service, &customer, &at(&app, 44)).await;
    settle(&app, &google).await;
    assert!(!free(&app, &owner, &service, &a_at).await);
    let ours = switchboard_testkit::google::ours(&google.events(PRIMARY))[booking["id"].as_str().unwrap()].id.clone();

    google.delete_quietly(PRIMARY, &a);
    google.delete_quietly(PRIMARY, &ours);
    google.force_gone(PRIMARY);
    // No notification: the next periodic read finds the token gone.
    app.advance(Duration::from_secs(61 * 60));
    settle(&app, &google).await;
    let requests = google.requests();
    let gone_then_full = requests.iter().rposition(|r| r.starts_with("GET events") && r.ends_with("full")).unwrap() > requests.iter().rposition(|r| r.ends_with("incremental")).unwrap();
    assert!(gone_then_full, "{requests:?}");
    assert!(free(&app, &owner, &service, &a_at).await, "the event deleted meanwhile no longer blocks");
    assert!(!free(&app, &owner, &service, &b_at).await, "the other event still blocks");
    let open = tasks(&app, &owner).await;
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((open[0]["kind"].as_str(), open[0]["booking_id"].as_str()), (Some("deleted"), booking["id"].as_str()));
}

/// Channels are renewed before they expire; the old one is stopped, and a notification that still
/// arrives on it is acknowledged and ignored.
async fn channels_are_renewed_before_expiry_and_the_old_one_stopped((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("renew").await;
    let (service, _) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let first = google.live_channels();
    assert_eq!(first.len(), 1);
    app.advance(Duration::from_secs(6 * 24 * 3600 + 120));
    settle(&app, &google).await;
    let live = google.live_channels();
    assert_eq!(live.len(), 1);
    assert_ne!(live[0].id, first[0].id);
    assert!(google.channels().iter().any(|c| c.id == first[0].id && c.stopped), "the replaced channel was stopped");
    let late = switchboard_testkit::google::Notification { state: "exists".into(), number: 99, ..google_notification(&first[0]) };
    assert_eq!(google.send(vec![late]).await, vec![StatusCode::OK]);
    // The new channel carries changes.
    let t = at(&app, 50);
    google.add_event(PRIMARY, &t, &at(&app, 51), json!({}));
    assert_eq!(google.pending().len(), 1);
    assert_eq!(google.pending()[0].channel_id, live[0].id);
    settle(&app, &google).await;
    assert!(!free(&app, &owner, &service, &t).await);
}

/// Google refuses to refresh (revoked): the connection says "reconnect needed" at once, in the
/// API and in what consoles pull, and availability falls back to working hours with a warning.
async fn a_revoked_refresh_token_needs_reconnecting_and_availability_warns((app, google): (TestApp, GoogleStandIn)) {
    let owner = app.signup("revoked").await;
    let (service, _) = business(&app, &owner).await;
    connect(&app, &google, &owner).await;
    let t = at(&app, 30);
    google.add_event(PRIMARY, &t, &at(&app, 31), json!({}));
    settle(&app, &google).await;
    assert!(!free(&app, &owner, &service, &t).await);
    let cursor = app.last_seq(&owner.business_id).await;

    google.revoke_refresh_tokens();
    app.advance(Duration::from_secs(61 * 60));
    settle(&app, &google).await;
    let shown = app.get(&format!("/v1/staff/{}/google-calendar", owner.staff_id), &owner.access).await;
    assert_eq!(shown.body["status"], "reconnect_needed", "{shown:?}");
    assert!(shown.body["error"].as_str().unwrap().contains("Reconnect"), "{shown:?}");
    let pulled = app.get(&format!("/v1/sync/pull?cursor={cursor}"), &owner.access).await;
    let change = pulled.body["changes"].as_array().unwrap().iter().find(|c| c["entity"] == "calendar_connection").cloned().expect("consoles are told");
    assert_eq!(change["data"]["status"], "reconnect_needed");

    let availability = app.get(&format!("/v1/availability?service_id={service}&staff_id={}", owner.staff_id), &owner.access).await;
    let warnings = availability.body["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{availability:?}");
    assert_eq!((warnings[0]["staff_id"].as_str(), warnings[0]["code"].as_str()), (Some(owner.staff_id.as_str()), Some("calendar_reconnect_needed")));
    assert!(free(&app, &owner, &service, &t).await, "the person's hours decide until they reconnect");

    // Reconnecting brings it all back.
    connect(&app, &google, &owner).await;
    assert!(!free(&app, &owner, &service, &t).await);
    let availability = app.get(&format!("/v1/availability?service_id={service}&staff_id={}", owner.staff_id), &owner.access).await;
    assert!(availability.body["warnings"].as_array().unwrap().is_empty());
}

}

fn google_notification(c: &switchboard_testkit::google::WatchChannel) -> switchboard_testkit::google::Notification {
    switchboard_testkit::google::Notification {
        channel_id: c.id.clone(),
        token: c.token.clone(),
        resource_id: c.resource_id.clone(),
        address: c.address.clone(),
        state: "exists".into(),
        number: 1,
    }
}

on_both_engines! {

spawn = spawn_with_whatsapp;

/// A move and a delete of our events in Google each become a console task; applying them goes
/// through the booking rules and tells the customer; a refused apply leaves the task open.
async fn a_move_and_a_delete_in_google_become_tasks_that_notify_the_customer((app, google, fake): (TestApp, GoogleStandIn, FakeProviders)) {
    let owner = app.signup("tasks").await;
    let (service, _) = business(&app, &owner).await;
    let r = connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let conversation = whatsapp_customer(&app, &owner, "447700900123").await;
    let customer = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["customer_id"].as_str().unwrap().to_owned();
    connect(&app, &google, &owner).await;
    let moved = book(&app, &owner, &service, &customer, &at(&app, 10)).await;
    let deleted = book(&app, &owner, &service, &customer, &at(&app, 14)).await;
    let blocker = book(&app, &owner, &service, &customer, &at(&app, 20)).await;
    settle(&app, &google).await;
    let sent_before = fake.sends().len();
    let ours = switchboard_testkit::google::ours(&google.events(PRIMARY));

    // Moved onto a time that is taken, then onto a free one; deleted.
    google.move_event(PRIMARY, &ours[moved["id"].as_str().unwrap()].id, &at(&app, 20), &at(&app, 21));
    google.delete_event(PRIMARY, &ours[deleted["id"].as_str().unwrap()].id);
    settle(&app, &google).await;
    let open = tasks(&app, &owner).await;
    assert_eq!(open.len(), 2, "{open:?}");
    let move_task = open.iter().find(|t| t["kind"] == "moved").unwrap().clone();
    let delete_task = open.iter().find(|t| t["kind"] == "deleted").unwrap().clone();
    assert!(move_task["message"].as_str().unwrap().contains(" moved ") && move_task["message"].as_str().unwrap().ends_with("apply?"), "{move_task}");
    assert!(delete_task["message"].as_str().unwrap().contains("cancel the booking?"), "{delete_task}");
    let pulled = app.get("/v1/sync/pull?cursor=0", &owner.access).await;
    assert_eq!(pulled.body["changes"].as_array().unwrap().iter().filter(|c| c["entity"] == "calendar_task").count(), 2, "consoles see the tasks");
    let unchanged = app.get(&format!("/v1/bookings/{}", moved["id"].as_str().unwrap()), &owner.access).await;
    assert_eq!(unchanged.body["start"], moved["start"], "nothing changes silently");

    // Applying the move onto a taken time is refused by the booking rules; the task stays open.
    let refused = app.post(&format!("/v1/calendar-tasks/{}/apply", move_task["id"].as_str().unwrap()), &owner.access, json!({})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "slot_taken"), "{refused:?}");
    assert_eq!(tasks(&app, &owner).await.len(), 2);
    // Moved again in Google, to a free time: the same task follows; applying moves the booking.
    google.move_event(PRIMARY, &ours[moved["id"].as_str().unwrap()].id, &at(&app, 11), &at(&app, 12));
    settle(&app, &google).await;
    let open = tasks(&app, &owner).await;
    assert_eq!(open.len(), 2);
    let move_task = open.iter().find(|t| t["kind"] == "moved").unwrap().clone();
    assert_eq!(move_task["new_start"].as_str(), Some(at(&app, 11).as_str()));
    let applied = app.post(&format!("/v1/calendar-tasks/{}/apply", move_task["id"].as_str().unwrap()), &owner.access, json!({})).await;
    assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
    assert_eq!(applied.body["status"], "applied");
    let booking = app.get(&format!("/v1/bookings/{}", moved["id"].as_str().unwrap()), &owner.access).await;
    assert_eq!(booking.body["start"].as_str(), Some(at(&app, 11).as_str()));
    let applied = app.post(&format!("/v1/calendar-tasks/{}/apply", delete_task["id"].as_str().unwrap()), &owner.access, json!({})).await;
    assert_eq!(applied.status, StatusCode::OK, "{applied:?}");
    let booking = app.get(&format!("/v1/bookings/{}", deleted["id"].as_str().unwrap()), &owner.access).await;
    assert_eq!(booking.body["status"], "cancelled");
    let again = app.post(&format!("/v1/calendar-tasks/{}/apply", delete_task["id"].as_str().unwrap()), &owner.access, json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "task_resolved"));

    // The customer was told both times, over WhatsApp (the confirmations every change gets).
    settle(&app, &google).await;
    let sent: Vec<String> = fake.sends()[sent_before..].iter().map(|s| s.body["text"]["body"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(sent.iter().any(|s| s.contains("is now on")) && sent.iter().any(|s| s.contains("is cancelled")), "{sent:?}");
    assert!(tasks(&app, &owner).await.is_empty());
    // Applying did not echo back as new outside changes; Google shows the moved booking.
    let ours = switchboard_testkit::google::ours(&google.events(PRIMARY));
    assert_eq!(ours.len(), 2, "the cancelled booking's event is gone, the others stay");
    assert_eq!(ours[moved["id"].as_str().unwrap()].start(), at(&app, 11));
    let _ = blocker;
}

}
