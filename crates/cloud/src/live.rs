//! The sync WebSocket (`GET /v1/sync/ws`): the console says `hello` with its access token,
//! device id, cursor and protocol version; the service answers `welcome{seq}` and then a
//! `poke{seq}` after every commit of that business — a hint to pull, never the data itself (pulls
//! are authoritative, so a lost poke costs latency only). It also relays presence (who is online,
//! which conversation they are looking at) and typing. The server pings every 20 seconds; close
//! codes tell a refused token from a protocol mismatch (`protocol::close`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use protocol::{close, ClientFrame, PresenceEntry, ServerFrame, SYNC_PROTOCOL};
use tokio::sync::broadcast;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ws))
}

/// Connected consoles in this process: presence per business, and a channel for the frames that
/// go to everyone in a business (presence, typing).
pub struct Hub {
    connections: AtomicUsize,
    presence: Mutex<HashMap<String, HashMap<u64, PresenceEntry>>>,
    relay: broadcast::Sender<(String, ServerFrame)>,
    next_id: AtomicUsize,
    /// Flipped when the service shuts down: every session says goodbye (1001), so consoles
    /// reconnect (to another instance, or to this one when it is back) instead of hanging on.
    closing: tokio::sync::watch::Sender<bool>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            connections: AtomicUsize::new(0),
            presence: Mutex::new(HashMap::new()),
            relay: broadcast::channel(1024).0,
            next_id: AtomicUsize::new(1),
            closing: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Hub {
    /// Closes every live session (the service is shutting down).
    pub fn close_all(&self) {
        self.closing.send_replace(true);
    }

    fn set_presence(&self, business: &str, conn: u64, entry: Option<PresenceEntry>) {
        let online = {
            let mut all = self.presence.lock().unwrap_or_else(|e| e.into_inner());
            let business_map = all.entry(business.to_owned()).or_default();
            match entry {
                Some(e) => {
                    business_map.insert(conn, e);
                }
                None => {
                    business_map.remove(&conn);
                }
            }
            let mut online: Vec<PresenceEntry> = business_map.values().cloned().collect();
            online.sort_by(|a, b| a.staff_id.cmp(&b.staff_id));
            online.dedup_by(|a, b| a.staff_id == b.staff_id && a.viewing == b.viewing);
            online
        };
        let _ = self.relay.send((business.to_owned(), ServerFrame::Presence { online }));
    }
}

/// Live changes for the console: hello → welcome, then pokes, presence and typing.
#[utoipa::path(get, path = "/v1/sync/ws", tag = "sync",
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, body = protocol::ErrorBody)))]
async fn ws(State(state): State<AppState>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| session(state, socket))
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    let text = serde_json::to_string(frame).expect("frames serialise");
    socket.send(WsMessage::Text(text.into())).await.is_ok()
}

async fn close_with(mut socket: WebSocket, code: u16, reason: &str) {
    let _ = socket.send(WsMessage::Close(Some(CloseFrame { code, reason: reason.to_owned().into() }))).await;
}

async fn session(state: AppState, mut socket: WebSocket) {
    let hub = state.live.clone();
    if hub.connections.fetch_add(1, Ordering::SeqCst) >= state.config.max_ws_connections {
        hub.connections.fetch_sub(1, Ordering::SeqCst);
        return close_with(socket, close::TOO_MANY, "too many connections; retry later").await;
    }
    run(&state, &mut socket).await;
    hub.connections.fetch_sub(1, Ordering::SeqCst);
}

async fn run(state: &AppState, socket: &mut WebSocket) {
    // The hello: within ten seconds, first.
    let hello = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await;
    let Ok(Some(Ok(WsMessage::Text(text)))) = hello else {
        let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: close::NO_HELLO, reason: "say hello first".into() }))).await;
        return;
    };
    let Ok(ClientFrame::Hello { token, client_id: _, cursor: _, protocol }) = serde_json::from_str::<ClientFrame>(&text) else {
        let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: close::NO_HELLO, reason: "the first frame must be a hello".into() }))).await;
        return;
    };
    if protocol != SYNC_PROTOCOL {
        let reason = format!("this service speaks protocol {SYNC_PROTOCOL}");
        let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: close::PROTOCOL_MISMATCH, reason: reason.into() }))).await;
        return;
    }
    let auth = match crate::accounts::authenticate(state, &token).await {
        Ok(auth) => auth,
        Err(_) => {
            let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: close::AUTH_FAILED, reason: "sign in again".into() }))).await;
            return;
        }
    };
    let seq: i64 = match sqlx::query_scalar("SELECT last_seq FROM businesses WHERE id = $1").bind(&auth.business_id).fetch_one(state.db.reader()).await {
        Ok(seq) => seq,
        Err(e) => {
            tracing::error!(error = %e, "websocket could not read the business's seq");
            return;
        }
    };
    // Subscribe before welcoming, so no commit falls between the two.
    let mut commits = state.db.subscribe();
    let mut relay = state.live.relay.subscribe();
    if !send(socket, &ServerFrame::Welcome { seq, protocol: SYNC_PROTOCOL }).await {
        return;
    }
    let conn = state.live.next_id.fetch_add(1, Ordering::SeqCst) as u64;
    state.live.set_presence(&auth.business_id, conn, Some(PresenceEntry { staff_id: auth.staff_id.clone().into(), viewing: None }));
    let mut heartbeat = tokio::time::interval(Duration::from_secs(20));
    heartbeat.tick().await;
    let mut closing = state.live.closing.subscribe();
    loop {
        if *closing.borrow_and_update() {
            let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: 1001, reason: "the service is restarting".into() }))).await;
            break;
        }
        tokio::select! {
            _ = closing.changed() => continue,
            committed = commits.recv() => match committed {
                Ok(c) if c.business_id == auth.business_id => {
                    if !send(socket, &ServerFrame::Poke { seq: c.seq }).await { break; }
                }
                Ok(_) => {}
                // Fell behind the broadcast: one poke with the latest seq says "pull".
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    let latest: i64 = sqlx::query_scalar("SELECT last_seq FROM businesses WHERE id = $1")
                        .bind(&auth.business_id).fetch_one(state.db.reader()).await.unwrap_or(0);
                    if !send(socket, &ServerFrame::Poke { seq: latest }).await { break; }
                }
                Err(broadcast::error::RecvError::Closed) => break,
            },
            relayed = relay.recv() => match relayed {
                Ok((business, frame)) if business == auth.business_id => {
                    let mine = matches!(&frame, ServerFrame::Typing { staff_id, .. } if *staff_id == auth.staff_id);
                    if !mine && !send(socket, &frame).await { break; }
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => match serde_json::from_str::<ClientFrame>(&text) {
                    Ok(ClientFrame::Ping) => { if !send(socket, &ServerFrame::Pong).await { break; } }
                    Ok(ClientFrame::Viewing { conversation_id }) => {
                        state.live.set_presence(&auth.business_id, conn, Some(PresenceEntry { staff_id: auth.staff_id.clone().into(), viewing: conversation_id }));
                    }
                    Ok(ClientFrame::Typing { conversation_id }) => {
                        let _ = state.live.relay.send((auth.business_id.clone(), ServerFrame::Typing { conversation_id, staff_id: auth.staff_id.clone().into() }));
                    }
                    Ok(ClientFrame::Hello { .. }) | Err(_) => {}
                },
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
            _ = heartbeat.tick() => {
                if socket.send(WsMessage::Ping(Vec::new().into())).await.is_err() { break; }
            }
        }
    }
    state.live.set_presence(&auth.business_id, conn, None);
}
