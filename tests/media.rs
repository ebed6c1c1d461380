//! Files in the console against the real service, on SQLite and PostgreSQL: a customer's photo
//! opens from the service once and then from this computer's copy, offline too; the copy is kept
//! within its size budget (least recently viewed let go first, an attachment not uploaded yet
//! never); a file attached offline shows at once, is refused in plain words when the channel does
//! not take it, and when the service returns is uploaded and sent to the customer exactly once —
//! even when the answer to the first push is lost.

use std::sync::atomic::Ordering;

use console_core::queries::TimelineItem;
use console_core::ConsoleError;
use serde_json::{json, Value};
use switchboard_testkit::fakes::FakeProviders;
use switchboard_testkit::whatsapp::{
    app_secret, connect_whatsapp, notification, post_whatsapp_photo, post_whatsapp_signed, post_whatsapp_voice_note, spawn_with_fakes, whatsapp_customer, whatsapp_owner, PHONE_ID,
};
use switchboard_testkit::{on_both_engines, TestApp};
use switchboard_tests::Flaky;

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

async fn a_photo_is_seen_offline_and_a_file_attached_offline_is_sent_once((app, fake): (TestApp, FakeProviders)) {
    let (dir, owner, secret, conversation) = whatsapp_business(&app, "console-media", "447700900801").await;
    post_whatsapp_photo(&app, &secret, "447700900801", "wamid.console-photo", "MEDIA-C1", "This colour").await;
    app.drain().await;

    let (console, net, mut syncer, received) = synced_photo(&app, &dir, &owner, &conversation).await;
    let me = console.me().unwrap().to_owned();
    let path = received.media[0].url.clone().unwrap();

    // Opened online: from the service, with its type.
    let seen = console.media(&path).await.unwrap();
    assert_eq!((seen.content_type.as_str(), seen.size), ("image/jpeg", 19));
    assert_eq!(seen.data_base64, "SlBFRy1CWVRFUy1NRURJQS1DMQ==", "JPEG-BYTES-MEDIA-C1");
    assert!(console.thumbnail(&path).await.unwrap().is_none(), "bytes that are no picture have no small copy: the timeline shows the file");
    // Offline: from this computer's copy.
    net.online.store(false, Ordering::SeqCst);
    let offline = console_core::media::fetch(console.store(), net.as_ref(), &path).await.unwrap();
    assert_eq!(offline.data_base64, seen.data_base64);
    let never_seen = console_core::media::fetch(console.store(), net.as_ref(), "/v1/media/never-opened").await;
    assert!(matches!(never_seen, Err(ConsoleError::Transport(console_core::TransportError::Offline(_)))), "{never_seen:?}");

    // Offline, files the channel does not take are refused at once, in plain words.
    let gif = console.attach(&conversation, "dance.gif", "image/gif", b"GIF89a".to_vec(), "").await.unwrap_err();
    assert!(gif.to_string().starts_with("WhatsApp does not take this kind of file (image/gif)."), "{gif}");
    let big = console.attach(&conversation, "big.jpg", "image/jpeg", vec![0xFF; 5 * 1024 * 1024 + 1], "").await.unwrap_err();
    assert_eq!(big.to_string(), "This file is 5.1 MB; WhatsApp takes files up to 5.0 MB.");
    // One it takes shows at once, waiting, viewable from here.
    let png = b"PNG-price-list-bytes".to_vec();
    let queued = console.attach(&conversation, "prices.png", "image/png", png.clone(), "Our prices").await.unwrap();
    let message_id = queued.created_id.clone().unwrap();
    let timeline = console.store().timeline(&conversation, &me).await.unwrap().unwrap();
    let waiting = timeline
        .items
        .iter()
        .find_map(|i| match i {
            TimelineItem::Message { message, local: Some(_), .. } if message.id.as_str() == message_id => Some((message.clone(), ())),
            _ => None,
        })
        .expect("the attachment waits in the timeline");
    assert_eq!((waiting.0.kind.clone(), waiting.0.body.as_str()), (protocol::MessageKind::Image, "Our prices"));
    let attachment = waiting.0.media[0].url.clone().unwrap();
    assert_eq!(waiting.0.media[0].filename.as_deref(), Some("prices.png"));
    let local_copy = console_core::media::fetch(console.store(), net.as_ref(), &attachment).await.unwrap();
    assert_eq!((local_copy.content_type.as_str(), local_copy.size), ("image/png", png.len() as i64));
    assert!(fake.uploads().is_empty() && fake.sends().iter().all(|s| s.body["type"] != "image"), "nothing left this computer");

    // A budget for one file: the attachment is pinned until uploaded, so nothing goes yet.
    console.store().set_setting("media_cache_budget_bytes", "25").await.unwrap();
    assert_eq!(console.store().media_usage().await.unwrap(), (19 + 20, 2));

    // Back online, and the answer to the first push is lost: uploaded again (the same file),
    // replayed, sent once.
    net.online.store(true, Ordering::SeqCst);
    net.lose_next_push_answer.store(true, Ordering::SeqCst);
    assert!(syncer.pass().await.is_err(), "the answer was lost");
    syncer.pass().await.unwrap();
    assert!(console.store().outbox().await.unwrap().is_empty(), "confirmed");
    assert_eq!(net.uploads.load(Ordering::SeqCst), 1, "uploaded once: the lost answer was the push's, and the file was no longer waiting");
    app.settled("the file reaches WhatsApp", || async {
        fake.sends().iter().filter(|s| s.body["type"] == "image").count() == 1
    })
    .await;
    let sent: Vec<_> = fake.sends().into_iter().filter(|s| s.body["type"] == "image").collect();
    assert_eq!(sent.len(), 1, "exactly once");
    assert_eq!(sent[0].body["image"]["caption"], "Our prices");
    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].body["bytes"], "PNG-price-list-bytes");
    let on_service = app.get(&format!("/v1/conversations/{conversation}/messages?limit=200"), &owner.access).await;
    let copies: Vec<&Value> = on_service.body["items"].as_array().unwrap().iter().filter(|m| m["id"] == message_id.as_str()).collect();
    assert_eq!(copies.len(), 1);
    assert_eq!(copies[0]["media"][0]["url"], attachment.as_str());

    // Uploaded, the attachment may be let go like any file: the budget keeps the one viewed last.
    let (bytes, files) = console.store().media_usage().await.unwrap();
    assert_eq!((bytes, files), (20, 1), "the photo viewed longest ago was let go");
    net.online.store(false, Ordering::SeqCst);
    assert!(console_core::media::fetch(console.store(), net.as_ref(), &attachment).await.is_ok());
    assert!(console_core::media::fetch(console.store(), net.as_ref(), &path).await.is_err(), "let go, and offline");
    net.online.store(true, Ordering::SeqCst);
    assert_eq!(console_core::media::fetch(console.store(), net.as_ref(), &path).await.unwrap().data_base64, seen.data_base64, "fetched again online");
}

