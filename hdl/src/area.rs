//! Area from logic synthesis (`tinyaccel hdl area`): yosys synthesizes the emitted
//! `tinyaccel_core` to its internal gate library (`synth -flatten -top tinyaccel_core;
//! stat`), the cells are counted per type and weighted with the area of the matching
//! NanGate FreePDK45 Open Cell Library cell ([`CELL_AREAS_45NM`]), and the sum is scaled to
//! the configuration's node like [`arch::tables::area_factor`].
//!
//! Large arrays take minutes to synthesize, so by default the area of a `rows x cols`
//! core is extrapolated from three small cores of the same dataflow ([`FIT_POINTS`]:
//! 2x2, 4x2, 4x4) with `area = base + per_pe * rows*cols + per_col * cols` (the PPU lanes
//! scale with `cols`); `full` synthesizes the requested core itself. The measured
//! extrapolation error and the calibration against `arch::tables` are in `docs/area.md`.
//!
//! The estimate is cell area only (no placement utilization, no wires, no clock tree).

use crate::emit::{core_verilog, shape_of, write_atomic, TOP_MODULE, VERILOG_FILE};
use crate::HdlError;
use arch::{AccelConfig, Dataflow};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const INSTALL_HINT: &str = "install it with `sudo apt-get install -y yosys` (or `make deps`)";

/// Cell area, in um^2 at 45 nm, of each yosys internal gate type, from the NanGate
/// FreePDK45 Open Cell Library (`NangateOpenCellLibrary_typical.lib`, X1 drive).
/// Types without a one-cell equivalent are composed (marked "composed" in `docs/area.md`):
/// - `$_ANDNOT_` (`a & !b`) = INV_X1 + NOR2_X1 (`!( !a | b)`), `$_ORNOT_` = INV_X1 + NAND2_X1;
/// - `$_SDFF_*` (synchronous reset) = DFF_X1 + AND2_X1 on D;
/// - `$_DFFE_*` (enable) = DFF_X1 + MUX2_X1; `$_SDFFE_*`/`$_SDFFCE_*` = DFF_X1 + MUX2_X1 +
///   AND2_X1; `$_NMUX_` = MUX2_X1 + INV_X1.
///
/// Matching is on the type name up to its first `_` after the leading `$_` (e.g.
/// `$_SDFFE_PP0P_` -> `SDFFE`).
pub const CELL_AREAS_45NM: &[(&str, f64)] = &[
    ("BUF", 0.798),
    ("NOT", 0.532),
    ("AND", 1.064),
    ("NAND", 0.798),
    ("OR", 1.064),
    ("NOR", 0.798),
    ("XOR", 1.596),
    ("XNOR", 1.596),
    ("ANDNOT", 1.330),
    ("ORNOT", 1.330),
    ("MUX", 1.862),
    ("NMUX", 2.394),
    ("AOI3", 1.064),
    ("OAI3", 1.064),
    ("AOI4", 1.330),
    ("OAI4", 1.330),
    ("DFF", 4.522),
    ("SDFF", 5.586),
    ("DFFE", 6.384),
    ("SDFFE", 7.448),
    ("SDFFCE", 7.448),
];

/// Area of NAND2_X1 (the unit of the gate-equivalent count).
pub const NAND2_UM2: f64 = 0.798;

/// Area of an unknown cell type (counted in [`SynthStats::unknown_cells`]): MUX2_X1, the
/// largest combinational cell of the table.
pub const UNKNOWN_CELL_UM2: f64 = 1.862;

/// The small cores synthesized for the extrapolation (rows, cols). 1x1 is not used: its
/// single PPU lane is mapped ~10 % smaller than the lanes of larger cores, which biased
/// the fit (-8 % at 8x8 with 1x1, 2x2, 4x2; -3.3 % with these, see `docs/area.md`).
pub const FIT_POINTS: [(u32, u32); 3] = [(2, 2), (4, 2), (4, 4)];

/// Cores with at most this many PEs are always synthesized in full (cheaper than the fit).
pub const DIRECT_MAX_PES: u32 = 4;

