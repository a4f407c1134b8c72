//! `cargo +nightly fuzz run names`: see `bleepstore::s3::hostile::names`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::s3::hostile::names(data));
