//! WhatsApp and Twilio helpers for tests: connect channels, sign and post webhooks the way the
//! providers do, and read what landed.

use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_cloud::Config;

use crate::fakes::{FakeProviders, TWILIO_SID, TWILIO_TOKEN, WHATSAPP_TOKEN};
use crate::{Engine, Reply, Tenant, TestApp};

pub const PHONE_ID: &str = "109876543210";

/// The service on a test clock, talking to local fake WhatsApp and Twilio APIs.
pub async fn spawn_with_fakes(engine: Engine, adjust: impl FnOnce(&mut Config)) -> (TestApp, FakeProviders) {
    let fake = FakeProviders::start().await;
    (TestApp::spawn_with(engine, to_fakes(&fake, adjust)).await, fake)
}

/// As [`spawn_with_fakes`], with the workers running in the background on the system clock.
pub async fn spawn_live_with_fakes(engine: Engine, adjust: impl FnOnce(&mut Config)) -> (TestApp, FakeProviders) {
    let fake = FakeProviders::start().await;
    (TestApp::spawn_live(engine, to_fakes(&fake, adjust)).await, fake)
}

/// The providers at the fakes, with short timeouts and retries; then `adjust`.
fn to_fakes(fake: &FakeProviders, adjust: impl FnOnce(&mut Config)) -> impl FnOnce(&mut Config) {
    let base = fake.base.clone();
    move |c| {
        c.whatsapp_api_base = base.clone();
        c.twilio_api_base = base;
        c.public_url = "https://switchboard.example".into();
        c.provider_timeout_ms = 700;
        c.outbox_retry_base_ms = 50;
        adjust(c);
    }
}

pub fn app_secret(t: &Tenant) -> String {
    format!("app-secret-{}", &t.business_id[..8])
}

/// Channel tests look at what people and webhooks do: the assistant stays quiet unless a test
/// turns it on.
pub async fn quiet_assistant(app: &TestApp, t: &Tenant) {
    // (An agent may not change it; the tests that connect as one expect that refusal next.)
    app.patch("/v1/assistant", &t.access, json!({"enabled": false})).await;
}

/// Connecting a channel is a sensitive action: like the console, confirm the password first (a
/// test may have moved the clock past the last sign-in).
pub async fn reauthenticate(app: &TestApp, t: &Tenant) {
    let r = app.post("/v1/me/reauthenticate", &t.access, json!({"password": t.password})).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "re-authenticating: {r:?}");
}

pub async fn connect_whatsapp(app: &TestApp, t: &Tenant, phone_number_id: &str, secret: &str) -> Reply {
    quiet_assistant(app, t).await;
    reauthenticate(app, t).await;
    app.call(
        Method::PUT,
        "/v1/channels/whatsapp",
        Some(&t.access),
        Some(json!({"phone_number_id": phone_number_id, "display_phone_number": "+44 7911 000000", "access_token": WHATSAPP_TOKEN,
                    "app_secret": secret, "verify_token": format!("verify-{secret}")})),
    )
    .await
}

pub async fn connect_twilio(app: &TestApp, t: &Tenant, number: &str) -> Reply {
    quiet_assistant(app, t).await;
    reauthenticate(app, t).await;
    app.call(
        Method::PUT,
        "/v1/channels/twilio",
        Some(&t.access),
        Some(json!({"account_sid": TWILIO_SID, "auth_token": TWILIO_TOKEN, "numbers": [number, format!("whatsapp:{number}")]})),
    )
    .await
}

