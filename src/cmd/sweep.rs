//! `tinyaccel sweep`: design-space exploration over a grid of accelerator configurations,
//! evaluated with the simulator's tile-level model on every chosen model, resumable and
//! shardable; `tinyaccel sweep merge` combines shards.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use driver::delegate::{self, CmdStreams, LayerRun, ModelFacts, Placement, Policy};
use reports::schema;
use reports::sweep::{EvalError, Grid, MemoryUse, MergeOptions, Metrics, Shard, SweepOptions};
use runtime::cost::CpuProfile;
use runtime::footprint::CpuMemory;
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
    /// Models: built-in names, `all`, .tflite files or SCALE-Sim topologies (.csv).
    /// Default: all four built-ins.
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
    /// Budget constraints and the command-stream policy (`--rate`/`--deadline`,
    /// `--battery`, `--accel-sleep` override the grid's `[constraints]` key by key).
    #[command(flatten)]
    pub budget: super::budget::BudgetArgs,
    /// Keep only designs meeting these: `fits` (flash and SRAM), `fits_sram`,
    /// `fits_flash`, `deadline`, `battery>=HOURS` (e.g. `fits,deadline,battery>=8760`).
    #[arg(long, value_name = "LIST")]
    pub require: Option<String>,
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

/// A model of a sweep: its design-independent facts and its design-independent memory
/// facts (model flash, runtime and kernel code, arena, CPU scratch buffers).
pub struct SweepModel {
    pub facts: ModelFacts,
    pub cpu_mem: CpuMemory,
}

/// The models of a sweep (loaded and prepared once, shared by all designs).
pub fn sweep_models(specs: &[String], cpu: &CpuProfile) -> Result<Vec<SweepModel>> {
    specs
        .iter()
        .map(|s| {
            let graph = models::resolve(s)?;
            let interp = Interpreter::new(&graph)?;
            let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
                .map(|i| interp.prepared(i).context("op not prepared"))
                .collect::<Result<_>>()?;
            let facts = ModelFacts::new(&graph, &prepared, cpu);
            let cpu_mem = CpuMemory::new(&interp, cpu, super::budget::file_bytes(s))
                .with_context(|| format!("memory facts of {s}"))?;
            Ok(SweepModel { facts, cpu_mem })
        })
        .collect()
}

/// Entries of each sweep thread's tile-level memo (a few MB; then it starts over).
const TILE_CACHE_ENTRIES: usize = 1 << 16;

thread_local! {
    /// Each sweep thread's memo of the tile-level model: designs that differ only in
    /// clock, technology node or energy/area tables, and the partitioner and the
    /// accounting of one evaluation, cost each GEMM once (`sim::tile::TileCache`).
    static TILE_CACHE: std::cell::RefCell<sim::tile::TileCache> =
        std::cell::RefCell::new(sim::tile::TileCache::new(TILE_CACHE_ENTRIES));
}

/// The per-layer tile-level estimate of one design on one model, with the CPU cost of the
/// command-stream policy (`CmdStreams::Generate` adds CPU cycles per command).
pub fn estimate(
    cfg: &arch::AccelConfig,
    facts: &ModelFacts,
    policy: Policy,
    streams: CmdStreams,
) -> Vec<LayerRun> {
    let mut layers = delegate::estimate_model(facts, cfg, policy, |c, p| {
        TILE_CACHE.with(|cache| cache.borrow_mut().estimate(c, p))
    });
    delegate::apply_cmd_streams(&mut layers, cfg, &facts.cpu, streams);
    layers
}

/// The metrics of one design on one model (tile-level model), under the result schema's
/// names (docs/results-schema.md), with the command-stream policy and, when
/// `with_memory`, the memory footprint of the offloaded deployment against the CPU
/// profile's capacities ([`memory_use`]).
pub fn evaluate_budget(
    cfg: &arch::AccelConfig,
    model: &SweepModel,
    policy: Policy,
    streams: CmdStreams,
    with_memory: bool,
) -> Result<Metrics, EvalError> {
    let layers = estimate(cfg, &model.facts, policy, streams);
    let mut m = metrics(cfg, &model.facts, &layers);
    if with_memory {
        m.memory = Some(memory_use(cfg, model, &layers, streams));
    }
    Ok(m)
}

