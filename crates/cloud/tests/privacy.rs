//! Data protection over real HTTP, on SQLite and PostgreSQL: the audit log of what staff and the
//! assistant change.

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::{app_secret, connect_whatsapp, spawn_with_fakes, whatsapp_customer, PHONE_ID};
use switchboard_testkit::{on_both_engines, TestApp};

async fn audit_actions(app: &TestApp, token: &str) -> Vec<(String, Option<String>, Value)> {
    let log = app.get("/v1/audit-log?limit=200", token).await;
    assert_eq!(log.status, StatusCode::OK, "{log:?}");
    log.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["target_id"].as_str().map(str::to_owned), e["detail"].clone()))
        .collect()
}

on_both_engines! {

spawn = |e| spawn_with_fakes(e, |_| {});

/// Sent messages, notes, customer, service and canned-response changes are in the audit log,
/// with who did it — and never a message's or note's text or a customer's details.
async fn changes_to_data_are_audited((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("audit").await;
    assert_eq!(connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await.status, StatusCode::OK);
    let conversation = whatsapp_customer(&app, &owner, "447700900111").await;
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Secret plans for Tuesday"})).await;
    assert!(sent.status.is_success(), "{sent:?}");
    let note = app.post(&format!("/v1/conversations/{conversation}/notes"), &owner.access, json!({"body": "Allergic to peroxide"})).await;
    let note_id = note.body["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/notes/{note_id}"), &owner.access, json!({"body": "Allergic to ammonia"})).await;
    app.delete(&format!("/v1/notes/{note_id}"), &owner.access).await;
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Dora Quist", "phone": "+447911123456"})).await;
    assert_eq!(customer.status, StatusCode::CREATED, "{customer:?}");
    let customer_id = customer.body["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/customers/{customer_id}"), &owner.access, json!({"email": "dora@example.org"})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await;
    let service_id = service.body["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/services/{service_id}"), &owner.access, json!({"price_cents": 2500})).await;
    app.delete(&format!("/v1/services/{service_id}"), &owner.access).await;
    let canned = app.post("/v1/canned-responses", &owner.access, json!({"shortcut": "hi", "title": "Hello", "body": "Hello!"})).await;
    let canned_id = canned.body["id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/canned-responses/{canned_id}"), &owner.access, json!({"body": "Hi!"})).await;
    app.delete(&format!("/v1/canned-responses/{canned_id}"), &owner.access).await;

    let log = audit_actions(&app, &owner.access).await;
    let has = |action: &str, target: &str| log.iter().any(|(a, t, _)| a == action && t.as_deref() == Some(target));
    let message_id = sent.body["id"].as_str().unwrap();
    assert!(has("message.sent", message_id), "{log:?}");
    for action in ["note.added", "note.updated", "note.deleted"] {
        assert!(has(action, &note_id), "{action}: {log:?}");
    }
    assert!(has("customer.created", &customer_id) && has("customer.updated", &customer_id), "{log:?}");
    for action in ["service.created", "service.updated", "service.deleted"] {
        assert!(has(action, &service_id), "{action}: {log:?}");
    }
    for action in ["canned_response.created", "canned_response.updated", "canned_response.deleted"] {
        assert!(has(action, &canned_id), "{action}: {log:?}");
    }
    let updated = log.iter().find(|(a, _, _)| a == "customer.updated").unwrap();
    assert_eq!(updated.2, json!({"fields": ["email"]}));
    let everything = serde_json::to_string(&log).unwrap();
    for secret in ["Secret plans", "peroxide", "ammonia", "Dora", "dora@example.org", "7911123456"] {
        assert!(!everything.contains(secret), "the audit log holds {secret:?}: {everything}");
    }
}

}
