//! Channels: how a business is reached — its WhatsApp Cloud API number and its Twilio account.
//!
//! Secrets (access tokens, app secrets, auth tokens) are encrypted at rest with ChaCha20-Poly1305
//! under a key derived from the service's master key, are never returned by the API, and never
//! printed (their `Debug` is redacted). `GET /v1/channels` shows what is set up and whether the
//! last call to the provider worked.

pub mod providers;
pub mod voice;

use crate::Core;
use protocol::EntityKind;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::ChaCha20Poly1305;
use protocol::{ChannelStatus, TwilioChannelSetup, WhatsappChannelSetup};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use crate::accounts::{required_text, token_hash, Actor, Permission};
use crate::customers::PhoneNumber;
use crate::error::{CatalogError, Error};
use crate::store::{rfc3339, StoreError};

// ---------------------------------------------------------------------------------------------
// Secrets at rest

/// Seals and opens channel secrets.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl SecretBox {
    pub fn new(master_key: &[u8; 32]) -> SecretBox {
        let mut hasher = Sha256::new();
        hasher.update(b"switchboard channel secrets v1");
        hasher.update(master_key);
        let key = hasher.finalize();
        SecretBox { cipher: ChaCha20Poly1305::new(&key) }
    }

    /// base64(nonce ‖ ciphertext).
    pub fn seal<T: Serialize>(&self, value: &T) -> String {
        let plaintext = serde_json::to_vec(value).expect("secrets serialise");
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = self.cipher.encrypt(&nonce, plaintext.as_slice()).expect("encryption of a small buffer cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    pub fn open<T: DeserializeOwned>(&self, sealed: &str) -> Result<T, StoreError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| StoreError::Corrupt("channel secrets are not base64".into()))?;
        if bytes.len() < 12 {
            return Err(StoreError::Corrupt("channel secrets are truncated".into()));
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plaintext = self
            .cipher
            .decrypt(nonce.into(), ciphertext)
            .map_err(|_| StoreError::Corrupt("channel secrets do not decrypt: was the encryption key changed?".into()))?;
        serde_json::from_slice(&plaintext).map_err(|e| StoreError::Corrupt(format!("channel secrets: {e}")))
    }
}

// ---------------------------------------------------------------------------------------------
// Stored configuration

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WhatsappSettings {
    pub phone_number_id: String,
    pub display_phone_number: Option<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct WhatsappSecrets {
    pub access_token: String,
    pub app_secret: String,
    pub verify_token: String,
}

impl std::fmt::Debug for WhatsappSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WhatsappSecrets([REDACTED])")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TwilioSettings {
    pub account_sid: String,
    /// E.164, without any `whatsapp:` prefix.
    pub numbers: Vec<String>,
    /// Numbers that are WhatsApp senders (`whatsapp:+…` when set up).
    #[serde(default)]
    pub whatsapp_numbers: Vec<String>,
}

#[derive(Clone, Serialize, Deserialize)]
pub struct TwilioSecrets {
    pub auth_token: String,
}

impl std::fmt::Debug for TwilioSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TwilioSecrets([REDACTED])")
    }
}

pub const WHATSAPP: &str = "whatsapp";
pub const TWILIO: &str = "twilio";

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
    let settings: S = crate::store::json_column(&row.try_get::<String, _>("settings")?, "channels.settings")?;
    let opened: K = secrets.open(&row.try_get::<String, _>("secrets")?)?;
    Ok(Some((settings, opened)))
}

/// The business an address (a WhatsApp phone_number_id or a Twilio number) belongs to.
pub async fn business_for(conn: &mut AnyConnection, kind: &str, address: &str) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT business_id FROM channel_addresses WHERE kind = $1 AND address = $2")
        .bind(kind)
        .bind(address)
        .fetch_optional(conn)
        .await?)
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

/// Saves a channel and the addresses that route to it, replacing any earlier set-up.
async fn save(
    state: &Core,
    auth: &Actor,
    kind: &str,
    settings: serde_json::Value,
    sealed: String,
    verify_token_hash: Option<String>,
    addresses: &[String],
) -> Result<ChannelStatus, Error> {
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
    .bind(settings.to_string())
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
    save(state, auth, kind, serde_json::json!({}), sealed, None, &[]).await
}

