//! cargo-fuzz target `sweep`: see fuzz/harness.rs (`fuzz_sweep`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_sweep(data));
