//! Connecting a staff member's Google Calendar from the console: OAuth 2.0 for installed apps
//! (RFC 8252). The console makes the PKCE verifier and keeps it, listens once on a loopback
//! port for Google's redirect, and opens the consent page in the system browser; the service does
//! the rest (`POST /v1/staff/{id}/google-calendar/start`, then `…/finish` with the `code` the
//! redirect brought, the `state` the service gave, and the verifier). The verifier and the code
//! never leave this process except to the service; nothing of it is written to disk.

use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The path Google redirects to on the loopback listener.
pub const CALLBACK_PATH: &str = "/google-calendar";

/// The command the consent page is opened with (the URL is its last argument), for a machine
/// whose default browser will not do; `none` opens nothing (the console shows the link).
pub const BROWSER_ENV: &str = "SWITCHBOARD_CONSOLE_BROWSER";

/// A PKCE pair: the verifier (43 unreserved characters from 32 random bytes) and its S256
/// challenge, `BASE64URL(SHA-256(verifier))` without padding.
pub fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge = challenge_of(&verifier);
    (verifier, challenge)
}

pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// What the loopback redirect brought back, or why there is no code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RedirectError {
    /// The person said no on Google's page (or Google refused): `error=access_denied`.
    #[error("Google sign-in was not completed ({0}).")]
    Denied(String),
    #[error("Nobody finished signing in with Google in time. Connect again.")]
    TimedOut,
    #[error("The console could not listen for Google's answer: {0}")]
    Io(String),
}

/// A loopback listener on 127.0.0.1 and a free port, waiting for one redirect.
pub struct Loopback {
    listener: TcpListener,
    pub redirect_uri: String,
}

impl Loopback {
    pub async fn bind() -> Result<Loopback, RedirectError> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| RedirectError::Io(e.to_string()))?;
        let port = listener.local_addr().map_err(|e| RedirectError::Io(e.to_string()))?.port();
        Ok(Loopback { listener, redirect_uri: format!("http://127.0.0.1:{port}{CALLBACK_PATH}") })
    }

    /// Waits for the redirect carrying `state` and answers the browser with a short page.
    /// Anything else that arrives (a favicon, another path, a stale tab's `state`) is answered
    /// and ignored, so it cannot end the wait or slip in another code.
    pub async fn wait(self, state: &str, within: Duration) -> Result<String, RedirectError> {
        tokio::time::timeout(within, async {
            loop {
                let (stream, _) = self.listener.accept().await.map_err(|e| RedirectError::Io(e.to_string()))?;
                match tokio::time::timeout(Duration::from_secs(10), answer(stream, state)).await {
                    Ok(Some(outcome)) => return outcome,
                    // Not ours, unreadable or too slow: keep waiting for the real one.
                    Ok(None) | Err(_) => continue,
                }
            }
        })
        .await
        .unwrap_or(Err(RedirectError::TimedOut))
    }
}

/// Reads one request; `Some` when it was the redirect for `state`.
async fn answer(mut stream: TcpStream, state: &str) -> Option<Result<String, RedirectError>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 || head.len() > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&head);
    let target = head.lines().next().and_then(|line| line.strip_prefix("GET ")).and_then(|rest| rest.split(' ').next()).unwrap_or("");
    let (outcome, status, page) = match read_redirect(target, state) {
        Some(Ok(code)) => (Some(Ok(code)), "200 OK", "Switchboard has what it needs from Google. You can close this tab and go back to Switchboard."),
        Some(Err(e)) => (Some(Err(e)), "200 OK", "Google Calendar was not connected. You can close this tab; Switchboard says what happened."),
        None => (None, "404 Not Found", "This is not the sign-in Switchboard is waiting for."),
    };
    let body = format!("<!doctype html><meta charset=utf-8><title>Switchboard</title><p style=\"font:16px system-ui;margin:3em\">{page}</p>");
    let response = format!("HTTP/1.1 {status}\r\ncontent-type: text/html; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\ncache-control: no-store\r\n\r\n{body}", body.len());
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
    outcome
}

/// The code (or Google's error) from a request target like `/google-calendar?state=…&code=…`,
/// when it is the redirect for `state`; `None` for anything else.
pub fn read_redirect(target: &str, state: &str) -> Option<Result<String, RedirectError>> {
    let url = reqwest::Url::parse(&format!("http://127.0.0.1{target}")).ok()?;
    if url.path() != CALLBACK_PATH {
        return None;
    }
    let field = |name: &str| url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned());
    if field("state").as_deref() != Some(state) {
        return None;
    }
    match (field("code"), field("error")) {
        (_, Some(error)) => Some(Err(RedirectError::Denied(error))),
        (Some(code), None) if !code.is_empty() => Some(Ok(code)),
        _ => Some(Err(RedirectError::Denied("no code".into()))),
    }
}

