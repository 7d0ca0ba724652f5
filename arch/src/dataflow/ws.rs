//! Weight-stationary: each PE holds one weight (preloaded row by row); activations flow
//! right, partial sums flow down and leave de-skewed, one output vector per input vector
//! (`docs/architecture.md` 3.2).
//!
//! Operands: input line `a_line + i`, lane `x` = `A[i][x]`; weight line `b_line + x`,
//! lane `j` = `B[x][j]`. Driver tiling: any `tm`, `tk` a multiple of `rows`; A tile
//! `ceil(tk/R) * tm` lines, B tile `ceil(tn/C) * tk`.

use super::{candidates, DataflowRules, ShapeViolation, StepTiles};
use crate::config::{AccelConfig, Dataflow};
use crate::isa::Compute;
use crate::schedule::{Capacity, Tiling, MAX_FIELD};
use crate::timing;

/// The weight-stationary rules.
pub struct WeightStationary;

impl DataflowRules for WeightStationary {
    fn dataflow(&self) -> Dataflow {
        Dataflow::WeightStationary
    }

    fn check_shape(
        &self,
        rows: u64,
        cols: u64,
        _m: u64,
        k: u64,
        n: u64,
    ) -> Result<(), ShapeViolation> {
        if n > cols {
            return Err(ShapeViolation {
                field: "n",
                value: n,
                reason: format!("larger than cols = {cols}"),
            });
        }
        if k > rows {
            return Err(ShapeViolation {
                field: "k",
                value: k,
                reason: format!("weight-stationary: larger than rows = {rows}"),
            });
        }
        Ok(())
    }

    fn operand_lines(&self, m: u64, k: u64, _n: u64) -> (u64, u64) {
        (m, k)
    }

    fn a_pos(&self, i: u64, x: u64) -> (u64, u64) {
        (i, x)
    }

    fn b_pos(&self, x: u64, j: u64) -> (u64, u64) {
        (x, j)
    }

    fn tile_cycles(&self, cfg: &AccelConfig, m: u64, _k: u64, _n: u64) -> u64 {
        timing::ws_tile_cycles(cfg, m)
    }

    fn feed_cycles(&self, _cfg: &AccelConfig, m: u64, _k: u64, _n: u64) -> u64 {
        m.max(1)
    }

    fn footprint(&self, cfg: &AccelConfig, tm: u64, tk: u64, tn: u64) -> (u64, u64, u64) {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        (
            tk.div_ceil(r) * tm,
            tn.div_ceil(c) * tk,
            tn.div_ceil(c) * tm,
        )
    }

    fn tm_candidates(&self, _cfg: &AccelConfig, m: u64) -> Vec<u64> {
        candidates(m, 1, MAX_FIELD)
    }

    fn k_granularity(&self, cfg: &AccelConfig) -> u64 {
        cfg.rows as u64
    }

    fn m_granularity(&self, _cfg: &AccelConfig) -> u64 {
        1
    }

    fn tk_max(&self, cfg: &AccelConfig, cap: &Capacity, tm: u64, tn: u64) -> u64 {
        let r = cfg.rows as u64;
        let nb = tn.div_ceil(cfg.cols as u64);
        let by_input = cap.input_half_lines / tm * r;
        (by_input.min(cap.weight_half_lines / nb) / r) * r
    }

    fn estimate_core(&self, cfg: &AccelConfig, t: &Tiling) -> u64 {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        let blocks = t.k.div_ceil(r) * t.n.div_ceil(c);
        t.n_i() * blocks * timing::ws_tile_cycles(cfg, t.tm)
    }

    fn load_transposes(&self) -> (bool, bool) {
        (false, false)
    }

    fn core_tiles(&self, cfg: &AccelConfig, s: &StepTiles) -> Vec<Compute> {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        let mut out = Vec::new();
        for nb in 0..s.tn.div_ceil(c) {
            for kb in 0..s.tk.div_ceil(r) {
                out.push(Compute {
                    accumulate: !s.first_k || kb > 0,
                    a_line: (s.a_base + kb * s.tm) as u32,
                    b_line: (s.b_base + nb * s.tk + kb * r) as u32,
                    c_line: (s.c_base + nb * s.tm) as u32,
                    m: s.tm as u16,
                    k: r.min(s.tk - kb * r) as u16,
                    n: c.min(s.tn - nb * c) as u16,
                });
            }
        }
        out
    }
}
