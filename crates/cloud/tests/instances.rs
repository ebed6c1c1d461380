//! Two instances on one PostgreSQL, both running every background worker: a burst of signed
//! webhooks and staff replies, through either instance, is processed once, sent once and answered
//! once per assistant turn. (Several instances share work only on PostgreSQL; on SQLite one
//! instance runs the workers.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{Engine, TestApp};

const CUSTOMERS: usize = 10;
/// What each customer says, in a burst: things the built-in assistant always understands (it asks
/// for a person after two it does not, and then no longer answers).
const SAYINGS: [&str; 4] = ["Hello!", "What are your opening hours?", "When do you close on Saturday?", "Thanks!"];
const STAFF_REPLIES: usize = 10;

async fn rows(app: &TestApp, sql: &str, business: &str) -> Vec<sqlx::any::AnyRow> {
    sqlx::query(sql).bind(business).fetch_all(app.db.reader()).await.unwrap()
}

/// `(author_kind, body)` of a conversation's messages other than events, in the order the
/// assistant reads them.
async fn said_in(app: &TestApp, conversation: &str) -> Vec<(String, String)> {
    sqlx::query("SELECT author_kind, body FROM messages WHERE conversation_id = $1 AND kind <> 'event' ORDER BY created_at, id")
        .bind(conversation)
        .fetch_all(app.db.reader())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_process_send_and_answer_a_burst_exactly_once() {
    // A send that times out is retried (the provider may never have had it): generous, so that a
    // busy machine cannot turn one send into two.
    let (a, fake) = spawn_live_with_fakes(Engine::Postgres, |c| c.provider_timeout_ms = 10_000).await;
    let b = a.another_instance(|c| c.run_workers = true).await;
    let owner = a.signup("instances").await;
    let agent = a.add_staff(&owner, "agent").await;
    let secret = app_secret(&owner);
    assert_eq!(connect_whatsapp(&a, &owner, PHONE_ID, &secret).await.status, StatusCode::OK);
    // The built-in engine answers: no model is configured.
    let r = b.patch("/v1/assistant", &owner.access, json!({"enabled": true, "persona": "Mia"})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let business = owner.business_id.clone();
    let turns_left = || async {
        count(&a, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &business).await
            + count(&a, "SELECT COUNT(*) FROM assistant_jobs WHERE business_id = $1 AND status IN ('queued', 'running')", &business).await
    };

    // Two customers a person looks after: each says hello (the assistant answers), then the owner
    // takes one over through one instance and the agent the other through the other.
    let mut held = Vec::new();
    for (i, (instance, person)) in [(&a, &owner), (&b, &agent)].into_iter().enumerate() {
        let from = format!("4479000001{i:02}");
        let hello = notification(PHONE_ID, json!([{"profile": {"name": format!("Held {i}")}, "wa_id": from}]), json!([text(&format!("wamid.held-{i}"), &from, "Hello!")]), Value::Null);
        assert_eq!(post_whatsapp_signed(instance, &hello, &secret).await.0, StatusCode::OK);
        a.eventually("the hello is answered", || async {
            turns_left().await == 0 && count(&a, "SELECT COUNT(*) FROM assistant_jobs WHERE business_id = $1 AND status = 'done'", &business).await == i as i64 + 1
        })
        .await;
        let conversation: String = sqlx::query_scalar("SELECT v.id FROM conversations v JOIN customers c ON c.id = v.customer_id WHERE c.whatsapp_id = $1")
            .bind(&from)
            .fetch_one(a.db.reader())
            .await
            .unwrap();
        let r = instance.post(&format!("/v1/conversations/{conversation}/takeover"), &person.access, json!({})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
        held.push((conversation, person));
    }

    // The burst: 40 signed webhooks from 10 customers and 20 staff replies, all at once,
    // alternating between the instances.
    let started = Instant::now();
    let mut requests = Vec::new();
    let mut inbound_ids = vec!["wamid.held-0".to_owned(), "wamid.held-1".to_owned()];
    for (k, saying) in SAYINGS.iter().enumerate() {
        for i in 0..CUSTOMERS {
            let instance = if (k * CUSTOMERS + i) % 2 == 0 { &a } else { &b };
            let from = format!("4479000000{i:02}");
            let id = format!("wamid.burst-{i}-{k}");
            let note = notification(PHONE_ID, json!([{"profile": {"name": format!("Customer {i}")}, "wa_id": from}]), json!([text(&id, &from, saying)]), Value::Null);
            let raw = serde_json::to_vec(&note).unwrap();
            requests.push((StatusCode::OK, instance.client.post(format!("{}/webhooks/whatsapp", instance.base)).header("x-hub-signature-256", sign_meta(&secret, &raw)).body(raw)));
            inbound_ids.push(id);
        }
    }
    let mut staff_bodies = Vec::new();
    for n in 0..STAFF_REPLIES {
        for (conversation, person) in &held {
            let instance = if (n + staff_bodies.len()) % 2 == 0 { &a } else { &b };
            let body = format!("Reply {n} from {}", person.email);
            let url = format!("{}/v1/conversations/{conversation}/messages", instance.base);
            requests.push((StatusCode::CREATED, instance.client.post(url).bearer_auth(&person.access).json(&json!({"body": body}))));
            staff_bodies.push(body);
        }
    }
    let sent: Vec<_> = requests.into_iter().map(|(expected, request)| tokio::spawn(async move { (expected, request.send().await.unwrap().status()) })).collect();
    for request in sent {
        let (expected, status) = request.await.unwrap();
        assert_eq!(status, expected);
    }

    // Until everything is processed, answered and sent (or the deadline passes).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let unsent = count(&a, "SELECT COUNT(*) FROM outbox WHERE business_id = $1 AND status <> 'sent'", &business).await;
        let outbound = count(&a, "SELECT COUNT(*) FROM messages WHERE business_id = $1 AND direction = 'outbound' AND kind <> 'event'", &business).await;
        let jobs = count(&a, "SELECT COUNT(*) FROM assistant_jobs WHERE business_id = $1", &business).await;
        if turns_left().await == 0 && jobs == inbound_ids.len() as i64 && unsent == 0 && fake.sends().len() as i64 == outbound {
            break;
        }
        assert!(Instant::now() < deadline, "not settled within 60 s: {unsent} unsent, {jobs} jobs, {outbound} outbound, {} sends", fake.sends().len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let settled = started.elapsed();

    // Every webhook processed, each message once.
    let events = rows(&a, "SELECT processed_at FROM webhook_events WHERE business_id = $1", &business).await;
    assert_eq!(events.len(), inbound_ids.len(), "one stored event per delivery");
    assert!(events.iter().all(|e| e.get::<Option<i64>, _>(0).is_some()), "all processed");
    let mut inbound: Vec<String> = rows(&a, "SELECT provider_message_id FROM messages WHERE business_id = $1 AND direction = 'inbound'", &business)
        .await
        .iter()
        .map(|r| r.get(0))
        .collect();
    inbound.sort();
    inbound_ids.sort();
    assert_eq!(inbound, inbound_ids, "one message per provider message id");

    // Every assistant turn ran once: one job per customer message, done, claimed once.
    let jobs = rows(&a, "SELECT j.status, j.attempts, m.provider_message_id FROM assistant_jobs j JOIN messages m ON m.id = j.trigger_message_id WHERE j.business_id = $1", &business).await;
    let mut triggers: Vec<String> = jobs.iter().map(|j| j.get(2)).collect();
    triggers.sort();
    assert_eq!(triggers, inbound_ids, "one turn per customer message");
    assert!(jobs.iter().all(|j| j.get::<String, _>(0) == "done" && j.get::<i64, _>(1) == 1), "every turn done, each run once");
    // ... and answered once: in each customer's conversation the assistant never replies twice
    // to the same words (a turn whose message a later reply already covered says nothing), and
    // the last word is the assistant's.
    let conversations = rows(&a, "SELECT v.id, c.whatsapp_id FROM conversations v JOIN customers c ON c.id = v.customer_id WHERE v.business_id = $1", &business).await;
    assert_eq!(conversations.len(), CUSTOMERS + held.len());
    let mut replies = 0;
    for row in &conversations {
        let (id, wa_id): (String, String) = (row.get(0), row.get(1));
        if held.iter().any(|(held, _)| *held == id) {
            continue;
        }
        let said = said_in(&a, &id).await;
        let customer_lines = said.iter().filter(|(who, _)| who == "customer").count();
        assert_eq!(customer_lines, SAYINGS.len(), "{wa_id}: {said:?}");
        assert!(said.windows(2).all(|w| !(w[0].0 == "assistant" && w[1].0 == "assistant")), "{wa_id}: a turn answered twice: {said:?}");
        assert_eq!(said.last().unwrap().0, "assistant", "{wa_id}: left unanswered: {said:?}");
        assert!(said.iter().all(|(who, _)| who == "customer" || who == "assistant"), "{wa_id}: {said:?}");
        replies += said.iter().filter(|(who, _)| who == "assistant").count();
    }
    assert!(replies >= CUSTOMERS && replies <= CUSTOMERS * SAYINGS.len(), "{replies} replies");

    // Every outgoing message sent exactly once: the fake Graph API received each (to, text)
    // exactly as often as the conversations hold it, and every outbox row is sent.
    let mut stored: BTreeMap<(String, String), usize> = BTreeMap::new();
    for row in rows(
        &a,
        "SELECT c.whatsapp_id, m.body FROM messages m JOIN conversations v ON v.id = m.conversation_id JOIN customers c ON c.id = v.customer_id \
         WHERE m.business_id = $1 AND m.direction = 'outbound' AND m.kind <> 'event'",
        &business,
    )
    .await
    {
        *stored.entry((row.get(0), row.get(1))).or_default() += 1;
    }
    let mut received: BTreeMap<(String, String), usize> = BTreeMap::new();
    for send in fake.sends() {
        *received.entry((send.body["to"].as_str().unwrap().to_owned(), send.body["text"]["body"].as_str().unwrap().to_owned())).or_default() += 1;
    }
    assert_eq!(received, stored, "each outgoing message reached the provider once");
    let outbox = rows(&a, "SELECT status, attempts FROM outbox WHERE business_id = $1", &business).await;
    assert_eq!(outbox.len(), stored.values().sum::<usize>());
    assert!(outbox.iter().all(|o| o.get::<String, _>(0) == "sent" && o.get::<i64, _>(1) == 1), "each sent on its first attempt");
    for body in &staff_bodies {
        assert_eq!(stored.iter().filter(|((_, b), _)| b == body).map(|(_, n)| n).sum::<usize>(), 1, "{body}");
    }
    eprintln!("settled in {settled:.1?}: {} webhooks, {} staff replies, {replies} assistant replies", inbound_ids.len(), staff_bodies.len());
}

/// An instance that runs no workers (a web-only front) hands what it acknowledges to the
/// instances that do at once: its commit wakes their intake. The clock is a test clock, so the
/// working instance's poll never comes round on its own; only the wake-up can bring the message in.
#[tokio::test]
async fn a_webhook_acknowledged_by_an_instance_without_workers_wakes_another_instances_intake() {
    let front = TestApp::spawn(Engine::Postgres).await;
    let worker = front.another_instance(|c| c.run_workers = true).await;
    let owner = front.signup("front").await;
    let secret = app_secret(&owner);
    assert_eq!(connect_whatsapp(&front, &owner, PHONE_ID, &secret).await.status, StatusCode::OK);
    let from = "447900000555";
    let hello = notification(PHONE_ID, json!([{"profile": {"name": "Walk-up"}, "wa_id": from}]), json!([text("wamid.front-1", from, "Hello!")]), Value::Null);
    assert_eq!(post_whatsapp_signed(&front, &hello, &secret).await.0, StatusCode::OK);
    worker
        .eventually("the other instance put the message in its conversation", || async {
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM messages WHERE business_id = $1 AND body = 'Hello!'")
                .bind(&owner.business_id)
                .fetch_one(worker.db.reader())
                .await
                .unwrap();
            n == 1
        })
        .await;
}
