//! Cycle-level execution of a command stream: the load, compute and store engines, the
//! dependency-token FIFOs, the shared DMA engine, scratchpad bank arbitration (the core
//! wins, a LOAD / LOAD_IM2COL beat waits) and the core, advanced one clock cycle at a
//! time. Data moves for real: the outputs are bit-exact, and a missing dependency token
//! shows up as a wrong result.
//!
//! The core is the event-level tile model [`FastTile`] by default (every scratchpad read
//! and accumulator write at its exact cycle, the values computed per output line instead
//! of stepping every PE; [`CoreModel::Event`]) or the register-level array
//! ([`CoreJob`], [`CoreModel::Register`]), which the tests use as the oracle: both give
//! the same counters and the same memory on every program.
//!
//! The compute engine also runs the vector unit's commands (`docs/architecture.md`
//! section 3.5): a `VSET` holds it [`timing::VSET_CYCLES`] cycles and sets the mode
//! registers when it completes; a `VCOMPUTE` runs on the event-level [`VpuTile`] (or, with
//! [`CoreModel::Register`], the cycle-stepped [`VpuJob`]), its input and weight reads
//! arbitrated against LOAD beats like the array's, and counts `vpu_busy_cycles` (not
//! `array_busy_cycles`).
//!
//! The DMA engine (`docs/architecture.md`, pipelined DMA) runs one command at a time
//! (sticky arbitration between the load and store queues). A command is a sequence of
//! *pieces*: LOAD and STORE one per row, LOAD_PARAMS one, LOAD_IM2COL the pieces of its
//! address generator ([`arch::im2col::pieces`], computed once when the command starts),
//! CONV_GEOM none (it holds the engine [`timing::CONV_GEOM_CYCLES`]). After the STORE
//! pipeline fill, one piece is requested per cycle while fewer than `dma_outstanding`
//! are in flight; the oldest piece in flight takes the beats, in order, from
//! `bus_latency_cycles` after its request (pad pieces: 0, and no bus bytes); a piece
//! leaves its slot with its last beat (the slot is free in the next cycle). This is the
//! recurrence of [`timing::pipelined_cycles`] plus bank-conflict stalls; with
//! `dma_outstanding = 1` it is the non-pipelined engine (latency + beats per row).
//! `dma_bursts` and `im2col_pieces` count the pieces actually issued.
//!
//! With `cmd_queue_depth = 0` every command is in its engine's queue at cycle 0 (the
//! ideal, unbounded queues). Otherwise the queues hold `cmd_queue_depth` commands each and
//! the streaming fetch of [`crate::fetch`] fills them from cycle 0 (the first cycle after
//! `CTRL.start`), one command at a time in program order, stalling on a full queue; an
//! engine can start a command from the cycle after it arrives, and the run ends when the
//! engines are idle, every command has started and the fetch has nothing in flight.

use crate::array::fast::FastTile;
use crate::array::{CoreAccess, CoreJob};
use crate::fetch::{Fetch, Step};
use crate::machine::{self, ExecError, Machine};
use crate::vpu::{VpuJob, VpuTile};
use arch::device::Counters;
use arch::im2col::{self, Piece, Window};
use arch::isa::{
    Command, ConvGeom, Load, LoadIm2col, LoadParams, Op, Queue, Scratchpad, Store,
    PARAM_RECORD_BYTES,
};
use arch::timing;
use arch::AccelConfig;

const L2C: usize = 0;
const C2L: usize = 1;
const C2S: usize = 2;
const S2C: usize = 3;

/// The token FIFOs a command pops and pushes.
fn token_use(cmd: &Command) -> ([Option<usize>; 2], [Option<usize>; 2]) {
    let d = cmd.deps;
    let pick = |b: bool, f: usize| if b { Some(f) } else { None };
    match cmd.op.queue() {
        Some(Queue::Load) => (
            [pick(d.pop_next, C2L), None],
            [pick(d.push_next, L2C), None],
        ),
        Some(Queue::Compute) => (
            [pick(d.pop_prev, L2C), pick(d.pop_next, S2C)],
            [pick(d.push_prev, C2L), pick(d.push_next, C2S)],
        ),
        Some(Queue::Store) => (
            [pick(d.pop_prev, C2S), None],
            [pick(d.push_prev, S2C), None],
        ),
        None => ([None, None], [None, None]),
    }
}

