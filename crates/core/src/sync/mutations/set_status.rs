//! `set_status`: resolve or reopen a conversation.

use protocol::{ConversationId, ConversationStatus, UpdateConversation};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId, status: ConversationStatus) -> Result<Details, Error> {
    let req = UpdateConversation { status: Some(status), ..Default::default() };
    crate::conversations::apply_update(tx, actor, conversation_id, req).await?;
    Ok(None)
}
