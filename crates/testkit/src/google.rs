//! A local stand-in for Google: the OAuth 2.0 server of an installed app (consent that redirects to
//! the loopback address at once, the token endpoint with PKCE S256, refresh, revoke) and the
//! Calendar API v3 parts we use (calendar list, `events.list` with sync tokens and pages, `insert`,
//! `patch`, `delete`, `events.watch`, `channels.stop`), over real HTTP on loopback.
//!
//! It behaves the way Google documents, including the awkward parts the service must cope with:
//! `nextSyncToken` on the last page only, cancelled events in incremental results, 410 Gone when a
//! sync token is no longer valid ([`GoogleStandIn::force_gone`]), channels that expire by the
//! stand-in's clock, refresh tokens that get revoked ([`GoogleStandIn::revoke_refresh_tokens`]).
//! Push notifications are queued and sent when the test says ([`GoogleStandIn::deliver`]), in
//! any order, twice, or late — or at once ([`GoogleStandIn::deliver_immediately`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub const CLIENT_ID: &str = "switchboard-test.apps.googleusercontent.com";
pub const CLIENT_SECRET: &str = "GOCSPX-test-client-secret";
/// The primary calendar's id (the account's address) and a second calendar.
pub const PRIMARY: &str = "sam@example.com";
pub const FAMILY: &str = "family0123@group.calendar.google.com";

#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub id: String,
    pub calendar: String,
    pub body: Value,
    pub cancelled: bool,
    /// The change counter when it last changed.
    pub seq: u64,
}

impl StoredEvent {
    pub fn start(&self) -> String {
        self.body["start"]["dateTime"].as_str().unwrap_or_default().to_owned()
    }
    pub fn end(&self) -> String {
        self.body["end"]["dateTime"].as_str().unwrap_or_default().to_owned()
    }
    pub fn booking_id(&self) -> Option<String> {
        self.body["extendedProperties"]["private"]["switchboardBookingId"].as_str().map(str::to_owned)
    }
}

#[derive(Debug, Clone)]
pub struct WatchChannel {
    pub id: String,
    pub calendar: String,
    pub resource_id: String,
    pub address: String,
    pub token: String,
    pub expiration: i64,
    pub stopped: bool,
    pub messages: u64,
}

/// A notification waiting to be sent.
#[derive(Debug, Clone)]
pub struct Notification {
    pub channel_id: String,
    pub token: String,
    pub resource_id: String,
    pub address: String,
    pub state: String,
    pub number: u64,
}

struct Grant {
    challenge: String,
    redirect_uri: String,
}

#[derive(Default)]
struct Inner {
    seq: u64,
    events: Vec<StoredEvent>,
    /// Sync tokens below this change counter answer 410 (per calendar).
    oldest_valid: HashMap<String, u64>,
    channels: Vec<WatchChannel>,
    queue: VecDeque<Notification>,
    grants: HashMap<String, Grant>,
    refresh_tokens: HashMap<String, bool>,
    access_tokens: HashMap<String, String>,
    /// Paged listings in progress: page token → (remaining items, nextSyncToken for the end).
    pages: HashMap<String, (Vec<Value>, String)>,
    next_id: u64,
}

pub struct GoogleState {
    inner: Mutex<Inner>,
    /// Events per page of `events.list` (small, so paging is exercised).
    pub page_size: AtomicU64,
    immediate: AtomicBool,
    now: Mutex<Option<Arc<dyn Fn() -> i64 + Send + Sync>>>,
    /// Every request the stand-in answered: `METHOD path`.
    pub requests: Mutex<Vec<String>>,
    http: reqwest::Client,
}

pub struct GoogleStandIn {
    pub base: String,
    pub state: Arc<GoogleState>,
}

fn now_of(state: &GoogleState) -> i64 {
    match &*state.now.lock().unwrap() {
        Some(f) => f(),
        None => std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64,
    }
}

fn error(status: StatusCode, reason: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"code": status.as_u16(), "message": message, "errors": [{"domain": "global", "reason": reason, "message": message}]}}))).into_response()
}

