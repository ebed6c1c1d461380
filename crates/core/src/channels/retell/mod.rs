//! Phone calls through Retell, all of it: a business connects it with its API key ([`setup`]);
//! Retell's call events, inbound-call webhook and custom function calls arrive at
//! `/webhooks/retell/{business_id}`, are authenticated and handled ([`intake`]), in the shapes
//! Retell documents ([`wire`]). There is no client: Retell calls us. What a call does here,
//! whichever platform, is [`super::calls`].

pub mod intake;
pub mod setup;
pub mod wire;

/// The set-up's kind in `channels`, and the provider named in call records.
pub const KIND: &str = "retell";
