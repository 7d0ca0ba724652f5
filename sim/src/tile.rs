//! The tile-level model: the counters of a GEMM without simulating cycles or data.
//!
//! It costs the one schedule of `arch::schedule` (the tiling of [`schedule::choose`], the
//! steps of [`schedule::steps`] and the commands of each step from
//! [`schedule::plan_step`], exactly what the program builder issues): every command's
//! byte and MAC counts come from [`Counters::add_command`], its duration from the closed
//! forms of `arch::timing` (the cycle-level model is tested to take exactly those counts).
//! It then resolves the overlap of the load, compute and store engines and the shared DMA
//! with the same dependency-token and arbitration rules as the cycle-level model, as a
//! recurrence over groups (a few operations per reduction step, no per-cycle loop). Byte
//! and MAC counts are exact; the only effect it leaves out is scratchpad bank conflicts
//! (a cycle here and there with single-bank scratchpads).
//!
//! Cost: steps of the same class (tile extents, loads, first/last reduction chunk) have
//! the same commands up to scratchpad halves and addresses, so each class's step plan is
//! costed once (at most a few dozen classes); the schedule is O(reduction steps) with
//! O(1) work per step.

use arch::device::Counters;
use arch::isa::{Compute, LoadParams, Op, Store, PARAM_RECORD_BYTES};
use arch::schedule::{self, GemmProblem, Output, Step, StepPlan, Tiling, TilingError};
use arch::{timing, AccelConfig};

/// Durations of one reduction step's groups.
#[derive(Debug, Clone, Copy, Default)]
struct StepCost {
    load: u64,
    compute: u64,
    /// Store group after this step (0 if the step does not end an output tile).
    store: u64,
}

/// Estimates an int8-output GEMM `m x k x n` (full activation range).
pub fn estimate_gemm(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> Result<Counters, TilingError> {
    let t = schedule::choose(cfg, m, k, n)?;
    Ok(estimate_tiling(cfg, &t, false))
}

/// Estimates a GEMM problem.
pub fn estimate(cfg: &AccelConfig, p: &GemmProblem) -> Result<Counters, TilingError> {
    let t = schedule::choose(cfg, p.m as u64, p.k as u64, p.n as u64)?;
    Ok(estimate_tiling(cfg, &t, p.output == Output::Int32))
}

/// The durations and counts of one step plan (addresses do not matter: they are left
/// at 0).
fn cost_plan(cfg: &AccelConfig, plan: &StepPlan, raw_int32: bool) -> (StepCost, Counters) {
    let mut c = StepCost::default();
    let mut counters = Counters::default();
    for l in &plan.loads {
        c.load += timing::dma_cycles(cfg, l.nrows, l.ncols);
        counters.add_command(cfg, &l.command(0, 0).op, None);
    }
    // Core tiles: identical shapes cost the same; each distinct shape is costed once.
    let mut shapes: Vec<((u16, u16, u16, bool), u64)> = Vec::new();
    for cmd in &plan.computes {
        if let Op::Compute(cp) = cmd.op {
            let key = (cp.m, cp.k, cp.n, cp.accumulate);
            match shapes.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => shapes.push((key, 1)),
            }
        }
    }
    for &((m, k, n, accumulate), count) in &shapes {
        let cp = Compute {
            accumulate,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m,
            k,
            n,
        };
        c.compute += count * timing::compute_cycles(cfg, m as u64, k as u64, n as u64);
        let mut one = Counters::default();
        one.add_command(cfg, &Op::Compute(cp), None);
        counters.add(&one.scaled(count));
    }
    if let Some(p) = plan.params {
        c.store += timing::dma_cycles(cfg, 1, p.count * PARAM_RECORD_BYTES as u64);
        counters.add_command(
            cfg,
            &Op::LoadParams(LoadParams {
                mem_addr: 0,
                count: p.count as u16,
                zp_out: 0,
                act_min: -128,
                act_max: 127,
            }),
            None,
        );
    }
    if let Some(s) = plan.store {
        let e = if raw_int32 { 4 } else { 1 };
        c.store += timing::store_cycles(cfg, s.nrows, s.ncols * e);
        counters.add_command(
            cfg,
            &Op::Store(Store {
                raw_int32,
                acc_line: s.acc_line as u32,
                mem_addr: 0,
                mem_stride: 0,
                nrows: s.nrows as u16,
                ncols: s.ncols as u16,
            }),
            None,
        );
    }
    (c, counters)
}

