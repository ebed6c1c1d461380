//! Accounts: signup, login, rotating refresh tokens, logout, accepting invitations, and the
//! [`Actor`] every business operation takes — who is acting, in which business, in which role —
//! which is where tenant scoping comes from ([`authenticate`] makes one from an access token).
//!
//! Access tokens are short-lived HS256 JWTs naming the staff member, their business and their
//! session. Each request still checks the session and the staff member in the database, so
//! deactivating someone or revoking a session takes effect at once (their live sessions are told
//! to re-check, see `live`), and role changes apply to the next request. Refresh tokens are random, stored only as SHA-256 hashes, and single-use: each
//! refresh returns a new one, and presenting a used one again revokes the whole session (the
//! family), because only a thief or a replay would do that.
//!
//! Passwords are hashed with argon2id (the `argon2` crate's recommended parameters) on the blocking
//! pool. (Login attempts are rate-limited by the HTTP service, per account and client address.)

pub mod business;
pub mod first_run;
pub mod region;
pub mod security;
pub mod staff;

use crate::Core;
use protocol::EntityKind;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use protocol::{AcceptInvitationRequest, AuthTokens, LoginRequest, RefreshRequest, Role, SignupRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::Row;

use crate::error::{AccountError, Error};
use crate::Config;

// ---------------------------------------------------------------------------------------------
// Tokens

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    access_ttl_secs: u64,
    refresh_ttl_ms: i64,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// Staff id.
    sub: String,
    /// Business id.
    bid: String,
    /// Session id.
    sid: String,
    iat: u64,
    exp: u64,
}

/// How long past its expiry an access token is still taken.
const EXPIRY_LEEWAY_SECS: u64 = 5;

impl TokenKeys {
    /// Derives the signing key from the master key, so one secret serves the whole service.
    pub fn new(master_key: &[u8; 32], config: &Config) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(b"switchboard access-token signing key v1");
        hasher.update(master_key);
        let key = hasher.finalize();
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against the service's clock in `verify`, not here: jsonwebtoken
        // would read the system's time, which a test clock (or anything else) does not move.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        TokenKeys {
            encoding: EncodingKey::from_secret(&key),
            decoding: DecodingKey::from_secret(&key),
            validation,
            access_ttl_secs: config.access_token_ttl_secs,
            refresh_ttl_ms: (config.refresh_token_ttl_days * 86_400_000) as i64,
        }
    }

    /// Signs an access token valid for `ttl_secs` from `now_secs` (tests forge expired ones).
    pub fn sign(&self, staff_id: &str, business_id: &str, session_id: &str, now_secs: u64, ttl_secs: u64) -> String {
        let claims = Claims {
            sub: staff_id.into(),
            bid: business_id.into(),
            sid: session_id.into(),
            iat: now_secs,
            exp: now_secs + ttl_secs,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).expect("HS256 signing cannot fail")
    }

    /// The token's claims if it is ours and unexpired at `now_secs` (the service's clock), with a
    /// few seconds' leeway for clocks a little apart between instances.
    fn verify(&self, token: &str, now_secs: u64) -> Result<Claims, AccountError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|_| AccountError::InvalidToken)?;
        if claims.exp.saturating_add(EXPIRY_LEEWAY_SECS) < now_secs {
            return Err(AccountError::TokenExpired);
        }
        Ok(claims)
    }
}

pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256, hex. Tokens are high-entropy, so a fast hash is the right tool (unlike passwords).
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Starts a session for a staff member and issues its first token pair.
pub async fn start_session(
    conn: &mut AnyConnection,
    keys: &TokenKeys,
    now: i64,
    business_id: &str,
    staff_id: &str,
    role: Role,
) -> Result<AuthTokens, Error> {
    let session_id = format!("{:x}", rand::random::<u128>());
    sqlx::query("INSERT INTO sessions (id, business_id, staff_id, created_at, last_used_at) VALUES ($1, $2, $3, $4, $4)")
        .bind(&session_id)
        .bind(business_id)
        .bind(staff_id)
        .bind(now)
        .execute(&mut *conn)
        .await?;
    issue_tokens(conn, keys, now, business_id, staff_id, &session_id, role).await
}

