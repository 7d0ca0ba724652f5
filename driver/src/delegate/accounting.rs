//! Accounting: the time, energy and counters of each layer of an offloaded inference
//! ([`LayerRun`], [`ModelRun`], [`LoadReport`]), shared by the run on a device and the fast
//! estimate used by sweeps ([`estimate_model`]).
//!
//! ## Cost of the driver itself (documented assumptions)
//! - [`DRIVER_LAYER_CYCLES`] CPU cycles per offloaded layer (delegate dispatch, pointer and
//!   size set-up), [`DRIVER_SUBMIT_CYCLES`] per command-stream submission (three
//!   memory-mapped register writes, a status poll and the completion check, each an AHB/APB
//!   access of a few wait states, plus the call).
//! - While the accelerator runs, the CPU sleeps in WFI and draws its profile's Sleep-mode
//!   power at its clock ([`CpuProfile::wfi_power_mw`]: the datasheet's Sleep-mode current,
//!   `[power] wfi_ma`, at the supply, scaled like the run current by the fitted supply power).
//! - The accelerator leaks ([`arch::AccelConfig::leakage_uw`]) during the whole inference,
//!   also while the CPU runs layers or the driver: that leakage is charged to those layers,
//!   and so is its idle clock (`arch::device::idle_clock_pj`: every flip-flop's clock pin
//!   and tree without `clock_gating`; nothing with it, the root clock being gated between
//!   command buffers).

use arch::device::{Counters, EnergyBreakdown, EnergyRates};
use arch::schedule::GemmProblem;
use arch::AccelConfig;
use runtime::cost::CpuProfile;
use serde::Serialize;

use super::partition::{
    decide_keeping_vector, vector_counters, Decision, LayerFacts, ModelFacts, Placement, Policy,
};

/// CPU cycles of the driver per offloaded layer.
pub const DRIVER_LAYER_CYCLES: u64 = 200;
/// CPU cycles of the driver per command-stream submission.
pub const DRIVER_SUBMIT_CYCLES: u64 = 60;

/// What loading cost (reported apart from inference).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Weight and parameter bytes packed and written to device memory.
    pub packed_bytes: u64,
    /// Command-stream bytes written to device memory.
    pub command_bytes: u64,
    /// CPU cycles of the packing on the CPU profile (a byte copy per packed byte).
    pub pack_cpu_cycles: u64,
    /// The same in microseconds.
    pub pack_us: f64,
    /// Device memory used.
    pub device_mem_bytes: u64,
}

/// Per-layer result of one inference with offload. "Device" is the accelerator; a layer
/// left on the CPU has zero device fields.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LayerRun {
    /// Op index in the graph.
    pub index: usize,
    /// Where the layer ran.
    pub placement: Placement,
    /// Accelerator counters summed over the layer's GEMMs.
    pub device_counters: Counters,
    /// Accelerator energy by component, picojoules (dynamic + leakage while it runs).
    pub device_energy: EnergyBreakdown,
    /// CPU cycles: the whole layer's kernel on the CPU, or the im2col of an offloaded layer.
    pub cpu_cycles: u64,
    /// CPU cycles spent in the driver (set-up, submission, completion).
    pub driver_cycles: u64,
    /// Accelerator time, microseconds (its cycles at its clock).
    pub device_us: f64,
    /// CPU time of `cpu_cycles`, microseconds.
    pub cpu_us: f64,
    /// CPU time of `driver_cycles`, microseconds.
    pub driver_us: f64,
    /// The layer's latency, microseconds: `device_us + cpu_us + driver_us`.
    pub total_us: f64,
    /// Accelerator energy, microjoules (`device_energy.total_pj / 1e6`).
    pub device_uj: f64,
    /// CPU energy, microjoules: active (kernel or im2col, driver) and sleeping while the
    /// accelerator runs.
    pub cpu_uj: f64,
    /// Accelerator leakage while the CPU works (kernel, im2col, driver), microjoules.
    pub device_idle_leakage_uj: f64,
    /// Accelerator clock while the CPU works (every unit idle: clock pins and tree without
    /// clock gating, the gates only with it, `arch::device::idle_clock_pj`), microjoules.
    pub device_idle_clock_uj: f64,
    /// The layer's energy, microjoules: `device_uj + cpu_uj + device_idle_leakage_uj +
    /// device_idle_clock_uj`.
    pub total_uj: f64,
}

