//! Data protection over real HTTP, on SQLite and PostgreSQL: one person seeded into every table
//! that can hold personal data is exported whole and erased without a trace; the audit log of
//! what staff and the assistant change.

use std::io::Read;

use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_cloud::privacy::schema::{schema, Kind};
use switchboard_testkit::whatsapp::{notification, post_whatsapp_signed, text};
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

    // Found in the point-6 check: resolving and reopening, hours, exceptions and templates.
    for status in ["resolved", "open"] {
        let r = app.patch(&format!("/v1/conversations/{conversation}"), &owner.access, json!({"status": status})).await;
        assert_eq!(r.status, StatusCode::OK, "{r:?}");
    }
    let hours = app.call(reqwest::Method::PUT, &format!("/v1/staff/{}/hours", owner.staff_id), Some(&owner.access), Some(json!({"hours": null, "bookable": false}))).await;
    assert_eq!(hours.status, StatusCode::OK, "{hours:?}");
    let exception = app.post("/v1/schedule-exceptions", &owner.access, json!({"staff_id": null, "date": "2031-12-25", "closed": true, "hours": [], "note": "Christmas"})).await;
    let exception_id = exception.body["id"].as_str().unwrap_or_else(|| panic!("{exception:?}")).to_owned();
    assert_eq!(app.delete(&format!("/v1/schedule-exceptions/{exception_id}"), &owner.access).await.status, StatusCode::NO_CONTENT);
    let template = app.post("/v1/whatsapp-templates", &owner.access, json!({"name": "audit_hello", "language": "en", "body": "Hello {{1}}"})).await;
    let template_id = template.body["id"].as_str().unwrap_or_else(|| panic!("{template:?}")).to_owned();
    assert_eq!(app.delete(&format!("/v1/whatsapp-templates/{template_id}"), &owner.access).await.status, StatusCode::NO_CONTENT);

    let feed = app.post("/v1/calendar-feeds", &owner.access, json!({"staff_id": owner.staff_id})).await;
    assert_eq!(feed.status, StatusCode::CREATED, "{feed:?}");
    let feed_id = feed.body["feed"]["id"].as_str().unwrap().to_owned();
    let feed_url = feed.body["url"].as_str().unwrap().to_owned();
    assert_eq!(app.delete(&format!("/v1/calendar-feeds/{feed_id}"), &owner.access).await.status, StatusCode::NO_CONTENT);

    let log = audit_actions(&app, &owner.access).await;
    let has = |action: &str, target: &str| log.iter().any(|(a, t, _)| a == action && t.as_deref() == Some(target));
    // A calendar feed opens the bookings to whoever has its link: making and revoking one is
    // logged (whose feed it is, never the link).
    assert!(has("calendar_feed.created", &feed_id) && has("calendar_feed.revoked", &feed_id), "{log:?}");
    let token = feed_url.rsplit('/').next().unwrap().trim_end_matches(".ics");
    assert!(!serde_json::to_string(&log).unwrap().contains(token), "the audit log holds a feed's link");
    for action in ["conversation.resolved", "conversation.reopened"] {
        assert!(has(action, &conversation), "{action}: {log:?}");
    }
    assert!(has("staff_hours.updated", &owner.staff_id), "{log:?}");
    assert!(has("schedule_exception.created", &exception_id) && has("schedule_exception.deleted", &exception_id), "{log:?}");
    assert!(has("whatsapp_template.created", &template_id) && has("whatsapp_template.deleted", &template_id), "{log:?}");
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


