//! One rule for each thing an integrator meets everywhere (issue 13, point 11): every list answers
//! `{items, next_cursor}` and pages with `cursor`/`limit`, every channel answers GET, PUT and
//! DELETE alike, a booking carries its local end beside its local start, a new business's
//! locale, currency and country follow its time zone (national numbers are read there), and
//! WhatsApp ids follow one rule in intake and in the customers API. On SQLite and on PostgreSQL,
//! over real HTTP.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::whatsapp::{app_secret, connect_whatsapp, notification, post_whatsapp_signed, text, PHONE_ID};
use switchboard_testkit::{on_both_engines, TestApp};

/// Signs up a business in `timezone`.
async fn signup_in(app: &TestApp, timezone: &str) -> switchboard_testkit::Tenant {
    let email = format!("zone-{}@example.com", switchboard_testkit::uuid_suffix());
    let body = json!({"business_name": "Zone Studio", "timezone": timezone, "name": "Owner", "email": email, "password": "correct horse battery"});
    let r = app.call(Method::POST, "/v1/auth/signup", None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
    switchboard_testkit::Tenant::signed_in(&r.body, email, "correct horse battery".into())
}

/// Each kind with a set-up the service accepts and a secret that must never come back.
fn setups() -> [(&'static str, Value); 4] {
    [
        ("whatsapp", json!({"phone_number_id": "1055501", "access_token": "wa-token-secret", "app_secret": "wa-app-secret", "verify_token": "wa-verify-secret", "display_phone_number": "+44 20 7946 0000"})),
        ("twilio", json!({"account_sid": "AC00000000000000000000000000000001", "auth_token": "tw-token-secret", "numbers": ["+14155550123"]})),
        ("vapi", json!({"secret": "vapi-secret-value"})),
        ("retell", json!({"api_key": "retell-key-secret"})),
    ]
}

/// The list routes and how many items the seed below puts in each.
const LISTS: [(&str, usize); 11] = [
    ("/v1/services", 3),
    ("/v1/staff", 3),
    ("/v1/invitations", 3),
    ("/v1/channels", 3),
    ("/v1/canned-responses", 3),
    ("/v1/whatsapp-templates", 3),
    ("/v1/schedule-exceptions?from=2031-01-01&to=2031-12-31", 3),
    ("/v1/calendar-feeds", 3),
    ("/v1/bookings", 3),
    ("/v1/customers", 3),
    ("/v1/audit-log", 0),
];

/// Three of everything a business lists (staff: the owner and two colleagues).
async fn seed_three_of_each(app: &TestApp, owner: &switchboard_testkit::Tenant) -> String {
    let ok = |r: switchboard_testkit::Reply| {
        assert!(r.status.is_success(), "{r:?}");
        r.body
    };
    let service = ok(app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 30})).await)["id"].as_str().unwrap().to_owned();
    for name in ["Colour", "Cut"] {
        // Two services share a name: the id breaks the tie, so paging still sees each once.
        ok(app.post("/v1/services", &owner.access, json!({"name": name, "duration_minutes": 45})).await);
    }
    for _ in 0..2 {
        app.add_staff(owner, "agent").await;
    }
    for i in 0..3 {
        let email = format!("invited-{i}-{}@example.com", switchboard_testkit::uuid_suffix());
        ok(app.post("/v1/invitations", &owner.access, json!({"email": email, "role": "agent"})).await);
        ok(app.post("/v1/canned-responses", &owner.access, json!({"shortcut": format!("s{i}"), "title": "T", "body": "B"})).await);
        ok(app.post("/v1/whatsapp-templates", &owner.access, json!({"name": format!("t_{i}"), "language": "en", "body": "Hi {{1}}"})).await);
        ok(app.post("/v1/schedule-exceptions", &owner.access, json!({"date": format!("2031-12-2{i}"), "closed": true})).await);
        ok(app.post("/v1/calendar-feeds", &owner.access, json!({"staff_id": owner.staff_id})).await);
        let customer = ok(app.post("/v1/customers", &owner.access, json!({"name": format!("Customer {i}"), "phone": format!("+1415555267{i}")})).await);
        let slot = ok(app.get(&format!("/v1/availability?service_id={service}&staff_id={}&limit=1", owner.staff_id), &owner.access).await);
        let start = slot["slots"][0]["start"].as_str().unwrap_or_else(|| panic!("no free slot: {slot}")).to_owned();
        ok(app.post("/v1/bookings", &owner.access, json!({"customer_id": customer["id"], "service_id": service, "start": start, "staff_id": owner.staff_id})).await);
    }
    for (kind, setup) in setups().into_iter().take(3) {
        ok(app.call(Method::PUT, &format!("/v1/channels/{kind}"), Some(&owner.access), Some(setup)).await);
    }
    let customer = ok(app.get("/v1/customers?limit=1", &owner.access).await)["items"][0]["id"].clone();
    let conversation = ok(app.post("/v1/conversations", &owner.access, json!({"customer_id": customer, "channel": "sms"})).await)["id"].as_str().unwrap().to_owned();
    for i in 0..3 {
        ok(app.post(&format!("/v1/conversations/{conversation}/notes"), &owner.access, json!({"body": format!("note {i}")})).await);
    }
    conversation
}

