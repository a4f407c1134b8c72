//! `cargo +nightly fuzz run chunked`: see `bleepstore::s3::hostile::chunked`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::s3::hostile::chunked(data));
