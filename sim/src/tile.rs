//! The tile-level model: the counters of a GEMM without simulating cycles or data.
//!
//! It costs the one schedule of `arch::schedule` (the tiling of
//! [`schedule::choose_problem`], the
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
//! DMA durations include the pipelined DMA (`dma_outstanding`: [`timing::dma_cycles`],
//! [`timing::store_cycles`]). With hardware im2col (`GemmProblem.im2col`) the program
//! starts with a `CONV_GEOM` (the load queue holds the DMA for
//! [`timing::CONV_GEOM_CYCLES`] before the first load group) and the A loads are
//! `LOAD_IM2COL`s ([`LoadTile::im2col_load`]), costed with [`timing::load_im2col_cycles`] and
//! counted with the window; without bank conflicts every counter equals the cycle-level
//! model's (tested on random problems and on every MLPerf Tiny layer).
//!
//! Cost: steps of the same class (tile extents, loads, first/last reduction chunk) have
//! the same commands up to scratchpad halves and addresses, so each class's step plan is
//! costed once (at most a few dozen classes); the schedule is O(reduction steps) with
//! O(1) work per step. A `LOAD_IM2COL` depends on its tile origin (edge tiles have pad
//! pieces), so each distinct A tile `(i, kk)` is costed once, by walking its pieces
//! (O(rows x pieces per row), no per-element work).

use arch::device::Counters;
use arch::fasthash::FastMap;
use arch::im2col::{self, PieceSummary, Window};
use arch::isa::{Compute, LoadParams, Op, Store, PARAM_RECORD_BYTES};
use arch::schedule::{
    self, GemmProblem, LoadTile, Operand, Output, Step, StepPlan, Tiling, TilingError, TimingKey,
};
use arch::timing::{self, Burst};
use arch::AccelConfig;

/// Durations of one reduction step's groups.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StepCost {
    pub(crate) load: u64,
    pub(crate) compute: u64,
    /// Store group after this step (0 if the step does not end an output tile).
    pub(crate) store: u64,
    /// Commands of the compute group (the back-pressure of bounded command queues).
    pub(crate) computes: u64,
}

/// Estimates an int8-output GEMM `m x k x n` (full activation range).
pub fn estimate_gemm(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> Result<Counters, TilingError> {
    let t = schedule::choose(cfg, m, k, n)?;
    Ok(estimate_tiling(cfg, &t, false))
}

/// Estimates a GEMM problem (with `p.im2col`: the program of hardware im2col, one
/// `CONV_GEOM` and `LOAD_IM2COL` A loads).
pub fn estimate(cfg: &AccelConfig, p: &GemmProblem) -> Result<Counters, TilingError> {
    let t = schedule::choose_problem(cfg, p)?;
    Ok(estimate_tiling_with(
        cfg,
        &t,
        p.output == Output::Int32,
        p.im2col.as_ref(),
    ))
}

/// A memo of [`estimate`] for design sweeps: the counters are a pure function of the
/// problem's shape, window and output type (int8 or int32; not its zero point or
/// activation range) and of the configuration's [`TimingKey`] (the clock, technology node
/// and energy and area tables scale them afterwards), so layers of the same shape, designs that differ only in those, and the
/// partitioner and the accounting asking for the same layer, cost each GEMM once. Keeps
/// at most `capacity` entries (then starts over); a problem that does not fit is kept as
/// `None` (the error is not: its message names a configuration).
#[derive(Debug, Clone)]
pub struct TileCache {
    map: FastMap<(TimingKey, GemmProblem), Option<Counters>>,
    scratch: Scratch,
    capacity: usize,
    hits: u64,
    misses: u64,
}

impl TileCache {
    /// An empty cache of at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        TileCache {
            map: FastMap::default(),
            scratch: Scratch::default(),
            capacity: capacity.max(1),
            hits: 0,
            misses: 0,
        }
    }

    /// [`estimate`]`(cfg, p).ok()`, from the memo when the same problem was estimated on a
    /// configuration with the same [`TimingKey`].
    pub fn estimate(&mut self, cfg: &AccelConfig, p: &GemmProblem) -> Option<Counters> {
        // The counters depend on the output only through int8 vs int32 (the zero point
        // and activation range change values, not counts or timing).
        let output = match p.output {
            Output::Int8 { .. } => Output::Int8 {
                zp_out: 0,
                act_min: -128,
                act_max: 127,
            },
            Output::Int32 => Output::Int32,
        };
        let key = (TimingKey::of(cfg), GemmProblem { output, ..*p });
        if let Some(c) = self.map.get(&key) {
            self.hits += 1;
            return *c;
        }
        self.misses += 1;
        let c = schedule::choose_problem(cfg, p).ok().map(|t| {
            estimate_tiling_scratch(
                cfg,
                &t,
                p.output == Output::Int32,
                p.im2col.as_ref(),
                &mut self.scratch,
            )
        });
        if self.map.len() >= self.capacity {
            self.map.clear();
        }
        self.map.insert(key, c);
        c
    }

    /// `(hits, misses)` so far.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits, self.misses)
    }
}

