//! Running a sweep: parallel evaluation, streaming, resume, shards, merge.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use arch::AccelConfig;

use super::analysis;
use super::constraints::{ConstraintArgs, Constraints, MemoryUse};
use super::grid::Grid;
use super::results::{self, ResultRow, RowMetrics, Status};
use super::sorted::{self, SortedRows};
use super::SweepError;
use crate::fsutil::{atomic_write, AtomicFile};
use crate::progress::progress_bar;

/// What the evaluator measured for one design and one model.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// End-to-end latency of the offloaded run, us (`offload_us` of the result schema).
    pub offload_us: f64,
    /// Energy of the offloaded run, uJ (`offload_uj`).
    pub offload_uj: f64,
    /// [`crate::schema::array_utilization`] of the whole model, in `[0, 1]`.
    pub array_utilization: f64,
    /// [`crate::schema::mac_utilization`] of the whole model, in `[0, 1]`.
    pub mac_utilization: f64,
    /// Latency of the pure-CPU baseline, us (`cpu_us`).
    pub cpu_us: f64,
    /// Energy of the pure-CPU baseline, uJ (`cpu_uj`).
    pub cpu_uj: f64,
    /// Accelerator area in mm^2; `None` = `AccelConfig::area_mm2()`.
    pub area_mm2: Option<f64>,
    /// Flash and SRAM use of the offloaded deployment against the part's capacities
    /// (`driver::delegate::footprint`); `None` = not computed (the `fits_*` columns stay
    /// empty, and requiring `fits` aborts the sweep).
    pub memory: Option<MemoryUse>,
}

/// An evaluator's failure.
#[derive(Debug, Clone, PartialEq)]
pub enum EvalError {
    /// This model cannot run on this design (e.g. a layer does not fit): recorded as an
    /// `infeasible` row with the reason; the sweep goes on.
    Infeasible(String),
    /// Stop the sweep (e.g. a broken model file, a bug): rows already written are kept and
    /// a rerun resumes.
    Abort(String),
}

/// `--shard I/N`: designs whose grid index is `I` modulo `N` (`0 <= I < N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Checks `index < count` and `count >= 1`.
    pub fn new(index: u32, count: u32) -> Result<Shard, SweepError> {
        if count == 0 || index >= count {
            return Err(SweepError::Options(format!(
                "shard {index}/{count}: the index must be in 0..{count} (SLURM arrays: --array=0-{})",
                count.saturating_sub(1)
            )));
        }
        Ok(Shard { index, count })
    }

    /// Whether design `design` belongs to this shard.
    pub fn contains(&self, design: u64) -> bool {
        design % self.count as u64 == self.index as u64
    }

    /// Number of designs of a grid of `len` designs in this shard.
    pub fn len_of(&self, len: u64) -> u64 {
        let (i, n) = (self.index as u64, self.count as u64);
        if len > i {
            (len - i).div_ceil(n)
        } else {
            0
        }
    }
}

impl std::str::FromStr for Shard {
    type Err = SweepError;
    fn from_str(s: &str) -> Result<Shard, SweepError> {
        let bad = || SweepError::Options(format!("shard `{s}`: expected I/N, e.g. 3/16"));
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i = i.trim().parse().map_err(|_| bad())?;
        let n = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// Options of [`run_sweep`].
#[derive(Debug, Clone)]
pub struct SweepOptions {
    /// Output directory (created if needed; reused to resume).
    pub out_dir: PathBuf,
    /// Worker threads (`None` = one per core).
    pub jobs: Option<usize>,
    /// Evaluate only this shard of the grid (no analysis is written for a shard).
    pub shard: Option<Shard>,
    /// No progress bar.
    pub quiet: bool,
    /// Write PNG versions of the plots too.
    pub png: bool,
    /// Command-line constraints, each overriding the grid's `[constraints]` key
    /// ([`Constraints::resolve`]); default none.
    pub constraints: ConstraintArgs,
    /// The CPU's sleep power in uW (the profile's `sleep_uw()`): needed when the
    /// constraints give a rate (average power); `None` with a rate is an error.
    pub cpu_sleep_uw: Option<f64>,
    /// What the evaluator depends on besides the grid and the models (the CLI records the
    /// CPU profile spec and hash, the offload policy and the command-stream policy),
    /// recorded in `sweep.json`: resuming or merging with other settings is refused,
    /// so rows of different evaluations are never mixed.
    pub evaluation: String,
}

impl SweepOptions {
    /// Defaults: all cores, no shard, progress bar, PNGs.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        SweepOptions {
            out_dir: out_dir.into(),
            jobs: None,
            shard: None,
            quiet: false,
            png: true,
            constraints: ConstraintArgs::default(),
            cpu_sleep_uw: None,
            evaluation: String::new(),
        }
    }

