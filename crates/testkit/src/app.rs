//! [`TestApp`]: the real service, in-process on port 0, on a fresh database of either engine.
//!
//! PostgreSQL runs as a throwaway cluster ([`crate::pg_cluster`]), one per test process, with a
//! fresh database per test. If the cluster cannot start, Postgres tests fail: never skip.

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchboard_cloud::clock::{Clock, SystemClock, TestClock};
use switchboard_cloud::store::Db;
use switchboard_cloud::{Application, Config, Core};

use crate::Engine;

/// The real service in-process. By default it runs on a [`TestClock`] with no background
/// workers: a test moves time with [`TestApp::advance`] and runs the workers with
/// [`TestApp::drain`] (until nothing is left to do) — it never waits for time to pass.
/// [`TestApp::spawn_live`] runs the workers in the background on the system clock instead (tests of
/// several instances, restarts and crashes).
pub struct TestApp {
    pub engine: Engine,
    pub base: String,
    pub db: Db,
    pub core: Core,
    /// Set for apps on a test clock.
    pub clock: Option<Arc<TestClock>>,
    pub client: reqwest::Client,
    pub config: Config,
    addr: SocketAddr,
    dir: Arc<tempfile::TempDir>,
    /// Dropping it stops this instance (its server and its workers).
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    running: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
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

impl Tenant {
    /// From the tokens a sign-up or an accepted invitation answered with.
    pub fn signed_in(tokens: &Value, email: String, password: String) -> Tenant {
        let field = |name: &str| tokens[name].as_str().unwrap_or_else(|| panic!("no {name} in {tokens}")).to_owned();
        Tenant { business_id: field("business_id"), staff_id: field("staff_id"), email, password, access: field("access_token"), refresh: field("refresh_token") }
    }
}

/// Opening hours for `PATCH /v1/schedule`: every day of the week from `start` to `end`.
pub fn every_day(start: &str, end: &str) -> Value {
    let day = json!([{"start": start, "end": end}]);
    json!({"monday": day, "tuesday": day, "wednesday": day, "thursday": day, "friday": day, "saturday": day, "sunday": day})
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

    /// An app whose sign-in limits tests can reach: `per_account` guesses a minute at one account
    /// from one address, 5 over all addresses, 100 from one address; requests name their address
    /// in `X-Forwarded-For` (loopback is a trusted proxy), so a test plays many addresses.
    pub async fn spawn_guessable(engine: Engine, per_account: u32) -> TestApp {
        Self::spawn_with(engine, |c| {
            c.login_attempts_per_account_per_minute = per_account;
            c.login_attempts_per_account_all_addresses_per_minute = 5;
            c.login_attempts_per_address_per_minute = 100;
            c.trusted_proxies = "127.0.0.0/8".into();
        })
        .await
    }

    /// Workers in the background, on the system clock.
    pub async fn spawn_live(engine: Engine, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(engine, None, adjust).await
    }

    pub async fn spawn_with(engine: Engine, adjust: impl FnOnce(&mut Config)) -> TestApp {
        Self::spawn_on(
            engine,
            Some(Arc::new(TestClock::starting_now())),
            |c| {
                c.run_workers = false;
                // Tests move the clock by days and keep their sign-ins across; access tokens
                // expire by this clock (a test of expiry sets the real lifetime back).
                c.access_token_ttl_secs = 366 * 86_400;
                adjust(c)
            },
        )
        .await
    }

    async fn spawn_on(engine: Engine, clock: Option<Arc<TestClock>>, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let database_url = engine.fresh_database(dir.path());
        let mut config = Config {
            bind: "127.0.0.1:0".parse().unwrap(),
            database_url: Some(database_url),
            data_dir: Some(dir.path().to_path_buf()),
            max_db_connections: 20,
            ..Config::default()
        };
        adjust(&mut config);
        Self::start(engine, config, clock, Arc::new(dir)).await
    }

    async fn start(engine: Engine, config: Config, clock: Option<Arc<TestClock>>, dir: Arc<tempfile::TempDir>) -> TestApp {
        let running: Arc<dyn Clock> = match &clock {
            Some(c) => c.clone(),
            None => Arc::new(SystemClock),
        };
        let app = Application::build_with_clock(config.clone(), running).await.expect("the service starts");
        let addr = app.local_addr();
        let db = app.state().db.clone();
        let core = app.state().core.clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let running = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        TestApp {
            engine,
            base: format!("http://{addr}"),
            db,
            core,
            clock,
            client: reqwest::Client::new(),
            config,
            addr,
            dir,
            stop: Some(stop),
            running: Some(running),
        }
    }

    /// Stops this instance and waits until it has: nothing answers on its address until
    /// [`TestApp::restart`] (what "the service went down" looks like to a console).
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(running) = self.running.take() {
            running.await.expect("the service task").expect("the service stops cleanly");
        }
    }

