//! Issue 13, "nothing acknowledged is ever lost, no input breaks the service": one regression test
//! per defect found by the outside testers, each with their reproducer, on SQLite and PostgreSQL.

use std::time::Duration;

use futures::StreamExt;
use protocol::{ClientFrame, ServerFrame};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{every_day, on_both_engines, TestApp};
use tokio_tungstenite::tungstenite::Message;

mod socket;
use socket::{connect, say, Socket};

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

/// The business's webhook events waiting for a retry: their attempts and last error.
async fn waiting_events(app: &TestApp, business_id: &str) -> Vec<(i64, Option<String>)> {
    sqlx::query_as("SELECT attempts, last_error FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL AND failed_at IS NULL")
        .bind(business_id)
        .fetch_all(app.db.reader())
        .await
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
    assert_eq!(failed.body, json!({"items": [], "next_cursor": null}));
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
    let items = failed.body["items"].as_array().unwrap();
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
    assert_eq!(app.get("/v1/webhook-events/failed", &owner.access).await.body["items"].as_array().unwrap().len(), 1);
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
    assert_eq!(app.get("/v1/webhook-events/failed", &owner.access).await.body, json!({"items": [], "next_cursor": null}));
    assert_eq!(metric(&metrics(&app).await, "switchboard_webhook_events_failed_waiting"), 0.0);
    let again = app.post(&format!("/v1/webhook-events/{id}/retry"), &owner.access, json!({})).await;
    assert_eq!((again.status, again.code()), (StatusCode::NOT_FOUND, "not_found"));
}

/// Events are processed several to a transaction; one that fails among them costs the others
/// nothing: they land once each, in the change log consoles pull, and only the failing one waits
/// for its retry with its reason.
async fn a_failing_webhook_among_others_processed_together_holds_none_of_them_back((app, _fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "batch").await;
    for (id, from, body) in [("wamid.first", "447700900201", "First"), ("wamid.broken", "447700900202", "Broken"), ("wamid.third", "447700900203", "Third")] {
        let webhook = notification(PHONE_ID, Value::Null, json!([text(id, from, body)]), Value::Null);
        assert_eq!(post_whatsapp_signed(&app, &webhook, &secret).await.0, StatusCode::OK);
    }
    sqlx::query("UPDATE webhook_events SET payload = 'not a notification' WHERE business_id = $1 AND payload LIKE '%wamid.broken%'")
        .bind(&owner.business_id)
        .execute(app.db.writer())
        .await
        .unwrap();
    let last_seq = app.last_seq(&owner.business_id).await;

    app.drain().await;

    let mut bodies: Vec<Value> = messages_of(&app, &owner).await.iter().map(|m| m["body"].clone()).collect();
    bodies.sort_by_key(|b| b.to_string());
    assert_eq!(bodies, vec![json!("First"), json!("Third")]);
    let waiting = waiting_events(&app, &owner.business_id).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].0, 1);
    assert!(waiting[0].1.as_deref().is_some_and(|e| !e.is_empty()), "{waiting:?}");
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NOT NULL", &owner.business_id).await, 2);
    // Consoles see both messages and their conversations, with seqs after the ones they had.
    let changes = app.changes(&owner.business_id).await;
    let new: Vec<&(i64, String, String)> = changes.iter().filter(|(seq, _, _)| *seq > last_seq).collect();
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "message").count(), 2, "{new:?}");
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "conversation").count(), 2, "{new:?}");
    assert_eq!(changes.last().map(|c| c.0), Some(app.last_seq(&owner.business_id).await));
    // A redelivery of a processed one is still one message.
    let again = notification(PHONE_ID, Value::Null, json!([text("wamid.first", "447700900201", "First")]), Value::Null);
    assert_eq!(post_whatsapp_signed(&app, &again, &secret).await.0, StatusCode::OK);
    app.drain().await;
    assert_eq!(messages_of(&app, &owner).await.len(), 2);
}

