//! The output-stationary array (`C = A[rows x K] * B[K x cols]`, one tile at a time).
//!
//! - cycles `0..K`: `in_valid = 1`, `a_in[i] = A[i][k]`, `b_in[j] = B[k][j]`, `in_last = 1`
//!   with the last pair. Row `i` of `a` is delayed `i` cycles, column `j` of `b` `j`
//!   cycles; PE(i,j) does MAC `k` in cycle `k + i + j`;
//! - the last MAC (PE(rows-1, cols-1)) is in cycle `K-1 + (rows-1) + (cols-1)`;
//! - the next `rows` cycles drain: the accumulators of each column shift down one row per
//!   cycle (zeros enter at the top, which clears the array); `out_valid = 1` and `out_acc`
//!   is the bottom row: `C[rows-1-d][*]` in drain cycle `d` (bottom row first);
//!   `out_last` marks `d = rows-1`;
//! - the next tile may start the cycle after `out_last`.
//!
//!   Core cycles `K + (rows-1) + (cols-1) + rows` (`arch::timing::os_tile_cycles` minus
//!   `EDGE_LATENCY + ACC_PIPE_DEPTH`).

use super::{
    col_skew_verilog, row_skew_verilog, s32z, tri, ArrayRtl, Core, Part, ShapeDraw, TileFeed,
};
use crate::cases::Tile;
use arch::AccelConfig;
use rust_hdl::prelude::*;
use std::fmt::Write;

/// The output-stationary array.
pub struct Os;

#[allow(clippy::needless_range_loop)] // row/column indices address several Vecs at once
impl ArrayRtl for Os {
    fn parts(&self, r: usize, c: usize) -> Vec<(Part, usize)> {
        vec![
            (Part::OsPes, r * c),
            (Part::ASkew, tri(r)),
            (Part::BSkew, tri(c)),
            (Part::FlagDl, r + c - 2),
            (Part::Counter, 1),
        ]
    }

    fn update(&self, core: &mut Core) {
        let (r, c) = (core.a_in.len(), core.b_in.len());
        let row_edge = core.row_skew();
        let col_edge = core.col_skew();
        // Control: the last pair reaches PE(r-1, c-1) r+c-2 cycles later.
        let mut go = core.in_valid.val() && core.in_last.val();
        for reg in core.flag_dl.iter_mut() {
            reg.d.next = go;
            go = reg.q.val();
        }
        let cnt = core.drain_cnt[0].q.val();
        let drain = cnt != Bits::<16>::default();
        core.drain_cnt[0].d.next = if go {
            (r as u64).into()
        } else if drain {
            cnt - Bits::<16>::from(1u64)
        } else {
            cnt
        };
        core.out_valid.next = drain;
        core.out_last.next = cnt == Bits::<16>::from(1u64);
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                let a = if j == 0 {
                    row_edge[i]
                } else {
                    core.os_pes[k - 1].a_out.val()
                };
                let (b, acc) = if i == 0 {
                    (col_edge[j], s32z())
                } else {
                    (
                        core.os_pes[k - c].b_out.val(),
                        core.os_pes[k - c].acc_out.val(),
                    )
                };
                let pe = &mut core.os_pes[k];
                pe.a_in.next = a;
                pe.b_in.next = b;
                pe.acc_in.next = acc;
                pe.drain.next = drain;
            }
        }
        for j in 0..c {
            core.out_acc[j].next = core.os_pes[(r - 1) * c + j].acc_out.val();
        }
    }

    fn connect(&self, core: &mut Core) {
        for pe in core.os_pes.iter_mut() {
            pe.a_in.connect();
            pe.b_in.connect();
            pe.acc_in.connect();
            pe.drain.connect();
        }
    }

    fn declare(&self, r: usize, c: usize, w: &mut String) {
        for i in 0..r {
            let _ = writeln!(w, "reg signed [7:0] row_edge_{i};");
        }
        for j in 0..c {
            let _ = writeln!(w, "reg signed [7:0] col_edge_{j};");
        }
        let _ = writeln!(w, "reg drain_go;");
        let _ = writeln!(w, "reg drain;");
    }

    fn wire(&self, r: usize, c: usize, w: &mut String) {
        row_skew_verilog(r, w);
        col_skew_verilog(c, w);
        let mut src = "(in_valid & in_last)".to_string();
        for n in 0..(r + c - 2) {
            let _ = writeln!(w, "    flag_dl${n}$d = {src};");
            src = format!("flag_dl${n}$q");
        }
        let _ = writeln!(w, "    drain_go = {src};");
        let _ = writeln!(w, "    drain = drain_cnt$0$q != 16'd0;");
        let _ = writeln!(
            w,
            "    drain_cnt$0$d = drain_go ? 16'd{r} : (drain ? drain_cnt$0$q - 16'd1 : drain_cnt$0$q);"
        );
        let _ = writeln!(w, "    out_valid = drain;");
        let _ = writeln!(w, "    out_last = drain_cnt$0$q == 16'd1;");
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                let a = if j == 0 {
                    format!("row_edge_{i}")
                } else {
                    format!("os_pes${}$a_out", k - 1)
                };
                let (b, acc) = if i == 0 {
                    (format!("col_edge_{j}"), "32'sh0".to_string())
                } else {
                    (
                        format!("os_pes${}$b_out", k - c),
                        format!("os_pes${}$acc_out", k - c),
                    )
                };
                let _ = writeln!(w, "    os_pes${k}$a_in = {a};");
                let _ = writeln!(w, "    os_pes${k}$b_in = {b};");
                let _ = writeln!(w, "    os_pes${k}$acc_in = {acc};");
                let _ = writeln!(w, "    os_pes${k}$drain = drain;");
            }
        }
        for j in 0..c {
            let _ = writeln!(w, "    out_acc${j} = os_pes${}$acc_out;", (r - 1) * c + j);
        }
    }

    fn mode_params(&self) -> (u8, u8) {
        (1, 0)
    }

    /// `k` vectors: vector `x` has `A[i][x]` in lane `i` and `B[x][j]` in lane `j`.
    fn feed(&self, cfg: &AccelConfig, t: &Tile) -> TileFeed {
        let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
        let a = (0..t.k)
            .map(|x| {
                (0..rows)
                    .map(|i| if i < t.m { t.a[i * t.k + x] } else { 0 })
                    .collect()
            })
            .collect();
        let b = (0..t.k)
            .map(|x| {
                (0..cols)
                    .map(|j| if j < t.n { t.b[x * t.n + j] } else { 0 })
                    .collect()
            })
            .collect();
        TileFeed { stream: t.k, a, b }
    }

    /// Every row of the array, the bottom one first.
    fn output_lines(&self, rows: usize, _cols: usize, _m: usize, _n: usize) -> Vec<(usize, usize)> {
        (0..rows).rev().map(|i| (i, 0)).collect()
    }

    /// The input scratchpad holds the `k` lines of A.
    fn max_stream(&self, cfg: &AccelConfig) -> usize {
        (cfg.input_sram_bytes() / cfg.rows as u64) as usize
    }

    /// `m` then `n` bounded by `rows` and `cols`; `k` streamed.
    fn test_shape(
        &self,
        rows: usize,
        cols: usize,
        draw: &mut ShapeDraw<'_>,
    ) -> (usize, usize, usize) {
        let m = (draw.extent)(rows);
        let n = (draw.extent)(cols);
        (m, draw.stream, n)
    }
}
