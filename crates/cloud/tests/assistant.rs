//! The assistant against a local fake OpenAI-compatible server that scripts replies and tool
//! calls, with WhatsApp in and out through the fake Graph API, on SQLite and PostgreSQL.

use std::time::Duration;

use jiff::tz::TimeZone;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_testkit::fake_llm::{call, reply, FakeLlm, Say};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, every_day, Engine, Tenant, TestApp};

struct World {
    app: TestApp,
    fake: FakeProviders,
    llm: FakeLlm,
    owner: Tenant,
    service: String,
    from: String,
}

async fn world(engine: Engine) -> World {
    let llm = FakeLlm::start().await;
    let llm_base = llm.base.clone();
    let (app, fake) = spawn_with_fakes(engine, move |c| {
        c.llm_base_url = Some(llm_base);
        c.llm_model = Some("test-model".into());
        c.llm_retry_base_ms = 20;
    })
    .await;
    let owner = app.signup("assistant").await;
    let week = every_day("00:00", "24:00");
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": week, "min_notice_minutes": 0})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Haircut", "duration_minutes": 60})).await.body["id"].as_str().unwrap().to_owned();
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    app.patch("/v1/assistant", &owner.access, json!({"enabled": true, "persona": "Mia"})).await;
    World { app, fake, llm, owner, service, from: "447911123460".into() }
}

impl World {
    /// The customer writes; returns when the assistant's turn for it is over.
    async fn customer_says(&self, id: &str, body: &str) {
        let note = notification(PHONE_ID, json!([{"profile": {"name": "Nia"}, "wa_id": self.from}]), json!([text(id, &self.from, body)]), Value::Null);
        let (status, _) = post_whatsapp_signed(&self.app, &note, &app_secret(&self.owner)).await;
        assert_eq!(status, StatusCode::OK);
        let app = &self.app;
        let business = self.owner.business_id.clone();
        // In causal order: once the webhook is processed its job exists, so check that first.
        app.settled("the turn ends", || async {
            count(app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &business).await == 0
                && count(app, "SELECT COUNT(*) FROM assistant_jobs WHERE business_id = $1 AND status IN ('queued', 'running')", &business).await == 0
        })
        .await;
    }

    async fn conversation(&self) -> Value {
        let inbox = self.app.get("/v1/conversations", &self.owner.access).await;
        let id = inbox.body["items"][0]["id"].as_str().unwrap().to_owned();
        self.app.get(&format!("/v1/conversations/{id}"), &self.owner.access).await.body
    }

    fn assistant_lines(detail: &Value) -> Vec<String> {
        detail["messages"].as_array().unwrap().iter().filter(|m| m["author_kind"] == "assistant").map(|m| m["body"].as_str().unwrap().to_owned()).collect()
    }

    fn tomorrow_at(&self, hour: i8) -> String {
        let tz = TimeZone::get("Europe/London").unwrap();
        let day = jiff::Timestamp::now().to_zoned(tz.clone()).date().tomorrow().unwrap();
        day.at(hour, 0, 0, 0).to_zoned(tz).unwrap().timestamp().to_string()
    }

    fn tomorrow(&self) -> String {
        let tz = TimeZone::get("Europe/London").unwrap();
        jiff::Timestamp::now().to_zoned(tz).date().tomorrow().unwrap().to_string()
    }

