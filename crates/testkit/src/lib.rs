//! Test and benchmark support shared by the workspace: what every test that starts the real
//! service needs, written once.
//!
//! - [`TestApp`] ([`app`]): the real service in-process on port 0, on a fresh database of either
//!   [`Engine`], on a test clock with its workers drained by the test (or live, for several
//!   instances and restarts).
//! - [`on_both_engines!`]: one test body, run as `name::sqlite` and `name::postgres`.
//! - [`fakes`], [`fake_llm`]: local servers speaking the providers' documented wire formats (Meta's
//!   Graph API, Twilio, an OpenAI-compatible model), scripted by the tests; [`google`]: Google's
//!   OAuth server and Calendar API; [`whatsapp`]: signed
//!   webhooks as the providers send them.
//! - [`smtp`]: a real SMTP server on loopback that keeps the service's mail for the tests to read.
//! - [`demo`]: the seeded demo business behind its sandbox WhatsApp number, for console tests and
//!   benchmarks.
//! - [`pg_cluster`] ([`postgres`]): a throwaway PostgreSQL cluster, started by the tests
//!   themselves; [`bench`]: what the benchmarks share.

use std::path::Path;

pub mod app;
pub mod bench;
pub mod demo;
pub mod fake_llm;
pub mod fakes;
pub mod google;
pub mod postgres;
pub mod smtp;
pub mod whatsapp;

pub use app::{every_day, uuid_suffix, Reply, Tenant, TestApp};
pub use postgres::{pg_cluster, PgCluster};

/// The database engine a test or benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    pub const BOTH: [Engine; 2] = [Engine::Sqlite, Engine::Postgres];

    /// The URL of a fresh, empty database: a file in `dir`, or a new database in this process's
    /// throwaway PostgreSQL cluster.
    pub fn fresh_database(self, dir: &Path) -> String {
        match self {
            Engine::Sqlite => format!("sqlite://{}?mode=rwc", dir.join("switchboard.db").display()),
            Engine::Postgres => pg_cluster().create_database(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }

    pub fn parse(name: &str) -> Option<Engine> {
        Engine::BOTH.into_iter().find(|e| e.name() == name)
    }
}

/// Runs each test body once per engine, as the tests `name::sqlite` and `name::postgres`.
///
/// `spawn` makes what a test starts from, given its [`Engine`]: an async function or a closure
/// returning a future — `TestApp::spawn`, `|e| whatsapp::spawn_with_fakes(e, |_| {})`, or a
/// fixture of the test file's own (a business with services and the fake model). Each body takes
/// what `spawn` made, with its type written out, as any function does:
///
/// ```ignore
/// on_both_engines! {
///     spawn = |e| spawn_with_fakes(e, |c| c.handback_check_ms = 100);
///
///     async fn a_reply_takes_over((app, fake): (TestApp, FakeProviders)) {
///         ...
///     }
/// }
/// ```
#[macro_export]
macro_rules! on_both_engines {
    (spawn = $spawn:expr; $($(#[$doc:meta])* async fn $name:ident($($param:tt)*) $body:block)*) => {$(
        $(#[$doc])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn body($($param)*) $body
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                body(($spawn)($crate::Engine::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                body(($spawn)($crate::Engine::Postgres).await).await
            }
        }
    )*};
}

/// Polls `check` until it holds, for 10 s at most: for what the workers of a live service or a
/// console's sync engine will do in their own time.
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Serves `router` on a free loopback port until the process ends; returns its address.
pub async fn serve(router: axum::Router) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("a bound listener has an address");
    tokio::spawn(async move { axum::serve(listener, router).await.expect("the fake serves") });
    addr
}
