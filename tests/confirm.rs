//! Staff marking a booking confirmed for the customer from the console (the "Unconfirmed soon"
//! list, the booking's details), and a conversation's automation history, through the desk's
//! commands against the real service: the confirmation is queued like every change, the service
//! records it once, the calendar shows it after sync, a stale version is refused with its code
//! (shown on the booking) and nothing changes. (Offline: tests/offline.rs.)

use console_core::credentials::Keep;
use console_core::desk::{Command as C, Desk};
use serde_json::{json, Value};
use switchboard_testkit::demo::{DemoService, OWNER, PASSWORD};
use switchboard_testkit::{eventually, every_day, Engine, TestApp};

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

    // A stale version (someone changed the booking meanwhile) is queued, then refused with its
    // code, shown on the booking; nothing changes on the service.
    let queued = desk.dispatch(C::ConfirmBooking { booking_id: booking_id.clone(), expected_version: version - 1 }).await.unwrap();
    assert!(queued["mutation_id"].is_number(), "{queued}");
    eventually("the stale confirmation is refused", || async {
        desk.dispatch(C::Outbox).await.unwrap().to_string().contains("version_conflict")
    })
    .await;
    let entries = desk.dispatch(window(start_ms - HOUR, start_ms + 2 * HOUR)).await.unwrap();
    assert_eq!((entries[0]["booking"]["confirmation"].as_str(), entries[0]["local"]["state"].as_str()), (Some("unconfirmed"), Some("refused")), "{entries}");
    assert_eq!(entries[0]["local"]["code"], "version_conflict");
    // The customer panel (the `customer` answer) shows it the same way.
    let panel = desk.dispatch(C::Customer { customer_id: customer.clone() }).await.unwrap();
    let upcoming = &panel["upcoming"][0];
    assert_eq!((upcoming["booking"]["confirmation"].as_str(), upcoming["local"]["state"].as_str(), upcoming["local"]["code"].as_str()), (Some("unconfirmed"), Some("refused"), Some("version_conflict")), "{panel}");
    assert_eq!(app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await.body["confirmation"], "unconfirmed");
    let refused = desk.dispatch(C::Outbox).await.unwrap()[0]["id"].as_i64().unwrap();
    desk.dispatch(C::Discard { mutation_id: refused }).await.unwrap();

    desk.dispatch(C::ConfirmBooking { booking_id: booking_id.clone(), expected_version: version }).await.unwrap();
    eventually("the service has the confirmation", || async {
        app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await.body["confirmation"] == "confirmed"
    })
    .await;
    let shown = app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await;
    assert_eq!(shown.body["version"].as_i64(), Some(version + 1), "applied once: {shown:?}");
    assert_eq!(shown.body["status"], "confirmed", "the booking itself stays as it was: {shown:?}");
    // The service no longer lists it among the unconfirmed ones.
    let unconfirmed = app.get("/v1/bookings/unconfirmed", &owner.access).await;
    assert!(!unconfirmed.body.to_string().contains(&booking_id), "{unconfirmed:?}");
    // The calendar (the mirror) shows it after sync, no longer pending.
    desk.dispatch(C::SyncNow).await.unwrap();
    eventually("the calendar shows it confirmed", || async {
        let entries = desk.dispatch(window(start_ms - HOUR, start_ms + 2 * HOUR)).await.unwrap();
        entries[0]["booking"]["confirmation"] == "confirmed" && entries[0]["local"].is_null()
    })
    .await;
    let panel = desk.dispatch(C::Customer { customer_id: customer.clone() }).await.unwrap();
    assert_eq!((panel["upcoming"][0]["booking"]["confirmation"].as_str(), panel["upcoming"][0]["local"].is_null()), (Some("confirmed"), true), "{panel}");

    // A confirmation queued against an old version when the booking has been confirmed meanwhile
    // (here the customer said yes through a colleague's REST call): what staff asked for holds,
    // so it is applied without a change rather than refused.
    let start2 = jiff::Timestamp::from_millisecond(start_ms + 4 * HOUR).unwrap().to_string();
    let second = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "staff_id": owner.staff_id, "start": start2})).await;
    assert_eq!(second.status, 201, "{second:?}");
    let second_id = second.body["id"].as_str().unwrap().to_owned();
    let seen = second.body["version"].as_i64().unwrap();
    let r = app.patch(&format!("/v1/bookings/{second_id}"), &owner.access, json!({"expected_version": seen, "confirmation": "confirmed"})).await;
    assert_eq!((r.status.as_u16(), r.body["version"].as_i64()), (200, Some(seen + 1)), "{r:?}");
    desk.dispatch(C::ConfirmBooking { booking_id: second_id.clone(), expected_version: seen }).await.unwrap();
    eventually("the late confirmation leaves the outbox", || async { desk.dispatch(C::Outbox).await.unwrap().as_array().is_some_and(|a| a.is_empty()) }).await;
    let shown = app.get(&format!("/v1/bookings/{second_id}"), &owner.access).await;
    assert_eq!((shown.body["confirmation"].as_str(), shown.body["version"].as_i64()), (Some("confirmed"), Some(seen + 1)), "nothing changed: {shown:?}");

    // A booking id that is not one cannot steer the request elsewhere; an unknown one is not found.
    let bad = desk.dispatch(C::ConfirmBooking { booking_id: "../customers".into(), expected_version: 1 }).await.unwrap_err();
    assert_eq!(bad.kind, "invalid", "{bad:?}");
    desk.dispatch(C::ConfirmBooking { booking_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(), expected_version: 1 }).await.unwrap();
    eventually("an unknown booking is refused as not found", || async { desk.dispatch(C::Outbox).await.unwrap().to_string().contains("not_found") }).await;
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

