//! The one plan of a vector-unit program (`docs/architecture.md` sections 3.5 and 9),
//! shared by the driver's program builder and the simulator's tile-level model
//! (`sim::vtile`), as [`crate::schedule`] is for GEMMs.
//!
//! **Problems** ([`VProblem`]): `positions x channels` outputs, each the reduction of
//! `taps` inputs of its own channel (the vector unit's lanes are channels):
//! - depthwise convolution with depth multiplier 1 (`MAC`, per-channel weights `taps x
//!   channels` row-major, which is TFLite's `[1, kh, kw, C]` filter as it is);
//! - average (`SUM` with a divisor) and max (`MAX`) pooling;
//! - int8 `ADD` of two same-shape tensors (`taps = 1`, operand 2 per position).
//!
//! The input operand is the *implicit matrix* `A` (`positions x taps*channels`, columns
//! in `(tap, channel)` order: the im2col matrix of the window), read either by the im2col
//! unit ([`VSource::Im2col`]) or by plain `LOAD`s of a row-major matrix in memory
//! ([`VSource::Matrix`]: the CPU's im2col, or the tensor itself when it already is that
//! matrix: a global pool, an `ADD` operand).
//!
//! **Tiling** ([`VTiling`], [`choose`]): `tp` positions and `tg` channel groups of
//! `L = rows` lanes per tile, channel tiles outer, position tiles inner. A tile's input
//! lines hold position `r`, tap `t`, group `g` (relative to the tile's first group) at
//! line `half + (t*tg' + g)*tp' + r`, lane `channel % L` (`tg'`, `tp'`: the tile's actual
//! extents), which is exactly where a non-transposed `LOAD`/`LOAD_IM2COL` of `tp'` rows
//! and `taps * channels` columns puts them when the tile covers all channels and
//! `channels % L == 0` (one command; bursts of `kw * channels` bytes), and otherwise one
//! command per tap (`channels` of the tile as columns). `VSET` then sets `tap_stride =
//! tg'*tp'`, and group `g`'s `VCOMPUTE` reads from `half + g*tp'`. `MAC` weights: tap `t`
//! of group `g` at weight line `half + g*taps + t` (one `LOAD` of `taps x channels` when
//! `rows == cols`, else one per group); `ADD` operand 2 at weight line `half + g*tp' + r`.
//! Results: position `r` of group `g` at accumulator line `half + g*tp' + r`; one `STORE`
//! of the tile when `rows == cols` (the STORE's line rule puts channel `c` at line
//! `(c / cols)*nrows + r`), else one per group. Every extent fits its field (16-bit
//! `m`, `k`, `nrows`, `ncols`, 24-bit lines and strides) and half of its scratchpad
//! (double buffering as the GEMM program does).
//!
//! **Protocol** (section 5's four token FIFOs, as the GEMM program uses them; every step
//! has a load group and ends an output tile): load group `s` pops `C2L` when `s >= 2` and
//! pushes `L2C` on its last command; compute group `s` pops `L2C` (and `S2C` when `s >=
//! 2`) on its first command and pushes `C2L` (when load group `s+2` exists) and `C2S` on
//! its last; store group `s` pops `C2S` on its first and pushes `S2C` on its last when
//! compute group `s+2` exists. The program starts with `CONV_GEOM` (im2col source) and
//! ends with `FINISH`.

use crate::im2col::Window;
use crate::isa::{
    AddRescale, Command, ConvGeom, Deps, Load, LoadIm2col, LoadParams, Op, Scratchpad, Store,
    VCompute, VMode, VSet, MAX_LINE, MAX_STRIDE, PARAM_RECORD_BYTES, PPU_PARAM_ENTRIES_PER_COL,
};
use crate::schedule::Capacity;
use crate::AccelConfig;

/// Largest 16-bit field value.
const MAX16: u64 = u16::MAX as u64;

/// Where the input operand comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VSource {
    /// The im2col unit reads the NHWC image at `VLayout::a_addr` through this window
    /// (`in_c` = channels, `kh*kw` = taps, `out_h*out_w` = positions).
    Im2col(Window),
    /// A row-major `positions x taps*channels` matrix at `VLayout::a_addr`.
    Matrix,
}

