//! Reconcile tests against a mocked API server (`tower-test`): each test scripts the exact
//! calls the reconciler must make — method, path, patch type and body — answers them, and then
//! checks that no other call was made. The store's admin API is a recording fake.

mod access_keys;
mod buckets;
mod harness;
mod stores;
