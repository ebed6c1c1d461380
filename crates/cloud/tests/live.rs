//! The sync WebSocket over a real socket, on SQLite and PostgreSQL: hello/welcome, a poke after
//! every commit of the business (and none for other businesses), presence and typing, and the
//! close codes for a refused token, a protocol mismatch and a sign-in that ended.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use protocol::{ClientFrame, ServerFrame};
use serde_json::json;
use switchboard_testkit::{on_both_engines, Engine, TestApp};
use tokio_tungstenite::tungstenite::Message;

mod socket;
use socket::{connect, say, Socket};

/// The next application frame (pings are answered by the client library).
async fn next(socket: &mut Socket) -> Option<ServerFrame> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => return Some(serde_json::from_str(&t).unwrap()),
            Ok(Some(Ok(Message::Close(frame)))) => panic!("closed: {frame:?}"),
            Ok(Some(Ok(_))) => continue,
            _ => return None,
        }
    }
}

async fn hello(app: &TestApp, token: &str) -> (Socket, i64) {
    let mut socket = connect(app).await;
    say(&mut socket, &ClientFrame::Hello { token: token.into(), client_id: "test-device".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
    match next(&mut socket).await {
        Some(ServerFrame::Welcome { seq, .. }) => (socket, seq),
        other => panic!("expected welcome, got {other:?}"),
    }
}

/// The next poke, skipping presence and typing.
async fn poke(socket: &mut Socket) -> Option<i64> {
    loop {
        match next(socket).await? {
            ServerFrame::Poke { seq } => return Some(seq),
            _ => continue,
        }
    }
}

async fn closed_with(mut socket: Socket) -> u16 {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => return frame.code.into(),
            Ok(Some(Ok(_))) => continue,
            other => panic!("expected a close frame, got {other:?}"),
        }
    }
}

