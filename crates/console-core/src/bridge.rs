//! The UI bridge: the console's web UI served to a browser on loopback, with the same commands
//! and events the desktop window gets over Tauri's IPC (`POST /invoke` → [`Desk::dispatch`],
//! `GET /events` → server-sent batches of [`Event`]s, `GET /media/…` → the files the timeline's
//! pictures load, like the window's `media:` scheme: [`Desk::serve`]). It exists for development and for the
//! browser end-to-end run, which then drives the real console core against the real service.
//! It binds to loopback only and answers only requests whose `Host` is that loopback address,
//! so a web page elsewhere cannot reach it by DNS rebinding.

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
        .route("/invoke", post(invoke))
        .route("/events", get(events))
        .route("/media/{*address}", get(media))
        .fallback_service(ServeDir::new(ui_dir))
        .layer(middleware::from_fn_with_state(bridge.clone(), only_loopback_host))
        .with_state(bridge)
}

async fn only_loopback_host(State(bridge): State<Bridge>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if host != bridge.host && host != bridge.host.replace("127.0.0.1", "localhost") {
        return (StatusCode::FORBIDDEN, Json(DeskError { kind: "invalid".into(), message: "This bridge answers only on its loopback address.".into(), code: None })).into_response();
    }
    next.run(request).await
}

async fn invoke(State(bridge): State<Bridge>, body: axum::body::Bytes) -> Response {
    let command: Command = match serde_json::from_slice(&body) {
        Ok(c) => c,
        Err(e) => return (StatusCode::BAD_REQUEST, Json(DeskError { kind: "invalid".into(), message: format!("Not a console command: {e}"), code: None })).into_response(),
    };
    match bridge.desk.dispatch(command).await {
        Ok(value) => Json(value).into_response(),
        Err(e) => {
            let status = match e.kind.as_str() {
                "invalid" => StatusCode::UNPROCESSABLE_ENTITY,
                "signed_out" => StatusCode::UNAUTHORIZED,
                "refused" => StatusCode::CONFLICT,
                "offline" => StatusCode::SERVICE_UNAVAILABLE,
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
