//! Output-stationary array: activations move right, weights move down (both skewed at
//! the edge), each PE accumulates its output in place; after the last MAC the array
//! drains one row per cycle, bottom row first (`docs/architecture.md` 3.1).

use super::{Core, CoreAccess, PeArray};
use crate::machine::Machine;
use arch::timing::EDGE_LATENCY;

/// The OS PE registers.
pub struct OsArray {
    a_val: Vec<i8>,
    a_tag: Vec<i64>,
    b_val: Vec<i8>,
    b_tag: Vec<i64>,
    acc: Vec<i32>,
    /// Skew buffers: the lines read so far, by vector index.
    a_lines: Vec<Vec<i8>>,
    b_lines: Vec<Vec<i8>>,
    mac_seen: bool,
    drain_start: Option<u64>,
}

impl OsArray {
    pub fn new(rows: usize, cols: usize) -> Self {
        let n = rows * cols;
        OsArray {
            a_val: vec![0; n],
            a_tag: vec![-1; n],
            b_val: vec![0; n],
            b_tag: vec![-1; n],
            acc: vec![0; n],
            a_lines: Vec::new(),
            b_lines: Vec::new(),
            mac_seen: false,
            drain_start: None,
        }
    }
}

impl PeArray for OsArray {
    fn lines(&self, core: &Core) -> u64 {
        core.cmd.m as u64
    }

    fn step(&mut self, core: &mut Core, m: &Machine, acc_: &mut CoreAccess) {
        let (rows, cols, t) = (core.rows, core.cols, core.t);
        let (mm, k, n) = (core.cmd.m as usize, core.cmd.k as u64, core.cmd.n as usize);
        // 1. Scratchpad reads.
        if t < k {
            let a = core.read_input(m, core.cmd.a_line as usize + t as usize, acc_);
            let b = core.read_weight(m, core.cmd.b_line as usize + t as usize, acc_);
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
                        core.counts.macs += 1;
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
                    let mut vals = self.acc[row * cols..(row + 1) * cols].to_vec();
                    vals[n..].fill(0);
                    core.write_line(t, Some(core.cmd.c_line as usize + row), vals);
                }
            }
        }
    }
}
