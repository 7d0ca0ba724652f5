//! The tile-level model: the counters of a GEMM without simulating cycles or data.
//!
//! It takes the same tiling and schedule as the program builder (`driver::tiling`,
//! `driver::gemm::steps`), costs every load group, compute step and store group with the
//! closed forms of `arch::timing` (the cycle-level model is tested to take exactly those
//! counts), and resolves the overlap of the load, compute and store engines and the shared
//! DMA with the same dependency-token and arbitration rules as the cycle-level model, as a
//! recurrence over groups (a few operations per reduction step, no per-cycle loop).
//! Byte and MAC counts are exact; the only effect it leaves out is scratchpad bank
//! conflicts (a cycle here and there with single-bank scratchpads).
//!
//! Cost: byte and MAC counts are closed forms over the (at most 8) tile classes; the
//! schedule is O(reduction steps) with O(1) work per step (no per-cycle or per-core-tile
//! loop).

use arch::device::Counters;
use arch::isa::PARAM_RECORD_BYTES;
use arch::{timing, AccelConfig, Dataflow};
use driver::gemm::{GemmProblem, Output};
use driver::tiling::{self, LoopOrder, Tiling, TilingError};

/// Durations and byte counts of one reduction step.
#[derive(Debug, Clone, Copy, Default)]
struct StepCost {
    load: u64,
    compute: u64,
    /// Store group after this step (0 if the step does not end an output tile).
    store: u64,
    has_load: bool,
    needs_acc: bool,
}