/// Plain text messages processed together (set-wise: a few statements for the whole batch) land
/// as they would one by one: a known customer's in their open conversation, two new customers
/// made once each however many messages they sent, a message delivered twice in one batch
/// stored once, each conversation's unread count, preview and waiting-for-a-person state right,
/// and consoles see each message once, in their order.
async fn plain_texts_processed_together_land_as_one_by_one((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("together").await;
    quiet_assistant(&app, &owner).await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let known = app.post("/v1/customers", &owner.access, json!({"name": "Kim", "phone": "+447911200301", "whatsapp_id": "447911200301"})).await;
    assert_eq!(known.status, StatusCode::CREATED, "{known:?}");
    let known = known.body["id"].as_str().unwrap().to_owned();
    let send = |id: &'static str, from: &'static str, name: &'static str, body: &'static str| {
        let app = &app;
        let secret = secret.clone();
        async move {
            let contacts = json!([{"profile": {"name": name}, "wa_id": from}]);
            let webhook = notification(PHONE_ID, contacts, json!([text(id, from, body)]), Value::Null);
            assert_eq!(post_whatsapp_signed(app, &webhook, &secret).await.0, StatusCode::OK);
        }
    };
    send("wamid.k0", "447911200301", "Kim", "Hello").await;
    app.drain().await;
    let last_seq = app.last_seq(&owner.business_id).await;

    // One batch: the known customer twice, a new one twice (one of them delivered again with
    // another body, as a retried delivery may be), another new one once.
    send("wamid.k1", "447911200301", "Kim", "Hi again").await;
    send("wamid.n1a", "447911200302", "Noa", "Are you open today?").await;
    send("wamid.n2", "447911200303", "Ola", "Hi").await;
    send("wamid.n1b", "447911200302", "Noa", "Around 5?").await;
    send("wamid.n1a", "447911200302", "Noa ", "Are you open today?").await;
    send("wamid.k2", "447911200301", "Kim", "Thanks").await;
    app.drain().await;

    let customers = app.get("/v1/customers", &owner.access).await;
    let mut names: Vec<(String, String)> = customers.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap_or("").to_owned(), c["whatsapp_id"].as_str().unwrap_or("").to_owned()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![("Kim".into(), "447911200301".into()), ("Noa".into(), "447911200302".into()), ("Ola".into(), "447911200303".into())],
        "{customers:?}"
    );
    let inbox = app.get("/v1/conversations", &owner.access).await;
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 3, "{inbox:?}");
    let mut seen: Vec<(String, i64, String, String)> = Vec::new();
    for c in items {
        let page = app.get(&format!("/v1/conversations/{}/messages", c["id"].as_str().unwrap()), &owner.access).await;
        let bodies: Vec<&str> = page.body["items"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap()).collect();
        assert_eq!(c["last_message_preview"].as_str(), bodies.last().copied(), "{c:?}");
        assert_eq!(c["mode"], "needs_human", "the assistant is off: a person answers ({c:?})");
        assert_eq!(c["reply_window"]["free_text"], true, "{c:?}");
        seen.push((bodies.join(" / "), c["unread_count"].as_i64().unwrap(), c["status"].as_str().unwrap().to_owned(), c["customer_id"].as_str().unwrap().to_owned()));
    }
    seen.sort();
    assert_eq!(seen[0].0, "Are you open today? / Around 5?");
    assert_eq!(seen[0].1, 2);
    assert_eq!((seen[1].0.as_str(), seen[1].1), ("Hello / Hi again / Thanks", 3));
    assert_eq!(seen[1].3, known);
    assert_eq!((seen[2].0.as_str(), seen[2].1), ("Hi", 1));
    assert!(seen.iter().all(|s| s.2 == "open"), "{seen:?}");
    // Replies go out from the number they wrote to.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations WHERE business_id = $1 AND channel_address = '109876543210'", &owner.business_id).await, 3);
    // Every event is done, none failed; consoles see each new message once and each conversation.
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND (processed_at IS NULL OR last_error IS NOT NULL)", &owner.business_id).await, 0);
    let changes = app.changes(&owner.business_id).await;
    let new: Vec<&(i64, String, String)> = changes.iter().filter(|(seq, _, _)| *seq > last_seq).collect();
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "message").count(), 5, "{new:?}");
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "customer").count(), 2, "{new:?}");
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "conversation").count(), 3, "{new:?}");
    assert_eq!(changes.last().map(|c| c.0), Some(app.last_seq(&owner.business_id).await));
}

/// A step takes texts in the transaction that lands them, but a photo's media is fetched first,
/// under a lease: texts and a photo arriving together each land once, the photo with its file,
/// and no event is left held.
async fn texts_and_a_photo_arriving_together_land_once_each((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("mixed").await;
    quiet_assistant(&app, &owner).await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let photo = json!({"from": "447911200502", "id": "wamid.photo", "timestamp": "1767225600", "type": "image",
                       "image": {"id": "MEDIA-9", "mime_type": "image/jpeg", "caption": "Like this?"}});
    for message in [text("wamid.t1", "447911200501", "Hello"), photo, text("wamid.t2", "447911200503", "Hi there")] {
        let webhook = notification(PHONE_ID, Value::Null, json!([message]), Value::Null);
        assert_eq!(post_whatsapp_signed(&app, &webhook, &secret).await.0, StatusCode::OK);
    }
    app.drain().await;

    let messages = messages_of(&app, &owner).await;
    let mut bodies: Vec<&str> = messages.iter().map(|m| m["body"].as_str().unwrap()).collect();
    bodies.sort();
    assert_eq!(bodies, vec!["Hello", "Hi there", "Like this?"]);
    let photo = messages.iter().find(|m| m["kind"] == "image").expect("the photo");
    assert!(photo["media"][0]["url"].as_str().is_some_and(|u| !u.is_empty()), "{photo}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND (processed_at IS NULL OR lease_until IS NOT NULL OR last_error IS NOT NULL)", &owner.business_id).await,
        0
    );
}

