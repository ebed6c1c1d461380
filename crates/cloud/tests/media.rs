//! Files both ways, on SQLite and PostgreSQL: a customer's photo served to the business that got it
//! (with its type, in byte ranges) and to nobody else; staff upload a file and send it through the
//! outbox to the local fakes of the Graph API (upload, then a media message naming it) and
//! Twilio (a signed `MediaUrl` Twilio fetches), exactly once; each channel's limits refused in
//! plain words before anything is sent; a call recording fetched once and played like any file.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_testkit::fakes::{FakeProviders, TWILIO_TOKEN, WHATSAPP_TOKEN};
use switchboard_testkit::whatsapp::*;
use switchboard_testkit::{on_both_engines, Tenant, TestApp};

/// `PUT /v1/media/{id}` with raw bytes.
async fn upload(app: &TestApp, t: &Tenant, id: &str, content_type: &str, filename: &str, bytes: Vec<u8>) -> (StatusCode, Value) {
    let res = app
        .client
        .put(format!("{}/v1/media/{id}?filename={filename}", app.base))
        .bearer_auth(&t.access)
        .header("content-type", content_type)
        .body(bytes)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn fetch(app: &TestApp, path: &str, token: Option<&str>, range: Option<&str>) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = app.client.get(format!("{}{path}", app.base));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(r) = range {
        req = req.header("range", r);
    }
    let res = req.send().await.unwrap();
    (res.status(), res.headers().clone(), res.bytes().await.unwrap().to_vec())
}

fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

on_both_engines! {

spawn = |engine| spawn_with_fakes(engine, |_| {});

async fn a_customers_photo_is_served_with_its_type_to_its_business_only((app, _fake): (TestApp, FakeProviders)) {
    let (owner, secret) = whatsapp_owner(&app, "photo").await;
    post_whatsapp_photo(&app, &secret, "447700900601", "wamid.photo", "MEDIA-7", "Like this?").await;
    app.settled("the photo arrives", || async { messages_of(&app, &owner).await.len() == 1 }).await;
    let url = messages_of(&app, &owner).await[0]["media"][0]["url"].as_str().unwrap().to_owned();

    let (status, headers, bytes) = fetch(&app, &url, Some(&owner.access), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "image/jpeg");
    assert_eq!(headers["accept-ranges"], "bytes");
    assert_eq!(bytes, b"JPEG-BYTES-MEDIA-7");
    // A player asks for part of it.
    let (status, headers, bytes) = fetch(&app, &url, Some(&owner.access), Some("bytes=5-9")).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(headers["content-range"], "bytes 5-9/18");
    assert_eq!(bytes, b"BYTES");
    let (status, headers, _) = fetch(&app, &url, Some(&owner.access), Some("bytes=40-")).await;
    assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(headers["content-range"], "bytes */18");

    // Another business, or nobody signed in, learns nothing.
    let other = app.signup("photo-other").await;
    let (status, _, bytes) = fetch(&app, &url, Some(&other.access), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!String::from_utf8_lossy(&bytes).contains("JPEG"));
    assert_eq!(fetch(&app, &url, None, None).await.0, StatusCode::UNAUTHORIZED);
}

async fn a_photo_staff_attach_reaches_whatsapp_exactly_once((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("attach").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900602").await;
    let media_id = new_id();
    let photo = b"\x89PNG-the-price-list".to_vec();
    let (status, file) = upload(&app, &owner, &media_id, "image/png", "prices.png", photo.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{file}");
    assert_eq!((file["content_type"].as_str(), file["filename"].as_str(), file["size"].as_u64()), (Some("image/png"), Some("prices.png"), Some(photo.len() as u64)));
    // The same upload again (its answer was lost): the same file, nothing new.
    let (status, again) = upload(&app, &owner, &media_id, "image/png", "prices.png", photo.clone()).await;
    assert_eq!((status, again["id"].as_str()), (StatusCode::OK, Some(media_id.as_str())));

    let message_id = new_id();
    let send = json!({"body": "Our prices", "media_id": media_id, "client_message_id": message_id});
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, send.clone()).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
    assert_eq!((sent.body["kind"].as_str(), sent.body["body"].as_str()), (Some("image"), Some("Our prices")));
    assert_eq!(sent.body["media"][0]["url"], format!("/v1/media/{media_id}"));
    assert_eq!(sent.body["media"][0]["caption"], "Our prices");
    let retry = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, send).await;
    assert_eq!(retry.status, StatusCode::OK);
    app.settled("sent", || async { message(&app, &owner, &conversation, &message_id).await["delivery_status"] == "sent" }).await;
    app.drain().await;

    let uploads = fake.uploads();
    assert_eq!(uploads.len(), 1, "{uploads:?}");
    assert_eq!(uploads[0].authorization, format!("Bearer {WHATSAPP_TOKEN}"));
    assert_eq!((uploads[0].body["messaging_product"].as_str(), uploads[0].body["type"].as_str()), (Some("whatsapp"), Some("image/png")));
    assert_eq!((uploads[0].body["filename"].as_str(), uploads[0].body["file_content_type"].as_str()), (Some("prices.png"), Some("image/png")));
    assert_eq!(uploads[0].body["size"].as_u64(), Some(photo.len() as u64));
    assert!(uploads[0].body["bytes"].as_str().unwrap().ends_with("PNG-the-price-list"));
    let sends: Vec<_> = fake.sends().into_iter().filter(|s| s.body["type"] == "image").collect();
    assert_eq!(sends.len(), 1, "one media message: {:?}", fake.sends());
    assert_eq!(sends[0].body["to"], "447700900602");
    assert_eq!(sends[0].body["image"]["caption"], "Our prices");
    assert!(sends[0].body["image"]["id"].as_str().unwrap().starts_with("fake-upload-"), "{:?}", sends[0].body);
    // Staff see their own file in the timeline through the same route.
    let (status, headers, bytes) = fetch(&app, &format!("/v1/media/{media_id}"), Some(&owner.access), None).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "image/png"));
    assert_eq!(bytes, photo);
}

