//! The UI bridge: the console's web UI served to a browser on loopback, with the same commands
//! and events the desktop window gets over Tauri's IPC (`POST /invoke` → [`Desk::dispatch`],
//! `GET /events` → server-sent batches of [`Event`]s, `GET /media/…` → the files the timeline's
//! pictures load, like the window's `media:` scheme: [`Desk::serve`]). It exists for development and for the
//! browser end-to-end run, which then drives the real console core against the real service.
//! It binds to loopback only and answers only requests whose `Host` is that loopback address,
//! so a web page elsewhere cannot reach it by DNS rebinding; and only requests from its own page:
//! one another site's page makes (its `Origin`, or `Sec-Fetch-Site: cross-site`) is refused, and
//! a command must be sent as `application/json`, which a page elsewhere cannot send without a
//! preflight this bridge never answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use tokio::sync::broadcast;
use tower_http::services::ServeDir;

use crate::desk::{Command, Desk, DeskError};
use crate::Event;

/// The largest command the bridge reads: the largest file a channel takes, in base64 (4 bytes
/// for every 3), and the command around it.
const INVOKE_BYTES: usize = (protocol::MEDIA_MAX_BYTES as usize).div_ceil(3) * 4 + 64 * 1024;

#[derive(Clone)]
struct Bridge {
    desk: Arc<Desk>,
    host: String,
}

/// The bridge's routes over `desk`, serving the built UI from `ui_dir`. `addr` is where it
/// listens (only requests addressed to it are answered).
pub fn router(desk: Arc<Desk>, ui_dir: PathBuf, addr: SocketAddr) -> Router {
    let bridge = Bridge { desk, host: addr.to_string() };
    Router::new()
        // A file attached in the browser comes inside its command (base64): room for the
        // largest file a channel takes.
        .route("/invoke", post(invoke).layer(axum::extract::DefaultBodyLimit::max(INVOKE_BYTES)))
        .route("/events", get(events))
        .route("/media/{*address}", get(media))
        .fallback_service(ServeDir::new(ui_dir))
        .layer(middleware::from_fn_with_state(bridge.clone(), only_loopback_host))
        .with_state(bridge)
}

fn forbidden(message: &str) -> Response {
    (StatusCode::FORBIDDEN, Json(DeskError { kind: "invalid".into(), message: message.into(), code: None })).into_response()
}

async fn only_loopback_host(State(bridge): State<Bridge>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let text = |name| headers.get(name).and_then(|h: &header::HeaderValue| h.to_str().ok());
    let host = text(header::HOST).unwrap_or_default();
    if host != bridge.host && host != bridge.host.replace("127.0.0.1", "localhost") {
        return forbidden("This bridge answers only on its loopback address.");
    }
    // A browser names the page a request comes from; only this bridge's own page may use it.
    let own_page = text(header::ORIGIN).is_none_or(|origin| origin == format!("http://{host}"));
    let fetched_from = text(header::HeaderName::from_static("sec-fetch-site"));
    if !own_page || fetched_from.is_some_and(|site| site != "same-origin" && site != "none") {
        return forbidden("This bridge answers only its own page.");
    }
    next.run(request).await
}

async fn invoke(State(bridge): State<Bridge>, headers: axum::http::HeaderMap, body: axum::body::Bytes) -> Response {
    let json = headers.get(header::CONTENT_TYPE).and_then(|t| t.to_str().ok()).is_some_and(|t| t.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json")));
    if !json {
        let refusal = DeskError { kind: "invalid".into(), message: "Send a console command as `application/json`.".into(), code: None };
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, Json(refusal)).into_response();
    }
    let command: Command = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(DeskError { kind: "invalid".into(), message: format!("Not a console command: {e}"), code: None })).into_response(),
    };
    match bridge.desk.dispatch(command).await {
        Ok(value) => Json(value).into_response(),
        Err(e) => {
            let status = match e.kind.as_str() {
                "invalid" | "no_keyring" => StatusCode::UNPROCESSABLE_ENTITY,
                "signed_out" | "wrong_passphrase" => StatusCode::UNAUTHORIZED,
                "locked" => StatusCode::LOCKED,
                "refused" => StatusCode::CONFLICT,
                "offline" => StatusCode::SERVICE_UNAVAILABLE,
                // The service answered with a problem of its own (busy, failing).
                "service" => StatusCode::BAD_GATEWAY,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            (status, Json(e)).into_response()
        }
    }
}

/// A file the page loads by address (see [`crate::media::Address`]); 404 for anything this
/// console does not show.
async fn media(State(bridge): State<Bridge>, Path(address): Path<String>) -> Response {
    served(bridge.desk.serve(&address).await).map(axum::body::Body::from)
}

