//! `tinyaccel report`: latency and energy of the accelerator against the pure-CPU
//! baseline, per layer and per model: Markdown, CSV, JSON, SVG/PNG plots and HTML.

use anyhow::{Context, Result};
use arch::AccelConfig;
use clap::Args;
use driver::delegate::{ModelRun, Policy};
use models::Graph;
use reports::record::{CpuProfileSummary, LayerRow, ModelReport, Provenance, Target};
use reports::schema::pj_to_uj;
use reports::{ConfigSummary, Report};
use runtime::cost::{graph_cost, CpuProfile};
use serde_json::json;
use std::path::PathBuf;
use std::process::ExitCode;

use super::budget::{Budget, BudgetArgs};
use super::{ablate, accel};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Models: built-in names (kws, vww, ic, ad), `all`, .tflite files or SCALE-Sim
    /// topologies (.csv). Default: all.
    #[arg(long = "model", num_args = 1.., value_delimiter = ',')]
    pub models: Vec<String>,
    /// Accelerator configuration: a TOML file or a preset name.
    #[arg(long, default_value = arch::config::DEFAULT_PRESET)]
    pub accel: String,
    /// CPU profiles (NAME[@CLOCK][:LIBRARY] or FILE.toml); each model runs against each.
    /// Default: the default core with both kernel libraries, `cortex-m4f` (reference)
    /// and `cortex-m4f:cmsis-nn`; the summary shows them side by side.
    #[arg(long = "cpu", num_args = 1.., default_values = ["cortex-m4f", "cortex-m4f:cmsis-nn"])]
    pub cpus: Vec<String>,
    /// Output folder.
    #[arg(long, default_value = reports::DEFAULT_REPORT_DIR)]
    pub out: PathBuf,
    /// Offload policy: auto (offload where faster), all, none.
    #[arg(long, default_value = "auto")]
    pub policy: Policy,
    /// Skip the PNG copies of the plots (SVG only).
    #[arg(long)]
    pub no_png: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
    /// Feature ablation: FEATURE,... of `im2col`, `dma_outstanding`, `depthwise`,
    /// `pooling`, `eltwise`. Every model also runs
    /// with the features off, each on alone and all on; the table is printed and written
    /// as ablation.md/.csv/.json in the report folder. `dma_outstanding` on = the base
    /// configuration's value if > 1, else 4.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub ablate: Vec<String>,
    /// Output formats, FORMAT,...: `tinyaccel` (report.md/.csv/.json, plots, index.html)
    /// and `scalesim` (per-layer results in SCALE-Sim's COMPUTE_REPORT.csv layout,
    /// scalesim/<model>/COMPUTE_REPORT.csv in the output folder; docs/scalesim.md).
    #[arg(long = "format", value_delimiter = ',', num_args = 1.., default_value = "tinyaccel")]
    pub formats: Vec<ReportFormat>,
    #[command(flatten)]
    pub budget: BudgetArgs,
}

/// What `report` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// report.md, report.csv, report.json, plots, index.html.
    Tinyaccel,
    /// scalesim/<model>/COMPUTE_REPORT.csv.
    Scalesim,
}

/// Expands `all` and the default into the built-in names.
pub fn model_specs(given: &[String]) -> Vec<String> {
    if given.is_empty() {
        return models::BUILTIN_NAMES
            .iter()
            .map(|s| s.to_string())
            .collect();
    }
    let mut v = Vec::new();
    for g in given {
        if g == "all" {
            v.extend(models::BUILTIN_NAMES.iter().map(|s| s.to_string()));
        } else {
            v.push(g.clone());
        }
    }
    v
}

/// The summary of a CPU profile recorded in reports.
pub fn cpu_summary(cpu: &CpuProfile) -> Result<CpuProfileSummary> {
    Ok(CpuProfileSummary::from_serialize(
        &cpu.spec(),
        &json!({"core": cpu.data(), "clock_mhz": cpu.clock_mhz(), "library": cpu.library_name()}),
    )?)
}

