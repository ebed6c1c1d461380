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

mod desk {
    //! Account security and data protection as the console's UI asks for them (`Desk` commands,
    //! what the window and the browser bridge call), against the real service on both engines.

    use std::io::Read;
    use std::time::Duration;

    use base64::Engine as _;
    use console_core::desk::{Command, Desk};
    use serde_json::json;
    use switchboard_cloud::accounts::security::current_code;
    use switchboard_testkit::{on_both_engines, TestApp};
    use switchboard_tests::quick;

    async fn signed_in(desk: &Desk) -> bool {
        desk.dispatch(Command::Session).await.unwrap()["account"].is_object()
    }

    on_both_engines! {

    spawn = TestApp::spawn;

    /// Re-authentication (a wrong password is refused without signing the console out), a
    /// customer's export as a ZIP, two-factor enrolment with its QR code and recovery codes,
    /// signing in with a code, a colleague's reset, the require switch, retention's dry run with
    /// the mirror's names, erasure reaching this console's search — and offline, a
    /// re-authentication that says it needs the network.
    async fn the_console_secures_the_account_and_protects_customers(mut app: TestApp) {
        console_core::credentials::use_mock_store();
        let dir = tempfile::tempdir().unwrap();
        let owner = app.signup("privdesk").await;
        let agent = app.add_staff(&owner, "agent").await;
        let helper = app.add_staff(&owner, "agent").await;
        let customer = app.post("/v1/customers", &owner.access, json!({"name": "Quentin Exportable", "phone": "+447911200777"})).await.body["id"].as_str().unwrap().to_owned();
        let conversation = app.post("/v1/conversations", &owner.access, json!({"customer_id": customer, "channel": "sms"})).await.body["id"].as_str().unwrap().to_owned();
        let noted = app.post(&format!("/v1/conversations/{conversation}/notes"), &owner.access, json!({"body": "Asked about the quokkaberry treatment"})).await;
        assert!(noted.status.is_success(), "{noted:?}");

        let desk = Desk::open(dir.path(), None, quick()).await.unwrap();
        let sign_in = |code: Option<String>| Command::SignIn { server: app.base.clone(), email: owner.email.clone(), password: owner.password.clone(), code, keep: None, passphrase: None };
        desk.dispatch(sign_in(None)).await.unwrap();
        desk.dispatch(Command::SyncNow).await.unwrap();
        let security = desk.dispatch(Command::AccountSecurity).await.unwrap();
        assert_eq!(security["two_factor_enabled"], false, "{security}");

        // Sensitive actions need a fresh proof; a wrong password is refused, and the console stays signed in.
        app.advance(Duration::from_secs(20 * 60));
        let export = Command::ExportCustomer { who: serde_json::from_value(json!({"customer_id": customer})).unwrap() };
        let stale = desk.dispatch(export.clone()).await.unwrap_err();
        assert_eq!((stale.kind.as_str(), stale.code.as_deref()), ("refused", Some("reauthentication_required")), "{stale:?}");
        let wrong = desk.dispatch(Command::Reauthenticate { password: Some("not my password".into()), code: None }).await.unwrap_err();
        assert_eq!(wrong.kind, "refused", "a wrong password is an answer, not a lost session: {wrong:?}");
        assert!(signed_in(&desk).await);
        desk.dispatch(Command::Reauthenticate { password: Some(owner.password.clone()), code: None }).await.unwrap();
        let exported = desk.dispatch(export.clone()).await.unwrap();
        assert_eq!(exported["file_name"], format!("customer-{customer}.zip"));
        let zip = base64::engine::general_purpose::STANDARD.decode(exported["zip_base64"].as_str().unwrap()).unwrap();
        assert_eq!(exported["bytes"], zip.len());
        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a ZIP");
        let mut everything = String::new();
        for i in 0..archive.len() {
            archive.by_index(i).unwrap().read_to_string(&mut everything).unwrap();
        }
        assert!(everything.contains("Quentin Exportable") && everything.contains("quokkaberry"), "the export holds her profile and messages");

        // Two-factor: a secret and its QR code, a code turns it on, recovery codes shown once.
        let enrolment = desk.dispatch(Command::TwoFactorBegin).await.unwrap();
        assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"), "{enrolment}");
        let secret = enrolment["secret"].as_str().unwrap().to_owned();
        let bad = desk.dispatch(Command::TwoFactorConfirm { code: "000000".into() }).await.unwrap_err();
        assert_eq!(bad.code.as_deref(), Some("invalid_code"), "{bad:?}");
        assert!(signed_in(&desk).await);
        let codes = desk.dispatch(Command::TwoFactorConfirm { code: current_code(&secret, app.now_ms()).unwrap() }).await.unwrap();
        let recovery: Vec<String> = serde_json::from_value(codes["recovery_codes"].clone()).unwrap();
        assert!(!recovery.is_empty());
        assert_eq!(desk.dispatch(Command::AccountSecurity).await.unwrap()["two_factor_enabled"], true);

        // Signing in again asks for a code; a recovery code works.
        desk.dispatch(Command::SignOut { discard: false }).await.unwrap();
        let asked = desk.dispatch(sign_in(None)).await.unwrap_err();
        assert_eq!(asked.code.as_deref(), Some("two_factor_required"), "{asked:?}");
        assert!(!signed_in(&desk).await);
        let refused = desk.dispatch(sign_in(Some("123456".into()))).await.unwrap_err();
        assert_eq!(refused.code.as_deref(), Some("invalid_code"), "{refused:?}");
        desk.dispatch(sign_in(Some(recovery[0].clone()))).await.unwrap();
        assert!(signed_in(&desk).await);
        desk.dispatch(Command::SyncNow).await.unwrap();

        // Owner's tools: a colleague's reset (the link handed over without SMTP) and the switch,
        // each after a fresh proof — now a code from the app.
        app.advance(Duration::from_secs(20 * 60));
        let reset = Command::ResetStaffSignIn { staff_id: agent.staff_id.clone() };
        assert_eq!(desk.dispatch(reset.clone()).await.unwrap_err().code.as_deref(), Some("reauthentication_required"));
        desk.dispatch(Command::Reauthenticate { password: None, code: Some(current_code(&secret, app.now_ms()).unwrap()) }).await.unwrap();
        let handover = desk.dispatch(reset).await.unwrap();
        assert!(handover["link"].as_str().is_some_and(|l| l.contains("token=")), "{handover}");
        let required = desk.dispatch(Command::RequireTwoFactor { require: true }).await.unwrap();
        assert_eq!(required["require_two_factor"], true);
        assert_eq!(desk.dispatch(Command::SecuritySettings).await.unwrap()["require_two_factor"], true);

        // A colleague without two-factor now sets it up while signing in, on their own console.
        let other_dir = tempfile::tempdir().unwrap();
        let colleague = Desk::open(other_dir.path(), None, quick()).await.unwrap();
        let theirs = |code: Option<String>| Command::SignIn { server: app.base.clone(), email: helper.email.clone(), password: helper.password.clone(), code, keep: None, passphrase: None };
        let must = colleague.dispatch(theirs(None)).await.unwrap_err();
        assert_eq!(must.code.as_deref(), Some("two_factor_enrolment_required"), "{must:?}");
        let early = colleague.dispatch(Command::SignInEnrolConfirm { code: "123456".into(), keep: None, passphrase: None }).await.unwrap_err();
        assert_eq!(early.kind, "invalid", "no set-up under way yet: {early:?}");
        let setup = colleague.dispatch(Command::SignInEnrol { server: app.base.clone(), email: helper.email.clone(), password: helper.password.clone() }).await.unwrap();
        assert!(setup["qr_svg"].as_str().unwrap().contains("<svg"));
        let their_secret = setup["secret"].as_str().unwrap().to_owned();
        let wrong = colleague.dispatch(Command::SignInEnrolConfirm { code: "000000".into(), keep: None, passphrase: None }).await.unwrap_err();
        assert_eq!(wrong.code.as_deref(), Some("invalid_code"), "{wrong:?}");
        let enrolled = colleague.dispatch(Command::SignInEnrolConfirm { code: current_code(&their_secret, app.now_ms()).unwrap(), keep: None, passphrase: None }).await.unwrap();
        assert!(enrolled["session"]["account"].is_object() && !enrolled["recovery_codes"].as_array().unwrap().is_empty(), "{enrolled}");
        assert!(signed_in(&colleague).await);
        colleague.stop().await;

        // Erasure: this console's search forgets her with the sync the command starts.
        assert_eq!(desk.dispatch(Command::FindCustomers { text: "Quentin".into() }).await.unwrap().as_array().unwrap().len(), 1);
        let removed = desk.dispatch(Command::EraseCustomer { customer_id: customer.clone() }).await.unwrap();
        assert_eq!(removed["conversations"], 1, "{removed}");
        desk.dispatch(Command::SyncNow).await.unwrap();
        assert_eq!(desk.dispatch(Command::FindCustomers { text: "Quentin".into() }).await.unwrap(), json!([]));

        // Retention: the dry run names whose conversations would go, from this console's mirror.
        let kept = app.post("/v1/customers", &owner.access, json!({"name": "Rita Retained"})).await.body["id"].as_str().unwrap().to_owned();
        let old = app.post("/v1/conversations", &owner.access, json!({"customer_id": kept, "channel": "sms"})).await.body["id"].as_str().unwrap().to_owned();
        desk.dispatch(Command::SetRetention { policy: protocol::RetentionPolicy { conversations_months: Some(1), recordings_days: None } }).await.unwrap();
        assert_eq!(desk.dispatch(Command::RetentionDryRun).await.unwrap()["conversations"], json!([]));
        desk.dispatch(Command::SyncNow).await.unwrap();
        app.advance(Duration::from_secs(20 * 86_400));
        desk.dispatch(Command::SyncNow).await.unwrap();
        app.advance(Duration::from_secs(11 * 86_400));
        let preview = desk.dispatch(Command::RetentionDryRun).await.unwrap();
        assert_eq!(preview["plan"]["conversation_ids"], json!([old]), "{preview}");
        assert_eq!(preview["conversations"][0]["customer"], "Rita Retained", "{preview}");
        assert_eq!(desk.dispatch(Command::Retention).await.unwrap()["conversations_months"], 1);

        // Offline: a re-authentication needs the network, and says so.
        app.stop().await;
        let offline = desk.dispatch(Command::Reauthenticate { password: Some(owner.password.clone()), code: None }).await.unwrap_err();
        assert_eq!(offline.kind, "offline", "{offline:?}");
        assert!(signed_in(&desk).await, "offline, the console stays signed in");
        desk.stop().await;
    }

    }
}
