//! `switchboard-console` as a process, as a script or a headless machine uses it: sign in, sync,
//! read the inbox, act; offline, a verb queues its action and says so; the refresh token lives in
//! the system keyring, never in the data
//! directory. The keyring is a real GNOME Keyring answering the Secret Service on a private
//! session bus, as on a desktop.

use std::path::Path;
use std::process::Command;

use switchboard_testkit::Engine;
use switchboard_testkit::demo::{DemoService, AGENT, OWNER, PASSWORD};
use switchboard_tests::{program, PrivateSession};

/// The CLI as a person reads it: whether it succeeded, and all it printed.
fn cli(session: &PrivateSession, data_dir: &Path, args: &[&str]) -> (bool, String) {
    let (code, out, err) = cli_status(session, data_dir, args);
    (code == Some(0), format!("{out}{err}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_signs_in_reads_the_inbox_acts_and_queues_when_offline() {
    let mut service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900777", "Cli Customer", "Do you do beard trims?").await;
    let conversation = service.conversation_of(&owner, "447700900777").await;
    let dir = tempfile::tempdir().unwrap();
    let session = PrivateSession::start(true);

    let (ok, out) = cli(&session, dir.path(), &["login", "--server", service.url(), "--email", OWNER, "--password", PASSWORD]);
    assert!(ok, "{out}");
    assert!(out.contains("Signed in as owner@demo.switchboard.app (owner)"), "{out}");
    let (ok, out) = cli(&session, dir.path(), &["inbox", "--json"]);
    assert!(ok, "{out}");
    let inbox: serde_json::Value = serde_json::from_str(&out).unwrap();
    let item = inbox["items"].as_array().unwrap().iter().find(|i| i["conversation"]["id"] == conversation.as_str()).expect("listed").clone();
    assert_eq!((item["customer_name"].as_str(), item["handler"]["kind"].as_str()), (Some("Cli Customer"), Some("needs_human")));
    let (_, text) = cli(&session, dir.path(), &["inbox", "--filter", "needs-human"]);
    assert!(text.contains("NEEDS A PERSON") && text.contains("Cli Customer"), "{text}");

    let (ok, out) = cli(&session, dir.path(), &["takeover", &conversation]);
    assert!(ok && out.contains("Done: taking over"), "{out}");
    let (ok, out) = cli(&session, dir.path(), &["send", &conversation, "Yes we do!"]);
    assert!(ok && out.contains("Done: the message"), "{out}");

    service.app.stop().await;
    let (ok, out) = cli(&session, dir.path(), &["send", &conversation, "Sent while the service was down"]);
    assert!(ok, "{out}");
    assert!(out.contains("Offline") && out.contains("queued"), "{out}");
    let (_, out) = cli(&session, dir.path(), &["outbox"]);
    assert!(out.contains("pending send_message"), "{out}");
    // Signing out now would lose that reply: refused, with the way to do it anyway.
    let (ok, out) = cli(&session, dir.path(), &["logout"]);
    assert!(!ok && out.contains("An action made here has not reached the service yet") && out.contains("logout --discard"), "{out}");
    let (_, out) = cli(&session, dir.path(), &["outbox"]);
    assert!(out.contains("pending send_message"), "still waiting: {out}");
    service.app.restart().await;
    let (ok, out) = cli(&session, dir.path(), &["sync"]);
    assert!(ok && out.contains("0 pending, 0 refused"), "{out}");
    let (_, out) = cli(&session, dir.path(), &["outbox"]);
    assert!(out.contains("Nothing waiting"), "{out}");
    let owner = service.token(OWNER).await;
    let messages = service.get(&format!("/v1/conversations/{conversation}/messages"), &owner).await;
    let bodies: Vec<&str> = messages["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "text").map(|m| m["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["Do you do beard trims?", "Yes we do!", "Sent while the service was down"]);

    // Nothing secret in the data directory: no password, no token.
    let refresh_marker = PASSWORD.as_bytes();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(refresh_marker.len()).any(|w| w == refresh_marker), "the password leaked into the data directory");
        assert!(!String::from_utf8_lossy(&bytes).contains("eyJ"), "a token leaked into the data directory");
    }
    // Signing out ends the console's session on the service too, not only here.
    let open_sessions = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sessions s JOIN staff st ON st.id = s.staff_id WHERE st.email = $1 AND s.revoked_at IS NULL")
            .bind(OWNER)
            .fetch_one(service.app.db.reader())
            .await
            .unwrap()
    };
    let before = open_sessions().await;
    let (ok, out) = cli(&session, dir.path(), &["logout"]);
    assert!(ok && !out.contains("could not be reached"), "{out}");
    assert_eq!(open_sessions().await, before - 1, "the console's session is over on the service");
    let (ok, out) = cli(&session, dir.path(), &["sync"]);
    assert!(!ok && out.contains("not signed in"), "{out}");
    // Nothing of theirs is left on the disk (not in the database's free pages, not in its log),
    // and the database is this computer user's alone.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        assert!(!text.contains("beard trims") && !text.contains("Cli Customer") && !text.contains("447700900777"), "{} keeps the last person's customers", path.display());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("console.sqlite3")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    // A colleague signs in at the same computer and works: this device is theirs now (the
    // service had bound its id to the first person, and refused every push after).
    service.customer_writes("447700900778", "Second Customer", "Are you open on Sunday?").await;
    let second = service.conversation_of(&owner, "447700900778").await;
    let (ok, out) = cli(&session, dir.path(), &["login", "--server", service.url(), "--email", AGENT, "--password", PASSWORD]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&session, dir.path(), &["takeover", &second]);
    assert!(ok && out.contains("Done: taking over"), "{out}");
    let (ok, out) = cli(&session, dir.path(), &["send", &second, "Yes, 10 to 4"]);
    assert!(ok && out.contains("Done: the message"), "{out}");

    // Made an admin, the front desk's `sync` reloads and holds the invitations an agent is not
    // sent; made an agent again, they go.
    let invited = service.app.post("/v1/invitations", &owner, serde_json::json!({"email": "next-hire@example.com", "role": "agent"})).await;
    assert!(invited.status.is_success(), "{invited:?}");
    let staff = service.get("/v1/staff", &owner).await;
    let agent_id = staff["items"].as_array().unwrap().iter().find(|s| s["email"] == AGENT).unwrap()["id"].as_str().unwrap().to_owned();
    let invitations_here = || async {
        let mirror = sqlx::sqlite::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("console.sqlite3").display())).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM entities WHERE entity = 'invitation' AND data LIKE '%next-hire@example.com%'").fetch_one(&mirror).await.unwrap();
        mirror.close().await;
        n
    };
    let (ok, out) = cli(&session, dir.path(), &["sync"]);
    assert!(ok, "{out}");
    assert_eq!(invitations_here().await, 0, "an agent is sent no invitations");
    for (role, expected) in [("admin", 1), ("agent", 0)] {
        let r = service.app.patch(&format!("/v1/staff/{agent_id}"), &owner, serde_json::json!({"role": role})).await;
        assert!(r.status.is_success(), "{r:?}");
        let (ok, out) = cli(&session, dir.path(), &["sync"]);
        assert!(ok, "{out}");
        assert_eq!(invitations_here().await, expected, "as {role}");
    }
    let (ok, out) = cli(&session, dir.path(), &["logout"]);
    assert!(ok, "{out}");
}

