//! Fuzzes the `.tflite` importer, then the interpreter on whatever imports: any panic is a
//! bug. Seed the corpus with the MLPerf Tiny models:
//! `mkdir -p corpus/import && cp ../../shared/models/mlperf_tiny/*.tflite corpus/import/`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(g) = models::from_tflite_bytes(data, "fuzz") {
        if let Ok(mut i) = runtime::Interpreter::new(&g) {
            if i.macs() <= 1_000_000 {
                let input = vec![0u8; i.input_len()];
                let _ = i.invoke(&input);
            }
        }
    }
});
