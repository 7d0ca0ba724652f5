//! Register-level model of the systolic array executing one `COMPUTE` (a core tile), one
//! call of [`CoreJob::step`] per clock cycle, following `docs/architecture.md` section 3:
//! scratchpad reads, skew, operand registers moving right/down (tagged with their vector
//! index, so a mis-timed skew is caught), per-PE multiply-accumulate, drain (OS) or
//! de-skew (WS), and the accumulator write-back pipeline. Its cycle count is tested equal
//! to `arch::timing::compute_cycles`; it uses the timing constants, never literals.

use crate::machine::Machine;
use arch::isa::Compute;
use arch::timing::{ACC_PIPE_DEPTH, EDGE_LATENCY};
use std::collections::VecDeque;

/// Scratchpad banks the core uses in one cycle (for conflict arbitration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreAccess {
    pub input_read: Option<usize>,
    pub weight_read: Option<usize>,
    pub acc_read: Option<usize>,
    pub acc_write: Option<usize>,
}

/// Counts of one core tile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CoreCounts {
    pub macs: u64,
    pub input_read_bytes: u64,
    pub weight_read_bytes: u64,
    pub acc_read_bytes: u64,
    pub acc_write_bytes: u64,
}

struct WriteBack {
    read_cycle: u64,
    write_cycle: u64,
    line: usize,
    values: Vec<i32>,
}

/// One core tile in progress.
pub struct CoreJob {
    cmd: Compute,
    os: bool,
    rows: usize,
    cols: usize,
    t: u64,
    a_val: Vec<i8>,
    a_tag: Vec<i64>,
    /// OS: weights flowing down; WS: stationary weights.
    b_val: Vec<i8>,
    b_tag: Vec<i64>,
    /// OS: accumulators; WS: partial sums flowing down.
    acc: Vec<i32>,
    psum_tag: Vec<i64>,
    /// Skew buffers: the lines read so far, by vector index.
    a_lines: Vec<Vec<i8>>,
    b_lines: Vec<Vec<i8>>,
    /// WS: weight lines in flight to row 0 (arrival cycle, values).
    w_arrivals: VecDeque<(u64, Vec<i8>)>,
    /// WS: output vectors being de-skewed (vector index, values, columns seen, leave cycle).
    deskew: VecDeque<(i64, Vec<i32>, usize, u64)>,
    mac_seen: bool,
    drain_start: Option<u64>,
    pending: VecDeque<WriteBack>,
    written: u64,
    pub counts: CoreCounts,
}

impl CoreJob {
    /// Starts a tile (the command was checked against the machine).
    pub fn new(cmd: Compute, os: bool, m: &Machine) -> Self {
        let (rows, cols) = (m.rows, m.cols);
        let n = rows * cols;
        CoreJob {
            cmd,
            os,
            rows,
            cols,
            t: 0,
            a_val: vec![0; n],
            a_tag: vec![-1; n],
            b_val: vec![0; n],
            b_tag: vec![-1; n],
            acc: vec![0; n],
            psum_tag: vec![-1; n],
            a_lines: Vec::new(),
            b_lines: Vec::new(),
            w_arrivals: VecDeque::new(),
            deskew: VecDeque::new(),
            mac_seen: false,
            drain_start: None,
            pending: VecDeque::new(),
            written: 0,
            counts: CoreCounts::default(),
        }
    }

    /// Cycles elapsed so far.
    pub fn elapsed(&self) -> u64 {
        self.t
    }

    /// Advances one cycle. Returns `(done_at_end_of_this_cycle, accesses)`.
    pub fn step(&mut self, m: &mut Machine) -> (bool, CoreAccess) {
        let mut acc_ = CoreAccess::default();
        if self.os {
            self.step_os(m, &mut acc_);
        } else {
            self.step_ws(m, &mut acc_);
        }
        self.write_back(m, &mut acc_);
        let total = self.cmd.m as u64;
        let done = self.written == total && self.pending.is_empty();
        self.t += 1;
        (done, acc_)
    }

    fn read_input(&mut self, m: &Machine, line: usize, acc_: &mut CoreAccess) -> Vec<i8> {
        let r = self.rows;
        acc_.input_read = Some(m.bank(0, line));
        self.counts.input_read_bytes += r as u64;
        m.input[line * r..(line + 1) * r].to_vec()
    }

