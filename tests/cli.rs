//! `switchboard-console` as a process, as a script or a headless machine uses it: sign in, sync,
//! read the inbox, act; offline, a verb queues its action and says so; the refresh token lives in
//! the system keyring, never in the data
//! directory. The keyring is a real GNOME Keyring answering the Secret Service on a private
//! session bus, as on a desktop.

use std::path::Path;
use std::process::Command;

use switchboard_testkit::Engine;
use switchboard_testkit::demo::{DemoService, OWNER, PASSWORD};
use switchboard_tests::{program, PrivateSession};

fn cli(session: &PrivateSession, data_dir: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(program("switchboard-console"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("DBUS_SESSION_BUS_ADDRESS", &session.address)
        .output()
        .expect("the CLI runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
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
    let (ok, out) = cli(&session, dir.path(), &["logout"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&session, dir.path(), &["sync"]);
    assert!(!ok && out.contains("not signed in"), "{out}");
}
