//! `hand_back`: the assistant answers again.

use protocol::ConversationId;

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let c = crate::conversations::takeover::hand_back(tx, conversation_id, Some(actor), "").await?;
    Ok(Some(serde_json::json!({"mode": c.mode, "holder_staff_id": c.holder_staff_id})))
}
