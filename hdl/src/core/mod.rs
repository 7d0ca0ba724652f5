//! [`Core`]: the compute core generated from an [`arch::AccelConfig`]: the `rows x cols`
//! systolic array of the configured dataflow with its operand skew, output collection and
//! valid/last control, and the PPU lanes. One clock, synchronous active-high reset.
//!
//! One module per dataflow: [`os`], [`ws`] and [`is`] each hold their array's wiring
//! (rust-hdl simulation and Verilog) and timing, behind the [`ArrayRtl`] trait; this module
//! holds what all share (ports, clocking, skew chains, the PPU) and asks the dataflow for
//! the rest. The PEs live in [`crate::pe`], one file per dataflow as well.
//!
//! The dataflow is fixed at generation (one array is built, the other `Vec`s are empty).
//! The leaves ([`crate::pe`], [`SReg`], [`PpuLane`]) are ordinary rust-hdl blocks; the
//! core itself only wires them together, with loops over `rows` and `cols` that are
//! run-time values, which `#[hdl_gen]` cannot express (its loop bounds must be constants).
//! So its `update` (rust-hdl simulation) and its `hdl` (Verilog, `Verilog::Custom`) are
//! written by hand from the same structure, and both are tested against the reference.
//!
//! # Interface (cycle 0 = first operand vector at the core's ports)
//!
//! Ports: `in_valid`, `in_last`, `w_load` (the preload of the stationary operand), `a_in`
//! (`rows` lanes, from the input scratchpad), `b_in` (`cols` lanes, from the weight
//! scratchpad); `out_valid`, `out_last`, `out_acc` (`cols` int32 lanes, one output line per
//! cycle towards the accumulator write-back). The protocol and timing of each dataflow are
//! documented in its module: [`os`], [`ws`], [`is`]. In every dataflow the core's cycles
//! are `arch::timing::compute_cycles` minus the scratchpad read register in front of it
//! and the write-back pipeline behind it (`EDGE_LATENCY + ACC_PIPE_DEPTH`).
//!
//! PPU (all dataflows, independent of the array so that a controller can run it on
//! accumulator-scratchpad lines): `ppu_valid_in`, `ppu_acc[j]` in cycle `c` give
//! `ppu_valid_out`, `ppu_q[j]` in cycle `c + 3`, with per-column `bias`, `mult`, `shift`
//! and common `zp`, `act_min`, `act_max` held stable meanwhile.

pub mod is;
pub mod os;
pub mod ws;

use crate::cases::Tile;
use crate::pe::{IsPe, OsPe, WsPe};
use crate::ppu::{PpuLane, PPU_STAGES};
use crate::sreg::SReg;
use arch::{AccelConfig, Dataflow};
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

/// The register vectors of the core that a dataflow's array may use (the others stay
/// empty). The name is the field's, as it appears in the Verilog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    OsPes,
    WsPes,
    IsPes,
    /// Row skew of `a` (triangular: row `i` has `i` registers).
    ASkew,
    /// Column skew of `b` (triangular: column `j` has `j` registers).
    BSkew,
    /// Output de-skew / collector registers (int32).
    Deskew,
    /// Valid (or block-end) delay line.
    FlagDl,
    /// Last delay line.
    LastDl,
    /// A 16-bit counter (drain rows, stream slots).
    Counter,
}

impl Part {
    pub fn name(self) -> &'static str {
        match self {
            Part::OsPes => "os_pes",
            Part::WsPes => "ws_pes",
            Part::IsPes => "is_pes",
            Part::ASkew => "a_skew",
            Part::BSkew => "b_skew",
            Part::Deskew => "deskew",
            Part::FlagDl => "flag_dl",
            Part::LastDl => "last_dl",
            Part::Counter => "drain_cnt",
        }
    }
}

