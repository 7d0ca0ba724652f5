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

/// `run`-level: a model and an input. Bytes 0..2 (little-endian u16) give the input's
/// length `n`; the last `n` bytes (at most what follows the header) are the input, the
/// bytes between are the `.tflite` model. Small models (at most [`FUZZ_MAX_MACS`]) are
/// invoked on the fuzzed input, as `tinyaccel run MODEL --input FILE --cpu cortex-m4f`
/// does: a wrong-size input must be an error; the input stretched (repeated) to the right
/// size runs; a second invoke on the same input gives the same output.
pub fn fuzz_invoke(data: &[u8]) {
    if data.len() < 2 {
        return;
    }
    let n = u16::from_le_bytes([data[0], data[1]]) as usize;
    let rest = &data[2..];
    let n = n.min(rest.len());
    let (model, input) = rest.split_at(rest.len() - n);
    let graph = match models::from_tflite_bytes(model, "fuzz") {
        Ok(g) => g,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut interp = match runtime::Interpreter::new(&graph) {
        Ok(i) => i,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    // The CPU baseline of `run --cpu`: cost model and memory footprint.
    let cpu = fuzz_cpu();
    if let Err(e) = runtime::cost::graph_cost(cpu, &graph) {
        let _ = e.to_string();
    }
    if let Err(e) = runtime::footprint::CpuMemory::new(&interp, cpu, Some(model.len() as u64)) {
        let _ = e.to_string();
    }
    let want = interp.input_len();
    if graph.macs() > FUZZ_MAX_MACS || want > 1 << 20 {
        return;
    }
    match interp.invoke(input) {
        Ok(out) => {
            assert_eq!(input.len(), want, "an input of the wrong size was accepted");
            let again = interp
                .invoke(input)
                .unwrap_or_else(|e| panic!("the second invoke on the same input fails: {e}"));
            assert_eq!(out, again, "two invokes on the same input differ");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if input.len() != want {
        let fitted: Vec<u8> = if input.is_empty() {
            vec![0; want]
        } else {
            input.iter().copied().cycle().take(want).collect()
        };
        if let Err(e) = interp.invoke(&fitted) {
            let _ = e.to_string();
        }
    }
}

/// Reads a fuzz input byte by byte; past the end every byte is 0 (any input decodes).
pub struct FuzzBytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> FuzzBytes<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        FuzzBytes { data, pos: 0 }
    }
    pub fn u8(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }
    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.u8() as usize % (hi - lo + 1)
    }
    pub fn u64(&mut self) -> u64 {
        (0..8).fold(0u64, |v, _| (v << 8) | self.u8() as u64)
    }
    /// What is left (possibly empty).
    pub fn rest(&self) -> &'a [u8] {
        &self.data[self.pos.min(self.data.len())..]
    }
}

/// The accelerator of the offload harness: [`fuzz_small_config`] of `sel` (array 1..4 x
/// 1..5, banks, bus width), then from `flags`: bits 0-1 the dataflow (OS, WS, IS, IS),
/// bit 2 the im2col unit, bits 3-4 DMA requests in flight (1, 2, 4, 16).
pub fn fuzz_offload_config(sel: u8, flags: u8) -> arch::AccelConfig {
    let mut c = fuzz_small_config(sel & 0x6f);
    c.dataflow = match flags & 3 {
        0 => arch::Dataflow::OutputStationary,
        1 => arch::Dataflow::WeightStationary,
        _ => arch::Dataflow::InputStationary,
    };
    c.im2col = flags & 4 != 0;
    c.dma_outstanding = [1, 2, 4, 16][((flags >> 3) & 3) as usize];
    c.validate().expect("offload fuzz config validates");
    c
}

/// Device memory of the simulated accelerator in the offload harness.
pub const FUZZ_OFFLOAD_MEM: usize = 1 << 20;
/// Largest model (MACs) the offload harness builds (a 1x1 array simulated cycle by cycle
/// takes about a cycle per MAC: larger models only make the fuzzer slow).
pub const FUZZ_OFFLOAD_MACS: u64 = 50_000;