/// An event another instance holds (its lease not yet run out, as while that instance fetches its
/// media) is left to it: the others land, and it lands once its lease runs out — once.
async fn an_event_another_instance_holds_waits_for_its_lease_then_lands_once((app, _fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "held").await;
    quiet_assistant(&app, &owner).await;
    for (id, from, body) in [("wamid.free", "447911200601", "Free"), ("wamid.held", "447911200602", "Held")] {
        let webhook = notification(PHONE_ID, Value::Null, json!([text(id, from, body)]), Value::Null);
        assert_eq!(post_whatsapp_signed(&app, &webhook, &secret).await.0, StatusCode::OK);
    }
    sqlx::query("UPDATE webhook_events SET lease_until = received_at + 120000 WHERE business_id = $1 AND payload LIKE '%wamid.held%'")
        .bind(&owner.business_id)
        .execute(app.db.writer())
        .await
        .unwrap();
    app.drain().await;
    let bodies: Vec<Value> = messages_of(&app, &owner).await.iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("Free")]);

    // The other instance went away; its lease runs out.
    app.advance(Duration::from_secs(180));
    app.drain().await;
    let mut bodies: Vec<Value> = messages_of(&app, &owner).await.iter().map(|m| m["body"].clone()).collect();
    bodies.sort_by_key(|b| b.to_string());
    assert_eq!(bodies, vec![json!("Free"), json!("Held")]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await, 0);
}

/// A backlog larger than the old statements' limits and than a step's batch (1,200 texts from 150
/// new customers: a step's transactions each pass their rows as one JSON parameter, over three
/// steps) lands every message once, in order, with its text exactly as sent — quotes, backslashes, SQL and JSON look-alikes, accents, CJK and emoji —
/// except NUL, which no provider text keeps.
async fn a_large_batch_of_texts_with_awkward_characters_lands_exactly((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("awkward").await;
    quiet_assistant(&app, &owner).await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let body = |n: usize| format!("{n}: it's \"quoted\" \\ back\\slash\n'); DROP TABLE messages;-- $1 ? %_ {{\"a\": [1]}} ünïcödé 日本語 🙂\u{0}end");
    let last_seq = app.last_seq(&owner.business_id).await;
    const TEXTS: usize = 1_200;
    for n in 0..TEXTS {
        let from = format!("4479113{:05}", n % 150);
        let contacts = json!([{"profile": {"name": format!("Customer {}", n % 150)}, "wa_id": from}]);
        let webhook = notification(PHONE_ID, contacts, json!([text(&format!("wamid.awk{n}"), &from, &body(n))]), Value::Null);
        assert_eq!(post_whatsapp_signed(&app, &webhook, &secret).await.0, StatusCode::OK);
    }
    app.drain().await;

    let rows: Vec<(String, String)> = sqlx::query_as("SELECT provider_message_id, body FROM messages WHERE business_id = $1 AND direction = 'inbound'")
        .bind(&owner.business_id)
        .fetch_all(app.db.reader())
        .await
        .unwrap();
    assert_eq!(rows.len(), TEXTS);
    for (id, stored) in &rows {
        let n: usize = id.trim_start_matches("wamid.awk").parse().unwrap();
        assert_eq!(stored, &body(n).replace('\0', ""), "{id}");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers WHERE business_id = $1", &owner.business_id).await, 150);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations WHERE business_id = $1 AND unread_count = 8", &owner.business_id).await, 150);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND (processed_at IS NULL OR last_error IS NOT NULL)", &owner.business_id).await, 0);
    // Each conversation's preview is its last message's text.
    let inbox = app.get("/v1/conversations?limit=200", &owner.access).await;
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 150, "{inbox:?}");
    for c in items {
        let preview = c["last_message_preview"].as_str().unwrap();
        let n: usize = preview.split(':').next().unwrap().parse().unwrap();
        assert!(n >= TEXTS - 150, "{c:?}");
        assert_eq!(preview, body(n).replace('\0', "").chars().take(140).collect::<String>());
    }
    // Consoles see every message, customer and conversation.
    let changes = app.changes(&owner.business_id).await;
    let new: Vec<&(i64, String, String)> = changes.iter().filter(|(seq, _, _)| *seq > last_seq).collect();
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "message").count(), TEXTS);
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "customer").count(), 150);
    assert_eq!(new.iter().filter(|(_, entity, _)| entity == "conversation").count(), 150);
    assert_eq!(changes.last().map(|c| c.0), Some(app.last_seq(&owner.business_id).await));
}

/// A message that cannot be stored among plain texts processed together (here the database
/// refuses it) costs the others nothing: the batch is done again event by event, the others land
/// once each, and only that one waits for its retry with its reason — then lands once the cause
/// is gone.
async fn a_failing_text_among_texts_processed_together_holds_none_of_them_back((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("poison").await;
    quiet_assistant(&app, &owner).await;
    let secret = app_secret(&owner);
    connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    let poison = match app.engine {
        switchboard_testkit::Engine::Sqlite => vec![
            "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.provider_message_id = 'wamid.poison' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        switchboard_testkit::Engine::Postgres => vec![
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.provider_message_id = 'wamid.poison' THEN \
             RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    };
    for sql in poison {
        sqlx::query(sql).execute(app.db.writer()).await.unwrap();
    }
    for (id, from, body) in [
        ("wamid.a", "447911200401", "One"),
        ("wamid.poison", "447911200402", "Two"),
        ("wamid.b", "447911200403", "Three"),
        ("wamid.c", "447911200401", "Four"),
    ] {
        let webhook = notification(PHONE_ID, Value::Null, json!([text(id, from, body)]), Value::Null);
        assert_eq!(post_whatsapp_signed(&app, &webhook, &secret).await.0, StatusCode::OK);
    }
    app.drain().await;

    let mut bodies: Vec<String> = messages_of(&app, &owner).await.iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    bodies.sort();
    assert_eq!(bodies, vec!["Four", "One", "Three"]);
    let waiting = waiting_events(&app, &owner.business_id).await;
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0].0, 1);
    assert!(waiting[0].1.as_deref().is_some_and(|e| e.contains("refused by the test")), "{waiting:?}");

    // The cause is gone: the retry lands it, once; nothing else is stored twice.
    sqlx::query("DROP TRIGGER poison ON messages").execute(app.db.writer()).await.ok();
    sqlx::query("DROP TRIGGER poison").execute(app.db.writer()).await.ok();
    app.advance(Duration::from_secs(60));
    app.drain().await;
    let mut bodies: Vec<String> = messages_of(&app, &owner).await.iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    bodies.sort();
    assert_eq!(bodies, vec!["Four", "One", "Three", "Two"]);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers WHERE business_id = $1", &owner.business_id).await, 3);
}

}

