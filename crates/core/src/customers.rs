//! Customers: the people who write and call. Found by name or phone; phone numbers are parsed
//! with `phonenumber` (a port of Google's libphonenumber) and stored as E.164, so `07911 123456`
//! typed by a London salon and `+44 7911 123456` from WhatsApp are the same customer. An address
//! a provider delivered from that is no valid number (a range the plans do not know yet, a short
//! code, a sender's name) is kept as sent ([`PhoneNumber::sender`]): one sender, one customer.

use crate::Core;
use protocol::EntityKind;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex, PoisonError};

use protocol::{CreateCustomer, Customer, Page, UpdateCustomer};
use sqlx::any::AnyRow;
use sqlx::AnyConnection;
use sqlx::Row;

use crate::accounts::{normalise_email, Actor, Permission};
use crate::error::{CatalogError, Error};
use crate::store::columns::read_row;
use crate::store::{bind_all, Bind, BusinessTx, Filter, Key, Order, Paging, StoreError};

/// A phone number in E.164 form: a valid number, typed or sent ([`PhoneNumber::parse`]), or the
/// address a provider delivered a message or call from ([`PhoneNumber::sender`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The address a customer wrote or called from, as Twilio or a voice platform gives it. A
    /// valid number, in E.164. A number in international form that the numbering plans here do
    /// not know as valid (a new range, a number kept for tests) is still that person's address,
    /// and replies go to it: kept as sent. So are short codes and alphanumeric senders
    /// (`VERIFY`), which cannot be answered but are one sender each. `None`: no address at all.
    pub fn sender(text: &str) -> Option<PhoneNumber> {
        if let Ok(number) = PhoneNumber::parse(text, None) {
            return Some(number);
        }
        let text = text.trim();
        let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
        // A number in international form as typed (`+44 7700 900101`) is the same address.
        let packed: String = text.chars().filter(|c| !" -().".contains(*c)).collect();
        if packed.strip_prefix('+').is_some_and(|d| (7..=15).contains(&d.len()) && digits(d)) {
            return Some(PhoneNumber(packed));
        }
        let short_code = (3..=8).contains(&text.len()) && digits(text);
        let alphanumeric = (2..=11).contains(&text.len())
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == ' ')
            && text.chars().any(|c| c.is_ascii_alphabetic());
        (short_code || alphanumeric).then(|| PhoneNumber(text.to_owned()))
    }

    /// A caller's number: as [`PhoneNumber::sender`], numbers in international form only (a
    /// withheld number arrives as a word like `anonymous`, and is nobody's address).
    pub fn caller(text: &str) -> Option<PhoneNumber> {
        PhoneNumber::sender(text).filter(|p| international(&p.0))
    }

    /// Parses `text`, reading national numbers as being in `default_region` (ISO 3166 alpha-2).
    ///
    /// Reading a number against its numbering plan costs about 100 µs (`phonenumber` tries each
    /// kind of number's patterns), and intake reads the same senders again and again: a burst
    /// of messages from 500 people spent a sixth of its processing here. The answers, valid or
    /// not, are kept in a bounded cache; the plans never change while the service runs.
    pub fn parse(text: &str, default_region: Option<&str>) -> Result<PhoneNumber, Error> {
        type Parsed = hashlink::LruCache<(String, Option<String>), Option<String>>;
        static PARSED: LazyLock<Mutex<Parsed>> = LazyLock::new(|| Mutex::new(Parsed::new(PARSED_KEPT)));
        let invalid = || Error::InvalidPhone(format!("`{text}` is not a valid phone number. Include the country code, like +44 7911 123456."));
        let (trimmed, region) = (text.trim(), default_region.map(str::to_ascii_uppercase));
        // Only text as short as a number is kept: the cache's memory stays bounded whatever
        // callers send (anything longer is read each time; it is no number anyway).
        if trimmed.len() > PARSED_LONGEST {
            return e164(trimmed, region.as_deref()).map(PhoneNumber).ok_or_else(invalid);
        }
        let key = (trimmed.to_owned(), region);
        let kept = PARSED.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned();
        let e164 = match kept {
            Some(e164) => e164,
            None => {
                let e164 = e164(&key.0, key.1.as_deref());
                PARSED.lock().unwrap_or_else(PoisonError::into_inner).insert(key, e164.clone());
                e164
            }
        };
        e164.map(PhoneNumber).ok_or_else(invalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many parsed numbers [`PhoneNumber::parse`] keeps (under 200 bytes each).
const PARSED_KEPT: usize = 20_000;
/// The longest text [`PhoneNumber::parse`] keeps an answer for, in bytes.
const PARSED_LONGEST: usize = 40;

/// `text` (trimmed) in E.164 if it is a valid number, national numbers read in `region`.
fn e164(text: &str, region: Option<&str>) -> Option<String> {
    let region = region.and_then(|r| phonenumber::country::Id::from_str(r).ok());
    let number = phonenumber::parse(region, text).ok()?;
    phonenumber::is_valid(&number).then(|| number.format().mode(phonenumber::Mode::E164).to_string())
}

/// A customer's WhatsApp id — one rule for webhook intake, the customers API and the console's
/// mutations: the digits of their number in E.164 (`447911123456`; a `+`, spaces, dashes, dots,
/// brackets and a `whatsapp:` prefix are dropped, so `+44 7911 123456` is the same id), 7 to 15
/// digits not starting with 0; or, for people who hide their number, Meta's business-scoped user
/// id (letters, digits, `.`, `-`, `_`, at most 64; kept as sent). A number typed with spaces or
/// brackets needs its `+` and country code. Anything else is `invalid_phone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappId(String);

impl WhatsappId {
    pub fn parse(text: &str) -> Result<WhatsappId, Error> {
        let invalid = || {
            Error::InvalidPhone(format!(
                "`{text}` is not a WhatsApp id: give the number with its country code, like 447911123456 or +44 7911 123456."
            ))
        };
        let trimmed = text.trim();
        let trimmed = trimmed.strip_prefix("whatsapp:").unwrap_or(trimmed).trim();
        let phone_like = trimmed.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) && trimmed.chars().any(|c| c.is_ascii_digit());
        if phone_like {
            // A number typed with spaces or brackets carries its country code after a `+`; a bare
            // run of digits is taken as Meta sends it (country code first, no `+`).
            let typed = trimmed.chars().any(|c| " -().".contains(c));
            if trimmed.chars().skip(1).any(|c| c == '+') || (typed && !trimmed.starts_with('+')) {
                return Err(invalid());
            }
            let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
            if !(7..=15).contains(&digits.len()) || digits.starts_with('0') {
                return Err(invalid());
            }
            return Ok(WhatsappId(digits));
        }
        let token = !trimmed.is_empty()
            && trimmed.len() <= 64
            && trimmed.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c))
            && trimmed.chars().any(|c| c.is_ascii_alphabetic());
        if token {
            Ok(WhatsappId(trimmed.to_owned()))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The customer's phone number, when the id is one that libphonenumber knows as valid.
    pub fn phone(&self) -> Option<PhoneNumber> {
        if !self.0.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        PhoneNumber::parse(&format!("+{}", self.0), None).ok()
    }
}

/// Whether a stored phone is a number in international form (what [`PhoneNumber`] stores for
/// every number), not a short code or a sender's name kept as a sender's address.
pub fn international(phone: &str) -> bool {
    phone.starts_with('+')
}

/// Whether messages can reach the customer: a WhatsApp id, or a phone number in international
/// form. A short code or a sender's name kept as their phone ([`PhoneNumber::sender`]) writes to
/// the business but takes no answer; nothing automatic is sent to it.
pub fn takes_answers(customer: &Customer) -> bool {
    customer.whatsapp_id.is_some() || customer.phone.as_deref().is_none_or(international)
}

/// A customer not stored yet: the given id, business, phone, WhatsApp id and name, nothing else.
pub(crate) fn unsaved(id: String, business_id: &str, phone: Option<&str>, whatsapp_id: Option<&str>, name: Option<String>) -> Customer {
    Customer {
        id: id.into(),
        business_id: business_id.to_owned().into(),
        name,
        phone: phone.map(str::to_owned),
        whatsapp_id: whatsapp_id.map(str::to_owned),
        email: None,
        tags: vec![],
        notes: String::new(),
        opted_out_sms: false,
        opted_out_whatsapp: false,
        created_at: protocol::Timestamp::UNIX_EPOCH,
        updated_at: protocol::Timestamp::UNIX_EPOCH,
    }
}

/// Whether messages on `channel` can reach the customer: an SMS goes to their phone, so a short
/// code or a sender's name takes none even when the customer also has a WhatsApp id.
pub fn takes_answers_on(customer: &Customer, channel: protocol::Channel) -> bool {
    match channel {
        protocol::Channel::Sms => customer.phone.as_deref().is_none_or(international),
        _ => takes_answers(customer),
    }
}

/// The region subtag of a locale (`en-GB` → `GB`), used to read national phone numbers.
pub fn locale_region(locale: &str) -> Option<String> {
    locale.split(['-', '_']).skip(1).find(|part| part.len() == 2 && part.chars().all(|c| c.is_ascii_alphabetic())).map(str::to_ascii_uppercase)
}

const COLUMNS: &str =
    "id, business_id, name, phone, whatsapp_id, email, tags, notes, opted_out_sms, opted_out_whatsapp, created_at, updated_at";

fn from_row(row: &AnyRow) -> Result<Customer, StoreError> {
    Ok(read_row!(row => Customer {
        id, business_id, name, phone, whatsapp_id, email, tags: json, notes,
        opted_out_sms: flag, opted_out_whatsapp: flag, created_at, updated_at,
    }))
}

/// The business's customer (not deleted) whose `column` (`whatsapp_id` or `phone`) is `value`.
pub async fn find_by(conn: &mut AnyConnection, business_id: &str, column: ContactColumn, value: &str) -> Result<Option<Customer>, StoreError> {
    let column = match column {
        ContactColumn::WhatsappId => "whatsapp_id",
        ContactColumn::Phone => "phone",
    };
    fetch(conn, &format!("{column} = $1 AND business_id = $2 AND deleted_at IS NULL"), value, business_id).await
}

/// The contact details a customer is found by ([`find_by`]).
#[derive(Debug, Clone, Copy)]
pub enum ContactColumn {
    WhatsappId,
    Phone,
}

/// A customer who has not been deleted.
pub async fn load(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Customer>, StoreError> {
    fetch(conn, "id = $1 AND business_id = $2 AND deleted_at IS NULL", id, business_id).await
}

/// A customer, deleted or not (a conversation still shows who it was with).
pub async fn load_any(conn: &mut AnyConnection, business_id: &str, id: &str) -> Result<Option<Customer>, StoreError> {
    fetch(conn, "id = $1 AND business_id = $2", id, business_id).await
}

/// As [`load_any`], for several customers in one query (at most a few hundred ids).
pub(crate) async fn load_many(conn: &mut AnyConnection, business_id: &str, ids: &[&str]) -> Result<Vec<Customer>, StoreError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = (2..ids.len() + 2).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ");
    let sql = format!("SELECT {COLUMNS} FROM customers WHERE business_id = $1 AND id IN ({list})");
    let mut query = sqlx::query(&sql).bind(business_id);
    for id in ids {
        query = query.bind(*id);
    }
    query.fetch_all(conn).await?.iter().map(from_row).collect()
}

/// What intake compares of a customer it found ([`find_by_contacts`]).
pub(crate) struct Contact {
    pub id: String,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub whatsapp_id: Option<String>,
}

/// The business's customers (not deleted) who have one of these WhatsApp ids or phone numbers
/// ([`find_by`] for many at once): one statement, each list one JSON parameter, each value an
/// index lookup.
/// Only the columns intake compares are read (see `conversations::current_for`).
pub(crate) async fn find_by_contacts(tx: &mut BusinessTx, whatsapp_ids: &[&str], phones: &[&str]) -> Result<Vec<Contact>, StoreError> {
    let engine = tx.engine();
    let business_id = tx.business_id().to_owned();
    let columns = "c.id, c.name, c.phone, c.whatsapp_id";
    let by_whatsapp = crate::store::json_join(engine, "c.whatsapp_id", "$2");
    let by_phone = crate::store::json_join(engine, "c.phone", "$3");
    let sql = format!(
        "SELECT {columns} FROM {} customers c WHERE c.business_id = $1 AND c.deleted_at IS NULL AND {} \
         UNION SELECT {columns} FROM {} customers c WHERE c.business_id = $1 AND c.deleted_at IS NULL AND {}",
        by_whatsapp.0, by_whatsapp.1, by_phone.0, by_phone.1
    );
    let rows: Vec<(String, Option<String>, Option<String>, Option<String>)> = sqlx::query_as(&sql)
        .bind(&business_id)
        .bind(crate::store::json_param(whatsapp_ids)?)
        .bind(crate::store::json_param(phones)?)
        .fetch_all(tx.conn())
        .await?;
    Ok(rows.into_iter().map(|(id, name, phone, whatsapp_id)| Contact { id, name, phone, whatsapp_id }).collect())
}

/// The customer matching `filter` (`$1` and `$2` bound to `first` and `business_id`), if any.
async fn fetch(conn: &mut AnyConnection, filter: &str, first: &str, business_id: &str) -> Result<Option<Customer>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM customers WHERE {filter}"))
        .bind(first)
        .bind(business_id)
        .fetch_optional(conn)
        .await?;
    row.as_ref().map(from_row).transpose()
}

