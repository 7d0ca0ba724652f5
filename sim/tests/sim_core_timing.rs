//! The register-level array model takes exactly `arch::timing::compute_cycles` cycles for
//! every tile shape, and computes exactly the direct semantics of `COMPUTE`. This protects
//! the contract between the simulator and the RTL (which owns `arch/src/timing.rs`).

use arch::isa::Compute;
use arch::{timing, AccelConfig, Dataflow};
use sim::array::CoreJob;
use sim::machine::{self, Machine};

fn cfg(rows: u32, cols: u32, df: Dataflow) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.rows = rows;
    c.cols = cols;
    c.dataflow = df;
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
        for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
            let cfg = cfg(rows, cols, df);
            let os = df == Dataflow::OutputStationary;
            let (r, c) = (rows as u16, cols as u16);
            let mut shapes = Vec::new();
            for m in [1, r.div_ceil(2), r, 3 * r + 1] {
                for k in [1, r.div_ceil(2), r, 2 * r + 3, 37] {
                    for n in [1, c.div_ceil(2), c] {
                        let (m, k) = if os { (m.min(r), k) } else { (m, k.min(r)) };
                        shapes.push((m, k, n));
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
                    let mut direct = mach.clone();
                    machine::exec_compute_direct(&mut direct, &cmd, os);
                    let mut job = CoreJob::new(cmd, os, &mach);
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
                    assert_eq!(job.counts.macs, m as u64 * k as u64 * n as u64);
                    assert_eq!(
                        mach.acc, direct.acc,
                        "{rows}x{cols} {df} tile {m}x{k}x{n} values"
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 300, "only {checked} shapes checked");
}