/// The key of a yosys cell type in [`CELL_AREAS_45NM`] (`$_SDFFE_PP0P_` -> `SDFFE`).
pub fn cell_family(ty: &str) -> &str {
    let t = ty.strip_prefix("$_").unwrap_or(ty);
    t.split('_').next().unwrap_or(t)
}

/// Area at 45 nm of one cell of yosys type `ty`, `None` if the type is not in the table.
pub fn cell_area_45nm(ty: &str) -> Option<f64> {
    let f = cell_family(ty);
    CELL_AREAS_45NM
        .iter()
        .find(|(k, _)| *k == f)
        .map(|(_, a)| *a)
}

/// True for a flip-flop type (`$_DFF*`, `$_SDFF*`, `$_DFFE*`, ...).
pub fn is_flip_flop(ty: &str) -> bool {
    let f = cell_family(ty);
    f.contains("DFF")
}

/// The result of synthesizing one design.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthStats {
    pub rows: u32,
    pub cols: u32,
    pub dataflow: Dataflow,
    pub cells: u64,
    pub flip_flops: u64,
    /// Cells per yosys type.
    pub cell_types: BTreeMap<String, u64>,
    /// Cells whose type is not in [`CELL_AREAS_45NM`] (weighted with [`UNKNOWN_CELL_UM2`]).
    pub unknown_cells: u64,
    /// `stat -tech cmos` transistor estimate (a lower bound, yosys prints `N+`).
    pub transistors: Option<u64>,
    /// Cell area at 45 nm.
    pub um2_45nm: f64,
    /// Gates on the longest combinational path (yosys `ltp -noff`).
    pub logic_depth: u64,
    /// Wall time of yosys (0 when taken from the cache).
    pub seconds: f64,
    pub cached: bool,
}

impl SynthStats {
    /// NAND2-equivalent gate count (`um2_45nm / NAND2_UM2`).
    pub fn nand2_eq(&self) -> f64 {
        self.um2_45nm / NAND2_UM2
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.rows,
            "cols": self.cols,
            "dataflow": self.dataflow.as_str(),
            "cells": self.cells,
            "flip_flops": self.flip_flops,
            "cell_types": self.cell_types,
            "unknown_cells": self.unknown_cells,
            "transistors": self.transistors,
            "um2_45nm": self.um2_45nm,
            "nand2_eq": self.nand2_eq(),
            "logic_depth": self.logic_depth,
            "fmax_mhz_45nm_estimate": fmax_mhz_45nm(self.logic_depth),
            "yosys_seconds": self.seconds,
            "cached": self.cached,
        })
    }
}

/// What [`parse_stat`] reads: the cell count, the cells per type, the transistor count.
pub type ParsedStat = (u64, BTreeMap<String, u64>, Option<u64>);

/// Parses the text of yosys `stat` (the last `=== TOP ===` section) and, if given, of
/// `stat -tech cmos`.
pub fn parse_stat(text: &str, cmos: Option<&str>, path: &Path) -> Result<ParsedStat, HdlError> {
    let perr = |reason: String| HdlError::Parse {
        path: path.to_path_buf(),
        reason,
    };
    let mut cells = None;
    let mut types = BTreeMap::new();
    for line in text.lines() {
        let t = line.trim();
        if let Some(rest) = t.strip_prefix("Number of cells:") {
            let n = rest
                .trim()
                .parse::<u64>()
                .map_err(|e| perr(format!("`{t}`: {e}")))?;
            cells = Some(n);
            types.clear();
        } else if t.starts_with('$') && cells.is_some() {
            let mut it = t.split_whitespace();
            let (Some(ty), Some(n), None) = (it.next(), it.next(), it.next()) else {
                return Err(perr(format!("cell line `{t}`: expected `TYPE COUNT`")));
            };
            let n = n
                .parse::<u64>()
                .map_err(|e| perr(format!("cell line `{t}`: {e}")))?;
            *types.entry(ty.to_string()).or_insert(0) += n;
        }
    }
    let cells = cells.ok_or_else(|| perr("no `Number of cells:` line in the yosys stat".into()))?;
    let sum: u64 = types.values().sum();
    if sum != cells {
        return Err(perr(format!(
            "the cell types add up to {sum}, `Number of cells:` says {cells}"
        )));
    }
    let mut transistors = None;
    if let Some(c) = cmos {
        for line in c.lines() {
            if let Some(rest) = line.trim().strip_prefix("Estimated number of transistors:") {
                let n = rest.trim().trim_end_matches('+');
                transistors = Some(
                    n.parse::<u64>()
                        .map_err(|e| perr(format!("transistor count `{}`: {e}", rest.trim())))?,
                );
            }
        }
    }
    Ok((cells, types, transistors))
}