    /// Starts this instance again, on the same address, database and clock.
    pub async fn restart(&mut self) {
        self.stop().await;
        let mut config = self.config.clone();
        config.bind = self.addr;
        *self = Self::start(self.engine, config, self.clock.clone(), self.dir.clone()).await;
    }

    /// Another instance of the service on the same database (a restart, or a second instance),
    /// on the same clock.
    pub async fn another_instance(&self, adjust: impl FnOnce(&mut Config)) -> TestApp {
        let mut config = self.config.clone();
        config.bind = "127.0.0.1:0".parse().unwrap();
        adjust(&mut config);
        Self::start(self.engine, config, self.clock.clone(), self.dir.clone()).await
    }

    /// Runs every background job until none has anything left to do now.
    pub async fn drain(&self) {
        switchboard_cloud::workers::drain(&self.core).await.expect("the workers run");
    }

    /// Drains the workers in the background, so a test can act while a step is half-way (a
    /// person taking over while the model thinks). Await the handle before asserting.
    pub fn drain_meanwhile(&self) -> tokio::task::JoinHandle<()> {
        let core = self.core.clone();
        tokio::spawn(async move { switchboard_cloud::workers::drain(&core).await.expect("the workers run"); })
    }

    /// Drains the workers, then `check` must hold.
    pub async fn settled<F, Fut>(&self, what: &str, check: F)
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        self.drain().await;
        assert!(check().await, "after the workers settled, expected: {what}");
    }

    /// Lets `total` pass a second at a time, running the workers at each (retries with backoff,
    /// timers).
    pub async fn pass(&self, total: Duration) {
        let mut passed = Duration::ZERO;
        while passed < total {
            self.drain().await;
            self.advance(Duration::from_secs(1));
            passed += Duration::from_secs(1);
        }
        self.drain().await;
    }

    /// Moves the test clock to `at` (an RFC 3339 instant), stopping at every planned automation
    /// run's time on the way and running the workers there (reminders go out when they are due).
    pub async fn until(&self, at: &str) {
        let at = at.parse::<jiff::Timestamp>().expect("an RFC 3339 instant").as_millisecond();
        loop {
            self.drain().await;
            let now = self.now_ms();
            if now >= at {
                break;
            }
            let next: Option<i64> = sqlx::query_scalar("SELECT MIN(due_at) FROM automation_runs WHERE status = 'planned' AND due_at > $1")
                .bind(now)
                .fetch_one(self.db.reader())
                .await
                .expect("the planned runs");
            let to = next.unwrap_or(at).min(at);
            self.advance(Duration::from_millis((to - now) as u64));
        }
        self.drain().await;
    }

    /// Moves the test clock forward.
    pub fn advance(&self, by: Duration) {
        self.clock.as_ref().expect("an app on a test clock").advance(by);
    }

    /// Now, by the service's clock.
    pub fn now_ms(&self) -> i64 {
        self.db.now_ms()
    }

    /// Polls `check` until it holds (10 s at most): for apps whose workers run in the background.
    pub async fn eventually<F, Fut>(&self, what: &str, check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        crate::eventually(what, check).await
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

    /// Every item of a list, following `next_cursor` page after page (every list answers
    /// `{items, next_cursor}`); `path` may carry its own query.
    pub async fn all_items(&self, path: &str, token: &str) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        let join = if path.contains('?') { '&' } else { '?' };
        loop {
            let url = match &cursor {
                Some(c) => format!("{path}{join}limit=200&cursor={c}"),
                None => format!("{path}{join}limit=200"),
            };
            let page = self.get(&url, token).await;
            assert_eq!(page.status, StatusCode::OK, "{url}: {page:?}");
            items.extend(page.body["items"].as_array().unwrap_or_else(|| panic!("{url} answers a page: {page:?}")).iter().cloned());
            match page.body["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
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
        Tenant::signed_in(&reply.body, email, password)
    }

    /// Signs in; returns the access token.
    pub async fn login(&self, email: &str, password: &str) -> String {
        let reply = self.call(Method::POST, "/v1/auth/login", None, Some(json!({"email": email, "password": password}))).await;
        assert_eq!(reply.status, StatusCode::OK, "login: {reply:?}");
        reply.body["access_token"].as_str().expect("an access token").to_owned()
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
        Tenant::signed_in(&accepted.body, email, password)
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

