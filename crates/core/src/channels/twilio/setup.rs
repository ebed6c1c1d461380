//! Connecting a business's Twilio account and numbers (`PUT /v1/channels/twilio`): the numbers
//! route Twilio's webhooks to the business (a `whatsapp:` one is a WhatsApp sender too), the auth
//! token checks their signatures and, with the account SID, sends.

use protocol::{ChannelStatus, TwilioChannelSetup};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::KIND;
use crate::accounts::{required_text, Actor, Permission};
use crate::channels::{self, SecretBox};
use crate::customers::PhoneNumber;
use crate::error::Error;
use crate::store::StoreError;
use crate::Core;

/// What staff see of the set-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub account_sid: String,
    /// E.164, without any `whatsapp:` prefix.
    pub numbers: Vec<String>,
    /// Numbers that are WhatsApp senders (`whatsapp:+…` when set up).
    #[serde(default)]
    pub whatsapp_numbers: Vec<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    pub auth_token: String,
}

redacted_debug!(Secrets, "TwilioSecrets");

/// The business's Twilio set-up, secrets opened; `None` when it is not connected.
pub async fn load(conn: &mut AnyConnection, secrets: &SecretBox, business_id: &str) -> Result<Option<(Settings, Secrets)>, StoreError> {
    channels::load(conn, secrets, business_id, KIND).await
}

/// Connects the business's Twilio account and numbers (owners and admins).
pub async fn connect(core: &Core, actor: &Actor, req: TwilioChannelSetup) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let account_sid = required_text(&req.account_sid, "account_sid", 64)?;
    // `AC` and 32 hexadecimal digits, as Twilio makes them: a typo is said now, not at the first
    // send.
    let sid_digits = account_sid.strip_prefix("AC").unwrap_or("");
    if sid_digits.len() != 32 || !sid_digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid("`account_sid` is AC and 32 letters and digits (find it on the Twilio console's home page)."));
    }
    if req.numbers.is_empty() {
        return Err(Error::invalid("Give at least one Twilio number."));
    }
    let mut numbers = Vec::new();
    let mut whatsapp_numbers = Vec::new();
    for raw in &req.numbers {
        let (is_whatsapp, number) = match raw.trim().strip_prefix("whatsapp:") {
            Some(n) => (true, n),
            None => (false, raw.trim()),
        };
        let number = PhoneNumber::parse(number, None)?.as_str().to_owned();
        if is_whatsapp {
            whatsapp_numbers.push(number.clone());
        }
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    let settings = Settings { account_sid, numbers: numbers.clone(), whatsapp_numbers };
    let secrets = Secrets { auth_token: required_text(&req.auth_token, "auth_token", 256)? };
    channels::save(core, actor, KIND, &settings, core.secrets.seal(&secrets), None, &numbers).await
}

/// Twilio's set-up and whether it works (any staff member); `not_found` when it is not connected.
pub async fn status(core: &Core, actor: &Actor) -> Result<ChannelStatus, Error> {
    channels::channel_status(core, actor, KIND).await
}

/// Disconnects Twilio.
pub async fn disconnect(core: &Core, actor: &Actor) -> Result<(), Error> {
    channels::remove(core, actor, KIND).await
}