/// One dataflow's array in the core: which registers it needs, its wiring in rust-hdl's
/// simulation (`update`, `connect`) and the same wiring in Verilog.
pub trait ArrayRtl: Sync {
    /// The register vectors this dataflow uses and their lengths, in the order of their
    /// clock and reset lines in the Verilog (parts not listed are empty).
    fn parts(&self, rows: usize, cols: usize) -> Vec<(Part, usize)>;
    /// Drives the array's inputs and the core's `out_valid`, `out_last`, `out_acc` from the
    /// core's ports and the array's outputs (one evaluation of the combinational logic).
    fn update(&self, core: &mut Core);
    /// Marks the inputs of this dataflow's PEs as driven.
    fn connect(&self, core: &mut Core);
    /// Verilog declarations of the wiring's local signals.
    fn declare(&self, rows: usize, cols: usize, w: &mut String);
    /// Verilog of the wiring, inside the core's `always @(*)` block.
    fn wire(&self, rows: usize, cols: usize, w: &mut String);
    /// The `(OS, IS)` parameters of the hand-written Verilog around the core (the system
    /// controller in `hdl/rtl` and the core testbench `hdl/tb/core_tb.sv`): which of their
    /// per-dataflow paths this array takes (both 0 for weight-stationary).
    fn mode_params(&self) -> (u8, u8);
    /// The operand vectors of `t` in the order this dataflow's core takes them (the
    /// testbench's `a.hex` and `b.hex`, see the module documentation of the dataflow).
    fn feed(&self, cfg: &AccelConfig, t: &Tile) -> TileFeed;
    /// The output lines the core emits for an `m x n` tile, in order: `(i, j0)` is the
    /// line whose lane `l` carries `C[i][j0 + l]` (zero for `i >= m` or `j0 + l >= n`).
    fn output_lines(&self, rows: usize, cols: usize, m: usize, n: usize) -> Vec<(usize, usize)>;
    /// The largest streamed extent of a test tile (`k` for OS, `m` for WS, `n` for IS)
    /// whose operands and results fit the scratchpads of `cfg` (at least 1).
    fn max_stream(&self, cfg: &AccelConfig) -> usize;
    /// The `(m, k, n)` of a test tile: the two extents the array bounds come from
    /// `draw.extent(bound)`, in the order of this dataflow's module; the streamed one
    /// is `draw.stream`.
    fn test_shape(
        &self,
        rows: usize,
        cols: usize,
        draw: &mut ShapeDraw<'_>,
    ) -> (usize, usize, usize);
}

/// A tile's operand vectors in the order the core takes them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TileFeed {
    /// Vectors streamed with `in_valid` (the testbench's `n`: `k` for OS, `m` for WS, the
    /// stream slots for IS).
    pub stream: usize,
    /// `a` vectors (`rows` lanes).
    pub a: Vec<Vec<i8>>,
    /// `b` vectors (`cols` lanes).
    pub b: Vec<Vec<i8>>,
}

/// What `cases::generate` drew for the shape of one test tile.
pub struct ShapeDraw<'a> {
    /// Whether this is the first case (the one with the longest stream).
    pub first: bool,
    /// The drawn streamed extent.
    pub stream: usize,
    /// [`ArrayRtl::max_stream`], clamped.
    pub longest: usize,
    /// An extent bounded by the array: the bound itself or a random one in `1..=bound`.
    pub extent: &'a mut dyn FnMut(usize) -> usize,
}

/// The array of `dataflow`.
pub fn array_of(dataflow: Dataflow) -> &'static dyn ArrayRtl {
    match dataflow {
        Dataflow::OutputStationary => &os::Os,
        Dataflow::WeightStationary => &ws::Ws,
        Dataflow::InputStationary => &is::Is,
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
    is_pes: Vec<IsPe>,
}

fn tri(n: usize) -> usize {
    n * n.saturating_sub(1) / 2
}

