//! `tinyaccel hdl emit|verify|area`: the accelerator's RTL (crate `hdl`) and its
//! co-simulation against the simulator (crate `cosim`).

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
    /// Synthesize the core with yosys and estimate its cell area (NanGate 45 nm cells,
    /// scaled to the config's node); large arrays are extrapolated from 1x1, 2x2 and 4x2
    /// cores unless `--full` (see docs/area.md).
    Area(AreaArgs),
}

#[derive(Debug, Args)]
pub struct AreaArgs {
    /// Config file or preset name.
    #[arg(long, default_value = "edge-8x8")]
    pub config: String,
    /// Synthesize the full array instead of extrapolating (minutes for 16x16).
    #[arg(long)]
    pub full: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// Config file or preset name.
    #[arg(long, default_value = "edge-8x8")]
    pub config: String,
    /// Output folder (created if missing).
    #[arg(long)]
    pub out: PathBuf,
    /// Override the config's dataflow (`output-stationary`/`os`, `weight-stationary`/`ws`,
    /// `input-stationary`/`is`).
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
    /// `all` (os, ws and is), `both` (os and ws), `config` (the config's own), `os`, `ws`
    /// or `is` (default: `all`; `config` with --system).
    #[arg(long)]
    pub dataflow: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// System-level co-simulation: driver-generated programs (coverage and random GEMMs,
    /// layers of the MLPerf Tiny models; with the vector unit also VSET/VCOMPUTE programs)
    /// on the whole accelerator's RTL and on the cycle-level simulator, comparing device
    /// memory byte for byte and all counters.
    #[arg(long)]
    pub system: bool,
    /// With --system: random GEMMs (and, with the vector unit, random vector-unit
    /// programs) besides the fixed coverage sets.
    #[arg(long, default_value_t = 6)]
    pub programs: usize,
    /// With --system: models as NAME[:LAYERS] (offloaded layers compared on the RTL, from
    /// the first; `NAME` or `NAME:all`: every command buffer of every offloaded layer),
    /// comma-separated; `all` (every command buffer of ad, kws, ic and vww) or `none`.
    #[arg(long, default_value = "ad:all,kws:1,vww:2,ic:1")]
    pub models: String,
}

fn load(spec: &str) -> anyhow::Result<AccelConfig> {
    AccelConfig::resolve(spec).map_err(|e| anyhow!(e.lines().join("\n")))
}

pub fn run(cmd: HdlCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        HdlCmd::Emit(a) => emit(a),
        HdlCmd::Verify(a) => verify(a),
        HdlCmd::Area(a) => area(a),
    }
}