    /// The effective constraints of a sweep of `grid` with these options.
    pub fn resolve_constraints(&self, grid: &Grid) -> Result<Option<Constraints>, SweepError> {
        let g = grid.constraints();
        let bad = |e: crate::budget::BudgetError| SweepError::Options(e.to_string());
        let c = Constraints::resolve(&g, &self.constraints, self.cpu_sleep_uw.unwrap_or(0.0))
            .map_err(bad)?;
        if let Some(c) = &c {
            if c.rate_hz.is_some() && self.cpu_sleep_uw.is_none() {
                return Err(SweepError::Options(
                    "a rate is given but not the CPU's sleep power (SweepOptions::cpu_sleep_uw): the average power needs it"
                        .into(),
                ));
            }
        }
        Ok(c)
    }
}

/// Options of [`merge`].
#[derive(Debug, Clone)]
pub struct MergeOptions {
    pub quiet: bool,
    pub png: bool,
}

impl Default for MergeOptions {
    fn default() -> Self {
        MergeOptions {
            quiet: false,
            png: true,
        }
    }
}

/// `sweep.json`: what a sweep directory holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepMeta {
    /// [`SWEEP_SCHEMA`]: the layout of the sweep directory.
    pub schema: String,
    /// [`crate::SCHEMA`]: the result schema of `results.csv`'s metric columns
    /// (docs/results-schema.md).
    pub results_schema: String,
    /// [`Grid::hash`].
    pub grid_hash: String,
    /// [`Grid::canonical_toml`].
    pub grid: String,
    /// The models, in evaluation (and output) order.
    pub models: Vec<String>,
    /// Designs in the whole grid.
    pub designs: u64,
    /// The shard this directory holds (`None` = the whole grid).
    pub shard: Option<Shard>,
    /// The effective budget constraints (`None` = none: no budget columns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<Constraints>,
    /// The evaluator's settings besides the grid and the models ([`SweepOptions::evaluation`]:
    /// CPU profile and its hash, offload policy, command-stream policy); empty in
    /// directories written before it was recorded.
    #[serde(default)]
    pub evaluation: String,
}

/// The schema name of `sweep.json`.
pub const SWEEP_SCHEMA: &str = "tinyaccel-sweep/2";

impl SweepMeta {
    fn new(
        grid: &Grid,
        models: &[String],
        shard: Option<Shard>,
        constraints: Option<Constraints>,
        evaluation: &str,
    ) -> Self {
        SweepMeta {
            schema: SWEEP_SCHEMA.into(),
            results_schema: crate::SCHEMA.into(),
            grid_hash: grid.hash(),
            grid: grid.canonical_toml(),
            models: models.to_vec(),
            designs: grid.len(),
            shard,
            constraints,
            evaluation: evaluation.to_string(),
        }
    }

    /// Reads `DIR/sweep.json`.
    pub fn read(dir: &Path) -> Result<SweepMeta, SweepError> {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path).map_err(|source| SweepError::Io {
            path: path.clone(),
            op: "read",
            source,
        })?;
        let m: SweepMeta = serde_json::from_str(&text).map_err(|e| SweepError::Mismatch {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if m.schema != SWEEP_SCHEMA {
            return Err(SweepError::Mismatch {
                path,
                message: format!("schema `{}` is not `{SWEEP_SCHEMA}`", m.schema),
            });
        }
        if m.results_schema != crate::SCHEMA {
            return Err(SweepError::Mismatch {
                path,
                message: format!(
                    "results_schema `{}` is not `{}`",
                    m.results_schema,
                    crate::SCHEMA
                ),
            });
        }
        Ok(m)
    }

    /// The grid, rebuilt from its canonical text.
    pub fn grid(&self, dir: &Path) -> Result<Grid, SweepError> {
        let origin = dir.join("sweep.json").display().to_string();
        let g = Grid::from_toml_str(&self.grid, &origin, dir)?;
        if g.hash() != self.grid_hash {
            return Err(SweepError::Mismatch {
                path: dir.join("sweep.json"),
                message: "the grid does not match its recorded hash".into(),
            });
        }
        Ok(g)
    }

    fn render(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("meta serializes");
        s.push('\n');
        s
    }
}

/// What a sweep or merge did.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepOutcome {
    pub dir: PathBuf,
    /// Designs in scope (the shard's, or the whole grid's).
    pub designs: u64,
    /// Rows of the final `results.csv` (designs x models).
    pub rows: usize,
    /// Rows computed by this call.
    pub evaluated: usize,
    /// Rows found already done (resume) or merged.
    pub reused: usize,
    /// A torn last line was found and dropped.
    pub dropped_torn_line: bool,
    pub ok: usize,
    pub infeasible: usize,
    pub invalid: usize,
    /// Files of the analysis (empty for a shard).
    pub files: Vec<PathBuf>,
}

