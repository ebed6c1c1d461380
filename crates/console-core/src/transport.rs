//! How the console talks to the service: pull, push and the live WebSocket, behind a
//! [`Transport`] trait so the sync engine can be driven over a transport that loses answers or
//! goes offline on cue in tests. [`HttpTransport`] is the real one: HTTP for pull and push, a
//! WebSocket for pokes, the access token kept in memory and renewed with the refresh token from
//! the keyring (rotated on every use).

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use futures_util::{SinkExt, StreamExt};
use protocol::{AuthTokens, ClientFrame, ErrorBody, PushRequest, PushResponse, ServerFrame, SyncPage};
use reqwest::StatusCode;
use tokio::sync::{mpsc, Mutex};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::credentials::Credentials;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TransportError {
    /// No answer (network down, service stopped, timeout): try again later.
    #[error("the service cannot be reached: {0}")]
    Offline(String),
    /// The sign-in is no longer valid (signed out elsewhere, deactivated): sign in again.
    #[error("please sign in again: {0}")]
    SignedOut(String),
    /// The cursor is older than what the service remembers: wipe the mirror, pull from 0.
    #[error("this device has been offline too long to catch up and will reload everything")]
    ResyncRequired,
    /// The service failed (5xx): try again later.
    #[error("the service had a problem: {0}")]
    Server(String),
    /// The service refused the request itself (not a mutation: those have outcomes).
    #[error("{message}")]
    Refused { code: String, message: String },
    #[error("this console is too old for the service; please update it")]
    ProtocolMismatch,
}

impl TransportError {
    /// Worth retrying later without anyone doing anything.
    pub fn is_transient(&self) -> bool {
        matches!(self, TransportError::Offline(_) | TransportError::Server(_))
    }
}

/// A live connection: the welcome's seq, frames from the service, and a way to send presence
/// and typing. The connection is gone when `frames` ends.
pub struct Live {
    pub seq: i64,
    /// What the signed-in person may do now, from the welcome (empty: the service did not say).
    pub permissions: Vec<protocol::Permission>,
    pub frames: mpsc::Receiver<ServerFrame>,
    pub send: mpsc::Sender<ClientFrame>,
}

pub trait Transport: Send + Sync + 'static {
    fn pull<'a>(&'a self, cursor: i64, client_id: &'a str, limit: u32) -> BoxFuture<'a, Result<SyncPage, TransportError>>;
    fn push<'a>(&'a self, request: &'a PushRequest) -> BoxFuture<'a, Result<PushResponse, TransportError>>;
    fn live<'a>(&'a self, client_id: &'a str, cursor: i64) -> BoxFuture<'a, Result<Live, TransportError>>;
    /// The owner's figures for local days `from`..=`to` (the weekly summary's notification).
    /// Transports that cannot ask say they are offline.
    fn report_summary<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<protocol::ReportSummary, TransportError>> {
        let _ = (from, to);
        Box::pin(async { Err(TransportError::Offline("no reports through this transport".into())) })
    }
    /// `PUT /v1/media/{id}`: uploads a file staff attached (idempotent: the id is this console's).
    /// Transports that cannot say they are offline (the file waits).
    fn upload_media<'a>(&'a self, id: &'a str, file: &'a crate::store::CachedMedia) -> BoxFuture<'a, Result<protocol::MediaFile, TransportError>> {
        let _ = (id, file);
        Box::pin(async { Err(TransportError::Offline("no uploads through this transport".into())) })
    }
    /// `GET` of a kept file (`/v1/media/{id}`, `/v1/calls/{id}/recording`): its type and bytes.
    fn media<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<(String, Vec<u8>), TransportError>> {
        let _ = path;
        Box::pin(async { Err(TransportError::Offline("no files through this transport".into())) })
    }
}

fn offline(e: reqwest::Error) -> TransportError {
    TransportError::Offline(if e.is_timeout() { "timed out".into() } else if e.is_connect() { "cannot connect".into() } else { e.to_string() })
}

async fn error_from(response: reqwest::Response) -> TransportError {
    let status = response.status();
    let body: Option<ErrorBody> = response.json().await.ok();
    classify(status, body)
}

