//! Erasure reaches the desktop: a customer erased on the service leaves a synced console's
//! local mirror and its full-text search indexes, through the change log's tombstones.

use console_core::queries::InboxQuery;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::Row;
use switchboard_testkit::demo::{DemoService, OWNER};
use switchboard_testkit::Engine;
use switchboard_tests::console;

/// How many rows of any table of the console's SQLite file hold `needle` in any column.
async fn mirror_rows_holding(pool: &sqlx::SqlitePool, needle: &str) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        .fetch_all(pool)
        .await
        .unwrap();
    let mut found = Vec::new();
    for table in tables {
        let columns = sqlx::query(&format!("PRAGMA table_info(\"{table}\")")).fetch_all(pool).await.unwrap();
        for column in columns {
            let name: String = column.get("name");
            let sql = format!("SELECT COUNT(*) FROM \"{table}\" WHERE CAST(\"{name}\" AS TEXT) LIKE ?");
            // FTS shadow tables hold binary blobs; a failed read of one is not a hit.
            if let Ok(n) = sqlx::query_scalar::<_, i64>(&sql).bind(format!("%{needle}%")).fetch_one(pool).await {
                if n > 0 {
                    found.push(format!("{table}.{name}"));
                }
            }
        }
    }
    found
}

async fn fts_hits(pool: &sqlx::SqlitePool, index: &str, word: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {index} WHERE {index} MATCH ?")).bind(word).fetch_one(pool).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_customer_leaves_the_console_mirror_and_its_search() {
    console_core::credentials::use_mock_store();
    let dir = tempfile::tempdir().unwrap();
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900123", "Zephyrine Erasable", "Please book my zanzibarian treatment").await;
    let conversation = service.conversation_of(&owner, "447700900123").await;
    let customer = service.get(&format!("/v1/conversations/{conversation}"), &owner).await["customer"]["id"].as_str().unwrap().to_owned();

    let console = console(&service, OWNER, dir.path()).await;
    console.sync_once().await.unwrap();
    let store = console.store();
    let me = console.me().unwrap().to_owned();
    // Before: the console finds her by name, number and words.
    assert_eq!(store.search_messages("zanzibarian", 10).await.unwrap().len(), 1);
    assert_eq!(store.search_customers("Zephyrine", 10).await.unwrap().len(), 1);
    assert_eq!(fts_hits(store.pool(), "conversation_search", "zanzibarian").await, 1);
    let found = store.inbox(&InboxQuery { search: Some("zanzibarian".into()), ..Default::default() }, &me).await.unwrap();
    assert_eq!(found.items.len(), 1);
    assert!(!mirror_rows_holding(store.pool(), "Zephyrine").await.is_empty());

    let erased = service.app.post(&format!("/v1/customers/{customer}/erase"), &owner, json!(null)).await;
    assert_eq!(erased.status, StatusCode::OK, "{erased:?}");
    console.sync_once().await.unwrap();

    // After one sync: nothing finds her, and no row of the mirror holds her.
    assert!(store.search_messages("zanzibarian", 10).await.unwrap().is_empty());
    assert!(store.search_customers("Zephyrine", 10).await.unwrap().is_empty());
    assert!(store.search_customers("447700900123", 10).await.unwrap().is_empty());
    assert_eq!(fts_hits(store.pool(), "conversation_search", "zanzibarian").await, 0);
    assert_eq!(fts_hits(store.pool(), "message_search", "zanzibarian").await, 0);
    assert_eq!(fts_hits(store.pool(), "customer_search", "Zephyrine").await, 0);
    let found = store.inbox(&InboxQuery { search: Some("zanzibarian".into()), ..Default::default() }, &me).await.unwrap();
    assert!(found.items.is_empty(), "{found:?}");
    for needle in ["Zephyrine", "Erasable", "447700900123", "zanzibarian"] {
        assert_eq!(mirror_rows_holding(store.pool(), needle).await, Vec::<String>::new(), "the mirror still holds {needle:?}");
    }
}
