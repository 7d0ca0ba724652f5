//! Bounded command queues and the streaming command fetch (`cmd_queue_depth > 0`) on the
//! system RTL against the cycle-level simulator: the coverage GEMMs, random GEMMs and
//! model layers (and, on edge-8x8-tinyml, the vector-unit programs) byte- and
//! counter-exact at several depths on edge-8x8 (OS), edge-8x8 weight-stationary and
//! edge-8x8-tinyml; every run's cycles include the fetch (at least the whole buffer's
//! fetch time); a tiny depth is slower on the same data, not wrong; a program that pops a
//! token pushed later in program order deadlocks the RTL with small queues exactly as the
//! simulator. (`cmd_queue_depth = 0` is every other system test, unchanged.) Needs
//! `verilator` and the MLPerf Tiny models (see `tests/system.rs`).

use anyhow::{bail, ensure, Context, Result};
use arch::device::{Device, DeviceError};
use arch::isa::{Command as Cmd, Compute, Deps, Load, Op, Scratchpad};
use arch::{timing, AccelConfig, Dataflow};
use cosim::layers::ModelSpec;
use cosim::report::SystemReport;
use cosim::system::{verify_system, Options};
use hdl::rtl_device::RtlDevice;
use sim::{Fidelity, SimDevice};

const MEM: usize = sim::device::DEFAULT_MEM_BYTES;

fn with_depth(preset: &str, df: Dataflow, depth: u32) -> AccelConfig {
    let mut c = AccelConfig::preset(preset).expect("preset");
    c.dataflow = df;
    c.cmd_queue_depth = depth;
    c.name = format!("{preset}-{}-q{depth}", df.short_name());
    c.validate().expect("valid");
    c
}

/// Co-simulates the coverage set, `random` random GEMMs and `ad_layers` layers of ad
/// (and the vector-unit set where the configuration has the unit); everything exact, and
/// each program's cycles at least its buffer's fetch time.
fn exact(cfg: &AccelConfig, random: usize, ad_layers: usize) -> Result<SystemReport> {
    let mut opts = Options::default_set(5, random);
    opts.models = vec![ModelSpec {
        model: "ad".into(),
        layers: Some(ad_layers),
        input: None,
    }];
    let r = verify_system(cfg, &opts).with_context(|| cfg.name.clone())?;
    let bad: Vec<String> = r
        .programs
        .iter()
        .filter(|p| !p.ok())
        .map(|p| {
            format!(
                "{}: {:?} (reference ok: {:?})",
                p.name, p.mismatch, p.reference_ok
            )
        })
        .collect();
    ensure!(bad.is_empty(), "{}: {}", cfg.name, bad.join("\n"));
    ensure!(r.all_ok(), "{}: {}", cfg.name, r.to_text());
    for p in &r.programs {
        ensure!(
            p.rtl_cycles == p.sim_cycles && p.rtl_counters == p.sim_counters,
            "{}: {p:?}",
            p.name
        );
        if p.starts == 1 {
            ensure!(
                p.sim_cycles >= timing::fetch_cycles(cfg, p.commands),
                "{}: {} cycles, the fetch alone takes {}",
                p.name,
                p.sim_cycles,
                timing::fetch_cycles(cfg, p.commands)
            );
        }
    }
    Ok(r)
}

fn cycles_of(r: &SystemReport, name: &str) -> Result<u64> {
    Ok(r.programs
        .iter()
        .find(|p| p.name == name)
        .with_context(|| format!("program {name}"))?
        .sim_cycles)
}