/// Estimates a GEMM with a given tiling (`raw_int32`: int32 output, no parameters).
pub fn estimate_tiling(cfg: &AccelConfig, t: &Tiling, raw_int32: bool) -> Counters {
    let steps = schedule::steps(t, !raw_int32);
    type Class = (u64, u64, u64, bool, bool, bool, bool, bool);
    // Few classes per GEMM (partial tiles x loads x first/last chunk): a linear search;
    // the counts of each class are added once, times its number of steps.
    let mut memo: Vec<(Class, StepCost, Counters, u64)> = Vec::new();
    let mut last = 0;
    let mut costs = Vec::with_capacity(steps.len());
    for s in &steps {
        let class = (
            t.tm_at(s.i),
            t.tk_at(s.kk),
            t.tn_at(s.j),
            s.load_a,
            s.load_b,
            s.load_params,
            s.first_k,
            s.last_k,
        );
        // Consecutive steps are mostly of the same class: try the last one first.
        if memo.get(last).is_none_or(|(k, ..)| *k != class) {
            last = match memo.iter().position(|(k, ..)| *k == class) {
                Some(i) => i,
                None => {
                    let (cost, counters) =
                        cost_plan(cfg, &schedule::plan_step(cfg, t, s), raw_int32);
                    memo.push((class, cost, counters, 0));
                    memo.len() - 1
                }
            };
        }
        memo[last].3 += 1;
        let cost = memo[last].1;
        costs.push(cost);
    }
    let mut c = Counters::default();
    for (_, _, counters, n) in &memo {
        c.add(&counters.scaled(*n));
    }
    // FINISH.
    c.add_command(cfg, &Op::Finish, None);

    // Timing: the group recurrence.
    let sched = place(&steps, &costs, (t.n_i() * t.n_j()) as usize);
    c.cycles = sched.cycles;
    c.array_busy_cycles = sched.compute_busy;
    c.dma_busy_cycles = sched.dma_busy;
    c.dma_stall_cycles = sched.stall;
    c
}

struct Sched {
    cycles: u64,
    compute_busy: u64,
    dma_busy: u64,
    stall: u64,
}

const UNKNOWN: u64 = u64::MAX;

/// Places the load groups, compute steps and store groups in time with the cycle model's
/// rules: in-order engines, the steps' dependency tokens, one DMA shared by the load and
/// store engines with sticky arbitration (the last owner wins ties).
fn place(steps: &[Step], costs: &[StepCost], n_tiles: usize) -> Sched {
    let n_steps = steps.len();
    // The step that ends each output tile (it carries the store group).
    let mut tile_end: Vec<usize> = Vec::with_capacity(n_tiles);
    tile_end.extend((0..n_steps).filter(|&s| steps[s].last_k));
    debug_assert_eq!(tile_end.len(), n_tiles);
    let mut l_end = vec![UNKNOWN; n_steps];
    let mut c_end = vec![UNKNOWN; n_steps];
    let mut s_end = vec![UNKNOWN; n_tiles];
    let (mut nl, mut nt, mut nc) = (0usize, 0usize, 0usize);
    let mut dma_free = 0u64;
    let mut owner_store = false;
    let mut comp_free = 0u64;
    let (mut compute_busy, mut dma_busy, mut stall, mut max_end) = (0u64, 0u64, 0u64, 0u64);
    loop {
        // Computes whose inputs are placed.
        while nc < n_steps {
            let st = &steps[nc];
            let mut ready = comp_free;
            if st.has_load() {
                if l_end[nc] == UNKNOWN {
                    break;
                }
                ready = ready.max(l_end[nc]);
            }
            if st.compute_waits_store {
                let freed_by = st.tile as usize - 2;
                if s_end[freed_by] == UNKNOWN {
                    break;
                }
                ready = ready.max(s_end[freed_by]);
            }
            stall += ready - comp_free;
            comp_free = ready + costs[nc].compute;
            compute_busy += costs[nc].compute;
            c_end[nc] = comp_free;
            max_end = max_end.max(comp_free);
            nc += 1;
        }
        while nl < n_steps && !steps[nl].has_load() {
            nl += 1;
        }
        let load_ready = (nl < n_steps).then(|| {
            if steps[nl].load_waits_compute {
                c_end[nl - 2]
            } else {
                0
            }
        });
        let store_ready = (nt < n_tiles).then(|| c_end[tile_end[nt]]);
        let pick_store = match (load_ready, store_ready) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(l), Some(s)) => {
                if l == UNKNOWN && s == UNKNOWN {
                    // Cannot happen with the schedule's protocol; stop rather than loop.
                    break;
                } else if l == UNKNOWN {
                    true
                } else if s == UNKNOWN {
                    false
                } else {
                    let tl = dma_free.max(l);
                    let ts = dma_free.max(s);
                    if owner_store {
                        ts <= tl
                    } else {
                        ts < tl
                    }
                }
            }
        };
        if pick_store {
            let ready = store_ready.expect("picked");
            if ready == UNKNOWN {
                break;
            }
            let start = dma_free.max(ready);
            let dur = costs[tile_end[nt]].store;
            dma_free = start + dur;
            dma_busy += dur;
            s_end[nt] = dma_free;
            nt += 1;
            owner_store = true;
        } else {
            let ready = load_ready.expect("picked");
            let start = dma_free.max(ready);
            let dur = costs[nl].load;
            dma_free = start + dur;
            dma_busy += dur;
            l_end[nl] = dma_free;
            nl += 1;
            owner_store = false;
        }
        max_end = max_end.max(dma_free);
    }
    Sched {
        cycles: max_end,
        compute_busy,
        dma_busy,
        stall,
    }
}
