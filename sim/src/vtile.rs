//! The tile-level model of vector-unit programs: the counters of an
//! [`arch::vplan::VProblem`] without simulating cycles or data, as [`crate::tile`] is for
//! GEMMs.
//!
//! It costs the plan of [`arch::vplan::plan`] (exactly the commands the driver issues,
//! addresses left at 0): every command's byte, MAC and vector-unit counts come from
//! [`Counters::add_command_regs`] (with the window of the `CONV_GEOM` and the `VSET` in
//! force), its duration from the closed forms of `arch::timing`
//! ([`timing::dma_cycles`], [`timing::load_im2col_cycles`], [`timing::VSET_CYCLES`],
//! [`timing::vcompute_cycles`], [`timing::store_cycles`]). The load, compute and store
//! groups of the steps are then placed in time with the rules of the cycle-level model
//! and of `sim::tile`: in-order engines, the plan's dependency tokens (compute `s` after
//! load group `s` and store group `s-2`; load group `s` after compute `s-2`; store group
//! `s` after compute `s`), one DMA shared by the load and store engines with sticky
//! arbitration (the last owner wins ties), the `CONV_GEOM` holding the DMA first. The
//! only effect left out is scratchpad bank conflicts.
//!
//! Cost: O(commands + im2col pieces): one pass over the plan.

use arch::device::Counters;
use arch::im2col::Window;
use arch::isa::{Command, Op, VSet, PARAM_RECORD_BYTES};
use arch::timing;
use arch::vplan::{self, VLayout, VPlan, VPlanError, VProblem};
use arch::AccelConfig;

/// Durations of one step's groups.
#[derive(Debug, Clone, Copy, Default)]
struct StepCost {
    load: u64,
    compute: u64,
    store: u64,
    /// Cycles with a `VCOMPUTE` in progress.
    vpu: u64,
}

/// Estimates the counters of vector problem `p` on `cfg`.
pub fn estimate(cfg: &AccelConfig, p: &VProblem) -> Result<Counters, VPlanError> {
    let plan = vplan::plan(cfg, p, &VLayout::timing())?;
    Ok(estimate_plan(cfg, &plan))
}

/// The duration of one DMA command (`window`: the last `CONV_GEOM`'s).
fn dma_duration(cfg: &AccelConfig, op: &Op, window: Option<&Window>) -> u64 {
    match op {
        Op::Load(l) => timing::dma_cycles(cfg, l.nrows as u64, l.ncols as u64),
        Op::LoadIm2col(l) => window.map_or(0, |w| timing::load_im2col_cycles(cfg, w, l)),
        Op::LoadParams(p) => timing::dma_cycles(cfg, 1, p.count as u64 * PARAM_RECORD_BYTES as u64),
        Op::Store(s) => {
            let e = if s.raw_int32 { 4 } else { 1 };
            timing::store_cycles(cfg, s.nrows as u64, s.ncols as u64 * e)
        }
        Op::ConvGeom(_) => timing::CONV_GEOM_CYCLES,
        _ => 0,
    }
}

/// Estimates the counters of a built plan.
pub fn estimate_plan(cfg: &AccelConfig, plan: &VPlan) -> Counters {
    let mut c = Counters::default();
    let mut window: Option<Window> = None;
    let mut vset: Option<VSet> = None;
    let mut head = 0u64;
    if let Some(Command {
        op: op @ Op::ConvGeom(g),
        ..
    }) = &plan.head
    {
        window = Some(Window::of(g));
        c.add_command(cfg, op, None);
        head = timing::CONV_GEOM_CYCLES;
    }
    let mut costs = Vec::with_capacity(plan.steps.len());
    for s in &plan.steps {
        let mut cost = StepCost::default();
        for cmd in &s.loads {
            cost.load += dma_duration(cfg, &cmd.op, window.as_ref());
            c.add_command(cfg, &cmd.op, window.as_ref());
        }
        for cmd in &s.computes {
            match &cmd.op {
                Op::VSet(v) => {
                    vset = Some(*v);
                    cost.compute += timing::VSET_CYCLES;
                }
                Op::VCompute(v) => {
                    let d = timing::vcompute_cycles(v.m as u64, v.k as u64);
                    cost.compute += d;
                    cost.vpu += d;
                }
                _ => {}
            }
            c.add_command_regs(cfg, &cmd.op, None, vset.as_ref());
        }
        for cmd in &s.stores {
            cost.store += dma_duration(cfg, &cmd.op, None);
            c.add_command(cfg, &cmd.op, None);
        }
        costs.push(cost);
    }
    c.add_command(cfg, &Op::Finish, None);
    let sched = place(&costs, head);
    c.cycles = sched.cycles;
    c.vpu_busy_cycles = costs.iter().map(|s| s.vpu).sum();
    c.dma_busy_cycles = sched.dma_busy;
    c.dma_stall_cycles = sched.stall;
    c
}

struct Sched {
    cycles: u64,
    dma_busy: u64,
    stall: u64,
}

const UNKNOWN: u64 = u64::MAX;

/// Places the groups in time (`sim::tile`'s recurrence with one output tile per step and
/// a load group in every step).
fn place(costs: &[StepCost], head: u64) -> Sched {
    let n = costs.len();
    let mut l_end = vec![UNKNOWN; n];
    let mut c_end = vec![UNKNOWN; n];
    let mut s_end = vec![UNKNOWN; n];
    let (mut nl, mut nc, mut nt) = (0usize, 0usize, 0usize);
    let mut dma_free = head;
    let mut owner_store = false;
    let mut comp_free = 0u64;
    let (mut dma_busy, mut stall, mut max_end) = (head, 0u64, head);
    loop {
        while nc < n {
            if l_end[nc] == UNKNOWN {
                break;
            }
            let mut ready = comp_free.max(l_end[nc]);
            if nc >= 2 {
                if s_end[nc - 2] == UNKNOWN {
                    break;
                }
                ready = ready.max(s_end[nc - 2]);
            }
            stall += ready - comp_free;
            comp_free = ready + costs[nc].compute;
            c_end[nc] = comp_free;
            max_end = max_end.max(comp_free);
            nc += 1;
        }
        let load_ready = (nl < n).then(|| if nl >= 2 { c_end[nl - 2] } else { 0 });
        let store_ready = (nt < n).then(|| c_end[nt]);
        let pick_store = match (load_ready, store_ready) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(l), Some(s)) => {
                if l == UNKNOWN && s == UNKNOWN {
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
            dma_free = start + costs[nt].store;
            dma_busy += costs[nt].store;
            s_end[nt] = dma_free;
            nt += 1;
            owner_store = true;
        } else {
            let ready = load_ready.expect("picked");
            if ready == UNKNOWN {
                break;
            }
            let start = dma_free.max(ready);
            dma_free = start + costs[nl].load;
            dma_busy += costs[nl].load;
            l_end[nl] = dma_free;
            nl += 1;
            owner_store = false;
        }
        max_end = max_end.max(dma_free);
    }
    Sched {
        cycles: max_end,
        dma_busy,
        stall,
    }
}
