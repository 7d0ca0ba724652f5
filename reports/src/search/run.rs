//! Running a search: the output directory, the cache of evaluated designs (resume), islands
//! (shards) and their merge, and the files a search writes.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use arch::AccelConfig;

use super::hv::hypervolume;
use super::nsga2::{self, Eval, Generation, Space};
use super::spec::Spec;
use crate::fsutil::{atomic_write, AtomicFile};
use crate::progress::progress_bar;
use crate::sweep::analysis::{self, Analyzer};
use crate::sweep::engine::evaluate_row;
use crate::sweep::results::{self, ResultRow, ResultsReader};
use crate::sweep::{DirLock, EvalError, Grid, Metrics, Shard, SweepError};

/// Options of [`run_search`].
#[derive(Debug, Clone)]
pub struct SearchOptions {
    /// Output directory (created if needed; reused to resume or extend a search).
    pub out_dir: PathBuf,
    /// Worker threads (`None` = one per core).
    pub jobs: Option<usize>,
    /// Island `I` of `N`: its own seed and `ceil(budget / N)` evaluations; `search merge`
    /// combines the islands.
    pub shard: Option<Shard>,
    pub quiet: bool,
    pub png: bool,
    pub population: usize,
    /// Most designs evaluated (the initial population included).
    pub budget: u64,
    pub seed: u64,
    /// What the evaluator depends on besides the grid and the models (CPU profile,
    /// policies), recorded in `search.json`: resuming with other settings is refused.
    pub evaluation: String,
}

/// Crossover probability of every search (Deb et al. 2002 use 0.9).
pub const CROSSOVER: f64 = 0.9;

/// `search.json`: what the search is. Resuming needs the same (the budget may differ:
/// a larger one continues the same path).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchMeta {
    pub format: String,
    pub grid_hash: String,
    pub designs: u64,
    pub keys: Vec<String>,
    pub models: Vec<String>,
    pub objectives: Vec<String>,
    pub constraints: Vec<String>,
    pub seed: u64,
    pub population: usize,
    pub shard: Option<Shard>,
    pub evaluation: String,
    /// The canonical grid (a search can be re-run from its directory alone).
    pub grid: String,
}

pub const SEARCH_FORMAT: &str = "tinyaccel-search/1";

impl SearchMeta {
    fn new(grid: &Grid, spec: &Spec, opts: &SearchOptions) -> SearchMeta {
        SearchMeta {
            format: SEARCH_FORMAT.into(),
            grid_hash: grid.hash(),
            designs: grid.len(),
            keys: grid.keys(),
            models: spec.models.clone(),
            objectives: spec.objective_labels(),
            constraints: spec
                .constraints
                .iter()
                .map(|c| c.label(&spec.models))
                .collect(),
            seed: opts.seed,
            population: opts.population,
            shard: opts.shard,
            evaluation: opts.evaluation.clone(),
            grid: grid.canonical_toml(),
        }
    }

    fn read(dir: &Path) -> Result<SearchMeta, SweepError> {
        let path = dir.join("search.json");
        let text = std::fs::read_to_string(&path).map_err(io(&path, "read"))?;
        serde_json::from_str(&text).map_err(|e| SweepError::Results {
            path,
            line: e.line(),
            message: format!("not a search description ({e})"),
        })
    }

    /// How `self` (found) differs from `now`, ignoring the shard when `ignore_shard`.
    fn difference(&self, now: &SearchMeta, ignore_shard: bool) -> Option<String> {
        let d = |what: &str, a: &dyn std::fmt::Debug, b: &dyn std::fmt::Debug| {
            Some(format!("{what} {a:?} (now {b:?})"))
        };
        if self.format != now.format {
            return d("format", &self.format, &now.format);
        }
        if self.grid_hash != now.grid_hash {
            return d("grid", &self.grid_hash, &now.grid_hash);
        }
        if self.models != now.models {
            return d("models", &self.models, &now.models);
        }
        if self.objectives != now.objectives {
            return d("objectives", &self.objectives, &now.objectives);
        }
        if self.constraints != now.constraints {
            return d("constraints", &self.constraints, &now.constraints);
        }
        if self.seed != now.seed {
            return d("seed", &self.seed, &now.seed);
        }
        if self.population != now.population {
            return d("population", &self.population, &now.population);
        }
        if self.evaluation != now.evaluation {
            return d("evaluation settings", &self.evaluation, &now.evaluation);
        }
        if !ignore_shard && self.shard != now.shard {
            return d("shard", &self.shard, &now.shard);
        }
        None
    }
}

