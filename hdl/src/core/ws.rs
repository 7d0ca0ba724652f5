//! The weight-stationary array (`C = A[M x Kt] * W[Kt x Nt]`, `Kt <= rows`, `Nt <= cols`).
//!
//! - cycles `0..rows`: `w_load = 1`, `b_in[j] = W[rows-1-p][j]` in preload cycle `p`
//!   (weights shift down; zero rows for `p < rows - Kt`);
//! - cycles `rows..rows+M`: `in_valid = 1`, `a_in[i] = A[m][i]` (zero for `i >= Kt`),
//!   `in_last` with the last vector. Row `i` is delayed `i` cycles; PE(i,j) adds its
//!   product for vector `m` in cycle `rows + m + i + j`, partial sums flow down the
//!   columns (registered in each PE). Column `j < cols-1` leaves through the bottom PE's
//!   register and `cols-2-j` de-skew registers; the last column leaves straight from the
//!   bottom-right PE's adder (its register is the first stage of the accumulator
//!   write-back pipeline outside the core, `arch::timing::ACC_PIPE_DEPTH`). So
//!   `out_acc = C[m][*]` with `out_valid` in cycle `rows + m + (rows-1) + (cols-1)`,
//!   the cycle PE(rows-1, cols-1) computes it.
//!
//!   Core cycles `rows + M + (rows-1) + (cols-1)` (`arch::timing::ws_tile_cycles` minus
//!   `EDGE_LATENCY + ACC_PIPE_DEPTH`).

use super::{row_skew_verilog, s32z, tri, ArrayRtl, Core, Part, ShapeDraw, TileFeed};
use crate::cases::Tile;
use arch::AccelConfig;
use rust_hdl::prelude::*;
use std::fmt::Write;

/// The weight-stationary array.
pub struct Ws;

/// Offset of column `j`'s de-skew chain: column `j < cols-1` has `cols-2-j` registers
/// after the bottom PE's partial-sum register; the last column takes the bottom-right PE's
/// sum before its register.
fn deskew_off(cols: usize, j: usize) -> usize {
    (0..j).map(|jj| cols - 2 - jj).sum()
}

/// Registers of column `j`'s de-skew chain (see [`deskew_off`]).
fn deskew_len(cols: usize, j: usize) -> usize {
    (cols - 1 - j).saturating_sub(1)
}

#[allow(clippy::needless_range_loop)] // row/column indices address several Vecs at once
impl ArrayRtl for Ws {
    fn parts(&self, r: usize, c: usize) -> Vec<(Part, usize)> {
        vec![
            (Part::WsPes, r * c),
            (Part::ASkew, tri(r)),
            (Part::Deskew, tri(c - 1)),
            (Part::FlagDl, r + c - 2),
            (Part::LastDl, r + c - 2),
        ]
    }

