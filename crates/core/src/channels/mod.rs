//! Channels: how customers reach a business. One folder per provider, each holding that
//! provider's wire format (`wire`), its webhooks turned into messages and calls (`intake`), its API
//! client (`client`) and connecting it (`setup`):
//! - [`whatsapp`]: WhatsApp through Meta's Cloud API.
//! - [`twilio`]: SMS and WhatsApp through Twilio.
//! - [`vapi`] and [`retell`]: phone calls through voice AI platforms; what both do with a call is
//!   in [`calls`].
//!
//! This module keeps what they share: the `channels` table (settings, sealed [`secrets`], the
//! addresses that route webhooks to a business, how the last provider call went) and
//! `GET /v1/channels`. [`inbound`] is how a customer's message lands whatever the provider,
//! [`client`] what the providers' clients share, [`wire`] how provider JSON is read, [`signing`]
//! the keyed hashes webhooks are signed with.

pub mod calls;
pub mod client;
pub mod inbound;
pub mod retell;
pub mod secrets;
pub mod signing;
pub mod twilio;
pub mod vapi;
pub mod whatsapp;
pub mod wire;

pub use client::{Outgoing, Providers, SendError};
pub use secrets::SecretBox;

use crate::Core;
use protocol::{Channel, ChannelStatus, EntityKind};
use serde::de::DeserializeOwned;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use crate::accounts::{Actor, Permission};
use crate::error::{CatalogError, Error};
use crate::store::{rfc3339, StoreError};

/// The set-up (`channels.kind`) a conversation's channel is sent through.
pub fn kind_of(channel: Channel) -> Option<&'static str> {
    match channel {
        Channel::Whatsapp => Some(whatsapp::KIND),
        Channel::Sms | Channel::TwilioWhatsapp => Some(twilio::KIND),
        Channel::Voice => None,
    }
}

/// A channel's settings and opened secrets.
pub async fn load<S: DeserializeOwned, K: DeserializeOwned>(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    business_id: &str,
    kind: &str,
) -> Result<Option<(S, K)>, StoreError> {
    let row = sqlx::query("SELECT settings, secrets FROM channels WHERE business_id = $1 AND kind = $2")
        .bind(business_id)
        .bind(kind)
        .fetch_optional(conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(open(secrets, &row.try_get::<String, _>("settings")?, &row.try_get::<String, _>("secrets")?)?))
}

/// A channel row's settings, parsed, and its secrets, opened.
fn open<S: DeserializeOwned, K: DeserializeOwned>(secrets: &SecretBox, settings: &str, sealed: &str) -> Result<(S, K), StoreError> {
    Ok((crate::store::json_column(settings, "channels.settings")?, secrets.open(sealed)?))
}

/// The business an address (a WhatsApp phone_number_id or a Twilio number) belongs to, with its
/// channel's settings and opened secrets if it is still connected: what a webhook needs before
/// its signature can be checked, in one statement.
pub async fn for_address<S: DeserializeOwned, K: DeserializeOwned>(
    conn: &mut AnyConnection,
    secrets: &SecretBox,
    kind: &str,
    address: &str,
) -> Result<Option<(String, Option<(S, K)>)>, StoreError> {
    let row = sqlx::query(
        "SELECT a.business_id, c.settings, c.secrets FROM channel_addresses a \
         LEFT JOIN channels c ON c.business_id = a.business_id AND c.kind = a.kind WHERE a.kind = $1 AND a.address = $2",
    )
    .bind(kind)
    .bind(address)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let business_id: String = row.try_get("business_id")?;
    let (Some(settings), Some(sealed)) = (row.try_get::<Option<String>, _>("settings")?, row.try_get::<Option<String>, _>("secrets")?) else {
        return Ok(Some((business_id, None)));
    };
    Ok(Some((business_id, Some(open(secrets, &settings, &sealed)?))))
}

/// Remembers how the last provider call went, for `GET /v1/channels`.
pub async fn record_health(conn: &mut AnyConnection, now: i64, business_id: &str, kind: &str, error: Option<&str>) -> Result<(), StoreError> {
    match error {
        None => sqlx::query("UPDATE channels SET last_ok_at = $1, last_error = NULL WHERE business_id = $2 AND kind = $3")
            .bind(now)
            .bind(business_id)
            .bind(kind)
            .execute(conn)
            .await?,
        Some(e) => sqlx::query("UPDATE channels SET last_error = $1, last_error_at = $2 WHERE business_id = $3 AND kind = $4")
            .bind(e)
            .bind(now)
            .bind(business_id)
            .bind(kind)
            .execute(conn)
            .await?,
    };
    Ok(())
}

fn status_from_row(row: &sqlx::any::AnyRow) -> Result<ChannelStatus, StoreError> {
    let last_ok_at: Option<i64> = row.try_get("last_ok_at")?;
    let last_error: Option<String> = row.try_get("last_error")?;
    let last_error_at: Option<i64> = row.try_get("last_error_at")?;
    let health = match (last_ok_at, &last_error, last_error_at) {
        (_, Some(_), Some(err_at)) if last_ok_at.is_none_or(|ok| err_at >= ok) => "error",
        (Some(_), _, _) => "ok",
        _ => "unknown",
    };
    Ok(ChannelStatus {
        kind: row.try_get("kind")?,
        health: health.into(),
        last_error: if health == "error" { last_error } else { None },
        last_ok_at: last_ok_at.map(rfc3339),
        settings: crate::store::json_column(&row.try_get::<String, _>("settings")?, "channels.settings")?,
        updated_at: rfc3339(row.try_get("updated_at")?),
    })
}

