//! Connecting Vapi (`PUT /v1/channels/vapi`): the secret Vapi authenticates its requests to
//! `/webhooks/vapi/{business_id}` with. The URL names the business, so there is no address.
//! Stored as every voice platform's secret is ([`calls::Secret`]).

use protocol::{ChannelStatus, VapiChannelSetup};

use super::KIND;
use crate::accounts::Actor;
use crate::channels::{self, calls};
use crate::error::Error;
use crate::Core;

/// Vapi's set-up and whether it works (any staff member); `not_found` when it is not connected.
pub async fn status(core: &Core, actor: &Actor) -> Result<ChannelStatus, Error> {
    channels::channel_status(core, actor, KIND).await
}

/// Disconnects Vapi (owners and admins, recently re-authenticated, like every channel): its
/// webhooks are refused from then on.
pub async fn disconnect(core: &Core, actor: &Actor) -> Result<(), Error> {
    channels::remove(core, actor, KIND).await
}

/// Connects Vapi (owners and admins).
pub async fn connect(core: &Core, actor: &Actor, req: VapiChannelSetup) -> Result<ChannelStatus, Error> {
    calls::connect(core, actor, KIND, &req.secret, "secret").await
}

/// The business's Vapi secret; a business that has not connected Vapi signs nothing.
pub async fn secret(core: &Core, business_id: &str) -> Result<String, Error> {
    calls::secret(core, business_id, KIND).await
}