fn search_text(c: &Customer) -> String {
    let digits: String = c.phone.iter().flat_map(|p| p.chars()).filter(char::is_ascii_digit).collect();
    // A sender's name kept as their phone (`VERIFY`) is searched by that name.
    let named = c.phone.as_deref().filter(|p| p.chars().any(|ch| ch.is_ascii_alphabetic())).unwrap_or("");
    [c.name.as_deref().unwrap_or(""), &digits, named, c.whatsapp_id.as_deref().unwrap_or(""), c.email.as_deref().unwrap_or("")]
        .join(" ")
        .to_lowercase()
}

/// The business's country, where national numbers are read (see `accounts::region`).
pub(crate) async fn business_region(conn: &mut AnyConnection, business_id: &str) -> Result<Option<String>, StoreError> {
    let row = sqlx::query("SELECT locale, timezone FROM businesses WHERE id = $1").bind(business_id).fetch_one(conn).await?;
    Ok(crate::accounts::region::business_country(&row.try_get::<String, _>("locale")?, &row.try_get::<String, _>("timezone")?))
}

fn clean_tags(tags: Vec<String>) -> Result<Vec<String>, Error> {
    let mut out: Vec<String> = Vec::new();
    for tag in tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() || tag.chars().count() > 50 {
            return Err(Error::invalid("Each tag must be 1 to 50 characters."));
        }
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    if out.len() > 50 {
        return Err(Error::invalid("A customer can have at most 50 tags."));
    }
    Ok(out)
}