/// What a search did.
#[derive(Debug, Clone)]
pub struct SearchOutcome {
    pub dir: PathBuf,
    /// Designs in the grid.
    pub designs: u64,
    /// Designs the search's path evaluated (cached ones included).
    pub evaluated: u64,
    /// Of those, taken from an earlier run in the directory.
    pub cached: u64,
    pub generations: usize,
    /// Feasible non-dominated designs found.
    pub front: usize,
    /// The answer, one line (best feasible design, or the closest one).
    pub answer: String,
    pub files: Vec<PathBuf>,
}

/// Evaluated designs: per design index, its rows in model order.
type DesignRows = BTreeMap<u64, Vec<ResultRow>>;

/// The path a search took: its generations, the design batches it evaluated (batch `i`
/// in generation `i`) and every evaluation.
type SearchPath<'a> = (&'a [Generation], &'a [Vec<u64>], &'a HashMap<u64, Eval>);

fn io(path: &Path, op: &'static str) -> impl FnOnce(std::io::Error) -> SweepError {
    let path = path.to_path_buf();
    move |source| SweepError::Io { path, op, source }
}

/// The genome space of a grid: one gene per swept key; numeric keys are ordinal.
pub fn space_of(grid: &Grid) -> Space {
    Space {
        sizes: grid.params().iter().map(|p| p.values.len()).collect(),
        ordinal: grid
            .params()
            .iter()
            .map(|p| p.values.iter().all(|v| v.is_integer() || v.is_float()))
            .collect(),
    }
}

/// The island seed of shard `I` (shard 0 of 1 = the seed itself).
fn island_seed(seed: u64, shard: Option<Shard>) -> u64 {
    match shard {
        None => seed,
        Some(s) if s.count == 1 => seed,
        Some(s) => {
            nsga2::Rng::new(seed ^ (s.index as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)).next_u64()
        }
    }
}

/// Reads the complete designs of `DIR/results.csv` (all models present), checking ids;
/// returns them and the valid length (a torn last line is not part of it).
fn read_cache(
    path: &Path,
    grid: &Grid,
    models: &[String],
) -> Result<(DesignRows, u64, bool), SweepError> {
    let mut read = ResultsReader::open(path, &grid.keys())?;
    let mut partial: BTreeMap<u64, Vec<Option<ResultRow>>> = BTreeMap::new();
    while let Some((line, r)) = read.next_row()? {
        let bad = |message: String| SweepError::Results {
            path: path.to_path_buf(),
            line,
            message,
        };
        if r.design >= grid.len() {
            return Err(bad(format!(
                "design {} is not in the grid ({} designs)",
                r.design,
                grid.len()
            )));
        }
        if r.design_id != grid.design_id(r.design) {
            return Err(bad(format!(
                "design {} has id {} but the grid gives {}",
                r.design,
                r.design_id,
                grid.design_id(r.design)
            )));
        }
        let m = models
            .iter()
            .position(|x| *x == r.model)
            .ok_or_else(|| bad(format!("unknown model `{}`", r.model)))?;
        let slot = partial
            .entry(r.design)
            .or_insert_with(|| vec![None; models.len()]);
        match &slot[m] {
            Some(prev) if *prev != r => {
                return Err(bad(format!(
                    "design {} model `{}` has two different rows (a non-deterministic evaluator?)",
                    r.design, r.model
                )))
            }
            _ => slot[m] = Some(r),
        }
    }
    let complete = partial
        .into_iter()
        .filter_map(|(d, rows)| rows.into_iter().collect::<Option<Vec<_>>>().map(|r| (d, r)))
        .collect();
    Ok((complete, read.valid_len, read.torn))
}