/// Offset of row `i`'s chain in a triangular skew array (row `i` has `i` registers).
fn skew_off(i: usize) -> usize {
    tri(i)
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
        let parts = array_of(shape.dataflow).parts(r, c);
        let n = |p: Part| {
            parts
                .iter()
                .find(|(q, _)| *q == p)
                .map(|(_, n)| *n)
                .unwrap_or(0)
        };
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
            os_pes: (0..n(Part::OsPes)).map(|_| OsPe::default()).collect(),
            ws_pes: (0..n(Part::WsPes)).map(|_| WsPe::default()).collect(),
            a_skew: regs(n(Part::ASkew)),
            b_skew: regs(n(Part::BSkew)),
            deskew: regs(n(Part::Deskew)),
            flag_dl: regs(n(Part::FlagDl)),
            last_dl: regs(n(Part::LastDl)),
            drain_cnt: regs(n(Part::Counter)),
            ppu_dl: regs(PPU_STAGES as usize),
            lanes: (0..c).map(|_| PpuLane::default()).collect(),
            is_pes: (0..n(Part::IsPes)).map(|_| IsPe::default()).collect(),
        }
    }

    /// The shape this core was generated for.
    pub fn shape(&self) -> CoreShape {
        CoreShape {
            rows: self.a_in.len(),
            cols: self.b_in.len(),
            dataflow: self.dataflow(),
        }
    }

    /// The dataflow whose array this core holds: the one whose [`ArrayRtl::parts`] all
    /// have their lengths here (each dataflow has its own PE vector).
    fn dataflow(&self) -> Dataflow {
        let (r, c) = (self.a_in.len(), self.b_in.len());
        Dataflow::ALL
            .into_iter()
            .find(|&df| {
                array_of(df)
                    .parts(r, c)
                    .iter()
                    .all(|&(p, n)| self.part_len(p) == n)
            })
            // Unreachable for a core built by `Core::new`.
            .unwrap_or(Dataflow::OutputStationary)
    }

    /// The length of one of the core's register vectors.
    fn part_len(&self, p: Part) -> usize {
        match p {
            Part::OsPes => self.os_pes.len(),
            Part::WsPes => self.ws_pes.len(),
            Part::IsPes => self.is_pes.len(),
            Part::ASkew => self.a_skew.len(),
            Part::BSkew => self.b_skew.len(),
            Part::Deskew => self.deskew.len(),
            Part::FlagDl => self.flag_dl.len(),
            Part::LastDl => self.last_dl.len(),
            Part::Counter => self.drain_cnt.len(),
        }
    }

    /// Row skew of `a` (gated by `in_valid`): the value at each row's left edge.
    fn row_skew(&mut self) -> Vec<Signed<8>> {
        let valid = self.in_valid.val();
        (0..self.a_in.len())
            .map(|i| {
                let mut v = if valid { self.a_in[i].val() } else { s8z() };
                for t in 0..i {
                    let reg = &mut self.a_skew[skew_off(i) + t];
                    reg.d.next = v;
                    v = reg.q.val();
                }
                v
            })
            .collect()
    }

    /// Column skew of `b` (gated by `in_valid`): the value at each column's top edge.
    fn col_skew(&mut self) -> Vec<Signed<8>> {
        let valid = self.in_valid.val();
        (0..self.b_in.len())
            .map(|j| {
                let mut v = if valid { self.b_in[j].val() } else { s8z() };
                for t in 0..j {
                    let reg = &mut self.b_skew[skew_off(j) + t];
                    reg.d.next = v;
                    v = reg.q.val();
                }
                v
            })
            .collect()
    }
}

/// Verilog of the row skew of `a` (see [`Core::row_skew`]): assigns `row_edge_{i}`.
fn row_skew_verilog(rows: usize, w: &mut String) {
    for i in 0..rows {
        let mut src = format!("(in_valid ? a_in${i} : 8'sh0)");
        for t in 0..i {
            let n = skew_off(i) + t;
            let _ = writeln!(w, "    a_skew${n}$d = {src};");
            src = format!("a_skew${n}$q");
        }
        let _ = writeln!(w, "    row_edge_{i} = {src};");
    }
}