/// Parses `Longest topological path in TOP (length=N):` from yosys `ltp` output.
pub fn parse_ltp(text: &str, path: &Path) -> Result<u64, HdlError> {
    text.lines()
        .find_map(|l| {
            let i = l.find("(length=")?;
            let rest = &l[i + "(length=".len()..];
            rest[..rest.find(')')?].trim().parse::<u64>().ok()
        })
        .ok_or_else(|| HdlError::Parse {
            path: path.to_path_buf(),
            reason: "no `Longest topological path ... (length=N)` line in the yosys ltp output"
                .into(),
        })
}

/// Assumed delay of one 2-input gate of the generic netlist at 45 nm (NanGate X1 cells at
/// a fan-out of ~2-4: 20-40 ps), in ps. A rough figure, see `docs/area.md`.
pub const GATE_DELAY_PS_45NM: f64 = 30.0;
/// Assumed flip-flop clock-to-q plus setup at 45 nm (DFF_X1), in ps.
pub const FF_OVERHEAD_PS_45NM: f64 = 120.0;

/// A first-order clock estimate at 45 nm from the logic depth (no wires, no placement).
pub fn fmax_mhz_45nm(logic_depth: u64) -> f64 {
    1e6 / (logic_depth as f64 * GATE_DELAY_PS_45NM + FF_OVERHEAD_PS_45NM)
}

/// The cache root for synthesis results: `$XDG_CACHE_HOME/tinyaccel/area` (or
/// `~/.cache/tinyaccel/area`).
pub fn cache_root() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(x).join("tinyaccel/area");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|x| !x.is_empty()) {
        return PathBuf::from(h).join(".cache/tinyaccel/area");
    }
    std::env::temp_dir().join("tinyaccel-area")
}

/// The yosys script run on `verilog`; writes `stat.txt`, `cmos.txt` and `ltp.txt` (the
/// longest combinational path in gates between flip-flops/ports, `ltp -noff`) into the
/// current directory.
pub fn yosys_script(verilog: &Path) -> String {
    format!(
        "read_verilog {}; synth -flatten -top {TOP_MODULE}; tee -q -o stat.txt stat; tee -q -o cmos.txt stat -tech cmos; tee -q -o ltp.txt ltp -noff",
        verilog.display()
    )
}

/// Synthesizes the core of a `rows x cols` core with `dataflow` in `root/<shape>-<hash of
/// the Verilog>/`. A previous result for the same Verilog text is reused (`cached`).
pub fn synth_shape(
    rows: u32,
    cols: u32,
    dataflow: Dataflow,
    root: &Path,
) -> Result<SynthStats, HdlError> {
    let mut cfg = AccelConfig::preset("tiny-4x4")
        .ok_or_else(|| HdlError::Config("preset `tiny-4x4` is missing".into()))?;
    cfg.name = format!("area-{rows}x{cols}");
    cfg.rows = rows;
    cfg.cols = cols;
    cfg.dataflow = dataflow;
    shape_of(&cfg)?;
    let v = core_verilog(&cfg)?;
    let hash = hex(&Sha256::digest(v.as_bytes())[..8]);
    let df = dataflow.short_name();
    let dir = root.join(format!("{rows}x{cols}-{df}-{hash}"));
    std::fs::create_dir_all(&dir).map_err(|e| HdlError::io(&dir, e))?;
    let (seconds, cached) = run_yosys(
        &dir,
        VERILOG_FILE,
        &v,
        &yosys_script(Path::new(VERILOG_FILE)),
    )?;
    let n = read_netlist(&dir)?;
    Ok(SynthStats {
        rows,
        cols,
        dataflow,
        cells: n.cells,
        flip_flops: n.flip_flops,
        cell_types: n.cell_types,
        unknown_cells: n.unknown_cells,
        transistors: n.transistors,
        um2_45nm: n.um2_45nm,
        logic_depth: n.logic_depth,
        seconds,
        cached,
    })
}

