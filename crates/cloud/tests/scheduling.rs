//! Availability and bookings over the real API, on SQLite and PostgreSQL.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::{on_both_engines, every_day, Engine, Reply, Tenant, TestApp};

/// A business in `tz`, open round the clock every day, no notice, two years ahead, 15-minute grid.
async fn open_all_day(app: &TestApp, t: &Tenant, tz: &str) {
    let r = app.patch("/v1/business", &t.access, json!({"timezone": tz})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let week = every_day("00:00", "24:00");
    let r = app.patch("/v1/schedule", &t.access, json!({"opening_hours": week, "min_notice_minutes": 0, "max_advance_days": 730, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
}

async fn service(app: &TestApp, t: &Tenant, minutes: u32, buffer_after: u32) -> String {
    let r = app.post("/v1/services", &t.access, json!({"name": format!("{minutes}-minute service"), "duration_minutes": minutes, "buffer_after_minutes": buffer_after})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    r.body["id"].as_str().unwrap().to_owned()
}

async fn customer(app: &TestApp, t: &Tenant) -> String {
    let r = app.post("/v1/customers", &t.access, json!({"name": "Bea Booker"})).await;
    r.body["id"].as_str().unwrap().to_owned()
}

async fn first_slot(app: &TestApp, t: &Tenant, service: &str) -> Value {
    let r = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &t.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    r.body["slots"][0].clone()
}

async fn book(app: &TestApp, t: &Tenant, body: Value) -> Reply {
    app.post("/v1/bookings", &t.access, body).await
}

/// Active bookings of a staff member never overlap, buffers included (read from the database).
async fn assert_no_overlaps(app: &TestApp, business: &str) {
    use sqlx::Row;
    let rows = sqlx::query("SELECT staff_id, block_start, block_end FROM bookings WHERE business_id = $1 AND status IN ('pending', 'confirmed') ORDER BY staff_id, block_start")
        .bind(business).fetch_all(app.db.reader()).await.unwrap();
    for pair in rows.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.get::<String, _>(0) == b.get::<String, _>(0) {
            assert!(a.get::<i64, _>(2) <= b.get::<i64, _>(1), "two bookings of one staff member overlap");
        }
    }
}

on_both_engines! {

spawn = TestApp::spawn;

async fn fifty_concurrent_requests_for_one_slot_book_it_once(app: TestApp) {
    let owner = app.signup("rush").await;
    open_all_day(&app, &owner, "Europe/London").await;
    let svc = service(&app, &owner, 60, 15).await;
    let cust = customer(&app, &owner).await;
    let slot = first_slot(&app, &owner, &svc).await;
    let start = slot["start"].as_str().unwrap().to_owned();

    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/v1/bookings", app.base);
        let token = owner.access.clone();
        let body = json!({"customer_id": cust, "service_id": svc, "start": start});
        tasks.push(tokio::spawn(async move {
            let r = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        }));
    }
    let mut won = 0;
    let mut lost = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => won += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["error"]["code"], "slot_taken", "{body}");
                let alternatives = body["error"]["details"]["alternatives"].as_array().unwrap();
                assert!(!alternatives.is_empty(), "a loser is offered alternatives");
                assert!(alternatives.iter().all(|a| a["start"] != start.as_str()));
                lost += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!((won, lost), (1, 49));
    assert_no_overlaps(&app, &owner.business_id).await;
    let check = app.get(&format!("/v1/availability/check?service_id={svc}&start={start}"), &owner.access).await;
    assert_eq!(check.body["available"], false);
    assert_eq!(check.body["reason"], "slot_taken");
}

async fn several_staff_share_work_fairly_and_never_double_book(app: TestApp) {
    let owner = app.signup("rota").await;
    let agent = app.add_staff(&owner, "agent").await;
    open_all_day(&app, &owner, "Europe/Paris").await;
    let svc = service(&app, &owner, 30, 0).await;
    let cust = customer(&app, &owner).await;
    let slots = app.get(&format!("/v1/availability?service_id={svc}&limit=4"), &owner.access).await;
    let slots = slots.body["slots"].as_array().unwrap().clone();
    assert_eq!(slots[0]["staff_ids"].as_array().unwrap().len(), 2, "both can do it");
    // Four different times, nobody asked for: two each.
    let mut assigned = Vec::new();
    for slot in slots.iter().take(4) {
        let r = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slot["start"]})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        assert_eq!(r.body["start"], slot["start"]);
        assigned.push(r.body["staff_id"].as_str().unwrap().to_owned());
    }
    for who in [&owner.staff_id, &agent.staff_id] {
        assert_eq!(assigned.iter().filter(|a| *a == who).count(), 2, "{assigned:?}");
    }
    // One more time, three requests: two people, so two bookings, then slot_taken.
    let later = app.get(&format!("/v1/availability?service_id={svc}&limit=1&from={}", slots[3]["end"].as_str().unwrap()), &owner.access).await;
    let start = later.body["slots"][0]["start"].clone();
    let a = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": start})).await;
    let b = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": start})).await;
    let c = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": start})).await;
    assert_eq!((a.status, b.status, c.status), (StatusCode::CREATED, StatusCode::CREATED, StatusCode::CONFLICT));
    assert_ne!(a.body["staff_id"], b.body["staff_id"]);
    // Asking for a specific person who is busy: slot_taken, with times when *they* are free.
    let d = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": start, "staff_id": agent.staff_id})).await;
    assert_eq!(d.code(), "slot_taken");
    let alternatives = d.body["error"]["details"]["alternatives"].as_array().unwrap();
    assert!(alternatives.iter().all(|s| s["staff_ids"].as_array().unwrap().iter().all(|id| id == agent.staff_id.as_str())));
    // A service only the agent performs is booked with the agent.
    let only = app.post("/v1/services", &owner.access, json!({"name": "Colour", "duration_minutes": 45, "staff_ids": [agent.staff_id]})).await;
    let only_id = only.body["id"].as_str().unwrap();
    let slot = first_slot(&app, &owner, only_id).await;
    assert_eq!(slot["staff_ids"], json!([agent.staff_id]));
    let r = book(&app, &owner, json!({"customer_id": cust, "service_id": only_id, "start": slot["start"], "staff_id": owner.staff_id})).await;
    assert_eq!(r.code(), "staff_cannot_perform");
    assert_no_overlaps(&app, &owner.business_id).await;
}

async fn bad_booking_input_gets_its_documented_error_and_changes_nothing(app: TestApp) {
    let owner = app.signup("badbook").await;
    let week = every_day("09:00", "17:00");
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": week, "min_notice_minutes": 0})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let svc = service(&app, &owner, 60, 0).await;
    let cust = customer(&app, &owner).await;
    let slot = first_slot(&app, &owner, &svc).await;
    let good = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slot["start"]})).await;
    assert_eq!(good.status, StatusCode::CREATED);
    let booking_id = good.body["id"].as_str().unwrap().to_owned();
    let seq = app.last_seq(&owner.business_id).await;

    let tomorrow = Timestamp::now().to_zoned(TimeZone::get("Europe/London").unwrap()).date().tomorrow().unwrap();
    let cases = [
        (json!({"customer_id": cust, "service_id": "no-such-service", "start": slot["start"]}), StatusCode::UNPROCESSABLE_ENTITY, "unknown_service"),
        (json!({"customer_id": cust, "service_id": svc, "staff_id": "no-such-staff", "start": slot["start"]}), StatusCode::UNPROCESSABLE_ENTITY, "unknown_staff"),
        (json!({"customer_id": "nobody", "service_id": svc, "start": slot["start"]}), StatusCode::UNPROCESSABLE_ENTITY, "unknown_customer"),
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}T03:00")}), StatusCode::UNPROCESSABLE_ENTITY, "outside_hours"),
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}T16:30")}), StatusCode::UNPROCESSABLE_ENTITY, "outside_hours"),
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}T10:07")}), StatusCode::UNPROCESSABLE_ENTITY, "not_on_grid"),
        // Seconds are off the grid too (they were called outside the hours); a date alone and a
        // leap second are no start time (read as midnight and as :59).
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}T10:00:30")}), StatusCode::UNPROCESSABLE_ENTITY, "not_on_grid"),
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}T10:00:00.5")}), StatusCode::UNPROCESSABLE_ENTITY, "not_on_grid"),
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}")}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        (json!({"customer_id": cust, "service_id": svc, "start": format!("{tomorrow}T10:00:60")}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        (json!({"customer_id": cust, "service_id": svc, "start": "2020-01-01T10:00:00Z", "source": "api"}), StatusCode::UNPROCESSABLE_ENTITY, "too_soon"),
        (json!({"customer_id": cust, "service_id": svc, "start": "2031-01-01T10:00:00Z", "source": "api"}), StatusCode::UNPROCESSABLE_ENTITY, "too_far_ahead"),
        (json!({"customer_id": cust, "service_id": svc, "start": "next tuesday"}), StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        (json!({"customer_id": cust, "service_id": svc, "start": slot["start"], "status": "completed"}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({"customer_id": cust, "service_id": svc, "start": slot["start"], "end": slot["end"]}), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (json!({"customer_id": cust, "service_id": svc, "start": slot["start"]}), StatusCode::CONFLICT, "slot_taken"),
    ];
    for (body, status, code) in cases {
        let r = book(&app, &owner, body.clone()).await;
        assert_eq!((r.status, r.code()), (status, code), "{body}: {r:?}");
        if code == "outside_hours" {
            assert!(!r.body["error"]["details"]["alternatives"].as_array().unwrap().is_empty(), "outside hours comes with alternatives");
        }
    }
    // Stale versions, impossible transitions, bad ranges.
    let r = app.patch(&format!("/v1/bookings/{booking_id}"), &owner.access, json!({"expected_version": 7, "notes": "x"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "version_conflict"));
    assert_eq!(r.body["error"]["details"]["current"]["version"], 1);
    let r = app.patch(&format!("/v1/bookings/{booking_id}"), &owner.access, json!({"expected_version": 1, "status": "pending"})).await;
    assert_eq!(r.code(), "invalid_transition");
    let r = app.get(&format!("/v1/availability?service_id={svc}&from={tomorrow}&to=2020-01-01"), &owner.access).await;
    assert_eq!(r.code(), "invalid_range");
    let r = app.get(&format!("/v1/availability?service_id={svc}&from=2026-01-01&to=2026-06-01"), &owner.access).await;
    assert_eq!(r.code(), "invalid_range");
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": {"monday": [{"start": "17:00", "end": "09:00"}]}})).await;
    assert_eq!(r.code(), "invalid_hours");
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": {"monday": [{"start": "09:00", "end": "13:00"}, {"start": "12:00", "end": "17:00"}]}})).await;
    assert_eq!(r.code(), "invalid_hours");
    let r = app.post("/v1/schedule-exceptions", &owner.access, json!({"date": "2027-02-30", "closed": true})).await;
    assert_eq!(r.code(), "validation_failed");

    assert_eq!(app.last_seq(&owner.business_id).await, seq, "refused requests changed nothing");
    let list = app.get("/v1/bookings", &owner.access).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
}

async fn booking_lifecycle_reschedule_confirm_complete_cancel(app: TestApp) {
    let owner = app.signup("life").await;
    open_all_day(&app, &owner, "America/Chicago").await;
    let svc = service(&app, &owner, 45, 15).await;
    let cust = customer(&app, &owner).await;
    let slots = app.get(&format!("/v1/availability?service_id={svc}&limit=20"), &owner.access).await.body["slots"].as_array().unwrap().clone();
    let created = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slots[0]["start"], "status": "pending", "notes": "First visit"})).await;
    assert_eq!(created.status, StatusCode::CREATED, "{created:?}");
    assert_eq!((created.body["status"].as_str(), created.body["version"].as_i64(), created.body["source"].as_str()), (Some("pending"), Some(1), Some("staff")));
    let id = created.body["id"].as_str().unwrap().to_owned();
    // The booking blocks 45 minutes plus 15 of buffer: the next three 15-minute starts are gone.
    let check = app.get(&format!("/v1/availability/check?service_id={svc}&start={}", slots[3]["start"].as_str().unwrap()), &owner.access).await;
    assert_eq!(check.body["available"], false, "{check:?}");
    assert_eq!((check.body["reason"].as_str(), check.body["message"].as_str()), (Some("slot_taken"), Some("That time has just been taken. Here are the nearest free times.")));
    let check = app.get(&format!("/v1/availability/check?service_id={svc}&start={}", slots[4]["start"].as_str().unwrap()), &owner.access).await;
    assert_eq!(check.body["available"], true, "{check:?}");
    assert_eq!(check.body["message"], Value::Null);
    // Moving the booking itself (what the console's calendar asks before a drag lands): its own
    // time does not count, anyone else's booking would.
    let check = app.get(&format!("/v1/availability/check?service_id={svc}&start={}&booking_id={id}", slots[2]["start"].as_str().unwrap()), &owner.access).await;
    assert_eq!(check.body["available"], true, "{check:?}");

    let confirmed = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 1, "status": "confirmed"})).await;
    assert_eq!(confirmed.body["version"], 2);
    // Move it later by two hours; it may overlap its own old time.
    let later = slots[8]["start"].clone();
    let moved = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 2, "start": later})).await;
    assert_eq!(moved.status, StatusCode::OK, "{moved:?}");
    assert_eq!((moved.body["start"].clone(), moved.body["version"].as_i64()), (later.clone(), Some(3)));
    let check = app.get(&format!("/v1/availability/check?service_id={svc}&start={}", slots[0]["start"].as_str().unwrap()), &owner.access).await;
    assert_eq!(check.body["available"], true, "the old time is free again");
    // A second booking where the first was moved to: taken.
    let clash = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": later})).await;
    assert_eq!(clash.code(), "slot_taken");

    // Whether it was done is known once it has begun: not before (a no-show marked days ahead
    // sent the customer the no-show message and dropped their reminders).
    for status in ["completed", "no_show"] {
        let early = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 3, "status": status})).await;
        assert_eq!(early.code(), "invalid_transition", "{early:?}");
        assert!(early.body["error"]["message"].as_str().unwrap().contains("has not started yet"), "{early:?}");
    }
    // A change with nothing in it is no change: no new version for other desks to conflict with.
    let same = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 3})).await;
    assert_eq!((same.status, same.body["version"].as_i64()), (StatusCode::OK, Some(3)), "{same:?}");

    let other = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slots[0]["start"]})).await;
    let other_id = other.body["id"].as_str().unwrap();
    let cancelled = app.delete(&format!("/v1/bookings/{other_id}?reason=Customer%20called"), &owner.access).await;
    assert_eq!((cancelled.body["status"].as_str(), cancelled.body["cancel_reason"].as_str()), (Some("cancelled"), Some("Customer called")));
    let again = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slots[0]["start"]})).await;
    assert_eq!(again.status, StatusCode::CREATED, "a cancelled booking frees its time");

    // Calendar list and the change log.
    let list = app.get(&format!("/v1/bookings?customer_id={cust}"), &owner.access).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 3);
    let confirmed_only = app.get("/v1/bookings?status=confirmed", &owner.access).await;
    assert_eq!(confirmed_only.body["items"].as_array().unwrap().len(), 2);
    let changes = app.changes(&owner.business_id).await;
    assert_eq!(changes.iter().filter(|c| c.1 == "booking").count(), 3);
    assert!(changes.iter().any(|c| c.1 == "schedule"));

    // A day later it has happened: completed, and then it cannot be cancelled.
    app.advance(std::time::Duration::from_secs(86_400));
    let done = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 3, "status": "completed"})).await;
    assert_eq!(done.body["status"], "completed", "{done:?}");
    let r = app.delete(&format!("/v1/bookings/{id}?expected_version=4"), &owner.access).await;
    assert_eq!(r.code(), "invalid_transition", "a completed booking cannot be cancelled");
}

