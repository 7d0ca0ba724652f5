//! The result schema shared by every output of tinyaccel: `run --json`, `report.json` /
//! `report.csv`, the sweep's `results.csv` and `sim gemm --json` (docs/results-schema.md).
//!
//! One quantity has one name and one unit in all of them; the unit is in the name
//! (`_cycles`, `_us`, `_uj`, `_pj`, `_bytes`, `_mm2`). Every JSON output carries
//! `"schema": SCHEMA`. The two utilization figures are computed here and nowhere else.

/// Name and version of the result schema, written as `"schema"` in every JSON output.
pub const SCHEMA: &str = "tinyaccel-results/1";

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
