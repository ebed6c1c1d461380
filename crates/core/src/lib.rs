//! switchboard-core: Switchboard's domain, its storage and its background work, with no web
//! framework in sight. The HTTP service (`switchboard-cloud`) is an adapter over it: routes,
//! extractors, OpenAPI, and turning [`Error`]s into status codes.
//!
//! Areas, each a folder named for what it does for a user:
//! - [`store`]: the database (SQLite or PostgreSQL), migrations, and the business transaction that
//!   records every write in the change log consoles sync from.
//! - [`scheduling`]: the availability engine, hours and rules, bookings, calendar feeds.
//! - [`assistant`]: the AI receptionist (a language model with tools, or the built-in engine).
//! - [`workers`]: the one runtime every background job is a step of.
//! - [`clock`]: the only source of "now".
//! - [`error`]: what the domain refuses, by area, with stable codes.

pub mod assistant;
pub mod clock;
pub mod config;
pub mod error;
pub mod metrics;
pub mod scheduling;
pub mod store;
pub mod workers;

pub use config::Config;
pub use error::{Error, Result};