/// Codes of a 401 that refuse a password or code the person just typed (signing in,
/// re-authenticating, changing the password) rather than the session: the console stays signed in.
const WRONG_SECRET: [protocol::ErrorCode; 3] = [protocol::ErrorCode::InvalidCredentials, protocol::ErrorCode::InvalidCode, protocol::ErrorCode::TwoFactorRequired];

fn classify(status: StatusCode, body: Option<ErrorBody>) -> TransportError {
    let wrong_secret = body.as_ref().is_some_and(|b| WRONG_SECRET.contains(&b.error.code));
    let (code, message) = body.map(|b| (b.error.code.as_str().to_owned(), b.error.message)).unwrap_or_else(|| (status.as_str().to_owned(), status.to_string()));
    match status {
        StatusCode::UNAUTHORIZED if wrong_secret => TransportError::Refused { code, message },
        StatusCode::UNAUTHORIZED => TransportError::SignedOut(message),
        StatusCode::CONFLICT if code == protocol::ErrorCode::ResyncRequired.as_str() => TransportError::ResyncRequired,
        s if s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS => TransportError::Server(message),
        _ => TransportError::Refused { code, message },
    }
}

/// Posts `body` as JSON to `path` on `server` (offline if no answer came).
async fn post(http: &reqwest::Client, server: &str, path: &str, body: &impl serde::Serialize) -> Result<reqwest::Response, TransportError> {
    http.post(format!("{}{path}", server.trim_end_matches('/'))).json(body).send().await.map_err(offline)
}

/// A successful answer's body, or the refusal as an error.
async fn answer<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, TransportError> {
    if !response.status().is_success() {
        return Err(error_from(response).await);
    }
    response.json().await.map_err(offline)
}

/// A refused password sign-in: the challenge it carries for `wanted` (two-factor, or enrolling
/// in it), and the refusal as the error to report otherwise (a wrong password reads
/// `invalid_credentials`, not "signed out").
async fn refused_sign_in(response: reqwest::Response, wanted: protocol::ErrorCode) -> (Option<String>, TransportError) {
    let status = response.status();
    let body: Option<ErrorBody> = response.json().await.ok();
    let challenge = body
        .as_ref()
        .filter(|b| b.error.code == wanted)
        .and_then(|b| b.error.details.as_ref()?.get("challenge")?.as_str().map(str::to_owned));
    let refused = match classify(status, body) {
        TransportError::SignedOut(m) => TransportError::Refused { code: "invalid_credentials".into(), message: m },
        other => other,
    };
    (challenge, refused)
}

fn password_login(email: &str, password: &str) -> protocol::LoginRequest {
    protocol::LoginRequest { email: email.to_owned(), password: password.to_owned() }
}

/// Signs in with a password — and, when the account has two-factor sign-in, a `code` from the
/// authenticator app or a recovery code (without one the answer is refused as
/// `two_factor_required`, to ask for it). The caller keeps the refresh token in the keyring.
pub async fn login(http: &reqwest::Client, server: &str, email: &str, password: &str, code: Option<&str>) -> Result<AuthTokens, TransportError> {
    let response = post(http, server, "/v1/auth/login", &password_login(email, password)).await?;
    if response.status().is_success() {
        return response.json().await.map_err(offline);
    }
    let (challenge, refused) = refused_sign_in(response, protocol::ErrorCode::TwoFactorRequired).await;
    let (Some(challenge), Some(code)) = (challenge, code.map(str::trim).filter(|c| !c.is_empty())) else {
        return Err(refused);
    };
    answer(post(http, server, "/v1/auth/two-factor", &serde_json::json!({"challenge": challenge, "code": code})).await?).await
}

/// Signing in to a business that requires two-factor with an account that has none yet: the
/// password answers `two_factor_enrolment_required` with a challenge, which buys a new
/// authenticator secret. → the challenge (for [`finish_enrolment`]) and the secret.
pub async fn begin_enrolment(http: &reqwest::Client, server: &str, email: &str, password: &str) -> Result<(String, protocol::TwoFactorSetup), TransportError> {
    let response = post(http, server, "/v1/auth/login", &password_login(email, password)).await?;
    if response.status().is_success() {
        return Err(TransportError::Refused { code: "two_factor_not_required".into(), message: "This account signs in without setting up two-factor first.".into() });
    }
    let (challenge, refused) = refused_sign_in(response, protocol::ErrorCode::TwoFactorEnrolmentRequired).await;
    let Some(challenge) = challenge else {
        return Err(refused);
    };
    let setup = answer(post(http, server, "/v1/auth/two-factor/enrol", &serde_json::json!({"challenge": challenge})).await?).await?;
    Ok((challenge, setup))
}

