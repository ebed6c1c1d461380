//! WhatsApp through Meta's Cloud API, all of it: a business connects its number ([`setup`]);
//! customers' messages and our messages' statuses arrive as signed webhooks, are verified, stored
//! and turned into customers, conversations, messages and delivery states ([`intake`]), in the
//! shapes Meta documents ([`wire`]); replies, templates and media downloads go through the Graph
//! API ([`client`]).

pub mod client;
pub mod intake;
pub mod setup;
pub mod wire;

pub use client::Client;
pub use setup::{Secrets, Settings};

/// The set-up's kind in `channels` (its address in `channel_addresses` is the phone_number_id).
pub const KIND: &str = "whatsapp";
/// The provider of its stored webhook events.
pub const EVENT: &str = "whatsapp";