on_both_engines! {

spawn = |e| spawn_with_fakes(e, |_| {});

/// Defect 3: a conversation with messages, a queued reply and the assistant's rows is deleted;
/// what was queued for it is never sent, and the customer's next message starts a new one.
async fn deleting_a_conversation_with_messages_outbox_and_assistant_rows_works((app, fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "delete").await;
    let on = app.patch("/v1/assistant", &owner.access, json!({"enabled": true})).await;
    assert_eq!(on.status, StatusCode::OK, "{on:?}");
    let conversation = whatsapp_customer(&app, &owner, "447700900777").await;
    let sends = fake.sends().len();
    assert!(sends >= 1, "the assistant answered");
    let queued = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "One moment please"})).await;
    assert_eq!(queued.status, StatusCode::CREATED, "{queued:?}");
    for table in ["outbox", "assistant_jobs"] {
        assert!(count(&app, &format!("SELECT COUNT(*) FROM {table} WHERE business_id = $1"), &owner.business_id).await > 0, "{table}");
    }

    let r = app.delete(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert!(r.status.is_success(), "{r:?}");
    assert_eq!(app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.code(), "not_found");
    for table in ["outbox", "assistant_jobs", "messages", "conversations"] {
        assert_eq!(count(&app, &format!("SELECT COUNT(*) FROM {table} WHERE business_id = $1"), &owner.business_id).await, 0, "{table}");
    }
    let state: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM assistant_state WHERE conversation_id = $1").bind(&conversation).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(state, 0);
    app.drain().await;
    assert_eq!(fake.sends().len(), sends, "the queued reply was not sent");
    let body = notification(PHONE_ID, Value::Null, json!([text("wamid.after-delete", "447700900777", "Hello again")]), Value::Null);
    assert_eq!(post_whatsapp_signed(&app, &body, &secret).await.0, StatusCode::OK);
    app.drain().await;
    let inbox = app.get("/v1/conversations", &owner.access).await;
    let items = inbox.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{inbox:?}");
    assert_ne!(items[0]["id"], conversation.as_str());
    let r = app.delete(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
}

}