impl GoogleStandIn {
    pub async fn start() -> GoogleStandIn {
        let state = Arc::new(GoogleState {
            inner: Mutex::new(Inner::default()),
            page_size: AtomicU64::new(3),
            immediate: AtomicBool::new(false),
            now: Mutex::new(None),
            requests: Mutex::new(Vec::new()),
            http: reqwest::Client::new(),
        });
        let app = Router::new()
            .route("/o/oauth2/v2/auth", get(consent))
            .route("/o/oauth2/token", post(token))
            .route("/o/oauth2/revoke", post(revoke))
            .route("/calendar/v3/users/me/calendarList", get(calendar_list))
            .route("/calendar/v3/calendars/{calendar}/events", get(list_events).post(insert_event))
            .route("/calendar/v3/calendars/{calendar}/events/watch", post(watch))
            .route("/calendar/v3/calendars/{calendar}/events/{event}", patch(patch_event).delete(delete_event))
            .route("/calendar/v3/channels/stop", post(stop))
            .with_state(state.clone());
        let base = format!("http://{}", crate::serve(app).await);
        GoogleStandIn { base, state }
    }

    /// Points a service's configuration at the stand-in.
    pub fn configure(&self, config: &mut switchboard_cloud::Config) {
        config.google_client_id = Some(CLIENT_ID.into());
        config.google_client_secret = Some(CLIENT_SECRET.to_string().into());
        config.google_api_base = format!("{}/calendar/v3", self.base);
        config.google_oauth_base = self.base.clone();
    }

    /// Channel expiry follows this clock (the service's test clock).
    pub fn use_clock(&self, now: impl Fn() -> i64 + Send + Sync + 'static) {
        *self.state.now.lock().unwrap() = Some(Arc::new(now));
    }

    /// Notifications are sent as changes happen (in the background) instead of waiting for
    /// [`GoogleStandIn::deliver`].
    pub fn deliver_immediately(&self, yes: bool) {
        self.state.immediate.store(yes, Ordering::SeqCst);
    }

    fn change(&self, f: impl FnOnce(&mut Inner) -> Option<String>) -> Option<String> {
        let mut inner = self.state.inner.lock().unwrap();
        let calendar = f(&mut inner);
        if let Some(c) = &calendar {
            queue_notifications(&self.state, &mut inner, c, "exists");
        }
        drop(inner);
        flush_if_immediate(&self.state);
        calendar
    }

