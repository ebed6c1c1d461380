//! `add_note`: an internal note (customers never see it).

use protocol::{ConversationId, NoteId};

use super::Details;
use crate::accounts::Actor;
use crate::error::Error;
use crate::store::BusinessTx;

pub async fn apply(tx: &mut BusinessTx, actor: &Actor, conversation_id: &ConversationId, note_id: &NoteId, body: &str) -> Result<Details, Error> {
    let note = crate::conversations::add_note(tx, actor, conversation_id, Some(note_id.to_string()), body).await?;
    Ok(Some(serde_json::json!({"note_id": note.id})))
}
