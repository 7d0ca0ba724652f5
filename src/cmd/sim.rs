//! `tinyaccel sim gemm`: one random int8 GEMM on the simulated accelerator: counters,
//! cycles, utilization, latency, energy breakdown, area, and a check of the output
//! against the naive GEMM. `--json` follows the result schema (docs/results-schema.md).

use anyhow::{bail, Context, Result};
use arch::{AccelConfig, Dataflow};
use clap::{Args, Subcommand};
use driver::gemm::{self, GemmData, GemmProblem, MemLayout, Output};
use reports::schema::{self, pj_to_uj};
use sim::report::{check_bounds, GemmRunReport};
use sim::{Fidelity, SimDevice};
use std::process::ExitCode;

#[derive(Debug, Subcommand)]
pub enum SimCmd {
    /// Simulate one int8 GEMM (M x K)(K x N) with random operands and per-channel
    /// requantization; checks the output against the naive GEMM.
    Gemm(GemmArgs),
}

#[derive(Debug, Args)]
pub struct GemmArgs {
    /// Rows of A and C.
    #[arg(long)]
    pub m: usize,
    /// Reduction depth.
    #[arg(long)]
    pub k: usize,
    /// Columns of B and C.
    #[arg(long)]
    pub n: usize,
    /// Config file or preset name.
    #[arg(long, default_value = "edge-8x8")]
    pub config: String,
    /// Override the dataflow (output-stationary | weight-stationary | input-stationary | os |
    /// ws | is).
    #[arg(long)]
    pub dataflow: Option<String>,
    /// Model: cycle (cycle-level), functional (untimed) or tile (tile-level estimate,
    /// no data).
    #[arg(long, default_value = "cycle")]
    pub model: String,
    /// Raw int32 output (no requantization).
    #[arg(long)]
    pub int32: bool,
    /// Seed of the random operands.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// The counters to report, by name: all of them for a timed model; for the untimed
/// functional model only the value counters (MACs, bytes, commands), none of the cycle
/// counters (they are not modelled, and 0 is not a figure).
fn value_counters(c: &arch::device::Counters, timed: bool) -> Vec<(&'static str, u64)> {
    arch::device::COUNTER_NAMES
        .iter()
        .zip(c.to_array())
        .filter(|(name, _)| timed || !(**name == "cycles" || name.ends_with("_cycles")))
        .map(|(name, v)| (*name, v))
        .collect()
}

pub fn run(cmd: SimCmd) -> Result<ExitCode> {
    match cmd {
        SimCmd::Gemm(a) => gemm_cmd(a),
    }
}

fn gemm_cmd(a: GemmArgs) -> Result<ExitCode> {
    let mut cfg = AccelConfig::resolve(&a.config)?;
    if let Some(df) = &a.dataflow {
        cfg.dataflow = df
            .parse::<Dataflow>()
            .map_err(|e| anyhow::anyhow!("--dataflow: {e}"))?;
    }
    for (name, v) in [("--m", a.m), ("--k", a.k), ("--n", a.n)] {
        if v == 0 {
            bail!("{name} must be at least 1");
        }
    }
    let p = GemmProblem {
        m: a.m,
        k: a.k,
        n: a.n,
        output: if a.int32 {
            Output::Int32
        } else {
            Output::Int8 {
                zp_out: -3,
                act_min: -128,
                act_max: 127,
            }
        },
        im2col: None,
    };
    // Sizes are checked before anything is allocated: the operands must fit the device's
    // 32-bit address space (every model), and the models that carry data (cycle,
    // functional) hold them at most MAX_SIM_DATA_BYTES. The tile model allocates no
    // operands and builds no program.
    let data_bytes = operand_bytes(&p);
    if data_bytes > DEVICE_ADDRESS_SPACE {
        bail!(
            "--m {} --k {} --n {}: the operands (A {}x{}, B {}x{}, C {}x{}) need {data_bytes} bytes, more than the device's 32-bit address space ({DEVICE_ADDRESS_SPACE} bytes)",
            p.m, p.k, p.n, p.m, p.k, p.k, p.n, p.m, p.n
        );
    }
    if a.model == "tile" {
        return tile_cmd(&a, &cfg, &p);
    }
    if data_bytes > MAX_SIM_DATA_BYTES {
        bail!(
            "--m {} --k {} --n {}: the operands need {data_bytes} bytes, more than the {MAX_SIM_DATA_BYTES} bytes (MAX_SIM_DATA_BYTES) the {} model simulates with data; use --model tile for the counters of a larger GEMM",
            p.m, p.k, p.n, a.model
        );
    }
    let mut r = Rng(a.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let av: Vec<i8> = (0..p.m * p.k).map(|_| r.next() as i8).collect();
    let bv: Vec<i8> = (0..p.k * p.n).map(|_| r.next() as i8).collect();
    let bias: Vec<i32> = (0..p.n).map(|_| r.range(-20000, 20000) as i32).collect();
    let mult: Vec<i32> = (0..p.n)
        .map(|_| r.range(1 << 29, (1i64 << 31) - 1) as i32)
        .collect();
    let shift: Vec<i32> = (0..p.n).map(|_| r.range(-12, -6) as i32).collect();
    let data = GemmData {
        a: &av,
        b: &bv,
        bias: &bias,
        mult: &mult,
        shift: &shift,
    };
    let layout = MemLayout::packed(&p, 0x1000);
    let prog = gemm::build(&cfg, &p, &layout).context("building the GEMM program")?;
    let t = prog.tiling;
    let (counters, check) = match a.model.as_str() {
        "cycle" | "functional" => {
            let model = if a.model == "cycle" {
                Fidelity::Cycle
            } else {
                Fidelity::Functional
            };
            let mut dev =
                SimDevice::new(&cfg, model, (prog.mem_end() as usize + 4096).max(1 << 16));
            let (got, c) = gemm::run(&mut dev, &p, &data, &layout)?;
            let want = gemm::reference(&p, &data)?;
            (c, Some(got == want))
        }
        other => bail!("--model `{other}`: expected cycle, functional or tile"),
    };
    print_report(&a, &cfg, &p, &t, prog.commands.len(), &counters, check)
}

/// The device's address space: every operand of a GEMM program lives below 4 GiB.
pub const DEVICE_ADDRESS_SPACE: u128 = 1 << 32;

/// Largest operand footprint (A + B + C + requantization parameters, bytes) of the models
/// that simulate with data (`--model cycle|functional`): 256 MiB, so that the operands,
/// the device memory holding them and the reference output stay well under 1 GiB.
pub const MAX_SIM_DATA_BYTES: u128 = 256 << 20;

/// Most reduction steps the tile model estimates (`--model tile`): 2^22, about 480 MB
/// of schedule at ~115 bytes per step.
pub const MAX_TILE_STEPS: u64 = 1 << 22;

/// The bytes of A, B, C and the requantization parameters, without overflow.
fn operand_bytes(p: &GemmProblem) -> u128 {
    let (m, k, n) = (p.m as u128, p.k as u128, p.n as u128);
    (m * k)
        .saturating_add(k * n)
        .saturating_add((m * n).saturating_mul(p.out_elem_bytes() as u128))
        .saturating_add(n * arch::isa::PARAM_RECORD_BYTES as u128)
}

/// `--model tile`: the counters from the tiling alone, no operands, no program (its
/// command count is the `commands` counter).
fn tile_cmd(a: &GemmArgs, cfg: &AccelConfig, p: &GemmProblem) -> Result<ExitCode> {
    let t = arch::schedule::choose_problem(cfg, p)
        .with_context(|| format!("tiling the {}x{}x{} GEMM", p.m, p.k, p.n))?;
    // The tile model keeps a few words per reduction step (about 115 bytes, measured):
    // the step count is checked before it allocates them.
    let steps = t.n_i().saturating_mul(t.n_j()).saturating_mul(t.n_k());
    if steps > MAX_TILE_STEPS {
        bail!(
            "--m {} --k {} --n {}: {steps} reduction steps of {}x{}x{} tiles on {}, more than the {MAX_TILE_STEPS} (MAX_TILE_STEPS) the tile model estimates",
            p.m, p.k, p.n, t.tm, t.tk, t.tn, cfg.name
        );
    }
    let counters = sim::tile::estimate(cfg, p)?;
    print_report(a, cfg, p, &t, counters.commands as usize, &counters, None)
}

fn print_report(
    a: &GemmArgs,
    cfg: &AccelConfig,
    p: &GemmProblem,
    t: &arch::schedule::Tiling,
    commands: usize,
    counters: &arch::device::Counters,
    check: Option<bool>,
) -> Result<ExitCode> {
    let report = GemmRunReport::new(cfg, counters);
    // The functional model is untimed: no timing or energy figures, no timed bounds.
    let timed = a.model != "functional";
    let bounds = if timed {
        check_bounds(cfg, counters)
    } else {
        Ok(())
    };
    let peak = cfg.peak_macs_per_cycle();
    let array_utilization = schema::array_utilization(report.macs, report.accel_cycles, peak);
    if a.json {
        let mut v = serde_json::json!({
            "schema": schema::SCHEMA,
            "problem": {"m": p.m, "k": p.k, "n": p.n, "output": if a.int32 {"int32"} else {"int8"}},
            "simulator_level": a.model,
            "tiling": {"tm": t.tm, "tk": t.tk, "tn": t.tn, "order": format!("{:?}", t.order),
                       "commands": commands},
            "config": cfg.name,
            "config_hash": cfg.hash(),
            "dataflow": cfg.dataflow.as_str(),
            "rows": cfg.rows,
            "cols": cfg.cols,
            "clock_mhz": cfg.clock_mhz,
            "macs": report.macs,
            "bus_bytes": report.bus_bytes,
            "area_mm2": report.area_mm2,
            "counters": value_counters(counters, timed)
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
            "output_matches_naive": check,
        });
        if timed {
            let e = &report.energy;
            let timing = serde_json::json!({
                "accel_cycles": report.accel_cycles,
                "offload_us": report.offload_us,
                "offload_uj": pj_to_uj(e.total_pj),
                "mac_uj": pj_to_uj(e.mac_pj),
                "sram_uj": pj_to_uj(e.input_sram_pj + e.weight_sram_pj + e.acc_sram_pj),
                "bus_uj": pj_to_uj(e.bus_pj),
                "leakage_uj": pj_to_uj(e.leakage_pj),
                "energy_parts_pj": e,
                "array_utilization": array_utilization,
                "mac_utilization": schema::mac_utilization(report.macs, report.offload_us, cfg.clock_mhz, peak),
                "bounds_ok": bounds.is_ok(),
            });
            if let (Some(o), serde_json::Value::Object(t)) = (v.as_object_mut(), timing) {
                o.extend(t);
            }
        }
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        outln!(
            "GEMM {}x{}x{} ({}) on {} ({}, {}x{}), {} model",
            p.m,
            p.k,
            p.n,
            if a.int32 { "int32 out" } else { "int8 out" },
            cfg.name,
            cfg.dataflow,
            cfg.rows,
            cfg.cols,
            a.model
        );
        outln!(
            "tiling: tm={} tk={} tn={} ({:?}), {} commands",
            t.tm,
            t.tk,
            t.tn,
            t.order,
            commands
        );
        if timed {
            outln!("accel_cycles  {:>14}", report.accel_cycles);
            outln!(
                "offload_us    {:>14.3} us at {} MHz",
                report.offload_us,
                cfg.clock_mhz
            );
        }
        outln!("macs          {:>14}", report.macs);
        if timed {
            outln!("array_util    {:>14.4}", array_utilization);
        }
        for (name, v) in value_counters(counters, timed) {
            outln!("  {name:<22}{v:>14}");
        }
        if timed {
            let e = &report.energy;
            outln!("offload_uj    {:>14.6} uJ", pj_to_uj(e.total_pj));
            for (name, v) in e.parts() {
                let name = name.trim_end_matches("_pj").replace('_', " ");
                outln!("  {name:<22}{v:>14.1} pJ");
            }
        } else {
            outln!("timing and energy: not modelled by the functional model (use --model cycle or tile)");
        }
        outln!("area          {:>14.4} mm^2", report.area_mm2);
        match check {
            Some(true) => outln!(
                "output: identical to the naive GEMM ({} elements)",
                p.m * p.n
            ),
            Some(false) => outln!("output: DIFFERS from the naive GEMM"),
            None => outln!("output: not computed (tile-level model)"),
        }
        match &bounds {
            Ok(()) if !timed => {}
            Ok(()) => outln!("bounds: ok (cycles >= MACs/PEs, >= bus bytes/width; utilization <= 1; energy between the compulsory-work floor and the all-busy ceiling)"),
            Err(v) => outln!("bounds: VIOLATED: {}", v.join("; ")),
        }
    }
    if check == Some(false) || bounds.is_err() {
        eprintln!(
            "tinyaccel: internal error: the simulator disagrees with the reference or a bound"
        );
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