    /// Someone adds an event in Google. `extra` is merged into the event (e.g.
    /// `{"transparency": "transparent"}`). Returns its id.
    pub fn add_event(&self, calendar: &str, start: &str, end: &str, extra: Value) -> String {
        let mut id = String::new();
        self.change(|inner| {
            inner.seq += 1;
            inner.next_id += 1;
            id = format!("outside{}", inner.next_id);
            let mut body = json!({"id": id, "status": "confirmed", "summary": "Dentist", "start": {"dateTime": start}, "end": {"dateTime": end}});
            if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
                for (k, v) in e {
                    b.insert(k.clone(), v.clone());
                }
            }
            let seq = inner.seq;
            inner.events.push(StoredEvent { id: id.clone(), calendar: calendar.into(), body, cancelled: false, seq });
            Some(calendar.into())
        });
        id
    }

    /// Someone moves an event in Google.
    pub fn move_event(&self, calendar: &str, id: &str, start: &str, end: &str) {
        self.change(|inner| {
            inner.seq += 1;
            let seq = inner.seq;
            let e = inner.events.iter_mut().find(|e| e.id == id && e.calendar == calendar).expect("no such event");
            e.body["start"] = json!({"dateTime": start});
            e.body["end"] = json!({"dateTime": end});
            e.seq = seq;
            Some(calendar.into())
        });
    }

    /// Someone deletes an event in Google (it shows as cancelled in incremental results).
    pub fn delete_event(&self, calendar: &str, id: &str) {
        self.change(|inner| {
            inner.seq += 1;
            let seq = inner.seq;
            let e = inner.events.iter_mut().find(|e| e.id == id && e.calendar == calendar).expect("no such event");
            e.cancelled = true;
            e.seq = seq;
            Some(calendar.into())
        });
    }

    /// Deletes an event without any notification (while the service was not listening).
    pub fn delete_quietly(&self, calendar: &str, id: &str) {
        let mut inner = self.state.inner.lock().unwrap();
        inner.seq += 1;
        let seq = inner.seq;
        let e = inner.events.iter_mut().find(|e| e.id == id && e.calendar == calendar).expect("no such event");
        e.cancelled = true;
        e.seq = seq;
    }

    /// Every sync token issued so far for `calendar` now answers 410 Gone.
    pub fn force_gone(&self, calendar: &str) {
        let mut inner = self.state.inner.lock().unwrap();
        inner.seq += 1;
        let seq = inner.seq;
        inner.oldest_valid.insert(calendar.to_owned(), seq);
    }

    /// The person revoked our access (or it expired): refreshing answers `invalid_grant`, and the
    /// access tokens stop working.
    pub fn revoke_refresh_tokens(&self) {
        let mut inner = self.state.inner.lock().unwrap();
        for revoked in inner.refresh_tokens.values_mut() {
            *revoked = true;
        }
        inner.access_tokens.clear();
    }

    /// The calendar's live events (not deleted).
    pub fn events(&self, calendar: &str) -> Vec<StoredEvent> {
        self.state.inner.lock().unwrap().events.iter().filter(|e| e.calendar == calendar && !e.cancelled).cloned().collect()
    }

    pub fn channels(&self) -> Vec<WatchChannel> {
        self.state.inner.lock().unwrap().channels.clone()
    }

    /// Channels that are open and not expired.
    pub fn live_channels(&self) -> Vec<WatchChannel> {
        let now = now_of(&self.state);
        self.channels().into_iter().filter(|c| !c.stopped && c.expiration > now).collect()
    }

    /// Notifications waiting to be sent.
    pub fn pending(&self) -> Vec<Notification> {
        self.state.inner.lock().unwrap().queue.iter().cloned().collect()
    }

    /// Sends every waiting notification, in order, each answered before the next.
    pub async fn deliver(&self) -> Vec<StatusCode> {
        let queued: Vec<Notification> = self.state.inner.lock().unwrap().queue.drain(..).collect();
        self.send(queued).await
    }

    /// Sends these notifications as they are (reordered, repeated, or old ones late).
    pub async fn send(&self, notifications: Vec<Notification>) -> Vec<StatusCode> {
        let mut answers = Vec::new();
        for n in notifications {
            answers.push(send_one(&self.state.http, &n).await);
        }
        answers
    }

    /// Takes the waiting notifications without sending them (to send later, or never).
    pub fn take_pending(&self) -> Vec<Notification> {
        self.state.inner.lock().unwrap().queue.drain(..).collect()
    }

    pub fn requests(&self) -> Vec<String> {
        self.state.requests.lock().unwrap().clone()
    }
}

async fn send_one(http: &reqwest::Client, n: &Notification) -> StatusCode {
    let res = http
        .post(&n.address)
        .header("X-Goog-Channel-ID", &n.channel_id)
        .header("X-Goog-Channel-Token", &n.token)
        .header("X-Goog-Resource-ID", &n.resource_id)
        .header("X-Goog-Resource-State", &n.state)
        .header("X-Goog-Message-Number", n.number.to_string())
        .send()
        .await;
    match res {
        Ok(r) => r.status(),
        Err(_) => StatusCode::BAD_GATEWAY,
    }
}

fn queue_notifications(state: &GoogleState, inner: &mut Inner, calendar: &str, resource_state: &str) {
    let now = now_of(state);
    let mut out = Vec::new();
    for c in inner.channels.iter_mut().filter(|c| c.calendar == calendar && !c.stopped && c.expiration > now) {
        c.messages += 1;
        out.push(Notification {
            channel_id: c.id.clone(),
            token: c.token.clone(),
            resource_id: c.resource_id.clone(),
            address: c.address.clone(),
            state: resource_state.into(),
            number: c.messages,
        });
    }
    inner.queue.extend(out);
}

fn flush_if_immediate(state: &Arc<GoogleState>) {
    if !state.immediate.load(Ordering::SeqCst) {
        return;
    }
    let queued: Vec<Notification> = state.inner.lock().unwrap().queue.drain(..).collect();
    let http = state.http.clone();
    tokio::spawn(async move {
        for n in queued {
            send_one(&http, &n).await;
        }
    });
}

fn log(state: &GoogleState, what: String) {
    state.requests.lock().unwrap().push(what);
}

fn random() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

