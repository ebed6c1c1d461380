//! The real service for console tests: in-process on loopback, on a fresh SQLite file (or a
//! throwaway PostgreSQL), seeded with the demo business and its sandbox WhatsApp number (a local
//! server speaking the Cloud API). It can be stopped and started again on the same address, which
//! is what "the service went down" looks like to a console.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use switchboard_cloud::store::Db;
use switchboard_cloud::{Application, Config};

pub const PASSWORD: &str = switchboard_cloud::demo::DEMO_PASSWORD;
pub const OWNER: &str = switchboard_cloud::demo::DEMO_EMAIL;
pub const AGENT: &str = switchboard_cloud::demo::AGENT_EMAIL;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

pub struct Service {
    pub url: String,
    pub db: Db,
    pub business_id: String,
    pub app_secret: String,
    pub http: reqwest::Client,
    config: Config,
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _graph: switchboard_cloud::sandbox::Graph,
    _dir: tempfile::TempDir,
}

impl Service {
    pub async fn start(engine: Engine) -> Service {
        let dir = tempfile::tempdir().unwrap();
        let database_url = match engine {
            Engine::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("service.db").display()),
            Engine::Postgres => switchboard_testkit::pg_cluster().create_database(),
        };
        let app_secret = format!("test-{}", uuid::Uuid::now_v7().simple());
        let graph = switchboard_cloud::sandbox::start_graph(app_secret.clone()).await.unwrap();
        let config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(database_url),
            data_dir: Some(dir.path().to_path_buf()),
            whatsapp_api_base: graph.base.clone(),
            max_db_connections: 20,
            ..Config::default()
        };
        let app = Application::build(config.clone()).await.expect("the service starts");
        let addr = app.local_addr();
        let url = format!("http://{addr}");
        graph.set_service_url(&url);
        let db = app.state().db.clone();
        let business_id = switchboard_cloud::demo::seed(&db).await.unwrap().business_id;
        let mut service = Service {
            url,
            db,
            business_id,
            app_secret: app_secret.clone(),
            http: reqwest::Client::new(),
            config,
            addr,
            stop: None,
            task: None,
            _graph: graph,
            _dir: dir,
        };
        service.run(app);
        switchboard_cloud::demo::connect_sandbox(&service.url, &app_secret, "vapi-secret").await.unwrap();
        // Conversations wait for a person unless a test turns the assistant on.
        let owner = service.token(OWNER).await;
        service.http.patch(format!("{}/v1/assistant", service.url)).bearer_auth(&owner).json(&json!({"enabled": false})).send().await.unwrap();
        service
    }

    fn run(&mut self, app: Application) {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.stop = Some(stop);
        self.task = Some(tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        })));
    }

    /// Stops the service: nothing answers on its address until [`Service::restart`].
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    /// Starts the service again on the same address and database.
    pub async fn restart(&mut self) {
        let mut config = self.config.clone();
        config.bind = self.addr;
        let app = Application::build(config).await.expect("the service starts again");
        self.db = app.state().db.clone();
        self.run(app);
    }

    pub async fn token(&self, email: &str) -> String {
        let r: Value = self
            .http
            .post(format!("{}/v1/auth/login", self.url))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["access_token"].as_str().unwrap_or_else(|| panic!("login: {r}")).to_owned()
    }

    pub async fn get(&self, path: &str, token: &str) -> Value {
        self.http.get(format!("{}{path}", self.url)).bearer_auth(token).send().await.unwrap().json().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Value {
        self.http.post(format!("{}{path}", self.url)).bearer_auth(token).json(&body).send().await.unwrap().json().await.unwrap_or(Value::Null)
    }

    /// A customer writes on WhatsApp: a signed webhook, as Meta sends it.
    pub async fn customer_writes(&self, wa_id: &str, name: &str, text: &str) {
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "WABA", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "447911000001", "phone_number_id": switchboard_cloud::sandbox::PHONE_NUMBER_ID},
            "contacts": [{"wa_id": wa_id, "profile": {"name": name}}],
            "messages": [{"from": wa_id, "id": format!("wamid.{}", uuid::Uuid::now_v7().simple()), "timestamp": jiff::Timestamp::now().as_second().to_string(),
                          "type": "text", "text": {"body": text}}]}}]}]});
        let raw = serde_json::to_vec(&body).unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(self.app_secret.as_bytes()).unwrap();
        mac.update(&raw);
        let signature = format!("sha256={}", mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>());
        let r = self
            .http
            .post(format!("{}/webhooks/whatsapp", self.url))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature)
            .body(raw)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "webhook refused: {}", r.status());
    }

    /// The conversation of the customer with this WhatsApp id, once the webhook is processed.
    pub async fn conversation_of(&self, token: &str, wa_id: &str) -> String {
        for _ in 0..100 {
            let page = self.get("/v1/conversations?limit=200", token).await;
            for c in page["items"].as_array().unwrap() {
                let customer = self.get(&format!("/v1/customers/{}", c["customer_id"].as_str().unwrap()), token).await;
                if customer["whatsapp_id"] == wa_id {
                    return c["id"].as_str().unwrap().to_owned();
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no conversation for {wa_id}");
    }
}

/// Polls until `check` holds (10 s at most).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A console signed in to the service, in its own data directory.
pub async fn console(service: &Service, email: &str, dir: &Path) -> console_core::Console {
    let mut console = console_core::Console::open(dir).await.unwrap();
    console.login(&service.url, email, PASSWORD).await.unwrap();
    console
}

/// Fast retries for tests: the service comes back within a second.
pub fn quick() -> console_core::EngineConfig {
    console_core::EngineConfig {
        backoff_base: std::time::Duration::from_millis(50),
        backoff_cap: std::time::Duration::from_millis(300),
        ..Default::default()
    }
}

impl Service {
    /// A second instance on the same database (PostgreSQL), serving on its own address; it runs
    /// no background workers, so whatever its consoles hear was processed elsewhere.
    pub async fn another_instance(&self) -> String {
        let mut config = self.config.clone();
        config.bind = "127.0.0.1:0".parse().unwrap();
        config.run_workers = false;
        let app = Application::build(config).await.expect("a second instance starts");
        let url = format!("http://{}", app.local_addr());
        tokio::spawn(app.run_until(std::future::pending()));
        url
    }

    /// The first free slot of a service, as the service offers it.
    pub async fn first_slot(&self, token: &str) -> (String, String) {
        let services = self.get("/v1/services", token).await;
        let service = services.as_array().unwrap()[0]["id"].as_str().unwrap().to_owned();
        let slots = self.get(&format!("/v1/availability?service_id={service}&limit=1"), token).await;
        (service, slots["slots"][0]["start"].as_str().unwrap_or_else(|| panic!("no slot: {slots}")).to_owned())
    }
}

/// A transport that can be cut (offline) and can lose the answer to a push after the service
/// applied it — the network failing at the worst moment.
pub struct Flaky {
    pub inner: std::sync::Arc<console_core::HttpTransport>,
    pub online: std::sync::atomic::AtomicBool,
    pub lose_next_push_answer: std::sync::atomic::AtomicBool,
    pub lost: std::sync::Mutex<Vec<protocol::PushResponse>>,
}

impl Flaky {
    pub fn new(inner: std::sync::Arc<console_core::HttpTransport>) -> std::sync::Arc<Flaky> {
        std::sync::Arc::new(Flaky {
            inner,
            online: true.into(),
            lose_next_push_answer: false.into(),
            lost: Default::default(),
        })
    }
    fn check(&self) -> Result<(), console_core::TransportError> {
        if self.online.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(())
        } else {
            Err(console_core::TransportError::Offline("cable unplugged".into()))
        }
    }
}

impl console_core::Transport for Flaky {
    fn pull<'a>(&'a self, cursor: i64, client_id: &'a str, limit: u32) -> futures_util::future::BoxFuture<'a, Result<protocol::SyncPage, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.pull(cursor, client_id, limit).await
        })
    }
    fn push<'a>(&'a self, request: &'a protocol::PushRequest) -> futures_util::future::BoxFuture<'a, Result<protocol::PushResponse, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            let response = self.inner.push(request).await?;
            if self.lose_next_push_answer.swap(false, std::sync::atomic::Ordering::SeqCst) {
                self.lost.lock().unwrap().push(response);
                return Err(console_core::TransportError::Offline("connection reset before the answer arrived".into()));
            }
            Ok(response)
        })
    }
    fn live<'a>(&'a self, client_id: &'a str, cursor: i64) -> futures_util::future::BoxFuture<'a, Result<console_core::transport::Live, console_core::TransportError>> {
        Box::pin(async move {
            self.check()?;
            self.inner.live(client_id, cursor).await
        })
    }
}