async fn files_a_channel_does_not_take_are_refused_before_anything_is_sent((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("limits").await;
    connect_whatsapp(&app, &owner, PHONE_ID, &app_secret(&owner)).await;
    let conversation = whatsapp_customer(&app, &owner, "447700900603").await;

    // A type no channel takes is refused at upload.
    let (status, body) = upload(&app, &owner, &new_id(), "application/zip", "all.zip", vec![1, 2, 3]).await;
    assert_eq!((status, body["error"]["code"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("media_type_not_allowed")), "{body}");
    // No Content-Type at all: 415.
    let res = app.client.put(format!("{}/v1/media/{}", app.base, new_id())).bearer_auth(&owner.access).body(vec![1u8]).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Not a UUID.
    assert_eq!(upload(&app, &owner, "photo-1", "image/png", "x.png", vec![1]).await.1["error"]["code"], "validation_failed");

    // WhatsApp takes pictures up to 5 MB.
    let big = new_id();
    assert_eq!(upload(&app, &owner, &big, "image/jpeg", "big.jpg", vec![0xFF; 5 * 1024 * 1024 + 1]).await.0, StatusCode::CREATED);
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "", "media_id": big})).await;
    assert_eq!((r.status, r.code()), (StatusCode::UNPROCESSABLE_ENTITY, "media_too_large"), "{r:?}");
    assert_eq!(r.body["error"]["details"]["limit_bytes"], 5 * 1024 * 1024);
    assert_eq!(r.body["error"]["details"]["channel"], "whatsapp");
    assert!(r.body["error"]["message"].as_str().unwrap().contains("WhatsApp takes files up to 5.0 MB"), "{r:?}");
    // WhatsApp takes no GIFs (SMS does).
    let gif = new_id();
    assert_eq!(upload(&app, &owner, &gif, "image/gif", "dance.gif", b"GIF89a".to_vec()).await.0, StatusCode::CREATED);
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "", "media_id": gif})).await;
    assert_eq!(r.code(), "media_type_not_allowed");
    assert!(r.body["error"]["details"]["allowed"].as_array().unwrap().contains(&json!("image/jpeg")));
    // A file of another business is not there.
    let other = app.signup("limits-other").await;
    let theirs = new_id();
    assert_eq!(upload(&app, &other, &theirs, "image/png", "x.png", b"PNG".to_vec()).await.0, StatusCode::CREATED);
    let r = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "", "media_id": theirs})).await;
    assert_eq!((r.status, r.code()), (StatusCode::NOT_FOUND, "not_found"));
    // Their id, used for an upload here, is this business's own file (ids are per business).
    assert_eq!(upload(&app, &owner, &theirs, "image/png", "x.png", b"OURS".to_vec()).await.0, StatusCode::CREATED);
    assert_eq!(fetch(&app, &format!("/v1/media/{theirs}"), Some(&other.access), None).await.2, b"PNG");

    // The same refusals through the console's sync push.
    let client_id = new_id();
    let push = json!({"client_id": client_id, "mutations": [{"id": 1, "name": "send_media", "args": {"conversation_id": conversation, "message_id": new_id(), "media_id": big, "caption": ""}}]});
    let r = app.post("/v1/sync/push", &owner.access, push).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    assert_eq!((r.body["outcomes"][0]["ok"].as_bool(), r.body["outcomes"][0]["code"].as_str()), (Some(false), Some("media_too_large")), "{r:?}");

    app.drain().await;
    let with_files = messages_of(&app, &owner).await.into_iter().filter(|m| !m["media"].as_array().unwrap().is_empty()).count();
    assert_eq!(with_files, 0, "nothing was added");
    assert!(fake.uploads().is_empty(), "nothing was uploaded: {:?}", fake.uploads());
    assert!(fake.sends().iter().all(|s| s.body["type"] == "text"), "nothing but text was sent: {:?}", fake.sends());
}

