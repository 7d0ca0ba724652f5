//! The vector unit (`VSET`, `VCOMPUTE`; `docs/architecture.md` section 3.5) in the
//! cycle-level model:
//!
//! - the event-level unit (`sim::vpu::VpuTile`, what the executor runs) against the
//!   cycle-stepped one (`sim::vpu::VpuJob`) cycle by cycle on random commands of every
//!   mode (banks used, accumulator contents after every cycle, operands overwritten in
//!   the middle of the command as a racing LOAD would); the stepped unit reads and writes
//!   exactly the bytes of `Counters::add_command_regs`, takes `vcompute_cycles` and
//!   computes `arch::vpu::execute`'s values;
//! - a lone `VSET` + `VCOMPUTE` takes exactly `VSET_CYCLES + vcompute_cycles` and counts
//!   them as `vpu_busy_cycles`;
//! - hand-worked timelines: a LOAD beat colliding with the unit's reads on known cycles
//!   (single- and multi-bank), a LOAD completing one cycle before or at the cycle a line
//!   is read, a STORE completing between two write-backs;
//! - random vector programs (all modes, ACCUMULATE, divisors, `n < rows`, tap strides,
//!   COMPUTEs of every dataflow between them, LOADs and STOREs around them, one- and
//!   multi-bank scratchpads): with their dependency tokens the cycle-level data and every
//!   non-timing counter equal the functional model's; without tokens (the engines race)
//!   the event-level executor equals the register-level one (array and stepped unit) in
//!   memory, scratchpads and every counter;
//! - the host checks run in `arch::hostcheck::check_buffer`'s order.

use arch::device::Counters;
use arch::isa::{
    AddRescale, Command, Compute, Deps, Load, Op, Scratchpad, Store, VCompute, VMode, VSet,
};
use arch::{timing, AccelConfig, Dataflow};
use sim::cycle::{self, CoreModel};
use sim::functional;
use sim::machine::{self, Machine};
use sim::vpu::{VpuJob, VpuTile};

mod common;
use common::Rng;

/// `edge-8x8-tinyml` reshaped: small scratchpads (so random lines span several banks).
#[allow(clippy::too_many_arguments)]
fn vcfg(
    rows: u32,
    cols: u32,
    df: Dataflow,
    banks: u32,
    bus: u32,
    latency: u32,
    outstanding: u32,
) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8-tinyml").unwrap();
    c.name = "vpu-test".into();
    c.rows = rows;
    c.cols = cols;
    c.dataflow = df;
    c.input_sram_kib = 1;
    c.weight_sram_kib = 1;
    c.acc_sram_kib = 4;
    c.input_sram_banks = banks;
    c.weight_sram_banks = banks;
    c.acc_sram_banks = banks;
    c.bus_bytes_per_cycle = bus;
    c.bus_latency_cycles = latency;
    c.dma_outstanding = outstanding;
    c.validate().unwrap();
    c
}

const MODES: [VMode; 4] = [VMode::Mac, VMode::Sum, VMode::Max, VMode::Add];

fn random_vset(r: &mut Rng, mode: VMode) -> VSet {
    match mode {
        VMode::Add => VSet {
            mode,
            tap_stride: 0,
            divisor: 0,
            add: AddRescale {
                off1: r.range(0, 511) as i16 - 256,
                off2: r.range(0, 511) as i16 - 256,
                left_shift: r.range(0, 31) as u8,
                m1: r.next() as i32,
                s1: r.range(0, 62) as i8 - 31,
                m2: r.next() as i32,
                s2: r.range(0, 62) as i8 - 31,
            },
        },
        _ => VSet {
            mode,
            tap_stride: r.range(0, 14) as u32,
            divisor: if mode == VMode::Sum && r.next().is_multiple_of(2) {
                let hi = if r.next().is_multiple_of(4) {
                    65535
                } else {
                    20
                };
                r.range(1, hi) as u16
            } else {
                0
            },
            add: AddRescale::default(),
        },
    }
}

/// A random `VCOMPUTE` legal under `set` on `mach` (lines in `0 ..= window`), or `None`
/// if the draws did not fit.
fn random_vcompute(
    r: &mut Rng,
    cfg: &AccelConfig,
    mach: &Machine,
    set: &VSet,
    window: u64,
) -> Option<VCompute> {
    for _ in 0..20 {
        let k = if set.mode == VMode::Add {
            1
        } else {
            r.range(1, 9)
        };
        let hi = if r.next().is_multiple_of(4) { 40 } else { 10 };
        let m = r.range(1, hi);
        let v = VCompute {
            accumulate: set.divisor == 0 && r.next().is_multiple_of(2),
            a_line: r.range(0, window) as u32,
            b_line: r.range(0, window) as u32,
            c_line: r.range(0, window) as u32,
            m: m as u16,
            k: k as u16,
            n: if r.next().is_multiple_of(2) {
                mach.rows as u16
            } else {
                r.range(1, mach.rows as u64) as u16
            },
        };
        if Command::new(Op::VCompute(v)).check(cfg).is_ok()
            && machine::check_vcompute(mach, Some(set), &v).is_ok()
        {
            return Some(v);
        }
    }
    None
}

