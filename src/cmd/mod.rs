//! One module per subcommand. Each exposes an `Args` struct (clap) and a `run` function
//! returning `anyhow::Result<ExitCode>`.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

pub mod ablate;
pub mod accel;
pub mod bench;
pub mod budget;
pub mod compress;
pub mod config;
pub mod cpus;
pub mod hdl;
pub mod models;
pub mod report;
pub mod run;
pub mod search;
pub mod sim;
pub mod sweep;

/// tinyaccel: a co-design simulator for TinyML int8 accelerators.
#[derive(Debug, Parser)]
#[command(name = "tinyaccel", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// In-process timings: load once, time N inferences on the CPU kernels or, with
    /// --accel, on the simulated accelerator (min, median, max; simulated cycles/s).
    Bench(bench::BenchArgs),
    /// Top-1 agreement of a compressed model with its dense model on golden and seeded
    /// random inputs (agreement, not accuracy).
    Compare(compress::CompareArgs),
    /// Show or validate accelerator configurations.
    #[command(subcommand)]
    Config(config::ConfigCmd),
    /// List the CPU profiles of the pure-CPU baseline, or show one in detail.
    Cpus(cpus::CpusArgs),
    /// The accelerator's RTL: emit the compute core's Verilog, verify the core and the whole system (`verify --system`: driver programs and whole models) in Verilator against the simulator, synthesize for area.
    #[command(subcommand)]
    Hdl(hdl::HdlCmd),
    /// List the built-in MLPerf Tiny models.
    Models(models::ModelsArgs),
    /// Magnitude pruning (2:4, unstructured, channel) of the int8 weights of conv,
    /// depthwise and fully connected layers, written as a .tflite file.
    Prune(compress::PruneArgs),
    /// Per-channel int4 weights (TFLite INT4 tensors, two per byte), written as a .tflite file.
    Quantize(compress::QuantizeArgs),
    /// Latency and energy of the accelerator vs the pure CPU, per layer and per model:
    /// Markdown, CSV, JSON, SVG/PNG plots and HTML (the main job).
    Report(report::ReportArgs),
    /// Run one inference of a model on the CPU reference kernels (bit-exact with TFLite-Micro),
    /// optionally with its conv/FC layers offloaded to the simulated accelerator (--accel).
    Run(run::RunArgs),
    /// Constraint-driven design search (NSGA-II) over a grid's designs: the front of the
    /// objectives, the best design meeting the constraints (resumable; islands with
    /// --shard, `search merge` combines them).
    Search(search::SearchArgs),
    /// Simulate one GEMM on the accelerator (cycle-level, functional or tile-level model).
    #[command(subcommand)]
    Sim(sim::SimCmd),
    /// Design-space sweep over a grid of configurations, with Pareto fronts (resumable,
    /// shardable); `sweep merge` combines shards.
    Sweep(sweep::SweepArgs),
}

/// Dispatches a parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Bench(a) => bench::run(a),
        Command::Compare(a) => compress::compare(a),
        Command::Config(c) => config::run(c),
        Command::Cpus(a) => cpus::run(a),
        Command::Hdl(c) => hdl::run(c),
        Command::Models(a) => models::run(a),
        Command::Prune(a) => compress::prune(a),
        Command::Quantize(a) => compress::quantize(a),
        Command::Report(a) => report::run(a),
        Command::Run(a) => run::run(a),
        Command::Search(a) => search::run(a),
        Command::Sim(c) => sim::run(c),
        Command::Sweep(a) => sweep::run(a),
    }
}

/// Whether `a` and `b` name the same existing file or folder (same device and inode:
/// through symbolic links, hard links and `./` spellings alike). A path that does not
/// exist is nobody's file.
pub fn same_file(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => {
            #[cfg(unix)]
            {
                use std::os::unix::fs::MetadataExt;
                x.dev() == y.dev() && x.ino() == y.ino()
            }
            #[cfg(not(unix))]
            {
                let _ = (x, y);
                matches!((a.canonicalize(), b.canonicalize()), (Ok(p), Ok(q)) if p == q)
            }
        }
        _ => false,
    }
}