/// The footprint of the placement of `layers` (an estimate's) against the capacities:
/// `driver::delegate::footprint_of` with the driver's regions and streams from the
/// estimate (`driver_memory_estimate`, equal to a real load of the delegate; nothing is
/// packed or built, so it is cheap enough for every design x model).
pub fn memory_use(
    cfg: &arch::AccelConfig,
    model: &SweepModel,
    layers: &[LayerRun],
    streams: CmdStreams,
) -> MemoryUse {
    let cpu = &model.facts.cpu;
    let mem = delegate::driver_memory_estimate(&model.facts, cfg, layers);
    let on_accel = |i: usize| {
        layers
            .get(i)
            .is_some_and(|l| l.index == i && l.placement == Placement::Accel)
    };
    let fit = delegate::footprint_of(&model.cpu_mem, &on_accel, &mem, streams, cpu).fit(cpu);
    MemoryUse {
        flash_used: fit.flash_used,
        flash_cap: fit.flash_cap,
        sram_used: fit.sram_used,
        sram_cap: fit.sram_cap,
    }
}

fn metrics(cfg: &arch::AccelConfig, facts: &ModelFacts, layers: &[LayerRun]) -> Metrics {
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

/// The command-line constraints of a sweep (each given flag overrides the grid's value).
pub fn constraint_args(args: &SweepArgs) -> Result<reports::sweep::ConstraintArgs> {
    use reports::budget::Deadline;
    let b = &args.budget;
    Ok(reports::sweep::ConstraintArgs {
        rate_hz: match b.rate.as_deref() {
            Some(t) => Deadline::parse_rate(t)
                .with_context(|| format!("--rate {t}"))?
                .rate_hz(),
            None => None,
        },
        deadline_ms: b
            .deadline
            .as_deref()
            .map(|t| {
                Deadline::parse_latency_ms(t)
                    .map(|d| d.budget_us() / 1000.0)
                    .with_context(|| format!("--deadline {t}"))
            })
            .transpose()?,
        battery: b.battery.clone(),
        accel_sleep: b.accel_sleep()?,
        require: args.require.clone(),
    })
}

/// Most `--jobs` threads: four per core, at most [`MAX_JOBS`] (more threads than that
/// only add scheduling and memory; 100000 threads took minutes to start).
pub const MAX_JOBS: usize = 256;

/// `--jobs N` within 0 (one per core, the default) ..= min(4 x cores, [`MAX_JOBS`]).
pub fn check_jobs(jobs: Option<usize>) -> Result<Option<usize>> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = (4 * cores).min(MAX_JOBS);
    match jobs {
        Some(n) if n > max => anyhow::bail!(
            "--jobs {n}: at most {max} worker threads (4 per core on {cores} cores, at most {MAX_JOBS})"
        ),
        other => Ok(other),
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
        // The merged output is written into --out: never onto one of the shards it reads.
        if let Some(d) = dirs.iter().find(|d| super::same_file(d, &out)) {
            anyhow::bail!(
                "sweep merge --out {}: is the shard folder {}; give a new folder for the merged result",
                out.display(),
                d.display()
            );
        }
        let o = reports::sweep::merge(
            &dirs,
            &out,
            &MergeOptions {
                quiet,
                png: !no_png,
            },
        )?;
        outln!(
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
    let (o, elapsed_s) = sweep_grid(&args, &grid)?;
    outln!(
        "{} designs x {} models: {} rows ({} evaluated now, {} resumed; {} ok, {} infeasible, {} invalid) in {:.2} s -> {}",
        o.designs,
        super::report::model_specs(&args.models).len(),
        o.rows,
        o.evaluated,
        o.reused,
        o.ok,
        o.infeasible,
        o.invalid,
        elapsed_s,
        o.dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The sweep of `grid` with the options of `args` (its `grid` and `merge` unused): writes
/// `results.csv` and the analysis into `args.out` and returns the outcome and the seconds
/// the evaluation took (models loaded before the clock starts). The library's entry
/// point (a grid given as a table by the Python package).
pub fn sweep_grid(args: &SweepArgs, grid: &Grid) -> Result<(reports::sweep::SweepOutcome, f64)> {
    let cpu = CpuProfile::resolve(&args.cpu)?;
    let specs = super::report::model_specs(&args.models);
    let sweep_models = sweep_models(&specs, &cpu)?;
    let policy = args.policy;
    let streams = args.budget.cmd_streams()?.unwrap_or_default();
    let mut opts = SweepOptions::new(&args.out);
    opts.jobs = check_jobs(args.jobs)?;
    opts.shard = args.shard;
    opts.quiet = args.quiet;
    opts.png = !args.no_png;
    opts.cpu_sleep_uw = Some(cpu.sleep_uw());
    let cpu_hash = reports::record::CpuProfileSummary::from_serialize(cpu.name(), cpu.data())?.hash;
    opts.evaluation = format!(
        "cpu {} (profile {cpu_hash}), policy {:?}, cmd-streams {streams}",
        cpu.spec(),
        policy
    );
    opts.constraints = constraint_args(args)?;
    // The footprint is computed only when the sweep has constraints (budget columns).
    let with_memory = opts.resolve_constraints(grid)?.is_some();
    let t0 = std::time::Instant::now();
    let o = reports::sweep::run_sweep(
        grid,
        &specs,
        |cfg, m| evaluate_budget(cfg, &sweep_models[m], policy, streams, with_memory),
        &opts,
    )?;
    Ok((o, t0.elapsed().as_secs_f64()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweep's footprint (from the estimate, nothing built) is the driver's footprint
    /// of a real load with the same placement; moving the command streams to flash moves exactly
    /// their bytes; without `with_memory` nothing is computed.
    #[test]
    fn sweep_footprint_matches_the_driver_and_follows_the_policy() {
        let cpu = CpuProfile::resolve("cortex-m4f").unwrap();
        let cfg = arch::AccelConfig::preset("edge-8x8").unwrap();
        let ms = sweep_models(&["kws".to_string()], &cpu).unwrap();
        let m = &ms[0];
        // Under `all` the placement does not depend on the estimator, so `plan` gives the
        // same decisions as the tile-level estimate.
        let interp = Interpreter::new(&models::resolve("kws").unwrap()).unwrap();
        let prepared: Vec<&PreparedOp> = (0..interp.graph().ops.len())
            .map(|i| interp.prepared(i).unwrap())
            .collect();
        let decisions = delegate::plan(interp.graph(), &prepared, &cfg, &cpu, Policy::All);
        assert!(decisions.iter().any(|d| d.placement == Placement::Accel));
        for streams in [CmdStreams::Sram, CmdStreams::Flash, CmdStreams::Generate] {
            let got = evaluate_budget(&cfg, m, Policy::All, streams, true)
                .unwrap()
                .memory
                .unwrap();
            let fp = delegate::footprint(&interp, &cfg, &cpu, &decisions, streams, None)
                .unwrap()
                .fit(&cpu);
            assert_eq!(
                (got.flash_used, got.sram_used, got.flash_cap, got.sram_cap),
                (fp.flash_used, fp.sram_used, fp.flash_cap, fp.sram_cap),
                "{streams}"
            );
        }
        let sram = evaluate_budget(&cfg, m, Policy::All, CmdStreams::Sram, true).unwrap();
        let flash = evaluate_budget(&cfg, m, Policy::All, CmdStreams::Flash, true).unwrap();
        let (a, b) = (sram.memory.unwrap(), flash.memory.unwrap());
        let moved = a.sram_used - b.sram_used;
        assert!(moved > 0);
        assert_eq!(b.flash_used - a.flash_used, moved);
        // Same latency and energy: only `generate` costs CPU time.
        assert_eq!(sram.offload_us, flash.offload_us);
        let gen = evaluate_budget(&cfg, m, Policy::All, CmdStreams::Generate, false).unwrap();
        assert!(gen.offload_us > sram.offload_us);
        assert!(gen.memory.is_none());
    }
}
