//! The report writers: `report.md`, `report.csv`, `report.json`, plots and `index.html`,
//! written as one atomic set (see [`crate::fsutil::Staging`]); `report.json` is the marker
//! written last.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::ablation::Ablation;
use crate::error::ReportError;
use crate::fmt as f;
use crate::fsutil::Staging;
use crate::plot::{self, PlotFile};
use crate::progress::ProgressSink;
use crate::record::{
    BudgetJson, ConfigSummary, CpuProfileSummary, LayerRow, ModelReport, ModelTotals, Provenance,
    Report,
};
use crate::schema::SCHEMA;

/// Default output directory of `tinyaccel report`.
pub const DEFAULT_REPORT_DIR: &str = "tinyaccel-report";

/// What to write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// Draw the plots (`plots/*.svg`, and `plots/*.png` when `png`). Default true.
    pub plots: bool,
    /// Also write PNG versions of the plots. Default true.
    pub png: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            plots: true,
            png: true,
        }
    }
}

/// What [`write_report`] wrote.
#[derive(Debug, Clone)]
pub struct WrittenReport {
    /// The output directory.
    pub dir: PathBuf,
    /// Every file written, final paths, `report.json` last.
    pub files: Vec<PathBuf>,
}

/// One layer as written in `report.json` (and in `run --accel --json`): the stored fields
/// plus the derived ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerJson {
    #[serde(flatten)]
    pub row: LayerRow,
    /// [`ModelReport::array_utilization`].
    pub array_utilization: f64,
    /// [`ModelReport::mac_utilization`].
    pub mac_utilization: f64,
    /// `cpu_us / offload_us`.
    pub speedup: Option<f64>,
    /// `cpu_uj / offload_uj`.
    pub energy_ratio: Option<f64>,
}

impl LayerJson {
    /// The JSON view of layer `l` of model `m`.
    pub fn new(m: &ModelReport, l: &LayerRow) -> Self {
        LayerJson {
            row: l.clone(),
            array_utilization: m.array_utilization(l),
            mac_utilization: m.mac_utilization(l),
            speedup: l.speedup(),
            energy_ratio: l.energy_ratio(),
        }
    }
}

/// One model as written in `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelJson {
    pub model: String,
    pub source: String,
    pub config: ConfigSummary,
    pub cpu_profile: CpuProfileSummary,
    pub layers: Vec<LayerJson>,
    /// [`ModelReport::totals`], written for readers; checked on reading back.
    pub totals: ModelTotals,
    /// [`ModelReport::budget_view`]: memory fit, deadline, power and battery life per
    /// target (absent without a budget); its derived figures are checked on reading back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget: Option<BudgetJson>,
}

/// The whole `report.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportJson {
    /// [`SCHEMA`].
    pub schema: String,
    pub provenance: Provenance,
    pub models: Vec<ModelJson>,
}

impl ReportJson {
    /// The JSON view of a report.
    pub fn from_report(r: &Report) -> Self {
        ReportJson {
            schema: SCHEMA.into(),
            provenance: r.provenance.clone(),
            models: r
                .models
                .iter()
                .map(|m| ModelJson {
                    model: m.model.clone(),
                    source: m.source.clone(),
                    config: m.config.clone(),
                    cpu_profile: m.cpu_profile.clone(),
                    layers: m.layers.iter().map(|l| LayerJson::new(m, l)).collect(),
                    totals: m.totals(),
                    budget: m.budget_view(),
                })
                .collect(),
        }
    }

    /// Back to the records, checking that every derived number written equals the one
    /// recomputed from the records.
    pub fn into_report(self, origin: &Path) -> Result<Report, ReportError> {
        let bad = |model: &str, location: String, field: &str, reason: String| {
            ReportError::Inconsistent {
                model: model.to_string(),
                location: format!("{} {location}", origin.display()),
                field: field.to_string(),
                reason,
            }
        };
        if self.schema != SCHEMA {
            return Err(ReportError::Format {
                path: origin.to_path_buf(),
                message: format!("schema `{}` is not `{SCHEMA}`", self.schema),
            });
        }
        let mut models = Vec::new();
        for m in self.models {
            let written = m.layers;
            let mr = ModelReport {
                model: m.model,
                source: m.source,
                config: m.config,
                cpu_profile: m.cpu_profile,
                layers: written.iter().map(|l| l.row.clone()).collect(),
                budget: m.budget.as_ref().map(BudgetJson::stored),
            };
            for l in &written {
                if *l != LayerJson::new(&mr, &l.row) {
                    return Err(bad(
                        &mr.model,
                        format!("layer {}", l.row.index),
                        "array_utilization/mac_utilization/speedup/energy_ratio",
                        "differs from the value recomputed from the layer".into(),
                    ));
                }
            }
            if mr.totals() != m.totals {
                return Err(bad(
                    &mr.model,
                    "totals".into(),
                    "totals",
                    "differ from the sums over the layers".into(),
                ));
            }
            if mr.budget_view() != m.budget {
                return Err(bad(
                    &mr.model,
                    "budget".into(),
                    "budget",
                    "differs from the figures recomputed from its parts, capacities and settings"
                        .into(),
                ));
            }
            models.push(mr);
        }
        Ok(Report {
            models,
            provenance: self.provenance,
        })
    }
}

