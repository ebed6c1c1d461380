//! Staff marking a booking confirmed for the customer from the console (the "Unconfirmed soon"
//! list, the booking's details), and a conversation's automation history, through the desk's
//! commands against the real service: the service records the confirmation, the calendar shows
//! it after sync, a stale version is refused with its code and nothing changes.

use console_core::credentials::Keep;
use console_core::desk::{Command as C, Desk};
use serde_json::json;
use switchboard_testkit::{every_day, Engine, TestApp};

const HOUR: i64 = 3_600_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_confirm_a_booking_for_the_customer_from_the_console() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let owner = app.signup("confirm").await;
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("00:00", "24:00"), "min_notice_minutes": 0, "max_advance_days": 730, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, 200, "{r:?}");
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 60})).await.body["id"].as_str().unwrap().to_owned();
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ada"})).await.body["id"].as_str().unwrap().to_owned();
    let start_ms = app.now_ms() / HOUR * HOUR + HOUR;
    let start = jiff::Timestamp::from_millisecond(start_ms).unwrap().to_string();
    let booking = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "staff_id": owner.staff_id, "start": start})).await;
    assert_eq!(booking.status, 201, "{booking:?}");
    let booking_id = booking.body["id"].as_str().unwrap().to_owned();
    let version = booking.body["version"].as_i64().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path(), None, switchboard_tests::quick()).await.unwrap();
    desk.dispatch(C::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), code: None, keep: Some(Keep::Session), passphrase: None }).await.unwrap();
    desk.dispatch(C::SyncNow).await.unwrap();
    let window = |from: i64, to: i64| C::Calendar { from: jiff::Timestamp::from_millisecond(from).unwrap().to_string(), to: jiff::Timestamp::from_millisecond(to).unwrap().to_string() };
    let entries = desk.dispatch(window(start_ms - HOUR, start_ms + 2 * HOUR)).await.unwrap();
    assert_eq!(entries[0]["booking"]["confirmation"], "unconfirmed", "{entries}");

    // A stale version (someone changed the booking meanwhile) is refused with its code; nothing changes.
    let stale = desk.dispatch(C::ConfirmBooking { booking_id: booking_id.clone(), expected_version: version - 1 }).await.unwrap_err();
    assert_eq!((stale.kind.as_str(), stale.code.as_deref()), ("refused", Some("version_conflict")), "{stale:?}");
    assert_eq!(app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await.body["confirmation"], "unconfirmed");

    let confirmed = desk.dispatch(C::ConfirmBooking { booking_id: booking_id.clone(), expected_version: version }).await.unwrap();
    assert_eq!((confirmed["confirmation"].as_str(), confirmed["version"].as_i64()), (Some("confirmed"), Some(version + 1)), "{confirmed}");
    assert_eq!(confirmed["status"], "confirmed", "the booking itself stays as it was: {confirmed}");
    let shown = app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await;
    assert_eq!(shown.body["confirmation"], "confirmed", "{shown:?}");
    // The service no longer lists it among the unconfirmed ones.
    let unconfirmed = app.get("/v1/bookings/unconfirmed", &owner.access).await;
    assert!(!unconfirmed.body.to_string().contains(&booking_id), "{unconfirmed:?}");
    // The calendar (the mirror) shows it after sync.
    desk.dispatch(C::SyncNow).await.unwrap();
    let entries = desk.dispatch(window(start_ms - HOUR, start_ms + 2 * HOUR)).await.unwrap();
    assert_eq!(entries[0]["booking"]["confirmation"], "confirmed", "{entries}");

    // A booking id that is not one cannot steer the request elsewhere; an unknown one is not found.
    let bad = desk.dispatch(C::ConfirmBooking { booking_id: "../customers".into(), expected_version: 1 }).await.unwrap_err();
    assert_eq!(bad.kind, "invalid", "{bad:?}");
    let missing = desk.dispatch(C::ConfirmBooking { booking_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(), expected_version: 1 }).await.unwrap_err();
    assert_eq!((missing.kind.as_str(), missing.code.as_deref()), ("refused", Some("not_found")), "{missing:?}");
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_reads_a_conversations_automation_history() {
    let app = TestApp::spawn(Engine::Sqlite).await;
    let owner = app.signup("history").await;
    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path(), None, switchboard_tests::quick()).await.unwrap();
    desk.dispatch(C::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), code: None, keep: Some(Keep::Session), passphrase: None }).await.unwrap();
    let missing = desk.dispatch(C::ConversationAutomations { conversation_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into() }).await.unwrap_err();
    assert_eq!((missing.kind.as_str(), missing.code.as_deref()), ("refused", Some("not_found")), "{missing:?}");
    let bad = desk.dispatch(C::ConversationAutomations { conversation_id: "x/../../bookings".into() }).await.unwrap_err();
    assert_eq!(bad.kind, "invalid", "{bad:?}");
    desk.stop().await;
}