fn area(a: AreaArgs) -> anyhow::Result<ExitCode> {
    let cfg = load(&a.config)?;
    let root = hdl::area::cache_root();
    let mut progress = |s: &str| eprintln!("tinyaccel hdl area: {s}");
    let r = hdl::area::estimate(&cfg, a.full, &root, &mut progress)
        .with_context(|| format!("area of config `{}`", cfg.name))?;
    if a.json {
        let mut j = r.to_json();
        j["table_core_um2_node"] =
            serde_json::json!(cfg.logic_area_um2() - cfg.area_table().control_um2);
        outln!("{}", serde_json::to_string_pretty(&j)?);
        return Ok(ExitCode::SUCCESS);
    }
    let how = match &r.method {
        hdl::area::Method::Full(s) => format!(
            "synthesized ({:.1} s{})",
            s.seconds,
            if s.cached { ", cached" } else { "" }
        ),
        hdl::area::Method::Fit { fit, points } => format!(
            "extrapolated from {} (base {:.0} + {:.0}/PE + {:.0}/column um^2 at 45 nm)",
            points
                .iter()
                .map(|p| format!("{}x{}", p.rows, p.cols))
                .collect::<Vec<_>>()
                .join(", "),
            fit.base_um2,
            fit.per_pe_um2,
            fit.per_col_um2
        ),
    };
    outln!(
        "{} {}x{} {} core: {:.0} cells, {:.0} flip-flops, {:.0} NAND2-eq, {:.0} um^2 at 45 nm, {:.4} mm^2 at {} nm; {how}",
        r.config, r.rows, r.cols, r.dataflow, r.cells, r.flip_flops, r.nand2_eq(), r.um2_45nm, r.mm2_node(), r.node_nm
    );
    outln!(
        "  timing: longest path {} gates (yosys ltp -noff) ~ {:.0} MHz at 45 nm ({:.0} ps/gate + {:.0} ps flip-flop, no wires; a first-order estimate)",
        r.logic_depth,
        hdl::area::fmax_mhz_45nm(r.logic_depth),
        hdl::area::GATE_DELAY_PS_45NM,
        hdl::area::FF_OVERHEAD_PS_45NM
    );
    if let hdl::area::Method::Full(s) = &r.method {
        let types: Vec<String> = s
            .cell_types
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        outln!("  cells: {}", types.join(", "));
        if let Some(t) = s.transistors {
            outln!("  yosys stat -tech cmos: {t}+ transistors");
        }
    }
    for (what, b) in [
        ("im2col address generator", &r.agu),
        ("DMA tracking FIFO", &r.dma_track),
        ("vector unit", &r.vpu),
    ] {
        if let Some(b) = b {
            let params: Vec<String> = b.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
            outln!(
                "  {what} ({}{}, synthesized alone, not in the core figures): {} cells, {} flip-flops, {:.0} um^2 at 45 nm, longest path {} gates",
                b.module,
                if params.is_empty() { String::new() } else { format!(" {}", params.join(" ")) },
                b.cells,
                b.flip_flops,
                b.um2_45nm,
                b.logic_depth
            );
        }
    }
    let t = cfg.area_table();
    outln!(
        "  area table (arch::tables, {} nm): {:.4} mm^2 for PEs + PPU lanes ({:.0} um^2/PE, {:.0} um^2/PPU lane; controller, DMA and SRAM are not in the core)",
        cfg.tech_node_nm,
        (cfg.logic_area_um2() - t.control_um2) / 1e6,
        t.pe_um2,
        t.ppu_um2_per_col
    );
    Ok(ExitCode::SUCCESS)
}

