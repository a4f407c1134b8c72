//! `cargo +nightly fuzz run request`: see `bleepstore::s3::hostile::request`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::s3::hostile::request(data));
