//! Mail to staff (invitations, password resets, email verification, sign-ins from a new device),
//! over SMTP with TLS (`lettre`, rustls).
//!
//! Mail is queued in `mail_outbox` in the transaction that decided to send it and sent by the
//! [`crate::workers::Job::Mail`] worker, with retries: a crash or an SMTP outage delays mail, never
//! loses it, and a request never waits for an SMTP server. A body may carry a one-time link, so it
//! is sealed at rest with the service key and emptied once sent; links and bodies are never logged.
//!
//! Without `SWITCHBOARD_SMTP_URL` there is no [`Mailer`]: nothing is queued, and the API hands
//! the one-time link to the person who asked (an owner resetting a colleague, an invitation).

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sqlx::{AnyConnection, Row};

use crate::error::Error;
use crate::store::StoreError;
use crate::Core;

/// Attempts before a mail is given up (kept as `failed` with its reason).
const MAX_ATTEMPTS: i64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum MailConfigError {
    #[error("SWITCHBOARD_SMTP_URL is not a usable SMTP URL")]
    Url,
    #[error("SWITCHBOARD_SMTP_FROM is not a mail address: {0}")]
    From(String),
}

/// Why one mail was not sent (kept as the mail's `last_error`; it is tried again later).
#[derive(Debug, thiserror::Error)]
enum SendFailure {
    #[error("bad recipient: {0}")]
    Recipient(#[from] lettre::address::AddressError),
    #[error("cannot build the mail: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// The SMTP connection settings and the From address.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// `None` when no SMTP URL is configured.
    pub fn from_config(config: &crate::Config) -> Result<Option<Mailer>, MailConfigError> {
        let Some(url) = &config.smtp_url else { return Ok(None) };
        // (The URL may hold a password: its errors are not shown.)
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose_secret())
            .map_err(|_| MailConfigError::Url)?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = config.smtp_from.parse().map_err(|_| MailConfigError::From(config.smtp_from.clone()))?;
        Ok(Some(Mailer { transport, from }))
    }

    async fn send(&self, to: &str, subject: &str, body: &str) -> Result<(), SendFailure> {
        let to: Mailbox = to.parse()?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body.to_owned())?;
        self.transport.send(message).await?;
        Ok(())
    }
}

/// What a queued mail is for (kept for the record and the metrics).
#[derive(Debug, Clone, Copy)]
pub enum MailKind {
    Invitation,
    PasswordReset,
    VerifyEmail,
    NewDevice,
    WeeklySummary,
}

impl MailKind {
    fn as_str(self) -> &'static str {
        match self {
            MailKind::Invitation => "invitation",
            MailKind::PasswordReset => "password_reset",
            MailKind::VerifyEmail => "verify_email",
            MailKind::NewDevice => "new_device",
            MailKind::WeeklySummary => "weekly_summary",
        }
    }
}

#[derive(Serialize, Deserialize)]
struct SealedBody {
    body: String,
}

/// Queues a mail in the caller's transaction. `once`: an id such as
/// `weekly_summary:{staff}:{week}` makes it once per person and week, whichever instance asks (a
/// mail with that id queued before is not queued again); `None`: a new id. `false` when nothing
/// was queued: no SMTP, or queued before. Wake [`crate::workers::Job::Mail`] after committing.
#[allow(clippy::too_many_arguments)]
pub async fn queue(
    conn: &mut AnyConnection,
    core: &Core,
    once: Option<&str>,
    business_id: Option<&str>,
    kind: MailKind,
    to: &str,
    subject: &str,
    body: &str,
) -> Result<bool, Error> {
    if core.mailer.is_none() {
        return Ok(false);
    }
    let now = core.db.now_ms();
    let id = once.map_or_else(|| core.db.new_id(), str::to_owned);
    let queued = sqlx::query(
        "INSERT INTO mail_outbox (id, business_id, kind, recipient, subject, body_sealed, status, attempts, next_attempt_at, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 'queued', 0, $7, $7) ON CONFLICT (id) DO NOTHING",
    )
    .bind(&id)
    .bind(business_id)
    .bind(kind.as_str())
    .bind(to)
    .bind(subject)
    .bind(core.secrets.seal(&SealedBody { body: body.to_owned() }))
    .bind(now)
    .execute(conn)
    .await?
    .rows_affected();
    Ok(queued == 1)
}

/// Sends what is due: one mail per step (claimed with a lease, so instances share the work).
pub async fn send_due(core: &Core) -> Result<usize, Error> {
    let Some(mailer) = &core.mailer else { return Ok(0) };
    let db = &core.db;
    let now = db.now_ms();
    let row = sqlx::query(
        "SELECT id, recipient, subject, body_sealed, attempts FROM mail_outbox \
         WHERE status = 'queued' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until < $1) ORDER BY next_attempt_at LIMIT 1",
    )
    .bind(now)
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else { return Ok(0) };
    let id: String = row.try_get("id")?;
    let claimed = sqlx::query("UPDATE mail_outbox SET lease_until = $1 WHERE id = $2 AND status = 'queued' AND (lease_until IS NULL OR lease_until < $3)")
        .bind(now + 120_000)
        .bind(&id)
        .bind(now)
        .execute(db.writer())
        .await?
        .rows_affected();
    if claimed == 0 {
        return Ok(1);
    }
    let sealed: SealedBody = core.secrets.open(&row.try_get::<String, _>("body_sealed")?)?;
    let recipient: String = row.try_get("recipient")?;
    let subject: String = row.try_get("subject")?;
    let attempts: i64 = row.try_get::<i64, _>("attempts")? + 1;
    match mailer.send(&recipient, &subject, &sealed.body).await {
        Ok(()) => {
            sqlx::query("UPDATE mail_outbox SET status = 'sent', body_sealed = '', sent_at = $1, attempts = $2, lease_until = NULL, last_error = NULL WHERE id = $3")
                .bind(db.now_ms())
                .bind(attempts)
                .bind(&id)
                .execute(db.writer())
                .await?;
        }
        Err(reason) => {
            tracing::warn!(mail_id = %id, attempts, error = %reason, "sending a mail failed");
            let (status, body) = if attempts >= MAX_ATTEMPTS { ("failed", String::new()) } else { ("queued", row.try_get::<String, _>("body_sealed")?) };
            let next = db.now_ms() + crate::workers::backoff_ms(attempts, 5_000, 600_000);
            sqlx::query("UPDATE mail_outbox SET status = $1, body_sealed = $2, attempts = $3, next_attempt_at = $4, lease_until = NULL, last_error = $5 WHERE id = $6")
                .bind(status)
                .bind(body)
                .bind(attempts)
                .bind(next)
                .bind(reason.to_string())
                .bind(&id)
                .execute(db.writer())
                .await
                .map_err(StoreError::from)?;
        }
    }
    Ok(1)
}