/// Runs NSGA-II ([`super::nsga2`]) over the designs of `grid`, evaluating each chosen design
/// on every model with `evaluator` (deterministic, as for sweeps), and writes `DIR`:
///
/// - `search.json`: what the search is;
/// - `results.csv`: every evaluated design x model, in the sweep's format (sorted at the
///   end; rows are appended while the search runs, so an interrupted search resumes: the
///   same seed takes the same path, and designs found in the file are not re-evaluated);
/// - `generations.csv`: per generation the designs evaluated so far, the feasible designs
///   in the population, and the hypervolume of the feasible front found so far (objectives
///   normalised over every feasible evaluated design, reference point 1.1);
/// - `front.csv`: the feasible non-dominated designs with their objectives and constraint
///   values;
/// - `search.md`: the answer (the best feasible design per objective, or that none was
///   found and the closest design), written last;
/// - the sweep analysis of the evaluated designs (`pareto.csv`, `plots/`, `summary.md`).
///
/// A shard (island) writes everything but the sweep analysis; `merge_search` combines
/// islands.
pub fn run_search<F>(
    grid: &Grid,
    spec: &Spec,
    evaluator: F,
    opts: &SearchOptions,
) -> Result<SearchOutcome, SweepError>
where
    F: Fn(&AccelConfig, usize) -> Result<Metrics, EvalError> + Sync,
{
    if spec.models.is_empty() {
        return Err(SweepError::Options("no models to evaluate".into()));
    }
    if opts.population < 4 {
        return Err(SweepError::Options(format!(
            "--population {}: at least 4",
            opts.population
        )));
    }
    if opts.budget == 0 {
        return Err(SweepError::Options(
            "--budget 0: nothing to evaluate".into(),
        ));
    }
    let dir = &opts.out_dir;
    std::fs::create_dir_all(dir).map_err(io(dir, "create directory"))?;
    let _lock = DirLock::acquire(dir)?;
    let meta = SearchMeta::new(grid, spec, opts);
    let meta_path = dir.join("search.json");
    if meta_path.exists() {
        let old = SearchMeta::read(dir)?;
        if let Some(what) = old.difference(&meta, false) {
            return Err(SweepError::Mismatch {
                path: meta_path,
                message: format!(
                    "this directory holds another search ({what}); use another output directory"
                ),
            });
        }
    } else {
        atomic_write(
            &meta_path,
            (serde_json::to_string_pretty(&meta).expect("plain data") + "\n").as_bytes(),
        )?;
    }

    let keys = grid.keys();
    let results_path = dir.join("results.csv");
    let mut cache = BTreeMap::new();
    if results_path.exists() {
        let (c, valid_len, torn) = read_cache(&results_path, grid, &spec.models)?;
        cache = c;
        if torn {
            let f = OpenOptions::new()
                .write(true)
                .open(&results_path)
                .map_err(io(&results_path, "open"))?;
            f.set_len(valid_len)
                .map_err(io(&results_path, "drop the torn last line"))?;
        }
        if valid_len == 0 {
            atomic_write(
                &results_path,
                results::csv_line(&results::header(&keys)).as_bytes(),
            )?;
        }
    } else {
        atomic_write(
            &results_path,
            results::csv_line(&results::header(&keys)).as_bytes(),
        )?;
    }
    let mut file = OpenOptions::new()
        .append(true)
        .open(&results_path)
        .map_err(io(&results_path, "open for append"))?;

    let budget = match opts.shard {
        Some(s) => opts.budget.div_ceil(s.count as u64),
        None => opts.budget,
    }
    .min(grid.len());
    let space = space_of(grid);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.unwrap_or(0))
        .build()
        .map_err(|e| SweepError::Options(format!("cannot start {:?} threads: {e}", opts.jobs)))?;
    let pb = progress_bar(budget, "search", opts.quiet);
    let mut rows: BTreeMap<u64, Vec<ResultRow>> = BTreeMap::new();
    let mut cached = 0u64;
    let mut generations: Vec<Generation> = Vec::new();
    // The designs of each evaluated batch: batch `i` is generation `i`'s new designs.
    let mut batches: Vec<Vec<u64>> = Vec::new();

    let evaluate = |batch: &[u64],
                    rows: &mut BTreeMap<u64, Vec<ResultRow>>,
                    cached: &mut u64,
                    batches: &mut Vec<Vec<u64>>,
                    file: &mut std::fs::File|
     -> Result<Vec<Eval>, SweepError> {
        batches.push(batch.to_vec());
        let fresh: Vec<u64> = batch
            .iter()
            .copied()
            .filter(|d| !cache.contains_key(d))
            .collect();
        let done: Vec<Result<(u64, Vec<ResultRow>), SweepError>> = pool.install(|| {
            fresh
                .par_iter()
                .map(|&d| {
                    let design = grid.design(d);
                    let params = grid.value_texts(d);
                    let r = spec
                        .models
                        .iter()
                        .enumerate()
                        .map(|(mi, m)| evaluate_row(&design, &params, m, mi, &evaluator, None))
                        .collect::<Result<Vec<_>, _>>()?;
                    Ok((d, r))
                })
                .collect()
        });
        let mut text = String::new();
        let mut new_rows = Vec::with_capacity(done.len());
        for r in done {
            let (d, design_rows) = r?;
            for row in &design_rows {
                text.push_str(&row.line(false));
            }
            new_rows.push((d, design_rows));
        }
        file.write_all(text.as_bytes())
            .map_err(io(&results_path, "append"))?;
        for (d, r) in new_rows {
            rows.insert(d, r);
        }
        let mut out = Vec::with_capacity(batch.len());
        for d in batch {
            if let Some(r) = cache.get(d) {
                *cached += 1;
                rows.insert(*d, r.clone());
            }
            out.push(spec.eval(&rows[d]));
        }
        pb.inc(batch.len() as u64);
        Ok(out)
    };
    let seen = nsga2::run(
        &space,
        nsga2::Params {
            population: opts.population,
            budget,
            seed: island_seed(opts.seed, opts.shard),
            crossover: CROSSOVER,
        },
        |batch| evaluate(batch, &mut rows, &mut cached, &mut batches, &mut file),
        |g, _| generations.push(g.clone()),
    )?;
    file.sync_all().map_err(io(&results_path, "fsync"))?;
    drop(file);
    pb.finish_and_clear();
    // Rows of the cache beyond this run's path (a larger earlier budget) stay in the file.
    for (d, r) in cache {
        rows.entry(d).or_insert(r);
    }
    let mut outcome = finish(
        dir,
        grid,
        spec,
        &meta,
        &rows,
        Some((&generations, &batches, &seen)),
        opts,
    )?;
    outcome.evaluated = seen.len() as u64;
    outcome.cached = cached;
    outcome.generations = generations.len();
    Ok(outcome)
}

