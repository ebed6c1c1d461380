//! The console's command surface (`Desk`, what the window and the browser bridge call) against
//! the real service: questions only the service can answer go to it, and its answer is the rule
//! the service holds bookings to.

use console_core::desk::{Command, Desk};
use reqwest::StatusCode;
use serde_json::json;
use switchboard_testkit::{every_day, on_both_engines, TestApp};
use switchboard_tests::quick;

on_both_engines! {

spawn = TestApp::spawn;

/// The calendar asks `check_slot` before it offers or moves a booking: taken, free when it is
/// the booking being moved, outside hours, each with the service's words; offline it is
/// `offline` and the booking is left for the service to decide.
async fn the_calendar_asks_the_service_whether_a_time_can_be_booked(mut app: TestApp) {
    console_core::credentials::use_mock_store();
    let dir = tempfile::tempdir().unwrap();
    let owner = app.signup("desk").await;
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("09:00", "17:00"), "min_notice_minutes": 0, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Bea Booker"})).await.body["id"].as_str().unwrap().to_owned();
    let slot = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &owner.access).await.body["slots"][0].clone();
    let start = slot["start"].as_str().unwrap().to_owned();
    let booked = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "start": start, "staff_id": owner.staff_id})).await;
    assert_eq!(booked.status, StatusCode::CREATED, "{booked:?}");
    let booking = booked.body["id"].as_str().unwrap().to_owned();

    let desk = Desk::open(dir.path(), None, quick()).await.unwrap();
    desk.dispatch(Command::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), code: None, keep: Some(console_core::credentials::Keep::Session), passphrase: None }).await.unwrap();
    let check = async |start: &str, booking_id: Option<&str>| {
        desk.dispatch(Command::CheckSlot {
            service_id: service.clone(),
            start: start.to_owned(),
            staff_id: Some(owner.staff_id.clone()),
            booking_id: booking_id.map(str::to_owned),
        })
        .await
    };
    let taken = check(&start, None).await.unwrap();
    assert_eq!((taken["available"].clone(), taken["reason"].clone()), (json!(false), json!("slot_taken")), "{taken}");
    assert_eq!(taken["message"], "That time has just been taken. Here are the nearest free times.");
    assert!(!taken["alternatives"].as_array().unwrap().is_empty());
    let moving = check(&start, Some(&booking)).await.unwrap();
    assert_eq!(moving["available"], true, "the booking being moved does not block itself: {moving}");
    // 03:00 local on a day to come: outside the hours, whatever the zone.
    let year: i32 = slot["local_start"].as_str().unwrap()[..4].parse().unwrap();
    let night = format!("{}-01-15T03:00", year + 1);
    let outside = check(&night, None).await.unwrap();
    assert_eq!((outside["reason"].clone(), outside["message"].clone()), (json!("outside_hours"), json!("That time is outside opening or working hours.")));
    let nobody = desk
        .dispatch(Command::CheckSlot { service_id: service.clone(), start: start.clone(), staff_id: Some("no-such-person".into()), booking_id: None })
        .await
        .unwrap_err();
    assert_eq!((nobody.kind.as_str(), nobody.message.as_str()), ("refused", "No such staff member."));

    app.stop().await;
    let offline = check(&start, None).await.unwrap_err();
    assert_eq!(offline.kind, "offline", "{offline:?}");
    desk.stop().await;
}


/// The screens show and hide by what the service says this person may do: the list comes with
/// the sign-in, and a role changed by an owner reaches the open console through the next sync
/// welcome (the service closes the socket on a role change), without signing in again.
async fn the_console_learns_what_the_role_allows_from_the_service(app: TestApp) {
    console_core::credentials::use_mock_store();
    let dir = tempfile::tempdir().unwrap();
    let owner = app.signup("desk-perms").await;
    let agent = app.add_staff(&owner, "agent").await;
    let invited = app.post("/v1/invitations", &owner.access, json!({"email": "next-hire@example.com", "role": "agent"})).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{invited:?}");
    let desk = Desk::open(dir.path(), None, quick()).await.unwrap();
    let mut events = desk.subscribe();
    let session = desk
        .dispatch(Command::SignIn { server: app.base.clone(), email: agent.email.clone(), password: agent.password.clone(), code: None, keep: Some(console_core::credentials::Keep::Session), passphrase: None })
        .await
        .unwrap();
    assert_eq!(session["permissions"], json!(["handle_conversations"]), "{session}");
    // A sign-in to another address that fails leaves this one signed in and syncing (the
    // permissions below arrive by the sync).
    let elsewhere = Command::SignIn { server: "http://127.0.0.1:1".into(), email: agent.email.clone(), password: agent.password.clone(), code: None, keep: Some(console_core::credentials::Keep::Session), passphrase: None };
    let failed = desk.dispatch(elsewhere).await.unwrap_err();
    assert_eq!(failed.kind, "offline", "{failed:?}");
    let still = desk.dispatch(Command::Session).await.unwrap();
    assert!(still["account"].is_object() && still["status"].is_object(), "{still}");

    let promoted = app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!(promoted.status, StatusCode::OK, "{promoted:?}");
    let admins = json!(["handle_conversations", "manage_catalog", "manage_business", "manage_staff", "delete_data", "view_reports"]);
    let told = tokio::time::timeout(std::time::Duration::from_secs(15), async {
        loop {
            match events.recv().await {
                Ok(console_core::Event::Permissions { permissions }) => return serde_json::to_value(permissions).unwrap(),
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("events ended: {e}"),
            }
        }
    })
    .await
    .expect("the console hears the new permissions");
    assert_eq!(told, admins);
    let session = desk.dispatch(Command::Session).await.unwrap();
    assert_eq!(session["permissions"], admins, "{session}");
    // An agent's console was sent no invitations; as an admin it reloads and holds them.
    let mirror = sqlx::sqlite::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("console.sqlite3").display())).await.unwrap();
    let invitations = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM entities WHERE entity = 'invitation' AND data LIKE '%next-hire@example.com%'").fetch_one(&mirror).await.unwrap()
    };
    switchboard_testkit::eventually("the promoted console holds the invitations", || async { invitations().await == 1 }).await;
    desk.stop().await;
}

}

