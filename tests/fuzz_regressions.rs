//! Replays every saved fuzz input in fuzz/regressions/<target>/ through the same harness
//! functions the cargo-fuzz targets run (fuzz/harness.rs, included here): crash inputs
//! found by fuzzing (named `crash-*`, each fixed) and hand-made seeds (truncated and
//! patched models, absurd configurations and grids, broken command streams). Any panic
//! fails the test and names the file.

use std::path::{Path, PathBuf};

include!("../fuzz/harness.rs");

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(
        v.len() >= 4,
        "{}: expected at least 4 regression inputs, found {}",
        dir.display(),
        v.len()
    );
    v
}

fn replay(target: &str, f: fn(&[u8])) {
    let mut failed = Vec::new();
    let files = inputs(target);
    for p in &files {
        let data = std::fs::read(p).unwrap();
        if let Err(e) = std::panic::catch_unwind(|| f(&data)) {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failed.push(format!("{}: {msg}", p.display()));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} {target} inputs panic:\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn tflite_inputs_do_not_panic() {
    replay("tflite", fuzz_tflite);
}

#[test]
fn config_inputs_do_not_panic() {
    replay("config", fuzz_config);
}

#[test]
fn grid_inputs_do_not_panic() {
    replay("grid", fuzz_grid);
}

#[test]
fn command_stream_inputs_do_not_panic() {
    replay("commands", fuzz_commands);
}

/// The seeds are meaningful: the hostile ones are rejected for the stated reason, the
/// real ones run.
#[test]
fn seeds_exercise_what_they_claim() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    let e = models::from_tflite_bytes(&read("tflite/kws-truncated-3000.tflite"), "t")
        .expect_err("truncated model");
    assert!(e.to_string().starts_with("t: "), "{e}");
    let e = arch::AccelConfig::from_toml_str(
        std::str::from_utf8(&read("config/sram-1tib.toml")).unwrap(),
        "sram-1tib.toml",
    )
    .expect_err("1 TiB");
    assert!(e.to_string().contains("input_sram_kib"), "{e}");
    // The GEMM stream seed runs; the same stream without its loads deadlocks.
    let gemm = read("commands/gemm-80-7x9x6");
    let dead = read("commands/deadlock-no-loads-cycle");
    for (data, ok) in [(&gemm, true), (&dead, false)] {
        use arch::device::{reg, Device};
        let cfg = fuzz_small_config(data[0] & 0x7f);
        let mut dev = sim::SimDevice::new(&cfg, sim::Fidelity::Cycle, FUZZ_DEV_MEM);
        dev.write_mem(FUZZ_CMD_BASE as u64, &data[1..]).unwrap();
        dev.write_reg(reg::CMD_BASE, FUZZ_CMD_BASE as u32).unwrap();
        dev.write_reg(reg::CMD_COUNT, ((data.len() - 1) / 16) as u32)
            .unwrap();
        dev.write_reg(reg::CTRL, reg::CTRL_START).unwrap();
        let r = dev.wait();
        assert_eq!(r.is_ok(), ok, "{r:?}");
        if let Err(e) = r {
            assert!(e.to_string().contains("deadlock"), "{e}");
        }
    }
}
