//! `reports`: latency and energy of the accelerator against the pure-CPU baseline, per layer
//! and per model, and design-space sweeps: Markdown, CSV, JSON, SVG/PNG plots and HTML.
//!
//! This crate is the output side of tinyaccel. It does not run anything itself:
//!
//! - [`record`]: plain data records ([`LayerRow`], [`ModelReport`], [`Report`]) that the CLI
//!   fills from the runtime's CPU cost model and the driver/simulator results. Derived
//!   numbers (totals, speedup, energy ratio) are methods, computed from the stored rows.
//! - [`write_report`]: writes `report.md`, `report.csv`, `report.json`, the plots
//!   (`plots/*.svg`, `plots/*.png`) and a self-contained `index.html` into an output
//!   directory, atomically (see [`fsutil`]).
//! - [`budget`]: deadlines, duty-cycled average power and battery life (docs/budgets.md).
//! - [`scalesim`]: per-layer results in SCALE-Sim's `COMPUTE_REPORT.csv` layout
//!   (`report --format scalesim`).
//! - [`ablation`]: the feature ablation table of `report --ablate` (`ablation.md/.csv/.json`).
//! - [`sweep`]: the design-space sweep engine, generic over an evaluator closure: grid files,
//!   parallel evaluation with resume, sharding and merge, Pareto analysis, plots, summary.
//! - [`progress`]: an indicatif-friendly progress hook.
//!
//! See `docs/reports.md` for the file formats and the CLI wiring.

pub mod ablation;
pub mod budget;
pub mod error;
pub mod fmt;
pub mod fsutil;
pub mod html;
pub mod plot;
pub mod progress;
pub mod record;
pub mod scalesim;
pub mod schema;
pub mod search;
pub mod sweep;
pub mod writer;

pub use ablation::Ablation;
pub use error::ReportError;
pub use progress::{progress_bar, NoProgress, ProgressSink};
pub use record::{
    ConfigSummary, CpuProfileSummary, LayerRow, ModelReport, ModelTotals, Provenance, Report,
    Target,
};
pub use schema::SCHEMA;
pub use writer::{
    write_report, write_report_with_ablation, WriteOptions, WrittenReport, DEFAULT_REPORT_DIR,
};

/// Version of this tool, recorded in every report.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");
