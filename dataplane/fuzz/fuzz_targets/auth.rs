//! `cargo +nightly fuzz run auth`: see `bleepstore::s3::hostile::auth`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::s3::hostile::auth(data));