async fn a_picture_gets_its_small_copy_here_when_kept_and_offline((app, _fake): (TestApp, FakeProviders)) {
    use base64::Engine as _;
    let (dir, owner, _secret, conversation) = whatsapp_business(&app, "console-thumbs", "447700900802").await;
    let mut console = console_core::Console::open(dir.path()).await.unwrap();
    console.login(&app.base, &owner.email, &owner.password).await.unwrap();
    let (net, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();
    net.online.store(false, Ordering::SeqCst);

    // A camera-sized photo attached offline: its small copy is made as it is kept, 320×240 (its
    // proportions, 4:3), a JPEG far smaller than the photo.
    let photo = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/look-800x600.jpg")).unwrap();
    let queued = console.attach(&conversation, "look.jpg", "image/jpeg", photo.clone(), "").await.unwrap();
    let path = format!("/v1/media/{}", attachment_id(&console, &conversation, queued.created_id.as_deref().unwrap()).await);
    let small = console.thumbnail(&path).await.unwrap().expect("a small copy");
    assert_eq!((small.content_type.as_str(), small.width, small.height), ("image/jpeg", 320, 240));
    let bytes = base64::engine::general_purpose::STANDARD.decode(&small.data_base64).unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.len() < photo.len(), "{} bytes", bytes.len());
    // The full file is still there for opening.
    let full = console.media(&path).await.unwrap();
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(&full.data_base64).unwrap(), photo);

    // A file kept before small copies were made gets one when first asked for, offline too; a
    // corrupt picture gets none (the timeline shows the file), and asking again says the same.
    sqlx::query("UPDATE media_cache SET thumbnail = NULL, thumbnail_type = NULL, thumbnail_width = NULL, thumbnail_height = NULL, thumbnail_made = 0")
        .execute(console.store().pool())
        .await
        .unwrap();
    let again = console.thumbnail(&path).await.unwrap().expect("made from the kept file");
    assert_eq!((again.width, again.height, again.data_base64.len()), (320, 240, small.data_base64.len()));
    let mut broken = photo[..4].to_vec();
    broken.extend_from_slice(&[0x5A; 4096]);
    let queued = console.attach(&conversation, "broken.jpg", "image/jpeg", broken, "").await.unwrap();
    let broken = format!("/v1/media/{}", attachment_id(&console, &conversation, queued.created_id.as_deref().unwrap()).await);
    assert!(console.thumbnail(&broken).await.unwrap().is_none());
    assert!(console.thumbnail(&broken).await.unwrap().is_none());
    assert!(console.media(&broken).await.is_ok(), "the file itself is there");
}

