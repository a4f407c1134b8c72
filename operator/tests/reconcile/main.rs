//! Reconcile tests against a mocked API server (`tower-test`): each test scripts the exact
//! calls the reconciler must make — method, path, patch type and body — answers them, and then
//! checks that no other call was made. The store's admin API is a recording fake.

// Object builders take `serde_json::Value`s by value, the way `json!` reads as a table.
#![allow(clippy::needless_pass_by_value)]

mod access_keys;
mod buckets;
mod harness;
mod stores;