/// The failed-webhooks banner's commands (issue 13): an owner's console lists the webhooks the
/// service kept as failed, with their reason, and retries one (202 without a body is an answer,
/// not an error); an agent's console is refused the list.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owners_console_lists_and_retries_failed_webhooks() {
    use console_core::desk::SettingsMethod;
    use switchboard_testkit::whatsapp::*;
    let (app, _fakes) = spawn_with_fakes(switchboard_testkit::Engine::Sqlite, |_| {}).await;
    let owner = app.signup("banner").await;
    let agent = app.add_staff(&owner, "agent").await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let good = notification(PHONE_ID, serde_json::Value::Null, json!([text("wamid.banner", "447700900124", "Hello?")]), serde_json::Value::Null);
    assert_eq!(post_whatsapp_signed(&app, &good, &secret).await.0, StatusCode::OK);
    // The cause: the stored event cannot be read; it fails after its retries.
    sqlx::query("UPDATE webhook_events SET payload = 'not a notification' WHERE business_id = $1").bind(&owner.business_id).execute(app.db.writer()).await.unwrap();
    for _ in 0..switchboard_cloud::intake::MAX_ATTEMPTS {
        app.drain().await;
        app.advance(std::time::Duration::from_secs(11 * 60));
    }
    app.drain().await;

    let console = |who: switchboard_testkit::Tenant| {
        let base = app.base.clone();
        async move {
            let dir = tempfile::tempdir().unwrap();
            let desk = Desk::open(dir.path(), None, quick()).await.unwrap();
            desk.dispatch(Command::SignIn { server: base, email: who.email, password: who.password, code: None, keep: Some(console_core::credentials::Keep::Session), passphrase: None }).await.unwrap();
            (desk, dir)
        }
    };
    let (desk, _dir) = console(owner.clone()).await;
    let list = || Command::Settings { method: SettingsMethod::Get, path: "/v1/webhook-events/failed".into(), body: None };
    let failed = desk.dispatch(list()).await.unwrap();
    let items = failed["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed}");
    assert_eq!(items[0]["provider"], "whatsapp");
    assert!(!items[0]["reason"].as_str().unwrap().is_empty(), "{failed}");
    let id = items[0]["id"].as_str().unwrap().to_owned();

    let (agents_desk, _agents_dir) = console(agent).await;
    let refused = agents_desk.dispatch(list()).await.unwrap_err();
    assert_eq!((refused.kind.as_str(), refused.code.as_deref()), ("refused", Some("forbidden")), "{refused:?}");
    agents_desk.stop().await;

    // The cause is fixed; Retry puts it back in the queue and the message lands.
    sqlx::query("UPDATE webhook_events SET payload = $2 WHERE business_id = $1").bind(&owner.business_id).bind(good.to_string()).execute(app.db.writer()).await.unwrap();
    let retried = desk.dispatch(Command::Settings { method: SettingsMethod::Post, path: format!("/v1/webhook-events/{id}/retry"), body: None }).await.unwrap();
    assert_eq!(retried, serde_json::Value::Null);
    app.drain().await;
    assert_eq!(desk.dispatch(list()).await.unwrap()["items"], json!([]));
    let conversations = app.get("/v1/conversations", &owner.access).await;
    assert_eq!(conversations.body["items"][0]["last_message_preview"], "Hello?", "{conversations:?}");
    desk.stop().await;
}