/// A vector problem (shape and mode; addresses and output values are [`VLayout`]'s).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VProblem {
    pub mode: VMode,
    /// `SUM`: the divisor (0 = none).
    pub divisor: u16,
    /// `ADD`: the rescale of both operands.
    pub add: AddRescale,
    pub positions: u64,
    pub taps: u64,
    pub channels: u64,
    pub source: VSource,
}

impl VProblem {
    /// Depthwise convolution (multiplier 1) of `positions x channels` outputs.
    pub fn depthwise(positions: u64, taps: u64, channels: u64, source: VSource) -> Self {
        VProblem {
            mode: VMode::Mac,
            divisor: 0,
            add: AddRescale::default(),
            positions,
            taps,
            channels,
            source,
        }
    }

    /// Average (`divisor > 0`: `SUM` and divide) or max pooling.
    pub fn pool(
        max: bool,
        divisor: u16,
        positions: u64,
        taps: u64,
        channels: u64,
        source: VSource,
    ) -> Self {
        VProblem {
            mode: if max { VMode::Max } else { VMode::Sum },
            divisor: if max { 0 } else { divisor },
            add: AddRescale::default(),
            positions,
            taps,
            channels,
            source,
        }
    }

    /// `ADD` of two `positions x channels` operands.
    pub fn add(add: AddRescale, positions: u64, channels: u64) -> Self {
        VProblem {
            mode: VMode::Add,
            divisor: 0,
            add,
            positions,
            taps: 1,
            channels,
            source: VSource::Matrix,
        }
    }

    /// Per-channel PPU parameters (`MAC`: bias and requantization per channel); the
    /// other modes use one record for every channel.
    pub fn per_channel_params(&self) -> bool {
        self.mode == VMode::Mac
    }

    /// The lane operations of the problem: MACs (`MAC`), reduce operations (`SUM`,
    /// `MAX`) or additions (`ADD`), `positions * taps * channels`.
    pub fn ops(&self) -> u64 {
        self.positions * self.taps * self.channels
    }

    /// Bytes of the input operand in memory: the image (im2col source) or the matrix.
    pub fn a_bytes(&self) -> u64 {
        match self.source {
            VSource::Im2col(w) => w.image_bytes(),
            VSource::Matrix => self.positions * self.taps * self.channels,
        }
    }

    /// Bytes of the second operand in memory: `MAC` weights (`taps x channels`), `ADD`
    /// operand 2 (`positions x channels`), none for pools.
    pub fn b_bytes(&self) -> u64 {
        match self.mode {
            VMode::Mac => self.taps * self.channels,
            VMode::Add => self.positions * self.channels,
            VMode::Sum | VMode::Max => 0,
        }
    }

    /// Parameter records the program reads (`channels` for `MAC`, one otherwise... the
    /// driver writes `channels` records in every mode, see [`VLayout::params_addr`]).
    pub fn param_records(&self) -> u64 {
        self.channels
    }

    /// Output bytes (`positions x channels`, int8).
    pub fn c_bytes(&self) -> u64 {
        self.positions * self.channels
    }
}

/// Where the operands live and the output values (nothing here changes the timing).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VLayout {
    /// The input operand (image or matrix, [`VSource`]).
    pub a_addr: u64,
    /// The value of im2col taps outside the image (the input zero point for `MAC`, -128
    /// for `MAX`).
    pub a_pad: i8,
    /// `MAC` weights (`taps x channels` row-major) or `ADD` operand 2 (`positions x
    /// channels`).
    pub b_addr: u64,
    /// `channels` parameter records (12 bytes each: bias, multiplier, shift), record `c`
    /// for channel `c` (identical records in every mode but `MAC`).
    pub params_addr: u64,
    /// The output, `positions x channels` row-major int8.
    pub c_addr: u64,
    pub zp_out: i8,
    pub act_min: i8,
    pub act_max: i8,
}

impl VLayout {
    /// Addresses 0 and the full output range: what the tile-level model costs.
    pub fn timing() -> Self {
        VLayout {
            act_min: -128,
            act_max: 127,
            ..Default::default()
        }
    }
}

