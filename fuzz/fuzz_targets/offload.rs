//! cargo-fuzz target `offload`: see fuzz/harness.rs (`fuzz_offload`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_offload(data));
