//! The result schema shared by every output of tinyaccel: `run --json`, `report.json` /
//! `report.csv`, the sweep's `results.csv` and `sim gemm --json` (docs/results-schema.md).
//!
//! One quantity has one name and one unit in all of them; the unit is in the name
//! (`_cycles`, `_us`, `_uj`, `_pj`, `_bytes`, `_mm2`). Every JSON output carries
//! `"schema": SCHEMA`. The two utilization figures are computed here and nowhere else.

/// Name and version of the result schema, written as `"schema"` in every JSON output.
pub const SCHEMA: &str = "tinyaccel-results/1";

/// The time parts of the offloaded run, by name: they add up to `offload_us`
/// ([`crate::LayerRow::time_parts`]).
pub const TIME_PARTS: [&str; 4] = ["compute_us", "dma_stall_us", "driver_us", "cpu_side_us"];

/// The two parts of `cpu_side_us`: CPU kernels of layers left on the CPU, CPU im2col of
/// offloaded layers.
pub const CPU_SIDE_PARTS: [&str; 2] = ["cpu_kernel_us", "cpu_im2col_us"];

/// Time details that overlap the parts (each at most the accelerator's time
/// `compute_us + dma_stall_us`): the array computing, the DMA engine busy.
pub const TIME_DETAILS: [&str; 3] = ["array_busy_us", "dma_busy_us", "vpu_busy_us"];

/// The energy parts of the offloaded run, by name: they add up to `offload_uj`
/// ([`crate::LayerRow::energy_parts`], same order). `agu_uj` (im2col address generator)
/// `dma_track_uj` (DMA burst tracking FIFO) and `vpu_uj` (the vector unit's pooling and ADD
/// lanes) are 0 with the features off.
pub const ENERGY_PARTS: [&str; 13] = [
    "mac_uj",
    "sram_uj",
    "bus_uj",
    "main_memory_uj",
    "clock_uj",
    "ppu_uj",
    "control_uj",
    "dma_uj",
    "agu_uj",
    "dma_track_uj",
    "vpu_uj",
    "leakage_uj",
    "offload_cpu_uj",
];

/// Counts of the DMA and the im2col unit (`arch::device::Counters::dma_bursts`,
/// `im2col_pieces`), per layer and model.
pub const DMA_COUNTS: [&str; 2] = ["dma_bursts", "im2col_pieces"];

/// `array_utilization`: MACs / (peak MACs per cycle x accelerator cycles), defined once
/// in `arch` (the simulator's bounds use it too).
pub use arch::device::array_utilization;

/// `mac_utilization`: MACs run on the accelerator / (peak MACs per cycle x the whole
/// offloaded run's wall time in accelerator cycles, `offload_us x clock_mhz`): the share of
/// the array's peak the run achieves end to end, CPU-side layers, im2col and driver time
/// included. 0 when the run has no time or the peak is 0.
pub fn mac_utilization(
    accel_macs: u64,
    offload_us: f64,
    clock_mhz: f64,
    peak_macs_per_cycle: u64,
) -> f64 {
    let wall_cycles = offload_us * clock_mhz;
    if wall_cycles > 0.0 && peak_macs_per_cycle > 0 {
        accel_macs as f64 / (peak_macs_per_cycle as f64 * wall_cycles)
    } else {
        0.0
    }
}

/// Picojoules to the schema's energy unit, microjoules.
pub fn pj_to_uj(pj: f64) -> f64 {
    pj / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilizations() {
        assert_eq!(array_utilization(640, 20, 64), 0.5);
        assert_eq!(array_utilization(640, 0, 64), 0.0);
        // 10 us at 100 MHz = 1000 wall cycles; 6400 MACs on a 64-MAC array: 10 %.
        assert!((mac_utilization(6400, 10.0, 100.0, 64) - 0.1).abs() < 1e-15);
        assert_eq!(mac_utilization(6400, 0.0, 100.0, 64), 0.0);
        assert_eq!(pj_to_uj(2.5e6), 2.5);
    }
}
