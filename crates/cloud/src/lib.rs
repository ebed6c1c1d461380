//! switchboard-cloud: the headless service behind Switchboard's AI front desk.
//!
//! The service is a library so that tests start the real thing in-process: [`startup::Application`]
//! is built from a [`config::Config`] (port 0 and a fresh database are fine) and serves the public
//! HTTP API. The binary in `main.rs` only parses the command line and calls into here.
//!
//! Areas, each named for what it does for a user:
//! - [`store`]: the database (SQLite or PostgreSQL), migrations, and the business transaction that
//!   records every write in the per-business change log consoles sync from.
//! - [`accounts`]: signup, login, rotating refresh tokens, invitations, and the `Auth` extractor
//!   that scopes every request to one business.
//! - [`business`], [`staff`], [`customers`], [`services`], [`canned_responses`],
//!   [`conversations`]: the REST resources under `/v1`.
//! - [`availability`]: the pure engine that finds free appointment times; [`schedule`]: hours,
//!   exceptions and rules; [`bookings`]: the only way anything books; [`calendar_feeds`]: iCalendar.
//! - [`channels`], [`intake`], [`outbox`], [`providers`]: WhatsApp and Twilio — set-up, signed
//!   webhooks committed before they are acknowledged, and a durable outbox that sends once.
//! - [`http`]: the router, error envelope, extractors, limits, health, metrics and OpenAPI.
//! - [`demo`]: the seeded demo business behind `switchboard-cloud demo`.

pub mod accounts;
pub mod assistant;
pub mod bookings;
pub mod calendar_feeds;
pub mod builtin;
pub mod business;
pub mod canned_responses;
pub mod channels;
pub mod control;
pub mod conversations;
pub mod customers;
pub mod demo;
pub mod error;
pub mod http;
pub mod intake;
pub mod live;
pub mod outbox;
pub mod providers;
pub mod sandbox;
pub mod schedule;
pub mod services;
pub mod staff;
pub mod startup;
pub mod sync;
pub mod voice;

pub use switchboard_core::assistant::{llm, when};
pub use switchboard_core::scheduling::availability;
pub use switchboard_core::{clock, config, metrics, store, workers};
pub use switchboard_core::Config;

/// The system's time and ids for the areas that have not moved into the core yet.
pub(crate) mod legacy {
    use switchboard_core::clock::{Clock, SystemClock};

    pub fn now_ms() -> i64 {
        SystemClock.now_ms()
    }

    pub fn new_id() -> String {
        switchboard_core::clock::new_id(&SystemClock)
    }
}
pub use startup::Application;
