//! switchboard-cloud: the headless service behind Switchboard's AI front desk, as an HTTP adapter
//! over `switchboard-core` (which owns the domain, its storage and its background work).
//!
//! The service is a library so that tests start the real thing in-process: [`startup::Application`]
//! is built from a [`Config`] (port 0 and a fresh database are fine) and serves the public HTTP
//! API. The binary in `main.rs` only parses the command line and calls into here.
//!
//! - [`http`]: the router, request pipeline, extractors (the signed-in staff member), limits,
//!   health, metrics and the OpenAPI document; [`error`]: the error envelope and the one mapping
//!   from codes to statuses.
//! - [`routes`]: one module per area, each a thin layer of handlers over the core.
//! - [`sandbox`]: the demo's stand-in for Meta's Graph API.

pub mod error;
pub mod http;
pub mod logs;
pub mod routes;
pub mod sandbox;
pub mod serve;
pub mod startup;

pub use startup::Application;
pub use switchboard_core::Config;

// The core's areas under the names the handlers use.
pub use switchboard_core::accounts::{self, business, staff};
pub use switchboard_core::assistant::{self, builtin, llm, when};
pub use switchboard_core::catalog::{canned as canned_responses, services};
pub use switchboard_core::channels::{self, calls, retell, twilio, vapi, whatsapp};
pub use switchboard_core::conversations::{self, takeover as control};
pub use switchboard_core::scheduling::{availability, bookings, feeds as calendar_feeds, google as google_calendar, hours as schedule};
pub use switchboard_core::sending as outbox;
pub use switchboard_core::{clock, config, customers, demo, intake, live, mail, metrics, privacy, store, sync, workers, Core};
