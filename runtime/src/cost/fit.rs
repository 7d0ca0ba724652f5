//! The fit of the CPU baseline on published MLPerf Tiny measurements.
//!
//! Input: the published closed-division results of rounds v0.5, v0.7 and v1.0
//! (`shared/mlperf_tiny_results/published_v0.5_v0.7_v1.0.csv`, [`read_csv`]). Every system of
//! the file is either matched to a built-in profile ([`MATCHES`]: how its software compares,
//! at which clock, which rows are held out) or excluded with a reason ([`EXCLUDED`]); a system
//! in neither is an error, so a new row cannot be silently ignored.
//!
//! What is fitted ([`fit`]):
//! - **Latency**, per kernel library, three factors on the cost model's terms ([`TERMS`]):
//!   `mac` on the inner-loop cycles per MAC, `tap` on the per-tap index and bounds work,
//!   `overhead` on every other cycle count of the table (call, pixel, output, im2col), in the
//!   kernels the four models run (`profile::FITTED_KERNELS`; the rows say nothing about the
//!   others); flash stalls are not scaled. Least squares of `ln(predicted) - ln(measured)`
//!   latency over the library's fitted rows (Levenberg-Marquardt on the logarithms of the
//!   factors); a term under [`MIN_TERM_SHARE`] of every fitted row keeps factor 1. The factors are shared by every core
//!   with that library (the cores differ by their tables); rows are matched only where the
//!   software is comparable (TFLite-Micro reference kernels; TFLite-Micro or microTVM with
//!   CMSIS-NN). Predicted cycles of a row are taken at `min(row clock, max_clock_mhz)` of the
//!   profile and divided by the row's clock.
//! - **Power at the supply**, per profile (device at the measured clock): the geometric mean
//!   of `energy / latency` over the fitted rows with energy on that device, any software
//!   (the energy runner measures the whole MCU at its supply).
//!
//! Held out (never fitted, only checked): every row of round v1.0, the latest round of the
//! file (a later submission checks a fit made on earlier ones). The v0.5 reference run is the
//! only reference-kernel system, so that library has no held-out row; every fitted row is
//! also reported left out (the error when the fit runs without it). Vendor engines (X-CUBE-AI, Plumerai) are not fitted: they are faster kernel
//! libraries and bound what a profile can reach ([`BoundCheck`]).
//!
//! The resulting constants are written into `runtime/cpus/*.toml` (`[libraries.X.fit]`,
//! `[power.fit]`) from `tinyaccel cpus --fit CSV`; `runtime/tests/cpu_fit.rs` re-runs the fit
//! and checks that the profiles hold its result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::graph::graph_cost;
use super::profile::{CpuProfile, CpuProfileData, LibraryFit, PowerFit};

/// The four MLPerf Tiny benchmarks, as named in the file and by `models::builtin`.
pub const BENCHMARKS: [&str; 4] = ["kws", "vww", "ic", "ad"];

/// The file, relative to the `shared` directory.
pub const CSV_RELATIVE: &str = "mlperf_tiny_results/published_v0.5_v0.7_v1.0.csv";

/// Rounding of the written constants: factors to 4 decimals, power to 0.01 mW, errors to
/// 0.1 %.
pub const FACTOR_DECIMALS: i32 = 4;

/// Errors of the fit: a missing or malformed file, an unaccounted system.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// The file could not be read.
    #[error("{file}: cannot read: {source} (the published MLPerf Tiny results, see shared/mlperf_tiny_results/README.md; set TINYACCEL_SHARED to the shared directory if it is elsewhere)")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A line or field of the file is malformed.
    #[error("{file}:{line}: {reason}")]
    Parse {
        file: String,
        line: usize,
        reason: String,
    },
    /// The file does not hold what the fit needs (a system neither matched nor excluded, a
    /// matched row missing).
    #[error("{file}: {reason}")]
    Content { file: String, reason: String },
    /// Costing a model on a profile failed.
    #[error("{0}")]
    Cost(#[from] super::CostError),
}

/// One row of the published file.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedRow {
    /// Line in the file (1 = header).
    pub line: usize,
    /// `v0.5`, `v0.7`, `v1.0`.
    pub round: String,
    /// `closed` or `open`.
    pub division: String,
    pub submitter: String,
    pub system: String,
    /// Processor and clock as published (may be empty).
    pub cpu_at_freq: String,
    /// Software and accelerator as published (may be empty).
    pub framework: String,
    /// `kws`, `vww`, `ic`, `ad` (or a model name in the open division).
    pub benchmark: String,
    /// Median latency, ms (None when not published).
    pub latency_ms: Option<f64>,
    /// Median energy per inference, uJ (None when not measured).
    pub energy_uj: Option<f64>,
    /// The `results.txt` files the row was read from.
    pub source_files: String,
}

impl PublishedRow {
    /// Supply power of the run, mW (`energy / latency`), when both were published.
    pub fn power_mw(&self) -> Option<f64> {
        match (self.energy_uj, self.latency_ms) {
            (Some(e), Some(l)) if l > 0.0 => Some(e / l),
            _ => None,
        }
    }
}

/// The `shared` directory: `$TINYACCEL_SHARED`, or the first `shared/` next to an ancestor
/// of `start` that holds the file, or `start/../shared`.
pub fn locate_csv(start: &Path) -> PathBuf {
    if let Some(s) = std::env::var_os("TINYACCEL_SHARED").filter(|s| !s.is_empty()) {
        return PathBuf::from(s).join(CSV_RELATIVE);
    }
    start
        .ancestors()
        .map(|a| a.join("shared").join(CSV_RELATIVE))
        .find(|p| p.is_file())
        .unwrap_or_else(|| start.join("../shared").join(CSV_RELATIVE))
}

/// Splits one CSV line (RFC 4180 quoting: `"a, b"`, `""` inside quotes).
fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            (true, '"') => quoted = false,
            (true, c) => cur.push(c),
            (false, '"') if cur.is_empty() => quoted = true,
            (false, ',') => fields.push(std::mem::take(&mut cur)),
            (false, c) => cur.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(cur);
    Ok(fields)
}

