//! The input-stationary array (docs/architecture.md section 3.3): `C = A[m x k] * B[k x n]`
//! with `m <= rows`, `k <= cols`, any `n` (the ISA allows up to 256); activations stay in
//! the PEs, weights stream down the columns, partial sums move right along the rows.
//!
//! Let `P = max(rows, cols)` (the block period), `NB = ceil(n / cols)` (output blocks) and
//! `S = (NB-1)*P + cols` (stream slots).
//!
//! - cycles `0..cols` (preload): `w_load = 1`, `a_in[i] = A[i][cols-1-p]` in cycle `p`
//!   (zero for `cols-1-p >= k` or `i >= m`). Every PE of a row loads its left neighbour's
//!   activation, column 0 loads `a_in`, so from cycle `cols` on PE(i,j) holds `A[i][j]`;
//! - cycles `cols..cols+S` (stream): `in_valid = 1`, slot `s = nb*P + l`: if `l < cols`
//!   and `c = nb*cols + l < n`, `b_in[j] = B[j][c]`, otherwise zeros; `in_last` with the
//!   last slot. Column `j` of `b` is delayed `j` cycles and moves one PE down per cycle;
//!   PE(i,j) computes `psum = psum_in + A[i][j] * b` for slot `s` in cycle
//!   `cols + s + i + j`, taking `psum_in` from its left neighbour's register;
//! - collectors: row `i`'s sum of slot `s` leaves the last column (its adder) in cycle
//!   `2*cols - 1 + s + i`; row `i` keeps the last `cols` sums in a line (the last column's
//!   adder, its register and `cols-2` collector registers), so when the sum of a block's
//!   last slot (`l = cols-1`) leaves, the line holds lanes `l = 0..cols`
//!   (`C[i][nb*cols + l]`, zero for columns `>= n`). A 16-bit slot counter (modulo `P`)
//!   marks the block's last slot, and a delay line carries the mark to row `i` after
//!   `cols-1+i` cycles: `out_valid = 1`, `out_acc` = row `i`'s line of block `nb` in cycle
//!   `2*cols - 2 + nb*P + cols + i`, for every row `i < rows` (rows `>= m` are zero; the
//!   write-back skips them). Since `P >= rows`, the lines of a block never overlap the
//!   next block's. `out_last` marks row `rows-1` of the last block.
//!
//!   Core cycles `cols + S + (rows-1) + (cols-1)` (`arch::timing::is_tile_cycles` minus
//!   `EDGE_LATENCY + ACC_PIPE_DEPTH`): the output line of cycle `d` here is the line the
//!   contract has leave the array in cycle `d + EDGE_LATENCY`.

use super::{col_skew_verilog, s32z, tri, ArrayRtl, Core, Part, ShapeDraw, TileFeed};
use crate::cases::Tile;
use arch::AccelConfig;
use rust_hdl::prelude::*;
use std::fmt::Write;

/// The input-stationary array.
pub struct Is;

/// Block period `max(rows, cols)` (`arch::timing::is_block_period`).
fn period(r: usize, c: usize) -> usize {
    r.max(c)
}

/// Collector registers of one row (the lanes before the last column's register).
fn coll_len(c: usize) -> usize {
    c.saturating_sub(2)
}

#[allow(clippy::needless_range_loop)] // row/column indices address several Vecs at once
impl ArrayRtl for Is {
    fn parts(&self, r: usize, c: usize) -> Vec<(Part, usize)> {
        vec![
            (Part::IsPes, r * c),
            (Part::BSkew, tri(c)),
            (Part::Deskew, r * coll_len(c)),
            (Part::FlagDl, r + c - 2),
            (Part::LastDl, r + c - 2),
            (Part::Counter, 1),
        ]
    }

