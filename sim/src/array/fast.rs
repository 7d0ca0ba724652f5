//! The event-level core model the cycle-level executor runs: one core tile with the
//! scratchpad reads, the accumulator reads and the accumulator writes of
//! `docs/architecture.md` section 3 at their exact cycles, in closed form, and the values
//! computed from the lines actually read, without stepping the PEs.
//!
//! What the rest of the machine can observe of a tile is (a) which scratchpad banks the
//! core uses in each cycle (a DMA beat loses to the core), (b) the contents of the input
//! and weight lines at the cycle the core reads them, and (c) the accumulator lines after
//! each write. [`FastTile::access`] gives (a) for any cycle. For (b) and (c) the tile is
//! *lazy*: [`FastTile::sync_reads`] copies the lines read up to a cycle into the tile's
//! own buffers and must be called before anything else writes the input or weight
//! scratchpad (a `LOAD` or `LOAD_IM2COL` completing); [`FastTile::flush_writes`] performs
//! the accumulator writes up to a cycle (each line computed from the copied operands,
//! then added or written) and must be called before anything reads the accumulators (a
//! `STORE` completing) and when the tile ends. Between those points nothing else touches
//! the data the tile reads or writes, so the results are those of the register-level
//! model ([`super::CoreJob`]) in every case, including programs whose missing dependency
//! tokens let a load overwrite lines a running tile has not read yet (tested against it:
//! `sim/tests/sim_fast_core.rs`).
//!
//! Work per tile: `O(MACs)` for the values, `O(lines)` for the reads and writes, `O(1)`
//! per [`FastTile::access`] query; nothing is allocated once the buffers have grown to
//! the largest tile.

use super::CoreAccess;
use crate::machine::Machine;
use arch::isa::Compute;
use arch::timing::{self, ACC_PIPE_DEPTH, EDGE_LATENCY};
use arch::Dataflow;

/// One core tile in progress (reusable: [`FastTile::start`] begins the next one with the
/// buffers of the last).
#[derive(Debug, Clone)]
pub struct FastTile {
    cmd: Compute,
    df: Option<Dataflow>,
    rows: usize,
    cols: usize,
    /// IS block period and stream slots.
    period: u64,
    slots: u64,
    /// Cycles of the tile (`arch::timing::compute_cycles`).
    total: u64,
    /// Input lines read, by offset `x` from `a_line`: line-major (`a[x * rows + lane]`,
    /// WS) or lane-major (`a[lane * na + x]`, OS and IS), so that every output value is a
    /// dot product of two contiguous runs.
    a: Vec<i8>,
    /// Weight lines read, by offset `y` from `b_line`: line-major (`b[y * cols + lane]`,
    /// IS) or lane-major (`b[lane * nb + y]`, OS and WS).
    b: Vec<i8>,
    /// Input and weight lines the tile reads.
    na: usize,
    nb: usize,
    /// Cycles `0 .. synced` have had their reads copied.
    synced: u64,
    /// Write events `0 .. written` have been performed.
    written: u64,
    /// One output line being computed.
    line: Vec<i32>,
}

impl FastTile {
    /// An idle tile (call [`FastTile::start`]).
    pub fn new() -> Self {
        FastTile {
            cmd: Compute {
                accumulate: false,
                a_line: 0,
                b_line: 0,
                c_line: 0,
                m: 0,
                k: 0,
                n: 0,
            },
            df: None,
            rows: 0,
            cols: 0,
            period: 0,
            slots: 0,
            total: 0,
            a: Vec::new(),
            b: Vec::new(),
            na: 0,
            nb: 0,
            synced: 0,
            written: 0,
            line: Vec::new(),
        }
    }

