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

use crate::tile::{self, PlaceScratch, StepCost};
use arch::schedule::Step;

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
    let mut vpu_busy = 0u64;
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
                    vpu_busy += d;
                }
                _ => {}
            }
            c.add_command_regs(cfg, &cmd.op, None, vset.as_ref());
            cost.computes += 1;
        }
        for cmd in &s.stores {
            cost.store += dma_duration(cfg, &cmd.op, None);
            c.add_command(cfg, &cmd.op, None);
        }
        costs.push(cost);
    }
    c.add_command(cfg, &Op::Finish, None);
    // One output tile per step, a load group in every step; load group `s` waits for
    // compute `s - 2` (C2L) and compute `s` for the store of step `s - 2` (S2C): the
    // GEMM program's protocol, so `sim::tile`'s recurrence places the groups.
    let steps: Vec<Step> = (0..costs.len() as u64)
        .map(|s| Step {
            i: s,
            j: 0,
            kk: 0,
            tile: s,
            load_a: true,
            load_b: false,
            load_params: false,
            first_k: true,
            last_k: true,
            a_half: s % 2,
            b_half: s % 2,
            acc_half: s % 2,
            load_waits_compute: s >= 2,
            compute_frees_load: s + 2 < costs.len() as u64,
            compute_waits_store: s >= 2,
            store_frees_acc: s + 2 < costs.len() as u64,
        })
        .collect();
    let sched = tile::place(
        &steps,
        &costs,
        steps.len(),
        head,
        cfg.cmd_queue_depth as u64,
        &mut PlaceScratch::default(),
    );
    // The streaming command fetch (`cmd_queue_depth > 0`): a start latency and the
    // fetch throughput ([`timing::with_fetch`]; back-pressure is left out).
    c.cycles = timing::with_fetch(cfg, sched.cycles, c.commands);
    c.vpu_busy_cycles = vpu_busy;
    c.dma_busy_cycles = sched.dma_busy;
    c.dma_stall_cycles = sched.stall;
    c
}
