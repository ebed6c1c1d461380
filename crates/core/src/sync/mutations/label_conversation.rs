//! `label_conversation`: adds and removes labels, keeping the ones others added meanwhile.

use protocol::ConversationId;

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId, add: &[String], remove: &[String]) -> Result<Details, Error> {
    let c = crate::conversations::label(tx, actor, conversation_id, add, remove).await?;
    Ok(Some(serde_json::json!({"labels": c.labels})))
}