/// A random `COMPUTE` legal in the configuration's dataflow.
fn random_compute(r: &mut Rng, cfg: &AccelConfig, mach: &Machine, window: u64) -> Option<Compute> {
    let (rows, cols) = (mach.rows as u64, mach.cols as u64);
    for _ in 0..20 {
        let (m, k, n) = match cfg.dataflow {
            Dataflow::OutputStationary => (r.range(1, rows), r.range(1, 12), r.range(1, cols)),
            Dataflow::WeightStationary => (r.range(1, 12), r.range(1, rows), r.range(1, cols)),
            Dataflow::InputStationary => {
                (r.range(1, rows), r.range(1, cols), r.range(1, 2 * cols + 1))
            }
        };
        let c = Compute {
            accumulate: r.next().is_multiple_of(2),
            a_line: r.range(0, window) as u32,
            b_line: r.range(0, window) as u32,
            c_line: r.range(0, window) as u32,
            m: m as u16,
            k: k as u16,
            n: n as u16,
        };
        if Command::new(Op::Compute(c)).check(cfg).is_ok()
            && machine::check_compute(mach, &c, cfg.dataflow).is_ok()
        {
            return Some(c);
        }
    }
    None
}

fn fill(m: &mut Machine, r: &mut Rng) {
    m.input.iter_mut().for_each(|v| *v = r.next() as i8);
    m.weight.iter_mut().for_each(|v| *v = r.next() as i8);
    m.acc.iter_mut().for_each(|v| *v = r.next() as i32);
}

/// Overwrites a few random lines of the input and weight scratchpads (both machines).
fn scribble(r: &mut Rng, a: &mut Machine, b: &mut Machine, window: usize) {
    for _ in 0..r.range(1, 3) {
        let (rows, cols) = (a.rows, a.cols);
        let li = (r.range(0, window as u64) as usize).min(a.in_lines - 1);
        let lw = (r.range(0, window as u64) as usize).min(a.w_lines - 1);
        for x in 0..rows {
            let v = r.next() as i8;
            a.input[li * rows + x] = v;
            b.input[li * rows + x] = v;
        }
        for x in 0..cols {
            let v = r.next() as i8;
            a.weight[lw * cols + x] = v;
            b.weight[lw * cols + x] = v;
        }
    }
}

#[test]
fn event_unit_equals_stepped_unit_cycle_by_cycle() {
    let mut r = Rng(0x7ec7_0a11);
    let mut tile = VpuTile::new();
    let (mut commands, mut scribbled, mut cycles_checked) = (0, 0, 0u64);
    let mut per_mode = [0; 4];
    for (rows, cols) in [(1, 1), (1, 4), (2, 3), (4, 4), (4, 8), (8, 8), (16, 16)] {
        for banks in [1, 2, 4] {
            let cfg = vcfg(rows, cols, Dataflow::OutputStationary, banks, 8, 4, 1);
            for _ in 0..30 {
                let mut reg = Machine::new(&cfg);
                fill(&mut reg, &mut r);
                let mode = MODES[r.range(0, 3) as usize];
                let set = random_vset(&mut r, mode);
                let Some(cmd) = random_vcompute(&mut r, &cfg, &reg, &set, 30) else {
                    continue;
                };
                let mut ev = reg.clone();
                let mut want = reg.clone();
                arch::vpu::execute(
                    &set,
                    &cmd,
                    want.rows,
                    want.cols,
                    &want.input,
                    &want.weight,
                    &mut want.acc,
                );
                let scribble_on = r.next().is_multiple_of(2);
                let mut job = VpuJob::new(cmd, set, &reg);
                tile.start(cmd, set, &ev);
                let who = format!("{rows}x{cols} banks {banks} {set:?} {cmd:?}");
                let mut t = 0u64;
                loop {
                    let (done, access) = job.step(&mut reg);
                    assert_eq!(access, tile.access(&ev, t), "{who}: accesses in cycle {t}");
                    let flushed = tile.flush_writes(&mut ev, t);
                    assert_eq!(reg.acc, ev.acc, "{who}: accumulators after cycle {t}");
                    cycles_checked += 1;
                    if done {
                        assert!(flushed, "{who}: event model has writes left at the end");
                        assert_eq!(t + 1, tile.cycles(), "{who}: cycles");
                        break;
                    }
                    assert!(t + 1 < tile.cycles(), "{who}: event model ends early");
                    if scribble_on && r.next().is_multiple_of(3) {
                        // A load completing in cycle t: reads up to t saw the old lines.
                        tile.sync_reads(&ev, t);
                        scribble(&mut r, &mut reg, &mut ev, 40);
                        scribbled += 1;
                    }
                    t += 1;
                }
                assert_eq!(
                    job.elapsed(),
                    timing::vcompute_cycles(cmd.m as u64, cmd.k as u64),
                    "{who}"
                );
                if !scribble_on {
                    assert_eq!(reg.acc, want.acc, "{who}: values (arch::vpu::execute)");
                }
                // The bytes and operations the stepped unit performed are the counters'.
                let k = job.counts();
                let mut c = Counters::default();
                c.add_command_regs(&cfg, &Op::VCompute(cmd), None, Some(&set));
                assert_eq!(
                    (
                        k.input_read_bytes,
                        k.weight_read_bytes,
                        k.acc_read_bytes,
                        k.acc_write_bytes
                    ),
                    (
                        c.input_sp_read_bytes,
                        c.weight_sp_read_bytes,
                        c.acc_sp_read_bytes,
                        c.acc_sp_write_bytes
                    ),
                    "{who}: bytes"
                );
                assert_eq!(
                    k.lane_ops,
                    c.macs + c.vpu_reduce_ops + c.vpu_add_ops,
                    "{who}: lane operations"
                );
                per_mode[mode.code() as usize] += 1;
                commands += 1;
            }
        }
    }
    assert!(commands > 500, "only {commands} commands");
    assert!(per_mode.iter().all(|&n| n > 80), "modes {per_mode:?}");
    assert!(scribbled > 300, "only {scribbled} mid-command writes");
    assert!(cycles_checked > 20_000, "only {cycles_checked} cycles");
}