async fn load_status(conn: &mut AnyConnection, business_id: &str, kind: &str) -> Result<ChannelStatus, Error> {
    let row = sqlx::query(
        "SELECT kind, settings, last_ok_at, last_error, last_error_at, updated_at FROM channels WHERE business_id = $1 AND kind = $2",
    )
    .bind(business_id)
    .bind(kind)
    .fetch_optional(conn)
    .await?
    .ok_or_else(|| Error::NotFound("channel"))?;
    Ok(status_from_row(&row)?)
}

/// Saves a channel and the addresses that route to it, replacing any earlier set-up (each
/// provider's `setup` checks what staff gave first).
pub(crate) async fn save(
    state: &Core,
    auth: &Actor,
    kind: &str,
    settings: &impl Serialize,
    sealed: String,
    verify_token_hash: Option<String>,
    addresses: &[String],
) -> Result<ChannelStatus, Error> {
    // Where the business's messages go is a sensitive change.
    crate::accounts::security::require_recent(state, auth).await?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    for address in addresses {
        let owner: Option<String> = sqlx::query_scalar("SELECT business_id FROM channel_addresses WHERE kind = $1 AND address = $2")
            .bind(kind)
            .bind(address)
            .fetch_optional(tx.conn())
            .await?;
        if owner.is_some_and(|o| o != auth.business_id) {
            return Err(CatalogError::AddressInUse(address.clone()).into());
        }
    }
    sqlx::query("DELETE FROM channel_addresses WHERE business_id = $1 AND kind = $2")
        .bind(&auth.business_id)
        .bind(kind)
        .execute(tx.conn())
        .await?;
    for address in addresses {
        sqlx::query("INSERT INTO channel_addresses (kind, address, business_id) VALUES ($1, $2, $3)")
            .bind(kind)
            .bind(address)
            .bind(&auth.business_id)
            .execute(tx.conn())
            .await?;
    }
    let now = tx.now_ms();
    sqlx::query("DELETE FROM channels WHERE business_id = $1 AND kind = $2").bind(&auth.business_id).bind(kind).execute(tx.conn()).await?;
    sqlx::query(
        "INSERT INTO channels (business_id, kind, settings, secrets, verify_token_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(&auth.business_id)
    .bind(kind)
    .bind(serde_json::to_string(settings).map_err(Error::internal)?)
    .bind(sealed)
    .bind(verify_token_hash)
    .bind(now)
    .execute(tx.conn())
    .await?;
    let status = load_status(tx.conn(), &auth.business_id, kind).await?;
    tx.record(EntityKind::Channel, kind, Some(&status)).await?;
    tx.audit(Some(&auth.staff_id), "channel.configured", Some(("channel", kind)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(status)
}

/// A channel with only a secret and no addresses (voice platforms: the URL names the business).
pub async fn save_simple(state: &Core, auth: &Actor, kind: &str, sealed: String) -> Result<ChannelStatus, Error> {
    save(state, auth, kind, &serde_json::Map::new(), sealed, None, &[]).await
}

/// Disconnects a channel (owners and admins).
pub async fn remove(state: &Core, auth: &Actor, kind: &str) -> Result<(), Error> {
    auth.require(Permission::ManageBusiness)?;
    crate::accounts::security::require_recent(state, auth).await?;
    let mut tx = state.db.begin_business(&auth.business_id).await?;
    let removed = sqlx::query("DELETE FROM channels WHERE business_id = $1 AND kind = $2")
        .bind(&auth.business_id)
        .bind(kind)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(Error::NotFound("channel"));
    }
    sqlx::query("DELETE FROM channel_addresses WHERE business_id = $1 AND kind = $2")
        .bind(&auth.business_id)
        .bind(kind)
        .execute(tx.conn())
        .await?;
    tx.record::<ChannelStatus>(EntityKind::Channel, kind, None).await?;
    tx.audit(Some(&auth.staff_id), "channel.removed", Some(("channel", kind)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// One channel's set-up and whether it works (any staff member; secrets are never shown):
/// `GET /v1/channels/{kind}`. A channel that is not connected is `not_found`.
pub async fn channel_status(core: &Core, actor: &Actor, kind: &str) -> Result<ChannelStatus, Error> {
    let mut conn = core.db.reader().acquire().await?;
    load_status(&mut conn, &actor.business_id, kind).await
}

/// Which channels are set up, and whether they work. Secrets are never shown.
pub async fn list_channels(core: &Core, actor: &Actor, page: crate::store::PageQuery) -> Result<protocol::Page<ChannelStatus>, Error> {
    let paging = crate::store::Paging::new(page.cursor.as_deref(), page.limit)?;
    let rows = sqlx::query(
        "SELECT kind, settings, last_ok_at, last_error, last_error_at, updated_at FROM channels WHERE business_id = $1 ORDER BY kind",
    )
    .bind(&actor.business_id)
    .fetch_all(core.db.reader())
    .await?;
    let channels = rows.iter().map(status_from_row).collect::<Result<Vec<_>, _>>()?;
    Ok(paging.page_of(channels, crate::store::Order::Asc, |c| (crate::store::Key::Text(c.kind.clone()), c.kind.clone()))?)
}
