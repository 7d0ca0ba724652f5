//! The one schedule of a GEMM on the accelerator, shared by the program builder
//! (`driver::gemm`) and the simulator's tile-level model (`sim::tile`):
//!
//! - [`choose`]: the tiling (in the spirit of Gemmini's `tiled_matmul_auto`): the outer
//!   tile `tm x tk x tn` is the largest block whose A, B and C tiles fit in *half* of the
//!   input, weight and accumulator scratchpads (the other half is being filled or
//!   drained: double buffering), chosen to minimise a ranking [`estimate`] of the run time
//!   (bus traffic with reuse, bursts, core tiles). K is split (`n_k > 1`, int32
//!   accumulation in the accumulator scratchpad) only when a full-K tile does not fit.
//!   Granularities and footprints come from the dataflow ([`crate::dataflow`]).
//! - [`steps`]: the reduction steps in execution order, with the reuse rule
//!   ([`reuse`]: which tile is reloaded), the parameter reloads, the double-buffer halves
//!   and the dependency-token flags.
//! - [`plan_step`]: the commands of one step: its load group (which operand tile, which
//!   transpose and scratchpad line), its core tiles (from the dataflow) and its store
//!   group. Only the memory addresses are left to the caller.
//!
//! Scratchpad footprints (lines; `R = rows`, `C = cols`):
//!
//! | dataflow | A tile (input) | B tile (weight) | C tile (acc) |
//! |---|---|---|---|
//! | OS | `ceil(tm/R) * tk` (stored transposed) | `ceil(tn/C) * tk` | `ceil(tn/C) * tm` |
//! | WS | `ceil(tk/R) * tm` | `ceil(tn/C) * tk` | `ceil(tn/C) * tm` |
//! | IS | `tk` (stored transposed, `tm <= R`) | `ceil(tk/C) * tn` (stored transposed) | `ceil(tn/C) * tm` |

use crate::dataflow::{candidates, StepTiles};
use crate::im2col::Window;
use crate::isa::{Command, Compute, Deps, Load, Op, Scratchpad, PPU_PARAM_ENTRIES_PER_COL};
use crate::{timing, AccelConfig};

/// Largest value of a 16-bit command field.
pub const MAX_FIELD: u64 = u16::MAX as u64;

/// What a GEMM writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// int8 through the PPU.
    Int8 {
        zp_out: i32,
        act_min: i32,
        act_max: i32,
    },
    /// Raw int32 accumulators (no bias, no requantization).
    Int32,
}

/// Shape and output of one GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GemmProblem {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub output: Output,
    /// `Some`: the A operand is the implicit im2col matrix of this window (hardware
    /// im2col: one `CONV_GEOM`, A loads become `LOAD_IM2COL`); `None`: A is read from
    /// memory.
    pub im2col: Option<crate::im2col::Window>,
}

impl GemmProblem {
    /// An int8 GEMM with full activation range and output zero point `zp_out`.
    pub fn int8(m: usize, k: usize, n: usize, zp_out: i32) -> Self {
        GemmProblem {
            m,
            k,
            n,
            output: Output::Int8 {
                zp_out,
                act_min: -128,
                act_max: 127,
            },
            im2col: None,
        }
    }

    /// Bytes per output element.
    pub fn out_elem_bytes(&self) -> usize {
        match self.output {
            Output::Int8 { .. } => 1,
            Output::Int32 => 4,
        }
    }

    /// Multiply-accumulates.
    pub fn macs(&self) -> u64 {
        self.m as u64 * self.k as u64 * self.n as u64
    }
}

/// Loop order over output tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoopOrder {
    /// `for i (M tiles) { for j (N tiles) { for k } }`: A tiles reused across `j` when
    /// `n_k == 1`.
    MOuter,
    /// `for j { for i { for k } }`: B tiles reused across `i` when `n_k == 1`.
    NOuter,
}

/// Half-scratchpad capacities in lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub input_half_lines: u64,
    pub weight_half_lines: u64,
    pub acc_half_lines: u64,
}

impl Capacity {
    /// The capacities of `cfg`.
    pub fn of(cfg: &AccelConfig) -> Self {
        let r = cfg.rows as u64;
        let c = cfg.cols as u64;
        Capacity {
            input_half_lines: cfg.input_sram_bytes() / r / 2,
            weight_half_lines: cfg.weight_sram_bytes() / c / 2,
            acc_half_lines: cfg.acc_sram_bytes() / (4 * c) / 2,
        }
    }
}

/// The chosen tiling of an `m x k x n` GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiling {
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub tm: u64,
    pub tk: u64,
    pub tn: u64,
    pub order: LoopOrder,
}

/// Why no tiling exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilingError {
    #[error("GEMM dimension `{0}` is zero")]
    ZeroDim(&'static str),
    #[error("no tile fits: {0}")]
    NoFit(String),
}