    /// Begins tile `cmd` in dataflow `df` (the command was checked against the machine).
    pub fn start(&mut self, cmd: Compute, df: Dataflow, m: &Machine) {
        let (rows, cols) = (m.rows, m.cols);
        self.cmd = cmd;
        self.df = Some(df);
        self.rows = rows;
        self.cols = cols;
        self.period = timing::is_block_period_of(rows as u64, cols as u64);
        self.slots = (blocks(cmd.n as u64, cols as u64) - 1) * self.period + cols as u64;
        let (na, nb) = self.operand_lines();
        (self.na, self.nb) = (na, nb);
        self.a.clear();
        self.a.resize(na * rows, 0);
        self.b.clear();
        self.b.resize(nb * cols, 0);
        self.line.clear();
        self.line.resize(cols, 0);
        self.synced = 0;
        self.written = 0;
        self.total = self.last_write_cycle() + 1;
    }

    fn df(&self) -> Dataflow {
        self.df.expect("FastTile::start was called")
    }

    /// Cycles the tile takes (it ends at the end of cycle `cycles() - 1`).
    pub fn cycles(&self) -> u64 {
        self.total
    }

    /// Input and weight lines the tile reads.
    fn operand_lines(&self) -> (usize, usize) {
        let (m, k, n) = (
            self.cmd.m as usize,
            self.cmd.k as usize,
            self.cmd.n as usize,
        );
        match self.df() {
            Dataflow::OutputStationary => (k, k),
            Dataflow::WeightStationary => (m, k),
            Dataflow::InputStationary => (k, n),
        }
    }

    /// The input and weight line offsets (from `a_line`, `b_line`) read in cycle `t`.
    #[inline]
    fn reads_at(&self, t: u64) -> (Option<u64>, Option<u64>) {
        let (rows, cols) = (self.rows as u64, self.cols as u64);
        let (m, k, n) = (self.cmd.m as u64, self.cmd.k as u64, self.cmd.n as u64);
        match self.df() {
            Dataflow::OutputStationary => {
                if t < k {
                    (Some(t), Some(t))
                } else {
                    (None, None)
                }
            }
            Dataflow::WeightStationary => {
                if t < rows {
                    let idx = rows - 1 - t;
                    (None, (idx < k).then_some(idx))
                } else if t < rows + m {
                    (Some(t - rows), None)
                } else {
                    (None, None)
                }
            }
            Dataflow::InputStationary => {
                if t < cols {
                    let idx = cols - 1 - t;
                    ((idx < k).then_some(idx), None)
                } else if t - cols < self.slots {
                    let s = t - cols;
                    let (nb, l) = (s / self.period, s % self.period);
                    let c = nb * cols + l;
                    (None, (l < cols && c < n).then_some(c))
                } else {
                    (None, None)
                }
            }
        }
    }

    /// Write events of the tile, in order (one per line through the write-back
    /// pipeline, written or not).
    fn write_events(&self) -> u64 {
        let (m, n) = (self.cmd.m as u64, self.cmd.n as u64);
        match self.df() {
            // Rows >= m are drained but never enter the pipeline.
            Dataflow::OutputStationary | Dataflow::WeightStationary => m,
            Dataflow::InputStationary => blocks(n, self.cols as u64) * self.rows as u64,
        }
    }

    /// Write event `e`: the cycle its line leaves the array and the accumulator line it
    /// writes (`None`: an unused IS array row, which passes the pipeline unwritten), plus
    /// what identifies its values (OS: array row; WS: input vector; IS: block and row).
    #[inline]
    fn event(&self, e: u64) -> (u64, Option<usize>) {
        let (rows, cols) = (self.rows as u64, self.cols as u64);
        let (m, k) = (self.cmd.m as u64, self.cmd.k as u64);
        let c_line = self.cmd.c_line as u64;
        let skew = rows + cols - 2;
        match self.df() {
            Dataflow::OutputStationary => {
                // Row i = m-1-e drains in cycle k + skew + EDGE + (rows-1-i).
                let i = m - 1 - e;
                let leave = k + EDGE_LATENCY + skew + (rows - 1 - i);
                (leave, Some((c_line + i) as usize))
            }
            Dataflow::WeightStationary => {
                (rows + e + EDGE_LATENCY + skew, Some((c_line + e) as usize))
            }
            Dataflow::InputStationary => {
                let (nb, i) = (e / rows, e % rows);
                let leave = 2 * cols + nb * self.period + cols - 1 + i;
                (leave, (i < m).then_some((c_line + nb * m + i) as usize))
            }
        }
    }