    fn update(&self, core: &mut Core) {
        let (r, c) = (core.a_in.len(), core.b_in.len());
        let col_edge = core.col_skew();
        let valid = core.in_valid.val();
        let w_load = core.w_load.val();
        // Slot counter modulo P; the block's last slot is l = cols-1.
        let slot = core.drain_cnt[0].q.val();
        let wrap = slot == Bits::<16>::from((period(r, c) - 1) as u64);
        core.drain_cnt[0].d.next = if valid && !wrap {
            slot + Bits::<16>::from(1u64)
        } else {
            Bits::<16>::default()
        };
        let blk_end = valid && slot == Bits::<16>::from((c - 1) as u64);
        // Mark delay line: tap t = blk_end delayed t cycles; row i's mark is tap c-1+i.
        let mut taps = vec![blk_end];
        for reg in core.flag_dl.iter_mut() {
            reg.d.next = *taps.last().unwrap_or(&false);
            taps.push(reg.q.val());
        }
        let mut l = blk_end && core.in_last.val();
        for reg in core.last_dl.iter_mut() {
            reg.d.next = l;
            l = reg.q.val();
        }
        core.out_last.next = l;
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                let a = if j == 0 {
                    core.a_in[i].val()
                } else {
                    core.is_pes[k - 1].a_out.val()
                };
                let b = if i == 0 {
                    col_edge[j]
                } else {
                    core.is_pes[k - c].b_out.val()
                };
                let psum = if j == 0 {
                    s32z()
                } else {
                    core.is_pes[k - 1].psum_out.val()
                };
                let pe = &mut core.is_pes[k];
                pe.a_load.next = w_load;
                pe.a_in.next = a;
                pe.b_in.next = b;
                pe.psum_in.next = psum;
            }
        }
        // Row collectors, and the output mux (at most one row is marked per cycle).
        let mut out = vec![s32z(); c];
        let mut any = false;
        for i in 0..r {
            let last = &core.is_pes[i * c + c - 1];
            let mut line = vec![s32z(); c];
            line[c - 1] = last.psum_sum.val();
            if c >= 2 {
                let mut v = last.psum_out.val();
                line[c - 2] = v;
                for t in 0..coll_len(c) {
                    let reg = &mut core.deskew[i * coll_len(c) + t];
                    reg.d.next = v;
                    v = reg.q.val();
                    line[c - 3 - t] = v;
                }
            }
            if taps[c - 1 + i] && !any {
                any = true;
                out = line;
            }
        }
        core.out_valid.next = any;
        for j in 0..c {
            core.out_acc[j].next = out[j];
        }
    }

    fn connect(&self, core: &mut Core) {
        for pe in core.is_pes.iter_mut() {
            pe.a_load.connect();
            pe.a_in.connect();
            pe.b_in.connect();
            pe.psum_in.connect();
        }
    }

    fn declare(&self, r: usize, c: usize, w: &mut String) {
        for j in 0..c {
            let _ = writeln!(w, "reg signed [7:0] col_edge_{j};");
        }
        let _ = writeln!(w, "reg blk_end;");
        for i in 0..r {
            let _ = writeln!(w, "reg mark_{i};");
        }
    }

    fn wire(&self, r: usize, c: usize, w: &mut String) {
        col_skew_verilog(c, w);
        let p = period(r, c);
        let _ = writeln!(
            w,
            "    drain_cnt$0$d = (in_valid & (drain_cnt$0$q != 16'd{})) ? drain_cnt$0$q + 16'd1 : 16'd0;",
            p - 1
        );
        let _ = writeln!(
            w,
            "    blk_end = in_valid & (drain_cnt$0$q == 16'd{});",
            c - 1
        );
        let mut taps = vec!["blk_end".to_string()];
        let mut lsrc = "(blk_end & in_last)".to_string();
        for n in 0..(r + c - 2) {
            let _ = writeln!(w, "    flag_dl${n}$d = {};", taps[n]);
            let _ = writeln!(w, "    last_dl${n}$d = {lsrc};");
            taps.push(format!("flag_dl${n}$q"));
            lsrc = format!("last_dl${n}$q");
        }
        let _ = writeln!(w, "    out_last = {lsrc};");
        for i in 0..r {
            let _ = writeln!(w, "    mark_{i} = {};", taps[c - 1 + i]);
        }
        for i in 0..r {
            for j in 0..c {
                let k = i * c + j;
                let a = if j == 0 {
                    format!("a_in${i}")
                } else {
                    format!("is_pes${}$a_out", k - 1)
                };
                let b = if i == 0 {
                    format!("col_edge_{j}")
                } else {
                    format!("is_pes${}$b_out", k - c)
                };
                let psum = if j == 0 {
                    "32'sh0".to_string()
                } else {
                    format!("is_pes${}$psum_out", k - 1)
                };
                let _ = writeln!(w, "    is_pes${k}$a_load = w_load;");
                let _ = writeln!(w, "    is_pes${k}$a_in = {a};");
                let _ = writeln!(w, "    is_pes${k}$b_in = {b};");
                let _ = writeln!(w, "    is_pes${k}$psum_in = {psum};");
            }
        }
        // Lane `l` of row `i`'s line.
        let mut lines = vec![vec![String::new(); c]; r];
        for (i, line) in lines.iter_mut().enumerate() {
            let last = i * c + c - 1;
            line[c - 1] = format!("is_pes${last}$psum_sum");
            if c >= 2 {
                let mut src = format!("is_pes${last}$psum_out");
                line[c - 2] = src.clone();
                for t in 0..coll_len(c) {
                    let n = i * coll_len(c) + t;
                    let _ = writeln!(w, "    deskew${n}$d = {src};");
                    src = format!("deskew${n}$q");
                    line[c - 3 - t] = src.clone();
                }
            }
        }
        let marks: Vec<String> = (0..r).map(|i| format!("mark_{i}")).collect();
        let _ = writeln!(w, "    out_valid = {};", marks.join(" | "));
        for l in 0..c {
            let mut e = "32'sh0".to_string();
            for i in (0..r).rev() {
                e = format!("(mark_{i} ? {} : {e})", lines[i][l]);
            }
            let _ = writeln!(w, "    out_acc${l} = {e};");
        }
    }

    fn mode_params(&self) -> (u8, u8) {
        (0, 1)
    }

    /// `cols` preload vectors (`rows` lanes, column `cols-1-p` of A in vector `p`), then
    /// one weight vector per stream slot (`cols` lanes, zeros in the slots that pad a
    /// block to the block period and beyond `n`).
    fn feed(&self, cfg: &AccelConfig, t: &Tile) -> TileFeed {
        let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
        let a = (0..cols)
            .map(|p| {
                let c = cols - 1 - p;
                (0..rows)
                    .map(|i| {
                        if i < t.m && c < t.k {
                            t.a[i * t.k + c]
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        let slots = arch::timing::is_stream_slots(cfg, t.n as u64) as usize;
        let period = arch::timing::is_block_period(cfg) as usize;
        let b = (0..slots)
            .map(|s| {
                let (nb, l) = (s / period, s % period);
                let c = nb * cols + l;
                (0..cols)
                    .map(|j| {
                        if l < cols && c < t.n && j < t.k {
                            t.b[j * t.n + c]
                        } else {
                            0
                        }
                    })
                    .collect()
            })
            .collect();
        TileFeed {
            stream: slots,
            a,
            b,
        }
    }

    /// Every row of the array, block by block; lane `l` of block `nb` is output column
    /// `nb*cols + l`.
    fn output_lines(&self, rows: usize, cols: usize, _m: usize, n: usize) -> Vec<(usize, usize)> {
        (0..n.div_ceil(cols))
            .flat_map(|nb| (0..rows).map(move |i| (i, nb * cols)))
            .collect()
    }

    /// `n` weight lines (at most 256, the ISA's field) and `ceil(n/cols) * rows`
    /// accumulator lines.
    fn max_stream(&self, cfg: &AccelConfig) -> usize {
        let (rows, cols) = (cfg.rows as u64, cfg.cols as u64);
        let w_lines = cfg.weight_sram_bytes() / cols;
        let acc_lines = cfg.acc_sram_bytes() / (4 * cols);
        w_lines.min(256).min(acc_lines / rows * cols) as usize
    }

    /// `m` then `k` bounded by `rows` and `cols`; `n` streamed (the first case streams
    /// the most weight vectors: `n = 256` when they fit).
    fn test_shape(
        &self,
        rows: usize,
        cols: usize,
        draw: &mut ShapeDraw<'_>,
    ) -> (usize, usize, usize) {
        let m = (draw.extent)(rows);
        let k = (draw.extent)(cols);
        (
            m,
            k,
            if draw.first {
                draw.longest
            } else {
                draw.stream
            },
        )
    }
}