/// Reads a `report.json` back into records (checking its derived numbers).
pub fn read_report_json(path: &Path) -> Result<Report, ReportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ReportError::io(path, "read", e))?;
    let j: ReportJson = serde_json::from_str(&text).map_err(|e| ReportError::Format {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    j.into_report(path)
}

/// `report.json` text.
pub fn render_json(r: &Report) -> String {
    let mut s = serde_json::to_string_pretty(&ReportJson::from_report(r))
        .expect("report records always serialize");
    s.push('\n');
    s
}

/// The columns of `report.csv`.
pub const CSV_COLUMNS: &[&str] = &[
    "model",
    "config",
    "config_hash",
    "cpu_profile",
    "cpu_profile_hash",
    "row",
    "index",
    "op",
    "input_shape",
    "output_shape",
    "macs",
    "target",
    "reason",
    "cpu_cycles",
    "cpu_us",
    "cpu_uj",
    "accel_cycles",
    "offload_us",
    "offload_uj",
    "compute_us",
    "dma_stall_us",
    "driver_us",
    "cpu_side_us",
    "mac_uj",
    "sram_uj",
    "bus_uj",
    "leakage_uj",
    "offload_cpu_uj",
    "array_utilization",
    "mac_utilization",
    "bus_bytes",
    "speedup",
    "energy_ratio",
    "array_busy_us",
    "dma_busy_us",
    "cpu_kernel_us",
    "cpu_im2col_us",
    "agu_uj",
    "dma_track_uj",
    "dma_bursts",
    "im2col_pieces",
    "vpu_uj",
    "vpu_busy_us",
];

/// `report.csv` text: one row per model and layer (`row` = `layer`) and one total row per
/// model (`row` = `total`, empty index/shapes/target/reason). Floats use the shortest
/// round-trip form, so the CSV and the JSON hold bit-identical numbers.
pub fn render_csv(r: &Report) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(CSV_COLUMNS).expect("in-memory CSV");
    for m in &r.models {
        let head = [
            m.model.clone(),
            m.config.name.clone(),
            m.config.hash.clone(),
            m.cpu_profile.name.clone(),
            m.cpu_profile.hash.clone(),
        ];
        for l in &m.layers {
            let mut rec: Vec<String> = head.to_vec();
            rec.extend([
                "layer".to_string(),
                l.index.to_string(),
                l.op.clone(),
                f::shape(&l.input_shape),
                f::shape(&l.output_shape),
                l.macs.to_string(),
                l.target.to_string(),
                l.reason.clone(),
                l.cpu_cycles.to_string(),
                l.cpu_us.to_string(),
                l.cpu_uj.to_string(),
                l.accel_cycles.to_string(),
                l.offload_us.to_string(),
                l.offload_uj.to_string(),
                l.compute_us.to_string(),
                l.dma_stall_us.to_string(),
                l.driver_us.to_string(),
                l.cpu_side_us.to_string(),
                l.mac_uj.to_string(),
                l.sram_uj.to_string(),
                l.bus_uj.to_string(),
                l.leakage_uj.to_string(),
                l.offload_cpu_uj.to_string(),
                m.array_utilization(l).to_string(),
                m.mac_utilization(l).to_string(),
                l.bus_bytes.to_string(),
                f::csv_opt(l.speedup()),
                f::csv_opt(l.energy_ratio()),
                l.array_busy_us.to_string(),
                l.dma_busy_us.to_string(),
                l.cpu_kernel_us.to_string(),
                l.cpu_im2col_us.to_string(),
                l.agu_uj.to_string(),
                l.dma_track_uj.to_string(),
                l.dma_bursts.to_string(),
                l.im2col_pieces.to_string(),
                l.vpu_uj.to_string(),
                l.vpu_busy_us.to_string(),
            ]);
            w.write_record(&rec).expect("in-memory CSV");
        }
        let t = m.totals();
        let mut rec: Vec<String> = head.to_vec();
        rec.extend([
            "total".to_string(),
            String::new(),
            "TOTAL".to_string(),
            String::new(),
            String::new(),
            t.macs.to_string(),
            String::new(),
            String::new(),
            t.cpu_cycles.to_string(),
            t.cpu_us.to_string(),
            t.cpu_uj.to_string(),
            t.accel_cycles.to_string(),
            t.offload_us.to_string(),
            t.offload_uj.to_string(),
            t.compute_us.to_string(),
            t.dma_stall_us.to_string(),
            t.driver_us.to_string(),
            t.cpu_side_us.to_string(),
            t.mac_uj.to_string(),
            t.sram_uj.to_string(),
            t.bus_uj.to_string(),
            t.leakage_uj.to_string(),
            t.offload_cpu_uj.to_string(),
            t.array_utilization.to_string(),
            t.mac_utilization.to_string(),
            t.bus_bytes.to_string(),
            f::csv_opt(t.speedup),
            f::csv_opt(t.energy_ratio),
            t.array_busy_us.to_string(),
            t.dma_busy_us.to_string(),
            t.cpu_kernel_us.to_string(),
            t.cpu_im2col_us.to_string(),
            t.agu_uj.to_string(),
            t.dma_track_uj.to_string(),
            t.dma_bursts.to_string(),
            t.im2col_pieces.to_string(),
            t.vpu_uj.to_string(),
            t.vpu_busy_us.to_string(),
        ]);
        w.write_record(&rec).expect("in-memory CSV");
    }
    String::from_utf8(w.into_inner().expect("in-memory CSV")).expect("CSV of UTF-8 strings")
}