/// The conversation panel's automation history: in the demo business (WhatsApp connected,
/// reminders on, follow-ups turned on here), a customer asks about booking — two follow-ups are
/// planned with their stop conditions —, then staff book them: the follow-ups stop with the reason
/// `booking`, the confirmation is sent into the conversation with its rule, and the reminders that
/// are still planned for the customer show too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_shows_what_automations_sent_planned_and_stopped() {
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    let r = service.app.patch("/v1/automations", &owner, json!({"follow_ups": true, "quiet_hours": null})).await;
    assert_eq!(r.status, 200, "{r:?}");
    service.customer_writes("447700900222", "Hana History", "Hi, can I book a colour next week?").await;
    let conversation = service.conversation_of(&owner, "447700900222").await;
    let customer = service.get(&format!("/v1/conversations/{conversation}"), &owner).await["customer"]["id"].as_str().unwrap().to_owned();

    let dir = tempfile::tempdir().unwrap();
    let desk = Desk::open(dir.path(), None, switchboard_tests::quick()).await.unwrap();
    desk.dispatch(C::SignIn { server: service.url().to_owned(), email: OWNER.into(), password: PASSWORD.into(), code: None, keep: Some(Keep::Session), passphrase: None }).await.unwrap();
    let history = || async { desk.dispatch(C::ConversationAutomations { conversation_id: conversation.clone() }).await.unwrap().as_array().unwrap().clone() };
    let runs = history().await;
    let follow_ups: Vec<(&str, &str)> = runs.iter().filter(|r| r["kind"] == "follow_up").map(|r| (r["rule"].as_str().unwrap(), r["status"].as_str().unwrap())).collect();
    assert_eq!(follow_ups, [("follow_up:1", "planned"), ("follow_up:2", "planned")], "{runs:?}");

    let (service_id, slot) = service.first_slot(&owner).await;
    let booked = service.app.post("/v1/bookings", &owner, json!({"customer_id": customer, "service_id": service_id, "start": slot})).await;
    assert_eq!(booked.status, 201, "{booked:?}");
    let booking = booked.body["id"].as_str().unwrap().to_owned();
    eventually("the confirmation is sent into the conversation", || async {
        history().await.iter().any(|r| r["rule"] == "confirmation:created" && r["status"] == "sent")
    })
    .await;
    let runs = history().await;
    let by_rule = |rule: &str| runs.iter().find(|r| r["rule"] == rule).unwrap_or_else(|| panic!("no {rule} in {runs:?}")).clone();
    let confirmation = by_rule("confirmation:created");
    assert_eq!((confirmation["conversation_id"].as_str(), confirmation["booking_id"].as_str()), (Some(conversation.as_str()), Some(booking.as_str())));
    assert!(confirmation["message_id"].is_string(), "{confirmation}");
    for step in ["follow_up:1", "follow_up:2"] {
        let f = by_rule(step);
        assert_eq!((f["status"].as_str(), f["reason"].as_str()), (Some("stopped"), Some("booking")), "{f}");
    }
    // The reminders are the customer's, planned (or skipped with a reason when the booking is too
    // close for them), not yet in any conversation: the conversation shows them all the same.
    let reminders: Vec<&Value> = runs.iter().filter(|r| r["kind"] == "reminder").collect();
    assert!(!reminders.is_empty(), "{runs:?}");
    for r in &reminders {
        assert_eq!(r["booking_id"], booking.as_str());
        assert!(r["status"] == "planned" || (r["status"] == "skipped" && r["reason"].is_string()), "{r}");
    }
    // Another customer's conversation shows none of it.
    service.customer_writes("447700900223", "Other Person", "hello").await;
    let other = service.conversation_of(&owner, "447700900223").await;
    let theirs = desk.dispatch(C::ConversationAutomations { conversation_id: other }).await.unwrap();
    assert!(!theirs.to_string().contains(&booking), "{theirs}");
    desk.stop().await;
}
