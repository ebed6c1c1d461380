//! The demo's stand-in for the outside world, so `switchboard-cloud demo` shows the whole product
//! working on a machine with no provider accounts: a sandbox that speaks the WhatsApp Cloud API
//! (it accepts sends, then reports them delivered and read with signed status webhooks, as Meta
//! does; it takes uploads of files to send, and serves customers' photos as the Graph API's media
//! objects: every media id is a small picture), and a simulator of customers who write and call at a realistic pace through the real,
//! signed webhooks. Nothing here is used outside `demo`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::Router;
use hmac::{Hmac, Mac};
use rand::seq::SliceRandom;
use rand::Rng;
use serde_json::{json, Value};
use sha2::Sha256;

pub const PHONE_NUMBER_ID: &str = "100000000001";

struct Shared {
    /// Where to send status webhooks; set once the service is listening.
    service_url: std::sync::Mutex<String>,
    app_secret: String,
    http: reqwest::Client,
}

/// The running sandbox Graph API.
pub struct Graph {
    pub base: String,
    shared: Arc<Shared>,
}

impl Graph {
    pub fn set_service_url(&self, url: &str) {
        *self.shared.service_url.lock().unwrap_or_else(|e| e.into_inner()) = url.to_owned();
    }
}

/// Starts the sandbox Graph API. Sends it accepts are reported delivered and read a few seconds
/// later.
pub async fn start_graph(app_secret: String) -> std::io::Result<Graph> {
    let shared = Arc::new(Shared { service_url: std::sync::Mutex::new(String::new()), app_secret, http: reqwest::Client::new() });
    let app = Router::new()
        .route("/{phone_number_id}/messages", post(accept))
        .route("/{phone_number_id}/media", post(upload))
        .route("/sandbox-download/{media_id}", get(download))
        .route("/{media_id}", get(media_object))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(Graph { base, shared })
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

async fn post_whatsapp(http: &reqwest::Client, service_url: &str, secret: &str, value: Value) {
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "DEMO", "changes": [{"field": "messages", "value": value}]}]}))
        .expect("serialisable");
    let result = http.post(format!("{service_url}/webhooks/whatsapp")).header("x-hub-signature-256", sign(secret, &body)).body(body).send().await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "sandbox could not reach the service");
    }
}

async fn accept(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, axum::Json(body): axum::Json<Value>) -> impl IntoResponse {
    // Unique across restarts on the same data (a counter from 1 again reused ids the service had
    // stored, and recorded sends as failed).
    let wamid = format!("wamid.sandbox-{}", sandbox_id());
    let to = body["to"].as_str().unwrap_or("").to_owned();
    let shared2 = shared.clone();
    let id = wamid.clone();
    tokio::spawn(async move {
        for (delay, status) in [(1_500, "delivered"), (4_000, "read")] {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            let value = json!({"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                "statuses": [{"id": id, "status": status, "timestamp": jiff::Timestamp::now().as_second().to_string(), "recipient_id": to}]});
            let url = shared2.service_url.lock().unwrap_or_else(|e| e.into_inner()).clone();
            post_whatsapp(&shared2.http, &url, &shared2.app_secret, value).await;
        }
    });
    axum::Json(json!({"messaging_product": "whatsapp", "messages": [{"id": wamid}]}))
}

/// A 16×16 pink PNG: every customer photo in the sandbox.
const PHOTO: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 16, 0, 0, 0, 16, 8, 2, 0, 0, 0, 144, 145, 104, 54, 0, 0, 0, 22, 73, 68, 65, 84, 120,
    218, 99, 56, 17, 176, 128, 36, 196, 48, 170, 97, 84, 195, 240, 213, 0, 0, 18, 142, 184, 16, 76, 218, 55, 157, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// `GET /{media-id}`: where the file is (Meta answers a short-lived URL).
async fn media_object(Path(id): Path<String>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    let host = headers.get("host").and_then(|h| h.to_str().ok()).unwrap_or("127.0.0.1").to_owned();
    axum::Json(json!({"url": format!("http://{host}/sandbox-download/{id}"), "mime_type": "image/png", "id": id, "file_size": PHOTO.len(), "messaging_product": "whatsapp"}))
}

async fn download(Path(_id): Path<String>) -> impl IntoResponse {
    ([("content-type", "image/png")], PHOTO)
}

/// `POST /{phone-number-id}/media`: a file to send; answers its id.
async fn upload(Path(_id): Path<String>, _body: axum::body::Bytes) -> impl IntoResponse {
    axum::Json(json!({"id": format!("sandbox-upload-{}", sandbox_id())}))
}

/// An id the sandbox has never given, in this run or an earlier one.
fn sandbox_id() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

/// One simulated customer's visit: lines said a little apart.
fn scripts() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        ("Grace Lee", vec!["Hi! How much is a men's cut?", "Can I book a men's cut tomorrow at 11am?", "yes please"]),
        ("Tom Harris", vec!["Hello, what are your opening hours?", "Thanks!"]),
        ("Priya Shah", vec!["Do you have anything for a full colour on Saturday?", "Saturday at 10am please", "Yes, book it"]),
        ("Daniel Evans", vec!["I need to speak to someone about a complaint"]),
        ("Chloe Martin", vec!["hey can I get a fringe trim next tuesday at 2pm", "yes"]),
        ("Mohammed Ali", vec!["Hi, is there parking near you?", "I'd rather talk to a person"]),
        ("Sophie Turner", vec!["Book me a women's cut & blow-dry friday at 4pm", "ok great"]),
    ]
}