/// What is wrong with hours is said once, by the service: the same problems, in the same words,
/// while editing (`check-hours`) and when a save is refused, and nothing is saved.
async fn hours_problems_are_the_services_words_while_editing_and_when_saving(app: TestApp) {
    let owner = app.signup("hours").await;
    let seq = app.last_seq(&owner.business_id).await;
    let bad = json!({
        "tuesday": [{"start": "17:00", "end": "09:00"}],
        "friday": [{"start": "13:00", "end": "18:00"}, {"start": "09:00", "end": "13:30"}],
        "monday": [{"start": "9am", "end": "17:00"}],
    });
    let checked = app.post("/v1/schedule/check-hours", &owner.access, bad.clone()).await;
    assert_eq!(checked.status, StatusCode::OK, "{checked:?}");
    let expected = json!([
        {"day": "monday", "message": "Monday: times are HH:MM between 00:00 and 24:00 (got 9am–17:00)."},
        {"day": "tuesday", "message": "Tuesday: 17:00–09:00 closes before it opens."},
        {"day": "friday", "message": "Friday: 09:00–13:30 overlaps 13:00–18:00."},
    ]);
    assert_eq!(checked.body["problems"], expected);
    let saved = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": bad})).await;
    assert_eq!((saved.status, saved.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_hours"));
    assert_eq!(saved.body["error"]["details"]["problems"], expected);
    assert_eq!(saved.body["error"]["message"], "Monday: times are HH:MM between 00:00 and 24:00 (got 9am–17:00). Tuesday: 17:00–09:00 closes before it opens. Friday: 09:00–13:30 overlaps 13:00–18:00.");
    let staff = app.call(Method::PUT, &format!("/v1/staff/{}/hours", owner.staff_id), Some(&owner.access), Some(json!({"hours": {"sunday": [{"start": "10:00", "end": "10:00"}]}}))).await;
    assert_eq!(staff.body["error"]["details"]["problems"][0]["message"], "Sunday: 10:00–10:00 closes before it opens.");
    let r = app.post("/v1/schedule-exceptions", &owner.access, json!({"date": "2027-12-24", "closed": false, "hours": [{"start": "15:00", "end": "12:00"}]})).await;
    assert_eq!(r.body["error"]["details"]["problems"], json!([{"day": "2027-12-24", "message": "2027-12-24: 15:00–12:00 closes before it opens."}]));
    assert_eq!(app.last_seq(&owner.business_id).await, seq, "nothing was saved");

    let fine = app.post("/v1/schedule/check-hours", &owner.access, every_day("09:00", "17:00")).await;
    assert_eq!(fine.body["problems"], json!([]));
    let r = app.post("/v1/schedule/check-hours", &owner.access, json!({"someday": []})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "unknown days are refused like any request body");
}

async fn changes_that_do_not_move_a_booking_keep_its_time_and_people(app: TestApp) {
    let owner = app.signup("keep").await;
    let other = app.signup("keep-other").await;
    let agent = app.add_staff(&owner, "agent").await;
    open_all_day(&app, &owner, "Europe/London").await;
    let svc = service(&app, &owner, 60, 0).await;
    let cust = customer(&app, &owner).await;
    let slots = app.get(&format!("/v1/availability?service_id={svc}&limit=8&staff_id={}", owner.staff_id), &owner.access).await.body["slots"].as_array().unwrap().clone();
    // Back to back: 4 slots (an hour) apart on a 15-minute grid.
    let first = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slots[0]["start"], "staff_id": owner.staff_id, "status": "pending"})).await;
    let second = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slots[4]["start"], "staff_id": owner.staff_id})).await;
    assert_eq!((first.status, second.status), (StatusCode::CREATED, StatusCode::CREATED), "{first:?} {second:?}");
    let id = first.body["id"].as_str().unwrap().to_owned();

    // A move folded into a cancellation is refused, and so is another business's staff member.
    for staff in [other.staff_id.as_str(), agent.staff_id.as_str()] {
        let r = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 1, "status": "cancelled", "staff_id": staff})).await;
        assert_eq!(r.code(), "invalid_transition", "{r:?}");
    }
    let r = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 1, "staff_id": other.staff_id})).await;
    assert_eq!(r.code(), "unknown_staff", "{r:?}");
    // Someone who has left is named as such, not as nobody.
    let name = app.get(&format!("/v1/staff/{}", agent.staff_id), &owner.access).await.body["name"].as_str().unwrap().to_owned();
    assert_eq!(app.delete(&format!("/v1/staff/{}", agent.staff_id), &owner.access).await.status, StatusCode::OK);
    let r = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 1, "staff_id": agent.staff_id})).await;
    assert_eq!(r.code(), "staff_inactive", "{r:?}");
    assert!(r.body["error"]["message"].as_str().unwrap().starts_with(&format!("{name} is no longer active here")), "{r:?}");

    // The service gains a 15-minute clean-up; confirming the earlier booking must not re-derive
    // its blocked time and collide with the next one.
    app.patch(&format!("/v1/services/{svc}"), &owner.access, json!({"buffer_after_minutes": 15})).await;
    let confirmed = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 1, "status": "confirmed"})).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{confirmed:?}");
    assert_eq!(confirmed.body["end"], first.body["end"]);
    assert_no_overlaps(&app, &owner.business_id).await;

    // A deleted service's bookings can still be completed or cancelled (not moved).
    assert_eq!(app.delete(&format!("/v1/services/{svc}"), &owner.access).await.status, StatusCode::NO_CONTENT);
    let second_id = second.body["id"].as_str().unwrap();
    let r = app.patch(&format!("/v1/bookings/{second_id}"), &owner.access, json!({"expected_version": 1, "start": slots[6]["start"]})).await;
    assert_eq!(r.code(), "unknown_service", "{r:?}");
    let r = app.delete(&format!("/v1/bookings/{second_id}"), &owner.access).await;
    assert_eq!(r.body["status"], "cancelled", "{r:?}");
    app.advance(std::time::Duration::from_secs(86_400));
    let r = app.patch(&format!("/v1/bookings/{id}"), &owner.access, json!({"expected_version": 2, "status": "completed"})).await;
    assert_eq!(r.body["status"], "completed", "{r:?}");
}