/// Accounting of an offloaded layer from its accelerator counters, im2col cycles and
/// number of submissions (shared by the run on a device and the fast estimate).
pub(super) fn account(
    cfg: &AccelConfig,
    rates: &EnergyRates,
    cpu: &CpuProfile,
    index: usize,
    counters: Counters,
    im2col_cycles: u64,
    submissions: u64,
) -> LayerRun {
    let driver_cycles = DRIVER_LAYER_CYCLES + DRIVER_SUBMIT_CYCLES * submissions;
    let energy = EnergyBreakdown::with_rates(cfg, rates, &counters);
    let device_us = cfg.cycles_to_us(counters.cycles);
    let cpu_us = im2col_cycles as f64 / cpu.clock_mhz();
    let driver_us = driver_cycles as f64 / cpu.clock_mhz();
    let p_mw = cpu.power_mw();
    // mW * us = nJ; / 1000 = uJ.
    let cpu_uj = p_mw * (cpu_us + driver_us) / 1000.0 + cpu.wfi_power_mw() * device_us / 1000.0;
    let device_idle_leakage_uj = rates.leakage_uw * (cpu_us + driver_us) / 1e6;
    let device_idle_clock_uj = idle_clock_uj(cfg, rates, cpu_us + driver_us);
    let device_uj = energy.total_pj / 1e6;
    LayerRun {
        index,
        placement: Placement::Accel,
        device_counters: counters,
        device_energy: energy,
        cpu_cycles: im2col_cycles,
        driver_cycles,
        device_us,
        cpu_us,
        driver_us,
        total_us: device_us + cpu_us + driver_us,
        device_uj,
        cpu_uj,
        device_idle_leakage_uj,
        device_idle_clock_uj,
        total_uj: device_uj + cpu_uj + device_idle_leakage_uj + device_idle_clock_uj,
    }
}

/// The accelerator's idle clock energy over `us` microseconds of CPU work, uJ.
fn idle_clock_uj(cfg: &AccelConfig, rates: &EnergyRates, us: f64) -> f64 {
    arch::device::idle_clock_pj_with(cfg, rates, us * cfg.clock_mhz) / 1e6
}

/// A layer that stays on the CPU in the offloaded run: the CPU kernel's cycles and energy
/// plus the accelerator's leakage meanwhile.
pub(super) fn cpu_layer(cfg: &AccelConfig, rates: &EnergyRates, f: &LayerFacts) -> LayerRun {
    let device_idle_leakage_uj = rates.leakage_uw * f.cpu_us / 1e6;
    let device_idle_clock_uj = idle_clock_uj(cfg, rates, f.cpu_us);
    LayerRun {
        index: f.index,
        placement: Placement::Cpu,
        cpu_cycles: f.cpu_cycles,
        cpu_us: f.cpu_us,
        total_us: f.cpu_us,
        cpu_uj: f.cpu_uj,
        device_idle_leakage_uj,
        device_idle_clock_uj,
        total_uj: f.cpu_uj + device_idle_leakage_uj + device_idle_clock_uj,
        ..Default::default()
    }
}

/// The fast estimate of one offloaded inference for a design: the same partition and
/// accounting as a run on a device, with each GEMM's counters from `gemm_counters`
/// (the simulator's tile-level model, given each GEMM's problem: its `im2col` window is
/// set when the layer uses the accelerator's im2col unit) and each vector program's from
/// the simulator's tile-level model of vector programs (`sim::vtile`). Used by sweeps.
pub fn estimate_model(
    facts: &ModelFacts,
    cfg: &AccelConfig,
    policy: Policy,
    gemm_counters: impl Fn(&AccelConfig, &GemmProblem) -> Option<Counters> + Sync,
) -> Vec<LayerRun> {
    let rates = EnergyRates::of(cfg);
    facts
        .layers
        .iter()
        .map(|f| {
            let (d, vector) =
                decide_keeping_vector(f, cfg, facts.cpu.clock_mhz(), policy, &gemm_counters);
            if let (Some(v), Placement::Accel) = (f.vector_on(cfg), d.placement) {
                return match vector.unwrap_or_else(|| vector_counters(cfg, v)) {
                    Ok(c) => {
                        let n = v.batch() as u64;
                        let gather = f.cpu_im2col_cycles(cfg);
                        account(cfg, &rates, &facts.cpu, f.index, c.scaled(n), gather, n)
                    }
                    Err(_) => cpu_layer(cfg, &rates, f),
                };
            }
            match (&f.lowering, f.problem(cfg), d.placement) {
                (Ok((_, s)), Some(p), Placement::Accel) => match gemm_counters(cfg, &p) {
                    Some(c) => {
                        let n = s.gemms() as u64;
                        let im2col = f.cpu_im2col_cycles(cfg);
                        account(cfg, &rates, &facts.cpu, f.index, c.scaled(n), im2col, n)
                    }
                    None => cpu_layer(cfg, &rates, f),
                },
                _ => cpu_layer(cfg, &rates, f),
            }
        })
        .collect()
}

/// One inference with offload: the output and the per-layer accounting of every op.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelRun {
    pub output: Vec<u8>,
    pub decisions: Vec<Decision>,
    /// One entry per op, in graph order (CPU-side ops included).
    pub layers: Vec<LayerRun>,
    pub load: LoadReport,
}

impl ModelRun {
    /// Whole-model latency, microseconds (the sum of the layers).
    pub fn total_us(&self) -> f64 {
        self.layers.iter().map(|l| l.total_us).sum()
    }
    /// Whole-model energy, microjoules (the sum of the layers).
    pub fn total_uj(&self) -> f64 {
        self.layers.iter().map(|l| l.total_uj).sum()
    }
    /// Accelerator cycles over all offloaded layers.
    pub fn device_cycles(&self) -> u64 {
        self.layers.iter().map(|l| l.device_counters.cycles).sum()
    }
    /// Accelerator counters summed over all offloaded layers.
    pub fn device_counters(&self) -> Counters {
        let mut c = Counters::default();
        for l in &self.layers {
            c.add(&l.device_counters);
        }
        c
    }
}
