//! `send_message`: a staff reply (takes the conversation over from the assistant).

use protocol::{ConversationId, MediaId, MessageId, MessageKind};

use super::Details;
use crate::accounts::{required_text, Actor, Permission};
use crate::channels::Outgoing;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId, message_id: &MessageId, body: &str) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    let body = required_text(body, "body", 4096)?;
    let outgoing = Outgoing::Text { body: body.clone() };
    let (_, message) = crate::sending::queue(tx, actor, conversation_id, Some(message_id.to_string()), body, MessageKind::Text, outgoing).await?;
    Ok(Some(serde_json::json!({"message_id": message.id})))
}

/// `send_media`: a file staff attach (uploaded first, `PUT /v1/media/{id}`), with its caption.
pub async fn apply_media(
    tx: &mut BusinessTx,
    actor: &Actor,
    conversation_id: &ConversationId,
    message_id: &MessageId,
    media_id: &MediaId,
    caption: &str,
) -> Result<Details, Error> {
    let (_, message) = crate::sending::queue_media(tx, actor, conversation_id, Some(message_id.to_string()), media_id, caption).await?;
    Ok(Some(serde_json::json!({"message_id": message.id})))
}
