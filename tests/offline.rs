//! The console working offline against the real service: what staff did while the service was
//! down is applied exactly once and in order when it returns; lost answers, races for a
//! conversation, refusals and resyncs are all settled the way the person would expect.

use std::sync::atomic::Ordering;
use std::time::Duration;

use console_core::queries::{CustomerEvent, Handler, InboxFilter, InboxQuery, LocalState, TimelineItem};
use console_core::{SyncState, Transport as _};
use protocol::EntityKind;
use reqwest::StatusCode;
use serde_json::{json, Value};
use switchboard_cloud::sync::log::TOMBSTONE_HORIZON_MS;
use switchboard_testkit::demo::{DemoService, AGENT, OWNER, PASSWORD};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::{app_secret, connect_whatsapp, notification, post_whatsapp_signed, spawn_with_fakes, text, whatsapp_customer, PHONE_ID};
use switchboard_testkit::{eventually, on_both_engines, Engine, TestApp};
use switchboard_tests::{console, quick, Flaky};

fn setup() -> tempfile::TempDir {
    console_core::credentials::use_mock_store();
    tempfile::tempdir().unwrap()
}

/// The demo service (SQLite) where a customer has just written on WhatsApp: the service, the
/// owner's token and the customer's conversation.
async fn a_customer_wrote(wa_id: &str, name: &str, text: &str) -> (DemoService, String, String) {
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes(wa_id, name, text).await;
    let conversation = service.conversation_of(&owner, wa_id).await;
    (service, owner, conversation)
}