impl Tiling {
    /// Number of tiles along M, N, K.
    #[inline]
    pub fn n_i(&self) -> u64 {
        self.m.div_ceil(self.tm)
    }
    #[inline]
    pub fn n_j(&self) -> u64 {
        self.n.div_ceil(self.tn)
    }
    #[inline]
    pub fn n_k(&self) -> u64 {
        self.k.div_ceil(self.tk)
    }
    /// Actual extent of tile `i` along M (the last one may be partial).
    #[inline]
    pub fn tm_at(&self, i: u64) -> u64 {
        self.tm.min(self.m - i * self.tm)
    }
    #[inline]
    pub fn tn_at(&self, j: u64) -> u64 {
        self.tn.min(self.n - j * self.tn)
    }
    #[inline]
    pub fn tk_at(&self, kk: u64) -> u64 {
        self.tk.min(self.k - kk * self.tk)
    }
    /// Output tiles in execution order, as `(i, j)`.
    pub fn tiles(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (ni, nj) = (self.n_i(), self.n_j());
        let order = self.order;
        (0..ni * nj).map(move |t| match order {
            LoopOrder::MOuter => (t / nj, t % nj),
            LoopOrder::NOuter => (t % ni, t / ni),
        })
    }
}

/// Scratchpad lines of the A, B and C tiles of `tm x tk x tn`.
pub fn footprint(cfg: &AccelConfig, tm: u64, tk: u64, tn: u64) -> (u64, u64, u64) {
    cfg.dataflow.rules().footprint(cfg, tm, tk, tn)
}

/// How many times each A tile `(i, kk)` and each B tile `(kk, j)` is loaded under the
/// reuse rule of [`reuse`], in closed form (tested equal to counting [`steps`]).
pub fn reload_counts(t: &Tiling) -> (u64, u64) {
    let (ni, nj, nk) = (t.n_i(), t.n_j(), t.n_k());
    let a = if nk == 1 && (t.order == LoopOrder::MOuter || ni == 1) {
        1
    } else {
        nj
    };
    let b = if nk == 1 && (t.order == LoopOrder::NOuter || nj == 1) {
        1
    } else {
        ni
    };
    (a, b)
}

/// How many times the parameters of each N tile are loaded (int8 output): whenever the N
/// tile changes between consecutive stores, in closed form (tested equal to [`steps`]).
pub fn param_reloads(t: &Tiling) -> u64 {
    if t.order == LoopOrder::NOuter || t.n_j() == 1 {
        1
    } else {
        t.n_i()
    }
}

/// Estimated cycles of a tiling (used only to rank candidates; the simulator's models
/// are the real timing). A is read from memory ([`estimate_for`] with no window).
pub fn estimate(cfg: &AccelConfig, t: &Tiling) -> u64 {
    estimate_for(cfg, t, None)
}

/// Estimated cycles of a tiling whose A operand is the implicit im2col matrix of `window`
/// (`Some`: the A loads are `LOAD_IM2COL`) or read from memory (`None`).
///
/// With `window = None` and `dma_outstanding = 1` this is the original ranking formula
/// (bus bytes over the bus width plus one latency per burst, against the core time, plus
/// the unoverlapped first load and last store), so the tilings of existing designs do not
/// change. Otherwise (`estimate_pipelined`) it follows the steps: every DMA command's
/// bursts are costed as the pipelined DMA costs them (im2col A loads one burst per piece
/// of each row, up to `dma_outstanding` bursts sharing their latency), against the
/// compute of the previous step.
pub fn estimate_for(cfg: &AccelConfig, t: &Tiling, window: Option<&Window>) -> u64 {
    if window.is_some() || cfg.dma_outstanding > 1 {
        return estimate_pipelined(cfg, t, window);
    }
    let (nj, nk) = (t.n_j(), t.n_k());
    let (m, k, n) = (t.m, t.k, t.n);
    // Bus traffic and bursts.
    let (a_reloads, b_reloads) = reload_counts(t);
    let a_bytes = m * k * a_reloads;
    let b_bytes = k * n * b_reloads;
    let a_bursts = m * nk * a_reloads;
    let b_bursts = k * b_reloads * nj;
    let c_bursts = m * nj;
    let lat = cfg.bus_latency_cycles as u64;
    let bus = (a_bytes + b_bytes + m * n).div_ceil(cfg.bus_bytes_per_cycle as u64)
        + (a_bursts + b_bursts + c_bursts) * lat;
    let core = cfg.dataflow.rules().estimate_core(cfg, t);
    // Pipeline fill: the first load and the last store are not overlapped.
    let fill = timing::dma_cycles(cfg, t.tm, t.tk) + timing::store_cycles(cfg, t.tm, t.tn);
    bus.max(core) + fill
}

/// The DMA time of one command's bursts with up to `N = dma_outstanding` in flight, in
/// units of `1/N` cycle: each burst of latency `L` and `b` beats costs `max(N b, L + b)`
/// (the bus is busy `b` cycles; each of the `N` slots is held `L + b`), plus the
/// `(N - 1) L` of the command's first burst, whose latency nothing hides. With `N = 1`
/// this is exactly `sum(L + b)`, the serial DMA.
#[derive(Debug, Clone, Copy, Default)]
struct PipelinedBus {
    /// Accumulated time, in `1/N` cycles.
    scaled: u64,
}

impl PipelinedBus {
    fn burst_scaled(n: u64, latency: u64, beats: u64) -> u64 {
        (n * beats).max(latency + beats)
    }

    /// A command whose bursts cost `scaled` (in `1/N` cycles), in cycles.
    fn command(n: u64, latency: u64, scaled: u64) -> u64 {
        PipelinedBus {
            scaled: scaled + (n - 1) * latency,
        }
        .cycles(n)
    }

