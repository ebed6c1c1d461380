//! `assign`: whose job a conversation is (`null`: nobody's).

use protocol::{ConversationId, StaffId, UpdateConversation};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId, staff_id: Option<&StaffId>) -> Result<Details, Error> {
    let req = UpdateConversation { assignee_staff_id: Some(staff_id.cloned()), ..Default::default() };
    let c = crate::conversations::apply_update(tx, actor, conversation_id, req).await?;
    Ok(Some(serde_json::json!({"assignee_staff_id": c.assignee_staff_id})))
}
