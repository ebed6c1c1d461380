//! `use_canned_response`: a saved reply, sent as it is when the mutation is applied.

use protocol::{CannedResponseId, ConversationId, MessageId, MessageKind};

use super::Details;
use crate::accounts::{Actor, Permission};
use crate::channels::Outgoing;
use crate::error::{Error, SendRefusal};
use crate::store::BusinessTx;

pub async fn apply(
    tx: &mut BusinessTx,
    actor: &Actor,
    conversation_id: &ConversationId,
    message_id: &MessageId,
    canned_response_id: &CannedResponseId,
) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let canned = crate::catalog::canned::load(tx.conn(), &actor.business_id, canned_response_id).await?.ok_or(SendRefusal::UnknownCannedResponse)?;
    let outgoing = Outgoing::Text { body: canned.body.clone() };
    let (_, message) = crate::sending::queue(tx, actor, conversation_id, Some(message_id.to_string()), canned.body, MessageKind::Text, outgoing).await?;
    Ok(Some(serde_json::json!({"message_id": message.id})))
}