/// The whole-run summary table (one row per model), shared by Markdown and HTML.
/// `name` escapes the model and configuration names for the output format (Markdown: [`f::md_text`];
/// HTML escapes every cell later).
pub(crate) fn summary_rows(r: &Report, name: fn(&str) -> String) -> Vec<[String; 12]> {
    r.models
        .iter()
        .map(|m| {
            let t = m.totals();
            [
                name(&m.model),
                format!("{} (`{}`)", name(&m.config.name), m.config.hash),
                f::int(t.macs),
                format!("{}/{}", t.accel_layers, t.layers),
                f::num(t.cpu_us / 1000.0),
                f::num(t.offload_us / 1000.0),
                f::num(t.cpu_uj),
                f::num(t.offload_uj),
                f::num(t.accel_uj()),
                f::pct(t.cpu_share().unwrap_or(0.0)),
                f::times(t.speedup),
                f::times(t.energy_ratio),
            ]
        })
        .collect()
}

pub(crate) const SUMMARY_HEAD: [&str; 12] = [
    "model",
    "config",
    "MACs",
    "offloaded layers",
    "CPU ms",
    "offloaded ms",
    "CPU uJ",
    "offloaded uJ (system)",
    "accelerator only uJ",
    "CPU share of the system energy",
    "speedup",
    "energy ratio",
];

pub(crate) const LAYER_HEAD: [&str; 19] = [
    "#",
    "op",
    "input -> output",
    "MACs",
    "target",
    "CPU cycles",
    "CPU us",
    "CPU uJ",
    "accel cycles",
    "offload us",
    "compute us",
    "DMA stall us",
    "driver us",
    "CPU-side us",
    "offload uJ",
    "array util",
    "speedup",
    "energy ratio",
    "why",
];

pub(crate) fn layer_cells(m: &ModelReport, l: &LayerRow) -> [String; 19] {
    [
        l.index.to_string(),
        l.op.clone(),
        format!(
            "{} -> {}",
            f::shape(&l.input_shape),
            f::shape(&l.output_shape)
        ),
        f::int(l.macs),
        l.target.to_string(),
        f::int(l.cpu_cycles),
        f::num(l.cpu_us),
        f::num(l.cpu_uj),
        f::int(l.accel_cycles),
        f::num(l.offload_us),
        f::num(l.compute_us),
        f::num(l.dma_stall_us),
        f::num(l.driver_us),
        f::num(l.cpu_side_us),
        f::num(l.offload_uj),
        if l.target == crate::record::Target::Accel {
            f::pct(m.array_utilization(l))
        } else {
            "-".into()
        },
        f::times(l.speedup()),
        f::times(l.energy_ratio()),
        l.reason.clone(),
    ]
}

pub(crate) fn total_cells(t: &ModelTotals) -> [String; 19] {
    [
        String::new(),
        "**total**".into(),
        String::new(),
        f::int(t.macs),
        format!("{}/{} accel", t.accel_layers, t.layers),
        f::int(t.cpu_cycles),
        f::num(t.cpu_us),
        f::num(t.cpu_uj),
        f::int(t.accel_cycles),
        f::num(t.offload_us),
        f::num(t.compute_us),
        f::num(t.dma_stall_us),
        f::num(t.driver_us),
        f::num(t.cpu_side_us),
        f::num(t.offload_uj),
        if t.accel_layers > 0 {
            f::pct(t.array_utilization)
        } else {
            "-".into()
        },
        f::times(t.speedup),
        f::times(t.energy_ratio),
        String::new(),
    ]
}

/// Accelerator-only energy and system energy side by side, with the CPU's share.
pub(crate) fn energy_sentence(t: &ModelTotals) -> String {
    format!(
        "Energy of one inference with offload: accelerator only {} uJ; system {} uJ = accelerator + CPU {} uJ (the CPU is {} of the system energy; pure-CPU baseline {} uJ).",
        f::num(t.accel_uj()),
        f::num(t.offload_uj),
        f::num(t.offload_cpu_uj),
        f::pct(t.cpu_share().unwrap_or(0.0)),
        f::num(t.cpu_uj)
    )
}

