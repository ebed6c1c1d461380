//! "Delete me": erasing a customer removes their personal data everywhere in the service, in one
//! transaction of the business:
//!
//! - their conversations, messages (call records and transcripts with them), notes, the media
//!   their messages carry, pending sends and assistant turns are deleted; rows of any other table
//!   linked to them (see [`super::subject`]) too;
//! - bookings the business must keep for its accounts stay, anonymised: notes and reasons
//!   cleared, future ones cancelled; the customer row stays as an empty, erased placeholder they
//!   point to;
//! - copies are purged: stored webhooks that carry their number or address, audit details about
//!   them, and any `personal copy` column of the business that still quotes one of their
//!   identifiers;
//! - consoles learn it through the change log: tombstones for the customer, conversations,
//!   messages and notes (a synced mirror and its search index drop them), new states for the
//!   bookings;
//! - the audit log gets one `customer.erased` entry with counts, never the erased data.

use std::collections::BTreeMap;

use protocol::EntityKind;
use serde_json::json;

use super::schema::{schema, Kind};
use super::purge;
use super::subject::Subject;
use crate::accounts::{security, Actor, Permission};
use crate::error::Error;
use crate::store::BusinessTx;
use crate::Core;

/// Tables erased by name below (or by [`purge::conversations`]); any other table linked to the
/// customer, their conversations or messages has its rows deleted before them.
const HANDLED: &[&str] = &[
    "customers", "bookings", "conversations", "messages", "notes", "media", "audit_log", "outbox", "assistant_jobs", "assistant_state", "automation_runs",
];
/// Linked tables that hold nothing personal and stay: the reports' append-only record (ids,
/// times and sums only; last quarter's figures do not change when someone is erased) and the
/// summaries derived from it.
const KEPT: &[&str] = &["outcomes", "report_episodes", "report_bookings"];

/// What an erasure removed, by table (also the audit entry's detail).
pub type Erased = BTreeMap<String, u64>;

async fn exec(tx: &mut BusinessTx, sql: &str, values: &[String]) -> Result<u64, Error> {
    let mut q = sqlx::query(sql).bind(tx.business_id().to_owned());
    for v in values {
        q = q.bind(v);
    }
    Ok(q.execute(tx.conn()).await?.rows_affected())
}

/// Erases the customer (owners and admins, after a recent re-authentication).
pub async fn erase_customer(core: &Core, actor: &Actor, customer_id: &str) -> Result<Erased, Error> {
    actor.require(Permission::DeleteData)?;
    security::require_recent(core, actor).await?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let subject = Subject::find(tx.conn(), &actor.business_id, customer_id).await?;
    let erased = erase(&mut tx, &subject).await?;
    tx.audit(Some(&actor.staff_id), "customer.erased", Some(("customer", customer_id)), json!({"removed": erased})).await?;
    tx.commit().await?;
    Ok(erased)
}

