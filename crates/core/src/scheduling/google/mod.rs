//! Google Calendar, both ways, for each staff member who connects their account:
//!
//! - [`connect`]: OAuth 2.0 for installed apps (system browser, loopback redirect, PKCE), tokens
//!   sealed like channel secrets, refreshed; "reconnect needed" the moment Google refuses.
//! - [`sync`]: the chosen calendars' busy times (not transparent or declined events) kept in
//!   `calendar_events`, which availability and the booking path read; push channels, incremental
//!   reads by sync token, polling when there is no channel, and a diffing full read after a 410.
//! - [`writes`]: our bookings written into their calendar through a durable queue, marked with the
//!   booking id so they never come back as outside changes.
//! - [`tasks`]: outside moves and deletes of our events become decisions for the front desk.
//! - [`client`] and [`wire`]: Google's endpoints and JSON.
//!
//! All of it runs as one job of the worker runtime ([`step`]), one instance at a time (a lease).

pub mod client;
pub mod connect;
pub mod sync;
pub mod tasks;
pub mod wire;
pub mod writes;

pub use client::Client;

use std::time::Duration;

use crate::error::Error;
use crate::workers::{lease, Job};
use crate::Core;

/// One step of the calendar job: the queued writes, then the calendars due to be read.
pub async fn step(core: &Core) -> Result<usize, Error> {
    if !core.google.is_configured() {
        return Ok(0);
    }
    if !lease(core, Job::Calendar, Duration::from_secs(120)).await? {
        return Ok(0);
    }
    let written = writes::process_due(core).await?;
    let read = sync::sync_due(core).await?;
    Ok(written + read)
}
