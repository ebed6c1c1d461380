//! `take_over`: the person answers from now on (`already_held` names whoever was first).

use protocol::ConversationId;

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let c = crate::conversations::takeover::take_over(tx, conversation_id, &actor.staff_id).await?;
    Ok(Some(serde_json::json!({"mode": c.mode, "holder_staff_id": c.holder_staff_id})))
}