on_both_engines! {

spawn = TestApp::spawn;

/// Defect 2: NUL in a JSON body, a path or a query string is a 4xx with a stable code on both
/// engines (PostgreSQL cannot store it), and nothing changes.
async fn nul_characters_in_bodies_paths_and_queries_get_a_4xx_and_change_nothing(app: TestApp) {
    let owner = app.signup("nul").await;
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ana"})).await;
    let customer = customer.body["id"].as_str().unwrap().to_owned();
    let seq = app.last_seq(&owner.business_id).await;
    let cases = [
        (Method::POST, "/v1/customers".to_owned(), Some(json!({"name": "A\u{0}na"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (Method::PATCH, format!("/v1/customers/{customer}"), Some(json!({"notes": "\u{0}"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (Method::PATCH, "/v1/business".to_owned(), Some(json!({"name": "Nul\u{0} Studio"})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (Method::POST, "/v1/services".to_owned(), Some(json!({"name": "Cut\u{0}", "duration_minutes": 30})), StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        (Method::GET, "/v1/customers/%00".to_owned(), None, StatusCode::BAD_REQUEST, "invalid_path"),
        (Method::GET, format!("/v1/customers/{customer}%00"), None, StatusCode::BAD_REQUEST, "invalid_path"),
        (Method::DELETE, "/v1/conversations/a%00b".to_owned(), None, StatusCode::BAD_REQUEST, "invalid_path"),
        (Method::GET, "/v1/customers?q=%00".to_owned(), None, StatusCode::BAD_REQUEST, "invalid_query"),
        (Method::GET, "/v1/conversations?cursor=x%00".to_owned(), None, StatusCode::BAD_REQUEST, "invalid_query"),
    ];
    for (method, path, body, status, code) in cases {
        let r = app.call(method.clone(), &path, Some(&owner.access), body).await;
        assert_eq!((r.status, r.code()), (status, code), "{method} {path}: {r:?}");
    }
    let r = app.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": "a\u{0}@example.com", "password": "x"}))).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{r:?}");
    assert_eq!(app.last_seq(&owner.business_id).await, seq, "nothing changed");
    // A backslash followed by "u0000" is text, not a NUL.
    let r = app.post("/v1/customers", &owner.access, json!({"name": "Literal \\u0000"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["name"], "Literal \\u0000");
}

/// Defect 4: dates and times at the edge of the calendar are a 422 with a stable code, never a 500.
async fn dates_at_the_edge_of_the_calendar_get_a_422(app: TestApp) {
    let owner = app.signup("far").await;
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": every_day("00:00", "24:00")})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await;
    let service = service.body["id"].as_str().unwrap().to_owned();
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ana"})).await;
    let customer = customer.body["id"].as_str().unwrap().to_owned();
    let seq = app.last_seq(&owner.business_id).await;
    for (path, code) in [
        ("/v1/bookings?from=9999-12-30&to=9999-12-31".to_owned(), "validation_failed"),
        ("/v1/bookings?from=0001-01-01&to=0001-01-02".to_owned(), "validation_failed"),
        ("/v1/bookings?from=9999-12-30T00:00:00Z&to=9999-12-31T00:00:00Z".to_owned(), "validation_failed"),
        (format!("/v1/availability?service_id={service}&from=9999-12-30&to=9999-12-31"), "validation_failed"),
        (format!("/v1/availability?service_id={service}&from=9999-12-31"), "validation_failed"),
        (format!("/v1/availability/check?service_id={service}&start=9999-12-31T23:30"), "invalid_time"),
        (format!("/v1/availability/check?service_id={service}&start=9999-12-31T23:30:00Z"), "invalid_time"),
    ] {
        let r = app.get(&path, &owner.access).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, code), "{path}: {r:?}");
    }
    for start in ["9999-12-31T23:30", "9999-12-31T23:30:00Z", "-009999-01-01T00:00:00Z", "1969-12-31T23:30"] {
        let r = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "start": start})).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"), "{start}: {r:?}");
    }
    let r = app.post("/v1/schedule-exceptions", &owner.access, json!({"date": "9999-12-31", "closed": true})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{r:?}");
    assert_eq!(app.last_seq(&owner.business_id).await, seq, "nothing changed");
    // The last days of the calendar still work.
    let r = app.get("/v1/bookings?from=2999-12-30&to=2999-12-31", &owner.access).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::OK, json!({"items": [], "next_cursor": null})), "{r:?}");
    let r = app.post("/v1/schedule-exceptions", &owner.access, json!({"date": "2999-12-31", "closed": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
}

/// Defect 10: only canonical IANA names are time zones; what a lookup would forgive is refused.
async fn time_zones_must_be_canonical_iana_names(app: TestApp) {
    let owner = app.signup("zones").await;
    for zone in ["localtime", "Factory", "europe/london", "utc", "posixrules", "right/UTC", "GB"] {
        let r = app.patch("/v1/business", &owner.access, json!({"timezone": zone})).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{zone}: {r:?}");
        let email = format!("zone-{}@example.com", switchboard_testkit::uuid_suffix());
        let r = app.call(Method::POST, "/v1/auth/signup", None, Some(json!({"business_name": "Z", "timezone": zone, "name": "Z", "email": email, "password": "correct horse battery"}))).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "signup in {zone}: {r:?}");
    }
    assert_eq!(app.get("/v1/business", &owner.access).await.body["timezone"], "Europe/London");
    for zone in ["America/Argentina/Salta", "UTC", "Asia/Kolkata"] {
        let r = app.patch("/v1/business", &owner.access, json!({"timezone": zone})).await;
        assert_eq!((r.status, r.body["timezone"].as_str()), (StatusCode::OK, Some(zone)), "{r:?}");
    }
}

/// Defect 6: a deactivated person's live socket closes within a second (4001); a role change
/// closes it too (4009), so the console reconnects with what the new role may see.
async fn a_deactivated_or_demoted_colleagues_socket_closes_within_a_second(app: TestApp) {
    let owner = app.signup("sockets").await;
    let agent = app.add_staff(&owner, "agent").await;
    let admin = app.add_staff(&owner, "admin").await;
    let mut agents = hello(&app, &agent.access).await;
    let mut admins = hello(&app, &admin.access).await;

    let off = app.delete(&format!("/v1/staff/{}", agent.staff_id), &owner.access).await;
    assert_eq!(off.status, StatusCode::OK, "{off:?}");
    assert_eq!(closed_within_a_second(&mut agents).await, protocol::close::AUTH_FAILED);
    let demoted = app.patch(&format!("/v1/staff/{}", admin.staff_id), &owner.access, json!({"role": "agent"})).await;
    assert_eq!(demoted.status, StatusCode::OK, "{demoted:?}");
    assert_eq!(closed_within_a_second(&mut admins).await, switchboard_cloud::live::ACCOUNT_CHANGED);
    // The deactivated account cannot come back on a socket either.
    let mut again = connect(&app).await;
    say(&mut again, &ClientFrame::Hello { token: agent.access.clone(), client_id: "again".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
    assert_eq!(closed_within_a_second(&mut again).await, protocol::close::AUTH_FAILED);
}

}

on_both_engines! {

spawn = |e| TestApp::spawn_with(e, |c| {
    c.header_read_timeout_ms = 300;
    c.body_read_timeout_ms = 300;
});

/// Defect 5: a half-sent request, a connection that says nothing and a body that stops half-way
/// are closed (or answered 408) after the configured timeouts, over real TCP.
async fn half_sent_requests_are_closed_after_the_header_timeout(app: TestApp) {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    // The request line and a header, but never the blank line that ends the head.
    let mut half = tokio::net::TcpStream::connect(addr).await.unwrap();
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: switchboard\r\n").await.unwrap();
    let answer = until_closed(&mut half).await;
    assert!(!answer.contains("200 OK"), "{answer}");
    // Nothing at all.
    let mut silent = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(until_closed(&mut silent).await, "");
    // A whole head, then half the body it announced.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"POST /v1/auth/login HTTP/1.1\r\nHost: switchboard\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":").await.unwrap();
    let answer = until_closed(&mut slow).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
    // Whoever sends a whole request in time is answered.
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
}

}

on_both_engines! {

spawn = |e| TestApp::spawn_with(e, |c| c.max_connections_per_address = 4);

/// Defect 5: one address holding its cap of connections (half-sent requests, within the header
/// timeout) has its next connection closed at once, while `/healthz` answers everyone else; a
/// connection given back makes room again.
async fn one_address_at_its_connection_cap_leaves_healthz_answering(app: TestApp) {
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let greedy: std::net::IpAddr = "127.0.0.2".parse().unwrap();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut c = connect_from(greedy, addr).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: switchboard\r\n").await.unwrap();
        held.push(c);
    }
    // Every held connection is counted before the next one is tried.
    let mut probe = connect_from(greedy, addr).await;
    probe.write_all(b"GET /healthz HTTP/1.1\r\nHost: switchboard\r\n\r\n").await.unwrap();
    assert_eq!(until_closed(&mut probe).await, "", "a fifth connection from the same address is closed unanswered");
    let r = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(r.status, StatusCode::OK, "another address is answered: {r:?}");
    // One given back: the address is answered again.
    drop(held.pop());
    app.eventually("the address has room again", || async {
        let mut c = connect_from(greedy, addr).await;
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: switchboard\r\nConnection: close\r\n\r\n").await.is_ok()
            && until_closed(&mut c).await.starts_with("HTTP/1.1 200")
    })
    .await;
    drop(held);
}

}

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Reads until the server closes the connection (10 s at most); what it sent.
async fn until_closed(stream: &mut tokio::net::TcpStream) -> String {
    let mut got = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the server kept the connection open");
    String::from_utf8_lossy(&got).into_owned()
}

/// A TCP connection to `to` from the loopback address `from`.
async fn connect_from(from: std::net::IpAddr, to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(std::net::SocketAddr::new(from, 0)).unwrap();
    socket.connect(to).await.unwrap()
}

/// Defect 7: the OpenAPI document says what the service does. Every `{name}` in a path template is
/// a declared path parameter and every declared path parameter is in its template (query
/// parameters are declared as query parameters); signed-in operations document 401, operations
/// taking JSON document 415; and the WebSocket route without an upgrade answers the JSON error
/// body it documents.
#[tokio::test]
async fn the_openapi_document_declares_parameters_where_they_are_and_the_answers_clients_get() {
    let app = TestApp::spawn(switchboard_testkit::Engine::Sqlite).await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await.body;
    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        let in_template: std::collections::BTreeSet<String> =
            template.split('{').skip(1).map(|rest| rest.split('}').next().unwrap().to_owned()).collect();
        for (method, op) in item.as_object().unwrap() {
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let declared: std::collections::BTreeSet<String> =
                params.iter().filter(|p| p["in"] == "path").map(|p| p["name"].as_str().unwrap().to_owned()).collect();
            assert_eq!(declared, in_template, "{method} {template}: path parameters declared {declared:?}, in the template {in_template:?}");
            for p in params.iter().filter(|p| p["in"] == "path") {
                assert_eq!(p["required"], true, "{method} {template}: path parameter {} must be required", p["name"]);
            }
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(op["responses"]["401"].is_object(), "{method} {template} does not document 401");
            }
            if op["requestBody"]["content"]["application/json"].is_object() {
                assert!(op["responses"]["415"].is_object(), "{method} {template} does not document 415");
                assert!(op["responses"]["422"].is_object(), "{method} {template} does not document 422");
            }
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} operations");
    // Query parameters of the list routes are query parameters.
    let bookings = &doc["paths"]["/v1/bookings"]["get"]["parameters"];
    assert!(bookings.as_array().unwrap().iter().any(|p| p["name"] == "from" && p["in"] == "query"), "{bookings}");

    let ws = app.client.get(format!("{}/v1/sync/ws", app.base)).send().await.unwrap();
    assert_eq!(ws.status(), StatusCode::BAD_REQUEST);
    assert!(ws.headers()["content-type"].to_str().unwrap().starts_with("application/json"), "{:?}", ws.headers());
    let body: Value = ws.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_body");
    assert!(doc["paths"]["/v1/sync/ws"]["get"]["responses"]["400"].is_object());
}

on_both_engines! {

spawn = TestApp::spawn;

/// Bad input, each kind the testers tried: NULs, invalid UTF-8, huge numbers, far dates, odd zones,
/// oversized and truncated bodies. Each is a 4xx with a stable code, and nothing changes.
async fn a_corpus_of_bad_input_gets_4xx_with_stable_codes(app: TestApp) {
    let owner = app.signup("corpus").await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await;
    let service = service.body["id"].as_str().unwrap().to_owned();
    let seq = app.last_seq(&owner.business_id).await;
    let huge = format!("{{\"name\": \"{}\"}}", "x".repeat(app.config.max_body_bytes + 1));
    let corpus: Vec<(&str, String, Option<Vec<u8>>, u16, &str)> = vec![
        // NULs
        ("POST", "/v1/customers".into(), Some(b"{\"name\": \"\\u0000\"}".to_vec()), 422, "validation_failed"),
        ("GET", "/v1/customers/%00".into(), None, 400, "invalid_path"),
        ("GET", "/v1/customers?q=a%00".into(), None, 400, "invalid_query"),
        // Invalid UTF-8
        ("POST", "/v1/customers".into(), Some(b"{\"name\": \"\xff\xfe\"}".to_vec()), 400, "invalid_json"),
        ("GET", "/v1/customers/%FF%FE".into(), None, 400, "invalid_path"),
        ("GET", "/v1/customers?q=%C3%28".into(), None, 400, "invalid_query"),
        // Huge numbers
        ("POST", "/v1/services".into(), Some(b"{\"name\": \"Cut\", \"duration_minutes\": 99999999999999999999999}".to_vec()), 422, "validation_failed"),
        ("POST", "/v1/services".into(), Some(b"{\"name\": \"Cut\", \"duration_minutes\": 1e999}".to_vec()), 400, "invalid_json"),
        ("POST", "/v1/services".into(), Some(b"{\"name\": \"Cut\", \"duration_minutes\": 4294967296}".to_vec()), 422, "validation_failed"),
        ("GET", "/v1/customers?limit=99999999999999999999".into(), None, 400, "invalid_query"),
        ("GET", "/v1/sync/pull?cursor=99999999999999999999999".into(), None, 400, "invalid_query"),
        // Far dates
        ("GET", "/v1/bookings?from=9999-12-30&to=9999-12-31".into(), None, 422, "validation_failed"),
        ("GET", format!("/v1/availability/check?service_id={service}&start=9999-12-31T23:30"), None, 422, "invalid_time"),
        ("GET", format!("/v1/availability?service_id={service}&from=-9999-01-01"), None, 422, "validation_failed"),
        // Odd zones
        ("PATCH", "/v1/business".into(), Some(b"{\"timezone\": \"localtime\"}".to_vec()), 422, "validation_failed"),
        ("PATCH", "/v1/business".into(), Some(b"{\"timezone\": \"europe/london\"}".to_vec()), 422, "validation_failed"),
        // Oversized and truncated bodies
        ("POST", "/v1/customers".into(), Some(huge.into_bytes()), 413, "payload_too_large"),
        ("POST", "/v1/customers".into(), Some(b"{\"name\": \"Ana".to_vec()), 400, "invalid_json"),
        ("POST", "/v1/customers".into(), Some(Vec::new()), 400, "invalid_json"),
    ];
    for (method, path, body, status, code) in corpus {
        let mut req = app.client.request(Method::from_bytes(method.as_bytes()).unwrap(), format!("{}{path}", app.base)).bearer_auth(&owner.access);
        if let Some(body) = body {
            req = req.header("content-type", "application/json").body(body);
        }
        let res = req.send().await.unwrap();
        let got = res.status().as_u16();
        let text = res.text().await.unwrap();
        let answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not the JSON error body: {got} {text}"));
        assert_eq!((got, answer["error"]["code"].as_str().unwrap_or("")), (status, code), "{method} {}: {text}", &path[..path.len().min(80)]);
    }
    assert_eq!(app.last_seq(&owner.business_id).await, seq, "nothing changed");
}

}

async fn hello(app: &TestApp, token: &str) -> Socket {
    let mut socket = connect(app).await;
    say(&mut socket, &ClientFrame::Hello { token: token.into(), client_id: format!("device-{}", switchboard_testkit::uuid_suffix()).as_str().into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                if let ServerFrame::Welcome { .. } = serde_json::from_str(&t).unwrap() {
                    return socket;
                }
            }
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected welcome, got {other:?}"),
        }
    }
}

/// The close code the server sends within a second (presence frames before it are skipped).
async fn closed_within_a_second(socket: &mut Socket) -> u16 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(1);
    loop {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame.code.into(),
            Ok(Some(Ok(_))) => continue,
            Err(_) => panic!("the socket was still open a second later"),
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

/// A WhatsApp text from the reproducer's number.
fn text_msg(n: usize, body: &str) -> Value {
    text(&format!("wamid.conflict-{n}"), "447911200777", body)
}

/// A request from `client` as a reverse proxy on the loopback address forwards it.
async fn via_proxy(app: &TestApp, client: &str, path: &str, body: Value) -> (StatusCode, Option<String>, Value) {
    let res = app.client.post(format!("{}{path}", app.base)).header("x-forwarded-for", client).json(&body).send().await.unwrap();
    let status = res.status();
    let retry = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

fn signup_body(email: &str) -> Value {
    json!({"business_name": "Limit Studio", "timezone": "Europe/London", "name": "Limit Owner", "email": email, "password": "correct horse battery"})
}

fn login_body(email: &str, password: &str) -> Value {
    json!({"email": email, "password": password})
}

on_both_engines! {

spawn = |e| TestApp::spawn_with(e, |c| {
    c.signups_per_address_per_hour = 3;
    c.trusted_proxies = "127.0.0.1".into();
});

/// Issue 12: sign-ups are limited per client address; behind a trusted proxy each client keeps its
/// own limit (the proxy's `X-Forwarded-For`); a refused sign-up creates nothing, and the limit
/// lifts as the service's clock moves (no waiting in the test).
async fn signups_are_limited_per_client_address_behind_a_trusted_proxy(app: TestApp) {
    let email = |n: u32| format!("signup-{n}-{}@example.com", switchboard_testkit::uuid_suffix());
    for n in 0..3 {
        let (status, _, body) = via_proxy(&app, "203.0.113.1", "/v1/auth/signup", signup_body(&email(n))).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let refused = email(3);
    let (status, retry, body) = via_proxy(&app, "203.0.113.1", "/v1/auth/signup", signup_body(&refused)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "{body}");
    assert_eq!(retry.as_deref(), Some("1200"), "one sign-up per 20 minutes once the three are spent");
    let r = app.call(Method::POST, "/v1/auth/login", None, Some(login_body(&refused, "correct horse battery"))).await;
    assert_eq!(r.code(), "invalid_credentials", "the refused sign-up made no account");
    // Another client behind the same proxy has its own limit.
    let (status, _, body) = via_proxy(&app, "203.0.113.2", "/v1/auth/signup", signup_body(&email(4))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // A client cannot escape its limit by writing its own X-Forwarded-For: the proxy appends the
    // address it saw, and that right-most untrusted one counts.
    let (status, _, _) = via_proxy(&app, "198.51.100.9, 203.0.113.1", "/v1/auth/signup", signup_body(&email(5))).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    app.advance(Duration::from_secs(20 * 60));
    let (status, _, body) = via_proxy(&app, "203.0.113.1", "/v1/auth/signup", signup_body(&email(6))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

}

on_both_engines! {

spawn = |e| TestApp::spawn_guessable(e, 3);

/// Issue 12: hammering a known email does not lock its owner out. One address guessing is
/// limited on its own; many addresses guessing spend the account's soft limit, which then holds
/// back new addresses but not the one the owner signed in from; a minute later (the service's
/// clock) new addresses get in again.
async fn hammering_a_known_email_does_not_lock_its_owner_out(app: TestApp) {
    let owner = app.signup("hammered").await;
    let desk = "198.51.100.7";
    let (status, _, body) = via_proxy(&app, desk, "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // One attacker: three wrong guesses, then refused, even with the right password.
    for _ in 0..3 {
        let (status, _, _) = via_proxy(&app, "203.0.113.66", "/v1/auth/login", login_body(&owner.email, "guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, retry, _) = via_proxy(&app, "203.0.113.66", "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!((status, retry.as_deref()), (StatusCode::TOO_MANY_REQUESTS, Some("20")));
    let (status, _, _) = via_proxy(&app, desk, "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!(status, StatusCode::OK, "the owner is not locked out by one attacker");
    // Many attackers: the owner's first sign-in and the first attacker's three counted towards the
    // account's five (the desk's later ones did not: it is known); one more address spends them.
    let (status, _, _) = via_proxy(&app, "203.0.113.1", "/v1/auth/login", login_body(&owner.email, "guess")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, body) = via_proxy(&app, "192.0.2.50", "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("rate_limited")), "a new address waits");
    let (status, _, body) = via_proxy(&app, desk, "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!(status, StatusCode::OK, "the owner's own address still signs in: {body}");
    // Another account is not held back by this one's limit.
    let other = app.signup("bystander").await;
    let (status, _, _) = via_proxy(&app, "192.0.2.50", "/v1/auth/login", login_body(&other.email, &other.password)).await;
    assert_eq!(status, StatusCode::OK);
    app.advance(Duration::from_secs(60));
    let (status, _, body) = via_proxy(&app, "192.0.2.50", "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!(status, StatusCode::OK, "a minute later: {body}");
}

}

on_both_engines! {

spawn = |e| TestApp::spawn_with(e, |c| c.login_attempts_per_address_per_minute = 3);

/// Issue 12: with no trusted proxy (the default), `X-Forwarded-For` is the client's own claim and
/// is ignored: the peer's address is limited whatever the header says.
async fn without_a_trusted_proxy_forwarded_addresses_are_ignored(app: TestApp) {
    let owner = app.signup("direct").await;
    for n in 0..3 {
        let (status, _, _) = via_proxy(&app, &format!("203.0.113.{n}"), "/v1/auth/login", login_body(&owner.email, "guess")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _, _) = via_proxy(&app, "203.0.113.99", "/v1/auth/login", login_body(&owner.email, &owner.password)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}

}
