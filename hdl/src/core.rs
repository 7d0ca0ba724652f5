//! [`Core`]: the compute core generated from an [`arch::AccelConfig`]: operand skewing,
//! the `rows x cols` systolic array of the configured dataflow, output de-skewing, the
//! drain/valid control and the PPU lanes. One clock, synchronous active-high reset.
//!
//! The dataflow is fixed at generation (one array is built, the other `Vec` is empty).
//! The leaves ([`OsPe`], [`WsPe`], [`SReg`], [`PpuLane`]) are ordinary rust-hdl blocks;
//! the core itself only wires them together, with loops over `rows` and `cols` that are
//! run-time values, which `#[hdl_gen]` cannot express (its loop bounds must be constants).
//! So its `update` (rust-hdl simulation) and its `hdl` (Verilog, `Verilog::Custom`) are
//! written by hand from the same structure, and both are tested against the reference.
//!
//! # Interface and timing (cycle 0 = first operand vector at the core's ports)
//!
//! Output-stationary (`C = A[rows x K] * B[K x cols]`, one tile at a time):
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
//!   Core cycles `K + (rows-1) + (cols-1) + rows` ([`core_tile_cycles`]).
//!
//! Weight-stationary (`C = A[M x Kt] * W[Kt x Nt]`, `Kt <= rows`, `Nt <= cols`):
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
//!   Core cycles `rows + M + (rows-1) + (cols-1)` ([`core_tile_cycles`]).
//!
//! PPU (both dataflows, independent of the array so that a controller can run it on
//! accumulator-scratchpad lines): `ppu_valid_in`, `ppu_acc[j]` in cycle `c` give
//! `ppu_valid_out`, `ppu_q[j]` in cycle `c + 3`, with per-column `bias`, `mult`, `shift`
//! and common `zp`, `act_min`, `act_max` held stable meanwhile.

use crate::pe::{OsPe, WsPe};
use crate::ppu::{PpuLane, PPU_STAGES};
use crate::sreg::SReg;
use arch::Dataflow;
use rust_hdl::prelude::*;
use std::fmt::Write;

/// What the core is generated from: the array shape and dataflow of an `AccelConfig`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoreShape {
    pub rows: usize,
    pub cols: usize,
    pub dataflow: Dataflow,
}

impl CoreShape {
    pub fn of(cfg: &arch::AccelConfig) -> Self {
        CoreShape {
            rows: cfg.rows as usize,
            cols: cfg.cols as usize,
            dataflow: cfg.dataflow,
        }
    }
}

/// The compute core (see the module documentation for its ports and timing).
#[derive(LogicBlock)]
pub struct Core {
    pub clock: Signal<In, Clock>,
    pub rst: Signal<In, Bit>,
    pub in_valid: Signal<In, Bit>,
    pub in_last: Signal<In, Bit>,
    pub w_load: Signal<In, Bit>,
    pub a_in: Vec<Signal<In, Signed<8>>>,
    pub b_in: Vec<Signal<In, Signed<8>>>,
    pub out_valid: Signal<Out, Bit>,
    pub out_last: Signal<Out, Bit>,
    pub out_acc: Vec<Signal<Out, Signed<32>>>,
    pub ppu_valid_in: Signal<In, Bit>,
    pub ppu_acc: Vec<Signal<In, Signed<32>>>,
    pub bias: Vec<Signal<In, Signed<32>>>,
    pub mult: Vec<Signal<In, Signed<32>>>,
    pub shift: Vec<Signal<In, Signed<8>>>,
    /// Per-lane shift of the row in PPU stage 3 (see [`PpuLane::shift_r`]).
    pub shift_r: Vec<Signal<In, Signed<8>>>,
    pub zp: Signal<In, Signed<32>>,
    pub act_min: Signal<In, Signed<8>>,
    pub act_max: Signal<In, Signed<8>>,
    pub ppu_valid_out: Signal<Out, Bit>,
    pub ppu_q: Vec<Signal<Out, Signed<8>>>,
    os_pes: Vec<OsPe>,
    ws_pes: Vec<WsPe>,
    a_skew: Vec<SReg<Signed<8>>>,
    b_skew: Vec<SReg<Signed<8>>>,
    deskew: Vec<SReg<Signed<32>>>,
    flag_dl: Vec<SReg<Bit>>,
    last_dl: Vec<SReg<Bit>>,
    drain_cnt: Vec<SReg<Bits<16>>>,
    ppu_dl: Vec<SReg<Bit>>,
    lanes: Vec<PpuLane>,
}

