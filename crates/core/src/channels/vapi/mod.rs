//! Phone calls through Vapi, all of it: a business connects it with a secret ([`setup`]); Vapi's
//! server messages — tool calls answered at once, status updates, end-of-call reports — arrive at
//! `/webhooks/vapi/{business_id}`, are authenticated and handled ([`intake`]), in the shapes Vapi
//! documents ([`wire`]). There is no client: Vapi calls us. What a call does here, whichever
//! platform, is [`super::calls`].

pub mod intake;
pub mod setup;
pub mod wire;

/// The set-up's kind in `channels`, and the provider named in call records.
pub const KIND: &str = "vapi";
