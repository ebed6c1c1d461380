//! "Send me everything you hold about me": one customer's data as a ZIP of JSON and CSV files,
//! one pair per table that holds something about them (profile and consent in `customers`,
//! conversations, messages with call records and transcripts, notes, bookings, audit entries, and
//! whatever later tables link to them), plus the media files their messages carry. The whole
//! business exports the same way. Owners and admins, after a recent re-authentication; audited.

use std::io::Write;

use sqlx::AnyConnection;

use super::schema::{schema, Kind};
use super::subject::{row_json, Subject};
use crate::accounts::{security, Actor, Permission};
use crate::error::Error;
use crate::Core;

/// Columns never exported, whatever table they are in: secrets and their hashes.
const SECRET_COLUMNS: &[&str] = &["password_hash", "token_hash", "code_hash", "secrets", "totp_secret", "verify_token_hash", "body_sealed"];
/// Tables never in a whole-business export: sign-in machinery and queues.
const INTERNAL_TABLES: &[&str] =
    &["sessions", "refresh_tokens", "account_tokens", "recovery_codes", "mail_outbox", "worker_leases", "sync_clients", "sync_mutations", "changes", "republish"];

/// Which customer: by id, phone number or email.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Who {
    pub id: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// Finds the customer `who` names in the actor's business.
pub async fn find_customer(core: &Core, actor: &Actor, who: &Who) -> Result<String, Error> {
    let mut conn = core.db.reader().acquire().await?;
    // One way of naming them: with two, which one the export is of would be a guess (and the
    // wrong person's data is the one thing an export must never hold).
    if [who.id.is_some(), who.phone.is_some(), who.email.is_some()].into_iter().filter(|given| *given).count() > 1 {
        return Err(Error::invalid("Name the customer by one of `id`, `phone` or `email`, not several."));
    }
    let (sql, value) = match (who.id.as_deref(), who.phone.as_deref(), who.email.as_deref()) {
        (Some(id), _, _) => ("SELECT id FROM customers WHERE business_id = $1 AND id = $2", id.trim().to_owned()),
        (None, Some(phone), _) => {
            // Read like every number staff type: national numbers in the business's country.
            let region = crate::customers::business_region(&mut conn, &actor.business_id).await?;
            // Or as a sender's address was kept (a short code, a number not in the plans yet).
            let phone = match crate::customers::PhoneNumber::parse(phone, region.as_deref()) {
                Ok(number) => number,
                Err(invalid) => crate::customers::PhoneNumber::sender(phone).ok_or(invalid)?,
            };
            ("SELECT id FROM customers WHERE business_id = $1 AND phone = $2", phone.as_str().to_owned())
        }
        (None, None, Some(email)) => ("SELECT id FROM customers WHERE business_id = $1 AND email = $2", email.trim().to_lowercase()),
        _ => return Err(Error::invalid("Name the customer by `id`, `phone` or `email`.")),
    };
    let found: Option<String> = sqlx::query_scalar(sql).bind(&actor.business_id).bind(value).fetch_optional(&mut *conn).await?;
    found.ok_or(Error::NotFound("customer"))
}

/// One table's rows as exported.
struct TableRows {
    name: String,
    columns: Vec<String>,
    rows: Vec<serde_json::Map<String, serde_json::Value>>,
}

async fn select(conn: &mut AnyConnection, table: &str, filter: &str, business_id: &str, values: &[String]) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, Error> {
    let sql = format!("SELECT * FROM {table} WHERE {filter}");
    let mut q = sqlx::query(&sql).bind(business_id);
    for v in values {
        q = q.bind(v);
    }
    Ok(q.fetch_all(&mut *conn).await?.iter().map(row_json).collect())
}

/// A media file for the ZIP.
struct MediaFile {
    path: String,
    bytes: Vec<u8>,
}

/// The ZIP of one customer (see the module docs).
pub async fn export_customer(core: &Core, actor: &Actor, customer_id: &str) -> Result<Vec<u8>, Error> {
    actor.require(Permission::ManageBusiness)?;
    security::require_recent(core, actor).await?;
    let mut conn = core.db.reader().acquire().await?;
    let subject = Subject::find(&mut conn, &actor.business_id, customer_id).await?;
    let mut tables = Vec::new();
    for (name, table) in &schema().tables {
        if table.personal().next().is_none() {
            continue;
        }
        let Some((filter, values)) = subject.filter(name, table) else { continue };
        let rows = select(&mut conn, name, &filter, &actor.business_id, &values).await?;
        if rows.is_empty() {
            continue;
        }
        // Only what is theirs to see: personal data and what gives it meaning (ids, times);
        // copies and secrets stay out.
        let columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| c.kind != Some(Kind::Copy) && !SECRET_COLUMNS.contains(&c.name.as_str()))
            .map(|c| c.name.clone())
            .collect();
        tables.push(TableRows { name: name.clone(), columns, rows });
    }
    let media = media_files(&mut conn, &actor.business_id, &subject.media).await?;
    drop(conn);
    let zip = tokio::task::spawn_blocking(move || write_zip(tables, media, "one customer")).await.map_err(Error::internal)??;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    tx.audit(Some(&actor.staff_id), "customer.exported", Some(("customer", customer_id)), serde_json::json!({"bytes": zip.len()})).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(zip)
}