const HEADER: [&str; 12] = [
    "version",
    "division",
    "submitter",
    "system",
    "cpu_at_freq",
    "framework_and_accel",
    "benchmark",
    "throughput_inf_per_s",
    "latency_ms",
    "energy_uJ_per_inf",
    "source_repo",
    "source_files",
];

/// Parses the published file; `origin` names it in errors.
pub fn parse_csv(text: &str, origin: &str) -> Result<Vec<PublishedRow>, FitError> {
    let perr = |line: usize, reason: String| FitError::Parse {
        file: origin.to_string(),
        line,
        reason,
    };
    let mut lines = text.lines().enumerate();
    let (_, header) = lines
        .next()
        .ok_or_else(|| perr(1, "empty file, expected a header line".into()))?;
    let head = split_csv_line(header).map_err(|r| perr(1, r))?;
    if head != HEADER {
        return Err(perr(
            1,
            format!("header is `{header}`, expected `{}`", HEADER.join(",")),
        ));
    }
    let mut rows = Vec::new();
    for (i, l) in lines {
        let line = i + 1;
        if l.trim().is_empty() {
            continue;
        }
        let f = split_csv_line(l).map_err(|r| perr(line, r))?;
        if f.len() != HEADER.len() {
            return Err(perr(
                line,
                format!("{} fields, expected {}", f.len(), HEADER.len()),
            ));
        }
        let num = |idx: usize| -> Result<Option<f64>, FitError> {
            let t = f[idx].trim();
            if t.is_empty() {
                return Ok(None);
            }
            match t.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Some(v)),
                _ => Err(perr(
                    line,
                    format!("field `{}`: `{t}` is not a positive number", HEADER[idx]),
                )),
            }
        };
        rows.push(PublishedRow {
            line,
            round: f[0].trim().to_string(),
            division: f[1].trim().to_string(),
            submitter: f[2].trim().to_string(),
            system: f[3].trim().to_string(),
            cpu_at_freq: f[4].trim().to_string(),
            framework: f[5].trim().to_string(),
            benchmark: f[6].trim().to_string(),
            latency_ms: num(8)?,
            energy_uj: num(9)?,
            source_files: f[11].trim().to_string(),
        });
    }
    Ok(rows)
}

/// Reads and parses the published file.
pub fn read_csv(path: &Path) -> Result<Vec<PublishedRow>, FitError> {
    let text = std::fs::read_to_string(path).map_err(|source| FitError::Io {
        file: path.display().to_string(),
        source,
    })?;
    parse_csv(&text, &path.display().to_string())
}

/// How the rows of one published system are used.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SystemMatch {
    /// Short id used in the tables (`R05`).
    pub id: &'static str,
    pub round: &'static str,
    pub submitter: &'static str,
    pub system: &'static str,
    /// The MCU.
    pub device: &'static str,
    /// Core clock of the runs, MHz.
    pub clock_mhz: f64,
    /// Where the clock comes from (the file's `cpu_at_freq`, or the system description).
    pub clock_source: &'static str,
    /// What ran, and where that is stated.
    pub software: &'static str,
    /// `(profile, library)` whose latency these rows fit or check (comparable software).
    pub latency: Option<(&'static str, &'static str)>,
    /// Profile whose supply power these rows fit or check (same device family and clock).
    pub power: Option<&'static str>,
    /// Profile whose latency these rows bound from below (a faster vendor engine on the
    /// same core and clock).
    pub bound: Option<&'static str>,
    /// Benchmarks held out of every fit (all of them for round v1.0).
    pub held_out: &'static [&'static str],
}

const ALL: &[&str] = &["kws", "vww", "ic", "ad"];

