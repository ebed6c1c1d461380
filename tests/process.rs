//! The `switchboard-cloud` binary as a process: configuration defaults, `migrate`, durability
//! across `kill -9`, and logs that never carry secrets.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_testkit::whatsapp::sign_meta;
use switchboard_tests::program;


/// Where a service process lives across its restarts: a data directory, a log file, a port.
struct Home {
    _dir: tempfile::TempDir,
    data: PathBuf,
    log: PathBuf,
    base: String,
    port: u16,
    client: reqwest::Client,
}

impl Home {
    fn new() -> Home {
        let dir = tempfile::tempdir().unwrap();
        let port = switchboard_testkit::free_port();
        Home {
            data: dir.path().join("data"),
            log: dir.path().join("service.log"),
            base: format!("http://127.0.0.1:{port}"),
            port,
            client: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// `switchboard-cloud serve` with only `extra` in its environment (besides its home), once it
    /// answers its health check.
    async fn serve(&self, extra: &[(&str, &str)]) -> Served {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        // Killed when dropped, even if it never becomes healthy.
        let child = Served(Command::new(program("switchboard-cloud"))
            .arg("serve")
            .env_clear()
            .envs(extra.iter().copied())
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SWITCHBOARD_DATA_DIR", &self.data)
            .env("SWITCHBOARD_BIND", format!("127.0.0.1:{}", self.port))
            // As chatty as it gets: even debug logs must not carry secrets.
            .env("SWITCHBOARD_LOG", "debug")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the binary starts"));
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = self.client.get(format!("{}/healthz", self.base)).send().await {
                if r.status().is_success() {
                    return child;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the service did not become healthy");
    }
}

/// A running service that is killed when dropped, so a failing test leaves no server behind
/// (holding its port, and whatever it inherited from the test runner).
struct Served(Child);

impl std::ops::Deref for Served {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl std::ops::DerefMut for Served {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_and_logs_carry_no_secrets() {
    let home = Home::new();
    let (data, log, base, client) = (&home.data, &home.log, &home.base, &home.client);

    // `migrate` alone creates the embedded database.
    let out = Command::new(program("switchboard-cloud")).arg("migrate").env("SWITCHBOARD_DATA_DIR", &data).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(data.join("switchboard.db").exists());

    let mut child = home.serve(&[]).await;
    let password = "hunter2-but-longer";
    let signup: Value = client
        .post(format!("{base}/v1/auth/signup"))
        .json(&json!({"business_name": "Kill Test", "timezone": "America/New_York", "name": "Kim", "email": "kim@example.com", "password": password}))
        .send().await.unwrap().json().await.unwrap();
    let access = signup["access_token"].as_str().unwrap().to_owned();
    let refresh = signup["refresh_token"].as_str().unwrap().to_owned();
    let created = client.post(format!("{base}/v1/customers")).bearer_auth(&access)
        .json(&json!({"name": "Durable Dana", "phone": "+14155552671"})).send().await.unwrap();
    assert_eq!(created.status(), 201);
    client.post(format!("{base}/v1/auth/refresh")).json(&json!({"refresh_token": refresh})).send().await.unwrap();

    // A calendar feed is fetched by its secret URL: the token must not reach the log.
    let feed: Value = client.post(format!("{base}/v1/calendar-feeds")).bearer_auth(&access)
        .json(&json!({"staff_id": signup["staff_id"]})).send().await.unwrap().json().await.unwrap();
    let feed_url = feed["url"].as_str().unwrap().to_owned();
    let feed_token = feed_url.rsplit('/').next().unwrap().trim_end_matches(".ics").to_owned();
    let path = &feed_url[feed_url.find("/calendar/").unwrap()..];
    assert_eq!(client.get(format!("{base}{path}")).send().await.unwrap().status(), 200);

    // The write was acknowledged; kill the process without any chance to flush.
    child.kill().unwrap();
    child.wait().unwrap();

    let mut child = home.serve(&[]).await;
    let login: Value = client.post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "kim@example.com", "password": password})).send().await.unwrap().json().await.unwrap();
    let access2 = login["access_token"].as_str().expect("login after restart").to_owned();
    let customers: Value = client.get(format!("{base}/v1/customers")).bearer_auth(&access2).send().await.unwrap().json().await.unwrap();
    assert_eq!(customers["items"][0]["name"], "Durable Dana");
    // Tokens issued before the restart still verify: the generated key was kept.
    let me = client.get(format!("{base}/v1/me")).bearer_auth(&access).send().await.unwrap();
    assert_eq!(me.status(), 200);
    child.kill().unwrap();
    child.wait().unwrap();

    let mut text = String::new();
    std::fs::File::open(&log).unwrap().read_to_string(&mut text).unwrap();
    assert!(text.contains("request"), "the log has request lines: {text}");
    assert!(text.contains("/calendar/{token}"), "the feed request is logged, redacted");
    for secret in [password, &access, &refresh, &access2, &feed_token] {
        assert!(!text.contains(secret), "a secret leaked into the log");
    }
    let key = std::fs::read_to_string(data.join("secret.key")).unwrap();
    assert!(!text.contains(key.trim()), "the encryption key leaked into the log");
}

#[tokio::test]
async fn a_webhook_acknowledged_before_kill_9_is_processed_after_restart() {
    let home = Home::new();
    let (base, client) = (&home.base, &home.client);
    // First life: acknowledges webhooks but its worker never runs (as if killed right after).
    let mut child = home.serve(&[("SWITCHBOARD_RUN_WORKERS", "false")]).await;
    let signup: Value = client.post(format!("{base}/v1/auth/signup"))
        .json(&json!({"business_name": "Kill", "timezone": "UTC", "name": "K", "email": "k@example.com", "password": "long enough pw"}))
        .send().await.unwrap().json().await.unwrap();
    let token = signup["access_token"].as_str().unwrap().to_owned();
    let r = client.put(format!("{base}/v1/channels/whatsapp")).bearer_auth(&token)
        .json(&json!({"phone_number_id": "555", "access_token": "t", "app_secret": "kill-secret", "verify_token": "v"})).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": [{"id": "W", "changes": [{"field": "messages", "value": {
        "metadata": {"phone_number_id": "555"}, "messages": [{"from": "447911123456", "id": "wamid.kill", "timestamp": "1767225600", "type": "text", "text": {"body": "Anyone there?"}}]}}]}]})).unwrap();
    let signature = sign_meta("kill-secret", &body);
    let r = client.post(format!("{base}/webhooks/whatsapp")).header("x-hub-signature-256", signature).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200, "acknowledged");
    child.kill().unwrap();
    child.wait().unwrap();

    // Second life, workers on: the acknowledged message reaches the inbox.
    let mut child = home.serve(&[]).await;
    let login: Value = client.post(format!("{base}/v1/auth/login")).json(&json!({"email": "k@example.com", "password": "long enough pw"}))
        .send().await.unwrap().json().await.unwrap();
    let token = login["access_token"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let inbox: Value = client.get(format!("{base}/v1/conversations")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        if inbox["items"].as_array().is_some_and(|i| i.len() == 1) {
            // Its first message is the customer's, once (the assistant may have answered already).
            let id = inbox["items"][0]["id"].as_str().unwrap();
            let messages: Value = client.get(format!("{base}/v1/conversations/{id}/messages")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
            let said: Vec<&Value> = messages["items"].as_array().unwrap().iter().filter(|m| m["direction"] == "inbound").collect();
            assert_eq!(said.len(), 1, "{messages}");
            assert_eq!(said[0]["body"], "Anyone there?");
            break;
        }
        assert!(Instant::now() < deadline, "the acknowledged webhook was never processed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
}