/// Errors of the vector plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VPlanError {
    #[error("vector problem: `{0}` is zero")]
    ZeroDim(&'static str),
    #[error("this configuration has no vector unit mode {mode} ({feature} = false)")]
    NoMode {
        mode: &'static str,
        feature: &'static str,
    },
    #[error("this configuration has no im2col unit (im2col = false)")]
    NoIm2col,
    #[error("vector problem: {0}")]
    NoFit(String),
    #[error("internal: generated command {index} ({cmd}) is illegal: {reason}")]
    Internal {
        index: usize,
        cmd: String,
        reason: String,
    },
}

/// The tiling of a vector problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VTiling {
    /// Lanes (`rows`).
    pub lanes: u64,
    /// Channel groups of `lanes` channels (`ceil(channels / lanes)`).
    pub groups: u64,
    /// Positions per tile.
    pub tp: u64,
    /// Channel groups per tile.
    pub tg: u64,
    pub positions: u64,
    pub channels: u64,
    pub taps: u64,
    /// Half-scratchpad capacities, lines.
    pub cap: (u64, u64, u64),
    /// `rows == cols`: one weight `LOAD`, `LOAD_PARAMS` and `STORE` per tile (else one
    /// per group).
    pub square: bool,
}

impl VTiling {
    /// Position tiles.
    pub fn n_p(&self) -> u64 {
        self.positions.div_ceil(self.tp)
    }
    /// Channel tiles.
    pub fn n_g(&self) -> u64 {
        self.groups.div_ceil(self.tg)
    }
    /// Steps (tiles) of the program.
    pub fn steps(&self) -> u64 {
        self.n_p() * self.n_g()
    }
}

/// Lines of one tile of `tp` positions and `tg` groups: (input, weight, acc).
fn tile_lines(mode: VMode, taps: u64, tp: u64, tg: u64) -> (u64, u64, u64) {
    let w = match mode {
        VMode::Mac => tg * taps,
        VMode::Add => tg * tp,
        VMode::Sum | VMode::Max => 0,
    };
    (taps * tg * tp, w, tg * tp)
}

/// Checks that `cfg` can run `p` at all (mode and im2col unit).
fn check_modes(cfg: &AccelConfig, p: &VProblem) -> Result<(), VPlanError> {
    if !p.mode.enabled(cfg) || !cfg.has_vpu() {
        return Err(VPlanError::NoMode {
            mode: p.mode.name(),
            feature: p.mode.feature(),
        });
    }
    if matches!(p.source, VSource::Im2col(_)) && !cfg.im2col {
        return Err(VPlanError::NoIm2col);
    }
    Ok(())
}

