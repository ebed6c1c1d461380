//! Building and running the service: one function from a [`Config`] to a running application, so
//! tests start exactly what production runs (port 0, a fresh database).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::ConfigError;
use crate::http::limits::{Limits, TrustedProxies};
use crate::http::AppState;
use crate::store::{Db, StoreError};
use crate::Core;
use crate::Config;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Mail(#[from] switchboard_core::mail::MailConfigError),
    #[error("SWITCHBOARD_TRUSTED_PROXIES: {0}")]
    TrustedProxies(#[from] crate::http::limits::NotAProxy),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

impl Application {
    /// Connects to the database, applies migrations, and binds the listener.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        Self::build_with_clock(config, Arc::new(crate::clock::SystemClock)).await
    }

    /// As [`Application::build`], with the clock the service runs on (tests pass a test clock).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn crate::clock::Clock>) -> Result<Application, StartupError> {
        let url = config.resolved_database_url()?;
        let db = Db::connect(&url, config.max_db_connections, clock).await?;
        db.migrate().await?;
        Self::with_db(config, db).await
    }

    /// Like [`Application::build`], on an already connected and migrated database.
    pub async fn with_db(config: Config, db: Db) -> Result<Application, StartupError> {
        let key = config.resolved_encryption_key()?;
        switchboard_core::mail::Mailer::from_config(&config)?;
        let trusted_proxies = Arc::new(TrustedProxies::parse(&config.trusted_proxies)?);
        let limits = Arc::new(Limits::new(&config, db.clock().clone()));
        let listener = TcpListener::bind(config.bind).await.map_err(|source| StartupError::Bind { addr: config.bind, source })?;
        let core = Core::new(config, db, &key);
        let mut state_slot = None;
        let router = crate::http::app(|openapi| {
            let state = AppState { core, limits, trusted_proxies, openapi };
            state_slot = Some(state.clone());
            state
        });
        let state = state_slot.expect("app() builds the state");
        Ok(Application { listener, router, state })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves (and runs the webhook and sender workers) until `shutdown` completes, then finishes
    /// the requests in flight and stops the workers.
    pub async fn run_until(self, shutdown: impl std::future::Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let mut workers = Vec::new();
        {
            let db = self.state.db.clone();
            let stopped = stopped.clone();
            workers.push(tokio::spawn(async move { db.relay_other_instances(stopped).await }));
        }
        workers.push(tokio::spawn(switchboard_core::live::Hub::run(self.state.core.clone(), stopped.clone())));
        if self.state.config.run_workers {
            workers.extend(switchboard_core::workers::spawn(&self.state.core, stopped));
        }
        let hygiene = crate::serve::Hygiene {
            header_read_timeout: std::time::Duration::from_millis(self.state.config.header_read_timeout_ms.max(1)),
            max_connections_per_address: self.state.config.max_connections_per_address.max(1),
        };
        let hub = self.state.live.clone();
        let shutdown = async move {
            shutdown.await;
            // Live sessions would otherwise keep a graceful shutdown waiting forever.
            hub.close_all();
        };
        let served = crate::serve::serve(self.listener, self.router, hygiene, shutdown).await;
        let _ = stop.send(true);
        for worker in workers {
            let _ = worker.await;
        }
        served
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
}
