//! The owner's reports over the real API, on SQLite and PostgreSQL: a fixture business whose
//! figures were worked out by hand (a conversation crossing local midnight on the day the clocks
//! change, a reopened conversation, a booking moved to another day), the rows behind each figure,
//! the CSV exports, and who may see them.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::smtp::SmtpSink;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{every_day, on_both_engines, Tenant, TestApp};

const ZONE: &str = "America/New_York";

/// The day the fixture's clocks change: the zone's first transition more than a week from now
/// (the service checks token expiry against the real time, so the fixture lies ahead of it). In
/// New York that is always a Sunday, at 02:00.
fn dst_day() -> Date {
    let tz = TimeZone::get(ZONE).unwrap();
    let from = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 8);
    tz.following(from).next().unwrap().timestamp().to_zoned(tz.clone()).date()
}

/// The local date `offset` days from the day the clocks change.
fn d(offset: i64) -> String {
    (dst_day() + jiff::Span::new().days(offset)).to_string()
}

/// A local time (`HH:MM`) on that day.
fn t(offset: i64, time: &str) -> String {
    format!("{}T{time}:00", d(offset))
}

/// Sets the test clock to a local time in the fixture's zone.
fn at(app: &TestApp, local: &str) {
    let dt: DateTime = local.parse().unwrap();
    let t = dt.to_zoned(TimeZone::get(ZONE).unwrap()).unwrap().timestamp();
    app.clock.as_ref().unwrap().set(protocol_ts(t.as_millisecond()));
}

fn protocol_ts(ms: i64) -> protocol::Timestamp {
    protocol::Timestamp::from_millis(ms).unwrap()
}

async fn customer_writes(app: &TestApp, owner: &Tenant, from: &str, id: &str, body: &str) {
    let (status, _) =
        post_whatsapp_signed(app, &notification(PHONE_ID, Value::Null, json!([text(id, from, body)]), Value::Null), &app_secret(owner)).await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;
}

async fn conversation_of(app: &TestApp, owner: &Tenant, wa: &str) -> String {
    let items = app.get("/v1/conversations?limit=200", &owner.access).await.body["items"].as_array().unwrap().clone();
    let customers = app.get("/v1/customers", &owner.access).await.body.clone();
    let customer = customers["items"].as_array().or(customers.as_array()).unwrap().iter().find(|c| c["whatsapp_id"] == wa).unwrap()["id"].clone();
    items.iter().find(|c| c["customer_id"] == customer).unwrap()["id"].as_str().unwrap().to_owned()
}

