//! WhatsApp and SMS end to end: signed webhooks in, the outbox out, against a local fake of the
//! Graph API and Twilio's REST API, on SQLite and PostgreSQL.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::fakes::{FakeProviders, Scripted, TWILIO_SID, TWILIO_TOKEN, WHATSAPP_TOKEN};
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, TestApp};

on_both_engines! {

spawn = TestApp::spawn;

async fn channel_setup_keeps_secrets_secret(app: TestApp) {
    let owner = app.signup("chan").await;
    let agent = app.add_staff(&owner, "agent").await;
    let secret = app_secret(&owner);
    let r = connect_whatsapp(&app, &agent, PHONE_ID, &secret).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = connect_whatsapp(&app, &owner, PHONE_ID, &secret).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["health"], "unknown");
    assert_eq!(r.body["settings"]["phone_number_id"], PHONE_ID);
    let listed = app.get("/v1/channels", &agent.access).await;
    let text = listed.body.to_string();
    for s in [WHATSAPP_TOKEN, secret.as_str()] {
        assert!(!text.contains(s), "a secret was returned: {text}");
    }
    let stored: String = sqlx::query_scalar("SELECT secrets FROM channels WHERE business_id = $1").bind(&owner.business_id).fetch_one(app.db.reader()).await.unwrap();
    assert!(!stored.contains(WHATSAPP_TOKEN) && !stored.contains(&secret), "secrets are encrypted at rest");
    let other = app.signup("chan-other").await;
    let r = connect_whatsapp(&app, &other, PHONE_ID, "x").await;
    assert_eq!(r.code(), "address_in_use");
    let r = connect_twilio(&app, &owner, "+14155550100").await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!(r.body["settings"]["numbers"], json!(["+14155550100"]));
    assert!(!r.body.to_string().contains(TWILIO_TOKEN));
    for sid in ["nope", "AC", "ACxyz", "AC0000000000000000000000000000000", "AC0000000000000000000000000000000g"] {
        let r = app.call(Method::PUT, "/v1/channels/twilio", Some(&owner.access), Some(json!({"account_sid": sid, "auth_token": "x", "numbers": ["+14155550100"]}))).await;
        assert_eq!(r.code(), "validation_failed", "{sid}");
    }
}