/// The erasure itself, in the caller's transaction (retention reuses the parts it needs).
pub async fn erase(tx: &mut BusinessTx, s: &Subject) -> Result<Erased, Error> {
    let mut erased = Erased::new();
    let now = tx.now_ms();
    // Later tables linked to the customer: their rows go first (they may point at what follows).
    // Rows linked only through a booking stay with the anonymised booking (Google Calendar's
    // links: the event is rewritten below).
    for (name, table) in &schema().tables {
        if HANDLED.contains(&name.as_str()) || KEPT.contains(&name.as_str()) || !table.has("business_id") {
            continue;
        }
        if !(table.has("customer_id") || table.has("conversation_id") || table.has("message_id")) {
            continue;
        }
        if let Some((filter, values)) = s.filter(name, table) {
            let n = exec(tx, &format!("DELETE FROM {name} WHERE {filter}"), &values).await?;
            if n > 0 {
                erased.insert(name.clone(), n);
            }
        }
    }
    // Every automation row about them (planned ones are thereby cancelled).
    let me = vec![s.customer_id.clone()];
    let n = purge::in_chunks(tx, "DELETE FROM automation_runs WHERE business_id = $1 AND customer_id IN ({in})", &me).await?;
    // Pending sends and assistant turns, then the conversations with everything in them.
    let mut counts = purge::conversations(tx, &s.conversations).await?;
    *counts.entry("automation_runs".into()).or_default() += n;
    erased.extend(counts);
    // Bookings stay for the accounts, anonymised; future ones are cancelled.
    for id in &s.bookings {
        sqlx::query(
            "UPDATE bookings SET notes = '', cancel_reason = NULL, updated_at = $1, version = version + 1, \
             status = CASE WHEN status IN ('pending', 'confirmed') AND start_at > $1 THEN 'cancelled' ELSE status END \
             WHERE id = $2 AND business_id = $3",
        )
        .bind(now)
        .bind(id)
        .bind(&s.business_id)
        .execute(tx.conn())
        .await?;
        let booking = crate::scheduling::bookings::load(tx.conn(), &s.business_id, id).await?;
        tx.record(EntityKind::Booking, id, booking.as_ref()).await?;
        // Google Calendar: a cancelled booking's event is deleted, a kept one's is written again
        // without the name (forced: its time has not changed).
        if let Some(booking) = booking {
            sqlx::query("UPDATE calendar_booking_events SET written_start = -1 WHERE booking_id = $1 AND business_id = $2").bind(id).bind(&s.business_id).execute(tx.conn()).await?;
            crate::scheduling::google::writes::queue(tx, id, booking.staff_id.as_str()).await?;
        }
    }
    erased.insert("bookings_anonymised".into(), s.bookings.len() as u64);
    // The customer: an empty placeholder the bookings point at.
    sqlx::query(
        "UPDATE customers SET name = NULL, phone = NULL, whatsapp_id = NULL, email = NULL, tags = '[]', notes = '', search_text = '', \
         opted_out_sms = 0, opted_out_whatsapp = 0, deleted_at = COALESCE(deleted_at, $1), erased_at = $1, updated_at = $1 \
         WHERE id = $2 AND business_id = $3",
    )
    .bind(now)
    .bind(&s.customer_id)
    .bind(&s.business_id)
    .execute(tx.conn())
    .await?;
    tx.record::<()>(EntityKind::Customer, &s.customer_id, None).await?;
    // Audit entries about them keep what happened, not what was said.
    let targets: Vec<String> = std::iter::once(&s.customer_id).chain(&s.bookings).cloned().collect();
    purge::in_chunks(tx, "UPDATE audit_log SET detail = '{}' WHERE business_id = $1 AND target_id IN ({in})", &targets).await?;
    // Their stored webhooks by the providers' own keys: a message's (its id) and its delivery
    // reports' (`{id}:{status}`). This finds them also for a sender no identifier names alone
    // (a short code, a sender's name).
    for id in &s.provider_ids {
        let n = sqlx::query("DELETE FROM webhook_events WHERE business_id = $1 AND (event_key = $2 OR substr(event_key, 1, CAST($3 AS INTEGER)) = $4)")
            .bind(&s.business_id)
            .bind(id)
            .bind(id.len() as i64 + 1)
            .bind(format!("{id}:"))
            .execute(tx.conn())
            .await?
            .rows_affected();
        if n > 0 {
            *erased.entry("webhook_events".to_owned()).or_default() += n;
        }
    }
    // Copies that still quote them: stored webhooks are deleted, other copies emptied. Matched
    // the same way on both engines (see [`quotes`]): the database only narrows the rows down.
    for (name, table) in &schema().tables {
        if !table.has("business_id") || name == "changes" {
            continue;
        }
        for column in table.columns.iter().filter(|c| c.kind == Some(Kind::Copy) && c.ty == "TEXT") {
            let quoting = values_quoting(tx, name, &column.name, &s.identifiers).await?;
            for value in quoting {
                if name == "webhook_events" {
                    let sql = format!("DELETE FROM {name} WHERE business_id = $1 AND {c} = $2", c = column.name);
                    let n = sqlx::query(&sql).bind(&s.business_id).bind(&value).execute(tx.conn()).await?.rows_affected();
                    *erased.entry(name.clone()).or_default() += n;
                    continue;
                }
                let empty = if !column.not_null {
                    None
                } else if value.starts_with('[') {
                    Some("[]")
                } else if value.starts_with('{') {
                    Some("{}")
                } else {
                    Some("")
                };
                let sql = format!("UPDATE {name} SET {c} = $3 WHERE business_id = $1 AND {c} = $2", c = column.name);
                sqlx::query(&sql).bind(&s.business_id).bind(&value).bind(empty).execute(tx.conn()).await?;
            }
        }
    }
    erased.retain(|_, n| *n > 0);
    Ok(erased)
}

