//! Per-layer results in SCALE-Sim's `COMPUTE_REPORT.csv` layout (`report --format
//! scalesim`), so that the two tools' cycles on the same topology and array can be diffed
//! row by row.
//!
//! SCALE-Sim v2 (`simulator.py`) writes one row per layer of its topology:
//! `LayerID, Total Cycles, Stall Cycles, Overall Util %, Mapping Efficiency %, Compute
//! Util %,` (", " between cells, a comma at the end of every line). Here one row is
//! written per CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED layer of a model (the
//! layers SCALE-Sim models), numbered from 0 in execution order; for a SCALE-Sim topology
//! loaded as a model these are its rows, one to one. What fills each column:
//!
//! - `Total Cycles`: the layer's accelerator cycles (`accel_cycles`: from its first
//!   command to the completion of its last, DMA included; CPU-side im2col and driver
//!   time are not accelerator cycles).
//! - `Stall Cycles`: the cycles the array waited for a DMA load or a free accumulator
//!   buffer (`dma_stall_cycles`, from `dma_stall_us x clock_mhz`).
//! - `Overall Util %`: SCALE-Sim's formula on our numbers, `100 x MACs / (Total Cycles x
//!   rows x cols)` (= `array_utilization` x 100).
//! - `Mapping Efficiency %`: left empty. SCALE-Sim averages, over the folds of its own
//!   mapping, the fraction of PEs a fold occupies; tinyaccel does not record its tiles'
//!   PE occupancy.
//! - `Compute Util %`: `100 x MACs / (array busy cycles x rows x cols)`, the array's use
//!   while it computes (`array_busy_us x clock_mhz`). SCALE-Sim averages its per-fold
//!   compute utilization unweighted; this is the MAC-weighted whole-layer figure.
//!
//! A layer the offloaded run left on the CPU has no accelerator cycles: its row has the
//! LayerID and empty cells (run with `--policy all` to offload every layer).

use crate::error::ReportError;
use crate::record::{LayerRow, ModelReport, Report, Target};
use std::path::{Path, PathBuf};

/// SCALE-Sim's column names, in order.
pub const COMPUTE_REPORT_COLUMNS: [&str; 6] = [
    "LayerID",
    "Total Cycles",
    "Stall Cycles",
    "Overall Util %",
    "Mapping Efficiency %",
    "Compute Util %",
];

/// The file name SCALE-Sim writes.
pub const COMPUTE_REPORT_FILE: &str = "COMPUTE_REPORT.csv";

/// The folder (inside the report folder) of the SCALE-Sim-layout files.
pub const SCALESIM_DIR: &str = "scalesim";

/// Ops that are layers in SCALE-Sim's sense (a GEMM on the array).
pub const LAYER_OPS: [&str; 3] = ["CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"];

/// One row of the compute report; `None` cells are written empty.
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeRow {
    pub layer_id: usize,
    /// The op's index in the model (`index` of report.csv).
    pub op_index: usize,
    pub op: String,
    /// Whether the layer ran on the accelerator (else every cell is empty).
    pub offloaded: bool,
    pub total_cycles: Option<u64>,
    pub stall_cycles: Option<u64>,
    pub overall_util_pct: Option<f64>,
    pub compute_util_pct: Option<f64>,
}

fn cycles(us: f64, clock_mhz: f64) -> u64 {
    (us * clock_mhz).round().max(0.0) as u64
}

fn pct(macs: u64, cycles: u64, pes: u64) -> Option<f64> {
    (cycles > 0 && pes > 0).then(|| 100.0 * macs as f64 / (cycles as f64 * pes as f64))
}

fn row(id: usize, l: &LayerRow, m: &ModelReport) -> ComputeRow {
    let pes = m.config.rows as u64 * m.config.cols as u64;
    let clock = m.config.clock_mhz;
    let offloaded = l.target == Target::Accel && l.accel_cycles > 0;
    let mut r = ComputeRow {
        layer_id: id,
        op_index: l.index,
        op: l.op.clone(),
        offloaded,
        total_cycles: None,
        stall_cycles: None,
        overall_util_pct: None,
        compute_util_pct: None,
    };
    if offloaded {
        r.total_cycles = Some(l.accel_cycles);
        r.stall_cycles = Some(cycles(l.dma_stall_us, clock));
        r.overall_util_pct = pct(l.macs, l.accel_cycles, pes);
        r.compute_util_pct = pct(l.macs, cycles(l.array_busy_us, clock), pes);
    }
    r
}

/// The compute-report rows of one model.
pub fn compute_rows(m: &ModelReport) -> Vec<ComputeRow> {
    m.layers
        .iter()
        .filter(|l| LAYER_OPS.contains(&l.op.as_str()))
        .enumerate()
        .map(|(i, l)| row(i, l, m))
        .collect()
}

/// A float as Python's `str()` writes it (`91.68309650614964`, `100.0`).
fn py_float(v: f64) -> String {
    format!("{v:?}")
}

/// One model's `COMPUTE_REPORT.csv` text, in SCALE-Sim's exact layout.
pub fn render_compute_report(m: &ModelReport) -> String {
    let mut s = format!("{},\n", COMPUTE_REPORT_COLUMNS.join(", "));
    for r in compute_rows(m) {
        let cells = [
            r.layer_id.to_string(),
            r.total_cycles.map(|v| v.to_string()).unwrap_or_default(),
            r.stall_cycles.map(|v| v.to_string()).unwrap_or_default(),
            r.overall_util_pct.map(py_float).unwrap_or_default(),
            String::new(),
            r.compute_util_pct.map(py_float).unwrap_or_default(),
        ];
        s.push_str(&cells.join(", "));
        s.push_str(",\n");
    }
    s
}

/// A model name as a folder name: characters other than letters, digits, `.`, `_`, `-`
/// and `@` become `_`.
pub fn folder_name(model: &str) -> String {
    let s: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() || s.starts_with('.') {
        format!("_{s}")
    } else {
        s
    }
}

/// Writes `scalesim/<model>/COMPUTE_REPORT.csv` for every model of `report` into `dir`
/// (atomically, as a set, like the other report files). Returns the final paths.
pub fn write_compute_reports(report: &Report, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut st = crate::fsutil::Staging::new(dir)?;
    let mut rels = Vec::new();
    for m in &report.models {
        // The same model twice (given twice): `name`, `name-2`, ...
        let base = folder_name(&m.model);
        let mut folder = base.clone();
        let mut k = 1;
        let rel = loop {
            let rel = format!("{SCALESIM_DIR}/{folder}/{COMPUTE_REPORT_FILE}");
            if !rels.contains(&rel) {
                break rel;
            }
            k += 1;
            folder = format!("{base}-{k}");
        };
        st.write(&rel, render_compute_report(m).as_bytes())?;
        rels.push(rel);
    }
    match rels.last() {
        Some(marker) => {
            let marker = marker.clone();
            st.commit(&marker)
        }
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(
            folder_name("kws@cortex-m4f@120MHz:reference"),
            "kws@cortex-m4f@120MHz_reference"
        );
        assert_eq!(folder_name("../x"), "_.._x");
        assert_eq!(folder_name(""), "_");
        assert_eq!(py_float(100.0), "100.0");
        assert_eq!(py_float(91.68309650614964), "91.68309650614964");
        assert_eq!(pct(50, 0, 4), None);
        assert_eq!(pct(50, 25, 4), Some(50.0));
    }
}