    fn cycles(&self, n: u64) -> u64 {
        self.scaled.div_ceil(n)
    }
}

/// The bursts of one row of an im2col A tile whose columns are `k0..k0 + len` of the
/// implicit matrix of `w`, ignoring the padding (a ranking estimate: pad pieces have no
/// latency and split few pieces): the columns are cut where the kernel row changes (and
/// the kernel column, with a horizontal dilation above 1). Calls `f(len)` per piece.
fn im2col_row_pieces(w: &Window, k0: u64, len: u64, mut f: impl FnMut(u64)) {
    let c = w.in_c.max(1) as u64;
    let seg = if w.dw > 1 { c } else { w.kw.max(1) as u64 * c };
    let end = k0 + len;
    let mut u = k0;
    while u < end {
        let next = ((u / seg + 1) * seg).min(end);
        f(next - u);
        u = next;
    }
}

/// The ranking estimate with the pipelined DMA and/or hardware im2col (see
/// [`estimate_for`]), step by step over [`steps`]: each DMA command costs its bursts as
/// [`PipelinedBus`] does (an im2col A load one burst per piece of each row, B loads and
/// stores one per row), and the load group of step `s` plus the store of step `s - 1`
/// overlap the compute of step `s - 1` (double buffering):
///
/// ```text
/// loads(0) + sum_{s >= 1} max(loads(s) + store(s-1), compute(s-1)) + compute(last) + store(last)
/// ```
///
/// where `compute(s)` is the dataflow's core estimate shared by volume. This sees what a
/// whole-GEMM bound misses: one step's large load (a B tile at a change of N tile) that
/// the previous step's compute cannot hide.
fn estimate_pipelined(cfg: &AccelConfig, t: &Tiling, window: Option<&Window>) -> u64 {
    let n = (cfg.dma_outstanding as u64).max(1);
    let lat = cfg.bus_latency_cycles as u64;
    let beats = |bytes: u64| timing::bus_beats(cfg, bytes);
    // The bursts of one A row of each reduction chunk, in 1/N cycles.
    let a_rows: Vec<u64> = (0..t.n_k())
        .map(|kk| {
            let (k0, len) = (kk * t.tk, t.tk_at(kk));
            match window {
                None => PipelinedBus::burst_scaled(n, lat, beats(len)),
                Some(w) => {
                    let mut scaled = 0;
                    im2col_row_pieces(w, k0, len, |l| {
                        scaled += PipelinedBus::burst_scaled(n, lat, beats(l));
                    });
                    scaled
                }
            }
        })
        .collect();
    let a_load = |i: u64, kk: u64| PipelinedBus::command(n, lat, t.tm_at(i) * a_rows[kk as usize]);
    let b_load = |kk: u64, j: u64| {
        let row = PipelinedBus::burst_scaled(n, lat, beats(t.tn_at(j)));
        PipelinedBus::command(n, lat, t.tk_at(kk) * row)
    };
    let core = cfg.dataflow.rules().estimate_core(cfg, t) as u128;
    let volume = (t.m as u128 * t.k as u128 * t.n as u128).max(1);
    let mut total = 0u64;
    // The previous step's compute and store.
    let mut prev: Option<(u64, u64)> = None;
    for s in steps(t, false) {
        let (tm, tk, tn) = (t.tm_at(s.i), t.tk_at(s.kk), t.tn_at(s.j));
        let loads = if s.load_a { a_load(s.i, s.kk) } else { 0 }
            + if s.load_b { b_load(s.kk, s.j) } else { 0 };
        let compute = (core * (tm as u128 * tk as u128 * tn as u128) / volume) as u64;
        let store = if s.last_k {
            timing::store_cycles(cfg, tm, tn)
        } else {
            0
        };
        total += match prev {
            None => loads,
            Some((c, st)) => (loads + st).max(c),
        };
        prev = Some((compute, store));
    }
    if let Some((c, st)) = prev {
        total += c + st;
    }
    total
}

#[cfg(test)]
mod estimate_tests {
    use super::*;
    use crate::Dataflow;

    fn window(in_c: u32, kw: u32, dw: u32) -> Window {
        Window {
            in_h: 16,
            in_w: 16,
            in_c,
            out_w: 16,
            kh: 3,
            kw,
            sh: 1,
            sw: 1,
            dh: 1,
            dw,
            pad_t: 1,
            pad_l: 1,
        }
    }

    fn pieces_of(w: &Window, k0: u64, len: u64) -> Vec<u64> {
        let mut v = Vec::new();
        im2col_row_pieces(w, k0, len, |l| v.push(l));
        v
    }