    fn read_weight(&mut self, m: &Machine, line: usize, acc_: &mut CoreAccess) -> Vec<i8> {
        let c = self.cols;
        acc_.weight_read = Some(m.bank(1, line));
        self.counts.weight_read_bytes += c as u64;
        m.weight[line * c..(line + 1) * c].to_vec()
    }

    fn schedule(&mut self, leave: u64, line: usize, mut values: Vec<i32>) {
        for v in values.iter_mut().skip(self.cmd.n as usize) {
            *v = 0;
        }
        self.pending.push_back(WriteBack {
            read_cycle: leave + 1,
            write_cycle: leave + ACC_PIPE_DEPTH,
            line,
            values,
        });
    }

    fn step_os(&mut self, m: &mut Machine, acc_: &mut CoreAccess) {
        let (rows, cols, t) = (self.rows, self.cols, self.t);
        let (mm, k, n) = (self.cmd.m as usize, self.cmd.k as u64, self.cmd.n as usize);
        // 1. Scratchpad reads.
        if t < k {
            let a = self.read_input(m, self.cmd.a_line as usize + t as usize, acc_);
            let b = self.read_weight(m, self.cmd.b_line as usize + t as usize, acc_);
            self.a_lines.push(a);
            self.b_lines.push(b);
        }
        // 2. Operand registers: a moves right, b moves down; the skewed edge feeds.
        let vec_at = |offset: usize| -> i64 { t as i64 - EDGE_LATENCY as i64 - offset as i64 };
        for i in 0..rows {
            for j in (1..cols).rev() {
                self.a_val[i * cols + j] = self.a_val[i * cols + j - 1];
                self.a_tag[i * cols + j] = self.a_tag[i * cols + j - 1];
            }
            let v = vec_at(i);
            let (val, tag) = if v >= 0 && (v as u64) < k {
                (self.a_lines[v as usize][i], v)
            } else {
                (0, -1)
            };
            self.a_val[i * cols] = val;
            self.a_tag[i * cols] = tag;
        }
        for i in (1..rows).rev() {
            for j in 0..cols {
                self.b_val[i * cols + j] = self.b_val[(i - 1) * cols + j];
                self.b_tag[i * cols + j] = self.b_tag[(i - 1) * cols + j];
            }
        }
        for j in 0..cols {
            let v = vec_at(j);
            let (val, tag) = if v >= 0 && (v as u64) < k {
                (self.b_lines[v as usize][j], v)
            } else {
                (0, -1)
            };
            self.b_val[j] = val;
            self.b_tag[j] = tag;
        }
        // 3. Multiply-accumulate.
        let mut any = false;
        for i in 0..rows {
            for j in 0..cols {
                let p = i * cols + j;
                if self.a_tag[p] >= 0 && self.b_tag[p] >= 0 {
                    debug_assert_eq!(self.a_tag[p], self.b_tag[p], "skew mismatch at PE({i},{j})");
                    self.acc[p] =
                        self.acc[p].wrapping_add(self.a_val[p] as i32 * self.b_val[p] as i32);
                    any = true;
                    if i < mm && j < n {
                        self.counts.macs += 1;
                    }
                }
            }
        }
        if any {
            self.mac_seen = true;
        } else if self.mac_seen && self.drain_start.is_none() {
            self.drain_start = Some(t);
        }
        // 4. Drain: one row per cycle, bottom row first.
        if let Some(d0) = self.drain_start {
            let r = (t - d0) as usize;
            if r < rows {
                let row = rows - 1 - r;
                if row < mm {
                    let vals = self.acc[row * cols..(row + 1) * cols].to_vec();
                    self.schedule(t, self.cmd.c_line as usize + row, vals);
                }
            }
        }
    }