fn io(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> SweepError {
    let path = path.to_path_buf();
    move |source| SweepError::Io { path, op, source }
}

fn check_models(models: &[String]) -> Result<(), SweepError> {
    if models.is_empty() {
        return Err(SweepError::Options("no models to evaluate".into()));
    }
    for (i, m) in models.iter().enumerate() {
        if m.is_empty() || models[..i].contains(m) {
            return Err(SweepError::Options(format!(
                "model names must be non-empty and unique (`{m}`)"
            )));
        }
    }
    Ok(())
}

fn check_metrics(m: &Metrics) -> Result<(), String> {
    let vals = [
        ("offload_us", m.offload_us),
        ("offload_uj", m.offload_uj),
        ("cpu_us", m.cpu_us),
        ("cpu_uj", m.cpu_uj),
    ];
    for (name, v) in vals {
        if !(v.is_finite() && v > 0.0) {
            return Err(format!(
                "evaluator returned {name} = {v} (must be finite and > 0)"
            ));
        }
    }
    for (name, u) in [
        ("array_utilization", m.array_utilization),
        ("mac_utilization", m.mac_utilization),
    ] {
        if !(u.is_finite() && (0.0..=1.0 + 1e-9).contains(&u)) {
            return Err(format!(
                "evaluator returned {name} = {u} (must be in [0, 1])"
            ));
        }
    }
    if let Some(a) = m.area_mm2 {
        if !(a.is_finite() && a > 0.0) {
            return Err(format!("evaluator returned area_mm2 = {a}"));
        }
    }
    Ok(())
}

/// The row of one design x model: `invalid` with the design's reasons, `ok` with the
/// evaluator's metrics (checked; budget columns when `constraints`), `infeasible` with its
/// reason. An evaluator's `Abort`, a panic or impossible metrics are errors (the caller
/// stops).
pub(crate) fn evaluate_row<F>(
    design: &super::grid::Design,
    params: &[String],
    model: &str,
    mi: usize,
    evaluator: &F,
    constraints: Option<&Constraints>,
) -> Result<ResultRow, SweepError>
where
    F: Fn(&AccelConfig, usize) -> Result<Metrics, EvalError>,
{
    let index = design.index;
    let aborted = |message: String| SweepError::Aborted {
        design: index,
        design_id: design.id.clone(),
        model: model.to_string(),
        message,
    };
    let mut row = ResultRow {
        design: index,
        design_id: design.id.clone(),
        params: params.to_vec(),
        model: model.to_string(),
        status: Status::Invalid,
        metrics: None,
        budget: None,
        note: String::new(),
    };
    let cfg = match &design.config {
        Err(reasons) => {
            row.note = reasons.join("; ");
            return Ok(row);
        }
        Ok(cfg) => cfg,
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| evaluator(cfg, mi)))
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "unknown panic".into());
            Err(EvalError::Abort(format!("evaluator panicked: {what}")))
        });
    match result {
        Ok(m) => {
            check_metrics(&m).map_err(aborted)?;
            row.status = Status::Ok;
            row.metrics = Some(RowMetrics {
                offload_us: m.offload_us,
                offload_uj: m.offload_uj,
                area_mm2: m.area_mm2.unwrap_or_else(|| cfg.area_mm2()),
                array_utilization: m.array_utilization,
                mac_utilization: m.mac_utilization,
                speedup: m.cpu_us / m.offload_us,
                energy_ratio: m.cpu_uj / m.offload_uj,
                cpu_us: m.cpu_us,
                cpu_uj: m.cpu_uj,
            });
            if let Some(c) = constraints {
                let accel = c.accel_sleep().power_uw(cfg);
                row.budget = Some(
                    c.evaluate(m.offload_us, m.offload_uj, accel, m.memory)
                        .map_err(aborted)?,
                );
            }
        }
        Err(EvalError::Infeasible(reason)) => {
            row.status = Status::Infeasible;
            row.note = reason;
        }
        Err(EvalError::Abort(message)) => return Err(aborted(message)),
    }
    Ok(row)
}