/// Combines islands (shard directories of one search) into `out`.
pub fn merge_search(
    dirs: &[PathBuf],
    grid: &Grid,
    spec: &Spec,
    opts: &SearchOptions,
) -> Result<SearchOutcome, SweepError> {
    let out = &opts.out_dir;
    std::fs::create_dir_all(out).map_err(io(out, "create directory"))?;
    let _lock = DirLock::acquire(out)?;
    let meta = SearchMeta::new(grid, spec, opts);
    let mut rows: BTreeMap<u64, Vec<ResultRow>> = BTreeMap::new();
    for d in dirs {
        let m = SearchMeta::read(d)?;
        if let Some(what) = m.difference(&meta, true) {
            return Err(SweepError::Mismatch {
                path: d.join("search.json"),
                message: format!("not an island of this search ({what})"),
            });
        }
        let (c, _, _) = read_cache(&d.join("results.csv"), grid, &spec.models)?;
        for (k, r) in c {
            if let Some(prev) = rows.get(&k) {
                if *prev != r {
                    return Err(SweepError::Mismatch {
                        path: d.join("results.csv"),
                        message: format!(
                            "design {k} differs from another island's rows (a non-deterministic evaluator?)"
                        ),
                    });
                }
            }
            rows.insert(k, r);
        }
    }
    atomic_write(
        &out.join("search.json"),
        (serde_json::to_string_pretty(&meta).expect("plain data") + "\n").as_bytes(),
    )?;
    let mut o = finish(out, grid, spec, &meta, &rows, None, opts)?;
    o.evaluated = rows.len() as u64;
    Ok(o)
}