/// Runs yosys `script` in `dir` on `text` (written to `dir/file`) unless `dir` already
/// holds the results of the same text (`stat.txt`, `cmos.txt`, `ltp.txt`). Returns the
/// wall time (0 when cached) and whether it was cached.
fn run_yosys(dir: &Path, file: &str, text: &str, script: &str) -> Result<(f64, bool), HdlError> {
    let verilog = dir.join(file);
    let stat = dir.join("stat.txt");
    let cached = stat.is_file()
        && dir.join("cmos.txt").is_file()
        && dir.join("ltp.txt").is_file()
        && verilog.is_file();
    if cached {
        return Ok((0.0, true));
    }
    let _ = std::fs::remove_file(&stat);
    write_atomic(&verilog, text.as_bytes())?;
    let t0 = Instant::now();
    let out = Command::new("yosys")
        .current_dir(dir)
        .args(["-q", "-l", "yosys.log", "-p", script])
        .output()
        .map_err(|e| HdlError::Tool(format!("yosys not found ({e}): {INSTALL_HINT}")))?;
    let seconds = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        let log = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        let _ = std::fs::remove_file(&stat);
        return Err(HdlError::Tool(format!(
            "yosys synthesis of {} failed: {}",
            verilog.display(),
            log.lines().rev().take(10).collect::<Vec<_>>().join("\n")
        )));
    }
    Ok((seconds, false))
}

/// The netlist statistics yosys left in a synthesis folder.
struct Netlist {
    cells: u64,
    flip_flops: u64,
    cell_types: BTreeMap<String, u64>,
    unknown_cells: u64,
    transistors: Option<u64>,
    um2_45nm: f64,
    logic_depth: u64,
}

fn read_netlist(dir: &Path) -> Result<Netlist, HdlError> {
    let stat = dir.join("stat.txt");
    let cmos = dir.join("cmos.txt");
    let ltp = dir.join("ltp.txt");
    let text = std::fs::read_to_string(&stat).map_err(|e| HdlError::io(&stat, e))?;
    let ctext = std::fs::read_to_string(&cmos).map_err(|e| HdlError::io(&cmos, e))?;
    let (cells, cell_types, transistors) = parse_stat(&text, Some(&ctext), &stat)?;
    let ltext = std::fs::read_to_string(&ltp).map_err(|e| HdlError::io(&ltp, e))?;
    let logic_depth = parse_ltp(&ltext, &ltp)?;
    let mut um2 = 0.0;
    let mut unknown = 0;
    let mut ffs = 0;
    for (ty, &n) in &cell_types {
        match cell_area_45nm(ty) {
            Some(a) => um2 += a * n as f64,
            None => {
                unknown += n;
                um2 += UNKNOWN_CELL_UM2 * n as f64;
            }
        }
        if is_flip_flop(ty) {
            ffs += n;
        }
    }
    Ok(Netlist {
        cells,
        flip_flops: ffs,
        cell_types,
        unknown_cells: unknown,
        transistors,
        um2_45nm: um2,
        logic_depth,
    })
}