/// The queue of a load-, compute- or store-queue command (0, 1, 2).
fn queue_index(cmd: &Command) -> usize {
    match cmd.op.queue() {
        Some(Queue::Load) => 0,
        Some(Queue::Compute) => 1,
        _ => 2,
    }
}

fn ready(tokens: &[u64; 4], cmd: &Command) -> bool {
    let (pops, _) = token_use(cmd);
    pops.iter().flatten().all(|&f| tokens[f] > 0)
}

fn pop(tokens: &mut [u64; 4], cmd: &Command) {
    let (pops, _) = token_use(cmd);
    for &f in pops.iter().flatten() {
        tokens[f] -= 1;
    }
}

#[derive(Clone, Copy)]
enum DmaKind {
    Load(Load),
    Params(LoadParams),
    Store(Store),
    ConvGeom(ConvGeom),
    Im2col(LoadIm2col),
}

/// Most pieces in flight (the largest `dma_outstanding`).
const MAX_OUTSTANDING: usize = 16;

/// The DMA command in progress: its pieces (`docs/architecture.md`, pipelined DMA) are
/// requested one per cycle with at most `outstanding` in flight; the oldest one in flight
/// takes the beats, in order, from `latency` cycles after its request.
struct DmaJob {
    index: usize,
    kind: DmaKind,
    /// Cycles before the first request (STORE pipeline fill; CONV_GEOM's one cycle).
    pipe_left: u64,
    /// Number of pieces; `pieces_list`: they are in the run's im2col piece buffer,
    /// otherwise piece `i` is row `i` of `row_bytes` bytes (a bus piece).
    n_pieces: u64,
    pieces_list: bool,
    row_bytes: u64,
    /// Next piece to request.
    next: u64,
    /// Cycle from which each piece in flight (oldest first, ring buffer) may take a beat.
    ready: [u64; MAX_OUTSTANDING],
    head: usize,
    in_flight: usize,
    /// Bytes of the oldest piece in flight already moved.
    done_bytes: u64,
}

impl DmaJob {
    fn new(
        index: usize,
        kind: DmaKind,
        pipe: u64,
        n_pieces: u64,
        list: bool,
        row_bytes: u64,
    ) -> Self {
        DmaJob {
            index,
            kind,
            pipe_left: pipe,
            n_pieces,
            pieces_list: list,
            row_bytes,
            next: 0,
            ready: [0; MAX_OUTSTANDING],
            head: 0,
            in_flight: 0,
            done_bytes: 0,
        }
    }

    /// Piece `i`: `(row, first column, bytes, pad)`.
    #[inline]
    fn piece(&self, list: &[Piece], i: u64) -> (u64, u64, u64, bool) {
        if self.pieces_list {
            let p = &list[i as usize];
            (p.row, p.col, p.len, p.src.is_none())
        } else {
            (i, 0, self.row_bytes, false)
        }
    }

    fn finished(&self) -> bool {
        self.pipe_left == 0 && self.next == self.n_pieces && self.in_flight == 0
    }
}

/// The scratchpad line of element `(r, c)` of a `nrows x ncols` load placed at `sp_line`
/// in a scratchpad of `w`-byte lines (`docs/architecture.md`, LOAD placement).
#[inline]
fn load_line(transpose: bool, sp_line: u64, nrows: u64, ncols: u64, w: u64, r: u64, c: u64) -> u64 {
    if transpose {
        sp_line + (r / w) * ncols + c
    } else {
        sp_line + (c / w) * nrows + r
    }
}

/// Most cycles one command stream may run in the cycle-level model (about 43 s of
/// accelerator time at 100 MHz, far beyond any GEMM of a TinyML layer): a hostile stream
/// (e.g. many maximal DMA transfers at the maximal bus latency) is stopped with an error
/// naming the running command instead of simulating for hours.
pub const MAX_CYCLES: u64 = 1 << 32;

/// The core model of a cycle-level run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CoreModel {
    /// [`FastTile`]: reads, accumulator reads and writes at their exact cycles, values per
    /// output line (the default).
    #[default]
    Event,
    /// [`CoreJob`]: the register-level PE array, stepped every cycle (the tests' oracle);
    /// the vector unit as the cycle-stepped [`VpuJob`].
    Register,
}