async fn server_messages(service: &DemoService, token: &str, conversation: &str) -> Vec<Value> {
    service.get(&format!("/v1/conversations/{conversation}/messages?limit=200"), token).await["items"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_work_is_applied_once_in_order_when_the_service_returns() {
    let dir = setup();
    let mut service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900111", "Ivy Offline", "Can I book a colour?").await;
    let conversation = service.conversation_of(&owner, "447700900111").await;
    let (service_id, slot) = service.first_slot(&owner).await;
    let customer = service.get(&format!("/v1/conversations/{conversation}"), &owner).await["customer"]["id"].as_str().unwrap().to_owned();

    let console = console(&service, OWNER, dir.path()).await;
    let handle = console.start(None, quick()).unwrap();
    let mut status = handle.watch_status();
    status.wait_for(|s| s.state == SyncState::Live).await.unwrap();
    let me = console.me().unwrap().to_owned();
    let inbox = console.store().inbox(&InboxQuery::default(), &me).await.unwrap();
    assert!(inbox.items.iter().any(|i| i.conversation.id == conversation && i.customer_name == "Ivy Offline"), "{inbox:?}");

    service.app.stop().await;
    status.wait_for(|s| matches!(s.state, SyncState::Offline { .. })).await.unwrap();
    console.take_over(&conversation).await.unwrap();
    for text in ["One moment, Ivy", "We have a slot", "Booked you in!"] {
        console.send_message(&conversation, text).await.unwrap();
        handle.kick();
    }
    let booking = console.create_booking(&customer, &service_id, &slot, None).await.unwrap().created_id.unwrap();
    handle.kick();

    // Offline, the person sees what they did, marked pending.
    let timeline = console.store().timeline(&conversation, &me).await.unwrap().unwrap();
    assert_eq!(timeline.handler, Handler::Me);
    assert!(timeline.control_pending);
    let pending: Vec<&str> = timeline
        .items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Message { message, local: Some(LocalState::Pending { .. }), .. } => Some(message.body.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(pending, ["One moment, Ivy", "We have a slot", "Booked you in!"]);
    // The status bar counts them (the engine hears of each kick while it waits to retry).
    tokio::time::timeout(std::time::Duration::from_secs(5), status.wait_for(|s| s.pending == 5)).await.expect("five pending shown").unwrap();
    let mine = console.store().inbox(&InboxQuery { filter: InboxFilter::Mine, ..Default::default() }, &me).await.unwrap();
    assert!(mine.items.iter().any(|i| i.conversation.id == conversation && i.pending));

    service.app.restart().await;
    status.wait_for(|s| s.state == SyncState::Live && s.pending == 0).await.unwrap();
    let owner = service.token(OWNER).await;
    // Applied exactly once, in order.
    let messages = server_messages(&service, &owner, &conversation).await;
    let outbound = |automated: bool| -> Vec<&str> {
        messages
            .iter()
            .filter(|m| m["direction"] == "outbound" && m["kind"] == "text" && m["automation"].is_null() != automated)
            .map(|m| m["body"].as_str().unwrap())
            .collect()
    };
    assert_eq!(outbound(false), ["One moment, Ivy", "We have a slot", "Booked you in!"]);
    // The replayed booking was confirmed to the customer once (the confirmation is automated).
    let confirmations = outbound(true);
    assert_eq!(confirmations.len(), 1, "{confirmations:?}");
    assert!(confirmations[0].contains("you're booked"), "{confirmations:?}");
    let detail = service.get(&format!("/v1/conversations/{conversation}"), &owner).await;
    assert_eq!((detail["conversation"]["mode"].as_str(), detail["conversation"]["holder_staff_id"].as_str()), (Some("human"), Some(me.as_str())));
    let bookings = service.get(&format!("/v1/bookings?customer_id={customer}"), &owner).await;
    let ids: Vec<&str> = bookings["items"].as_array().unwrap().iter().map(|b| b["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [booking.as_str()]);
    // And the mirror converges with the service.
    eventually("the mirror has the three replies and the booking", || async {
        let t = console.store().timeline(&conversation, &me).await.unwrap().unwrap();
        let synced: Vec<String> = t
            .items
            .iter()
            .filter_map(|i| match i {
                TimelineItem::Message { message, local: None, .. }
                    if message.kind == protocol::MessageKind::Text && message.direction == protocol::Direction::Outbound && message.automation.is_none() =>
                {
                    Some(message.body.clone())
                }
                _ => None,
            })
            .collect();
        synced == ["One moment, Ivy", "We have a slot", "Booked you in!"] && console.store().entity(EntityKind::Booking, &booking).await.unwrap().is_some()
    })
    .await;
    let mirrored: Vec<String> = messages.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    let local = console.store().timeline(&conversation, &me).await.unwrap().unwrap();
    let local_ids: Vec<String> = local.items.iter().filter_map(|i| if let TimelineItem::Message { message, .. } = i { Some(message.id.to_string()) } else { None }).collect();
    assert_eq!(local_ids, mirrored);
    assert!(!local.control_pending);
    handle.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_after_a_lost_answer_changes_nothing_and_an_unreadable_action_blocks_nothing() {
    let dir = setup();
    let (service, owner, conversation) = a_customer_wrote("447700900222", "Lost Answer", "Hello").await;
    let console = console(&service, OWNER, dir.path()).await;
    let (flaky, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();

    console.take_over(&conversation).await.unwrap();
    console.send_message(&conversation, "Applied once").await.unwrap();
    console.hand_back("not-a-conversation").await.unwrap();
    flaky.lose_next_push_answer.store(true, Ordering::SeqCst);
    let err = syncer.push_then_pull().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(console.store().pending(10).await.unwrap().len(), 3, "unanswered: still queued");
    let first = flaky.lost.lock().unwrap()[0].outcomes.clone();
    assert_eq!(first.iter().map(|o| o.ok).collect::<Vec<_>>(), [true, true, false]);

    // The replay: the same outcomes, nothing applied twice.
    let replay = flaky.inner.push(&protocol::PushRequest { client_id: console.client_id().into(), mutations: console.store().pending(10).await.unwrap() }).await.unwrap();
    assert_eq!(replay.outcomes, first);
    syncer.push_then_pull().await.unwrap();
    assert!(console.store().pending(10).await.unwrap().is_empty());
    let outbox = console.store().outbox().await.unwrap();
    assert_eq!((outbox.len(), outbox[0].code), (1, Some(protocol::ErrorCode::NotFound)), "the refusal stays, with its reason");
    let sent: Vec<Value> = server_messages(&service, &owner, &conversation).await.into_iter().filter(|m| m["body"] == "Applied once").collect();
    assert_eq!(sent.len(), 1);

    // An action with an id the service could not read (empty, here) is refused when it is made.
    // One already in the outbox (queued by an older build) is sent as it was written, refused by
    // the service on its own, and holds back neither the actions after it nor the outbox's list.
    let refused = console.take_over("").await.unwrap_err();
    assert!(matches!(refused, console_core::ConsoleError::Invalid(_)), "{refused}");
    assert!(console.store().pending(10).await.unwrap().is_empty(), "nothing was queued");
    console.store().enqueue(&protocol::MutationOp::TakeOver { conversation_id: "".into() }).await.unwrap();
    console.send_message(&conversation, "Sent after the unreadable one").await.unwrap();
    let listed = serde_json::to_value(console.store().outbox().await.unwrap()).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|e| e["name"] == "take_over" && e["args"] == json!({"conversation_id": ""})), "listed as written: {listed}");
    syncer.push_then_pull().await.unwrap();
    assert!(console.store().pending(10).await.unwrap().is_empty());
    let codes: Vec<_> = console.store().outbox().await.unwrap().iter().map(|e| e.code).collect();
    assert_eq!(codes, [Some(protocol::ErrorCode::NotFound), Some(protocol::ErrorCode::ValidationFailed)], "each refused with its reason");
    let sent: Vec<Value> = server_messages(&service, &owner, &conversation).await.into_iter().filter(|m| m["body"] == "Sent after the unreadable one").collect();
    assert_eq!(sent.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_consoles_race_to_take_over_and_the_loser_sees_who_holds_it() {
    let (maya_dir, sam_dir) = (setup(), tempfile::tempdir().unwrap());
    let (service, _owner, conversation) = a_customer_wrote("447700900333", "Race Customer", "Anyone there?").await;
    let maya = console(&service, OWNER, maya_dir.path()).await;
    let sam = console(&service, AGENT, sam_dir.path()).await;
    maya.sync_once().await.unwrap();
    sam.sync_once().await.unwrap();

    maya.take_over(&conversation).await.unwrap();
    sam.take_over(&conversation).await.unwrap();
    let (a, b) = tokio::join!(maya.sync_once(), sam.sync_once());
    a.unwrap();
    b.unwrap();
    // Whoever lost pulls once more to see the winner's commit.
    maya.sync_once().await.unwrap();
    sam.sync_once().await.unwrap();
    let mut refused = Vec::new();
    for (who, c) in [("maya", &maya), ("sam", &sam)] {
        refused.extend(c.store().outbox().await.unwrap().into_iter().map(|e| (who, e)));
    }
    assert_eq!(refused.len(), 1, "exactly one loser: {refused:?}");
    let (loser_name, entry) = &refused[0];
    assert_eq!(entry.code, Some(protocol::ErrorCode::AlreadyHeld));
    let (loser, winner_name) = if *loser_name == "maya" { (&maya, "Sam Okafor") } else { (&sam, "Maya Patel") };
    let timeline = loser.store().timeline(&conversation, loser.me().unwrap()).await.unwrap().unwrap();
    match timeline.handler {
        Handler::Colleague { name, .. } => assert_eq!(name, winner_name),
        other => panic!("the loser should see the colleague holding it, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_written_offline_into_a_conversation_a_colleague_took_is_kept_as_a_draft() {
    let (maya_dir, sam_dir) = (setup(), tempfile::tempdir().unwrap());
    let (service, owner, conversation) = a_customer_wrote("447700900444", "Draft Customer", "Is Thursday late opening?").await;
    let maya = console(&service, OWNER, maya_dir.path()).await;
    let sam = console(&service, AGENT, sam_dir.path()).await;
    let (sam_net, mut sam_sync) = Flaky::syncer(&sam);
    sam_sync.pass().await.unwrap();

    sam_net.online.store(false, Ordering::SeqCst);
    sam.send_message(&conversation, "Yes, until 8pm!").await.unwrap();
    assert!(sam_sync.push_then_pull().await.unwrap_err().is_transient());
    maya.take_over(&conversation).await.unwrap();
    maya.sync_once().await.unwrap();

    sam_net.online.store(true, Ordering::SeqCst);
    let pass = sam_sync.pass().await.unwrap();
    assert!(pass.alerts.iter().any(|a| a.title == "Your reply was not sent"), "{:?}", pass.alerts);
    let timeline = sam.store().timeline(&conversation, sam.me().unwrap()).await.unwrap().unwrap();
    let draft = timeline.items.iter().find_map(|i| match i {
        TimelineItem::Message { message, local: Some(LocalState::Refused { code, reason, .. }), .. } => Some((message.body.clone(), code.clone(), reason.clone())),
        _ => None,
    });
    let (body, code, reason) = draft.expect("the refused reply is shown as a draft");
    assert_eq!((body.as_str(), code.as_str()), ("Yes, until 8pm!", "already_held"));
    assert!(reason.contains("Maya"), "the reason names who holds it: {reason}");
    assert!(matches!(timeline.handler, Handler::Colleague { .. }));
    let on_server = server_messages(&service, &owner, &conversation).await;
    assert!(on_server.iter().all(|m| m["body"] != "Yes, until 8pm!"), "nothing reached the customer");
    // Retrying sends it as a new message; discarding drops it.
    let entry = sam.store().outbox().await.unwrap().remove(0);
    assert!(sam.store().discard(entry.id).await.unwrap());
    assert!(sam.store().outbox().await.unwrap().is_empty());
}

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

/// The running service's compaction job forgets tombstones older than the horizon (and only
/// those); a console whose cursor is behind them must resync, keeps what it queued offline
/// through the resync, and replays it.
async fn a_console_behind_compacted_tombstones_resyncs_and_replays_its_outbox((app, fake): (TestApp, FakeProviders)) {
    const DAY_MS: i64 = 86_400_000;
    let dir = setup();
    let owner = app.signup("compaction").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900555").await;
    let mut canned = Vec::new();
    for shortcut in ["hi", "bye", "soon"] {
        let r = app.post("/v1/canned-responses", &owner.access, json!({"shortcut": shortcut, "title": shortcut, "body": format!("{shortcut}!")})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        canned.push(r.body["id"].as_str().unwrap().to_owned());
    }
    let mut console = console_core::Console::open(dir.path()).await.unwrap();
    console.login(&app.base, &owner.email, &owner.password).await.unwrap();
    let (net, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();
    assert_eq!(console.store().entities(EntityKind::CannedResponse).await.unwrap().len(), 3, "the saved replies are mirrored");
    let cursor = console.store().cursor().await.unwrap();
    assert_eq!(cursor, app.last_seq(&owner.business_id).await);

    // Offline for a long time, with a reply queued; meanwhile two saved replies are deleted.
    net.online.store(false, Ordering::SeqCst);
    console.take_over(&conversation).await.unwrap();
    console.send_message(&conversation, "Back online now").await.unwrap();
    for id in &canned[..2] {
        let r = app.delete(&format!("/v1/canned-responses/{id}"), &owner.access).await;
        assert!(r.status.is_success(), "{r:?}");
    }
    let tombstones = || async {
        let seqs: Vec<i64> = sqlx::query_scalar("SELECT seq FROM changes WHERE business_id = $1 AND data IS NULL ORDER BY seq")
            .bind(&owner.business_id)
            .fetch_all(app.db.reader())
            .await
            .unwrap();
        seqs
    };
    let compacted_through = || async {
        let seq: i64 = sqlx::query_scalar("SELECT compacted_through FROM businesses WHERE id = $1").bind(&owner.business_id).fetch_one(app.db.reader()).await.unwrap();
        seq
    };
    let old = tombstones().await;
    assert_eq!(old.len(), 2);
    assert!(old[0] > cursor);
    assert_eq!(compacted_through().await, 0);

    // A day short of the horizon, the workers leave them be.
    app.advance(Duration::from_millis((TOMBSTONE_HORIZON_MS - DAY_MS) as u64));
    app.drain().await;
    assert_eq!((tombstones().await, compacted_through().await), (old.clone(), 0), "younger than the horizon: kept");
    // Past it, the compaction job removes them and moves the horizon past them; a saved reply
    // deleted now leaves a tombstone that stays.
    app.advance(Duration::from_millis((2 * DAY_MS) as u64));
    let r = app.delete(&format!("/v1/canned-responses/{}", canned[2]), &owner.access).await;
    assert!(r.status.is_success(), "{r:?}");
    let young = tombstones().await.last().copied().unwrap();
    app.drain().await;
    assert_eq!(tombstones().await, [young], "only the old tombstones are gone");
    assert_eq!(compacted_through().await, old[1]);
    // The console's cursor is behind the horizon now.
    let pull = app.get(&format!("/v1/sync/pull?cursor={cursor}"), &owner.access).await;
    assert_eq!((pull.status, pull.code()), (StatusCode::CONFLICT, "resync_required"), "{pull:?}");

    // A month on the customer writes again (WhatsApp's 24-hour window opens), and the console
    // comes back: it resyncs from scratch, its outbox intact, and replays it.
    let again = notification(PHONE_ID, Value::Null, json!([text("wamid.month-later", "447700900555", "Are you still there?")]), Value::Null);
    assert_eq!(post_whatsapp_signed(&app, &again, &app_secret(&owner)).await.0, StatusCode::OK);
    app.drain().await;
    assert_eq!(console.store().pending(10).await.unwrap().len(), 2, "take over and the reply, still queued");
    net.online.store(true, Ordering::SeqCst);
    let pass = syncer.pass().await.unwrap();
    assert!(pass.resync, "the old cursor had to resync");
    assert!(console.store().outbox().await.unwrap().is_empty(), "kept through the resync, then replayed");
    assert!(console.store().entities(EntityKind::CannedResponse).await.unwrap().is_empty(), "the deletions are seen");
    let t = console.store().timeline(&conversation, console.me().unwrap()).await.unwrap().unwrap();
    assert!(t.items.iter().any(|i| matches!(i, TimelineItem::Message { message, local: None, .. } if message.body == "Back online now")));
    assert_eq!(t.handler, Handler::Me);
    app.settled("the replayed reply is sent, once", || async {
        fake.sends().iter().filter(|s| s.body["text"]["body"] == "Back online now").count() == 1
    })
    .await;
    let replies = app.get(&format!("/v1/conversations/{conversation}/messages?limit=200"), &owner.access).await;
    assert_eq!(replies.body["items"].as_array().unwrap().iter().filter(|m| m["body"] == "Back online now").count(), 1);
}

}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_console_on_one_instance_sees_a_webhook_processed_by_another() {
    let dir = setup();
    let service = DemoService::start(Engine::Postgres).await;
    let second = service.another_instance().await;
    let mut console = console_core::Console::open(dir.path()).await.unwrap();
    console.login(&second.base, OWNER, PASSWORD).await.unwrap();
    let handle = console.start(None, quick()).unwrap();
    let mut events = handle.subscribe();
    handle.watch_status().wait_for(|s| s.state == SyncState::Live).await.unwrap();
    // The webhook goes to the first instance, whose workers process it.
    service.customer_writes("447700900666", "Two Instances", "Hello from the other side").await;
    let found = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            if let Ok(console_core::Event::Changed { entities, .. }) = events.recv().await {
                for (entity, id) in entities {
                    if entity == EntityKind::Message {
                        if let Some(m) = console.store().entity(EntityKind::Message, &id).await.unwrap() {
                            if m["body"] == "Hello from the other side" {
                                return true;
                            }
                        }
                    }
                }
            }
        }
    })
    .await;
    assert_eq!(found, Ok(true), "the poke crossed instances and the console pulled the message");
    handle.stop();
}

/// A walk-in added and written to while the service is down: the customer and the conversation
/// show at once (pending, under the console's ids), are created exactly once when it returns —
/// even when the answer to the push is lost and the push is replayed — and on WhatsApp the first
/// message is an approved template. A start the service refuses (no SMS channel here) is kept as
/// a draft and creates nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_added_and_written_to_offline_is_created_once_and_whatsapp_starts_with_a_template() {
    let dir = setup();
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    let template = service
        .app
        .post("/v1/whatsapp-templates", &owner, json!({"name": "desk_hello", "language": "en", "body": "Hello {{1}}, this is Bloom Hair Studio."}))
        .await;
    assert!(template.status.is_success(), "{:?}", template.body);
    let template_id = template.body["id"].as_str().unwrap().to_owned();
    let console = console(&service, OWNER, dir.path()).await;
    let me = console.me().unwrap().to_owned();
    let (flaky, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();

    flaky.online.store(false, Ordering::SeqCst);
    let walk_in = protocol::CreateCustomer { name: Some("Wendy Walkin".into()), phone: Some("+44 7911 123457".into()), ..Default::default() };
    let customer = console.create_customer(walk_in).await.unwrap().created_id.unwrap();
    let refused_here = console.start_conversation(&customer, "whatsapp", Some("Hi Wendy"), None, vec![]).await.unwrap_err();
    assert!(refused_here.to_string().contains("template"), "{refused_here}");
    let started = console.start_conversation(&customer, "whatsapp", None, Some(&template_id), vec!["Wendy".into()]).await.unwrap().created_id.unwrap();
    let by_sms = console.start_conversation(&customer, "sms", Some("Your chair is ready"), None, vec![]).await.unwrap().created_id.unwrap();
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());

    // Offline: there already, marked pending, with the customer's name and the first message.
    let inbox = console.store().inbox(&InboxQuery::default(), &me).await.unwrap();
    let firsts: Vec<(&str, &str, bool)> = inbox.items.iter().take(2).map(|i| (i.conversation.id.as_str(), i.customer_name.as_str(), i.pending)).collect();
    assert_eq!(firsts, [(by_sms.as_str(), "Wendy Walkin", true), (started.as_str(), "Wendy Walkin", true)]);
    let timeline = console.store().timeline(&started, &me).await.unwrap().expect("a conversation started here opens offline");
    assert_eq!(timeline.handler, Handler::Me);
    assert_eq!(timeline.customer.as_ref().and_then(|c| c.name.as_deref()), Some("Wendy Walkin"));
    assert!(matches!(&timeline.items[..], [TimelineItem::Message { message, local: Some(LocalState::Pending { .. }), .. }] if message.body.starts_with("Hello {{1}}")), "{:?}", timeline.items);
    let profile = console.store().customer_profile(&customer).await.unwrap().expect("the new customer's panel opens offline");
    assert_eq!(profile.conversations.len(), 2);

    // Back, and the answer to the first push is lost: the replay creates nothing twice.
    flaky.online.store(true, Ordering::SeqCst);
    flaky.lose_next_push_answer.store(true, Ordering::SeqCst);
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    let lost = flaky.lost.lock().unwrap()[0].outcomes.clone();
    assert_eq!(lost.iter().map(|o| o.ok).collect::<Vec<_>>(), [true, true, false], "{lost:?}");
    syncer.push_then_pull().await.unwrap();
    syncer.pass().await.unwrap();

    let found = service.get("/v1/customers?q=Wendy", &owner).await;
    let ids: Vec<&str> = found["items"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [customer.as_str()], "one customer, with the console's id");
    assert_eq!(found["items"][0]["phone"], "+447911123457");
    let detail = service.get(&format!("/v1/conversations/{started}"), &owner).await;
    assert_eq!(
        (detail["conversation"]["channel"].as_str(), detail["conversation"]["mode"].as_str(), detail["conversation"]["holder_staff_id"].as_str()),
        (Some("whatsapp"), Some("human"), Some(me.as_str()))
    );
    let messages = server_messages(&service, &owner, &started).await;
    let sent: Vec<(&str, &str)> = messages.iter().filter(|m| m["direction"] == "outbound" && m["kind"] != "event").map(|m| (m["kind"].as_str().unwrap(), m["body"].as_str().unwrap())).collect();
    assert_eq!(sent, [("template", "Hello Wendy, this is Bloom Hair Studio.")], "the first message, once, as a template");
    let none = service.app.get(&format!("/v1/conversations/{by_sms}"), &owner).await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "a refused start leaves no empty conversation");
    let outbox = console.store().outbox().await.unwrap();
    assert_eq!(outbox.len(), 1);
    assert_eq!((outbox[0].op.name(), outbox[0].code), ("start_conversation", Some(protocol::ErrorCode::ChannelNotConfigured)), "kept as a draft with its reason");

    // The mirror now has them as the service does: no longer pending.
    let inbox = console.store().inbox(&InboxQuery::default(), &me).await.unwrap();
    let row = inbox.items.iter().find(|i| i.conversation.id == started).expect("synced");
    assert!(!row.pending);
    assert_eq!(row.customer_name, "Wendy Walkin");
}

/// The Reports screen's commands against the real service: an owner's figures, the rows behind
/// one and its CSV agree with each other and with what happened (a booking made today); an agent
/// is refused; with the service down, the last figures fetched come back marked offline with
/// when they were fetched (the rows and exports say they need the network), and signing out
/// forgets them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_agree_with_their_rows_and_csv_and_the_last_figures_stay_readable_offline() {
    use console_core::credentials::Keep;
    use console_core::desk::{Command as C, Desk};
    use console_core::reports::{ReportExport, ReportFilter};
    let dir = setup();
    let mut service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900333", "Rhea Report", "Can I book a cut?").await;
    let conversation = service.conversation_of(&owner, "447700900333").await;
    let customer = service.get(&format!("/v1/conversations/{conversation}"), &owner).await["customer"]["id"].as_str().unwrap().to_owned();
    let (service_id, slot) = service.first_slot(&owner).await;
    let made = service.app.post("/v1/bookings", &owner, json!({"customer_id": customer, "service_id": service_id, "start": slot})).await;
    assert!(made.status.is_success(), "{:?}", made.body);
    let booking = made.body["id"].as_str().unwrap().to_owned();
    let zone = service.get("/v1/business", &owner).await["timezone"].as_str().unwrap().to_owned();
    let today = jiff::Timestamp::now().to_zoned(jiff::tz::TimeZone::get(&zone).unwrap()).date();
    let filter = ReportFilter { from: today.checked_sub(jiff::Span::new().days(6)).unwrap().to_string(), to: today.to_string(), channel: None, staff_id: None };

    let server = service.url().to_owned();
    let sign_in = |email: &str| C::SignIn { server: server.clone(), email: email.to_owned(), password: PASSWORD.to_owned(), code: None, keep: Some(Keep::Session), passphrase: None };
    let desk = Desk::open(dir.path(), None, quick()).await.unwrap();
    desk.dispatch(sign_in(OWNER)).await.unwrap();
    let answer = desk.dispatch(C::Report { filter: filter.clone() }).await.unwrap();
    assert_eq!(answer["offline"], false);
    assert_eq!(answer["filter"]["from"], filter.from.as_str());
    let bookings = answer["summary"]["current"]["bookings"].as_u64().unwrap();
    assert!(bookings >= 1, "the booking made today is counted: {answer}");
    let direct = service.get(&format!("/v1/reports/summary?from={}&to={}", filter.from, filter.to), &owner).await;
    assert_eq!(answer["summary"], direct, "the service's figures, as they are");

    let rows = desk.dispatch(C::ReportRows { filter: filter.clone(), figure: protocol::ReportFigure::Bookings, previous: false }).await.unwrap();
    let ids: Vec<&str> = rows["bookings"].as_array().unwrap().iter().map(|b| b["booking_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len() as u64, bookings, "the rows are exactly the figure");
    assert!(ids.contains(&booking.as_str()), "{rows}");
    let csv = desk.dispatch(C::ReportCsv { export: ReportExport::Bookings, filter: filter.clone(), figure: Some(protocol::ReportFigure::Bookings) }).await.unwrap();
    assert_eq!(csv["file_name"], format!("bookings-bookings-{}-{}.csv", filter.from, filter.to));
    let text = csv["csv"].as_str().unwrap();
    assert_eq!(text.lines().count() as u64, bookings + 1, "a header and one line per booking:\n{text}");
    assert!(text.contains(&booking), "{text}");
    // The calls behind the missed-calls figure come through as the service lists them, and their
    // CSV (this demo has no missed calls in the week: none, and the header).
    let missed = answer["summary"]["current"]["missed_calls"].as_u64().unwrap();
    let calls = desk.dispatch(C::ReportRows { filter: filter.clone(), figure: protocol::ReportFigure::MissedCalls, previous: false }).await.unwrap();
    assert_eq!(calls["calls"].as_array().unwrap().len() as u64, missed, "{calls}");
    let csv = desk.dispatch(C::ReportCsv { export: ReportExport::Calls, filter: filter.clone(), figure: Some(protocol::ReportFigure::MissedCalls) }).await.unwrap();
    assert_eq!(csv["file_name"], format!("calls-missed_calls-{}-{}.csv", filter.from, filter.to));
    let text = csv["csv"].as_str().unwrap();
    assert!(text.starts_with("call_id,called_at,date,"), "{text}");
    assert_eq!(text.lines().count() as u64, missed + 1, "{text}");

    // An agent sees no reports, not even through the console.
    let agent_dir = tempfile::tempdir().unwrap();
    let agent = Desk::open(agent_dir.path(), None, quick()).await.unwrap();
    agent.dispatch(sign_in(AGENT)).await.unwrap();
    let refused = agent.dispatch(C::Report { filter: filter.clone() }).await.unwrap_err();
    assert_eq!(refused.kind, "refused", "{refused:?}");
    agent.stop().await;

    // The service goes down: the last figures, marked, with when they were fetched — also when
    // another period is asked for (the answer says which period they are).
    service.app.stop().await;
    let kept = desk.dispatch(C::Report { filter: filter.clone() }).await.unwrap();
    assert_eq!((kept["offline"].as_bool(), &kept["summary"], &kept["fetched_at"]), (Some(true), &answer["summary"], &answer["fetched_at"]));
    let other = ReportFilter { channel: Some("sms".into()), ..filter.clone() };
    let kept = desk.dispatch(C::Report { filter: other.clone() }).await.unwrap();
    assert_eq!((kept["offline"].as_bool(), kept["filter"]["channel"].is_null()), (Some(true), true), "{kept}");
    let offline = desk.dispatch(C::ReportRows { filter: filter.clone(), figure: protocol::ReportFigure::Bookings, previous: false }).await.unwrap_err();
    assert_eq!(offline.kind, "offline");
    let offline = desk.dispatch(C::ReportCsv { export: ReportExport::Conversations, filter: filter.clone(), figure: None }).await.unwrap_err();
    assert_eq!(offline.kind, "offline");

    // Signing out forgets them with everything else of this person's.
    service.app.restart().await;
    desk.dispatch(C::SignOut { discard: false }).await.unwrap();
    desk.dispatch(sign_in(OWNER)).await.unwrap();
    service.app.stop().await;
    let nothing = desk.dispatch(C::Report { filter }).await.unwrap_err();
    assert_eq!(nothing.kind, "offline", "no figures kept from before signing out: {nothing:?}");
    desk.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_offline_waiting_longest_first_assigned_labelled_and_tagged_once() {
    let dir = setup();
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    // Two customers ask for a person, Una first: she has waited longest though Ben wrote last.
    service.customer_writes("447700900441", "Una Queue", "I need to speak to a person please").await;
    service.customer_writes("447700900442", "Ben Queue", "I need to speak to a person please").await;
    let una = service.conversation_of(&owner, "447700900441").await;
    let ben = service.conversation_of(&owner, "447700900442").await;
    let agent_id = service.get("/v1/staff", &owner).await["items"].as_array().unwrap().iter().find(|s| s["email"] == AGENT).unwrap()["id"].as_str().unwrap().to_owned();
    let customer = service.get(&format!("/v1/conversations/{una}"), &owner).await["customer"]["id"].as_str().unwrap().to_owned();
    let console = console(&service, OWNER, dir.path()).await;
    let me = console.me().unwrap().to_owned();
    let (flaky, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();

    // Offline: the queue still says who has waited longest, and since when.
    flaky.online.store(false, Ordering::SeqCst);
    let queue = console.store().inbox(&InboxQuery { filter: InboxFilter::NeedsHuman, ..Default::default() }, &me).await.unwrap();
    let since: Vec<protocol::Timestamp> = queue.items.iter().map(|i| i.waiting_since.expect("every row says since when")).collect();
    assert!(since.windows(2).all(|w| w[0] <= w[1]), "longest waiting first: {since:?}");
    let order: Vec<&str> = queue.items.iter().map(|i| i.conversation.id.as_str()).filter(|id| [una.as_str(), ben.as_str()].contains(id)).collect();
    assert_eq!(order, [una.as_str(), ben.as_str()], "Una has waited longer than Ben");
    let una_since = queue.items.iter().find(|i| i.conversation.id == una).unwrap().waiting_since;
    let everyone = console.store().inbox(&InboxQuery::default(), &me).await.unwrap();
    let position = |id: &str| everyone.items.iter().position(|i| i.conversation.id == id).unwrap();
    assert!(position(&ben) < position(&una), "the inbox stays newest activity first");
    assert_eq!(everyone.items[position(&una)].waiting_since, una_since);
    // Paged one at a time, still in waiting order.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = console.store().inbox(&InboxQuery { filter: InboxFilter::NeedsHuman, limit: Some(1), after: after.clone(), ..Default::default() }, &me).await.unwrap();
        paged.extend(page.items.iter().map(|i| i.conversation.id.to_string()));
        if page.next.is_none() {
            break;
        }
        after = page.next;
    }
    assert_eq!(paged, queue.items.iter().map(|i| i.conversation.id.to_string()).collect::<Vec<_>>());

    console.assign(&una, Some(&agent_id)).await.unwrap();
    console.label_conversation(&una, vec!["vip".into(), "colour".into()], vec![]).await.unwrap();
    console.label_conversation(&una, vec![], vec!["colour".into()]).await.unwrap();
    console.tag_customer(&customer, vec!["bride".into()], vec![]).await.unwrap();
    assert!(console.label_conversation(&una, vec![" ".into()], vec![]).await.is_err(), "an empty label is refused at once");
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    // Shown at once, pending, and the label filter finds it offline.
    let labelled = console.store().inbox(&InboxQuery { label: Some("vip".into()), ..Default::default() }, &me).await.unwrap();
    assert_eq!(labelled.items.len(), 1);
    let row = &labelled.items[0];
    assert_eq!((row.conversation.id.as_str(), row.pending), (una.as_str(), true));
    assert_eq!((row.conversation.labels.clone(), row.conversation.assignee_staff_id.as_deref()), (vec!["vip".to_owned()], Some(agent_id.as_str())));
    assert!(console.store().inbox(&InboxQuery { label: Some("colour".into()), ..Default::default() }, &me).await.unwrap().items.is_empty());
    assert_eq!(console.store().labels().await.unwrap(), ["colour", "vip"], "what was typed offline is offered in the filter");
    let profile = console.store().customer_profile(&customer).await.unwrap().unwrap();
    assert!(profile.customer.tags.contains(&"bride".to_owned()), "{:?}", profile.customer.tags);

    // Back, and the answer to the push is lost: the replay applies nothing twice.
    flaky.online.store(true, Ordering::SeqCst);
    flaky.lose_next_push_answer.store(true, Ordering::SeqCst);
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    syncer.push_then_pull().await.unwrap();
    syncer.pass().await.unwrap();
    assert!(console.store().outbox().await.unwrap().is_empty());
    let detail = service.get(&format!("/v1/conversations/{una}"), &owner).await;
    assert_eq!((detail["conversation"]["assignee_staff_id"].as_str(), detail["conversation"]["labels"].clone()), (Some(agent_id.as_str()), json!(["vip"])));
    assert_eq!(detail["customer"]["tags"].as_array().unwrap().iter().filter(|t| *t == "bride").count(), 1);
    let log = service.get("/v1/audit-log?limit=200", &owner).await;
    let count = |action: &str| log["items"].as_array().unwrap().iter().filter(|e| e["action"] == action && e["target_id"] != Value::Null).count();
    assert_eq!((count("conversation.assigned"), count("conversation.labelled"), count("customer.tagged")), (1, 2, 1), "each applied once");
    // The mirror now holds them as the service does.
    let labelled = console.store().inbox(&InboxQuery { label: Some("vip".into()), ..Default::default() }, &me).await.unwrap();
    assert_eq!(labelled.items.iter().map(|i| (i.conversation.id.as_str(), i.pending)).collect::<Vec<_>>(), [(una.as_str(), false)]);
    assert_eq!(console.store().labels().await.unwrap(), ["vip"]);
    // The inbox search finds labels and customers' tags as well as names and messages.
    for words in ["vip", "brid"] {
        let found = console.store().inbox(&InboxQuery { search: Some(words.into()), ..Default::default() }, &me).await.unwrap();
        assert_eq!(found.items.iter().map(|i| i.conversation.id.as_str()).collect::<Vec<_>>(), [una.as_str()], "{words}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customers_whole_history_across_channels_opens_offline_in_one_timeline() {
    let dir = setup();
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    // James wrote by SMS (and has a booking); now he writes on WhatsApp from the same number.
    service.customer_writes("447911123402", "James Wilson", "Also, do you do beard trims?").await;
    let found = service.get("/v1/customers?q=James", &owner).await;
    let james = found["items"].as_array().unwrap();
    assert_eq!(james.len(), 1, "one customer for both channels: {found}");
    let customer = james[0]["id"].as_str().unwrap().to_owned();
    eventually("both conversations exist", || async {
        service.get(&format!("/v1/conversations?customer_id={customer}"), &owner).await["items"].as_array().unwrap().len() == 2
    })
    .await;
    let conversations = service.get(&format!("/v1/conversations?customer_id={customer}"), &owner).await;
    let whatsapp = conversations["items"].as_array().unwrap().iter().find(|c| c["channel"] == "whatsapp").unwrap()["id"].as_str().unwrap().to_owned();
    let console = console(&service, OWNER, dir.path()).await;
    let me = console.me().unwrap().to_owned();
    let (flaky, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();

    flaky.online.store(false, Ordering::SeqCst);
    console.add_note(&whatsapp, "Asked about beards; offer the barber slot").await.unwrap();
    let history = console.store().customer_timeline(&customer, &me, None).await.unwrap().expect("opens offline");
    assert_eq!(history.conversations.len(), 2);
    let said: Vec<(String, String)> = history
        .items
        .iter()
        .filter_map(|i| match i {
            CustomerEvent::Message { message, channel, .. } if message.direction == protocol::Direction::Inbound => Some((channel.as_str().to_owned(), message.body.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        said,
        [("sms", "Hello, can I move my appointment on Friday to next week?"), ("sms", "Same time if possible"), ("whatsapp", "Also, do you do beard trims?")]
            .map(|(c, b)| (c.to_owned(), b.to_owned())),
        "every channel, oldest first"
    );
    assert!(history.items.iter().any(|i| matches!(i, CustomerEvent::Booking { booking, service_name: Some(_), .. } if booking.customer_id == customer)), "with the booking");
    assert!(
        matches!(history.items.last(), Some(CustomerEvent::Note { note, local: Some(LocalState::Pending { .. }), channel: protocol::Channel::Whatsapp, .. }) if note.body.starts_with("Asked about beards")),
        "my note written offline, last and pending: {:?}",
        history.items.last()
    );
    let stamps: Vec<protocol::Timestamp> = history
        .items
        .iter()
        .map(|i| match i {
            CustomerEvent::Message { message, .. } => message.created_at,
            CustomerEvent::Note { note, .. } => note.created_at,
            CustomerEvent::Booking { booking, .. } => booking.created_at,
        })
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "in time order");
    let newest = console.store().customer_timeline(&customer, &me, Some(2)).await.unwrap().unwrap();
    assert_eq!((newest.items.len(), newest.more), (2, true));
}

on_both_engines! {

spawn = DemoService::start;

/// Marking a booking confirmed works offline like every change: the calendar shows it at once
/// (pending), it is applied exactly once when the network is back — even when the answer to the
/// push is lost and it is pushed again — and one queued against a booking someone changed
/// meanwhile comes back refused as a version conflict, shown on that booking.
async fn a_booking_confirmed_offline_is_applied_once_and_a_conflict_is_shown(service: DemoService) {
    let dir = setup();
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900444", "Cora Confirm", "Can I book?").await;
    let conversation = service.conversation_of(&owner, "447700900444").await;
    let customer = service.get(&format!("/v1/conversations/{conversation}"), &owner).await["customer"]["id"].as_str().unwrap().to_owned();
    let services = service.get("/v1/services", &owner).await;
    let service_id = services["items"].as_array().unwrap()[0]["id"].as_str().unwrap().to_owned();
    let slots = service.get(&format!("/v1/availability?service_id={service_id}&limit=40"), &owner).await;
    let slots: Vec<String> = slots["slots"].as_array().unwrap().iter().map(|s| s["start"].as_str().unwrap().to_owned()).collect();
    let mut bookings = Vec::new();
    for start in [slots.first().unwrap(), slots.last().unwrap()] {
        let r = service.app.post("/v1/bookings", &owner, json!({"customer_id": customer, "service_id": service_id, "start": start})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        bookings.push((r.body["id"].as_str().unwrap().to_owned(), r.body["version"].as_i64().unwrap()));
    }
    let [(kept, kept_version), (changed, changed_version)] = [bookings[0].clone(), bookings[1].clone()];
    assert_ne!(kept, changed);

    let console = console(&service, OWNER, dir.path()).await;
    let (net, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();
    let entry = |id: String| {
        let console = &console;
        async move {
            let all = console.store().calendar(jiff::Timestamp::now(), jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24 * 70)).await.unwrap();
            all.into_iter().find(|e| e.booking.id.as_str() == id).expect("the booking is on the calendar")
        }
    };
    assert_eq!(entry(kept.clone()).await.booking.confirmation, protocol::BookingConfirmation::Unconfirmed);

    // Offline: both marked confirmed; the calendar shows them so, pending.
    net.online.store(false, Ordering::SeqCst);
    console.confirm_booking(&kept, kept_version).await.unwrap();
    console.confirm_booking(&changed, changed_version).await.unwrap();
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    let shown = entry(kept.clone()).await;
    assert_eq!(shown.booking.confirmation, protocol::BookingConfirmation::Confirmed);
    assert!(matches!(shown.local, Some(LocalState::Pending { .. })), "{:?}", shown.local);
    // Meanwhile a colleague changes the second booking on the service (a note: its version goes up).
    let moved = service.app.patch(&format!("/v1/bookings/{changed}"), &owner, json!({"expected_version": changed_version, "notes": "Running late"})).await;
    assert_eq!(moved.status, StatusCode::OK, "{moved:?}");

    // Back online, and the answer to the first push is lost: pushed again, applied once.
    net.online.store(true, Ordering::SeqCst);
    net.lose_next_push_answer.store(true, Ordering::SeqCst);
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    syncer.pass().await.unwrap();
    assert!(console.store().pending(10).await.unwrap().is_empty());
    let on_server = service.get(&format!("/v1/bookings/{kept}"), &owner).await;
    assert_eq!((on_server["confirmation"].as_str(), on_server["version"].as_i64()), (Some("confirmed"), Some(kept_version + 1)), "applied exactly once: {on_server}");
    let shown = entry(kept.clone()).await;
    assert_eq!((shown.booking.confirmation, shown.local.is_none()), (protocol::BookingConfirmation::Confirmed, true));

    // The one queued against the old version: refused, shown on the booking, nothing changed.
    let conflict = service.get(&format!("/v1/bookings/{changed}"), &owner).await;
    assert_eq!(conflict["confirmation"], "unconfirmed", "{conflict}");
    let outbox = console.store().outbox().await.unwrap();
    assert_eq!((outbox.len(), outbox[0].code), (1, Some(protocol::ErrorCode::VersionConflict)), "{outbox:?}");
    let shown = entry(changed.clone()).await;
    assert_eq!(shown.booking.confirmation, protocol::BookingConfirmation::Unconfirmed, "the service's state, not the refused wish");
    match &shown.local {
        Some(LocalState::Refused { code, .. }) => assert_eq!(code, "version_conflict"),
        other => panic!("the refusal is shown on the booking: {other:?}"),
    }
}

}

on_both_engines! {

spawn = TestApp::spawn;

/// The customer panel's "Mark confirmed", offline: shown confirmed and pending at once with the
/// outbox count; back online each is applied once through the booking rules (the audit says who,
/// as for the REST route), and one the service refuses — the booking was cancelled meanwhile, or
/// the appointment has begun — comes back in plain words, rolled back to what the service holds.
async fn confirmations_queued_offline_are_applied_once_or_refused_in_plain_words_and_rolled_back(app: TestApp) {
    const MINUTE: i64 = 60_000;
    let dir = setup();
    let owner = app.signup("confirm-offline").await;
    let r = app.patch("/v1/schedule", &owner.access, json!({"opening_hours": switchboard_testkit::every_day("00:00", "24:00"), "min_notice_minutes": 0, "max_advance_days": 730, "slot_interval_minutes": 15})).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let service_id = app.post("/v1/services", &owner.access, json!({"name": "Cut", "duration_minutes": 60})).await.body["id"].as_str().unwrap().to_owned();
    let customer = app.post("/v1/customers", &owner.access, json!({"name": "Ada Panel"})).await.body["id"].as_str().unwrap().to_owned();
    // Three appointments: the first starts 15 to 30 minutes from now.
    let first_ms = app.now_ms() / (15 * MINUTE) * (15 * MINUTE) + 30 * MINUTE;
    let mut bookings = Vec::new();
    for start_ms in [first_ms, first_ms + 120 * MINUTE, first_ms + 240 * MINUTE] {
        let start = jiff::Timestamp::from_millisecond(start_ms).unwrap().to_string();
        let r = app.post("/v1/bookings", &owner.access, json!({"customer_id": customer, "service_id": service_id, "staff_id": owner.staff_id, "start": start})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{r:?}");
        bookings.push((r.body["id"].as_str().unwrap().to_owned(), r.body["version"].as_i64().unwrap()));
    }
    let [(started, started_version), (cancelled, cancelled_version), (kept, kept_version)] = [bookings[0].clone(), bookings[1].clone(), bookings[2].clone()];

    let mut console = console_core::Console::open(dir.path()).await.unwrap();
    console.login(&app.base, &owner.email, &owner.password).await.unwrap();
    let (net, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();
    let panel = |id: String| {
        let console = &console;
        let customer = customer.clone();
        async move {
            let profile = console.store().customer_profile(&customer).await.unwrap().expect("the customer is mirrored");
            profile.upcoming.into_iter().find(|e| e.booking.id.as_str() == id).expect("the booking is among the upcoming")
        }
    };
    let shown = panel(kept.clone()).await;
    assert_eq!((shown.booking.confirmation, shown.local), (protocol::BookingConfirmation::Unconfirmed, None));

    // Offline: all three marked confirmed from the panel; shown confirmed and pending at once,
    // and counted as waiting to send.
    net.online.store(false, Ordering::SeqCst);
    for (id, version) in [(&started, started_version), (&cancelled, cancelled_version), (&kept, kept_version)] {
        console.confirm_booking(id, version).await.unwrap();
    }
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    for id in [&started, &cancelled, &kept] {
        let shown = panel(id.clone()).await;
        assert_eq!(shown.booking.confirmation, protocol::BookingConfirmation::Confirmed, "{shown:?}");
        assert!(matches!(shown.local, Some(LocalState::Pending { .. })), "{:?}", shown.local);
    }
    assert_eq!(console.store().pending(10).await.unwrap().len(), 3, "the outbox counts three waiting");

    // Meanwhile a colleague cancels one (the REST route refuses to confirm it now, in the words
    // the console will show), and the first appointment begins.
    let r = app.delete(&format!("/v1/bookings/{cancelled}"), &owner.access).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    let was_cancelled = "The booking was cancelled, so it cannot be marked confirmed.";
    let r = app.patch(&format!("/v1/bookings/{cancelled}"), &owner.access, json!({"expected_version": r.body["version"], "confirmation": "confirmed"})).await;
    assert_eq!((r.status, r.code(), r.body["error"]["message"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_transition", Some(was_cancelled)), "{r:?}");
    app.advance(Duration::from_millis((first_ms + MINUTE - app.now_ms()) as u64));

    // Back online, and the answer to the first push is lost: pushed again, applied once.
    net.online.store(true, Ordering::SeqCst);
    net.lose_next_push_answer.store(true, Ordering::SeqCst);
    assert!(syncer.push_then_pull().await.unwrap_err().is_transient());
    syncer.pass().await.unwrap();
    syncer.pass().await.unwrap();
    let token = app.login(&owner.email, &owner.password).await;
    let on_server = app.get(&format!("/v1/bookings/{kept}"), &token).await.body;
    assert_eq!((on_server["confirmation"].as_str(), on_server["version"].as_i64()), (Some("confirmed"), Some(kept_version + 1)), "applied exactly once: {on_server}");
    let audit = app.all_items("/v1/audit-log", &token).await;
    let confirmed: Vec<&Value> = audit.iter().filter(|e| e["action"] == "booking.confirmed" && e["target_id"] == kept.as_str()).collect();
    assert_eq!(confirmed.len(), 1, "{audit:?}");
    assert_eq!(confirmed[0]["actor_staff_id"], owner.staff_id.as_str(), "recorded as the person's, like the REST route");
    let shown = panel(kept.clone()).await;
    assert_eq!((shown.booking.confirmation, shown.local), (protocol::BookingConfirmation::Confirmed, None));

    // The two the service refused: the service's state, not the wish, with the reason in words.
    for (id, why) in [(&cancelled, was_cancelled), (&started, "The appointment has already started, so it cannot be marked confirmed.")] {
        let on_server = app.get(&format!("/v1/bookings/{id}"), &token).await.body;
        assert_eq!(on_server["confirmation"], "unconfirmed", "{on_server}");
        let shown = panel(id.clone()).await;
        assert_eq!((shown.booking.status.as_str(), shown.booking.confirmation), (on_server["status"].as_str().unwrap(), protocol::BookingConfirmation::Unconfirmed), "rolled back: {shown:?}");
        match &shown.local {
            Some(LocalState::Refused { code, reason, .. }) => assert_eq!((code.as_str(), reason.as_str()), ("invalid_transition", why)),
            other => panic!("the refusal is shown on the booking: {other:?}"),
        }
    }
    let outbox = console.store().outbox().await.unwrap();
    assert_eq!((outbox.len(), outbox.iter().all(|e| e.state == "failed")), (2, true), "{outbox:?}");
    assert!(console.store().pending(10).await.unwrap().is_empty());
}

}