async fn twilio_fetches_an_attached_file_from_a_signed_address((app, fake): (TestApp, FakeProviders)) {
    let owner = app.signup("mms").await;
    let ours = "+14155550100";
    connect_twilio(&app, &owner, ours).await;
    let inbound = vec![("MessageSid", "SMin1"), ("From", "+14155550177"), ("To", ours), ("Body", "Where are you?"), ("NumMedia", "0")];
    post_twilio(&app, "/webhooks/twilio", &inbound, TWILIO_TOKEN).await;
    app.settled("the SMS lands", || async { messages_of(&app, &owner).await.len() == 1 }).await;
    let conversation = app.get("/v1/conversations", &owner.access).await.body["items"][0]["id"].as_str().unwrap().to_owned();
    let map = new_id();
    assert_eq!(upload(&app, &owner, &map, "image/gif", "map.gif", b"GIF89a-map".to_vec()).await.0, StatusCode::CREATED);
    let sent = app.post(&format!("/v1/conversations/{conversation}/messages"), &owner.access, json!({"body": "Here", "media_id": map})).await;
    assert_eq!(sent.status, StatusCode::CREATED, "{sent:?}");
    let id = sent.body["id"].as_str().unwrap().to_owned();
    app.settled("sent", || async { message(&app, &owner, &conversation, &id).await["delivery_status"] == "sent" }).await;
    let sends = fake.sends();
    assert_eq!(sends.len(), 1, "{sends:?}");
    assert_eq!(sends[0].body["Body"], "Here");
    let media_url = sends[0].body["MediaUrl"].as_str().expect("a MediaUrl").to_owned();
    let prefix = format!("{}/media/shared/{map}?", app.config.public_url.trim_end_matches('/'));
    assert!(media_url.starts_with(&prefix), "{media_url}");
    let path = &media_url[app.config.public_url.trim_end_matches('/').len()..];
    // Twilio fetches it without our tokens.
    let (status, headers, bytes) = fetch(&app, path, None, None).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "image/gif"));
    assert_eq!(bytes, b"GIF89a-map");
    // A forged or stale address is nothing.
    // (The last character changed to another: a signature ending in "0" once made the "forgery"
    // the real address.)
    let last = if path.ends_with('0') { '1' } else { '0' };
    let forged = format!("{}{last}", &path[..path.len() - 1]);
    assert_eq!(fetch(&app, &forged, None, None).await.0, StatusCode::NOT_FOUND);
    app.advance(Duration::from_secs(25 * 3600));
    assert_eq!(fetch(&app, path, None, None).await.0, StatusCode::NOT_FOUND);
}