pub async fn remove(state: &Core, auth: &Actor, kind: &str) -> Result<(), Error> {
    auth.require(Permission::ManageBusiness)?;
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

/// Which channels are set up, and whether they work. Secrets are never shown.
pub async fn list_channels(core: &Core, actor: &Actor) -> Result<Vec<ChannelStatus>, Error> {
    let rows = sqlx::query(
        "SELECT kind, settings, last_ok_at, last_error, last_error_at, updated_at FROM channels WHERE business_id = $1 ORDER BY kind",
    )
    .bind(&actor.business_id)
    .fetch_all(core.db.reader())
    .await?;
    Ok(rows.iter().map(status_from_row).collect::<Result<_, _>>()?)
}

/// Connects the business's WhatsApp Cloud API number (owners and admins).
pub async fn put_whatsapp(core: &Core, actor: &Actor, req: WhatsappChannelSetup) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let phone_number_id = required_text(&req.phone_number_id, "phone_number_id", 64)?;
    if !phone_number_id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid("`phone_number_id` is the numeric id Meta shows for the number, not the number itself."));
    }
    let secrets = WhatsappSecrets {
        access_token: required_text(&req.access_token, "access_token", 1024)?,
        app_secret: required_text(&req.app_secret, "app_secret", 256)?,
        verify_token: required_text(&req.verify_token, "verify_token", 256)?,
    };
    let settings = WhatsappSettings { phone_number_id: phone_number_id.clone(), display_phone_number: req.display_phone_number };
    let verify = token_hash(&secrets.verify_token);
    let status = save(
        core,
        actor,
        WHATSAPP,
        serde_json::to_value(&settings).map_err(Error::internal)?,
        core.secrets.seal(&secrets),
        Some(verify),
        &[phone_number_id],
    )
    .await?;
    Ok(status)
}

/// Disconnects WhatsApp.
pub async fn delete_whatsapp(core: &Core, actor: &Actor) -> Result<(), Error> {
    remove(core, actor, WHATSAPP).await
}

/// Connects the business's Twilio account and numbers (owners and admins).
pub async fn put_twilio(core: &Core, actor: &Actor, req: TwilioChannelSetup) -> Result<ChannelStatus, Error> {
    actor.require(Permission::ManageBusiness)?;
    let account_sid = required_text(&req.account_sid, "account_sid", 64)?;
    if !account_sid.starts_with("AC") {
        return Err(Error::invalid("`account_sid` starts with AC (find it on the Twilio console's home page)."));
    }
    if req.numbers.is_empty() {
        return Err(Error::invalid("Give at least one Twilio number."));
    }
    let mut numbers = Vec::new();
    let mut whatsapp_numbers = Vec::new();
    for raw in &req.numbers {
        let (is_whatsapp, number) = match raw.trim().strip_prefix("whatsapp:") {
            Some(n) => (true, n),
            None => (false, raw.trim()),
        };
        let number = PhoneNumber::parse(number, None)?.as_str().to_owned();
        if is_whatsapp {
            whatsapp_numbers.push(number.clone());
        }
        if !numbers.contains(&number) {
            numbers.push(number);
        }
    }
    let settings = TwilioSettings { account_sid, numbers: numbers.clone(), whatsapp_numbers };
    let secrets = TwilioSecrets { auth_token: required_text(&req.auth_token, "auth_token", 256)? };
    let status = save(
        core,
        actor,
        TWILIO,
        serde_json::to_value(&settings).map_err(Error::internal)?,
        core.secrets.seal(&secrets),
        None,
        &numbers,
    )
    .await?;
    Ok(status)
}

/// Disconnects Twilio.
pub async fn delete_twilio(core: &Core, actor: &Actor) -> Result<(), Error> {
    remove(core, actor, TWILIO).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_round_trip_and_do_not_open_under_another_key() {
        let sealed_box = SecretBox::new(&[1; 32]);
        let secrets = TwilioSecrets { auth_token: "very-secret-token".into() };
        let sealed = sealed_box.seal(&secrets);
        assert!(!sealed.contains("very-secret"));
        assert_ne!(sealed, sealed_box.seal(&secrets), "a fresh nonce each time");
        let opened: TwilioSecrets = sealed_box.open(&sealed).unwrap();
        assert_eq!(opened.auth_token, "very-secret-token");
        assert!(SecretBox::new(&[2; 32]).open::<TwilioSecrets>(&sealed).is_err());
        assert_eq!(format!("{opened:?}"), "TwilioSecrets([REDACTED])");
    }
}