/// The systems of the file that the fit uses.
pub const MATCHES: &[SystemMatch] = &[
    SystemMatch {
        id: "R05",
        round: "v0.5",
        submitter: "reference",
        system: "Nucleo-L4R5ZI",
        device: "STM32L4R5ZI",
        clock_mhz: 120.0,
        clock_source: "file (cpu_at_freq)",
        software: "TFLite Micro v2.3.1, no kernel library listed: the reference kernels (file; system description)",
        latency: Some(("cortex-m4f", "reference")),
        power: Some("cortex-m4f"),
        bound: None,
        held_out: &[],
    },
    SystemMatch {
        id: "RE07",
        round: "v0.7",
        submitter: "renesas",
        system: "EK-RA6M4",
        device: "RA6M4 (R7FA6M4AF3CFB)",
        clock_mhz: 200.0,
        clock_source: "file (cpu_at_freq)",
        software: "tflite-micro with CMSIS(-NN) (closed/renesas/systems/EK-RA6M4_System_Description.json; the file's framework field is empty because that JSON repeats its keys with empty values)",
        latency: Some(("cortex-m33", "cmsis-nn")),
        power: None,
        bound: None,
        held_out: &[],
    },
    SystemMatch {
        id: "OC10n",
        round: "v1.0",
        submitter: "OctoML",
        system: "NRF5340-DK",
        device: "nRF5340 (application core)",
        clock_mhz: 128.0,
        clock_source: "closed/OctoML/systems/system_description_NRF5340DK_microtvm_cmsis_nn.json (128 MHz)",
        software: "microTVM with CMSIS-NN (source path microtvm_cmsis_nn)",
        latency: Some(("cortex-m33", "cmsis-nn")),
        power: None,
        bound: None,
        held_out: ALL,
    },
    SystemMatch {
        id: "ST07l",
        round: "v0.7",
        submitter: "STMicroelectronics",
        system: "NUCLEO_L4R5ZI",
        device: "STM32L4R5ZI",
        clock_mhz: 120.0,
        clock_source: "closed/STMicroelectronics/systems/NUCLEO_L4R5ZI/NUCLEO_L4R5ZI_system_description.json",
        software: "X-CUBE-AI v7.1.0 (vendor engine)",
        latency: None,
        power: Some("cortex-m4f"),
        bound: Some("cortex-m4f"),
        held_out: &[],
    },
    SystemMatch {
        id: "ST10l",
        round: "v1.0",
        submitter: "STMicroelectronics",
        system: "NUCLEO_L4R5ZI",
        device: "STM32L4R5ZI",
        clock_mhz: 120.0,
        clock_source: "as in v0.7 (same board and engine)",
        software: "X-CUBE-AI (vendor engine)",
        latency: None,
        power: Some("cortex-m4f"),
        bound: Some("cortex-m4f"),
        held_out: ALL,
    },
    SystemMatch {
        id: "OC10l",
        round: "v1.0",
        submitter: "OctoML",
        system: "NUCLEO_L4R5ZI",
        device: "STM32L4R5ZI",
        clock_mhz: 120.0,
        clock_source: "file (cpu_at_freq)",
        software: "microTVM native schedules: the file's numbers are those of microtvm_native (kws 6.943 inf/s), not microtvm_cmsis_nn (10.019 inf/s, not in the file); not a comparable kernel library, used for power only",
        latency: None,
        power: Some("cortex-m4f"),
        bound: None,
        held_out: ALL,
    },
    SystemMatch {
        id: "ST07u",
        round: "v0.7",
        submitter: "STMicroelectronics",
        system: "NUCLEO-U575ZI-Q",
        device: "STM32U575ZI (the U585 of the profile is the U575 plus crypto)",
        clock_mhz: 160.0,
        clock_source: "closed/STMicroelectronics/systems/NUCLEO-U575ZI-Q/NUCLEO-U575ZI-Q_system_description.json",
        software: "X-CUBE-AI v7.1.0 (vendor engine)",
        latency: None,
        power: Some("cortex-m33"),
        bound: Some("cortex-m33"),
        held_out: &[],
    },
    SystemMatch {
        id: "ST10u",
        round: "v1.0",
        submitter: "STMicroelectronics",
        system: "NUCLEO-U575ZI-Q",
        device: "STM32U575ZI",
        clock_mhz: 160.0,
        clock_source: "as in v0.7 (same board and engine)",
        software: "X-CUBE-AI (vendor engine)",
        latency: None,
        power: Some("cortex-m33"),
        bound: Some("cortex-m33"),
        held_out: ALL,
    },
    SystemMatch {
        id: "PL07l",
        round: "v0.7",
        submitter: "plumerai",
        system: "NUCLEO_L4R5ZI",
        device: "STM32L4R5ZI",
        clock_mhz: 120.0,
        clock_source: "file (cpu_at_freq)",
        software: "Plumerai Inference Engine (vendor engine)",
        latency: None,
        power: None,
        bound: Some("cortex-m4f"),
        held_out: &[],
    },
    SystemMatch {
        id: "PL10l",
        round: "v1.0",
        submitter: "plumerai",
        system: "NUCLEO_L4R5ZI",
        device: "STM32L4R5ZI",
        clock_mhz: 120.0,
        clock_source: "file (cpu_at_freq)",
        software: "Plumerai Inference Engine (vendor engine)",
        latency: None,
        power: None,
        bound: Some("cortex-m4f"),
        held_out: ALL,
    },
    SystemMatch {
        id: "PL07f",
        round: "v0.7",
        submitter: "plumerai",
        system: "DISCO_F746NG",
        device: "STM32F746NG (the profile's F767 has the same Cortex-M7 core, clock and flash interface)",
        clock_mhz: 216.0,
        clock_source: "file (cpu_at_freq)",
        software: "Plumerai Inference Engine (vendor engine)",
        latency: None,
        power: None,
        bound: Some("cortex-m7"),
        held_out: &[],
    },
    SystemMatch {
        id: "PL10f",
        round: "v1.0",
        submitter: "plumerai",
        system: "DISCO_F746NG",
        device: "STM32F746NG",
        clock_mhz: 216.0,
        clock_source: "file (cpu_at_freq)",
        software: "Plumerai Inference Engine (vendor engine)",
        latency: None,
        power: None,
        bound: Some("cortex-m7"),
        held_out: ALL,
    },
    SystemMatch {
        id: "PL10u",
        round: "v1.0",
        submitter: "plumerai",
        system: "B_U585I_IOT02A",
        device: "STM32U585AI",
        clock_mhz: 160.0,
        clock_source: "file (cpu_at_freq)",
        software: "Plumerai Inference Engine (vendor engine)",
        latency: None,
        power: None,
        bound: Some("cortex-m33"),
        held_out: ALL,
    },
];

/// Systems of the file the fit does not use: (submitter, system, reason).
pub const EXCLUDED: &[(&str, &str, &str)] = &[
    ("hls4ml", "pynqz2", "open division, FPGA accelerator"),
    ("hls4ml", "ic", "open division, FPGA accelerator"),
    ("hls4ml-finn", "ad", "open division, FPGA accelerator"),
    ("hls4ml-finn", "ic", "open division, FPGA accelerator"),
    ("hls4ml-finn", "kws", "open division, FPGA accelerator"),
    ("Andes", "AndesCore_d25_tflite_micro_framework", "RV32 with the P (packed-SIMD) extension and vendor-optimized kernels (kws 4.8 M cycles, 4.5x fewer than TFLM reference kernels on an M4): not comparable to the RV32IMC profile's portable kernels"),
    ("Andes", "AndesCore_d45_tflite_micro_framework", "RV32 with the P extension, dual-issue, vendor-optimized kernels: no profile"),
    ("Andes", "AndesCore_nx27v_tflite_micro_framework", "RV64 with the vector extension: no profile"),
    ("STMicroelectronics", "NUCLEO-H7A3ZI-Q", "STM32H7A3 at 280 MHz with X-CUBE-AI: neither the M7 profile's device (STM32F767) nor within its clock range (216 MHz)"),
    ("plumerai", "cy8cproto_062_4343w", "PSoC 62 (Cortex-M4 at 150 MHz): no profile for the device, above the M4F profile's 120 MHz"),
    ("renesas", "RX65N-Cloud-Kit", "Renesas RXv2 core: no profile"),
    ("silicon_labs", "silicon_labs_xG24_DK2601B", "the MVP matrix accelerator runs the layers: not a CPU baseline"),
    ("syntiant", "syntiant_9120_0v9_30mhz", "NDP120 neural accelerator"),
    ("syntiant", "syntiant_9120_1v1_98mhz", "NDP120 neural accelerator"),
    ("Alibaba", "Alibaba Cloud Sinian Platform (Xuantie RISC-V)", "open division, 1 GHz application core (C906) with its own library"),
    ("greenwaves-technologies", "gap9_650_240", "GAP9 with the NE16 accelerator"),
    ("greenwaves-technologies", "gap9_800_370", "GAP9 with the NE16 accelerator"),
    ("qualcomm", "Next_Generation_Snapdragon_Mobile_Platform_HDK", "no latency published; sensing-hub accelerator"),
];

