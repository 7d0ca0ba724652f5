//! Replays every saved fuzz input through the same harness functions the cargo-fuzz
//! targets run (fuzz/harness.rs, included here):
//! - fuzz/regressions/<target>/: crash inputs found by fuzzing (named `crash-*`, each
//!   fixed) and hand-made seeds (truncated and patched models, absurd configurations and
//!   grids, broken command streams, small models and offload cases);
//! - fuzz/corpus/<target>/: the minimized corpora of the fuzzing runs (`cargo fuzz cmin`),
//!   so every input that reached new coverage keeps being checked.
//!
//! Any panic fails the test and names the file.

use std::path::{Path, PathBuf};

include!("../fuzz/harness.rs");

/// The files of `fuzz/<kind>/<target>/`, sorted; at least `min` of them.
fn files(kind: &str, target: &str, min: usize) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind)
        .join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    v.sort();
    assert!(
        v.len() >= min,
        "{}: expected at least {min} inputs, found {}",
        dir.display(),
        v.len()
    );
    v
}

fn replay_files(target: &str, files: &[PathBuf], f: fn(&[u8])) {
    let mut failed = Vec::new();
    for p in files {
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

/// The regression inputs (at least 4) and the committed corpus (at least 1) of `target`.
fn replay(target: &str, f: fn(&[u8])) {
    replay_files(target, &files("regressions", target, 4), f);
    replay_files(target, &files("corpus", target, 1), f);
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

#[test]
fn invoke_inputs_do_not_panic() {
    replay("invoke", fuzz_invoke);
}

#[test]
fn offload_inputs_do_not_panic() {
    replay("offload", fuzz_offload);
}

#[test]
fn sweep_inputs_do_not_panic() {
    replay("sweep", fuzz_sweep);
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

/// The seeds of the run-level targets reach the checks they exist for: the invoke seeds
/// are valid models that run on their input, the offload seeds build a model that really
/// runs on the accelerator (every layer but the pooling), the sweep seeds evaluate designs.
#[test]
fn run_level_seeds_reach_their_checks() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    for name in [
        "conv-add",
        "conv-dw-fc-softmax",
        "dw-avgpool-fc",
        "fc-fc-batch2",
    ] {
        let data = read(&format!("invoke/{name}"));
        let n = u16::from_le_bytes([data[0], data[1]]) as usize;
        let (model, input) = data[2..].split_at(data.len() - 2 - n);
        let graph = models::from_tflite_bytes(model, name).unwrap();
        let mut interp = runtime::Interpreter::new(&graph).unwrap();
        assert_eq!(interp.input_len(), n, "{name}");
        assert!(graph.macs() <= FUZZ_MAX_MACS, "{name}");
        interp
            .invoke(input)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    let cpu = runtime::cost::CpuProfile::resolve("cortex-m4f").unwrap();
    for name in [
        "conv-3x3-os-4x5-functional",
        "conv-5x5-stride3-wide-bus1",
        "conv-dw-fc-ws-im2col-cycle",
        "conv-pool-conv-1x1-array",
        "dw-valid-is-dma16-auto",
        "fc-overrides-is-im2col-cycle",
    ] {
        let data = read(&format!("offload/{name}"));
        let mut r = FuzzBytes::new(&data);
        let (sel, flags) = (r.u8(), r.u8());
        let cfg = fuzz_offload_config(sel, flags);
        let graph = fuzz_offload_model(&mut r).unwrap_or_else(|| panic!("{name}: no model"));
        let mut interp = runtime::Interpreter::new(&graph).unwrap();
        let mut dev = sim::SimDevice::new(&cfg, sim::Fidelity::Functional, FUZZ_OFFLOAD_MEM);
        let input = vec![1u8; interp.input_len()];
        let run = driver::delegate::run_model(
            &mut interp,
            &mut dev,
            &cpu,
            driver::delegate::Policy::All,
            &input,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        for (d, op) in run.decisions.iter().zip(&graph.ops) {
            let want = match op.kind {
                models::OpKind::Conv2d(_)
                | models::OpKind::DepthwiseConv2d(_)
                | models::OpKind::FullyConnected { .. } => driver::delegate::Placement::Accel,
                _ => driver::delegate::Placement::Cpu,
            };
            assert_eq!(d.placement, want, "{name}: {}", op.name());
        }
    }
    for name in [
        "valid-small.toml",
        "budget-rate-battery.toml",
        "clock-1khz-deadline.toml",
        "is-im2col-wide.toml",
    ] {
        let text = String::from_utf8(read(&format!("sweep/{name}"))).unwrap();
        let grid = reports::sweep::Grid::from_toml_str(&text, name, Path::new("/nonexistent"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let cfg = grid
            .design(0)
            .config
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        let m = fuzz_sweep_evaluate(
            &cfg,
            driver::delegate::Policy::Auto,
            driver::delegate::CmdStreams::Sram,
        );
        assert!(
            m.offload_us > 0.0 && m.offload_us.is_finite(),
            "{name}: {m:?}"
        );
    }
}

/// The sweep harness evaluates a design as `tinyaccel sweep` does: its numbers equal the
/// CLI's results.csv (policy auto, command streams in SRAM, cortex-m4f: the defaults) on
/// two seed grids, one with constraints (footprint columns).
#[test]
fn sweep_harness_evaluates_like_the_cli() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/sweep");
    for name in ["valid-small.toml", "clock-1khz-deadline.toml"] {
        let grid_path = dir.join(name);
        let out = tempfile::tempdir().unwrap();
        let st = std::process::Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
            .args(["sweep", "--model", "ad", "--quiet", "--no-png", "--grid"])
            .arg(&grid_path)
            .arg("--out")
            .arg(out.path())
            .output()
            .unwrap();
        assert!(st.status.success(), "{name}: {st:?}");
        let text = std::fs::read_to_string(grid_path).unwrap();
        let grid = reports::sweep::Grid::from_toml_str(&text, name, &dir).unwrap();
        let csv = std::fs::read_to_string(out.path().join("results.csv")).unwrap();
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let col = |row: &[&str], key: &str| -> f64 {
            let i = header.iter().position(|h| *h == key).unwrap();
            row[i]
                .parse()
                .unwrap_or_else(|e| panic!("{name}: {key} = {}: {e}", row[i]))
        };
        let mut rows = 0;
        for line in lines {
            let row: Vec<&str> = line.split(',').collect();
            let design = col(&row, "design") as u64;
            let cfg = grid.design(design).config.unwrap();
            let m = fuzz_sweep_evaluate(
                &cfg,
                driver::delegate::Policy::Auto,
                driver::delegate::CmdStreams::Sram,
            );
            let mem = m.memory.unwrap();
            let mut want = vec![
                ("offload_us", m.offload_us),
                ("offload_uj", m.offload_uj),
                ("area_mm2", m.area_mm2.unwrap()),
                ("array_utilization", m.array_utilization),
                ("mac_utilization", m.mac_utilization),
                ("cpu_us", m.cpu_us),
                ("cpu_uj", m.cpu_uj),
            ];
            if header.contains(&"sram_bytes") {
                want.push(("sram_bytes", mem.sram_used as f64));
                want.push(("flash_bytes", mem.flash_used as f64));
            }
            for (key, v) in want {
                let got = col(&row, key);
                assert!(
                    (got - v).abs() <= 1e-12 * v.abs().max(1e-300),
                    "{name} design {design}: {key} CLI {got} harness {v}"
                );
            }
            rows += 1;
        }
        assert_eq!(rows as u64, grid.len(), "{name}");
    }
}

/// Every selector of the offload harness gives a valid accelerator (the harness `expect`s
/// it), and the selectors reach every dataflow, array shape and feature.
#[test]
fn offload_selectors_all_validate() {
    let mut seen = std::collections::BTreeSet::new();
    for sel in 0..=255u8 {
        for flags in 0..32u8 {
            let c = fuzz_offload_config(sel, flags);
            seen.insert((
                c.rows,
                c.cols,
                c.dataflow.to_string(),
                c.im2col,
                c.dma_outstanding,
            ));
        }
    }
    // 4 row counts x 4 column counts x 3 dataflows x im2col on/off x 4 DMA depths.
    assert_eq!(seen.len(), 4 * 4 * 3 * 2 * 4);
}