/// The front (feasible, non-dominated) of `evals`, by design index.
fn feasible_front(evals: &[(u64, Eval)]) -> Vec<u64> {
    let feasible: Vec<&(u64, Eval)> = evals.iter().filter(|(_, e)| e.feasible()).collect();
    let mut front: Vec<u64> = feasible
        .iter()
        .filter(|(_, e)| {
            !feasible
                .iter()
                .any(|(_, f)| nsga2::dominates(&f.objectives, &e.objectives))
        })
        .map(|(d, _)| *d)
        .collect();
    front.sort_unstable();
    front
}

/// Objective normalisation over the feasible evaluated designs: (min, max) per objective.
fn bounds(evals: &[(u64, Eval)], k: usize) -> Vec<(f64, f64)> {
    (0..k)
        .map(|i| {
            evals
                .iter()
                .filter(|(_, e)| e.feasible())
                .map(|(_, e)| e.objectives[i])
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                    (lo.min(v), hi.max(v))
                })
        })
        .collect()
}

/// Normalised objectives (reference point 1.1 in every coordinate).
pub fn normalise(o: &[f64], b: &[(f64, f64)]) -> Vec<f64> {
    o.iter()
        .zip(b)
        .map(|(v, (lo, hi))| if hi > lo { (v - lo) / (hi - lo) } else { 0.0 })
        .collect()
}

fn finish(
    dir: &Path,
    grid: &Grid,
    spec: &Spec,
    meta: &SearchMeta,
    rows: &BTreeMap<u64, Vec<ResultRow>>,
    path: Option<SearchPath>,
    opts: &SearchOptions,
) -> Result<SearchOutcome, SweepError> {
    let keys = grid.keys();
    // results.csv, sorted by (design, model order).
    let mut f = AtomicFile::create(&dir.join("results.csv"))?;
    f.write(results::csv_line(&results::header(&keys)).as_bytes())?;
    for r in rows.values().flatten() {
        f.write(r.line(false).as_bytes())?;
    }
    f.commit()?;
    let evals: Vec<(u64, Eval)> = rows.iter().map(|(d, r)| (*d, spec.eval(r))).collect();
    let k = spec.objectives.len();
    let b = bounds(&evals, k);
    let reference = vec![1.1; k];
    let mut files = vec![dir.join("results.csv")];

    if let Some((generations, batches, seen)) = path {
        let mut text =
            String::from("generation,evaluated,feasible_in_population,front_size,hypervolume\n");
        // The feasible front of everything evaluated so far, kept incrementally.
        let mut front: Vec<u64> = Vec::new();
        for (g, batch) in generations.iter().zip(batches) {
            for d in batch {
                let e = &seen[d];
                if !e.feasible()
                    || front
                        .iter()
                        .any(|f| nsga2::dominates(&seen[f].objectives, &e.objectives))
                {
                    continue;
                }
                front.retain(|f| !nsga2::dominates(&e.objectives, &seen[f].objectives));
                front.push(*d);
            }
            let pts: Vec<Vec<f64>> = front
                .iter()
                .map(|d| normalise(&seen[d].objectives, &b))
                .collect();
            let feasible = g.population.iter().filter(|d| seen[d].feasible()).count();
            text.push_str(&format!(
                "{},{},{},{},{}\n",
                g.number,
                g.evaluated,
                feasible,
                front.len(),
                hypervolume(&pts, &reference)
            ));
        }
        atomic_write(&dir.join("generations.csv"), text.as_bytes())?;
        files.push(dir.join("generations.csv"));
    }

    let front = feasible_front(&evals);
    let eval_of: HashMap<u64, &Eval> = evals.iter().map(|(d, e)| (*d, e)).collect();
    let labels = spec.objective_labels();
    let clabels: Vec<String> = spec
        .constraints
        .iter()
        .map(|c| c.target.label(&spec.models))
        .collect();
    let mut header = vec!["design".to_string(), "design_id".to_string()];
    header.extend(keys.iter().cloned());
    header.extend(labels.iter().cloned());
    header.extend(clabels.iter().cloned());
    let mut text = results::csv_line(&header);
    let mut front_sorted = front.clone();
    front_sorted.sort_by(|a, b| {
        eval_of[a].objectives[0]
            .total_cmp(&eval_of[b].objectives[0])
            .then(a.cmp(b))
    });
    for d in &front_sorted {
        let r = &rows[d];
        let mut f = vec![d.to_string(), r[0].design_id.clone()];
        f.extend(r[0].params.iter().cloned());
        f.extend(
            eval_of[d]
                .objectives
                .iter()
                .enumerate()
                .map(|(i, v)| spec.shown(i, *v).to_string()),
        );
        f.extend(
            spec.constraint_values(r)
                .into_iter()
                .map(|v| v.map_or(String::new(), |v| v.to_string())),
        );
        text.push_str(&results::csv_line(&f));
    }
    atomic_write(&dir.join("front.csv"), text.as_bytes())?;
    files.push(dir.join("front.csv"));

    // The sweep analysis of the evaluated designs (not for an island).
    let island = path.is_some() && meta.shard.is_some_and(|s| s.count > 1);
    if !island {
        let mut an = Analyzer::new(grid, &spec.models);
        for r in rows.values().flatten() {
            an.push(r.clone());
        }
        an.finish();
        files.extend(analysis::write_analysis(
            dir,
            grid,
            &spec.models,
            &an,
            None,
            opts.png,
            opts.quiet,
        )?);
    }

    let (md, answer) = render_answer(
        grid,
        spec,
        meta,
        rows,
        &evals,
        &front_sorted,
        path.is_none(),
    );
    atomic_write(&dir.join("search.md"), md.as_bytes())?;
    files.push(dir.join("search.md"));
    Ok(SearchOutcome {
        dir: dir.to_path_buf(),
        designs: grid.len(),
        evaluated: 0,
        cached: 0,
        generations: 0,
        front: front.len(),
        answer,
        files,
    })
}

