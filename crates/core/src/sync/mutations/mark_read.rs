//! `mark_read`: nothing unread in the conversation any more.

use protocol::{ConversationId, UpdateConversation};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId) -> Result<Details, Error> {
    let req = UpdateConversation { mark_read: Some(true), ..Default::default() };
    crate::conversations::apply_update(tx, actor, conversation_id, req).await?;
    Ok(None)
}
