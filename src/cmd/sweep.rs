//! `tinyaccel sweep`: design-space exploration over a grid of accelerator configurations,
//! evaluated with the simulator's tile-level model on every chosen model, resumable and
//! shardable; `tinyaccel sweep merge` combines shards.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use driver::delegate::{self, ModelFacts, Policy};
use reports::schema;
use reports::sweep::{EvalError, Grid, MergeOptions, Metrics, Shard, SweepOptions};
use runtime::cost::CpuProfile;
use runtime::{Interpreter, PreparedOp};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub merge: Option<SweepCmd>,
    /// Grid file: `base = "configs/edge-8x8.toml"` and a `[sweep]` table of value lists.
    #[arg(long)]
    pub grid: Option<PathBuf>,
    /// Models: built-in names, `all`, or .tflite files. Default: all four built-ins.
    #[arg(long = "model", num_args = 1.., value_delimiter = ',')]
    pub models: Vec<String>,
    /// CPU profile of the baseline and of the CPU side of the offloaded run.
    #[arg(long, default_value = "cortex-m4f")]
    pub cpu: String,
    /// Offload policy: auto, all, none.
    #[arg(long, default_value = "auto")]
    pub policy: Policy,
    /// Output folder (reused to resume an interrupted sweep).
    #[arg(long, default_value = "tinyaccel-sweep")]
    pub out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Evaluate only shard I of N (0-based), e.g. `--shard 3/16`.
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
pub enum SweepCmd {
    /// Combine the outputs of shards into one result set and one Pareto analysis.
    Merge {
        /// Shard output folders.
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder.
        #[arg(long, default_value = "tinyaccel-sweep")]
        out: PathBuf,
        #[arg(long)]
        no_png: bool,
        #[arg(long)]
        quiet: bool,
    },
}

/// Design-independent facts of every model (computed once, shared by all designs).
pub fn model_facts(specs: &[String], cpu: &CpuProfile) -> Result<Vec<ModelFacts>> {
    specs
        .iter()
        .map(|s| {
            let graph = models::resolve(s)?;
            let interp = Interpreter::new(&graph)?;
            let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
                .map(|i| interp.prepared(i).context("op not prepared"))
                .collect::<Result<_>>()?;
            Ok(ModelFacts::new(&graph, &prepared, cpu))
        })
        .collect()
}

/// The metrics of one design on one model (tile-level model), under the result schema's
/// names (docs/results-schema.md).
pub fn evaluate(cfg: &arch::AccelConfig, facts: &ModelFacts, policy: Policy) -> Metrics {
    let layers =
        delegate::estimate_model(facts, cfg, policy, |c, p| sim::tile::estimate(c, p).ok());
    let offload_us: f64 = layers.iter().map(|l| l.total_us).sum();
    let offload_uj: f64 = layers.iter().map(|l| l.total_uj).sum();
    let accel_macs: u64 = layers.iter().map(|l| l.device_counters.macs).sum();
    let accel_cycles: u64 = layers.iter().map(|l| l.device_counters.cycles).sum();
    let peak = cfg.peak_macs_per_cycle();
    Metrics {
        offload_us,
        offload_uj,
        array_utilization: schema::array_utilization(accel_macs, accel_cycles, peak),
        mac_utilization: schema::mac_utilization(accel_macs, offload_us, cfg.clock_mhz, peak),
        cpu_us: facts.cpu_us(),
        cpu_uj: facts.cpu_uj(),
        area_mm2: Some(cfg.area_mm2()),
        memory: None,
    }
}

pub fn run(args: SweepArgs) -> Result<ExitCode> {
    if let Some(SweepCmd::Merge {
        dirs,
        out,
        no_png,
        quiet,
    }) = args.merge
    {
        let o = reports::sweep::merge(
            &dirs,
            &out,
            &MergeOptions {
                quiet,
                png: !no_png,
            },
        )?;
        println!(
            "merged {} shards: {} rows ({} ok, {} infeasible, {} invalid) into {}",
            dirs.len(),
            o.rows,
            o.ok,
            o.infeasible,
            o.invalid,
            o.dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    let grid_path = args
        .grid
        .as_ref()
        .context("`tinyaccel sweep` needs --grid FILE (or the `merge` subcommand)")?;
    let grid = Grid::load(grid_path)?;
    let cpu = CpuProfile::resolve(&args.cpu)?;
    let specs = super::report::model_specs(&args.models);
    let facts = model_facts(&specs, &cpu)?;
    let policy = args.policy;
    let mut opts = SweepOptions::new(&args.out);
    opts.jobs = args.jobs;
    opts.shard = args.shard;
    opts.quiet = args.quiet;
    opts.png = !args.no_png;
    let t0 = std::time::Instant::now();
    let o = reports::sweep::run_sweep(
        &grid,
        &specs,
        |cfg, m| -> Result<Metrics, EvalError> { Ok(evaluate(cfg, &facts[m], policy)) },
        &opts,
    )?;
    println!(
        "{} designs x {} models: {} rows ({} evaluated now, {} resumed; {} ok, {} infeasible, {} invalid) in {:.2} s -> {}",
        o.designs,
        specs.len(),
        o.rows,
        o.evaluated,
        o.reused,
        o.ok,
        o.infeasible,
        o.invalid,
        t0.elapsed().as_secs_f64(),
        o.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
