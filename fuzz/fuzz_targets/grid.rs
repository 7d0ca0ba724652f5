//! cargo-fuzz target `grid`: see fuzz/harness.rs (`fuzz_grid`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_grid(data));
