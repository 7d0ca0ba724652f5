//! The event-level core model (`sim::array::fast::FastTile`, what the cycle-level executor
//! runs) against the register-level PE array (`sim::array::CoreJob`, the model the RTL is
//! checked against), on random tiles of all three dataflows, single- and multi-bank
//! scratchpads, with and without ACCUMULATE:
//!
//! - the same total cycles;
//! - in every cycle, the same scratchpad banks used (input, weight, accumulator read and
//!   write: what the DMA's bank arbitration sees);
//! - the same accumulator contents after every cycle (the event model's writes flushed up
//!   to that cycle, as before a STORE completes);
//! - the same results when the input and weight scratchpads are overwritten at random
//!   cycles in the middle of the tile (as a LOAD completing without its dependency token
//!   would): the lines read before the write are the old ones, after it the new ones.

use arch::isa::Compute;
use arch::{AccelConfig, Dataflow};
use sim::array::fast::FastTile;
use sim::array::CoreJob;
use sim::machine::{self, Machine};

mod common;
use common::Rng;

fn cfg(rows: u32, cols: u32, df: Dataflow, banks: u32) -> AccelConfig {
    let mut c = AccelConfig::preset("edge-8x8").unwrap();
    c.rows = rows;
    c.cols = cols;
    c.dataflow = df;
    c.acc_sram_kib = 64;
    c.input_sram_banks = banks;
    c.weight_sram_banks = banks;
    c.acc_sram_banks = banks;
    c.validate().unwrap();
    c
}

fn fill(m: &mut Machine, r: &mut Rng) {
    m.input.iter_mut().for_each(|v| *v = r.next() as i8);
    m.weight.iter_mut().for_each(|v| *v = r.next() as i8);
    m.acc.iter_mut().for_each(|v| *v = r.next() as i32);
}

/// A random legal tile of dataflow `df` on `m`, or `None` if the draw does not fit.
fn random_tile(r: &mut Rng, mach: &Machine, df: Dataflow) -> Option<Compute> {
    let (rows, cols) = (mach.rows as u64, mach.cols as u64);
    let (m, k, n) = match df {
        Dataflow::OutputStationary => {
            (r.range(1, rows), r.range(1, 3 * rows + 5), r.range(1, cols))
        }
        Dataflow::WeightStationary => {
            (r.range(1, 3 * cols + 5), r.range(1, rows), r.range(1, cols))
        }
        Dataflow::InputStationary => (r.range(1, rows), r.range(1, cols), r.range(1, 3 * cols + 3)),
    };
    let cmd = Compute {
        accumulate: r.next().is_multiple_of(2),
        a_line: r.range(0, 6) as u32,
        b_line: r.range(0, 6) as u32,
        c_line: r.range(0, 6) as u32,
        m: m as u16,
        k: k as u16,
        n: n as u16,
    };
    machine::check_compute(mach, &cmd, df).ok().map(|_| cmd)
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

/// The first index where `a` and `b` differ, with both values.
fn first_diff<T: PartialEq + Copy>(a: &[T], b: &[T]) -> Option<(usize, T, T)> {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| (i, a[i], b[i]))
}

#[test]
fn event_model_equals_register_model_cycle_by_cycle() {
    let mut r = Rng(0x5eed_fa57);
    let mut fast = FastTile::new();
    let mut tiles = 0;
    let mut scribbled = 0;
    let mut cycles_checked = 0u64;
    for (rows, cols) in [
        (1, 1),
        (1, 4),
        (4, 1),
        (2, 3),
        (4, 4),
        (3, 7),
        (8, 8),
        (16, 4),
        (4, 16),
        (16, 16),
    ] {
        for df in Dataflow::ALL {
            for banks in [1, 2, 4] {
                let cfg = cfg(rows, cols, df, banks);
                for _ in 0..12 {
                    let mut reg = Machine::new(&cfg);
                    fill(&mut reg, &mut r);
                    let Some(cmd) = random_tile(&mut r, &reg, df) else {
                        continue;
                    };
                    let mut ev = reg.clone();
                    let scribble_on = r.next().is_multiple_of(2);
                    let mut job = CoreJob::new(cmd, df, &reg);
                    fast.start(cmd, df, &ev);
                    let mut t = 0u64;
                    loop {
                        let (done, access) = job.step(&mut reg);
                        let want = fast.access(&ev, t);
                        assert_eq!(
                            access, want,
                            "{rows}x{cols} {df} banks {banks} {cmd:?}: accesses in cycle {t}"
                        );
                        let flushed = fast.flush_writes(&mut ev, t);
                        assert_eq!(
                            first_diff(&reg.acc, &ev.acc),
                            None,
                            "{rows}x{cols} {df} banks {banks} {cmd:?}: accumulators after cycle {t} \
                             (index, register, event)"
                        );
                        cycles_checked += 1;
                        if done {
                            assert!(flushed, "{cmd:?}: event model has writes left at the end");
                            assert_eq!(t + 1, fast.cycles(), "{rows}x{cols} {df} {cmd:?}: cycles");
                            break;
                        }
                        assert!(
                            t + 1 < fast.cycles(),
                            "{rows}x{cols} {df} {cmd:?}: event model ends early"
                        );
                        if scribble_on && r.next().is_multiple_of(4) {
                            // A load completing in cycle t: the tile's reads up to t see
                            // the old lines.
                            fast.sync_reads(&ev, t);
                            scribble(&mut r, &mut reg, &mut ev, 12);
                            scribbled += 1;
                        }
                        t += 1;
                    }
                    assert_eq!(first_diff(&reg.acc, &ev.acc), None);
                    assert_eq!(first_diff(&reg.input, &ev.input), None);
                    tiles += 1;
                }
            }
        }
    }
    assert!(tiles > 600, "only {tiles} tiles");
    assert!(scribbled > 500, "only {scribbled} mid-tile writes");
    assert!(cycles_checked > 20_000, "only {cycles_checked} cycles");
}
