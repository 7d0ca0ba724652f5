//! `tinyaccel cpus [SPEC] [--json]`: the CPU profiles of the pure-CPU baseline
//! (`runtime::cost`). Without SPEC, one line per built-in profile; with SPEC (a built-in
//! name, `NAME@CLOCK:LIBRARY` or a `.toml` file), the resolved profile and its kernel table.

use clap::Args;
use runtime::cost::{graph_cost, CpuProfile, CpuProfileData, KernelCost};
use serde_json::{json, Value};
use std::process::ExitCode;

/// Named columns `(header, value)` for one layer or for a whole run.
pub type Columns = Vec<(String, Value)>;

/// The CPU baseline for `tinyaccel run --cpu SPEC`: one list of columns per op of `graph`
/// (index = op index: `cpu_cycles`, `cpu_us`, `cpu_uj`, and in JSON also
/// `cpu_pj` and `cpu_kernel`) and the whole-run values. In JSON the run gains one
/// `cpu` object (`profile`, `clock_mhz`, `cpu_cycles`, `cpu_us`, `cpu_uj`, ...); in the
/// table, summary lines. Totals are the sums of the per-layer cycles and picojoules.
pub fn cpu_columns(
    graph: &models::Graph,
    spec: &str,
    json: bool,
) -> anyhow::Result<(Vec<Columns>, Columns)> {
    let profile = CpuProfile::resolve(spec)?;
    let cost =
        graph_cost(&profile, graph).map_err(|e| anyhow::anyhow!("model {}: {e}", graph.name))?;
    let layers = cost
        .layers
        .iter()
        .map(|l| {
            let mut c: Columns = vec![
                ("cpu_cycles".into(), json!(l.cycles)),
                ("cpu_us".into(), json!(l.time_us)),
                ("cpu_uj".into(), json!(l.energy_uj)),
            ];
            if json {
                c.push(("cpu_pj".into(), json!(l.energy_pj)));
                c.push(("cpu_kernel".into(), json!(l.kernel)));
            }
            c
        })
        .collect();
    let d = profile.data();
    let summary = if json {
        vec![(
            "cpu".to_string(),
            json!({
                "profile": profile.spec(),
                "core": d.core,
                "device": d.device,
                "library": profile.library_name(),
                "clock_mhz": profile.clock_mhz(),
                "flash_wait_states": profile.wait_states(),
                "power_mw": profile.power_mw(),
                "cpu_cycles": cost.cycles,
                "cpu_us": cost.cycles as f64 / cost.clock_mhz,
                "cpu_uj": cost.energy_uj(),
                "cpu_pj": cost.energy_pj,
            }),
        )]
    } else {
        vec![
            (
                "cpu".to_string(),
                json!(format!("{} ({} on {})", profile.spec(), d.core, d.device)),
            ),
            ("cpu cycles".to_string(), json!(cost.cycles)),
            (
                "cpu latency".to_string(),
                json!(format!("{:.3} ms", cost.latency_ms())),
            ),
            (
                "cpu energy".to_string(),
                json!(format!(
                    "{:.3} uJ at {:.2} mW, {} flash wait states",
                    cost.energy_uj(),
                    profile.power_mw(),
                    profile.wait_states()
                )),
            ),
        ]
    };
    Ok((layers, summary))
}

#[derive(Debug, Args)]
pub struct CpusArgs {
    /// Profile to show in detail: NAME[@CLOCK][:LIBRARY] or FILE.toml[@CLOCK][:LIBRARY].
    pub spec: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
    /// Fit the profiles on the published MLPerf Tiny results (CSV) and print the fitted
    /// constants (`runtime/cpus/*.toml` must hold them) and the validation tables
    /// (docs/cpu-validation.md).
    #[arg(long, value_name = "CSV", conflicts_with_all = ["spec", "json"])]
    pub fit: Option<std::path::PathBuf>,
}

