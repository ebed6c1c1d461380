//! Deleting conversations for good, with everything that hangs off them: their messages (call
//! records and transcripts are messages), notes, the media files their messages carry, pending
//! sends, the assistant's queued turns and memory, automation rows and what audit entries say
//! about them. Consoles get tombstones, so a synced mirror and its search index drop the text.
//! Erasure ([`super::erase`]) and retention ([`super::retention`]) both use it, so "deleted"
//! means the same in both.

use std::collections::BTreeMap;

use protocol::EntityKind;

use crate::store::placeholders;
use crate::error::Error;
use crate::store::BusinessTx;

/// Rows removed, by table.
pub type Counts = BTreeMap<String, u64>;

/// Runs `sql` (with `{in}` standing for the list) over `values` in chunks; `$1` is the business.
pub(crate) async fn in_chunks(tx: &mut BusinessTx, sql: &str, values: &[String]) -> Result<u64, Error> {
    let mut total = 0;
    for chunk in values.chunks(500) {
        let sql = sql.replace("{in}", &placeholders(2, chunk.len()));
        let mut q = sqlx::query(&sql).bind(tx.business_id().to_owned());
        for v in chunk {
            q = q.bind(v);
        }
        total += q.execute(tx.conn()).await?.rows_affected();
    }
    Ok(total)
}

/// Ids selected by `sql` (with `{in}`) over `values`.
pub(crate) async fn ids_in(tx: &mut BusinessTx, sql: &str, values: &[String]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for chunk in values.chunks(500) {
        let sql = sql.replace("{in}", &placeholders(2, chunk.len()));
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(tx.business_id().to_owned());
        for v in chunk {
            q = q.bind(v);
        }
        out.extend(q.fetch_all(tx.conn()).await?);
    }
    Ok(out)
}

/// The media ids a message's `media` column links to (`/v1/media/{id}`).
pub(crate) fn media_ids(texts: &[String]) -> Vec<String> {
    let mut media = std::collections::BTreeSet::new();
    for text in texts {
        for part in text.split("/v1/media/").skip(1) {
            let id: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
            if !id.is_empty() {
                media.insert(id);
            }
        }
    }
    media.into_iter().collect()
}

/// Deletes the conversations `ids` of the transaction's business (see the module docs).
pub async fn conversations(tx: &mut BusinessTx, ids: &[String]) -> Result<Counts, Error> {
    let mut counts = Counts::new();
    if ids.is_empty() {
        return Ok(counts);
    }
    let messages = ids_in(tx, "SELECT id FROM messages WHERE business_id = $1 AND conversation_id IN ({in})", ids).await?;
    let notes = ids_in(tx, "SELECT id FROM notes WHERE business_id = $1 AND conversation_id IN ({in})", ids).await?;
    let media_texts = ids_in(tx, "SELECT media FROM messages WHERE business_id = $1 AND conversation_id IN ({in}) AND media IS NOT NULL", ids).await?;
    let media = media_ids(&media_texts);
    // Automation rows: follow-ups and text-backs of these conversations go; a booking's reminders
    // stay (so nothing is sent twice) without their link to the messages that go.
    let mut n = in_chunks(tx, "DELETE FROM automation_runs WHERE business_id = $1 AND booking_id IS NULL AND conversation_id IN ({in})", ids).await?;
    n += in_chunks(tx, "DELETE FROM automation_runs WHERE business_id = $1 AND booking_id IS NULL AND message_id IN ({in})", &messages).await?;
    in_chunks(tx, "UPDATE automation_runs SET conversation_id = NULL, message_id = NULL, detail = '{}' WHERE business_id = $1 AND conversation_id IN ({in})", ids).await?;
    in_chunks(tx, "UPDATE automation_runs SET conversation_id = NULL, message_id = NULL, detail = '{}' WHERE business_id = $1 AND message_id IN ({in})", &messages).await?;
    counts.insert("automation_runs".into(), n);
    // What the workers keep: unsent replies (a send in flight finds its row gone and stops), the
    // assistant's queued turns and its memory.
    counts.insert("outbox".into(), in_chunks(tx, "DELETE FROM outbox WHERE business_id = $1 AND message_id IN ({in})", &messages).await?);
    counts.insert("assistant_jobs".into(), in_chunks(tx, "DELETE FROM assistant_jobs WHERE business_id = $1 AND conversation_id IN ({in})", ids).await?);
    in_chunks(tx, "DELETE FROM assistant_state WHERE business_id = $1 AND conversation_id IN ({in})", ids).await?;
    counts.insert("notes".into(), in_chunks(tx, "DELETE FROM notes WHERE business_id = $1 AND id IN ({in})", &notes).await?);
    for id in &notes {
        tx.record::<()>(EntityKind::Note, id, None).await?;
    }
    counts.insert("messages".into(), in_chunks(tx, "DELETE FROM messages WHERE business_id = $1 AND id IN ({in})", &messages).await?);
    for id in &messages {
        tx.record::<()>(EntityKind::Message, id, None).await?;
    }
    counts.insert("conversations".into(), in_chunks(tx, "DELETE FROM conversations WHERE business_id = $1 AND id IN ({in})", ids).await?);
    for id in ids {
        tx.record::<()>(EntityKind::Conversation, id, None).await?;
    }
    counts.insert("media".into(), in_chunks(tx, "DELETE FROM media WHERE business_id = $1 AND id IN ({in})", &media).await?);
    // Audit entries about them keep what happened, not what was said.
    let targets: Vec<String> = ids.iter().chain(&messages).chain(&notes).cloned().collect();
    in_chunks(tx, "UPDATE audit_log SET detail = '{}' WHERE business_id = $1 AND target_id IN ({in})", &targets).await?;
    counts.retain(|_, n| *n > 0);
    Ok(counts)
}