async fn assistant(app: &TestApp, owner: &Tenant, on: bool) {
    let r = app.patch("/v1/assistant", &owner.access, json!({"enabled": on, "handback_idle_minutes": 0})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

async fn booking(app: &TestApp, owner: &Tenant, body: Value) -> Value {
    let r = app.post("/v1/bookings", &owner.access, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body
}

async fn change(app: &TestApp, owner: &Tenant, b: &Value, body: Value) -> Value {
    let mut body = body;
    body["expected_version"] = b["version"].clone();
    let r = app.patch(&format!("/v1/bookings/{}", b["id"].as_str().unwrap()), &owner.access, body).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body
}

struct Fixture {
    app: TestApp,
    owner: Tenant,
    agent: Tenant,
    sam: Tenant,
    ids: std::collections::HashMap<&'static str, String>,
}

/// The fixture business (see the test's comments for what happens when).
async fn fixture(engine: switchboard_testkit::Engine) -> Fixture {
    let (app, _fake): (TestApp, FakeProviders) = spawn_with_fakes(engine, |_| {}).await;
    at(&app, &t(-6, "08:00"));
    let owner = app.signup("reports").await;
    let r = app.patch("/v1/business", &owner.access, json!({"timezone": ZONE})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("09:00", "17:00"), "min_notice_minutes": 0})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let agent = app.add_staff(&owner, "agent").await;
    let sam = app.add_staff(&owner, "admin").await;
    let svc = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 60, "price_cents": 4500})).await;
    assert_eq!(svc.status, StatusCode::CREATED, "{svc:?}");
    let svc = svc.body["id"].as_str().unwrap().to_owned();
    let cust = app.post("/v1/customers", &owner.access, json!({"name": "Dee Booker"})).await.body["id"].as_str().unwrap().to_owned();
    let staff = owner.staff_id.clone();
    let mut ids = std::collections::HashMap::new();

    // Previous period (Tuesday to Thursday): booking W, made Thursday for Friday 14:00.
    at(&app, &t(-3, "10:00"));
    let w = booking(&app, &owner, json!({"customer_id": cust, "service_id": svc, "staff_id": staff, "start": t(-2, "14:00")})).await;

    // Friday. Bookings X (for Friday 15:00) and Y (by the API, for Sunday 10:00).
    at(&app, &t(-2, "09:00"));
    let x = booking(&app, &owner, json!({"customer_id": cust, "service_id": svc, "staff_id": staff, "start": t(-2, "15:00")})).await;
    at(&app, &t(-2, "09:05"));
    let y = booking(&app, &owner, json!({"customer_id": cust, "service_id": svc, "staff_id": staff, "start": t(0, "10:00"), "source": "api"})).await;
    // X moves to Saturday 11:00: across days.
    at(&app, &t(-2, "10:00"));
    let x = change(&app, &owner, &x, json!({"start": t(-1, "11:00")})).await;
    // W is done.
    at(&app, &t(-2, "15:00"));
    change(&app, &owner, &w, json!({"status": "completed"})).await;
    // Bob writes at 16:30 with the assistant on; it answers. Nobody else does until Monday.
    assistant(&app, &owner, true).await;
    at(&app, &t(-2, "16:30"));
    customer_writes(&app, &owner, "15550000001", "wamid.bob-1", "Hello there").await;
    ids.insert("bob", conversation_of(&app, &owner, "15550000001").await);

    // Saturday. Carol writes at 10:00 and the assistant answers; the owner resolves it.
    at(&app, &t(-1, "10:00"));
    customer_writes(&app, &owner, "15550000002", "wamid.carol-1", "Hello there").await;
    let carol = conversation_of(&app, &owner, "15550000002").await;
    at(&app, &t(-1, "10:05"));
    let r = app.patch(&format!("/v1/conversations/{carol}"), &owner.access, json!({"status": "resolved"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    ids.insert("carol", carol);
    // Booking Z, for next Saturday; X is a no-show.
    at(&app, &t(-1, "10:10"));
    let z = booking(&app, &owner, json!({"customer_id": cust, "service_id": svc, "staff_id": staff, "start": t(6, "10:00")})).await;
    at(&app, &t(-1, "12:30"));
    change(&app, &owner, &x, json!({"status": "no_show"})).await;
    // 16:00: the owner answers Bob (inside WhatsApp's 24 hours), taking over from the assistant.
    at(&app, &t(-1, "16:00"));
    let bob = ids["bob"].clone();
    let r = app.post(&format!("/v1/conversations/{bob}/messages"), &owner.access, json!({"body": "Sorry for the wait!"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");

    // Sunday, the day the clocks change at 02:00. Carol writes again at 09:00 (EDT):
    // her conversation is reopened and the assistant answers again.
    at(&app, &t(0, "09:00"));
    customer_writes(&app, &owner, "15550000002", "wamid.carol-2", "Hello again").await;
    at(&app, &t(0, "09:30"));
    change(&app, &owner, &z, json!({"status": "cancelled"})).await;
    at(&app, &t(0, "11:00"));
    change(&app, &owner, &y, json!({"status": "completed"})).await;
    // Alice writes at 23:30 with the assistant off: she waits for a person, and Sam answers at
    // 00:10 on Monday — after local midnight, on the other side of the day's 23 hours.
    assistant(&app, &owner, false).await;
    at(&app, &t(0, "23:30"));
    customer_writes(&app, &owner, "15550000003", "wamid.alice-1", "Hello there").await;
    let alice = conversation_of(&app, &owner, "15550000003").await;
    at(&app, &t(1, "00:10"));
    let r = app.post(&format!("/v1/conversations/{alice}/messages"), &sam.access, json!({"body": "Sam here, how can I help?"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    ids.insert("alice", alice);

    ids.insert("x", x["id"].as_str().unwrap().to_owned());
    ids.insert("y", y["id"].as_str().unwrap().to_owned());
    ids.insert("z", z["id"].as_str().unwrap().to_owned());
    ids.insert("w", w["id"].as_str().unwrap().to_owned());
    Fixture { app, owner, agent, sam, ids }
}

/// The fixture's range: the two days before the clocks change, and the day they do.
fn range() -> String {
    format!("from={}&to={}", d(-2), d(0))
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    text.lines().skip(1).map(|l| l.split(',').map(str::to_owned).collect()).collect()
}

on_both_engines! {

spawn = fixture;

async fn every_figure_equals_the_hand_computed_value(f: Fixture) {
    let Fixture { app, owner, sam, ids, .. } = &f;
    let rg = range();
    let r = app.get(&format!("/v1/reports/summary?{rg}"), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let c = &r.body["current"];
    // Episodes: Bob (Fri, taken over), Carol (Sat, assistant), Carol again (Sun, reopened,
    // assistant), Alice (Sun by local time although it was Monday in UTC, handed over).
    assert_eq!((c["conversations"].as_u64(), c["handled_by_assistant"].as_u64(), c["handed_over"].as_u64(), c["taken_over"].as_u64()),
        (Some(4), Some(2), Some(1), Some(1)), "{c}");
    assert_eq!((c["handled_by_assistant_pct"].as_f64(), c["handed_over_pct"].as_f64(), c["taken_over_pct"].as_f64()), (Some(50.0), Some(25.0), Some(25.0)));
    assert_eq!(c["reopened"], 1);
    assert_eq!((c["ai_replies"].as_u64(), c["human_replies"].as_u64()), (Some(3), Some(2)), "{c}");
    // Alice waited 40 minutes for a person (23:30 EDT → 00:10 EDT).
    assert_eq!((c["wait_for_person_count"].as_u64(), c["wait_for_person_p50_secs"].as_u64(), c["wait_for_person_p90_secs"].as_u64()), (Some(1), Some(2400), Some(2400)));
    // First human responses: Alice 40 min; Bob from Fri 16:30 to Sat 16:00 = 23 h 30 min (the
    // assistant's reply did not stop his clock). Nearest rank: p50 the smaller, p90 the larger.
    assert_eq!((c["first_response_count"].as_u64(), c["first_response_p50_secs"].as_u64(), c["first_response_p90_secs"].as_u64()), (Some(2), Some(2400), Some(84_600)));
    // In opening hours (09–17 daily): Alice none (Sunday 23:30 to 00:10); Bob Fri 16:30–17:00
    // and Sat 09:00–16:00, 7 h 30 min.
    assert_eq!((c["first_response_business_p50_secs"].as_u64(), c["first_response_business_p90_secs"].as_u64()), (Some(0), Some(27_000)));
    // Bookings made: X, Y (Fri), Z (Sat), 45.00 each; Z cancelled.
    assert_eq!((c["bookings"].as_u64(), c["booked_value_cents"].as_i64(), c["cancelled"].as_u64(), c["cancellation_pct"].as_f64()), (Some(3), Some(13_500), Some(1), Some(33.3)));
    // Appointments in the range with an outcome: W (Fri, completed), X (moved to Sat, no-show), Y (Sun, completed).
    assert_eq!((c["attended"].as_u64(), c["no_shows"].as_u64(), c["no_show_pct"].as_f64()), (Some(3), Some(1), Some(33.3)));
    // The previous period (Tue–Thu): only W was made.
    let p = &r.body["previous"];
    assert_eq!((p["from"].as_str(), p["to"].as_str(), p["conversations"].as_u64(), p["bookings"].as_u64(), p["booked_value_cents"].as_i64()),
        (Some(d(-5).as_str()), Some(d(-3).as_str()), Some(0), Some(1), Some(4500)));
    assert_eq!(p["handled_by_assistant_pct"], Value::Null);
    // Per local day.
    let days: Vec<(String, u64, u64, u64)> = r.body["days"].as_array().unwrap().iter()
        .map(|d| (d["date"].as_str().unwrap().to_owned(), d["conversations"].as_u64().unwrap(), d["handed_over"].as_u64().unwrap(), d["bookings"].as_u64().unwrap())).collect();
    assert_eq!(days, vec![(d(-2), 1, 0, 2), (d(-1), 1, 0, 1), (d(0), 2, 1, 0)]);
    // Breakdowns.
    assert_eq!(r.body["conversations_by_channel"], json!([{"key": "whatsapp", "label": "whatsapp", "count": 4, "value_cents": 0}]));
    let sources: Vec<(String, u64)> = r.body["bookings_by_source"].as_array().unwrap().iter().map(|b| (b["key"].as_str().unwrap().into(), b["count"].as_u64().unwrap())).collect();
    assert_eq!(sources, vec![("staff".into(), 2), ("api".into(), 1)]);
    assert_eq!(r.body["bookings_by_service"][0]["label"], "Cut");
    assert_eq!(r.body["bookings_by_service"][0]["value_cents"], 13_500);
    // People: Sam answered Alice in 40 min; the owner answered Bob.
    let staff = r.body["staff"].as_array().unwrap();
    let sam_row = staff.iter().find(|s| s["staff_id"] == sam.staff_id.as_str()).unwrap();
    assert_eq!((sam_row["conversations"].as_u64(), sam_row["replies"].as_u64(), sam_row["reply_p50_secs"].as_u64()), (Some(1), Some(1), Some(2400)));
    let owner_row = staff.iter().find(|s| s["staff_id"] == owner.staff_id.as_str()).unwrap();
    assert_eq!((owner_row["conversations"].as_u64(), owner_row["replies"].as_u64(), owner_row["bookings"].as_u64()), (Some(1), Some(1), Some(3)));

    // Drill-down lists exactly what each figure counts.
    let rows = |figure: &str| {
        let path = format!("/v1/reports/rows?{rg}&figure={figure}");
        async move { app.get(&path, &owner.access).await }
    };
    let handed = rows("handed_over").await;
    assert_eq!(handed.status, StatusCode::OK, "{handed:?}");
    let handed = handed.body["conversations"].as_array().unwrap().clone();
    assert_eq!(handed.len(), 1);
    assert_eq!((handed[0]["conversation_id"].as_str(), handed[0]["date"].as_str(), handed[0]["staff"][0].as_str()), (Some(ids["alice"].as_str()), Some(d(0).as_str()), Some("A admin")));
    let reopened = rows("reopened").await.body["conversations"].as_array().unwrap().clone();
    assert_eq!((reopened.len(), reopened[0]["conversation_id"].as_str(), reopened[0]["date"].as_str()), (1, Some(ids["carol"].as_str()), Some(d(0).as_str())));
    let no_shows = rows("no_shows").await.body["bookings"].as_array().unwrap().clone();
    assert_eq!((no_shows.len(), no_shows[0]["booking_id"].as_str(), no_shows[0]["starts_date"].as_str(), no_shows[0]["moves"].as_u64()),
        (1, Some(ids["x"].as_str()), Some(d(-1).as_str()), Some(1)));
    let mut attended: Vec<String> = rows("attended").await.body["bookings"].as_array().unwrap().iter().map(|b| b["booking_id"].as_str().unwrap().to_owned()).collect();
    attended.sort();
    let mut expected = vec![ids["w"].clone(), ids["x"].clone(), ids["y"].clone()];
    expected.sort();
    assert_eq!(attended, expected);

    // Filters: Sam's conversations only; voice has none.
    let mine = app.get(&format!("/v1/reports/summary?{rg}&staff_id={}", sam.staff_id), &owner.access).await;
    assert_eq!((mine.body["current"]["conversations"].as_u64(), mine.body["current"]["handed_over"].as_u64(), mine.body["current"]["bookings"].as_u64()), (Some(1), Some(1), Some(0)));
    let voice = app.get(&format!("/v1/reports/summary?{rg}&channel=voice"), &owner.access).await;
    assert_eq!(voice.body["current"]["conversations"], 0);

    // CSV: one row per conversation episode, one per booking, exactly the figure's rows.
    let csv = app.client.get(format!("{}/v1/reports/conversations.csv?{rg}", app.base)).bearer_auth(&owner.access).send().await.unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(csv.headers()["content-disposition"].to_str().unwrap().contains(&format!("conversations-{}-{}.csv", d(-2), d(0))));
    let text = csv.text().await.unwrap();
    assert!(text.starts_with("conversation_id,opened_at,date,channel,reopened,handling,"), "{text}");
    let lines = csv_rows(&text);
    assert_eq!(lines.len(), 4);
    assert_eq!(lines.iter().filter(|l| l[5] == "assistant").count(), 2);
    let bookings = app.client.get(format!("{}/v1/reports/bookings.csv?{rg}&figure=bookings", app.base)).bearer_auth(&owner.access).send().await.unwrap().text().await.unwrap();
    let lines = csv_rows(&bookings);
    assert_eq!(lines.len(), 3);
    let z = lines.iter().find(|l| l[0] == ids["z"]).unwrap();
    assert_eq!((z[2].as_str(), z[4].as_str(), z[9].as_str(), z[10].as_str()), (d(-1).as_str(), d(6).as_str(), "4500", "cancelled"));
    // Every booking of the period: the three made in it and W, whose appointment is in it.
    let all = app.client.get(format!("{}/v1/reports/bookings.csv?{rg}", app.base)).bearer_auth(&owner.access).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv_rows(&all).len(), 4);
}

async fn only_owners_and_admins_see_reports(f: Fixture) {
    let Fixture { app, owner, agent, sam, .. } = &f;
    let rg = range();
    let routes = ["/v1/reports/summary", "/v1/reports/rows", "/v1/reports/conversations.csv", "/v1/reports/bookings.csv", "/v1/reports/calls.csv"];
    for route in routes {
        let path = format!("{route}?{rg}&figure=conversations");
        let r = app.get(&path, &agent.access).await;
        assert_eq!((r.status, r.code()), (StatusCode::FORBIDDEN, "forbidden"), "{route}: {r:?}");
        let r = app.call(reqwest::Method::GET, &path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{route}");
        assert_eq!(app.get(&path, &sam.access).await.status, StatusCode::OK, "an admin may: {route}");
        assert_eq!(app.get(&path, &owner.access).await.status, StatusCode::OK, "the owner may: {route}");
    }
    // Another business sees its own (empty) figures, never these.
    let other = app.signup("other").await;
    let r = app.get(&format!("/v1/reports/summary?{rg}"), &other.access).await;
    assert_eq!((r.body["current"]["conversations"].as_u64(), r.body["current"]["bookings"].as_u64()), (Some(0), Some(0)));
    // Bad ranges get a 4xx with a stable code, never a 500: a range that makes no sense is
    // refused by the reports (422), a query that does not parse by the API (400).
    // Days outside the service's calendar (1970–2999) too: the last day a date can hold has no
    // day after it (this was a 500), and the rows and files refuse what the summary refuses.
    for bad in ["from=2026-03-08&to=2026-03-06", "from=yesterday&to=2026-03-06", "from=2024-01-01&to=2026-03-06", "from=9999-12-30&to=9999-12-31", "from=0001-01-01&to=0001-01-02"] {
        for route in ["/v1/reports/summary", "/v1/reports/rows", "/v1/reports/bookings.csv"] {
            let r = app.get(&format!("{route}?{bad}&figure=bookings"), &owner.access).await;
            assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{route} {bad}: {r:?}");
        }
    }
    for bad in ["to=2026-03-06".to_owned(), format!("{rg}&channel=fax"), format!("{rg}&figure=everything")] {
        for route in ["/v1/reports/rows", "/v1/reports/calls.csv"] {
            let r = app.get(&format!("{route}?{bad}"), &owner.access).await;
            assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{route} {bad}: {r:?}");
        }
    }
    let r = app.get(&format!("/v1/reports/rows?{rg}"), &owner.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{r:?}");
}

}

/// The service with mail going to a real SMTP server on loopback.
async fn with_mail(engine: switchboard_testkit::Engine) -> (TestApp, SmtpSink, FakeProviders) {
    let sink = SmtpSink::start().await;
    let url = sink.url.clone();
    let (app, fake) = spawn_with_fakes(engine, move |c| {
        c.smtp_url = Some(url.into());
        c.smtp_from = "Switchboard <desk@switchboard.test>".into();
        c.public_url = "https://desk.example".into();
    })
    .await;
    (app, sink, fake)
}

/// Sets the test clock to a local time in London (where `signup` puts a business).
fn london(app: &TestApp, local: &str) {
    let dt: DateTime = local.parse().unwrap();
    app.clock.as_ref().unwrap().set(protocol_ts(dt.to_zoned(TimeZone::get("Europe/London").unwrap()).unwrap().timestamp().as_millisecond()));
}

fn weekly(sink: &SmtpSink, to: &str) -> Vec<switchboard_testkit::smtp::Mail> {
    sink.to(to).into_iter().filter(|m| m.subject.contains("your week")).collect()
}

on_both_engines! {

spawn = with_mail;

/// An owner with a verified address gets last week's figures by mail on Monday at 08:00 local,
/// once however often the workers run; a quiet week sends nothing, nor does a summary more than
/// three days late; a colleague who is not an owner gets none.
async fn owners_get_last_weeks_summary_by_mail_on_monday_morning((app, sink, _fake): (TestApp, SmtpSink, FakeProviders)) {
    // A Monday more than a week ahead of the real time (tokens are checked against it).
    let mut week = jiff::Zoned::now().date() + jiff::Span::new().days(8);
    while week.weekday() != jiff::civil::Weekday::Monday {
        week = week + jiff::Span::new().days(1);
    }
    let day = |offset: i64, time: &str| format!("{}T{time}", week + jiff::Span::new().days(offset));
    london(&app, &day(1, "09:00"));
    let owner = app.signup("weekly").await;
    app.drain().await;
    let confirm = sink.to(&owner.email).into_iter().find(|m| m.subject.contains("Confirm")).expect("a verification mail");
    let verified = app.call(reqwest::Method::POST, "/v1/auth/verify-email", None, Some(json!({"token": confirm.token().unwrap()}))).await;
    assert_eq!(verified.status, StatusCode::NO_CONTENT, "{verified:?}");
    let admin = app.add_staff(&owner, "admin").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    london(&app, &day(2, "10:00"));
    customer_writes(&app, &owner, "15550000009", "wamid.weekly-1", "Hello, are you open on Saturday?").await;

    // Monday, a minute before eight: nothing yet.
    london(&app, &day(7, "07:59"));
    app.drain().await;
    assert!(weekly(&sink, &owner.email).is_empty());
    // Eight o'clock: last week's figures, beside the week before (when nothing happened).
    london(&app, &day(7, "08:00"));
    app.drain().await;
    app.advance(std::time::Duration::from_secs(3600));
    app.drain().await;
    let mails = weekly(&sink, &owner.email);
    assert_eq!(mails.len(), 1, "one summary however often the workers run: {mails:?}");
    let mail = &mails[0];
    assert_eq!(mail.subject, format!("weekly Studio: your week, {} to {}", week, week + jiff::Span::new().days(6)));
    assert!(mail.body.contains("Conversations: 1 (the week before: 0)"), "{}", mail.body);
    assert!(mail.body.contains("Bookings: 0 (the week before: 0)"), "{}", mail.body);
    assert!(mail.body.contains("docs/metrics.md, version 2"), "{}", mail.body);
    assert!(weekly(&sink, &admin.email).is_empty(), "only owners get it");

    // A week with nothing in it sends nothing.
    london(&app, &day(14, "08:30"));
    app.drain().await;
    assert_eq!(weekly(&sink, &owner.email).len(), 1);
    // Something happens that week; the service is down until Friday: too late, not sent.
    london(&app, &day(16, "10:00"));
    customer_writes(&app, &owner, "15550000010", "wamid.weekly-2", "Hi again").await;
    london(&app, &day(25, "09:00"));
    app.drain().await;
    assert_eq!(weekly(&sink, &owner.email).len(), 1, "a summary four days late is not sent");
}

}

/// The figures straight from the outcome rows (the reference) and through the summaries the
/// routes read: the summary, and the rows behind every figure, must be the same.
async fn assert_summaries_equal_recomputation(app: &TestApp, business_id: &str, staff_id: &str, queries: &[(String, String)]) {
    use switchboard_core::reports::{self, ReportQuery};
    let actor = switchboard_core::accounts::Actor {
        business_id: business_id.to_owned(),
        staff_id: staff_id.to_owned(),
        role: protocol::Role::Owner,
        session_id: "test".into(),
    };
    let channels = [None, Some(protocol::Channel::Whatsapp), Some(protocol::Channel::Sms), Some(protocol::Channel::Voice)];
    for (from, to) in queries {
        for channel in channels {
            for staff in [None, Some(staff_id.to_owned()), Some("gen-staff-1".to_owned())] {
                let q = ReportQuery { from: from.clone(), to: to.clone(), channel, staff_id: staff.clone(), ..Default::default() };
                let fast = serde_json::to_value(reports::summary(&app.core, &actor, q.clone()).await.unwrap()).unwrap();
                let reference = serde_json::to_value(reports::summary_from_outcomes(&app.core, &actor, q.clone()).await.unwrap()).unwrap();
                assert_eq!(fast, reference, "{from}..{to} {channel:?} {staff:?}");
                if staff.is_some() && channel.is_some() {
                    continue;
                }
                for figure in protocol::ReportFigure::ALL {
                    for previous in [None, Some(true)] {
                        let q = ReportQuery { figure: Some(*figure), previous, ..q.clone() };
                        let fast = serde_json::to_value(reports::rows(&app.core, &actor, q.clone()).await.unwrap()).unwrap();
                        let reference = serde_json::to_value(reports::rows_from_outcomes(&app.core, &actor, q).await.unwrap()).unwrap();
                        assert_eq!(fast, reference, "{from}..{to} {figure:?} {channel:?} {staff:?}");
                    }
                }
            }
        }
    }
}

/// A small deterministic generator (the history must be the same on both engines).
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

on_both_engines! {

spawn = fixture;

/// The summaries the routes read equal the computation from the outcome rows: over the fixture
/// (written through the API), and over a generated history appended out of order through the
/// same `record` the write paths use, in a zone whose clocks go back across midnight; and a
/// rebuild from the outcome rows gives the same again.
async fn the_summaries_equal_recomputation_from_the_outcome_rows(f: Fixture) {
    use switchboard_core::reports::outcomes::{record, Outcome, OutcomeKind};
    let Fixture { app, owner, .. } = &f;
    let fixture_ranges = [(d(-2), d(0)), (d(-1), d(-1)), (d(-10), d(10)), (d(0), d(1))];
    assert_summaries_equal_recomputation(app, &owner.business_id, &owner.staff_id, &fixture_ranges).await;

    // A second business in Santiago, where the clocks go back from Sunday 00:00 to Saturday
    // 23:00 once a year: the generated history spans such a change.
    let gen = app.signup("generated").await;
    let r = app.patch("/v1/business", &gen.access, json!({"timezone": "America/Santiago"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let tz = TimeZone::get("America/Santiago").unwrap();
    let change = tz
        .following(jiff::Timestamp::now())
        .find(|t| t.offset() < tz.to_offset(t.timestamp() - jiff::SignedDuration::from_secs(1)))
        .unwrap()
        .timestamp();
    let hour = 3_600_000i64;
    let base = change.as_millisecond() - 10 * 24 * hour;
    let mut rng = Lcg(15);
    let staff = [gen.staff_id.clone(), "gen-staff-1".to_owned(), "gen-staff-2".to_owned()];
    let channels = ["whatsapp", "sms", "voice"];
    let sources = ["assistant_chat", "assistant_voice", "staff", "api"];
    let mut outcomes: Vec<Outcome> = Vec::new();
    for c in 0..80 {
        let conversation = format!("gen-conv-{c}");
        let channel = channels[rng.below(3) as usize];
        // Opened on the hour or at odd minutes around the clock change, some near midnight.
        let opened = base + rng.below(20 * 24) as i64 * hour + rng.below(60) as i64 * 60_000;
        let mut o = Outcome::new(OutcomeKind::ConversationOpened);
        o.at = Some(opened);
        o.conversation_id = Some(conversation.clone());
        o.channel = Some(channel.into());
        outcomes.push(o);
        let mut events = Vec::new();
        for _ in 0..rng.below(7) {
            let at = opened + rng.below(30 * 60) as i64 * 60_000;
            let kind = [OutcomeKind::AiReply, OutcomeKind::AiReply, OutcomeKind::HandedOver, OutcomeKind::TakenOver, OutcomeKind::FirstHumanReply, OutcomeKind::HumanReply, OutcomeKind::Resolved]
                [rng.below(7) as usize];
            let mut o = Outcome::new(kind);
            o.at = Some(at);
            o.conversation_id = Some(conversation.clone());
            o.channel = Some(channel.into());
            if matches!(kind, OutcomeKind::TakenOver | OutcomeKind::FirstHumanReply | OutcomeKind::HumanReply) {
                o.staff_id = Some(staff[rng.below(3) as usize].clone());
            }
            if matches!(kind, OutcomeKind::FirstHumanReply | OutcomeKind::HumanReply) && rng.below(4) > 0 {
                o.since_at = Some(opened + rng.below((at - opened) as u64 + 1) as i64);
            }
            events.push(o);
        }
        // Appended out of time order.
        while !events.is_empty() {
            let i = rng.below(events.len() as u64) as usize;
            outcomes.push(events.swap_remove(i));
        }
        if rng.below(5) == 0 {
            // Reopened a day later, answered by the assistant.
            let reopened = opened + 24 * hour + rng.below(600) as i64 * 60_000;
            for (kind, at) in [(OutcomeKind::ConversationReopened, reopened), (OutcomeKind::AiReply, reopened + 60_000)] {
                let mut o = Outcome::new(kind);
                o.at = Some(at);
                o.conversation_id = Some(conversation.clone());
                o.channel = Some(channel.into());
                outcomes.push(o);
            }
        }
    }
    for b in 0..60 {
        let made = base + rng.below(20 * 24 * 60) as i64 * 60_000;
        let mut starts = made + rng.below(10 * 24) as i64 * hour;
        let source = sources[rng.below(4) as usize];
        let fact = |kind: OutcomeKind, at: i64, starts_at: i64, staff_id: &str| {
            let mut o = Outcome::new(kind);
            o.at = Some(at);
            o.booking_id = Some(format!("gen-booking-{b:02}"));
            o.channel = (source.starts_with("assistant")).then(|| if source == "assistant_voice" { "voice".into() } else { "whatsapp".into() });
            o.staff_id = Some(staff_id.to_owned());
            o.source = Some(source.into());
            o.service_id = Some("gen-service".into());
            o.value_cents = Some(1000 + b as i64);
            o.starts_at = Some(starts_at);
            o
        };
        let who = staff[rng.below(3) as usize].clone();
        outcomes.push(fact(OutcomeKind::BookingMade, made, starts, &who));
        for step in 0..rng.below(3) {
            let at = made + (step as i64 + 1) * hour;
            let kind = [OutcomeKind::BookingMoved, OutcomeKind::BookingCancelled, OutcomeKind::BookingCompleted, OutcomeKind::BookingNoShow][rng.below(4) as usize];
            if kind == OutcomeKind::BookingMoved {
                starts += rng.below(72) as i64 * hour - 36 * hour;
            }
            outcomes.push(fact(kind, at, starts, &who));
        }
    }
    for o in outcomes {
        let mut tx = app.db.begin_business(&gen.business_id).await.unwrap();
        record(&mut tx, o).await.unwrap();
        tx.commit_even_if_unchanged().await.unwrap();
    }
    let day = |offset: i64| (change.to_zoned(tz.clone()).date() + jiff::Span::new().days(offset)).to_string();
    let ranges = [(day(-10), day(10)), (day(-1), day(0)), (day(0), day(0)), (day(-3), day(3)), (day(-12), day(-2)), (day(2), day(15))];
    assert_summaries_equal_recomputation(app, &gen.business_id, &gen.staff_id, &ranges).await;
    // The day the clocks went back has counts at all (the generated history is not empty there).
    let actor = switchboard_core::accounts::Actor { business_id: gen.business_id.clone(), staff_id: gen.staff_id.clone(), role: protocol::Role::Owner, session_id: "t".into() };
    let q = switchboard_core::reports::ReportQuery { from: day(-10), to: day(10), ..Default::default() };
    let before = serde_json::to_value(switchboard_core::reports::summary(&app.core, &actor, q.clone()).await.unwrap()).unwrap();
    assert!(before["current"]["conversations"].as_u64().unwrap() >= 60, "{before}");
    assert!(before["current"]["bookings"].as_u64().unwrap() >= 40, "{before}");

    // Rebuilt from the outcome rows (as after the migration that added the summaries): the same.
    switchboard_core::reports::summaries::rebuild(&app.db, &gen.business_id).await.unwrap();
    let after = serde_json::to_value(switchboard_core::reports::summary(&app.core, &actor, q).await.unwrap()).unwrap();
    assert_eq!(before, after);
    assert_summaries_equal_recomputation(app, &gen.business_id, &gen.staff_id, &ranges[..2]).await;
}

}

// -------------------------------------------------------------------------------------------------
// The automations' figures (definitions version 2): reminders and missed calls, driven through the
// real paths — reminders going out on the test clock, the customer's replies by SMS, missed calls
// reported by Twilio's voice status webhook — in a business of their own (their messages open
// conversations and their bookings would change every figure of the fixture above).

const NUMBER: &str = "+14155550100";
const NIA: &str = "+14155550196";
/// Another business's number: P1 calls it too.
const OTHER_NUMBER: &str = "+14155550200";

struct Calls {
    app: TestApp,
    _fake: FakeProviders,
    owner: Tenant,
    /// Another business, on the same Twilio account.
    other: Tenant,
    service: String,
    nia: String,
    ids: std::collections::HashMap<&'static str, String>,
}

impl Calls {
    /// Moves the clock to `at` (UTC), sending what falls due on the way.
    async fn until(&self, at: &str) {
        self.app.until(at).await;
    }

    async fn book(&self, customer: &str, start: &str) -> String {
        let r = self.app.post("/v1/bookings", &self.owner.access, json!({"customer_id": customer, "service_id": self.service, "start": start})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn nia_texts(&self, sid: &str, body: &str) {
        let params = [("MessageSid", sid), ("From", NIA), ("To", NUMBER), ("Body", body), ("NumMedia", "0")];
        let (status, _) = post_twilio(&self.app, "/webhooks/twilio", &params, switchboard_testkit::fakes::TWILIO_TOKEN).await;
        assert_eq!(status, StatusCode::OK);
        self.app.drain().await;
    }

    /// A call from `from` nobody answered, reported by Twilio (`times` over).
    async fn missed(&self, sid: &str, from: &str, times: usize) {
        self.missed_at(NUMBER, sid, from, times).await;
    }

    /// A call from `from` to the number `to` nobody answered.
    async fn missed_at(&self, to: &str, sid: &str, from: &str, times: usize) {
        let params = [("CallSid", sid), ("CallStatus", "no-answer"), ("From", from), ("To", to), ("Direction", "inbound")];
        for _ in 0..times {
            let (status, _) = post_twilio(&self.app, "/webhooks/twilio/voice-status", &params, switchboard_testkit::fakes::TWILIO_TOKEN).await;
            assert_eq!(status, StatusCode::OK);
        }
        self.app.drain().await;
    }

    async fn customer_by_phone(&self, phone: &str) -> String {
        self.customer_of(&self.owner, phone).await
    }

    async fn customer_of(&self, tenant: &Tenant, phone: &str) -> String {
        let all = self.app.all_items("/v1/customers", &tenant.access).await;
        all.iter().find(|c| c["phone"] == phone).unwrap_or_else(|| panic!("no customer {phone}: {all:?}"))["id"].as_str().unwrap().to_owned()
    }
}

/// London (BST, UTC+1, in May 2027), SMS through Twilio, the default reminders (24 h and 2 h
/// before, not 21:00–08:00). The report's week is Monday 10 May to Sunday 16 May; the previous
/// period the week before. Times below are UTC.
async fn calls(engine: switchboard_testkit::Engine) -> Calls {
    let (app, fake) = spawn_with_fakes(engine, |_| {}).await;
    app.clock.as_ref().unwrap().set("2027-05-03T09:00:00Z".parse().unwrap());
    let owner = app.signup("calls").await;
    app.patch("/v1/business", &owner.access, json!({"timezone": "Europe/London"})).await;
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("07:00", "22:00"), "slot_interval_minutes": 15})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Haircut", "duration_minutes": 45, "price_cents": 3500})).await;
    assert_eq!(connect_twilio(&app, &owner, NUMBER).await.status, StatusCode::OK);
    let nia = app.post("/v1/customers", &owner.access, json!({"name": "Nia Jones", "phone": NIA})).await;
    assert_eq!(nia.status, StatusCode::CREATED, "{nia:?}");
    let other = app.signup("calls-other").await;
    assert_eq!(connect_twilio(&app, &other, OTHER_NUMBER).await.status, StatusCode::OK);
    let c = Calls {
        other,
        service: service.body["id"].as_str().unwrap().to_owned(),
        nia: nia.body["id"].as_str().unwrap().to_owned(),
        app,
        _fake: fake,
        owner,
        ids: Default::default(),
    };
    let mut ids = std::collections::HashMap::new();
    // Monday 3 May: Nia books A (Tue 11th 14:00), B (Thu 13th 14:00), C (Fri 14th 14:00) and
    // D (Mon 10th 10:00).
    for (name, start) in [("a", "2027-05-11T15:00"), ("b", "2027-05-13T15:00"), ("c", "2027-05-14T15:00"), ("d", "2027-05-10T11:00")] {
        ids.insert(name, c.book(&c.nia, start).await);
    }
    // Previous period: Friday 7th, a call from P4 is missed (a text-back goes out); P4 books on
    // Monday 10th (3 days later: recovered, counted in the previous period where the call was).
    // D's 24 h reminder goes out on Sunday 9th at 10:00.
    c.until("2027-05-07T10:00:00Z").await;
    c.missed("CA-p4", "+14155550104", 1).await;
    c.until("2027-05-10T08:00:00Z").await;
    // Current period. Monday 10th 08:00: D's 2 h reminder (its first was last week: not counted).
    // 09:30: P4 books. 10:00: P1's call is missed, reported twice (one call); 12:00 P1 calls
    // again, missed, and gets no second text-back within 12 hours.
    c.until("2027-05-10T09:30:00Z").await;
    let p4 = c.customer_by_phone("+14155550104").await;
    ids.insert("p4_booking", c.book(&p4, "2027-06-01T10:00").await);
    ids.insert("p4", p4);
    c.until("2027-05-10T10:00:00Z").await;
    c.missed("CA-p1a", "+14155550101", 2).await;
    // 11:00: P1 calls the other business too, missed there (its call, its text-back; P1's
    // booking here recovers nothing there).
    c.until("2027-05-10T11:00:00Z").await;
    c.missed_at(OTHER_NUMBER, "CA-o1", "+14155550101", 1).await;
    c.until("2027-05-10T12:00:00Z").await;
    c.missed("CA-p1b", "+14155550101", 1).await;
    // 14:00 A's 24 h reminder; Nia replies C at 14:30 (A confirmed). Tuesday 11th 12:00: A's 2 h
    // reminder; A is still counted once. 10:00: P2's call is missed.
    c.until("2027-05-10T14:30:00Z").await;
    c.nia_texts("SM-a", "C").await;
    c.until("2027-05-11T10:00:00Z").await;
    c.missed("CA-p2", "+14155550102", 1).await;
    // Wednesday 12th 10:00: P1 books (2 days after both calls: both recovered). 14:00 B's 24 h
    // reminder; Nia replies X at 14:30 (B cancelled).
    c.until("2027-05-12T10:00:00Z").await;
    let p1 = c.customer_by_phone("+14155550101").await;
    ids.insert("p1_booking", c.book(&p1, "2027-06-02T10:00").await);
    ids.insert("p1", p1);
    c.until("2027-05-12T14:30:00Z").await;
    c.nia_texts("SM-b", "X").await;
    // Thursday 13th and Friday 14th: C's reminders, no reply. Saturday 15th 10:00: P3's call is
    // missed and P3 never books.
    c.until("2027-05-15T10:00:00Z").await;
    c.missed("CA-p3", "+14155550103", 1).await;
    // Wednesday 19th 10:00, exactly 8 days after P2's call: P2 books — too late to recover it.
    c.until("2027-05-19T10:00:00Z").await;
    let p2 = c.customer_by_phone("+14155550102").await;
    c.book(&p2, "2027-06-03T10:00").await;
    ids.insert("p2", p2);
    ids.insert("p3", c.customer_by_phone("+14155550103").await);
    Calls { ids, ..c }
}

on_both_engines! {

spawn = calls;

async fn reminders_and_missed_calls_equal_the_hand_computed_values(c: Calls) {
    let (app, owner) = (&c.app, &c.owner);
    let rg = "from=2027-05-10&to=2027-05-16";
    let r = app.get(&format!("/v1/reports/summary?{rg}"), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["definitions_version"], "2");
    let cur = &r.body["current"];
    let figures = |f: &Value| {
        ["reminded", "reminder_confirmed", "reminder_confirmed_pct", "reminder_cancelled", "reminder_cancelled_pct", "missed_calls", "text_backs", "recovered", "recovered_pct"]
            .map(|k| f[k].clone())
            .to_vec()
    };
    // Reminded this week: A, B, C (D's first reminder was last week). A confirmed, B cancelled.
    // Missed: P1 twice, P2, P3; text-backs: P1 once, P2, P3; recovered: P1's two calls (P2 booked
    // 8 days later, P3 never).
    assert_eq!(figures(cur), vec![json!(3), json!(1), json!(33.3), json!(1), json!(33.3), json!(4), json!(3), json!(2), json!(50.0)], "{cur}");
    // Last week: D reminded; P4 missed, texted back and recovered.
    let prev = &r.body["previous"];
    assert_eq!(figures(prev), vec![json!(1), json!(0), json!(0.0), json!(0), json!(0.0), json!(1), json!(1), json!(1), json!(100.0)], "{prev}");

    // Drill-down: exactly the reminded bookings.
    let rows = |figure: &str| {
        let path = format!("/v1/reports/rows?{rg}&figure={figure}");
        async move {
            let r = app.get(&path, &owner.access).await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
            let mut ids: Vec<String> = r.body["bookings"].as_array().unwrap().iter().map(|b| b["booking_id"].as_str().unwrap().to_owned()).collect();
            ids.sort();
            ids
        }
    };
    let mut abc = vec![c.ids["a"].clone(), c.ids["b"].clone(), c.ids["c"].clone()];
    abc.sort();
    assert_eq!(rows("reminded").await, abc);
    assert_eq!(rows("reminder_confirmed").await, vec![c.ids["a"].clone()]);
    assert_eq!(rows("reminder_cancelled").await, vec![c.ids["b"].clone()]);
    let csv = app.client.get(format!("{}/v1/reports/bookings.csv?{rg}&figure=reminded", app.base)).bearer_auth(&owner.access).send().await.unwrap().text().await.unwrap();
    assert_eq!(csv_rows(&csv).len(), 3);
    calls_click_through(&c, rg).await;
    // Filters: the reminders and text-backs went by SMS; missed calls are voice calls with no
    // person.
    let sms = app.get(&format!("/v1/reports/summary?{rg}&channel=sms"), &owner.access).await;
    assert_eq!(figures(&sms.body["current"])[..7].to_vec(), vec![json!(3), json!(1), json!(33.3), json!(1), json!(33.3), json!(0), json!(3)]);
    let voice = app.get(&format!("/v1/reports/summary?{rg}&channel=voice"), &owner.access).await;
    assert_eq!(figures(&voice.body["current"]), vec![json!(0), json!(0), Value::Null, json!(0), Value::Null, json!(4), json!(0), json!(2), json!(50.0)]);
    // The summaries path and the reference computation agree on everything, drill-downs too.
    assert_summaries_equal_recomputation(app, &owner.business_id, &owner.staff_id, &[("2027-05-10".into(), "2027-05-16".into()), ("2027-05-03".into(), "2027-05-20".into())]).await;

    // Migration 0026's backfill reconstructs exactly what the live paths recorded: without the
    // automations' outcome rows, its statements run again give the same figures (every call
    // here planned a text-back run, sent or not, so every missed call is known to it).
    let summaries = || async {
        let mut out = Vec::new();
        for range in [rg, "from=2027-05-03&to=2027-05-09", "from=2027-05-01&to=2027-05-31"] {
            out.push(app.get(&format!("/v1/reports/summary?{range}"), &owner.access).await.body);
        }
        out
    };
    let live = summaries().await;
    let deleted = sqlx::query("DELETE FROM outcomes WHERE kind IN ('reminder_sent', 'reminder_confirmed', 'reminder_cancelled', 'missed_call', 'text_back', 'recovered')")
        .execute(app.db.writer())
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(deleted, 23, "5 missed calls, 4 text-backs, 3 recoveries, 2 replies, 7 reminders (D 2, A 2, B 1, C 2); the other business's call and text-back");
    let migration = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations/cloud/0026_automation_outcomes.sql")).unwrap();
    let sql: String = migration.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join("\n");
    for statement in sql.split(';').map(str::trim).filter(|s| s.starts_with("INSERT")) {
        sqlx::query(statement).execute(app.db.writer()).await.unwrap();
    }
    assert_eq!(summaries().await, live);
}

}

/// The calls behind the call figures (`/v1/reports/rows` and `calls.csv`): exactly as many as
/// each figure, the hand-computed calls, the business's own only.
async fn calls_click_through(c: &Calls, rg: &str) {
    let (app, owner) = (&c.app, &c.owner);
    let summary = app.get(&format!("/v1/reports/summary?{rg}"), &owner.access).await.body;
    let rows = |tenant: &Tenant, query: String| {
        let access = tenant.access.clone();
        async move {
            let r = app.get(&format!("/v1/reports/rows?{query}"), &access).await;
            assert_eq!(r.status, StatusCode::OK, "{query}: {r:?}");
            assert_eq!((r.body["conversations"].as_array().unwrap().len(), r.body["bookings"].as_array().unwrap().len()), (0, 0), "{query}");
            r.body["calls"].as_array().unwrap().clone()
        }
    };
    let csv = |tenant: &Tenant, query: String| {
        let access = tenant.access.clone();
        async move {
            let r = app.client.get(format!("{}/v1/reports/calls.csv?{query}", app.base)).bearer_auth(&access).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "{query}");
            assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
            let text = r.text().await.unwrap();
            assert!(
                text.starts_with("call_id,called_at,date,customer_id,customer,phone,text_back_sent_at,text_back_channel,recovered_by_booking_id,booked_at\n"),
                "{text}"
            );
            csv_rows(&text)
        }
    };
    let id = |k: &str| c.ids[k].clone();
    let calls_of = |list: &[Value]| list.iter().map(|r| r["call_id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    // (call, caller, text-back sent, recovered by) for every call figure and both periods.
    type Expected = Vec<(&'static str, String, bool, Option<String>)>;
    let p1 = |call| (call, id("p1"), true, Some(id("p1_booking")));
    let missed: Expected = vec![p1("twilio:CA-p1a"), ("twilio:CA-p1b", id("p1"), false, Some(id("p1_booking"))), ("twilio:CA-p2", id("p2"), true, None), ("twilio:CA-p3", id("p3"), true, None)];
    let recovered: Expected = missed[..2].to_vec();
    let texted: Expected = missed.iter().filter(|m| m.2).cloned().collect();
    let p4: Expected = vec![("twilio:CA-p4", id("p4"), true, Some(id("p4_booking")))];
    for (figure, previous, expected) in [
        ("missed_calls", false, &missed),
        ("recovered", false, &recovered),
        ("text_backs", false, &texted),
        ("missed_calls", true, &p4),
        ("recovered", true, &p4),
        ("text_backs", true, &p4),
    ] {
        let period = if previous { "previous" } else { "current" };
        let query = format!("{rg}&figure={figure}{}", if previous { "&previous=true" } else { "" });
        let listed = rows(owner, query.clone()).await;
        // As many rows as the figure counts, in time order.
        assert_eq!(listed.len() as u64, summary[period][figure].as_u64().unwrap(), "{figure} {period}");
        assert_eq!(calls_of(&listed), expected.iter().map(|e| e.0.to_owned()).collect::<Vec<_>>(), "{figure} {period}");
        for (row, (call, customer, texted, by)) in listed.iter().zip(expected.iter()) {
            assert_eq!(row["customer_id"].as_str(), Some(customer.as_str()), "{call}");
            assert_eq!(row["text_back_sent_at"].is_string(), *texted, "{call}: {row}");
            assert_eq!(row["text_back_channel"].as_str(), texted.then_some("sms"), "{call}: {row}");
            assert_eq!(row["recovered_by_booking_id"].as_str(), by.as_deref(), "{call}: {row}");
            assert_eq!(row["booked_at"].is_string(), by.is_some(), "{call}: {row}");
            // Called on its local (London) date.
            let called: jiff::Timestamp = row["called_at"].as_str().unwrap().parse().unwrap();
            assert_eq!(row["date"].as_str().unwrap(), called.to_zoned(TimeZone::get("Europe/London").unwrap()).date().to_string());
        }
        // The CSV has the same rows: the call, when, whose; the caller's number is not run as a
        // formula by a spreadsheet.
        let lines = csv(owner, query).await;
        assert_eq!(lines.len(), listed.len(), "{figure} {period}");
        for (line, row) in lines.iter().zip(&listed) {
            let phone = row["customer_phone"].as_str().unwrap();
            assert!(phone.starts_with('+'), "{row}");
            let cells = [&row["call_id"], &row["called_at"], &row["date"], &row["customer_id"]].map(|v| v.as_str().unwrap().to_owned());
            assert_eq!(line[..4], cells, "{figure} {period}");
            assert_eq!(line[5], format!("'{phone}"));
            let opt = |v: &Value| v.as_str().unwrap_or("").to_owned();
            assert_eq!(line[6..], [opt(&row["text_back_sent_at"]), opt(&row["text_back_channel"]), opt(&row["recovered_by_booking_id"]), opt(&row["booked_at"])]);
        }
    }
    // P1's first call: Monday 10:00, texted back at once; recovered by the booking of Wednesday 10:00.
    let listed = rows(owner, format!("{rg}&figure=missed_calls")).await;
    let first = &listed[0];
    assert_eq!((first["called_at"].as_str(), first["date"].as_str(), first["text_back_sent_at"].as_str()), (Some("2027-05-10T10:00:00Z"), Some("2027-05-10"), Some("2027-05-10T10:00:00Z")), "{first}");
    assert_eq!(first["booked_at"].as_str(), Some("2027-05-12T10:00:00Z"));
    // Without a figure the CSV lists the missed calls.
    assert_eq!(csv(owner, rg.to_owned()).await.iter().map(|l| l[0].clone()).collect::<Vec<_>>(), ["twilio:CA-p1a", "twilio:CA-p1b", "twilio:CA-p2", "twilio:CA-p3"]);
    // Filters as the figures have them: missed calls are voice calls with nobody; text-backs
    // went by SMS.
    let staff = &owner.staff_id;
    for (filter, figure, expected) in [
        ("channel=voice", "missed_calls", 4),
        ("channel=voice", "text_backs", 0),
        ("channel=sms", "missed_calls", 0),
        ("channel=sms", "text_backs", 3),
        (&*format!("staff_id={staff}"), "missed_calls", 0),
        (&*format!("staff_id={staff}"), "recovered", 0),
    ] {
        assert_eq!(rows(owner, format!("{rg}&{filter}&figure={figure}")).await.len(), expected, "{filter} {figure}");
        assert_eq!(csv(owner, format!("{rg}&{filter}&figure={figure}")).await.len(), expected, "{filter} {figure}");
    }
    // Another business's call from the same caller is never among these, nor recovered by a
    // booking here; that business lists only its own.
    let theirs = rows(&c.other, format!("{rg}&figure=missed_calls")).await;
    assert_eq!(calls_of(&theirs), ["twilio:CA-o1"]);
    assert_eq!(theirs[0]["customer_id"].as_str(), Some(c.customer_of(&c.other, "+14155550101").await.as_str()));
    assert_ne!(theirs[0]["customer_id"].as_str(), Some(id("p1").as_str()));
    assert_eq!((theirs[0]["recovered_by_booking_id"].clone(), theirs[0]["text_back_channel"].as_str()), (Value::Null, Some("sms")));
    assert!(rows(&c.other, format!("{rg}&figure=recovered")).await.is_empty());
    assert_eq!(calls_of(&rows(&c.other, format!("{rg}&figure=text_backs")).await), ["twilio:CA-o1"]);
    assert_eq!(csv(&c.other, rg.to_owned()).await.iter().map(|l| l[0].clone()).collect::<Vec<_>>(), ["twilio:CA-o1"]);
    // A figure that lists no calls lists none in the calls CSV; an unknown figure is refused.
    assert!(csv(owner, format!("{rg}&figure=bookings")).await.is_empty());
    let r = app.get(&format!("/v1/reports/calls.csv?{rg}&figure=calls"), &owner.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{r:?}");
}


/// The service with a WhatsApp number connected and the assistant switched off.
async fn nobody_answers(engine: switchboard_testkit::Engine) -> (TestApp, Tenant, FakeProviders) {
    let (app, fake) = spawn_with_fakes(engine, |_| {}).await;
    let owner = app.signup("handover").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    (app, owner, fake)
}

on_both_engines! {

spawn = nobody_answers;

/// With the assistant off, messages processed together hand each of their conversations to a
/// person once — new customers' and a known one's whose conversation the assistant had — with
/// one hand-over each in the reports, summaries equal to the outcome rows, and a later message
/// handing over nothing again.
async fn messages_processed_together_hand_each_conversation_over_once((app, owner, _fake): (TestApp, Tenant, FakeProviders)) {
    // A known customer whose conversation the assistant answered before it was switched off.
    assistant(&app, &owner, true).await;
    customer_writes(&app, &owner, "15550000009", "wamid.known-1", "Hello").await;
    let known = conversation_of(&app, &owner, "15550000009").await;
    let r = app.get(&format!("/v1/conversations/{known}"), &owner.access).await;
    assert_eq!(r.body["conversation"]["mode"], "ai", "{r:?}");
    assistant(&app, &owner, false).await;

    // Four people write at once (two of them twice), and are processed together.
    let from = ["15550000009", "15550000011", "15550000012", "15550000013"];
    let mut texts = Vec::new();
    for (i, who) in from.iter().enumerate() {
        texts.push(text(&format!("wamid.together-{i}"), who, "Is anyone there?"));
    }
    texts.push(text("wamid.together-again-1", from[1], "Hello?"));
    texts.push(text("wamid.together-again-3", from[3], "Hello?"));
    let (status, _) = post_whatsapp_signed(&app, &notification(PHONE_ID, Value::Null, json!(texts), Value::Null), &app_secret(&owner)).await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;
    for who in from {
        let id = conversation_of(&app, &owner, who).await;
        let r = app.get(&format!("/v1/conversations/{id}"), &owner.access).await;
        assert_eq!((r.body["conversation"]["mode"].as_str(), r.body["conversation"]["needs_human_since"].is_string()), (Some("needs_human"), true), "{who}: {r:?}");
    }
    // One more message from each hands over nothing again.
    for (i, who) in from.iter().enumerate() {
        customer_writes(&app, &owner, who, &format!("wamid.later-{i}"), "Still there?").await;
    }

    let today = app.core.db.now().to_string()[..10].to_owned();
    let r = app.get(&format!("/v1/reports/summary?from={today}&to={today}"), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let c = &r.body["current"];
    assert_eq!((c["conversations"].as_u64(), c["handed_over"].as_u64(), c["handled_by_assistant"].as_u64()), (Some(4), Some(4), Some(0)), "{c}");
    let r = app.get(&format!("/v1/reports/rows?from={today}&to={today}&figure=handed_over"), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["conversations"].as_array().map(Vec::len), Some(4), "{r:?}");
    assert_summaries_equal_recomputation(&app, &owner.business_id, &owner.staff_id, &[(today.clone(), today.clone())]).await;
    switchboard_core::reports::summaries::rebuild(&app.db, &owner.business_id).await.unwrap();
    assert_summaries_equal_recomputation(&app, &owner.business_id, &owner.staff_id, &[(today.clone(), today)]).await;
}

}

/// A business in the fixture's zone with two services (45.00 and 12.00) and a customer, the
/// clock six days before the clocks change.
async fn two_services(engine: switchboard_testkit::Engine) -> (TestApp, Tenant, [String; 2], String) {
    let app = TestApp::spawn(engine).await;
    at(&app, &t(-6, "08:00"));
    let owner = app.signup("summaries").await;
    app.patch("/v1/business", &owner.access, json!({"timezone": ZONE})).await;
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("09:00", "17:00"), "min_notice_minutes": 0})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let mut services = Vec::new();
    for (name, price) in [("Cut", 4500), ("Trim", 1200)] {
        let r = app.post("/v1/services", &owner.access, json!({"name": name, "duration_minutes": 60, "price_cents": price})).await;
        services.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Dee"})).await.body["id"].as_str().unwrap().to_owned();
    (app, owner, [services[0].clone(), services[1].clone()], customer)
}

/// Each booking's summary row, by booking: (made_at, service, value, starts_at, outcome, moves).
async fn summary_rows(app: &TestApp, business_id: &str) -> std::collections::BTreeMap<String, (Option<i64>, String, i64, i64, String, i64)> {
    type Row = (String, Option<i64>, String, i64, i64, String, i64);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT booking_id, made_at, service_id, value_cents, starts_at, outcome, moves FROM report_bookings WHERE business_id = $1",
    )
    .bind(business_id)
    .fetch_all(app.db.reader())
    .await
    .unwrap();
    rows.into_iter().map(|(id, made, service, value, starts, outcome, moves)| (id, (made, service, value, starts, outcome, moves))).collect()
}

on_both_engines! {

spawn = two_services;

/// A booking's summary row is written once and then written over as the booking changes (one
/// upsert on its key): two bookings made on one day are two rows and count 2 on that day, a move
/// and a cancellation change their rows in place, and the figures equal the outcome rows'.
async fn a_bookings_summary_row_is_written_over_as_it_changes((app, owner, services, customer): (TestApp, Tenant, [String; 2], String)) {
    let a = booking(&app, &owner, json!({"customer_id": customer, "service_id": services[0], "start": t(-4, "10:00")})).await;
    let b = booking(&app, &owner, json!({"customer_id": customer, "service_id": services[1], "start": t(-4, "11:00")})).await;
    let (a_id, b_id) = (a["id"].as_str().unwrap().to_owned(), b["id"].as_str().unwrap().to_owned());
    let ms = |v: &Value| v.as_str().unwrap().parse::<jiff::Timestamp>().unwrap().as_millisecond();
    let made_at = ms(&a["created_at"]);
    assert_eq!(made_at, ms(&b["created_at"]), "the clock stands still");
    let rows = summary_rows(&app, &owner.business_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[&a_id], (Some(made_at), services[0].clone(), 4500, ms(&a["start"]), "booked".to_owned(), 0));
    assert_eq!(rows[&b_id], (Some(made_at), services[1].clone(), 1200, ms(&b["start"]), "booked".to_owned(), 0));
    let r = app.get(&format!("/v1/reports/summary?from={}&to={}", d(-6), d(-6)), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!((r.body["current"]["bookings"].as_u64(), r.body["current"]["booked_value_cents"].as_i64()), (Some(2), Some(5700)), "{}", r.body);
    let days: Vec<(String, u64)> = r.body["days"].as_array().unwrap().iter().map(|d| (d["date"].as_str().unwrap().to_owned(), d["bookings"].as_u64().unwrap())).collect();
    assert_eq!(days, vec![(d(-6), 2)]);

    // Moved twice, then cancelled; the other cancelled: still one row each, changed in place.
    let a = change(&app, &owner, &a, json!({"start": t(-3, "12:00")})).await;
    let a = change(&app, &owner, &a, json!({"start": t(-3, "14:00")})).await;
    let a = change(&app, &owner, &a, json!({"status": "cancelled"})).await;
    change(&app, &owner, &b, json!({"status": "cancelled"})).await;
    let rows = summary_rows(&app, &owner.business_id).await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[&a_id], (Some(made_at), services[0].clone(), 4500, ms(&a["start"]), "cancelled".to_owned(), 2));
    assert_eq!(rows[&b_id], (Some(made_at), services[1].clone(), 1200, ms(&b["start"]), "cancelled".to_owned(), 0));
    let r = app.get(&format!("/v1/reports/summary?from={}&to={}", d(-6), d(-3)), &owner.access).await;
    assert_eq!((r.body["current"]["bookings"].as_u64(), r.body["current"]["cancelled"].as_u64()), (Some(2), Some(2)), "{}", r.body);
    assert_summaries_equal_recomputation(&app, &owner.business_id, &owner.staff_id, &[(d(-6), d(-3))]).await;
}

}