/// Everything the business holds, as one ZIP (no secrets, no sign-in machinery).
pub async fn export_business(core: &Core, actor: &Actor) -> Result<Vec<u8>, Error> {
    actor.require(Permission::ManageBusiness)?;
    security::require_recent(core, actor).await?;
    let mut conn = core.db.reader().acquire().await?;
    let mut tables = Vec::new();
    for (name, table) in &schema().tables {
        if INTERNAL_TABLES.contains(&name.as_str()) || !(table.has("business_id") || name == "businesses") {
            continue;
        }
        let filter = if name == "businesses" { "id = $1" } else { "business_id = $1" };
        let rows = select(&mut conn, name, filter, &actor.business_id, &[]).await?;
        if rows.is_empty() {
            continue;
        }
        let columns = table.columns.iter().filter(|c| !SECRET_COLUMNS.contains(&c.name.as_str()) && c.name != "data").map(|c| c.name.clone()).collect();
        tables.push(TableRows { name: name.clone(), columns, rows });
    }
    let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM media WHERE business_id = $1").bind(&actor.business_id).fetch_all(&mut *conn).await?;
    let media = media_files(&mut conn, &actor.business_id, &ids).await?;
    drop(conn);
    let zip = tokio::task::spawn_blocking(move || write_zip(tables, media, "the whole business")).await.map_err(Error::internal)??;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    tx.audit(Some(&actor.staff_id), "business.exported", Some(("business", &actor.business_id)), serde_json::json!({"bytes": zip.len()})).await?;
    tx.commit_even_if_unchanged().await?;
    Ok(zip)
}

async fn media_files(conn: &mut AnyConnection, business_id: &str, ids: &[String]) -> Result<Vec<MediaFile>, Error> {
    use base64::Engine as _;
    use sqlx::Row;
    let mut files = Vec::new();
    for id in ids {
        let row = sqlx::query("SELECT filename, data FROM media WHERE business_id = $1 AND id = $2").bind(business_id).bind(id).fetch_optional(&mut *conn).await?;
        let Some(row) = row else { continue };
        let name: Option<String> = row.try_get("filename")?;
        let safe: String = name.unwrap_or_default().chars().filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')).take(80).collect();
        let bytes = base64::engine::general_purpose::STANDARD.decode(row.try_get::<String, _>("data")?).map_err(Error::internal)?;
        files.push(MediaFile { path: format!("media/{id}{}{safe}", if safe.is_empty() { "" } else { "-" }), bytes });
    }
    Ok(files)
}

fn csv_cell(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn write_zip(tables: Vec<TableRows>, media: Vec<MediaFile>, what: &str) -> Result<Vec<u8>, Error> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let z = |e: zip::result::ZipError| Error::internal(e);
    let io = |e: std::io::Error| Error::internal(e);
    let mut readme = format!(
        "Switchboard export of {what}.\n\nEach table is here twice: as JSON (NAME.json, an array of rows) and as CSV (NAME.csv).\n\
         Times are milliseconds since 1970-01-01 UTC. Media files are in media/.\n\nTables:\n"
    );
    for table in &tables {
        readme.push_str(&format!("- {} ({} rows)\n", table.name, table.rows.len()));
    }
    zip.start_file("README.txt", options).map_err(z)?;
    zip.write_all(readme.as_bytes()).map_err(io)?;
    for table in tables {
        let rows: Vec<serde_json::Value> = table
            .rows
            .iter()
            .map(|row| serde_json::Value::Object(table.columns.iter().filter(|c| row.contains_key(*c)).map(|c| (c.clone(), row[c].clone())).collect()))
            .collect();
        zip.start_file(format!("{}.json", table.name), options).map_err(z)?;
        zip.write_all(&serde_json::to_vec_pretty(&rows).map_err(Error::internal)?).map_err(io)?;
        let mut csv = csv::Writer::from_writer(Vec::new());
        let present: Vec<&String> = table.columns.iter().filter(|c| table.rows.first().is_some_and(|r| r.contains_key(*c))).collect();
        csv.write_record(present.iter().map(|c| c.as_str())).map_err(Error::internal)?;
        for row in &table.rows {
            csv.write_record(present.iter().map(|c| csv_cell(&row[c.as_str()]))).map_err(Error::internal)?;
        }
        zip.start_file(format!("{}.csv", table.name), options).map_err(z)?;
        zip.write_all(&csv.into_inner().map_err(|e| Error::internal(e.into_error()))?).map_err(io)?;
    }
    for file in media {
        zip.start_file(file.path, stored).map_err(z)?;
        zip.write_all(&file.bytes).map_err(io)?;
    }
    Ok(zip.finish().map_err(z)?.into_inner())
}
