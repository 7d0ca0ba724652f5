//! cargo-fuzz target `config`: see fuzz/harness.rs (`fuzz_config`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_config(data));
