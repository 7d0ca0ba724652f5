// The fuzz harnesses: one function per target, shared (via `include!`) by the cargo-fuzz
// targets in fuzz_targets/ and by the regression replay in tests/fuzz_regressions.rs, so a
// saved crash input is replayed through exactly the code that found it.
//
// Every function must return normally for every input: an error is fine, a panic, an abort
// (out of memory) or a hang is a bug.

/// Largest model (MACs) the tflite harness runs after importing it; bigger models are only
/// imported and prepared (running them would only make the fuzzer slow, not find more).
pub const FUZZ_MAX_MACS: u64 = 2_000_000;

/// `.tflite` bytes: import, prepare, and run small models on zero inputs.
pub fn fuzz_tflite(data: &[u8]) {
    let graph = match models::from_tflite_bytes(data, "fuzz") {
        Ok(g) => g,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let _ = graph.macs();
    let _ = graph.const_bytes();
    let mut interp = match runtime::Interpreter::new(&graph) {
        Ok(i) => i,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    if graph.macs() <= FUZZ_MAX_MACS && interp.input_len() <= 1 << 20 {
        let input = vec![0u8; interp.input_len()];
        if let Err(e) = interp.invoke(&input) {
            let _ = e.to_string();
        }
        // A wrong-size input is an error, never a panic.
        let _ = interp.invoke(&input[..input.len() / 2]);
    }
}

/// Accelerator configuration TOML: parse + validate; an accepted config round-trips.
pub fn fuzz_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match arch::AccelConfig::from_toml_str(text, "fuzz.toml") {
        Ok(cfg) => {
            let _ = cfg.energy_table();
            let _ = cfg.area_mm2();
            let _ = cfg.leakage_uw();
            let _ = cfg.peak_gops();
            let _ = cfg.hash();
            let again = arch::AccelConfig::from_toml_str(&cfg.to_toml(), "fuzz-roundtrip.toml")
                .unwrap_or_else(|e| panic!("an accepted config does not re-parse: {e}"));
            assert_eq!(again, cfg, "config changed in a TOML round trip");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Sweep grid TOML: parse + check, build the first and last designs, canonical form
/// round-trips to the same grid. A relative `base` path is looked up in a directory that
/// does not exist (presets still resolve).
pub fn fuzz_grid(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = std::path::Path::new("/nonexistent-tinyaccel-fuzz");
    match reports::sweep::Grid::from_toml_str(text, "fuzz-grid.toml", dir) {
        Ok(grid) => {
            let n = grid.len();
            for i in [0, n / 2, n.saturating_sub(1)] {
                let d = grid.design(i);
                if let Err(reasons) = &d.config {
                    let _ = reasons.join("; ");
                }
                let _ = grid.value_texts(i);
            }
            let canon = grid.canonical_toml();
            let again = reports::sweep::Grid::from_toml_str(&canon, "fuzz-canonical.toml", dir)
                .unwrap_or_else(|e| panic!("the canonical grid does not re-parse: {e}\n{canon}"));
            assert_eq!(again.len(), n, "canonical grid has a different size");
            assert_eq!(again.hash(), grid.hash(), "canonical grid hash changed");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// Device memory of the simulated accelerator in the command-stream harness.
pub const FUZZ_DEV_MEM: usize = 64 << 10;
/// Where the command buffer is written in device memory.
pub const FUZZ_CMD_BASE: usize = 48 << 10;
/// Most commands the harness runs (the buffer region holds 1024).
pub const FUZZ_MAX_COMMANDS: usize = 256;

/// A small configuration chosen by `sel`: the array shape, dataflow, scratchpads, banks,
/// bus width and latency all vary.
pub fn fuzz_small_config(sel: u8) -> arch::AccelConfig {
    let mut c = arch::AccelConfig::preset("tiny-4x4").expect("preset tiny-4x4");
    c.rows = [1, 2, 3, 4][(sel & 3) as usize];
    c.cols = [1, 2, 4, 5][((sel >> 2) & 3) as usize];
    c.dataflow = if sel & 16 != 0 {
        arch::Dataflow::WeightStationary
    } else {
        arch::Dataflow::OutputStationary
    };
    c.input_sram_kib = 1;
    c.input_sram_banks = if sel & 32 != 0 { 2 } else { 1 };
    c.weight_sram_kib = 1;
    c.weight_sram_banks = 1;
    c.acc_sram_kib = 1;
    c.acc_sram_banks = 1;
    c.bus_bytes_per_cycle = if sel & 64 != 0 { 1 } else { 4 };
    c.bus_latency_cycles = 3;
    c.validate().expect("fuzz config validates");
    c
}

/// A command stream: byte 0 selects the configuration (bits 0..7) and the model (bit 7:
/// cycle-level, else functional); the rest is the command buffer (whole 16-byte commands,
/// at most [`FUZZ_MAX_COMMANDS`]). It is decoded with `arch::isa::decode_all`, then run by
/// `sim::SimDevice` through the `Device` registers, as the driver does.
pub fn fuzz_commands(data: &[u8]) {
    use arch::device::{reg, Device};
    use arch::isa::COMMAND_BYTES;
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let n = (rest.len() / COMMAND_BYTES).min(FUZZ_MAX_COMMANDS);
    let buf = &rest[..n * COMMAND_BYTES];
    // The decoder alone: every command either decodes and re-encodes to the same bytes, or
    // is rejected.
    if let Ok(cmds) = arch::isa::decode_all(buf) {
        assert_eq!(
            arch::isa::encode_all(&cmds),
            buf,
            "decode/encode round trip"
        );
        for c in &cmds {
            let _ = c.to_string();
        }
    }
    let cfg = fuzz_small_config(sel & 0x7f);
    let model = if sel & 0x80 != 0 {
        sim::Fidelity::Cycle
    } else {
        sim::Fidelity::Functional
    };
    let mut dev = sim::SimDevice::new(&cfg, model, FUZZ_DEV_MEM);
    // Deterministic, non-zero data below the command buffer.
    let pattern: Vec<u8> = (0..FUZZ_CMD_BASE)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8)
        .collect();
    dev.write_mem(0, &pattern).expect("pattern fits");
    dev.write_mem(FUZZ_CMD_BASE as u64, buf)
        .expect("command buffer fits");
    dev.write_reg(reg::CMD_BASE, FUZZ_CMD_BASE as u32)
        .expect("CMD_BASE");
    dev.write_reg(reg::CMD_COUNT, n as u32).expect("CMD_COUNT");
    dev.write_reg(reg::CTRL, reg::CTRL_START).expect("CTRL");
    match dev.wait() {
        Ok(c) => {
            let _ = sim::report::check_bounds(&cfg, &c);
        }
        Err(e) => {
            let _ = e.to_string();
            let status = dev.read_reg(reg::STATUS).expect("STATUS");
            assert!(
                status & reg::STATUS_ERROR != 0,
                "error without STATUS_ERROR"
            );
        }
    }
}
