//! Native notifications, for real: the console's desktop notifier talks D-Bus to a recording
//! `org.freedesktop.Notifications` server on a private session bus, while the real service
//! escalates a conversation and a customer writes in one I hold; and on a Monday morning, the
//! weekly summary for those who see the reports (an owner, an admin; not an agent).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use console_core::SyncState;
use switchboard_testkit::demo::{DemoService, AGENT, OWNER};
use switchboard_testkit::{eventually, Engine};
use switchboard_tests::{console, quick, PrivateSession};

#[derive(Debug, Clone, PartialEq)]
struct Shown {
    app: String,
    summary: String,
    body: String,
    actions: Vec<String>,
}

struct Recorder {
    shown: Arc<Mutex<Vec<Shown>>>,
}

#[zbus::interface(name = "org.freedesktop.Notifications")]
impl Recorder {
    #[allow(clippy::too_many_arguments)]
    async fn notify(
        &self,
        app_name: String,
        _replaces_id: u32,
        _app_icon: String,
        summary: String,
        body: String,
        actions: Vec<String>,
        _hints: HashMap<String, zbus::OwnedVariant>,
        _expire_timeout: i32,
    ) -> u32 {
        let mut shown = self.shown.lock().unwrap();
        shown.push(Shown { app: app_name, summary, body, actions });
        shown.len() as u32
    }

    fn get_capabilities(&self) -> Vec<String> {
        vec!["body".into(), "actions".into()]
    }

    fn get_server_information(&self) -> (String, String, String, String) {
        ("recorder".into(), "switchboard-tests".into(), "1.0".into(), "1.2".into())
    }

    fn close_notification(&self, _id: u32) {}

