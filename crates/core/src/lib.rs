//! switchboard-core: Switchboard's domain, its storage and its background work, with no web
//! framework in sight. The HTTP service (`switchboard-cloud`) is an adapter over it: routes,
//! extractors, OpenAPI, and turning [`Error`]s into status codes.
//!
//! Areas, each a folder named for what it does for a user:
//! - [`store`]: the database (SQLite or PostgreSQL), migrations, and the business transaction
//!   that records every write in the change log consoles sync from.
//! - [`accounts`]: sign-up, sign-in, sessions, staff, invitations, the business and its audit log.
//! - [`customers`], [`catalog`] (services, canned responses).
//! - [`scheduling`]: hours and rules, the availability engine, bookings, calendar feeds.
//! - [`conversations`]: the inbox, messages, notes, and who answers (takeover).
//! - [`channels`]: WhatsApp, Twilio, Vapi and Retell, one folder each (wire format, webhook
//!   intake, client, set-up); [`intake`] is the store their webhooks wait in until processed,
//!   [`sending`] the outbox ours leave through.
//! - [`assistant`]: the AI receptionist (a language model with tools, or the built-in engine).
//! - [`automations`]: what is sent by itself after a booking: confirmations, reminders and the
//!   replies to them, missed-call text-backs, follow-ups.
//! - [`privacy`]: which columns hold customers' personal data; exporting, erasing and retention.
//! - [`reports`]: the owner's figures, computed from the append-only outcomes record.
//! - [`sync`]: the change log consoles pull and the mutations they push; [`live`]: who is online.
//! - [`mail`]: mail to staff over SMTP, queued and sent by a worker.
//! - [`workers`]: the one runtime every background job is a step of; [`clock`]: the only "now".
//! - [`error`]: what the domain refuses, by area, with stable codes.

/// A secrets type's `Debug`: its name and `[REDACTED]`, never a field, so no log line at any level
/// can print a token.
macro_rules! redacted_debug {
    ($ty:ty, $label:literal) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!($label, "([REDACTED])"))
            }
        }
    };
}

pub mod accounts;
pub mod assistant;
pub mod automations;
pub mod catalog;
pub mod channels;
pub mod clock;
pub mod config;
pub mod conversations;
pub mod customers;
pub mod demo;
pub mod error;
pub mod intake;
pub mod media;
pub mod live;
pub mod mail;
pub mod metrics;
pub mod privacy;
pub mod reports;
pub mod scheduling;
pub mod sending;
pub mod store;
pub mod sync;
pub mod workers;

use std::sync::Arc;

pub use config::Config;
pub use error::{Error, Result};

/// Everything the domain needs at hand: the database (with the clock and the workers' wake-ups),
/// configuration, keys, provider clients and the live hub. Cheap to clone.
#[derive(Clone)]
pub struct Core {
    pub db: store::Db,
    pub config: Arc<Config>,
    /// Signs and checks access tokens.
    pub keys: Arc<accounts::TokenKeys>,
    /// Seals channel secrets at rest.
    pub secrets: Arc<channels::SecretBox>,
    /// WhatsApp and Twilio API clients.
    pub providers: Arc<channels::Providers>,
    /// Google's OAuth server and Calendar API.
    pub google: Arc<scheduling::google::Client>,
    /// The language model, when one is configured.
    pub llm: Option<Arc<assistant::llm::Llm>>,
    /// Verified webhooks on their way to a (group) commit.
    pub intake: intake::IntakeQueue,
    /// Connected consoles.
    pub live: Arc<live::Hub>,
    pub metrics: Arc<metrics::Metrics>,
    /// SMTP, when configured (`SWITCHBOARD_SMTP_URL`).
    pub mailer: Option<Arc<mail::Mailer>>,
}

impl Core {
    /// Builds the core on a connected database: keys from the master key, clients from the
    /// configuration, the webhook committer started.
    pub fn new(config: Config, db: store::Db, master_key: &[u8; 32]) -> Core {
        let keys = Arc::new(accounts::TokenKeys::new(master_key, &config));
        let secrets = Arc::new(channels::SecretBox::new(master_key));
        let providers = Arc::new(channels::Providers::new(&config));
        let google = Arc::new(scheduling::google::Client::new(&config));
        let llm = assistant::llm::Llm::from_config(&config).map(Arc::new);
        let intake = intake::start_committer(db.clone(), !config.run_workers);
        // (A bad SMTP URL is refused at start-up, before this.)
        let mailer = mail::Mailer::from_config(&config).ok().flatten().map(Arc::new);
        Core {
            db,
            config: Arc::new(config),
            keys,
            secrets,
            providers,
            google,
            llm,
            intake,
            live: Arc::new(live::Hub::default()),
            metrics: Arc::new(metrics::Metrics::default()),
            mailer,
        }
    }
}