fn round_to(v: f64, decimals: i32) -> f64 {
    let m = 10f64.powi(decimals);
    (v * m).round() / m
}

/// Signed relative error, %.
fn err_pct(predicted: f64, measured: f64) -> f64 {
    100.0 * (predicted - measured) / measured
}

/// One matched row with its prediction after the fit.
#[derive(Debug, Clone, PartialEq)]
pub struct RowCheck {
    /// System id ([`SystemMatch::id`]).
    pub id: &'static str,
    pub round: String,
    pub submitter: String,
    pub system: String,
    pub benchmark: String,
    /// Profile and library (latency rows, bounds) or profile (power rows).
    pub profile: String,
    pub library: String,
    /// True when the row was held out of the fit.
    pub held_out: bool,
    pub measured_ms: f64,
    pub predicted_ms: f64,
    pub latency_err_pct: f64,
    /// Fitted rows: the latency error when this row is left out of the fit
    /// (leave-one-out); None for held-out rows.
    pub loo_err_pct: Option<f64>,
    /// Measured and predicted energy, uJ, and the error, when the row has energy and the
    /// profile's device is the row's.
    pub energy: Option<(f64, f64, f64)>,
}

/// One power row: measured `energy / latency` against the profile's fitted power.
#[derive(Debug, Clone, PartialEq)]
pub struct PowerCheck {
    pub id: &'static str,
    pub round: String,
    pub submitter: String,
    pub system: String,
    pub benchmark: String,
    pub profile: String,
    pub held_out: bool,
    pub clock_mhz: f64,
    pub measured_mw: f64,
    pub predicted_mw: f64,
    pub err_pct: f64,
}

/// A vendor-engine row against a profile's prediction (which should be slower).
#[derive(Debug, Clone, PartialEq)]
pub struct BoundCheck {
    pub id: &'static str,
    pub round: String,
    pub submitter: String,
    pub system: String,
    pub benchmark: String,
    pub profile: String,
    pub library: String,
    pub vendor_ms: f64,
    pub predicted_ms: f64,
}

/// The fitted constants and every check, for the profiles and the validation page.
#[derive(Debug, Clone, PartialEq)]
pub struct FitReport {
    /// The file the fit ran on.
    pub source: String,
    /// Library -> (factors in the order of [`TERMS`], fitted rows, the profiles whose rows
    /// they are).
    pub factors: BTreeMap<String, ([f64; 3], usize, String)>,
    /// Profile -> library -> the `[libraries.X.fit]` table the profile must hold.
    pub library_fits: BTreeMap<String, BTreeMap<String, LibraryFit>>,
    /// Profile -> the `[power.fit]` table the profile must hold.
    pub power_fits: BTreeMap<String, PowerFit>,
    pub latency_rows: Vec<RowCheck>,
    pub power_rows: Vec<PowerCheck>,
    pub bounds: Vec<BoundCheck>,
    /// (submitter, system, reason) of the file's excluded systems.
    pub excluded: Vec<(String, String, String)>,
}

/// The fitted terms, in the order of the factors: inner MAC loops, per-tap work, every
/// other core cycle.
pub const TERMS: [&str; 3] = ["mac", "tap", "overhead"];

/// Cycles of a model on a profile split into the fitted terms ([`TERMS`]) and the unscaled
/// flash stalls; the instruction-fetch stalls are folded into the terms (they scale the
/// core's work).
fn terms(p: &CpuProfile, model: &str) -> Result<([f64; 3], f64), FitError> {
    let g = models::builtin(model).ok_or_else(|| FitError::Content {
        file: String::new(),
        reason: format!("no built-in model `{model}`"),
    })?;
    let cost = graph_cost(p, &g)?;
    let (mut t, mut f) = ([0.0; 3], 0.0);
    for l in &cost.layers {
        let b = &l.breakdown;
        let core = b.total() - b.flash_stall - b.code_stall;
        let stall = if core > 0.0 { b.code_stall / core } else { 0.0 };
        t[0] += b.mac * (1.0 + stall);
        t[1] += b.tap * (1.0 + stall);
        t[2] += (core - b.mac - b.tap) * (1.0 + stall);
        f += b.flash_stall;
    }
    Ok((t, f))
}

/// Bounds of every fitted factor: the tables are instruction-count derivations, taken to
/// be right within a factor of two; a fit that wants more says the model's structure is
/// wrong, not the constant, and stops at the bound.
pub const FACTOR_RANGE: (f64, f64) = (0.5, 2.0);

/// A term whose share of every fitted row is below this is not fitted (its factor stays 1):
/// the rows say nothing about it.
pub const MIN_TERM_SHARE: f64 = 0.02;

