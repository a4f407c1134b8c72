//! Secrets at rest: the `credentials.secret` column holds each secret sealed with
//! XChaCha20-Poly1305 (RustCrypto's `chacha20poly1305`) under the store's encryption key, with a
//! fresh random 192-bit nonce per write and the access key as associated data (a sealed secret
//! copied into another key's row does not open). A copy of `meta.db` alone reveals no secret.
//!
//! Stored form: `aead1:` followed by base64 of nonce ‖ ciphertext ‖ tag. Rows written before
//! sealing existed (plain text) are sealed at start-up (`seal_plaintext_rows`). The cipher's key
//! is zeroed when it is dropped.

use base64::Engine;
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rusqlite::{params, Connection};

use super::{MetaError, MetaResult};

const PREFIX: &str = "aead1:";
const NONCE_LEN: usize = 24;
/// Bytes of an encryption key.
pub const KEY_LEN: usize = 32;

pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

fn b64() -> &'static base64::engine::GeneralPurpose {
    &base64::engine::general_purpose::STANDARD
}

impl Sealer {
    /// A sealer from a base64-encoded 32-byte key.
    pub fn from_base64(key: &str) -> Result<Self, String> {
        let mut raw = b64().decode(key.trim()).map_err(|_| "the encryption key is not valid base64".to_owned())?;
        let sealer = if raw.len() == KEY_LEN {
            XChaCha20Poly1305::new_from_slice(&raw).map(|cipher| Self { cipher }).map_err(|e| e.to_string())
        } else {
            Err(format!("the encryption key must be {KEY_LEN} bytes (base64), not {}", raw.len()))
        };
        raw.fill(0);
        sealer
    }

    /// A new random key, base64-encoded.
    pub fn generate_key() -> String {
        let key = chacha20poly1305::Key::generate();
        b64().encode(key)
    }

    /// Seals `secret` for the row of `access_key`.
    pub fn seal(&self, access_key: &str, secret: &str) -> MetaResult<String> {
        let nonce = XNonce::generate();
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: secret.as_bytes(), aad: access_key.as_bytes() })
            .map_err(|_| MetaError::Corrupt("sealing a secret failed".into()))?;
        let mut out = Vec::with_capacity(NONCE_LEN + sealed.len());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        Ok(format!("{PREFIX}{}", b64().encode(out)))
    }

    /// Opens what `seal` stored for `access_key`.
    pub fn open(&self, access_key: &str, stored: &str) -> MetaResult<String> {
        let wrong = || {
            MetaError::Corrupt(format!(
                "the secret of {access_key} does not open with this encryption key (another key, or a damaged row)"
            ))
        };
        let raw = stored.strip_prefix(PREFIX).and_then(|b| b64().decode(b).ok()).ok_or_else(wrong)?;
        if raw.len() < NONCE_LEN {
            return Err(wrong());
        }
        let (nonce, sealed) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| wrong())?;
        let plain =
            self.cipher.decrypt(&nonce, Payload { msg: sealed, aad: access_key.as_bytes() }).map_err(|_| wrong())?;
        String::from_utf8(plain).map_err(|_| wrong())
    }
}

/// Seals every secret still stored in plain text, re-seals those sealed with `previous` (a key
/// being replaced), and checks that the rest open with this key (a wrong key is a start-up
/// error, not a store that refuses every signature). Returns how many rows it (re)sealed.
pub fn seal_plaintext_rows(conn: &mut Connection, sealer: &Sealer, previous: Option<&Sealer>) -> MetaResult<usize> {
    let tx = conn.transaction()?;
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT access_key, secret FROM credentials")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let mut sealed = 0;
    for (key, secret) in rows {
        let plain = if !secret.starts_with(PREFIX) {
            secret
        } else if let Err(e) = sealer.open(&key, &secret) {
            match previous.map(|p| p.open(&key, &secret)) {
                Some(Ok(plain)) => plain,
                _ => return Err(e),
            }
        } else {
            continue;
        };
        tx.execute(
            "UPDATE credentials SET secret = ?2 WHERE access_key = ?1",
            params![key, sealer.seal(&key, &plain)?],
        )?;
        sealed += 1;
    }
    tx.commit()?;
    if sealed > 0 {
        // The old values may linger in free pages and WAL frames: rewrite the file without them.
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM; PRAGMA wal_checkpoint(TRUNCATE);")?;
    }
    Ok(sealed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_and_refuse_what_does_not_belong() {
        let sealer = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        let a = sealer.seal("alice", "secret-value").unwrap();
        let b = sealer.seal("alice", "secret-value").unwrap();
        assert_ne!(a, b, "a fresh nonce each time");
        assert!(!a.contains("secret-value"));
        assert_eq!(sealer.open("alice", &a).unwrap(), "secret-value");
        assert!(sealer.open("bob", &a).is_err(), "bound to its access key");
        let other = Sealer::from_base64(&Sealer::generate_key()).unwrap();
        assert!(other.open("alice", &a).is_err(), "another key does not open it");
        let mut tampered = a.clone();
        tampered.pop();
        tampered.push(if a.ends_with('A') { 'B' } else { 'A' });
        assert!(sealer.open("alice", &tampered).is_err());
        assert!(sealer.open("alice", "secret-value").is_err(), "plain text is not a sealed secret");
        assert!(Sealer::from_base64("c2hvcnQ=").unwrap_err().contains("32 bytes"));
        assert!(Sealer::from_base64("***").is_err());
    }

    /// A database from before sealing: its plain-text secrets are sealed when it is opened, and
    /// opening it later with another key is refused.
    #[test]
    fn plain_rows_are_sealed_and_a_wrong_key_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("meta.db");
        {
            let mut conn = Connection::open(&path).unwrap();
            crate::meta::schema::migrate(&mut conn).unwrap();
            conn.execute(
                "INSERT INTO credentials (access_key, secret, owner_id, is_root, enabled, created_at) VALUES ('old', \
                    'plain-old-secret', 'o', 0, 1, 0)",
                [],
            )
            .unwrap();
        }
        let key = Sealer::generate_key();
        let mut conn = Connection::open(&path).unwrap();
        assert_eq!(seal_plaintext_rows(&mut conn, &Sealer::from_base64(&key).unwrap(), None).unwrap(), 1);
        let stored: String = conn.query_row("SELECT secret FROM credentials", [], |r| r.get(0)).unwrap();
        assert!(stored.starts_with(PREFIX));
        let file = std::fs::read(&path).unwrap();
        assert!(!file.windows(16).any(|w| w == b"plain-old-secret"), "the plain value is gone from the file");
        assert_eq!(Sealer::from_base64(&key).unwrap().open("old", &stored).unwrap(), "plain-old-secret");
        assert_eq!(seal_plaintext_rows(&mut conn, &Sealer::from_base64(&key).unwrap(), None).unwrap(), 0);
        let new_key = Sealer::generate_key();
        let wrong = Sealer::from_base64(&new_key).unwrap();
        assert!(seal_plaintext_rows(&mut conn, &wrong, None).unwrap_err().to_string().contains("does not open"));
        // Moving to a new key: rows sealed with the previous one are re-sealed.
        let previous = Sealer::from_base64(&key).unwrap();
        assert_eq!(seal_plaintext_rows(&mut conn, &wrong, Some(&previous)).unwrap(), 1);
        let stored: String = conn.query_row("SELECT secret FROM credentials", [], |r| r.get(0)).unwrap();
        assert_eq!(Sealer::from_base64(&new_key).unwrap().open("old", &stored).unwrap(), "plain-old-secret");
    }
}
