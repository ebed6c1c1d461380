//! One customer and every row that is about them, found through the schema rather than a list
//! written by hand: a table's rows are theirs through `customer_id`, `conversation_id`,
//! `message_id` or `booking_id` (so a table added later is found without touching this file),
//! plus the media their messages link to and the audit entries whose target they are.

use std::collections::BTreeSet;

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Column, Row};

use super::schema::{schema, Table};
use crate::error::Error;
use crate::store::placeholders;

/// The customer and the ids of what is theirs.
#[derive(Debug, Default, Clone)]
pub struct Subject {
    pub business_id: String,
    pub customer_id: String,
    pub conversations: Vec<String>,
    pub messages: Vec<String>,
    pub notes: Vec<String>,
    pub bookings: Vec<String>,
    pub media: Vec<String>,
    /// Their name, phone (and its digits), WhatsApp id and email, each when it names them alone
    /// (see [`names_them_alone`]): what a copy of their data would contain.
    pub identifiers: Vec<String>,
    /// The providers' ids of their messages (Twilio's `MessageSid`, Meta's `wamid…`): what their
    /// stored webhooks are keyed by, whether or not an identifier names them alone.
    pub provider_ids: Vec<String>,
}

async fn ids(conn: &mut AnyConnection, sql: &str, business_id: &str, keys: &[String]) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for chunk in keys.chunks(500) {
        if chunk.is_empty() {
            continue;
        }
        let sql = sql.replace("{in}", &placeholders(2, chunk.len()));
        let mut q = sqlx::query_scalar::<_, String>(&sql).bind(business_id);
        for k in chunk {
            q = q.bind(k);
        }
        out.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(out)
}

/// Whether a customer's `column` value names them alone, so that a copy quoting it is a copy
/// about them. Copies are matched by substring (see `erase::quotes`), and erasing one deletes a
/// stored webhook or empties another customer's preview or queued message: a short or common
/// value (a first name alone, `Sam`; a short code or sender name kept as a phone, `12345`,
/// `VERIFY`) would be found in other people's copies. An email; a number in international form
/// (7 digits or more); a WhatsApp id of 7 characters or more; a name of two words or more.
fn names_them_alone(column: &str, value: &str) -> bool {
    let value = value.trim();
    let digits = value.chars().filter(char::is_ascii_digit).count();
    match column {
        "email" => value.contains('@'),
        "phone" => crate::customers::international(value) && digits >= 7,
        "whatsapp_id" => value.chars().count() >= 7,
        _ => value.split_whitespace().count() >= 2 && value.chars().count() >= 5,
    }
}


impl Subject {
    /// The customer `customer_id` of the business (also an erased one), and what is theirs.
    pub async fn find(conn: &mut AnyConnection, business_id: &str, customer_id: &str) -> Result<Subject, Error> {
        let row = sqlx::query("SELECT id, name, phone, whatsapp_id, email FROM customers WHERE business_id = $1 AND id = $2")
            .bind(business_id)
            .bind(customer_id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(Error::NotFound("customer"))?;
        let mut identifiers = Vec::new();
        for column in ["name", "phone", "whatsapp_id", "email"] {
            if let Some(value) = row.try_get::<Option<String>, _>(column)?.filter(|v| names_them_alone(column, v)) {
                if column == "phone" {
                    identifiers.push(value.trim_start_matches('+').to_owned());
                }
                identifiers.push(value);
            }
        }
        let me = vec![customer_id.to_owned()];
        let conversations = ids(conn, "SELECT id FROM conversations WHERE business_id = $1 AND customer_id IN ({in})", business_id, &me).await?;
        let messages = ids(conn, "SELECT id FROM messages WHERE business_id = $1 AND conversation_id IN ({in})", business_id, &conversations).await?;
        let notes = ids(conn, "SELECT id FROM notes WHERE business_id = $1 AND conversation_id IN ({in})", business_id, &conversations).await?;
        let bookings = ids(conn, "SELECT id FROM bookings WHERE business_id = $1 AND customer_id IN ({in})", business_id, &me).await?;
        let provider_ids =
            ids(conn, "SELECT provider_message_id FROM messages WHERE business_id = $1 AND id IN ({in}) AND provider_message_id IS NOT NULL", business_id, &messages).await?;
        let media_texts = ids(conn, "SELECT media FROM messages WHERE business_id = $1 AND id IN ({in})", business_id, &messages).await?;
        let mut media = BTreeSet::new();
        for text in media_texts {
            for part in text.split("/v1/media/").skip(1) {
                let id: String = part.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
                if !id.is_empty() {
                    media.insert(id);
                }
            }
        }
        Ok(Subject {
            business_id: business_id.to_owned(),
            customer_id: customer_id.to_owned(),
            conversations,
            messages,
            notes,
            bookings,
            media: media.into_iter().collect(),
            identifiers,
            provider_ids,
        })
    }

    /// How `table`'s rows about this customer are selected: a WHERE clause and its values (after
    /// `$1`, the business), or `None` when the table cannot be linked to a customer.
    pub fn filter(&self, name: &str, table: &Table) -> Option<(String, Vec<String>)> {
        let scoped = |column: &str, values: &[String]| {
            let business = if table.has("business_id") { "business_id = $1 AND " } else { "CAST($1 AS TEXT) = CAST($1 AS TEXT) AND " };
            if values.is_empty() {
                Some((format!("{business}1 = 0"), vec![]))
            } else {
                Some((format!("{business}{column} IN ({})", placeholders(2, values.len())), values.to_vec()))
            }
        };
        let me = vec![self.customer_id.clone()];
        match name {
            "customers" => scoped("id", &me),
            "media" => scoped("id", &self.media),
            "conversations" => scoped("id", &self.conversations),
            "messages" => scoped("id", &self.messages),
            "notes" => scoped("id", &self.notes),
            "bookings" => scoped("id", &self.bookings),
            "audit_log" => {
                let targets: Vec<String> =
                    me.iter().chain(&self.conversations).chain(&self.messages).chain(&self.notes).chain(&self.bookings).cloned().collect();
                scoped("target_id", &targets)
            }
            _ if table.has("customer_id") => scoped("customer_id", &me),
            _ if table.has("conversation_id") => scoped("conversation_id", &self.conversations),
            _ if table.has("message_id") => scoped("message_id", &self.messages),
            _ if table.has("booking_id") => scoped("booking_id", &self.bookings),
            _ => None,
        }
    }
}

/// Tables with personal-data columns that no rule links to a customer (an export would miss
/// them): the privacy test requires none.
pub fn unlinked_tables() -> Vec<String> {
    let probe = Subject::default();
    schema()
        .tables
        .iter()
        .filter(|(_, t)| t.personal().next().is_some())
        .filter(|(name, t)| probe.filter(name, t).is_none())
        .map(|(name, _)| name.clone())
        .collect()
}

/// A row as JSON, whatever its columns' types.
pub fn row_json(row: &AnyRow) -> serde_json::Map<String, serde_json::Value> {
    let mut out = serde_json::Map::new();
    for (i, column) in row.columns().iter().enumerate() {
        let value = if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v.map(serde_json::Value::String).unwrap_or(serde_json::Value::Null)
        } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map(serde_json::Value::from).unwrap_or(serde_json::Value::Null)
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map(serde_json::Value::from).unwrap_or(serde_json::Value::Null)
        } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
            v.map(serde_json::Value::from).unwrap_or(serde_json::Value::Null)
        } else {
            serde_json::Value::Null
        };
        out.insert(column.name().to_owned(), value);
    }
    out
}
