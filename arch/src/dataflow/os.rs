//! Output-stationary: each PE owns one output element; activations flow right, weights
//! flow down, the int32 sum stays in the PE for the whole reduction and is drained row by
//! row (`docs/architecture.md` 3.1).
//!
//! Operands: input line `a_line + x`, lane `i` = `A[i][x]` (A stored transposed); weight
//! line `b_line + x`, lane `j` = `B[x][j]`. Driver tiling: `tm` a multiple of `rows`, any
//! `tk`; A tile `ceil(tm/R) * tk` lines, B tile `ceil(tn/C) * tk`.

use super::{candidates, DataflowRules, ShapeViolation, StepTiles};
use crate::config::{AccelConfig, Dataflow};
use crate::isa::Compute;
use crate::schedule::{Capacity, Tiling, MAX_FIELD};
use crate::timing;

/// The output-stationary rules.
pub struct OutputStationary;

impl DataflowRules for OutputStationary {
    fn dataflow(&self) -> Dataflow {
        Dataflow::OutputStationary
    }

    fn check_shape(
        &self,
        rows: u64,
        cols: u64,
        m: u64,
        _k: u64,
        n: u64,
    ) -> Result<(), ShapeViolation> {
        if n > cols {
            return Err(ShapeViolation {
                field: "n",
                value: n,
                reason: format!("larger than cols = {cols}"),
            });
        }
        if m > rows {
            return Err(ShapeViolation {
                field: "m",
                value: m,
                reason: format!("output-stationary: larger than rows = {rows}"),
            });
        }
        Ok(())
    }

    fn operand_lines(&self, _m: u64, k: u64, _n: u64) -> (u64, u64) {
        (k, k)
    }

    fn a_pos(&self, i: u64, x: u64) -> (u64, u64) {
        (x, i)
    }

    fn b_pos(&self, x: u64, j: u64) -> (u64, u64) {
        (x, j)
    }

    fn tile_cycles(&self, cfg: &AccelConfig, _m: u64, k: u64, _n: u64) -> u64 {
        timing::os_tile_cycles(cfg, k)
    }

    fn feed_cycles(&self, _cfg: &AccelConfig, _m: u64, k: u64, _n: u64) -> u64 {
        k.max(1)
    }

    fn footprint(&self, cfg: &AccelConfig, tm: u64, tk: u64, tn: u64) -> (u64, u64, u64) {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        (
            tm.div_ceil(r) * tk,
            tn.div_ceil(c) * tk,
            tn.div_ceil(c) * tm,
        )
    }

    fn tm_candidates(&self, cfg: &AccelConfig, m: u64) -> Vec<u64> {
        candidates(m, cfg.rows as u64, MAX_FIELD)
    }

    fn k_granularity(&self, _cfg: &AccelConfig) -> u64 {
        1
    }

    fn m_granularity(&self, cfg: &AccelConfig) -> u64 {
        cfg.rows as u64
    }

    fn tk_max(&self, cfg: &AccelConfig, cap: &Capacity, tm: u64, tn: u64) -> u64 {
        let nb = tn.div_ceil(cfg.cols as u64);
        (cap.input_half_lines / tm.div_ceil(cfg.rows as u64)).min(cap.weight_half_lines / nb)
    }

    fn estimate_core(&self, cfg: &AccelConfig, t: &Tiling) -> u64 {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        let blocks_per_step = t.tm.div_ceil(r) * t.tn.div_ceil(c);
        t.n_i() * t.n_j() * t.n_k() * blocks_per_step * timing::os_tile_cycles(cfg, t.tk)
    }

    fn load_transposes(&self) -> (bool, bool) {
        (true, false)
    }

    fn core_tiles(&self, cfg: &AccelConfig, s: &StepTiles) -> Vec<Compute> {
        let (r, c) = (cfg.rows as u64, cfg.cols as u64);
        let mut out = Vec::new();
        for nb in 0..s.tn.div_ceil(c) {
            for mb in 0..s.tm.div_ceil(r) {
                out.push(Compute {
                    accumulate: !s.first_k,
                    a_line: (s.a_base + mb * s.tk) as u32,
                    b_line: (s.b_base + nb * s.tk) as u32,
                    c_line: (s.c_base + nb * s.tm + mb * r) as u32,
                    m: r.min(s.tm - mb * r) as u16,
                    k: s.tk as u16,
                    n: c.min(s.tn - nb * c) as u16,
                });
            }
        }
        out
    }
}