/// The energy breakdown of the offloaded run (MAC, SRAM, bus, address generator, DMA
/// tracking, vector unit, leakage, CPU) of a model.
pub(crate) fn energy_rows(t: &ModelTotals) -> [(&'static str, f64); 13] {
    [
        ("MACs (array and depthwise lanes)", t.mac_uj),
        ("scratchpads (SRAM)", t.sram_uj),
        ("system bus (interconnect)", t.bus_uj),
        ("main memory (behind the bus)", t.main_memory_uj),
        ("clock tree and registers", t.clock_uj),
        ("PPU (requantization)", t.ppu_uj),
        ("controller (command fetch, decode)", t.control_uj),
        ("DMA engine (per burst)", t.dma_uj),
        ("im2col address generator (AGU)", t.agu_uj),
        ("DMA burst tracking FIFO", t.dma_track_uj),
        ("vector unit (pooling, ADD lanes)", t.vpu_uj),
        ("leakage", t.leakage_uj),
        ("CPU (CPU-side layers + driver)", t.offload_cpu_uj),
    ]
}

/// The per-layer "where time and energy go" table: the accelerator's array and DMA, the
/// CPU (kernel, im2col), the driver, the DMA's bursts and im2col pieces, and every energy
/// part.
pub(crate) const BREAKDOWN_HEAD: [&str; 21] = [
    "#",
    "op",
    "target",
    "array busy us",
    "VPU busy us",
    "DMA busy us",
    "DMA stall us",
    "CPU kernel us",
    "CPU im2col us",
    "driver us",
    "DMA bursts",
    "im2col pieces",
    "MAC uJ",
    "SRAM uJ",
    "bus uJ",
    "AGU uJ",
    "DMA track uJ",
    "VPU uJ",
    "leakage uJ",
    "CPU uJ",
    "offload uJ",
];

pub(crate) fn breakdown_cells(l: &LayerRow) -> [String; 21] {
    [
        l.index.to_string(),
        l.op.clone(),
        l.target.to_string(),
        f::num(l.array_busy_us),
        f::num(l.vpu_busy_us),
        f::num(l.dma_busy_us),
        f::num(l.dma_stall_us),
        f::num(l.cpu_kernel_us),
        f::num(l.cpu_im2col_us),
        f::num(l.driver_us),
        f::int(l.dma_bursts),
        f::int(l.im2col_pieces),
        f::num(l.mac_uj),
        f::num(l.sram_uj),
        f::num(l.bus_uj),
        f::num(l.agu_uj),
        f::num(l.dma_track_uj),
        f::num(l.vpu_uj),
        f::num(l.leakage_uj),
        f::num(l.offload_cpu_uj),
        f::num(l.offload_uj),
    ]
}

pub(crate) fn breakdown_total_cells(t: &ModelTotals) -> [String; 21] {
    [
        String::new(),
        "**total**".into(),
        format!("{}/{} accel", t.accel_layers, t.layers),
        f::num(t.array_busy_us),
        f::num(t.vpu_busy_us),
        f::num(t.dma_busy_us),
        f::num(t.dma_stall_us),
        f::num(t.cpu_kernel_us),
        f::num(t.cpu_im2col_us),
        f::num(t.driver_us),
        f::int(t.dma_bursts),
        f::int(t.im2col_pieces),
        f::num(t.mac_uj),
        f::num(t.sram_uj),
        f::num(t.bus_uj),
        f::num(t.agu_uj),
        f::num(t.dma_track_uj),
        f::num(t.vpu_uj),
        f::num(t.leakage_uj),
        f::num(t.offload_cpu_uj),
        f::num(t.offload_uj),
    ]
}

/// One sentence on the accelerator's hardware im2col unit and DMA tracking FIFO: their
/// settings and areas (both absent with the features off).
pub(crate) fn feature_sentence(c: &ConfigSummary) -> String {
    let agu = if c.im2col {
        format!(
            "hardware im2col on (address generator {} um^2)",
            f::num(c.agu_area_mm2 * 1e6)
        )
    } else {
        "hardware im2col off (no address generator)".to_string()
    };
    let dma = if c.dma_outstanding > 1 {
        format!(
            "pipelined DMA with {} outstanding bursts (tracking FIFO {} um^2)",
            c.dma_outstanding,
            f::num(c.dma_track_area_mm2 * 1e6)
        )
    } else {
        "one DMA burst at a time (no tracking FIFO)".to_string()
    };
    let modes: Vec<&str> = [
        (c.depthwise, "depthwise"),
        (c.pooling, "pooling"),
        (c.eltwise, "eltwise ADD"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, n)| *n)
    .collect();
    let vpu = if modes.is_empty() {
        "no vector unit".to_string()
    } else {
        format!(
            "vector unit with {} ({} lanes, {} um^2)",
            modes.join(", "),
            c.rows,
            f::num(c.vpu_area_mm2 * 1e6)
        )
    };
    let queues = if c.cmd_queue_depth > 0 {
        format!(
            "command queues of {} entries ({} um^2)",
            c.cmd_queue_depth,
            f::num(c.cmd_queue_area_mm2 * 1e6)
        )
    } else {
        "ideal command queues (depth 0)".to_string()
    };
    format!("{agu}; {dma}; {vpu}; {queues}; all included in the area above")
}

fn md_table<const N: usize>(out: &mut String, head: [&str; N], rows: &[[String; N]]) {
    let _ = writeln!(out, "| {} |", head.join(" | "));
    let _ = writeln!(out, "|{}", "---|".repeat(N));
    for r in rows {
        let cells: Vec<String> = r.iter().map(|c| f::md_cell(c)).collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
}

/// `report.md` text. `plots` lists the plot files (relative paths) to link.
pub fn render_markdown(r: &Report, plots: &[PlotFile]) -> String {
    render_markdown_with(r, None, plots)
}

/// `report.md` text with the feature ablation's table (written next to it as
/// `ablation.md/.csv/.json`) after the summary.
pub fn render_markdown_with(r: &Report, ablation: Option<&Ablation>, plots: &[PlotFile]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# tinyaccel report\n");
    let _ = writeln!(
        o,
        "Latency and energy of each model on the accelerator (offloaded run) against the \
         pure-CPU baseline. Times in microseconds (us) unless marked ms, energy in \
         microjoules (uJ); speedup = CPU latency / accelerator-run latency, energy ratio = \
         CPU energy / accelerator-run energy.\n"
    );
    let _ = writeln!(
        o,
        "Contents: [Summary](#summary), [Plots](#plots), per-model tables, \
         [How the numbers were made](#how-the-numbers-were-made), \
         [Configurations and CPU profiles](#configurations-and-cpu-profiles).\n"
    );
    let _ = writeln!(o, "## Summary\n");
    let (labels, rows) = answer_rows(r);
    let mut head = vec!["model".to_string(), "accelerator".to_string()];
    for l in &labels {
        head.extend(
            ANSWER_COLS
                .iter()
                .map(|c| f::md_cell(&f::md_text(&format!("{c} (vs {l})")))),
        );
    }
    let _ = writeln!(o, "| {} |", head.join(" | "));
    let _ = writeln!(o, "|{}", "---|".repeat(head.len()));
    for row in &rows {
        let cells: Vec<String> = row.iter().map(|c| f::md_cell(&f::md_text(c))).collect();
        let _ = writeln!(o, "| {} |", cells.join(" | "));
    }
    let _ = writeln!(o, "\n{}.\n", f::md_text(&answer_sentence(r)));
    let _ = writeln!(o, "Every run:\n");
    md_table(&mut o, SUMMARY_HEAD, &summary_rows(r, f::md_text));
    o.push('\n');
    if !plots.is_empty() {
        let _ = writeln!(o, "## Plots\n");
        for p in plots {
            let _ = writeln!(o, "- {}: [{}]({})", f::md_text(&p.title), p.svg, p.svg);
        }
        o.push('\n');
    }
    if let Some(sentence) = budget_sentence(r) {
        let _ = writeln!(
            o,
            "## Budgets: memory fit, deadline, battery life\n\n{sentence}. Capacities are the \
             CPU part's on-chip flash and SRAM (docs/cpu-model.md); average power = energy x \
             rate + sleep power x (1 - rate x latency).\n"
        );
        let mut rows = budget_rows(r);
        for row in &mut rows {
            row[0] = f::md_text(&row[0]);
        }
        md_table(&mut o, BUDGET_HEAD, &rows);
        o.push('\n');
    }
    if let Some(a) = ablation {
        let _ = writeln!(
            o,
            "## Feature ablation\n\nThe models on {} with {} off, each on alone{} \
             ([ablation.md](ablation.md), [ablation.csv](ablation.csv), \
             [ablation.json](ablation.json)):\n",
            f::md_code(&a.base_config),
            a.features
                .iter()
                .map(|ft| {
                    format!(
                        "{} (off {}, on {})",
                        f::md_code(&ft.name),
                        f::md_code(&ft.off),
                        f::md_code(&ft.on)
                    )
                })
                .collect::<Vec<_>>()
                .join(", "),
            if a.features.len() > 1 { ", all on" } else { "" }
        );
        o.push_str(&a.table_markdown());
        let _ = writeln!(
            o,
            "\nWhat each feature costs in area and buys in latency and energy (alone, against \
             every feature off):\n"
        );
        o.push_str(&a.cost_benefit_markdown());
        o.push('\n');
    }
    write_provenance_md(&mut o, &r.provenance);

    for m in &r.models {
        let t = m.totals();
        let _ = writeln!(o, "## Model {}\n", f::md_code(&m.model));
        let _ = writeln!(o, "- source: {}", f::md_code(&m.source));
        let _ = writeln!(
            o,
            "- accelerator: {} (hash `{}`), {}x{} {}, {} MHz, bus {} B/cycle, area {:.3} mm^2 at {} nm (arch::tables, PE and PPU calibrated from yosys: docs/area.md)",
            f::md_code(&m.config.name),
            m.config.hash,
            m.config.rows,
            m.config.cols,
            m.config.dataflow,
            f::num(m.config.clock_mhz),
            m.config.bus_bytes_per_cycle,
            m.config.area_mm2,
            m.config.tech_node_nm
        );
        let _ = writeln!(o, "- {}", feature_sentence(&m.config));
        let _ = writeln!(
            o,
            "- CPU profile: {} (hash `{}`)\n",
            f::md_code(&m.cpu_profile.name),
            m.cpu_profile.hash
        );
        let mut rows: Vec<[String; 19]> = m.layers.iter().map(|l| layer_cells(m, l)).collect();
        rows.push(total_cells(&t));
        md_table(&mut o, LAYER_HEAD, &rows);
        let _ = writeln!(
            o,
            "\nWhole model: CPU {} ms / {} uJ, accelerator run {} ms / {} uJ \
             (compute {} us, DMA stall {} us, driver overhead {} us, CPU-side layers {} us); \
             speedup {}, energy ratio {}, {} bytes on the bus; array utilization {} \
             (MACs over the peak while the accelerator runs), MAC utilization {} (over the \
             whole offloaded run).\n",
            f::num(t.cpu_us / 1000.0),
            f::num(t.cpu_uj),
            f::num(t.offload_us / 1000.0),
            f::num(t.offload_uj),
            f::num(t.compute_us),
            f::num(t.dma_stall_us),
            f::num(t.driver_us),
            f::num(t.cpu_side_us),
            f::times(t.speedup),
            f::times(t.energy_ratio),
            f::int(t.bus_bytes),
            f::pct(t.array_utilization),
            f::pct(t.mac_utilization)
        );
        let _ = writeln!(
            o,
            "Where the time and energy of the accelerator run go, per layer (array busy and \
             DMA busy overlap each other and the compute time; DMA stall, CPU kernel, CPU \
             im2col and driver time add up with compute to the latency; the energy parts add \
             up to offload uJ):\n"
        );
        let mut rows: Vec<[String; 21]> = m.layers.iter().map(breakdown_cells).collect();
        rows.push(breakdown_total_cells(&t));
        md_table(&mut o, BREAKDOWN_HEAD, &rows);
        o.push('\n');
        let parts = memory_part_rows(m);
        if !parts.is_empty() {
            let _ = writeln!(o, "Memory footprint (bytes):\n");
            md_table(&mut o, MEMORY_PART_HEAD, &parts);
            o.push('\n');
        }
        let _ = writeln!(o, "{}\n", energy_sentence(&t));
        let _ = writeln!(o, "Energy of the accelerator run:\n");
        let _ = writeln!(o, "| part | uJ | share |\n|---|---|---|");
        for (name, v) in energy_rows(&t) {
            let share = crate::record::ratio(v, t.offload_uj).unwrap_or(0.0);
            let _ = writeln!(o, "| {name} | {} | {} |", f::num(v), f::pct(share));
        }
        o.push('\n');
    }

    let _ = writeln!(o, "## Configurations and CPU profiles\n");
    let mut seen = std::collections::BTreeSet::new();
    for m in &r.models {
        if seen.insert(("cfg", m.config.hash.clone())) {
            let _ = writeln!(
                o,
                "### Accelerator {} (hash `{}`)\n\n{}\n",
                f::md_code(&m.config.name),
                m.config.hash,
                md_fenced("toml", &m.config.toml)
            );
        }
        if seen.insert(("cpu", m.cpu_profile.hash.clone())) {
            let _ = writeln!(
                o,
                "### CPU profile {} (hash `{}`)\n\n| parameter | value |\n|---|---|",
                f::md_code(&m.cpu_profile.name),
                m.cpu_profile.hash
            );
            for (k, v) in used_cpu_spec(&m.cpu_profile) {
                let _ = writeln!(
                    o,
                    "| {} | {} |",
                    f::md_cell(&f::md_text(k)),
                    f::md_cell(&f::md_text(v))
                );
            }
            o.push('\n');
        }
    }
    o
}

/// A fenced code block around `text` (which ends with a newline, as TOML from the
/// serializer does): the fence is longer than any backtick run in the text, so a string
/// value holding "```" cannot close it early.
fn md_fenced(lang: &str, text: &str) -> String {
    let longest = f::longest_backtick_run(text);
    let fence = "`".repeat((longest + 1).max(3));
    let nl = if text.ends_with('\n') { "" } else { "\n" };
    format!("{fence}{lang}\n{text}{nl}{fence}")
}

fn write_provenance_md(o: &mut String, p: &Provenance) {
    let _ = writeln!(o, "## How the numbers were made\n");
    let _ = writeln!(o, "- accelerator simulator level: {}", p.simulator_level);
    let _ = writeln!(o, "- energy tables: {}", p.energy_table_source);
    let _ = writeln!(o, "- CPU baseline cost model: {}", p.cpu_cost_model);
    let _ = writeln!(o, "- tool version: {}", p.tool_version);
    if !p.command.is_empty() {
        let _ = writeln!(o, "- command: {}", f::md_code(&p.command));
    }
    for n in &p.notes {
        let _ = writeln!(o, "- note: {n}");
    }
    o.push('\n');
}

/// Writes the whole report into `dir` (created if needed) as one atomic set: `report.md`,
/// `report.csv`, the plots (`plots/*.svg`, `plots/*.png`), `index.html`, then
/// `report.json` last. Checks the records first ([`Report::check`]); `progress` is
/// advanced once per file.
pub fn write_report(
    report: &Report,
    dir: &Path,
    opts: &WriteOptions,
    progress: &dyn ProgressSink,
) -> Result<WrittenReport, ReportError> {
    write_report_with_ablation(report, None, dir, opts, progress)
}

/// [`write_report`], plus, with `ablation`, `ablation.md`, `ablation.csv` and
/// `ablation.json` in the same atomic set (and the ablation table in `report.md`).
/// Without one, ablation files a previous run left in `dir` are removed (they would not
/// belong to this report).
pub fn write_report_with_ablation(
    report: &Report,
    ablation: Option<&Ablation>,
    dir: &Path,
    opts: &WriteOptions,
    progress: &dyn ProgressSink,
) -> Result<WrittenReport, ReportError> {
    report.check()?;
    let plot_specs = if opts.plots {
        plot::report_plots(report)?
    } else {
        Vec::new()
    };
    let per_plot = if opts.png { 2 } else { 1 };
    progress.add_length(4 + (plot_specs.len() * per_plot) as u64);
    let mut st = Staging::new(dir)?;

    progress.message("report.csv");
    st.write("report.csv", render_csv(report).as_bytes())?;
    progress.inc(1);

    let mut svgs = Vec::new();
    for spec in &plot_specs {
        progress.message(&spec.file.svg);
        let svg = spec.render_svg()?;
        st.write(&spec.file.svg, svg.as_bytes())?;
        progress.inc(1);
        if opts.png {
            progress.message(&spec.file.png);
            let p = st.path(&spec.file.png)?;
            spec.render_png(&p)?;
            progress.inc(1);
        }
        svgs.push((spec.file.clone(), svg));
    }
    let files: Vec<PlotFile> = svgs.iter().map(|(f, _)| f.clone()).collect();

    if let Some(a) = ablation {
        progress.add_length(3);
        for (name, text) in [
            ("ablation.md", a.render_markdown()),
            ("ablation.csv", a.render_csv()),
            ("ablation.json", a.render_json()),
        ] {
            progress.message(name);
            st.write(name, text.as_bytes())?;
            progress.inc(1);
        }
    }

    progress.message("report.md");
    st.write(
        "report.md",
        render_markdown_with(report, ablation, &files).as_bytes(),
    )?;
    progress.inc(1);

    progress.message("index.html");
    st.write(
        "index.html",
        crate::html::render_html_with(report, ablation, &svgs).as_bytes(),
    )?;
    progress.inc(1);

    progress.message("report.json");
    st.write("report.json", render_json(report).as_bytes())?;
    progress.inc(1);
    let files = st.commit("report.json")?;
    crate::fsutil::remove_stale(
        dir,
        "plots",
        &[
            "latency-",
            "utilization-",
            "area-",
            "energy-breakdown",
            "energy-accelerator",
            "roofline-",
            "speedup-energy",
            "memory-footprint",
            "power-vs-rate",
        ],
        &files,
    );
    if ablation.is_none() {
        let rels: Vec<std::path::PathBuf> = crate::ablation::FILES
            .iter()
            .map(std::path::PathBuf::from)
            .collect();
        crate::fsutil::remove_own(dir, &rels);
    }
    Ok(WrittenReport {
        dir: dir.to_path_buf(),
        files,
    })
}

/// Bytes as KiB with 1 decimal (`12.3 KiB`).
pub fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// A battery life in hours as text: hours below two days, days below a year, then years
/// (with the days).
pub fn life(hours: f64) -> String {
    if !hours.is_finite() {
        return "n/a".into();
    }
    let days = hours / 24.0;
    if hours < 48.0 {
        format!("{} h", f::num(hours))
    } else if days < 365.25 {
        format!("{} days", f::num(days))
    } else {
        format!("{} years ({} days)", f::num(days / 365.25), f::num(days))
    }
}

/// The fit of one target: `fits` or `does not fit: SRAM over by N KiB, ...`.
pub fn fit_text(t: &crate::record::TargetBudgetJson) -> String {
    if t.fits {
        return "fits".into();
    }
    let mut over = Vec::new();
    for (name, m) in [("flash", &t.flash), ("SRAM", &t.sram)] {
        if !m.fits {
            over.push(format!("{name} by {}", kib(m.shortfall_bytes)));
        }
    }
    format!("does not fit: {}", over.join(", "))
}

/// The deadline of one target: `met, margin N ms` / `missed by N ms` / `-`.
pub fn deadline_text(t: &crate::record::TargetBudgetJson) -> String {
    match &t.deadline {
        None => "-".into(),
        Some(d) if d.met => format!(
            "met ({} ms, margin {} ms)",
            f::num(d.deadline_us / 1000.0),
            f::num(d.margin_us / 1000.0)
        ),
        Some(d) => format!(
            "missed ({} ms, by {} ms)",
            f::num(d.deadline_us / 1000.0),
            f::num(-d.margin_us / 1000.0)
        ),
    }
}

/// Average power and battery life of one target at the rate.
pub fn power_texts(t: &crate::record::TargetBudgetJson) -> [String; 2] {
    match &t.power {
        None => ["-".into(), "-".into()],
        Some(p) => match (p.avg_power_uw, p.battery_hours) {
            (Some(uw), h) => [
                format!("{} uW", f::num(uw)),
                h.map(life).unwrap_or_else(|| "-".into()),
            ],
            (None, _) => [
                format!(
                    "infeasible: {} Hz x {} ms > 1",
                    f::num(p.rate_hz),
                    f::num(t.inference_us / 1000.0)
                ),
                "-".into(),
            ],
        },
    }
}

/// The budgets table (two rows per model: CPU only and offloaded), shared by Markdown,
/// HTML and the terminal.
pub const BUDGET_HEAD: [&str; 9] = [
    "model",
    "target",
    "flash used / capacity",
    "SRAM used / capacity",
    "memory fit",
    "latency ms",
    "deadline",
    "avg power",
    "battery life",
];

/// The rows of [`BUDGET_HEAD`] (models without a budget are skipped).
pub fn budget_rows(r: &Report) -> Vec<[String; 9]> {
    let mut rows = Vec::new();
    for m in &r.models {
        let Some(b) = m.budget_view() else { continue };
        for (name, t) in [("CPU only", &b.cpu_only), ("offloaded", &b.offloaded)] {
            let [power, life] = power_texts(t);
            rows.push([
                m.model.clone(),
                name.to_string(),
                format!(
                    "{} / {}",
                    kib(t.flash.used_bytes),
                    kib(t.flash.memory.capacity_bytes)
                ),
                format!(
                    "{} / {}",
                    kib(t.sram.used_bytes),
                    kib(t.sram.memory.capacity_bytes)
                ),
                fit_text(t),
                f::num(t.inference_us / 1000.0),
                deadline_text(t),
                power,
                life,
            ]);
        }
    }
    rows
}

/// One sentence on the budget settings of a report (the first model's; every model of a
/// report shares them).
pub fn budget_sentence(r: &Report) -> Option<String> {
    let s = &r.models.iter().find_map(|m| m.budget.as_ref())?.settings;
    let mut parts = Vec::new();
    match (s.rate_hz, s.deadline_us) {
        (Some(hz), Some(d)) => parts.push(format!(
            "{} inferences per second, deadline {} ms",
            f::num(hz),
            f::num(d / 1000.0)
        )),
        (Some(hz), None) => parts.push(format!(
            "{} inferences per second (deadline = period, {} ms)",
            f::num(hz),
            f::num(1000.0 / hz)
        )),
        (None, Some(d)) => parts.push(format!("deadline {} ms", f::num(d / 1000.0))),
        (None, None) => parts.push("no rate or deadline given (memory fit only)".into()),
    }
    if let Some(b) = &s.battery {
        parts.push(format!(
            "battery {} ({} mAh at {} V; no self-discharge or regulator loss)",
            b.name,
            f::num(b.mah),
            f::num(b.volts)
        ));
    }
    parts.push(format!(
        "between inferences the CPU is in {} ({} uW) and the accelerator is {} ({} uW)",
        s.cpu_sleep_mode,
        f::num(s.cpu_sleep_uw),
        if s.accel_sleep == "retention" {
            "in retention (scratchpad SRAM leakage)"
        } else {
            "power-gated"
        },
        f::num(s.accel_sleep_uw)
    ));
    parts.push(format!("command streams: {}", s.cmd_streams));
    Some(parts.join("; "))
}

/// The memory parts of one model: `(target, memory, part, bytes)` rows, shared by Markdown
/// and HTML.
pub fn memory_part_rows(m: &ModelReport) -> Vec<[String; 4]> {
    let Some(b) = &m.budget else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for (target, t) in [("CPU only", &b.cpu_only), ("offloaded", &b.offloaded)] {
        for (mem, u) in [("flash", &t.flash), ("SRAM", &t.sram)] {
            for p in &u.parts {
                rows.push([
                    target.to_string(),
                    mem.to_string(),
                    p.name.clone(),
                    f::int(p.bytes),
                ]);
            }
            rows.push([
                target.to_string(),
                mem.to_string(),
                format!("**total** (capacity {})", f::int(u.capacity_bytes)),
                f::int(u.used_bytes()),
            ]);
        }
    }
    rows
}

pub(crate) const MEMORY_PART_HEAD: [&str; 4] = ["target", "memory", "part", "bytes"];

/// The label of a CPU profile in the summary: its library (`reference`, `cmsis-nn`) when
/// every profile of the report shares the core and clock, else the whole profile name.
pub fn cpu_label(r: &Report, profile: &str) -> String {
    let core = |n: &str| {
        n.rsplit_once(':')
            .map_or(n.to_string(), |(c, _)| c.to_string())
    };
    let first = r.models.first().map(|m| core(&m.cpu_profile.name));
    let same = r
        .models
        .iter()
        .all(|m| Some(core(&m.cpu_profile.name)) == first);
    match profile.rsplit_once(':') {
        Some((_, lib)) if same => lib.to_string(),
        _ => profile.to_string(),
    }
}

/// The model's name without the `@<CPU profile>` suffix `report` adds when several CPU
/// profiles are given.
pub fn base_model_name(m: &ModelReport) -> &str {
    m.model
        .strip_suffix(&format!("@{}", m.cpu_profile.name))
        .unwrap_or(&m.model)
}

/// A short label of a model run for plot axes: the model, and the CPU label when the
/// report holds several CPU profiles.
pub fn short_run_name(r: &Report, m: &ModelReport) -> String {
    if cpu_profiles(r).len() > 1 {
        format!(
            "{} {}",
            base_model_name(m),
            cpu_label(r, &m.cpu_profile.name)
        )
    } else {
        m.model.clone()
    }
}

/// The CPU profiles of a report, in order of first appearance.
pub fn cpu_profiles(r: &Report) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for m in &r.models {
        if !v.contains(&m.cpu_profile.name) {
            v.push(m.cpu_profile.name.clone());
        }
    }
    v
}

/// The columns of the answer table per CPU profile.
pub const ANSWER_COLS: [&str; 7] = [
    "speedup",
    "energy ratio",
    "CPU ms",
    "offloaded ms",
    "CPU uJ",
    "offloaded uJ (system)",
    "accelerator only uJ",
];

/// The answer table: one row per model and accelerator configuration, the columns of
/// [`ANSWER_COLS`] side by side for every CPU profile of the report. Returns the profile
/// labels (the column groups) and the rows (model, configuration, then the groups; `-`
/// where a model did not run against a profile).
pub fn answer_rows(r: &Report) -> (Vec<String>, Vec<Vec<String>>) {
    let profiles = cpu_profiles(r);
    let mut keys: Vec<(String, String, String, String)> = Vec::new();
    for m in &r.models {
        let k = (
            base_model_name(m).to_string(),
            m.source.clone(),
            m.config.hash.clone(),
            m.config.name.clone(),
        );
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    let rows = keys
        .iter()
        .map(|(name, source, hash, cfg)| {
            let mut row = vec![name.clone(), cfg.clone()];
            for p in &profiles {
                let m = r.models.iter().find(|m| {
                    base_model_name(m) == name
                        && m.source == *source
                        && m.config.hash == *hash
                        && m.cpu_profile.name == *p
                });
                match m {
                    Some(m) => {
                        let t = m.totals();
                        row.extend([
                            f::times(t.speedup),
                            f::times(t.energy_ratio),
                            f::num(t.cpu_us / 1000.0),
                            f::num(t.offload_us / 1000.0),
                            f::num(t.cpu_uj),
                            f::num(t.offload_uj),
                            f::num(t.accel_uj()),
                        ]);
                    }
                    None => row.extend(ANSWER_COLS.iter().map(|_| "-".to_string())),
                }
            }
            row
        })
        .collect();
    (profiles.iter().map(|p| cpu_label(r, p)).collect(), rows)
}

/// One sentence per model of the answer: the speedup and energy ratio against every CPU
/// profile.
pub fn answer_sentence(r: &Report) -> String {
    let (labels, rows) = answer_rows(r);
    rows.iter()
        .map(|row| {
            let parts: Vec<String> = labels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    format!(
                        "{} faster and {} less energy than {l}",
                        row[2 + i * ANSWER_COLS.len()],
                        row[3 + i * ANSWER_COLS.len()]
                    )
                })
                .collect();
            format!("{}: {}", row[0], parts.join("; "))
        })
        .collect::<Vec<_>>()
        .join(". ")
}

/// The parameters of a CPU profile that apply to the run: the cost tables of libraries
/// other than the one used (`library`) are left out.
pub fn used_cpu_spec(p: &CpuProfileSummary) -> Vec<(&String, &String)> {
    let lib = p.spec.get("library").cloned().unwrap_or_default();
    let keep = format!("core.libraries.{lib}.");
    p.spec
        .iter()
        .filter(|(k, _)| !k.starts_with("core.libraries.") || k.starts_with(&keep))
        .collect()
}