pub fn sign_meta(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

pub async fn post_whatsapp(app: &TestApp, body: &Value, signature: Option<String>) -> (StatusCode, String) {
    let raw = serde_json::to_vec(body).unwrap();
    let mut req = app.client.post(format!("{}/webhooks/whatsapp", app.base)).header("content-type", "application/json").body(raw);
    if let Some(s) = signature {
        req = req.header("x-hub-signature-256", s);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.text().await.unwrap())
}

pub async fn post_whatsapp_signed(app: &TestApp, body: &Value, secret: &str) -> (StatusCode, String) {
    let raw = serde_json::to_vec(body).unwrap();
    post_whatsapp(app, body, Some(sign_meta(secret, &raw))).await
}

pub async fn post_twilio(app: &TestApp, path: &str, params: &[(&str, &str)], token: &str) -> (StatusCode, String) {
    let owned: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let signature = switchboard_cloud::twilio::intake::signature(token, &format!("{}{path}", app.config.public_url), &owned);
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(owned.iter()).finish();
    let res = app
        .client
        .post(format!("{}{path}", app.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status(), res.text().await.unwrap())
}

/// A WhatsApp Cloud API notification, as Meta sends it.
pub fn notification(phone_number_id: &str, contacts: Value, messages: Value, statuses: Value) -> Value {
    let mut value = json!({"messaging_product": "whatsapp", "metadata": {"display_phone_number": "447911000000", "phone_number_id": phone_number_id}});
    if !contacts.is_null() {
        value["contacts"] = contacts;
    }
    if !messages.is_null() {
        value["messages"] = messages;
    }
    if !statuses.is_null() {
        value["statuses"] = statuses;
    }
    json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA-1", "changes": [{"field": "messages", "value": value}]}]})
}

pub fn text(id: &str, from: &str, body: &str) -> Value {
    json!({"from": from, "id": id, "timestamp": (jiff::Timestamp::now().as_second()).to_string(), "type": "text", "text": {"body": body}})
}

pub async fn count(app: &TestApp, sql: &str, business: &str) -> i64 {
    sqlx::query_scalar(sql).bind(business).fetch_one(app.db.reader()).await.unwrap()
}

pub async fn messages_of(app: &TestApp, t: &Tenant) -> Vec<Value> {
    let inbox = app.get("/v1/conversations", &t.access).await;
    let mut all = Vec::new();
    for c in inbox.body["items"].as_array().unwrap() {
        let page = app.get(&format!("/v1/conversations/{}/messages?limit=200", c["id"].as_str().unwrap()), &t.access).await;
        all.extend(page.body["items"].as_array().unwrap().iter().cloned());
    }
    all
}

/// A new business (`label`) with WhatsApp connected on [`PHONE_ID`] and its assistant quiet: its
/// owner and the app secret its webhooks are signed with.
pub async fn whatsapp_owner(app: &TestApp, label: &str) -> (Tenant, String) {
    let owner = app.signup(label).await;
    let secret = app_secret(&owner);
    connect_whatsapp(app, &owner, PHONE_ID, &secret).await;
    (owner, secret)
}

/// A customer (`from`) sends a JPEG photo by WhatsApp: message `wamid`, the file `media_id` at the
/// fake Graph API (whose bytes are `JPEG-BYTES-{media_id}`), with a caption.
pub async fn post_whatsapp_photo(app: &TestApp, secret: &str, from: &str, wamid: &str, media_id: &str, caption: &str) -> (StatusCode, String) {
    let photo = json!({"from": from, "id": wamid, "timestamp": "1767225600", "type": "image",
                       "image": {"id": media_id, "mime_type": "image/jpeg", "caption": caption}});
    post_whatsapp_signed(app, &notification(PHONE_ID, Value::Null, json!([photo]), Value::Null), secret).await
}

/// A voice note, as WhatsApp delivers one (the fake serves `AUDIO-…` ids as `audio/ogg`).
pub async fn post_whatsapp_voice_note(app: &TestApp, secret: &str, from: &str, wamid: &str, media_id: &str) -> (StatusCode, String) {
    let note = json!({"from": from, "id": wamid, "timestamp": "1767225600", "type": "audio", "audio": {"id": media_id, "mime_type": "audio/ogg; codecs=opus", "voice": true}});
    post_whatsapp_signed(app, &notification(PHONE_ID, Value::Null, json!([note]), Value::Null), secret).await
}

/// A customer who wrote on WhatsApp just now, and their conversation id.
pub async fn whatsapp_customer(app: &TestApp, t: &Tenant, from: &str) -> String {
    let secret = app_secret(t);
    post_whatsapp_signed(app, &notification(PHONE_ID, Value::Null, json!([text(&format!("wamid.in-{from}"), from, "Hello?")]), Value::Null), &secret).await;
    app.settled("the conversation exists", || async {
        !app.get("/v1/conversations", &t.access).await.body["items"].as_array().unwrap().is_empty()
    })
    .await;
    app.get("/v1/conversations", &t.access).await.body["items"][0]["id"].as_str().unwrap().to_owned()
}

pub async fn message(app: &TestApp, t: &Tenant, conversation: &str, id: &str) -> Value {
    let page = app.get(&format!("/v1/conversations/{conversation}/messages"), &t.access).await;
    page.body["items"].as_array().unwrap().iter().find(|m| m["id"] == id).cloned().unwrap()
}