/// Finishes enrolling at sign-in with a code from the new secret: the session's tokens and the
/// recovery codes (shown once).
pub async fn finish_enrolment(http: &reqwest::Client, server: &str, challenge: &str, code: &str) -> Result<protocol::EnrolledSignIn, TransportError> {
    answer(post(http, server, "/v1/auth/two-factor/enrol/confirm", &serde_json::json!({"challenge": challenge, "code": code.trim()})).await?).await
}

/// Creates a new business and its owner (`POST /v1/auth/signup`), signed in at once.
pub async fn signup(http: &reqwest::Client, server: &str, request: &protocol::SignupRequest) -> Result<AuthTokens, TransportError> {
    answer(post(http, server, "/v1/auth/signup", request).await?).await
}

/// The real transport: HTTP and a WebSocket to one service.
pub struct HttpTransport {
    server: String,
    http: reqwest::Client,
    credentials: Arc<Credentials>,
    access: Mutex<Option<String>>,
}

impl HttpTransport {
    pub fn new(server: &str, credentials: Arc<Credentials>, access_token: Option<String>) -> HttpTransport {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("a TLS backend is compiled in");
        HttpTransport { server: server.trim_end_matches('/').to_owned(), http, credentials, access: Mutex::new(access_token) }
    }

    pub fn server(&self) -> &str {
        &self.server
    }

    /// A valid-looking access token: the one in memory, or a new one from the refresh token.
    async fn access_token(&self, renew: bool) -> Result<String, TransportError> {
        let mut access = self.access.lock().await;
        if let (Some(token), false) = (access.as_ref(), renew) {
            return Ok(token.clone());
        }
        let refresh = self
            .credentials
            .refresh_token()
            .map_err(|e| TransportError::SignedOut(e.to_string()))?
            .ok_or_else(|| TransportError::SignedOut("not signed in".into()))?;
        let response = self
            .http
            .post(format!("{}/v1/auth/refresh", self.server))
            .json(&protocol::RefreshRequest { refresh_token: refresh })
            .send()
            .await
            .map_err(offline)?;
        if !response.status().is_success() {
            return Err(error_from(response).await);
        }
        let tokens: AuthTokens = response.json().await.map_err(offline)?;
        // Rotated: the old refresh token is spent; keep the new one before anything else.
        self.credentials.store(&tokens.refresh_token).map_err(|e| TransportError::SignedOut(e.to_string()))?;
        *access = Some(tokens.access_token.clone());
        Ok(tokens.access_token)
    }

    /// Sends a request with the access token, renewing it once if the service refuses it.
    async fn send(&self, build: impl Fn(&str) -> reqwest::RequestBuilder) -> Result<reqwest::Response, TransportError> {
        let mut renew = false;
        loop {
            let token = self.access_token(renew).await?;
            let response = build(&token).send().await.map_err(offline)?;
            if response.status() == StatusCode::UNAUTHORIZED && !renew {
                // A wrong password or code is the person's answer, not an expired token.
                let error = error_from(response).await;
                if matches!(error, TransportError::Refused { .. }) {
                    return Err(error);
                }
                renew = true;
                continue;
            }
            if !response.status().is_success() {
                return Err(error_from(response).await);
            }
            return Ok(response);
        }
    }

    /// An authenticated call of the REST API, for what does not go through sync: free times,
    /// and owners' settings. A 204 answers `null`.
    pub async fn request_json(&self, method: reqwest::Method, path: &str, query: &[(&str, String)], body: Option<&serde_json::Value>) -> Result<serde_json::Value, TransportError> {
        let url = format!("{}{path}", self.server);
        let response = self
            .send(|token| {
                let request = self.http.request(method.clone(), &url).query(query).bearer_auth(token);
                match body {
                    Some(body) => request.json(body),
                    None => request,
                }
            })
            .await?;
        if response.status() == StatusCode::NO_CONTENT {
            return Ok(serde_json::Value::Null);
        }
        // An answer with no body (202 Accepted for a retried webhook) is `null` too.
        let body = response.bytes().await.map_err(offline)?;
        if body.is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_slice(&body).map_err(|e| TransportError::Server(format!("an answer that is not JSON: {e}")))
    }