/// The demo's reminded customer answers their reminder with "C" once it has arrived (the seed
/// brings it forward to just after the start), through the real WhatsApp webhook: the booking
/// becomes confirmed and the answer goes out, as with any customer. Looks for at most `patience`;
/// returns whether it answered. It reads the conversation as the demo owner would, over the API,
/// signed in once: the person trying the demo signs in as that owner at the same time, and the
/// service allows an account only a few sign-ins a minute.
pub async fn answer_demo_reminder(service_url: &str, app_secret: &str, patience: Duration) -> bool {
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + patience;
    let login = json!({"email": crate::demo::DEMO_EMAIL, "password": crate::demo::DEMO_PASSWORD});
    let get = |path: String, token: String| {
        let http = http.clone();
        let url = format!("{service_url}{path}");
        async move { http.get(url).bearer_auth(token).send().await.ok()?.json::<Value>().await.ok() }
    };
    let mut token: Option<String> = None;
    while std::time::Instant::now() < deadline {
        if token.is_none() {
            token = match http.post(format!("{service_url}/v1/auth/login")).json(&login).send().await {
                Ok(r) => r.json::<Value>().await.ok().and_then(|b| b["access_token"].as_str().map(str::to_owned)),
                // Not listening yet: try again shortly.
                Err(_) => None,
            };
        }
        if let Some(token) = token.clone() {
            let wa_id = crate::demo::REMINDED_WHATSAPP_ID;
            let conversations = get("/v1/conversations?channel=whatsapp&limit=200".into(), token.clone()).await.unwrap_or_default();
            let mut conversation = None;
            for c in conversations["items"].as_array().into_iter().flatten() {
                let customer = get(format!("/v1/customers/{}", c["customer_id"].as_str().unwrap_or("-")), token.clone()).await.unwrap_or_default();
                if customer["whatsapp_id"] == wa_id {
                    conversation = c["id"].as_str().map(str::to_owned);
                    break;
                }
            }
            if let Some(id) = conversation {
                let page = get(format!("/v1/conversations/{id}/messages?limit=200"), token).await.unwrap_or_default();
                let last_out = page["items"].as_array().and_then(|m| m.iter().rev().find(|m| m["direction"] == "outbound" && m["kind"] != "event").cloned());
                if last_out.is_some_and(|m| m["automation"].as_str().is_some_and(|a| a.starts_with("reminder:"))) {
                    let value = json!({"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                        "contacts": [{"profile": {"name": "Olivia Brown"}, "wa_id": wa_id}],
                        "messages": [{"from": wa_id, "id": format!("wamid.sim-reminder-{}", uuid::Uuid::now_v7().simple()),
                                      "timestamp": jiff::Timestamp::now().as_second().to_string(), "type": "text", "text": {"body": "C"}}]});
                    post_whatsapp(&http, service_url, app_secret, value).await;
                    return true;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    false
}

/// Customers who write (and now and then call) the demo business, for as long as it runs.
pub async fn simulate(service_url: String, app_secret: String, vapi_secret: String, business_id: String) {
    let http = reqwest::Client::new();
    let mut visit: u64 = 0;
    // The demo's reminder, confirmed by reply (a demo seeded before has none: it gives up).
    let (url, secret) = (service_url.clone(), app_secret.clone());
    tokio::spawn(async move { answer_demo_reminder(&url, &secret, Duration::from_secs(90)).await });
    tokio::time::sleep(Duration::from_secs(8)).await;
    loop {
        visit += 1;
        let (name, lines) = {
            let all = scripts();
            all.choose(&mut rand::thread_rng()).cloned().expect("scripts")
        };
        let number = format!("4479111{:05}", 40_000 + visit % 50_000);
        for (i, line) in lines.iter().enumerate() {
            let value = json!({"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": name}, "wa_id": number}],
                "messages": [{"from": number, "id": format!("wamid.sim{visit}-{i}"), "timestamp": jiff::Timestamp::now().as_second().to_string(),
                              "type": "text", "text": {"body": line}}]});
            post_whatsapp(&http, &service_url, &app_secret, value).await;
            let pause = rand::thread_rng().gen_range(6..14);
            tokio::time::sleep(Duration::from_secs(pause)).await;
        }
        // Every third visit, someone also phones and the voice agent's report arrives.
        if visit.is_multiple_of(3) {
            let call = json!({"message": {"type": "end-of-call-report", "endedReason": "customer-ended-call", "durationSeconds": rand::thread_rng().gen_range(40..240),
                "call": {"id": format!("sim-call-{visit}"), "customer": {"number": format!("+{number}")}},
                "analysis": {"summary": format!("{name} called to ask about availability this week.")},
                "artifact": {"transcript": "AI: Thanks for calling Bloom! How can I help?\nCaller: Do you have anything this week?", "recordingUrl": null}}});
            let result = http.post(format!("{service_url}/webhooks/vapi/{business_id}")).bearer_auth(&vapi_secret).json(&call).send().await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "simulator could not reach the service");
            }
        }
        let pause = rand::thread_rng().gen_range(15..40);
        tokio::time::sleep(Duration::from_secs(pause)).await;
    }
}
