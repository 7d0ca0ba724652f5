//! Input-stationary array (`docs/architecture.md` 3.3): `cols` cycles of preload (input
//! line `a_line + cols-1-p` read in cycle `p`, entering column 0 while every column
//! shifts its stationary activation one column right), then one weight vector per stream
//! slot entering the columns from the top (column `j` delayed `j` cycles) and moving down,
//! partial sums moving right along the rows; each row's sums leave the right edge into
//! the row's line collector, which writes a full line of `cols` lanes per output block.
//! Output blocks are [`arch::timing::is_block_period`] slots apart (zero slots pad them),
//! so at most one line enters the write-back pipeline per cycle.

use super::{Core, CoreAccess, PeArray};
use crate::machine::Machine;
use arch::timing::{is_block_period_of, EDGE_LATENCY};
use std::collections::VecDeque;

/// The IS PE registers and row collectors.
pub struct IsArray {
    /// Stationary activations `A[i][j]`.
    a_stat: Vec<i8>,
    /// Input lines in flight to column 0 (arrival cycle, values).
    a_arrivals: VecDeque<(u64, Vec<i8>)>,
    /// Weights flowing down, tagged with their stream slot.
    b_val: Vec<i8>,
    b_tag: Vec<i64>,
    /// Partial sums flowing right, tagged with their stream slot.
    psum: Vec<i32>,
    psum_tag: Vec<i64>,
    /// The weight vector of each stream slot so far (zero vectors for slots without a
    /// read).
    b_lines: Vec<Vec<i8>>,
    /// One line buffer of `cols` lanes per array row.
    collectors: Vec<Vec<i32>>,
    /// Stream slots between the first vectors of two output blocks.
    period: u64,
}

impl IsArray {
    pub fn new(rows: usize, cols: usize) -> Self {
        let n = rows * cols;
        IsArray {
            a_stat: vec![0; n],
            a_arrivals: VecDeque::new(),
            b_val: vec![0; n],
            b_tag: vec![-1; n],
            psum: vec![0; n],
            psum_tag: vec![-1; n],
            b_lines: Vec::new(),
            collectors: vec![vec![0; cols]; rows],
            period: is_block_period_of(rows as u64, cols as u64),
        }
    }
}

/// Output blocks of a tile of `n` columns on `cols` columns.
fn blocks(n: u64, cols: u64) -> u64 {
    n.max(1).div_ceil(cols)
}

impl PeArray for IsArray {
    fn lines(&self, core: &Core) -> u64 {
        // Every array row's collector completes one line per block; rows >= m are not
        // written but take their place in the pipeline.
        blocks(core.cmd.n as u64, core.cols as u64) * core.rows as u64
    }

    fn step(&mut self, core: &mut Core, m: &Machine, acc_: &mut CoreAccess) {
        let (rows, cols, t) = (core.rows, core.cols, core.t);
        let (mm, k, n) = (core.cmd.m as usize, core.cmd.k as usize, core.cmd.n as u64);
        let cols64 = cols as u64;
        let period = self.period;
        let slots = (blocks(n, cols64) - 1) * period + cols64;
        // Slot `s` -> (output block, lane): lane >= cols is a padding slot.
        let split = |s: u64| (s / period, s % period);
        // 1. Scratchpad reads: preload, then the weight stream.
        if t < cols64 {
            let idx = cols - 1 - t as usize;
            let line = if idx < k {
                core.read_input(m, core.cmd.a_line as usize + idx, acc_)
            } else {
                vec![0; rows]
            };
            self.a_arrivals.push_back((t + EDGE_LATENCY, line));
        } else if t - cols64 < slots {
            let s = t - cols64;
            let (nb, l) = split(s);
            let c = nb * cols64 + l;
            let vec = if l < cols64 && c < n {
                core.read_weight(m, core.cmd.b_line as usize + c as usize, acc_)
            } else {
                vec![0; cols]
            };
            self.b_lines.push(vec);
        }
        // 2. Preload: the arriving line enters column 0, every column shifts right.
        if self.a_arrivals.front().is_some_and(|(at, _)| *at == t) {
            let (_, line) = self.a_arrivals.pop_front().expect("checked");
            for (row, &a) in self.a_stat.chunks_exact_mut(cols).zip(&line) {
                row.copy_within(0..cols - 1, 1);
                row[0] = a;
            }
        }
        // 3. Weights move down; element j of slot s enters column j in cycle
        //    cols + s + EDGE_LATENCY + j.
        for i in (1..rows).rev() {
            for j in 0..cols {
                self.b_val[i * cols + j] = self.b_val[(i - 1) * cols + j];
                self.b_tag[i * cols + j] = self.b_tag[(i - 1) * cols + j];
            }
        }
        for j in 0..cols {
            let s = t as i64 - cols as i64 - EDGE_LATENCY as i64 - j as i64;
            let (val, tag) = if s >= 0 && (s as u64) < slots {
                (self.b_lines[s as usize][j], s)
            } else {
                (0, -1)
            };
            self.b_val[j] = val;
            self.b_tag[j] = tag;
        }
        // 4. Multiply-accumulate; partial sums move one PE right per cycle (in place,
        //    rightmost column first, so PE(i, j-1) still holds last cycle's sum).
        for i in 0..rows {
            for j in (0..cols).rev() {
                let p = i * cols + j;
                let tag = self.b_tag[p];
                if tag < 0 {
                    self.psum_tag[p] = -1;
                    continue;
                }
                let left = if j > 0 {
                    debug_assert_eq!(self.psum_tag[p - 1], tag, "psum skew at PE({i},{j})");
                    self.psum[p - 1]
                } else {
                    0
                };
                self.psum[p] = left.wrapping_add(self.a_stat[p] as i32 * self.b_val[p] as i32);
                self.psum_tag[p] = tag;
                let (nb, l) = split(tag as u64);
                if i < mm && j < k && l < cols64 && nb * cols64 + l < n {
                    core.counts.macs += 1;
                }
            }
        }
        // 5. Right edge -> row collectors; a block's last lane completes the line.
        for i in 0..rows {
            let p = i * cols + cols - 1;
            let tag = self.psum_tag[p];
            if tag < 0 {
                continue;
            }
            debug_assert_eq!(t, 2 * cols64 + tag as u64 + i as u64, "row {i} edge timing");
            let (nb, l) = split(tag as u64);
            if l >= cols64 {
                continue;
            }
            self.collectors[i][l as usize] = self.psum[p];
            if l + 1 == cols64 {
                let vals = std::mem::replace(&mut self.collectors[i], vec![0; cols]);
                let line = (i < mm).then(|| core.cmd.c_line as usize + nb as usize * mm + i);
                core.write_line(t, line, vals);
            }
        }
    }
}
