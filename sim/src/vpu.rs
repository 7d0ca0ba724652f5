//! The vector unit (`docs/architecture.md` section 3.5) in the cycle-level model: one
//! `VCOMPUTE` in progress, in two forms that give the same observable behaviour.
//!
//! - [`VpuTile`], the event-level model the cycle-level executor runs by default: the
//!   scratchpad reads of cycle `tau = p*k + t` (input line `a_line + t*S + p`, weight line
//!   `b_line + t` in `MAC` mode, `b_line + p` in `ADD` mode) and the write-back of position
//!   `p` (old line read in `d_p + 1` with `ACCUMULATE`, written at the end of
//!   `d_p + ACC_PIPE_DEPTH`, `d_p = arch::timing::vcompute_leave_cycle(p, k)`) in closed
//!   form, the values from [`arch::vpu::lane_value`] on the operands actually read. It is
//!   lazy exactly like [`crate::array::fast::FastTile`]: [`VpuTile::access`] gives the
//!   banks used in any cycle (what the DMA's bank arbitration sees),
//!   [`VpuTile::sync_reads`] copies the operands read up to a cycle (call it before a
//!   `LOAD` / `LOAD_IM2COL` completing in that cycle overwrites the input or weight
//!   scratchpad), [`VpuTile::flush_writes`] performs the accumulator writes up to a cycle
//!   (call it before a `STORE` completing in that cycle reads the accumulators, and when
//!   the command ends). Work: `O(m*k*n)` for the values, `O(1)` per access query.
//! - [`VpuJob`], the cycle-stepped reference (the executor's
//!   [`crate::cycle::CoreModel::Register`]): the unit's registers stepped one clock cycle
//!   per [`VpuJob::step`]: read in `tau`, the registered scratchpad output in `tau + 1`
//!   (`EDGE_LATENCY`), then `VPU_DEPTH` stages (lane operation in `tau + 1`, reduction in
//!   `tau + 2`, divide / output register in `tau + 3`; the result leaves in `tau + 4`),
//!   and the accumulator write-back pipeline (old line read, combine and write). It reads
//!   and writes the machine in the cycle it says, so it needs no laziness; the tests check
//!   the two models against each other cycle by cycle and on whole racing programs.

use crate::array::CoreAccess;
use crate::machine::Machine;
use arch::isa::{VCompute, VMode, VSet};
use arch::timing::{self, ACC_PIPE_DEPTH, EDGE_LATENCY, VPU_DEPTH};
use arch::vpu;

/// One `VCOMPUTE` in progress, event-level and lazy (reusable: [`VpuTile::start`] begins
/// the next command with the buffers of the last).
#[derive(Debug, Clone)]
pub struct VpuTile {
    cmd: VCompute,
    set: VSet,
    rows: usize,
    cols: usize,
    /// Cycles of the command (`arch::timing::vcompute_cycles`).
    total: u64,
    /// The taps of the position being read, lane-major: `xs[j * k + t]` (input),
    /// `ws[j * k + t]` (weight, `MAC`; `ADD`: `ws[j]`), lanes `j < n`.
    xs: Vec<i8>,
    ws: Vec<i8>,
    /// The values `v[p][j]` of the positions whose reads are all copied (`p * n + j`).
    vals: Vec<i32>,
    /// Read cycles `0 .. synced` have had their lines copied.
    synced: u64,
    /// Positions `0 .. written` have been written back.
    written: u64,
}

impl VpuTile {
    /// An idle unit (call [`VpuTile::start`]).
    pub fn new() -> Self {
        VpuTile {
            cmd: VCompute {
                accumulate: false,
                a_line: 0,
                b_line: 0,
                c_line: 0,
                m: 0,
                k: 0,
                n: 0,
            },
            set: VSet::default(),
            rows: 0,
            cols: 0,
            total: 0,
            xs: Vec::new(),
            ws: Vec::new(),
            vals: Vec::new(),
            synced: 0,
            written: 0,
        }
    }

