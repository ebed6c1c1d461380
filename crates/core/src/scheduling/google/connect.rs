//! Connecting a staff member's Google account: OAuth 2.0 for installed apps. The console opens
//! [`start`]'s URL in the system browser with its loopback address as the redirect and keeps the
//! PKCE verifier; [`finish`] exchanges the code with that verifier. The tokens are sealed like
//! channel secrets and refreshed here ([`access_token`]); the moment Google refuses a refresh the
//! connection becomes `reconnect_needed`, which consoles see at once (it is in the change log) and
//! which makes availability fall back to the person's hours with a warning.

use base64::Engine as _;
use protocol::{
    CalendarConnection, CalendarConnectionStatus, ChooseCalendars, ConnectedCalendar, EntityKind, FinishGoogleCalendar, GoogleCalendarAuthStart,
    StartGoogleCalendar,
};
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

use super::client::GoogleError;
use super::wire::{TokenResponse, Tokens};
use crate::accounts::{Actor, Permission};
use crate::error::{CalendarError, Error};
use crate::store::{rfc3339, BusinessTx};
use crate::workers::Job;
use crate::Core;

/// A sign-in begun in the browser must be finished within this time.
const START_TTL_MS: i64 = 15 * 60_000;
/// Refresh an access token this long before it expires.
const REFRESH_MARGIN_MS: i64 = 120_000;

pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The S256 challenge of a PKCE verifier.
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

impl From<GoogleError> for Error {
    fn from(e: GoogleError) -> Self {
        match e {
            GoogleError::NotConfigured => CalendarError::NotConfigured.into(),
            GoogleError::InvalidGrant(m) => CalendarError::Refused(m).into(),
            GoogleError::Refused { message, .. } => CalendarError::Refused(message).into(),
            GoogleError::Unavailable(m) => CalendarError::Unavailable(m).into(),
            other => CalendarError::Unavailable(other.to_string()).into(),
        }
    }
}

/// Yourself, or anyone in the business for owners and admins.
fn may_manage(actor: &Actor, staff_id: &str) -> Result<(), Error> {
    if actor.staff_id == staff_id {
        return Ok(());
    }
    actor.require(Permission::ManageStaff)
}

/// Another business's staff id looks like no id at all.
async fn staff_here(conn: &mut AnyConnection, business_id: &str, staff_id: &str) -> Result<(), Error> {
    match crate::accounts::staff::load(conn, business_id, staff_id).await? {
        Some(s) if s.active => Ok(()),
        _ => Err(Error::NotFound("staff member")),
    }
}

async fn check_staff(core: &Core, actor: &Actor, staff_id: &str) -> Result<(), Error> {
    let mut conn = core.db.reader().acquire().await?;
    staff_here(&mut conn, &actor.business_id, staff_id).await?;
    may_manage(actor, staff_id)
}

/// Only a loopback address may receive the code (RFC 8252 §7.3).
fn check_redirect(uri: &str) -> Result<(), Error> {
    let rest = uri.strip_prefix("http://").ok_or_else(|| Error::invalid("`redirect_uri` must be a loopback address, http://127.0.0.1:PORT/…"))?;
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host.rsplit_once(':').map(|(h, p)| (h, p.parse::<u16>().is_ok())).filter(|(_, ok)| *ok).map(|(h, _)| h).unwrap_or(host);
    if matches!(host, "127.0.0.1" | "[::1]" | "localhost") && uri.len() <= 512 {
        Ok(())
    } else {
        Err(Error::invalid("`redirect_uri` must be a loopback address, http://127.0.0.1:PORT/…"))
    }
}