    fn update(&self, core: &mut Core) {
        let (r, c) = (core.a_in.len(), core.b_in.len());
        let row_edge = core.row_skew();
        let valid = core.in_valid.val();
        let w_load = core.w_load.val();
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                let a = if j == 0 {
                    row_edge[i]
                } else {
                    core.ws_pes[k - 1].a_out.val()
                };
                let (w, psum) = if i == 0 {
                    (core.b_in[j].val(), s32z())
                } else {
                    (
                        core.ws_pes[k - c].w_out.val(),
                        core.ws_pes[k - c].psum_out.val(),
                    )
                };
                let pe = &mut core.ws_pes[k];
                pe.a_in.next = a;
                pe.w_in.next = w;
                pe.psum_in.next = psum;
                pe.w_load.next = w_load;
            }
        }
        for j in 0..c {
            let bottom = &core.ws_pes[(r - 1) * c + j];
            let mut v = if j == c - 1 {
                bottom.psum_sum.val()
            } else {
                bottom.psum_out.val()
            };
            for t in 0..deskew_len(c, j) {
                let reg = &mut core.deskew[deskew_off(c, j) + t];
                reg.d.next = v;
                v = reg.q.val();
            }
            core.out_acc[j].next = v;
        }
        let mut v = valid;
        for reg in core.flag_dl.iter_mut() {
            reg.d.next = v;
            v = reg.q.val();
        }
        core.out_valid.next = v;
        let mut l = valid && core.in_last.val();
        for reg in core.last_dl.iter_mut() {
            reg.d.next = l;
            l = reg.q.val();
        }
        core.out_last.next = l;
    }

    fn connect(&self, core: &mut Core) {
        for pe in core.ws_pes.iter_mut() {
            pe.a_in.connect();
            pe.w_in.connect();
            pe.psum_in.connect();
            pe.w_load.connect();
        }
    }

    fn declare(&self, r: usize, _c: usize, w: &mut String) {
        for i in 0..r {
            let _ = writeln!(w, "reg signed [7:0] row_edge_{i};");
        }
    }

    fn wire(&self, r: usize, c: usize, w: &mut String) {
        row_skew_verilog(r, w);
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                let a = if j == 0 {
                    format!("row_edge_{i}")
                } else {
                    format!("ws_pes${}$a_out", k - 1)
                };
                let (wt, psum) = if i == 0 {
                    (format!("b_in${j}"), "32'sh0".to_string())
                } else {
                    (
                        format!("ws_pes${}$w_out", k - c),
                        format!("ws_pes${}$psum_out", k - c),
                    )
                };
                let _ = writeln!(w, "    ws_pes${k}$a_in = {a};");
                let _ = writeln!(w, "    ws_pes${k}$w_in = {wt};");
                let _ = writeln!(w, "    ws_pes${k}$psum_in = {psum};");
                let _ = writeln!(w, "    ws_pes${k}$w_load = w_load;");
            }
        }
        for j in 0..c {
            let port = if j == c - 1 { "psum_sum" } else { "psum_out" };
            let mut src = format!("ws_pes${}${port}", (r - 1) * c + j);
            for t in 0..deskew_len(c, j) {
                let n = deskew_off(c, j) + t;
                let _ = writeln!(w, "    deskew${n}$d = {src};");
                src = format!("deskew${n}$q");
            }
            let _ = writeln!(w, "    out_acc${j} = {src};");
        }
        let mut src = "in_valid".to_string();
        let mut lsrc = "(in_valid & in_last)".to_string();
        for n in 0..(r + c - 2) {
            let _ = writeln!(w, "    flag_dl${n}$d = {src};");
            let _ = writeln!(w, "    last_dl${n}$d = {lsrc};");
            src = format!("flag_dl${n}$q");
            lsrc = format!("last_dl${n}$q");
        }
        let _ = writeln!(w, "    out_valid = {src};");
        let _ = writeln!(w, "    out_last = {lsrc};");
    }

    fn mode_params(&self) -> (u8, u8) {
        (0, 0)
    }

    /// `rows` preload vectors (`B[rows-1-p][j]` in lane `j` of vector `p`), then `m`
    /// streamed vectors (`A[x][i]` in lane `i` of vector `x`).
    fn feed(&self, cfg: &AccelConfig, t: &Tile) -> TileFeed {
        let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
        let a = (0..t.m)
            .map(|x| {
                (0..rows)
                    .map(|i| if i < t.k { t.a[x * t.k + i] } else { 0 })
                    .collect()
            })
            .collect();
        let b = (0..rows)
            .map(|p| {
                let kk = rows - 1 - p;
                (0..cols)
                    .map(|j| {
                        if kk < t.k && j < t.n {
                            t.b[kk * t.n + j]
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        TileFeed { stream: t.m, a, b }
    }

    /// One line per row of A, in order.
    fn output_lines(&self, _rows: usize, _cols: usize, m: usize, _n: usize) -> Vec<(usize, usize)> {
        (0..m).map(|i| (i, 0)).collect()
    }

    /// The input scratchpad holds the `m` lines of A, the accumulator one line per row.
    fn max_stream(&self, cfg: &AccelConfig) -> usize {
        let in_lines = cfg.input_sram_bytes() / cfg.rows as u64;
        let acc_lines = cfg.acc_sram_bytes() / (4 * cfg.cols as u64);
        in_lines.min(acc_lines) as usize
    }

    /// `k` then `n` bounded by `rows` and `cols`; `m` streamed.
    fn test_shape(
        &self,
        rows: usize,
        cols: usize,
        draw: &mut ShapeDraw<'_>,
    ) -> (usize, usize, usize) {
        let k = (draw.extent)(rows);
        let n = (draw.extent)(cols);
        (draw.stream, k, n)
    }
}
