//! Human takeover: compare-and-set take over, replies that take over or are refused, hand-back
//! by the holder or after a quiet spell — on SQLite and PostgreSQL.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, TestApp};

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |c| c.handback_check_ms = 100);

async fn two_people_take_over_at_once_and_one_wins((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("race").await;
    let sam = app.add_staff(&owner, "agent").await;
    let kim = app.add_staff(&owner, "agent").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447911123401").await;
    let path = format!("/v1/conversations/{conversation}/takeover");
    let (a, b) = tokio::join!(app.post(&path, &sam.access, json!({})), app.post(&path, &kim.access, json!({})));
    let (winner, loser, loser_reply) = match (a.status, b.status) {
        (StatusCode::OK, StatusCode::CONFLICT) => (&sam, &kim, b),
        (StatusCode::CONFLICT, StatusCode::OK) => (&kim, &sam, a),
        other => panic!("exactly one must win: {other:?}"),
    };
    assert_eq!(loser_reply.code(), "already_held");
    assert_eq!(loser_reply.body["error"]["details"]["holder_staff_id"], winner.staff_id.as_str());
    assert!(loser_reply.body["error"]["message"].as_str().unwrap().contains("A agent"), "{loser_reply:?}");
    let detail = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert_eq!((detail.body["conversation"]["mode"].as_str(), detail.body["conversation"]["holder_staff_id"].as_str()), (Some("human"), Some(winner.staff_id.as_str())));
    let events: Vec<&str> = detail.body["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "event").map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(events, vec!["A agent took over from the assistant."]);
    // Taking over again by the holder is a no-op; the loser's reply is refused (kept as a draft
    // by their console) and nothing is queued.
    assert_eq!(app.post(&path, &winner.access, json!({})).await.status, StatusCode::OK);
    let refused = app.post(&format!("/v1/conversations/{conversation}/messages"), &loser.access, json!({"body": "I'll help!"})).await;
    assert_eq!(refused.code(), "already_held");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE business_id = $1", &owner.business_id).await, 0);
    // The loser cannot hand back someone else's conversation; an owner can.
    let r = app.post(&format!("/v1/conversations/{conversation}/handback"), &loser.access, json!({})).await;
    assert_eq!(r.code(), "already_held");
    let r = app.post(&format!("/v1/conversations/{conversation}/handback"), &owner.access, json!({})).await;
    assert_eq!((r.status, r.body["mode"].as_str(), r.body["holder_staff_id"].clone()), (StatusCode::OK, Some("ai"), serde_json::Value::Null));
}

async fn a_reply_takes_over_from_the_assistant((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("reply-takes").await;
    let sam = app.add_staff(&owner, "agent").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447911123402").await;
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &sam.access, json!({"body": "Hi, Sam here"})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
    let detail = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert_eq!(detail.body["conversation"]["mode"], "human");
    assert_eq!(detail.body["conversation"]["holder_staff_id"], sam.staff_id.as_str());
    // The inbox still shows the last thing said, not the event.
    app.settled("sent", || async { fake.sends().len() == 1 }).await;
    assert_eq!(detail.body["conversation"]["last_message_preview"], "Hi, Sam here");
    let mine = app.get("/v1/conversations?holder=me", &sam.access).await;
    assert_eq!(mine.body["items"].as_array().unwrap().len(), 1);
    let r = app.post(&format!("/v1/conversations/{conversation}/handback"), &sam.access, json!({})).await;
    assert_eq!(r.body["mode"], "ai");
    let changes = app.changes(&owner.business_id).await;
    assert!(changes.iter().any(|c| c.1 == "conversation" && c.2 == conversation));
}

async fn a_quiet_conversation_goes_back_to_the_assistant((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("idle").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let r = app.patch("/v1/assistant", &owner.access, json!({"handback_idle_minutes": 5, "persona": "Mia"})).await;
    assert_eq!((r.status, r.body["handback_idle_minutes"].as_u64(), r.body["persona"].as_str()), (StatusCode::OK, Some(5), Some("Mia")));
    let conversation = whatsapp_customer(&app, &owner, "447911123403").await;
    app.post(&format!("/v1/conversations/{conversation}/takeover"), &owner.access, json!({})).await;
    app.advance(Duration::from_secs(4 * 60));
    app.drain().await;
    let held = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert_eq!(held.body["conversation"]["mode"], "human", "not yet quiet for long enough");
    // Six minutes of quiet.
    app.advance(Duration::from_secs(2 * 60));
    // Handed back; the assistant is off here and the customer's message is unanswered, so the
    // conversation waits for a person rather than looking as if the assistant had it.
    app.settled("handed back", || async {
        app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["mode"] == "needs_human"
    }).await;
    let detail = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    let last_event = detail.body["messages"].as_array().unwrap().iter().rev().find(|m| m["kind"] == "event").unwrap().clone();
    assert_eq!(last_event["body"], "Handed back to the assistant after 5 minutes without activity.");
    // 0 turns the timer off.
    let r = app.patch("/v1/assistant", &owner.access, json!({"handback_idle_minutes": 0})).await;
    assert_eq!(r.body["handback_idle_minutes"], 0);
    let agent = app.add_staff(&owner, "agent").await;
    assert_eq!(app.patch("/v1/assistant", &agent.access, json!({"persona": "Evil"})).await.status, StatusCode::FORBIDDEN);
}

}
