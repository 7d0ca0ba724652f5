//! One module per dataflow behind one trait, [`DataflowRules`] (as SCALE-Sim keeps one
//! compute model per dataflow): everything that differs between output-stationary
//! ([`os`]), weight-stationary ([`ws`]) and input-stationary ([`is`]) is answered here,
//! and the rest of `arch`, `driver` and `sim` asks [`Dataflow::rules`] instead of
//! matching on the enum:
//!
//! - the `COMPUTE` shape limits and which scratchpad lines a `COMPUTE` reads;
//! - the operand layouts (which line and lane hold `A[i][x]`, `B[x][j]`);
//! - the core tile timing ([`crate::timing`] holds the formulas) and feed cycles;
//! - the driver's tiling: granularity, footprints, the largest reduction chunk that fits,
//!   the transposes of the A and B loads, the core tiles of one reduction step, and the
//!   core-time term of the ranking estimate;
//! - the scratchpad bytes one `COMPUTE` reads and writes.

pub mod is;
pub mod os;
pub mod ws;

use crate::config::{AccelConfig, Dataflow};
use crate::isa::Compute;
use crate::schedule::{Capacity, Tiling};

/// A `COMPUTE` shape the array cannot execute: the field, its value and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeViolation {
    pub field: &'static str,
    pub value: u64,
    pub reason: String,
}

/// Scratchpad bytes one `COMPUTE` reads and writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ComputeBytes {
    pub input_read: u64,
    pub weight_read: u64,
    pub acc_read: u64,
    pub acc_write: u64,
}

/// One reduction step's operand tiles as the core sees them: extents and the scratchpad
/// lines where the step's A, B and C tiles start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepTiles {
    pub tm: u64,
    pub tk: u64,
    pub tn: u64,
    pub a_base: u64,
    pub b_base: u64,
    pub c_base: u64,
    /// First reduction chunk of the output tile (the first core tile of each output
    /// block overwrites the accumulators instead of adding).
    pub first_k: bool,
}

/// Everything that differs between dataflows.
pub trait DataflowRules: Sync {
    /// The dataflow these rules describe.
    fn dataflow(&self) -> Dataflow;

    /// Checks the `m x k x n` of a `COMPUTE` against the array, beyond the rules common to
    /// every dataflow (`m, k, n >= 1`, `n <= 256`).
    fn check_shape(
        &self,
        rows: u64,
        cols: u64,
        m: u64,
        k: u64,
        n: u64,
    ) -> Result<(), ShapeViolation>;

    /// Lines a `COMPUTE` reads: `(input lines from a_line, weight lines from b_line)`.
    fn operand_lines(&self, m: u64, k: u64, n: u64) -> (u64, u64);

    /// `(line offset from a_line, lane)` of `A[i][x]` in the input scratchpad.
    fn a_pos(&self, i: u64, x: u64) -> (u64, u64);

    /// `(line offset from b_line, lane)` of `B[x][j]` in the weight scratchpad.
    fn b_pos(&self, x: u64, j: u64) -> (u64, u64);

    /// Cycles of one `COMPUTE` (see [`crate::timing`]).
    fn tile_cycles(&self, cfg: &AccelConfig, m: u64, k: u64, n: u64) -> u64;

    /// Cycles of the useful-MAC (feed) phase of one `COMPUTE`.
    fn feed_cycles(&self, cfg: &AccelConfig, m: u64, k: u64, n: u64) -> u64;

    /// Scratchpad lines of the A, B and C tiles of an outer tile `tm x tk x tn`.
    fn footprint(&self, cfg: &AccelConfig, tm: u64, tk: u64, tn: u64) -> (u64, u64, u64);

    /// Candidate outer-tile heights `tm` for `m` rows.
    fn tm_candidates(&self, cfg: &AccelConfig, m: u64) -> Vec<u64>;

    /// Granularity of the reduction chunk `tk` (it is a multiple of this, or `k`).
    fn k_granularity(&self, cfg: &AccelConfig) -> u64;

    /// Granularity of `tm` (the smallest tile height tried; for error messages).
    fn m_granularity(&self, cfg: &AccelConfig) -> u64;