    /// A row of an im2col tile is cut where the kernel row changes (and the kernel column
    /// with dilation): the in-bounds pieces of `arch::im2col::pieces`.
    #[test]
    fn row_pieces_follow_the_kernel_rows() {
        let w = window(5, 3, 1);
        assert_eq!(pieces_of(&w, 0, 45), vec![15, 15, 15]);
        assert_eq!(pieces_of(&w, 10, 20), vec![5, 15]);
        assert_eq!(pieces_of(&w, 31, 3), vec![3]);
        let w = window(5, 3, 2);
        assert_eq!(pieces_of(&w, 0, 45), vec![5; 9]);
        assert_eq!(pieces_of(&w, 7, 9), vec![3, 5, 1]);
        // Equal to the pieces of a LOAD_IM2COL of an interior position (no padding).
        for (w, k0, len) in [(window(5, 3, 1), 7, 31), (window(3, 3, 2), 2, 20)] {
            let (ky0, kx0, ic0) = w.tap_origin(k0);
            let l = crate::isa::LoadIm2col {
                transpose: false,
                sp_line: 0,
                oy0: 5,
                ox0: 5,
                ky0: ky0 as u8,
                kx0: kx0 as u8,
                ic0: ic0 as u16,
                nrows: 1,
                ncols: len as u16,
                pad_value: 0,
            };
            let want: Vec<u64> = crate::im2col::pieces(&w, &l).map(|p| p.len).collect();
            assert_eq!(pieces_of(&w, k0, len), want, "{w:?} {k0} {len}");
        }
    }

    fn tiling(m: u64, k: u64, n: u64, tm: u64, tk: u64, tn: u64) -> Tiling {
        Tiling {
            m,
            k,
            n,
            tm,
            tk,
            tn,
            order: LoopOrder::MOuter,
        }
    }

    /// With the features off the estimate is the original formula (no window, one
    /// request in flight); with a window, the A pieces' bursts cost more than the rows of
    /// a dense A; more requests in flight never cost more.
    #[test]
    fn pieces_cost_bursts_and_requests_in_flight_overlap_them() {
        for df in Dataflow::ALL {
            let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
            cfg.dataflow = df;
            let w = window(3, 3, 1);
            let t = choose_for(&cfg, 256, 27, 16, Some(&w)).unwrap();
            let dense = estimate_for(&cfg, &t, None);
            assert_eq!(dense, estimate(&cfg, &t));
            // Three 9-byte pieces per row instead of one 27-byte burst: more latency.
            assert!(estimate_for(&cfg, &t, Some(&w)) > dense, "{df} {t:?}");
            let mut prev = (u64::MAX, u64::MAX);
            for outstanding in [1, 2, 4, 8, 16] {
                cfg.dma_outstanding = outstanding;
                let now = (
                    estimate_for(&cfg, &t, Some(&w)),
                    estimate_for(&cfg, &t, None),
                );
                assert!(now.0 <= prev.0 && now.1 <= prev.1, "{df} N={outstanding}");
                prev = now;
            }
            // Bus-bound with one request in flight, four overlap the latencies: the
            // estimate drops (by half on OS, which stays bus-bound; WS and IS become
            // core-bound).
            cfg.dma_outstanding = 1;
            let one = estimate_for(&cfg, &t, Some(&w));
            cfg.dma_outstanding = 4;
            let four = estimate_for(&cfg, &t, Some(&w));
            let factor = if df == Dataflow::OutputStationary {
                2
            } else {
                1
            };
            assert!(four * factor < one, "{df}: {one} -> {four}");
        }
    }

    /// The window-free tiling is unchanged by `choose_problem` (the same ranking), and
    /// the old presets' tilings do not depend on it.
    #[test]
    fn choose_problem_without_a_window_is_choose() {
        for preset in ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"] {
            let cfg = AccelConfig::preset(preset).unwrap();
            for (m, k, n) in [(1, 1, 1), (100, 200, 300), (3136, 27, 8), (49, 4608, 512)] {
                let p = GemmProblem::int8(m, k, n, 0);
                assert_eq!(
                    choose_problem(&cfg, &p),
                    choose(&cfg, m as u64, k as u64, n as u64)
                );
            }
        }
        // Partial tiles along M, N and K are costed.
        let cfg = AccelConfig::preset("edge-8x8-conv").unwrap();
        let w = window(7, 3, 1);
        let whole = estimate_for(&cfg, &tiling(256, 63, 20, 64, 63, 16), Some(&w));
        let split = estimate_for(&cfg, &tiling(256, 63, 20, 64, 20, 16), Some(&w));
        assert!(split > whole, "{split} vs {whole}");
    }
}

/// The configuration fields the schedule, the timing closed forms and the command counts
/// read (`choose_for`, `estimate_for`, `steps`, `plan_step`, `arch::timing`,
/// `Counters::add_command`): two configurations with the same key have the same tilings
/// and the same tile-level counters. Left out: the name (only in error messages), the
/// clock, the technology node and the energy and area tables (they scale cycles and
/// counts into time, energy and area, after the schedule). The bank counts and `acc_bits`
/// are kept although the schedule does not read them (cheap, and safe if it ever does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimingKey {
    pub rows: u32,
    pub cols: u32,
    pub dataflow: crate::Dataflow,
    pub acc_bits: u32,
    pub input_sram_kib: u32,
    pub input_sram_banks: u32,
    pub weight_sram_kib: u32,
    pub weight_sram_banks: u32,
    pub acc_sram_kib: u32,
    pub acc_sram_banks: u32,
    pub bus_bytes_per_cycle: u32,
    pub bus_latency_cycles: u32,
    pub im2col: bool,
    pub dma_outstanding: u32,
    pub cmd_queue_depth: u32,
}

