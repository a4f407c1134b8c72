//! A bounded cache of derived signing keys. Keys are cached only for credentials that exist,
//! and the entry carries a fingerprint of the secret, so a rotated secret or a flood of bad
//! signatures can neither poison it nor grow it past its bound.

use std::collections::HashMap;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use super::sigv4;

/// (access key, date, region).
type CacheKey = (String, String, String);
/// (secret fingerprint, signing key).
type CacheEntry = ([u8; 32], [u8; 32]);

pub(super) struct SigningKeyCache {
    max: usize,
    entries: Mutex<HashMap<CacheKey, CacheEntry>>,
}

impl SigningKeyCache {
    pub(super) fn new(max: usize) -> Self {
        Self { max, entries: Mutex::new(HashMap::new()) }
    }

    /// The signing key for `secret` on `date` in `region` (service `s3`).
    pub(super) fn get(&self, access_key: &str, secret: &str, date: &str, region: &str) -> [u8; 32] {
        let fingerprint: [u8; 32] = Sha256::digest(secret.as_bytes()).into();
        let id = (access_key.to_owned(), date.to_owned(), region.to_owned());
        if let Ok(map) = self.entries.lock() {
            if let Some((fp, key)) = map.get(&id) {
                if *fp == fingerprint {
                    return *key;
                }
            }
        }
        let key = sigv4::signing_key(secret, date, region, "s3");
        if let Ok(mut map) = self.entries.lock() {
            if map.len() >= self.max {
                map.clear();
            }
            map.insert(id, (fingerprint, key));
        }
        key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_secret_is_not_served_from_cache() {
        let cache = SigningKeyCache::new(2);
        let a = cache.get("k", "secret-a", "20240101", "us-east-1");
        assert_eq!(a, sigv4::signing_key("secret-a", "20240101", "us-east-1", "s3"));
        let b = cache.get("k", "secret-b", "20240101", "us-east-1");
        assert_ne!(a, b);
        for i in 0..10 {
            cache.get(&format!("k{i}"), "s", "20240101", "us-east-1");
        }
        assert!(cache.entries.lock().unwrap().len() <= 2);
    }
}
