//! cargo-fuzz target `tflite`: see fuzz/harness.rs (`fuzz_tflite`) and fuzz/README.md.
#![no_main]

include!("../harness.rs");

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz_tflite(data));