/// The CLI as a script sees it: exit status, stdout, stderr.
fn cli_status(session: &PrivateSession, data_dir: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    cli_env(session, data_dir, &[], args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_action_exits_3_with_the_reason_on_stderr_and_only_a_refused_text_is_kept_as_a_draft() {
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900778", "Held Customer", "Can someone call me?").await;
    let conversation = service.conversation_of(&owner, "447700900778").await;
    // A colleague holds it.
    let agent = service.token(switchboard_testkit::demo::AGENT).await;
    let held = service.app.post(&format!("/v1/conversations/{conversation}/takeover"), &agent, serde_json::json!({})).await;
    assert!(held.status.is_success(), "{:?}", held.body);
    let dir = tempfile::tempdir().unwrap();
    let session = PrivateSession::start(true);
    let (code, out, err) = cli_status(&session, dir.path(), &["login", "--server", service.url(), "--email", OWNER, "--password", PASSWORD]);
    assert_eq!(code, Some(0), "{out}{err}");

    let (code, out, err) = cli_status(&session, dir.path(), &["takeover", &conversation]);
    assert_eq!(code, Some(3), "a refused takeover exits 3: {out}{err}");
    assert!(err.contains("Refused:") && err.contains("(already_held)"), "the reason is on stderr: {err}");
    assert!(!err.contains("draft") && !out.contains("draft"), "a takeover has no draft: {out}{err}");
    assert!(!out.contains("Done"), "{out}");
    let (_, out, _) = cli_status(&session, dir.path(), &["outbox"]);
    assert!(out.contains("Nothing waiting"), "a refused takeover is not kept: {out}");

    let (code, out, err) = cli_status(&session, dir.path(), &["send", &conversation, "I will call you at 3"]);
    assert_eq!(code, Some(3), "a refused send exits 3: {out}{err}");
    assert!(err.contains("(already_held)") && err.contains("The text was kept as a draft"), "{err}");
    let (_, out, _) = cli_status(&session, dir.path(), &["outbox"]);
    assert!(out.contains("failed send_message") && out.contains("refused:"), "the text waits in the outbox: {out}");

    // A wrong password is the service refusing too; a verb with nobody signed in is not.
    let other = tempfile::tempdir().unwrap();
    let (code, _, err) = cli_status(&session, other.path(), &["login", "--server", service.url(), "--email", OWNER, "--password", "wrong-password"]);
    assert_eq!(code, Some(3), "{err}");
    let (code, _, err) = cli_status(&session, other.path(), &["takeover", &conversation]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("not signed in"), "{err}");
}

/// The CLI with extra environment (the passphrase; never one from the shell running the tests).
fn cli_env(session: &PrivateSession, data_dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(program("switchboard-console"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
        .env_remove("SWITCHBOARD_CONSOLE_PASSPHRASE")
        .envs(env.iter().copied())
        .output()
        .expect("the CLI runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A headless machine: a session bus with no Secret Service and no session keyring. The sign-in
/// goes to a file sealed with a passphrase; every later start (each CLI run, then the desk the UI
/// talks to) is locked until the passphrase opens it, and then it is still signed in. No token is
/// anywhere in the data directory in plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_keyring_the_sign_in_is_sealed_with_a_passphrase_and_survives_a_restart() {
    let service = DemoService::start(Engine::Sqlite).await;
    let owner = service.token(OWNER).await;
    service.customer_writes("447700900779", "Sealed Customer", "Anyone there?").await;
    let conversation = service.conversation_of(&owner, "447700900779").await;
    let dir = tempfile::tempdir().unwrap();
    let session = PrivateSession::start(false);
    const PASS: (&str, &str) = ("SWITCHBOARD_CONSOLE_PASSPHRASE", "front desk passphrase 42");

    let login = ["login", "--server", service.url(), "--email", OWNER, "--password", PASSWORD];
    let (code, _, err) = cli_env(&session, dir.path(), &[], &login);
    assert_eq!(code, Some(1), "no keyring and no passphrase is a clear refusal, not a dead end: {err}");
    assert!(err.contains("no usable system keyring") && err.contains("SWITCHBOARD_CONSOLE_PASSPHRASE"), "{err}");
    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &login);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("kept in an encrypted file"), "{out}");

    // Restarted without the passphrase: locked, says how to open it.
    let (code, _, err) = cli_env(&session, dir.path(), &[], &["sync"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("SWITCHBOARD_CONSOLE_PASSPHRASE"), "{err}");
    let (code, _, err) = cli_env(&session, dir.path(), &[("SWITCHBOARD_CONSOLE_PASSPHRASE", "not the passphrase")], &["sync"]);
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("passphrase does not open"), "{err}");
    // With it: still signed in, and acting (the refresh token rotates and is sealed again).
    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &["takeover", &conversation]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Done: taking over"), "{out}");
    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &["send", &conversation, "Sealed and sent"]);
    assert_eq!(code, Some(0), "{out}{err}");

    // The desk the UI talks to, started fresh on the same directory: locked until unlocked.
    let desk = console_core::desk::Desk::open(dir.path(), None, switchboard_tests::quick()).await.unwrap();
    use console_core::desk::Command as C;
    let s = desk.dispatch(C::Session).await.unwrap();
    assert_eq!((s["locked"].as_bool(), s["keep"].as_str()), (Some(true), Some("file")), "{s}");
    assert_eq!(s["account"]["email"], OWNER);
    let wrong = desk.dispatch(C::Unlock { passphrase: "nope nope nope".into() }).await.unwrap_err();
    assert_eq!(wrong.kind, "wrong_passphrase");
    let s = desk.dispatch(C::Unlock { passphrase: PASS.1.into() }).await.unwrap();
    assert_eq!(s["locked"], false);
    desk.dispatch(C::SyncNow).await.expect("signed in after unlocking");
    let inbox = desk.dispatch(C::Inbox { query: serde_json::from_value(serde_json::json!({"filter": "mine"})).unwrap() }).await.unwrap();
    assert!(inbox["items"].as_array().unwrap().iter().any(|i| i["conversation"]["id"] == conversation.as_str()), "{inbox}");
    desk.stop().await;

    // The token itself (opened the way the console opens it) is nowhere in plaintext.
    let creds = console_core::credentials::Credentials::sealed(dir.path(), service.url(), OWNER);
    creds.unlock(PASS.1).unwrap();
    let token = creds.refresh_token().unwrap().expect("a saved sign-in");
    assert!(token.len() >= 16);
    let mut files = 0;
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        files += 1;
        for secret in [token.as_bytes(), PASS.1.as_bytes(), PASSWORD.as_bytes()] {
            assert!(!bytes.windows(secret.len()).any(|w| w == secret), "{} holds a secret in plaintext", path.display());
        }
        assert!(!String::from_utf8_lossy(&bytes).contains("eyJ"), "{} holds an access token", path.display());
    }
    assert!(files >= 2, "the mirror and the sealed sign-in");
    let (code, _, _) = cli_env(&session, dir.path(), &[], &["logout"]);
    assert_eq!(code, Some(0));
    assert!(!dir.path().join(console_core::credentials::SEALED_FILE).exists(), "signing out removes the sealed sign-in");
}

/// A sign-in kept in its encrypted file moves to the keyring (and back) without signing in
/// again: `switchboard-console keep keyring|file`. Afterwards the old place is empty, and a
/// restart opens the new one (the keyring: no passphrase asked; the file: locked until given).
async fn the_sign_in_moves_between_its_file_and_the_keyring(engine: Engine) {
    let service = DemoService::start(engine).await;
    let dir = tempfile::tempdir().unwrap();
    let session = PrivateSession::start(true);
    const PASS: (&str, &str) = ("SWITCHBOARD_CONSOLE_PASSPHRASE", "front desk passphrase 43");
    let sealed = dir.path().join(console_core::credentials::SEALED_FILE);

    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &["login", "--server", service.url(), "--email", OWNER, "--password", PASSWORD, "--keep", "file"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(sealed.exists());
    // Locked: moving it needs the passphrase that opens it.
    let (code, _, err) = cli_env(&session, dir.path(), &[], &["keep", "keyring"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("SWITCHBOARD_CONSOLE_PASSPHRASE"), "{err}");

    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &["keep", "keyring"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("now kept in the system keyring"), "{out}");
    assert!(!sealed.exists(), "the file is emptied");
    // A restart asks for no passphrase, and the service still takes the sign-in.
    let (code, out, err) = cli_env(&session, dir.path(), &[], &["sync"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("Synced"), "{out}");

    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &["keep", "file"]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(sealed.exists());
    let (code, _, err) = cli_env(&session, dir.path(), &[], &["sync"]);
    assert_eq!(code, Some(1), "locked again without the passphrase: {err}");
    let (code, out, err) = cli_env(&session, dir.path(), &[PASS], &["sync"]);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_moves_between_its_file_and_the_keyring_sqlite() {
    the_sign_in_moves_between_its_file_and_the_keyring(Engine::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_moves_between_its_file_and_the_keyring_postgres() {
    the_sign_in_moves_between_its_file_and_the_keyring(Engine::Postgres).await;
}