fn optional_text(value: Option<String>, field: &str, max: usize) -> Result<Option<String>, Error> {
    match value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) {
        Some(v) if v.chars().count() > max => Err(Error::invalid(format!("`{field}` must be at most {max} characters."))),
        other => Ok(other),
    }
}

/// Writes the customer row (insert or update) and records the change. Used by the REST API and,
/// later, by webhook intake.
pub async fn save(tx: &mut crate::store::BusinessTx, customer: &Customer, insert: bool) -> Result<Customer, Error> {
    let now = tx.now_ms();
    let sql = if insert {
        "INSERT INTO customers (name, phone, whatsapp_id, email, tags, notes, opted_out_sms, opted_out_whatsapp, search_text, \
         updated_at, created_at, id, business_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11, $12)"
    } else {
        "UPDATE customers SET name = $1, phone = $2, whatsapp_id = $3, email = $4, tags = $5, notes = $6, opted_out_sms = $7, \
         opted_out_whatsapp = $8, search_text = $9, updated_at = $10 WHERE id = $11 AND business_id = $12"
    };
    let result = bind_profile(sqlx::query(sql), customer)?
        .bind(now)
        .bind(customer.id.clone())
        .bind(tx.business_id().to_owned())
        .execute(tx.conn())
        .await;
    if let Err(e) = result {
        let e = StoreError::from(e);
        return Err(if e.is_unique_violation() {
            Error::from(CatalogError::CustomerExists)
        } else {
            e.into()
        });
    }
    let business_id = tx.business_id().to_owned();
    let saved = load(tx.conn(), &business_id, &customer.id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    tx.record(EntityKind::Customer, &saved.id, Some(&saved)).await?;
    Ok(saved)
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// Binds a customer's stored profile in column order: name, phone, WhatsApp id, email, tags,
/// notes, the two opt-outs and the search text.
fn bind_profile<'q>(query: Query<'q>, customer: &Customer) -> Result<Query<'q>, Error> {
    Ok(query
        .bind(customer.name.clone())
        .bind(customer.phone.clone())
        .bind(customer.whatsapp_id.clone())
        .bind(customer.email.clone())
        .bind(serde_json::to_string(&customer.tags).map_err(Error::internal)?)
        .bind(customer.notes.clone())
        .bind(i64::from(customer.opted_out_sms))
        .bind(i64::from(customer.opted_out_whatsapp))
        .bind(search_text(customer)))
}

