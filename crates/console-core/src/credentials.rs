//! Where the refresh token is kept, and never anywhere else. Three places, chosen at sign-in:
//!
//! - **the OS keyring** (`keyring`): the Secret Service on a Linux desktop (GNOME Keyring,
//!   KWallet), the kernel keyring on a headless Linux session that has one, the Keychain on
//!   macOS, the Credential Manager on Windows. Used whenever it passes a write-and-read test.
//! - **an encrypted file** (`file`) in the data directory, for machines without a keyring: the
//!   token sealed with XChaCha20-Poly1305 under a key derived from a passphrase with Argon2id.
//!   After a restart the console is locked until the passphrase is given again (the CLI reads
//!   `SWITCHBOARD_CONSOLE_PASSPHRASE`). The passphrase is never stored; the derived key lives in
//!   memory only while the console runs.
//! - **this session only** (`session`): the token stays in memory; the console forgets the
//!   sign-in (and this person's data) when it starts again.
//!
//! The data directory never holds a token in plaintext; the short-lived access token lives only
//! in memory.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once, OnceLock};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::XChaCha20Poly1305;
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use zeroize::Zeroizing;

/// The file an encrypted sign-in is kept in, inside the data directory.
pub const SEALED_FILE: &str = "sign-in.sealed";

/// The shortest passphrase accepted for the encrypted file.
pub const MIN_PASSPHRASE: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the system keyring could not be used: {0}")]
    Keyring(#[from] keyring::Error),
    #[error("the passphrase does not open the saved sign-in")]
    WrongPassphrase,
    #[error("the saved sign-in is locked: give its passphrase")]
    Locked,
    #[error("the passphrase is shorter than {MIN_PASSPHRASE} characters")]
    WeakPassphrase,
    #[error("this computer has no usable system keyring: keep the sign-in in a file protected by a passphrase, or for this session only")]
    NoKeyring,
    #[error("the saved sign-in file could not be used: {0}")]
    File(String),
}

/// Where a sign-in's refresh token is kept (see the module's doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Keep {
    Keyring,
    File,
    Session,
}

impl Keep {
    pub fn as_str(self) -> &'static str {
        match self {
            Keep::Keyring => "keyring",
            Keep::File => "file",
            Keep::Session => "session",
        }
    }

    pub fn parse(s: &str) -> Option<Keep> {
        match s {
            "keyring" => Some(Keep::Keyring),
            "file" => Some(Keep::File),
            "session" => Some(Keep::Session),
            _ => None,
        }
    }
}

/// Chooses the platform's store once per process. On Linux the Secret Service is preferred;
/// where none answers (no desktop session), the kernel keyring. Whether the choice actually
/// keeps a secret is [`keyring_works`]'s question.
pub fn use_platform_store() {
    static CHOSEN: Once = Once::new();
    CHOSEN.call_once(|| {
        #[cfg(target_os = "linux")]
        {
            keyring::set_default_credential_builder(keyring::secret_service::default_credential_builder());
            let probe = keyring::Entry::new("switchboard-probe", "probe").and_then(|e| match e.get_password() {
                Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(e),
            });
            if probe.is_err() {
                keyring::set_default_credential_builder(keyring::keyutils::default_credential_builder());
            }
        }
    });
}

/// Tests and benchmarks: an in-memory store (the crate's mock; one [`Credentials`] value must be
/// reused, as the mock does not share data between entries).
pub fn use_mock_store() {
    keyring::set_default_credential_builder(keyring::mock::default_credential_builder());
}

/// Whether the OS keyring keeps a secret here: a probe entry is written, read back and deleted
/// (asked once per process). `SWITCHBOARD_CONSOLE_KEYRING=off` says no without asking (a shared
/// machine whose keyring other users can read).
pub fn keyring_works() -> bool {
    static WORKS: OnceLock<bool> = OnceLock::new();
    *WORKS.get_or_init(|| {
        if std::env::var("SWITCHBOARD_CONSOLE_KEYRING").is_ok_and(|v| v.eq_ignore_ascii_case("off")) {
            return false;
        }
        let Ok(entry) = keyring::Entry::new("switchboard-probe", &format!("probe-{}", uuid::Uuid::now_v7())) else { return false };
        let secret = "switchboard keyring probe";
        let works = entry.set_password(secret).is_ok() && entry.get_password().is_ok_and(|read| read == secret);
        let _ = entry.delete_credential();
        if !works {
            tracing::info!("the system keyring cannot keep a secret here; sign-ins are kept in an encrypted file or for the session");
        }
        works
    })
}

/// The refresh token of one account on one server.
pub struct Credentials {
    backend: Backend,
}

enum Backend {
    Keyring(keyring::Entry),
    File(Sealed),
    Session(Mutex<Option<Zeroizing<String>>>),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({})", self.keep().as_str())
    }
}

fn label(server: &str, email: &str) -> String {
    format!("{email} @ {server}")
}