/// A private desktop session for tests: its own D-Bus session bus (no service activation, so
/// nothing of the machine's leaks in) and, on request, a GNOME Keyring answering the Secret
/// Service on it, unlocked. Stopped on drop.
pub struct PrivateSession {
    pub address: String,
    children: Vec<std::process::Child>,
    _dir: tempfile::TempDir,
}

impl PrivateSession {
    pub fn start(with_keyring: bool) -> PrivateSession {
        use std::io::{BufRead, Write};
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>unix:path={}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy></busconfig>"#,
                socket.display()
            ),
        )
        .unwrap();
        let mut bus = std::process::Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--nofork", "--print-address=1"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("dbus-daemon (package dbus) is installed by scripts/setup");
        let mut line = String::new();
        std::io::BufReader::new(bus.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line.trim().to_owned();
        let mut children = vec![bus];
        if with_keyring {
            let home = dir.path().join("home");
            let runtime = dir.path().join("run");
            std::fs::create_dir_all(&home).unwrap();
            std::fs::create_dir_all(&runtime).unwrap();
            let mut keyring = std::process::Command::new("gnome-keyring-daemon")
                .args(["--unlock", "--components=secrets", "--foreground"])
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .env("HOME", &home)
                .env("XDG_RUNTIME_DIR", &runtime)
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("gnome-keyring-daemon (package gnome-keyring) is installed by scripts/setup");
            let mut stdin = keyring.stdin.take().unwrap();
            stdin.write_all(b"test-login-password").unwrap();
            drop(stdin);
            children.push(keyring);
            // Wait until it owns the Secret Service name.
            for _ in 0..100 {
                let names = std::process::Command::new("dbus-send")
                    .args(["--print-reply", "--dest=org.freedesktop.DBus", "/", "org.freedesktop.DBus.ListNames"])
                    .env("DBUS_SESSION_BUS_ADDRESS", &address)
                    .output()
                    .unwrap();
                if String::from_utf8_lossy(&names.stdout).contains("org.freedesktop.secrets") {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
        PrivateSession { address, children, _dir: dir }
    }
}

impl Drop for PrivateSession {
    fn drop(&mut self) {
        for child in self.children.iter_mut().rev() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