/// What the compute engine is executing.
enum Engine {
    /// A `COMPUTE` on the run's [`FastTile`].
    Tile,
    /// A `COMPUTE` on the register-level array.
    TileReg(Box<CoreJob>),
    /// A `VCOMPUTE` on the run's [`VpuTile`].
    Vector,
    /// A `VCOMPUTE` on the cycle-stepped vector unit.
    VectorReg(Box<VpuJob>),
    /// A `VSET` (sets the mode registers when it completes).
    VSet(arch::isa::VSet),
}

/// The lazy (event-level) model running in a cycle, with the cycle relative to its start.
#[derive(Clone, Copy)]
enum Lazy {
    Tile(u64),
    Vector(u64),
}

/// The compute command in progress.
struct CoreRun {
    index: usize,
    /// Cycle it started in.
    t0: u64,
    engine: Engine,
}

/// Runs `cmds` (already checked against `cfg`) cycle by cycle over `mem`, at most
/// [`MAX_CYCLES`] cycles.
pub fn run(
    cfg: &AccelConfig,
    m: &mut Machine,
    mem: &mut [u8],
    cmds: &[Command],
) -> Result<Counters, ExecError> {
    run_with_limit(cfg, m, mem, cmds, MAX_CYCLES)
}

/// [`run`] with an explicit cycle limit: after `max_cycles` cycles the run stops with an
/// [`ExecError`] naming the command in progress (the compute command, else the DMA one).
pub fn run_with_limit(
    cfg: &AccelConfig,
    m: &mut Machine,
    mem: &mut [u8],
    cmds: &[Command],
    max_cycles: u64,
) -> Result<Counters, ExecError> {
    run_with_core(cfg, m, mem, cmds, max_cycles, CoreModel::Event)
}

