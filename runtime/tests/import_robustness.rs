//! Thousands of truncated and mutated `.tflite` files: the importer returns a typed error
//! or a graph, never panics, never allocates absurdly, never hangs; whatever imports is
//! then prepared and (when small) run, which must not panic either.

mod common;

use models::rng::SplitMix64;
use runtime::Interpreter;

fn model(file: &str) -> Vec<u8> {
    let p = common::mlperf_tiny_dir().join(file);
    std::fs::read(&p).unwrap_or_else(|e| panic!("golden model missing: {}: {e}", p.display()))
}

/// Imports, prepares and (when cheap) runs one candidate file. Returns whether it
/// imported.
fn exercise(bytes: &[u8]) -> bool {
    let Ok(g) = models::from_tflite_bytes(bytes, "mutant") else {
        return false;
    };
    if let Ok(mut i) = Interpreter::new(&g) {
        if i.macs() <= 300_000 && i.arena_bytes() <= 1 << 20 {
            let input = vec![0u8; i.input_len()];
            let _ = i.invoke(&input);
        }
    }
    true
}

#[test]
fn truncated_files_give_errors() {
    for file in [
        "kws_ref_model.tflite",
        "ad01_int8.tflite",
        "pretrainedResnet_quant.tflite",
        "vww_96_int8.tflite",
    ] {
        let m = model(file);
        let mut rng = SplitMix64::new(1);
        let mut lens: Vec<usize> = (0..64).collect();
        lens.extend((0..150).map(|_| rng.range_i64(0, m.len() as i64 - 1) as usize));
        for len in lens {
            let r = models::from_tflite_bytes(&m[..len], file);
            let e = r.expect_err("a truncated model must not import");
            let msg = e.to_string();
            assert!(msg.contains(file) && !msg.is_empty(), "{msg}");
        }
    }
}

#[test]
fn mutated_files_never_panic() {
    let mut imported = 0;
    let mut total = 0;
    for (file, n) in [
        ("kws_ref_model.tflite", 2500),
        ("ad01_int8.tflite", 600),
        ("pretrainedResnet_quant.tflite", 600),
    ] {
        let orig = model(file);
        let mut rng = SplitMix64::new(7);
        for k in 0..n {
            let mut m = orig.clone();
            match k % 4 {
                // Flip a few random bytes anywhere.
                0 => {
                    for _ in 0..rng.range_i64(1, 8) {
                        let i = rng.range_i64(0, m.len() as i64 - 1) as usize;
                        m[i] = rng.next_u64() as u8;
                    }
                }
                // Overwrite an aligned word with an extreme value (offsets, lengths, shapes).
                1 => {
                    let i = (rng.range_i64(0, (m.len() / 4) as i64 - 1) as usize) * 4;
                    let v: u32 = [
                        0,
                        1,
                        0x7fff_ffff,
                        0xffff_ffff,
                        0x8000_0000,
                        0x0001_0000,
                        rng.next_u64() as u32,
                    ][rng.range_i64(0, 6) as usize];
                    m[i..i + 4].copy_from_slice(&v.to_le_bytes());
                }
                // Corrupt the header region (root offset, vtables of the model table).
                2 => {
                    let i = rng.range_i64(0, 63.min(m.len() as i64 - 1)) as usize;
                    m[i] ^= 1 << rng.range_i64(0, 7);
                }
                // Mutate inside the first 4 KiB (tables, vtables, options), where the
                // structure lives in these files.
                _ => {
                    let i = rng.range_i64(0, 4095.min(m.len() as i64 - 1)) as usize;
                    m[i] = m[i].wrapping_add(rng.range_i64(1, 255) as u8);
                }
            }
            total += 1;
            imported += usize::from(exercise(&m));
        }
    }
    // Many mutations hit weight bytes and still import; many must be rejected.
    assert!(
        imported > 0 && imported < total,
        "{imported} of {total} imported"
    );
}

#[test]
fn hostile_sizes_are_rejected_before_allocating() {
    // A vector claiming 2^32-1 elements right after the root offset.
    let mut m = vec![0u8; 64];
    m[0..4].copy_from_slice(&8u32.to_le_bytes());
    m[4..8].copy_from_slice(b"TFL3");
    let e = models::from_tflite_bytes(&m, "hostile")
        .unwrap_err()
        .to_string();
    assert!(e.contains("hostile") && e.contains("byte"), "{e}");
    assert!(models::from_tflite_bytes(&[], "empty")
        .unwrap_err()
        .to_string()
        .contains("too short"));
}

#[test]
fn zero_points_outside_the_dtype_are_rejected() {
    // Issue 24: an int8 zero point of 2^63-1 was truncated to -1. Patch every
    // one-entry zero-point vector holding the input's zero point to i64::MAX.
    let bytes = model("ad01_int8.tflite");
    let g = models::from_tflite_bytes(&bytes, "ad").unwrap();
    let zp = g.tensors[g.inputs[0]].quant.as_ref().unwrap().zero_point();
    let mut pattern = 1u32.to_le_bytes().to_vec();
    pattern.extend_from_slice(&zp.to_le_bytes());
    let mut patched = bytes.clone();
    let mut hits = 0;
    for at in 0..bytes.len() - pattern.len() {
        if bytes[at..at + pattern.len()] == pattern[..] && at % 4 == 0 {
            patched[at + 4..at + 12].copy_from_slice(&i64::MAX.to_le_bytes());
            hits += 1;
        }
    }
    assert!(hits > 0, "zero point {zp} not found in the file");
    let e = models::from_tflite_bytes(&patched, "ad")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("zero point 9223372036854775807 outside") && e.contains("-128..=127"),
        "{e}"
    );
}
