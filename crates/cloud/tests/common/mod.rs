//! Test harness: the real service, in-process on port 0, on a fresh database of either engine.
//!
//! PostgreSQL runs as a throwaway cluster that this harness starts itself (initdb + pg_ctl in a
//! temp dir, on a free port), once per test binary; each test gets its own database in it. When
//! the tests run as root, the cluster runs as the `postgres` system user (initdb refuses root). A
//! watchdog process stops the cluster and removes its files when the test binary exits. If the
//! cluster cannot start, Postgres tests fail: they never skip.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use switchboard_cloud::store::Db;
use switchboard_cloud::{Application, Config};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

/// Runs each listed test body once per engine: `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! on_both_engines {
    ($(async fn $name:ident($app:ident: TestApp) $body:block)*) => {$(
        mod $name {
            use super::*;
            async fn body($app: TestApp) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() { body(TestApp::spawn(Engine::Sqlite).await).await }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() { body(TestApp::spawn(Engine::Postgres).await).await }
        }
    )*};
}

pub struct TestApp {
    pub engine: Engine,
    pub base: String,
    pub db: Db,
    pub client: reqwest::Client,
    pub config: Config,
    _dir: tempfile::TempDir,
}

/// A signed-up business and its owner's tokens.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub business_id: String,
    pub staff_id: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// The stable error code, if this is an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl std::fmt::Debug for Reply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.body)
    }
}

impl TestApp {
    pub async fn spawn(engine: Engine) -> TestApp {
        Self::spawn_with(engine, |_| {}).await
    }

    pub async fn spawn_with(engine: Engine, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = match engine {
            Engine::Sqlite => format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display()),
            Engine::Postgres => pg_cluster().create_database(),
        };
        let mut config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(database_url),
            data_dir: Some(dir.path().to_path_buf()),
            max_db_connections: 20,
            ..Config::default()
        };
        adjust(&mut config);
        let app = Application::build(config.clone()).await.expect("the service starts");
        let base = format!("http://{}", app.local_addr());
        let db = app.state().db.clone();
        tokio::spawn(app.run_until(std::future::pending()));
        TestApp { engine, base, db, client: reqwest::Client::new(), config, _dir: dir }
    }

    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut req = self.client.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let res = req.send().await.expect("request reaches the service");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Signs up a new business; `label` makes the email unique.
    pub async fn signup(&self, label: &str) -> Tenant {
        let email = format!("{label}-{}@example.com", uuid_suffix());
        let password = "correct horse battery".to_string();
        let reply = self
            .call(
                Method::POST,
                "/v1/auth/signup",
                None,
                Some(json!({"business_name": format!("{label} Studio"), "timezone": "Europe/London", "name": format!("{label} Owner"), "email": email, "password": password})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{reply:?}");
        Tenant {
            business_id: reply.body["business_id"].as_str().unwrap().into(),
            staff_id: reply.body["staff_id"].as_str().unwrap().into(),
            email,
            password,
            access: reply.body["access_token"].as_str().unwrap().into(),
            refresh: reply.body["refresh_token"].as_str().unwrap().into(),
        }
    }

    /// Invites `role` into the tenant's business and accepts; returns the new member's tokens.
    pub async fn add_staff(&self, owner: &Tenant, role: &str) -> Tenant {
        let email = format!("{role}-{}@example.com", uuid_suffix());
        let invite = self.post("/v1/invitations", &owner.access, json!({"email": email, "role": role})).await;
        assert_eq!(invite.status, StatusCode::CREATED, "{invite:?}");
        let password = "another good password".to_string();
        let accepted = self
            .call(
                Method::POST,
                "/v1/auth/accept-invitation",
                None,
                Some(json!({"token": invite.body["token"], "name": format!("A {role}"), "password": password})),
            )
            .await;
        assert_eq!(accepted.status, StatusCode::CREATED, "{accepted:?}");
        Tenant {
            business_id: accepted.body["business_id"].as_str().unwrap().into(),
            staff_id: accepted.body["staff_id"].as_str().unwrap().into(),
            email,
            password,
            access: accepted.body["access_token"].as_str().unwrap().into(),
            refresh: accepted.body["refresh_token"].as_str().unwrap().into(),
        }
    }

    /// The business's change-log position.
    pub async fn last_seq(&self, business_id: &str) -> i64 {
        sqlx::query_scalar("SELECT last_seq FROM businesses WHERE id = $1").bind(business_id).fetch_one(self.db.reader()).await.unwrap()
    }

    /// `(seq, entity, entity_id)` of the business's change log, in seq order.
    pub async fn changes(&self, business_id: &str) -> Vec<(i64, String, String)> {
        use sqlx::Row;
        sqlx::query("SELECT seq, entity, entity_id FROM changes WHERE business_id = $1 ORDER BY seq")
            .bind(business_id)
            .fetch_all(self.db.reader())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1), r.get::<String, _>(2)))
            .collect()
    }
}