/// Solves the small dense system `a x = b` (Gaussian elimination with partial pivoting);
/// None when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for c in 0..n {
        let piv = (c..n).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[piv][c].abs() < 1e-300 {
            return None;
        }
        a.swap(c, piv);
        b.swap(c, piv);
        let pivot_row = a[c].clone();
        for r in c + 1..n {
            let f = a[r][c] / pivot_row[c];
            for (x, p) in a[r].iter_mut().zip(&pivot_row).skip(c) {
                *x -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Least squares of `ln(sum_j k_j T_j + F) - ln(y)` over `rows` = (T, F, y), on the
/// logarithms of the factors `k` (Levenberg-Marquardt). Only the terms with a share of at
/// least [`MIN_TERM_SHARE`] in some row are fitted, and at most as many as there are rows
/// (the largest terms first); the others stay 1.
fn fit_factors(rows: &[([f64; 3], f64, f64)]) -> [f64; 3] {
    let mut share = [0.0f64; 3];
    for (t, f, _) in rows {
        let tot: f64 = t.iter().sum::<f64>() + f;
        for j in 0..3 {
            share[j] = share[j].max(t[j] / tot);
        }
    }
    let mut free: Vec<usize> = (0..3).filter(|&j| share[j] >= MIN_TERM_SHARE).collect();
    free.sort_by(|&a, &b| share[b].total_cmp(&share[a]));
    free.truncate(rows.len());
    free.sort();
    let n = free.len();
    let mut th = [0.0f64; 3];
    if n == 0 {
        return [1.0; 3];
    }
    let eval = |th: &[f64; 3]| -> f64 {
        rows.iter()
            .map(|(t, f, y)| {
                let pred: f64 = (0..3).map(|j| th[j].exp() * t[j]).sum::<f64>() + f;
                let r = pred.ln() - y.ln();
                r * r
            })
            .sum()
    };
    let mut c = eval(&th);
    let mut lambda = 1e-3;
    for _ in 0..500 {
        let mut jtj = vec![vec![0.0; n]; n];
        let mut jtr = vec![0.0; n];
        for (t, f, y) in rows {
            let pred: f64 = (0..3).map(|j| th[j].exp() * t[j]).sum::<f64>() + f;
            let r = pred.ln() - y.ln();
            let jac: Vec<f64> = free.iter().map(|&j| th[j].exp() * t[j] / pred).collect();
            for a in 0..n {
                jtr[a] += jac[a] * r;
                for b in 0..n {
                    jtj[a][b] += jac[a] * jac[b];
                }
            }
        }
        let mut stepped = false;
        for _ in 0..40 {
            let mut m = jtj.clone();
            for (a, row) in m.iter_mut().enumerate() {
                row[a] += lambda * (jtj[a][a] + 1e-12);
            }
            let Some(step) = solve(m, jtr.iter().map(|v| -v).collect()) else {
                lambda *= 10.0;
                continue;
            };
            let mut nt = th;
            for (a, &j) in free.iter().enumerate() {
                nt[j] = (nt[j] + step[a]).clamp(FACTOR_RANGE.0.ln(), FACTOR_RANGE.1.ln());
            }
            let nc = eval(&nt);
            if nc <= c {
                let small = step.iter().map(|v| v.abs()).sum::<f64>() < 1e-12;
                th = nt;
                c = nc;
                lambda = (lambda / 10.0).max(1e-15);
                stepped = !small;
                break;
            }
            lambda *= 10.0;
        }
        if !stepped {
            break;
        }
    }
    [th[0].exp(), th[1].exp(), th[2].exp()]
}

fn library_fit_data(
    base: &CpuProfileData,
    library: &str,
    k: [f64; 3],
    power: Option<&PowerFit>,
) -> CpuProfileData {
    let mut d = base.clone();
    if let Some(t) = d.libraries.get_mut(library) {
        t.fit = Some(LibraryFit {
            mac: k[0],
            tap: k[1],
            overhead: k[2],
            from: String::new(),
            rows_fitted: 0,
            rows_held_out: 0,
            fitted_err_pct: None,
            held_out_err_pct: None,
            left_out_err_pct: None,
            unvalidated: "fit in progress".into(),
        });
    }
    d.power.fit = power.cloned();
    d
}

fn max_abs(v: impl Iterator<Item = f64>) -> Option<f64> {
    v.map(f64::abs)
        .fold(None, |a, x| Some(a.map_or(x, |a: f64| a.max(x))))
}

/// Fits the built-in profiles on the published rows (see the module documentation).
pub fn fit(rows: &[PublishedRow], source: &str) -> Result<FitReport, FitError> {
    let content = |reason: String| FitError::Content {
        file: source.to_string(),
        reason,
    };
    // Every system is matched or excluded.
    let mut excluded = Vec::new();
    for r in rows {
        let matched = MATCHES
            .iter()
            .any(|m| m.round == r.round && m.submitter == r.submitter && m.system == r.system);
        let why = EXCLUDED
            .iter()
            .find(|(s, sys, _)| *s == r.submitter && *sys == r.system);
        match (matched, why) {
            (true, _) => {}
            (false, Some((s, sys, why))) => {
                let e = (s.to_string(), sys.to_string(), why.to_string());
                if !excluded.contains(&e) {
                    excluded.push(e);
                }
            }
            (false, None) => {
                return Err(content(format!(
                    "line {}: system `{}` of `{}` ({}) is neither matched to a profile nor excluded (runtime::cost::fit::MATCHES / EXCLUDED)",
                    r.line, r.system, r.submitter, r.round
                )))
            }
        }
    }
    // The rows of each matched system, one per benchmark.
    let mut matched: Vec<(&SystemMatch, &PublishedRow)> = Vec::new();
    for m in MATCHES {
        for b in BENCHMARKS {
            let found: Vec<&PublishedRow> = rows
                .iter()
                .filter(|r| {
                    r.round == m.round
                        && r.submitter == m.submitter
                        && r.system == m.system
                        && r.benchmark == b
                })
                .collect();
            match found.as_slice() {
                [r] if r.latency_ms.is_some() => matched.push((m, r)),
                [] | [_] => {
                    return Err(content(format!(
                        "no {b} row with a latency for {} {} {}",
                        m.round, m.submitter, m.system
                    )))
                }
                _ => {
                    return Err(content(format!(
                        "{} rows for {b} of {} {} {}",
                        found.len(),
                        m.round,
                        m.submitter,
                        m.system
                    )))
                }
            }
        }
    }
    let builtin = |name: &str| {
        CpuProfileData::builtin(name)
            .map(|d| d.without_fit())
            .ok_or_else(|| content(format!("no built-in profile `{name}`")))
    };
    let held = |m: &SystemMatch, r: &PublishedRow| m.held_out.contains(&r.benchmark.as_str());
    let row_clock = |d: &CpuProfileData, m: &SystemMatch| m.clock_mhz.min(d.max_clock_mhz);

    // Power: per profile, geometric mean over the fitted rows with energy.
    let mut power_fits: BTreeMap<String, PowerFit> = BTreeMap::new();
    let mut power_rows = Vec::new();
    for name in CpuProfile::builtin_names() {
        let d = builtin(&name)?;
        let rows_p: Vec<_> = matched
            .iter()
            .filter(|(m, r)| m.power == Some(name.as_str()) && r.power_mw().is_some())
            .collect();
        let fitted: Vec<_> = rows_p.iter().filter(|(m, r)| !held(m, r)).collect();
        if fitted.is_empty() {
            power_fits.insert(
                name.clone(),
                PowerFit {
                    mw: None,
                    mhz: None,
                    rows_fitted: 0,
                    rows_held_out: 0,
                    fitted_err_pct: None,
                    held_out_err_pct: None,
                    unvalidated: format!(
                        "no published energy run on the {} (datasheet run current, approximate)",
                        d.device
                    ),
                },
            );
            continue;
        }
        let mhz = fitted[0].0.clock_mhz;
        if fitted.iter().any(|(m, _)| m.clock_mhz != mhz) {
            return Err(content(format!(
                "power rows of {name} are at different clocks; the fit takes one clock"
            )));
        }
        let mean_ln = fitted
            .iter()
            .map(|(_, r)| r.power_mw().unwrap_or(1.0).ln())
            .sum::<f64>()
            / fitted.len() as f64;
        let mw = round_to(mean_ln.exp(), 2);
        let mut errs_fit = Vec::new();
        let mut errs_held = Vec::new();
        for (m, r) in &rows_p {
            let measured = r.power_mw().unwrap_or(0.0);
            let e = err_pct(mw, measured);
            if held(m, r) {
                errs_held.push(e);
            } else {
                errs_fit.push(e);
            }
            power_rows.push(PowerCheck {
                id: m.id,
                round: r.round.clone(),
                submitter: r.submitter.clone(),
                system: r.system.clone(),
                benchmark: r.benchmark.clone(),
                profile: name.clone(),
                held_out: held(m, r),
                clock_mhz: m.clock_mhz,
                measured_mw: measured,
                predicted_mw: mw,
                err_pct: e,
            });
        }
        power_fits.insert(
            name.clone(),
            PowerFit {
                mw: Some(mw),
                mhz: Some(mhz),
                rows_fitted: errs_fit.len() as u32,
                rows_held_out: errs_held.len() as u32,
                fitted_err_pct: max_abs(errs_fit.into_iter()).map(|e| round_to(e, 1)),
                held_out_err_pct: max_abs(errs_held.into_iter()).map(|e| round_to(e, 1)),
                unvalidated: String::new(),
            },
        );
    }

    // Latency: per library, over the fitted rows of every profile with that library.
    let libraries: Vec<String> = {
        let mut v: Vec<String> = CpuProfileData::builtins()
            .iter()
            .flat_map(|d| d.libraries.keys().cloned())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    let mut factors = BTreeMap::new();
    // (library, system id, benchmark) -> factors fitted without that row.
    let mut loo: BTreeMap<(String, &'static str, String), [f64; 3]> = BTreeMap::new();
    for lib in &libraries {
        let mut data = Vec::new();
        let mut keys = Vec::new();
        let mut from = Vec::new();
        for (m, r) in &matched {
            let Some((prof, l)) = m.latency else { continue };
            if l != lib || held(m, r) {
                continue;
            }
            let d = builtin(prof)?;
            let p = CpuProfile::new(d.clone(), row_clock(&d, m), lib)?;
            let (t, f) = terms(&p, &r.benchmark)?;
            // Measured cycles: latency x the row's clock (the model's cycles are taken at
            // the profile's clock nearest to it).
            let y = r.latency_ms.unwrap_or(0.0) * 1000.0 * m.clock_mhz;
            data.push((t, f, y));
            keys.push((lib.clone(), m.id, r.benchmark.clone()));
            if !from.contains(&prof) {
                from.push(prof);
            }
        }
        let k = if data.is_empty() {
            [1.0; 3]
        } else {
            fit_factors(&data)
        };
        if data.len() > 1 {
            for (i, key) in keys.into_iter().enumerate() {
                let rest: Vec<_> = data
                    .iter()
                    .enumerate()
                    .filter(|&(j, _)| j != i)
                    .map(|(_, d)| *d)
                    .collect();
                loo.insert(
                    key,
                    fit_factors(&rest).map(|v| round_to(v, FACTOR_DECIMALS)),
                );
            }
        }
        factors.insert(
            lib.clone(),
            (
                k.map(|v| round_to(v, FACTOR_DECIMALS)),
                data.len(),
                from.join(", "),
            ),
        );
    }

    // Checks with the rounded constants, through the real model.
    let fitted_data = |name: &str, lib: &str| -> Result<CpuProfileData, FitError> {
        let d = builtin(name)?;
        let (k, _, _) = &factors[lib];
        Ok(library_fit_data(&d, lib, *k, power_fits.get(name)))
    };
    let predict_with = |d: CpuProfileData, lib: &str, m: &SystemMatch, bench: &str| {
        let clock = row_clock(&d, m);
        let p = CpuProfile::new(d, clock, lib)?;
        let g = models::builtin(bench).ok_or_else(|| content(format!("no model {bench}")))?;
        let c = graph_cost(&p, &g)?;
        // Cycles at the row's clock; energy at the profile's power at the modelled clock.
        let ms = c.cycles as f64 / m.clock_mhz / 1000.0;
        Ok::<(f64, f64), FitError>((ms, ms * p.power_mw()))
    };
    let predict = |name: &str, lib: &str, m: &SystemMatch, bench: &str| {
        predict_with(fitted_data(name, lib)?, lib, m, bench)
    };
    let mut latency_rows = Vec::new();
    let mut bounds = Vec::new();
    for (m, r) in &matched {
        let measured = r.latency_ms.unwrap_or(0.0);
        if let Some((prof, lib)) = m.latency {
            let (ms, uj) = predict(prof, lib, m, &r.benchmark)?;
            let same_device = m.power == Some(prof);
            let loo_err = match loo.get(&(lib.to_string(), m.id, r.benchmark.clone())) {
                Some(k) => {
                    let d = library_fit_data(&builtin(prof)?, lib, *k, power_fits.get(prof));
                    let (ms, _) = predict_with(d, lib, m, &r.benchmark)?;
                    Some(err_pct(ms, measured))
                }
                None => None,
            };
            latency_rows.push(RowCheck {
                id: m.id,
                round: r.round.clone(),
                submitter: r.submitter.clone(),
                system: r.system.clone(),
                benchmark: r.benchmark.clone(),
                profile: prof.to_string(),
                library: lib.to_string(),
                held_out: held(m, r),
                measured_ms: measured,
                predicted_ms: ms,
                latency_err_pct: err_pct(ms, measured),
                loo_err_pct: loo_err,
                energy: match r.energy_uj {
                    Some(e) if same_device => Some((e, uj, err_pct(uj, e))),
                    _ => None,
                },
            });
        }
        if let Some(prof) = m.bound {
            for lib in builtin(prof)?.libraries.keys() {
                let (ms, _) = predict(prof, lib, m, &r.benchmark)?;
                bounds.push(BoundCheck {
                    id: m.id,
                    round: r.round.clone(),
                    submitter: r.submitter.clone(),
                    system: r.system.clone(),
                    benchmark: r.benchmark.clone(),
                    profile: prof.to_string(),
                    library: lib.clone(),
                    vendor_ms: measured,
                    predicted_ms: ms,
                });
            }
        }
    }

    // Per profile and library: the table the profile must hold.
    let mut library_fits: BTreeMap<String, BTreeMap<String, LibraryFit>> = BTreeMap::new();
    for name in CpuProfile::builtin_names() {
        let d = builtin(&name)?;
        for lib in d.libraries.keys() {
            let (k, n, from) = factors[lib].clone();
            let [mac, tap, overhead] = k;
            let mine: Vec<&RowCheck> = latency_rows
                .iter()
                .filter(|c| c.profile == name && &c.library == lib)
                .collect();
            let fitted: Vec<f64> = mine
                .iter()
                .filter(|c| !c.held_out)
                .map(|c| c.latency_err_pct)
                .collect();
            let held_e: Vec<f64> = mine
                .iter()
                .filter(|c| c.held_out)
                .map(|c| c.latency_err_pct)
                .collect();
            let left_out =
                max_abs(mine.iter().filter_map(|c| c.loo_err_pct)).map(|e| round_to(e, 1));
            let unvalidated = if mine.is_empty() {
                if n == 0 {
                    format!("no published run of {lib} kernels on any profile's core in the file; the table as derived")
                } else {
                    format!(
                        "no published run of {lib} kernels on the {} in the file; factors transferred from {from}",
                        d.core
                    )
                }
            } else {
                String::new()
            };
            library_fits.entry(name.clone()).or_default().insert(
                lib.clone(),
                LibraryFit {
                    mac,
                    tap,
                    overhead,
                    from: from.clone(),
                    rows_fitted: fitted.len() as u32,
                    rows_held_out: held_e.len() as u32,
                    fitted_err_pct: max_abs(fitted.into_iter()).map(|e| round_to(e, 1)),
                    held_out_err_pct: max_abs(held_e.into_iter()).map(|e| round_to(e, 1)),
                    left_out_err_pct: left_out,
                    unvalidated,
                },
            );
        }
    }
    Ok(FitReport {
        source: source.to_string(),
        factors,
        library_fits,
        power_fits,
        latency_rows,
        power_rows,
        bounds,
        excluded,
    })
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v}"))
}

impl FitReport {
    /// Differences between the built-in profiles and the fit (empty when they agree
    /// within the rounding of the written constants).
    pub fn mismatches(&self) -> Vec<String> {
        let mut out = Vec::new();
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol;
        let close_opt = |a: Option<f64>, b: Option<f64>, tol: f64| match (a, b) {
            (Some(a), Some(b)) => close(a, b, tol),
            (None, None) => true,
            _ => false,
        };
        for d in CpuProfileData::builtins() {
            let want = &self.power_fits[&d.name];
            match &d.power.fit {
                None => out.push(format!("{}: [power.fit] missing", d.name)),
                Some(have) => {
                    if !close_opt(have.mw, want.mw, 0.006)
                        || !close_opt(have.mhz, want.mhz, 1e-9)
                        || have.rows_fitted != want.rows_fitted
                        || have.rows_held_out != want.rows_held_out
                        || !close_opt(have.fitted_err_pct, want.fitted_err_pct, 0.051)
                        || !close_opt(have.held_out_err_pct, want.held_out_err_pct, 0.051)
                        || have.unvalidated.is_empty() != want.unvalidated.is_empty()
                    {
                        out.push(format!(
                            "{}: [power.fit] is {have:?}, the fit gives {want:?}",
                            d.name
                        ));
                    }
                }
            }
            for (lib, table) in &d.libraries {
                let want = &self.library_fits[&d.name][lib];
                match &table.fit {
                    None => out.push(format!("{}: [libraries.{lib}.fit] missing", d.name)),
                    Some(have) => {
                        if !close(have.mac, want.mac, 0.00006)
                            || !close(have.tap, want.tap, 0.00006)
                            || !close(have.overhead, want.overhead, 0.00006)
                            || have.rows_fitted != want.rows_fitted
                            || have.rows_held_out != want.rows_held_out
                            || !close_opt(have.fitted_err_pct, want.fitted_err_pct, 0.051)
                            || !close_opt(have.held_out_err_pct, want.held_out_err_pct, 0.051)
                            || !close_opt(have.left_out_err_pct, want.left_out_err_pct, 0.051)
                            || have.unvalidated.is_empty() != want.unvalidated.is_empty()
                        {
                            out.push(format!(
                                "{}: [libraries.{lib}.fit] is {have:?}, the fit gives {want:?}",
                                d.name
                            ));
                        }
                    }
                }
            }
        }
        out
    }

    /// The constants to write into each profile, as TOML lines.
    pub fn profile_constants(&self) -> String {
        let mut s = String::new();
        for (name, libs) in &self.library_fits {
            s += &format!("# runtime/cpus/{name}.toml\n");
            let p = &self.power_fits[name];
            s += "[power.fit]\n";
            if let (Some(mw), Some(mhz)) = (p.mw, p.mhz) {
                s += &format!("mw = {mw}\nmhz = {mhz}\n");
            }
            s += &format!(
                "rows_fitted = {}\nrows_held_out = {}\n",
                p.rows_fitted, p.rows_held_out
            );
            if let Some(e) = p.fitted_err_pct {
                s += &format!("fitted_err_pct = {e}\n");
            }
            if let Some(e) = p.held_out_err_pct {
                s += &format!("held_out_err_pct = {e}\n");
            }
            if !p.unvalidated.is_empty() {
                s += &format!("unvalidated = {:?}\n", p.unvalidated);
            }
            for (lib, f) in libs {
                s += &format!(
                    "[libraries.{lib}]\nfit = {{ mac = {}, tap = {}, overhead = {}, from = {:?}, rows_fitted = {}, rows_held_out = {}",
                    f.mac, f.tap, f.overhead, f.from, f.rows_fitted, f.rows_held_out
                );
                if let Some(e) = f.fitted_err_pct {
                    s += &format!(", fitted_err_pct = {e}");
                }
                if let Some(e) = f.held_out_err_pct {
                    s += &format!(", held_out_err_pct = {e}");
                }
                if let Some(e) = f.left_out_err_pct {
                    s += &format!(", left_out_err_pct = {e}");
                }
                if !f.unvalidated.is_empty() {
                    s += &format!(", unvalidated = {:?}", f.unvalidated);
                }
                s += " }\n";
            }
            s += "\n";
        }
        s
    }

    /// The validation tables (Markdown) of docs/cpu-validation.md.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        s += &format!("Fit on `{}`.\n\n", self.source);
        s += "### Fitted latency factors (per kernel library)\n\n";
        s += "| library | mac | tap | overhead | fitted rows | rows of |\n|---|---:|---:|---:|---:|---|\n";
        for (lib, ([mac, tap, ovh], n, from)) in &self.factors {
            s += &format!(
                "| {lib} | {mac} | {tap} | {ovh} | {n} | {} |\n",
                if from.is_empty() { "-" } else { from }
            );
        }
        s += "\n### Fitted supply power (per device and clock)\n\n";
        s += "| profile | fitted power | at | fitted rows | held-out rows | max abs error fitted | held out |\n|---|---:|---:|---:|---:|---:|---:|\n";
        for (name, p) in &self.power_fits {
            if p.mw.is_some() {
                s += &format!(
                    "| {name} | {:.2} mW | {} MHz | {} | {} | {} % | {} % |\n",
                    p.mw.unwrap_or(0.0),
                    p.mhz.unwrap_or(0.0),
                    p.rows_fitted,
                    p.rows_held_out,
                    fmt_opt(p.fitted_err_pct),
                    fmt_opt(p.held_out_err_pct)
                );
            } else {
                s += &format!(
                    "| {name} | unvalidated: {} | | 0 | 0 | | |\n",
                    p.unvalidated
                );
            }
        }
        for held in [false, true] {
            s += &format!(
                "\n### Latency and energy, {} rows\n\n",
                if held { "held-out" } else { "fitted" }
            );
            s += "| profile | id | round | submitter | system | benchmark | measured ms | predicted ms | error | left out | measured uJ | predicted uJ | error |\n|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n";
            for c in self.latency_rows.iter().filter(|c| c.held_out == held) {
                let (me, pe, ee) = match c.energy {
                    Some((m, p, e)) => (format!("{m:.1}"), format!("{p:.1}"), format!("{e:+.1} %")),
                    None => ("-".into(), "-".into(), "-".into()),
                };
                let lo = c.loo_err_pct.map_or("-".into(), |e| format!("{e:+.1} %"));
                s += &format!(
                    "| {}:{} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:+.1} % | {lo} | {me} | {pe} | {ee} |\n",
                    c.profile, c.library, c.id, c.round, c.submitter, c.system, c.benchmark,
                    c.measured_ms, c.predicted_ms, c.latency_err_pct
                );
            }
        }
        for held in [false, true] {
            s += &format!(
                "\n### Supply power, {} rows\n\n",
                if held { "held-out" } else { "fitted" }
            );
            s += "| profile | id | round | submitter | system | benchmark | clock | measured mW | fitted mW | error |\n|---|---|---|---|---|---|---:|---:|---:|---:|\n";
            for c in self.power_rows.iter().filter(|c| c.held_out == held) {
                s += &format!(
                    "| {} | {} | {} | {} | {} | {} | {} MHz | {:.2} | {:.2} | {:+.1} % |\n",
                    c.profile,
                    c.id,
                    c.round,
                    c.submitter,
                    c.system,
                    c.benchmark,
                    c.clock_mhz,
                    c.measured_mw,
                    c.predicted_mw,
                    c.err_pct
                );
            }
        }
        s += "\n### Bounds: vendor engines on the profile's core and clock (the model should be slower)\n\n";
        s += "| profile | id | round | submitter | system | benchmark | vendor ms | predicted ms | predicted / vendor |\n|---|---|---|---|---|---|---:|---:|---:|\n";
        for b in &self.bounds {
            s += &format!(
                "| {}:{} | {} | {} | {} | {} | {} | {:.3} | {:.3} | {:.2}x |\n",
                b.profile,
                b.library,
                b.id,
                b.round,
                b.submitter,
                b.system,
                b.benchmark,
                b.vendor_ms,
                b.predicted_ms,
                b.predicted_ms / b.vendor_ms
            );
        }
        s += "\n### Validation per profile\n\n| profile | library | latency | power |\n|---|---|---|---|\n";
        for (name, libs) in &self.library_fits {
            for (lib, f) in libs {
                s += &format!(
                    "| {name} | {lib} | {} | {} |\n",
                    f.summary(),
                    self.power_fits[name].summary()
                );
            }
        }
        s += "\n### Systems not used\n\n| submitter | system | why |\n|---|---|---|\n";
        for (sub, sys, why) in &self.excluded {
            s += &format!("| {sub} | {sys} | {why} |\n");
        }
        s
    }
}