/// Inserts new customers with one statement per few dozen and records them, as [`save`] does
/// one.
pub(crate) async fn insert_many(tx: &mut BusinessTx, customers: &[Customer]) -> Result<Vec<Customer>, Error> {
    const WIDTH: usize = 10;
    let now = tx.now_ms();
    let business_id = tx.business_id().to_owned();
    let mut saved = Vec::with_capacity(customers.len());
    for chunk in customers.chunks(crate::store::rows_per_statement(WIDTH)) {
        let values: Vec<String> = (0..chunk.len())
            .map(|r| {
                let p: Vec<String> = (0..WIDTH).map(|i| format!("${}", WIDTH * r + i + 3)).collect();
                format!("({}, $1, $1, {}, $2)", p[..9].join(", "), p[9])
            })
            .collect();
        let sql = format!(
            "INSERT INTO customers (name, phone, whatsapp_id, email, tags, notes, opted_out_sms, opted_out_whatsapp, search_text, \
             updated_at, created_at, id, business_id) VALUES {} RETURNING {COLUMNS}",
            values.join(", ")
        );
        let mut query = sqlx::query(&sql).bind(now).bind(&business_id);
        for customer in chunk {
            query = bind_profile(query, customer)?.bind(customer.id.to_string());
        }
        for row in query.fetch_all(tx.conn()).await? {
            let customer = from_row(&row)?;
            tx.record(EntityKind::Customer, &customer.id, Some(&customer)).await?;
            saved.push(customer);
        }
    }
    Ok(saved)
}