/// Opens `url` in the system browser (or with `SWITCHBOARD_CONSOLE_BROWSER`). Best effort: the
/// console shows the link too.
pub fn open_in_browser(url: &str) -> bool {
    let custom = std::env::var(BROWSER_ENV).ok().filter(|c| !c.trim().is_empty());
    let mut command = match custom.as_deref() {
        Some("none") => return false,
        Some(custom) => {
            let mut parts = custom.split_whitespace();
            let mut c = std::process::Command::new(parts.next().unwrap_or_default());
            c.args(parts);
            c
        }
        None if cfg!(target_os = "macos") => std::process::Command::new("open"),
        None if cfg!(target_os = "windows") => {
            let mut c = std::process::Command::new("rundll32");
            c.arg("url.dll,FileProtocolHandler");
            c
        }
        None => std::process::Command::new("xdg-open"),
    };
    command.arg(url).stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    match command.spawn() {
        Ok(mut child) => {
            // Reap it whenever it ends, so no zombie is left behind.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(e) => {
            tracing::warn!("could not open the browser: {e}");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_is_s256_of_an_unreserved_verifier() {
        let (verifier, challenge) = pkce();
        assert_eq!(verifier.len(), 43);
        assert!(verifier.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        // Computed independently (Python's hashlib and base64).
        assert_eq!(challenge_of("a-verifier-of-forty-three-characters-000000"), "fQuDgDRIMuX7fAra8mVxFhI7pX_X2kpHWKvByFlQ9R4");
        assert_eq!(challenge, challenge_of(&verifier));
        assert_ne!(pkce().0, verifier);
    }

    #[test]
    fn only_the_redirect_for_our_state_counts() {
        assert_eq!(read_redirect("/google-calendar?state=s1&code=4%2Fabc&scope=x", "s1"), Some(Ok("4/abc".into())));
        assert_eq!(read_redirect("/google-calendar?state=s1&error=access_denied", "s1"), Some(Err(RedirectError::Denied("access_denied".into()))));
        assert_eq!(read_redirect("/google-calendar?state=other&code=c", "s1"), None);
        assert_eq!(read_redirect("/google-calendar?code=c", "s1"), None);
        assert_eq!(read_redirect("/favicon.ico", "s1"), None);
        assert_eq!(read_redirect("/elsewhere?state=s1&code=c", "s1"), None);
    }

    async fn get(redirect_uri: &str, path_and_query: &str) -> String {
        let addr = redirect_uri.strip_prefix("http://").unwrap().split('/').next().unwrap().to_owned();
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(format!("GET {path_and_query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await.unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).await.unwrap();
        out
    }

    #[tokio::test]
    async fn the_listener_ignores_strays_and_returns_the_code() {
        let lb = Loopback::bind().await.unwrap();
        let uri = lb.redirect_uri.clone();
        assert!(uri.starts_with("http://127.0.0.1:") && uri.ends_with(CALLBACK_PATH), "{uri}");
        let waiting = tokio::spawn(async move { lb.wait("st", Duration::from_secs(20)).await });
        assert!(get(&uri, "/favicon.ico").await.starts_with("HTTP/1.1 404"));
        assert!(get(&uri, "/google-calendar?state=stale&code=old").await.starts_with("HTTP/1.1 404"));
        let page = get(&uri, "/google-calendar?state=st&code=4%2Fgood").await;
        assert!(page.starts_with("HTTP/1.1 200") && page.contains("close this tab"), "{page}");
        assert_eq!(waiting.await.unwrap(), Ok("4/good".into()));
    }

    #[tokio::test]
    async fn a_refusal_or_silence_ends_the_wait() {
        let lb = Loopback::bind().await.unwrap();
        let uri = lb.redirect_uri.clone();
        let waiting = tokio::spawn(async move { lb.wait("st", Duration::from_secs(20)).await });
        get(&uri, "/google-calendar?state=st&error=access_denied").await;
        assert_eq!(waiting.await.unwrap(), Err(RedirectError::Denied("access_denied".into())));
        let lb = Loopback::bind().await.unwrap();
        assert_eq!(lb.wait("st", Duration::from_millis(50)).await, Err(RedirectError::TimedOut));
    }
}