/// Estimates an int8-output GEMM `m x k x n` (full activation range).
pub fn estimate_gemm(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> Result<Counters, TilingError> {
    let t = tiling::choose(cfg, m, k, n)?;
    Ok(estimate_tiling(cfg, &t, false))
}

/// Estimates a GEMM problem.
pub fn estimate(cfg: &AccelConfig, p: &GemmProblem) -> Result<Counters, TilingError> {
    let t = tiling::choose(cfg, p.m as u64, p.k as u64, p.n as u64)?;
    Ok(estimate_tiling(cfg, &t, p.output == Output::Int32))
}

/// Estimates a GEMM with a given tiling (`raw_int32`: int32 output, no parameters).
pub fn estimate_tiling(cfg: &AccelConfig, t: &Tiling, raw_int32: bool) -> Counters {
    let mut c = Counters::default();
    let r = cfg.rows as u64;
    let cc = cfg.cols as u64;
    let e = if raw_int32 { 4 } else { 1 };
    let os = cfg.dataflow == Dataflow::OutputStationary;
    let (ni, nj, nk) = (t.n_i(), t.n_j(), t.n_k());
    // Byte/MAC counts: closed form over tile classes (full/partial along each axis).
    let classes = |d: u64, td: u64| -> [(u64, u64); 2] {
        let full = d / td;
        let rem = d % td;
        [(full, td), (if rem > 0 { 1 } else { 0 }, rem)]
    };
    let cm = classes(t.m, t.tm);
    let cn = classes(t.n, t.tn);
    let ck = classes(t.k, t.tk);
    // Load reuse: A is loaded once per (i, kk) if nk == 1 and (MOuter or ni == 1)... as
    // `driver::gemm::steps` decides: reloaded when the previous step used another tile.
    let a_loads_per_ik = if nk == 1 && (t.order == LoopOrder::MOuter || ni == 1) {
        1
    } else {
        nj
    };
    let b_loads_per_kj = if nk == 1 && (t.order == LoopOrder::NOuter || nj == 1) {
        1
    } else {
        ni
    };
    let mut n_loads = 0;
    let mut n_computes = 0;
    for &(cnt_m, tm) in &cm {
        for &(cnt_k, tk) in &ck {
            let cnt = cnt_m * cnt_k * a_loads_per_ik;
            if cnt == 0 {
                continue;
            }
            n_loads += cnt;
            c.bus_read_bytes += cnt * tm * tk;
            c.input_sp_write_bytes += cnt
                * if os {
                    tm.div_ceil(r) * tk * r
                } else {
                    tk.div_ceil(r) * tm * r
                };
        }
    }
    for &(cnt_k, tk) in &ck {
        for &(cnt_n, tn) in &cn {
            let cnt = cnt_k * cnt_n * b_loads_per_kj;
            if cnt == 0 {
                continue;
            }
            n_loads += cnt;
            c.bus_read_bytes += cnt * tk * tn;
            c.weight_sp_write_bytes += cnt * tn.div_ceil(cc) * tk * cc;
        }
    }
    for &(cnt_m, tm) in &cm {
        for &(cnt_n, tn) in &cn {
            let tiles = cnt_m * cnt_n;
            if tiles == 0 {
                continue;
            }
            let nbn = tn.div_ceil(cc);
            for (kk_idx, &(cnt_k, tk)) in ck.iter().enumerate() {
                if cnt_k == 0 {
                    continue;
                }
                let steps = tiles * cnt_k;
                // Steps with kk == 0 are in class 0 if there is a full chunk, else class 1.
                let first_steps = if kk_idx == 0 || ck[0].0 == 0 {
                    tiles
                } else {
                    0
                };
                let later_steps = steps - first_steps;
                c.macs += steps * tm * tk * tn;
                if os {
                    let blocks = tm.div_ceil(r) * nbn;
                    n_computes += steps * blocks;
                    c.input_sp_read_bytes += steps * blocks * tk * r;
                    c.weight_sp_read_bytes += steps * blocks * tk * cc;
                    c.acc_sp_write_bytes += steps * nbn * tm * 4 * cc;
                    c.acc_sp_read_bytes += later_steps * nbn * tm * 4 * cc;
                } else {
                    let kbn = tk.div_ceil(r);
                    let blocks = kbn * nbn;
                    n_computes += steps * blocks;
                    c.input_sp_read_bytes += steps * blocks * tm * r;
                    c.weight_sp_read_bytes += steps * nbn * tk * cc;
                    c.acc_sp_write_bytes += steps * blocks * tm * 4 * cc;
                    let acc_blocks = later_steps * blocks + first_steps * nbn * (kbn - 1);
                    c.acc_sp_read_bytes += acc_blocks * tm * 4 * cc;
                }
            }
            // Store.
            c.acc_sp_read_bytes += tiles * tm * nbn * 4 * cc;
            c.bus_write_bytes += tiles * tm * tn * e;
        }
    }
    // Parameter loads: whenever the N tile changes between consecutive stores.
    let mut n_params = 0;
    if !raw_int32 {
        let param_loads_per_j = if t.order == LoopOrder::NOuter || nj == 1 {
            1
        } else {
            ni
        };
        for &(cnt_n, tn) in &cn {
            let cnt = cnt_n * param_loads_per_j;
            n_params += cnt;
            c.bus_read_bytes += cnt * tn * PARAM_RECORD_BYTES as u64;
        }
    }
    c.commands = n_loads + n_computes + n_params + ni * nj + 1;

    // Timing: the group recurrence.
    let sched = schedule(cfg, t, raw_int32);
    c.cycles = sched.cycles;
    c.array_busy_cycles = sched.compute_busy;
    c.dma_busy_cycles = sched.dma_busy;
    c.dma_stall_cycles = sched.stall;
    c
}

#[allow(clippy::too_many_arguments)]
fn step_cost(
    cfg: &AccelConfig,
    t: &Tiling,
    i: u64,
    j: u64,
    kk: u64,
    load_a: bool,
    load_b: bool,
    params: bool,
    raw_int32: bool,
) -> StepCost {
    let r = cfg.rows as u64;
    let cc = cfg.cols as u64;
    let (tm, tn, tk) = (t.tm_at(i), t.tn_at(j), t.tk_at(kk));
    let mut load = 0;
    if load_a {
        load += timing::dma_cycles(cfg, tm, tk);
    }
    if load_b {
        load += timing::dma_cycles(cfg, tk, tn);
    }
    let nbn = tn.div_ceil(cc);
    let compute = match cfg.dataflow {
        Dataflow::OutputStationary => {
            tm.div_ceil(r) * nbn * timing::compute_cycles(cfg, r.min(tm), tk, cc.min(tn))
        }
        Dataflow::WeightStationary => {
            tk.div_ceil(r) * nbn * timing::compute_cycles(cfg, tm, r.min(tk), cc.min(tn))
        }
        Dataflow::InputStationary => {
            tk.div_ceil(cc) * timing::compute_cycles(cfg, tm, cc.min(tk), tn)
        }
    };
    let last_k = kk + 1 == t.n_k();
    let mut store = 0;
    if last_k {
        if params {
            store += timing::dma_cycles(cfg, 1, tn * PARAM_RECORD_BYTES as u64);
        }
        store += timing::store_cycles(cfg, tm, tn * if raw_int32 { 4 } else { 1 });
    }
    StepCost {
        load,
        compute,
        store,
        has_load: load_a || load_b,
        needs_acc: kk == 0,
    }
}

struct Sched {
    cycles: u64,
    compute_busy: u64,
    dma_busy: u64,
    stall: u64,
}

const UNKNOWN: u64 = u64::MAX;

/// Places the load groups, compute steps and store groups in time with the cycle model's
/// rules: in-order engines, token dependencies, one DMA shared by the load and store
/// engines with sticky arbitration (the last owner wins ties).
fn schedule(cfg: &AccelConfig, t: &Tiling, raw_int32: bool) -> Sched {
    let nk = t.n_k();
    let n_steps = (t.n_i() * t.n_j() * nk) as usize;
    let n_tiles = (t.n_i() * t.n_j()) as usize;
    let mut steps: Vec<StepCost> = Vec::with_capacity(n_steps);
    let mut last_a: Option<(u64, u64)> = None;
    let mut last_b: Option<(u64, u64)> = None;
    let mut params_j: Option<u64> = None;
    for (i, j) in t.tiles() {
        for kk in 0..nk {
            let load_a = last_a != Some((i, kk));
            let load_b = last_b != Some((kk, j));
            last_a = Some((i, kk));
            last_b = Some((kk, j));
            let params = kk + 1 == nk && !raw_int32 && params_j != Some(j);
            if params {
                params_j = Some(j);
            }
            steps.push(step_cost(
                cfg, t, i, j, kk, load_a, load_b, params, raw_int32,
            ));
        }
    }
    let nk = nk as usize;
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
            let tile = nc / nk;
            let mut ready = comp_free;
            if st.has_load {
                if l_end[nc] == UNKNOWN {
                    break;
                }
                ready = ready.max(l_end[nc]);
            }
            if st.needs_acc && tile >= 2 {
                if s_end[tile - 2] == UNKNOWN {
                    break;
                }
                ready = ready.max(s_end[tile - 2]);
            }
            stall += ready - comp_free;
            comp_free = ready + st.compute;
            compute_busy += st.compute;
            c_end[nc] = comp_free;
            max_end = max_end.max(comp_free);
            nc += 1;
        }
        while nl < n_steps && !steps[nl].has_load {
            nl += 1;
        }
        let load_ready = if nl < n_steps {
            if nl >= 2 {
                Some(c_end[nl - 2])
            } else {
                Some(0)
            }
        } else {
            None
        };
        let store_ready = if nt < n_tiles {
            Some(c_end[nt * nk + nk - 1])
        } else {
            None
        };
        let pick_store = match (load_ready, store_ready) {
            (None, None) => break,
            (Some(_), None) => false,
            (None, Some(_)) => true,
            (Some(l), Some(s)) => {
                if l == UNKNOWN && s == UNKNOWN {
                    // Cannot happen with the driver's protocol; stop rather than loop.
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
            let dur = steps[nt * nk + nk - 1].store;
            dma_free = start + dur;
            dma_busy += dur;
            s_end[nt] = dma_free;
            nt += 1;
            owner_store = true;
        } else {
            let ready = load_ready.expect("picked");
            let start = dma_free.max(ready);
            let dur = steps[nl].load;
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