    /// An authenticated `GET` of a file (a privacy export's ZIP), as bytes.
    pub async fn get_bytes(&self, path: &str, query: &[(&str, String)]) -> Result<Vec<u8>, TransportError> {
        let url = format!("{}{path}", self.server);
        let response = self.send(|token| self.http.get(&url).query(query).bearer_auth(token)).await?;
        Ok(response.bytes().await.map_err(offline)?.to_vec())
    }

    /// An authenticated `GET` of something that is not JSON (the reports' CSV exports), as text.
    pub async fn get_text(&self, path: &str, query: &[(&str, String)]) -> Result<String, TransportError> {
        let url = format!("{}{path}", self.server);
        let response = self.send(|token| self.http.get(&url).query(query).bearer_auth(token)).await?;
        response.text().await.map_err(offline)
    }

    /// Ends the session on the service and forgets the tokens; answers whether the service was
    /// told (it ended the session, or there was none left to end). The service ends the session
    /// of the bearer token, so the call carries one (renewed first if it expired); without it the
    /// service answered 401 and the session stayed valid.
    pub async fn logout(&self) -> bool {
        let url = format!("{}/v1/auth/logout", self.server);
        let told = match self.credentials.refresh_token() {
            // Nothing kept: no session to end.
            Ok(None) => true,
            // Kept locked (its passphrase not given): the session cannot be ended from here.
            Err(_) => false,
            Ok(Some(_)) => match self.send(|token| self.http.post(&url).bearer_auth(token)).await {
                // Ended, or ended already (a refresh token the service no longer takes).
                Ok(_) | Err(TransportError::SignedOut(_)) => true,
                Err(_) => false,
            },
        };
        let _ = self.credentials.forget();
        *self.access.lock().await = None;
        told
    }

    async fn open_live(&self, client_id: &str, cursor: i64, renew: bool) -> Result<Live, TransportError> {
        let token = self.access_token(renew).await?;
        let url = format!("{}/v1/sync/ws", self.server.replacen("http", "ws", 1));
        let (mut socket, _) = tokio::time::timeout(Duration::from_secs(10), tokio_tungstenite::connect_async(url))
            .await
            .map_err(|_| TransportError::Offline("timed out".into()))?
            .map_err(|e| TransportError::Offline(e.to_string()))?;
        let hello = ClientFrame::Hello { token, client_id: client_id.into(), cursor, protocol: protocol::SYNC_PROTOCOL };
        socket
            .send(WsMessage::Text(serde_json::to_string(&hello).expect("frames serialise").into()))
            .await
            .map_err(|e| TransportError::Offline(e.to_string()))?;
        let (seq, permissions) = loop {
            match tokio::time::timeout(Duration::from_secs(10), socket.next()).await {
                Ok(Some(Ok(WsMessage::Text(text)))) => {
                    if let Ok(ServerFrame::Welcome { seq, permissions, .. }) = serde_json::from_str(&text) {
                        break (seq, permissions);
                    }
                }
                Ok(Some(Ok(WsMessage::Close(Some(frame))))) => {
                    return Err(match u16::from(frame.code) {
                        protocol::close::AUTH_FAILED => TransportError::SignedOut(frame.reason.to_string()),
                        protocol::close::PROTOCOL_MISMATCH => TransportError::ProtocolMismatch,
                        _ => TransportError::Offline(format!("closed: {}", frame.reason)),
                    });
                }
                Ok(Some(Ok(_))) => continue,
                Ok(Some(Err(e))) => return Err(TransportError::Offline(e.to_string())),
                Ok(None) | Err(_) => return Err(TransportError::Offline("no welcome".into())),
            }
        };
        let (frames_tx, frames) = mpsc::channel(256);
        let (send, mut outgoing) = mpsc::channel::<ClientFrame>(64);
        tokio::spawn(async move {
            // Our own heartbeat: a connection that answers nothing for 45 s is dead even if the
            // operating system has not noticed.
            let mut ping = tokio::time::interval(Duration::from_secs(20));
            let mut last_heard = tokio::time::Instant::now();
            loop {
                tokio::select! {
                    incoming = socket.next() => match incoming {
                        Some(Ok(WsMessage::Text(text))) => {
                            last_heard = tokio::time::Instant::now();
                            if let Ok(frame) = serde_json::from_str::<ServerFrame>(&text) {
                                if frames_tx.send(frame).await.is_err() { break; }
                            }
                        }
                        Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                        Some(Ok(_)) => last_heard = tokio::time::Instant::now(),
                    },
                    frame = outgoing.recv() => match frame {
                        Some(frame) => {
                            let text = serde_json::to_string(&frame).expect("frames serialise");
                            if socket.send(WsMessage::Text(text.into())).await.is_err() { break; }
                        }
                        None => {
                            let _ = socket.close(Some(tokio_tungstenite::tungstenite::protocol::CloseFrame { code: CloseCode::Normal, reason: "bye".into() })).await;
                            break;
                        }
                    },
                    _ = ping.tick() => {
                        if last_heard.elapsed() > Duration::from_secs(45) { break; }
                        let text = serde_json::to_string(&ClientFrame::Ping).expect("frames serialise");
                        if socket.send(WsMessage::Text(text.into())).await.is_err() { break; }
                    }
                }
            }
        });
        Ok(Live { seq, permissions, frames, send })
    }
}