fn fin() -> Command {
    Command::new(Op::Finish)
}

fn run(
    cfg: &AccelConfig,
    mach: &mut Machine,
    mem: &mut [u8],
    cmds: &[Command],
    core: CoreModel,
) -> Counters {
    for c in cmds {
        c.check(cfg).unwrap_or_else(|e| panic!("{c}: {e}"));
    }
    let c = cycle::run_with_core(cfg, mach, mem, cmds, cycle::MAX_CYCLES, core)
        .unwrap_or_else(|e| panic!("{core:?}: {e}"));
    sim::report::check_bounds(cfg, &c).unwrap_or_else(|e| panic!("{e:?}"));
    c
}

/// Every counter that is not a timing counter.
fn counts(c: &Counters) -> [u64; 14] {
    [
        c.macs,
        c.commands,
        c.bus_read_bytes,
        c.bus_write_bytes,
        c.input_sp_read_bytes,
        c.input_sp_write_bytes,
        c.weight_sp_read_bytes,
        c.weight_sp_write_bytes,
        c.acc_sp_read_bytes,
        c.acc_sp_write_bytes,
        c.dma_bursts,
        c.im2col_pieces,
        c.vpu_reduce_ops,
        c.vpu_add_ops,
    ]
}

#[test]
fn lone_vcompute_takes_vcompute_cycles() {
    let mut r = Rng(0x10e);
    let mut checked = 0;
    for (rows, cols) in [(1, 1), (4, 4), (4, 16), (8, 8), (16, 16)] {
        let cfg = vcfg(rows, cols, Dataflow::WeightStationary, 2, 4, 7, 2);
        for case in 0..40 {
            let mut mach = Machine::new(&cfg);
            fill(&mut mach, &mut r);
            let set = random_vset(&mut r, MODES[case % 4]);
            let Some(v) = random_vcompute(&mut r, &cfg, &mach, &set, 40) else {
                continue;
            };
            let cmds = [
                Command::new(Op::VSet(set)),
                Command::new(Op::VCompute(v)),
                fin(),
            ];
            let mut func = mach.clone();
            let cf = functional::execute(&cfg, &mut func, &mut [], &cmds).unwrap();
            for core in [CoreModel::Event, CoreModel::Register] {
                let mut m = mach.clone();
                let c = run(&cfg, &mut m, &mut [], &cmds, core);
                let d = timing::vcompute_cycles(v.m as u64, v.k as u64);
                let who = format!("{rows}x{cols} {core:?} {set:?} {v:?}");
                assert_eq!(c.cycles, timing::VSET_CYCLES + d, "{who}: cycles");
                assert_eq!(c.vpu_busy_cycles, d, "{who}: vpu busy");
                assert_eq!(
                    (c.array_busy_cycles, c.dma_busy_cycles, c.dma_stall_cycles),
                    (0, 0, 0),
                    "{who}"
                );
                assert_eq!(counts(&c), counts(&cf), "{who}: counters");
                assert_eq!(m.acc, func.acc, "{who}: accumulators");
                assert_eq!(m.vset, Some(set), "{who}: mode registers");
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "only {checked}");
    // The contract's example: m = 20, k = 9 takes 186 cycles.
    assert_eq!(timing::vcompute_cycles(20, 9), 186);
}

fn load(sp: Scratchpad, sp_line: u32, mem_addr: u32, nrows: u16, ncols: u16) -> Command {
    Command::new(Op::Load(Load {
        sp,
        transpose: false,
        sp_line,
        mem_addr,
        mem_stride: ncols as u32,
        nrows,
        ncols,
    }))
}

/// A LOAD started in cycle 0 next to a VSET + VCOMPUTE (no tokens): its one beat is ready
/// in cycle `latency` and waits while the unit reads the line's bank, which it does in
/// cycles `VSET_CYCLES .. VSET_CYCLES + m*k` (input: every mode; weight: MAC and ADD).
#[test]
fn load_beats_wait_for_the_unit_on_known_cycles() {
    let (m, k) = (5u64, 3u64);
    let reads = timing::VSET_CYCLES..timing::VSET_CYCLES + m * k;
    for banks in [1, 4] {
        for mode in [VMode::Sum, VMode::Mac] {
            for sp in [Scratchpad::Input, Scratchpad::Weight] {
                for latency in [0u64, 2, 15, 16, 17] {
                    for core in [CoreModel::Event, CoreModel::Register] {
                        let cfg = vcfg(
                            8,
                            8,
                            Dataflow::OutputStationary,
                            banks,
                            8,
                            latency as u32,
                            1,
                        );
                        let mach = Machine::new(&cfg);
                        // 128 lines per scratchpad; with 4 banks, lines 32.. are bank 1.
                        let set = VSet {
                            mode,
                            tap_stride: m as u32,
                            ..VSet::default()
                        };
                        let v = VCompute {
                            accumulate: false,
                            a_line: 0,
                            b_line: 0,
                            c_line: 0,
                            m: m as u16,
                            k: k as u16,
                            n: 8,
                        };
                        // The LOAD writes line 20 (bank 0: collides with every read when
                        // the unit reads that scratchpad) or, with 4 banks, line 40
                        // (bank 1: never collides).
                        for line in [20u32, 40] {
                            let cmds = [
                                Command::new(Op::VSet(set)),
                                Command::new(Op::VCompute(v)),
                                load(sp, line, 0, 1, 8),
                                fin(),
                            ];
                            let mut mem = vec![7u8; 64];
                            let c = run(&cfg, &mut mach.clone(), &mut mem, &cmds, core);
                            let reads_sp = sp == Scratchpad::Input || mode == VMode::Mac;
                            let same_bank = banks == 1 || line < 32;
                            let waits = if reads_sp && same_bank && reads.contains(&latency) {
                                // Every cycle from `latency` to the last read.
                                reads.end - latency
                            } else {
                                0
                            };
                            let who = format!(
                                "banks {banks} {mode:?} {sp:?} line {line} latency {latency} {core:?}"
                            );
                            assert_eq!(c.bank_conflict_cycles, waits, "{who}: conflicts");
                            assert_eq!(c.dma_busy_cycles, latency + 1 + waits, "{who}: DMA");
                            assert_eq!(
                                c.cycles,
                                (latency + 1 + waits)
                                    .max(timing::VSET_CYCLES + timing::vcompute_cycles(m, k)),
                                "{who}: cycles"
                            );
                        }
                    }
                }
            }
        }
    }
}

/// The unit reads input line `a_line + p` (SUM, k = 1) in cycle `VSET_CYCLES + p`. A LOAD
/// of line 32 (the first line of bank 1 of 4) whose beat comes in cycle `latency` while
/// the unit reads line 31 (bank 0) completes in that cycle, so the read of line 32 in the
/// next cycle sees the new bytes; one cycle later the beat collides with that read, waits
/// one cycle, and the unit has read the old bytes.
#[test]
fn reads_see_a_load_completing_before_their_cycle() {
    for latency in [1u64, 2, 5, 9] {
        for late in [false, true] {
            for core in [CoreModel::Event, CoreModel::Register] {
                let lat = latency + late as u64;
                let cfg = vcfg(8, 8, Dataflow::OutputStationary, 4, 8, lat as u32, 1);
                let mut mach = Machine::new(&cfg);
                mach.input.fill(1);
                let set = VSet {
                    mode: VMode::Sum,
                    ..VSet::default()
                };
                // Position p reads line 32 - latency + p in cycle 1 + p: line 31 in cycle
                // `latency`, line 32 in cycle `latency + 1` (the last position).
                let v = VCompute {
                    accumulate: false,
                    a_line: (32 - latency) as u32,
                    b_line: 0,
                    c_line: 0,
                    m: latency as u16 + 1,
                    k: 1,
                    n: 8,
                };
                assert_eq!(timing::VSET_CYCLES, 1);
                let cmds = [
                    Command::new(Op::VSet(set)),
                    Command::new(Op::VCompute(v)),
                    load(Scratchpad::Input, 32, 0, 1, 8),
                    fin(),
                ];
                let mut mem = vec![9u8; 8];
                let c = run(&cfg, &mut mach, &mut mem, &cmds, core);
                let who = format!("latency {lat} {core:?}");
                assert_eq!(c.bank_conflict_cycles, late as u64, "{who}");
                let last = &mach.acc[latency as usize * 8..][..8];
                assert_eq!(
                    last,
                    &[if late { 1 } else { 9 }; 8],
                    "{who}: line 32 as read"
                );
                assert!(
                    mach.acc[..latency as usize * 8].iter().all(|&x| x == 1),
                    "{who}"
                );
            }
        }
    }
}

/// A read in the cycle a LOAD completes sees the old bytes: a transposed LOAD of one row
/// of two bytes writes lane 0 of lines 31 and 32 with one beat, in bank 0 (the bank of
/// its first byte's line, 4 banks of 32 lines per half); its beat comes in cycle
/// `latency`, while the unit reads line 32 (bank 1), so it does not wait and completes in
/// that cycle. The bytes are in the scratchpad afterwards.
#[test]
fn a_read_in_the_cycle_a_load_completes_sees_the_old_bytes() {
    for latency in [1u64, 2, 5, 9] {
        for core in [CoreModel::Event, CoreModel::Register] {
            let cfg = vcfg(8, 8, Dataflow::OutputStationary, 4, 8, latency as u32, 1);
            let mut mach = Machine::new(&cfg);
            mach.input.fill(1);
            let set = VSet {
                mode: VMode::Max,
                ..VSet::default()
            };
            // Position p reads line 33 - latency + p in cycle 1 + p: line 32 in cycle
            // `latency`, line 33 in the next one.
            let v = VCompute {
                accumulate: false,
                a_line: (33 - latency) as u32,
                b_line: 0,
                c_line: 0,
                m: latency as u16 + 1,
                k: 1,
                n: 8,
            };
            let tload = Command::new(Op::Load(Load {
                sp: Scratchpad::Input,
                transpose: true,
                sp_line: 31,
                mem_addr: 0,
                mem_stride: 2,
                nrows: 1,
                ncols: 2,
            }));
            let cmds = [
                Command::new(Op::VSet(set)),
                Command::new(Op::VCompute(v)),
                tload,
                fin(),
            ];
            let mut mem = vec![9u8; 2];
            let c = run(&cfg, &mut mach, &mut mem, &cmds, core);
            let who = format!("latency {latency} {core:?}");
            assert_eq!(
                (c.bank_conflict_cycles, c.dma_busy_cycles),
                (0, latency + 1),
                "{who}"
            );
            assert!(
                mach.acc[..(latency as usize + 1) * 8]
                    .iter()
                    .all(|&x| x == 1),
                "{who}: old bytes read"
            );
            assert_eq!((mach.input[31 * 8], mach.input[32 * 8]), (9, 9), "{who}");
        }
    }
}

/// Position `p` of a VCOMPUTE started in cycle `VSET_CYCLES` is written at the end of
/// cycle `VSET_CYCLES + d_p + ACC_PIPE_DEPTH`. A raw STORE of the positions' lines,
/// started in cycle 0 and completing at the end of cycle `store_cycles - 1`, sees exactly
/// the positions written by then.
#[test]
fn a_store_sees_the_write_backs_done_by_its_cycle() {
    let mut seen_split = 0;
    for (m, k) in [(6u64, 1u64), (6, 5), (5, 8), (4, 7), (4, 9), (3, 16)] {
        for latency in 0..12u64 {
            for accumulate in [false, true] {
                for core in [CoreModel::Event, CoreModel::Register] {
                    let cfg = vcfg(4, 4, Dataflow::InputStationary, 2, 4, latency as u32, 1);
                    let mut mach = Machine::new(&cfg);
                    mach.input.fill(2);
                    mach.acc.fill(100);
                    let set = VSet {
                        mode: VMode::Sum,
                        tap_stride: m as u32,
                        ..VSet::default()
                    };
                    let v = VCompute {
                        accumulate,
                        a_line: 0,
                        b_line: 0,
                        c_line: 0,
                        m: m as u16,
                        k: k as u16,
                        n: 4,
                    };
                    let st = Store {
                        raw_int32: true,
                        acc_line: 0,
                        mem_addr: 0,
                        mem_stride: 16,
                        nrows: m as u16,
                        ncols: 4,
                    };
                    let cmds = [
                        Command::new(Op::VSet(set)),
                        Command::new(Op::VCompute(v)),
                        Command::new(Op::Store(st)),
                        fin(),
                    ];
                    let mut mem = vec![0u8; 16 * m as usize];
                    run(&cfg, &mut mach, &mut mem, &cmds, core);
                    let done = timing::store_cycles(&cfg, m, 16) - 1;
                    let new = if accumulate {
                        100 + 2 * k as i32
                    } else {
                        2 * k as i32
                    };
                    let mut written = 0;
                    for p in 0..m {
                        let w = timing::VSET_CYCLES
                            + timing::vcompute_leave_cycle(p, k)
                            + timing::ACC_PIPE_DEPTH;
                        let want = if w <= done { new } else { 100 };
                        written += (w <= done) as u64;
                        let row = &mem[p as usize * 16..][..16];
                        let got: Vec<i32> = row
                            .chunks_exact(4)
                            .map(|b| i32::from_le_bytes(b.try_into().unwrap()))
                            .collect();
                        assert_eq!(
                            got,
                            vec![want; 4],
                            "m {m} k {k} latency {latency} {core:?}: position {p} (written \
                             at the end of cycle {w}, STORE completes in {done})"
                        );
                    }
                    seen_split += (written > 0 && written < m) as u32;
                }
            }
        }
    }
    assert!(
        seen_split >= 80,
        "only {seen_split} stores between two write-backs"
    );
}

/// One random program: phases of LOADs, a compute group (VSETs, VCOMPUTEs, COMPUTEs) and
/// raw STOREs, with the dependency tokens of a race-free pipeline (`tokens`) or none.
fn random_program(r: &mut Rng, cfg: &AccelConfig, mem_len: usize, tokens: bool) -> Vec<Command> {
    let mach = Machine::new(cfg);
    let (rows, cols) = (cfg.rows as u64, cfg.cols as u64);
    let window = 40;
    let phases = r.range(1, 4) as usize;
    let modes: Vec<VMode> = MODES
        .into_iter()
        .filter(|m| match m {
            VMode::Mac => cfg.depthwise,
            VMode::Sum | VMode::Max => cfg.pooling,
            VMode::Add => cfg.eltwise,
        })
        .collect();
    let mut cmds = Vec::new();
    for ph in 0..phases {
        let last_phase = ph + 1 == phases;
        // Loads from the lower half of the memory.
        let n_loads = r.range(1, 3);
        for i in 0..n_loads {
            let l = loop {
                let sp = if r.next().is_multiple_of(2) {
                    Scratchpad::Input
                } else {
                    Scratchpad::Weight
                };
                let w = if sp == Scratchpad::Input { rows } else { cols };
                let ncols = r.range(1, 2 * w + 1);
                let nrows = r.range(1, 12);
                let stride = ncols + r.range(0, 8);
                let l = Load {
                    sp,
                    transpose: r.next().is_multiple_of(3),
                    sp_line: r.range(0, window) as u32,
                    mem_addr: r.range(0, (mem_len / 2 - (nrows * stride) as usize) as u64) as u32,
                    mem_stride: stride as u32,
                    nrows: nrows as u16,
                    ncols: ncols as u16,
                };
                if Command::new(Op::Load(l)).check(cfg).is_ok() {
                    break l;
                }
            };
            let mut c = Command::new(Op::Load(l));
            c.deps.pop_next = tokens && ph > 0 && i == 0;
            c.deps.push_next = tokens && i + 1 == n_loads;
            cmds.push(c);
        }
        // The compute group.
        let mut group = Vec::new();
        let mut set = None;
        for _ in 0..r.range(1, 5) {
            if set.is_none() || r.next().is_multiple_of(3) {
                let mode = modes[r.range(0, modes.len() as u64 - 1) as usize];
                let s = random_vset(r, mode);
                group.push(Command::new(Op::VSet(s)));
                set = Some(s);
            }
            if r.next().is_multiple_of(4) {
                if let Some(c) = random_compute(r, cfg, &mach, window) {
                    group.push(Command::new(Op::Compute(c)));
                }
            } else if let Some(v) = random_vcompute(r, cfg, &mach, set.as_ref().unwrap(), window) {
                group.push(Command::new(Op::VCompute(v)));
            }
        }
        let n = group.len();
        for (i, mut c) in group.into_iter().enumerate() {
            c.deps.pop_prev = tokens && i == 0;
            c.deps.pop_next = tokens && i == 0 && ph > 0;
            c.deps.push_prev = tokens && i + 1 == n && !last_phase;
            c.deps.push_next = tokens && i + 1 == n;
            cmds.push(c);
        }
        // Raw stores into the upper half of the memory.
        let n_stores = r.range(1, 2);
        for i in 0..n_stores {
            let s = loop {
                let ncols = r.range(1, 2 * cols + 1);
                let nrows = r.range(1, 10);
                let stride = 4 * ncols + r.range(0, 8);
                let s = Store {
                    raw_int32: true,
                    acc_line: r.range(0, window) as u32,
                    mem_addr: (mem_len / 2
                        + r.range(0, (mem_len / 2 - (nrows * stride) as usize) as u64) as usize)
                        as u32,
                    mem_stride: stride as u32,
                    nrows: nrows as u16,
                    ncols: ncols as u16,
                };
                if Command::new(Op::Store(s)).check(cfg).is_ok() {
                    break s;
                }
            };
            let mut c = Command::new(Op::Store(s));
            c.deps.pop_prev = tokens && i == 0;
            c.deps.push_prev = tokens && i + 1 == n_stores && !last_phase;
            cmds.push(c);
        }
    }
    cmds.push(fin());
    if !tokens {
        for c in &mut cmds {
            c.deps = Deps::NONE;
        }
    }
    cmds
}

fn program_configs() -> Vec<AccelConfig> {
    let mut out = Vec::new();
    let shapes = [(4, 4), (8, 8), (4, 8), (2, 2), (1, 3), (16, 16)];
    for (i, &(rows, cols)) in shapes.iter().enumerate() {
        for (j, df) in Dataflow::ALL.into_iter().enumerate() {
            for banks in [1, 2, 4] {
                let s = i * 9 + j * 3 + banks as usize;
                let mut bus = [1, 2, 4, 8][s % 4];
                while bus > cols {
                    bus /= 2;
                }
                let mut c = vcfg(
                    rows,
                    cols,
                    df,
                    banks,
                    bus,
                    [0, 1, 3, 8][s % 4],
                    [1, 2, 4][s % 3],
                );
                // Some configurations with one or two of the unit's features only.
                match s % 5 {
                    0 => c.eltwise = false,
                    1 => {
                        c.depthwise = false;
                        c.pooling = false;
                    }
                    _ => {}
                }
                c.validate().unwrap();
                out.push(c);
            }
        }
    }
    out
}

#[test]
fn random_vector_programs_with_tokens_equal_the_functional_model() {
    let mut r = Rng(0xfeed_5eed);
    let (mut programs, mut vcomputes) = (0, 0);
    for cfg in program_configs() {
        for _ in 0..6 {
            let mem_len = 4096;
            let cmds = random_program(&mut r, &cfg, mem_len, true);
            let mem: Vec<u8> = (0..mem_len).map(|_| r.next() as u8).collect();
            arch::hostcheck::check_buffer(&cfg, &mem, &cmds).unwrap_or_else(|e| panic!("{e}"));
            let mut mf = Machine::new(&cfg);
            let mut memf = mem.clone();
            let cf = functional::execute(&cfg, &mut mf, &mut memf, &cmds).expect("functional");
            let mut results = Vec::new();
            for core in [CoreModel::Event, CoreModel::Register] {
                let mut mc = Machine::new(&cfg);
                let mut memc = mem.clone();
                let cc = run(&cfg, &mut mc, &mut memc, &cmds, core);
                let who = format!(
                    "{} {}x{} {core:?} {cmds:?}",
                    cfg.dataflow, cfg.rows, cfg.cols
                );
                assert!(memc == memf, "{who}: memory");
                assert!(mc.acc == mf.acc, "{who}: accumulators");
                assert!(
                    mc.input == mf.input && mc.weight == mf.weight,
                    "{who}: scratchpads"
                );
                assert_eq!(counts(&cc), counts(&cf), "{who}: counters");
                // The busy counters are the commands' durations.
                let (mut vpu, mut array) = (0, 0);
                for c in &cmds {
                    match c.op {
                        Op::VCompute(v) => vpu += timing::vcompute_cycles(v.m as u64, v.k as u64),
                        Op::Compute(p) => {
                            array +=
                                timing::compute_cycles(&cfg, p.m as u64, p.k as u64, p.n as u64)
                        }
                        _ => {}
                    }
                }
                assert_eq!(
                    (cc.vpu_busy_cycles, cc.array_busy_cycles),
                    (vpu, array),
                    "{who}"
                );
                results.push(cc);
            }
            assert_eq!(results[0], results[1], "event vs register counters");
            vcomputes += cmds
                .iter()
                .filter(|c| matches!(c.op, Op::VCompute(_)))
                .count();
            programs += 1;
        }
    }
    assert!(programs >= 300, "only {programs} programs");
    assert!(vcomputes > 600, "only {vcomputes} VCOMPUTEs");
}

#[test]
fn racing_vector_programs_event_equals_register_model() {
    let mut r = Rng(0x05ac_e0ff);
    let (mut programs, mut raced, mut conflicts) = (0, 0, 0);
    for cfg in program_configs() {
        for _ in 0..6 {
            let mem_len = 4096;
            let cmds = random_program(&mut r, &cfg, mem_len, false);
            let mem: Vec<u8> = (0..mem_len).map(|_| r.next() as u8).collect();
            let mut out = Vec::new();
            for core in [CoreModel::Event, CoreModel::Register] {
                let mut mc = Machine::new(&cfg);
                let mut memc = mem.clone();
                let cc = run(&cfg, &mut mc, &mut memc, &cmds, core);
                out.push((mc, memc, cc));
            }
            let who = format!("{} {}x{} {cmds:?}", cfg.dataflow, cfg.rows, cfg.cols);
            let (e, g) = (&out[0], &out[1]);
            assert!(e.1 == g.1, "{who}: memory");
            assert!(e.0.acc == g.0.acc, "{who}: accumulators");
            assert!(
                e.0.input == g.0.input && e.0.weight == g.0.weight,
                "{who}: scratchpads"
            );
            assert_eq!(e.2, g.2, "{who}: counters");
            // How often the race changes the result (the test must see races).
            let mut mf = Machine::new(&cfg);
            let mut memf = mem.clone();
            functional::execute(&cfg, &mut mf, &mut memf, &cmds).unwrap();
            raced += (memf != e.1 || mf.acc != e.0.acc) as u32;
            conflicts += (e.2.bank_conflict_cycles > 0) as u32;
            programs += 1;
        }
    }
    assert!(programs >= 300, "only {programs} programs");
    assert!(
        raced > 150,
        "only {raced} programs where the race changed the result"
    );
    assert!(
        conflicts > 150,
        "only {conflicts} programs with bank conflicts"
    );
}

/// The cycle-level model makes the host checks of `check_buffer` in its order: the
/// compute queue first (tracking the last VSET), before any transfer runs.
#[test]
fn host_checks_follow_check_buffer() {
    let cfg = vcfg(8, 8, Dataflow::OutputStationary, 2, 8, 2, 1);
    let mem = vec![0u8; 256];
    let sum = VSet {
        mode: VMode::Sum,
        tap_stride: 1,
        divisor: 4,
        add: AddRescale::default(),
    };
    let max = VSet {
        mode: VMode::Max,
        tap_stride: 1,
        ..VSet::default()
    };
    let v = VCompute {
        accumulate: true,
        a_line: 0,
        b_line: 0,
        c_line: 0,
        m: 2,
        k: 2,
        n: 8,
    };
    let bad_load = load(Scratchpad::Input, 0, 250, 1, 8);
    let vs = |s: VSet| Command::new(Op::VSet(s));
    let vc = Command::new(Op::VCompute(v));
    for (cmds, index, reason) in [
        (
            vec![vc, vs(max), fin()],
            0,
            "no VSET before this VCOMPUTE in the command buffer (the vector unit's mode \
             registers are reset at every start)",
        ),
        (
            vec![bad_load, vs(max), vs(sum), vc, fin()],
            3,
            "ACCUMULATE with divisor 4: the divide applies to a whole window (mode SUM of \
             the last VSET)",
        ),
        (
            vec![bad_load, vs(sum), vs(max), vc, fin()],
            0,
            "memory access 0xfa..0x102 outside the 256-byte device memory",
        ),
    ] {
        let want = arch::hostcheck::check_buffer(&cfg, &mem, &cmds).unwrap_err();
        assert_eq!((want.index, want.reason.as_str()), (index, reason));
        for core in [CoreModel::Event, CoreModel::Register] {
            let mut m = Machine::new(&cfg);
            let e = cycle::run_with_core(&cfg, &mut m, &mut mem.clone(), &cmds, 1000, core)
                .unwrap_err();
            assert_eq!(e, want, "{core:?}");
        }
    }
    // The mode registers are reset at every start: a VSET of an earlier buffer does not
    // count.
    let mut m = Machine::new(&cfg);
    cycle::run(&cfg, &mut m, &mut mem.clone(), &[vs(max), fin()]).unwrap();
    assert_eq!(m.vset, Some(max));
    let e = cycle::run(&cfg, &mut m, &mut mem.clone(), &[vc, fin()]).unwrap_err();
    assert_eq!(e.index, 0);
}

/// The bounds of a timed run cover the vector unit: its busy cycles, and the compute
/// engine's array and vector-unit busy cycles together, are at most the run's cycles.
#[test]
fn bounds_cover_the_vector_unit() {
    let cfg = vcfg(8, 8, Dataflow::OutputStationary, 2, 8, 2, 1);
    let c = Counters {
        cycles: 10,
        array_busy_cycles: 5,
        vpu_busy_cycles: 5,
        ..Counters::default()
    };
    assert_eq!(sim::report::check_bounds(&cfg, &c), Ok(()));
    let c = Counters {
        vpu_busy_cycles: 6,
        ..c
    };
    assert_eq!(
        sim::report::check_bounds(&cfg, &c),
        Err(vec![
            "array_busy_cycles + vpu_busy_cycles 11 > cycles 10".to_string()
        ])
    );
    let c = Counters {
        array_busy_cycles: 0,
        vpu_busy_cycles: 11,
        ..c
    };
    assert_eq!(
        sim::report::check_bounds(&cfg, &c),
        Err(vec![
            "vpu_busy_cycles 11 > cycles 10".to_string(),
            "array_busy_cycles + vpu_busy_cycles 11 > cycles 10".to_string()
        ])
    );
}

/// Vector programs through `SimDevice` (the driver's path: the encoded buffer in device
/// memory, decoded and checked at start): the cycle-level device leaves the memory of the
/// functional one, counts the same, and reports the vector unit's counters in the
/// registers.
#[test]
fn sim_device_runs_vector_programs() {
    use arch::device::Device;
    use sim::{Fidelity, SimDevice};
    let mut r = Rng(0xdef1ce);
    let cfg = vcfg(8, 8, Dataflow::WeightStationary, 2, 8, 5, 4);
    let (data_len, buf) = (4096usize, 8192u64);
    let mut vpu_busy = 0;
    for _ in 0..20 {
        let cmds = random_program(&mut r, &cfg, data_len, true);
        let bytes = arch::isa::encode_all(&cmds);
        let data: Vec<u8> = (0..data_len).map(|_| r.next() as u8).collect();
        let mut out = Vec::new();
        for fidelity in [Fidelity::Cycle, Fidelity::Functional] {
            let mut dev = SimDevice::new(&cfg, fidelity, 16384);
            dev.write_mem(0, &data).unwrap();
            let c = dev.submit(buf, &bytes).unwrap();
            assert_eq!(dev.counters().unwrap(), c, "{fidelity:?}: registers");
            let mut mem = vec![0u8; data_len];
            dev.read_mem(0, &mut mem).unwrap();
            out.push((mem, c));
        }
        assert!(out[0].0 == out[1].0, "memory");
        assert_eq!(counts(&out[0].1), counts(&out[1].1), "{cmds:?}");
        let mut mc = Machine::new(&cfg);
        let mut memc = data.clone();
        memc.resize(16384, 0);
        memc[buf as usize..][..bytes.len()].copy_from_slice(&bytes);
        let direct = cycle::run(&cfg, &mut mc, &mut memc, &cmds).unwrap();
        assert_eq!(out[0].1, direct, "device vs cycle::run");
        vpu_busy += out[0].1.vpu_busy_cycles;
    }
    assert!(vpu_busy > 0);
}