/// Evaluates every design (of the shard) x model and writes the sweep directory.
///
/// - `models`: names of the models; the evaluator receives the index into this slice.
/// - `evaluator(config, model_index)`: must be deterministic (resume and thread-count
///   independence rely on it). Each design is built and validated once, then evaluated for
///   every model. Invalid designs are not evaluated; they get `invalid` rows.
///
/// Rows are appended to `DIR/results.csv` as they finish (one `write` per row; fsync at the
/// end). If `DIR` already holds a run of the same grid, models and shard, the rows found
/// there are kept and only the missing ones are evaluated (a torn last line is dropped).
/// At the end `results.csv` is rewritten sorted by (design, model order), atomically, and —
/// unless sharded — the analysis is written ([`super::analysis`]). The final files are
/// byte-identical whatever `jobs` and interruption history.
pub fn run_sweep<F>(
    grid: &Grid,
    models: &[String],
    evaluator: F,
    opts: &SweepOptions,
) -> Result<SweepOutcome, SweepError>
where
    F: Fn(&AccelConfig, usize) -> Result<Metrics, EvalError> + Sync,
{
    check_models(models)?;
    let dir = &opts.out_dir;
    std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
    let _lock = super::DirLock::acquire(dir)?;
    let constraints = opts.resolve_constraints(grid)?;
    let budget = constraints.is_some();
    let meta = SweepMeta::new(grid, models, opts.shard, constraints, &opts.evaluation);
    let meta_path = dir.join("sweep.json");
    if meta_path.exists() {
        let old = SweepMeta::read(dir)?;
        if old != meta {
            let what = if old.grid_hash != meta.grid_hash {
                format!("grid {} (now {})", old.grid_hash, meta.grid_hash)
            } else if old.models != meta.models {
                format!("models {:?} (now {:?})", old.models, meta.models)
            } else if old.evaluation != meta.evaluation {
                let d = |e: &str| {
                    if e.is_empty() {
                        "not recorded".to_string()
                    } else {
                        e.to_string()
                    }
                };
                format!(
                    "evaluation settings {} (now {})",
                    d(&old.evaluation),
                    d(&meta.evaluation)
                )
            } else if old.constraints != meta.constraints {
                let d =
                    |c: &Option<Constraints>| c.as_ref().map_or("none".into(), |c| c.describe());
                format!(
                    "constraints {} (now {})",
                    d(&old.constraints),
                    d(&meta.constraints)
                )
            } else {
                format!(
                    "shard {} (now {})",
                    old.shard.map_or("none".into(), |s| s.to_string()),
                    meta.shard.map_or("none".into(), |s| s.to_string())
                )
            };
            return Err(SweepError::Mismatch {
                path: meta_path,
                message: format!(
                    "this directory holds another sweep ({what}); use another output directory"
                ),
            });
        }
    } else {
        atomic_write(&meta_path, meta.render().as_bytes())?;
    }

    let keys = grid.keys();
    let results_path = dir.join("results.csv");
    let shard = opts.shard.unwrap_or(Shard { index: 0, count: 1 });
    let model_index: HashMap<&str, usize> = models
        .iter()
        .enumerate()
        .map(|(i, m)| (m.as_str(), i))
        .collect();

    // Resume: what is already done, one bit per (design in the shard, model), streamed
    // from the file (memory: the bits, not the rows).
    let in_scope = shard.len_of(grid.len());
    let nm = models.len();
    let mut done = vec![0u64; (in_scope as usize * nm).div_ceil(64)];
    let bit = |design: u64, m: usize| {
        ((design - shard.index as u64) / shard.count as u64) as usize * nm + m
    };
    let is_done = |done: &[u64], i: usize| done[i / 64] >> (i % 64) & 1 == 1;
    let mut reused = 0usize;
    let mut torn = false;
    if results_path.exists() {
        let mut read = results::ResultsReader::open(&results_path, &keys)?;
        torn = read.torn;
        if read.valid_len > 0 && read.budget != budget {
            return Err(SweepError::Mismatch {
                path: results_path.clone(),
                message: format!(
                    "the results {} budget columns but this sweep {} constraints; use another output directory",
                    if read.budget { "have" } else { "lack" },
                    if budget { "has" } else { "has no" }
                ),
            });
        }
        // The id of the last design seen, recomputed when the design changes (a design's
        // rows are written together, so mostly adjacent; interleaving only costs time).
        let mut last_id: Option<(u64, String)> = None;
        while let Some((line, r)) = read.next_row()? {
            let bad = |message: String| SweepError::Results {
                path: results_path.clone(),
                line,
                message,
            };
            if r.design >= grid.len() || !shard.contains(r.design) {
                return Err(bad(format!(
                    "design {} is not part of this sweep (grid of {} designs, shard {shard})",
                    r.design,
                    grid.len()
                )));
            }
            if last_id.as_ref().map_or(true, |(d, _)| *d != r.design) {
                last_id = Some((r.design, grid.design_id(r.design)));
            }
            let id = &last_id.as_ref().expect("set above").1;
            if *id != r.design_id {
                return Err(bad(format!(
                    "design {} has id {} but the grid gives {id}",
                    r.design, r.design_id
                )));
            }
            let m = *model_index
                .get(r.model.as_str())
                .ok_or_else(|| bad(format!("unknown model `{}`", r.model)))?;
            let i = bit(r.design, m);
            if !is_done(&done, i) {
                done[i / 64] |= 1 << (i % 64);
                reused += 1;
            }
        }
        if read.valid_len == 0 {
            atomic_write(
                &results_path,
                results::csv_line(&results::header_with(&keys, budget)).as_bytes(),
            )?;
        } else if torn {
            let f = OpenOptions::new()
                .write(true)
                .open(&results_path)
                .map_err(io(&results_path, "open"))?;
            f.set_len(read.valid_len)
                .map_err(io(&results_path, "drop the torn last line"))?;
            f.sync_all().map_err(io(&results_path, "fsync"))?;
        }
    } else {
        atomic_write(
            &results_path,
            results::csv_line(&results::header_with(&keys, budget)).as_bytes(),
        )?;
    }

    let total = in_scope as usize * models.len();
    let pending = total - reused;
    let file = OpenOptions::new()
        .append(true)
        .open(&results_path)
        .map_err(io(&results_path, "open for append"))?;
    let file = Mutex::new(file);
    let pb = progress_bar(pending as u64, "sweep", opts.quiet);
    let evaluated = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);

    let write_row = |row: &ResultRow| -> Result<(), SweepError> {
        let line = row.line(budget);
        let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(line.as_bytes())
            .map_err(io(&results_path, "append"))?;
        Ok(())
    };

    let work = |k: usize| -> Result<(), SweepError> {
        if stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        let index = shard.index as u64 + k as u64 * shard.count as u64;
        let have = |m: usize| is_done(&done, k * nm + m);
        if (0..nm).all(have) {
            return Ok(());
        }
        let design = grid.design(index);
        let params = grid.value_texts(index);
        for (mi, model) in models.iter().enumerate() {
            if have(mi) {
                continue;
            }
            if stop.load(Ordering::Relaxed) {
                return Ok(());
            }
            let row = match evaluate_row(
                &design,
                &params,
                model,
                mi,
                &evaluator,
                meta.constraints.as_ref(),
            ) {
                Ok(row) => row,
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    return Err(e);
                }
            };
            write_row(&row)?;
            evaluated.fetch_add(1, Ordering::Relaxed);
            pb.inc(1);
        }
        Ok(())
    };

    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| SweepError::Options(format!("cannot start {:?} threads: {e}", opts.jobs)))?;
    let run = pool.install(|| (0..in_scope as usize).into_par_iter().try_for_each(work));
    // Whatever happened, make the rows written so far durable.
    let f = file.into_inner().unwrap_or_else(|e| e.into_inner());
    let synced = f.sync_all().map_err(io(&results_path, "fsync"));
    pb.finish_and_clear();
    run?;
    synced?;
    drop(f);

    let mut outcome = finalize(
        dir,
        grid,
        models,
        &meta,
        std::slice::from_ref(&results_path),
        opts.png,
        opts.quiet,
    )?;
    outcome.evaluated = evaluated.into_inner();
    outcome.reused = reused;
    outcome.dropped_torn_line = torn;
    Ok(outcome)
}