impl TimingKey {
    /// The key of `cfg`.
    pub fn of(cfg: &AccelConfig) -> Self {
        TimingKey {
            rows: cfg.rows,
            cols: cfg.cols,
            dataflow: cfg.dataflow,
            acc_bits: cfg.acc_bits,
            input_sram_kib: cfg.input_sram_kib,
            input_sram_banks: cfg.input_sram_banks,
            weight_sram_kib: cfg.weight_sram_kib,
            weight_sram_banks: cfg.weight_sram_banks,
            acc_sram_kib: cfg.acc_sram_kib,
            acc_sram_banks: cfg.acc_sram_banks,
            bus_bytes_per_cycle: cfg.bus_bytes_per_cycle,
            bus_latency_cycles: cfg.bus_latency_cycles,
            im2col: cfg.im2col,
            dma_outstanding: cfg.dma_outstanding,
            cmd_queue_depth: cfg.cmd_queue_depth,
        }
    }
}

/// Most tilings a thread keeps in its [`choose_for`] memo (then the memo starts over).
pub const CHOICE_MEMO_ENTRIES: usize = 1 << 16;

type ChoiceKey = (TimingKey, u64, u64, u64, Option<Window>);

thread_local! {
    /// Per-thread memo of [`choose_for`]'s successful choices. The choice is a pure
    /// function of the key, and a design sweep, the partitioner (which tiles every layer
    /// to check that it fits) and the tile-level model ask for the same layer shapes on
    /// the same scratchpads many times: the candidate tilings are then ranked once.
    static CHOICES: std::cell::RefCell<crate::fasthash::FastMap<ChoiceKey, Tiling>> =
        std::cell::RefCell::new(crate::fasthash::FastMap::default());
}

/// Chooses the tiling of an `m x k x n` GEMM on `cfg` whose A operand is read from memory.
pub fn choose(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> Result<Tiling, TilingError> {
    choose_for(cfg, m, k, n, None)
}

/// Chooses the tiling of GEMM problem `p` on `cfg`: with `p.im2col = Some(window)` the
/// ranking counts the im2col A loads' pieces ([`estimate_for`]). The program builder
/// (`driver::gemm::build`) and the tile-level model (`sim::tile`) both tile with this.
pub fn choose_problem(cfg: &AccelConfig, p: &GemmProblem) -> Result<Tiling, TilingError> {
    choose_for(cfg, p.m as u64, p.k as u64, p.n as u64, p.im2col.as_ref())
}

/// [`choose`] ranked by [`estimate_for`] with `window` (memoized per thread by
/// [`TimingKey`] and shape; errors are not memoized, their message names `cfg`).
pub fn choose_for(
    cfg: &AccelConfig,
    m: u64,
    k: u64,
    n: u64,
    window: Option<&Window>,
) -> Result<Tiling, TilingError> {
    let key: ChoiceKey = (TimingKey::of(cfg), m, k, n, window.copied());
    if let Some(t) = CHOICES.with(|c| c.borrow().get(&key).copied()) {
        return Ok(t);
    }
    let t = choose_uncached(cfg, m, k, n, window)?;
    CHOICES.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= CHOICE_MEMO_ENTRIES {
            c.clear();
        }
        c.insert(key, t);
    });
    Ok(t)
}

/// [`choose_for`] without the memo: every candidate tiling ranked.
pub fn choose_uncached(
    cfg: &AccelConfig,
    m: u64,
    k: u64,
    n: u64,
    window: Option<&Window>,
) -> Result<Tiling, TilingError> {
    for (name, v) in [("m", m), ("k", k), ("n", n)] {
        if v == 0 {
            return Err(TilingError::ZeroDim(name));
        }
    }
    let rules = cfg.dataflow.rules();
    let c = cfg.cols as u64;
    let cap = Capacity::of(cfg);
    let tn_max = (PPU_PARAM_ENTRIES_PER_COL as u64 * c).min(MAX_FIELD);
    let k_gran = rules.k_granularity(cfg);
    let mut best: Option<(u64, u64, Tiling)> = None;
    let tm_cands = rules.tm_candidates(cfg, m);
    for tn in candidates(n, c, tn_max) {
        let nb = tn.div_ceil(c);
        for &tm in &tm_cands {
            // Accumulator: tn/C blocks of tm lines.
            if nb * tm > cap.acc_half_lines {
                continue;
            }
            // Largest tk that fits input and weight halves.
            let tk_max = rules
                .tk_max(cfg, &cap, tm, tn)
                .min(MAX_FIELD / k_gran * k_gran);
            if tk_max == 0 {
                continue;
            }
            // Even chunks of K.
            let chunks = k.div_ceil(tk_max);
            let tk = k.div_ceil(chunks).div_ceil(k_gran) * k_gran;
            let tk = tk.min(k.max(1)).min(tk_max);
            // The loop order only matters when a tile can be reused (one K chunk and
            // several tiles along both M and N).
            let reuse = k.div_ceil(tk) == 1 && m.div_ceil(tm) > 1 && n.div_ceil(tn) > 1;
            let orders: &[LoopOrder] = if reuse {
                &[LoopOrder::MOuter, LoopOrder::NOuter]
            } else {
                &[LoopOrder::MOuter]
            };
            for &order in orders {
                let t = Tiling {
                    m,
                    k,
                    n,
                    tm,
                    tk,
                    tn,
                    order,
                };
                let est = estimate_for(cfg, &t, window);
                let steps = t.n_i() * t.n_j() * t.n_k();
                if best
                    .as_ref()
                    .is_none_or(|(e, s, _)| (est, steps) < (*e, *s))
                {
                    best = Some((est, steps, t));
                }
            }
        }
    }
    best.map(|(_, _, t)| t).ok_or_else(|| {
        TilingError::NoFit(format!(
            "{m}x{k}x{n} on {}: even a {}x{}x{} tile exceeds half of a scratchpad \
             (input {} / weight {} / accumulator {} lines per half)",
            cfg.name,
            rules.m_granularity(cfg).min(m),
            k_gran.min(k),
            c.min(n),
            cap.input_half_lines,
            cap.weight_half_lines,
            cap.acc_half_lines
        ))
    })
}

