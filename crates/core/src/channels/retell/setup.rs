//! Connecting Retell (`PUT /v1/channels/retell`): the API key (the one with the webhook badge)
//! Retell signs its requests to `/webhooks/retell/{business_id}` with. The URL names the
//! business, so there is no address.

use protocol::{ChannelStatus, RetellChannelSetup};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::KIND;
use crate::accounts::{required_text, Actor, Permission};
use crate::channels;
use crate::error::{Error, WebhookError};
use crate::Core;

#[derive(Clone, Serialize, Deserialize)]
pub struct Secret {
    /// Stored as `secret`, as every voice platform's was.
    #[serde(rename = "secret")]
    pub api_key: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RetellSecret([REDACTED])")
    }
}

/// Disconnects Retell (owners and admins, recently re-authenticated, like every channel): its
/// webhooks are refused from then on.
pub async fn disconnect(core: &Core, actor: &Actor) -> Result<(), Error> {
    channels::remove(core, actor, KIND).await
}

/// Connects Retell (owners and admins).
pub async fn connect(core: &Core, actor: &Actor, req: RetellChannelSetup) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let secret = Secret { api_key: required_text(&req.api_key, "api_key", 512)? };
    channels::save_simple(core, actor, KIND, core.secrets.seal(&secret)).await
}

/// The business's Retell API key; a business that has not connected Retell signs nothing.
pub async fn api_key(core: &Core, business_id: &str) -> Result<String, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let loaded = channels::load::<IgnoredAny, Secret>(&mut conn, &core.secrets, business_id, KIND).await?;
    loaded.map(|(_, s)| s.api_key).ok_or(WebhookError::InvalidSignature.into())
}