/// Verilog of the column skew of `b` (see [`Core::col_skew`]): assigns `col_edge_{j}`.
fn col_skew_verilog(cols: usize, w: &mut String) {
    for j in 0..cols {
        let mut src = format!("(in_valid ? b_in${j} : 8'sh0)");
        for t in 0..j {
            let n = skew_off(j) + t;
            let _ = writeln!(w, "    b_skew${n}$d = {src};");
            src = format!("b_skew${n}$q");
        }
        let _ = writeln!(w, "    col_edge_{j} = {src};");
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

#[allow(clippy::needless_range_loop)] // lane indices address several Vecs at once
impl Logic for Core {
    fn update(&mut self) {
        let shape = self.shape();
        clock_all!(self, os_pes, ws_pes, is_pes, a_skew, b_skew, deskew, flag_dl, last_dl);
        clock_all!(self, drain_cnt, ppu_dl, lanes);
        array_of(shape.dataflow).update(self);
        // PPU.
        let mut v = self.ppu_valid_in.val();
        for reg in self.ppu_dl.iter_mut() {
            reg.d.next = v;
            v = reg.q.val();
        }
        self.ppu_valid_out.next = v;
        for j in 0..shape.cols {
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
        connect_all_ctl!(self, os_pes, ws_pes, is_pes, a_skew, b_skew, deskew, flag_dl, last_dl);
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
        array_of(self.shape().dataflow).connect(self);
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
    let array = array_of(dataflow);
    let mut v = String::new();
    let w = &mut v;
    let _ = writeln!(w, "// {r}x{c} {dataflow} array: wiring, skew and control.");
    array.declare(r, c, w);
    let _ = writeln!(w, "always @(*) begin");
    let ctl = |w: &mut String, name: &str, n: usize| {
        for x in 0..n {
            let _ = writeln!(w, "    {name}${x}$clock = clock;");
            let _ = writeln!(w, "    {name}${x}$rst = rst;");
        }
    };
    for (part, n) in array.parts(r, c) {
        ctl(w, part.name(), n);
    }
    ctl(w, "ppu_dl", PPU_STAGES as usize);
    ctl(w, "lanes", c);
    array.wire(r, c, w);
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
        let mut core = Core::new(CoreShape {
            rows: 2,
            cols: 4,
            dataflow: Dataflow::InputStationary,
        });
        assert_eq!(core.shape().dataflow, Dataflow::InputStationary);
        core.connect_all();
        let v = generate_verilog(&core);
        assert!(v.contains("is_pes$7$psum_sum"));
        // Two collector registers per row (cols - 2).
        assert!(v.contains("deskew$3$q") && !v.contains("deskew$4$q"));
    }

    #[test]
    fn every_dataflow_has_its_own_array() {
        for df in [
            Dataflow::OutputStationary,
            Dataflow::WeightStationary,
            Dataflow::InputStationary,
        ] {
            let core = Core::new(CoreShape {
                rows: 3,
                cols: 2,
                dataflow: df,
            });
            assert_eq!(core.shape().dataflow, df);
            let pes = [core.os_pes.len(), core.ws_pes.len(), core.is_pes.len()];
            assert_eq!(pes.iter().filter(|&&n| n == 6).count(), 1, "{df}: {pes:?}");
            assert_eq!(pes.iter().sum::<usize>(), 6);
        }
    }

    /// The testbench view of every dataflow agrees with the rules in `arch`: generated
    /// tiles pass `check_shape`, the output lines hold every `C[i][j]` of the tile once
    /// (and only zero padding besides), and the feed has the core's lane widths.
    #[test]
    fn feed_and_output_lines_agree_with_the_rules() {
        for df in Dataflow::ALL {
            for (rows, cols) in [(4usize, 4usize), (3, 5), (6, 2)] {
                let mut cfg = arch::AccelConfig::preset("tiny-4x4").unwrap();
                cfg.rows = rows as u32;
                cfg.cols = cols as u32;
                cfg.dataflow = df;
                let array = array_of(df);
                for t in generate(&cfg, 40, 5) {
                    let (m, k, n) = (t.m as u64, t.k as u64, t.n as u64);
                    assert!(t.m >= 1 && t.k >= 1 && (1..=256).contains(&t.n), "{df}");
                    let rules = df.rules();
                    assert!(
                        rules.check_shape(rows as u64, cols as u64, m, k, n).is_ok(),
                        "{df} {rows}x{cols}: {m}x{k}x{n}"
                    );
                    let mut seen = vec![0u32; t.m * t.n];
                    for (i, j0) in array.output_lines(rows, cols, t.m, t.n) {
                        for l in 0..cols {
                            if i < t.m && j0 + l < t.n {
                                seen[i * t.n + j0 + l] += 1;
                            }
                        }
                    }
                    assert!(seen.iter().all(|&c| c == 1), "{df} {rows}x{cols}");
                    let f = array.feed(&cfg, &t);
                    assert!(f.a.iter().all(|v| v.len() == rows), "{df}");
                    assert!(f.b.iter().all(|v| v.len() == cols), "{df}");
                    assert!(f.stream == f.a.len() || f.stream == f.b.len(), "{df}");
                    assert_eq!(
                        f.stream as u64,
                        rules.feed_cycles(&cfg, m, k, n),
                        "{df}: one streamed vector per feed cycle"
                    );
                }
            }
        }
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

    /// Drives one tile through the rust-hdl simulation of a `rows x cols` core with the
    /// protocol of the dataflow's module (as `hdl/tb/core_tb.sv` does in Verilator) and
    /// checks rows, PPU output and cycle counts against `cases::expected`.
    fn run_tile_in_rust_hdl(dataflow: Dataflow, rows: usize, cols: usize, m: usize, k: usize) {
        let mut cfg = arch::AccelConfig::preset("tiny-4x4").unwrap();
        cfg.rows = rows as u32;
        cfg.cols = cols as u32;
        cfg.dataflow = dataflow;
        let mut t: Tile = generate(&cfg, 4, 3).pop().unwrap();
        // Keep it short: the rust-hdl simulator runs a few thousand cycles per second.
        let n = if dataflow == Dataflow::InputStationary {
            2 * cols + 1
        } else {
            cols
        };
        t.m = m;
        t.k = k;
        t.n = n;
        t.bias.resize(n, -77);
        t.mult.resize(n, 1 << 30);
        t.shift.resize(n, -3);
        t.a = (0..m * k).map(|x| [-128i8, 127, 5, -7][x % 4]).collect();
        t.b = (0..k * n).map(|x| [-128i8, 3, 127, -1, 0][x % 5]).collect();
        let e = expected(&cfg, &t);
        let shape = CoreShape::of(&cfg);
        // The vectors of each cycle: (w_load, in_valid, in_last, a, b).
        type Feed = (bool, bool, bool, Vec<i8>, Vec<i8>);
        let mut feed: Vec<Feed> = Vec::new();
        match dataflow {
            Dataflow::OutputStationary => {
                for c in 0..k {
                    let a = (0..rows)
                        .map(|i| if i < m { t.a[i * k + c] } else { 0 })
                        .collect();
                    let b = (0..cols).map(|j| t.b[c * n + j]).collect();
                    feed.push((false, true, c == k - 1, a, b));
                }
            }
            Dataflow::WeightStationary => {
                for p in 0..rows {
                    let kk = rows - 1 - p;
                    let b = (0..cols)
                        .map(|j| if kk < k { t.b[kk * n + j] } else { 0 })
                        .collect();
                    feed.push((true, false, false, vec![0; rows], b));
                }
                for mm in 0..m {
                    let a = (0..rows)
                        .map(|i| if i < k { t.a[mm * k + i] } else { 0 })
                        .collect();
                    feed.push((false, true, mm == m - 1, a, vec![0; cols]));
                }
            }
            Dataflow::InputStationary => {
                let f = array_of(dataflow).feed(&cfg, &t);
                let (a, b) = (f.a, f.b);
                for v in a {
                    feed.push((true, false, false, v, vec![0; cols]));
                }
                let slots = b.len();
                for (s, v) in b.into_iter().enumerate() {
                    feed.push((false, true, s == slots - 1, vec![0; rows], v));
                }
            }
        }
        let mut sim = Simulation::new();
        sim.add_clock(5, |x: &mut Box<Core>| x.clock.next = !x.clock.val());
        sim.add_testbench(move |mut sim: Sim<Core>| {
            let mut x = sim.init()?;
            x.rst.next = true;
            for j in 0..cols {
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
            let want_q = e.q_rows.len();
            while q_rows.len() < want_q && cycle < 200 {
                // Inputs of this cycle.
                let (w_load, valid, last, a, b) = feed.get(cycle as usize).cloned().unwrap_or((
                    false,
                    false,
                    false,
                    vec![0; rows],
                    vec![0; cols],
                ));
                x.w_load.next = w_load;
                x.in_valid.next = valid;
                x.in_last.next = last;
                for (port, &v) in x.a_in.iter_mut().zip(&a) {
                    port.next = s8(v as i64);
                }
                for (port, &v) in x.b_in.iter_mut().zip(&b) {
                    port.next = s8(v as i64);
                }
                // Loop the array's rows back into the PPU, as the Verilator testbench does.
                x.ppu_valid_in.next = x.out_valid.val();
                for j in 0..cols {
                    x.ppu_acc[j].next = x.out_acc[j].val();
                }
                wait_clock_cycle!(sim, clock, x);
                // After the edge that ends cycle `c`, the outputs show cycle `c + 1`.
                cycle += 1;
                if x.out_valid.val() {
                    first_out.get_or_insert(cycle);
                    acc_rows.push(
                        (0..cols)
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
                        (0..cols)
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
        sim.run(Box::new(Core::new(shape)), 4_000).unwrap();
    }

    #[test]
    fn os_tile_in_rust_hdl_simulation() {
        run_tile_in_rust_hdl(Dataflow::OutputStationary, 2, 3, 2, 5);
    }

    #[test]
    fn ws_tile_in_rust_hdl_simulation() {
        run_tile_in_rust_hdl(Dataflow::WeightStationary, 2, 3, 4, 2);
    }

    #[test]
    fn is_tile_in_rust_hdl_simulation() {
        // cols > rows (period cols), and rows > cols (period rows, padding slots).
        run_tile_in_rust_hdl(Dataflow::InputStationary, 2, 3, 2, 2);
        run_tile_in_rust_hdl(Dataflow::InputStationary, 3, 2, 2, 2);
    }
}
