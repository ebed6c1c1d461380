//! Reading the chosen calendars: incremental `events.list` by sync token (page after page; the
//! token to keep comes on the last page), a full listing when there is none or Google answers 410
//! — which is diffed against what we hold, so an event deleted while we were not listening is
//! found — and the push channels that tell us when to look (renewed before they expire, the old
//! one stopped once the new one is stored). Without a channel we look every few minutes.
//!
//! Our own events (they carry the booking's id in a private extended property, and we keep the
//! time we last wrote) are told apart from outside changes: an event at the time we wrote is an
//! echo of our own write; one at another time, or deleted, while no write of ours is pending,
//! becomes a task for the front desk ([`super::tasks`]), never a silent change to the booking.

use std::collections::HashSet;

use jiff::tz::TimeZone;
use sqlx::Row;

use super::client::GoogleError;
use super::connect::{access_token, random_token, sha256_hex, Unusable};
use super::wire::{Channel, Event, EventTime};
use crate::error::{Error, WebhookError};
use crate::workers::Job;
use crate::Core;

/// How often a calendar without a live push channel is read.
const POLL_WITHOUT_PUSH_MS: i64 = 5 * 60_000;
/// How often a calendar with a live channel is read anyway (notifications can be lost).
const POLL_WITH_PUSH_MS: i64 = 60 * 60_000;
/// A channel is replaced this long before it expires.
const RENEW_BEFORE_MS: i64 = 24 * 3_600_000;
/// The channel lifetime we ask for (Google's maximum for events is about a week).
const CHANNEL_TTL_SECS: i64 = 7 * 24 * 3600;
/// A full listing starts this long ago (older events cannot block anything bookable).
const FULL_SYNC_BACK_MS: i64 = 24 * 3_600_000;

/// One chosen calendar due to be read.
#[derive(Debug, Clone, sqlx::FromRow)]
struct Source {
    id: String,
    business_id: String,
    staff_id: String,
    calendar_id: String,
    sync_token: Option<String>,
    channel_id: Option<String>,
    channel_resource_id: Option<String>,
    channel_expires_at: Option<i64>,
}

/// Reads every chosen calendar that is due. Returns how many were read (or tried).
pub async fn sync_due(core: &Core) -> Result<usize, Error> {
    let now = core.db.now_ms();
    let sources: Vec<Source> = sqlx::query_as(
        "SELECT s.id, s.business_id, s.staff_id, s.calendar_id, s.sync_token, s.channel_id, s.channel_resource_id, s.channel_expires_at \
         FROM calendar_sources s JOIN calendar_connections c ON c.staff_id = s.staff_id \
         WHERE s.selected = 1 AND c.status = 'connected' AND s.next_sync_at IS NOT NULL AND s.next_sync_at <= $1 ORDER BY s.next_sync_at LIMIT 20",
    )
    .bind(now)
    .fetch_all(core.db.reader())
    .await?;
    for source in &sources {
        if let Err(why) = sync_one(core, source).await {
            let now = core.db.now_ms();
            tracing::warn!(staff_id = %source.staff_id, error = %why, "reading a Google calendar failed; it will be tried again");
            sqlx::query("UPDATE calendar_sources SET last_error = $1, next_sync_at = $2 WHERE id = $3")
                .bind("Google Calendar could not be read just now; trying again in a minute.")
                .bind(now + 60_000)
                .bind(&source.id)
                .execute(core.db.writer())
                .await?;
        }
    }
    Ok(sources.len())
}

/// Every event of the calendar (full) or what changed since the token (incremental), and the
/// token to keep.
struct Fetched {
    items: Vec<Event>,
    next_sync_token: Option<String>,
    full: bool,
    time_min: i64,
}