    fn step_ws(&mut self, m: &mut Machine, acc_: &mut CoreAccess) {
        let (rows, cols, t) = (self.rows, self.cols, self.t);
        let (mm, k, n) = (self.cmd.m as u64, self.cmd.k as usize, self.cmd.n as usize);
        let rows64 = rows as u64;
        // 1. Scratchpad reads: preload (bottom weight row first), then the input stream.
        if t < rows64 {
            let idx = rows - 1 - t as usize;
            let line = if idx < k {
                self.read_weight(m, self.cmd.b_line as usize + idx, acc_)
            } else {
                vec![0; cols]
            };
            self.w_arrivals.push_back((t + EDGE_LATENCY, line));
        } else if t < rows64 + mm {
            let c = (t - rows64) as usize;
            let a = self.read_input(m, self.cmd.a_line as usize + c, acc_);
            self.a_lines.push(a);
        }
        // 2. Weight shift register.
        if self.w_arrivals.front().is_some_and(|(at, _)| *at == t) {
            let (_, line) = self.w_arrivals.pop_front().expect("checked");
            for i in (1..rows).rev() {
                for j in 0..cols {
                    self.b_val[i * cols + j] = self.b_val[(i - 1) * cols + j];
                }
            }
            self.b_val[..cols].copy_from_slice(&line);
        }
        // 3. Activations move right; skewed edge feed.
        for i in 0..rows {
            for j in (1..cols).rev() {
                self.a_val[i * cols + j] = self.a_val[i * cols + j - 1];
                self.a_tag[i * cols + j] = self.a_tag[i * cols + j - 1];
            }
            let v = t as i64 - rows as i64 - EDGE_LATENCY as i64 - i as i64;
            let (val, tag) = if v >= 0 && (v as u64) < mm {
                (self.a_lines[v as usize][i], v)
            } else {
                (0, -1)
            };
            self.a_val[i * cols] = val;
            self.a_tag[i * cols] = tag;
        }
        // 4. Partial sums move down through the MACs (bottom row first, in place).
        for i in (0..rows).rev() {
            for j in 0..cols {
                let p = i * cols + j;
                let tag = self.a_tag[p];
                if tag < 0 {
                    self.acc[p] = 0;
                    self.psum_tag[p] = -1;
                    continue;
                }
                let above = if i > 0 {
                    debug_assert_eq!(self.psum_tag[p - cols], tag, "psum skew at PE({i},{j})");
                    self.acc[p - cols]
                } else {
                    0
                };
                self.acc[p] = above.wrapping_add(self.a_val[p] as i32 * self.b_val[p] as i32);
                self.psum_tag[p] = tag;
                if i < k && j < n {
                    self.counts.macs += 1;
                }
            }
        }
        // 5. Bottom row -> de-skew (column j delayed cols-1-j cycles).
        let bottom = (rows - 1) * cols;
        for j in 0..cols {
            let tag = self.psum_tag[bottom + j];
            if tag < 0 {
                continue;
            }
            let leave = t + (cols - 1 - j) as u64;
            if self.deskew.back().is_none_or(|(v, ..)| *v < tag) {
                self.deskew.push_back((tag, vec![0; cols], 0, leave));
            }
            let entry = self
                .deskew
                .iter_mut()
                .find(|(v, ..)| *v == tag)
                .expect("just pushed");
            debug_assert_eq!(entry.3, leave, "de-skew mismatch");
            entry.1[j] = self.acc[bottom + j];
            entry.2 += 1;
        }
        while self
            .deskew
            .front()
            .is_some_and(|(_, _, seen, _)| *seen == cols)
        {
            let (v, vals, _, leave) = self.deskew.pop_front().expect("checked");
            self.schedule(leave, self.cmd.c_line as usize + v as usize, vals);
        }
    }

    fn write_back(&mut self, m: &mut Machine, acc_: &mut CoreAccess) {
        let cols = self.cols;
        let t = self.t;
        let accumulate = self.cmd.accumulate;
        let mut i = 0;
        while i < self.pending.len() {
            let wb = &self.pending[i];
            if accumulate && wb.read_cycle == t {
                acc_.acc_read = Some(m.bank(2, wb.line));
                self.counts.acc_read_bytes += 4 * cols as u64;
            }
            if wb.write_cycle == t {
                let wb = self.pending.remove(i).expect("index valid");
                acc_.acc_write = Some(m.bank(2, wb.line));
                self.counts.acc_write_bytes += 4 * cols as u64;
                let dst = &mut m.acc[wb.line * cols..(wb.line + 1) * cols];
                for (d, v) in dst.iter_mut().zip(&wb.values) {
                    *d = if accumulate { d.wrapping_add(*v) } else { *v };
                }
                self.written += 1;
            } else {
                i += 1;
            }
        }
    }
}
