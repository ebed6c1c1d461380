//! Connecting Retell (`PUT /v1/channels/retell`): the API key (the one with the webhook badge)
//! Retell signs its requests to `/webhooks/retell/{business_id}` with. The URL names the
//! business, so there is no address. Stored as every voice platform's secret is ([`calls::Secret`]).

use protocol::{ChannelStatus, RetellChannelSetup};

use super::KIND;
use crate::accounts::Actor;
use crate::channels::{self, calls};
use crate::error::Error;
use crate::Core;

/// Retell's set-up and whether it works (any staff member); `not_found` when it is not connected.
pub async fn status(core: &Core, actor: &Actor) -> Result<ChannelStatus, Error> {
    channels::channel_status(core, actor, KIND).await
}

/// Disconnects Retell (owners and admins, recently re-authenticated, like every channel): its
/// webhooks are refused from then on.
pub async fn disconnect(core: &Core, actor: &Actor) -> Result<(), Error> {
    channels::remove(core, actor, KIND).await
}

/// Connects Retell (owners and admins).
pub async fn connect(core: &Core, actor: &Actor, req: RetellChannelSetup) -> Result<ChannelStatus, Error> {
    calls::connect(core, actor, KIND, &req.api_key, "api_key").await
}

/// The business's Retell API key; a business that has not connected Retell signs nothing.
pub async fn api_key(core: &Core, business_id: &str) -> Result<String, Error> {
    calls::secret(core, business_id, KIND).await
}
