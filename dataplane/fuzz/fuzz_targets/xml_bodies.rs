//! `cargo +nightly fuzz run xml_bodies`: see `bleepstore::s3::hostile::xml_bodies`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::s3::hostile::xml_bodies(data));