async fn a_call_recording_is_fetched_once_and_plays_like_any_file((app, _fake): (TestApp, FakeProviders)) {
    // The voice platform's storage: counts how often it is asked.
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let storage = axum::Router::new().route(
        "/rec/{name}",
        axum::routing::get(move || {
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                ([("content-type", "audio/wav")], b"RIFF-call-audio".to_vec())
            }
        }),
    );
    let storage = format!("http://{}", switchboard_testkit::serve(storage).await);
    let owner = app.signup("recording").await;
    app.call(Method::PUT, "/v1/channels/vapi", Some(&owner.access), Some(json!({"secret": "vapi-secret-9"}))).await;
    let call = json!({"id": "call-rec-1", "type": "inboundPhoneCall", "customer": {"number": "+14155550188"}});
    let report = json!({"message": {"type": "end-of-call-report", "call": call, "endedReason": "customer-ended-call", "durationSeconds": 30,
        "artifact": {"transcript": "AI: Hello!", "recordingUrl": format!("{storage}/rec/call-rec-1.wav")}}});
    let res = app.client.post(format!("{}/webhooks/vapi/{}", app.base, owner.business_id)).bearer_auth("vapi-secret-9").json(&report).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let call_id = messages_of(&app, &owner).await.into_iter().find(|m| m["kind"] == "call").expect("the call")["id"].as_str().unwrap().to_owned();

    let (status, headers, bytes) = fetch(&app, &format!("/v1/calls/{call_id}/recording"), Some(&owner.access), None).await;
    assert_eq!((status, headers["content-type"].to_str().unwrap()), (StatusCode::OK, "audio/wav"));
    assert_eq!(bytes, b"RIFF-call-audio");
    // Kept: the call now links the kept copy, and playing again does not ask the platform.
    let call = messages_of(&app, &owner).await.into_iter().find(|m| m["id"] == call_id.as_str()).unwrap();
    let kept = call["call"]["recording_url"].as_str().unwrap().to_owned();
    assert!(kept.starts_with("/v1/media/"), "{call}");
    assert_eq!(call["media"][0]["url"], kept.as_str());
    let (status, _, bytes) = fetch(&app, &format!("/v1/calls/{call_id}/recording"), Some(&owner.access), Some("bytes=0-3")).await;
    assert_eq!((status, bytes.as_slice()), (StatusCode::PARTIAL_CONTENT, &b"RIFF"[..]));
    assert_eq!(fetch(&app, &kept, Some(&owner.access), None).await.2, b"RIFF-call-audio");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    // Another business: nothing.
    let other = app.signup("recording-other").await;
    assert_eq!(fetch(&app, &format!("/v1/calls/{call_id}/recording"), Some(&other.access), None).await.0, StatusCode::NOT_FOUND);
    // The retention policy removes the kept copy with the call's recording.
    reauthenticate(&app, &owner).await;
    let r = app.call(Method::PUT, "/v1/retention", Some(&owner.access), Some(json!({"conversations_months": null, "recordings_days": 1}))).await;
    assert_eq!(r.status, StatusCode::OK, "{r:?}");
    app.advance(Duration::from_secs(2 * 86_400));
    app.drain().await;
    assert_eq!(fetch(&app, &kept, Some(&owner.access), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(fetch(&app, &format!("/v1/calls/{call_id}/recording"), Some(&owner.access), None).await.0, StatusCode::NOT_FOUND);
    assert_eq!(hits.load(Ordering::SeqCst), 1, "a removed recording is not fetched again");
}

}