/// The CPU profile of the run-level harnesses (`cortex-m4f`, the CLI's default), resolved
/// once.
pub fn fuzz_cpu() -> &'static runtime::cost::CpuProfile {
    static CPU: std::sync::OnceLock<runtime::cost::CpuProfile> = std::sync::OnceLock::new();
    CPU.get_or_init(|| {
        runtime::cost::CpuProfile::resolve("cortex-m4f").expect("built-in CPU profile")
    })
}

/// The small model of an offload input: an int8 NHWC input, then 1..3 layers (CONV_2D,
/// DEPTHWISE_CONV_2D, FULLY_CONNECTED after a flattening RESHAPE, AVERAGE_POOL_2D),
/// built with `models::builder::GraphBuilder` (weights and biases from the seed), with
/// optional overrides of every layer's output scale and zero point. `None` if the shapes
/// do not work out or the model is larger than [`FUZZ_OFFLOAD_MACS`].
pub fn fuzz_offload_model(r: &mut FuzzBytes) -> Option<models::Graph> {
    use models::{Activation, Padding};
    let seed = r.u64();
    let (h, w, c) = (r.range(1, 12), r.range(1, 12), r.range(1, 16));
    let in_zp = r.u8() as i8 as i64;
    let in_scale = 2f32.powi(r.range(0, 15) as i32 - 10);
    let layers = r.range(1, 3);
    let mut b = models::builder::GraphBuilder::new("fuzz-offload", "offload harness", seed);
    let mut x = b.input(&[1, h, w, c], in_scale, in_zp);
    let mut flat = false;
    for _ in 0..layers {
        let op = r.u8();
        let act = [Activation::None, Activation::Relu, Activation::Relu6][(op >> 2) as usize % 3];
        let (k1, k2) = (r.range(1, 5), r.range(1, 5));
        let stride = r.range(1, 3);
        let n = r.range(1, 24);
        let s = b.shape(x).to_vec();
        let valid = op & 0x40 != 0;
        let padding = if valid { Padding::Valid } else { Padding::Same };
        let fits = |kh: usize, kw: usize| !valid || (s[1] >= kh && s[2] >= kw);
        x = match (op & 3, flat) {
            (0, false) if fits(k1, k2) => b.conv(x, n, k1, k2, stride, padding, act),
            (1, false) if fits(k1, k2) => b.depthwise(x, k1, k2, stride, padding, act),
            (3, false) if fits(k1, k2) => b.avg_pool(x, k1, k2, stride, padding),
            (0 | 1 | 3, false) => return None,
            _ => {
                if !flat {
                    let depth: usize = s.iter().product();
                    x = b.reshape(x, &[1, depth]);
                    flat = true;
                }
                b.fully_connected(x, n, act)
            }
        };
    }
    let mut g = b.finish(&[x]);
    if g.macs() > FUZZ_OFFLOAD_MACS {
        return None;
    }
    // Overrides: a flag byte, then per op a scale exponent and a zero point.
    if r.u8() & 1 != 0 {
        for i in 0..g.ops.len() {
            let e = r.u8() as i8 as i32;
            let zp = r.u8() as i8 as i64;
            let t = g.ops[i].outputs[0];
            if let Some(q) = g.tensors[t].quant.as_mut() {
                if q.scales.len() == 1 {
                    q.scales[0] *= 2f32.powi(e / 8);
                    q.zero_points[0] = zp;
                }
            }
        }
    }
    Some(g)
}