impl Transport for HttpTransport {
    fn pull<'a>(&'a self, cursor: i64, client_id: &'a str, limit: u32) -> BoxFuture<'a, Result<SyncPage, TransportError>> {
        Box::pin(async move {
            let url = format!("{}/v1/sync/pull", self.server);
            let response = self
                .send(|token| self.http.get(&url).bearer_auth(token).query(&[("cursor", cursor.to_string()), ("client_id", client_id.to_owned()), ("limit", limit.to_string())]))
                .await?;
            response.json().await.map_err(offline)
        })
    }

    fn push<'a>(&'a self, request: &'a PushRequest) -> BoxFuture<'a, Result<PushResponse, TransportError>> {
        Box::pin(async move {
            let url = format!("{}/v1/sync/push", self.server);
            let response = self.send(|token| self.http.post(&url).bearer_auth(token).json(request)).await?;
            response.json().await.map_err(offline)
        })
    }

    fn report_summary<'a>(&'a self, from: &'a str, to: &'a str) -> BoxFuture<'a, Result<protocol::ReportSummary, TransportError>> {
        Box::pin(async move {
            let value = self.request_json(reqwest::Method::GET, "/v1/reports/summary", &[("from", from.to_owned()), ("to", to.to_owned())], None).await?;
            serde_json::from_value(value).map_err(|e| TransportError::Server(format!("an unexpected report: {e}")))
        })
    }

    fn upload_media<'a>(&'a self, id: &'a str, file: &'a crate::store::CachedMedia) -> BoxFuture<'a, Result<protocol::MediaFile, TransportError>> {
        Box::pin(async move {
            let url = format!("{}/v1/media/{id}", self.server);
            let query: Vec<(&str, &str)> = file.filename.as_deref().map(|f| vec![("filename", f)]).unwrap_or_default();
            let response = self
                .send(|token| {
                    self.http
                        .put(&url)
                        .bearer_auth(token)
                        .query(&query)
                        .header(reqwest::header::CONTENT_TYPE, &file.content_type)
                        .timeout(Duration::from_secs(300))
                        .body(file.data.clone())
                })
                .await?;
            response.json().await.map_err(offline)
        })
    }

    fn media<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<(String, Vec<u8>), TransportError>> {
        Box::pin(async move {
            if !path.starts_with("/v1/") {
                return Err(TransportError::Refused { code: "not_found".into(), message: "Not a file of this service.".into() });
            }
            let url = format!("{}{path}", self.server);
            let response = self.send(|token| self.http.get(&url).bearer_auth(token).timeout(Duration::from_secs(300))).await?;
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("application/octet-stream")
                .to_owned();
            let bytes = response.bytes().await.map_err(offline)?;
            Ok((content_type, bytes.to_vec()))
        })
    }

    fn live<'a>(&'a self, client_id: &'a str, cursor: i64) -> BoxFuture<'a, Result<Live, TransportError>> {
        Box::pin(async move {
            match self.open_live(client_id, cursor, false).await {
                // The token in memory may simply have expired: renew once.
                Err(TransportError::SignedOut(_)) => self.open_live(client_id, cursor, true).await,
                other => other,
            }
        })
    }
}