async fn the_window_loads_only_files_of_messages_this_console_shows((app, _fake): (TestApp, FakeProviders)) {
    let (dir, owner, secret, conversation) = whatsapp_business(&app, "console-served", "447700900803").await;
    let photo = json!({"from": "447700900803", "id": "wamid.served-photo", "timestamp": "1767225600", "type": "image",
                       "image": {"id": "MEDIA-S1", "mime_type": "image/jpeg"}});
    post_whatsapp_signed(&app, &notification(PHONE_ID, Value::Null, json!([photo]), Value::Null), &secret).await;
    // Another business, with a photo of its own customer.
    let other = other_business_with_a_photo(&app, "console-served-other", "109876543299", "447700900804", "MEDIA-S2").await;
    let their_conversation = app.get("/v1/conversations", &other.access).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    let their_messages = app.get(&format!("/v1/conversations/{their_conversation}/messages?limit=50"), &other.access).await;
    let their_photo = their_messages.body["items"].as_array().unwrap().iter().find(|m| m["kind"] == "image").expect("their photo").clone();
    let (their_message, their_path) = (their_photo["id"].as_str().unwrap().to_owned(), their_photo["media"][0]["url"].as_str().unwrap().to_owned());

    let (mut console, net, _syncer, mine) = synced_photo(&app, &dir, &owner, &conversation).await;
    let (message, path) = (mine.id.as_str().to_owned(), mine.media[0].url.clone().unwrap());

    // The file a message here shows, by its address; its small copy is the file itself when it
    // has none (these bytes are no picture).
    for form in ["file", "small"] {
        let served = console.serve(&format!("{form}/{message}{path}")).await.unwrap().expect("served");
        assert_eq!((served.content_type.as_str(), served.bytes.as_slice()), ("image/jpeg", &b"JPEG-BYTES-MEDIA-S1"[..]));
    }
    // Nothing else: the other business's file (by its message or by ours), another service
    // address, a way out of the file's address, a recording of a message that is no call.
    for refused in [
        format!("file/{their_message}{their_path}"),
        format!("file/{message}{their_path}"),
        format!("file/{message}/v1/conversations/{conversation}"),
        format!("file/{message}/v1/media/../../v1/auth/me"),
        format!("file/{message}{path}/../../conversations"),
        format!("file/{message}/v1/calls/{message}/recording"),
        format!("file/{their_message}{path}"),
        format!("other/{message}{path}"),
    ] {
        assert!(console.serve(&refused).await.unwrap().is_none(), "{refused}");
    }
    // A file attached here and waiting in the outbox, by its waiting message (and by no other).
    let queued = console.attach(&conversation, "prices.png", "image/png", b"PNG-waiting".to_vec(), "").await.unwrap();
    let waiting = queued.created_id.clone().unwrap();
    let attached = format!("/v1/media/{}", attachment_id(&console, &conversation, &waiting).await);
    let served = console.serve(&format!("small/{waiting}{attached}")).await.unwrap().expect("the waiting attachment");
    assert_eq!((served.content_type.as_str(), served.bytes.as_slice()), ("image/png", &b"PNG-waiting"[..]));
    assert!(console.serve(&format!("file/{message}{attached}")).await.unwrap().is_none());
    // Signed out, nothing (the mirror and the kept files are gone).
    // The attachment is still waiting: signing out asks first, then drops it when told to.
    assert!(matches!(console.logout(false).await, Err(console_core::ConsoleError::Unsent(1))));
    console.logout(true).await.unwrap();
    assert!(console.serve(&format!("file/{message}{path}")).await.is_err());
    assert!(console_core::media::serve(console.store(), net.as_ref(), &format!("file/{message}{path}")).await.unwrap().is_none());
}