async fn whatsapp_webhooks_are_verified_before_anything_is_stored(app: TestApp) {
    let (owner, secret) = whatsapp_owner(&app, "verify").await;
    let challenge = app.call(Method::GET, &format!("/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=verify-{secret}&hub.challenge=1158201444"), None, None).await;
    assert_eq!((challenge.status, challenge.body.clone()), (StatusCode::OK, json!(1158201444)), "{challenge:?}");
    let wrong = app.call(Method::GET, "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1", None, None).await;
    assert_eq!(wrong.status, StatusCode::FORBIDDEN);

    let body = notification(PHONE_ID, Value::Null, json!([text("wamid.A1", "447700000001", "hello")]), Value::Null);
    let (status, _) = post_whatsapp(&app, &body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "missing signature");
    let (status, _) = post_whatsapp(&app, &body, Some(sign_meta("not the app secret", &serde_json::to_vec(&body).unwrap()))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "forged signature");
    // Signed, then altered in transit.
    let signed = sign_meta(&secret, &serde_json::to_vec(&body).unwrap());
    let altered = notification(PHONE_ID, Value::Null, json!([text("wamid.A1", "447700000001", "hellO")]), Value::Null);
    let (status, _) = post_whatsapp(&app, &altered, Some(signed)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "altered body");
    let (status, _) = post_whatsapp(&app, &json!({"not": "whatsapp"}), Some(sign_meta(&secret, b"{\"not\":\"whatsapp\"}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1", &owner.business_id).await, 0);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE business_id = $1", &owner.business_id).await, 0);

    let (status, ack) = post_whatsapp_signed(&app, &body, &secret).await;
    assert_eq!((status, ack.as_str()), (StatusCode::OK, "EVENT_RECEIVED"));
    app.settled("the message is in the inbox", || async { messages_of(&app, &owner).await.len() == 1 }).await;
}

async fn every_kind_of_whatsapp_message_lands_in_the_inbox(app: TestApp) {
    let (owner, secret) = whatsapp_owner(&app, "kinds").await;
    let now = jiff::Timestamp::now().as_second().to_string();
    let from = "447911123455";
    let bsuid = "GB.1234567890123456789";
    let messages = json!([
        {"from": from, "id": "wamid.k1", "timestamp": now, "type": "text", "text": {"body": "Hi there"}},
        {"from": from, "id": "wamid.k3", "timestamp": now, "type": "location", "location": {"latitude": 51.5, "longitude": -0.12, "name": "Studio", "address": "1 High St"}},
        {"from": from, "id": "wamid.k4", "timestamp": now, "type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "yes", "title": "Yes, book it"}}},
        {"from": from, "id": "wamid.k5", "timestamp": now, "type": "reaction", "reaction": {"message_id": "wamid.k1", "emoji": "👍"}},
        {"from": from, "id": "wamid.k6", "timestamp": now, "type": "order", "order": {"catalog_id": "1", "product_items": []}},
        {"from": from, "id": "wamid.k7", "timestamp": now, "type": "contacts", "contacts": [{"name": {"formatted_name": "Ana B"}, "phones": [{"phone": "+44 7911 123456"}]}]},
        {"from": bsuid, "id": "wamid.k8", "timestamp": now, "type": "text", "text": {"body": "I hide my number"}},
    ]);
    let contacts = json!([{"profile": {"name": "Priya"}, "wa_id": from}, {"profile": {"name": "Hidden Hana"}, "user_id": bsuid}]);
    let (status, _) = post_whatsapp_signed(&app, &notification(PHONE_ID, contacts, messages, Value::Null), &secret).await;
    assert_eq!(status, StatusCode::OK);
    app.settled("seven messages", || async { messages_of(&app, &owner).await.len() == 7 }).await;
    let all = messages_of(&app, &owner).await;
    let kinds: std::collections::BTreeSet<&str> = all.iter().map(|m| m["kind"].as_str().unwrap()).collect();
    for k in ["text", "location", "reply", "reaction", "unsupported", "contacts"] {
        assert!(kinds.contains(k), "{k} missing: {kinds:?}");
    }
    let unsupported = all.iter().find(|m| m["kind"] == "unsupported").unwrap();
    assert!(unsupported["body"].as_str().unwrap().contains("order"));
    let raw: Option<String> = sqlx::query_scalar("SELECT raw FROM messages WHERE provider_message_id = 'wamid.k6'").fetch_one(app.db.reader()).await.unwrap();
    assert!(raw.unwrap().contains("catalog_id"), "the unknown payload is kept");
    assert!(all.iter().any(|m| m["body"] == "Yes, book it"));
    let customers = app.get("/v1/customers", &owner.access).await;
    let customers = customers.body["items"].as_array().unwrap();
    let priya = customers.iter().find(|c| c["name"] == "Priya").unwrap();
    assert_eq!((priya["phone"].as_str(), priya["whatsapp_id"].as_str()), (Some("+447911123455"), Some(from)));
    let hana = customers.iter().find(|c| c["name"] == "Hidden Hana").unwrap();
    assert_eq!((hana["phone"].clone(), hana["whatsapp_id"].as_str()), (Value::Null, Some(bsuid)), "a business-scoped id, no number");
    // One open conversation per customer and channel.
    assert_eq!(app.get("/v1/conversations", &owner.access).await.body["items"].as_array().unwrap().len(), 2);
}

async fn a_webhook_delivered_five_times_at_once_is_one_message(app: TestApp) {
    let (owner, secret) = whatsapp_owner(&app, "dup").await;
    let body = notification(PHONE_ID, json!([{"profile": {"name": "Dup"}, "wa_id": "447700900557"}]), json!([text("wamid.dup", "447700900557", "once")]), Value::Null);
    let mut tasks = Vec::new();
    for _ in 0..5 {
        let raw = serde_json::to_vec(&body).unwrap();
        let sig = sign_meta(&secret, &raw);
        let req = app.client.post(format!("{}/webhooks/whatsapp", app.base)).header("x-hub-signature-256", sig).body(raw);
        tasks.push(tokio::spawn(async move { req.send().await.unwrap().status() }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::OK);
    }
    // The same message inside a different delivery (a retry with another body) is still one.
    let other_body = notification(PHONE_ID, Value::Null, json!([text("wamid.dup", "447700900557", "once")]), json!([{"id": "wamid.unknown", "status": "read", "timestamp": "1", "recipient_id": "1"}]));
    post_whatsapp_signed(&app, &other_body, &secret).await;
    app.settled("all events processed", || async {
        count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await == 0
    }).await;
    assert_eq!(messages_of(&app, &owner).await.len(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers WHERE business_id = $1", &owner.business_id).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM conversations WHERE business_id = $1", &owner.business_id).await, 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND last_error IS NOT NULL", &owner.business_id).await, 0, "a status for an unknown message does not fail the batch");
}

async fn one_delivery_for_two_businesses_is_split_and_must_be_signed_for_both(app: TestApp) {
    let a = app.signup("split-a").await;
    let b = app.signup("split-b").await;
    // One Meta app serving two businesses: the same app secret.
    connect_whatsapp(&app, &a, "111", "shared-secret").await;
    connect_whatsapp(&app, &b, "222", "shared-secret").await;
    let mut body = notification("111", Value::Null, json!([text("wamid.a", "447700900560", "for A")]), Value::Null);
    let second = notification("222", Value::Null, json!([text("wamid.b", "447700900561", "for B")]), Value::Null);
    body["entry"].as_array_mut().unwrap().push(second["entry"][0].clone());
    let (status, _) = post_whatsapp_signed(&app, &body, "shared-secret").await;
    assert_eq!(status, StatusCode::OK);
    app.settled("both delivered", || async { messages_of(&app, &a).await.len() == 1 && messages_of(&app, &b).await.len() == 1 }).await;
    assert_eq!(messages_of(&app, &a).await[0]["body"], "for A");
    assert_eq!(messages_of(&app, &b).await[0]["body"], "for B");
    // A business with its own secret cannot be written to with someone else's signature.
    let c = app.signup("split-c").await;
    connect_whatsapp(&app, &c, "333", "c-secret").await;
    let mut mixed = notification("111", Value::Null, json!([text("wamid.a2", "447700900560", "again")]), Value::Null);
    let for_c = notification("333", Value::Null, json!([text("wamid.c", "447700900562", "sneaky")]), Value::Null);
    mixed["entry"].as_array_mut().unwrap().push(for_c["entry"][0].clone());
    let (status, _) = post_whatsapp_signed(&app, &mixed, "shared-secret").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1", &c.business_id).await, 0);
}

async fn text_and_names_with_nul_characters_still_land(app: TestApp) {
    // PostgreSQL refuses U+0000 in text; a customer's phone may still put one in.
    let (owner, secret) = whatsapp_owner(&app, "nul").await;
    connect_twilio(&app, &owner, "+14155550100").await;
    let contacts = json!([{"profile": {"name": "Nu\u{0}la"}, "wa_id": "447700900595"}]);
    let body = notification(PHONE_ID, contacts, json!([text("wamid.nul", "447700900595", "Hello\u{0} there")]), Value::Null);
    let (status, _) = post_whatsapp_signed(&app, &body, &secret).await;
    assert_eq!(status, StatusCode::OK);
    let sms = [("MessageSid", "SMnul"), ("From", "+14155550196"), ("To", "+14155550100"), ("Body", "Can I\u{0} book?"), ("ProfileName", "\u{0}Sam"), ("NumMedia", "0")];
    let (status, _) = post_twilio(&app, "/webhooks/twilio", &sms, TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    app.settled("both messages land", || async { messages_of(&app, &owner).await.len() == 2 }).await;
    let bodies: std::collections::BTreeSet<String> = messages_of(&app, &owner).await.iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect();
    assert_eq!(bodies, ["Can I book?".to_owned(), "Hello there".to_owned()].into());
    let customers = app.get("/v1/customers", &owner.access).await;
    let names: std::collections::BTreeSet<&str> = customers.body["items"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Nula", "Sam"].into());
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND last_error IS NOT NULL", &owner.business_id).await, 0);
}

}

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

async fn whatsapp_media_is_fetched_and_kept((app, fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "media").await;
    post_whatsapp_photo(&app, &secret, "447700900556", "wamid.img", "MEDIA-42", "My hair now").await;
    app.settled("the photo arrives", || async { messages_of(&app, &owner).await.len() == 1 }).await;
    let message = messages_of(&app, &owner).await.remove(0);
    assert_eq!((message["kind"].as_str(), message["body"].as_str()), (Some("image"), Some("My hair now")));
    let url = message["media"][0]["url"].as_str().expect("media kept");
    assert_eq!(message["media"][0]["content_type"], "image/jpeg");
    let res = app.client.get(format!("{}{url}", app.base)).bearer_auth(&owner.access).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"JPEG-BYTES-MEDIA-42");
    let other = app.signup("media-other").await;
    assert_eq!(app.get(url, &other.access).await.status, StatusCode::NOT_FOUND);
    assert!(fake.received().iter().any(|r| r.path == "/MEDIA-42" && r.authorization == format!("Bearer {WHATSAPP_TOKEN}")));
}

async fn a_reply_is_sent_once_and_its_statuses_only_move_forward((app, fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "reply").await;
    let conversation = whatsapp_customer(&app, &owner, "447700900570").await;
    let client_id = uuid::Uuid::now_v7().to_string();
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Yes, we have 10:00 free", "client_message_id": client_id})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
    assert_eq!((sent.body["delivery_status"].as_str(), sent.body["author_kind"].as_str()), (Some("pending"), Some("staff")));
    // A retry of the same request sends nothing more.
    let again = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Yes, we have 10:00 free", "client_message_id": client_id})).await;
    assert_eq!((again.status, again.body["id"].as_str()), (StatusCode::OK, Some(client_id.as_str())));
    app.settled("sent", || async { message(&app, &owner, &conversation, &client_id).await["delivery_status"] == "sent" }).await;
    let sends = fake.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].body["to"], "447700900570");
    assert_eq!(sends[0].body["text"]["body"], "Yes, we have 10:00 free");
    assert_eq!(sends[0].authorization, format!("Bearer {WHATSAPP_TOKEN}"));
    let wamid = message(&app, &owner, &conversation, &client_id).await["provider_message_id"].as_str().unwrap().to_owned();
    // Statuses out of order: read, then the late delivered and sent. Read stands. A status that
    // names the customer's own message moves nothing (only what we sent is delivered).
    for (id, status) in [(wamid.as_str(), "read"), (wamid.as_str(), "delivered"), (wamid.as_str(), "sent"), ("wamid.in-447700900570", "read")] {
        let body = notification(PHONE_ID, Value::Null, Value::Null, json!([{"id": id, "status": status, "timestamp": "1", "recipient_id": "447700900570"}]));
        post_whatsapp_signed(&app, &body, &secret).await;
    }
    app.settled("statuses processed", || async {
        count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await == 0
    }).await;
    assert_eq!(message(&app, &owner, &conversation, &client_id).await["delivery_status"], "read");
    let page = app.get(&format!("/v1/conversations/{conversation}/messages"), &owner.access).await;
    let theirs = page.body["items"].as_array().unwrap().iter().find(|m| m["provider_message_id"] == "wamid.in-447700900570").cloned().unwrap();
    assert_eq!(theirs["delivery_status"], "received", "{theirs}");
    let channels = app.get("/v1/channels", &owner.access).await;
    assert_eq!(channels.body["items"][0]["health"], "ok");
    // A provider that gives an id twice (a sandbox started again on the same data did): the
    // second message is sent all the same, not failed later as "interrupted"; the first keeps
    // its id and its status.
    fake.script([Scripted::AcceptAs(wamid.clone())]);
    let again = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "See you at 10"})).await;
    let again = again.body["id"].as_str().unwrap().to_owned();
    app.settled("sent", || async { message(&app, &owner, &conversation, &again).await["delivery_status"] == "sent" }).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM outbox WHERE business_id = $1 AND status <> 'sent'", &owner.business_id).await, 0);
    let first = message(&app, &owner, &conversation, &client_id).await;
    assert_eq!((first["provider_message_id"].as_str(), first["delivery_status"].as_str()), (Some(wamid.as_str()), Some("read")));
}

