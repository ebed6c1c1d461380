//! Issue 13, "nothing acknowledged is ever lost, no input breaks the service": one regression test
//! per defect found by the outside testers, each with their reproducer, on SQLite and PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, TestApp};

/// The service's `/metrics` text.
async fn metrics(app: &TestApp) -> String {
    app.client.get(format!("{}/metrics", app.base)).send().await.unwrap().text().await.unwrap()
}

/// The value of an unlabelled metric.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no metric {name} in {text}"))
        .trim()
        .parse()
        .unwrap()
}

on_both_engines! {

spawn = |e| spawn_with_fakes(e, |_| {});

/// Defect 1, the reproducer: A has the WhatsApp id, B has the same number as a phone. The
/// message lands in A's conversation; A's phone stays empty and staff are told on A's notes.
async fn a_message_from_a_number_another_customer_holds_lands_and_staff_see_the_conflict((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("conflict").await;
    let agent = app.add_staff(&owner, "agent").await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let a = app.post("/v1/customers", &owner.access, json!({"name": "Ana", "whatsapp_id": "447911200777"})).await;
    assert_eq!(a.status, StatusCode::CREATED, "{a:?}");
    let b = app.post("/v1/customers", &owner.access, json!({"name": "Bea", "phone": "+447911200777"})).await;
    assert_eq!(b.status, StatusCode::CREATED, "{b:?}");
    let (a, b) = (a.body["id"].as_str().unwrap().to_owned(), b.body["id"].as_str().unwrap().to_owned());

    for (n, text) in ["Can I book for Friday?", "Hello? Anyone there?"].into_iter().enumerate() {
        let body = notification(PHONE_ID, json!([{"profile": {"name": "Ana"}, "wa_id": "447911200777"}]), json!([text_msg(n, text)]), Value::Null);
        let (status, _) = post_whatsapp_signed(&app, &body, &secret).await;
        assert_eq!(status, StatusCode::OK);
        app.drain().await;
    }

    // Both messages are in A's conversation, as every staff member sees it.
    let inbox = app.get("/v1/conversations", &agent.access).await;
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox:?}");
    assert_eq!(items[0]["customer_id"], a.as_str());
    let bodies: Vec<Value> = messages_of(&app, &agent).await.iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("Can I book for Friday?"), json!("Hello? Anyone there?")]);
    // A keeps no phone that is B's; staff are told, once, on A's notes (and owners in the audit log).
    let a_now = app.get(&format!("/v1/customers/{a}"), &agent.access).await;
    assert_eq!(a_now.body["phone"], Value::Null);
    let notes = a_now.body["notes"].as_str().unwrap();
    assert_eq!(notes.matches("+447911200777").count(), 1, "{notes}");
    assert!(notes.contains(&b), "the note names the other customer: {notes}");
    let b_now = app.get(&format!("/v1/customers/{b}"), &agent.access).await;
    assert_eq!((b_now.body["phone"].as_str(), b_now.body["notes"].as_str()), (Some("+447911200777"), Some("")));
    let audit = app.get("/v1/audit-log", &owner.access).await;
    let conflicts = audit.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "customer.detail_conflict").count();
    assert_eq!(conflicts, 1, "{audit:?}");
    // Nothing failed, nothing is waiting.
    let failed = app.get("/v1/webhook-events/failed", &owner.access).await;
    assert_eq!(failed.body, json!([]));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND (processed_at IS NULL OR last_error IS NOT NULL)", &owner.business_id).await, 0);
}

/// An event that cannot be processed (here: a payload this version cannot read, as a bug or a
/// newer version would leave) is retried, then kept as failed with its reason, counted in
/// `/metrics` and listed for owners and admins; once the cause is fixed, a retry lands it.
async fn a_webhook_that_cannot_be_processed_is_kept_listed_counted_and_retried((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("failing").await;
    let agent = app.add_staff(&owner, "agent").await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let good = notification(PHONE_ID, Value::Null, json!([text("wamid.kept", "447700900123", "Still there?")]), Value::Null);
    let (status, _) = post_whatsapp_signed(&app, &good, &secret).await;
    assert_eq!(status, StatusCode::OK);
    // The cause: the stored event cannot be read.
    sqlx::query("UPDATE webhook_events SET payload = 'not a notification' WHERE business_id = $1").bind(&owner.business_id).execute(app.db.writer()).await.unwrap();
    let failed_before = metric(&metrics(&app).await, "switchboard_webhook_events_failed_total");

    for _ in 0..switchboard_cloud::intake::MAX_ATTEMPTS {
        app.drain().await;
        app.advance(Duration::from_secs(11 * 60));
    }
    app.drain().await;

    let failed = app.get("/v1/webhook-events/failed", &owner.access).await;
    assert_eq!(failed.status, StatusCode::OK);
    let items = failed.body.as_array().unwrap();
    assert_eq!(items.len(), 1, "{failed:?}");
    assert_eq!(items[0]["provider"], "whatsapp");
    assert_eq!(items[0]["attempts"], switchboard_cloud::intake::MAX_ATTEMPTS);
    assert!(!items[0]["reason"].as_str().unwrap().is_empty(), "{failed:?}");
    assert_eq!(app.get("/v1/webhook-events/failed", &agent.access).await.code(), "forbidden");
    let text = metrics(&app).await;
    assert_eq!(metric(&text, "switchboard_webhook_events_failed_waiting"), 1.0);
    assert_eq!(metric(&text, "switchboard_webhook_events_failed_total"), failed_before + 1.0);
    // More time changes nothing: it waits for a person.
    app.advance(Duration::from_secs(24 * 3600));
    app.drain().await;
    assert_eq!(app.get("/v1/webhook-events/failed", &owner.access).await.body.as_array().unwrap().len(), 1);
    assert!(messages_of(&app, &owner).await.is_empty());

    // The cause is fixed; an agent may not retry, the owner does.
    sqlx::query("UPDATE webhook_events SET payload = $2 WHERE business_id = $1").bind(&owner.business_id).bind(good.to_string()).execute(app.db.writer()).await.unwrap();
    let id = items[0]["id"].as_str().unwrap();
    let r = app.post(&format!("/v1/webhook-events/{id}/retry"), &agent.access, json!({})).await;
    assert_eq!(r.code(), "forbidden");
    let r = app.post(&format!("/v1/webhook-events/{id}/retry"), &owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{r:?}");
    app.drain().await;
    let bodies: Vec<Value> = messages_of(&app, &owner).await.iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("Still there?")]);
    assert_eq!(app.get("/v1/webhook-events/failed", &owner.access).await.body, json!([]));
    assert_eq!(metric(&metrics(&app).await, "switchboard_webhook_events_failed_waiting"), 0.0);
    let again = app.post(&format!("/v1/webhook-events/{id}/retry"), &owner.access, json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "not_found"));
}

}

/// A WhatsApp text from the reproducer's number.
fn text_msg(n: usize, body: &str) -> Value {
    text(&format!("wamid.conflict-{n}"), "447911200777", body)
}