/// The tiling of `p` on `cfg`: the most channel groups per tile that leave room for at
/// least `min(positions, lanes)` positions (else the largest tile), then as many
/// positions as fit, split evenly over the position tiles.
pub fn choose(cfg: &AccelConfig, p: &VProblem) -> Result<VTiling, VPlanError> {
    for (v, what) in [
        (p.positions, "positions"),
        (p.taps, "taps"),
        (p.channels, "channels"),
    ] {
        if v == 0 {
            return Err(VPlanError::ZeroDim(what));
        }
    }
    check_modes(cfg, p)?;
    if p.mode == VMode::Add && p.taps != 1 {
        return Err(VPlanError::NoFit(format!(
            "ADD takes one tap per position, not {}",
            p.taps
        )));
    }
    if p.taps > MAX16 {
        return Err(VPlanError::NoFit(format!(
            "{} taps exceed the 16-bit k field",
            p.taps
        )));
    }
    let lanes = cfg.rows as u64;
    let square = cfg.rows == cfg.cols;
    let groups = p.channels.div_ceil(lanes);
    let cap = Capacity::of(cfg);
    let (hi, hw, ha) = (
        cap.input_half_lines,
        cap.weight_half_lines,
        cap.acc_half_lines,
    );
    // Row strides in memory: matrix rows of taps*channels bytes, output rows of channels.
    if p.channels > MAX_STRIDE as u64
        || (p.source == VSource::Matrix && p.taps * p.channels > MAX_STRIDE as u64)
    {
        return Err(VPlanError::NoFit(format!(
            "a row of {} x {} bytes exceeds the 24-bit stride field",
            p.taps, p.channels
        )));
    }
    // Largest positions per tile for `tg` groups (0: none fits).
    let max_tp = |tg: u64| -> u64 {
        let (li, lw, la) = tile_lines(p.mode, p.taps, 1, tg);
        let mut tp = p.positions.min(MAX16).min(hi / li).min(ha / la);
        match p.mode {
            VMode::Mac if lw > hw => tp = 0,
            VMode::Add => tp = tp.min(hw / lw),
            _ => {}
        }
        // The channels of one STORE/LOAD_PARAMS (square: the whole tile) fit the PPU.
        let ppu = PPU_PARAM_ENTRIES_PER_COL as u64 * cfg.cols as u64;
        if square && (tg * lanes).min(p.channels) > ppu.min(MAX16) {
            tp = 0;
        }
        // tap_stride = tg*tp within 24 bits.
        tp.min(MAX_LINE as u64 / tg)
    };
    let want = p.positions.min(lanes);
    let mut best: Option<(u64, u64)> = None;
    for tg in (1..=groups).rev() {
        let tp = max_tp(tg);
        if tp == 0 {
            continue;
        }
        if tp >= want {
            best = Some((tg, tp));
            break;
        }
        if best.is_none_or(|(g, t)| tg * tp > g * t) {
            best = Some((tg, tp));
        }
    }
    let (tg, tp) = best.ok_or_else(|| {
        VPlanError::NoFit(format!(
            "one position of one channel group ({} taps) does not fit half of the scratchpads \
             (input {hi}, weight {hw}, accumulator {ha} lines)",
            p.taps
        ))
    })?;
    // Split the positions evenly over the tiles.
    let n_p = p.positions.div_ceil(tp);
    let tp = p.positions.div_ceil(n_p);
    Ok(VTiling {
        lanes,
        groups,
        tp,
        tg,
        positions: p.positions,
        channels: p.channels,
        taps: p.taps,
        cap: (hi, hw, ha),
        square,
    })
}

/// The commands of one step (tile), by engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VStep {
    /// Load group: input (and weight / operand-2) loads.
    pub loads: Vec<Command>,
    /// Compute group: an optional `VSET`, then one `VCOMPUTE` per channel group.
    pub computes: Vec<Command>,
    /// Store group: optional `LOAD_PARAMS`, then the `STORE`s.
    pub stores: Vec<Command>,
}

/// A whole vector program.
#[derive(Debug, Clone, PartialEq)]
pub struct VPlan {
    pub tiling: VTiling,
    /// The `CONV_GEOM` of an im2col source (first command, no tokens).
    pub head: Option<Command>,
    pub steps: Vec<VStep>,
}

impl VPlan {
    /// The command list: the head, every step's groups in order, `FINISH`.
    pub fn commands(&self) -> Vec<Command> {
        let mut out: Vec<Command> = self.head.iter().copied().collect();
        for s in &self.steps {
            out.extend_from_slice(&s.loads);
            out.extend_from_slice(&s.computes);
            out.extend_from_slice(&s.stores);
        }
        out.push(Command::new(Op::Finish));
        out
    }
}

/// Sets the first command's pops and the last command's pushes of a group.
fn flag_group(
    group: &mut [Command],
    first: impl Fn(&mut Deps),
    last: impl Fn(&mut Deps),
) -> Result<(), VPlanError> {
    let n = group.len();
    if n == 0 {
        return Err(VPlanError::Internal {
            index: 0,
            cmd: "(empty group)".into(),
            reason: "every step has loads, computes and stores".into(),
        });
    }
    first(&mut group[0].deps);
    last(&mut group[n - 1].deps);
    Ok(())
}

fn u32_of(v: u64, what: &str) -> Result<u32, VPlanError> {
    u32::try_from(v).map_err(|_| VPlanError::NoFit(format!("{what} {v:#x} beyond 32 bits")))
}