fn fmt_value(v: f64) -> String {
    if v == 0.0 || (1e-3..1e6).contains(&v.abs()) {
        format!("{}", (v * 1e4).round() / 1e4)
    } else {
        format!("{v:.4e}")
    }
}

#[allow(clippy::too_many_arguments)]
fn render_answer(
    grid: &Grid,
    spec: &Spec,
    meta: &SearchMeta,
    rows: &BTreeMap<u64, Vec<ResultRow>>,
    evals: &[(u64, Eval)],
    front: &[u64],
    merged: bool,
) -> (String, String) {
    let keys = grid.keys();
    let labels = spec.objective_labels();
    let params = |d: u64| {
        keys.iter()
            .zip(&rows[&d][0].params)
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let objectives = |e: &Eval| {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| format!("{l} = {}", fmt_value(spec.shown(i, e.objectives[i]))))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut o = String::new();
    o.push_str("# Design search\n\n");
    o.push_str(&format!(
        "NSGA-II (Deb et al., IEEE TEVC 2002) over the {} designs of the grid (keys: {}), models {}; objectives (minimised): {}; constraints: {}.\n\n",
        grid.len(),
        keys.join(", "),
        spec.models.join(", "),
        labels.join(", "),
        if meta.constraints.is_empty() { "none".to_string() } else { meta.constraints.join("; ") }
    ));
    o.push_str(&format!(
        "Seed {}, population {}{}; {} designs evaluated ({:.2} % of the grid).\n\n",
        meta.seed,
        meta.population,
        if merged {
            ", merged islands".to_string()
        } else {
            meta.shard
                .map_or(String::new(), |s| format!(", island {s}"))
        },
        evals.len(),
        100.0 * evals.len() as f64 / grid.len() as f64
    ));
    let answer;
    o.push_str("## Answer\n\n");
    let feasible: Vec<&(u64, Eval)> = evals.iter().filter(|(_, e)| e.feasible()).collect();
    if feasible.is_empty() {
        let closest = evals
            .iter()
            .filter(|(_, e)| e.violation.is_finite())
            .min_by(|a, b| a.1.violation.total_cmp(&b.1.violation).then(a.0.cmp(&b.0)));
        match closest {
            Some((d, e)) => {
                let vals = spec.constraint_values(&rows[d]);
                let detail: Vec<String> = spec
                    .constraints
                    .iter()
                    .zip(vals)
                    .map(|(c, v)| {
                        let v = v.unwrap_or(f64::NAN);
                        let met = c.violation_of(v) == 0.0;
                        format!(
                            "{} = {} ({}bound {}{})",
                            c.target.label(&spec.models),
                            fmt_value(v),
                            if met { "meets the " } else { "misses the " },
                            c.bound,
                            if met {
                                String::new()
                            } else {
                                format!(", off by {:.1} %", 100.0 * c.violation_of(v))
                            }
                        )
                    })
                    .collect();
                answer = format!(
                    "no evaluated design meets the constraints; the closest is design {d} ({}): {}",
                    params(*d),
                    detail.join("; ")
                );
                o.push_str(&format!("**No evaluated design meets the constraints.** The closest (smallest total relative violation, {:.3}) is design {d} ({}):\n\n", e.violation, params(*d)));
                for line in detail {
                    o.push_str(&format!("- {line}\n"));
                }
                o.push('\n');
            }
            None => {
                answer = "no design could be evaluated on every model (all invalid or infeasible)"
                    .into();
                o.push_str(&format!("**{answer}.**\n\n"));
            }
        }
    } else {
        let mut lines = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let (d, e) = feasible
                .iter()
                .min_by(|a, b| {
                    a.1.objectives[i]
                        .total_cmp(&b.1.objectives[i])
                        .then(a.0.cmp(&b.0))
                })
                .expect("non-empty");
            lines.push((l.clone(), *d, (*e).clone()));
        }
        let (l0, d0, e0) = &lines[0];
        answer = format!(
            "best {l0}{}: design {d0} ({}): {}",
            if spec.constraints.is_empty() {
                String::new()
            } else {
                " meeting the constraints".into()
            },
            params(*d0),
            objectives(e0)
        );
        o.push_str(&format!(
            "{} of the evaluated designs meet the constraints; {} are on the front.\n\n",
            feasible.len(),
            front.len()
        ));
        o.push_str("| best in | design | values | objectives |\n|---|---|---|---|\n");
        for (l, d, e) in &lines {
            o.push_str(&format!(
                "| {l} | {d} | {} | {} |\n",
                params(*d),
                objectives(e)
            ));
        }
        o.push('\n');
    }
    o.push_str(&format!(
        "## Front ({} designs, `front.csv`)\n\n",
        front.len()
    ));
    if !front.is_empty() {
        let eval_of: HashMap<u64, &Eval> = evals.iter().map(|(d, e)| (*d, e)).collect();
        o.push_str(&format!(
            "| design | {} | {} |\n|---|---|{}\n",
            keys.join(" | "),
            labels.join(" | "),
            "---|".repeat(keys.len() + labels.len() - 1)
        ));
        for d in front.iter().take(50) {
            let e = eval_of[d];
            o.push_str(&format!(
                "| {d} | {} | {} |\n",
                rows[d][0].params.join(" | "),
                (0..labels.len())
                    .map(|i| fmt_value(spec.shown(i, e.objectives[i])))
                    .collect::<Vec<_>>()
                    .join(" | ")
            ));
        }
        if front.len() > 50 {
            o.push_str(&format!("\n({} more in `front.csv`.)\n", front.len() - 50));
        }
        o.push('\n');
    }
    o.push_str("Files: `results.csv` (every evaluated design x model, the sweep format), `front.csv`, `generations.csv` (hypervolume per generation, objectives normalised over the feasible evaluated designs, reference 1.1), and the sweep analysis of the evaluated designs (`summary.md`, `pareto.csv`, `plots/`).\n");
    (o, answer)
}