async fn consent(State(state): State<Arc<GoogleState>>, Query(q): Query<HashMap<String, String>>) -> Response {
    log(&state, "GET /o/oauth2/v2/auth".into());
    let field = |k: &str| q.get(k).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("code_challenge_method") != "S256" || field("response_type") != "code" {
        return (StatusCode::BAD_REQUEST, "invalid_request").into_response();
    }
    let code = format!("4/{}", random());
    state.inner.lock().unwrap().grants.insert(code.clone(), Grant { challenge: field("code_challenge"), redirect_uri: field("redirect_uri") });
    let sep = if field("redirect_uri").contains('?') { '&' } else { '?' };
    let location = format!(
        "{}{sep}state={}&code={}&scope={}",
        field("redirect_uri"),
        form_urlencoded::byte_serialize(field("state").as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>(),
        form_urlencoded::byte_serialize(field("scope").as_bytes()).collect::<String>()
    );
    (StatusCode::FOUND, [("location", location)]).into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (StatusCode::BAD_REQUEST, axum::Json(json!({"error": error, "error_description": description}))).into_response()
}

async fn token(State(state): State<Arc<GoogleState>>, body: axum::body::Bytes) -> Response {
    log(&state, "POST /o/oauth2/token".into());
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |k: &str| form.get(k).cloned().unwrap_or_default();
    if field("client_id") != CLIENT_ID || field("client_secret") != CLIENT_SECRET {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_client", "error_description": "The OAuth client was not found."}))).into_response();
    }
    let mut inner = state.inner.lock().unwrap();
    let refresh_token = match field("grant_type").as_str() {
        "authorization_code" => {
            let Some(grant) = inner.grants.remove(&field("code")) else { return oauth_error("invalid_grant", "Malformed auth code.") };
            let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier").as_bytes()));
            if challenge != grant.challenge {
                return oauth_error("invalid_grant", "Invalid code verifier.");
            }
            if grant.redirect_uri != field("redirect_uri") {
                return oauth_error("redirect_uri_mismatch", "Bad Request");
            }
            let refresh = format!("1//{}", random());
            inner.refresh_tokens.insert(refresh.clone(), false);
            Some(refresh)
        }
        "refresh_token" => {
            if inner.refresh_tokens.get(&field("refresh_token")) != Some(&false) {
                return oauth_error("invalid_grant", "Token has been expired or revoked.");
            }
            None
        }
        _ => return oauth_error("unsupported_grant_type", "Invalid grant_type"),
    };
    let access = format!("ya29.{}", random());
    inner.access_tokens.insert(access.clone(), PRIMARY.into());
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"iss": "https://accounts.google.com", "email": PRIMARY, "email_verified": true}).to_string());
    let mut answer = json!({"access_token": access, "expires_in": 3599, "scope": switchboard_cloud::google_calendar::client::SCOPES, "token_type": "Bearer"});
    if let Some(refresh) = refresh_token {
        answer["refresh_token"] = json!(refresh);
        answer["id_token"] = json!(format!("eyJhbGciOiJSUzI1NiJ9.{claims}.signature"));
    }
    axum::Json(answer).into_response()
}

async fn revoke(State(state): State<Arc<GoogleState>>, body: axum::body::Bytes) -> Response {
    log(&state, "POST /o/oauth2/revoke".into());
    let form: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let token = form.get("token").cloned().unwrap_or_default();
    let mut inner = state.inner.lock().unwrap();
    if let Some(r) = inner.refresh_tokens.get_mut(&token) {
        *r = true;
        inner.access_tokens.clear();
        return StatusCode::OK.into_response();
    }
    if inner.access_tokens.remove(&token).is_some() {
        return StatusCode::OK.into_response();
    }
    oauth_error("invalid_token", "Token expired or revoked")
}

fn authorized(state: &GoogleState, headers: &HeaderMap) -> bool {
    let token = headers.get("authorization").and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    state.inner.lock().unwrap().access_tokens.contains_key(token)
}

fn unauthorized() -> Response {
    error(StatusCode::UNAUTHORIZED, "authError", "Invalid Credentials")
}

async fn calendar_list(State(state): State<Arc<GoogleState>>, headers: HeaderMap) -> Response {
    log(&state, "GET calendarList".into());
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    axum::Json(json!({"kind": "calendar#calendarList", "items": [
        {"id": PRIMARY, "summary": PRIMARY, "primary": true, "accessRole": "owner"},
        {"id": FAMILY, "summary": "Family", "accessRole": "owner"},
    ]}))
    .into_response()
}