/// The synthesis of one block of the system RTL on its own (the im2col address generator,
/// the DMA tracking FIFO), weighted like the core.
#[derive(Debug, Clone, PartialEq)]
pub struct BlockStats {
    /// Verilog module name.
    pub module: String,
    /// Parameters set with `chparam`.
    pub params: Vec<(String, u64)>,
    pub cells: u64,
    pub flip_flops: u64,
    pub cell_types: BTreeMap<String, u64>,
    pub unknown_cells: u64,
    pub transistors: Option<u64>,
    /// Cell area at 45 nm.
    pub um2_45nm: f64,
    pub logic_depth: u64,
    pub seconds: f64,
    pub cached: bool,
}

impl BlockStats {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "module": self.module,
            "params": self.params.iter().map(|(k, v)| (k.clone(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "cells": self.cells,
            "flip_flops": self.flip_flops,
            "cell_types": self.cell_types,
            "unknown_cells": self.unknown_cells,
            "transistors": self.transistors,
            "um2_45nm": self.um2_45nm,
            "nand2_eq": self.um2_45nm / NAND2_UM2,
            "logic_depth": self.logic_depth,
            "yosys_seconds": self.seconds,
            "cached": self.cached,
        })
    }
}

/// The yosys script of a block: `module` of `file` with `params` set by `chparam`.
pub fn block_script(file: &str, module: &str, params: &[(&str, u64)]) -> String {
    let chparam = if params.is_empty() {
        String::new()
    } else {
        let sets: Vec<String> = params
            .iter()
            .map(|(k, v)| format!("-set {k} {v}"))
            .collect();
        format!(" chparam {} {module};", sets.join(" "))
    };
    format!(
        "read_verilog {file};{chparam} synth -flatten -top {module}; tee -q -o stat.txt stat; tee -q -o cmos.txt stat -tech cmos; tee -q -o ltp.txt ltp -noff"
    )
}

/// Synthesizes `module` of the Verilog `text` alone with `params`, in
/// `root/<module>-<params>-<hash of the text>/` (cached like [`synth_shape`]).
pub fn synth_block(
    module: &str,
    text: &str,
    params: &[(&str, u64)],
    root: &Path,
) -> Result<BlockStats, HdlError> {
    let hash = hex(&Sha256::digest(text.as_bytes())[..8]);
    let ptag: String = params.iter().map(|(k, v)| format!("-{k}{v}")).collect();
    let dir = root.join(format!("{module}{ptag}-{hash}"));
    std::fs::create_dir_all(&dir).map_err(|e| HdlError::io(&dir, e))?;
    let file = format!("{module}.v");
    let (seconds, cached) = run_yosys(&dir, &file, text, &block_script(&file, module, params))?;
    let n = read_netlist(&dir)?;
    Ok(BlockStats {
        module: module.to_string(),
        params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        cells: n.cells,
        flip_flops: n.flip_flops,
        cell_types: n.cell_types,
        unknown_cells: n.unknown_cells,
        transistors: n.transistors,
        um2_45nm: n.um2_45nm,
        logic_depth: n.logic_depth,
        seconds,
        cached,
    })
}

/// The im2col address generator (`tinyaccel_im2col_agu`) alone.
pub fn synth_agu(root: &Path) -> Result<BlockStats, HdlError> {
    synth_block(crate::system::AGU_MODULE, crate::system::AGU_RTL, &[], root)
}

/// The DMA tracking FIFO (`tinyaccel_dma_track`) with `slots` entries of
/// [`crate::system::DMA_TRACK_ENTRY_BITS`] bits, alone.
pub fn synth_dma_track(slots: u32, root: &Path) -> Result<BlockStats, HdlError> {
    synth_block(
        crate::system::DMA_TRACK_MODULE,
        crate::system::DMA_TRACK_RTL,
        &[
            ("N", slots as u64),
            ("W", crate::system::DMA_TRACK_ENTRY_BITS as u64),
        ],
        root,
    )
}