/// One model's report rows from a timed offloaded run and the pure-CPU baseline (also
/// what `run --accel --json` prints per layer).
pub fn model_report(
    name: &str,
    source: &str,
    graph: &Graph,
    cfg: &AccelConfig,
    cpu: &CpuProfile,
    run: &ModelRun,
    budget: &Budget,
) -> Result<ModelReport> {
    let base = graph_cost(cpu, graph).map_err(|e| anyhow::anyhow!("model {name}: {e}"))?;
    let interp = runtime::Interpreter::new(graph)?;
    let layers = run
        .layers
        .iter()
        .zip(&run.decisions)
        .zip(interp.layers())
        .zip(&base.layers)
        .map(|(((l, d), info), b)| {
            let [busy, stall, cpu_side, driver] = accel::time_parts(cfg, l);
            let e = &l.device_energy;
            let c = &l.device_counters;
            let offloaded = d.placement == driver::delegate::Placement::Accel;
            LayerRow {
                index: l.index,
                op: info.op.to_string(),
                input_shape: info.input_shape.clone(),
                output_shape: info.output_shape.clone(),
                macs: info.macs,
                target: if offloaded {
                    Target::Accel
                } else {
                    Target::Cpu
                },
                reason: d.reason.clone(),
                cpu_cycles: b.cycles,
                cpu_us: b.time_us,
                cpu_uj: b.energy_uj,
                // A layer left on the CPU has no accelerator cycles.
                accel_cycles: if offloaded {
                    l.device_counters.cycles
                } else {
                    0
                },
                offload_us: l.total_us,
                offload_uj: l.total_uj,
                compute_us: busy,
                dma_stall_us: stall,
                driver_us: driver,
                cpu_side_us: cpu_side,
                mac_uj: pj_to_uj(e.mac_pj),
                sram_uj: pj_to_uj(e.input_sram_pj + e.weight_sram_pj + e.acc_sram_pj),
                bus_uj: pj_to_uj(e.bus_pj),
                leakage_uj: pj_to_uj(e.leakage_pj) + l.device_idle_leakage_uj,
                offload_cpu_uj: l.cpu_uj,
                bus_bytes: c.bus_bytes(),
                array_busy_us: cfg.cycles_to_us(c.array_busy_cycles),
                dma_busy_us: cfg.cycles_to_us(c.dma_busy_cycles),
                // The CPU time of a layer left on the CPU is its kernel; of an offloaded
                // layer, its CPU im2col (patches, depthwise gathers).
                cpu_kernel_us: if offloaded { 0.0 } else { cpu_side },
                cpu_im2col_us: if offloaded { cpu_side } else { 0.0 },
                agu_uj: pj_to_uj(e.agu_pj),
                dma_track_uj: pj_to_uj(e.dma_track_pj),
                dma_bursts: c.dma_bursts,
                im2col_pieces: c.im2col_pieces,
                vpu_uj: pj_to_uj(e.vpu_pj),
                vpu_busy_us: cfg.cycles_to_us(c.vpu_busy_cycles),
                main_memory_uj: pj_to_uj(e.main_memory_pj),
                clock_uj: pj_to_uj(e.clock_pj) + l.device_idle_clock_uj,
                ppu_uj: pj_to_uj(e.ppu_pj),
                control_uj: pj_to_uj(e.control_pj),
                dma_uj: pj_to_uj(e.dma_pj),
            }
        })
        .collect();
    Ok(ModelReport {
        model: name.to_string(),
        source: source.to_string(),
        config: ConfigSummary::from_config(cfg),
        cpu_profile: cpu_summary(cpu)?,
        layers,
        budget: Some(budget.model_budget(graph, source, cpu, cfg, &run.decisions)?),
    })
}

/// How the numbers were made.
pub fn provenance(cfg: &AccelConfig, level: &str) -> Provenance {
    Provenance {
        simulator_level: level.to_string(),
        energy_table_source: format!(
            "arch::tables: Horowitz ISSCC 2014 (45 nm), SRAM from a fit to CACTI 7 (arch::sram), clock from NanGate 45 nm flip-flop energy x synthesized flip-flop counts, scaled to {} nm by C*V^2 (first-order Dennard){}",
            cfg.tech_node_nm,
            if cfg.energy.is_some() { ", with [energy] overrides" } else { "" }
        ),
        cpu_cost_model: "runtime::cost (docs/cpu-model.md, validated in docs/cpu-validation.md)".into(),
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: command_line(),
        notes: vec![
            "The offloaded run executes every accelerator layer from its command stream in the cycle-level simulator; its output is bit-exact with the CPU kernels.".into(),
            format!(
                "Driver costs: {} CPU cycles per offloaded layer, {} per submission; while waiting the CPU sleeps in WFI at its profile's datasheet Sleep-mode power (`[power] wfi_ma`, `tinyaccel cpus SPEC`; driver::delegate).",
                driver::delegate::DRIVER_LAYER_CYCLES,
                driver::delegate::DRIVER_SUBMIT_CYCLES,
            ),
            if cfg.im2col {
                "Conv layers whose geometry fits the im2col unit build their patches in the accelerator's address generator (LOAD_IM2COL, no CPU im2col time); 1x1 stride-1 convs load the input directly; depthwise and the other convs do their im2col on the CPU, counted as CPU-side time (cpu_im2col_us) of the offloaded layer.".into()
            } else {
                "im2col runs on the CPU and is counted as CPU-side time of the offloaded layer.".into()
            },
        ],
    }
}