async fn fetch(core: &Core, token: &str, source: &Source) -> Result<Fetched, GoogleError> {
    let mut sync_token = source.sync_token.clone();
    let time_min = core.db.now_ms() - FULL_SYNC_BACK_MS;
    let time_min_text = crate::store::rfc3339(time_min).to_string();
    loop {
        let full = sync_token.is_none();
        let mut items = Vec::new();
        let mut page: Option<String> = None;
        let restart = loop {
            let answer = core
                .google
                .list_events(token, &source.calendar_id, sync_token.as_deref(), full.then_some(time_min_text.as_str()), page.as_deref())
                .await;
            match answer {
                Ok(p) => {
                    items.extend(p.items);
                    match p.next_page_token {
                        Some(next) => page = Some(next),
                        None => return Ok(Fetched { items, next_sync_token: p.next_sync_token, full, time_min }),
                    }
                }
                // The token is too old for Google: start again from a full listing.
                Err(GoogleError::Gone) if !full => break true,
                Err(e) => return Err(e),
            }
        };
        if restart {
            tracing::info!(staff_id = %source.staff_id, "Google asked for a full sync (410); rebuilding this calendar");
            sync_token = None;
        }
    }
}

/// Why one calendar could not be read this time (it is tried again in a minute).
#[derive(Debug, thiserror::Error)]
enum SyncFailure {
    /// No usable access token: Google or the network failed while renewing it.
    #[error("{0}")]
    Token(String),
    #[error(transparent)]
    Google(#[from] GoogleError),
    #[error("{}", .0.chain())]
    Apply(Error),
}

async fn sync_one(core: &Core, source: &Source) -> Result<(), SyncFailure> {
    let mut forced = false;
    let (token, fetched) = loop {
        let token = match access_token(core, &source.staff_id, forced).await {
            Ok(t) => t,
            Err(Unusable::NeedsReconnect) => return Ok(()),
            Err(Unusable::Failed(why)) => return Err(SyncFailure::Token(why)),
        };
        match fetch(core, &token, source).await {
            Ok(f) => break (token, f),
            Err(GoogleError::Unauthorized) if !forced => forced = true,
            Err(e) => return Err(e.into()),
        }
    };
    // A new channel when there is none or it is about to expire; stored with the sync, and
    // only then is the old one stopped.
    let now = core.db.now_ms();
    let needs_channel = source.channel_id.is_none() || source.channel_expires_at.is_none_or(|at| at - now < RENEW_BEFORE_MS);
    let mut new_channel: Option<(Channel, String)> = None;
    if needs_channel {
        let secret = random_token();
        let request = Channel {
            id: uuid::Uuid::new_v4().to_string(),
            kind: Some("web_hook".into()),
            address: Some(format!("{}/webhooks/google-calendar", core.config.public_url.trim_end_matches('/'))),
            token: Some(secret.clone()),
            params: Some([("ttl".to_owned(), CHANNEL_TTL_SECS.to_string())].into()),
            ..Channel::default()
        };
        match core.google.watch(&token, &source.calendar_id, &request).await {
            Ok(mut answer) => {
                answer.id = request.id.clone();
                new_channel = Some((answer, secret));
            }
            Err(e) => tracing::warn!(staff_id = %source.staff_id, error = %e, "Google did not open a push channel; reading every few minutes instead"),
        }
    }
    apply(core, source, fetched, new_channel.as_ref()).await.map_err(SyncFailure::Apply)?;
    if let (Some(_), Some(old), Some(resource)) = (&new_channel, &source.channel_id, &source.channel_resource_id) {
        if let Err(e) = core.google.stop(&token, old, resource).await {
            tracing::warn!(staff_id = %source.staff_id, error = %e, "could not stop a replaced Google Calendar channel; it will lapse");
        }
    }
    Ok(())
}

/// `[start, end)` in milliseconds: an instant, or an all-day date at local midnight.
fn instant(time: Option<&EventTime>, tz: &TimeZone) -> Option<i64> {
    let time = time?;
    if let Some(dt) = &time.date_time {
        return dt.parse::<jiff::Timestamp>().ok().map(|t| t.as_millisecond());
    }
    let date: jiff::civil::Date = time.date.as_deref()?.parse().ok()?;
    let zone = time.time_zone.as_deref().and_then(|z| TimeZone::get(z).ok()).unwrap_or_else(|| tz.clone());
    date.to_zoned(zone).ok().map(|z| z.timestamp().as_millisecond())
}

/// Our record of one of our events: which booking, and the time we last wrote.
struct Link {
    booking_id: String,
    written: (i64, i64),
}

async fn link_for(tx: &mut crate::store::BusinessTx, calendar_id: &str, event_id: &str) -> Result<Option<Link>, Error> {
    let row = sqlx::query("SELECT booking_id, written_start, written_end FROM calendar_booking_events WHERE calendar_id = $1 AND event_id = $2 AND business_id = $3")
        .bind(calendar_id)
        .bind(event_id)
        .bind(tx.business_id().to_owned())
        .fetch_optional(tx.conn())
        .await?;
    Ok(match row {
        Some(r) => Some(Link { booking_id: r.try_get("booking_id")?, written: (r.try_get("written_start")?, r.try_get("written_end")?) }),
        None => None,
    })
}

const DAY_MS: i64 = 86_400_000;

/// Rebuilds a person's busy days (migration 0027) from their events: the days of the starts in
/// `starts` (milliseconds, both ends included), or all of them. In the transaction that changed
/// the events, so the two never disagree.
pub(super) async fn rebuild_busy_days(tx: &mut crate::store::BusinessTx, business_id: &str, staff_id: &str, starts: Option<(i64, i64)>) -> Result<(), Error> {
    let (first, last) = match starts {
        Some((from, to)) => (from.div_euclid(DAY_MS), to.div_euclid(DAY_MS)),
        None => (i64::MIN / DAY_MS, i64::MAX / DAY_MS - 1),
    };
    sqlx::query("DELETE FROM calendar_busy_days WHERE staff_id = $1 AND day >= $2 AND day <= $3").bind(staff_id).bind(first).bind(last).execute(tx.conn()).await?;
    sqlx::query(
        "INSERT INTO calendar_busy_days (staff_id, business_id, day, busy) \
         SELECT staff_id, business_id, start_at / 86400000, string_agg(start_at || ' ' || end_at, ' ') FROM calendar_events \
         WHERE business_id = $1 AND staff_id = $2 AND busy = 1 AND booking_id IS NULL AND end_at - start_at <= 172800000 AND start_at >= $3 AND start_at < $4 \
         GROUP BY staff_id, business_id, start_at / 86400000",
    )
    .bind(business_id)
    .bind(staff_id)
    .bind(first * DAY_MS)
    .bind((last + 1) * DAY_MS)
    .execute(tx.conn())
    .await?;
    Ok(())
}

async fn apply(core: &Core, source: &Source, fetched: Fetched, channel: Option<&(Channel, String)>) -> Result<(), Error> {
    let mut tx = core.db.begin_business(&source.business_id).await?;
    let tz_name: String = sqlx::query_scalar("SELECT timezone FROM businesses WHERE id = $1").bind(&source.business_id).fetch_one(tx.conn()).await?;
    let tz = TimeZone::get(&tz_name).map_err(Error::internal)?;
    let now = tx.now_ms();
    // The starts whose days of busy time change (before and after), for `rebuild_busy_days`.
    let mut touched: Option<(i64, i64)> = None;
    let mut touch = |at: i64| touched = Some(touched.map_or((at, at), |(a, b)| (a.min(at), b.max(at))));

    if fetched.full {
        // Whatever we hold that Google no longer lists was deleted while we were not listening.
        let listed: HashSet<&str> = fetched.items.iter().filter(|e| !e.is_cancelled()).map(|e| e.id.as_str()).collect();
        let held: Vec<String> = sqlx::query_scalar("SELECT event_id FROM calendar_events WHERE source_id = $1").bind(&source.id).fetch_all(tx.conn()).await?;
        for event_id in held.iter().filter(|id| !listed.contains(id.as_str())) {
            sqlx::query("DELETE FROM calendar_events WHERE source_id = $1 AND event_id = $2").bind(&source.id).bind(event_id).execute(tx.conn()).await?;
        }
        let ours = sqlx::query("SELECT booking_id, event_id FROM calendar_booking_events WHERE calendar_id = $1 AND staff_id = $2 AND written_end > $3")
            .bind(&source.calendar_id)
            .bind(&source.staff_id)
            .bind(fetched.time_min)
            .fetch_all(tx.conn())
            .await?;
        for row in &ours {
            let event_id: String = row.try_get("event_id")?;
            if !listed.contains(event_id.as_str()) {
                let booking_id: String = row.try_get("booking_id")?;
                super::tasks::outside_change(&mut tx, &booking_id, None).await?;
            }
        }
    }

    for event in &fetched.items {
        if event.id.is_empty() {
            continue;
        }
        let link = link_for(&mut tx, &source.calendar_id, &event.id).await?;
        if !fetched.full {
            let held: Option<i64> = sqlx::query_scalar("SELECT start_at FROM calendar_events WHERE source_id = $1 AND event_id = $2")
                .bind(&source.id)
                .bind(&event.id)
                .fetch_optional(tx.conn())
                .await?;
            if let Some(at) = held {
                touch(at);
            }
        }
        if event.is_cancelled() {
            sqlx::query("DELETE FROM calendar_events WHERE source_id = $1 AND event_id = $2").bind(&source.id).bind(&event.id).execute(tx.conn()).await?;
            if let Some(link) = link {
                super::tasks::outside_change(&mut tx, &link.booking_id, None).await?;
            }
            continue;
        }
        let (Some(start), Some(end)) = (instant(event.start.as_ref(), &tz), instant(event.end.as_ref(), &tz)) else { continue };
        if end <= start {
            continue;
        }
        touch(start);
        let booking_id = match &link {
            Some(l) => Some(l.booking_id.clone()),
            None => adopt(&mut tx, source, event, (start, end)).await?,
        };
        sqlx::query(
            "INSERT INTO calendar_events (source_id, event_id, business_id, staff_id, start_at, end_at, busy, booking_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (source_id, event_id) DO UPDATE SET start_at = excluded.start_at, end_at = excluded.end_at, busy = excluded.busy, booking_id = excluded.booking_id",
        )
        .bind(&source.id)
        .bind(&event.id)
        .bind(&source.business_id)
        .bind(&source.staff_id)
        .bind(start)
        .bind(end)
        .bind(i64::from(event.is_busy()))
        .bind(booking_id)
        .execute(tx.conn())
        .await?;
        if let Some(link) = link {
            if link.written != (start, end) {
                super::tasks::outside_change(&mut tx, &link.booking_id, Some((start, end))).await?;
            }
        }
    }

    if fetched.full {
        rebuild_busy_days(&mut tx, &source.business_id, &source.staff_id, None).await?;
    } else if touched.is_some() {
        rebuild_busy_days(&mut tx, &source.business_id, &source.staff_id, touched).await?;
    }

    let live = channel.is_some() || (source.channel_id.is_some() && source.channel_expires_at.is_some_and(|at| at - now >= RENEW_BEFORE_MS));
    let expires = match channel {
        Some((c, _)) => c.expiration.as_deref().and_then(|e| e.parse::<i64>().ok()),
        None => source.channel_expires_at,
    };
    let mut next = now + if live { POLL_WITH_PUSH_MS } else { POLL_WITHOUT_PUSH_MS };
    if let (true, Some(at)) = (live, expires) {
        next = next.min((at - RENEW_BEFORE_MS).max(now + 60_000));
    }
    sqlx::query("UPDATE calendar_sources SET sync_token = $1, last_sync_at = $2, last_error = NULL, next_sync_at = $3 WHERE id = $4")
        .bind(fetched.next_sync_token)
        .bind(now)
        .bind(next)
        .bind(&source.id)
        .execute(tx.conn())
        .await?;
    if let Some((c, secret)) = channel {
        sqlx::query("UPDATE calendar_sources SET channel_id = $1, channel_resource_id = $2, channel_token_hash = $3, channel_expires_at = $4 WHERE id = $5")
            .bind(&c.id)
            .bind(&c.resource_id)
            .bind(sha256_hex(secret))
            .bind(expires)
            .bind(&source.id)
            .execute(tx.conn())
            .await?;
    } else if !live && source.channel_id.is_some() {
        sqlx::query("UPDATE calendar_sources SET channel_id = NULL, channel_resource_id = NULL, channel_token_hash = NULL, channel_expires_at = NULL WHERE id = $1")
            .bind(&source.id)
            .execute(tx.conn())
            .await?;
    }
    super::connect::record(&mut tx, &source.staff_id).await?;
    tx.commit().await?;
    Ok(())
}

/// An event of ours we have no record of (we wrote it and stopped before keeping its id): taken
/// back when it still holds its booking's time, so it is neither busy time nor an outside change.
async fn adopt(tx: &mut crate::store::BusinessTx, source: &Source, event: &Event, (start, end): (i64, i64)) -> Result<Option<String>, Error> {
    let Some(booking_id) = event.booking_id() else { return Ok(None) };
    let row = sqlx::query(
        "SELECT b.id FROM bookings b WHERE b.id = $1 AND b.business_id = $2 AND b.staff_id = $3 AND b.start_at = $4 AND b.end_at = $5 \
         AND NOT EXISTS (SELECT 1 FROM calendar_booking_events l WHERE l.booking_id = b.id AND l.business_id = b.business_id)",
    )
    .bind(booking_id)
    .bind(&source.business_id)
    .bind(&source.staff_id)
    .bind(start)
    .bind(end)
    .fetch_optional(tx.conn())
    .await?;
    if row.is_none() {
        return Ok(None);
    }
    sqlx::query(
        "INSERT INTO calendar_booking_events (booking_id, business_id, staff_id, calendar_id, event_id, written_start, written_end) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(booking_id)
    .bind(&source.business_id)
    .bind(&source.staff_id)
    .bind(&source.calendar_id)
    .bind(&event.id)
    .bind(start)
    .bind(end)
    .execute(tx.conn())
    .await?;
    Ok(Some(booking_id.to_owned()))
}

/// What a push notification said.
pub struct Notification<'a> {
    pub channel_id: Option<&'a str>,
    pub token: Option<&'a str>,
    /// `sync` (the channel was opened), `exists` or `not_exists`.
    pub state: Option<&'a str>,
}

/// A push notification: checked against the channel's token, then the calendar is marked due and
/// the worker woken. Notifications only ever say "look now", so one that is late, repeated or out
/// of order costs one incremental read and changes nothing by itself. A channel we no longer hold
/// (replaced, stopped, disconnected) is acknowledged and ignored.
pub async fn receive(core: &Core, n: Notification<'_>) -> Result<(), Error> {
    let channel_id = n.channel_id.ok_or_else(|| WebhookError::InvalidPayload("X-Goog-Channel-ID is missing.".into()))?;
    let token = n.token.ok_or(WebhookError::MissingSignature("X-Goog-Channel-Token"))?;
    let row = sqlx::query("SELECT id, channel_token_hash FROM calendar_sources WHERE channel_id = $1 AND selected = 1")
        .bind(channel_id)
        .fetch_optional(core.db.reader())
        .await?;
    let Some(row) = row else {
        tracing::debug!(channel_id, "a notification for a channel we no longer hold");
        return Ok(());
    };
    let expected: Option<String> = row.try_get("channel_token_hash")?;
    let matches = expected.is_some_and(|h| subtle::ConstantTimeEq::ct_eq(h.as_bytes(), sha256_hex(token).as_bytes()).into());
    if !matches {
        return Err(WebhookError::InvalidSignature.into());
    }
    if n.state == Some("sync") {
        return Ok(());
    }
    let id: String = row.try_get("id")?;
    sqlx::query("UPDATE calendar_sources SET next_sync_at = $1 WHERE id = $2").bind(core.db.now_ms()).bind(id).execute(core.db.writer()).await?;
    core.db.wakeups().wake(Job::Calendar);
    if core.db.engine() == crate::store::Engine::Postgres {
        core.db.announce_to_others(crate::store::Signal::Wake { jobs: vec![Job::Calendar.as_str().to_owned()] }).await?;
    }
    Ok(())
}
