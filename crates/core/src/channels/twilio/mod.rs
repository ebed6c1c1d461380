//! SMS and WhatsApp through Twilio, all of it: a business connects its account and numbers
//! ([`setup`]); customers' messages and our messages' delivery callbacks arrive as signed,
//! form-encoded webhooks, are verified, stored and turned into customers, conversations, messages
//! and delivery states ([`intake`]), in the parameters Twilio documents ([`wire`]); replies,
//! templates and media downloads go through its REST API ([`client`]).

pub mod client;
pub mod intake;
pub mod setup;
pub mod wire;

pub use client::Client;
pub use setup::{Secrets, Settings};

/// The set-up's kind in `channels` (its addresses in `channel_addresses` are its numbers).
pub const KIND: &str = "twilio";
/// The provider of stored inbound-message webhook events.
pub const MESSAGE_EVENT: &str = "twilio";
/// The provider of stored delivery-callback webhook events.
pub const STATUS_EVENT: &str = "twilio_status";
/// The provider of stored voice call-status webhook events (missed calls).
pub const CALL_EVENT: &str = "twilio_call";