    /// The last cycle with a scratchpad read (OS: the `k` stream cycles; WS: preload and
    /// `m` input vectors; IS: preload and the stream slots).
    fn last_read_cycle(&self) -> u64 {
        let (rows, cols) = (self.rows as u64, self.cols as u64);
        match self.df() {
            Dataflow::OutputStationary => self.cmd.k as u64 - 1,
            Dataflow::WeightStationary => rows + self.cmd.m as u64 - 1,
            Dataflow::InputStationary => cols + self.slots - 1,
        }
    }

    fn last_write_cycle(&self) -> u64 {
        self.event(self.write_events() - 1).0 + ACC_PIPE_DEPTH
    }

    /// The scratchpad banks the core uses in cycle `t` of the tile (`t < cycles()`).
    pub fn access(&self, m: &Machine, t: u64) -> CoreAccess {
        let (a, b) = self.reads_at(t);
        let mut acc = CoreAccess {
            input_read: a.map(|x| m.bank(0, self.cmd.a_line as usize + x as usize)),
            weight_read: b.map(|y| m.bank(1, self.cmd.b_line as usize + y as usize)),
            acc_read: None,
            acc_write: None,
        };
        // The lines in the write-back pipeline: at most one leaves the array per cycle,
        // so the events whose accumulator read (leave + 1) or write (leave + depth) is in
        // cycle t are found around the first event leaving no earlier than t - depth.
        let events = self.write_events();
        let mut e = self.first_event_from(t.saturating_sub(ACC_PIPE_DEPTH));
        while e < events {
            let (leave, line) = self.event(e);
            if leave > t {
                break;
            }
            if let Some(line) = line {
                if self.cmd.accumulate && leave + 1 == t {
                    acc.acc_read = Some(m.bank(2, line));
                }
                if leave + ACC_PIPE_DEPTH == t {
                    acc.acc_write = Some(m.bank(2, line));
                }
            }
            e += 1;
        }
        acc
    }