/// What identifies an item of a list.
fn key(item: &Value) -> String {
    item.get("id").or(item.get("kind")).map(Value::to_string).unwrap_or_else(|| panic!("an item without id: {item}"))
}

/// `path` with another query parameter.
fn with(path: &str, param: &str) -> String {
    format!("{path}{}{param}", if path.contains('?') { '&' } else { '?' })
}

on_both_engines! {

spawn = TestApp::spawn;

/// Every list answers `{items, next_cursor}`, and walking it two at a time with `cursor` gives
/// every item once, in the order of one big page; a cursor that is not one of ours is 400
/// `invalid_cursor`, on every list alike.
async fn every_list_pages_the_same_way(app: TestApp) {
    let owner = app.signup("pages").await;
    let conversation = seed_three_of_each(&app, &owner).await;
    let notes = format!("/v1/conversations/{conversation}/notes");
    let mut lists: Vec<(String, usize)> = LISTS.iter().map(|(p, n)| (p.to_string(), *n)).collect();
    lists.push((notes, 3));
    for (path, expected) in &lists {
        let whole = app.get(&with(path, "limit=200"), &owner.access).await;
        assert_eq!(whole.status, StatusCode::OK, "{path}: {whole:?}");
        let object = whole.body.as_object().unwrap_or_else(|| panic!("{path} answers an object: {}", whole.body));
        assert_eq!(object.keys().map(String::as_str).collect::<Vec<_>>(), ["items", "next_cursor"], "{path}");
        assert_eq!(whole.body["next_cursor"], Value::Null, "{path}: one page holds everything");
        let all: Vec<String> = whole.body["items"].as_array().unwrap().iter().map(key).collect();
        assert!(all.len() >= *expected, "{path}: {} items, expected {expected}: {all:?}", all.len());

        let (mut walked, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let url = match &cursor {
                Some(c) => with(path, &format!("limit=2&cursor={c}")),
                None => with(path, "limit=2"),
            };
            let page = app.get(&url, &owner.access).await;
            assert_eq!(page.status, StatusCode::OK, "{url}: {page:?}");
            let items = page.body["items"].as_array().unwrap();
            assert!(items.len() <= 2, "{url}: {} items", items.len());
            walked.extend(items.iter().map(key));
            pages += 1;
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
            assert!(pages < 50, "{path} never ends");
        }
        assert_eq!(walked, all, "{path}: two at a time gives every item once, in order");
        if all.len() > 2 {
            assert!(pages >= 2, "{path} was paged");
        }
        let bad = app.get(&with(path, "cursor=not-a-cursor"), &owner.access).await;
        assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_cursor"), "{path}: {bad:?}");
    }
    // The calendar keeps its range while it pages: nothing outside it.
    let none = app.get("/v1/bookings?from=2040-01-01&to=2040-01-31&limit=1", &owner.access).await;
    assert_eq!(none.body, json!({"items": [], "next_cursor": null}));
}

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
    let event = json!({"message": {"type": "speech-update"}});
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

/// A signup's locale, currency and country come from its time zone, and national numbers are read
/// in that country; an existing business keeps what it has, but its numbers are read in its
/// zone's country when its locale names none.
async fn regional_defaults_follow_the_time_zone(app: TestApp) {
    for (zone, locale, currency, country, national, e164) in [
        ("Europe/London", "en-GB", "GBP", json!("GB"), "07911 123456", "+447911123456"),
        ("America/New_York", "en-US", "USD", json!("US"), "(415) 555-2671", "+14155552671"),
        ("Europe/Paris", "fr-FR", "EUR", json!("FR"), "06 12 34 56 78", "+33612345678"),
    ] {
        let owner = signup_in(&app, zone).await;
        let business = app.get("/v1/business", &owner.access).await.body;
        assert_eq!((business["locale"].as_str(), business["currency"].as_str(), &business["country"]), (Some(locale), Some(currency), &country), "{zone}: {business}");
        let c = app.post("/v1/customers", &owner.access, json!({"name": "Local", "phone": national})).await;
        assert_eq!(c.status, StatusCode::CREATED, "{zone}: {c:?}");
        assert_eq!(c.body["phone"], e164, "{zone}: a national number is read in the business's country");
    }
    // No country: no guess, a national number is refused; an international one is fine.
    let utc = signup_in(&app, "UTC").await;
    let business = app.get("/v1/business", &utc.access).await.body;
    assert_eq!((business["locale"].as_str(), business["currency"].as_str(), &business["country"]), (Some("en"), Some("USD"), &Value::Null), "{business}");
    let refused = app.post("/v1/customers", &utc.access, json!({"phone": "07911 123456"})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"));
    assert_eq!(app.post("/v1/customers", &utc.access, json!({"phone": "+44 7911 123456"})).await.status, StatusCode::CREATED);

    // A business made before this rule (locale `en`, `USD`) keeps its values; its numbers are read
    // in its zone's country all the same. A locale with a region decides the country.
    let old = signup_in(&app, "Europe/London").await;
    sqlx::query("UPDATE businesses SET locale = 'en', currency = 'USD' WHERE id = $1").bind(&old.business_id).execute(app.db.writer()).await.unwrap();
    let business = app.get("/v1/business", &old.access).await.body;
    assert_eq!((business["locale"].as_str(), business["currency"].as_str(), &business["country"]), (Some("en"), Some("USD"), &json!("GB")));
    let read = app.post("/v1/customers", &old.access, json!({"phone": "07911 123456"})).await;
    assert_eq!(read.body["phone"], "+447911123456", "{read:?}");
    let moved = app.patch("/v1/business", &old.access, json!({"locale": "fr-FR"})).await;
    assert_eq!(moved.body["country"], "FR", "{moved:?}");
    assert_eq!(app.post("/v1/customers", &old.access, json!({"phone": "06 12 34 56 78"})).await.body["phone"], "+33612345678");
}

/// One WhatsApp-id rule: the customers API takes and normalises what intake takes (the digits of
/// an E.164 number, or Meta's user id), so a customer added by hand is the one a message finds.
async fn whatsapp_ids_follow_one_rule_in_intake_and_the_api(app: TestApp) {
    let owner = app.signup("wa-rule").await;
    let typed = app.post("/v1/customers", &owner.access, json!({"name": "Typed", "whatsapp_id": "+44 7911 200777"})).await;
    assert_eq!(typed.status, StatusCode::CREATED, "{typed:?}");
    assert_eq!(typed.body["whatsapp_id"], "447911200777", "normalised to Meta's form");
    let patched = app.patch(&format!("/v1/customers/{}", typed.body["id"].as_str().unwrap()), &owner.access, json!({"whatsapp_id": "whatsapp:+447911200777"})).await;
    assert_eq!(patched.body["whatsapp_id"], "447911200777", "{patched:?}");
    for bad in ["07911 200777", "12345", "not an id!", "+44 79 11+20"] {
        let r = app.post("/v1/customers", &owner.access, json!({"whatsapp_id": bad})).await;
        assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_phone"), "{bad}: {r:?}");
    }
    let hidden = app.post("/v1/customers", &owner.access, json!({"whatsapp_id": "GB.1234567890123456789"})).await;
    assert_eq!(hidden.body["whatsapp_id"], "GB.1234567890123456789", "a user id is kept as sent: {hidden:?}");
    let found = app.get("/v1/customers?q=447911200777", &owner.access).await;
    assert_eq!(found.body["items"].as_array().unwrap().len(), 1, "{found:?}");

    // A message from that number lands with the customer typed in by hand, not a new one.
    let secret = app_secret(&owner);
    assert_eq!(connect_whatsapp(&app, &owner, PHONE_ID, &secret).await.status, StatusCode::OK);
    let body = notification(PHONE_ID, Value::Null, json!([text("wamid.RULE1", "447911200777", "hello")]), Value::Null);
    let (status, _) = post_whatsapp_signed(&app, &body, &secret).await;
    assert_eq!(status, StatusCode::OK);
    app.drain().await;
    let customers = app.all_items("/v1/customers", &owner.access).await;
    assert_eq!(customers.len(), 2, "no new customer: {customers:?}");
    let conversations = app.get(&format!("/v1/conversations?customer_id={}", typed.body["id"].as_str().unwrap()), &owner.access).await;
    assert_eq!(conversations.body["items"][0]["last_message_preview"], "hello", "{conversations:?}");
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

/// The OpenAPI document states the rule: no operation answers a bare JSON array, and every
/// operation answering a page takes `cursor` and `limit` as query parameters.
#[tokio::test]
async fn openapi_shows_one_list_shape() {
    let app = TestApp::spawn(switchboard_testkit::Engine::Sqlite).await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await.body;
    let resolve = |schema: &Value| -> Value {
        match schema["$ref"].as_str() {
            Some(r) => doc.pointer(r.trim_start_matches('#')).cloned().unwrap_or_else(|| panic!("unresolved {r}")),
            None => schema.clone(),
        }
    };
    let (mut bare, mut unpaged, mut pages) = (Vec::new(), Vec::new(), 0);
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(schema) = op.pointer("/responses/200/content/application~1json/schema") else { continue };
            let schema = resolve(schema);
            if schema["type"] == "array" {
                bare.push(format!("{method} {path}"));
            }
            let props = &schema["properties"];
            if props.get("items").is_some() && props.get("next_cursor").is_some() {
                pages += 1;
                let params: Vec<(String, String)> = op["parameters"]
                    .as_array()
                    .map(|ps| ps.iter().map(|p| (p["name"].as_str().unwrap_or_default().to_owned(), p["in"].as_str().unwrap_or_default().to_owned())).collect())
                    .unwrap_or_default();
                for name in ["cursor", "limit"] {
                    if !params.contains(&(name.to_owned(), "query".to_owned())) {
                        unpaged.push(format!("{method} {path} lacks ?{name}"));
                    }
                }
            }
        }
    }
    assert!(bare.is_empty(), "operations answering a bare array: {bare:?}");
    assert!(unpaged.is_empty(), "{unpaged:?}");
    assert!(pages >= 18, "only {pages} paged lists documented");
}

/// What the document says an operation's refusals are, it answers: an operation for owners and
/// admins documents its 403 (`forbidden` for anyone else, `reauthentication_required` for a
/// channel change), and PUT /v1/media no longer documents a 404 it cannot answer.
#[tokio::test]
async fn openapi_documents_the_refusals_operations_answer() {
    let app = TestApp::spawn(switchboard_testkit::Engine::Sqlite).await;
    let doc = app.call(Method::GET, "/openapi.json", None, None).await.body;
    let (mut owners_only, mut undocumented) = (0, Vec::new());
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let text = format!("{} {}", op["summary"].as_str().unwrap_or(""), op["description"].as_str().unwrap_or(""));
            if text.contains("(owners and admins") {
                owners_only += 1;
                if op["responses"].get("403").is_none() {
                    undocumented.push(format!("{method} {path}"));
                }
            }
        }
    }
    assert!(owners_only >= 30, "only {owners_only} operations for owners and admins");
    assert!(undocumented.is_empty(), "owners' and admins' operations without their 403: {undocumented:?}");
    let send = &doc["paths"]["/v1/conversations/{id}/messages"]["post"]["responses"];
    assert!(send.get("409").is_some(), "a colleague's conversation is 409 already_held: {send}");
    assert!(doc["paths"]["/v1/bookings/{id}"]["delete"]["responses"].get("422").is_some());
    assert!(doc["paths"]["/v1/media/{id}"]["put"]["responses"].get("404").is_none());
}