/// A small model offloaded to a small accelerator through the driver and the simulator
/// (`driver::delegate::run_model`), compared with the CPU reference kernels. Byte 0:
/// array selector ([`fuzz_small_config`]); byte 1: bits 0-4 see [`fuzz_offload_config`],
/// bit 5 the cycle-level model (else functional), bit 6 policy `auto` (else `all`); then
/// the model ([`fuzz_offload_model`]); the remaining bytes are the input (repeated to
/// the model's input size; zeros if none). Errors are fine; an output that differs from
/// the CPU's is a finding.
pub fn fuzz_offload(data: &[u8]) {
    use driver::delegate::{self, Policy};
    let mut r = FuzzBytes::new(data);
    let (sel, flags) = (r.u8(), r.u8());
    let cfg = fuzz_offload_config(sel, flags);
    let fidelity = if flags & 0x20 != 0 {
        sim::Fidelity::Cycle
    } else {
        sim::Fidelity::Functional
    };
    let policy = if flags & 0x40 != 0 {
        Policy::Auto
    } else {
        Policy::All
    };
    let Some(graph) = fuzz_offload_model(&mut r) else {
        return;
    };
    let mut interp = match runtime::Interpreter::new(&graph) {
        Ok(i) => i,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let bytes = r.rest();
    let input: Vec<u8> = if bytes.is_empty() {
        vec![0; interp.input_len()]
    } else {
        bytes
            .iter()
            .copied()
            .cycle()
            .take(interp.input_len())
            .collect()
    };
    let want = match interp.invoke(&input) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut dev = sim::SimDevice::new(&cfg, fidelity, FUZZ_OFFLOAD_MEM);
    let mut interp = runtime::Interpreter::new(&graph).expect("prepared once already");
    match delegate::run_model(&mut interp, &mut dev, fuzz_cpu(), policy, &input) {
        Ok(run) => {
            assert_eq!(
                run.output, want,
                "offloaded output differs from the CPU's ({fidelity:?}, {policy:?}, decisions {:?})\nconfig:\n{}",
                run.decisions.iter().map(|d| d.placement).collect::<Vec<_>>(),
                cfg.to_toml()
            );
            for l in &run.layers {
                assert!(
                    l.total_us.is_finite() && l.total_us >= 0.0,
                    "layer {} latency {}",
                    l.index,
                    l.total_us
                );
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
}

/// The sweep harness's model: the built-in `ad` prepared once, with its facts on the
/// `cortex-m4f` profile (as `tinyaccel sweep --model ad` loads it).
pub struct FuzzSweepModel {
    pub cpu: runtime::cost::CpuProfile,
    pub facts: driver::delegate::ModelFacts,
    pub cpu_mem: runtime::footprint::CpuMemory,
}

pub fn fuzz_sweep_model() -> &'static FuzzSweepModel {
    static MODEL: std::sync::OnceLock<FuzzSweepModel> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        let cpu = runtime::cost::CpuProfile::resolve("cortex-m4f").expect("built-in CPU profile");
        let graph = models::builtin("ad").expect("built-in ad");
        let interp = runtime::Interpreter::new(&graph).expect("ad prepares");
        let prepared: Vec<&runtime::PreparedOp> = (0..graph.ops.len())
            .map(|i| interp.prepared(i).expect("prepared"))
            .collect();
        let facts = driver::delegate::ModelFacts::new(&graph, &prepared, &cpu);
        let cpu_mem =
            runtime::footprint::CpuMemory::new(&interp, &cpu, None).expect("ad memory facts");
        FuzzSweepModel {
            cpu,
            facts,
            cpu_mem,
        }
    })
}

/// One design of a sweep on the harness model, as `tinyaccel sweep` evaluates it
/// (src/cmd/sweep.rs, `evaluate_budget`: the tile-level estimate of every layer, the
/// command-stream policy, the metrics and the memory footprint).
pub fn fuzz_sweep_evaluate(
    cfg: &arch::AccelConfig,
    policy: driver::delegate::Policy,
    streams: driver::delegate::CmdStreams,
) -> reports::sweep::Metrics {
    use driver::delegate::{self, Placement};
    let m = fuzz_sweep_model();
    let mut layers =
        delegate::estimate_model(&m.facts, cfg, policy, |c, p| sim::tile::estimate(c, p).ok());
    delegate::apply_cmd_streams(&mut layers, cfg, &m.facts.cpu, streams);
    let offload_us: f64 = layers.iter().map(|l| l.total_us).sum();
    let offload_uj: f64 = layers.iter().map(|l| l.total_uj).sum();
    let accel_macs: u64 = layers.iter().map(|l| l.device_counters.macs).sum();
    let accel_cycles: u64 = layers.iter().map(|l| l.device_counters.cycles).sum();
    let peak = cfg.peak_macs_per_cycle();
    let mem = delegate::driver_memory_estimate(&m.facts, cfg, &layers);
    let on_accel = |i: usize| {
        layers
            .get(i)
            .is_some_and(|l| l.index == i && l.placement == Placement::Accel)
    };
    let fit = delegate::footprint_of(&m.cpu_mem, &on_accel, &mem, streams, &m.facts.cpu)
        .fit(&m.facts.cpu);
    reports::sweep::Metrics {
        offload_us,
        offload_uj,
        array_utilization: reports::schema::array_utilization(accel_macs, accel_cycles, peak),
        mac_utilization: reports::schema::mac_utilization(
            accel_macs,
            offload_us,
            cfg.clock_mhz,
            peak,
        ),
        cpu_us: m.facts.cpu_us(),
        cpu_uj: m.facts.cpu_uj(),
        area_mm2: Some(cfg.area_mm2()),
        memory: Some(reports::sweep::MemoryUse {
            flash_used: fit.flash_used,
            flash_cap: fit.flash_cap,
            sram_used: fit.sram_used,
            sram_cap: fit.sram_cap,
        }),
    }
}

/// Sweep grid TOML, evaluated: the grid is built, its constraints resolved as
/// `tinyaccel sweep` does (no command-line overrides), and the first, middle and last
/// designs are evaluated on the built-in `ad` model ([`fuzz_sweep_evaluate`]) under the
/// `auto` and `all` policies and the three command-stream policies. Metrics that the sweep
/// would abort on (not finite, not positive, utilization outside [0, 1]) are findings;
/// nothing is written.
pub fn fuzz_sweep(data: &[u8]) {
    use driver::delegate::{CmdStreams, Policy};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = std::path::Path::new("/nonexistent-tinyaccel-fuzz");
    let grid = match reports::sweep::Grid::from_toml_str(text, "fuzz-grid.toml", dir) {
        Ok(g) => g,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let n = grid.len();
    if n == 0 {
        return;
    }
    let sleep_uw = fuzz_sweep_model().cpu.sleep_uw();
    let mut opts = reports::sweep::SweepOptions::new("/nonexistent-tinyaccel-fuzz/out");
    opts.cpu_sleep_uw = Some(sleep_uw);
    let constraints = match opts.resolve_constraints(&grid) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.to_string();
            return;
        }
    };
    let mut picks = vec![0, n / 2, n - 1];
    picks.dedup();
    for i in picks {
        let design = grid.design(i);
        let _ = grid.value_texts(i);
        let _ = grid.design_id(i);
        let cfg = match &design.config {
            Ok(c) => c,
            Err(reasons) => {
                let _ = reasons.join("; ");
                continue;
            }
        };
        for policy in [Policy::Auto, Policy::All] {
            for streams in [CmdStreams::Sram, CmdStreams::Flash, CmdStreams::Generate] {
                let m = fuzz_sweep_evaluate(cfg, policy, streams);
                let what = || {
                    format!(
                        "design {i} ({policy:?}, {streams:?}): {m:?}\n{}",
                        cfg.to_toml()
                    )
                };
                for v in [m.offload_us, m.offload_uj, m.cpu_us, m.cpu_uj] {
                    assert!(v.is_finite() && v > 0.0, "non-positive metric, {}", what());
                }
                for u in [m.array_utilization, m.mac_utilization] {
                    assert!(
                        u.is_finite() && (0.0..=1.0 + 1e-9).contains(&u),
                        "utilization outside [0, 1], {}",
                        what()
                    );
                }
                let area = m.area_mm2.unwrap_or(0.0);
                assert!(area.is_finite() && area > 0.0, "area, {}", what());
                if let Some(c) = &constraints {
                    let accel = c.accel_sleep().power_uw(cfg);
                    if let Err(e) = c.evaluate(m.offload_us, m.offload_uj, accel, m.memory) {
                        let _ = e.to_string();
                    }
                }
            }
        }
    }
}