/// Sorts (in bounded memory, [`SortedRows`]), deduplicates and checks the rows of
/// `sources` against the scope of `meta`, rewrites `results.csv` atomically and (for a
/// whole grid) writes the analysis, streaming the rows through it.
fn finalize(
    dir: &Path,
    grid: &Grid,
    models: &[String],
    meta: &SweepMeta,
    sources: &[PathBuf],
    png: bool,
    quiet: bool,
) -> Result<SweepOutcome, SweepError> {
    let results_path = dir.join("results.csv");
    let keys = grid.keys();
    let budget = meta.constraints.is_some();
    let shard = meta.shard.unwrap_or(Shard { index: 0, count: 1 });
    let designs = shard.len_of(grid.len());
    let nm = models.len();
    let expected = designs as usize * nm;
    let mut sorted =
        SortedRows::with_batch(sources, &keys, models, dir, sorted::batch_for(expected))?;
    // The expected keys in order: design shard.index + j * count, model m.
    let expected_key = |n: usize| {
        (
            shard.index as u64 + (n / nm) as u64 * shard.count as u64,
            n % nm,
        )
    };
    let mut next = 0usize; // index of the next expected key
    let mut missing: Vec<String> = Vec::new();
    let mut n_missing = 0usize;
    let mut note_missing = |upto: usize, next: &mut usize| {
        while *next < upto {
            let (d, m) = expected_key(*next);
            n_missing += 1;
            if missing.len() < 5 {
                missing.push(format!("design {d} model `{}`", models[m]));
            }
            *next += 1;
        }
    };
    let mut out = AtomicFile::create(&results_path)?;
    out.write(results::csv_line(&results::header_with(&keys, budget)).as_bytes())?;
    let mut an = analysis::Analyzer::new(grid, models);
    let mut last: Option<ResultRow> = None;
    let mut rows = 0usize;
    while let Some(r) = sorted.next_row()? {
        let k = sorted.key(&r);
        if let Some(prev) = &last {
            if sorted.key(prev) == k {
                if *prev != r {
                    return Err(SweepError::Results {
                        path: results_path.clone(),
                        line: 0,
                        message: format!(
                            "design {} model `{}` has two different rows (a non-deterministic evaluator?)",
                            r.design, r.model
                        ),
                    });
                }
                continue;
            }
        }
        // Where the key falls among the expected ones (a row outside them is an error).
        let pos = (k.1 < nm && k.0 >= shard.index as u64 && shard.contains(k.0))
            .then(|| ((k.0 - shard.index as u64) / shard.count as u64) as usize * nm + k.1)
            .filter(|&p| p < expected && p >= next);
        let Some(pos) = pos else {
            return Err(SweepError::Results {
                path: results_path.clone(),
                line: 0,
                message: format!(
                    "design {} model `{}` is not part of this sweep (grid of {} designs, shard {shard})",
                    r.design,
                    r.model,
                    grid.len()
                ),
            });
        };
        note_missing(pos, &mut next);
        next = pos + 1;
        out.write(r.line(budget).as_bytes())?;
        rows += 1;
        if let Some(prev) = last.replace(r) {
            an.push(prev);
        }
    }
    note_missing(expected, &mut next);
    if let Some(prev) = last.take() {
        an.push(prev);
    }
    an.finish();
    drop(sorted);
    if n_missing > 0 {
        return Err(SweepError::Results {
            path: results_path,
            line: 0,
            message: format!(
                "{rows} of {expected} rows present; missing e.g. {}",
                missing.join(", ")
            ),
        });
    }
    out.commit()?;
    let files = if meta.shard.is_none() {
        analysis::write_analysis(
            dir,
            grid,
            models,
            &an,
            meta.constraints.as_ref(),
            png,
            quiet,
        )?
    } else {
        Vec::new()
    };
    Ok(SweepOutcome {
        dir: dir.to_path_buf(),
        designs,
        rows,
        evaluated: 0,
        reused: 0,
        dropped_torn_line: false,
        ok: an.ok as usize,
        infeasible: an.infeasible as usize,
        invalid: an.invalid as usize,
        files,
    })
}