fn summary_json(d: &CpuProfileData) -> serde_json::Value {
    let clock = d.default_clock_mhz;
    serde_json::json!({
        "name": d.name,
        "aliases": d.aliases,
        "core": d.core,
        "isa": d.isa,
        "device": d.device,
        "default_clock_mhz": clock,
        "max_clock_mhz": d.max_clock_mhz,
        "simd": d.simd,
        "libraries": d.library_names(),
        "default_library": d.default_library,
        "flash_wait_states": d.wait_states_at(clock),
        "power_mw": d.power_mw(clock),
        "ua_per_mhz": 1000.0 * d.run_current_ma(clock) / clock,
        "supply_v": d.power.supply_v,
        "wfi_power_mw": d.wfi_power_mw(clock),
        "validation": validation_json(d),
    })
}

fn kernel_line(op: &str, k: &KernelCost) -> String {
    let mut parts: Vec<String> = [
        ("call", k.per_call),
        ("mac", k.per_mac),
        ("tail-mac", k.per_mac_tail),
        ("tap", k.per_tap),
        ("pixel", k.per_pixel),
        ("output", k.per_output),
        ("row", k.per_row),
        ("element", k.per_element),
        ("byte", k.per_byte),
        ("im2col/B", k.im2col_per_byte),
    ]
    .iter()
    .filter(|(_, v)| *v != 0.0)
    // Fitted factors make long fractions: 4 decimals are the factors' precision.
    .map(|(n, v)| format!("{n} {}", (v * 1e4).round() / 1e4))
    .collect();
    if k.simd_block > 1 {
        parts.push(format!("simd-block {}", k.simd_block));
    }
    if k.weight_reuse != 1.0 {
        parts.push(format!("weight-reuse {}", k.weight_reuse));
    }
    if k.skips_padding {
        parts.push("skips-padding".into());
    }
    format!("  {op:<16} {}", parts.join(", "))
}

fn run_fit(csv: &std::path::Path) -> anyhow::Result<ExitCode> {
    use runtime::cost::fit;
    let rows = fit::read_csv(csv)?;
    let report = fit::fit(&rows, &csv.display().to_string())?;
    outln!("{}", report.markdown());
    outln!("## Constants for runtime/cpus/*.toml\n");
    outln!("```toml\n{}```", report.profile_constants());
    let off = report.mismatches();
    if off.is_empty() {
        outln!("\nThe built-in profiles hold these constants.");
        Ok(ExitCode::SUCCESS)
    } else {
        outln!("\nThe built-in profiles differ from the fit:");
        for m in off {
            outln!("- {m}");
        }
        Ok(ExitCode::FAILURE)
    }
}

/// The validation line of a profile's library and power (`unvalidated: ...` when no row).
fn validation_json(d: &CpuProfileData) -> serde_json::Value {
    let libs: serde_json::Map<String, serde_json::Value> = d
        .libraries
        .iter()
        .map(|(name, t)| {
            let v = t
                .fit
                .as_ref()
                .map_or("unvalidated: no fit in the profile".to_string(), |f| {
                    f.summary()
                });
            (name.clone(), serde_json::json!(v))
        })
        .collect();
    serde_json::json!({
        "latency": libs,
        "power": d.power.fit.as_ref().map_or("unvalidated: no fit in the profile".to_string(), |f| f.summary()),
    })
}