impl Credentials {
    /// The OS keyring's entry for this account.
    pub fn for_account(server: &str, email: &str) -> Result<Credentials, CredentialError> {
        Ok(Credentials { backend: Backend::Keyring(keyring::Entry::new("switchboard", &label(server, email))?) })
    }

    /// A new encrypted file for this account (written when the first token is stored).
    pub fn new_sealed(data_dir: &Path, server: &str, email: &str, passphrase: &str) -> Result<Credentials, CredentialError> {
        if passphrase.chars().count() < MIN_PASSPHRASE {
            return Err(CredentialError::WeakPassphrase);
        }
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        let params = KdfParams::default();
        let key = derive(passphrase, &salt, &params)?;
        Ok(Credentials {
            backend: Backend::File(Sealed { path: data_dir.join(SEALED_FILE), account: label(server, email), open: Mutex::new(Some(OpenKey { key, salt, params })) }),
        })
    }

    /// The encrypted file of this account, locked until [`Credentials::unlock`].
    pub fn sealed(data_dir: &Path, server: &str, email: &str) -> Credentials {
        Credentials { backend: Backend::File(Sealed { path: data_dir.join(SEALED_FILE), account: label(server, email), open: Mutex::new(None) }) }
    }

    /// Memory only.
    pub fn for_session() -> Credentials {
        Credentials { backend: Backend::Session(Mutex::new(None)) }
    }

    pub fn keep(&self) -> Keep {
        match self.backend {
            Backend::Keyring(_) => Keep::Keyring,
            Backend::File(_) => Keep::File,
            Backend::Session(_) => Keep::Session,
        }
    }

    /// An encrypted file whose passphrase has not been given yet.
    pub fn is_locked(&self) -> bool {
        matches!(&self.backend, Backend::File(s) if s.open.lock().expect("not poisoned").is_none())
    }

    /// Opens the encrypted file with its passphrase (checked by decrypting it).
    pub fn unlock(&self, passphrase: &str) -> Result<(), CredentialError> {
        let Backend::File(sealed) = &self.backend else { return Ok(()) };
        let file = sealed.read()?.ok_or_else(|| CredentialError::File("there is no saved sign-in".into()))?;
        let salt: [u8; 16] = B64.decode(&file.salt).ok().and_then(|s| s.try_into().ok()).ok_or_else(|| CredentialError::File("a bad salt".into()))?;
        let key = derive(passphrase, &salt, &file.kdf)?;
        sealed.decrypt(&file, &key)?;
        *sealed.open.lock().expect("not poisoned") = Some(OpenKey { key, salt, params: file.kdf });
        Ok(())
    }

    pub fn refresh_token(&self) -> Result<Option<String>, CredentialError> {
        match &self.backend {
            Backend::Keyring(entry) => match entry.get_password() {
                Ok(t) => Ok(Some(t)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(e.into()),
            },
            Backend::File(sealed) => {
                let open = sealed.open.lock().expect("not poisoned");
                let Some(open) = open.as_ref() else { return Err(CredentialError::Locked) };
                match sealed.read()? {
                    Some(file) => Ok(Some(sealed.decrypt(&file, &open.key)?.to_string())),
                    None => Ok(None),
                }
            }
            Backend::Session(token) => Ok(token.lock().expect("not poisoned").as_ref().map(|t| t.to_string())),
        }
    }

    pub fn store(&self, refresh_token: &str) -> Result<(), CredentialError> {
        match &self.backend {
            Backend::Keyring(entry) => Ok(entry.set_password(refresh_token)?),
            Backend::File(sealed) => {
                let open = sealed.open.lock().expect("not poisoned");
                let Some(open) = open.as_ref() else { return Err(CredentialError::Locked) };
                sealed.write(open, refresh_token)
            }
            Backend::Session(token) => {
                *token.lock().expect("not poisoned") = Some(Zeroizing::new(refresh_token.to_owned()));
                Ok(())
            }
        }
    }

    pub fn forget(&self) -> Result<(), CredentialError> {
        match &self.backend {
            Backend::Keyring(entry) => match entry.delete_credential() {
                Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                Err(e) => Err(e.into()),
            },
            Backend::File(sealed) => {
                *sealed.open.lock().expect("not poisoned") = None;
                match std::fs::remove_file(&sealed.path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(CredentialError::File(e.to_string())),
                }
            }
            Backend::Session(token) => {
                *token.lock().expect("not poisoned") = None;
                Ok(())
            }
        }
    }
}

/// Argon2id's cost, written into the file so it can be raised later without breaking old files.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

impl Default for KdfParams {
    /// OWASP's recommended Argon2id setting (19 MiB, 2 passes, 1 lane): about 50 ms here.
    fn default() -> Self {
        KdfParams { m_kib: 19 * 1024, t: 2, p: 1 }
    }
}

fn derive(passphrase: &str, salt: &[u8; 16], params: &KdfParams) -> Result<Zeroizing<[u8; 32]>, CredentialError> {
    let argon = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(params.m_kib, params.t, params.p, Some(32)).map_err(|e| CredentialError::File(e.to_string()))?,
    );
    let mut key = Zeroizing::new([0u8; 32]);
    argon.hash_password_into(passphrase.as_bytes(), salt, key.as_mut()).map_err(|e| CredentialError::File(e.to_string()))?;
    Ok(key)
}

