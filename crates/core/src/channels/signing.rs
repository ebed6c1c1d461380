//! The keyed hashes providers sign their webhooks with, for the signature checks in each
//! provider's `intake` module. Comparisons take the same time whatever the bytes.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Lower-case hex HMAC-SHA256 of the parts, in order, keyed by `key`.
pub fn hmac_sha256_hex(key: &str, parts: &[&[u8]]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("HMAC takes any key");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether the HMAC-SHA256 of `body` keyed by `key` is `signature` (raw bytes), in constant time.
pub fn hmac_sha256_matches(key: &str, body: &[u8], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key.as_bytes()) else { return false };
    mac.update(body);
    mac.verify_slice(signature).is_ok()
}

/// Constant-time equality of two texts.
pub fn same(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Bytes from hex (either case); `None` unless it is whole bytes of hex digits.
pub fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok()).collect()
}
