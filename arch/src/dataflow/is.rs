//! Input-stationary (SCALE-Sim's third dataflow): each PE holds one activation (preloaded
//! column by column), weights stream down the columns, partial sums flow right into one
//! line collector per array row (`docs/architecture.md` 3.3).
//!
//! Operands: input line `a_line + x`, lane `i` = `A[i][x]` (A stored transposed, as OS);
//! weight line `b_line + j`, lane `x` = `B[x][j]` (B stored transposed). A `COMPUTE` has
//! `m <= rows`, `k <= cols` and up to 256 columns `n`, written as `ceil(n/cols)` blocks of
//! `m` accumulator lines. Driver tiling: `tm = min(m, rows)`, `tk` and `tn` multiples of
//! `cols`; A tile `tk` lines, B tile `ceil(tk/C) * tn`; a step issues, per block of
//! `cols` reduction values, one `COMPUTE` per chunk of `(256 / cols) * cols` columns.

use super::{DataflowRules, ShapeViolation, StepTiles};
use crate::config::{AccelConfig, Dataflow};
use crate::isa::{Compute, MAX_COMPUTE_N};
use crate::schedule::{Capacity, Tiling};
use crate::timing;

/// The input-stationary rules.
pub struct InputStationary;

/// Columns of one IS `COMPUTE` in the driver's steps: the most whole blocks of `cols`
/// that fit the 256-column field.
pub fn n_chunk(cfg: &AccelConfig) -> u64 {
    let c = cfg.cols as u64;
    (MAX_COMPUTE_N / c).max(1) * c
}

impl DataflowRules for InputStationary {
    fn dataflow(&self) -> Dataflow {
        Dataflow::InputStationary
    }

    fn check_shape(
        &self,
        rows: u64,
        cols: u64,
        m: u64,
        k: u64,
        _n: u64,
    ) -> Result<(), ShapeViolation> {
        if m > rows {
            return Err(ShapeViolation {
                field: "m",
                value: m,
                reason: format!("input-stationary: larger than rows = {rows}"),
            });
        }
        if k > cols {
            return Err(ShapeViolation {
                field: "k",
                value: k,
                reason: format!("input-stationary: larger than cols = {cols}"),
            });
        }
        Ok(())
    }

    fn operand_lines(&self, _m: u64, k: u64, n: u64) -> (u64, u64) {
        (k, n)
    }

    fn a_pos(&self, i: u64, x: u64) -> (u64, u64) {
        (x, i)
    }

    fn b_pos(&self, x: u64, j: u64) -> (u64, u64) {
        (j, x)
    }

    fn tile_cycles(&self, cfg: &AccelConfig, _m: u64, _k: u64, n: u64) -> u64 {
        timing::is_tile_cycles(cfg, n)
    }

    fn feed_cycles(&self, cfg: &AccelConfig, _m: u64, _k: u64, n: u64) -> u64 {
        timing::is_stream_slots(cfg, n)
    }

    fn footprint(&self, cfg: &AccelConfig, tm: u64, tk: u64, tn: u64) -> (u64, u64, u64) {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        (
            tm.div_ceil(r) * tk,
            tk.div_ceil(c) * tn,
            tn.div_ceil(c) * tm,
        )
    }

    fn tm_candidates(&self, cfg: &AccelConfig, m: u64) -> Vec<u64> {
        // The accumulator block stride of a COMPUTE is its `m`, which must equal the
        // STORE's `nrows`: one array-height tile.
        vec![m.min(cfg.rows as u64)]
    }

    fn k_granularity(&self, cfg: &AccelConfig) -> u64 {
        cfg.cols as u64
    }

    fn m_granularity(&self, cfg: &AccelConfig) -> u64 {
        cfg.rows as u64
    }

    fn tk_max(&self, cfg: &AccelConfig, cap: &Capacity, tm: u64, tn: u64) -> u64 {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        let by_input = cap.input_half_lines / tm.div_ceil(r);
        let by_weight = cap.weight_half_lines / tn * c;
        (by_input.min(by_weight) / c) * c
    }

    fn estimate_core(&self, cfg: &AccelConfig, t: &Tiling) -> u64 {
        let c = cfg.cols as u64;
        let chunk = n_chunk(cfg);
        let per_kb = (t.tn / chunk) * timing::is_tile_cycles(cfg, chunk)
            + if !t.tn.is_multiple_of(chunk) {
                timing::is_tile_cycles(cfg, t.tn % chunk)
            } else {
                0
            };
        t.n_i() * t.n_j() * t.n_k() * t.tk.div_ceil(c) * per_kb
    }

    fn load_transposes(&self) -> (bool, bool) {
        (true, true)
    }

    fn core_tiles(&self, cfg: &AccelConfig, s: &StepTiles) -> Vec<Compute> {
        let c = cfg.cols as u64;
        let chunk = n_chunk(cfg);
        let mut out = Vec::new();
        for kb in 0..s.tk.div_ceil(c) {
            for q in 0..s.tn.div_ceil(chunk) {
                out.push(Compute {
                    accumulate: !s.first_k || kb > 0,
                    a_line: (s.a_base + kb * c) as u32,
                    b_line: (s.b_base + kb * s.tn + q * chunk) as u32,
                    c_line: (s.c_base + (q * chunk / c) * s.tm) as u32,
                    m: s.tm as u16,
                    k: c.min(s.tk - kb * c) as u16,
                    n: chunk.min(s.tn - q * chunk) as u16,
                });
            }
        }
        out
    }
}