/// Combines complete shard directories (the outputs of `--shard I/N` for every `I` in
/// `0..N`, in any order) into `out`: one sorted `results.csv`, a `sweep.json` without shard
/// and the analysis — the same files an unsharded run writes.
pub fn merge(
    shard_dirs: &[PathBuf],
    out: &Path,
    opts: &MergeOptions,
) -> Result<SweepOutcome, SweepError> {
    let first = shard_dirs
        .first()
        .ok_or_else(|| SweepError::Options("no shard directories to merge".into()))?;
    let meta0 = SweepMeta::read(first)?;
    let grid = meta0.grid(first)?;
    let count = meta0.shard.map_or(1, |s| s.count);
    let mut seen: Vec<Option<&PathBuf>> = vec![None; count as usize];
    let mut sources: Vec<PathBuf> = Vec::new();
    let mut total = 0usize;
    let keys = grid.keys();
    for dir in shard_dirs {
        let m = SweepMeta::read(dir)?;
        let mismatch = |message: String| SweepError::Mismatch {
            path: dir.join("sweep.json"),
            message,
        };
        if m.constraints != meta0.constraints {
            return Err(mismatch(format!(
                "constraints differ from {}'s",
                first.display()
            )));
        }
        if m.evaluation != meta0.evaluation {
            return Err(mismatch(format!(
                "evaluation settings `{}` differ from {}'s `{}`",
                m.evaluation,
                first.display(),
                meta0.evaluation
            )));
        }
        if m.grid_hash != meta0.grid_hash || m.models != meta0.models {
            return Err(mismatch(format!(
                "grid {} / models {:?} differ from {}'s grid {} / models {:?}",
                m.grid_hash,
                m.models,
                first.display(),
                meta0.grid_hash,
                meta0.models
            )));
        }
        let s = m.shard.unwrap_or(Shard { index: 0, count: 1 });
        if s.count != count {
            return Err(mismatch(format!(
                "shard {s} does not match {} shards",
                count
            )));
        }
        if let Some(other) = seen[s.index as usize] {
            return Err(mismatch(format!(
                "shard {s} is also in {}",
                other.display()
            )));
        }
        seen[s.index as usize] = Some(dir);
        let path = dir.join("results.csv");
        let mut read = results::ResultsReader::open(&path, &keys)?;
        if read.torn {
            return Err(mismatch(format!(
                "shard {s} was interrupted (torn last line in results.csv): rerun it"
            )));
        }
        let expected = s.len_of(grid.len()) as usize * m.models.len();
        let mut n = 0usize;
        let mut last_id: Option<(u64, String)> = None;
        while let Some((line, r)) = read.next_row()? {
            n += 1;
            let belongs = r.design < grid.len() && s.contains(r.design) && {
                if last_id.as_ref().map_or(true, |(d, _)| *d != r.design) {
                    last_id = Some((r.design, grid.design_id(r.design)));
                }
                last_id.as_ref().is_some_and(|(_, id)| *id == r.design_id)
            };
            if !belongs {
                return Err(SweepError::Results {
                    path: path.clone(),
                    line,
                    message: format!(
                        "design {} ({}) does not belong to shard {s} of this grid",
                        r.design, r.design_id
                    ),
                });
            }
        }
        if n < expected {
            return Err(mismatch(format!(
                "shard {s} is incomplete ({n} of {expected} rows): rerun it"
            )));
        }
        sources.push(path);
        total += n;
    }
    let missing: Vec<String> = seen
        .iter()
        .enumerate()
        .filter(|(_, d)| d.is_none())
        .map(|(i, _)| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        return Err(SweepError::Options(format!(
            "missing shards: {}",
            missing.join(", ")
        )));
    }
    std::fs::create_dir_all(out).map_err(io(out, "create directory"))?;
    let _lock = super::DirLock::acquire(out)?;
    let meta = SweepMeta::new(
        &grid,
        &meta0.models,
        None,
        meta0.constraints.clone(),
        &meta0.evaluation,
    );
    atomic_write(&out.join("sweep.json"), meta.render().as_bytes())?;
    let mut outcome = finalize(
        out,
        &grid,
        &meta0.models,
        &meta,
        &sources,
        opts.png,
        opts.quiet,
    )?;
    outcome.reused = total;
    Ok(outcome)
}