fn emit(a: EmitArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = load(&a.config)?;
    if let Some(d) = a.dataflow {
        cfg.dataflow = d;
    }
    let e = hdl::emit::emit(&cfg, &a.out)?;
    outln!(
        "{}: {}x{} {} core, config hash {}, {} bytes",
        e.verilog.display(),
        cfg.rows,
        cfg.cols,
        cfg.dataflow,
        e.hash,
        e.verilog_bytes
    );
    outln!("{}: config copy", e.config_json.display());
    match &e.system {
        Ok((path, bytes)) => outln!(
            "{}: the whole accelerator (controller, scratchpads, DMA, MMIO + core), top {}, {bytes} bytes",
            path.display(),
            hdl::system::TOP_MODULE
        ),
        Err(why) => outln!("no system RTL for this config: {why}"),
    }
    outln!(
        "{}: integration files: {}",
        a.out.display(),
        e.support
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if a.check {
        if let Ok((path, _)) = &e.system {
            let w = hdl::system::lint(path).context("linting the system Verilog")?;
            if !w.is_empty() {
                for x in &w {
                    eprintln!("{x}");
                }
                eprintln!("verilator --lint-only -Wall (system): {} warnings", w.len());
                return Ok(ExitCode::from(1));
            }
            outln!(
                "verilator --lint-only -Wall (system, {}): clean",
                path.display()
            );
        }
        let r = hdl::emit::lint(&e.verilog).context("linting the emitted Verilog")?;
        let waived: Vec<&str> = hdl::emit::VERILATOR_WAIVERS.iter().map(|w| w.0).collect();
        if r.verilator_warnings.is_empty() {
            outln!(
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
        outln!(
            "yosys hierarchy -check; proc: ok, {} latches ({:.1} s)",
            r.latches,
            r.yosys_seconds
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn verify(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    if a.system {
        return verify_system(a);
    }
    let cfg = load(&a.config)?;
    let flows: Vec<Dataflow> = match a.dataflow.as_deref().unwrap_or("all") {
        "all" => Dataflow::ALL.to_vec(),
        "both" => vec![Dataflow::OutputStationary, Dataflow::WeightStationary],
        "config" => vec![cfg.dataflow],
        other => vec![other
            .parse::<Dataflow>()
            .map_err(|e| anyhow!("--dataflow: {e} (or `all`, `both`, `config`)"))?],
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
        let r = cosim::core_verify::verify_dataflow(&c, a.cases, a.seed, &dir, &mut progress)?;
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
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        for (c, r) in &reports {
            outln!(
                "{} {}x{} {} (hash {}): {} tiles, {} bit-exact, {} cycle-exact; simulator core model agrees with the reference on {}",
                c.name, c.rows, c.cols, r.dataflow, c.hash(), r.cases, r.bit_exact, r.cycle_exact, r.sim_agrees
            );
            outln!(
                "  speed: Verilator {:.0} cycles/s ({} cycles in {:.3} s, file I/O included), simulator core model {:.0} cycles/s ({} cycles in {:.3} s)",
                r.verilator_cycles_per_s(), r.verilator_cycles, r.verilator_seconds,
                r.sim_cycles_per_s(), r.sim_cycles, r.sim_seconds
            );
            for f in &r.failures {
                outln!("  MISMATCH {f}");
            }
        }
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Parses `--models`: `NAME[:LAYERS|:all]`, comma-separated, `all` (the four MLPerf Tiny
/// models, whole) or `none`.
pub fn parse_model_specs(s: &str) -> anyhow::Result<Vec<cosim::layers::ModelSpec>> {
    if s.trim().is_empty() || s.trim() == "none" {
        return Ok(Vec::new());
    }
    if s.trim() == "all" {
        return parse_model_specs("ad:all,kws:all,ic:all,vww:all");
    }
    s.split(',')
        .map(|item| {
            let item = item.trim();
            let (name, layers) = match item.split_once(':') {
                None => (item, None),
                Some((n, "all")) => (n, None),
                Some((n, k)) => {
                    let k: usize = k.parse().map_err(|_| {
                        anyhow!("--models: `{item}`: `{k}` is not a layer count or `all`")
                    })?;
                    if k == 0 {
                        return Err(anyhow!("--models: `{item}`: compare at least 1 layer"));
                    }
                    (n, Some(k))
                }
            };
            if name.is_empty() {
                return Err(anyhow!("--models: empty model name in `{s}`"));
            }
            Ok(cosim::layers::ModelSpec {
                model: name.to_string(),
                layers,
                input: None,
            })
        })
        .collect()
}

fn verify_system(a: VerifyArgs) -> anyhow::Result<ExitCode> {
    let mut cfg = load(&a.config)?;
    match a.dataflow.as_deref().unwrap_or("config") {
        "config" => {}
        "both" | "all" => {
            return Err(anyhow!(
                "--dataflow {}: with --system give one dataflow (`config`, `os`, `ws` or `is`)",
                a.dataflow.as_deref().unwrap_or_default()
            ))
        }
        other => {
            cfg.dataflow = other
                .parse::<Dataflow>()
                .map_err(|e| anyhow!("--dataflow: {e} (or `config`)"))?
        }
    }
    let mut opts = cosim::system::Options::default_set(a.seed, a.programs);
    opts.models = parse_model_specs(&a.models)?;
    opts.progress_bar = true;
    let r = cosim::system::verify_system(&cfg, &opts)
        .with_context(|| format!("system verification of config `{}`", cfg.name))?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&r.to_json())?);
    } else {
        out!("{}", r.to_text());
    }
    Ok(if r.all_ok() {
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

#[cfg(test)]
mod tests {
    use super::parse_model_specs;

    #[test]
    fn model_specs_select_layers_or_whole_models() {
        let whole = parse_model_specs("all").unwrap();
        let names: Vec<&str> = whole.iter().map(|m| m.model.as_str()).collect();
        assert_eq!(names, ["ad", "kws", "ic", "vww"]);
        assert!(whole.iter().all(|m| m.layers.is_none()));
        let some = parse_model_specs("kws:all, vww:2,ic").unwrap();
        assert_eq!(some[0].layers, None);
        assert_eq!(some[1].layers, Some(2));
        assert_eq!((some[2].model.as_str(), some[2].layers), ("ic", None));
        assert!(parse_model_specs("none").unwrap().is_empty());
        let e = parse_model_specs("ad:0").unwrap_err().to_string();
        assert!(e.contains("at least 1 layer"), "{e}");
        assert!(parse_model_specs("kws:x").is_err());
    }
}