/// The vector unit (`tinyaccel_vpu`) with `lanes` lanes and the modes of `features`
/// (`depthwise` -> MAC, `pooling` -> SUM/MAX, `eltwise` -> ADD), alone: its mode
/// registers, the `VCOMPUTE` read sequencer and the lanes.
pub fn synth_vpu(
    lanes: u32,
    (depthwise, pooling, eltwise): (bool, bool, bool),
    root: &Path,
) -> Result<BlockStats, HdlError> {
    synth_block(
        crate::system::VPU_MODULE,
        crate::system::VPU_RTL,
        &[
            ("LANES", lanes as u64),
            ("DEPTHWISE", u64::from(depthwise)),
            ("POOLING", u64::from(pooling)),
            ("ELTWISE", u64::from(eltwise)),
        ],
        root,
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// `area = base + per_pe * rows*cols + per_col * cols`, at 45 nm, in um^2.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaFit {
    pub base_um2: f64,
    pub per_pe_um2: f64,
    pub per_col_um2: f64,
}

impl AreaFit {
    /// Solves the model exactly through three `(rows, cols, um2)` points whose
    /// `(1, rows*cols, cols)` rows are linearly independent.
    pub fn through(points: &[(u32, u32, f64); 3]) -> Result<Self, HdlError> {
        let m: Vec<[f64; 3]> = points
            .iter()
            .map(|&(r, c, _)| [1.0, (r * c) as f64, c as f64])
            .collect();
        let y: Vec<f64> = points.iter().map(|p| p.2).collect();
        let det3 = |a: &[[f64; 3]]| {
            a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
                - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
                + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
        };
        let d = det3(&m);
        if d.abs() < 1e-9 {
            return Err(HdlError::Config(format!(
                "area fit: the points {:?} do not determine base, per-PE and per-column area",
                points.iter().map(|p| (p.0, p.1)).collect::<Vec<_>>()
            )));
        }
        // Cramer's rule.
        let mut x = [0.0; 3];
        for (k, xk) in x.iter_mut().enumerate() {
            let mut mk = m.clone();
            for (row, yv) in mk.iter_mut().zip(&y) {
                row[k] = *yv;
            }
            *xk = det3(&mk) / d;
        }
        Ok(AreaFit {
            base_um2: x[0],
            per_pe_um2: x[1],
            per_col_um2: x[2],
        })
    }

    pub fn predict(&self, rows: u32, cols: u32) -> f64 {
        self.base_um2 + self.per_pe_um2 * (rows * cols) as f64 + self.per_col_um2 * cols as f64
    }
}

/// How the area of a config was obtained.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// The requested core itself was synthesized.
    Full(SynthStats),
    /// Extrapolated from [`FIT_POINTS`] (one synthesis per point).
    Fit {
        fit: AreaFit,
        points: Vec<SynthStats>,
    },
}

/// The area estimate of a config's compute core.
#[derive(Debug, Clone, PartialEq)]
pub struct AreaReport {
    pub config: String,
    pub rows: u32,
    pub cols: u32,
    pub dataflow: Dataflow,
    pub node_nm: u32,
    /// Cell area at 45 nm.
    pub um2_45nm: f64,
    /// Scaled to `node_nm` with [`arch::tables::area_factor`].
    pub um2_node: f64,
    /// Cells and flip-flops (extrapolated with the same model for [`Method::Fit`]).
    pub cells: f64,
    pub flip_flops: f64,
    /// Longest combinational path in gates (the largest of the synthesized designs; the
    /// PPU's multiplier sets it, so it does not grow with the array).
    pub logic_depth: u64,
    pub method: Method,
    /// The im2col address generator synthesized alone (`cfg.im2col`; not in the core's
    /// figures).
    pub agu: Option<BlockStats>,
    /// The DMA tracking FIFO with `cfg.dma_outstanding` slots, synthesized alone
    /// (`dma_outstanding > 1`; not in the core's figures).
    pub dma_track: Option<BlockStats>,
    /// The vector unit with `rows` lanes and the config's modes, synthesized alone (any
    /// of `depthwise`, `pooling`, `eltwise`; not in the core's figures).
    pub vpu: Option<BlockStats>,
}

impl AreaReport {
    pub fn mm2_node(&self) -> f64 {
        self.um2_node / 1e6
    }

