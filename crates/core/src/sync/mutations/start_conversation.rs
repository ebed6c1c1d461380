//! `start_conversation`: the desk writes first. Opens the customer's conversation on a channel
//! (with the console's id, or their open one there) and sends the first message in the same
//! transaction, so a conversation is never started empty: on WhatsApp an approved template (a
//! business may not write freely to someone who has not written in the last 24 hours), on SMS
//! text. Writing takes the conversation over, as any staff reply does.

use protocol::{Channel, ConversationId, CustomerId, MessageId, MessageKind, SendTemplate, TemplateId};

use super::Details;
use crate::accounts::{required_text, Actor, Permission};
use crate::channels::Outgoing;
use crate::error::Error;
use crate::store::BusinessTx;

#[allow(clippy::too_many_arguments)]
pub async fn apply(
    tx: &mut BusinessTx,
    actor: &Actor,
    conversation_id: &ConversationId,
    customer_id: &CustomerId,
    channel: Channel,
    message_id: &MessageId,
    body: Option<&str>,
    template_id: Option<&TemplateId>,
    variables: &[String],
) -> Result<Details, Error> {
    actor.require(Permission::HandleConversations)?;
    if uuid::Uuid::parse_str(conversation_id.as_str()).is_err() {
        return Err(Error::invalid("`conversation_id` must be a UUID."));
    }
    let customer = crate::customers::load(tx.conn(), &actor.business_id, customer_id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    let reachable = match channel {
        Channel::Sms => customer.phone.is_some(),
        Channel::Whatsapp | Channel::TwilioWhatsapp => customer.phone.is_some() || customer.whatsapp_id.is_some(),
        Channel::Voice => return Err(Error::invalid("A phone call cannot be started from the console; start an SMS or WhatsApp conversation.")),
    };
    if !reachable {
        return Err(Error::invalid("This customer has no phone number or WhatsApp id to write to: add one first."));
    }
    let whatsapp = matches!(channel, Channel::Whatsapp | Channel::TwilioWhatsapp);
    // Checked before anything is written: a refused start leaves no empty conversation.
    let first = match (whatsapp, template_id, body) {
        (true, Some(template_id), _) => First::Template(template_id.clone()),
        (true, None, _) => return Err(Error::invalid("On WhatsApp the first message to a customer is an approved template: pick one.")),
        (false, _, Some(body)) => First::Text(required_text(body, "body", 4096)?),
        (false, _, None) => return Err(Error::invalid("Write the first message (`body`).")),
    };
    let conversation = crate::conversations::open_with_id(tx, customer_id, channel, Some(conversation_id.as_str())).await?;
    let (_, message) = match first {
        First::Template(template_id) => {
            let req = SendTemplate { template_id, variables: variables.to_vec(), client_message_id: Some(message_id.clone()) };
            crate::sending::queue_template(tx, actor, &conversation.id, req).await?
        }
        First::Text(body) => {
            let outgoing = Outgoing::Text { body: body.clone() };
            crate::sending::queue(tx, actor, &conversation.id, Some(message_id.to_string()), body, MessageKind::Text, outgoing).await?
        }
    };
    Ok(Some(serde_json::json!({"conversation_id": conversation.id, "message_id": message.id})))
}

enum First {
    Template(TemplateId),
    Text(String),
}