    /// Begins `cmd` with the mode registers `set` (the command passed
    /// `arch::hostcheck::check_vcompute` against `set` and the machine).
    pub fn start(&mut self, cmd: VCompute, set: VSet, m: &Machine) {
        self.cmd = cmd;
        self.set = set;
        self.rows = m.rows;
        self.cols = m.cols;
        let (mm, k, n) = (cmd.m as usize, cmd.k as usize, cmd.n as usize);
        self.xs.clear();
        self.xs.resize(n * k, 0);
        self.ws.clear();
        self.ws.resize(n * k, 0);
        self.vals.clear();
        self.vals.resize(mm * n, 0);
        self.synced = 0;
        self.written = 0;
        self.total = timing::vcompute_cycles(mm as u64, k as u64);
    }

    /// Cycles the command takes (it ends at the end of cycle `cycles() - 1`).
    pub fn cycles(&self) -> u64 {
        self.total
    }

    /// Read cycles (`m * k`: one tap of one position per cycle).
    fn read_cycles(&self) -> u64 {
        self.cmd.m as u64 * self.cmd.k as u64
    }

    /// The input line and the weight line (if the mode reads one) of read cycle `tau`.
    #[inline]
    fn lines_at(&self, tau: u64) -> (u64, Option<u64>) {
        let k = self.cmd.k as u64;
        let (p, t) = (tau / k, tau % k);
        (
            vpu::input_line(&self.set, &self.cmd, p, t),
            vpu::weight_line(&self.set, &self.cmd, p, t),
        )
    }

    /// The position whose result leaves the unit in cycle `d` (`d = d_p`), if any.
    #[inline]
    fn leaving_at(&self, d: u64) -> Option<u64> {
        // d_p = (p + 1) * k - 1 + EDGE_LATENCY + VPU_DEPTH.
        let k = self.cmd.k as u64;
        let q = (d + 1).checked_sub(EDGE_LATENCY + VPU_DEPTH)?;
        (q >= k && q.is_multiple_of(k))
            .then_some(q / k - 1)
            .filter(|&p| p < self.cmd.m as u64)
    }

    /// The scratchpad banks the unit uses in cycle `t` of the command (`t < cycles()`).
    pub fn access(&self, m: &Machine, t: u64) -> CoreAccess {
        let mut acc = CoreAccess::default();
        if t < self.read_cycles() {
            let (a, b) = self.lines_at(t);
            acc.input_read = Some(m.bank(0, a as usize));
            acc.weight_read = b.map(|b| m.bank(1, b as usize));
        }
        let c_line = self.cmd.c_line as usize;
        if self.cmd.accumulate {
            if let Some(p) = t.checked_sub(1).and_then(|d| self.leaving_at(d)) {
                acc.acc_read = Some(m.bank(2, c_line + p as usize));
            }
        }
        if let Some(p) = t
            .checked_sub(ACC_PIPE_DEPTH)
            .and_then(|d| self.leaving_at(d))
        {
            acc.acc_write = Some(m.bank(2, c_line + p as usize));
        }
        acc
    }

    /// Copies the lines read in cycles up to `t` (inclusive) from the scratchpads and
    /// computes the value of every position whose taps are then all read: call before
    /// anything else writes the input or weight scratchpad in cycle `t`.
    pub fn sync_reads(&mut self, m: &Machine, t: u64) {
        let reads = self.read_cycles();
        if reads == 0 {
            return;
        }
        let last = t.min(reads - 1);
        let (rows, cols) = (self.rows, self.cols);
        let (k, n) = (self.cmd.k as usize, self.cmd.n as usize);
        while self.synced <= last {
            let tau = self.synced;
            let (p, tap) = ((tau / k as u64) as usize, (tau % k as u64) as usize);
            let (a, b) = self.lines_at(tau);
            let line = &m.input[a as usize * rows..][..n];
            for (j, &x) in line.iter().enumerate() {
                self.xs[j * k + tap] = x;
            }
            if let Some(b) = b {
                let line = &m.weight[b as usize * cols..][..n];
                for (j, &w) in line.iter().enumerate() {
                    self.ws[j * k + tap] = w;
                }
            }
            if tap == k - 1 {
                for j in 0..n {
                    self.vals[p * n + j] =
                        vpu::lane_value(&self.set, &self.xs[j * k..][..k], &self.ws[j * k..][..k]);
                }
            }
            self.synced += 1;
        }
    }