on_both_engines! {

spawn = TestApp::spawn;

/// What each person may do comes from the service, by name: at sign-in, in `GET /v1/me` and in
/// the sync welcome; after a role change the next welcome carries the new list (the console
/// shows and hides by it, never by the role).
async fn the_service_tells_each_person_what_their_role_allows(app: TestApp) {
    let owner = app.signup("perms").await;
    let admin = app.add_staff(&owner, "admin").await;
    let agent = app.add_staff(&owner, "agent").await;
    let all = json!(["handle_conversations", "manage_catalog", "manage_business", "manage_staff", "delete_data", "manage_owners", "view_reports"]);
    let admins = json!(["handle_conversations", "manage_catalog", "manage_business", "manage_staff", "delete_data", "view_reports"]);
    let agents = json!(["handle_conversations"]);

    let signed_in = app.call(reqwest::Method::POST, "/v1/auth/login", None, Some(json!({"email": agent.email, "password": agent.password}))).await;
    assert_eq!(signed_in.body["permissions"], agents, "{signed_in:?}");
    for (who, expected) in [(&owner, &all), (&admin, &admins), (&agent, &agents)] {
        let me = app.get("/v1/me", &who.access).await;
        assert_eq!(me.body["permissions"], *expected, "{me:?}");
        assert_eq!(me.body["id"], who.staff_id.as_str(), "the staff member's own fields stay at the top level: {me:?}");
    }
    let welcome_of = |token: String| {
        let app = &app;
        async move {
            let mut socket = connect(app).await;
            say(&mut socket, &ClientFrame::Hello { token, client_id: "perms-device".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
            match next(&mut socket).await {
                Some(ServerFrame::Welcome { permissions, .. }) => serde_json::to_value(permissions).unwrap(),
                other => panic!("expected welcome, got {other:?}"),
            }
        }
    };
    assert_eq!(welcome_of(agent.access.clone()).await, agents);
    assert_eq!(welcome_of(admin.access.clone()).await, admins);

    // Promoted: the same token's next welcome (and /v1/me) carry what an admin may do.
    let promoted = app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!(promoted.status, reqwest::StatusCode::OK, "{promoted:?}");
    assert_eq!(welcome_of(agent.access.clone()).await, admins);
    assert_eq!(app.get("/v1/me", &agent.access).await.body["permissions"], admins);
}

/// A role change closes the person's open session with 4009 ("reconnect") even while their
/// console keeps talking: each frame it sends interrupts the session's wait, and the re-check the
/// change asked for must survive that (it once got lost, and the console kept its old rights
/// until the next heartbeat).
async fn a_role_change_closes_a_session_that_keeps_talking(app: TestApp) {
    let owner = app.signup("busy").await;
    let agent = app.add_staff(&owner, "agent").await;
    let (mut socket, _) = hello(&app, &agent.access).await;
    let promoted = app.patch(&format!("/v1/staff/{}", agent.staff_id), &owner.access, json!({"role": "admin"})).await;
    assert_eq!(promoted.status, reqwest::StatusCode::OK, "{promoted:?}");
    let viewing = Message::Text(serde_json::to_string(&ClientFrame::Viewing { conversation_id: None }).unwrap().into());
    for _ in 0..500 {
        // After the service's close the send may fail; the close frame is what counts.
        let _ = socket.send(viewing.clone()).await;
        match tokio::time::timeout(Duration::from_millis(10), socket.next()).await {
            Ok(Some(Ok(Message::Close(Some(frame))))) => {
                assert_eq!(u16::from(frame.code), switchboard_core::live::ACCOUNT_CHANGED, "{frame:?}");
                return;
            }
            Ok(Some(Ok(_))) | Err(_) => continue,
            other => panic!("expected the session to be closed for the role change, got {other:?}"),
        }
    }
    panic!("the session was never closed after the role change");
}

/// Signing out, and a refresh token presented a second time (which ends its whole session), close
/// the open live session of that sign-in at once (4001), as deactivation does, not at the next
/// heartbeat; another sign-in of the same person stays connected.
async fn signing_out_and_a_reused_refresh_token_close_the_live_session_at_once(app: TestApp) {
    let owner = app.signup("signout").await;
    let agent = app.add_staff(&owner, "agent").await;
    let other_sign_in = app.login(&owner.email, &owner.password).await;
    let (signed_out, _) = hello(&app, &owner.access).await;
    let (mut stays, _) = hello(&app, &other_sign_in).await;
    let out = app.post("/v1/auth/logout", &owner.access, json!(null)).await;
    assert_eq!(out.status, reqwest::StatusCode::NO_CONTENT, "{out:?}");
    assert_eq!(closed_with(signed_out).await, protocol::close::AUTH_FAILED);
    say(&mut stays, &ClientFrame::Ping).await;
    loop {
        if let Some(ServerFrame::Pong) = next(&mut stays).await { break; }
    }

    let (socket, _) = hello(&app, &agent.access).await;
    let refresh = |token: String| app.call(reqwest::Method::POST, "/v1/auth/refresh", None, Some(json!({"refresh_token": token})));
    assert_eq!(refresh(agent.refresh.clone()).await.status, reqwest::StatusCode::OK);
    let reused = refresh(agent.refresh.clone()).await;
    assert_eq!(reused.code(), "refresh_token_reused", "{reused:?}");
    assert_eq!(closed_with(socket).await, protocol::close::AUTH_FAILED);
}

async fn a_console_is_poked_after_each_commit_of_its_business(app: TestApp) {
    let a = app.signup("live-a").await;
    let b = app.signup("live-b").await;
    let (mut socket, seq) = hello(&app, &a.access).await;
    assert_eq!(seq, app.last_seq(&a.business_id).await);
    // Another business's commits: no poke.
    app.post("/v1/customers", &b.access, json!({"name": "Elsewhere"})).await;
    app.post("/v1/customers", &a.access, json!({"name": "Here"})).await;
    let poked = poke(&mut socket).await.expect("a poke");
    assert_eq!(poked, app.last_seq(&a.business_id).await, "the poke carries this business's seq, not the other's");
    // Pulling from the welcome's seq brings exactly that change.
    let page = app.get(&format!("/v1/sync/pull?cursor={seq}"), &a.access).await;
    assert_eq!(page.body["changes"].as_array().unwrap().len(), 1);
    say(&mut socket, &ClientFrame::Ping).await;
    loop {
        if let Some(ServerFrame::Pong) = next(&mut socket).await { break; }
    }
}

async fn presence_and_typing_reach_colleagues(app: TestApp) {
    let owner = app.signup("presence").await;
    let sam = app.add_staff(&owner, "agent").await;
    let (mut mine, _) = hello(&app, &owner.access).await;
    let (mut theirs, _) = hello(&app, &sam.access).await;
    say(&mut theirs, &ClientFrame::Viewing { conversation_id: Some("conv-1".into()) }).await;
    say(&mut theirs, &ClientFrame::Typing { conversation_id: "conv-1".into() }).await;
    let mut saw_viewing = false;
    let mut saw_typing = false;
    while !(saw_viewing && saw_typing) {
        match next(&mut mine).await.expect("frames for the owner") {
            ServerFrame::Presence { online } => {
                saw_viewing |= online.iter().any(|p| p.staff_id == sam.staff_id && p.viewing.as_deref() == Some("conv-1"));
            }
            ServerFrame::Typing { conversation_id, staff_id } => {
                saw_typing |= conversation_id == "conv-1" && staff_id == sam.staff_id;
            }
            _ => {}
        }
    }
    // Typing is passed on at most once a second: fifty frames at once are one (the first was
    // passed just now), then a moment later the next is passed. A change of view behind them
    // marks where they end.
    for _ in 0..50 {
        say(&mut theirs, &ClientFrame::Typing { conversation_id: "conv-1".into() }).await;
    }
    say(&mut theirs, &ClientFrame::Viewing { conversation_id: Some("conv-2".into()) }).await;
    let mut typing = 0;
    loop {
        match next(&mut mine).await.expect("frames for the owner") {
            ServerFrame::Typing { .. } => typing += 1,
            ServerFrame::Presence { online } if online.iter().any(|p| p.viewing.as_deref() == Some("conv-2")) => break,
            _ => {}
        }
    }
    assert_eq!(typing, 0, "a burst of typing within the second is not passed on");
    app.advance(Duration::from_secs(2));
    say(&mut theirs, &ClientFrame::Typing { conversation_id: "conv-2".into() }).await;
    loop {
        if let Some(ServerFrame::Typing { conversation_id, .. }) = next(&mut mine).await {
            assert_eq!(conversation_id, "conv-2");
            break;
        }
    }
    // Sam leaves: the owner sees them go.
    drop(theirs);
    loop {
        if let Some(ServerFrame::Presence { online }) = next(&mut mine).await {
            if online.iter().all(|p| p.staff_id != sam.staff_id) { break; }
        }
    }
}

async fn bad_tokens_and_old_protocols_get_their_close_codes(app: TestApp) {
    let owner = app.signup("closes").await;
    let mut socket = connect(&app).await;
    say(&mut socket, &ClientFrame::Hello { token: "forged".into(), client_id: "x".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
    assert_eq!(closed_with(socket).await, protocol::close::AUTH_FAILED);
    let mut socket = connect(&app).await;
    say(&mut socket, &ClientFrame::Hello { token: owner.access.clone(), client_id: "x".into(), cursor: 0, protocol: 99 }).await;
    assert_eq!(closed_with(socket).await, protocol::close::PROTOCOL_MISMATCH);
    let mut socket = connect(&app).await;
    socket.send(Message::Text("{\"type\":\"ping\"}".into())).await.unwrap();
    assert_eq!(closed_with(socket).await, protocol::close::NO_HELLO);
    // A hello with a device id or a cursor that pulls and pushes would refuse.
    for (client_id, cursor) in [("bad id!", 0), ("", 0), ("device", -5)] {
        let mut socket = connect(&app).await;
        say(&mut socket, &ClientFrame::Hello { token: owner.access.clone(), client_id: client_id.into(), cursor, protocol: protocol::SYNC_PROTOCOL }).await;
        assert_eq!(closed_with(socket).await, protocol::close::NO_HELLO, "{client_id:?} {cursor}");
    }
}

}

/// Two instances on one PostgreSQL: a console connected to one is poked for a webhook that the
/// other received and processed (LISTEN/NOTIFY), exactly once per transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_on_one_instance_hears_a_webhook_processed_by_another() {
    use switchboard_testkit::whatsapp::*;
    let (front, _fake) = spawn_with_fakes(Engine::Postgres, |c| c.run_workers = false).await;
    let back = front.another_instance(|c| c.run_workers = true).await;
    let owner = front.signup("two-instances").await;
    connect_whatsapp(&front, &owner, PHONE_ID, &app_secret(&owner)).await;
    quiet_assistant(&front, &owner).await;
    let (mut socket, welcomed) = hello(&front, &owner.access).await;
    let body = notification(PHONE_ID, json!([{"wa_id": "447911123499", "profile": {"name": "Ivy"}}]), json!([text("wamid.TWO", "447911123499", "Hello?")]), json!([]));
    let (status, _) = post_whatsapp_signed(&back, &body, &app_secret(&owner)).await;
    assert_eq!(status, reqwest::StatusCode::OK);
    // The front instance runs no workers: whatever reaches this socket was committed over there.
    let mut pokes = Vec::new();
    loop {
        let seq = poke(&mut socket).await.expect("poked across instances");
        pokes.push(seq);
        let page = front.get(&format!("/v1/sync/pull?cursor={welcomed}"), &owner.access).await;
        let changes = page.body["changes"].as_array().unwrap().clone();
        if let Some(m) = changes.iter().find(|c| c["entity"] == "message" && c["data"]["body"] == "Hello?") {
            assert!(m["seq"].as_i64().unwrap() <= seq, "the poke comes after the commit it announces");
            break;
        }
    }
    assert!(pokes.windows(2).all(|w| w[0] < w[1]), "one poke per transaction, in order: {pokes:?}");
}

/// Sockets that never say hello hold only their address's few waiting places, not the service's
/// sessions: with room for three sessions, ten silent sockets do not keep the owner and a
/// colleague out (they did: the cap was taken before the hello). One address gets sixteen
/// waiting places, and one person sixteen sessions, so a colleague still gets in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_and_one_persons_many_do_not_keep_colleagues_out() {
    use switchboard_core::live::{SESSIONS_PER_STAFF, WAITING_PER_ADDRESS};
    let app = TestApp::spawn_with(Engine::Sqlite, |c| c.max_ws_connections = 3).await;
    let owner = app.signup("caps").await;
    let sam = app.add_staff(&owner, "agent").await;
    let mut silent = Vec::new();
    for _ in 0..10 {
        silent.push(connect(&app).await);
    }
    let (_mine, _) = hello(&app, &owner.access).await;
    let (_theirs, _) = hello(&app, &sam.access).await;
    let (_again, _) = hello(&app, &owner.access).await;
    // The service's three sessions are taken now.
    let mut fourth = connect(&app).await;
    say(&mut fourth, &ClientFrame::Hello { token: sam.access.clone(), client_id: "another-device".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
    assert_eq!(closed_with(fourth).await, protocol::close::TOO_MANY);
    // This address's waiting places fill at sixteen; the next is turned away at once.
    while silent.len() < WAITING_PER_ADDRESS {
        silent.push(connect(&app).await);
    }
    switchboard_testkit::eventually("the service counts them all", || async { app.core.live.waiting_from("127.0.0.1") == WAITING_PER_ADDRESS }).await;
    assert_eq!(closed_with(connect(&app).await).await, protocol::close::TOO_MANY);
    drop(silent);

    let app = TestApp::spawn_with(Engine::Sqlite, |c| c.max_ws_connections = 100).await;
    let owner = app.signup("caps-staff").await;
    let sam = app.add_staff(&owner, "agent").await;
    let mut mine = Vec::new();
    for _ in 0..SESSIONS_PER_STAFF {
        mine.push(hello(&app, &owner.access).await.0);
    }
    let mut more = connect(&app).await;
    say(&mut more, &ClientFrame::Hello { token: owner.access.clone(), client_id: "test-device".into(), cursor: 0, protocol: protocol::SYNC_PROTOCOL }).await;
    assert_eq!(closed_with(more).await, protocol::close::TOO_MANY, "one person's seventeenth");
    let (_theirs, _) = hello(&app, &sam.access).await;
}