async fn issue_tokens(
    conn: &mut AnyConnection,
    keys: &TokenKeys,
    now: i64,
    business_id: &str,
    staff_id: &str,
    session_id: &str,
    role: Role,
) -> Result<AuthTokens, Error> {
    let refresh_token = random_token();
    sqlx::query("INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(token_hash(&refresh_token))
        .bind(session_id)
        .bind(now)
        .bind(now + keys.refresh_ttl_ms)
        .execute(&mut *conn)
        .await?;
    Ok(AuthTokens {
        business_id: business_id.into(),
        staff_id: staff_id.into(),
        role,
        permissions: permissions(role),
        access_token: keys.sign(staff_id, business_id, session_id, ms_to_secs(now), keys.access_ttl_secs),
        expires_in: keys.access_ttl_secs,
        refresh_token,
    })
}

async fn revoke_session(conn: &mut AnyConnection, now: i64, session_id: &str, reason: &str) -> Result<(), Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(session_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Ends every session of a staff member (deactivation).
pub async fn revoke_all_sessions(conn: &mut AnyConnection, now: i64, staff_id: &str, reason: &str) -> Result<(), Error> {
    sqlx::query("UPDATE sessions SET revoked_at = $1, revoked_reason = $2 WHERE staff_id = $3 AND revoked_at IS NULL")
        .bind(now)
        .bind(reason)
        .bind(staff_id)
        .execute(conn)
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Passwords and input

pub async fn hash_password(password: String) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(Error::internal)?
    .map_err(|e| Error::internal(std::io::Error::other(e.to_string())))
}

async fn verify_password(password: String, hash: String) -> Result<bool, Error> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&hash).map_err(|e| std::io::Error::other(e.to_string()))?;
        Ok::<_, std::io::Error>(Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(Error::internal)?
    .map_err(Error::internal)
}

/// A hash of a password nobody has, verified when the email is unknown so that a login for an
/// unknown address takes as long as one for a known address.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default().hash_password(b"not anyone's password", &salt).expect("hashing works").to_string()
});

pub fn check_password(password: &str) -> Result<(), Error> {
    let chars = password.chars().count();
    if chars < 8 {
        return Err(Error::invalid("The password must be at least 8 characters long."));
    }
    if chars > 256 {
        return Err(Error::invalid("The password must be at most 256 characters long."));
    }
    Ok(())
}

