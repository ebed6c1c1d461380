//! The refresh token, kept in the OS keyring and nowhere else: the Secret Service on a Linux
//! desktop (GNOME Keyring, KWallet), the kernel keyring on a headless Linux machine, the Keychain
//! on macOS, the Credential Manager on Windows. The data directory never holds a secret; the
//! short-lived access token lives only in memory.

use std::sync::Once;

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("the system keyring could not be used: {0}")]
    Keyring(#[from] keyring::Error),
}

/// Chooses the platform's store once per process. On Linux the Secret Service is preferred;
/// where none answers (no desktop session), the kernel keyring keeps the token for the session.
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

/// The refresh token of one account on one server.
pub struct Credentials {
    entry: keyring::Entry,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials(..)")
    }
}

impl Credentials {
    pub fn for_account(server: &str, email: &str) -> Result<Credentials, CredentialError> {
        Ok(Credentials { entry: keyring::Entry::new("switchboard", &format!("{email} @ {server}"))? })
    }

    pub fn refresh_token(&self) -> Result<Option<String>, CredentialError> {
        match self.entry.get_password() {
            Ok(t) => Ok(Some(t)),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    pub fn store(&self, refresh_token: &str) -> Result<(), CredentialError> {
        Ok(self.entry.set_password(refresh_token)?)
    }

    pub fn forget(&self) -> Result<(), CredentialError> {
        match self.entry.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}
