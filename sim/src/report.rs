//! The figures of one simulated GEMM run ([`GemmRunReport`]: counters, latency, energy
//! breakdown, area) and the analytic bounds every run must satisfy. Field names follow the
//! result schema (docs/results-schema.md); the CLI's `sim gemm --json` adds the
//! utilizations and the energies in uJ.

use arch::device::{Counters, EnergyBreakdown};
use arch::AccelConfig;
use serde::Serialize;

/// Everything the simulator reports about one GEMM run (`tinyaccel sim gemm`). Not to be
/// confused with `reports::Report`, the per-model report of `tinyaccel report`.
#[derive(Debug, Clone, Serialize)]
pub struct GemmRunReport {
    /// Configuration name.
    pub config: String,
    /// Dataflow name.
    pub dataflow: String,
    /// Cycles the accelerator ran, at its clock.
    pub accel_cycles: u64,
    /// MACs the array executed.
    pub macs: u64,
    /// Wall latency of the run, us (the accelerator alone: `accel_cycles / clock_mhz`).
    pub offload_us: f64,
    /// Bytes moved on the system bus.
    pub bus_bytes: u64,
    /// Energy by component, pJ (every field is named `_pj`).
    pub energy: EnergyBreakdown,
    /// Area estimate, mm^2.
    pub area_mm2: f64,
    /// The raw counters.
    pub counters: Counters,
}

impl GemmRunReport {
    /// Derives the figures of `c` on `cfg`.
    pub fn new(cfg: &AccelConfig, c: &Counters) -> Self {
        GemmRunReport {
            config: cfg.name.clone(),
            dataflow: cfg.dataflow.to_string(),
            accel_cycles: c.cycles,
            macs: c.macs,
            offload_us: cfg.cycles_to_us(c.cycles),
            bus_bytes: c.bus_bytes(),
            energy: EnergyBreakdown::from_counters(cfg, c),
            area_mm2: cfg.area_mm2(),
            counters: *c,
        }
    }
}

/// The bounds of a timed run: `cycles >= MACs / (rows*cols)`, `cycles >= bus bytes /
/// bus_bytes_per_cycle`, utilization `<= 1`, energy between the compulsory-work floor
/// and the all-busy ceiling (`arch::device::energy_floor_pj`, `energy_ceiling_pj`), busy counters
/// (and the compute engine's array + vector-unit busy cycles together) `<= cycles`. Returns every violated bound.
pub fn check_bounds(cfg: &AccelConfig, c: &Counters) -> Result<(), Vec<String>> {
    let mut bad = Vec::new();
    let peak = cfg.peak_macs_per_cycle();
    if c.cycles < c.macs.div_ceil(peak) {
        bad.push(format!(
            "cycles {} < MACs / (rows*cols) = {}",
            c.cycles,
            c.macs.div_ceil(peak)
        ));
    }
    let bus_min = c.bus_bytes().div_ceil(cfg.bus_bytes_per_cycle as u64);
    if c.cycles < bus_min {
        bad.push(format!(
            "cycles {} < bus bytes / bus width = {bus_min}",
            c.cycles
        ));
    }
    let u = c.utilization(cfg);
    if u > 1.0 {
        bad.push(format!("utilization {u} > 1"));
    }
    let e = EnergyBreakdown::from_counters(cfg, c);
    // Compulsory work of the counted run: its MACs, its bus bytes once, the fewest cycles.
    let e_min = arch::device::energy_floor_pj(cfg, c.macs, c.bus_read_bytes, c.bus_write_bytes);
    if e.total_pj < e_min {
        bad.push(format!(
            "energy {} pJ < compulsory-work floor {e_min} pJ (MACs, bus bytes once, clock and leakage over MACs / (rows*cols) cycles)",
            e.total_pj
        ));
    }
    let e_max = arch::device::energy_ceiling_pj(cfg, c);
    if e.total_pj > e_max {
        bad.push(format!(
            "energy {} pJ > ceiling {e_max} pJ (every unit busy every cycle, dearest bytes)",
            e.total_pj
        ));
    }
    if let Some((name, v)) = e
        .parts()
        .into_iter()
        .find(|(_, v)| !(v.is_finite() && *v >= 0.0))
    {
        bad.push(format!(
            "energy part {name} = {v} pJ is negative or not finite"
        ));
    }
    for (name, v) in [
        ("array_busy_cycles", c.array_busy_cycles),
        ("vpu_busy_cycles", c.vpu_busy_cycles),
        // The array and the vector unit share the compute engine.
        (
            "array_busy_cycles + vpu_busy_cycles",
            c.array_busy_cycles + c.vpu_busy_cycles,
        ),
        ("dma_busy_cycles", c.dma_busy_cycles),
        ("dma_stall_cycles", c.dma_stall_cycles),
    ] {
        if v > c.cycles {
            bad.push(format!("{name} {v} > cycles {}", c.cycles));
        }
    }
    if bad.is_empty() {
        Ok(())
    } else {
        Err(bad)
    }
}