/// The duration and counts of an A load of window `w` (a `LOAD_IM2COL`), in one walk
/// over its pieces: the bursts of [`timing::im2col_bursts`] through
/// [`timing::pipelined_cycles`] (= [`timing::load_im2col_cycles`]) while the piece counts
/// of [`arch::im2col::summary`] are taken on the way; the command's other counts come
/// from [`Counters::add_command`]. (Walking the pieces dominates the tile model's cost on
/// convolutions; this halves it.)
fn cost_im2col_load(cfg: &AccelConfig, w: &Window, l: &LoadTile) -> (u64, Counters) {
    let li = l.im2col_load(w, 0);
    let mut sum = PieceSummary::default();
    let latency = cfg.bus_latency_cycles as u64;
    let bursts = im2col::pieces(w, &li).map(|p| {
        sum.pieces += 1;
        if p.is_bus() {
            sum.bus_pieces += 1;
            sum.bus_bytes += p.len;
        } else {
            sum.pad_bytes += p.len;
        }
        Burst {
            latency: if p.is_bus() { latency } else { 0 },
            beats: timing::bus_beats(cfg, p.len),
        }
    });
    let cycles = timing::pipelined_cycles(cfg.dma_outstanding as u64, 0, bursts);
    debug_assert_eq!(cycles, timing::load_im2col_cycles(cfg, w, &li));
    debug_assert_eq!(sum, im2col::summary(w, &li));
    let mut counters = Counters::default();
    // Without the window: the command and its scratchpad writes; the bus counts here.
    counters.add_command(cfg, &Op::LoadIm2col(li), None);
    counters.bus_read_bytes += sum.bus_bytes;
    counters.dma_bursts += sum.bus_pieces;
    counters.im2col_pieces += sum.pieces;
    debug_assert_eq!(counters, {
        let mut c = Counters::default();
        c.add_command(cfg, &Op::LoadIm2col(li), Some(w));
        c
    });
    (cycles, counters)
}

