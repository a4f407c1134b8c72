//! Random credentials: access key ids, secret keys, admin tokens and encryption keys, generated once per object
//! and kept in Secrets (never in status, events or logs).

use rand::distr::{Alphanumeric, SampleString};
use rand::RngExt;

const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// An AWS-style access key id: `BS` and 18 upper-case letters or digits.
pub fn access_key_id() -> String {
    let mut rng = rand::rng();
    let mut id = String::from("BS");
    for _ in 0..18 {
        id.push(KEY_ID_ALPHABET[rng.random_range(0..KEY_ID_ALPHABET.len())] as char);
    }
    id
}

/// A 40-character secret key (about 238 bits).
pub fn secret_key() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 40)
}

/// A key for the server's secrets at rest: 32 random bytes, base64 (the form
/// `BLEEPSTORE_ENCRYPTION_KEY` takes).
pub fn encryption_key() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::rng().random();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A 48-character admin API token (about 285 bits).
pub fn admin_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 48)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_uniqueness() {
        let id = access_key_id();
        assert_eq!(id.len(), 20);
        assert!(id.starts_with("BS") && id.bytes().all(|b| KEY_ID_ALPHABET.contains(&b)));
        assert_eq!(secret_key().len(), 40);
        assert_eq!(admin_token().len(), 48);
        assert_eq!(encryption_key().len(), 44);
        assert_ne!(encryption_key(), encryption_key());
        assert_ne!(secret_key(), secret_key());
    }
}