/// One customer in every table that holds personal data: the export has every column the
/// schema marks `personal data`; after erasing them, no column of any table on either engine
/// holds their name, number, email or a word they wrote, and their bookings stay anonymised.
async fn a_customer_is_exported_whole_and_erased_without_a_trace((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("gdpr").await;
    assert_eq!(connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await.status, StatusCode::OK);
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": switchboard_testkit::every_day("00:00", "24:00")})).await;
    // Someone else, who must be untouched.
    let other = app.post("/v1/customers", &owner.access, json!({"name": "Ottilie Bystander", "phone": "+14155552671"})).await;
    let other_id = other.body["id"].as_str().unwrap_or_else(|| panic!("{other:?}")).to_owned();

    // Zelda writes on WhatsApp (the webhook is stored), staff answer, note, tag and book her.
    let words = ["xylophonic", "quintessentially", "marmalade"];
    let body = notification(PHONE_ID, json!([{"profile": {"name": "Zelda Quibblesworth"}, "wa_id": "447911123456"}]),
        json!([text("wamid.zelda-1", "447911123456", &format!("Hello, {} {} {}", words[0], words[1], words[2]))]), Value::Null);
    post_whatsapp_signed(&app, &body, &app_secret(&owner)).await;
    app.drain().await;
    let inbox = app.get("/v1/conversations", &owner.access).await;
    let conversation = inbox.body["items"][0]["id"].as_str().unwrap().to_owned();
    let customer = inbox.body["items"][0]["customer_id"].as_str().unwrap().to_owned();
    app.patch(&format!("/v1/customers/{customer}"), &owner.access,
        json!({"email": "zelda@quibble.example", "tags": ["vip"], "notes": "Loves marmalade", "opted_out_sms": true})).await;
    let reply = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Dear Zelda Quibblesworth, noted"})).await;
    assert!(reply.status.is_success(), "{reply:?}");
    app.post(&format!("/v1/conversations/{conversation}/notes"), &owner.access, json!({"body": "Zelda prefers xylophonic music"})).await;
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
    let slot = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &owner.access).await;
    let start = slot.body["slots"][0]["start"].as_str().unwrap().to_owned();
    let booking = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "start": start, "notes": "Zelda: marmalade allergy"})).await;
    assert!(booking.status.is_success(), "{booking:?}");
    let booking_id = booking.body["id"].as_str().unwrap().to_owned();
    // A photo she sent, and a call with its transcript.
    let media = switchboard_cloud::channels::inbound::keep_media(&app.db, &owner.business_id, b"zelda-photo".to_vec(), "image/png", Some("zelda.png")).await.unwrap();
    let call = json!({"provider": "vapi", "call_id": "c1", "status": "ended", "transcript": "Zelda: quintessentially yes", "recording_url": "https://rec.example/zelda.mp3"});
    sqlx::query("UPDATE messages SET media = $1, raw = $2, error = 'to 447911123456 failed' WHERE id = $3")
        .bind(json!([{"content_type": "image/png", "url": format!("/v1/media/{media}"), "filename": "zelda.png", "caption": null}]).to_string())
        .bind(call.to_string())
        .bind(reply.body["id"].as_str().unwrap())
        .execute(app.db.writer()).await.unwrap();
    app.drain().await;

    // Named two ways at once, an export would be a guess about whose data it holds: refused.
    let r = app.get("/v1/customer-export?email=Zelda%40Quibble.example&phone=%2B447911123499", &owner.access).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"), "{r:?}");
    // Every table with personal data has a row about her (a new table needs seeding here).
    let export = app.client.get(format!("{}/v1/customer-export?email=Zelda%40Quibble.example", app.base)).bearer_auth(&owner.access).send().await.unwrap();
    assert_eq!(export.status(), StatusCode::OK);
    assert_eq!(export.headers()["content-type"], "application/zip");
    let bytes = export.bytes().await.unwrap();
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).expect("a ZIP");
    let mut file = |name: &str| -> Option<String> {
        let mut f = zip.by_name(name).ok()?;
        let mut text = String::new();
        f.read_to_string(&mut text).ok()?;
        Some(text)
    };
    for (name, table) in &schema().tables {
        let personal: Vec<&str> = table.columns.iter().filter(|c| c.kind == Some(Kind::Personal)).map(|c| c.name.as_str()).collect();
        if personal.is_empty() {
            continue;
        }
        let json = file(&format!("{name}.json")).unwrap_or_else(|| panic!("the export has no {name}.json: seed this table in the test"));
        let rows: Vec<Value> = serde_json::from_str(&json).unwrap();
        assert!(!rows.is_empty(), "{name}");
        for column in &personal {
            assert!(rows.iter().all(|r| r.get(*column).is_some()), "{name}.{column} is missing from the export");
        }
        let csv = file(&format!("{name}.csv")).unwrap();
        assert!(personal.iter().all(|c| csv.lines().next().unwrap().split(',').any(|h| h == *c)), "{name}.csv header: {csv}");
    }
    let everything: String = (0..zip.len()).map(|i| { let mut f = zip.by_index(i).unwrap(); let mut t = Vec::new(); f.read_to_end(&mut t).unwrap(); String::from_utf8_lossy(&t).into_owned() }).collect();
    for needle in ["Zelda Quibblesworth", "447911123456", "zelda@quibble.example", words[0], words[1], "Loves marmalade", "zelda-photo", "recording_url"] {
        assert!(everything.contains(needle), "the export lacks {needle:?}");
    }
    assert!(!everything.contains("Ottilie"), "another customer's data leaked into the export");
    assert!(!everything.contains("password_hash") && !everything.contains("token_hash"));

    // Erase her.
    let erased = app.post(&format!("/v1/customers/{customer}/erase"), &owner.access, json!(null)).await;
    assert_eq!(erased.status, StatusCode::OK, "{erased:?}");
    assert_eq!(erased.body["messages"], 3, "her message, the reply and the booking confirmation: {erased:?}");
    assert_eq!(app.get(&format!("/v1/customers/{customer}"), &owner.access).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.status, StatusCode::NOT_FOUND);
    let kept = app.get(&format!("/v1/bookings/{booking_id}"), &owner.access).await;
    assert_eq!(kept.status, StatusCode::OK, "the booking stays for the accounts");
    assert_eq!(kept.body["status"], "cancelled", "a future booking is cancelled: {kept:?}");
    assert_eq!(kept.body["notes"], "");
    // No trace in any text column of any table.
    let needles = ["Zelda", "Quibble", "447911123456", "7911123456", "zelda@quibble.example", words[0], words[1], words[2], "zelda-photo", "emVsZGEtcGhvdG8"];
    for (name, table) in &schema().tables {
        for column in table.columns.iter().filter(|c| c.ty == "TEXT") {
            for needle in needles {
                let sql = format!("SELECT COUNT(*) FROM {name} WHERE {} LIKE $1", column.name);
                let n: i64 = sqlx::query_scalar(&sql).bind(format!("%{needle}%")).fetch_one(app.db.reader()).await.unwrap();
                assert_eq!(n, 0, "{name}.{} still holds {needle:?}", column.name);
            }
        }
    }
    // The audit entry says that, and how much, but nothing of hers.
    let log = audit_actions(&app, &owner.access).await;
    let entry = log.iter().find(|(a, t, _)| a == "customer.erased" && t.as_deref() == Some(customer.as_str())).expect("audited");
    assert!(entry.2["removed"]["conversations"].as_i64() == Some(1), "{entry:?}");
    // The bystander is untouched.
    assert_eq!(app.get(&format!("/v1/customers/{other_id}"), &owner.access).await.body["name"], "Ottilie Bystander");
    // Erasing someone known by a short name only never erases other people's copies that happen
    // to contain it: "Sam" is in "the same time", and that message's webhook is someone else's.
    let body = notification(PHONE_ID, Value::Null, json!([text("wamid.same-1", "447911765432", "The same time next week?")]), Value::Null);
    post_whatsapp_signed(&app, &body, &app_secret(&owner)).await;
    app.drain().await;
    let sam = app.post("/v1/customers", &owner.access, json!({"name": "Sam"})).await.body["id"].as_str().unwrap().to_owned();
    let r = app.post(&format!("/v1/customers/{sam}/erase"), &owner.access, json!(null)).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM webhook_events WHERE business_id = $1 AND payload LIKE '%wamid.same-1%'")
        .bind(&owner.business_id)
        .fetch_one(app.db.reader())
        .await
        .unwrap();
    assert_eq!(kept, 1, "another customer's webhook stays");
    let inbox = app.all_items("/v1/conversations", &owner.access).await;
    assert!(inbox.iter().any(|c| c["last_message_preview"] == "The same time next week?"), "their preview stays: {inbox:?}");
    // Erasing needs a recent re-authentication.
    app.advance(std::time::Duration::from_secs(20 * 60));
    let stale = app.post(&format!("/v1/customers/{other_id}/erase"), &owner.access, json!(null)).await;
    assert_eq!(stale.code(), "reauthentication_required");
    let agent = app.add_staff(&owner, "agent").await;
    assert_eq!(app.post(&format!("/v1/customers/{other_id}/erase"), &agent.access, json!(null)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/v1/business-export", &agent.access).await.status, StatusCode::FORBIDDEN);
}

/// Erasure finds copies of a customer's identifiers the same way on both engines: whatever the
/// letters' case (PostgreSQL's LIKE is case-sensitive, SQLite's is not), and with an `_` in an
/// email address taken as itself (a wildcard to both engines' LIKE).
async fn erasure_finds_copies_whatever_their_case((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("case").await;
    assert_eq!(connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await.status, StatusCode::OK);
    // A friend writes on WhatsApp; staff answer her.
    let conversation = whatsapp_customer(&app, &owner, "14155552672").await;
    let erased = app.post("/v1/customers", &owner.access, json!({"name": "Élodie Zanzibar", "phone": "+447911200555", "email": "elo_die@zanzibar.example"})).await;
    let erased_id = erased.body["id"].as_str().unwrap_or_else(|| panic!("{erased:?}")).to_owned();
    let first = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Thanks for coming"})).await;
    let first = first.body["id"].as_str().unwrap_or_else(|| panic!("{first:?}")).to_owned();
    // The friend's conversation quotes her, upper-cased, in its preview (a copy).
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Say hello to ÉLODIE ZANZIBAR"})).await;
    assert!(sent.status.is_success(), "{sent:?}");
    app.drain().await;
    // Copies of her address, as a provider's error might quote it: differently cased, and a
    // look-alike with another character where the `_` is, which is not her.
    let (theirs, lookalike) = (sent.body["id"].as_str().unwrap().to_owned(), "bounced: eloXdie@zanzibar.example");
    sqlx::query("UPDATE messages SET error = $1 WHERE id = $2").bind("bounced: ELO_DIE@Zanzibar.example").bind(&theirs).execute(app.db.writer()).await.unwrap();
    sqlx::query("UPDATE messages SET error = $1 WHERE id = $2").bind(lookalike).bind(&first).execute(app.db.writer()).await.unwrap();
    let before = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert!(before.body["conversation"]["last_message_preview"].as_str().unwrap_or_default().contains("ÉLODIE"), "{before:?}");

    let done = app.post(&format!("/v1/customers/{erased_id}/erase"), &owner.access, json!(null)).await;
    assert_eq!(done.status, StatusCode::OK, "{done:?}");
    let after = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert_eq!(after.status, StatusCode::OK, "the friend's conversation stays");
    assert!(!after.body["conversation"]["last_message_preview"].as_str().unwrap_or_default().to_lowercase().contains("zanzibar"), "{after:?}");
    let error: Option<String> = sqlx::query_scalar("SELECT error FROM messages WHERE id = $1").bind(&theirs).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(error, None, "the copy of her address went");
    // Nothing in any copy column quotes her, whatever the case.
    for (name, table) in &schema().tables {
        for column in table.columns.iter().filter(|c| c.ty == "TEXT" && c.kind == Some(Kind::Copy) && name != "changes") {
            let sql = format!("SELECT COUNT(*) FROM {name} WHERE LOWER({c}) LIKE '%zanzibar%' AND LOWER({c}) NOT LIKE '%eloxdie%'", c = column.name);
            let n: i64 = sqlx::query_scalar(&sql).fetch_one(app.db.reader()).await.unwrap();
            assert_eq!(n, 0, "{name}.{} still quotes her", column.name);
        }
    }
    // The look-alike is someone else's address: untouched.
    let kept: Option<String> = sqlx::query_scalar("SELECT error FROM messages WHERE id = $1").bind(&first).fetch_one(app.db.reader()).await.unwrap();
    assert_eq!(kept.as_deref(), Some(lookalike));
}

/// Deleting a conversation deletes its automation rows too (follow-ups, text-backs), on both
/// engines — on PostgreSQL a row left behind made the delete fail on its foreign key. A
/// booking's reminder stays, without its link to the conversation, so it is not sent twice.
async fn deleting_a_conversation_deletes_its_automation_runs((app, _fake): (TestApp, FakeProviders)) {
    let owner = app.signup("runs").await;
    assert_eq!(connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await.status, StatusCode::OK);
    app.patch("/v1/schedule", &owner.access, json!({"opening_hours": switchboard_testkit::every_day("00:00", "24:00")})).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900556").await;
    let customer = app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.body["customer"]["id"].as_str().unwrap().to_owned();
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Shall we book you in?"})).await;
    let message = sent.body["id"].as_str().unwrap_or_else(|| panic!("{sent:?}")).to_owned();
    let service = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await.body["id"].as_str().unwrap().to_owned();
    let slot = app.get(&format!("/v1/availability?service_id={service}&limit=1"), &owner.access).await;
    let start = slot.body["slots"][0]["start"].as_str().unwrap().to_owned();
    let booking = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service, "start": start})).await;
    let booking = booking.body["id"].as_str().unwrap_or_else(|| panic!("{booking:?}")).to_owned();
    let now = app.now_ms();
    for (id, kind, booking_id, message_id) in [("run-follow-up", "follow_up", None, Some(message.as_str())), ("run-text-back", "text_back", None, None), ("run-reminder", "reminder", Some(booking.as_str()), Some(message.as_str()))] {
        sqlx::query(
            "INSERT INTO automation_runs (id, business_id, kind, rule, dedupe_key, booking_id, customer_id, conversation_id, due_at, status, message_id, detail, created_at, updated_at) \
             VALUES ($1, $2, $3, 'r', $1, $4, $5, $6, $7, 'sent', $8, '{\"text\":\"Shall we\"}', $7, $7)",
        )
        .bind(id).bind(&owner.business_id).bind(kind).bind(booking_id).bind(&customer).bind(&conversation).bind(now).bind(message_id)
        .execute(app.db.writer()).await.unwrap();
    }
    let deleted = app.delete(&format!("/v1/conversations/{conversation}"), &owner.access).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{deleted:?}");
    assert_eq!(app.get(&format!("/v1/conversations/{conversation}"), &owner.access).await.status, StatusCode::NOT_FOUND);
    let left: Vec<(String, Option<String>, Option<String>, String)> =
        sqlx::query_as("SELECT id, conversation_id, message_id, detail FROM automation_runs WHERE business_id = $1 AND id LIKE 'run-%' ORDER BY id").bind(&owner.business_id).fetch_all(app.db.reader()).await.unwrap();
    assert_eq!(left, vec![("run-reminder".to_owned(), None, None, "{}".to_owned())], "only the booking's reminder stays, unlinked");
    let log = audit_actions(&app, &owner.access).await;
    assert!(log.iter().any(|(a, t, _)| a == "conversation.deleted" && t.as_deref() == Some(conversation.as_str())), "{log:?}");
}