    /// Largest `tk` (a multiple of [`DataflowRules::k_granularity`]) whose A and B tiles
    /// fit the input and weight halves for this `tm` and `tn`.
    fn tk_max(&self, cfg: &AccelConfig, cap: &Capacity, tm: u64, tn: u64) -> u64;

    /// Core-time term of the ranking estimate of a tiling (`schedule::estimate`).
    fn estimate_core(&self, cfg: &AccelConfig, t: &Tiling) -> u64;

    /// Whether the A (input scratchpad) and B (weight scratchpad) `LOAD`s transpose.
    fn load_transposes(&self) -> (bool, bool);

    /// The core tiles (`COMPUTE`s without dependency flags) of one reduction step, in
    /// issue order.
    fn core_tiles(&self, cfg: &AccelConfig, s: &StepTiles) -> Vec<Compute>;

    /// Scratchpad bytes of one `COMPUTE`.
    fn compute_bytes(&self, cfg: &AccelConfig, c: &Compute) -> ComputeBytes {
        let (a, b) = self.operand_lines(c.m as u64, c.k as u64, c.n as u64);
        let cols = cfg.cols as u64;
        let acc = acc_lines(cfg, c.m as u64, c.n as u64) * 4 * cols;
        ComputeBytes {
            input_read: a * cfg.rows as u64,
            weight_read: b * cols,
            acc_read: if c.accumulate { acc } else { 0 },
            acc_write: acc,
        }
    }
}

/// Accumulator lines a `COMPUTE` of `m x n` writes: one per output row and block of
/// `cols` columns (output blocks are `m` lines apart). The same for every dataflow (OS
/// and WS have `n <= cols`, one block).
pub fn acc_lines(cfg: &AccelConfig, m: u64, n: u64) -> u64 {
    n.div_ceil(cfg.cols as u64) * m
}

/// `(line offset from c_line, lane)` of output `C[i][j]` of a `COMPUTE` of height `m`.
pub fn c_pos(cfg: &AccelConfig, m: u64, i: u64, j: u64) -> (u64, u64) {
    let cols = cfg.cols as u64;
    ((j / cols) * m + i, j % cols)
}

impl Dataflow {
    /// Every dataflow.
    pub const ALL: [Dataflow; 3] = [
        Dataflow::OutputStationary,
        Dataflow::WeightStationary,
        Dataflow::InputStationary,
    ];

    /// The rules of this dataflow.
    pub fn rules(self) -> &'static dyn DataflowRules {
        match self {
            Dataflow::OutputStationary => &os::OutputStationary,
            Dataflow::WeightStationary => &ws::WeightStationary,
            Dataflow::InputStationary => &is::InputStationary,
        }
    }
}

/// Tile extents tried for a dimension `d` with granularity `gran` (the tile is a multiple
/// of `gran`, or all of `d`), at most `max`: `d` split in 1, 2, 3, ... 256 chunks.
pub fn candidates(d: u64, gran: u64, max: u64) -> Vec<u64> {
    let mut v = Vec::with_capacity(24);
    for t in [1u64, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 48, 64, 128, 256] {
        let x = d.div_ceil(t).div_ceil(gran) * gran;
        let x = x.min(d).min(max);
        if x >= 1 && !v.contains(&x) {
            v.push(x);
        }
    }
    let g = gran.min(d).min(max);
    if g >= 1 && !v.contains(&g) {
        v.push(g);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_name_their_dataflow() {
        for df in Dataflow::ALL {
            assert_eq!(df.rules().dataflow(), df);
        }
    }

    #[test]
    fn positions_are_within_the_operand_lines() {
        for df in Dataflow::ALL {
            let r = df.rules();
            let (m, k, n) = (3, 4, 5);
            let (al, bl) = r.operand_lines(m, k, n);
            for i in 0..m {
                for x in 0..k {
                    assert!(r.a_pos(i, x).0 < al, "{df}");
                }
            }
            for x in 0..k {
                for j in 0..n {
                    assert!(r.b_pos(x, j).0 < bl, "{df}");
                }
            }
        }
    }
}