    /// The first write event leaving the array in cycle `t0` or later.
    fn first_event_from(&self, t0: u64) -> u64 {
        // Leave cycles are increasing in the event index: binary search.
        let (mut lo, mut hi) = (0u64, self.write_events());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if self.event(mid).0 < t0 {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    /// Copies the lines read in cycles up to `t` (inclusive) from the scratchpads: call
    /// before anything else writes the input or weight scratchpad in cycle `t`.
    pub fn sync_reads(&mut self, m: &Machine, t: u64) {
        let (rows, cols) = (self.rows, self.cols);
        let last = t.min(self.last_read_cycle());
        while self.synced <= last {
            let (a, b) = self.reads_at(self.synced);
            let df = self.df();
            if let Some(x) = a {
                let (x, src) = (x as usize, self.cmd.a_line as usize + x as usize);
                let line = &m.input[src * rows..][..rows];
                if df == Dataflow::WeightStationary {
                    self.a[x * rows..(x + 1) * rows].copy_from_slice(line);
                } else {
                    for (lane, &v) in line.iter().enumerate() {
                        self.a[lane * self.na + x] = v;
                    }
                }
            }
            if let Some(y) = b {
                let (y, src) = (y as usize, self.cmd.b_line as usize + y as usize);
                let line = &m.weight[src * cols..][..cols];
                if df == Dataflow::InputStationary {
                    self.b[y * cols..(y + 1) * cols].copy_from_slice(line);
                } else {
                    for (lane, &v) in line.iter().enumerate() {
                        self.b[lane * self.nb + y] = v;
                    }
                }
            }
            self.synced += 1;
        }
    }

    /// Performs the accumulator writes of cycles up to `t` (inclusive): call before
    /// anything reads the accumulators in cycle `t`, and with `t >= cycles() - 1` when
    /// the tile ends. Returns whether every write has been performed.
    pub fn flush_writes(&mut self, m: &mut Machine, t: u64) -> bool {
        let events = self.write_events();
        while self.written < events {
            let (leave, line) = self.event(self.written);
            let w = leave + ACC_PIPE_DEPTH;
            if w > t {
                return false;
            }
            // Every operand of this line was read before it left the array.
            self.sync_reads(m, w);
            if let Some(line) = line {
                self.compute_line(self.written);
                let cols = self.cols;
                let dst = &mut m.acc[line * cols..(line + 1) * cols];
                if self.cmd.accumulate {
                    for (d, v) in dst.iter_mut().zip(&self.line) {
                        *d = d.wrapping_add(*v);
                    }
                } else {
                    dst.copy_from_slice(&self.line);
                }
            }
            self.written += 1;
        }
        true
    }

    /// The values of write event `e` into `self.line` (`cols` lanes; lanes of columns
    /// `>= n` are zero), from the copied operands.
    fn compute_line(&mut self, e: u64) {
        let (rows, cols) = (self.rows, self.cols);
        let (m, k, n) = (
            self.cmd.m as usize,
            self.cmd.k as usize,
            self.cmd.n as usize,
        );
        let df = self.df();
        let out = &mut self.line[..cols];
        out.fill(0);
        let (na, nbl) = (self.na, self.nb);
        match df {
            Dataflow::OutputStationary => {
                // C[i][j] = sum_x A[i][x] B[x][j]: lane i of input lines 0..k, lane j of
                // weight lines 0..k.
                let i = m - 1 - e as usize;
                let ai = &self.a[i * na..(i + 1) * na];
                for (j, o) in out.iter_mut().enumerate().take(n) {
                    *o = dot(ai, &self.b[j * nbl..(j + 1) * nbl]);
                }
            }
            Dataflow::WeightStationary => {
                // C[v][j] = sum_{i<k} A[v][i] B[i][j]: lanes 0..k of input line v, lane j of
                // weight lines 0..k (the preloaded rows >= k are zero).
                let v = e as usize;
                let av = &self.a[v * rows..v * rows + k];
                for (j, o) in out.iter_mut().enumerate().take(n) {
                    *o = dot(av, &self.b[j * nbl..(j + 1) * nbl]);
                }
            }
            Dataflow::InputStationary => {
                // C[i][c] = sum_{j<k} A[i][j] B[j][c]: lane i of input lines 0..k, lanes
                // 0..k of weight line c, for c = nb*cols + l < n.
                let (blk, i) = (e as usize / rows, e as usize % rows);
                let c0 = blk * cols;
                let lanes = n.saturating_sub(c0).min(cols);
                let ai = &self.a[i * na..(i + 1) * na];
                for (l, o) in out.iter_mut().enumerate().take(lanes) {
                    *o = dot(ai, &self.b[(c0 + l) * cols..(c0 + l) * cols + k]);
                }
            }
        }
    }
}

/// `sum_x a[x] * b[x]` (int8 x int8 -> int32, wrapping; equal lengths).
#[inline]
fn dot(a: &[i8], b: &[i8]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .fold(0i32, |s, (&x, &y)| s.wrapping_add(x as i32 * y as i32))
}

impl Default for FastTile {
    fn default() -> Self {
        Self::new()
    }
}

/// Output blocks of a tile of `n` columns on `cols` columns.
fn blocks(n: u64, cols: u64) -> u64 {
    n.max(1).div_ceil(cols)
}
