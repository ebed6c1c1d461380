//! `GET /v1/sync/ws`: the live session's WebSocket. The session itself (hello, pokes, presence,
//! typing, account checks) is the core's `live::Session`; this module only moves its frames.

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use protocol::{close, ServerFrame};
use switchboard_core::live::{Goodbye, Next, Session, HELLO_WITHIN};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::http::limits::ClientAddr;
use crate::http::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ws))
}

/// Live changes for the console: hello → welcome, then pokes, presence and typing. Without a
/// WebSocket upgrade: 400 `invalid_body`.
#[utoipa::path(get, path = "/v1/sync/ws", tag = "sync",
    responses((status = 101, description = "Switching to the WebSocket protocol"), (status = 400, body = protocol::ErrorBody)))]
async fn ws(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade.map_err(|e| ApiError::new(protocol::ErrorCode::InvalidBody, format!("This endpoint speaks WebSocket: {e}")))?;
    Ok(upgrade.on_upgrade(move |socket| serve(state, address_key(client), socket)))
}

/// Whose connections count together before their hello: an IPv4 address, or an IPv6 /64 (one
/// subscriber's network; its addresses are theirs to pick).
fn address_key(client: std::net::IpAddr) -> String {
    match client {
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        v4 => v4.to_string(),
    }
}

async fn send(socket: &mut WebSocket, frame: &ServerFrame) -> bool {
    let text = serde_json::to_string(frame).expect("frames serialise");
    socket.send(WsMessage::Text(text.into())).await.is_ok()
}

async fn goodbye(socket: &mut WebSocket, goodbye: Goodbye) {
    let _ = socket.send(WsMessage::Close(Some(CloseFrame { code: goodbye.code, reason: goodbye.reason.into() }))).await;
}

/// A session counts against the service's cap (and its staff member's) once signed in; before
/// its hello, against its address's few waiting places (and a thousand or so in all), so
/// silent sockets cannot keep consoles out.
async fn serve(state: AppState, client: String, mut socket: WebSocket) {
    let Some(waiting) = state.live.admit_waiting(&client) else {
        return goodbye(&mut socket, Goodbye { code: close::TOO_MANY, reason: "too many connections from this address; retry later".into() }).await;
    };
    let first = match tokio::time::timeout(HELLO_WITHIN, socket.recv()).await {
        Ok(Some(Ok(WsMessage::Text(text)))) => Some(text.to_string()),
        _ => None,
    };
    let (mut session, welcome) = match Session::open(&state, first.as_deref()).await {
        Ok(opened) => opened,
        Err(bye) => return goodbye(&mut socket, bye).await,
    };
    drop(waiting);
    let _slots = match state.live.admit(state.config.max_ws_connections, &session.actor.staff_id) {
        Ok(slots) => slots,
        Err(bye) => return goodbye(&mut socket, bye).await,
    };
    session.present();
    if !send(&mut socket, &welcome).await {
        return;
    }
    loop {
        tokio::select! {
            next = session.next() => match next {
                Next::Send(frame) => if !send(&mut socket, &frame).await { break },
                Next::Ping => if socket.send(WsMessage::Ping(Vec::new().into())).await.is_err() { break },
                Next::Close(bye) => { goodbye(&mut socket, bye).await; break }
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(WsMessage::Text(text))) => {
                    if let Some(answer) = session.heard(&text) {
                        if !send(&mut socket, &answer).await { break }
                    }
                }
                Some(Ok(WsMessage::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => {}
            },
        }
    }
}
