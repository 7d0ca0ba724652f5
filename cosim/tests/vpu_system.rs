//! The vector unit in the system RTL (`VSET` / `VCOMPUTE`, `docs/architecture.md` 3.5),
//! checked against the contract alone (no simulator): the programs of `cosim::vpu`
//! (coverage set and random ones: every mode, `ACCUMULATE`, divisors, `n < rows`, tap
//! strides, phases whose loads overlap the other phase's `VCOMPUTE`s, an array `COMPUTE`
//! between them) run on `RtlDevice` for configurations with all three features and with
//! each alone, in all three dataflows, with one- and two-bank scratchpads. Each output
//! equals `arch::vpu::execute` on the loaded lines, `vpu_busy_cycles` is the sum of
//! `arch::timing::vcompute_cycles`, the byte, MAC and lane-operation counters are
//! `Counters::add_command_regs`', and with single-bank scratchpads LOAD beats lose to
//! the unit's reads (bank-conflict cycles). Without the unit, opcodes 7 and 8 are bad
//! opcodes. Needs `verilator`.

use anyhow::{ensure, Context, Result};
use arch::device::Counters;
use arch::isa::{Command as Cmd, Op, VMode, VSet};
use arch::{AccelConfig, Dataflow};
use cosim::vpu::{coverage_vpu_cases, random_vpu_cases, run_vpu_case, VpuCase};
use hdl::rtl_device::RtlDevice;

const MEM: usize = 1 << 20;

fn cfg(preset: &str, df: Dataflow, features: (bool, bool, bool), banks: u32) -> AccelConfig {
    let mut c = AccelConfig::preset(preset).expect("preset");
    c.dataflow = df;
    (c.depthwise, c.pooling, c.eltwise) = features;
    c.input_sram_banks = banks;
    c.weight_sram_banks = banks;
    c.name = format!("{preset}-{}-{features:?}-{banks}b", df.short_name());
    c
}

/// Runs every case on the RTL; returns the total bank-conflict cycles.
fn run_all(cfg: &AccelConfig, cases: &[VpuCase]) -> Result<u64> {
    let mut dev = RtlDevice::new(cfg, MEM).context("RTL device")?;
    let mut conflicts = 0;
    for case in cases {
        let (out, c) = run_vpu_case(&mut dev, case)
            .map_err(anyhow::Error::msg)
            .with_context(|| format!("{}: {}", cfg.name, case.name))?;
        let ctx = || format!("{}: {} ({})", cfg.name, case.name, case.shape());
        if out != case.expected {
            let i = out
                .iter()
                .zip(&case.expected)
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            anyhow::bail!(
                "{}: output differs from arch::vpu at byte {i} (accumulator line {}, lane {})",
                ctx(),
                i / (4 * cfg.cols as usize),
                (i / 4) % cfg.cols as usize
            );
        }
        ensure!(
            c.vpu_busy_cycles == case.vpu_busy_cycles(),
            "{}: vpu_busy_cycles {} vs the contract's {}",
            ctx(),
            c.vpu_busy_cycles,
            case.vpu_busy_cycles()
        );
        let arrays = case
            .cmds
            .iter()
            .filter(|x| matches!(x.op, Op::Compute(_)))
            .count() as u64;
        ensure!(
            c.array_busy_cycles == arrays * arch::timing::compute_cycles(cfg, 1, 1, 1),
            "{}: array_busy_cycles {}",
            ctx(),
            c.array_busy_cycles
        );
        let want = case.command_counts(cfg);
        let pick = |x: &Counters| {
            (
                x.commands,
                x.macs,
                x.vpu_reduce_ops,
                x.vpu_add_ops,
                x.input_sp_read_bytes,
                x.weight_sp_read_bytes,
                x.acc_sp_read_bytes,
                x.acc_sp_write_bytes,
                x.input_sp_write_bytes,
                x.weight_sp_write_bytes,
                x.bus_read_bytes,
                x.bus_write_bytes,
            )
        };
        ensure!(
            pick(&c) == pick(&want),
            "{}: counters (commands, macs, reduce ops, add ops, in rd, w rd, acc rd, acc wr, \
             in wr, w wr, bus rd, bus wr) {:?}, contract {:?}",
            ctx(),
            pick(&c),
            pick(&want)
        );
        ensure!(c.cycles >= case.vpu_busy_cycles(), "{}: {c:?}", ctx());
        conflicts += c.bank_conflict_cycles;
    }
    Ok(conflicts)
}

fn check(cfg: &AccelConfig, random: usize, seed: u64) -> Result<u64> {
    let mut cases = coverage_vpu_cases(cfg).map_err(anyhow::Error::msg)?;
    ensure!(!cases.is_empty(), "{}: no coverage programs", cfg.name);
    cases.extend(random_vpu_cases(cfg, random, seed).map_err(anyhow::Error::msg)?);
    for m in cosim::vpu::modes_of(cfg) {
        ensure!(
            cases
                .iter()
                .any(|c| c.vcomputes.iter().any(|(s, v)| s.mode == m && v.accumulate)),
            "{}: no accumulating {} program",
            cfg.name,
            m.name()
        );
    }
    run_all(cfg, &cases)
}

