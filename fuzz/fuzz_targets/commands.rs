//! cargo-fuzz target `commands`: see fuzz/harness.rs (`fuzz_commands`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_commands(data));