struct OpenKey {
    key: Zeroizing<[u8; 32]>,
    salt: [u8; 16],
    params: KdfParams,
}

struct Sealed {
    path: PathBuf,
    /// Bound into the ciphertext (associated data): the file opens only as this account's.
    account: String,
    open: Mutex<Option<OpenKey>>,
}

/// The file as written: everything but the key needed to open it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SealedFile {
    format: String,
    kdf: KdfParams,
    salt: String,
    nonce: String,
    ciphertext: String,
}

const FORMAT: &str = "switchboard-sign-in/1 argon2id xchacha20poly1305";

impl Sealed {
    fn read(&self) -> Result<Option<SealedFile>, CredentialError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                let file: SealedFile = serde_json::from_slice(&bytes).map_err(|e| CredentialError::File(e.to_string()))?;
                if file.format != FORMAT {
                    return Err(CredentialError::File(format!("an unknown format `{}`", file.format)));
                }
                Ok(Some(file))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(CredentialError::File(e.to_string())),
        }
    }

    fn decrypt(&self, file: &SealedFile, key: &[u8; 32]) -> Result<Zeroizing<String>, CredentialError> {
        let nonce = B64.decode(&file.nonce).map_err(|e| CredentialError::File(e.to_string()))?;
        let ciphertext = B64.decode(&file.ciphertext).map_err(|e| CredentialError::File(e.to_string()))?;
        if nonce.len() != 24 {
            return Err(CredentialError::File("a bad nonce".into()));
        }
        let cipher = XChaCha20Poly1305::new(key.into());
        let plain = cipher
            .decrypt(nonce.as_slice().into(), Payload { msg: &ciphertext, aad: self.account.as_bytes() })
            .map_err(|_| CredentialError::WrongPassphrase)?;
        String::from_utf8(plain).map(Zeroizing::new).map_err(|_| CredentialError::WrongPassphrase)
    }

    /// A fresh nonce per write; written beside and renamed over, so a crash leaves the old file
    /// or the new one, never half of either. Readable by its owner only.
    fn write(&self, open: &OpenKey, token: &str) -> Result<(), CredentialError> {
        let cipher = XChaCha20Poly1305::new(open.key.as_ref().into());
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let ciphertext = cipher
            .encrypt(&nonce, Payload { msg: token.as_bytes(), aad: self.account.as_bytes() })
            .map_err(|_| CredentialError::File("encryption failed".into()))?;
        let file = SealedFile { format: FORMAT.into(), kdf: open.params, salt: B64.encode(open.salt), nonce: B64.encode(nonce), ciphertext: B64.encode(ciphertext) };
        let bytes = serde_json::to_vec_pretty(&file).map_err(|e| CredentialError::File(e.to_string()))?;
        let tmp = self.path.with_extension("tmp");
        let io = |e: std::io::Error| CredentialError::File(e.to_string());
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut f = options.open(&tmp).map_err(io)?;
            f.write_all(&bytes).map_err(io)?;
            f.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, &self.path).map_err(io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sealed_file_opens_with_its_passphrase_only_and_holds_no_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let token = "refresh-token-e4b1c9d2-plain";
        let creds = Credentials::new_sealed(dir.path(), "http://s", "a@b.c", "correct horse battery").unwrap();
        creds.store(token).unwrap();
        let bytes = std::fs::read(dir.path().join(SEALED_FILE)).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(token));
        #[cfg(unix)]
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(dir.path().join(SEALED_FILE)).unwrap().permissions()) & 0o777, 0o600);

        let later = Credentials::sealed(dir.path(), "http://s", "a@b.c");
        assert!(later.is_locked());
        assert!(matches!(later.refresh_token(), Err(CredentialError::Locked)));
        assert!(matches!(later.unlock("wrong horse battery"), Err(CredentialError::WrongPassphrase)));
        later.unlock("correct horse battery").unwrap();
        assert_eq!(later.refresh_token().unwrap().as_deref(), Some(token));
        // Another account's name does not open it, even with the passphrase.
        let other = Credentials::sealed(dir.path(), "http://s", "x@b.c");
        assert!(matches!(other.unlock("correct horse battery"), Err(CredentialError::WrongPassphrase)));
        // A rotated token is sealed again (new nonce), still readable.
        later.store("rotated").unwrap();
        assert_eq!(later.refresh_token().unwrap().as_deref(), Some("rotated"));
        later.forget().unwrap();
        assert!(!dir.path().join(SEALED_FILE).exists());
        assert!(matches!(Credentials::new_sealed(dir.path(), "s", "e", "short"), Err(CredentialError::WeakPassphrase)));
    }
}
