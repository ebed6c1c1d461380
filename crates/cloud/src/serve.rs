//! Serving connections with hygiene: what a client that sends slowly, or opens thousands of
//! connections, may hold of the service.
//!
//! - **Header read timeout** (`header_read_timeout_ms`): a connection whose request head has not
//!   fully arrived in time — a half-sent request, or a kept-alive connection that sends nothing —
//!   is closed. Without it, twenty thousand half-sent requests held the process's file
//!   descriptors until `/healthz` stopped answering.
//! - **Body read timeout** (`body_read_timeout_ms`, in [`crate::http`]): a body that does not
//!   arrive in time is answered 408 `request_timeout`.
//! - **Connections per address** (`max_connections_per_address`): one client address holds at
//!   most this many connections at once; further ones are closed as soon as they are accepted, so
//!   everyone else (and `/healthz`) still gets through. (An upgraded WebSocket leaves this count;
//!   live sessions have their own caps: `max_ws_connections` signed in, and a few per address
//!   while they wait for their hello — `routes::live`.)
//!
//! The rest is what `axum::serve` does: HTTP/1.1 and HTTP/2, upgrades, the client's address for
//! the handlers (`ConnectInfo`), and a graceful shutdown that finishes requests in flight.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceExt;

/// Limits on what connections may hold.
#[derive(Debug, Clone, Copy)]
pub struct Hygiene {
    pub header_read_timeout: Duration,
    pub max_connections_per_address: usize,
}

/// Open connections per client address.
#[derive(Default)]
struct Open(Mutex<HashMap<IpAddr, usize>>);

/// One admitted connection; counts until dropped.
struct Admitted {
    open: Arc<Open>,
    ip: IpAddr,
}

impl Open {
    fn admit(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<Admitted> {
        let mut open = self.0.lock().expect("not poisoned");
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Admitted { open: self.clone(), ip })
    }
}

impl Drop for Admitted {
    fn drop(&mut self) {
        let mut open = self.open.0.lock().expect("not poisoned");
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets the requests in flight
/// finish (connections stop taking new ones) and returns.
pub async fn serve(listener: TcpListener, router: Router, hygiene: Hygiene, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let open = Arc::new(Open::default());
    let (closing, closed) = tokio::sync::watch::channel(false);
    // Each connection holds a receiver; when all are gone, every connection has finished.
    let (finished_tx, mut finished) = tokio::sync::mpsc::channel::<()>(1);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let Some(admitted) = open.admit(remote.ip(), hygiene.max_connections_per_address) else {
            tracing::debug!(address = %remote.ip(), "too many connections from one address; closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = router.clone().map_request(move |mut req: axum::http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(remote));
            req.map(Body::new)
        });
        let mut closed = closed.clone();
        let finished = finished_tx.clone();
        tokio::spawn(async move {
            let _admitted = admitted;
            let _finished = finished;
            if !spoke_in_time(&stream, hygiene.header_read_timeout).await {
                return;
            }
            let mut builder = Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(hygiene.header_read_timeout);
            builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service));
            let mut conn = std::pin::pin!(conn);
            let closing = async move {
                let _ = closed.wait_for(|closing| *closing).await;
            };
            let result = tokio::select! {
                result = conn.as_mut() => result,
                _ = closing => {
                    conn.as_mut().graceful_shutdown();
                    conn.as_mut().await
                }
            };
            if let Err(e) = result {
                tracing::trace!(error = %e, "connection ended");
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    drop(finished_tx);
    let _ = finished.recv().await;
    Ok(())
}

/// Waits until the client has sent enough to tell HTTP/1 from HTTP/2 (the connection builder would
/// wait for that forever, before any of its own timeouts start): `false` when it did not in time,
/// or hung up.
async fn spoke_in_time(stream: &tokio::net::TcpStream, within: Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let deadline = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 24];
    loop {
        match tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => {
                if n == PREFACE.len() || buf[..n] != PREFACE[..n] {
                    return true;
                }
                // Part of HTTP/2's preface: peeking again answers at once, so wait a little.
                if tokio::time::timeout_at(deadline, tokio::time::sleep(Duration::from_millis(10))).await.is_err() {
                    return false;
                }
            }
            _ => return false,
        }
    }
}
