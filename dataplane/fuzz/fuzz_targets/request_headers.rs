//! `cargo +nightly fuzz run request_headers`: see `bleepstore::s3::hostile::request_headers`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::s3::hostile::request_headers(data));
