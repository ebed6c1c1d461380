//! One rule for each thing an integrator meets everywhere (issue 13, point 11): every channel
//! answers GET, PUT and DELETE alike, and a booking carries its local end beside its local start.
//! On SQLite and on PostgreSQL, over real HTTP.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::{on_both_engines, TestApp};

/// Each kind with a set-up the service accepts and a secret that must never come back.
fn setups() -> [(&'static str, Value); 4] {
    [
        ("whatsapp", json!({"phone_number_id": "1055501", "access_token": "wa-token-secret", "app_secret": "wa-app-secret", "verify_token": "wa-verify-secret", "display_phone_number": "+44 20 7946 0000"})),
        ("twilio", json!({"account_sid": "AC00000000000000000000000000000001", "auth_token": "tw-token-secret", "numbers": ["+14155550123"]})),
        ("vapi", json!({"secret": "vapi-secret-value"})),
        ("retell", json!({"api_key": "retell-key-secret"})),
    ]
}

on_both_engines! {

spawn = TestApp::spawn;

/// `GET /v1/channels/{kind}` answers every kind's settings without secrets (404 before it is
/// connected and after it is removed), and `DELETE` works for every kind, Vapi and Retell included,
/// with the same rules: owners and admins, after a recent re-authentication.
async fn every_channel_answers_get_put_and_delete(app: TestApp) {
    let owner = app.signup("channels").await;
    let agent = app.add_staff(&owner, "agent").await;
    for (kind, setup) in setups() {
        let path = format!("/v1/channels/{kind}");
        let before = app.get(&path, &owner.access).await;
        assert_eq!((before.status, before.code()), (StatusCode::NOT_FOUND, "not_found"), "{kind}: {before:?}");
        let put = app.call(Method::PUT, &path, Some(&owner.access), Some(setup.clone())).await;
        assert_eq!(put.status, StatusCode::OK, "{kind}: {put:?}");
        // Any staff member may read it; nothing secret comes back.
        let got = app.get(&path, &agent.access).await;
        assert_eq!(got.status, StatusCode::OK, "{kind}: {got:?}");
        assert_eq!(got.body, put.body, "{kind}: GET answers what PUT answered");
        assert_eq!(got.body["kind"], kind);
        let text = got.body.to_string();
        for field in ["access_token", "app_secret", "verify_token", "auth_token", "secret", "api_key"] {
            if let Some(secret) = setup[field].as_str() {
                assert!(!text.contains(secret), "{kind}: {field} came back: {text}");
            }
        }
        // Only owners and admins disconnect.
        let refused = app.delete(&path, &agent.access).await;
        assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"), "{kind}: {refused:?}");
    }
    if let Some(settings) = app.get("/v1/channels/whatsapp", &owner.access).await.body.get("settings") {
        assert_eq!(settings["phone_number_id"], "1055501");
    }
    assert_eq!(app.get("/v1/channels/telegram", &owner.access).await.status, StatusCode::NOT_FOUND);

    // A session that signed in long ago must prove itself again, for every kind alike.
    app.advance(Duration::from_secs(16 * 60));
    for (kind, _) in setups() {
        let stale = app.delete(&format!("/v1/channels/{kind}"), &owner.access).await;
        assert_eq!((stale.status, stale.code()), (StatusCode::FORBIDDEN, "reauthentication_required"), "{kind}: {stale:?}");
        assert_eq!(app.get(&format!("/v1/channels/{kind}"), &owner.access).await.status, StatusCode::OK, "{kind} is still connected");
    }
    let proved = app.post("/v1/me/reauthenticate", &owner.access, json!({"password": owner.password})).await;
    assert_eq!(proved.status, StatusCode::NO_CONTENT, "{proved:?}");
    for (kind, _) in setups() {
        let path = format!("/v1/channels/{kind}");
        let removed = app.delete(&path, &owner.access).await;
        assert_eq!(removed.status, StatusCode::NO_CONTENT, "{kind}: {removed:?}");
        assert_eq!(app.get(&path, &owner.access).await.status, StatusCode::NOT_FOUND, "{kind} is gone");
        let again = app.delete(&path, &owner.access).await;
        assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "not_found"), "{kind}: {again:?}");
    }
    let audit = app.get("/v1/audit-log?limit=200", &owner.access).await;
    let removed: Vec<&str> = audit.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "channel.removed").map(|e| e["target_id"].as_str().unwrap()).collect();
    for (kind, _) in setups() {
        assert!(removed.contains(&kind), "{kind} removal is audited: {removed:?}");
    }
}

/// A disconnected voice platform's webhooks are refused: removing Vapi really cuts it off.
async fn a_removed_voice_platform_is_refused(app: TestApp) {
    let owner = app.signup("vapi-off").await;
    let put = app.call(Method::PUT, "/v1/channels/vapi", Some(&owner.access), Some(json!({"secret": "vapi-secret-value"}))).await;
    assert_eq!(put.status, StatusCode::OK, "{put:?}");
    let hook = format!("/webhooks/vapi/{}", owner.business_id);
    let event = json!({"message": {"type": "status-update", "status": "in-progress", "call": {"id": "call-1"}}});
    let send = |app: &TestApp| {
        let client = reqwest::Client::new();
        let url = format!("{}{}", app.base, hook);
        let body = event.clone();
        async move { client.post(url).header("x-vapi-secret", "vapi-secret-value").json(&body).send().await.unwrap().status() }
    };
    assert!(send(&app).await.is_success(), "accepted while connected");
    assert_eq!(app.delete("/v1/channels/vapi", &owner.access).await.status, StatusCode::NO_CONTENT);
    assert_eq!(send(&app).await, StatusCode::UNAUTHORIZED, "refused once removed");
}

/// A booking has `local_end` beside `local_start`, in the business's zone, wherever it is read.
async fn a_booking_has_its_local_end(app: TestApp) {
    // The clock a week before the booking, so it is within the default booking horizon.
    const JUNE_25_2030_MS: i64 = 1_908_576_000_000;
    app.advance(Duration::from_millis(u64::try_from(JUNE_25_2030_MS - app.now_ms()).expect("the test clock starts before 2030")));
    let owner = app.signup("local-end").await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Colour", "duration_minutes": 90})).await;
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ada", "phone": "+14155552679"})).await;
    let start = "2030-07-02T10:00";
    let made = app
        .post("/v1/bookings", &owner.access, json!({"customer_id": customer.body["id"], "service_id": service.body["id"], "staff_id": owner.staff_id, "start": start}))
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{made:?}");
    assert_eq!(made.body["local_start"], "2030-07-02T10:00:00+01:00[Europe/London]");
    assert_eq!(made.body["local_end"], "2030-07-02T11:30:00+01:00[Europe/London]");
    let id = made.body["id"].as_str().unwrap();
    let one = app.get(&format!("/v1/bookings/{id}"), &owner.access).await;
    assert_eq!(one.body["local_end"], made.body["local_end"]);
    let listed = app.get("/v1/bookings?from=2030-07-01&to=2030-07-03", &owner.access).await;
    let listed = listed.body.get("items").unwrap_or(&listed.body).clone();
    assert_eq!(listed[0]["local_end"], made.body["local_end"], "{listed}");
}

}
