//! Data protection figures (issue 17), against the real service on loopback (SQLite) with a
//! real console synced to it:
//!
//! * export of one customer with 10,000 messages and 200 media files (`GET /v1/customer-export`):
//!   seconds and the ZIP's size;
//! * erasure of the same customer (`POST /v1/customers/{id}/erase`), then the connected
//!   console's sync that drops them from its mirror and search: seconds for each.
//!
//! The messages and media are written straight into the service's database with their change-log
//! states (the wire types the service records), as the sync benchmark does: creating them through
//! the API would measure the API. Export and erasure then run through the real routes.
//!
//! Run: `cargo bench -p switchboard-console-core --bench privacy` (`-- --small` for a tenth).

use std::time::Instant;

use base64::Engine as _;
use console_core::Console;
use protocol::{DeliveryStatus, Message};
use serde_json::{json, Value};
use switchboard_testkit::bench::{append_change, demo_service, demo_token, set_last_seq};

fn ts(ms: i64) -> protocol::Timestamp {
    protocol::Timestamp::from_millis(ms).unwrap()
}

/// `messages` messages in one conversation, every `messages / media`-th carrying a media file of
/// `media_bytes` bytes: the service's rows and their change-log states, in one transaction.
async fn seed(db: &switchboard_cloud::store::Db, business: &str, conversation: &str, messages: i64, media: i64, media_bytes: usize) {
    let now = db.now_ms() - messages * 1000;
    let every = (messages / media.max(1)).max(1);
    let mut tx = db.writer().begin().await.unwrap();
    let mut seq: i64 = sqlx::query_scalar("SELECT last_seq FROM businesses WHERE id = $1").bind(business).fetch_one(&mut *tx).await.unwrap();
    let photo = base64::engine::general_purpose::STANDARD.encode(vec![0x5a; media_bytes]);
    for i in 0..messages {
        let id = format!("pmsg-{i}");
        let at = now + i * 1000;
        let media_json = if i % every == 0 && i / every < media {
            let media_id = format!("pmedia-{}", i / every);
            sqlx::query("INSERT INTO media (id, business_id, content_type, filename, size, data, created_at) VALUES ($1, $2, 'image/jpeg', $3, $4, $5, $6)")
                .bind(&media_id)
                .bind(business)
                .bind(format!("photo-{i}.jpg"))
                .bind(media_bytes as i64)
                .bind(&photo)
                .bind(at)
                .execute(&mut *tx)
                .await
                .unwrap();
            json!([{"content_type": "image/jpeg", "url": format!("/v1/media/{media_id}"), "filename": format!("photo-{i}.jpg"), "caption": null}]).to_string()
        } else {
            "[]".to_owned()
        };
        let inbound = i % 2 == 0;
        let body = format!("Message {i} from Zebedee Benchmark about the colour appointment on Thursday afternoon, of a realistic length.");
        sqlx::query(
            "INSERT INTO messages (id, business_id, conversation_id, direction, author_kind, body, media, provider_message_id, delivery_status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'delivered', $9, $9)",
        )
        .bind(&id)
        .bind(business)
        .bind(conversation)
        .bind(if inbound { "inbound" } else { "outbound" })
        .bind(if inbound { "customer" } else { "assistant" })
        .bind(&body)
        .bind(&media_json)
        .bind(format!("wamid.p{i}"))
        .bind(at)
        .execute(&mut *tx)
        .await
        .unwrap();
        let state = Message {
            id: id.as_str().into(),
            business_id: business.into(),
            conversation_id: conversation.into(),
            direction: if inbound { protocol::Direction::Inbound } else { protocol::Direction::Outbound },
            author_kind: if inbound { protocol::AuthorKind::Customer } else { protocol::AuthorKind::Assistant },
            author_staff_id: None,
            kind: protocol::MessageKind::Text,
            body,
            media: vec![],
            call: None,
            provider_message_id: Some(format!("wamid.p{i}")),
            delivery_status: DeliveryStatus::Delivered,
            error: None,
            automation: None,
            created_at: ts(at),
            updated_at: ts(at),
        };
        seq += 1;
        append_change(&mut tx, business, seq, ("message", &id), serde_json::to_string(&state).unwrap(), at).await;
    }
    set_last_seq(&mut tx, business, seq).await;
    tx.commit().await.unwrap();
}