fn tri(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

/// Offset of row `i`'s chain in a triangular skew array (row `i` has `i` registers).
fn skew_off(i: usize) -> usize {
    tri(i)
}

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

fn sigs<D: Direction, T: Synth>(n: usize) -> Vec<Signal<D, T>> {
    (0..n).map(|_| Signal::default()).collect()
}
fn regs<T: Synth>(n: usize) -> Vec<SReg<T>> {
    (0..n).map(|_| SReg::default()).collect()
}

impl Core {
    /// Builds the core for `shape` (`rows`, `cols` >= 1).
    pub fn new(shape: CoreShape) -> Self {
        let (r, c) = (shape.rows, shape.cols);
        let os = shape.dataflow == Dataflow::OutputStationary;
        Core {
            clock: Default::default(),
            rst: Default::default(),
            in_valid: Default::default(),
            in_last: Default::default(),
            w_load: Default::default(),
            a_in: sigs(r),
            b_in: sigs(c),
            out_valid: Default::default(),
            out_last: Default::default(),
            out_acc: sigs(c),
            ppu_valid_in: Default::default(),
            ppu_acc: sigs(c),
            bias: sigs(c),
            mult: sigs(c),
            shift: sigs(c),
            shift_r: sigs(c),
            zp: Default::default(),
            act_min: Default::default(),
            act_max: Default::default(),
            ppu_valid_out: Default::default(),
            ppu_q: sigs(c),
            os_pes: if os {
                (0..r * c).map(|_| OsPe::default()).collect()
            } else {
                vec![]
            },
            ws_pes: if os {
                vec![]
            } else {
                (0..r * c).map(|_| WsPe::default()).collect()
            },
            a_skew: regs(tri(r)),
            b_skew: regs(if os { tri(c) } else { 0 }),
            deskew: regs(if os { 0 } else { tri(c - 1) }),
            flag_dl: regs(r + c - 2),
            last_dl: regs(if os { 0 } else { r + c - 2 }),
            drain_cnt: regs(if os { 1 } else { 0 }),
            ppu_dl: regs(PPU_STAGES as usize),
            lanes: (0..c).map(|_| PpuLane::default()).collect(),
        }
    }

    /// The shape this core was generated for.
    pub fn shape(&self) -> CoreShape {
        CoreShape {
            rows: self.a_in.len(),
            cols: self.b_in.len(),
            dataflow: if self.os_pes.is_empty() {
                Dataflow::WeightStationary
            } else {
                Dataflow::OutputStationary
            },
        }
    }
}

fn s8z() -> Signed<8> {
    Signed::default()
}
fn s32z() -> Signed<32> {
    Signed::default()
}

macro_rules! clock_all {
    ($self:ident, $($v:ident),+) => {
        $(for x in $self.$v.iter_mut() {
            x.clock.next = $self.clock.val();
            x.rst.next = $self.rst.val();
        })+
    };
}
macro_rules! connect_all_ctl {
    ($self:ident, $($v:ident),+) => {
        $(for x in $self.$v.iter_mut() {
            x.clock.connect();
            x.rst.connect();
        })+
    };
}

#[allow(clippy::needless_range_loop)] // row/column indices address several Vecs at once
impl Logic for Core {
    fn update(&mut self) {
        let CoreShape {
            rows: r,
            cols: c,
            dataflow,
        } = self.shape();
        let os = dataflow == Dataflow::OutputStationary;
        clock_all!(self, os_pes, ws_pes, a_skew, b_skew, deskew, flag_dl, last_dl);
        clock_all!(self, drain_cnt, ppu_dl, lanes);
        let valid = self.in_valid.val();
        // Row skew of `a` (gated by in_valid).
        let mut row_edge = vec![s8z(); r];
        for (i, edge) in row_edge.iter_mut().enumerate() {
            let mut v = if valid { self.a_in[i].val() } else { s8z() };
            for t in 0..i {
                let reg = &mut self.a_skew[skew_off(i) + t];
                reg.d.next = v;
                v = reg.q.val();
            }
            *edge = v;
        }
        if os {
            let mut col_edge = vec![s8z(); c];
            for (j, edge) in col_edge.iter_mut().enumerate() {
                let mut v = if valid { self.b_in[j].val() } else { s8z() };
                for t in 0..j {
                    let reg = &mut self.b_skew[skew_off(j) + t];
                    reg.d.next = v;
                    v = reg.q.val();
                }
                *edge = v;
            }
            // Control: the last pair reaches PE(r-1, c-1) r+c-2 cycles later.
            let mut go = valid && self.in_last.val();
            for reg in self.flag_dl.iter_mut() {
                reg.d.next = go;
                go = reg.q.val();
            }
            let cnt = self.drain_cnt[0].q.val();
            let drain = cnt != Bits::<16>::default();
            self.drain_cnt[0].d.next = if go {
                (r as u64).into()
            } else if drain {
                cnt - Bits::<16>::from(1u64)
            } else {
                cnt
            };
            self.out_valid.next = drain;
            self.out_last.next = cnt == Bits::<16>::from(1u64);
            for i in 0..r {
                for j in 0..c {
                    let k = i * c + j;
                    let a = if j == 0 {
                        row_edge[i]
                    } else {
                        self.os_pes[k - 1].a_out.val()
                    };
                    let (b, acc) = if i == 0 {
                        (col_edge[j], s32z())
                    } else {
                        (
                            self.os_pes[k - c].b_out.val(),
                            self.os_pes[k - c].acc_out.val(),
                        )
                    };
                    let pe = &mut self.os_pes[k];
                    pe.a_in.next = a;
                    pe.b_in.next = b;
                    pe.acc_in.next = acc;
                    pe.drain.next = drain;
                }
            }
            for j in 0..c {
                self.out_acc[j].next = self.os_pes[(r - 1) * c + j].acc_out.val();
            }
        } else {
            let w_load = self.w_load.val();
            for i in 0..r {
                for j in 0..c {
                    let k = i * c + j;
                    let a = if j == 0 {
                        row_edge[i]
                    } else {
                        self.ws_pes[k - 1].a_out.val()
                    };
                    let (w, psum) = if i == 0 {
                        (self.b_in[j].val(), s32z())
                    } else {
                        (
                            self.ws_pes[k - c].w_out.val(),
                            self.ws_pes[k - c].psum_out.val(),
                        )
                    };
                    let pe = &mut self.ws_pes[k];
                    pe.a_in.next = a;
                    pe.w_in.next = w;
                    pe.psum_in.next = psum;
                    pe.w_load.next = w_load;
                }
            }
            for j in 0..c {
                let bottom = &self.ws_pes[(r - 1) * c + j];
                let mut v = if j == c - 1 {
                    bottom.psum_sum.val()
                } else {
                    bottom.psum_out.val()
                };
                for t in 0..deskew_len(c, j) {
                    let reg = &mut self.deskew[deskew_off(c, j) + t];
                    reg.d.next = v;
                    v = reg.q.val();
                }
                self.out_acc[j].next = v;
            }
            let mut v = valid;
            for reg in self.flag_dl.iter_mut() {
                reg.d.next = v;
                v = reg.q.val();
            }
            self.out_valid.next = v;
            let mut l = valid && self.in_last.val();
            for reg in self.last_dl.iter_mut() {
                reg.d.next = l;
                l = reg.q.val();
            }
            self.out_last.next = l;
        }
        // PPU.
        let mut v = self.ppu_valid_in.val();
        for reg in self.ppu_dl.iter_mut() {
            reg.d.next = v;
            v = reg.q.val();
        }
        self.ppu_valid_out.next = v;
        for j in 0..c {
            let lane = &mut self.lanes[j];
            lane.acc.next = self.ppu_acc[j].val();
            lane.bias.next = self.bias[j].val();
            lane.mult.next = self.mult[j].val();
            lane.shift.next = self.shift[j].val();
            lane.shift_r.next = self.shift_r[j].val();
            lane.zp.next = self.zp.val();
            lane.act_min.next = self.act_min.val();
            lane.act_max.next = self.act_max.val();
            self.ppu_q[j].next = lane.q.val();
        }
    }

    fn connect(&mut self) {
        connect_all_ctl!(self, os_pes, ws_pes, a_skew, b_skew, deskew, flag_dl, last_dl);
        connect_all_ctl!(self, drain_cnt, ppu_dl, lanes);
        for x in self.a_skew.iter_mut().chain(self.b_skew.iter_mut()) {
            x.d.connect();
        }
        for x in self.deskew.iter_mut() {
            x.d.connect();
        }
        for x in self.flag_dl.iter_mut().chain(self.last_dl.iter_mut()) {
            x.d.connect();
        }
        for x in self.ppu_dl.iter_mut() {
            x.d.connect();
        }
        for x in self.drain_cnt.iter_mut() {
            x.d.connect();
        }
        for pe in self.os_pes.iter_mut() {
            pe.a_in.connect();
            pe.b_in.connect();
            pe.acc_in.connect();
            pe.drain.connect();
        }
        for pe in self.ws_pes.iter_mut() {
            pe.a_in.connect();
            pe.w_in.connect();
            pe.psum_in.connect();
            pe.w_load.connect();
        }
        for l in self.lanes.iter_mut() {
            l.acc.connect();
            l.bias.connect();
            l.mult.connect();
            l.shift.connect();
            l.shift_r.connect();
            l.zp.connect();
            l.act_min.connect();
            l.act_max.connect();
        }
        self.out_valid.connect();
        self.out_last.connect();
        self.ppu_valid_out.connect();
        for x in self.out_acc.iter_mut() {
            x.connect();
        }
        for x in self.ppu_q.iter_mut() {
            x.connect();
        }
    }

    fn hdl(&self) -> Verilog {
        Verilog::Custom(core_body_verilog(self.shape()))
    }
}

/// The Verilog body of the core (wiring and control), the same structure as `update`.
fn core_body_verilog(shape: CoreShape) -> String {
    let CoreShape {
        rows: r,
        cols: c,
        dataflow,
    } = shape;
    let os = dataflow == Dataflow::OutputStationary;
    let mut v = String::new();
    let w = &mut v;
    let _ = writeln!(w, "// {r}x{c} {dataflow} array: wiring, skew and control.");
    for i in 0..r {
        let _ = writeln!(w, "reg signed [7:0] row_edge_{i};");
    }
    if os {
        for j in 0..c {
            let _ = writeln!(w, "reg signed [7:0] col_edge_{j};");
        }
        let _ = writeln!(w, "reg drain_go;");
        let _ = writeln!(w, "reg drain;");
    }
    let _ = writeln!(w, "always @(*) begin");
    let mut ctl = |name: &str, n: usize| {
        for x in 0..n {
            let _ = writeln!(w, "    {name}${x}$clock = clock;");
            let _ = writeln!(w, "    {name}${x}$rst = rst;");
        }
    };
    ctl(if os { "os_pes" } else { "ws_pes" }, r * c);
    ctl("a_skew", tri(r));
    ctl("b_skew", if os { tri(c) } else { 0 });
    ctl("deskew", if os { 0 } else { tri(c - 1) });
    ctl("flag_dl", r + c - 2);
    ctl("last_dl", if os { 0 } else { r + c - 2 });
    ctl("drain_cnt", if os { 1 } else { 0 });
    ctl("ppu_dl", PPU_STAGES as usize);
    ctl("lanes", c);
    // Row skew of `a`.
    for i in 0..r {
        let mut src = format!("(in_valid ? a_in${i} : 8'sh0)");
        for t in 0..i {
            let n = skew_off(i) + t;
            let _ = writeln!(w, "    a_skew${n}$d = {src};");
            src = format!("a_skew${n}$q");
        }
        let _ = writeln!(w, "    row_edge_{i} = {src};");
    }
    if os {
        for j in 0..c {
            let mut src = format!("(in_valid ? b_in${j} : 8'sh0)");
            for t in 0..j {
                let n = skew_off(j) + t;
                let _ = writeln!(w, "    b_skew${n}$d = {src};");
                src = format!("b_skew${n}$q");
            }
            let _ = writeln!(w, "    col_edge_{j} = {src};");
        }
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
    } else {
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
    let mut src = "ppu_valid_in".to_string();
    for n in 0..PPU_STAGES as usize {
        let _ = writeln!(w, "    ppu_dl${n}$d = {src};");
        src = format!("ppu_dl${n}$q");
    }
    let _ = writeln!(w, "    ppu_valid_out = {src};");
    for j in 0..c {
        let _ = writeln!(w, "    lanes${j}$acc = ppu_acc${j};");
        let _ = writeln!(w, "    lanes${j}$bias = bias${j};");
        let _ = writeln!(w, "    lanes${j}$mult = mult${j};");
        let _ = writeln!(w, "    lanes${j}$shift = shift${j};");
        let _ = writeln!(w, "    lanes${j}$shift_r = shift_r${j};");
        let _ = writeln!(w, "    lanes${j}$zp = zp;");
        let _ = writeln!(w, "    lanes${j}$act_min = act_min;");
        let _ = writeln!(w, "    lanes${j}$act_max = act_max;");
        let _ = writeln!(w, "    ppu_q${j} = lanes${j}$q;");
    }
    let _ = writeln!(w, "end");
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cases::{expected, generate, lane_params, Tile};

    #[test]
    fn core_verilog_lists_every_instance() {
        let mut core = Core::new(CoreShape {
            rows: 2,
            cols: 3,
            dataflow: Dataflow::OutputStationary,
        });
        core.connect_all();
        let v = generate_verilog(&core);
        assert!(v.contains("os_pes$5$acc_out"));
        assert!(v.contains("b_skew$2$q"));
    }

    fn s8(v: i64) -> Signed<8> {
        v.to_signed_bits()
    }
    fn s32(v: i64) -> Signed<32> {
        v.to_signed_bits()
    }
    fn int<const N: usize>(v: Signed<N>) -> i64 {
        v.bigint().try_into().unwrap()
    }

    /// Drives one tile through the rust-hdl simulation of a 2x3 core with the protocol of
    /// the module documentation (as `hdl/tb/core_tb.sv` does in Verilator) and checks
    /// rows, PPU output and cycle counts against `cases::expected`.
    fn run_tile_in_rust_hdl(dataflow: Dataflow) {
        let mut cfg = arch::AccelConfig::preset("tiny-4x4").unwrap();
        cfg.rows = 2;
        cfg.cols = 3;
        cfg.dataflow = dataflow;
        let mut t: Tile = generate(&cfg, 4, 3).pop().unwrap();
        // Keep it short: the rust-hdl simulator runs a few thousand cycles per second.
        let (m, k) = if dataflow == Dataflow::OutputStationary {
            (2, 5)
        } else {
            (4, 2)
        };
        t.m = m;
        t.k = k;
        t.n = 3;
        t.bias.resize(3, -77);
        t.mult.resize(3, 1 << 30);
        t.shift.resize(3, -3);
        t.a = (0..m * k).map(|x| [-128i8, 127, 5, -7][x % 4]).collect();
        t.b = (0..k * 3).map(|x| [-128i8, 3, 127, -1, 0][x % 5]).collect();
        let e = expected(&cfg, &t);
        let shape = CoreShape::of(&cfg);
        let os = dataflow == Dataflow::OutputStationary;
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Core>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Core>| {
            let mut x = sim.init()?;
            x.rst.next = true;
            for j in 0..3 {
                let (b, mu, sh) = lane_params(&t, j);
                x.bias[j].next = s32(b as i64);
                x.mult[j].next = s32(mu as i64);
                x.shift[j].next = s8(sh as i64);
                x.shift_r[j].next = s8(sh as i64);
            }
            x.zp.next = s32(t.zp as i64);
            x.act_min.next = s8(t.act_min as i64);
            x.act_max.next = s8(t.act_max as i64);
            wait_clock_cycle!(sim, clock, x);
            x.rst.next = false;
            let mut cycle = 0u64;
            let mut acc_rows = vec![];
            let mut q_rows = vec![];
            let mut last_at = None;
            let mut first_out = None;
            let mut first_q = None;
            let feed = if os { k } else { 2 + m };
            let want_q = e.q_rows.len();
            while q_rows.len() < want_q && cycle < 100 {
                // Inputs of this cycle.
                x.in_valid.next = false;
                x.in_last.next = false;
                x.w_load.next = false;
                if (cycle as usize) < feed {
                    let c = cycle as usize;
                    if os {
                        x.in_valid.next = true;
                        x.in_last.next = c == k - 1;
                        for i in 0..2 {
                            let v = if i < m { t.a[i * k + c] } else { 0 };
                            x.a_in[i].next = s8(v as i64);
                        }
                        for j in 0..3 {
                            x.b_in[j].next = s8(t.b[c * 3 + j] as i64);
                        }
                    } else if c < 2 {
                        x.w_load.next = true;
                        let kk = 1 - c;
                        for j in 0..3 {
                            let v = if kk < k { t.b[kk * 3 + j] } else { 0 };
                            x.b_in[j].next = s8(v as i64);
                        }
                    } else {
                        let mm = c - 2;
                        x.in_valid.next = true;
                        x.in_last.next = mm == m - 1;
                        for i in 0..2 {
                            let v = if i < k { t.a[mm * k + i] } else { 0 };
                            x.a_in[i].next = s8(v as i64);
                        }
                    }
                }
                // Loop the array's rows back into the PPU, as the Verilator testbench does.
                x.ppu_valid_in.next = x.out_valid.val();
                for j in 0..3 {
                    x.ppu_acc[j].next = x.out_acc[j].val();
                }
                wait_clock_cycle!(sim, clock, x);
                // After the edge that ends cycle `c`, the outputs show cycle `c + 1`.
                cycle += 1;
                if x.out_valid.val() {
                    first_out.get_or_insert(cycle);
                    acc_rows.push(
                        (0..3)
                            .map(|j| int(x.out_acc[j].val()) as i32)
                            .collect::<Vec<_>>(),
                    );
                    if x.out_last.val() {
                        // Cycles 0..=cycle, both included.
                        last_at = Some(cycle + 1);
                    }
                }
                if x.ppu_valid_out.val() {
                    first_q.get_or_insert(cycle);
                    q_rows.push(
                        (0..3)
                            .map(|j| int(x.ppu_q[j].val()) as i8)
                            .collect::<Vec<_>>(),
                    );
                }
            }
            sim_assert_eq!(sim, &acc_rows, &e.acc_rows, x);
            sim_assert_eq!(sim, &q_rows, &e.q_rows, x);
            sim_assert_eq!(sim, last_at, Some(e.core_cycles), x);
            sim_assert_eq!(
                sim,
                first_q.zip(first_out).map(|(q, o)| q - o),
                Some(e.ppu_latency),
                x
            );
            sim.done(x)
        });
        sim.run(Box::new(Core::new(shape)), 2_000).unwrap();
    }

    #[test]
    fn os_tile_in_rust_hdl_simulation() {
        run_tile_in_rust_hdl(Dataflow::OutputStationary);
    }

    #[test]
    fn ws_tile_in_rust_hdl_simulation() {
        run_tile_in_rust_hdl(Dataflow::WeightStationary);
    }
}
