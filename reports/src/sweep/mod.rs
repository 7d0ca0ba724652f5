//! The design-space sweep engine.
//!
//! - [`Grid`]: a grid file (base configuration + lists of values), every combination built
//!   and validated as an [`arch::AccelConfig`]; invalid ones keep their reasons.
//! - [`run_sweep`]: evaluates every design x model with a caller-supplied evaluator, in
//!   parallel (a local rayon pool of `jobs` threads), streaming rows to `DIR/results.csv`;
//!   resumable, shardable ([`Shard`]); finishes with the sorted results and the analysis.
//! - [`merge`]: combines shard directories into one result set and one analysis.
//! - [`analysis`]: Pareto fronts (`pareto.csv`), plots, `summary.md`.
//! - [`constraints`]: budget constraints (rate/deadline, battery, requirements): extra
//!   `results.csv` columns and a feasible-only Pareto analysis.
//!
//! Output files of a sweep directory: `sweep.json` (what was swept: canonical grid, models,
//! shard), `results.csv` (see [`results`]), and for unsharded runs and merges
//! `pareto.csv`, `plots/*.svg|png` and `summary.md` (written last: its presence means the
//! analysis is complete).

pub mod analysis;
pub mod constraints;
pub mod engine;
pub mod grid;
pub mod lock;
pub mod pareto;
pub mod results;
pub mod sorted;

pub use constraints::{BudgetCols, ConstraintArgs, Constraints, MemoryUse, Require};
pub use engine::{
    merge, run_sweep, EvalError, MergeOptions, Metrics, Shard, SweepMeta, SweepOptions,
    SweepOutcome,
};
pub use grid::{Design, Grid, Param, MAX_GRID_DESIGNS};
pub use lock::{DirLock, LOCK_FILE};
pub use results::{ResultRow, RowMetrics, Status};

use std::path::PathBuf;

/// Errors of the sweep engine.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The grid file is malformed (message names the key and reason).
    #[error("{origin}: {message}")]
    Grid { origin: String, message: String },
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// A results file is malformed.
    #[error("{path}:{line}: {message}")]
    Results {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The output directory belongs to another sweep, or shards do not fit together.
    #[error("{path}: {message}")]
    Mismatch { path: PathBuf, message: String },
    /// The evaluator asked to stop (rows already written are kept; rerun to resume).
    #[error(
        "evaluator stopped the sweep at design {design} ({design_id}), model `{model}`: {message}"
    )]
    Aborted {
        design: u64,
        design_id: String,
        model: String,
        message: String,
    },
    /// Another sweep or merge is writing to the output directory.
    #[error(
        "{path}: the output directory is in use by {holder} (another sweep or merge); wait for it to finish or use another --out (if no such process runs, delete the lock file)"
    )]
    Locked { path: PathBuf, holder: String },
    /// Bad options (e.g. no models, a shard index out of range).
    #[error("{0}")]
    Options(String),
    /// Writing the analysis failed.
    #[error(transparent)]
    Report(#[from] crate::ReportError),
}