/// Whether `text` quotes `identifier`: as a substring, whatever the letters' case (Unicode
/// lower case on both sides). The rule is Rust's, not the database's: `LIKE` is case-blind on
/// SQLite (for ASCII only) but not on PostgreSQL, which also reads a backslash as an escape, so
/// a name copied in lower case into a search text was found on one engine and left on the
/// other; and `_` (common in email addresses) is a wildcard to both.
pub fn quotes(text: &str, identifier: &str) -> bool {
    let identifier = identifier.trim();
    !identifier.is_empty() && text.to_lowercase().contains(&identifier.to_lowercase())
}

/// A `LIKE` pattern (for `LOWER(column)`) that every text [`quotes`]ing `identifier` matches on
/// either engine: ASCII letters lower-cased, and every character either engine could read
/// differently (non-ASCII letters, whose case only PostgreSQL folds; `%`, `_` and `\`) left to a
/// one-character wildcard. It may match more; [`quotes`] decides.
fn like_pattern(identifier: &str) -> String {
    let inner: String = identifier.trim().chars().map(|c| if c.is_ascii() && !matches!(c, '%' | '_' | '\\') { c.to_ascii_lowercase() } else { '_' }).collect();
    format!("%{inner}%")
}

/// The distinct values of `table.column` of the business that quote one of `identifiers`.
async fn values_quoting(tx: &mut BusinessTx, table: &str, column: &str, identifiers: &[String]) -> Result<Vec<String>, Error> {
    let mut found = std::collections::BTreeSet::new();
    for identifier in identifiers.iter().filter(|i| !i.trim().is_empty()) {
        let sql = format!("SELECT DISTINCT {column} FROM {table} WHERE business_id = $1 AND LOWER({column}) LIKE $2");
        let candidates: Vec<String> = sqlx::query_scalar(&sql).bind(tx.business_id().to_owned()).bind(like_pattern(identifier)).fetch_all(tx.conn()).await?;
        found.extend(candidates.into_iter().filter(|v| quotes(v, identifier)));
    }
    Ok(found.into_iter().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_quotes_an_identifier_whatever_the_case() {
        assert!(quotes("zephyrine erasable +447700900123", "Zephyrine Erasable"));
        assert!(quotes("Réservation pour ÉLODIE", "Élodie"));
        assert!(quotes("{\"to\":\"jo_ann@example.com\"}", "jo_ann@example.com"));
        assert!(!quotes("joXann@example.com", "jo_ann@example.com"));
        assert!(!quotes("Zoe Smith", "Zoë Smith"));
        assert!(!quotes("anything", "  "));
    }

    #[test]
    fn the_database_pattern_narrows_without_deciding() {
        assert_eq!(like_pattern("Jo_Ann\\50%"), "%jo_ann_50_%");
        assert_eq!(like_pattern("Élodie"), "%_lodie%");
    }
}