fn known_calendar(calendar: &str) -> bool {
    calendar == PRIMARY || calendar == FAMILY
}

fn event_json(e: &StoredEvent) -> Value {
    if e.cancelled {
        // As Google sends deleted events in incremental results: the id and the status.
        json!({"kind": "calendar#event", "id": e.id, "status": "cancelled"})
    } else {
        let mut body = e.body.clone();
        body["kind"] = json!("calendar#event");
        body
    }
}

async fn list_events(State(state): State<Arc<GoogleState>>, Path(calendar): Path<String>, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    log(&state, format!("GET events {calendar} {}", if q.contains_key("syncToken") { "incremental" } else if q.contains_key("pageToken") { "page" } else { "full" }));
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    if !known_calendar(&calendar) {
        return error(StatusCode::NOT_FOUND, "notFound", "Not Found");
    }
    let size = state.page_size.load(Ordering::SeqCst).max(1) as usize;
    let mut inner = state.inner.lock().unwrap();
    let (items, sync_token) = if let Some(page) = q.get("pageToken") {
        match inner.pages.remove(page) {
            Some(rest) => rest,
            None => return error(StatusCode::BAD_REQUEST, "invalid", "Invalid page token"),
        }
    } else if let Some(token) = q.get("syncToken") {
        if q.contains_key("timeMin") || q.contains_key("timeMax") || q.get("showDeleted").is_some_and(|v| v == "false") {
            return error(StatusCode::BAD_REQUEST, "invalid", "Sync token cannot be used with other request restrictions.");
        }
        let Some((cal, seq)) = token.split_once(':').and_then(|(c, s)| Some((c.to_owned(), s.parse::<u64>().ok()?))) else {
            return error(StatusCode::GONE, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.");
        };
        if cal != calendar || seq < inner.oldest_valid.get(&calendar).copied().unwrap_or(0) {
            return error(StatusCode::GONE, "fullSyncRequired", "Sync token is no longer valid, a full sync is required.");
        }
        let items: Vec<Value> = inner.events.iter().filter(|e| e.calendar == calendar && e.seq > seq).map(event_json).collect();
        (items, format!("{calendar}:{}", inner.seq))
    } else {
        let time_min = q.get("timeMin").cloned().unwrap_or_default();
        let items: Vec<Value> = inner
            .events
            .iter()
            .filter(|e| e.calendar == calendar && !e.cancelled && (time_min.is_empty() || e.end() > time_min || e.end().is_empty()))
            .map(event_json)
            .collect();
        (items, format!("{calendar}:{}", inner.seq))
    };
    let mut items = items;
    let rest = if items.len() > size { items.split_off(size) } else { vec![] };
    let mut answer = json!({"kind": "calendar#events", "summary": calendar, "items": items});
    if rest.is_empty() {
        answer["nextSyncToken"] = json!(sync_token);
    } else {
        let page = random();
        inner.pages.insert(page.clone(), (rest, sync_token));
        answer["nextPageToken"] = json!(page);
    }
    axum::Json(answer).into_response()
}

async fn insert_event(State(state): State<Arc<GoogleState>>, Path(calendar): Path<String>, headers: HeaderMap, axum::Json(mut body): axum::Json<Value>) -> Response {
    log(&state, format!("POST events {calendar}"));
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let mut inner = state.inner.lock().unwrap();
    inner.seq += 1;
    inner.next_id += 1;
    let id = format!("ours{}", inner.next_id);
    body["id"] = json!(id);
    body["status"] = json!("confirmed");
    let seq = inner.seq;
    inner.events.push(StoredEvent { id, calendar: calendar.clone(), body: body.clone(), cancelled: false, seq });
    queue_notifications(&state, &mut inner, &calendar, "exists");
    drop(inner);
    flush_if_immediate(&state);
    axum::Json(body).into_response()
}

async fn patch_event(
    State(state): State<Arc<GoogleState>>,
    Path((calendar, event)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    log(&state, format!("PATCH events {calendar}"));
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let mut inner = state.inner.lock().unwrap();
    inner.seq += 1;
    let seq = inner.seq;
    let Some(e) = inner.events.iter_mut().find(|e| e.id == event && e.calendar == calendar && !e.cancelled) else {
        return error(StatusCode::NOT_FOUND, "notFound", "Not Found");
    };
    if let (Some(target), Some(changes)) = (e.body.as_object_mut(), body.as_object()) {
        for (k, v) in changes {
            target.insert(k.clone(), v.clone());
        }
    }
    e.seq = seq;
    let answer = e.body.clone();
    queue_notifications(&state, &mut inner, &calendar, "exists");
    drop(inner);
    flush_if_immediate(&state);
    axum::Json(answer).into_response()
}

async fn delete_event(State(state): State<Arc<GoogleState>>, Path((calendar, event)): Path<(String, String)>, headers: HeaderMap) -> Response {
    log(&state, format!("DELETE events {calendar}"));
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let mut inner = state.inner.lock().unwrap();
    inner.seq += 1;
    let seq = inner.seq;
    let Some(e) = inner.events.iter_mut().find(|e| e.id == event && e.calendar == calendar) else {
        return error(StatusCode::NOT_FOUND, "notFound", "Not Found");
    };
    if e.cancelled {
        return error(StatusCode::GONE, "deleted", "Resource has been deleted");
    }
    e.cancelled = true;
    e.seq = seq;
    queue_notifications(&state, &mut inner, &calendar, "exists");
    drop(inner);
    flush_if_immediate(&state);
    StatusCode::NO_CONTENT.into_response()
}

/// The longest a channel lives, whatever is asked for (Google: about a week for events).
const MAX_TTL_MS: i64 = 7 * 24 * 3_600_000;

async fn watch(State(state): State<Arc<GoogleState>>, Path(calendar): Path<String>, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    log(&state, format!("POST watch {calendar}"));
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let id = body["id"].as_str().unwrap_or_default().to_owned();
    if id.is_empty() || body["type"] != "web_hook" || body["address"].as_str().is_none() {
        return error(StatusCode::BAD_REQUEST, "required", "Required");
    }
    let ttl_ms = body["params"]["ttl"].as_str().and_then(|t| t.parse::<i64>().ok()).map(|s| s * 1000).unwrap_or(MAX_TTL_MS).min(MAX_TTL_MS);
    let mut inner = state.inner.lock().unwrap();
    if inner.channels.iter().any(|c| c.id == id) {
        return error(StatusCode::BAD_REQUEST, "channelIdNotUnique", "Channel id not unique");
    }
    let channel = WatchChannel {
        id: id.clone(),
        calendar: calendar.clone(),
        resource_id: format!("res-{}", random()),
        address: body["address"].as_str().unwrap_or_default().to_owned(),
        token: body["token"].as_str().unwrap_or_default().to_owned(),
        expiration: now_of(&state) + ttl_ms,
        stopped: false,
        messages: 0,
    };
    inner.queue.push_back(Notification {
        channel_id: id.clone(),
        token: channel.token.clone(),
        resource_id: channel.resource_id.clone(),
        address: channel.address.clone(),
        state: "sync".into(),
        number: 1,
    });
    let mut channel = channel;
    channel.messages = 1;
    let answer = json!({"kind": "api#channel", "id": id, "resourceId": channel.resource_id, "resourceUri": format!("/calendar/v3/calendars/{calendar}/events"), "token": channel.token, "expiration": channel.expiration.to_string()});
    inner.channels.push(channel);
    drop(inner);
    flush_if_immediate(&state);
    axum::Json(answer).into_response()
}

async fn stop(State(state): State<Arc<GoogleState>>, headers: HeaderMap, axum::Json(body): axum::Json<Value>) -> Response {
    log(&state, "POST channels/stop".into());
    if !authorized(&state, &headers) {
        return unauthorized();
    }
    let mut inner = state.inner.lock().unwrap();
    let Some(c) = inner.channels.iter_mut().find(|c| Some(c.id.as_str()) == body["id"].as_str() && Some(c.resource_id.as_str()) == body["resourceId"].as_str()) else {
        return error(StatusCode::NOT_FOUND, "notFound", "Channel not found");
    };
    c.stopped = true;
    StatusCode::NO_CONTENT.into_response()
}

/// The private property our events carry, for assertions.
pub fn ours(events: &[StoredEvent]) -> BTreeMap<String, StoredEvent> {
    events.iter().filter_map(|e| e.booking_id().map(|b| (b, e.clone()))).collect()
}
