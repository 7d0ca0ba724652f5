//! `tinyaccel hdl emit|verify`: the RTL of the compute core (crate `hdl`).

use anyhow::{anyhow, Context};
use arch::{AccelConfig, Dataflow};
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum HdlCmd {
    /// Write the core's Verilog (top module `tinyaccel_core`) and a JSON copy of the
    /// config into DIR; `--check` also lints it (Verilator -Wall, yosys, no latches).
    Emit(EmitArgs),
    /// Run random and extreme GEMM tiles through the RTL in Verilator and through the
    /// simulator's core model; report how many are bit-exact and cycle-exact.
    Verify(VerifyArgs),
}

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Config file or preset name.
    #[arg(long, default_value = "edge-8x8")]
    pub config: String,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Override the config's dataflow (`output-stationary`/`os`, `weight-stationary`/`ws`).
    #[arg(long)]
    pub dataflow: Option<Dataflow>,
    /// Lint the emitted Verilog with Verilator and yosys.
    #[arg(long)]
    pub check: bool,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Config file or preset name.
    #[arg(long, default_value = "edge-8x8")]
    pub config: String,
    /// Tiles per dataflow.
    #[arg(long, default_value_t = 100)]
    pub cases: usize,
    /// Seed of the tile generator.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// `both` (default), `config` (the config's own), `os` or `ws`.
    #[arg(long, default_value = "both")]
    pub dataflow: String,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

fn load(spec: &str) -> anyhow::Result<AccelConfig> {
    AccelConfig::resolve(spec).map_err(|e| anyhow!(e.lines().join("\n")))
}

pub fn run(cmd: HdlCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        HdlCmd::Emit(a) => emit(a),
        HdlCmd::Verify(a) => verify(a),
    }
}

fn emit(a: EmitArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = load(&a.config)?;
    if let Some(d) = a.dataflow {
        cfg.dataflow = d;
    }
    let e = hdl::emit::emit(&cfg, &a.out)?;
    println!(
        "{}: {}x{} {} core, config hash {}, {} bytes",
        e.verilog.display(),
        cfg.rows,
        cfg.cols,
        cfg.dataflow,
        e.hash,
        e.verilog_bytes
    );
    println!("{}: config copy", e.config_json.display());
    if a.check {
        let r = hdl::emit::lint(&e.verilog).context("linting the emitted Verilog")?;
        let waived: Vec<&str> = hdl::emit::VERILATOR_WAIVERS.iter().map(|w| w.0).collect();
        if r.verilator_warnings.is_empty() {
            println!(
                "verilator --lint-only -Wall: clean ({:.1} s; waived: {})",
                r.verilator_seconds,
                waived.join(", ")
            );
        } else {
            for w in &r.verilator_warnings {
                eprintln!("{w}");
            }
            eprintln!(
                "verilator --lint-only -Wall: {} warnings",
                r.verilator_warnings.len()
            );
            return Ok(ExitCode::from(1));
        }
        println!(
            "yosys hierarchy -check; proc: ok, {} latches ({:.1} s)",
            r.latches, r.yosys_seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let cfg = load(&a.config)?;
    let flows: Vec<Dataflow> = match a.dataflow.as_str() {
        "both" => vec![Dataflow::OutputStationary, Dataflow::WeightStationary],
        "config" => vec![cfg.dataflow],
        other => vec![other
            .parse::<Dataflow>()
            .map_err(|e| anyhow!("--dataflow: {e} (or `both`, `config`)"))?],
    };
    if a.cases == 0 {
        return Err(anyhow!("--cases: must be at least 1"));
    }
    let work = WorkDir::new()?;
    let mut reports = Vec::new();
    for df in flows {
        let mut c = cfg.clone();
        c.dataflow = df;
        let dir = work.0.join(df.as_str());
        let mut progress = |s: &str| eprintln!("tinyaccel hdl verify: {s}");
        let r = hdl::verify::verify_dataflow(&c, a.cases, a.seed, &dir, &mut progress)?;
        reports.push((c, r));
    }
    let all_ok = reports
        .iter()
        .all(|(_, r)| r.bit_exact == r.cases && r.cycle_exact == r.cases);
    if a.json {
        let v = serde_json::json!({
            "config": cfg.name,
            "rows": cfg.rows,
            "cols": cfg.cols,
            "seed": a.seed,
            "cases": reports.iter().map(|(_, r)| r.cases).sum::<usize>(),
            "bit_exact": reports.iter().map(|(_, r)| r.bit_exact).sum::<usize>(),
            "cycle_exact": reports.iter().map(|(_, r)| r.cycle_exact).sum::<usize>(),
            "dataflows": reports.iter().map(|(c, r)| {
                let mut j = r.to_json();
                j["config_hash"] = serde_json::json!(c.hash());
                j
            }).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (c, r) in &reports {
            println!(
                "{} {}x{} {} (hash {}): {} tiles, {} bit-exact, {} cycle-exact; simulator core model agrees with the reference on {}",
                c.name, c.rows, c.cols, r.dataflow, c.hash(), r.cases, r.bit_exact, r.cycle_exact, r.sim_agrees
            );
            println!(
                "  speed: Verilator {:.0} cycles/s ({} cycles in {:.3} s, file I/O included), simulator core model {:.0} cycles/s ({} cycles in {:.3} s)",
                r.verilator_cycles_per_s(), r.verilator_cycles, r.verilator_seconds,
                r.sim_cycles_per_s(), r.sim_cycles, r.sim_seconds
            );
            for f in &r.failures {
                println!("  MISMATCH {f}");
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// A private folder for stimulus and results, removed when dropped.
struct WorkDir(PathBuf);

impl WorkDir {
    fn new() -> anyhow::Result<Self> {
        let p = std::env::temp_dir().join(format!("tinyaccel-hdl-verify-{}", std::process::id()));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(WorkDir(p))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