pub fn run(args: CpusArgs) -> anyhow::Result<ExitCode> {
    if let Some(csv) = &args.fit {
        return run_fit(csv);
    }
    let Some(spec) = args.spec else {
        let all = CpuProfileData::builtins();
        if args.json {
            let v: Vec<_> = all.iter().map(summary_json).collect();
            outln!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(ExitCode::SUCCESS);
        }
        outln!(
            "{:<14} {:<32} {:<12} {:>9} {:<20} {:<5} {:>3} {:>8} {:>7}",
            "profile",
            "core",
            "device",
            "clock",
            "libraries",
            "SIMD",
            "WS",
            "power",
            "uA/MHz"
        );
        for d in &all {
            let clock = d.default_clock_mhz;
            outln!(
                "{:<14} {:<32} {:<12} {:>6} MHz {:<20} {:<5} {:>3} {:>5.1} mW {:>7.0}",
                d.name,
                d.core,
                d.device,
                clock,
                d.library_names().join(","),
                if d.simd { "yes" } else { "no" },
                d.wait_states_at(clock),
                d.power_mw(clock),
                1000.0 * d.run_current_ma(clock) / clock
            );
        }
        outln!();
        outln!("Validation against published MLPerf Tiny runs (docs/cpu-validation.md):");
        for d in &all {
            for (lib, t) in &d.libraries {
                let line = t
                    .fit
                    .as_ref()
                    .map_or("unvalidated: no fit in the profile".to_string(), |f| {
                        f.summary()
                    });
                outln!("  {:<14} {:<10} latency: {line}", d.name, lib);
            }
            let power = d
                .power
                .fit
                .as_ref()
                .map_or("unvalidated: no fit in the profile".to_string(), |f| {
                    f.summary()
                });
            outln!("  {:<14} {:<10} power: {power}", d.name, "");
        }
        outln!();
        outln!("Select with --cpu NAME[@CLOCK][:LIBRARY] (e.g. cortex-m7@216MHz:cmsis-nn) or a .toml file;");
        outln!(
            "default {}. Model and sources: docs/cpu-model.md.",
            runtime::cost::profile::DEFAULT_SPEC
        );
        return Ok(ExitCode::SUCCESS);
    };
    let p = CpuProfile::resolve(&spec)?;
    let d = p.data();
    if args.json {
        let mut v = summary_json(d);
        v["spec"] = serde_json::json!(p.spec());
        v["clock_mhz"] = serde_json::json!(p.clock_mhz());
        v["library"] = serde_json::json!(p.library_name());
        v["flash_wait_states"] = serde_json::json!(p.wait_states());
        v["power_mw"] = serde_json::json!(p.power_mw());
        v["flash"] = serde_json::to_value(&d.flash)?;
        v["power"] = serde_json::to_value(&d.power)?;
        v["kernels"] = serde_json::to_value(p.kernels())?;
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}  ({} on {}, {})", p.spec(), d.core, d.device, d.isa);
    outln!(
        "clock {} MHz (max {}), flash wait states {}, SIMD {}",
        p.clock_mhz(),
        d.max_clock_mhz,
        p.wait_states(),
        if d.simd { "yes (DSP extension)" } else { "no" }
    );
    outln!(
        "power {:.2} mW: datasheet {} V x {:.3} mA = {:.2} mW ({:.0} uA/MHz) x {:.4} (fitted supply power)",
        p.power_mw(),
        d.power.supply_v,
        d.run_current_ma(p.clock_mhz()),
        d.datasheet_power_mw(p.clock_mhz()),
        1000.0 * d.run_current_ma(p.clock_mhz()) / p.clock_mhz(),
        d.power_scale()
    );
    outln!(
        "waiting in WFI (Sleep mode): {:.2} mW; power {}",
        p.wfi_power_mw(),
        d.power
            .fit
            .as_ref()
            .map_or("unvalidated: no fit in the profile".to_string(), |f| f
                .summary())
    );
    outln!(
        "flash: {} B per access, {} B data cache for weights, {:.0}% of stalls hidden by prefetch",
        d.flash.line_bytes,
        d.flash.data_cache_bytes,
        100.0 * d.flash.prefetch_hidden
    );
    outln!(
        "library `{}`: {}",
        p.library_name(),
        p.kernels().description
    );
    if let Some(f) = &p.kernels().fit {
        outln!(
            "fitted factors: mac x{}, tap x{}, overhead x{} (from {}); latency {}",
            f.mac,
            f.tap,
            f.overhead,
            if f.from.is_empty() { "-" } else { &f.from },
            f.summary()
        );
    }
    outln!("kernel costs (cycles, fitted factors applied):");
    for (op, k) in p.kernels().entries() {
        outln!("{}", kernel_line(op, k));
    }
    Ok(ExitCode::SUCCESS)
}