    /// Performs the accumulator writes of cycles up to `t` (inclusive): call before
    /// anything reads the accumulators in cycle `t`, and with `t >= cycles() - 1` when
    /// the command ends. Returns whether every write has been performed.
    pub fn flush_writes(&mut self, m: &mut Machine, t: u64) -> bool {
        let (mm, k, n) = (self.cmd.m as u64, self.cmd.k as u64, self.cmd.n as usize);
        let cols = self.cols;
        while self.written < mm {
            let p = self.written;
            let w = timing::vcompute_leave_cycle(p, k) + ACC_PIPE_DEPTH;
            if w > t {
                return false;
            }
            // Every tap of position p was read before it left the unit.
            self.sync_reads(m, w);
            let line = self.cmd.c_line as usize + p as usize;
            let dst = &mut m.acc[line * cols..(line + 1) * cols];
            let vals = &self.vals[p as usize * n..][..n];
            for (j, d) in dst.iter_mut().enumerate() {
                *d = match vals.get(j) {
                    Some(&v) => vpu::combine(self.set.mode, self.cmd.accumulate, *d, v),
                    None => 0,
                };
            }
            self.written += 1;
        }
        true
    }
}

impl Default for VpuTile {
    fn default() -> Self {
        Self::new()
    }
}

/// Scratchpad bytes and lane operations one [`VpuJob`] performed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VpuCounts {
    pub input_read_bytes: u64,
    pub weight_read_bytes: u64,
    pub acc_read_bytes: u64,
    pub acc_write_bytes: u64,
    /// Lane operations (`n` per read cycle): MACs in `MAC` mode, reduce operations in
    /// `SUM` / `MAX`, additions in `ADD`.
    pub lane_ops: u64,
}

/// A value travelling down the unit's pipeline: position, tap, one word per lane.
#[derive(Debug, Clone, Default)]
struct Word {
    p: u64,
    tap: u64,
    v: Vec<i32>,
}

/// The operands of one read (registered scratchpad outputs): position, tap, lanes.
#[derive(Debug, Clone, Default)]
struct Operands {
    p: u64,
    tap: u64,
    x: Vec<i8>,
    w: Vec<i8>,
}

/// One `VCOMPUTE` as the unit's registers, stepped one clock cycle at a time (the
/// reference for [`VpuTile`]).
#[derive(Debug, Clone)]
pub struct VpuJob {
    cmd: VCompute,
    set: VSet,
    rows: usize,
    cols: usize,
    /// The current cycle (relative to the command's start).
    t: u64,
    /// Scratchpad outputs of the read of the previous cycle.
    edge: Option<Operands>,
    /// Lane-operation results.
    lane: Option<Word>,
    /// The reduction register and whether it holds a complete position (its last tap was
    /// reduced in the previous cycle).
    red: Option<Word>,
    red_done: bool,
    /// The output register: the result leaving the unit in this cycle.
    out: Option<Word>,
    /// Write-back: the line whose old value is read in this cycle, then the line combined
    /// and written at the end of this cycle (with the old value read).
    wb_read: Option<Word>,
    wb_write: Option<(Word, Vec<i32>)>,
    /// Positions written back.
    written: u64,
    counts: VpuCounts,
}

impl VpuJob {
    /// Starts `cmd` with the mode registers `set` (checked as for [`VpuTile::start`]).
    pub fn new(cmd: VCompute, set: VSet, m: &Machine) -> Self {
        VpuJob {
            cmd,
            set,
            rows: m.rows,
            cols: m.cols,
            t: 0,
            edge: None,
            lane: None,
            red: None,
            red_done: false,
            out: None,
            wb_read: None,
            wb_write: None,
            written: 0,
            counts: VpuCounts::default(),
        }
    }

    /// Cycles elapsed so far.
    pub fn elapsed(&self) -> u64 {
        self.t
    }

    /// Counts so far (final once the command is done).
    pub fn counts(&self) -> VpuCounts {
        self.counts
    }

