//! Cycle-level execution of a command stream: the load, compute and store engines, the
//! dependency-token FIFOs, the shared DMA engine (sticky arbitration, bursts of
//! `bus_latency_cycles` + beats), scratchpad bank arbitration (the core wins, a LOAD
//! waits) and the register-level array model ([`crate::array`]), advanced one clock cycle
//! at a time. Data moves for real: the outputs are bit-exact, and a missing dependency
//! token shows up as a wrong result.

use crate::array::{CoreAccess, CoreJob};
use crate::machine::{self, ExecError, Machine};
use arch::device::Counters;
use arch::isa::{Command, Load, LoadParams, Op, Queue, Scratchpad, Store, PARAM_RECORD_BYTES};
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
}

struct DmaJob {
    index: usize,
    kind: DmaKind,
    pipe_left: u64,
    lat_left: u64,
    row: u64,
    nrows: u64,
    row_bytes: u64,
    done_bytes: u64,
}

/// Most cycles one command stream may run in the cycle-level model (about 43 s of
/// accelerator time at 100 MHz, far beyond any GEMM of a TinyML layer): a hostile stream
/// (e.g. many maximal DMA transfers at the maximal bus latency) is stopped with an error
/// naming the running command instead of simulating for hours.
pub const MAX_CYCLES: u64 = 1 << 32;

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
    let bus = cfg.bus_bytes_per_cycle as u64;
    let latency = cfg.bus_latency_cycles as u64;
    let (rows, cols) = (cfg.rows as u64, cfg.cols as u64);
    let mut queues: [Vec<usize>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    let end = cmds
        .iter()
        .position(|c| matches!(c.op, Op::Finish))
        .unwrap_or(cmds.len());
    for (i, c) in cmds[..end].iter().enumerate() {
        match c.op.queue() {
            Some(Queue::Load) => queues[0].push(i),
            Some(Queue::Compute) => queues[1].push(i),
            Some(Queue::Store) => queues[2].push(i),
            None => {}
        }
        if let Op::Compute(cp) = &c.op {
            machine::check_compute(m, cp, cfg.dataflow).map_err(|e| ExecError::new(i, c, e))?;
        }
        if let Op::ConvGeom(_) | Op::LoadIm2col(_) = &c.op {
            return Err(ExecError::new(
                i,
                c,
                "CONV_GEOM / LOAD_IM2COL are not implemented by the cycle-level simulator yet",
            ));
        }
    }
    let mut heads = [0usize; 3];
    let mut tokens = [0u64; 4];
    // Byte, MAC and command counts: per completed command (`Counters::add_command`);
    // the timing counters are this model's own.
    let mut c = Counters::default();
    let mut core: Option<(usize, CoreJob)> = None;
    let mut dma: Option<DmaJob> = None;
    let mut owner = Queue::Load;
    let mut t: u64 = 0;
    loop {
        // Start phase: tokens pushed up to the end of the previous cycle are visible.
        if core.is_none() && heads[1] < queues[1].len() {
            let idx = queues[1][heads[1]];
            let cmd = &cmds[idx];
            if ready(&tokens, cmd) {
                pop(&mut tokens, cmd);
                if let Op::Compute(cp) = cmd.op {
                    core = Some((idx, CoreJob::new(cp, cfg.dataflow, m)));
                }
                heads[1] += 1;
            } else {
                c.dma_stall_cycles += 1;
            }
        }
        if dma.is_none() {
            let head_ready =
                |q: usize| heads[q] < queues[q].len() && ready(&tokens, &cmds[queues[q][heads[q]]]);
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
                let (kind, pipe, nrows, row_bytes) = match cmd.op {
                    Op::Load(l) => (DmaKind::Load(l), 0, l.nrows as u64, l.ncols as u64),
                    Op::LoadParams(p) => (
                        DmaKind::Params(p),
                        0,
                        1,
                        p.count as u64 * PARAM_RECORD_BYTES as u64,
                    ),
                    Op::Store(s) => (
                        DmaKind::Store(s),
                        timing::store_pipe_cycles(),
                        s.nrows as u64,
                        s.ncols as u64 * if s.raw_int32 { 4 } else { 1 },
                    ),
                    _ => unreachable!("only DMA commands are in the load and store queues"),
                };
                dma = Some(DmaJob {
                    index: idx,
                    kind,
                    pipe_left: pipe,
                    lat_left: latency,
                    row: 0,
                    nrows,
                    row_bytes,
                    done_bytes: 0,
                });
            }
        }
        if core.is_none() && dma.is_none() {
            if heads.iter().zip(&queues).all(|(h, q)| *h == q.len()) {
                break;
            }
            let stuck = (0..3)
                .find(|&q| heads[q] < queues[q].len())
                .map(|q| queues[q][heads[q]])
                .unwrap_or(end);
            return Err(ExecError::new(
                stuck,
                &cmds[stuck.min(cmds.len() - 1)],
                "deadlock: waits for a dependency token that is never pushed",
            ));
        }
        let mut pushes: Vec<usize> = Vec::new();
        // Core.
        let access = if let Some((idx, job)) = core.as_mut() {
            c.array_busy_cycles += 1;
            let (done, access) = job.step(m);
            if done {
                c.add_command(cfg, &cmds[*idx].op, None);
                let (_, push) = token_use(&cmds[*idx]);
                pushes.extend(push.iter().flatten());
                core = None;
            }
            access
        } else {
            CoreAccess::default()
        };
        // DMA.
        if let Some(job) = dma.as_mut() {
            c.dma_busy_cycles += 1;
            let mut finished = false;
            if job.pipe_left > 0 {
                job.pipe_left -= 1;
            } else if job.lat_left > 0 {
                job.lat_left -= 1;
            } else {
                // A beat: bytes [done, done + bus) of the current row.
                let off = job.done_bytes;
                let conflict = match job.kind {
                    DmaKind::Load(l) => {
                        let (sp, w, core_bank) = match l.sp {
                            Scratchpad::Input => (0, rows, access.input_read),
                            Scratchpad::Weight => (1, cols, access.weight_read),
                        };
                        let line = if l.transpose {
                            l.sp_line as u64 + (job.row / w) * l.ncols as u64 + off
                        } else {
                            l.sp_line as u64 + (off / w) * l.nrows as u64 + job.row
                        };
                        core_bank == Some(m.bank(sp, line as usize))
                    }
                    // The STORE reads the accumulators through their own read port
                    // (the core's read-modify-write uses the other): no conflict.
                    DmaKind::Store(_) | DmaKind::Params(_) => false,
                };
                if conflict {
                    c.bank_conflict_cycles += 1;
                } else {
                    let bytes = bus.min(job.row_bytes - off);
                    job.done_bytes += bytes;
                    if job.done_bytes == job.row_bytes {
                        job.row += 1;
                        job.done_bytes = 0;
                        job.lat_left = latency;
                        finished = job.row == job.nrows;
                    }
                }
            }
            if finished {
                let idx = job.index;
                let cmd = &cmds[idx];
                match job.kind {
                    DmaKind::Load(l) => {
                        machine::exec_load(m, mem, &l).map_err(|e| ExecError::new(idx, cmd, e))?;
                    }
                    DmaKind::Params(p) => machine::exec_load_params(m, mem, &p)
                        .map_err(|e| ExecError::new(idx, cmd, e))?,
                    DmaKind::Store(s) => {
                        machine::exec_store(m, mem, &s).map_err(|e| ExecError::new(idx, cmd, e))?;
                    }
                }
                c.add_command(cfg, &cmd.op, None);
                let (_, push) = token_use(cmd);
                pushes.extend(push.iter().flatten());
                dma = None;
            }
        }
        for f in pushes {
            tokens[f] += 1;
        }
        t += 1;
        if t >= max_cycles {
            let busy = core
                .as_ref()
                .map(|(i, _)| *i)
                .or(dma.as_ref().map(|j| j.index))
                .unwrap_or(end.min(cmds.len() - 1));
            return Err(ExecError::new(
                busy,
                &cmds[busy],
                format!("cycle limit of {max_cycles} cycles reached while this command runs"),
            ));
        }
    }
    // FINISH.
    c.commands += 1;
    c.cycles = t;
    Ok(c)
}
