//! Connecting Vapi (`PUT /v1/channels/vapi`): the secret Vapi authenticates its requests to
//! `/webhooks/vapi/{business_id}` with. The URL names the business, so there is no address.

use protocol::{ChannelStatus, VapiChannelSetup};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::KIND;
use crate::accounts::{required_text, Actor, Permission};
use crate::channels;
use crate::error::{Error, WebhookError};
use crate::Core;

#[derive(Clone, Serialize, Deserialize)]
pub struct Secret {
    pub secret: String,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VapiSecret([REDACTED])")
    }
}

/// Disconnects Vapi (owners and admins, recently re-authenticated, like every channel): its
/// webhooks are refused from then on.
pub async fn disconnect(core: &Core, actor: &Actor) -> Result<(), Error> {
    channels::remove(core, actor, KIND).await
}

/// Connects Vapi (owners and admins).
pub async fn connect(core: &Core, actor: &Actor, req: VapiChannelSetup) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let secret = Secret { secret: required_text(&req.secret, "secret", 512)? };
    channels::save_simple(core, actor, KIND, core.secrets.seal(&secret)).await
}

/// The business's Vapi secret; a business that has not connected Vapi signs nothing.
pub async fn secret(core: &Core, business_id: &str) -> Result<String, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let loaded = channels::load::<IgnoredAny, Secret>(&mut conn, &core.secrets, business_id, KIND).await?;
    loaded.map(|(_, s)| s.secret).ok_or(WebhookError::InvalidSignature.into())
}
