//! Connecting a business's WhatsApp Cloud API number (`PUT /v1/channels/whatsapp`): the number's
//! id routes Meta's webhooks to the business, the app secret checks their signatures, the verify
//! token answers Meta's subscription check, and the access token sends.

use protocol::{ChannelStatus, WhatsappChannelSetup};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

use super::KIND;
use crate::accounts::{required_text, token_hash, Actor, Permission};
use crate::channels::{self, SecretBox};
use crate::error::Error;
use crate::store::StoreError;
use crate::Core;

/// What staff see of the set-up.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct Secrets {
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

redacted_debug!(Secrets, "WhatsappSecrets");

/// The business's WhatsApp set-up, secrets opened; `None` when it is not connected.
pub async fn load(conn: &mut AnyConnection, secrets: &SecretBox, business_id: &str) -> Result<Option<(Settings, Secrets)>, StoreError> {
    channels::load(conn, secrets, business_id, KIND).await
}

/// Connects the business's WhatsApp Cloud API number (owners and admins).
pub async fn connect(core: &Core, actor: &Actor, req: WhatsappChannelSetup) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let phone_number_id = required_text(&req.phone_number_id, "phone_number_id", 64)?;
    if !phone_number_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid("`phone_number_id` is the numeric id Meta shows for the number, not the number itself."));
    }
    let secrets = Secrets {
        access_token: required_text(&req.access_token, "access_token", 1024)?,
        app_secret: required_text(&req.app_secret, "app_secret", 256)?,
        verify_token: required_text(&req.verify_token, "verify_token", 256)?,
    };
    let settings = Settings { phone_number_id: phone_number_id.clone(), display_phone_number: req.display_phone_number };
    let verify = token_hash(&secrets.verify_token);
    channels::save(core, actor, KIND, &settings, core.secrets.seal(&secrets), Some(verify), &[phone_number_id]).await
}

/// WhatsApp's set-up and whether it works (any staff member); `not_found` when it is not connected.
pub async fn status(core: &Core, actor: &Actor) -> Result<ChannelStatus, Error> {
    channels::channel_status(core, actor, KIND).await
}

/// Disconnects WhatsApp.
pub async fn disconnect(core: &Core, actor: &Actor) -> Result<(), Error> {
    channels::remove(core, actor, KIND).await
}