/// The reports of every (CPU profile, model) pair on `cfg` (cycle-level simulation).
fn model_reports(
    cfg: &AccelConfig,
    cpus: &[CpuProfile],
    graphs: &[(String, Graph)],
    policy: Policy,
    budget: &Budget,
    bar: &dyn reports::ProgressSink,
) -> Result<Vec<ModelReport>> {
    let mut out = Vec::new();
    for cpu in cpus {
        for (spec, graph) in graphs {
            bar.message(&format!("{} on {}", graph.name, cfg.name));
            let input = vec![0u8; runtime::Interpreter::new(graph)?.input_len()];
            let run = accel::simulate(
                graph,
                cfg,
                cpu,
                policy,
                sim::Fidelity::Cycle,
                &input,
                budget.cmd_streams,
            )?;
            let name = if cpus.len() > 1 {
                format!("{}@{}", graph.name, cpu.spec())
            } else {
                graph.name.clone()
            };
            out.push(model_report(&name, spec, graph, cfg, cpu, &run, budget)?);
            bar.inc(1);
        }
    }
    Ok(out)
}

pub fn run(args: ReportArgs) -> Result<ExitCode> {
    let budget = args.budget.parse()?;
    let cfg = AccelConfig::resolve(&args.accel)?;
    // Ablation features and their configurations first: a bad name fails before anything
    // runs.
    let ablation = if args.ablate.is_empty() {
        None
    } else {
        let features = ablate::parse(&args.ablate, &cfg)?;
        let variants = reports::ablation::Variant::all(&features);
        let configs = variants
            .iter()
            .map(|v| ablate::variant_config(&cfg, &features, v))
            .collect::<Result<Vec<_>>>()?;
        Some((features, variants, configs))
    };
    let cpus: Vec<CpuProfile> = args
        .cpus
        .iter()
        .map(|s| CpuProfile::resolve(s).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    let specs = model_specs(&args.models);
    let graphs: Vec<(String, Graph)> = specs
        .iter()
        .map(|s| Ok((s.clone(), models::resolve(s)?)))
        .collect::<Result<_>>()?;
    let runs_per_config = (graphs.len() * cpus.len()) as u64;
    let configs = 1 + ablation.as_ref().map_or(0, |(_, _, c)| c.len()) as u64;
    let bar = reports::progress_bar(runs_per_config * configs, "models", args.quiet);
    let mut report = Report {
        models: model_reports(&cfg, &cpus, &graphs, args.policy, &budget, &bar)?,
        provenance: provenance(&cfg, "cycle"),
    };
    report.provenance.notes.extend(budget_notes(&budget));
    let ablation = match ablation {
        None => None,
        Some((features, variants, configs)) => {
            let runs = configs
                .iter()
                .map(|c| model_reports(c, &cpus, &graphs, args.policy, &budget, &bar))
                .collect::<Result<Vec<_>>>()?;
            Some(reports::Ablation::new(
                &cfg.name, features, variants, &runs,
            )?)
        }
    };
    bar.finish_and_clear();
    let written = if args.formats.contains(&ReportFormat::Tinyaccel) {
        let opts = reports::WriteOptions {
            plots: true,
            png: !args.no_png,
        };
        Some(
            reports::write_report_with_ablation(
                &report,
                ablation.as_ref(),
                &args.out,
                &opts,
                &reports::NoProgress,
            )
            .with_context(|| format!("writing the report to {}", args.out.display()))?,
        )
    } else {
        None
    };
    let scalesim = if args.formats.contains(&ReportFormat::Scalesim) {
        for m in &report.models {
            let cpu_rows: Vec<String> = reports::scalesim::compute_rows(m)
                .iter()
                .filter(|r| !r.offloaded)
                .map(|r| format!("{} (op {} {})", r.layer_id, r.op_index, r.op))
                .collect();
            if !cpu_rows.is_empty() {
                eprintln!(
                    "tinyaccel: note: {}: layer(s) {} ran on the CPU: their COMPUTE_REPORT.csv \
                     rows have no cycles (--policy all offloads every layer)",
                    m.model,
                    cpu_rows.join(", ")
                );
            }
        }
        Some(
            reports::scalesim::write_compute_reports(&report, &args.out).with_context(|| {
                format!(
                    "writing the SCALE-Sim compute reports to {}",
                    args.out.display()
                )
            })?,
        )
    } else {
        None
    };
    outln!("{}", summary_table(&report));
    if let Some(b) = budget_table(&report) {
        outln!("{b}");
    }
    if let Some(a) = &ablation {
        outln!("Feature ablation of {}:\n", a.base_config);
        outln!("{}", a.table_markdown());
    }
    if let Some(w) = written {
        outln!("report written to {}", w.dir.display());
    }
    for p in scalesim.iter().flatten() {
        outln!("SCALE-Sim compute report written to {}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// The summary table printed on the terminal.
pub fn summary_table(r: &Report) -> String {
    let mut s = String::from(
        "| model | MACs | CPU ms | CPU uJ | offload ms | offload uJ | speedup | energy ratio |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for m in &r.models {
        let t = m.totals();
        s.push_str(&format!(
            "| {} | {} | {:.3} | {:.1} | {:.3} | {:.1} | {} | {} |\n",
            m.model,
            t.macs,
            t.cpu_us / 1000.0,
            t.cpu_uj,
            t.offload_us / 1000.0,
            t.offload_uj,
            reports::fmt::times(t.speedup),
            reports::fmt::times(t.energy_ratio),
        ));
    }
    s
}

/// How the budget figures were made (provenance notes).
pub fn budget_notes(b: &Budget) -> Vec<String> {
    let mut v = vec![format!(
        "Memory footprint (runtime::footprint, driver::delegate::footprint): flash = model (the .tflite file, or for a built-in model or a SCALE-Sim topology its constant bytes plus an estimated flatbuffer overhead) + runtime and kernel code (estimates, docs/cpu-model.md) + driver code when offloading; SRAM = arena + interpreter state + CPU kernel scratch, plus the driver's packed weights, A/C buffers and command streams ({}). Capacities: the CPU profile's on-chip flash and SRAM.",
        match b.cmd_streams {
            driver::delegate::CmdStreams::Sram => "kept in SRAM",
            driver::delegate::CmdStreams::Flash =>
                "kept in flash; the model ignores flash's slower reads by the accelerator",
            driver::delegate::CmdStreams::Generate => "generated per layer at invoke time into one SRAM buffer of the largest layer's streams, charging the CPU cycles per command",
        }
    )];
    if b.rate_hz.is_some() || b.deadline_us.is_some() {
        v.push("Duty cycle (reports::budget, docs/budgets.md): average power = energy per inference x rate + (CPU sleep power + accelerator sleep power) x (1 - rate x latency); infeasible when rate x latency > 1. Battery life = mAh x V / average power, ignoring self-discharge, regulator losses and the capacity's dependence on load and temperature.".into());
    }
    v
}

/// The budgets table printed on the terminal (memory fit per model and target, and with
/// a rate or deadline the deadline, average power and battery life), or `None` when no
/// model has a budget.
pub fn budget_table(r: &Report) -> Option<String> {
    let sentence = reports::writer::budget_sentence(r)?;
    let head = reports::writer::BUDGET_HEAD;
    let mut s = format!("Budgets: {sentence}.\n\n| {} |\n|", head.join(" | "));
    s.push_str(&"---|".repeat(head.len()));
    s.push('\n');
    for row in reports::writer::budget_rows(r) {
        s.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    Some(s)
}

/// The command line, without the output folder (so that the same report written to two
/// folders is byte-identical).
fn command_line() -> String {
    let mut out = vec!["tinyaccel".to_string()];
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--out" {
            args.next();
        } else if !a.starts_with("--out=") {
            out.push(a);
        }
    }
    out.join(" ")
}