/// The durations and counts of one step plan (addresses do not matter: they are left
/// at 0). `skip_a`: the A loads are costed per tile origin by the caller (hardware
/// im2col).
fn cost_plan(
    cfg: &AccelConfig,
    plan: &StepPlan,
    raw_int32: bool,
    skip_a: bool,
) -> (StepCost, Counters) {
    let mut c = StepCost::default();
    let mut counters = Counters::default();
    for l in plan
        .loads
        .iter()
        .filter(|l| !(skip_a && l.operand == Operand::A))
    {
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
        c.computes += count;
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
    estimate_tiling_with(cfg, t, raw_int32, None)
}

/// [`estimate_tiling`] of a GEMM whose A operand is, with `im2col = Some(w)`, the implicit
/// matrix of window `w`: the program starts with a `CONV_GEOM` and its A loads are
/// `LOAD_IM2COL`s, whose duration and bytes depend on the tile origin (edge tiles have
/// pad pieces): each distinct A tile `(i, kk)` is costed once.
pub fn estimate_tiling_with(
    cfg: &AccelConfig,
    t: &Tiling,
    raw_int32: bool,
    im2col: Option<&Window>,
) -> Counters {
    estimate_tiling_scratch(cfg, t, raw_int32, im2col, &mut Scratch::default())
}

/// A step class: tile extents, loads, parameters, first/last reduction chunk.
type Class = (u64, u64, u64, bool, bool, bool, bool, bool);

/// The buffers of one estimate, reused across estimates by [`TileCache`] (no allocation
/// once they have grown to the largest GEMM).
#[derive(Debug, Clone, Default)]
struct Scratch {
    steps: Vec<Step>,
    /// Per class: its cost, counts, number of steps and (hardware im2col) its A load.
    memo: Vec<(Class, StepCost, Counters, u64, Option<LoadTile>)>,
    /// Hardware im2col: the A load of tile (i, kk) (duration, counts, uses).
    a_memo: Vec<Option<(u64, Counters, u64)>>,
    costs: Vec<StepCost>,
    place: PlaceScratch,
}

/// [`estimate_tiling_with`] with reusable buffers.
fn estimate_tiling_scratch(
    cfg: &AccelConfig,
    t: &Tiling,
    raw_int32: bool,
    im2col: Option<&Window>,
    scratch: &mut Scratch,
) -> Counters {
    let Scratch {
        steps,
        memo,
        a_memo,
        costs,
        place: place_scratch,
    } = scratch;
    schedule::steps_into(t, !raw_int32, steps);
    // Few classes per GEMM (partial tiles x loads x first/last chunk): a linear search;
    // the counts of each class are added once, times its number of steps.
    memo.clear();
    let nk = t.n_k();
    a_memo.clear();
    if im2col.is_some() {
        a_memo.resize((t.n_i() * nk) as usize, None);
    }
    let mut last = 0;
    costs.clear();
    costs.reserve(steps.len());
    for s in steps.iter() {
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
                    let plan = schedule::plan_step(cfg, t, s);
                    let (cost, counters) = cost_plan(cfg, &plan, raw_int32, im2col.is_some());
                    let a = plan.loads.iter().find(|l| l.operand == Operand::A).copied();
                    memo.push((class, cost, counters, 0, a));
                    memo.len() - 1
                }
            };
        }
        memo[last].3 += 1;
        let mut cost = memo[last].1;
        if let (Some(w), true) = (im2col, s.load_a) {
            let slot = &mut a_memo[(s.i * nk + s.kk) as usize];
            let entry = slot.get_or_insert_with(|| {
                // The class's A load (same extents and transpose) at this step's tile
                // origin (the scratchpad half does not change the cost).
                let a = memo[last].4.expect("a step with load_a plans an A load");
                let a = LoadTile {
                    row0: s.i * t.tm,
                    col0: s.kk * t.tk,
                    ..a
                };
                let (cycles, counters) = cost_im2col_load(cfg, w, &a);
                (cycles, counters, 0)
            });
            entry.2 += 1;
            cost.load += entry.0;
        }
        costs.push(cost);
    }
    let mut c = Counters::default();
    for (_, _, counters, n, _) in memo.iter() {
        c.add(&counters.scaled(*n));
    }
    for (_, counters, n) in a_memo.iter().flatten() {
        c.add(&counters.scaled(*n));
    }
    // The CONV_GEOM first (hardware im2col), FINISH last.
    let geom_cycles = match im2col {
        Some(w) => {
            c.add_command(cfg, &Op::ConvGeom(w.geom(0)), None);
            timing::CONV_GEOM_CYCLES
        }
        None => 0,
    };
    c.add_command(cfg, &Op::Finish, None);

    // Timing: the group recurrence.
    let sched = place(
        steps,
        costs,
        (t.n_i() * t.n_j()) as usize,
        geom_cycles,
        cfg.cmd_queue_depth as u64,
        place_scratch,
    );
    // The streaming command fetch (`cmd_queue_depth > 0`): a start latency and the
    // fetch throughput ([`timing::with_fetch`]; back-pressure is left out).
    c.cycles = timing::with_fetch(cfg, sched.cycles, c.commands);
    c.array_busy_cycles = sched.compute_busy;
    c.dma_busy_cycles = sched.dma_busy;
    c.dma_stall_cycles = sched.stall;
    c
}