async fn a_send_that_times_out_is_retried_and_delivered_once((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("timeout").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900571").await;
    fake.script([Scripted::Hang(Duration::from_secs(3)), Scripted::Fail(503, json!({"error": {"code": 2, "message": "Service temporarily unavailable"}}))]);
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Are you still there?"})).await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    app.pass(Duration::from_secs(5)).await;
    app.settled("sent after retries", || async { message(&app, &owner, &conversation, &id).await["delivery_status"] == "sent" }).await;
    assert_eq!(fake.sends().len(), 3, "timed out, 503, then accepted");
    assert_eq!(fake.accepted(), 1, "delivered once");
    let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM outbox WHERE message_id = $1").bind(&id).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(attempts, 3);
}

async fn permanent_failures_show_why_and_the_window_needs_a_template((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("perm").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900572").await;
    fake.script([Scripted::Fail(400, json!({"error": {"code": 131026, "message": "Message undeliverable"}}))]);
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Hello"})).await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    app.settled("failed", || async { message(&app, &owner, &conversation, &id).await["delivery_status"] == "failed" }).await;
    let failed = message(&app, &owner, &conversation, &id).await;
    assert!(failed["error"].as_str().unwrap().contains("cannot receive WhatsApp"), "{failed}");
    assert_eq!(fake.sends().len(), 1, "a permanent error is not retried");

    // 25 hours after the customer last wrote, free text is refused before calling Meta.
    app.advance(Duration::from_secs(25 * 3600));
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Hello again"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "whatsapp_window_closed"));
    assert_eq!(fake.sends().len(), 1);
    let template = app.post("/v1/whatsapp-templates", &owner.access, json!({"name": "appointment_reminder", "language": "en_GB", "body": "Hi {{1}}, see you at {{2}}."})).await;
    assert_eq!(template.body["variables"], 2);
    let t_id = template.body["id"].as_str().unwrap();
    let r = app.post(&format!("/v1/conversations/{conversation}/template-messages"), &owner.access, json!({"template_id": t_id, "variables": ["Sam"]})).await;
    assert_eq!(r.code(), "validation_failed", "wrong number of variables");
    // Values WhatsApp would refuse are refused here, before anything is queued.
    for (bad, said) in [("", "is empty"), ("Sam\nB", "line break"), ("Sam      B", "four spaces"), (&*"x".repeat(1025), "1,024")] {
        let r = app.post(&format!("/v1/conversations/{conversation}/template-messages"), &owner.access, json!({"template_id": t_id, "variables": ["Sam", bad]})).await;
        assert_eq!(r.code(), "validation_failed", "{bad:?}: {r:?}");
        assert!(r.body["error"]["message"].as_str().unwrap().contains(said), "{r:?}");
    }
    let r = app.post(&format!("/v1/conversations/{conversation}/template-messages"), &owner.access, json!({"template_id": t_id, "variables": ["Sam", "10:00"]})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    assert_eq!(r.body["body"], "Hi Sam, see you at 10:00.");
    let tid = r.body["id"].as_str().unwrap().to_owned();
    app.settled("template sent", || async { message(&app, &owner, &conversation, &tid).await["delivery_status"] == "sent" }).await;
    let last = fake.sends().pop().unwrap();
    assert_eq!(last.body["type"], "template");
    assert_eq!(last.body["template"]["name"], "appointment_reminder");
    assert_eq!(last.body["template"]["components"][0]["parameters"][1]["text"], "10:00");
}

/// The reply window a console shows is the rule sends are held to: free text until 24 hours
/// after the customer last wrote, to the millisecond, then only a template; SMS has no window.
async fn the_reply_window_consoles_get_is_the_rule_replies_are_held_to((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("window").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900580").await;
    let wrote: jiff::Timestamp = messages_of(&app, &owner).await[0]["created_at"].as_str().unwrap().parse().unwrap();
    let until = wrote + jiff::SignedDuration::from_hours(24);
    let shown = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["reply_window"].clone();
    assert_eq!(shown, json!({"free_text": true, "until": until.to_string(), "templates": true}), "REST");
    let pulled = app.get("/v1/sync/pull?cursor=0&limit=1000", &owner.access).await;
    let synced = pulled.body["changes"].as_array().unwrap().iter().rev().find(|c| c["entity"] == "conversation").unwrap()["data"]["reply_window"].clone();
    assert_eq!(synced, shown, "what consoles sync");

    // At the last millisecond of the window free text goes; one millisecond later it is refused.
    app.advance(Duration::from_millis((until.as_millisecond() - app.now_ms()) as u64));
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Just in time"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    app.advance(Duration::from_millis(1));
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Too late"})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "whatsapp_window_closed"));
    app.settled("one reply sent", || async { fake.accepted() == 1 }).await;

    // The customer writes again: a new window, shipped with the conversation.
    post_whatsapp_signed(&app, &notification(PHONE_ID, Value::Null, json!([text("wamid.again", "447700900580", "Still there?")]), Value::Null), &app_secret(&owner)).await;
    app.drain().await;
    let shown = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["conversation"]["reply_window"].clone();
    let until: jiff::Timestamp = shown["until"].as_str().unwrap().parse().unwrap();
    assert_eq!(until.as_millisecond(), app.now_ms() + 24 * 3_600_000);

    // SMS: free text any time, no templates.
    connect_twilio(&app, &owner, "+14155550100").await;
    let sms = vec![("MessageSid", "SMW9"), ("AccountSid", TWILIO_SID), ("From", "+14155550129"), ("To", "+14155550100"), ("Body", "hi"), ("NumMedia", "0")];
    post_twilio(&app, "/webhooks/twilio", &sms, TWILIO_TOKEN).await;
    app.drain().await;
    let inbox = app.get("/v1/conversations?channel=sms", &owner.access).await;
    assert_eq!(inbox.body["items"][0]["reply_window"], json!({"free_text": true, "until": null, "templates": false}));
}

/// Conversations synced before they carried a reply window are published again by the
/// republish worker (what migration 0016 queues), and consoles pull the new shape.
async fn conversations_synced_before_the_reply_window_are_published_again((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("republish").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    for n in 0..3 {
        whatsapp_customer(&app, &owner, &format!("44770090059{n}")).await;
    }
    // As an older service left them: without the field.
    let rows: Vec<(String, String)> = sqlx::query_as("SELECT entity_id, data FROM changes WHERE business_id = $1 AND entity = 'conversation'")
        .bind(&owner.business_id).fetch_all(app.db.reader()).await.unwrap();
    assert_eq!(rows.len(), 3);
    for (id, data) in &rows {
        let mut old: Value = serde_json::from_str(data).unwrap();
        old.as_object_mut().unwrap().remove("reply_window");
        sqlx::query("UPDATE changes SET data = $1 WHERE business_id = $2 AND entity_id = $3").bind(old.to_string()).bind(&owner.business_id).bind(id)
            .execute(app.db.writer()).await.unwrap();
    }
    let cursor = app.get("/v1/sync/pull?cursor=0&limit=1000", &owner.access).await.body["cursor"].as_i64().unwrap();
    sqlx::query("INSERT INTO republish (business_id, entity) VALUES ($1, 'conversation')").bind(&owner.business_id).execute(app.db.writer()).await.unwrap();
    app.drain().await;
    let page = app.get(&format!("/v1/sync/pull?cursor={cursor}&limit=1000"), &owner.access).await;
    let changes = page.body["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(changes.iter().all(|c| c["entity"] == "conversation" && c["data"]["reply_window"]["free_text"] == true));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM republish WHERE business_id = $1", &owner.business_id).await, 0, "done and forgotten");
}

async fn sms_through_twilio_with_media_opt_out_and_status((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("sms").await;
    let ours = "+14155550100";
    let r = connect_twilio(&app, &owner, ours).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let customer = "+14155550123";
    let inbound = |sid: &'static str, body: &'static str| vec![("MessageSid", sid), ("AccountSid", TWILIO_SID), ("From", customer), ("To", ours), ("Body", body), ("NumMedia", "0")];
    // Forged: refused, nothing stored.
    let (status, _) = post_twilio(&app, "/webhooks/twilio", &inbound("SM1", "hi"), "not-the-token").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1", &owner.business_id).await, 0);
    let (status, twiml) = post_twilio(&app, "/webhooks/twilio", &inbound("SM1", "Can I book a trim?"), TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(twiml.contains("<Response>"));
    let media_url = format!("{}/twilio-media/ME1", fake.base);
    let mms = vec![("MessageSid", "SM2"), ("From", customer), ("To", ours), ("Body", ""), ("NumMedia", "1"),
                   ("MediaUrl0", media_url.as_str()), ("MediaContentType0", "image/png")];
    post_twilio(&app, "/webhooks/twilio", &mms, TWILIO_TOKEN).await;
    app.settled("two SMS in", || async { messages_of(&app, &owner).await.len() == 2 }).await;
    let photo = messages_of(&app, &owner).await.into_iter().find(|m| m["kind"] == "image").expect("the MMS photo");
    let bytes = app.client.get(format!("{}{}", app.base, photo["media"][0]["url"].as_str().unwrap())).bearer_auth(&owner.access).send().await.unwrap().bytes().await.unwrap();
    assert_eq!(bytes.as_ref(), b"PNG-BYTES-ME1");
    let conversation = app.get("/v1/conversations", &owner.access).await.body["items"][0]["id"].as_str().unwrap().to_owned();

    // STOP: opted out; nothing goes to them.
    post_twilio(&app, "/webhooks/twilio", &inbound("SM3", " stop "), TWILIO_TOKEN).await;
    app.settled("opted out", || async {
        app.get("/v1/customers", &owner.access).await.body["items"][0]["opted_out_sms"] == true
    }).await;
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Sorry to see you go"})).await;
    assert_eq!(r.code(), "customer_opted_out");
    assert!(fake.sends().is_empty());
    // On WhatsApp through Twilio, "Cancel" is about an appointment, not a subscription; and a
    // "Yes" from someone opted in is an answer, not a keyword.
    let wa = vec![("MessageSid", "SMW1"), ("From", "whatsapp:+14155550124"), ("To", "whatsapp:+14155550100"), ("Body", "Cancel"), ("NumMedia", "0")];
    post_twilio(&app, "/webhooks/twilio", &wa, TWILIO_TOKEN).await;
    app.settled("processed", || async {
        count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await == 0
    }).await;
    let wa_customer = app.get("/v1/customers?q=4155550124", &owner.access).await;
    assert_eq!(wa_customer.body["items"][0]["opted_out_whatsapp"], false, "{wa_customer:?}");
    // START: back in.
    post_twilio(&app, "/webhooks/twilio", &inbound("SM4", "START"), TWILIO_TOKEN).await;
    app.settled("opted in", || async {
        app.get("/v1/customers", &owner.access).await.body["items"][0]["opted_out_sms"] == false
    }).await;
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Welcome back!"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    let id = r.body["id"].as_str().unwrap().to_owned();
    app.settled("sent", || async { message(&app, &owner, &conversation, &id).await["delivery_status"] == "sent" }).await;
    let send = fake.sends().pop().unwrap();
    assert_eq!((send.body["From"].as_str(), send.body["To"].as_str(), send.body["Body"].as_str()), (Some(ours), Some(customer), Some("Welcome back!")));
    assert_eq!(send.body["StatusCallback"], "https://switchboard.example/webhooks/twilio/status");
    let sid = message(&app, &owner, &conversation, &id).await["provider_message_id"].as_str().unwrap().to_owned();
    let undelivered = vec![("MessageSid", sid.as_str()), ("MessageStatus", "undelivered"), ("ErrorCode", "30003"), ("From", ours), ("To", customer)];
    let (status, _) = post_twilio(&app, "/webhooks/twilio/status", &undelivered, TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    app.settled("failed with a reason", || async { message(&app, &owner, &conversation, &id).await["delivery_status"] == "failed" }).await;
    assert!(message(&app, &owner, &conversation, &id).await["error"].as_str().unwrap().contains("phone is off"));
    // Twilio refuses a send to an opted-out number: shown in plain words, not retried.
    fake.script([Scripted::Fail(400, json!({"code": 21610, "message": "Attempt to send to unsubscribed recipient"}))]);
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "One more"})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    app.settled("refused", || async { message(&app, &owner, &conversation, &id).await["delivery_status"] == "failed" }).await;
    assert!(message(&app, &owner, &conversation, &id).await["error"].as_str().unwrap().contains("STOP"));

    // Senders the numbering plans do not know as valid numbers are still one customer each,
    // with their address (each message made a new customer with no number, so replies had
    // nowhere to go): a number in a range kept for drama, a short code, a name.
    let from = |sid: &'static str, sender: &'static str| vec![("MessageSid", sid), ("From", sender), ("To", ours), ("Body", "hello"), ("NumMedia", "0")];
    for (sid, sender) in [("SMd1", "+447700900101"), ("SMd2", "+447700900101"), ("SMs1", "12345"), ("SMa1", "VERIFY"), ("SMa2", "VERIFY")] {
        let (status, _) = post_twilio(&app, "/webhooks/twilio", &from(sid, sender), TWILIO_TOKEN).await;
        assert_eq!(status, StatusCode::OK, "{sender}");
    }
    // A message without a sender is refused at the door, and stored nowhere.
    let (status, body) = post_twilio(&app, "/webhooks/twilio", &[("MessageSid", "SMn1"), ("To", ours), ("Body", "who?"), ("NumMedia", "0")], TWILIO_TOKEN).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    app.settled("processed", || async {
        count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await == 0
    }).await;
    let customers = app.all_items("/v1/customers", &owner.access).await;
    for sender in ["+447700900101", "12345", "VERIFY"] {
        let theirs: Vec<&Value> = customers.iter().filter(|c| c["phone"] == sender).collect();
        assert_eq!(theirs.len(), 1, "{sender}: {customers:?}");
        let conversations = app.all_items(&format!("/v1/conversations?customer_id={}", theirs[0]["id"].as_str().unwrap()), &owner.access).await;
        assert_eq!(conversations.len(), 1, "{sender}: {conversations:?}");
    }
    assert!(customers.iter().all(|c| !c["phone"].is_null() || !c["whatsapp_id"].is_null()), "nobody without an address: {customers:?}");
    let drama = customers.iter().find(|c| c["phone"] == "+447700900101").unwrap()["id"].as_str().unwrap().to_owned();
    let drama = app.all_items(&format!("/v1/conversations?customer_id={drama}"), &owner.access).await[0]["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/conversations/{drama}/messages"), &owner.access, json!({"body": "Hi! How can we help?"})).await;
    let id = r.body["id"].as_str().unwrap().to_owned();
    app.settled("sent", || async { message(&app, &owner, &drama, &id).await["delivery_status"] == "sent" }).await;
    let reply = fake.sends().into_iter().find(|s| s.body["Body"] == "Hi! How can we help?").expect("sent");
    assert_eq!(reply.body["To"], "+447700900101", "the reply goes to the number they wrote from");
    // A named sender is found by its name, and nothing automatic went to one that takes no answer.
    let found = app.get("/v1/customers?q=verify", &owner.access).await;
    assert_eq!(found.body["items"].as_array().map(|i| i.iter().map(|c| c["phone"].clone()).collect::<Vec<_>>()), Some(vec![json!("VERIFY")]), "{found:?}");
    assert!(fake.sends().iter().all(|s| s.body["To"] != "VERIFY" && s.body["To"] != "12345"), "{:?}", fake.sends());
    // Staff replying to one are told at once that it takes no replies; nothing is queued (Twilio
    // would refuse it, and the message would only show as failed later).
    let verify = customers.iter().find(|c| c["phone"] == "VERIFY").unwrap()["id"].as_str().unwrap().to_owned();
    let verify = app.all_items(&format!("/v1/conversations?customer_id={verify}"), &owner.access).await[0]["id"].as_str().unwrap().to_owned();
    let queued = || count(&app, "SELECT COUNT(*) FROM outbox WHERE business_id = $1", &owner.business_id);
    let before = queued().await;
    let r = app.post(&format!("/v1/conversations/{verify}/messages"), &owner.access, json!({"body": "Thanks!"})).await;
    assert_eq!((r.status, r.body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("cannot_reply_here")), "{r:?}");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("takes no replies"), "{r:?}");
    assert_eq!(queued().await, before);
    // Erasing the short code's customer takes its stored webhook too, found by the message's own
    // id (no identifier of theirs names them alone, so no text match could).
    let short = customers.iter().find(|c| c["phone"] == "12345").unwrap()["id"].as_str().unwrap().to_owned();
    let stored = || count(&app, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND event_key = 'SMs1'", &owner.business_id);
    assert_eq!(stored().await, 1);
    let r = app.post(&format!("/v1/customers/{short}/erase"), &owner.access, json!(null)).await;
    assert_eq!((r.status, r.body["webhook_events"].as_u64()), (StatusCode::OK, Some(1)), "{r:?}");
    assert_eq!(stored().await, 0);
}

async fn garbage_never_crashes_intake((app, _fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "fuzz").await;
    connect_twilio(&app, &owner, "+14155550100").await;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let json_value = proptest::arbitrary::any::<u8>().prop_flat_map(|_| {
        let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(Value::from), any::<i64>().prop_map(Value::from), ".{0,12}".prop_map(Value::from)];
        leaf.prop_recursive(3, 24, 4, |inner| prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::btree_map("[a-z_]{1,8}", inner, 0..4).prop_map(|m| Value::Object(m.into_iter().collect())),
        ])
    });
    for i in 0..40 {
        let bytes = proptest::collection::vec(any::<u8>(), 0..300).new_tree(&mut runner).unwrap().current();
        // Arbitrary bytes, with and without signatures, to both endpoints: a 4xx, never a 5xx.
        for (path, content_type) in [("/webhooks/whatsapp", "application/json"), ("/webhooks/twilio", "application/x-www-form-urlencoded"), ("/webhooks/twilio/status", "text/plain")] {
            let res = app.client.post(format!("{}{path}", app.base)).header("content-type", content_type)
                .header("x-hub-signature-256", sign_meta(&secret, &bytes)).header("x-twilio-signature", "x").body(bytes.clone()).send().await.unwrap();
            assert!(res.status().is_client_error() || res.status() == StatusCode::OK, "{path}: {}", res.status());
        }
        // Correctly signed notifications whose message is any JSON at all: acknowledged, and
        // processing copes (an error is recorded, not a crash).
        let odd = json_value.new_tree(&mut runner).unwrap().current();
        let body = notification(PHONE_ID, Value::Null, json!([odd, text(&format!("wamid.fz{i}"), "447700900590", "ok")]), Value::Null);
        let (status, _) = post_whatsapp_signed(&app, &body, &secret).await;
        assert_eq!(status, StatusCode::OK);
        // Truncated JSON.
        let raw = serde_json::to_vec(&body).unwrap();
        let cut = &raw[..raw.len() / 2];
        let res = app.client.post(format!("{}/webhooks/whatsapp", app.base)).header("x-hub-signature-256", sign_meta(&secret, cut)).body(cut.to_vec()).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    }
    let huge = vec![b'x'; app.config.max_body_bytes + 1];
    let res = app.client.post(format!("{}/webhooks/whatsapp", app.base)).header("x-hub-signature-256", sign_meta(&secret, &huge)).body(huge).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The worker survived all of it: the good message of every batch is in.
    app.settled("all the good messages arrive", || async {
        count(&app, "SELECT COUNT(*) FROM messages WHERE business_id = $1 AND provider_message_id LIKE 'wamid.fz%'", &owner.business_id).await == 40
    }).await;
    // An empty id is no id (such a message cannot be told from its redelivery): left out like
    // one without an id, never stored under "" where the next one would pass for a redelivery.
    let body = notification(PHONE_ID, Value::Null, json!([text("", "447700900590", "no id"), text("wamid.after-empty", "447700900590", "with id")]), Value::Null);
    assert_eq!(post_whatsapp_signed(&app, &body, &secret).await.0, StatusCode::OK);
    app.settled("the message with an id arrives", || async {
        count(&app, "SELECT COUNT(*) FROM messages WHERE business_id = $1 AND provider_message_id = 'wamid.after-empty'", &owner.business_id).await == 1
    }).await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM messages WHERE business_id = $1 AND provider_message_id = ''", &owner.business_id).await, 0);
}

/// A webhook acknowledged by an instance that never got to process it (killed right after the
/// 200) is processed by the next instance on the same database.
async fn acknowledged_webhook_survives_a_restart((acking, _fake): (TestApp, FakeProviders)) {
    // A test app's workers run only when the test drains them: this one acknowledges and is gone.
    let owner = acking.signup("restart").await;
    let secret = app_secret(&owner);
    connect_whatsapp(&acking, &owner, PHONE_ID, &secret).await;
    let body = notification(PHONE_ID, Value::Null, json!([text("wamid.r1", "447700900580", "Still there?")]), Value::Null);
    let (status, _) = post_whatsapp_signed(&acking, &body, &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(count(&acking, "SELECT COUNT(*) FROM messages WHERE business_id = $1", &owner.business_id).await, 0);
    assert_eq!(count(&acking, "SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND processed_at IS NULL", &owner.business_id).await, 1);
    let next = acking.another_instance(|_| {}).await;
    drop(acking);
    next.settled("processed after the restart", || async { messages_of(&next, &owner).await.len() == 1 }).await;
}

/// The process died while a send was in flight (the row is `sending`, its lease ran out): the
/// provider may have the message, so it is never sent again, and staff see why.
async fn interrupted_send_is_never_repeated((first, fake): (TestApp, FakeProviders)) {
    let owner = first.signup("interrupted").await;
    let secret = app_secret(&owner);
    connect_whatsapp(&first, &owner, PHONE_ID, &secret).await;
    let body = notification(PHONE_ID, Value::Null, json!([text("wamid.int", "447700900591", "Hi")]), Value::Null);
    post_whatsapp_signed(&first, &body, &secret).await;
    first.settled("inbound processed", || async { messages_of(&first, &owner).await.len() >= 1 }).await;
    let conversation = first.get("/v1/conversations", &owner.access).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    let sent = first.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "On my way"})).await;
    let id = sent.body["id"].as_str().unwrap().to_owned();
    // As a sender that crashed mid-call leaves it: claimed, with a two-minute lease.
    sqlx::query("UPDATE outbox SET status = 'sending', attempts = 1, lease_until = $1 WHERE message_id = $2")
        .bind(first.now_ms() + 120_000).bind(&id).execute(first.db.writer()).await.unwrap();
    let sends_before = fake.sends().len();
    let restarted = first.another_instance(|_| {}).await;
    drop(first);
    restarted.settled("still sending within the lease", || async { message(&restarted, &owner, &conversation, &id).await["delivery_status"] == "pending" }).await;
    restarted.advance(Duration::from_secs(180));
    restarted.settled("shown as failed", || async { message(&restarted, &owner, &conversation, &id).await["delivery_status"] == "failed" }).await;
    let failed = message(&restarted, &owner, &conversation, &id).await;
    assert!(failed["error"].as_str().unwrap().contains("interrupted"), "{failed}");
    assert_eq!(fake.sends().len(), sends_before, "never sent again");
}

}