/// Every table with personal-data columns can be linked to a customer (or export would miss it).
async fn every_personal_table_links_to_a_customer((_app, _fake): (TestApp, FakeProviders)) {
    assert_eq!(switchboard_cloud::privacy::subject::unlinked_tables(), Vec::<String>::new());
}

}

/// The retention dry run lists exactly what the daily job then deletes; nothing else is touched.
#[tokio::test]
async fn retention_deletes_exactly_what_the_dry_run_listed() {
    for engine in switchboard_testkit::Engine::BOTH {
        let app = TestApp::spawn(engine).await;
        let owner = app.signup("keep").await;
        let open = |name: &'static str| {
            let app = &app;
            let owner = &owner;
            async move {
                let c = app.post("/v1/customers", &owner.access, json!({"name": name})).await.body["id"].as_str().unwrap().to_owned();
                let conv = app.post("/v1/conversations", &owner.access, json!({"customer_id": c, "channel": "sms"})).await;
                let id = conv.body["id"].as_str().unwrap().to_owned();
                app.post(&format!("/v1/conversations/{id}/notes"), &owner.access, json!({"body": format!("about {name}")})).await;
                id
            }
        };
        let old = open("Old").await;
        app.advance(std::time::Duration::from_secs(40 * 86_400));
        let recent = open("Recent").await;
        app.advance(std::time::Duration::from_secs(50 * 86_400));
        // Old: 90 days quiet; Recent: 50 days. Keep two months (60 days).
        assert_eq!(app.get("/v1/retention/dry-run", &owner.access).await.body["conversation_ids"], json!([]), "no policy, nothing goes");
        let bad = app.call(reqwest::Method::PUT, "/v1/retention", Some(&owner.access), Some(json!({"conversations_months": 0, "recordings_days": null}))).await;
        assert_eq!(bad.code(), "validation_failed");
        let set = app.call(reqwest::Method::PUT, "/v1/retention", Some(&owner.access), Some(json!({"conversations_months": 2, "recordings_days": 30}))).await;
        assert_eq!(set.status, StatusCode::OK, "{set:?}");
        let plan = app.get("/v1/retention/dry-run", &owner.access).await;
        assert_eq!(plan.body["conversation_ids"], json!([old]), "{plan:?}");
        let notes_before: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes").fetch_one(app.db.reader()).await.unwrap();
        app.drain().await;
        assert_eq!(app.get(&format!("/v1/conversations/{old}"), &owner.access).await.status, StatusCode::NOT_FOUND);
        assert_eq!(app.get(&format!("/v1/conversations/{recent}"), &owner.access).await.status, StatusCode::OK);
        let notes_after: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes").fetch_one(app.db.reader()).await.unwrap();
        assert_eq!(notes_before - notes_after, 1, "only the old conversation's note went");
        assert_eq!(app.get("/v1/retention/dry-run", &owner.access).await.body["conversation_ids"], json!([]));
        // The job runs daily: the next day it finds the recent one once it is old enough.
        app.advance(std::time::Duration::from_secs(11 * 86_400));
        let next = app.get("/v1/retention/dry-run", &owner.access).await.body["conversation_ids"].clone();
        assert_eq!(next, json!([recent]));
        app.drain().await;
        assert_eq!(app.get(&format!("/v1/conversations/{recent}"), &owner.access).await.status, StatusCode::NOT_FOUND);
        let log = audit_actions(&app, &owner.access).await;
        assert!(log.iter().any(|(a, _, d)| a == "retention.applied" && d["conversations"] == 1), "{log:?}");
    }
}