async fn pictures_that_arrive_are_kept_with_their_small_copies_before_they_are_shown((app, _fake): (TestApp, FakeProviders)) {
    let (dir, owner, secret, conversation) = whatsapp_business(&app, "console-arrive", "447700900805").await;
    for i in 1..=3 {
        post_whatsapp_photo(&app, &secret, "447700900805", &format!("wamid.arrive-{i}"), &format!("MEDIA-A{i}"), "New look").await;
    }
    // Another business's customer sends a photo too.
    other_business_with_a_photo(&app, "console-arrive-other", "109876543298", "447700900806", "MEDIA-T1").await;

    let mut console = console_core::Console::open(dir.path()).await.unwrap();
    console.login(&app.base, &owner.email, &owner.password).await.unwrap();
    let me = console.me().unwrap().to_owned();
    let (net, mut syncer) = Flaky::syncer(&console);
    let pass = syncer.pass().await.unwrap();
    let arrived: Vec<String> = pass.changed.iter().filter(|(k, _)| *k == protocol::EntityKind::Message).map(|(_, id)| id.clone()).collect();
    // What the sync engine does in the background after a pass: the three photos, one at a time.
    assert_eq!(console_core::media::prepare_arrived(console.store(), net.as_ref(), &arrived).await.unwrap(), 3);
    assert_eq!(console_core::media::prepare_arrived(console.store(), net.as_ref(), &arrived).await.unwrap(), 0, "kept already");
    let kept: Vec<String> = sqlx::query_scalar("SELECT key FROM media_cache ORDER BY key").fetch_all(console.store().pool()).await.unwrap();
    assert_eq!(kept.len(), 3, "only this business's files: {kept:?}");

    // Offline, before the timeline was ever opened, each shows from this computer.
    net.online.store(false, Ordering::SeqCst);
    let photos = photos_in(&console, &conversation, &me).await;
    assert_eq!(photos.len(), 3);
    for (message, path) in &photos {
        let served = console_core::media::serve(console.store(), net.as_ref(), &format!("small/{message}{path}")).await.unwrap().expect("kept on arrival");
        assert!(served.bytes.starts_with(b"JPEG-BYTES-MEDIA-A"), "{:?}", String::from_utf8_lossy(&served.bytes));
    }

    // Within the budget: arrivals take at most half of it (here: one file), newest first; the
    // rest are fetched when first shown.
    net.online.store(true, Ordering::SeqCst);
    console.store().set_setting("media_cache_budget_bytes", "30").await.unwrap();
    for i in 4..=5 {
        post_whatsapp_photo(&app, &secret, "447700900805", &format!("wamid.arrive-{i}"), &format!("MEDIA-A{i}"), "Another").await;
    }
    app.drain().await;
    let pass = syncer.pass().await.unwrap();
    let arrived: Vec<String> = pass.changed.iter().filter(|(k, _)| *k == protocol::EntityKind::Message).map(|(_, id)| id.clone()).collect();
    assert_eq!(console_core::media::prepare_arrived(console.store(), net.as_ref(), &arrived).await.unwrap(), 1);
    net.online.store(false, Ordering::SeqCst);
    let photos = photos_in(&console, &conversation, &me).await;
    let newest = console_core::media::serve(console.store(), net.as_ref(), &format!("small/{}{}", photos[4].0, photos[4].1)).await.unwrap().expect("the newest is kept");
    assert_eq!(newest.bytes, b"JPEG-BYTES-MEDIA-A5");
    let other = console_core::media::serve(console.store(), net.as_ref(), &format!("small/{}{}", photos[3].0, photos[3].1)).await;
    assert!(matches!(other, Err(ConsoleError::Transport(console_core::TransportError::Offline(_)))), "{other:?}");

    // A voice note that arrives is kept too, and plays offline before anyone opened it.
    net.online.store(true, Ordering::SeqCst);
    console.store().set_setting("media_cache_budget_bytes", "100000").await.unwrap();
    post_whatsapp_voice_note(&app, &secret, "447700900805", "wamid.arrive-voice", "AUDIO-V1").await;
    app.drain().await;
    let pass = syncer.pass().await.unwrap();
    let arrived: Vec<String> = pass.changed.iter().filter(|(k, _)| *k == protocol::EntityKind::Message).map(|(_, id)| id.clone()).collect();
    assert_eq!(console_core::media::prepare_arrived(console.store(), net.as_ref(), &arrived).await.unwrap(), 1);
    net.online.store(false, Ordering::SeqCst);
    let timeline = console.store().timeline(&conversation, &me).await.unwrap().unwrap();
    let (note, path) = timeline
        .items
        .iter()
        .find_map(|i| match i {
            TimelineItem::Message { message, .. } if message.kind == protocol::MessageKind::Audio => Some((message.id.as_str().to_owned(), message.media[0].url.clone()?)),
            _ => None,
        })
        .expect("the voice note and its file");
    let served = console_core::media::serve(console.store(), net.as_ref(), &format!("file/{note}{path}")).await.unwrap().expect("kept on arrival");
    assert_eq!((served.content_type.as_str(), served.bytes.as_slice()), ("audio/ogg", &b"OGG-BYTES-AUDIO-V1"[..]));
}
}

