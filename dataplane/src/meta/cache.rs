//! A read-through cache of the small, rarely written tables every request consults
//! (credentials, buckets, grants), so that authenticating and authorizing a request costs no
//! database round trip.
//!
//! Correctness rests on two rules: every write to these tables goes through
//! [`Db::write_config`](super::Db::write_config), which clears the cache *after* its commit;
//! and a reader may only fill in what it read if no clear happened since it started reading
//! (the generation check). So a value read before a commit can never outlive that commit.
//! Misses are not cached for credentials (a flood of unknown keys cannot fill it), and each
//! map is bounded.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;

use super::{BucketRow, Credential};

/// Entries per map before the map is emptied (a crude bound; these tables are small).
const MAX_ENTRIES: usize = 10_000;

#[derive(Default)]
pub(super) struct ConfigCache {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    generation: u64,
    credentials: HashMap<String, Credential>,
    buckets: HashMap<String, BucketRow>,
    grants: HashMap<(String, String), u8>,
}

/// What a reader saw before reading: fills are accepted only under the same generation.
#[derive(Clone, Copy)]
pub(super) struct Ticket(u64);

fn bounded_insert<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl ConfigCache {
    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut state)
    }

    pub(super) fn ticket(&self) -> Ticket {
        Ticket(self.with(|s| s.generation))
    }

    /// Forgets everything; call after a committed (or failed) write to the cached tables.
    pub(super) fn clear(&self) {
        self.with(|s| {
            s.generation += 1;
            s.credentials.clear();
            s.buckets.clear();
            s.grants.clear();
        });
    }

    pub(super) fn credential(&self, access_key: &str) -> Option<Credential> {
        self.with(|s| s.credentials.get(access_key).cloned())
    }

    pub(super) fn fill_credential(&self, ticket: Ticket, credential: &Credential) {
        self.with(|s| {
            if s.generation == ticket.0 {
                bounded_insert(&mut s.credentials, credential.access_key.clone(), credential.clone());
            }
        });
    }

    pub(super) fn bucket(&self, name: &str) -> Option<BucketRow> {
        self.with(|s| s.buckets.get(name).cloned())
    }

    pub(super) fn fill_bucket(&self, ticket: Ticket, row: &BucketRow) {
        self.with(|s| {
            if s.generation == ticket.0 {
                bounded_insert(&mut s.buckets, row.name.clone(), row.clone());
            }
        });
    }

    pub(super) fn grant(&self, access_key: &str, bucket: &str) -> Option<u8> {
        self.with(|s| s.grants.get(&(access_key.to_owned(), bucket.to_owned())).copied())
    }

    pub(super) fn fill_grant(&self, ticket: Ticket, access_key: &str, bucket: &str, flags: u8) {
        self.with(|s| {
            if s.generation == ticket.0 {
                bounded_insert(&mut s.grants, (access_key.to_owned(), bucket.to_owned()), flags);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(name: &str, owner: &str) -> BucketRow {
        BucketRow {
            name: name.into(),
            region: "r".into(),
            owner: owner.into(),
            acl: "private".into(),
            created_ms: 0,
            versioning: crate::meta::Versioning::Unversioned,
        }
    }

    #[test]
    fn a_fill_that_raced_a_clear_is_dropped() {
        let cache = ConfigCache::default();
        let before = cache.ticket();
        cache.clear();
        cache.fill_bucket(before, &bucket("b", "stale"));
        assert_eq!(cache.bucket("b"), None);
        let now = cache.ticket();
        cache.fill_bucket(now, &bucket("b", "fresh"));
        assert_eq!(cache.bucket("b").unwrap().owner, "fresh");
        cache.fill_grant(now, "k", "b", 3);
        assert_eq!(cache.grant("k", "b"), Some(3));
        cache.clear();
        assert_eq!((cache.bucket("b"), cache.grant("k", "b")), (None, None));
    }

    #[test]
    fn maps_stay_bounded() {
        let cache = ConfigCache::default();
        let t = cache.ticket();
        for i in 0..MAX_ENTRIES + 5 {
            cache.fill_grant(t, &format!("k{i}"), "b", 1);
        }
        assert!(cache.with(|s| s.grants.len()) <= MAX_ENTRIES);
    }
}