/// One reduction step of the schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Output tile `(i, j)` and reduction chunk `kk`.
    pub i: u64,
    pub j: u64,
    pub kk: u64,
    /// Index of the output tile in execution order.
    pub tile: u64,
    pub load_a: bool,
    pub load_b: bool,
    /// The store group (after the last reduction chunk) first loads the PPU parameters of
    /// N tile `j` (int8 output, another N tile than the previous store).
    pub load_params: bool,
    pub first_k: bool,
    pub last_k: bool,
    /// Double-buffer halves (0 or 1) of the A, B and C tiles this step uses.
    pub a_half: u64,
    pub b_half: u64,
    pub acc_half: u64,
    /// The load group waits until the compute of step `s - 2` freed its buffers (C2L).
    pub load_waits_compute: bool,
    /// The compute group frees this step's buffers for the load of step `s + 2` (C2L).
    pub compute_frees_load: bool,
    /// The compute group waits until the store of output tile `tile - 2` freed the
    /// accumulator half (S2C).
    pub compute_waits_store: bool,
    /// The store group frees the accumulator half for output tile `tile + 2` (S2C).
    pub store_frees_acc: bool,
}

impl Step {
    /// Whether the step has a load group.
    #[inline]
    pub fn has_load(&self) -> bool {
        self.load_a || self.load_b
    }
}

/// The reuse rule: a step `(i, j, kk)` loads its A tile `(i, kk)` and its B tile
/// `(kk, j)` unless the previous step `prev` used the same one (it is still in the
/// scratchpad). Returns `(load_a, load_b)`.
#[inline]
pub fn reuse(prev: Option<(u64, u64, u64)>, i: u64, j: u64, kk: u64) -> (bool, bool) {
    match prev {
        None => (true, true),
        Some((pi, pj, pk)) => ((pi, pk) != (i, kk), (pk, pj) != (kk, j)),
    }
}

/// The steps of a tiling in execution order (`params`: int8 output, the store groups
/// load the PPU parameters).
pub fn steps(t: &Tiling, params: bool) -> Vec<Step> {
    let mut out = Vec::new();
    steps_into(t, params, &mut out);
    out
}

/// [`steps`] into `out` (cleared first; no allocation once it has grown).
pub fn steps_into(t: &Tiling, params: bool, out: &mut Vec<Step>) {
    let nk = t.n_k();
    let n_tiles = t.n_i() * t.n_j();
    out.clear();
    out.reserve((n_tiles * nk) as usize);
    let mut prev = None;
    let mut params_j = None;
    let (mut a_half, mut b_half, mut acc_half) = (1u64, 1u64, 1u64);
    for (tile, (i, j)) in t.tiles().enumerate() {
        let tile = tile as u64;
        acc_half ^= 1;
        for kk in 0..nk {
            let (load_a, load_b) = reuse(prev, i, j, kk);
            prev = Some((i, j, kk));
            a_half ^= load_a as u64;
            b_half ^= load_b as u64;
            let last_k = kk + 1 == nk;
            let load_params = params && last_k && params_j != Some(j);
            if load_params {
                params_j = Some(j);
            }
            out.push(Step {
                i,
                j,
                kk,
                tile,
                load_a,
                load_b,
                load_params,
                first_k: kk == 0,
                last_k,
                a_half,
                b_half,
                acc_half,
                load_waits_compute: out.len() >= 2,
                compute_frees_load: false,
                compute_waits_store: kk == 0 && tile >= 2,
                store_frees_acc: tile + 2 < n_tiles,
            });
        }
    }
    for s in 0..out.len() {
        out[s].compute_frees_load = out.get(s + 2).is_some_and(Step::has_load);
    }
}

/// Which GEMM operand a `LOAD` brings in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operand {
    /// `A` (`m x k`) into the input scratchpad.
    A,
    /// `B` (`k x n`) into the weight scratchpad.
    B,
}

/// A `LOAD` of an operand tile: rows `row0..row0+nrows`, columns `col0..col0+ncols` of
/// the row-major operand in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadTile {
    pub operand: Operand,
    pub row0: u64,
    pub col0: u64,
    pub sp: Scratchpad,
    pub transpose: bool,
    pub sp_line: u64,
    pub nrows: u64,
    pub ncols: u64,
    pub deps: Deps,
}