    /// The tool results the model was shown in its last request.
    fn last_tool_results(&self) -> String {
        let requests = self.llm.requests();
        let last = requests.last().unwrap();
        last["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "tool").map(|m| m["content"].as_str().unwrap().to_owned()).collect::<Vec<_>>().join("\n")
    }
}

on_both_engines! {

spawn = world;

async fn books_reschedules_and_cancels_through_tool_calls(w: World) {
    let svc = w.service.clone();
    // Turn 1: the model looks up services and free times, then asks for confirmation.
    w.llm.script([
        call("list_services", json!({})),
        call("find_free_slots", json!({"service_id": svc, "date": w.tomorrow()})),
        reply("I can do 15:00 tomorrow for a haircut. Shall I book it?"),
    ]);
    w.customer_says("wamid.t1", "Can I get a haircut tomorrow at 3pm?").await;
    let shown = w.last_tool_results();
    assert!(shown.contains("Haircut") && shown.contains("\"free\""), "the tools answered from the store: {shown}");
    let first_request = &w.llm.requests()[0];
    assert_eq!(first_request["model"], "test-model");
    assert!(first_request["messages"][0]["content"].as_str().unwrap().contains("Haircut (60 min)"), "the prompt names the services");
    assert_eq!(first_request["messages"].as_array().unwrap().last().unwrap()["content"], "Can I get a haircut tomorrow at 3pm?");
    assert!(first_request["tools"].as_array().unwrap().iter().any(|t| t["function"]["name"] == "book"));

    // Booking without the customer's confirmation is refused by the tool.
    w.llm.script([call("book", json!({"service_id": svc, "start": w.tomorrow_at(15), "customer_confirmed": false})), reply("Please confirm first.")]);
    w.customer_says("wamid.t1b", "Hmm").await;
    assert!(w.last_tool_results().contains("not_confirmed"));
    assert!(w.app.all_items("/v1/bookings", &w.owner.access).await.is_empty());

    // Turn 2: confirmed, booked.
    w.llm.script([call("book", json!({"service_id": svc, "start": w.tomorrow_at(15), "customer_confirmed": true})), reply("Booked! See you tomorrow at 15:00.")]);
    w.customer_says("wamid.t2", "Yes please").await;
    let bookings = w.app.all_items("/v1/bookings", &w.owner.access).await;
    assert_eq!(bookings.len(), 1, "{bookings:?}");
    assert_eq!((bookings[0]["source"].as_str(), bookings[0]["start"].as_str()), (Some("assistant"), Some(w.tomorrow_at(15).as_str())));
    let booking_id = bookings[0]["id"].as_str().unwrap().to_owned();
    assert!(w.app.changes(&w.owner.business_id).await.iter().any(|c| c.1 == "booking" && c.2 == booking_id));

    // Turn 3: move it to 16:00.
    w.llm.script([call("my_bookings", json!({})), call("reschedule", json!({"booking_id": booking_id, "start": w.tomorrow_at(16), "customer_confirmed": true})), reply("Moved to 16:00.")]);
    w.customer_says("wamid.t3", "Could we make it 4pm instead?").await;
    let moved = w.app.get(&format!("/v1/bookings/{booking_id}"), &w.owner.access).await;
    assert_eq!(moved.body["start"], w.tomorrow_at(16));

    // A taken time: the tool answers slot_taken with the nearest alternatives.
    let other = w.app.post("/v1/customers", &w.owner.access, json!({"name": "Someone"})).await.body["id"].as_str().unwrap().to_owned();
    w.app.post("/v1/bookings", &w.owner.access, json!({"customer_id": other, "service_id": svc, "start": w.tomorrow_at(18)})).await;
    w.llm.script([call("book", json!({"service_id": svc, "start": w.tomorrow_at(18), "customer_confirmed": true})), reply("18:00 is taken; 17:00 or 19:00?")]);
    w.customer_says("wamid.t4", "And one more at 6pm for my son, yes book it").await;
    let shown = w.last_tool_results();
    assert!(shown.contains("slot_taken") && shown.contains("alternatives"), "{shown}");

    // Turn 5: cancel.
    w.llm.script([call("cancel", json!({"booking_id": booking_id, "customer_confirmed": true})), reply("Cancelled. Hope to see you soon!")]);
    w.customer_says("wamid.t5", "Actually please cancel my haircut").await;
    assert_eq!(w.app.get(&format!("/v1/bookings/{booking_id}"), &w.owner.access).await.body["status"], "cancelled");

    // Every reply went out through WhatsApp, in order; usage was recorded.
    let detail = w.conversation().await;
    assert_eq!(World::assistant_lines(&detail), vec![
        "I can do 15:00 tomorrow for a haircut. Shall I book it?", "Please confirm first.", "Booked! See you tomorrow at 15:00.",
        "Moved to 16:00.", "18:00 is taken; 17:00 or 19:00?", "Cancelled. Hope to see you soon!",
    ]);
    // ... and the booking's confirmations (made, moved, cancelled) went out beside them, once each.
    let automated: Vec<&str> = detail["messages"].as_array().unwrap().iter().filter_map(|m| m["automation"].as_str()).collect();
    assert_eq!(automated, vec!["confirmation:created", "confirmation:moved", "confirmation:cancelled"]);
    w.app.settled("all sent", || async { w.fake.sends().len() == 6 + 3 }).await;
    let tokens: i64 = sqlx::query_scalar("SELECT CAST(SUM(prompt_tokens + completion_tokens) AS BIGINT) FROM llm_usage WHERE business_id = $1")
        .bind(&w.owner.business_id).fetch_one(w.app.db.reader()).await.unwrap();
    assert!(tokens > 1000, "usage recorded: {tokens}");
}

async fn a_person_holding_the_conversation_means_no_assistant(w: World) {
    w.llm.script([reply("Hello! How can I help?")]);
    w.customer_says("wamid.h1", "Hi").await;
    assert_eq!(w.llm.requests().len(), 1);
    let id = w.conversation().await["conversation"]["id"].as_str().unwrap().to_owned();
    w.app.post(&format!("/v1/conversations/{id}/takeover"), &w.owner.access, json!({})).await;
    w.llm.script([reply("I should not be here")]);
    w.customer_says("wamid.h2", "Are you a robot?").await;
    w.app.drain().await;
    assert_eq!(w.llm.requests().len(), 1, "no model call while a person holds it");
    assert_eq!(World::assistant_lines(&w.conversation().await), vec!["Hello! How can I help?"]);
}

async fn a_takeover_during_the_models_turn_wins(w: World) {
    w.llm.script([Say::After(Duration::from_millis(1500), Box::new(reply("Sure, I'll book that for you!")))]);
    let note = notification(PHONE_ID, Value::Null, json!([text("wamid.r1", &w.from, "Book me in for Friday")]), Value::Null);
    post_whatsapp_signed(&w.app, &note, &app_secret(&w.owner)).await;
    let turn = w.app.drain_meanwhile();
    w.app.eventually("the model is thinking", || async { w.llm.requests().len() == 1 }).await;
    let id = w.conversation().await["conversation"]["id"].as_str().unwrap().to_owned();
    let r = w.app.post(&format!("/v1/conversations/{id}/takeover"), &w.owner.access, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    turn.await.unwrap();
    let business = w.owner.business_id.clone();
    w.app.settled("the turn ends", || async {
        count(&w.app, "SELECT COUNT(*) FROM assistant_jobs WHERE business_id = $1 AND status IN ('queued', 'running')", &business).await == 0
    }).await;
    assert!(World::assistant_lines(&w.conversation().await).is_empty(), "the late reply is not in the conversation");
    let log = w.app.get("/v1/audit-log", &w.owner.access).await;
    let discarded = log.body["items"].as_array().unwrap().iter().find(|e| e["action"] == "assistant.reply_discarded").expect("kept in the audit log");
    assert_eq!(discarded["detail"]["reply"], "Sure, I'll book that for you!");
    w.app.drain().await;
    assert!(w.fake.sends().is_empty(), "nothing was sent");
}

async fn a_model_that_is_down_or_rate_limited_escalates_once(w: World) {
    // 500s, then 429s: each turn's three attempts fail.
    w.llm.script([Say::Status(500), Say::Status(500), Say::Status(500)]);
    w.customer_says("wamid.d1", "Hello, anyone?").await;
    let detail = w.conversation().await;
    assert_eq!(detail["conversation"]["mode"], "needs_human");
    assert_eq!(World::assistant_lines(&detail), vec![common_holding()]);
    w.app.settled("the holding reply is sent", || async { w.fake.sends().len() == 1 }).await;
    // The customer writes again: still waiting for a person, no second holding reply, no model call.
    w.customer_says("wamid.d2", "Hello??").await;
    assert_eq!(w.llm.requests().len(), 3);
    assert_eq!(World::assistant_lines(&w.conversation().await).len(), 1);
    let events: Vec<String> = w.conversation().await["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "event").map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert!(events[0].starts_with("The assistant asked for a person"), "{events:?}");
    // Handed back, a 429 storm does the same.
    let id = w.conversation().await["conversation"]["id"].as_str().unwrap().to_owned();
    w.app.post(&format!("/v1/conversations/{id}/handback"), &w.owner.access, json!({})).await;
    w.llm.script([Say::Status(429), Say::Status(429), Say::Status(429)]);
    w.customer_says("wamid.d3", "Hi again").await;
    assert_eq!(w.conversation().await["conversation"]["mode"], "needs_human");
}

async fn malformed_tool_calls_and_requests_for_a_person_escalate(w: World) {
    w.llm.script([Say::Tools(vec![("find_free_slots".into(), "{not json".into())]), Say::Tools(vec![("book".into(), "[1,2".into())]), Say::Tools(vec![("book".into(), "nope".into())])]);
    w.customer_says("wamid.m1", "Book me something").await;
    assert_eq!(w.conversation().await["conversation"]["mode"], "needs_human");
    assert!(w.last_tool_results().contains("not a JSON object"), "the model was told what was wrong");
    let id = w.conversation().await["conversation"]["id"].as_str().unwrap().to_owned();
    w.app.post(&format!("/v1/conversations/{id}/handback"), &w.owner.access, json!({})).await;
    w.llm.script([call("hand_off", json!({"reason": "The customer wants to speak to the owner"}))]);
    w.customer_says("wamid.m2", "I want to talk to the owner, not a bot").await;
    let detail = w.conversation().await;
    assert_eq!(detail["conversation"]["mode"], "needs_human");
    let events: Vec<String> = detail["messages"].as_array().unwrap().iter().filter(|m| m["kind"] == "event").map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert!(events.iter().any(|e| e.contains("wants to speak to the owner")), "{events:?}");
}

}

fn common_holding() -> String {
    switchboard_cloud::assistant::HOLDING_REPLY.to_owned()
}
