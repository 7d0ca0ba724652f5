//! A run's figures: counters, utilization, latency, energy breakdown, area, and the
//! analytic bounds every run must satisfy.

use arch::device::{Counters, EnergyBreakdown};
use arch::AccelConfig;
use serde::Serialize;

/// Everything reported about one run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub config: String,
    pub dataflow: String,
    pub cycles: u64,
    pub macs: u64,
    pub utilization: f64,
    pub latency_us: f64,
    pub bus_bytes: u64,
    pub energy_pj: f64,
    pub energy: EnergyBreakdown,
    pub area_mm2: f64,
    pub counters: Counters,
}

impl Report {
    /// Derives the figures of `c` on `cfg`.
    pub fn new(cfg: &AccelConfig, c: &Counters) -> Self {
        let energy = EnergyBreakdown::from_counters(cfg, c);
        Report {
            config: cfg.name.clone(),
            dataflow: cfg.dataflow.to_string(),
            cycles: c.cycles,
            macs: c.macs,
            utilization: c.utilization(cfg),
            latency_us: cfg.cycles_to_us(c.cycles),
            bus_bytes: c.bus_bytes(),
            energy_pj: energy.total_pj,
            energy,
            area_mm2: cfg.area_mm2(),
            counters: *c,
        }
    }
}

/// The bounds of a timed run: `cycles >= MACs / (rows*cols)`, `cycles >= bus bytes /
/// bus_bytes_per_cycle`, utilization `<= 1`, energy `>= MACs * E_mac`, busy counters
/// `<= cycles`. Returns every violated bound.
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
    let e_min = c.macs as f64 * cfg.energy_table().mac_pj;
    if e.total_pj < e_min {
        bad.push(format!(
            "energy {} pJ < MACs x E_mac = {e_min} pJ",
            e.total_pj
        ));
    }
    for (name, v) in [
        ("array_busy_cycles", c.array_busy_cycles),
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