impl LoadTile {
    /// The `LOAD_IM2COL` that loads this A tile from the implicit im2col matrix of `w`
    /// (rows `row0..` are output positions, columns `col0..` taps): same transpose,
    /// scratchpad line and size as the `LOAD` it replaces, taps outside the image
    /// `pad_value`. The one origin rule of the program builder and the tile-level model.
    pub fn im2col_load(&self, w: &Window, pad_value: i8) -> crate::isa::LoadIm2col {
        let (oy0, ox0) = w.origin(self.row0);
        let (ky0, kx0, ic0) = w.tap_origin(self.col0);
        crate::isa::LoadIm2col {
            transpose: self.transpose,
            sp_line: self.sp_line as u32,
            oy0: oy0 as u16,
            ox0: ox0 as u16,
            ky0: ky0 as u8,
            kx0: kx0 as u8,
            ic0: ic0 as u16,
            nrows: self.nrows as u16,
            ncols: self.ncols as u16,
            pad_value,
        }
    }

    /// The `LOAD` with the tile's first byte at `mem_addr` and rows `mem_stride` apart.
    pub fn command(&self, mem_addr: u64, mem_stride: u64) -> Command {
        Command {
            op: Op::Load(Load {
                sp: self.sp,
                transpose: self.transpose,
                sp_line: self.sp_line as u32,
                mem_addr: mem_addr as u32,
                mem_stride: mem_stride as u32,
                nrows: self.nrows as u16,
                ncols: self.ncols as u16,
            }),
            deps: self.deps,
        }
    }
}

/// The `LOAD_PARAMS` of the store group: parameters of columns `col0..col0+count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamsTile {
    pub col0: u64,
    pub count: u64,
    pub deps: Deps,
}

/// The `STORE` of an output tile: accumulator lines from `acc_line` to rows
/// `row0..row0+nrows`, columns `col0..col0+ncols` of C.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTile {
    pub acc_line: u64,
    pub row0: u64,
    pub col0: u64,
    pub nrows: u64,
    pub ncols: u64,
    pub deps: Deps,
}

/// The commands of one step, in issue order: `loads`, `computes`, then (last reduction
/// chunk only) `params` and `store`.
#[derive(Debug, Clone, PartialEq)]
pub struct StepPlan {
    pub loads: Vec<LoadTile>,
    pub computes: Vec<Command>,
    pub params: Option<ParamsTile>,
    pub store: Option<StoreTile>,
}

