//! `tinyaccel search`: constraint-driven design-space search (NSGA-II) over the designs of
//! a grid file, with the sweep's evaluator (tile-level model); resumable and shardable into
//! islands; `tinyaccel search merge` combines islands.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use driver::delegate::{CmdStreams, Policy};
use reports::search::{SearchOptions, Spec};
use reports::sweep::{Grid, Shard};
use runtime::cost::CpuProfile;
use std::path::PathBuf;
use std::process::ExitCode;

use super::sweep::{check_jobs, evaluate_budget, sweep_models};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub merge: Option<SearchCmd>,
    /// Grid file of the design space (as for `sweep`): `base = ...` and a `[sweep]` table
    /// of value lists; every list is one gene (numeric lists ordered, others categorical).
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Models: built-in names, `all`, .tflite files or SCALE-Sim topologies (.csv).
    /// Default: all four built-ins.
    #[arg(long = "model", num_args = 1.., value_delimiter = ',')]
    pub models: Vec<String>,
    /// Objectives to minimise: `latency`, `energy`, `area`, `edp`, or `MODEL.METRIC`
    /// (`kws.latency`); a metric without a model is the geometric mean over the models.
    /// Metrics: latency_ms, latency_us, energy_uj, area_mm2, edp, speedup, energy_ratio,
    /// array_utilization (the last three maximised).
    #[arg(long = "objective", num_args = 1.., value_delimiter = ',', default_value = "latency,energy,area")]
    pub objectives: Vec<String>,
    /// A constraint, `TARGET <= BOUND` or `TARGET >= BOUND` (repeatable), e.g.
    /// `--constraint 'kws.latency_ms <= 1' --constraint 'kws.energy_uj <= 50'`; a metric
    /// without a model must hold on every model.
    #[arg(long = "constraint")]
    pub constraints: Vec<String>,
    /// Designs per generation.
    #[arg(long, default_value_t = 40)]
    pub population: usize,
    /// Most designs to evaluate (default: 10 % of the grid, at least 200).
    #[arg(long)]
    pub budget: Option<u64>,
    /// Seed of the search (same seed, grid and evaluator: same path and result).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// CPU profile of the baseline and of the CPU side of the offloaded run.
    #[arg(long, default_value = "cortex-m4f")]
    pub cpu: String,
    /// Offload policy: auto, all, none.
    #[arg(long, default_value = "auto")]
    pub policy: Policy,
    /// Output folder (reused to resume an interrupted search or to extend its budget).
    #[arg(long, default_value = "tinyaccel-search")]
    pub out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run island I of N (own seed, budget/N designs), e.g. as a SLURM array task;
    /// `search merge` combines the islands.
    #[arg(long)]
    pub shard: Option<Shard>,
    /// SVG plots only (no PNG copies).
    #[arg(long)]
    pub no_png: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum SearchCmd {
    /// Combine islands (`--shard I/N` outputs of one search) into one front and analysis.
    Merge {
        /// Island output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "tinyaccel-search")]
        out: PathBuf,
        #[arg(long)]
        no_png: bool,
        #[arg(long)]
        quiet: bool,
    },
}

/// The default budget: 10 % of the grid, at least 200 designs (at most the grid).
pub fn default_budget(designs: u64) -> u64 {
    (designs / 10).max(200).min(designs)
}

pub fn run(args: SearchArgs) -> Result<ExitCode> {
    if let Some(SearchCmd::Merge {
        dirs,
        out,
        no_png,
        quiet,
    }) = args.merge
    {
        if let Some(d) = dirs.iter().find(|d| super::same_file(d, &out)) {
            anyhow::bail!(
                "search merge --out {}: is the island folder {}; give a new folder for the merged result",
                out.display(),
                d.display()
            );
        }
        let first = &dirs[0];
        let path = first.join("search.json");
        let meta: reports::search::SearchMeta = serde_json::from_str(
            &std::fs::read_to_string(&path).with_context(|| format!("{}", path.display()))?,
        )
        .with_context(|| format!("{}: not a search description", path.display()))?;
        let grid = Grid::from_toml_str(&meta.grid, &path.display().to_string(), first)?;
        let spec = Spec::parse(&meta.models, &meta.objectives, &meta.constraints)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{}", path.display()))?;
        let opts = SearchOptions {
            out_dir: out,
            jobs: None,
            shard: None,
            quiet,
            png: !no_png,
            population: meta.population,
            budget: 0,
            seed: meta.seed,
            evaluation: meta.evaluation.clone(),
        };
        let o = reports::search::merge_search(&dirs, &grid, &spec, &opts)?;
        outln!(
            "merged {} islands: {} designs evaluated, {} on the feasible front -> {}",
            dirs.len(),
            o.evaluated,
            o.front,
            o.dir.display()
        );
        outln!("{}", o.answer);
        return Ok(ExitCode::SUCCESS);
    }
    let grid_path = args
        .grid
        .as_ref()
        .context("`tinyaccel search` needs --grid FILE (or the `merge` subcommand)")?;
    let grid = Grid::load(grid_path)?;
    let (o, elapsed_s) = search_grid(&args, &grid)?;
    outln!(
        "{} of {} designs evaluated ({} from an earlier run) in {} generations, {:.2} s; {} on the feasible front -> {}",
        o.evaluated,
        o.designs,
        o.cached,
        o.generations,
        elapsed_s,
        o.front,
        o.dir.display()
    );
    outln!("{}", o.answer);
    Ok(ExitCode::SUCCESS)
}

/// The search over `grid` with the options of `args` (its `grid` and `merge` unused):
/// writes its files into `args.out` and returns the outcome and the seconds the search
/// took (models loaded before the clock starts). The library's entry point (a grid given
/// as a table by the Python package).
pub fn search_grid(
    args: &SearchArgs,
    grid: &Grid,
) -> Result<(reports::search::SearchOutcome, f64)> {
    let cpu = CpuProfile::resolve(&args.cpu)?;
    let specs = super::report::model_specs(&args.models);
    let spec =
        Spec::parse(&specs, &args.objectives, &args.constraints).map_err(anyhow::Error::msg)?;
    let models = sweep_models(&specs, &cpu)?;
    let policy = args.policy;
    let streams = CmdStreams::default();
    let cpu_hash = reports::record::CpuProfileSummary::from_serialize(cpu.name(), cpu.data())?.hash;
    let opts = SearchOptions {
        out_dir: args.out.clone(),
        jobs: check_jobs(args.jobs)?,
        shard: args.shard,
        quiet: args.quiet,
        png: !args.no_png,
        population: args.population,
        budget: args.budget.unwrap_or_else(|| default_budget(grid.len())),
        seed: args.seed,
        evaluation: format!(
            "cpu {} (profile {cpu_hash}), policy {:?}, cmd-streams {streams}",
            cpu.spec(),
            policy
        ),
    };
    let t0 = std::time::Instant::now();
    let o = reports::search::run_search(
        grid,
        &spec,
        |cfg, m| evaluate_budget(cfg, &models[m], policy, streams, false),
        &opts,
    )?;
    Ok((o, t0.elapsed().as_secs_f64()))
}
