//! The register-level array model takes exactly `arch::timing::compute_cycles` cycles for
//! every tile shape, and computes exactly the direct semantics of `COMPUTE`. This protects
//! the contract between the simulator and the RTL (which owns `arch/src/timing.rs`). The
//! bytes the array model actually reads and writes are the ones `Counters::add_command`
//! derives for the command.

use arch::device::Counters;
use arch::isa::{Compute, Op};
use arch::{timing, AccelConfig, Dataflow};
use sim::array::CoreJob;
use sim::machine::{self, Machine};

fn cfg(rows: u32, cols: u32, df: Dataflow) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.rows = rows;
    c.cols = cols;
    c.dataflow = df;
    // Room for IS tiles of 256 columns on narrow arrays (ceil(n/cols) * m lines).
    c.acc_sram_kib = 256;
    c.validate().unwrap();
    c
}

fn fill(m: &mut Machine, seed: u64) {
    let mut x = seed | 1;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as i8
    };
    m.input.iter_mut().for_each(|v| *v = next());
    m.weight.iter_mut().for_each(|v| *v = next());
    m.acc.iter_mut().for_each(|v| *v = next() as i32 * 1000);
}

#[test]
fn core_tile_cycles_match_timing_formula_and_values_match_direct() {
    let mut checked = 0;
    for (rows, cols) in [(1, 1), (1, 5), (4, 4), (3, 7), (8, 8), (16, 4), (2, 16)] {
        for df in Dataflow::ALL {
            let cfg = cfg(rows, cols, df);
            let (r, c) = (rows as u16, cols as u16);
            let mut shapes = Vec::new();
            for m in [1, r.div_ceil(2), r, 3 * r + 1] {
                for k in [1, r.div_ceil(2), r, 2 * r + 3, 37, c.div_ceil(2), c] {
                    for n in [1, c.div_ceil(2), c, c + 1, 2 * c + 3, 3 * c, 256] {
                        let shape = match df {
                            Dataflow::OutputStationary => (m.min(r), k, n.min(c)),
                            Dataflow::WeightStationary => (m, k.min(r), n.min(c)),
                            // IS: m <= rows, k <= cols, any n up to 256.
                            Dataflow::InputStationary => (m.min(r), k.min(c), n),
                        };
                        shapes.push(shape);
                    }
                }
            }
            shapes.sort();
            shapes.dedup();
            for (m, k, n) in shapes {
                for accumulate in [false, true] {
                    let cmd = Compute {
                        accumulate,
                        a_line: 3,
                        b_line: 5,
                        c_line: 2,
                        m,
                        k,
                        n,
                    };
                    let mut mach = Machine::new(&cfg);
                    fill(&mut mach, (m as u64) << 32 | (k as u64) << 16 | n as u64);
                    machine::check_compute(&mach, &cmd, df).unwrap();
                    cmd_checked(&cfg, cmd);
                    let mut direct = mach.clone();
                    machine::exec_compute_direct(&mut direct, &cmd, df);
                    let mut job = CoreJob::new(cmd, df, &mach);
                    let mut cycles = 0u64;
                    loop {
                        let (done, _) = job.step(&mut mach);
                        cycles += 1;
                        assert!(cycles < 1_000_000, "tile never completes");
                        if done {
                            break;
                        }
                    }
                    let want = timing::compute_cycles(&cfg, m as u64, k as u64, n as u64);
                    assert_eq!(
                        cycles, want,
                        "{rows}x{cols} {df} tile {m}x{k}x{n}: model {cycles} cycles, arch::timing {want}"
                    );
                    let k_ = job.counts();
                    let mut want = Counters::default();
                    want.add_command(&cfg, &Op::Compute(cmd), None);
                    assert_eq!(
                        (k_.macs, k_.input_read_bytes, k_.weight_read_bytes),
                        (
                            want.macs,
                            want.input_sp_read_bytes,
                            want.weight_sp_read_bytes
                        ),
                        "{rows}x{cols} {df} tile {m}x{k}x{n} counts"
                    );
                    assert_eq!(
                        (k_.acc_read_bytes, k_.acc_write_bytes),
                        (want.acc_sp_read_bytes, want.acc_sp_write_bytes),
                        "{rows}x{cols} {df} tile {m}x{k}x{n} acc counts"
                    );
                    assert_eq!(k_.macs, m as u64 * k as u64 * n as u64);
                    assert_eq!(
                        mach.acc, direct.acc,
                        "{rows}x{cols} {df} tile {m}x{k}x{n} values"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 1000, "only {checked} shapes checked");
}

fn cmd_checked(cfg: &AccelConfig, cmd: Compute) {
    arch::isa::Command::new(Op::Compute(cmd))
        .check(cfg)
        .unwrap_or_else(|e| panic!("{} {cmd:?}: {e}", cfg.dataflow));
}

/// The contract's worked example: 8x8, n = 20 takes 49 cycles and writes 3 blocks.
#[test]
fn is_contract_example() {
    let cfg = cfg(8, 8, Dataflow::InputStationary);
    let cmd = Compute {
        accumulate: false,
        a_line: 0,
        b_line: 0,
        c_line: 0,
        m: 8,
        k: 8,
        n: 20,
    };
    let mut mach = Machine::new(&cfg);
    fill(&mut mach, 7);
    let mut direct = mach.clone();
    machine::exec_compute_direct(&mut direct, &cmd, cfg.dataflow);
    let mut job = CoreJob::new(cmd, cfg.dataflow, &mach);
    let mut cycles = 0;
    while !job.step(&mut mach).0 {
        cycles += 1;
    }
    assert_eq!(cycles + 1, 49);
    assert_eq!(job.counts().acc_write_bytes, 3 * 8 * 4 * 8);
    assert_eq!(mach.acc, direct.acc);
}
