//! A local stand-in for the providers on the internet, speaking their documented formats: the
//! WhatsApp Cloud API (Graph: `POST /{phone-number-id}/messages`, `GET /{media-id}` then the
//! media URL, bearer tokens) and Twilio's REST API (`POST /2010-04-01/Accounts/{sid}/Messages.json`,
//! basic auth, form bodies; media URLs). Tests script its answers and read what it received.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde_json::{json, Value};

/// The next answer to a send.
#[derive(Debug, Clone)]
pub enum Scripted {
    Accept,
    /// Take this long before answering (longer than the service's timeout: it gives up).
    Hang(Duration),
    Fail(u16, Value),
    /// Take it, answering with this id (a WhatsApp message id, a Twilio SID) — one the service may
    /// have seen before.
    AcceptAs(String),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub authorization: String,
    /// JSON bodies as they are; form bodies as a JSON object of their fields.
    pub body: Value,
}

#[derive(Default)]
pub struct FakeState {
    pub received: Mutex<Vec<Received>>,
    pub script: Mutex<VecDeque<Scripted>>,
    /// Sends the fake accepted and answered (a hung request the client gave up on is not one).
    pub accepted: AtomicUsize,
    base: Mutex<String>,
}

pub struct FakeProviders {
    pub base: String,
    pub state: Arc<FakeState>,
}

pub const WHATSAPP_TOKEN: &str = "EAAG-test-access-token";
pub const TWILIO_SID: &str = "AC00000000000000000000000000000001";
pub const TWILIO_TOKEN: &str = "twilio-auth-token-test";

impl FakeProviders {
    pub async fn start() -> FakeProviders {
        let state = Arc::new(FakeState::default());
        let app = Router::new()
            .route("/2010-04-01/Accounts/{sid}/Messages.json", post(twilio_send))
            .route("/twilio-media/{id}", get(twilio_media))
            .route("/download/{id}", get(graph_download))
            .route("/{phone_number_id}/messages", post(graph_send))
            .route("/{phone_number_id}/media", post(graph_upload))
            .route("/{media_id}", get(graph_media))
            .with_state(state.clone());
        let base = format!("http://{}", crate::serve(app).await);
        *state.base.lock().unwrap() = base.clone();
        FakeProviders { base, state }
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Scripted>) {
        self.state.script.lock().unwrap().extend(answers);
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    pub fn sends(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path.ends_with("/messages") || r.path.ends_with("Messages.json")).collect()
    }

    /// Files uploaded to the Graph API for sending (`POST /{phone-number-id}/media`).
    pub fn uploads(&self) -> Vec<Received> {
        self.received().into_iter().filter(|r| r.path.ends_with("/media")).collect()
    }

    pub fn accepted(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }
}

fn auth(headers: &HeaderMap) -> String {
    headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

async fn answer(state: &FakeState, ok: Value) -> Response {
    let next = state.script.lock().unwrap().pop_front().unwrap_or(Scripted::Accept);
    match next {
        Scripted::Accept => {
            state.accepted.fetch_add(1, Ordering::SeqCst);
            (StatusCode::OK, axum::Json(ok)).into_response()
        }
        Scripted::AcceptAs(id) => {
            state.accepted.fetch_add(1, Ordering::SeqCst);
            let mut ok = ok;
            if ok.get("sid").is_some() {
                ok["sid"] = json!(id);
            } else if ok["messages"][0].is_object() {
                ok["messages"][0]["id"] = json!(id);
            } else {
                ok["id"] = json!(id);
            }
            (StatusCode::OK, axum::Json(ok)).into_response()
        }
        Scripted::Hang(d) => {
            // Lost in flight: the provider never took it (and answers too late to matter).
            let _ = ok;
            tokio::time::sleep(d).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Scripted::Fail(status, body) => (StatusCode::from_u16(status).unwrap(), axum::Json(body)).into_response(),
    }
}

async fn graph_send(State(state): State<Arc<FakeState>>, Path(_id): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let to = body["to"].clone();
    let n = {
        let mut received = state.received.lock().unwrap();
        received.push(Received { path: format!("/{_id}/messages"), authorization: auth(&headers), body });
        received.len()
    };
    if auth(&headers) != format!("Bearer {WHATSAPP_TOKEN}") {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"code": 190, "message": "Invalid OAuth access token"}}))).into_response();
    }
    answer(&state, json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}], "messages": [{"id": format!("wamid.fake{n}")}]})).await
}

