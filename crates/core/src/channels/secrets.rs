//! Channel secrets at rest (access tokens, app secrets, auth tokens, voice platforms' keys):
//! sealed with ChaCha20-Poly1305 under a key derived from the service's master key. They are
//! never returned by the API, and each provider's secrets type redacts its `Debug`.

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::ChaCha20Poly1305;
use serde::de::DeserializeOwned;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::store::StoreError;

/// Seals and opens channel secrets.
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
    master: [u8; 32],
}

impl SecretBox {
    pub fn new(master_key: &[u8; 32]) -> SecretBox {
        let mut hasher = Sha256::new();
        hasher.update(b"switchboard channel secrets v1");
        hasher.update(master_key);
        let key = hasher.finalize();
        SecretBox { cipher: ChaCha20Poly1305::new(&key), master: *master_key }
    }

    /// A key for one purpose (`label`), derived from the master key (signed media addresses).
    pub fn derived_key(&self, label: &[u8]) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update(label);
        hasher.update(self.master);
        hasher.finalize().into()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::twilio::Secrets;

    #[test]
    fn secrets_round_trip_and_do_not_open_under_another_key() {
        let sealed_box = SecretBox::new(&[1; 32]);
        let secrets = Secrets { auth_token: "very-secret-token".into() };
        let sealed = sealed_box.seal(&secrets);
        assert!(!sealed.contains("very-secret"));
        assert_ne!(sealed, sealed_box.seal(&secrets), "a fresh nonce each time");
        let opened: Secrets = sealed_box.open(&sealed).unwrap();
        assert_eq!(opened.auth_token, "very-secret-token");
        assert!(SecretBox::new(&[2; 32]).open::<Secrets>(&sealed).is_err());
        assert_eq!(format!("{opened:?}"), "TwilioSecrets([REDACTED])");
    }
}