/// Begins connecting `staff_id`'s Google Calendar: the consent URL for the system browser.
pub async fn start(core: &Core, actor: &Actor, staff_id: &str, req: StartGoogleCalendar) -> Result<GoogleCalendarAuthStart, Error> {
    check_staff(core, actor, staff_id).await?;
    if !core.google.is_configured() {
        return Err(CalendarError::NotConfigured.into());
    }
    check_redirect(&req.redirect_uri)?;
    let challenge_ok = (43..=128).contains(&req.code_challenge.len())
        && req.code_challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !challenge_ok {
        return Err(Error::invalid("`code_challenge` must be the unpadded base64url SHA-256 of a PKCE verifier."));
    }
    let mut conn = core.db.writer().acquire().await?;
    crate::accounts::staff::require_active(&mut conn, &actor.business_id, staff_id).await?;
    let state = random_token();
    let now = core.db.now_ms();
    sqlx::query("DELETE FROM calendar_oauth_starts WHERE created_at < $1").bind(now - START_TTL_MS).execute(&mut *conn).await?;
    sqlx::query("INSERT INTO calendar_oauth_starts (state, business_id, staff_id, redirect_uri, code_challenge, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(&state)
        .bind(&actor.business_id)
        .bind(staff_id)
        .bind(&req.redirect_uri)
        .bind(&req.code_challenge)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    let auth_url = core.google.auth_url(&req.redirect_uri, &state, &req.code_challenge)?;
    Ok(GoogleCalendarAuthStart { auth_url, state })
}

/// The `email` claim of an ID token that came straight from Google's token endpoint.
fn email_of(id_token: Option<&str>) -> Option<String> {
    let payload = id_token?.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("email")?.as_str().map(str::to_owned)
}

/// Finishes connecting: exchanges the code with the verifier, keeps the tokens sealed, reads the
/// account's calendars (the primary one is chosen to begin with) and starts syncing them.
pub async fn finish(core: &Core, actor: &Actor, staff_id: &str, req: FinishGoogleCalendar) -> Result<CalendarConnection, Error> {
    check_staff(core, actor, staff_id).await?;
    let row = sqlx::query("DELETE FROM calendar_oauth_starts WHERE state = $1 AND business_id = $2 AND staff_id = $3 RETURNING redirect_uri, code_challenge, created_at")
        .bind(&req.state)
        .bind(&actor.business_id)
        .bind(staff_id)
        .fetch_optional(core.db.writer())
        .await?
        .ok_or(CalendarError::InvalidState)?;
    let redirect_uri: String = row.try_get("redirect_uri")?;
    let challenge: String = row.try_get("code_challenge")?;
    if row.try_get::<i64, _>("created_at")? < core.db.now_ms() - START_TTL_MS || challenge_of(&req.code_verifier) != challenge {
        return Err(CalendarError::InvalidState.into());
    }
    let answer: TokenResponse = core.google.exchange_code(&req.code, &req.code_verifier, &redirect_uri).await?;
    let refresh_token = answer
        .refresh_token
        .clone()
        .ok_or_else(|| CalendarError::Refused("Google did not grant offline access; try connecting again.".into()))?;
    let tokens = Tokens { access_token: answer.access_token.clone(), refresh_token, expires_at: core.db.now_ms() + answer.expires_in.max(0) * 1000 };
    let calendars = core.google.calendar_list(&tokens.access_token).await?;
    let primary = calendars.items.iter().find(|c| c.primary).or(calendars.items.first()).map(|c| c.id.clone()).unwrap_or_else(|| "primary".into());

    let mut tx = core.db.begin_business(&actor.business_id).await?;
    crate::accounts::staff::require_active(tx.conn(), &actor.business_id, staff_id).await?;
    let now = tx.now_ms();
    let sealed = core.secrets.seal(&tokens);
    sqlx::query(
        "INSERT INTO calendar_connections (staff_id, business_id, status, account_email, tokens, write_calendar, created_at, updated_at) \
         VALUES ($1, $2, 'connected', $3, $4, $5, $6, $6) ON CONFLICT (staff_id) DO UPDATE SET status = 'connected', account_email = excluded.account_email, \
         tokens = excluded.tokens, write_calendar = excluded.write_calendar, last_error = NULL, last_error_at = NULL, updated_at = excluded.updated_at",
    )
    .bind(staff_id)
    .bind(&actor.business_id)
    .bind(email_of(answer.id_token.as_deref()))
    .bind(sealed)
    .bind(&primary)
    .bind(now)
    .execute(tx.conn())
    .await?;
    for calendar in &calendars.items {
        let id: String = tx.new_id();
        sqlx::query(
            "INSERT INTO calendar_sources (id, business_id, staff_id, calendar_id, summary, is_primary, selected, next_sync_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (staff_id, calendar_id) DO UPDATE SET summary = excluded.summary, \
             is_primary = excluded.is_primary, next_sync_at = excluded.next_sync_at",
        )
        .bind(id)
        .bind(&actor.business_id)
        .bind(staff_id)
        .bind(&calendar.id)
        .bind(&calendar.summary)
        .bind(i64::from(calendar.primary))
        .bind(i64::from(calendar.primary))
        .bind(now)
        .execute(tx.conn())
        .await?;
    }
    // Writes that waited for the person to reconnect go now, and their upcoming bookings appear
    // in Google.
    sqlx::query("UPDATE calendar_writes SET next_attempt_at = $1 WHERE business_id = $2 AND done_at IS NULL").bind(now).bind(&actor.business_id).execute(tx.conn()).await?;
    let upcoming: Vec<String> =
        sqlx::query_scalar("SELECT id FROM bookings WHERE business_id = $1 AND staff_id = $2 AND status IN ('pending', 'confirmed') AND end_at > $3")
            .bind(&actor.business_id)
            .bind(staff_id)
            .bind(now)
            .fetch_all(tx.conn())
            .await?;
    for booking_id in upcoming {
        super::writes::queue(&mut tx, &booking_id, staff_id).await?;
    }
    tx.wake(Job::Calendar);
    let view = record(&mut tx, staff_id).await?.ok_or(CalendarError::NotConnected)?;
    tx.audit(Some(&actor.staff_id), "calendar.connected", Some(("staff", staff_id)), serde_json::json!({"calendars": calendars.items.len()})).await?;
    tx.commit().await?;
    tracing::info!(staff_id, "Google Calendar connected");
    Ok(view)
}

/// The connection as Settings shows it; `None` when there is none.
pub async fn view(conn: &mut AnyConnection, business_id: &str, staff_id: &str) -> Result<Option<CalendarConnection>, Error> {
    let Some(row) = sqlx::query("SELECT status, account_email, last_error FROM calendar_connections WHERE staff_id = $1 AND business_id = $2")
        .bind(staff_id)
        .bind(business_id)
        .fetch_optional(&mut *conn)
        .await?
    else {
        return Ok(None);
    };
    let status: String = row.try_get("status")?;
    let status = CalendarConnectionStatus::parse(&status).unwrap_or(CalendarConnectionStatus::ReconnectNeeded);
    let rows = sqlx::query(
        "SELECT calendar_id, summary, is_primary, selected, last_sync_at, last_error, channel_id, channel_expires_at FROM calendar_sources \
         WHERE staff_id = $1 ORDER BY is_primary DESC, summary, calendar_id",
    )
    .bind(staff_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut calendars = Vec::new();
    for r in &rows {
        let last: Option<i64> = r.try_get("last_sync_at")?;
        let channel: Option<String> = r.try_get("channel_id")?;
        calendars.push(ConnectedCalendar {
            calendar_id: r.try_get("calendar_id")?,
            summary: r.try_get("summary")?,
            primary: r.try_get::<i64, _>("is_primary")? != 0,
            selected: r.try_get::<i64, _>("selected")? != 0,
            last_sync_at: last.map(rfc3339),
            error: r.try_get("last_error")?,
            push: channel.is_some(),
        });
    }
    let chosen: Vec<&ConnectedCalendar> = calendars.iter().filter(|c| c.selected).collect();
    let last_sync_at = if chosen.iter().all(|c| c.last_sync_at.is_some()) { chosen.iter().filter_map(|c| c.last_sync_at).min() } else { None };
    let error: Option<String> = row.try_get("last_error")?;
    let error = error.or_else(|| chosen.iter().find_map(|c| c.error.clone()));
    Ok(Some(CalendarConnection { staff_id: staff_id.into(), status, account_email: row.try_get("account_email")?, calendars, last_sync_at, error }))
}

/// Records the connection's current state in the change log (consoles see it at once).
pub(crate) async fn record(tx: &mut BusinessTx, staff_id: &str) -> Result<Option<CalendarConnection>, Error> {
    let business_id = tx.business_id().to_owned();
    let view = view(tx.conn(), &business_id, staff_id).await?;
    tx.record(EntityKind::CalendarConnection, staff_id, view.as_ref()).await?;
    Ok(view)
}

pub async fn get(core: &Core, actor: &Actor, staff_id: &str) -> Result<CalendarConnection, Error> {
    let mut conn = core.db.reader().acquire().await?;
    staff_here(&mut conn, &actor.business_id, staff_id).await?;
    Ok(view(&mut conn, &actor.business_id, staff_id).await?.ok_or(CalendarError::NotConnected)?)
}

/// Why a connection cannot be used right now.
#[derive(Debug)]
pub enum Unusable {
    /// None, or the person must sign in again: nothing to do until they do.
    NeedsReconnect,
    /// Google or the network failed; try later.
    Failed(String),
}

impl From<Error> for Unusable {
    fn from(e: Error) -> Self {
        Unusable::Failed(e.chain())
    }
}

impl From<sqlx::Error> for Unusable {
    fn from(e: sqlx::Error) -> Self {
        Unusable::Failed(e.to_string())
    }
}

/// A usable access token for the person's Google account, refreshed when (nearly) expired or
/// when `force` (Google refused the one we had).
pub async fn access_token(core: &Core, staff_id: &str, force: bool) -> Result<String, Unusable> {
    let row = sqlx::query("SELECT business_id, status, tokens FROM calendar_connections WHERE staff_id = $1")
        .bind(staff_id)
        .fetch_optional(core.db.reader())
        .await?
        .ok_or(Unusable::NeedsReconnect)?;
    let status: String = row.try_get("status")?;
    let sealed: Option<String> = row.try_get("tokens")?;
    let (Some(sealed), "connected") = (sealed, status.as_str()) else { return Err(Unusable::NeedsReconnect) };
    let business_id: String = row.try_get("business_id")?;
    let tokens: Tokens = core.secrets.open(&sealed).map_err(|e| Unusable::Failed(e.to_string()))?;
    if !force && tokens.expires_at > core.db.now_ms() + REFRESH_MARGIN_MS {
        return Ok(tokens.access_token);
    }
    match core.google.refresh(&tokens.refresh_token).await {
        Ok(answer) => {
            let fresh = Tokens {
                access_token: answer.access_token,
                refresh_token: answer.refresh_token.unwrap_or(tokens.refresh_token),
                expires_at: core.db.now_ms() + answer.expires_in.max(0) * 1000,
            };
            sqlx::query("UPDATE calendar_connections SET tokens = $1, updated_at = $2 WHERE staff_id = $3 AND status = 'connected'")
                .bind(core.secrets.seal(&fresh))
                .bind(core.db.now_ms())
                .bind(staff_id)
                .execute(core.db.writer())
                .await?;
            Ok(fresh.access_token)
        }
        Err(GoogleError::InvalidGrant(why)) => {
            tracing::warn!(staff_id, reason = %why, "Google refused to refresh a calendar sign-in; the person must reconnect");
            reconnect_needed(core, &business_id, staff_id).await.map_err(Unusable::from)?;
            Err(Unusable::NeedsReconnect)
        }
        Err(e) => Err(Unusable::Failed(e.to_string())),
    }
}

pub const RECONNECT_MESSAGE: &str =
    "Google no longer accepts this sign-in (it was revoked or has expired). Reconnect Google Calendar to sync again.";

/// The person must sign in again: the tokens are dropped, the channels forgotten (they cannot be
/// stopped without a token; they expire on their own), and consoles are told.
async fn reconnect_needed(core: &Core, business_id: &str, staff_id: &str) -> Result<(), Error> {
    let mut tx = core.db.begin_business(business_id).await?;
    let now = tx.now_ms();
    sqlx::query("UPDATE calendar_connections SET status = 'reconnect_needed', tokens = NULL, last_error = $1, last_error_at = $2, updated_at = $2 WHERE staff_id = $3")
        .bind(RECONNECT_MESSAGE)
        .bind(now)
        .bind(staff_id)
        .execute(tx.conn())
        .await?;
    sqlx::query(
        "UPDATE calendar_sources SET channel_id = NULL, channel_resource_id = NULL, channel_token_hash = NULL, channel_expires_at = NULL, sync_token = NULL \
         WHERE staff_id = $1",
    )
    .bind(staff_id)
    .execute(tx.conn())
    .await?;
    record(&mut tx, staff_id).await?;
    tx.commit().await?;
    Ok(())
}

/// Chooses which calendars block the person. Calendars no longer chosen are forgotten.
pub async fn choose(core: &Core, actor: &Actor, staff_id: &str, req: ChooseCalendars) -> Result<CalendarConnection, Error> {
    check_staff(core, actor, staff_id).await?;
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    view(tx.conn(), &actor.business_id, staff_id).await?.ok_or(CalendarError::NotConnected)?;
    let known: Vec<String> = sqlx::query_scalar("SELECT calendar_id FROM calendar_sources WHERE staff_id = $1").bind(staff_id).fetch_all(tx.conn()).await?;
    if let Some(unknown) = req.calendar_ids.iter().find(|id| !known.contains(id)) {
        return Err(Error::invalid(format!("`{unknown}` is not one of this Google account's calendars.")));
    }
    let now = tx.now_ms();
    for calendar_id in &known {
        let chosen = req.calendar_ids.contains(calendar_id);
        let source: (String, i64) = {
            let r = sqlx::query("SELECT id, selected FROM calendar_sources WHERE staff_id = $1 AND calendar_id = $2")
                .bind(staff_id)
                .bind(calendar_id)
                .fetch_one(tx.conn())
                .await?;
            (r.try_get("id")?, r.try_get("selected")?)
        };
        match (source.1 != 0, chosen) {
            (false, true) => {
                sqlx::query("UPDATE calendar_sources SET selected = 1, sync_token = NULL, next_sync_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(&source.0)
                    .execute(tx.conn())
                    .await?;
            }
            (true, false) => {
                // Its channel lapses on its own; notifications for it are ignored from now on.
                sqlx::query(
                    "UPDATE calendar_sources SET selected = 0, sync_token = NULL, next_sync_at = NULL, channel_id = NULL, channel_resource_id = NULL, \
                     channel_token_hash = NULL, channel_expires_at = NULL, last_sync_at = NULL, last_error = NULL WHERE id = $1",
                )
                .bind(&source.0)
                .execute(tx.conn())
                .await?;
                sqlx::query("DELETE FROM calendar_events WHERE source_id = $1").bind(&source.0).execute(tx.conn()).await?;
                super::sync::rebuild_busy_days(&mut tx, &actor.business_id, staff_id, None).await?;
            }
            _ => {}
        }
    }
    tx.wake(Job::Calendar);
    let view = record(&mut tx, staff_id).await?.ok_or(CalendarError::NotConnected)?;
    // Which calendars block the person is theirs to see in Settings; the log says that it changed.
    tx.audit(Some(&actor.staff_id), "calendar.calendars_chosen", Some(("staff", staff_id)), serde_json::json!({"selected": view.calendars.iter().filter(|c| c.selected).count()})).await?;
    tx.commit().await?;
    Ok(view)
}

/// Disconnects: the push channels are stopped and the sign-in revoked (as far as Google answers),
/// then the tokens, calendars and cached events are removed. Events we wrote stay in Google.
pub async fn disconnect(core: &Core, actor: &Actor, staff_id: &str) -> Result<(), Error> {
    check_staff(core, actor, staff_id).await?;
    {
        let mut conn = core.db.reader().acquire().await?;
        view(&mut conn, &actor.business_id, staff_id).await?.ok_or(CalendarError::NotConnected)?;
    }
    if let Ok(token) = access_token(core, staff_id, false).await {
        let channels = sqlx::query("SELECT channel_id, channel_resource_id FROM calendar_sources WHERE staff_id = $1 AND channel_id IS NOT NULL")
            .bind(staff_id)
            .fetch_all(core.db.reader())
            .await?;
        for c in &channels {
            let (id, resource): (String, Option<String>) = (c.try_get("channel_id")?, c.try_get("channel_resource_id")?);
            if let Err(e) = core.google.stop(&token, &id, resource.as_deref().unwrap_or("")).await {
                tracing::warn!(staff_id, error = %e, "could not stop a Google Calendar channel while disconnecting; it will lapse");
            }
        }
        let sealed: Option<String> = sqlx::query_scalar("SELECT tokens FROM calendar_connections WHERE staff_id = $1").bind(staff_id).fetch_one(core.db.reader()).await?;
        if let Some(tokens) = sealed.and_then(|s| core.secrets.open::<Tokens>(&s).ok()) {
            if let Err(e) = core.google.revoke(&tokens.refresh_token).await {
                tracing::warn!(staff_id, error = %e, "could not revoke a Google sign-in while disconnecting");
            }
        }
    }
    let mut tx = core.db.begin_business(&actor.business_id).await?;
    let now = tx.now_ms();
    sqlx::query("DELETE FROM calendar_busy_days WHERE staff_id = $1").bind(staff_id).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM calendar_events WHERE staff_id = $1").bind(staff_id).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM calendar_sources WHERE staff_id = $1").bind(staff_id).execute(tx.conn()).await?;
    sqlx::query("DELETE FROM calendar_booking_events WHERE staff_id = $1").bind(staff_id).execute(tx.conn()).await?;
    sqlx::query("UPDATE calendar_writes SET done_at = $1, last_error = 'disconnected' WHERE done_at IS NULL AND business_id = $3 AND booking_id IN (SELECT id FROM bookings WHERE staff_id = $2 AND business_id = $3)")
        .bind(now)
        .bind(staff_id)
        .bind(&actor.business_id)
        .execute(tx.conn())
        .await?;
    sqlx::query("DELETE FROM calendar_connections WHERE staff_id = $1").bind(staff_id).execute(tx.conn()).await?;
    tx.record::<()>(EntityKind::CalendarConnection, staff_id, None).await?;
    tx.audit(Some(&actor.staff_id), "calendar.disconnected", Some(("staff", staff_id)), serde_json::json!({})).await?;
    tx.commit().await?;
    Ok(())
}

/// Staff whose connection needs reconnecting, among `staff_ids` (availability warns about them).
pub async fn needing_reconnect(conn: &mut AnyConnection, business_id: &str) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar("SELECT staff_id FROM calendar_connections WHERE business_id = $1 AND status = 'reconnect_needed'")
        .bind(business_id)
        .fetch_all(conn)
        .await?)
}