    /// Advances one cycle. Returns `(done_at_end_of_this_cycle, accesses)`.
    pub fn step(&mut self, m: &mut Machine) -> (bool, CoreAccess) {
        let mut access = CoreAccess::default();
        let (k, n, cols) = (self.cmd.k as u64, self.cmd.n as usize, self.cols);
        let mode = self.set.mode;
        // Write-back, last stage: combine with the old line (read in the previous cycle)
        // and write the whole line at the end of this cycle (lanes >= n get 0).
        if let Some((word, old)) = self.wb_write.take() {
            let line = self.cmd.c_line as usize + word.p as usize;
            access.acc_write = Some(m.bank(2, line));
            self.counts.acc_write_bytes += 4 * cols as u64;
            let dst = &mut m.acc[line * cols..(line + 1) * cols];
            for (j, d) in dst.iter_mut().enumerate() {
                *d = if j < n {
                    let v = word.v[j];
                    match (self.cmd.accumulate, mode) {
                        (false, _) => v,
                        (true, VMode::Max) => old[j].max(v),
                        (true, _) => old[j].wrapping_add(v),
                    }
                } else {
                    0
                };
            }
            self.written += 1;
        }
        // Write-back, first stage: the old line is read (ACCUMULATE only).
        let next_wb_write = self.wb_read.take().map(|word| {
            let line = self.cmd.c_line as usize + word.p as usize;
            let old = if self.cmd.accumulate {
                access.acc_read = Some(m.bank(2, line));
                self.counts.acc_read_bytes += 4 * cols as u64;
                m.acc[line * cols..(line + 1) * cols].to_vec()
            } else {
                Vec::new()
            };
            (word, old)
        });
        // The output register leaves the unit into the write-back pipeline.
        let next_wb_read = self.out.take();
        // Divide / output register: a complete reduction is divided (SUM with a divisor).
        let next_out = if self.red_done {
            let red = self.red.as_ref().expect("a complete reduction is held");
            let v = red
                .v
                .iter()
                .map(|&s| match mode {
                    VMode::Sum => vpu::pool_divide(s, self.set.divisor),
                    _ => s,
                })
                .collect();
            Some(Word {
                p: red.p,
                tap: red.tap,
                v,
            })
        } else {
            None
        };
        // Reduction: tap 0 loads the register, later taps fold into it.
        let mut next_red_done = false;
        if let Some(lane) = self.lane.take() {
            next_red_done = lane.tap == k - 1;
            match self.red.as_mut() {
                Some(red) if lane.tap > 0 => {
                    debug_assert_eq!(red.p, lane.p);
                    for (r, &v) in red.v.iter_mut().zip(&lane.v) {
                        *r = match mode {
                            VMode::Max => (*r).max(v),
                            _ => r.wrapping_add(v),
                        };
                    }
                    red.tap = lane.tap;
                }
                _ => self.red = Some(lane),
            }
        }
        // Lane operation on the registered scratchpad outputs.
        let next_lane = self.edge.take().map(|op| {
            let v = (0..n)
                .map(|j| match mode {
                    VMode::Mac => op.x[j] as i32 * op.w[j] as i32,
                    VMode::Sum | VMode::Max => op.x[j] as i32,
                    VMode::Add => vpu::add_lane(&self.set.add, op.x[j], op.w[j]),
                })
                .collect();
            self.counts.lane_ops += n as u64;
            Word {
                p: op.p,
                tap: op.tap,
                v,
            }
        });
        // Reads: one tap of one position per cycle.
        let next_edge = (self.t < self.cmd.m as u64 * k).then(|| {
            let (p, tap) = (self.t / k, self.t % k);
            let a = vpu::input_line(&self.set, &self.cmd, p, tap) as usize;
            access.input_read = Some(m.bank(0, a));
            self.counts.input_read_bytes += self.rows as u64;
            let x = m.input[a * self.rows..][..n].to_vec();
            let w = match vpu::weight_line(&self.set, &self.cmd, p, tap) {
                Some(b) => {
                    let b = b as usize;
                    access.weight_read = Some(m.bank(1, b));
                    self.counts.weight_read_bytes += cols as u64;
                    m.weight[b * cols..][..n].to_vec()
                }
                None => Vec::new(),
            };
            Operands { p, tap, x, w }
        });
        // Clock edge.
        self.wb_write = next_wb_write;
        self.wb_read = next_wb_read;
        self.out = next_out;
        self.red_done = next_red_done;
        self.lane = next_lane;
        self.edge = next_edge;
        self.t += 1;
        (self.written == self.cmd.m as u64, access)
    }
}