#[tokio::main]
async fn main() {
    let small = std::env::args().any(|a| a == "--small");
    let (messages, media, media_bytes) = if small { (1_000, 20, 50_000) } else { (10_000, 200, 50_000) };
    console_core::credentials::use_mock_store();
    let dir = tempfile::tempdir().unwrap();
    let (url, db, business) = demo_service(dir.path(), |_| {}).await;

    let http = reqwest::Client::new();
    let token = demo_token(&url).await;
    let post = async |path: &str, body: Value| -> Value {
        let r = http.post(format!("{url}{path}")).bearer_auth(&token).json(&body).send().await.unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.json().await.unwrap_or(Value::Null)
    };
    let customer = post("/v1/customers", json!({"name": "Zebedee Benchmark", "phone": "+447911200999", "email": "zebedee@bench.example"})).await["id"].as_str().unwrap().to_owned();
    let conversation = post("/v1/conversations", json!({"customer_id": customer, "channel": "sms"})).await["id"].as_str().unwrap().to_owned();
    let t = Instant::now();
    seed(&db, &business, &conversation, messages, media, media_bytes).await;
    eprintln!("seeded {messages} messages and {media} media files in {:.1?}", t.elapsed());

    let console_dir = tempfile::tempdir().unwrap();
    let mut console = Console::open(console_dir.path()).await.unwrap();
    console.login(&url, switchboard_cloud::demo::DEMO_EMAIL, switchboard_cloud::demo::DEMO_PASSWORD).await.unwrap();
    console.sync_once().await.unwrap();
    assert!(!console.store().search_messages("Zebedee", 5).await.unwrap().is_empty(), "the console has her messages");

    println!("| measure | size | time |");
    println!("|---|---|---|");
    let t = Instant::now();
    let export = http.get(format!("{url}/v1/customer-export")).query(&[("id", customer.as_str())]).bearer_auth(&token).send().await.unwrap();
    assert!(export.status().is_success(), "export: {}", export.status());
    let zip = export.bytes().await.unwrap();
    let exported = t.elapsed();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip.to_vec())).expect("a ZIP");
    let media_files = archive.file_names().filter(|n| n.starts_with("media/")).count();
    assert_eq!(media_files as i64, media, "every media file is in the export");
    println!(
        "| export of one customer | {messages} messages, {media} media files of {} KB: ZIP {:.1} MB, {} files | {:.2} s |",
        media_bytes / 1000,
        zip.len() as f64 / 1_000_000.0,
        archive.len(),
        exported.as_secs_f64()
    );

    let t = Instant::now();
    let erased = post(&format!("/v1/customers/{customer}/erase"), Value::Null).await;
    let erase = t.elapsed();
    assert_eq!(erased["messages"], messages, "{erased}");
    let t = Instant::now();
    let pass = console.sync_once().await.unwrap();
    let sync = t.elapsed();
    assert!(console.store().search_messages("Zebedee", 5).await.unwrap().is_empty(), "the console forgot her");
    assert!(console.store().search_customers("Zebedee", 5).await.unwrap().is_empty());
    println!("| erasure on the service | {messages} messages, {media} media files, 1 conversation | {:.2} s |", erase.as_secs_f64());
    println!("| the connected console's sync after it | {} changes (tombstones) | {:.2} s |", pass.changed.len(), sync.as_secs_f64());
    println!("| erasure until the console has forgotten | | {:.2} s |", (erase + sync).as_secs_f64());
}
