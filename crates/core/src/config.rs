//! Configuration, layered: built-in defaults → optional TOML file → `SWITCHBOARD_*` environment →
//! command-line flags. Secrets are [`SecretString`]s, so printing a `Config` never shows them.
//!
//! With nothing configured at all, the service keeps an embedded SQLite database and a generated
//! encryption key in the platform data directory, so `switchboard-cloud serve` just works.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port (tests).
    pub bind: SocketAddr,
    /// The URL providers reach this service at (used to verify Twilio signatures, invitation links).
    pub public_url: String,
    /// `sqlite://…` or `postgres://…`. Unset: an SQLite file in `data_dir`.
    pub database_url: Option<String>,
    /// Where the embedded database and the generated key live. Unset: the platform data directory.
    pub data_dir: Option<PathBuf>,
    /// 32 bytes, base64. Encrypts channel secrets and signs access tokens. Unset: generated once and
    /// kept in `data_dir/secret.key`. Several instances sharing one database must share this key.
    #[serde(serialize_with = "secret::serialize")]
    pub encryption_key: Option<SecretString>,
    pub llm_base_url: Option<String>,
    #[serde(serialize_with = "secret::serialize")]
    pub llm_api_key: Option<SecretString>,
    pub llm_model: Option<String>,
    /// How long one model call may take, in milliseconds.
    pub llm_timeout_ms: u64,
    /// First retry delay after a 429 or 5xx from the model.
    pub llm_retry_base_ms: u64,
    pub whatsapp_api_base: String,
    pub twilio_api_base: String,
    /// Google OAuth client of an "installed app" (Desktop) type. Unset: Google Calendar cannot be connected.
    pub google_client_id: Option<String>,
    #[serde(serialize_with = "secret::serialize")]
    pub google_client_secret: Option<SecretString>,
    /// The Google Calendar API (`…/calendar/v3`).
    pub google_api_base: String,
    /// Google's OAuth server: `{base}/o/oauth2/v2/auth`, `{base}/o/oauth2/token`, `{base}/o/oauth2/revoke`.
    pub google_oauth_base: String,
    /// Lifetime of access tokens, in seconds.
    pub access_token_ttl_secs: u64,
    /// Lifetime of an unused refresh token, in days.
    pub refresh_token_ttl_days: u64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Requests taking longer are answered with 503 `timeout`.
    pub request_timeout_secs: u64,
    /// A connection whose request head (request line and headers) has not fully arrived this long
    /// after it opened, or after its previous request, is closed.
    pub header_read_timeout_ms: u64,
    /// A request body that has not fully arrived this long after its head is answered 408
    /// `request_timeout`.
    pub body_read_timeout_ms: u64,
    /// Connections one client address may hold open at once; more are closed at once.
    pub max_connections_per_address: usize,
    /// How long a call to a provider (WhatsApp, Twilio) may take before it counts as failed.
    pub provider_timeout_ms: u64,
    /// First retry delay of a failed send; doubles per attempt (with jitter) up to five minutes.
    pub outbox_retry_base_ms: u64,
    /// Sync WebSocket connections this process accepts at once.
    pub max_ws_connections: usize,
    /// How often held conversations are checked for the automatic hand-back, in milliseconds.
    pub handback_check_ms: u64,
    /// Run the background workers in this process. Off: a web-only instance beside others that
    /// run them on one PostgreSQL (its acknowledged webhooks wake their intake), or a test that
    /// needs an acknowledged-but-unprocessed webhook.
    pub run_workers: bool,
    /// Connections in the PostgreSQL pool (SQLite always has one writer and a few readers).
    pub max_db_connections: u32,
    /// Sign-in attempts (and other guesses naming an account) allowed per account from one client
    /// address per minute: hammering someone's email locks out only the one hammering.
    pub login_attempts_per_account_per_minute: u32,
    /// Sign-in attempts allowed per client address per minute, whatever the account.
    pub login_attempts_per_address_per_minute: u32,
    /// Sign-in attempts allowed per account per minute from all addresses together, except from
    /// addresses that signed in to the account before (a soft limit against guessing from many
    /// addresses that cannot keep the account's own people out).
    pub login_attempts_per_account_all_addresses_per_minute: u32,
    /// Sign-ups allowed per client address per hour (each hashes a password and makes a business).
    pub signups_per_address_per_hour: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client: addresses or CIDR ranges,
    /// separated by commas (`10.0.0.0/8, 192.168.1.7`). Empty: the peer is the client.
    pub trusted_proxies: String,
    /// `pretty` or `json`.
    pub log_format: String,
    /// Where mail goes out: `smtp://host:port` (STARTTLS when offered), `smtps://host:465`
    /// (TLS), `smtp://user:password@host:587?tls=required`. Unset: no mail; one-time links are
    /// handed back by the API instead.
    #[serde(serialize_with = "secret::serialize")]
    pub smtp_url: Option<SecretString>,
    /// The From address of mail, e.g. `Switchboard <desk@example.com>`.
    pub smtp_from: String,
    /// How long after signing in or confirming the password again sensitive actions (export,
    /// erase, channels, two-factor changes) are allowed, in seconds.
    pub reauth_window_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".parse().expect("static address"),
            public_url: "http://127.0.0.1:8080".into(),
            database_url: None,
            data_dir: None,
            encryption_key: None,
            llm_base_url: None,
            llm_api_key: None,
            llm_model: None,
            llm_timeout_ms: 30_000,
            llm_retry_base_ms: 1_000,
            whatsapp_api_base: "https://graph.facebook.com/v21.0".into(),
            twilio_api_base: "https://api.twilio.com".into(),
            google_client_id: None,
            google_client_secret: None,
            google_api_base: "https://www.googleapis.com/calendar/v3".into(),
            google_oauth_base: "https://accounts.google.com".into(),
            access_token_ttl_secs: 15 * 60,
            refresh_token_ttl_days: 30,
            max_body_bytes: 256 * 1024,
            request_timeout_secs: 30,
            header_read_timeout_ms: 10_000,
            body_read_timeout_ms: 15_000,
            max_connections_per_address: 256,
            provider_timeout_ms: 15_000,
            outbox_retry_base_ms: 1_000,
            run_workers: true,
            handback_check_ms: 30_000,
            max_ws_connections: 5_000,
            max_db_connections: 10,
            login_attempts_per_account_per_minute: 10,
            login_attempts_per_address_per_minute: 30,
            login_attempts_per_account_all_addresses_per_minute: 30,
            signups_per_address_per_hour: 20,
            trusted_proxies: String::new(),
            log_format: "pretty".into(),
            smtp_url: None,
            smtp_from: "Switchboard <no-reply@switchboard.invalid>".into(),
            reauth_window_secs: 15 * 60,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("no data directory: set SWITCHBOARD_DATA_DIR or SWITCHBOARD_DATABASE_URL")]
    NoDataDir,
    #[error("cannot use data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("the encryption key must be 32 bytes encoded as base64")]
    BadKey,
}