    pub fn nand2_eq(&self) -> f64 {
        self.um2_45nm / NAND2_UM2
    }

    pub fn to_json(&self) -> serde_json::Value {
        let method = match &self.method {
            Method::Full(s) => serde_json::json!({"kind": "full", "synthesis": s.to_json()}),
            Method::Fit { fit, points } => serde_json::json!({
                "kind": "fit",
                "model": "um2_45nm = base + per_pe * rows*cols + per_col * cols",
                "base_um2_45nm": fit.base_um2,
                "per_pe_um2_45nm": fit.per_pe_um2,
                "per_col_um2_45nm": fit.per_col_um2,
                "points": points.iter().map(SynthStats::to_json).collect::<Vec<_>>(),
            }),
        };
        serde_json::json!({
            "config": self.config,
            "rows": self.rows,
            "cols": self.cols,
            "dataflow": self.dataflow.as_str(),
            "tech_node_nm": self.node_nm,
            "cells": self.cells,
            "flip_flops": self.flip_flops,
            "nand2_eq": self.nand2_eq(),
            "logic_depth": self.logic_depth,
            "fmax_mhz_45nm_estimate": fmax_mhz_45nm(self.logic_depth),
            "um2_45nm": self.um2_45nm,
            "um2_node": self.um2_node,
            "mm2_node": self.mm2_node(),
            "cell_library": "NanGate FreePDK45 Open Cell Library, X1 cells (hdl::area::CELL_AREAS_45NM)",
            "method": method,
            "agu": self.agu.as_ref().map(BlockStats::to_json),
            "dma_track": self.dma_track.as_ref().map(|b| {
                let mut j = b.to_json();
                let slots = b.params.iter().find(|(k, _)| k == "N").map(|p| p.1).unwrap_or(1);
                j["slots"] = serde_json::json!(slots);
                j["um2_45nm_per_slot"] = serde_json::json!(b.um2_45nm / slots.max(1) as f64);
                j
            }),
            "vpu": self.vpu.as_ref().map(|b| {
                let mut j = b.to_json();
                let lanes = b.params.iter().find(|(k, _)| k == "LANES").map(|p| p.1).unwrap_or(1);
                j["lanes"] = serde_json::json!(lanes);
                j["um2_45nm_per_lane"] = serde_json::json!(b.um2_45nm / lanes.max(1) as f64);
                j
            }),
        })
    }
}