/// The answer to a file's address, the same in the bridge and the desktop app's scheme: the bytes
/// with their type (kept by nobody else: no cache), 404 when there is no such file here, 503 when
/// it has not been kept here and the service cannot be reached.
pub fn served(answer: Result<Option<crate::media::Served>, DeskError>) -> axum::http::Response<Vec<u8>> {
    let (status, content_type, body) = match answer {
        Ok(Some(file)) => (StatusCode::OK, file.content_type, file.bytes),
        Ok(None) => (StatusCode::NOT_FOUND, "text/plain".to_owned(), b"No such file here.".to_vec()),
        Err(e) if e.kind == "offline" => (StatusCode::SERVICE_UNAVAILABLE, "text/plain".to_owned(), e.message.into_bytes()),
        Err(e) => (StatusCode::NOT_FOUND, "text/plain".to_owned(), e.message.into_bytes()),
    };
    axum::http::Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .header("x-content-type-options", "nosniff")
        .body(body)
        .unwrap_or_else(|_| {
            let mut failed = axum::http::Response::new(Vec::new());
            *failed.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            failed
        })
}

/// Events as server-sent events, each a JSON array (a batch), like the window's event payload.
async fn events(State(bridge): State<Bridge>) -> Sse<impl Stream<Item = Result<axum::response::sse::Event, Infallible>>> {
    let receiver = bridge.desk.subscribe();
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        let batch: Vec<Event> = match receiver.recv().await {
            Ok(first) => {
                let mut batch = vec![first];
                while let Ok(more) = receiver.try_recv() {
                    batch.push(more);
                }
                batch
            }
            Err(broadcast::error::RecvError::Lagged(_)) => vec![Event::Changed { entities: vec![], resync: true }],
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        let data = serde_json::to_string(&batch).unwrap_or_else(|_| "[]".into());
        Some((Ok(axum::response::sse::Event::default().data(data)), receiver))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Serves until `shutdown` completes.
pub async fn serve(desk: Arc<Desk>, ui_dir: PathBuf, listener: tokio::net::TcpListener, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let addr = listener.local_addr()?;
    axum::serve(listener, router(desk, ui_dir, addr)).with_graceful_shutdown(shutdown).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bridge on a real loopback port over a console with nobody signed in.
    async fn bridge() -> (String, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let desk = Desk::open(dir.path(), None, crate::EngineConfig::default()).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(desk, dir.path().join("ui"), addr);
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), dir)
    }

    #[tokio::test]
    async fn only_its_own_page_may_send_commands() {
        let (url, _dir) = bridge().await;
        let http = reqwest::Client::new();
        let invoke = |origin: Option<String>, site: Option<&'static str>, content_type: &'static str| {
            let mut request = http.post(format!("{url}/invoke")).header("content-type", content_type).body(r#"{"cmd":"session"}"#);
            if let Some(origin) = origin {
                request = request.header("origin", origin);
            }
            if let Some(site) = site {
                request = request.header("sec-fetch-site", site);
            }
            async move { request.send().await.unwrap().status() }
        };
        assert_eq!(invoke(None, None, "application/json").await, StatusCode::OK, "a program on this computer");
        assert_eq!(invoke(Some(url.clone()), Some("same-origin"), "application/json").await, StatusCode::OK, "its own page");
        assert_eq!(invoke(Some("http://evil.example".into()), None, "application/json").await, StatusCode::FORBIDDEN);
        assert_eq!(invoke(Some("null".into()), None, "application/json").await, StatusCode::FORBIDDEN, "a sandboxed frame");
        assert_eq!(invoke(None, Some("cross-site"), "application/json").await, StatusCode::FORBIDDEN);
        assert_eq!(invoke(None, Some("same-site"), "application/json").await, StatusCode::FORBIDDEN, "another port of this computer");
        // What a page elsewhere can send without asking first.
        assert_eq!(invoke(None, None, "text/plain").await, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        // A command the console refuses is no fault of the bridge's.
        let unlock = http.post(format!("{url}/invoke")).header("content-type", "application/json").body(r#"{"cmd":"unlock","passphrase":"not it"}"#).send().await.unwrap();
        assert!(unlock.status().is_client_error(), "{}", unlock.status());
        let pictures = http.get(format!("{url}/media/file/m1/v1/media/f1")).header("sec-fetch-site", "cross-site").send().await.unwrap();
        assert_eq!(pictures.status(), StatusCode::FORBIDDEN, "nor load its files");
    }
}