/// [`run_with_limit`] with a choice of core model.
pub fn run_with_core(
    cfg: &AccelConfig,
    m: &mut Machine,
    mem: &mut [u8],
    cmds: &[Command],
    max_cycles: u64,
    core_model: CoreModel,
) -> Result<Counters, ExecError> {
    let bus = cfg.bus_bytes_per_cycle as u64;
    let latency = cfg.bus_latency_cycles as u64;
    let outstanding = (cfg.dma_outstanding as usize).clamp(1, MAX_OUTSTANDING);
    // The pieces of the running LOAD_IM2COL and its window (reused: no allocation per
    // command once the buffer has grown).
    let mut pieces: Vec<Piece> = Vec::new();
    let mut window: Option<Window> = None;
    m.reset_window();
    // The bus pieces and im2col pieces this model issues (they replace the counts of
    // `Counters::add_command`, which derives them from the commands alone).
    let (mut bursts, mut im2col_pieces) = (0u64, 0u64);
    let (rows, cols) = (cfg.rows as u64, cfg.cols as u64);
    let mut queues: [Vec<usize>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let end = cmds
        .iter()
        .position(|c| matches!(c.op, Op::Finish))
        .unwrap_or(cmds.len());
    // The host checks of the compute queue first, in program order, tracking the mode
    // registers of the last VSET (as `arch::hostcheck::check_buffer`).
    let mut vset_seen = None;
    for (i, c) in cmds[..end].iter().enumerate() {
        match c.op.queue() {
            Some(Queue::Load) => queues[0].push(i),
            Some(Queue::Compute) => queues[1].push(i),
            Some(Queue::Store) => queues[2].push(i),
            None => {}
        }
        match &c.op {
            Op::Compute(cp) => {
                machine::check_compute(m, cp, cfg.dataflow).map_err(|e| ExecError::new(i, c, e))?;
            }
            Op::VSet(v) => vset_seen = Some(*v),
            Op::VCompute(v) => {
                machine::check_vcompute(m, vset_seen.as_ref(), v)
                    .map_err(|e| ExecError::new(i, c, e))?;
            }
            _ => {}
        }
    }
    let mut heads = [0usize; 3];
    // Commands in each queue so far (taken or not): all of them with the ideal queues,
    // else those the streaming fetch has delivered.
    let depth = cfg.cmd_queue_depth as usize;
    let mut fetch = (depth > 0).then(|| Fetch::new(cfg, cmds.len() as u64, end as u64));
    let mut avail = if depth > 0 {
        [0usize; 3]
    } else {
        [queues[0].len(), queues[1].len(), queues[2].len()]
    };
    let mut tokens = [0u64; 4];
    // Byte, MAC and command counts: per completed command (`Counters::add_command`);
    // the timing counters are this model's own.
    let mut c = Counters::default();
    let mut core: Option<CoreRun> = None;
    let mut fast = FastTile::new();
    let mut vfast = VpuTile::new();
    let mut dma: Option<DmaJob> = None;
    let mut owner = Queue::Load;
    let mut t: u64 = 0;
    loop {
        // Queue occupancy at the start of the cycle (the fetch's back-pressure).
        let heads0 = heads;
        // Start phase: tokens pushed up to the end of the previous cycle are visible.
        if core.is_none() && heads[1] < avail[1] {
            let idx = queues[1][heads[1]];
            let cmd = &cmds[idx];
            if ready(&tokens, cmd) {
                pop(&mut tokens, cmd);
                let engine = match cmd.op {
                    Op::Compute(cp) => match core_model {
                        CoreModel::Event => {
                            fast.start(cp, cfg.dataflow, m);
                            Engine::Tile
                        }
                        CoreModel::Register => {
                            Engine::TileReg(Box::new(CoreJob::new(cp, cfg.dataflow, m)))
                        }
                    },
                    Op::VCompute(v) => {
                        // The mode registers of the last VSET, which completed before
                        // this command started (the compute queue runs in order).
                        let set = m.vset.ok_or_else(|| {
                            ExecError::new(
                                idx,
                                cmd,
                                arch::hostcheck::Violation::VectorNoMode.to_string(),
                            )
                        })?;
                        match core_model {
                            CoreModel::Event => {
                                vfast.start(v, set, m);
                                Engine::Vector
                            }
                            CoreModel::Register => {
                                Engine::VectorReg(Box::new(VpuJob::new(v, set, m)))
                            }
                        }
                    }
                    Op::VSet(v) => Engine::VSet(v),
                    _ => unreachable!("only compute commands are in the compute queue"),
                };
                core = Some(CoreRun {
                    index: idx,
                    t0: t,
                    engine,
                });
                heads[1] += 1;
            } else {
                c.dma_stall_cycles += 1;
            }
        }
        if dma.is_none() {
            let head_ready =
                |q: usize| heads[q] < avail[q] && ready(&tokens, &cmds[queues[q][heads[q]]]);
            let (lr, sr) = (head_ready(0), head_ready(2));
            let pick = match owner {
                Queue::Store if sr => Some(2),
                Queue::Store if lr => Some(0),
                _ if lr => Some(0),
                _ if sr => Some(2),
                _ => None,
            };
            if let Some(q) = pick {
                let idx = queues[q][heads[q]];
                heads[q] += 1;
                let cmd = &cmds[idx];
                pop(&mut tokens, cmd);
                owner = if q == 0 { Queue::Load } else { Queue::Store };
                let job = match cmd.op {
                    Op::Load(l) => DmaJob::new(
                        idx,
                        DmaKind::Load(l),
                        0,
                        l.nrows as u64,
                        false,
                        l.ncols as u64,
                    ),
                    Op::LoadParams(p) => DmaJob::new(
                        idx,
                        DmaKind::Params(p),
                        0,
                        1,
                        false,
                        p.count as u64 * PARAM_RECORD_BYTES as u64,
                    ),
                    Op::Store(s) => DmaJob::new(
                        idx,
                        DmaKind::Store(s),
                        timing::store_pipe_cycles(),
                        s.nrows as u64,
                        false,
                        s.ncols as u64 * if s.raw_int32 { 4 } else { 1 },
                    ),
                    Op::ConvGeom(g) => DmaJob::new(
                        idx,
                        DmaKind::ConvGeom(g),
                        timing::CONV_GEOM_CYCLES,
                        0,
                        false,
                        0,
                    ),
                    Op::LoadIm2col(li) => {
                        // The pieces of the address generator, once per command.
                        let (win, _) = m.window().map_err(|e| ExecError::new(idx, cmd, e))?;
                        pieces.clear();
                        pieces.extend(im2col::pieces(&win, &li));
                        window = Some(win);
                        DmaJob::new(idx, DmaKind::Im2col(li), 0, pieces.len() as u64, true, 0)
                    }
                    _ => unreachable!("only DMA commands are in the load and store queues"),
                };
                dma = Some(job);
            }
        }
        // The streaming fetch: requests, then one beat (after the start phase, so a command
        // it delivers can start from the next cycle).
        let fetch_done = fetch.as_ref().is_none_or(Fetch::done);
        let fstep = match fetch.as_mut() {
            Some(f) if !fetch_done => f.step(t, |i| {
                let q = queue_index(&cmds[i as usize]);
                avail[q] - heads0[q] >= depth
            }),
            _ => Step::Done,
        };
        if let Step::Arrived(i) = fstep {
            if (i as usize) < end {
                avail[queue_index(&cmds[i as usize])] += 1;
            }
        }
        if core.is_none() && dma.is_none() {
            let all_started = heads.iter().zip(&queues).all(|(h, q)| *h == q.len());
            if all_started && fetch_done {
                break;
            }
            // Idle engines and a fetch that cannot deliver (nothing left, or its next
            // command's queue is full) never move again.
            if !(fetch_done || matches!(fstep, Step::Blocked(_))) {
                t += 1;
                if t >= max_cycles {
                    let i = end.min(cmds.len() - 1);
                    return Err(ExecError::new(
                        i,
                        &cmds[i],
                        format!("cycle limit of {max_cycles} cycles reached while fetching"),
                    ));
                }
                continue;
            }
            let stuck = (0..3)
                .find(|&q| heads[q] < avail[q])
                .map(|q| queues[q][heads[q]])
                .unwrap_or(end);
            return Err(ExecError::new(
                stuck,
                &cmds[stuck.min(cmds.len() - 1)],
                "deadlock: waits for a dependency token that is never pushed",
            ));
        }
        // Tokens pushed in this cycle (visible in the next one): at most two per engine.
        let mut pushes = [0usize; 4];
        let mut n_pushes = 0;
        // Core. `lazy`: the event-level model running in this cycle and its cycle.
        let mut reg_access = CoreAccess::default();
        let mut lazy: Option<Lazy> = None;
        if let Some(run) = core.as_mut() {
            let rel = t - run.t0;
            let done = match &mut run.engine {
                Engine::Tile => {
                    c.array_busy_cycles += 1;
                    lazy = Some(Lazy::Tile(rel));
                    rel + 1 == fast.cycles() && fast.flush_writes(m, rel)
                }
                Engine::TileReg(job) => {
                    c.array_busy_cycles += 1;
                    let (done, access) = job.step(m);
                    reg_access = access;
                    done
                }
                Engine::Vector => {
                    c.vpu_busy_cycles += 1;
                    lazy = Some(Lazy::Vector(rel));
                    rel + 1 == vfast.cycles() && vfast.flush_writes(m, rel)
                }
                Engine::VectorReg(job) => {
                    c.vpu_busy_cycles += 1;
                    let (done, access) = job.step(m);
                    reg_access = access;
                    done
                }
                Engine::VSet(v) => {
                    let done = rel + 1 == timing::VSET_CYCLES;
                    if done {
                        m.vset = Some(*v);
                    }
                    done
                }
            };
            if done {
                let idx = run.index;
                // The mode registers in force (a VSET's own, set above).
                c.add_command_regs(cfg, &cmds[idx].op, None, m.vset.as_ref());
                let (_, push) = token_use(&cmds[idx]);
                for &f in push.iter().flatten() {
                    pushes[n_pushes] = f;
                    n_pushes += 1;
                }
                core = None;
            }
        }
        // The banks the core uses in this cycle (the event-level models' on demand).
        let access = |m: &Machine| match lazy {
            Some(Lazy::Tile(rel)) => fast.access(m, rel),
            Some(Lazy::Vector(rel)) => vfast.access(m, rel),
            None => reg_access,
        };
        // DMA.
        if let Some(job) = dma.as_mut() {
            c.dma_busy_cycles += 1;
            if job.pipe_left > 0 {
                job.pipe_left -= 1;
            } else {
                // Request phase: the next piece, if a slot is free (a slot freed by a
                // last beat in this cycle is free from the next one).
                if job.next < job.n_pieces && job.in_flight < outstanding {
                    let (_, _, _, pad) = job.piece(&pieces, job.next);
                    let slot = (job.head + job.in_flight) % MAX_OUTSTANDING;
                    job.ready[slot] = t + if pad { 0 } else { latency };
                    job.in_flight += 1;
                    job.next += 1;
                    bursts += !pad as u64;
                    im2col_pieces += job.pieces_list as u64;
                }
                // Beat phase: the oldest piece in flight, once its latency has passed.
                if job.in_flight > 0 && t >= job.ready[job.head] {
                    let i = job.next - job.in_flight as u64;
                    let (row, col, len, _) = job.piece(&pieces, i);
                    let off = job.done_bytes;
                    // The bank of the line of the beat's first element.
                    let conflict = match job.kind {
                        DmaKind::Load(l) => {
                            let access = access(m);
                            let (sp, w, core_bank) = match l.sp {
                                Scratchpad::Input => (0, rows, access.input_read),
                                Scratchpad::Weight => (1, cols, access.weight_read),
                            };
                            let line = load_line(
                                l.transpose,
                                l.sp_line as u64,
                                l.nrows as u64,
                                l.ncols as u64,
                                w,
                                row,
                                col + off,
                            );
                            core_bank == Some(m.bank(sp, line as usize))
                        }
                        DmaKind::Im2col(li) => {
                            let (line, _) = im2col::placement(&li, rows, row, col + off);
                            access(m).input_read == Some(m.bank(0, line as usize))
                        }
                        // The STORE reads the accumulators through their own read port
                        // (the core's read-modify-write uses the other): no conflict.
                        DmaKind::Store(_) | DmaKind::Params(_) | DmaKind::ConvGeom(_) => false,
                    };
                    if conflict {
                        c.bank_conflict_cycles += 1;
                    } else {
                        job.done_bytes += bus.min(len - off);
                        if job.done_bytes == len {
                            job.done_bytes = 0;
                            job.head = (job.head + 1) % MAX_OUTSTANDING;
                            job.in_flight -= 1;
                        }
                    }
                }
            }
            if job.finished() {
                let idx = job.index;
                let cmd = &cmds[idx];
                let mut win = None;
                // The event-level model running in this cycle reads and writes lazily:
                // its reads up to now before a load overwrites a scratchpad, its writes up
                // to now before a store reads the accumulators.
                match (lazy, job.kind) {
                    (Some(Lazy::Tile(rel)), DmaKind::Load(_) | DmaKind::Im2col(_)) => {
                        fast.sync_reads(m, rel)
                    }
                    (Some(Lazy::Tile(rel)), DmaKind::Store(_)) => {
                        fast.flush_writes(m, rel);
                    }
                    (Some(Lazy::Vector(rel)), DmaKind::Load(_) | DmaKind::Im2col(_)) => {
                        vfast.sync_reads(m, rel)
                    }
                    (Some(Lazy::Vector(rel)), DmaKind::Store(_)) => {
                        vfast.flush_writes(m, rel);
                    }
                    _ => {}
                }
                match job.kind {
                    DmaKind::Load(l) => {
                        machine::exec_load(m, mem, &l).map_err(|e| ExecError::new(idx, cmd, e))?;
                    }
                    DmaKind::Params(p) => machine::exec_load_params(m, mem, &p)
                        .map_err(|e| ExecError::new(idx, cmd, e))?,
                    DmaKind::Store(s) => {
                        machine::exec_store(m, mem, &s).map_err(|e| ExecError::new(idx, cmd, e))?;
                    }
                    DmaKind::ConvGeom(g) => machine::exec_conv_geom(m, mem, &g)
                        .map_err(|e| ExecError::new(idx, cmd, e))?,
                    DmaKind::Im2col(li) => {
                        machine::exec_load_im2col(m, mem, &li)
                            .map_err(|e| ExecError::new(idx, cmd, e))?;
                        win = window.take();
                    }
                }
                c.add_command(cfg, &cmd.op, win.as_ref());
                let (_, push) = token_use(cmd);
                for &f in push.iter().flatten() {
                    pushes[n_pushes] = f;
                    n_pushes += 1;
                }
                dma = None;
            }
        }
        for &f in &pushes[..n_pushes] {
            tokens[f] += 1;
        }
        t += 1;
        if t >= max_cycles {
            let busy = core
                .as_ref()
                .map(|r| r.index)
                .or(dma.as_ref().map(|j| j.index))
                .unwrap_or(end.min(cmds.len() - 1));
            return Err(ExecError::new(
                busy,
                &cmds[busy],
                format!("cycle limit of {max_cycles} cycles reached while this command runs"),
            ));
        }
    }
    c.dma_bursts = bursts;
    c.im2col_pieces = im2col_pieces;
    // FINISH.
    c.commands += 1;
    c.cycles = t;
    Ok(c)
}