/// The program of `p` on `cfg` with the tiling of [`choose`] and the operands at
/// `layout`; every command is checked against `cfg` (`Command::check`).
pub fn plan(cfg: &AccelConfig, p: &VProblem, layout: &VLayout) -> Result<VPlan, VPlanError> {
    let t = choose(cfg, p)?;
    plan_with(cfg, p, layout, t)
}

/// [`plan`] with a given tiling (it must come from [`choose`] for the same problem).
pub fn plan_with(
    cfg: &AccelConfig,
    p: &VProblem,
    layout: &VLayout,
    t: VTiling,
) -> Result<VPlan, VPlanError> {
    check_modes(cfg, p)?;
    let (lanes, c_total, taps) = (t.lanes, p.channels, p.taps);
    let (hi, hw, ha) = t.cap;
    let steps_n = t.steps();
    let head = match p.source {
        VSource::Im2col(w) => Some(Command::new(Op::ConvGeom(ConvGeom {
            mem_addr: u32_of(layout.a_addr, "image address")?,
            ..w.geom(0)
        }))),
        VSource::Matrix => None,
    };
    let mut steps = Vec::with_capacity(steps_n as usize);
    let mut vset_now: Option<VSet> = None;
    let mut s = 0u64;
    for gt in 0..t.n_g() {
        let g0 = gt * t.tg;
        let g1 = (g0 + t.tg).min(t.groups);
        let gc = g1 - g0;
        let (ch0, ch1) = (g0 * lanes, (g1 * lanes).min(c_total));
        let lanes_of = |g: u64| ((g + 1) * lanes).min(c_total) - g * lanes;
        for pt in 0..t.n_p() {
            let p0 = pt * t.tp;
            let tp = t.tp.min(p.positions - p0);
            let a_base = (s % 2) * hi;
            let c_base = (s % 2) * ha;
            let mut st = VStep::default();
            // Input loads.
            let whole = ch0 == 0 && ch1 == c_total && c_total % lanes == 0;
            let row = taps * c_total;
            let single = whole && row <= MAX16;
            let a_cmds: Vec<(u64, u64, u64)> = if single {
                vec![(0, 0, row)]
            } else {
                (0..taps).map(|tap| (tap, ch0, ch1 - ch0)).collect()
            };
            for (tap, c0, ncols) in a_cmds {
                let sp_line = u32_of(a_base + tap * gc * tp, "line")?;
                let op = match p.source {
                    VSource::Im2col(w) => {
                        let (oy0, ox0) = w.origin(p0);
                        Op::LoadIm2col(LoadIm2col {
                            transpose: false,
                            sp_line,
                            oy0: oy0 as u16,
                            ox0: ox0 as u16,
                            ky0: (tap / w.kw as u64) as u8,
                            kx0: (tap % w.kw as u64) as u8,
                            ic0: c0 as u16,
                            nrows: tp as u16,
                            ncols: ncols as u16,
                            pad_value: layout.a_pad,
                        })
                    }
                    VSource::Matrix => Op::Load(Load {
                        sp: Scratchpad::Input,
                        transpose: false,
                        sp_line,
                        mem_addr: u32_of(
                            layout.a_addr + p0 * row + tap * c_total + c0,
                            "input address",
                        )?,
                        mem_stride: row as u32,
                        nrows: tp as u16,
                        ncols: ncols as u16,
                    }),
                };
                st.loads.push(Command::new(op));
            }
            // Weight (MAC, once per channel tile) or operand-2 (ADD, every tile) loads.
            let load_b = match p.mode {
                VMode::Mac => pt == 0,
                VMode::Add => true,
                VMode::Sum | VMode::Max => false,
            };
            let w_base = match p.mode {
                VMode::Mac => (gt % 2) * hw,
                _ => (s % 2) * hw,
            };
            if load_b {
                let (nrows, per_g, src0) = match p.mode {
                    VMode::Mac => (taps, taps, layout.b_addr),
                    _ => (tp, tp, layout.b_addr + p0 * c_total),
                };
                let pieces: Vec<(u64, u64, u64)> = if t.square {
                    vec![(0, ch0, ch1 - ch0)]
                } else {
                    (g0..g1).map(|g| (g - g0, g * lanes, lanes_of(g))).collect()
                };
                for (gi, c0, ncols) in pieces {
                    st.loads.push(Command::new(Op::Load(Load {
                        sp: Scratchpad::Weight,
                        transpose: false,
                        sp_line: u32_of(w_base + gi * per_g, "line")?,
                        mem_addr: u32_of(src0 + c0, "operand address")?,
                        mem_stride: c_total as u32,
                        nrows: nrows as u16,
                        ncols: ncols as u16,
                    })));
                }
            }
            // Compute group.
            let set = VSet {
                mode: p.mode,
                tap_stride: if p.mode == VMode::Add {
                    0
                } else {
                    (gc * tp) as u32
                },
                divisor: p.divisor,
                add: if p.mode == VMode::Add {
                    p.add
                } else {
                    AddRescale::default()
                },
            };
            if vset_now != Some(set) {
                st.computes.push(Command::new(Op::VSet(set)));
                vset_now = Some(set);
            }
            for g in g0..g1 {
                let gi = g - g0;
                let b_line = match p.mode {
                    VMode::Mac => w_base + gi * taps,
                    VMode::Add => w_base + gi * tp,
                    VMode::Sum | VMode::Max => 0,
                };
                st.computes.push(Command::new(Op::VCompute(VCompute {
                    accumulate: false,
                    a_line: u32_of(a_base + gi * tp, "line")?,
                    b_line: u32_of(b_line, "line")?,
                    c_line: u32_of(c_base + gi * tp, "line")?,
                    m: tp as u16,
                    k: taps as u16,
                    n: lanes_of(g) as u16,
                })));
            }
            // Store group.
            let params = |c0: u64, count: u64| -> Result<Command, VPlanError> {
                Ok(Command::new(Op::LoadParams(LoadParams {
                    mem_addr: u32_of(
                        layout.params_addr + c0 * PARAM_RECORD_BYTES as u64,
                        "parameter address",
                    )?,
                    count: count as u16,
                    zp_out: layout.zp_out,
                    act_min: layout.act_min,
                    act_max: layout.act_max,
                })))
            };
            let store = |gi: u64, c0: u64, ncols: u64| -> Result<Command, VPlanError> {
                Ok(Command::new(Op::Store(Store {
                    raw_int32: false,
                    acc_line: u32_of(c_base + gi * tp, "line")?,
                    mem_addr: u32_of(layout.c_addr + p0 * c_total + c0, "output address")?,
                    mem_stride: c_total as u32,
                    nrows: tp as u16,
                    ncols: ncols as u16,
                })))
            };
            if t.square {
                if (p.per_channel_params() && pt == 0) || s == 0 {
                    let count = if p.per_channel_params() {
                        ch1 - ch0
                    } else {
                        (t.tg * lanes).min(c_total)
                    };
                    st.stores.push(params(ch0, count)?);
                }
                st.stores.push(store(0, ch0, ch1 - ch0)?);
            } else {
                for g in g0..g1 {
                    if p.per_channel_params() || (s == 0 && g == g0) {
                        let count = if p.per_channel_params() {
                            lanes_of(g)
                        } else {
                            lanes
                        };
                        st.stores.push(params(g * lanes, count.min(c_total))?);
                    }
                    st.stores.push(store(g - g0, g * lanes, lanes_of(g))?);
                }
            }
            // Tokens.
            let more = s + 2 < steps_n;
            flag_group(
                &mut st.loads,
                |d| d.pop_next = s >= 2,
                |d| d.push_next = true,
            )?;
            flag_group(
                &mut st.computes,
                |d| {
                    d.pop_prev = true;
                    d.pop_next = s >= 2;
                },
                |d| {
                    d.push_prev = more;
                    d.push_next = true;
                },
            )?;
            flag_group(
                &mut st.stores,
                |d| d.pop_prev = true,
                |d| d.push_prev = more,
            )?;
            steps.push(st);
            s += 1;
        }
    }
    let plan = VPlan {
        tiling: t,
        head,
        steps,
    };
    for (index, cmd) in plan.commands().iter().enumerate() {
        cmd.check(cfg).map_err(|e| VPlanError::Internal {
            index,
            cmd: cmd.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(plan)
}