/// Changes a customer's profile (the REST route and sync share it).
pub async fn apply_update(tx: &mut BusinessTx, auth: &Actor, id: &str, req: UpdateCustomer) -> Result<Customer, Error> {
    auth.require(Permission::HandleConversations)?;
    let mut customer = load(tx.conn(), &auth.business_id, id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    // Which fields changed, never their values (the audit log outlives an erased customer).
    let fields: Vec<&str> = [
        ("name", req.name.is_some()),
        ("phone", req.phone.is_some()),
        ("whatsapp_id", req.whatsapp_id.is_some()),
        ("email", req.email.is_some()),
        ("tags", req.tags.is_some()),
        ("notes", req.notes.is_some()),
        ("opted_out_sms", req.opted_out_sms.is_some()),
        ("opted_out_whatsapp", req.opted_out_whatsapp.is_some()),
    ]
    .into_iter()
    .filter_map(|(f, set)| set.then_some(f))
    .collect();
    if let Some(name) = req.name {
        customer.name = optional_text(name, "name", 200)?;
    }
    if let Some(phone) = req.phone {
        let region = business_region(tx.conn(), &auth.business_id).await?;
        customer.phone = optional_text(phone, "phone", 40)?
            .map(|p| PhoneNumber::parse(&p, region.as_deref()).map(|p| p.as_str().to_owned()))
            .transpose()?;
    }
    if let Some(whatsapp_id) = req.whatsapp_id {
        customer.whatsapp_id = optional_text(whatsapp_id, "whatsapp_id", 64)?.map(|w| WhatsappId::parse(&w).map(|w| w.0)).transpose()?;
    }
    if let Some(email) = req.email {
        customer.email = optional_text(email, "email", 254)?.map(|e| normalise_email(&e)).transpose()?;
    }
    if let Some(tags) = req.tags {
        customer.tags = clean_tags(tags)?;
    }
    if let Some(notes) = req.notes {
        customer.notes = optional_text(Some(notes), "notes", 10_000)?.unwrap_or_default();
    }
    if let Some(v) = req.opted_out_sms {
        customer.opted_out_sms = v;
    }
    if let Some(v) = req.opted_out_whatsapp {
        customer.opted_out_whatsapp = v;
    }
    let saved = save(tx, &customer, false).await?;
    tx.audit(Some(&auth.staff_id), "customer.updated", Some(("customer", id)), serde_json::json!({"fields": fields})).await?;
    Ok(saved)
}

/// Adds and removes tags (the console's `tag_customer`): tags someone else added meanwhile stay.
pub async fn tag(tx: &mut BusinessTx, auth: &Actor, id: &str, add: &[String], remove: &[String]) -> Result<Customer, Error> {
    auth.require(Permission::HandleConversations)?;
    let mut customer = load(tx.conn(), &auth.business_id, id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    let add = clean_tags(add.to_vec())?;
    let remove = clean_tags(remove.to_vec())?;
    let mut tags: Vec<String> = customer.tags.iter().filter(|t| !remove.contains(t)).cloned().collect();
    tags.extend(add.into_iter().filter(|t| !remove.contains(t)));
    let tags = clean_tags(tags)?;
    if tags == customer.tags {
        return Ok(customer);
    }
    // How many, never which (the audit log outlives an erased customer).
    let added = tags.iter().filter(|t| !customer.tags.contains(t)).count();
    let removed = customer.tags.iter().filter(|t| !tags.contains(t)).count();
    customer.tags = tags;
    let saved = save(tx, &customer, false).await?;
    tx.audit(Some(&auth.staff_id), "customer.tagged", Some(("customer", id)), serde_json::json!({"added": added, "removed": removed})).await?;
    Ok(saved)
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListCustomers {
    /// Part of a name, phone number, WhatsApp id or email.
    pub q: Option<String>,
    /// From a previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–200, default 50.
    pub limit: Option<u32>,
}

/// Customers, newest first; `q` searches names, phone numbers, WhatsApp ids and emails.
pub async fn list_customers(core: &Core, actor: &Actor, query: ListCustomers) -> Result<Page<Customer>, Error> {
    let paging = Paging::new(query.cursor.as_deref(), query.limit)?;
    let mut filter = Filter::default();
    filter.and("business_id = ?", [Bind::Text(actor.business_id.clone())]);
    filter.and("deleted_at IS NULL", []);
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        // A query that looks like a phone number is matched on its digits — and, typed the way
        // people say it at the desk (`07911 123401`), on its international form, as stored.
        let looks_like_phone = q.chars().all(|c| c.is_ascii_digit() || " +-()".contains(c)) && q.chars().any(|c| c.is_ascii_digit());
        let needle: String = if looks_like_phone { q.chars().filter(char::is_ascii_digit).collect() } else { q.to_lowercase() };
        let mut needles = vec![needle];
        if looks_like_phone && !q.starts_with('+') {
            let mut conn = core.db.reader().acquire().await?;
            let region = business_region(&mut conn, &actor.business_id).await?;
            if let Ok(number) = PhoneNumber::parse(q, region.as_deref()) {
                let digits: String = number.as_str().chars().filter(char::is_ascii_digit).collect();
                if !needles.contains(&digits) {
                    needles.push(digits);
                }
            }
        }
        let like = |n: &String| Bind::Text(format!("%{}%", n.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let clause = vec!["search_text LIKE ? ESCAPE '\\'"; needles.len()].join(" OR ");
        filter.and(&format!("({clause})"), needles.iter().map(like));
    }
    paging.keyset(&mut filter, "created_at", "id", Order::Desc)?;
    let sql = format!("SELECT {COLUMNS} FROM customers{}{}", filter.where_sql(), paging.order_by("created_at", "id", Order::Desc));
    let rows = bind_all(sqlx::query(&sql), &filter.binds).fetch_all(core.db.reader()).await?;
    let items = rows.iter().map(from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page(items, |c| (Key::Int(c.created_at.as_millis()), c.id.to_string())))
}

/// Adds a customer.
pub async fn create_customer(core: &Core, actor: &Actor, req: CreateCustomer) -> Result<Customer, Error> {
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let saved = insert(&mut tx, actor, None, req).await?;
    tx.commit().await?;
    Ok(saved)
}

/// Adds a customer in the caller's transaction; `id`: the one a console made (a UUID), else a
/// new one. The REST route and the `create_customer` mutation share it.
pub async fn insert(tx: &mut BusinessTx, actor: &Actor, id: Option<&str>, req: CreateCustomer) -> Result<Customer, Error> {
    actor.require(Permission::HandleConversations)?;
    if id.is_some_and(|id| uuid::Uuid::parse_str(id).is_err()) {
        return Err(Error::invalid("`customer_id` must be a UUID."));
    }
    let region = business_region(tx.conn(), &actor.business_id).await?;
    let phone = optional_text(req.phone, "phone", 40)?.map(|p| PhoneNumber::parse(&p, region.as_deref())).transpose()?;
    let whatsapp_id = optional_text(req.whatsapp_id, "whatsapp_id", 64)?.map(|w| WhatsappId::parse(&w).map(|w| w.0)).transpose()?;
    if phone.is_none() && whatsapp_id.is_none() && req.name.as_deref().is_none_or(|n| n.trim().is_empty()) {
        return Err(Error::invalid("Give the customer at least a name, a phone number or a WhatsApp id."));
    }
    let customer = Customer {
        id: match id {
            Some(id) => id.to_owned().into(),
            None => tx.new_id::<String>().into(),
        },
        business_id: actor.business_id.clone().into(),
        name: optional_text(req.name, "name", 200)?,
        phone: phone.map(|p| p.as_str().to_owned()),
        whatsapp_id,
        email: optional_text(req.email, "email", 254)?.map(|e| normalise_email(&e)).transpose()?,
        tags: clean_tags(req.tags)?,
        notes: optional_text(Some(req.notes), "notes", 10_000)?.unwrap_or_default(),
        opted_out_sms: false,
        opted_out_whatsapp: false,
        created_at: protocol::Timestamp::UNIX_EPOCH,
        updated_at: protocol::Timestamp::UNIX_EPOCH,
    };
    let saved = save(tx, &customer, true).await?;
    tx.audit(Some(&actor.staff_id), "customer.created", Some(("customer", &saved.id)), serde_json::json!({})).await?;
    Ok(saved)
}

/// One customer.
pub async fn get_customer(core: &Core, actor: &Actor, id: &str) -> Result<Customer, Error> {
    let mut conn = core.db.reader().acquire().await?;
    let customer = load(&mut conn, &actor.business_id, id).await?.ok_or_else(|| Error::NotFound("customer"))?;
    Ok(customer)
}

/// Changes a customer. Fields left out stay as they are; `null` clears one.
pub async fn update_customer(core: &Core, actor: &Actor, id: &str, req: UpdateCustomer) -> Result<Customer, Error> {
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let customer = apply_update(&mut tx, actor, id, req).await?;
    tx.commit().await?;
    Ok(customer)
}

/// Removes a customer from lists and search (owners and admins). Their conversations stay.
pub async fn delete_customer(core: &Core, actor: &Actor, id: &str) -> Result<(), Error> {
    actor.require(Permission::DeleteData)?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    if !tx.soft_delete_row("customers", ", updated_at = $3", EntityKind::Customer, id).await? {
        return Err(Error::NotFound("customer"));
    }
    tx.audit(Some(&actor.staff_id), "customer.deleted", Some(("customer", id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_code_takes_no_sms_even_with_a_whatsapp_id() {
        let customer = |phone: &str, whatsapp_id: Option<&str>| unsaved("c".into(), "b", Some(phone), whatsapp_id, None);
        let merged = customer("12345", Some("447911123456"));
        assert!(takes_answers(&merged), "something reaches them");
        assert!(takes_answers_on(&merged, protocol::Channel::Whatsapp));
        assert!(!takes_answers_on(&merged, protocol::Channel::Sms), "an SMS goes to the short code");
        assert!(takes_answers_on(&customer("+447911123456", None), protocol::Channel::Sms));
        assert!(!takes_answers_on(&customer("VERIFY", None), protocol::Channel::TwilioWhatsapp));
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(PhoneNumber::parse("+44 7911 123456", None).unwrap().as_str(), "+447911123456");
        assert_eq!(PhoneNumber::parse("07911 123456", Some("GB")).unwrap().as_str(), "+447911123456");
        assert_eq!(PhoneNumber::parse("(415) 555-2671", Some("us")).unwrap().as_str(), "+14155552671");
        assert!(PhoneNumber::parse("07911 123456", None).is_err(), "national number without a region");
        // A sender is whatever address the provider delivered from, one customer each.
        let sender = |text: &str| PhoneNumber::sender(text).map(|p| p.as_str().to_owned());
        assert_eq!(sender(" +44 7911 123456 ").as_deref(), Some("+447911123456"), "valid: E.164");
        assert!(PhoneNumber::parse("+447700900101", None).is_err(), "a range kept for drama, not valid");
        assert_eq!(sender("+447700900101").as_deref(), Some("+447700900101"));
        assert_eq!(sender("12345").as_deref(), Some("12345"), "a short code");
        assert_eq!(sender("VERIFY").as_deref(), Some("VERIFY"), "an alphanumeric sender");
        assert_eq!(sender("+44 7700 900101").as_deref(), Some("+447700900101"), "as typed");
        for none in ["", "  ", "+12", "+44 7700 900101 ext 5", "anonymous caller id", "not a number!", "+1234567890123456"] {
            assert_eq!(sender(none), None, "{none:?}");
        }
        // A caller is a number: a withheld one is nobody's.
        assert_eq!(PhoneNumber::caller("+447700900777").map(|p| p.as_str().to_owned()).as_deref(), Some("+447700900777"));
        for none in ["anonymous", "Restricted", "12345", ""] {
            assert_eq!(PhoneNumber::caller(none), None, "{none:?}");
        }
        assert!(PhoneNumber::parse("+44 12", None).is_err());
        assert!(PhoneNumber::parse("banana", Some("GB")).is_err());
        // Answers come from the cache the second time: the same, per region, errors included.
        for _ in 0..2 {
            assert_eq!(PhoneNumber::parse(" 07911 123456 ", Some("gb")).unwrap().as_str(), "+447911123456");
            assert!(PhoneNumber::parse("07911 123456", Some("US")).is_err());
            let refused = PhoneNumber::parse("+44 12", None).unwrap_err().to_string();
            assert!(refused.contains("`+44 12` is not a valid phone number"), "{refused}");
        }
        // Text longer than any number is read each time (not kept), and still answered.
        for _ in 0..2 {
            assert!(PhoneNumber::parse(&"7".repeat(10_000), Some("GB")).is_err());
        }
    }

    #[test]
    fn whatsapp_ids_are_e164_digits_or_meta_user_ids() {
        for (given, id, phone) in [
            ("447911123456", "447911123456", Some("+447911123456")),
            ("+44 7911 123456", "447911123456", Some("+447911123456")),
            ("whatsapp:+447911123456", "447911123456", Some("+447911123456")),
            ("+1 (415) 555-2671", "14155552671", Some("+14155552671")),
            ("14155552671", "14155552671", Some("+14155552671")),
            // A run of digits in no numbering plan (country code 999) is kept, without a phone.
            ("99912345678", "99912345678", None),
            ("US.13491208655302741918", "US.13491208655302741918", None),
        ] {
            let parsed = WhatsappId::parse(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(parsed.as_str(), id, "{given}");
            assert_eq!(parsed.phone().as_ref().map(PhoneNumber::as_str), phone, "{given}");
        }
        for refused in ["", "   ", "07911 123456", "(415) 555-2671", "123456", "1234567890123456", "44+7911", "a b", "x@y", "+"] {
            assert!(matches!(WhatsappId::parse(refused), Err(Error::InvalidPhone(_))), "{refused:?}");
        }
    }

    #[test]
    fn locale_regions() {
        assert_eq!(locale_region("en-GB").as_deref(), Some("GB"));
        assert_eq!(locale_region("pt_br").as_deref(), Some("BR"));
        assert_eq!(locale_region("zh-Hant-TW").as_deref(), Some("TW"));
        assert_eq!(locale_region("en"), None);
    }
}