/// edge-8x8 output-stationary at depths 4, 16 and 64: exact; over the whole set a smaller
/// queue is not faster, and depth 4 is slower than 64 on some program (the same data:
/// slower, not wrong).
#[test]
fn edge_8x8_os_queue_depths_exact() -> Result<()> {
    let mut reports = Vec::new();
    for depth in [4, 16, 64] {
        let cfg = with_depth("edge-8x8", Dataflow::OutputStationary, depth);
        reports.push(exact(&cfg, 4, 2)?);
    }
    let total = |r: &SystemReport| -> u64 { r.programs.iter().map(|p| p.sim_cycles).sum() };
    let (a, b, c) = (total(&reports[0]), total(&reports[1]), total(&reports[2]));
    eprintln!("total cycles at depth 4 / 16 / 64: {a} / {b} / {c}");
    ensure!(a >= b && b >= c, "depth 4/16/64: {a} {b} {c} cycles");
    let mut slower = Vec::new();
    for p in &reports[0].programs {
        let deep = cycles_of(&reports[2], &p.name)?;
        if p.sim_cycles > deep {
            slower.push(format!("{} {} > {deep}", p.name, p.sim_cycles));
        }
    }
    eprintln!("slower at depth 4: {}", slower.join(", "));
    ensure!(!slower.is_empty(), "depth 4 never slower than 64");
    Ok(())
}

/// Weight-stationary edge-8x8 at depths 2 and 64 (16 was checked too when this was
/// written; each depth is one more Verilator build in CI).
#[test]
fn edge_8x8_ws_queue_depths_exact() -> Result<()> {
    for depth in [2, 64] {
        exact(
            &with_depth("edge-8x8", Dataflow::WeightStationary, depth),
            3,
            1,
        )?;
    }
    Ok(())
}

/// edge-8x8-tinyml (im2col, 4 DMA requests in flight, the vector unit) at depths 4 and 64
/// (16 was checked too when this was written): the vector-unit programs among them.
#[test]
fn edge_8x8_tinyml_queue_depths_exact() -> Result<()> {
    for depth in [4, 64] {
        let cfg = with_depth("edge-8x8-tinyml", Dataflow::OutputStationary, depth);
        let r = exact(&cfg, 3, 2)?;
        let vpu = r.programs.iter().filter(|p| p.kind == "vpu").count();
        ensure!(vpu > 3, "{}: {vpu} vector-unit programs", cfg.name);
    }
    Ok(())
}

/// The compute queue's first command pops a token the LOAD after three more COMPUTEs
/// pushes: with two entries both devices report a deadlock at command 0; with 64 both
/// run it, exactly.
#[test]
fn a_later_push_deadlocks_small_queues_on_the_rtl() -> Result<()> {
    let compute = |deps: Deps| Cmd {
        op: Op::Compute(Compute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 8,
            k: 1,
            n: 8,
        }),
        deps,
    };
    let mut load = Cmd::new(Op::Load(Load {
        sp: Scratchpad::Input,
        transpose: false,
        sp_line: 0,
        mem_addr: 0,
        mem_stride: 8,
        nrows: 1,
        ncols: 8,
    }));
    load.deps.push_next = true;
    let buf = arch::isa::encode_all(&[
        compute(Deps {
            pop_prev: true,
            ..Deps::NONE
        }),
        compute(Deps::NONE),
        compute(Deps::NONE),
        load,
        Cmd::new(Op::Finish),
    ]);
    let tiny = with_depth("edge-8x8", Dataflow::OutputStationary, 2);
    let mut rtl = RtlDevice::new(&tiny, MEM)?;
    let mut sim = SimDevice::new(&tiny, Fidelity::Cycle, MEM);
    let s = sim.submit(4096, &buf);
    let r = rtl.submit(4096, &buf);
    match (&s, &r) {
        (
            Err(DeviceError::Command { index: 0, .. }),
            Err(DeviceError::Command { index: 0, .. }),
        ) => {}
        _ => bail!("both must deadlock at command 0: simulator {s:?}, RTL {r:?}"),
    }
    let deep = with_depth("edge-8x8", Dataflow::OutputStationary, 64);
    let mut rtl = RtlDevice::new(&deep, MEM)?;
    let mut sim = SimDevice::new(&deep, Fidelity::Cycle, MEM);
    let a = rtl.submit(4096, &buf)?;
    let b = sim.submit(4096, &buf)?;
    ensure!(a == b, "RTL {a:?}, simulator {b:?}");
    Ok(())
}