#[test]
fn all_modes_on_edge_8x8_tinyml() -> Result<()> {
    let c = AccelConfig::preset("edge-8x8-tinyml").context("preset")?;
    check(&c, 24, 1)?;
    Ok(())
}

#[test]
fn all_modes_single_bank_in_every_dataflow() -> Result<()> {
    for df in [
        Dataflow::OutputStationary,
        Dataflow::WeightStationary,
        Dataflow::InputStationary,
    ] {
        let c = cfg("tiny-4x4", df, (true, true, true), 1);
        let conflicts = check(&c, 16, 2)?;
        ensure!(
            conflicts > 0,
            "{}: the overlapping loads never lost a bank to the unit",
            c.name
        );
        // Two banks per scratchpad: the halves are apart, no conflicts.
        let c2 = cfg("tiny-4x4", df, (true, true, true), 2);
        let none = check(&c2, 4, 3)?;
        ensure!(none == 0, "{}: {none} conflict cycles", c2.name);
    }
    Ok(())
}

#[test]
fn each_feature_alone() -> Result<()> {
    for f in [
        (true, false, false),
        (false, true, false),
        (false, false, true),
    ] {
        let c = cfg("tiny-4x4", Dataflow::OutputStationary, f, 1);
        check(&c, 8, 4)?;
    }
    Ok(())
}

/// Without the unit, opcodes 7 and 8 stop the fetch like an unknown opcode (the RTL
/// alone, no host check); with it, a VSET alone takes `VSET_CYCLES` and counts nothing
/// but itself.
#[test]
fn opcodes_7_and_8_need_the_unit() -> Result<()> {
    let set = Cmd::new(Op::VSet(VSet {
        mode: VMode::Max,
        tap_stride: 3,
        ..VSet::default()
    }));
    let cmds = [set, Cmd::new(Op::Finish)];
    let buf = arch::isa::encode_all(&cmds);
    let plain = cfg(
        "tiny-4x4",
        Dataflow::OutputStationary,
        (false, false, false),
        2,
    );
    let b = hdl::sysflow::build(&plain, 1 << 16)?;
    for op in [7u8, 8] {
        let mut mem = vec![0u8; 4096];
        mem[..buf.len()].copy_from_slice(&buf);
        mem[0] = (mem[0] & 0xF0) | op;
        let r = b.run(&mem, 0, 2, (0, 0), 100_000)?;
        ensure!(
            r.is_error() && r.error_code() == hdl::system::ERR_OPCODE && r.err_index == 0,
            "opcode {op} without the unit: {r:?}"
        );
    }
    let pool = cfg(
        "tiny-4x4",
        Dataflow::OutputStationary,
        (false, true, false),
        2,
    );
    let b = hdl::sysflow::build(&pool, 1 << 16)?;
    let mut mem = vec![0u8; 4096];
    mem[..buf.len()].copy_from_slice(&buf);
    let r = b.run(&mem, 0, 2, (0, 0), 100_000)?;
    ensure!(!r.is_error() && !r.timeout, "VSET with the unit: {r:?}");
    let c = &r.counters;
    ensure!(
        c.cycles == arch::timing::VSET_CYCLES
            && c.commands == 2
            && c.vpu_busy_cycles == 0
            && c.array_busy_cycles == 0,
        "VSET alone: {c:?}"
    );
    Ok(())
}

/// The generators' programs are valid and deterministic, and the coverage set has every
/// mode of the configuration (no simulator, no RTL).
#[test]
fn programs_are_checked_and_seeded() -> Result<()> {
    let c = AccelConfig::preset("edge-8x8-tinyml").context("preset")?;
    let a = random_vpu_cases(&c, 10, 5).map_err(anyhow::Error::msg)?;
    let b = random_vpu_cases(&c, 10, 5).map_err(anyhow::Error::msg)?;
    ensure!(a.len() == 10 && b.len() == 10);
    for (x, y) in a.iter().zip(&b) {
        ensure!(x.cmds == y.cmds && x.data == y.data && x.expected == y.expected);
    }
    let cov = coverage_vpu_cases(&c).map_err(anyhow::Error::msg)?;
    for m in [VMode::Mac, VMode::Sum, VMode::Max, VMode::Add] {
        ensure!(
            cov.iter()
                .any(|k| k.vcomputes.iter().any(|(s, _)| s.mode == m)),
            "no {} program",
            m.name()
        );
    }
    ensure!(cov
        .iter()
        .any(|k| k.vcomputes.iter().any(|(s, v)| s.divisor == 9 && v.k == 9)));
    let none = AccelConfig::preset("edge-8x8").context("preset")?;
    ensure!(random_vpu_cases(&none, 5, 1)
        .map_err(anyhow::Error::msg)?
        .is_empty());
    Ok(())
}