/// A business on WhatsApp with one customer's conversation, and a console data directory.
async fn whatsapp_business(app: &TestApp, label: &str, phone: &str) -> (tempfile::TempDir, switchboard_testkit::Tenant, String, String) {
    console_core::credentials::use_mock_store();
    let (owner, secret) = whatsapp_owner(app, label).await;
    let conversation = whatsapp_customer(app, &owner, phone).await;
    (tempfile::tempdir().unwrap(), owner, secret, conversation)
}

/// Another business on WhatsApp (its number `phone_id`) whose customer `from` sent a photo
/// (`media_id`), the service's workers drained.
async fn other_business_with_a_photo(app: &TestApp, label: &str, phone_id: &str, from: &str, media_id: &str) -> switchboard_testkit::Tenant {
    let other = app.signup(label).await;
    let other_secret = app_secret(&other);
    connect_whatsapp(app, &other, phone_id, &other_secret).await;
    let theirs = json!({"from": from, "id": format!("wamid.{media_id}"), "timestamp": "1767225600", "type": "image",
                        "image": {"id": media_id, "mime_type": "image/jpeg"}});
    post_whatsapp_signed(app, &notification(phone_id, Value::Null, json!([theirs]), Value::Null), &other_secret).await;
    app.drain().await;
    other
}

/// A console signed in as `owner` and synced once, with the customer's photo in the conversation.
async fn synced_photo(
    app: &TestApp,
    dir: &tempfile::TempDir,
    owner: &switchboard_testkit::Tenant,
    conversation: &str,
) -> (console_core::Console, std::sync::Arc<Flaky>, console_core::engine::Syncer, protocol::Message) {
    let mut console = console_core::Console::open(dir.path()).await.unwrap();
    console.login(&app.base, &owner.email, &owner.password).await.unwrap();
    let me = console.me().unwrap().to_owned();
    let (net, mut syncer) = Flaky::syncer(&console);
    syncer.pass().await.unwrap();
    let timeline = console.store().timeline(conversation, &me).await.unwrap().unwrap();
    let photo = timeline
        .items
        .iter()
        .find_map(|i| match i {
            TimelineItem::Message { message, .. } if message.kind == protocol::MessageKind::Image => Some((**message).clone()),
            _ => None,
        })
        .expect("the photo is in the timeline");
    (console, net, syncer, photo)
}

/// The media id of a message waiting in the outbox with an attachment.
async fn attachment_id(console: &console_core::Console, conversation: &str, message_id: &str) -> String {
    let me = console.me().unwrap().to_owned();
    let timeline = console.store().timeline(conversation, &me).await.unwrap().unwrap();
    timeline
        .items
        .iter()
        .find_map(|i| match i {
            TimelineItem::Message { message, .. } if message.id.as_str() == message_id => message.media[0].url.clone(),
            _ => None,
        })
        .expect("the attachment waits in the timeline")
        .trim_start_matches("/v1/media/")
        .to_owned()
}

/// The photos of a conversation's timeline, oldest first: (message id, the file's address).
async fn photos_in(console: &console_core::Console, conversation: &str, me: &str) -> Vec<(String, String)> {
    let timeline = console.store().timeline(conversation, me).await.unwrap().unwrap();
    timeline
        .items
        .iter()
        .filter_map(|i| match i {
            TimelineItem::Message { message, .. } if message.kind == protocol::MessageKind::Image => Some((message.id.as_str().to_owned(), message.media[0].url.clone()?)),
            _ => None,
        })
        .collect()
}