/// The commands of step `s` of tiling `t` on `cfg` (the step from [`steps`]).
pub fn plan_step(cfg: &AccelConfig, t: &Tiling, s: &Step) -> StepPlan {
    let rules = cfg.dataflow.rules();
    let cap = Capacity::of(cfg);
    let (tm, tk, tn) = (t.tm_at(s.i), t.tk_at(s.kk), t.tn_at(s.j));
    let (a_tr, b_tr) = rules.load_transposes();
    let mut loads = Vec::with_capacity(2);
    let a_base = s.a_half * cap.input_half_lines;
    let b_base = s.b_half * cap.weight_half_lines;
    let c_base = s.acc_half * cap.acc_half_lines;
    if s.load_a {
        loads.push(LoadTile {
            operand: Operand::A,
            row0: s.i * t.tm,
            col0: s.kk * t.tk,
            sp: Scratchpad::Input,
            transpose: a_tr,
            sp_line: a_base,
            nrows: tm,
            ncols: tk,
            deps: Deps::NONE,
        });
    }
    if s.load_b {
        loads.push(LoadTile {
            operand: Operand::B,
            row0: s.kk * t.tk,
            col0: s.j * t.tn,
            sp: Scratchpad::Weight,
            transpose: b_tr,
            sp_line: b_base,
            nrows: tk,
            ncols: tn,
            deps: Deps::NONE,
        });
    }
    if let Some(first) = loads.first_mut() {
        first.deps.pop_next = s.load_waits_compute;
    }
    if let Some(last) = loads.last_mut() {
        last.deps.push_next = true;
    }
    let tiles = StepTiles {
        tm,
        tk,
        tn,
        a_base,
        b_base,
        c_base,
        first_k: s.first_k,
    };
    let mut computes: Vec<Command> = rules
        .core_tiles(cfg, &tiles)
        .into_iter()
        .map(|c: Compute| Command::new(Op::Compute(c)))
        .collect();
    if let Some(first) = computes.first_mut() {
        first.deps.pop_prev = s.has_load();
        first.deps.pop_next = s.compute_waits_store;
    }
    if let Some(last) = computes.last_mut() {
        last.deps.push_prev = s.compute_frees_load;
        last.deps.push_next = s.last_k;
    }
    let (mut params, mut store) = (None, None);
    if s.last_k {
        let mut p = s.load_params.then_some(ParamsTile {
            col0: s.j * t.tn,
            count: tn,
            deps: Deps::NONE,
        });
        let mut st = StoreTile {
            acc_line: c_base,
            row0: s.i * t.tm,
            col0: s.j * t.tn,
            nrows: tm,
            ncols: tn,
            deps: Deps::NONE,
        };
        match p.as_mut() {
            Some(p) => p.deps.pop_prev = true,
            None => st.deps.pop_prev = true,
        }
        st.deps.push_prev = s.store_frees_acc;
        params = p;
        store = Some(st);
    }
    StepPlan {
        loads,
        computes,
        params,
        store,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataflow;

    const PRESETS: [&str; 4] = ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"];
    const SHAPES: [(u64, u64, u64); 6] = [
        (1, 1, 1),
        (100, 200, 300),
        (3136, 27, 8),
        (1, 1024, 12),
        (49, 4608, 512),
        (33, 17, 65),
    ];

    #[test]
    fn tiles_fit_and_cover() {
        for preset in PRESETS {
            for df in Dataflow::ALL {
                let mut cfg = AccelConfig::preset(preset).unwrap();
                cfg.dataflow = df;
                let cap = Capacity::of(&cfg);
                for (m, k, n) in SHAPES {
                    let t = choose(&cfg, m, k, n).unwrap();
                    let (a, b, c) = footprint(&cfg, t.tm, t.tk, t.tn);
                    assert!(a <= cap.input_half_lines, "{preset} {t:?}");
                    assert!(b <= cap.weight_half_lines, "{preset} {t:?}");
                    assert!(c <= cap.acc_half_lines, "{preset} {t:?}");
                    assert!(t.tm <= m && t.tk <= k && t.tn <= n);
                    let g = cfg.dataflow.rules().k_granularity(&cfg);
                    if t.tk < k {
                        assert_eq!(t.tk % g, 0, "{preset} {df} {t:?}");
                    }
                    if df == Dataflow::InputStationary {
                        assert!(t.tm <= cfg.rows as u64);
                        if t.tn < n {
                            assert_eq!(t.tn % cfg.cols as u64, 0);
                        }
                    }
                    assert_eq!(t.tiles().count() as u64, t.n_i() * t.n_j());
                }
            }
        }
    }

    #[test]
    fn zero_dim_rejected() {
        let cfg = AccelConfig::default();
        assert_eq!(choose(&cfg, 0, 1, 1), Err(TilingError::ZeroDim("m")));
    }

    /// The closed-form reload counts of the ranking estimate are the counts of the loads
    /// the steps do, for every order and shape.
    #[test]
    fn reload_counts_equal_the_steps() {
        for (m, k, n) in [(1, 1, 1), (9, 5, 7), (40, 3, 30), (7, 90, 13), (64, 64, 64)] {
            for (tm, tk, tn) in [(1, 1, 1), (4, 5, 4), (8, 2, 12), (3, 7, 5), (64, 64, 64)] {
                for order in [LoopOrder::MOuter, LoopOrder::NOuter] {
                    let t = Tiling {
                        m,
                        k,
                        n,
                        tm: tm.min(m),
                        tk: tk.min(k),
                        tn: tn.min(n),
                        order,
                    };
                    let st = steps(&t, true);
                    let (ra, rb) = reload_counts(&t);
                    let a = st.iter().filter(|s| s.load_a).count() as u64;
                    let b = st.iter().filter(|s| s.load_b).count() as u64;
                    let p = st.iter().filter(|s| s.load_params).count() as u64;
                    assert_eq!(a, ra * t.n_i() * t.n_k(), "{t:?}");
                    assert_eq!(b, rb * t.n_j() * t.n_k(), "{t:?}");
                    assert_eq!(p, param_reloads(&t) * t.n_j(), "{t:?}");
                    assert_eq!(steps(&t, false).iter().filter(|s| s.load_params).count(), 0);
                }
            }
        }
    }

    /// The ranking estimate's tilings for OS and WS, recorded before the schedule moved
    /// to `arch` (the estimate formula must not change their choice; the move was checked
    /// against the previous `driver::tiling` on 13,552 shapes x presets x OS/WS: identical
    /// tilings and estimates; `tests/baseline_totals.rs` guards the report totals).
    #[test]
    fn os_ws_tilings_unchanged() {
        let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
        let t = choose(&cfg, 3136, 27, 8).unwrap();
        assert_eq!((t.tm, t.tk, t.tn), RECORDED_OS_8X8);
        cfg.dataflow = Dataflow::WeightStationary;
        let t = choose(&cfg, 3136, 27, 8).unwrap();
        assert_eq!((t.tm, t.tk, t.tn), RECORDED_WS_8X8);
    }

    const RECORDED_OS_8X8: (u64, u64, u64) = (8, 27, 8);
    const RECORDED_WS_8X8: (u64, u64, u64) = (13, 27, 8);

    /// Every step plan's commands pass `Command::check` on IS configurations, and the
    /// core tiles cover the output tile exactly once per reduction value.
    #[test]
    fn is_plans_are_legal_and_cover() {
        for (rows, cols) in [(8, 8), (4, 16), (16, 4), (3, 5)] {
            let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
            cfg.rows = rows;
            cfg.cols = cols;
            cfg.dataflow = Dataflow::InputStationary;
            cfg.validate().unwrap();
            for (m, k, n) in [(1, 1, 1), (20, 37, 300), (7, 8, 9), (64, 200, 700)] {
                let t = choose(&cfg, m, k, n).unwrap();
                for s in steps(&t, true) {
                    let p = plan_step(&cfg, &t, &s);
                    let mut macs = 0;
                    for c in &p.computes {
                        c.check(&cfg).unwrap();
                        if let Op::Compute(cp) = c.op {
                            macs += cp.m as u64 * cp.k as u64 * cp.n as u64;
                        }
                    }
                    assert_eq!(macs, t.tm_at(s.i) * t.tk_at(s.kk) * t.tn_at(s.j));
                    for l in &p.loads {
                        l.command(0, 1 << 16).check(&cfg).unwrap();
                    }
                }
            }
        }
    }
}
