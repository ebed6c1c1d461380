//! `send_template`: an approved WhatsApp template with its variables.

use protocol::{ConversationId, MessageId, SendTemplate, TemplateId};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(
    tx: &mut BusinessTx,
    actor: &Actor,
    conversation_id: &ConversationId,
    message_id: &MessageId,
    template_id: &TemplateId,
    variables: &[String],
) -> Result<Details, Error> {
    let req = SendTemplate { template_id: template_id.clone(), variables: variables.to_vec(), client_message_id: Some(message_id.clone()) };
    let (_, message) = crate::sending::queue_template(tx, actor, conversation_id, req).await?;
    Ok(Some(serde_json::json!({"message_id": message.id})))
}