impl Config {
    /// Defaults, then the TOML file (if given), then `SWITCHBOARD_*` variables, then `overrides`
    /// (the flags that were actually given).
    pub fn load(file: Option<&Path>, overrides: impl Serialize) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("SWITCHBOARD_"))
            .merge(Serialized::defaults(overrides))
            .extract()
            .map_err(|e| ConfigError::Invalid(Box::new(e)))
    }

    /// The data directory, created if needed.
    pub fn resolved_data_dir(&self) -> Result<PathBuf, ConfigError> {
        let dir = match &self.data_dir {
            Some(dir) => dir.clone(),
            None => directories::ProjectDirs::from("app", "Switchboard", "switchboard-cloud")
                .ok_or(ConfigError::NoDataDir)?
                .data_dir()
                .to_path_buf(),
        };
        std::fs::create_dir_all(&dir).map_err(|source| ConfigError::DataDir { path: dir.clone(), source })?;
        Ok(dir)
    }

    /// The database URL: the configured one, or the embedded SQLite file.
    pub fn resolved_database_url(&self) -> Result<String, ConfigError> {
        match &self.database_url {
            Some(url) => Ok(url.clone()),
            None => {
                let path = self.resolved_data_dir()?.join("switchboard.db");
                Ok(format!("sqlite://{}?mode=rwc", path.display()))
            }
        }
    }

    /// The 32-byte master key: configured, or read from (or generated into) `data_dir/secret.key`
    /// with owner-only permissions.
    pub fn resolved_encryption_key(&self) -> Result<[u8; 32], ConfigError> {
        if let Some(key) = &self.encryption_key {
            return decode_key(key.expose_secret());
        }
        let path = self.resolved_data_dir()?.join("secret.key");
        let io = |source| ConfigError::DataDir { path: path.clone(), source };
        match std::fs::read_to_string(&path) {
            Ok(text) => decode_key(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
                let text = base64::engine::general_purpose::STANDARD.encode(key);
                write_private(&path, text.as_bytes()).map_err(io)?;
                Ok(key)
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn decode_key(text: &str) -> Result<[u8; 32], ConfigError> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(text).map_err(|_| ConfigError::BadKey)?;
    bytes.try_into().map_err(|_| ConfigError::BadKey)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

mod secret {
    use secrecy::SecretString;
    use serde::Serializer;

    /// Secrets serialise as absent so that a config dump (or a figment round trip of the defaults)
    /// never carries them.
    pub fn serialize<S: Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_secrets() {
        let config = Config {
            encryption_key: Some("c2VjcmV0LWtleS1zZWNyZXQta2V5LXNlY3JldC1rZXk=".to_string().into()),
            llm_api_key: Some("sk-live-very-secret".to_string().into()),
            ..Config::default()
        };
        let printed = format!("{config:?}");
        assert!(!printed.contains("sk-live-very-secret"), "{printed}");
        assert!(!printed.contains("c2VjcmV0"), "{printed}");
        assert!(printed.contains("REDACTED"));
    }

    #[test]
    fn layers_apply_in_order() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("sb.toml", "bind = \"127.0.0.1:9000\"\npublic_url = \"https://file.example\"\nmax_body_bytes = 1000")?;
            jail.set_env("SWITCHBOARD_PUBLIC_URL", "https://env.example");
            jail.set_env("SWITCHBOARD_MAX_BODY_BYTES", "2000");
            #[derive(Serialize)]
            struct Flags {
                max_body_bytes: usize,
            }
            let config = Config::load(Some(Path::new("sb.toml")), Flags { max_body_bytes: 3000 }).unwrap();
            assert_eq!(config.bind.port(), 9000, "file beats defaults");
            assert_eq!(config.public_url, "https://env.example", "environment beats file");
            assert_eq!(config.max_body_bytes, 3000, "flags beat environment");
            Ok(())
        });
    }

    #[test]
    fn generated_key_is_kept_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { data_dir: Some(dir.path().to_path_buf()), ..Config::default() };
        let first = config.resolved_encryption_key().unwrap();
        let second = config.resolved_encryption_key().unwrap();
        assert_eq!(first, second);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("secret.key")).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "key file must be private");
        }
    }
}