pub(crate) struct Sched {
    pub(crate) cycles: u64,
    pub(crate) compute_busy: u64,
    pub(crate) dma_busy: u64,
    pub(crate) stall: u64,
}

const UNKNOWN: u64 = u64::MAX;

/// The buffers of [`place`].
#[derive(Debug, Clone, Default)]
pub(crate) struct PlaceScratch {
    tile_end: Vec<usize>,
    l_end: Vec<u64>,
    c_end: Vec<u64>,
    s_end: Vec<u64>,
}

/// Places the load groups, compute steps and store groups in time with the cycle model's
/// rules: in-order engines, the steps' dependency tokens, one DMA shared by the load and
/// store engines with sticky arbitration (the last owner wins ties). `head`: cycles the
/// load queue holds the DMA before the first load group (the `CONV_GEOM` of hardware
/// im2col: the load queue owns the DMA at the start and no store is ready). Also the
/// recurrence of vector-unit programs (`crate::vtile`, one output tile per step).
///
/// `depth` (`cmd_queue_depth`, 0 = unbounded): the fetch delivers commands in program
/// order and stops at a compute command while the compute queue is full, so the load
/// group of step `s` (after the compute group of step `p < s` in program order) is not in
/// its queue before compute `C_p - depth` of step `p` has started: with `C_p > depth`
/// compute commands of equal duration, `start(p) + (C_p - depth) * compute_p / C_p + 1`.
pub(crate) fn place(
    steps: &[Step],
    costs: &[StepCost],
    n_tiles: usize,
    head: u64,
    depth: u64,
    scratch: &mut PlaceScratch,
) -> Sched {
    let n_steps = steps.len();
    let PlaceScratch {
        tile_end,
        l_end,
        c_end,
        s_end,
    } = scratch;
    // The step that ends each output tile (it carries the store group).
    tile_end.clear();
    tile_end.extend((0..n_steps).filter(|&s| steps[s].last_k));
    debug_assert_eq!(tile_end.len(), n_tiles);
    for (v, n) in [
        (&mut *l_end, n_steps),
        (&mut *c_end, n_steps),
        (&mut *s_end, n_tiles),
    ] {
        v.clear();
        v.resize(n, UNKNOWN);
    }
    let (mut nl, mut nt, mut nc) = (0usize, 0usize, 0usize);
    let mut dma_free = head;
    let mut owner_store = false;
    let mut comp_free = 0u64;
    let (mut compute_busy, mut dma_busy, mut stall, mut max_end) = (0u64, head, 0u64, head);
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
            let token = if steps[nl].load_waits_compute {
                c_end[nl - 2]
            } else {
                0
            };
            // Back-pressure of a full compute queue (the compute group just before).
            match nl.checked_sub(1).map(|p| (p, &costs[p])) {
                Some((p, c)) if depth > 0 && c.computes > depth && token != UNKNOWN => {
                    if c_end[p] == UNKNOWN {
                        UNKNOWN
                    } else {
                        let start = c_end[p] - c.compute;
                        token.max(start + (c.computes - depth) * c.compute / c.computes + 1)
                    }
                }
                _ => token,
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
