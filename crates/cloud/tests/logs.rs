//! Issue 13, defect 8: at log level `trace` the service logs a great deal, but never a token — not
//! the console's hello frame, which the WebSocket library would log with every frame it reads.
//! Nor the account-security secrets: TOTP secrets, recovery codes, reset tokens, new passwords.
//! (A test binary of its own: it installs the process's one global log subscriber.)

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ServerFrame};
use reqwest::{Method, StatusCode};
use serde_json::json;
use switchboard_cloud::accounts::security::current_code;
use switchboard_testkit::{Engine, TestApp};
use tokio_tungstenite::tungstenite::Message;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_token_is_logged_at_trace_level_on_either_engine() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_env_filter(switchboard_cloud::logs::filter(Some("trace")))
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .init();
    for engine in Engine::BOTH {
        let app = TestApp::spawn(engine).await;
        let owner = app.signup("logs").await;
        let url = format!("{}/v1/sync/ws", app.base.replace("http://", "ws://"));
        let (mut socket, _) = tokio_tungstenite::connect_async(url).await.expect("the WebSocket opens");
        let hello = ClientFrame::Hello { token: owner.access.clone(), client_id: "logged-device".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL };
        socket.send(Message::Text(serde_json::to_string(&hello).unwrap().into())).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
                Ok(Some(Ok(Message::Text(t)))) if matches!(serde_json::from_str(&t).unwrap(), ServerFrame::Welcome { .. }) => break,
                Ok(Some(Ok(_))) => continue,
                other => panic!("expected welcome, got {other:?}"),
            }
        }
        socket.close(None).await.unwrap();
        // The account-security secrets: a TOTP secret and recovery codes, a reset link's token
        // (handed over in the answer without SMTP) and the new password it sets.
        let setup = app.post("/v1/me/two-factor", &owner.access, json!(null)).await;
        assert_eq!(setup.status, StatusCode::OK, "{setup:?}");
        let totp_secret = setup.body["secret"].as_str().unwrap().to_owned();
        let code = current_code(&totp_secret, app.now_ms()).unwrap();
        let confirmed = app.post("/v1/me/two-factor/confirm", &owner.access, json!({"code": code})).await;
        assert_eq!(confirmed.status, StatusCode::OK, "{confirmed:?}");
        let recovery: Vec<String> = confirmed.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
        let agent = app.add_staff(&owner, "agent").await;
        let reset = app.post(&format!("/v1/staff/{}/reset-sign-in", agent.staff_id), &owner.access, json!(null)).await;
        let reset_token = reset.body["link"].as_str().unwrap().split("token=").nth(1).unwrap().to_owned();
        let done = app.call(Method::POST, "/v1/auth/password-reset/confirm", None, Some(json!({"token": reset_token, "new_password": "a logged-never password"}))).await;
        assert_eq!(done.status, StatusCode::NO_CONTENT, "{done:?}");
        let logged = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
        for secret in [totp_secret.as_str(), reset_token.as_str(), "a logged-never password", agent.access.as_str()].into_iter().chain(recovery.iter().map(String::as_str)) {
            assert!(!logged.contains(secret), "an account secret was logged on {engine:?}");
        }
        assert!(logged.contains("TRACE"), "trace logging is on");
        assert!(logged.contains("/v1/sync/ws"), "the socket's request was logged");
        for secret in [&owner.access, &owner.refresh, &owner.password] {
            assert!(!logged.contains(secret.as_str()), "a secret was logged on {engine:?}");
        }
    }
}