async fn calendar_feeds_end_with_the_persons_access(app: TestApp) {
    let owner = app.signup("feeds").await;
    let agent = app.add_staff(&owner, "agent").await;
    let admin = app.add_staff(&owner, "admin").await;
    let mine = app.post("/v1/calendar-feeds", &agent.access, json!({"staff_id": agent.staff_id})).await;
    assert_eq!(mine.status, StatusCode::CREATED, "{mine:?}");
    let r = app.post("/v1/calendar-feeds", &agent.access, json!({"staff_id": null})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "agents cannot take the whole business's calendar");
    let whole = app.post("/v1/calendar-feeds", &admin.access, json!({"staff_id": null})).await;
    let path = |r: &Reply| { let url = r.body["url"].as_str().unwrap(); url[url.find("/calendar/").unwrap()..].to_owned() };
    let (mine_path, whole_path) = (path(&mine), path(&whole));
    assert_eq!(app.client.get(format!("{}{mine_path}", app.base)).send().await.unwrap().status(), StatusCode::OK);
    assert_eq!(app.client.get(format!("{}{whole_path}", app.base)).send().await.unwrap().status(), StatusCode::OK);
    // The admin is demoted: their whole-business feed ends. The agent leaves: theirs ends.
    app.patch(&format!("/v1/staff/{}", admin.staff_id), &owner.access, json!({"role": "agent"})).await;
    assert_eq!(app.client.get(format!("{}{whole_path}", app.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    app.delete(&format!("/v1/staff/{}", agent.staff_id), &owner.access).await;
    assert_eq!(app.client.get(format!("{}{mine_path}", app.base)).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

async fn bookings_stay_at_nine_local_across_the_next_dst_changes(app: TestApp) {
    for zone in ["America/New_York", "Europe/London", "Australia/Lord_Howe"] {
        let owner = app.signup("dst").await;
        open_all_day(&app, &owner, zone).await;
        let svc = service(&app, &owner, 60, 0).await;
        let cust = customer(&app, &owner).await;
        let tz = TimeZone::get(zone).unwrap();
        // The zone's next two real transitions (one forward, one back), so this never goes stale.
        for transition in tz.following(Timestamp::now()).take(2) {
            let at = transition.timestamp();
            let before_offset = tz.to_offset(Timestamp::from_second(at.as_second() - 1).unwrap());
            let after_offset = transition.offset();
            let day = at.to_zoned(tz.clone()).date();
            let mut offsets = Vec::new();
            for date in [day.yesterday().unwrap(), day.tomorrow().unwrap()] {
                let r = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": format!("{date}T09:00")})).await;
                assert_eq!(r.status, StatusCode::CREATED, "{zone} {date}: {r:?}");
                let local = r.body["local_start"].as_str().unwrap().to_owned();
                assert!(local.starts_with(&format!("{date}T09:00:00")), "{zone}: {local}");
                offsets.push(local[19..25].to_owned());
                let avail = app.get(&format!("/v1/availability?service_id={svc}&from={date}&to={date}"), &owner.access).await;
                let starts: Vec<&str> = avail.body["slots"].as_array().unwrap().iter().map(|s| s["local_start"].as_str().unwrap()).collect();
                assert!(starts.iter().any(|s| s.starts_with(&format!("{date}T10:00:00"))), "{zone} {date}: {starts:?}");
                assert!(!starts.iter().any(|s| s.starts_with(&format!("{date}T09:00:00"))), "09:00 is booked");
            }
            assert_ne!(offsets[0], offsets[1], "{zone}: the offset changed across {day}");
            // The local wall time around the change: skipped going forward, repeated going back.
            let wall = |offset: jiff::tz::Offset| offset.to_datetime(Timestamp::from_second(at.as_second() + 15 * 60).unwrap());
            if after_offset > before_offset {
                let skipped = wall(before_offset);
                let r = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": skipped.to_string()})).await;
                assert_eq!(r.code(), "nonexistent_time", "{zone} {skipped}: {r:?}");
                let day_slots = app.get(&format!("/v1/availability?service_id={svc}&from={day}&to={day}"), &owner.access).await;
                let prefix = skipped.strftime("%Y-%m-%dT%H:%M").to_string();
                assert!(!day_slots.body["slots"].as_array().unwrap().iter().any(|s| s["local_start"].as_str().unwrap().starts_with(&prefix)));
            } else {
                let repeated = wall(after_offset);
                let r = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": repeated.to_string()})).await;
                assert_eq!(r.code(), "ambiguous_time", "{zone} {repeated}: {r:?}");
                let instants = r.body["error"]["details"]["instants"].as_array().unwrap().clone();
                assert_eq!(instants.len(), 2);
                // Either instant, sent with its offset, books fine: they are an hour (or half) apart.
                let r = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": instants[1]})).await;
                assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
            }
        }
        assert_no_overlaps(&app, &owner.business_id).await;
    }
}

async fn calendar_feed_is_valid_icalendar_in_utc(app: TestApp) {
    let owner = app.signup("ics").await;
    open_all_day(&app, &owner, "Australia/Lord_Howe").await;
    let svc = service(&app, &owner, 30, 0).await;
    let cust = customer(&app, &owner).await;
    let slot = first_slot(&app, &owner, &svc).await;
    // A bare carriage return in a customer's text (a WhatsApp profile name is theirs to set) must
    // not start a property of its own in calendar apps that read it as a line break.
    let booking = book(&app, &owner, json!({"customer_id": cust, "service_id": svc, "start": slot["start"], "notes": "Allergic to lavender\rLOCATION:Injected"})).await;
    let renamed = app.patch(&format!("/v1/customers/{cust}"), &owner.access, json!({"name": "Bea Booker\rLOCATION:Elsewhere"})).await;
    assert_eq!(renamed.status, StatusCode::OK, "{renamed:?}");
    let feed = app.post("/v1/calendar-feeds", &owner.access, json!({"staff_id": owner.staff_id})).await;
    assert_eq!(feed.status, StatusCode::CREATED, "{feed:?}");
    let url = feed.body["url"].as_str().unwrap();
    let path = &url[url.find("/calendar/").unwrap()..];
    let res = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/calendar"));
    let text = res.text().await.unwrap();
    assert!(!text.replace("\r\n", "\n").contains('\r'), "a carriage return outside a line end: {text:?}");
    assert!(!text.split(['\r', '\n']).any(|line| line.starts_with("LOCATION")), "{text:?}");
    let calendar: icalendar::Calendar = text.parse().unwrap_or_else(|e| panic!("not valid iCalendar: {e}\n{text}"));
    assert_eq!(calendar.get_timezone(), Some("Australia/Lord_Howe"));
    let events: Vec<&icalendar::Event> = calendar.components.iter().filter_map(|c| c.as_event()).collect();
    assert_eq!(events.len(), 1);
    use icalendar::Component;
    let event = events[0];
    assert_eq!(event.get_uid(), Some(format!("{}@switchboard", booking.body["id"].as_str().unwrap()).as_str()));
    let start: Timestamp = booking.body["start"].as_str().unwrap().parse().unwrap();
    let expected = start.strftime("%Y%m%dT%H%M%SZ").to_string();
    assert_eq!(event.property_value("DTSTART"), Some(expected.as_str()), "{text}");
    assert_eq!(event.get_description(), Some("Allergic to lavender LOCATION:Injected"));
    assert!(event.get_summary().unwrap().contains("Bea Booker"));

    let id = feed.body["feed"]["id"].as_str().unwrap();
    assert_eq!(app.delete(&format!("/v1/calendar-feeds/{id}"), &owner.access).await.status, StatusCode::NO_CONTENT);
    let res = app.client.get(format!("{}{path}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "a revoked feed stops working");
    let guess = app.call(Method::GET, "/calendar/not-a-real-token.ics", None, None).await;
    assert_eq!(guess.status, StatusCode::NOT_FOUND);
}

}

/// On PostgreSQL the database itself refuses overlapping active bookings, whatever writes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_exclusion_constraint_refuses_overlaps_written_directly() {
    let app = TestApp::spawn(Engine::Postgres).await;
    let owner = app.signup("raw").await;
    open_all_day(&app, &owner, "UTC").await;
    let svc = service(&app, &owner, 60, 0).await;
    let cust = customer(&app, &owner).await;
    let insert = |id: &'static str, start: i64, status: &'static str| {
        sqlx::query("INSERT INTO bookings (id, business_id, customer_id, service_id, staff_id, start_at, end_at, block_start, block_end, status, source, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $6, $7, $8, 'api', 0, 0)")
            .bind(id).bind(owner.business_id.clone()).bind(cust.clone()).bind(svc.clone()).bind(owner.staff_id.clone())
            .bind(start).bind(start + 3_600_000).bind(status)
            .execute(app.db.writer())
    };
    let base = 2_000_000_000_000i64;
    insert("raw-1", base, "confirmed").await.unwrap();
    let err = insert("raw-2", base + 1_800_000, "pending").await.unwrap_err();
    assert_eq!(err.as_database_error().unwrap().code().as_deref(), Some("23P01"), "{err}");
    insert("raw-3", base + 1_800_000, "cancelled").await.expect("cancelled bookings hold no time");
    insert("raw-4", base + 3_600_000, "confirmed").await.expect("back-to-back is fine");
}