    /// What the notification server says when the person clicks a notification.
    #[zbus(signal)]
    async fn action_invoked(emitter: &zbus::object_server::SignalEmitter<'_>, id: u32, action_key: &str) -> zbus::Result<()>;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalations_and_messages_in_my_conversations_become_desktop_notifications() {
    console_core::credentials::use_mock_store();
    let session = PrivateSession::start(false);
    // This test binary is the only user of the variable (one test per binary).
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", &session.address);
    let shown = Arc::new(Mutex::new(Vec::new()));
    let _server = zbus::connection::Builder::address(session.address.as_str())
        .name("org.freedesktop.Notifications")
        .serve_at("/org/freedesktop/Notifications", Recorder { shown: shown.clone() })
        .build()
        .await
        .unwrap();

    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    let dir = tempfile::tempdir().unwrap();
    let console = console(&service, OWNER, dir.path()).await;
    let opened = Arc::new(Mutex::new(Vec::<String>::new()));
    let notifier = {
        let opened = opened.clone();
        console_core::alerts::DesktopNotifier::on_open(move |conversation| opened.lock().unwrap().push(conversation))
    };
    let handle = console.start(Some(Arc::new(notifier)), quick()).unwrap();
    handle.watch_status().wait_for(|s| s.state == SyncState::Live).await.unwrap();
    assert!(shown.lock().unwrap().is_empty(), "history is not announced on the first sync");

    service.customer_writes("447700900888", "Nia Notify", "I need to speak to a person please").await;
    eventually("a notification that Nia needs a person", || async { !shown.lock().unwrap().is_empty() }).await;
    let first = shown.lock().unwrap()[0].clone();
    assert_eq!(first.app, "Switchboard");
    assert_eq!(first.summary, "Nia Notify needs a person");
    assert_eq!(first.body, "I need to speak to a person please");
    assert!(first.actions.contains(&"default".to_owned()), "clicking opens the conversation: {first:?}");

    // The person clicks it: the console is told which conversation to open.
    let conversation = service.conversation_of(&owner, "447700900888").await;
    let recorder = _server.object_server().interface::<_, Recorder>("/org/freedesktop/Notifications").await.unwrap();
    eventually("the click opens Nia's conversation", || async {
        // Emitted until heard: the notifier subscribes to clicks just after showing.
        Recorder::action_invoked(recorder.signal_emitter(), 1, "default").await.unwrap();
        opened.lock().unwrap().as_slice() == [conversation.clone()]
    })
    .await;

    // I take it; the customer writes again: a notification for a message in a conversation I hold.
    console.take_over(&conversation).await.unwrap();
    handle.kick();
    eventually("taken over", || async { console.store().outbox().await.unwrap().is_empty() }).await;
    service.customer_writes("447700900888", "Nia Notify", "Thanks! Is 3pm ok?").await;
    eventually("a notification for the new message", || async { shown.lock().unwrap().len() >= 2 }).await;
    let second = shown.lock().unwrap()[1].clone();
    assert_eq!((second.summary.as_str(), second.body.as_str()), ("Nia Notify wrote", "Thanks! Is 3pm ok?"));
    // Nothing announced twice: the next notification is for the next message. (A repeat would
    // come from a sync pass before the one that brings it; nothing waits to see nothing.)
    service.customer_writes("447700900888", "Nia Notify", "See you then").await;
    eventually("a notification for the next message", || async { shown.lock().unwrap().len() >= 3 }).await;
    let said: Vec<(String, String)> = shown.lock().unwrap().iter().map(|s| (s.summary.clone(), s.body.clone())).collect();
    assert_eq!(
        said,
        [("Nia Notify needs a person", "I need to speak to a person please"), ("Nia Notify wrote", "Thanks! Is 3pm ok?"), ("Nia Notify wrote", "See you then")]
            .map(|(summary, body)| (summary.to_owned(), body.to_owned())),
        "each message announced once"
    );

    // I assign it to myself here: nothing to announce. Then a colleague gives it back to me after
    // unassigning it: "assigned to you", once.
    let me = console.me().unwrap().to_owned();
    console.assign(&conversation, Some(&me)).await.unwrap();
    handle.kick();
    eventually("assigned", || async { console.store().outbox().await.unwrap().is_empty() }).await;
    let agent = service.token(AGENT).await;
    for assignee in [serde_json::Value::Null, serde_json::json!(me)] {
        let r = service.app.patch(&format!("/v1/conversations/{conversation}"), &agent, serde_json::json!({"assignee_staff_id": assignee})).await;
        assert!(r.status.is_success(), "{r:?}");
        // The console sees each change (two quick ones could reach it as one, with no change).
        eventually("the console has the assignment", || async {
            let c = console.store().entity(protocol::EntityKind::Conversation, &conversation).await.unwrap().unwrap();
            c["assignee_staff_id"] == assignee
        })
        .await;
    }
    eventually("a notification for the assignment", || async { shown.lock().unwrap().len() >= 4 }).await;
    let fourth = shown.lock().unwrap()[3].clone();
    assert_eq!((fourth.summary.as_str(), fourth.body.as_str()), ("Nia Notify was assigned to you", "See you then"), "not my own assignment");
    assert!(fourth.actions.contains(&"default".to_owned()), "clicking opens it: {fourth:?}");
    handle.stop();

    // Monday morning (the console's clock moved to next Monday 09:00 in the business's zone):
    // the owner's console announces the week's figures, once, and clicking that notification
    // opens the Reports screen.
    let business = service.app.get("/v1/business", &owner).await.body.clone();
    let tz = jiff::tz::TimeZone::get(business["timezone"].as_str().unwrap()).unwrap();
    let mut monday = jiff::Timestamp::now().to_zoned(tz.clone()).date().tomorrow().unwrap();
    while monday.weekday() != jiff::civil::Weekday::Monday {
        monday = monday.tomorrow().unwrap();
    }
    let at = monday.at(9, 0, 0, 0).to_zoned(tz.clone()).unwrap().timestamp().as_millisecond();
    let clock: Arc<dyn console_core::engine::Clock> = Arc::new(Shifted(at - jiff::Timestamp::now().as_millisecond()));
    let reports = Arc::new(Mutex::new(0));
    let notifier = {
        let reports = reports.clone();
        console_core::alerts::DesktopNotifier::on_open(|_| {}).on_reports(move || *reports.lock().unwrap() += 1)
    };
    let before = shown.lock().unwrap().len();
    let handle = console.start_with_clock(Some(Arc::new(notifier)), quick(), clock.clone()).unwrap();
    // The weekly step runs in the pass that makes the engine live.
    handle.watch_status().wait_for(|s| s.state == SyncState::Live).await.unwrap();
    let week = monday - jiff::Span::new().days(7);
    let weekly = shown.lock().unwrap().get(before).cloned().expect("the weekly summary is announced");
    assert_eq!(weekly.summary, format!("Your week, {week} to {}", week + jiff::Span::new().days(6)));
    assert!(weekly.body.contains(" conversations (") && weekly.body.contains("more than the week before"), "{weekly:?}");
    assert!(weekly.actions.contains(&"default".to_owned()), "clicking opens Reports: {weekly:?}");
    let id = shown.lock().unwrap().len() as u32;
    eventually("the click opens the Reports screen", || async {
        Recorder::action_invoked(recorder.signal_emitter(), id, "default").await.unwrap();
        *reports.lock().unwrap() == 1
    })
    .await;
    // Once per device: a restart on the same morning announces nothing more.
    handle.stop();
    let handle = console.start_with_clock(Some(Arc::new(console_core::alerts::DesktopNotifier::new())), quick(), clock.clone()).unwrap();
    handle.watch_status().wait_for(|s| s.state == SyncState::Live).await.unwrap();
    assert_eq!(shown.lock().unwrap().len(), before + 1, "announced once on this device");
    assert_eq!(console.store().setting(console_core::weekly::ANNOUNCED).await.unwrap(), Some(week.to_string()));
    handle.stop();

    // The same morning on the agent's own device: agents do not see the reports, so nothing. Made
    // an admin (who does), that console announces the week too — it learns so from the service
    // at its next connection, without signing in again.
    let agents_dir = tempfile::tempdir().unwrap();
    let agents = switchboard_tests::console(&service, AGENT, agents_dir.path()).await;
    let before = shown.lock().unwrap().len();
    let handle = agents.start_with_clock(Some(Arc::new(console_core::alerts::DesktopNotifier::new())), quick(), clock.clone()).unwrap();
    handle.watch_status().wait_for(|s| s.state == SyncState::Live).await.unwrap();
    handle.stop();
    assert_eq!(shown.lock().unwrap().len(), before, "an agent is not sent the weekly figures");
    assert_eq!(agents.store().setting(console_core::weekly::ANNOUNCED).await.unwrap(), None);
    let agent_id = service.app.get("/v1/me", &agent).await.body["id"].as_str().unwrap().to_owned();
    let promoted = service.app.patch(&format!("/v1/staff/{agent_id}"), &owner, serde_json::json!({"role": "admin"})).await;
    assert!(promoted.status.is_success(), "{promoted:?}");
    let handle = agents.start_with_clock(Some(Arc::new(console_core::alerts::DesktopNotifier::new())), quick(), clock).unwrap();
    handle.watch_status().wait_for(|s| s.state == SyncState::Live).await.unwrap();
    let weekly = shown.lock().unwrap().get(before).cloned().expect("the admin's console announces the weekly summary");
    assert_eq!(weekly.summary, format!("Your week, {week} to {}", week + jiff::Span::new().days(6)));
    handle.stop();
}

/// The real time moved by a fixed amount (the console thinks it is another day; sleeps are real).
struct Shifted(i64);

impl console_core::engine::Clock for Shifted {
    fn now_ms(&self) -> i64 {
        jiff::Timestamp::now().as_millisecond() + self.0
    }
    fn sleep(&self, duration: std::time::Duration) -> futures_util::future::BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }
}