/// The compute-core area of `cfg`: synthesized in full if `full`, if the core is one of
/// the [`FIT_POINTS`] or has at most [`DIRECT_MAX_PES`] PEs, else extrapolated from them. Results are cached under `root`
/// (see [`cache_root`]); `progress` is told before each synthesis.
pub fn estimate(
    cfg: &AccelConfig,
    full: bool,
    root: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<AreaReport, HdlError> {
    shape_of(cfg)?;
    let (r, c, df) = (cfg.rows, cfg.cols, cfg.dataflow);
    let direct = full || FIT_POINTS.contains(&(r, c)) || r * c <= DIRECT_MAX_PES;
    let mut run = |rr: u32, cc: u32| {
        progress(&format!(
            "{rr}x{cc} {df} core: yosys synthesis (or cached result)"
        ));
        synth_shape(rr, cc, df, root)
    };
    let (um2, cells, ffs, depth, method) = if direct {
        let s = run(r, c)?;
        (
            s.um2_45nm,
            s.cells as f64,
            s.flip_flops as f64,
            s.logic_depth,
            Method::Full(s),
        )
    } else {
        let mut points = Vec::new();
        for &(rr, cc) in &FIT_POINTS {
            points.push(run(rr, cc)?);
        }
        let pts = |f: &dyn Fn(&SynthStats) -> f64| -> [(u32, u32, f64); 3] {
            [0, 1, 2].map(|k| (points[k].rows, points[k].cols, f(&points[k])))
        };
        let fit = AreaFit::through(&pts(&|s| s.um2_45nm))?;
        let cells = AreaFit::through(&pts(&|s| s.cells as f64))?.predict(r, c);
        let ffs = AreaFit::through(&pts(&|s| s.flip_flops as f64))?.predict(r, c);
        let depth = points.iter().map(|p| p.logic_depth).max().unwrap_or(0);
        (
            fit.predict(r, c),
            cells,
            ffs,
            depth,
            Method::Fit { fit, points },
        )
    };
    let agu = if cfg.im2col {
        progress("im2col address generator: yosys synthesis (or cached result)");
        Some(synth_agu(root)?)
    } else {
        None
    };
    let dma_track = if cfg.dma_outstanding > 1 {
        progress(&format!(
            "DMA tracking FIFO ({} slots): yosys synthesis (or cached result)",
            cfg.dma_outstanding
        ));
        Some(synth_dma_track(cfg.dma_outstanding, root)?)
    } else {
        None
    };
    let vpu = if cfg.has_vpu() {
        progress(&format!(
            "vector unit ({} lanes): yosys synthesis (or cached result)",
            cfg.rows
        ));
        Some(synth_vpu(
            cfg.rows,
            (cfg.depthwise, cfg.pooling, cfg.eltwise),
            root,
        )?)
    } else {
        None
    };
    Ok(AreaReport {
        config: cfg.name.clone(),
        rows: r,
        cols: c,
        dataflow: df,
        node_nm: cfg.tech_node_nm,
        um2_45nm: um2,
        um2_node: um2 * arch::tables::area_factor(cfg.tech_node_nm),
        cells,
        flip_flops: ffs,
        logic_depth: depth,
        method,
        agu,
        dma_track,
        vpu,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_and_weights() {
        assert_eq!(cell_family("$_SDFFE_PP0P_"), "SDFFE");
        assert_eq!(cell_family("$_XOR_"), "XOR");
        assert!(is_flip_flop("$_SDFF_PP0_"));
        assert!(is_flip_flop("$_DFF_P_"));
        assert!(!is_flip_flop("$_MUX_"));
        assert_eq!(cell_area_45nm("$_NAND_"), Some(NAND2_UM2));
        assert_eq!(cell_area_45nm("$_FOO_"), None);
    }

    #[test]
    fn parses_stat_and_rejects_bad_text() {
        let t = "=== tinyaccel_core ===\n   Number of cells:  5\n     $_AND_   2\n     $_SDFF_PP0_  3\n";
        let c = "   Estimated number of transistors:     104424+\n";
        let (n, ty, tr) = parse_stat(t, Some(c), Path::new("s")).unwrap();
        assert_eq!(n, 5);
        assert_eq!(ty["$_SDFF_PP0_"], 3);
        assert_eq!(tr, Some(104424));
        let bad = "   Number of cells:  6\n     $_AND_   2\n";
        assert!(parse_stat(bad, None, Path::new("s")).is_err());
        assert!(parse_stat("nothing", None, Path::new("s")).is_err());
    }

    #[test]
    fn parses_ltp() {
        let t = "\n2. Executing LTP pass.\nLongest topological path in tinyaccel_core (length=83):\n  0: a\n";
        assert_eq!(parse_ltp(t, Path::new("l")).unwrap(), 83);
        assert!(parse_ltp("nothing", Path::new("l")).is_err());
        assert!(fmax_mhz_45nm(83) > 100.0 && fmax_mhz_45nm(83) < 1000.0);
    }

    #[test]
    fn fit_is_exact_on_its_points() {
        let f = |r: u32, c: u32| 100.0 + 7.0 * (r * c) as f64 + 3.0 * c as f64;
        let fit = AreaFit::through(&[(1, 1, f(1, 1)), (2, 2, f(2, 2)), (4, 2, f(4, 2))]).unwrap();
        assert!((fit.predict(8, 8) - f(8, 8)).abs() < 1e-6);
        assert!(AreaFit::through(&[(1, 1, 1.0), (1, 1, 1.0), (2, 2, 3.0)]).is_err());
    }
}