/// Trimmed and lower-cased, or a validation error.
pub fn normalise_email(email: &str) -> Result<String, Error> {
    let email = email.trim().to_lowercase();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && matches!(email.split_once('@'), Some((local, domain))
            if !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@'));
    if valid {
        Ok(email)
    } else {
        Err(Error::invalid("Enter a valid email address, like name@example.com."))
    }
}

pub fn required_text(value: &str, field: &str, max: usize) -> Result<String, Error> {
    let value = value.trim();
    if value.is_empty() {
        return Err(Error::invalid(format!("`{field}` must not be empty.")));
    }
    if value.chars().count() > max {
        return Err(Error::invalid(format!("`{field}` must be at most {max} characters.")));
    }
    Ok(value.to_owned())
}

/// A time zone as the IANA database spells it (`Europe/London`, `America/Argentina/Salta`, `UTC`):
/// exactly one of its names, with its capitals — not `europe/london` or `utc`, which a lookup
/// would forgive but other programs reading the stored name would not — and not the database's
/// odd entries (`Factory`, `localtime`, `posixrules`, the `posix/` and `right/` copies) or bare
/// legacy aliases (`GB`, `Japan`, `EST`).
pub fn check_timezone(name: &str) -> Result<String, Error> {
    let odd = matches!(name, "Factory" | "localtime" | "posixrules") || name.starts_with("posix/") || name.starts_with("right/");
    let shaped = name == "UTC" || (name.contains('/') && !name.starts_with('/'));
    let listed = !odd && shaped && jiff::tz::db().available().any(|n| n.as_str() == name) && jiff::tz::TimeZone::get(name).is_ok();
    if listed {
        Ok(name.to_owned())
    } else {
        Err(Error::invalid(format!("`{name}` is not an IANA time zone name (for example `Europe/London`, spelt exactly so).")))
    }
}

#[cfg(test)]
mod timezone_tests {
    #[test]
    fn only_canonical_iana_names_are_time_zones() {
        for good in ["Europe/London", "America/New_York", "America/Argentina/Salta", "Asia/Kolkata", "UTC", "Etc/GMT+5"] {
            assert_eq!(super::check_timezone(good).ok().as_deref(), Some(good), "{good}");
        }
        for bad in ["localtime", "Factory", "europe/london", "utc", "posixrules", "posix/Europe/London", "right/UTC", "GB", "", "/etc/localtime", "Mars/Olympus_Mons"] {
            assert!(super::check_timezone(bad).is_err(), "{bad} was accepted");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Handlers

pub(crate) fn parse_role(text: &str) -> Result<Role, Error> {
    Role::parse(text).ok_or_else(|| Error::internal(crate::store::StoreError::Corrupt(format!("role {text}"))))
}

// ---------------------------------------------------------------------------------------------
// The extractor

/// What a route needs to be allowed to do (the names are protocol's: the console shows and hides
/// by them, and learns them from the service).
pub use protocol::Permission;

/// Everything a role allows, as the service tells the signed-in person (sign-in, `/v1/me`, the
/// sync welcome).
pub fn permissions(role: Role) -> Vec<Permission> {
    Permission::ALL.iter().copied().filter(|p| role_allows(role, *p)).collect()
}

/// The one rule of who may do what.
pub fn role_allows(role: Role, permission: Permission) -> bool {
    match role {
        Role::Owner => true,
        Role::Admin => permission != Permission::ManageOwners,
        Role::Agent => permission == Permission::HandleConversations,
    }
}

/// Seconds since the epoch (what a token's claims count in) for the clock's milliseconds.
fn ms_to_secs(ms: i64) -> u64 {
    u64::try_from(ms / 1000).unwrap_or(0)
}

/// Now in a token's seconds, by the service's clock.
fn now_secs(core: &Core) -> u64 {
    ms_to_secs(core.db.now_ms())
}

/// Checks an access token as every request does: signature, expiry (by the service's clock),
/// session and staff member.
pub async fn authenticate(core: &Core, token: &str) -> Result<Actor, Error> {
    let claims = core.keys.verify(token.trim(), now_secs(core))?;
    let row = sqlx::query(
        "SELECT st.role, st.active, se.revoked_at FROM sessions se JOIN staff st ON st.id = se.staff_id \
         WHERE se.id = $1 AND st.id = $2 AND st.business_id = $3",
    )
    .bind(&claims.sid)
    .bind(&claims.sub)
    .bind(&claims.bid)
    .fetch_optional(core.db.reader())
    .await?
    .ok_or(AccountError::InvalidToken)?;
    if row.try_get::<i64, _>("active")? == 0 {
        return Err(AccountError::Deactivated.into());
    }
    if row.try_get::<Option<i64>, _>("revoked_at")?.is_some() {
        return Err(AccountError::SessionRevoked.into());
    }
    Ok(Actor { business_id: claims.bid, staff_id: claims.sub, role: parse_role(&row.try_get::<String, _>("role")?)?, session_id: claims.sid })
}

/// Who is acting: a signed-in staff member of one business. Every business operation takes one,
/// and its `business_id` is the only business it may touch.
#[derive(Debug, Clone)]
pub struct Actor {
    pub business_id: String,
    pub staff_id: String,
    pub role: Role,
    pub session_id: String,
}

impl Actor {
    /// `forbidden` unless the role allows it.
    pub fn require(&self, permission: Permission) -> Result<(), Error> {
        if role_allows(self.role, permission) {
            Ok(())
        } else {
            Err(Error::Forbidden(format!("Your role ({}) may not do this; ask an owner or admin.", self.role)))
        }
    }

    pub fn may(&self, permission: Permission) -> bool {
        role_allows(self.role, permission)
    }
}

// ---------------------------------------------------------------------------------------------
// Signing up and in

/// Creates a business and its owner, and signs the owner in.
pub async fn signup(core: &Core, req: SignupRequest) -> Result<AuthTokens, Error> {
    let business_name = required_text(&req.business_name, "business_name", 200)?;
    let timezone = check_timezone(req.timezone.trim())?;
    let name = required_text(&req.name, "name", 200)?;
    let email = normalise_email(&req.email)?;
    check_password(&req.password)?;
    let password_hash = hash_password(req.password).await?;

    let business_id: String = core.db.new_id();
    let staff_id: String = core.db.new_id();
    let now = core.db.now_ms();
    // Locale, currency and country follow the time zone (Europe/London: en-GB, GBP, GB).
    let regional = region::defaults_for(&timezone);
    let mut tx = core.db.begin_business(&business_id).await?;
    sqlx::query(
        "INSERT INTO businesses (id, name, timezone, locale, currency, last_seq, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 0, $6, $6)",
    )
    .bind(&business_id)
    .bind(&business_name)
    .bind(&timezone)
    .bind(&regional.locale)
    .bind(&regional.currency)
    .bind(now)
    .execute(tx.conn())
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO staff (id, business_id, name, email, password_hash, role, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, 'owner', 1, $6, $6)",
    )
    .bind(&staff_id)
    .bind(&business_id)
    .bind(&name)
    .bind(&email)
    .bind(&password_hash)
    .bind(now)
    .execute(tx.conn())
    .await;
    email_free(inserted)?;
    let business = business::load(tx.conn(), &business_id).await?;
    tx.record(EntityKind::Business, &business_id, Some(&business)).await?;
    let schedule = crate::scheduling::hours::load_business_schedule(tx.conn(), &business_id).await?;
    tx.record(EntityKind::Schedule, &business_id, Some(&schedule)).await?;
    let owner = staff::get(tx.conn(), &business_id, &staff_id).await?;
    tx.record(EntityKind::Staff, &staff_id, Some(&owner)).await?;
    tx.audit(Some(&staff_id), "business.created", Some(("business", &business_id)), serde_json::json!({})).await?;
    if security::send_verification(core, tx.conn(), &staff_id, &business_id, &email).await? {
        tx.wake(crate::workers::Job::Mail);
    }
    let tokens = start_session(tx.conn(), &core.keys, now, &business_id, &staff_id, Role::Owner).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// A unique email is one account: the key refusing a second is `email_taken`.
fn email_free<T>(inserted: Result<T, sqlx::Error>) -> Result<T, Error> {
    inserted.map_err(|e| match crate::store::StoreError::from(e) {
        e if e.is_unique_violation() => AccountError::EmailTaken.into(),
        e => e.into(),
    })
}

/// Signs in with email and password.
/// `device` (the client's user agent) tells a new device from a known one; a sign-in from a new
/// one is mailed to the person. With two-factor sign-in on (or required) this answers with the
/// challenge for the second step instead (see [`security`]).
pub async fn login(core: &Core, req: LoginRequest, device: Option<&str>) -> Result<AuthTokens, Error> {
    let email = req.email.trim().to_lowercase();
    let row = sqlx::query("SELECT id, business_id, password_hash, role, active FROM staff WHERE email = $1")
        .bind(&email)
        .fetch_optional(core.db.reader())
        .await?;
    let Some(row) = row else {
        verify_password(req.password, DUMMY_HASH.clone()).await?;
        return Err(AccountError::InvalidCredentials.into());
    };
    let hash: String = row.try_get("password_hash")?;
    if !verify_password(req.password, hash).await? {
        return Err(AccountError::InvalidCredentials.into());
    }
    if row.try_get::<i64, _>("active")? == 0 {
        return Err(AccountError::Deactivated.into());
    }
    let staff_id: String = row.try_get("id")?;
    let business_id: String = row.try_get("business_id")?;
    let role = parse_role(&row.try_get::<String, _>("role")?)?;
    security::after_password(core, &staff_id, &business_id, role, device).await
}

/// Exchanges a refresh token for a new token pair. Each refresh token works once; presenting a
/// used one again ends the whole session.
pub async fn refresh(core: &Core, req: RefreshRequest) -> Result<AuthTokens, Error> {
    let hash = token_hash(req.refresh_token.trim());
    let mut tx = core.db.writer().begin().await?;
    let row = sqlx::query(
        "SELECT rt.session_id, rt.used_at, rt.expires_at, se.revoked_at, se.staff_id, se.business_id, st.active, st.role \
         FROM refresh_tokens rt JOIN sessions se ON se.id = rt.session_id JOIN staff st ON st.id = se.staff_id \
         WHERE rt.token_hash = $1",
    )
    .bind(&hash)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(AccountError::InvalidRefreshToken)?;
    let session_id: String = row.try_get("session_id")?;
    let used_at: Option<i64> = row.try_get("used_at")?;
    let revoked_at: Option<i64> = row.try_get("revoked_at")?;
    let expires_at: i64 = row.try_get("expires_at")?;
    let now = core.db.now_ms();
    if revoked_at.is_some() {
        return Err(AccountError::SessionRevoked.into());
    }
    // Claim the token; losing the claim means it was used before (maybe concurrently).
    let claimed = sqlx::query("UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL")
        .bind(now)
        .bind(&hash)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if used_at.is_some() || claimed == 0 {
        revoke_session(&mut tx, now, &session_id, "refresh token reused").await?;
        tx.commit().await?;
        tracing::warn!(session_id = %session_id, "refresh token reused; session revoked");
        // Its open live session (the thief's, or the owner's) closes now, not at the next heartbeat.
        core.live.account_changed(core, &row.try_get::<String, _>("staff_id")?);
        return Err(AccountError::RefreshTokenReused.into());
    }
    if expires_at <= now {
        return Err(AccountError::RefreshTokenExpired.into());
    }
    if row.try_get::<i64, _>("active")? == 0 {
        return Err(AccountError::Deactivated.into());
    }
    let staff_id: String = row.try_get("staff_id")?;
    let business_id: String = row.try_get("business_id")?;
    let role = parse_role(&row.try_get::<String, _>("role")?)?;
    sqlx::query("UPDATE sessions SET last_used_at = $1 WHERE id = $2").bind(now).bind(&session_id).execute(&mut *tx).await?;
    let tokens = issue_tokens(&mut tx, &core.keys, now, &business_id, &staff_id, &session_id, role).await?;
    tx.commit().await?;
    Ok(tokens)
}

/// Ends the actor's session; its refresh tokens stop working, and its open live session closes.
pub async fn logout(core: &Core, actor: &Actor) -> Result<(), Error> {
    let mut conn = core.db.writer().acquire().await?;
    revoke_session(&mut conn, core.db.now_ms(), &actor.session_id, "signed out").await?;
    core.live.account_changed(core, &actor.staff_id);
    Ok(())
}

/// Joins a business with a one-time invitation token, and signs in.
pub async fn accept_invitation(core: &Core, req: AcceptInvitationRequest) -> Result<AuthTokens, Error> {
    let name = required_text(&req.name, "name", 200)?;
    check_password(&req.password)?;
    let row = sqlx::query(
        "SELECT id, business_id, email, role, expires_at FROM invitations \
         WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL",
    )
    .bind(token_hash(req.token.trim()))
    .fetch_optional(core.db.reader())
    .await?
    .ok_or(AccountError::InvitationInvalid)?;
    if row.try_get::<i64, _>("expires_at")? <= core.db.now_ms() {
        return Err(AccountError::InvitationExpired.into());
    }
    let invitation_id: String = row.try_get("id")?;
    let business_id: String = row.try_get("business_id")?;
    let email: String = row.try_get("email")?;
    let role = parse_role(&row.try_get::<String, _>("role")?)?;
    let password_hash = hash_password(req.password).await?;

    let staff_id: String = core.db.new_id();
    let now = core.db.now_ms();
    let mut tx = core.db.begin_business(&business_id).await?;
    // Claim the invitation first, so two concurrent acceptances cannot both succeed.
    let claimed = sqlx::query("UPDATE invitations SET accepted_at = $1 WHERE id = $2 AND accepted_at IS NULL AND revoked_at IS NULL")
        .bind(now)
        .bind(&invitation_id)
        .execute(tx.conn())
        .await?
        .rows_affected();
    if claimed == 0 {
        return Err(AccountError::InvitationInvalid.into());
    }
    let inserted = sqlx::query(
        "INSERT INTO staff (id, business_id, name, email, password_hash, role, active, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7)",
    )
    .bind(&staff_id)
    .bind(&business_id)
    .bind(&name)
    .bind(&email)
    .bind(&password_hash)
    .bind(role.as_str())
    .bind(now)
    .execute(tx.conn())
    .await;
    email_free(inserted)?;
    let staff = staff::get(tx.conn(), &business_id, &staff_id).await?;
    tx.record(EntityKind::Staff, &staff_id, Some(&staff)).await?;
    let invitation = staff::load_invitation(tx.conn(), &business_id, &invitation_id).await?;
    tx.record(EntityKind::Invitation, &invitation_id, invitation.as_ref()).await?;
    tx.audit(Some(&staff_id), "invitation.accepted", Some(("invitation", &invitation_id)), serde_json::json!({"role": role})).await?;
    let required: i64 = sqlx::query_scalar("SELECT require_two_factor FROM businesses WHERE id = $1").bind(&business_id).fetch_one(tx.conn()).await?;
    if required != 0 {
        // The account exists; signing in starts with setting up two-factor.
        let challenge = security::issue_enrolment(core, tx.conn(), &staff_id, &business_id).await?;
        tx.commit().await?;
        return Err(AccountError::TwoFactorEnrolmentRequired { challenge }.into());
    }
    let tokens = start_session(tx.conn(), &core.keys, now, &business_id, &staff_id, role).await?;
    tx.commit().await?;
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalise_email("  Ana@Example.COM ").unwrap(), "ana@example.com");
        for bad in ["", "ana", "ana@", "@example.com", "ana@example", "a na@example.com", "ana@.com", "a@b@c.com"] {
            assert!(normalise_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn roles_allow_what_they_should() {
        assert!(role_allows(Role::Owner, Permission::ManageOwners));
        assert!(!role_allows(Role::Admin, Permission::ManageOwners));
        assert!(role_allows(Role::Admin, Permission::ManageStaff));
        assert!(role_allows(Role::Agent, Permission::HandleConversations));
        assert!(!role_allows(Role::Agent, Permission::ManageCatalog));
    }

    #[test]
    fn tokens_verify_and_expire_by_the_given_time() {
        let keys = TokenKeys::new(&[7; 32], &Config::default());
        let now = 1_795_000_000;
        let good = keys.sign("s", "b", "sess", now, 60);
        assert_eq!(keys.verify(&good, now).unwrap().bid, "b");
        assert_eq!(keys.verify(&good, now + 60 + EXPIRY_LEEWAY_SECS).unwrap().bid, "b", "the last second of the leeway");
        assert!(matches!(keys.verify(&good, now + 61 + EXPIRY_LEEWAY_SECS), Err(AccountError::TokenExpired)));
        let expired = keys.sign("s", "b", "sess", now - 3600, 60);
        assert!(matches!(keys.verify(&expired, now), Err(AccountError::TokenExpired)));
        let other = TokenKeys::new(&[8; 32], &Config::default()).sign("s", "b", "sess", now, 60);
        assert!(matches!(keys.verify(&other, now), Err(AccountError::InvalidToken)));
    }
}
