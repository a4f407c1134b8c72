//! `cargo +nightly fuzz run admin_json`: see `bleepstore::mgmt::admin::hostile_input`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| bleepstore::mgmt::admin::hostile_input(data));
