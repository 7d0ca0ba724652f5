//! cargo-fuzz target `invoke`: see fuzz/harness.rs (`fuzz_invoke`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_invoke(data));