/// `POST /{phone-number-id}/media`: a multipart upload (`messaging_product`, `type`, `file`).
/// Recorded as `{"messaging_product", "type", "filename", "file_content_type", "size", "bytes"}`.
async fn graph_upload(State(state): State<Arc<FakeState>>, Path(id): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let boundary = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split("boundary=").nth(1))
        .map(|b| b.trim_matches('"').to_owned())
        .unwrap_or_default();
    let mut fields = serde_json::Map::new();
    if !boundary.is_empty() {
        let delimiter = format!("--{boundary}");
        let text = body.as_ref();
        let mut parts = split_bytes(text, delimiter.as_bytes());
        parts.retain(|p| !p.is_empty() && !p.starts_with(b"--"));
        for part in parts {
            let part = part.strip_prefix(b"\r\n").unwrap_or(part);
            let Some(split) = find(part, b"\r\n\r\n") else { continue };
            let head = String::from_utf8_lossy(&part[..split]).to_string();
            let mut value = &part[split + 4..];
            value = value.strip_suffix(b"\r\n").unwrap_or(value);
            let name = head.split("name=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
            if name == "file" {
                let filename = head.split("filename=\"").nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_owned();
                let content_type = head.lines().find_map(|l| l.strip_prefix("Content-Type: ")).unwrap_or("").trim().to_owned();
                fields.insert("filename".into(), Value::String(filename));
                fields.insert("file_content_type".into(), Value::String(content_type));
                fields.insert("size".into(), json!(value.len()));
                fields.insert("bytes".into(), Value::String(String::from_utf8_lossy(value).into_owned()));
            } else {
                fields.insert(name, Value::String(String::from_utf8_lossy(value).into_owned()));
            }
        }
    }
    let n = {
        let mut received = state.received.lock().unwrap();
        received.push(Received { path: format!("/{id}/media"), authorization: auth(&headers), body: Value::Object(fields.clone()) });
        received.len()
    };
    if auth(&headers) != format!("Bearer {WHATSAPP_TOKEN}") {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"code": 190, "message": "Invalid OAuth access token"}}))).into_response();
    }
    if fields.get("messaging_product").and_then(Value::as_str) != Some("whatsapp") || !fields.contains_key("file") && !fields.contains_key("size") {
        return (StatusCode::BAD_REQUEST, axum::Json(json!({"error": {"code": 100, "message": "Invalid parameter"}}))).into_response();
    }
    axum::Json(json!({"id": format!("fake-upload-{n}")})).into_response()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn split_bytes<'a>(mut text: &'a [u8], delimiter: &[u8]) -> Vec<&'a [u8]> {
    let mut out = vec![];
    while let Some(i) = find(text, delimiter) {
        out.push(&text[..i]);
        text = &text[i + delimiter.len()..];
    }
    out.push(text);
    out
}

async fn graph_media(State(state): State<Arc<FakeState>>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    state.received.lock().unwrap().push(Received { path: format!("/{id}"), authorization: auth(&headers), body: Value::Null });
    if auth(&headers) != format!("Bearer {WHATSAPP_TOKEN}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let base = state.base.lock().unwrap().clone();
    axum::Json(json!({"url": format!("{base}/download/{id}"), "mime_type": fake_media_type(&id), "id": id, "file_size": 16})).into_response()
}

/// What a fake WhatsApp file is: a voice note when its id says so (`AUDIO-…`), else a photo.
fn fake_media_type(id: &str) -> &'static str {
    if id.starts_with("AUDIO-") { "audio/ogg" } else { "image/jpeg" }
}

async fn graph_download(Path(id): Path<String>, headers: HeaderMap) -> Response {
    if auth(&headers) != format!("Bearer {WHATSAPP_TOKEN}") {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let kind = fake_media_type(&id);
    let bytes = if kind == "audio/ogg" { format!("OGG-BYTES-{id}") } else { format!("JPEG-BYTES-{id}") };
    ([("content-type", kind)], bytes.into_bytes()).into_response()
}

async fn twilio_send(State(state): State<Arc<FakeState>>, Path(sid): Path<String>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let fields: serde_json::Map<String, Value> = form_urlencoded::parse(&body).map(|(k, v)| (k.into_owned(), Value::String(v.into_owned()))).collect();
    let n = {
        let mut received = state.received.lock().unwrap();
        received.push(Received { path: format!("/2010-04-01/Accounts/{sid}/Messages.json"), authorization: auth(&headers), body: Value::Object(fields) });
        received.len()
    };
    let expected = switchboard_cloud::twilio::client::basic_auth(TWILIO_SID, TWILIO_TOKEN);
    if auth(&headers) != expected {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"code": 20003, "message": "Authenticate"}))).into_response();
    }
    answer(&state, json!({"sid": format!("SM{n:032}"), "status": "queued"})).await
}

async fn twilio_media(Path(id): Path<String>, headers: HeaderMap) -> Response {
    if auth(&headers) != switchboard_cloud::twilio::client::basic_auth(TWILIO_SID, TWILIO_TOKEN) {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    ([("content-type", "image/png")], format!("PNG-BYTES-{id}").into_bytes()).into_response()
}
