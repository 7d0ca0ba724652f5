//! Weight-stationary array: `rows` cycles of weight preload (bottom row first, shifted
//! down), then one input vector per cycle moving right, partial sums moving down; the
//! bottom row's sums leave de-skewed, one output line per input vector
//! (`docs/architecture.md` 3.2).

use super::{Core, CoreAccess, PeArray};
use crate::machine::Machine;
use arch::timing::EDGE_LATENCY;
use std::collections::VecDeque;

/// The WS PE registers.
pub struct WsArray {
    a_val: Vec<i8>,
    a_tag: Vec<i64>,
    /// Stationary weights.
    b_val: Vec<i8>,
    /// Partial sums flowing down.
    acc: Vec<i32>,
    psum_tag: Vec<i64>,
    /// Skew buffer: the input lines read so far, by vector index.
    a_lines: Vec<Vec<i8>>,
    /// Weight lines in flight to row 0 (arrival cycle, values).
    w_arrivals: VecDeque<(u64, Vec<i8>)>,
    /// Output vectors being de-skewed (vector index, values, columns seen, leave cycle).
    deskew: VecDeque<(i64, Vec<i32>, usize, u64)>,
}

impl WsArray {
    pub fn new(rows: usize, cols: usize) -> Self {
        let n = rows * cols;
        WsArray {
            a_val: vec![0; n],
            a_tag: vec![-1; n],
            b_val: vec![0; n],
            acc: vec![0; n],
            psum_tag: vec![-1; n],
            a_lines: Vec::new(),
            w_arrivals: VecDeque::new(),
            deskew: VecDeque::new(),
        }
    }
}

impl PeArray for WsArray {
    fn lines(&self, core: &Core) -> u64 {
        core.cmd.m as u64
    }

    fn step(&mut self, core: &mut Core, m: &Machine, acc_: &mut CoreAccess) {
        let (rows, cols, t) = (core.rows, core.cols, core.t);
        let (mm, k, n) = (core.cmd.m as u64, core.cmd.k as usize, core.cmd.n as usize);
        let rows64 = rows as u64;
        // 1. Scratchpad reads: preload (bottom weight row first), then the input stream.
        if t < rows64 {
            let idx = rows - 1 - t as usize;
            let line = if idx < k {
                core.read_weight(m, core.cmd.b_line as usize + idx, acc_)
            } else {
                vec![0; cols]
            };
            self.w_arrivals.push_back((t + EDGE_LATENCY, line));
        } else if t < rows64 + mm {
            let c = (t - rows64) as usize;
            let a = core.read_input(m, core.cmd.a_line as usize + c, acc_);
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
                    core.counts.macs += 1;
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
            let (v, mut vals, _, leave) = self.deskew.pop_front().expect("checked");
            vals[n..].fill(0);
            core.write_line(leave, Some(core.cmd.c_line as usize + v as usize), vals);
        }
    }
}