pub fn uuid_suffix() -> String {
    uuid::Uuid::now_v7().simple().to_string()[20..].to_string()
}

// ---------------------------------------------------------------------------------------------
// The throwaway PostgreSQL cluster

pub struct PgCluster {
    port: u16,
    admin_url: String,
}

static CLUSTER: OnceLock<PgCluster> = OnceLock::new();

pub fn pg_cluster() -> &'static PgCluster {
    CLUSTER.get_or_init(|| PgCluster::start().unwrap_or_else(|e| panic!("could not start a throwaway PostgreSQL cluster: {e}")))
}

fn pg_bin_dir() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("SWITCHBOARD_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (no /usr/lib/postgresql); install the `postgresql` package".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    candidates.sort();
    candidates.pop().ok_or_else(|| "no initdb under /usr/lib/postgresql/*/bin".into())
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc_geteuid() == 0 }
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// A command for a PostgreSQL binary, run as `postgres` when we are root.
fn pg_command(bin: &Path, program: &str) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl PgCluster {
    fn start() -> Result<PgCluster, String> {
        let bin = pg_bin_dir()?;
        let dir = tempfile::Builder::new().prefix("switchboard-pg-").tempdir().map_err(|e| e.to_string())?.keep();
        if is_root() {
            let status = Command::new("chown").arg("postgres:").arg(&dir).status().map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("chown of the cluster directory to postgres failed".into());
            }
        }
        let data = dir.join("data");
        let out = pg_command(&bin, "initdb")
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        let port = free_port();
        let options = format!(
            "-p {port} -h 127.0.0.1 -k {} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400",
            dir.display()
        );
        let out = pg_command(&bin, "pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-o", &options, "-l"])
            .arg(dir.join("log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .output()
            .map_err(|e| format!("pg_ctl: {e}"))?;
        if !out.status.success() {
            let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed: {}{log}", String::from_utf8_lossy(&out.stderr)));
        }
        // Stop the cluster and remove its files once this test process is gone.
        let stop = if is_root() { "runuser -u postgres -- " } else { "" };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop}{pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
            pid = std::process::id(),
            pg_ctl = bin.join("pg_ctl").display(),
            data = data.display(),
            dir = dir.display(),
        );
        Command::new("setsid")
            .args(["sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        Ok(PgCluster { port, admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres") })
    }

    /// A new, empty database; returns its URL.
    pub fn create_database(&self) -> String {
        let name = format!("t_{}", uuid::Uuid::now_v7().simple());
        let admin = self.admin_url.clone();
        let sql = format!("CREATE DATABASE {name}");
        // Run on a private runtime: the caller's runtime may be mid-poll.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&admin).await.expect("connect to the throwaway cluster");
                sqlx::Executor::execute(&mut conn, sql.as_str()).await.expect("create test database");
            })
        })
        .join()
        .unwrap();
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}
