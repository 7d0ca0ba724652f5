//! The command set of the accelerator and its 128-bit binary encoding (the field table is
//! in `docs/architecture.md`, section 6).
//!
//! [`Command::encode`] and [`Command::decode`] are exact inverses on valid commands;
//! [`Command::decode`] rejects malformed words with a typed [`DecodeError`] and never
//! panics. [`Command::check`] adds the checks that depend on the configuration.

use crate::config::AccelConfig;
use std::fmt;

/// Bytes per encoded command.
pub const COMMAND_BYTES: usize = 16;

/// The PPU parameter RAM holds this many entries per array column.
pub const PPU_PARAM_ENTRIES_PER_COL: u32 = 16;

/// Bytes of one PPU parameter record in memory: bias, multiplier, shift (i32 LE each).
pub const PARAM_RECORD_BYTES: usize = 12;

/// Largest line address (24-bit fields).
pub const MAX_LINE: u32 = (1 << 24) - 1;
/// Largest memory stride (24-bit fields).
pub const MAX_STRIDE: u32 = (1 << 24) - 1;

/// Largest `n` of a `COMPUTE` (the field holds `n - 1` in 8 bits).
pub const MAX_COMPUTE_N: u64 = 256;

/// The four dependency-token flags of a command (see the architecture doc, section 5).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Deps {
    pub pop_prev: bool,
    pub pop_next: bool,
    pub push_prev: bool,
    pub push_next: bool,
}

impl Deps {
    /// No dependency flags.
    pub const NONE: Deps = Deps {
        pop_prev: false,
        pop_next: false,
        push_prev: false,
        push_next: false,
    };
}

/// Target scratchpad of a `LOAD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scratchpad {
    Input,
    Weight,
}

/// The engine that executes a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    Load,
    Compute,
    Store,
}

/// `LOAD`: a 2-D block of int8 from main memory into the input or weight scratchpad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Load {
    pub sp: Scratchpad,
    pub transpose: bool,
    pub sp_line: u32,
    pub mem_addr: u32,
    pub mem_stride: u32,
    pub nrows: u16,
    pub ncols: u16,
}

/// `LOAD_PARAMS`: per-column bias/multiplier/shift and the output quantization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoadParams {
    pub mem_addr: u32,
    pub count: u16,
    pub zp_out: i8,
    pub act_min: i8,
    pub act_max: i8,
}

/// `COMPUTE`: one core tile (see the architecture doc, section 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Compute {
    pub accumulate: bool,
    pub a_line: u32,
    pub b_line: u32,
    pub c_line: u32,
    pub m: u16,
    pub k: u16,
    /// 1..=256.
    pub n: u16,
}

/// `STORE`: accumulators to main memory, through the PPU (int8) or raw (int32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Store {
    pub raw_int32: bool,
    pub acc_line: u32,
    pub mem_addr: u32,
    pub mem_stride: u32,
    pub nrows: u16,
    pub ncols: u16,
}

/// Largest `in_h`, `in_w`, `out_w` of a `CONV_GEOM` and `oy0`, `ox0` of a `LOAD_IM2COL`
/// (12-bit fields).
pub const MAX_GEOM_DIM: u16 = 4095;
/// Largest kernel size, stride and dilation of a `CONV_GEOM` (4-bit `value - 1` fields).
pub const MAX_GEOM_KERNEL: u8 = 16;
/// Largest top/left padding of a `CONV_GEOM` (4-bit fields).
pub const MAX_GEOM_PAD: u8 = 15;

/// `CONV_GEOM`: sets the load engine's window registers (the convolution geometry that
/// the following `LOAD_IM2COL` commands read). No data movement. Natural values (a 3x3
/// kernel has `kh = 3`); the encoding stores `kh - 1` etc. (`docs/architecture.md`
/// section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvGeom {
    /// Device address of the NHWC image (`in_h x in_w x in_c` int8).
    pub mem_addr: u32,
    /// 1..=4095.
    pub in_h: u16,
    /// 1..=4095.
    pub in_w: u16,
    /// 1..=65535.
    pub in_c: u16,
    /// Output columns, 1..=4095.
    pub out_w: u16,
    /// Kernel height, 1..=16.
    pub kh: u8,
    /// Kernel width, 1..=16.
    pub kw: u8,
    /// Vertical stride, 1..=16.
    pub sh: u8,
    /// Horizontal stride, 1..=16.
    pub sw: u8,
    /// Vertical dilation, 1..=16.
    pub dh: u8,
    /// Horizontal dilation, 1..=16.
    pub dw: u8,
    /// Top padding, 0..=15.
    pub pad_t: u8,
    /// Left padding, 0..=15.
    pub pad_l: u8,
}

/// `LOAD_IM2COL`: an `nrows x ncols` tile of the implicit im2col matrix of the last
/// `CONV_GEOM` into the input scratchpad, placed as a `LOAD` of `nrows x ncols` would
/// place it (`crate::im2col` has the element and piece rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LoadIm2col {
    /// Same meaning as `LOAD`'s.
    pub transpose: bool,
    pub sp_line: u32,
    /// Output row of the tile's first position (0..=4095).
    pub oy0: u16,
    /// Output column of the tile's first position (`< out_w`).
    pub ox0: u16,
    /// First tap's kernel row (`< kh`).
    pub ky0: u8,
    /// First tap's kernel column (`< kw`).
    pub kx0: u8,
    /// First tap's input channel (`< in_c`).
    pub ic0: u16,
    /// Positions (rows of the tile), >= 1.
    pub nrows: u16,
    /// Taps (columns of the tile), >= 1.
    pub ncols: u16,
    /// The value written for taps outside the image (the driver uses the input zero
    /// point).
    pub pad_value: i8,
}

/// The vector unit's operation (`docs/architecture.md` section 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum VMode {
    /// Depthwise: `sum_t x_t * w_t` per lane (`depthwise = true`).
    #[default]
    Mac,
    /// Sum of the taps, optionally divided with average pooling's rounding
    /// (`pooling = true`).
    Sum,
    /// Largest tap (`pooling = true`).
    Max,
    /// TFLite's int8 ADD rescale of two operands (`eltwise = true`).
    Add,
}

impl VMode {
    /// The 2-bit encoding.
    pub fn code(self) -> u8 {
        match self {
            VMode::Mac => 0,
            VMode::Sum => 1,
            VMode::Max => 2,
            VMode::Add => 3,
        }
    }

    /// From the 2-bit encoding.
    pub fn from_code(c: u8) -> Option<VMode> {
        match c {
            0 => Some(VMode::Mac),
            1 => Some(VMode::Sum),
            2 => Some(VMode::Max),
            3 => Some(VMode::Add),
            _ => None,
        }
    }

    /// The mnemonic.
    pub fn name(self) -> &'static str {
        match self {
            VMode::Mac => "MAC",
            VMode::Sum => "SUM",
            VMode::Max => "MAX",
            VMode::Add => "ADD",
        }
    }

    /// The configuration field that gives the vector unit this mode.
    pub fn feature(self) -> &'static str {
        match self {
            VMode::Mac => "depthwise",
            VMode::Sum | VMode::Max => "pooling",
            VMode::Add => "eltwise",
        }
    }

    /// Whether `cfg` has this mode.
    pub fn enabled(self, cfg: &AccelConfig) -> bool {
        match self {
            VMode::Mac => cfg.depthwise,
            VMode::Sum | VMode::Max => cfg.pooling,
            VMode::Add => cfg.eltwise,
        }
    }
}

/// The `ADD` mode's rescale of both operands (TFLite-Micro's int8 ADD:
/// `mbqm((off + x) << left_shift, m, s)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AddRescale {
    /// `-zero_point` of operand 1, -256..=255 (9-bit signed field).
    pub off1: i16,
    /// `-zero_point` of operand 2.
    pub off2: i16,
    /// 0..=31 (TFLite uses 20).
    pub left_shift: u8,
    pub m1: i32,
    /// -32..=31 (6-bit signed field).
    pub s1: i8,
    pub m2: i32,
    pub s2: i8,
}

/// Largest magnitude range of the 9-bit offsets of [`AddRescale`].
pub const VSET_OFF_MIN: i16 = -256;
pub const VSET_OFF_MAX: i16 = 255;

/// `VSET`: the vector unit's mode registers. Modes `MAC`, `SUM`, `MAX` use `tap_stride`
/// and (`SUM` only) `divisor`; `ADD` uses `add`. Fields a mode does not use must be zero
/// (they are not encoded).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct VSet {
    pub mode: VMode,
    /// Input lines between consecutive taps (24-bit field).
    pub tap_stride: u32,
    /// `SUM`: divide the sum by this with average pooling's rounding (0 = no divide).
    pub divisor: u16,
    pub add: AddRescale,
}

/// `VCOMPUTE`: `m` positions of `k` taps on `n <= rows` lanes, with the mode of the last
/// `VSET` (`docs/architecture.md` section 3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VCompute {
    /// Add into (`MAX`: take the larger of) the accumulator lines instead of overwriting.
    pub accumulate: bool,
    /// Input line of position 0, tap 0; tap `t` of position `p` is at
    /// `a_line + t * tap_stride + p`.
    pub a_line: u32,
    /// `MAC`: weight line of tap 0 (tap `t` at `b_line + t`); `ADD`: operand 2 of
    /// position 0 (position `p` at `b_line + p`); unused by `SUM` and `MAX`.
    pub b_line: u32,
    /// Accumulator line of position 0.
    pub c_line: u32,
    /// Positions, >= 1.
    pub m: u16,
    /// Taps, >= 1 (`ADD`: 1).
    pub k: u16,
    /// Lanes, `1..=rows`.
    pub n: u16,
}

/// The operation of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Load(Load),
    LoadParams(LoadParams),
    Compute(Compute),
    Store(Store),
    ConvGeom(ConvGeom),
    LoadIm2col(LoadIm2col),
    VSet(VSet),
    VCompute(VCompute),
    Finish,
}

/// One command: an operation and its dependency flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Command {
    pub op: Op,
    pub deps: Deps,
}

/// Opcodes.
pub mod opcode {
    pub const LOAD: u8 = 1;
    pub const LOAD_PARAMS: u8 = 2;
    pub const COMPUTE: u8 = 3;
    pub const STORE: u8 = 4;
    pub const CONV_GEOM: u8 = 5;
    pub const LOAD_IM2COL: u8 = 6;
    pub const VSET: u8 = 7;
    pub const VCOMPUTE: u8 = 8;
    pub const FINISH: u8 = 15;
}

/// Why a 128-bit word is not a valid command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown opcode {0}")]
    UnknownOpcode(u8),
    #[error("{op}: reserved bits set (mask {mask:#034x})")]
    ReservedBits { op: &'static str, mask: u128 },
    #[error("LOAD: scratchpad id {0} is not 0 (input) or 1 (weight)")]
    BadScratchpad(u8),
    #[error("{op}: field `{field}` must not be zero")]
    Zero {
        op: &'static str,
        field: &'static str,
    },
    #[error("LOAD_PARAMS: act_min {min} > act_max {max}")]
    ActRange { min: i8, max: i8 },
    #[error("{op}: the {queue} engine has no `{flag}` neighbour")]
    BadDep {
        op: &'static str,
        queue: &'static str,
        flag: &'static str,
    },
    #[error("command buffer length {0} is not a multiple of 16 bytes")]
    Length(usize),
}

/// Why a command cannot run on a given configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{op}: field `{field}` = {value}: {reason}")]
pub struct CheckError {
    pub op: &'static str,
    pub field: &'static str,
    pub value: u64,
    pub reason: String,
}

fn get(w: u128, lo: u32, width: u32) -> u128 {
    (w >> lo) & ((1u128 << width) - 1)
}

fn put(w: &mut u128, lo: u32, width: u32, v: u128) {
    debug_assert!(v < (1u128 << width));
    *w |= (v & ((1u128 << width) - 1)) << lo;
}

fn mask(fields: &[(u32, u32)]) -> u128 {
    fields
        .iter()
        .fold(0u128, |m, &(lo, w)| m | (((1u128 << w) - 1) << lo))
}

const LOAD_FIELDS: &[(u32, u32)] = &[
    (0, 8),
    (8, 2),
    (10, 1),
    (16, 24),
    (40, 32),
    (72, 24),
    (96, 16),
    (112, 16),
];
const PARAMS_FIELDS: &[(u32, u32)] = &[(0, 8), (16, 32), (48, 16), (64, 8), (72, 8), (80, 8)];
const COMPUTE_FIELDS: &[(u32, u32)] = &[
    (0, 8),
    (8, 1),
    (16, 24),
    (40, 24),
    (64, 24),
    (88, 16),
    (104, 16),
    (120, 8),
];
const STORE_FIELDS: &[(u32, u32)] = &[
    (0, 8),
    (8, 1),
    (16, 24),
    (40, 32),
    (72, 24),
    (96, 16),
    (112, 16),
];
const FINISH_FIELDS: &[(u32, u32)] = &[(0, 8)];
const CONV_GEOM_FIELDS: &[(u32, u32)] = &[(0, 8), (8, 32), (40, 12), (52, 12), (64, 16), (80, 44)];
const LOAD_IM2COL_FIELDS: &[(u32, u32)] = &[
    (0, 8),
    (10, 1),
    (16, 24),
    (40, 12),
    (52, 12),
    (64, 4),
    (68, 4),
    (72, 16),
    (88, 16),
    (104, 16),
    (120, 8),
];

const VSET_REDUCE_FIELDS: &[(u32, u32)] = &[(0, 8), (8, 2), (16, 24), (40, 16)];
const VSET_ADD_FIELDS: &[(u32, u32)] = &[
    (0, 8),
    (8, 2),
    (16, 9),
    (25, 9),
    (34, 6),
    (40, 32),
    (72, 6),
    (80, 32),
    (112, 6),
];

fn sign_extend(v: u128, bits: u32) -> i64 {
    let v = v as i64;
    (v << (64 - bits)) >> (64 - bits)
}

impl Op {
    /// The mnemonic.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Load(_) => "LOAD",
            Op::LoadParams(_) => "LOAD_PARAMS",
            Op::Compute(_) => "COMPUTE",
            Op::Store(_) => "STORE",
            Op::ConvGeom(_) => "CONV_GEOM",
            Op::LoadIm2col(_) => "LOAD_IM2COL",
            Op::VSet(_) => "VSET",
            Op::VCompute(_) => "VCOMPUTE",
            Op::Finish => "FINISH",
        }
    }

    /// The engine that executes it (`None` for `FINISH`, seen by all).
    pub fn queue(&self) -> Option<Queue> {
        match self {
            Op::Load(_) | Op::ConvGeom(_) | Op::LoadIm2col(_) => Some(Queue::Load),
            Op::Compute(_) | Op::VSet(_) | Op::VCompute(_) => Some(Queue::Compute),
            Op::LoadParams(_) | Op::Store(_) => Some(Queue::Store),
            Op::Finish => None,
        }
    }
}

impl Command {
    /// A command without dependency flags.
    pub fn new(op: Op) -> Self {
        Command {
            op,
            deps: Deps::NONE,
        }
    }

    /// The 128-bit word. Fields wider than their encoding are truncated, so encode only
    /// commands that [`Command::check`] accepts (the driver does).
    pub fn encode_word(&self) -> u128 {
        let mut w = 0u128;
        let d = self.deps;
        put(&mut w, 4, 1, d.pop_prev as u128);
        put(&mut w, 5, 1, d.pop_next as u128);
        put(&mut w, 6, 1, d.push_prev as u128);
        put(&mut w, 7, 1, d.push_next as u128);
        match self.op {
            Op::Load(l) => {
                put(&mut w, 0, 4, opcode::LOAD as u128);
                let sp = match l.sp {
                    Scratchpad::Input => 0,
                    Scratchpad::Weight => 1,
                };
                put(&mut w, 8, 2, sp);
                put(&mut w, 10, 1, l.transpose as u128);
                put(&mut w, 16, 24, (l.sp_line & MAX_LINE) as u128);
                put(&mut w, 40, 32, l.mem_addr as u128);
                put(&mut w, 72, 24, (l.mem_stride & MAX_STRIDE) as u128);
                put(&mut w, 96, 16, l.nrows as u128);
                put(&mut w, 112, 16, l.ncols as u128);
            }
            Op::LoadParams(p) => {
                put(&mut w, 0, 4, opcode::LOAD_PARAMS as u128);
                put(&mut w, 16, 32, p.mem_addr as u128);
                put(&mut w, 48, 16, p.count as u128);
                put(&mut w, 64, 8, p.zp_out as u8 as u128);
                put(&mut w, 72, 8, p.act_min as u8 as u128);
                put(&mut w, 80, 8, p.act_max as u8 as u128);
            }
            Op::Compute(c) => {
                put(&mut w, 0, 4, opcode::COMPUTE as u128);
                put(&mut w, 8, 1, c.accumulate as u128);
                put(&mut w, 16, 24, (c.a_line & MAX_LINE) as u128);
                put(&mut w, 40, 24, (c.b_line & MAX_LINE) as u128);
                put(&mut w, 64, 24, (c.c_line & MAX_LINE) as u128);
                put(&mut w, 88, 16, c.m as u128);
                put(&mut w, 104, 16, c.k as u128);
                put(&mut w, 120, 8, (c.n.clamp(1, 256) - 1) as u128);
            }
            Op::Store(s) => {
                put(&mut w, 0, 4, opcode::STORE as u128);
                put(&mut w, 8, 1, s.raw_int32 as u128);
                put(&mut w, 16, 24, (s.acc_line & MAX_LINE) as u128);
                put(&mut w, 40, 32, s.mem_addr as u128);
                put(&mut w, 72, 24, (s.mem_stride & MAX_STRIDE) as u128);
                put(&mut w, 96, 16, s.nrows as u128);
                put(&mut w, 112, 16, s.ncols as u128);
            }
            Op::ConvGeom(g) => {
                // `value - 1` fields: out-of-range values are clamped (encode only
                // commands that `check` accepts).
                let m1 = |v: u8| (v.clamp(1, MAX_GEOM_KERNEL) - 1) as u128;
                put(&mut w, 0, 4, opcode::CONV_GEOM as u128);
                put(&mut w, 8, 32, g.mem_addr as u128);
                put(&mut w, 40, 12, (g.in_h & MAX_GEOM_DIM) as u128);
                put(&mut w, 52, 12, (g.in_w & MAX_GEOM_DIM) as u128);
                put(&mut w, 64, 16, g.in_c as u128);
                put(&mut w, 80, 12, (g.out_w & MAX_GEOM_DIM) as u128);
                put(&mut w, 92, 4, m1(g.kh));
                put(&mut w, 96, 4, m1(g.kw));
                put(&mut w, 100, 4, m1(g.sh));
                put(&mut w, 104, 4, m1(g.sw));
                put(&mut w, 108, 4, m1(g.dh));
                put(&mut w, 112, 4, m1(g.dw));
                put(&mut w, 116, 4, (g.pad_t & MAX_GEOM_PAD) as u128);
                put(&mut w, 120, 4, (g.pad_l & MAX_GEOM_PAD) as u128);
            }
            Op::LoadIm2col(l) => {
                put(&mut w, 0, 4, opcode::LOAD_IM2COL as u128);
                put(&mut w, 10, 1, l.transpose as u128);
                put(&mut w, 16, 24, (l.sp_line & MAX_LINE) as u128);
                put(&mut w, 40, 12, (l.oy0 & MAX_GEOM_DIM) as u128);
                put(&mut w, 52, 12, (l.ox0 & MAX_GEOM_DIM) as u128);
                put(&mut w, 64, 4, (l.ky0 & 0xF) as u128);
                put(&mut w, 68, 4, (l.kx0 & 0xF) as u128);
                put(&mut w, 72, 16, l.ic0 as u128);
                put(&mut w, 88, 16, l.nrows as u128);
                put(&mut w, 104, 16, l.ncols as u128);
                put(&mut w, 120, 8, l.pad_value as u8 as u128);
            }
            Op::VSet(v) => {
                put(&mut w, 0, 4, opcode::VSET as u128);
                put(&mut w, 8, 2, v.mode.code() as u128);
                if v.mode == VMode::Add {
                    let a = v.add;
                    put(&mut w, 16, 9, (a.off1 as u16 & 0x1FF) as u128);
                    put(&mut w, 25, 9, (a.off2 as u16 & 0x1FF) as u128);
                    put(&mut w, 34, 6, (a.left_shift & 0x3F) as u128);
                    put(&mut w, 40, 32, a.m1 as u32 as u128);
                    put(&mut w, 72, 6, (a.s1 as u8 & 0x3F) as u128);
                    put(&mut w, 80, 32, a.m2 as u32 as u128);
                    put(&mut w, 112, 6, (a.s2 as u8 & 0x3F) as u128);
                } else {
                    put(&mut w, 16, 24, (v.tap_stride & MAX_LINE) as u128);
                    put(&mut w, 40, 16, v.divisor as u128);
                }
            }
            Op::VCompute(c) => {
                put(&mut w, 0, 4, opcode::VCOMPUTE as u128);
                put(&mut w, 8, 1, c.accumulate as u128);
                put(&mut w, 16, 24, (c.a_line & MAX_LINE) as u128);
                put(&mut w, 40, 24, (c.b_line & MAX_LINE) as u128);
                put(&mut w, 64, 24, (c.c_line & MAX_LINE) as u128);
                put(&mut w, 88, 16, c.m as u128);
                put(&mut w, 104, 16, c.k as u128);
                put(&mut w, 120, 8, (c.n.clamp(1, 256) - 1) as u128);
            }
            Op::Finish => put(&mut w, 0, 4, opcode::FINISH as u128),
        }
        w
    }

    /// The 16 bytes (little-endian).
    pub fn encode(&self) -> [u8; COMMAND_BYTES] {
        self.encode_word().to_le_bytes()
    }

    /// Decodes 16 bytes.
    pub fn decode(bytes: &[u8; COMMAND_BYTES]) -> Result<Command, DecodeError> {
        Self::decode_word(u128::from_le_bytes(*bytes))
    }

    /// Decodes a 128-bit word.
    pub fn decode_word(w: u128) -> Result<Command, DecodeError> {
        let opc = get(w, 0, 4) as u8;
        let deps = Deps {
            pop_prev: get(w, 4, 1) == 1,
            pop_next: get(w, 5, 1) == 1,
            push_prev: get(w, 6, 1) == 1,
            push_next: get(w, 7, 1) == 1,
        };
        let reserved = |op: &'static str, fields: &[(u32, u32)]| {
            let extra = w & !mask(fields);
            if extra != 0 {
                Err(DecodeError::ReservedBits { op, mask: extra })
            } else {
                Ok(())
            }
        };
        let nonzero = |op: &'static str, field: &'static str, v: u128| {
            if v == 0 {
                Err(DecodeError::Zero { op, field })
            } else {
                Ok(v)
            }
        };
        let op = match opc {
            opcode::LOAD => {
                reserved("LOAD", LOAD_FIELDS)?;
                let sp = match get(w, 8, 2) as u8 {
                    0 => Scratchpad::Input,
                    1 => Scratchpad::Weight,
                    other => return Err(DecodeError::BadScratchpad(other)),
                };
                Op::Load(Load {
                    sp,
                    transpose: get(w, 10, 1) == 1,
                    sp_line: get(w, 16, 24) as u32,
                    mem_addr: get(w, 40, 32) as u32,
                    mem_stride: get(w, 72, 24) as u32,
                    nrows: nonzero("LOAD", "nrows", get(w, 96, 16))? as u16,
                    ncols: nonzero("LOAD", "ncols", get(w, 112, 16))? as u16,
                })
            }
            opcode::LOAD_PARAMS => {
                reserved("LOAD_PARAMS", PARAMS_FIELDS)?;
                let act_min = get(w, 72, 8) as u8 as i8;
                let act_max = get(w, 80, 8) as u8 as i8;
                if act_min > act_max {
                    return Err(DecodeError::ActRange {
                        min: act_min,
                        max: act_max,
                    });
                }
                Op::LoadParams(LoadParams {
                    mem_addr: get(w, 16, 32) as u32,
                    count: nonzero("LOAD_PARAMS", "count", get(w, 48, 16))? as u16,
                    zp_out: get(w, 64, 8) as u8 as i8,
                    act_min,
                    act_max,
                })
            }
            opcode::COMPUTE => {
                reserved("COMPUTE", COMPUTE_FIELDS)?;
                Op::Compute(Compute {
                    accumulate: get(w, 8, 1) == 1,
                    a_line: get(w, 16, 24) as u32,
                    b_line: get(w, 40, 24) as u32,
                    c_line: get(w, 64, 24) as u32,
                    m: nonzero("COMPUTE", "m", get(w, 88, 16))? as u16,
                    k: nonzero("COMPUTE", "k", get(w, 104, 16))? as u16,
                    n: get(w, 120, 8) as u16 + 1,
                })
            }
            opcode::STORE => {
                reserved("STORE", STORE_FIELDS)?;
                Op::Store(Store {
                    raw_int32: get(w, 8, 1) == 1,
                    acc_line: get(w, 16, 24) as u32,
                    mem_addr: get(w, 40, 32) as u32,
                    mem_stride: get(w, 72, 24) as u32,
                    nrows: nonzero("STORE", "nrows", get(w, 96, 16))? as u16,
                    ncols: nonzero("STORE", "ncols", get(w, 112, 16))? as u16,
                })
            }
            opcode::CONV_GEOM => {
                const OP: &str = "CONV_GEOM";
                reserved(OP, CONV_GEOM_FIELDS)?;
                let p1 = |lo: u32| get(w, lo, 4) as u8 + 1;
                Op::ConvGeom(ConvGeom {
                    mem_addr: get(w, 8, 32) as u32,
                    in_h: nonzero(OP, "in_h", get(w, 40, 12))? as u16,
                    in_w: nonzero(OP, "in_w", get(w, 52, 12))? as u16,
                    in_c: nonzero(OP, "in_c", get(w, 64, 16))? as u16,
                    out_w: nonzero(OP, "out_w", get(w, 80, 12))? as u16,
                    kh: p1(92),
                    kw: p1(96),
                    sh: p1(100),
                    sw: p1(104),
                    dh: p1(108),
                    dw: p1(112),
                    pad_t: get(w, 116, 4) as u8,
                    pad_l: get(w, 120, 4) as u8,
                })
            }
            opcode::LOAD_IM2COL => {
                const OP: &str = "LOAD_IM2COL";
                reserved(OP, LOAD_IM2COL_FIELDS)?;
                Op::LoadIm2col(LoadIm2col {
                    transpose: get(w, 10, 1) == 1,
                    sp_line: get(w, 16, 24) as u32,
                    oy0: get(w, 40, 12) as u16,
                    ox0: get(w, 52, 12) as u16,
                    ky0: get(w, 64, 4) as u8,
                    kx0: get(w, 68, 4) as u8,
                    ic0: get(w, 72, 16) as u16,
                    nrows: nonzero(OP, "nrows", get(w, 88, 16))? as u16,
                    ncols: nonzero(OP, "ncols", get(w, 104, 16))? as u16,
                    pad_value: get(w, 120, 8) as u8 as i8,
                })
            }
            opcode::VSET => {
                const OP: &str = "VSET";
                let mode = VMode::from_code(get(w, 8, 2) as u8).expect("2-bit mode");
                if mode == VMode::Add {
                    reserved(OP, VSET_ADD_FIELDS)?;
                    Op::VSet(VSet {
                        mode,
                        tap_stride: 0,
                        divisor: 0,
                        add: AddRescale {
                            off1: sign_extend(get(w, 16, 9), 9) as i16,
                            off2: sign_extend(get(w, 25, 9), 9) as i16,
                            left_shift: get(w, 34, 6) as u8,
                            m1: get(w, 40, 32) as u32 as i32,
                            s1: sign_extend(get(w, 72, 6), 6) as i8,
                            m2: get(w, 80, 32) as u32 as i32,
                            s2: sign_extend(get(w, 112, 6), 6) as i8,
                        },
                    })
                } else {
                    reserved(OP, VSET_REDUCE_FIELDS)?;
                    Op::VSet(VSet {
                        mode,
                        tap_stride: get(w, 16, 24) as u32,
                        divisor: get(w, 40, 16) as u16,
                        add: AddRescale::default(),
                    })
                }
            }
            opcode::VCOMPUTE => {
                const OP: &str = "VCOMPUTE";
                reserved(OP, COMPUTE_FIELDS)?;
                Op::VCompute(VCompute {
                    accumulate: get(w, 8, 1) == 1,
                    a_line: get(w, 16, 24) as u32,
                    b_line: get(w, 40, 24) as u32,
                    c_line: get(w, 64, 24) as u32,
                    m: nonzero(OP, "m", get(w, 88, 16))? as u16,
                    k: nonzero(OP, "k", get(w, 104, 16))? as u16,
                    n: get(w, 120, 8) as u16 + 1,
                })
            }
            opcode::FINISH => {
                reserved("FINISH", FINISH_FIELDS)?;
                if deps != Deps::NONE {
                    return Err(DecodeError::BadDep {
                        op: "FINISH",
                        queue: "no",
                        flag: "any",
                    });
                }
                Op::Finish
            }
            other => return Err(DecodeError::UnknownOpcode(other)),
        };
        let cmd = Command { op, deps };
        cmd.check_deps()?;
        Ok(cmd)
    }

    fn check_deps(&self) -> Result<(), DecodeError> {
        let op = self.op.name();
        match self.op.queue() {
            Some(Queue::Load) if self.deps.pop_prev || self.deps.push_prev => {
                Err(DecodeError::BadDep {
                    op,
                    queue: "load",
                    flag: "prev",
                })
            }
            Some(Queue::Store) if self.deps.pop_next || self.deps.push_next => {
                Err(DecodeError::BadDep {
                    op,
                    queue: "store",
                    flag: "next",
                })
            }
            _ => Ok(()),
        }
    }

    /// Checks that the command is encodable exactly (field ranges) and legal on `cfg`
    /// (scratchpad line ranges, array limits for the dataflow, parameter RAM size).
    pub fn check(&self, cfg: &AccelConfig) -> Result<(), CheckError> {
        let op = self.op.name();
        let err = |field: &'static str, value: u64, reason: String| CheckError {
            op,
            field,
            value,
            reason,
        };
        let rows = cfg.rows as u64;
        let cols = cfg.cols as u64;
        let in_lines = cfg.input_sram_bytes() / rows;
        let w_lines = cfg.weight_sram_bytes() / cols;
        let acc_lines = cfg.acc_sram_bytes() / (4 * cols);
        let range = |field: &'static str, base: u32, count: u64, lines: u64, sp: &str| {
            if base > MAX_LINE {
                return Err(err(
                    field,
                    base as u64,
                    "exceeds the 24-bit line field".into(),
                ));
            }
            if base as u64 + count > lines {
                return Err(err(
                    field,
                    base as u64,
                    format!(
                        "{count} lines from here exceed the {lines} lines of the {sp} scratchpad"
                    ),
                ));
            }
            Ok(())
        };
        let no_im2col = || {
            if cfg.im2col {
                Ok(())
            } else {
                Err(err(
                    "opcode",
                    match self.op {
                        Op::ConvGeom(_) => opcode::CONV_GEOM,
                        _ => opcode::LOAD_IM2COL,
                    } as u64,
                    "this configuration has no im2col unit (im2col = false)".into(),
                ))
            }
        };
        let no_vpu = || {
            if cfg.has_vpu() {
                Ok(())
            } else {
                Err(err(
                    "opcode",
                    match self.op {
                        Op::VSet(_) => opcode::VSET,
                        _ => opcode::VCOMPUTE,
                    } as u64,
                    "this configuration has no vector unit (depthwise, pooling and eltwise \
                     are all false)"
                        .into(),
                ))
            }
        };
        if self.deps.pop_prev || self.deps.push_prev {
            if let Some(Queue::Load) = self.op.queue() {
                return Err(err("deps", 0, "the load engine has no prev".into()));
            }
        }
        match self.op {
            Op::Load(l) => {
                if l.mem_stride > MAX_STRIDE {
                    return Err(err(
                        "mem_stride",
                        l.mem_stride as u64,
                        "exceeds 24 bits".into(),
                    ));
                }
                if l.nrows == 0 || l.ncols == 0 {
                    return Err(err("nrows/ncols", 0, "must not be zero".into()));
                }
                let (w, lines, name) = match l.sp {
                    Scratchpad::Input => (rows, in_lines, "input"),
                    Scratchpad::Weight => (cols, w_lines, "weight"),
                };
                let n_lines = load_lines(&l, w);
                range("sp_line", l.sp_line, n_lines, lines, name)?;
                let end =
                    l.mem_addr as u64 + (l.nrows as u64 - 1) * l.mem_stride as u64 + l.ncols as u64;
                if end > u32::MAX as u64 + 1 {
                    return Err(err(
                        "mem_addr",
                        l.mem_addr as u64,
                        "block exceeds the 32-bit address space".into(),
                    ));
                }
            }
            Op::LoadParams(p) => {
                let cap = PPU_PARAM_ENTRIES_PER_COL as u64 * cols;
                if p.count == 0 || p.count as u64 > cap {
                    return Err(err(
                        "count",
                        p.count as u64,
                        format!("must be 1..={cap} (the PPU parameter RAM)"),
                    ));
                }
                if p.act_min > p.act_max {
                    return Err(err(
                        "act_min",
                        p.act_min as u64,
                        "greater than act_max".into(),
                    ));
                }
            }
            Op::Compute(c) => {
                if c.m == 0 || c.k == 0 || c.n == 0 {
                    return Err(err("m/k/n", 0, "must not be zero".into()));
                }
                if c.n as u64 > MAX_COMPUTE_N {
                    return Err(err(
                        "n",
                        c.n as u64,
                        format!("exceeds the 8-bit n-1 field (at most {MAX_COMPUTE_N})"),
                    ));
                }
                let rules = cfg.dataflow.rules();
                let (m, k, n) = (c.m as u64, c.k as u64, c.n as u64);
                rules
                    .check_shape(rows, cols, m, k, n)
                    .map_err(|v| err(v.field, v.value, v.reason))?;
                let (a_lines, b_lines) = rules.operand_lines(m, k, n);
                range("a_line", c.a_line, a_lines, in_lines, "input")?;
                range("b_line", c.b_line, b_lines, w_lines, "weight")?;
                // Accumulator lines written: one per output row and block of `cols` columns
                // (IS blocks its `n` columns; OS and WS have `n <= cols`, one block).
                let c_lines = crate::dataflow::acc_lines(cfg, m, n);
                range("c_line", c.c_line, c_lines, acc_lines, "accumulator")?;
            }
            Op::Store(s) => {
                if s.mem_stride > MAX_STRIDE {
                    return Err(err(
                        "mem_stride",
                        s.mem_stride as u64,
                        "exceeds 24 bits".into(),
                    ));
                }
                if s.nrows == 0 || s.ncols == 0 {
                    return Err(err("nrows/ncols", 0, "must not be zero".into()));
                }
                let blocks = (s.ncols as u64).div_ceil(cols);
                range(
                    "acc_line",
                    s.acc_line,
                    blocks * s.nrows as u64,
                    acc_lines,
                    "accumulator",
                )?;
                if !s.raw_int32 && s.ncols as u64 > PPU_PARAM_ENTRIES_PER_COL as u64 * cols {
                    return Err(err(
                        "ncols",
                        s.ncols as u64,
                        "more columns than the PPU parameter RAM holds".into(),
                    ));
                }
                let e = if s.raw_int32 { 4 } else { 1 };
                let end = s.mem_addr as u64
                    + (s.nrows as u64 - 1) * s.mem_stride as u64
                    + s.ncols as u64 * e;
                if end > u32::MAX as u64 + 1 {
                    return Err(err(
                        "mem_addr",
                        s.mem_addr as u64,
                        "block exceeds the 32-bit address space".into(),
                    ));
                }
            }
            Op::ConvGeom(g) => {
                no_im2col()?;
                for (field, v) in [("in_h", g.in_h), ("in_w", g.in_w), ("out_w", g.out_w)] {
                    if v == 0 || v > MAX_GEOM_DIM {
                        return Err(err(
                            field,
                            v as u64,
                            format!("must be 1..={MAX_GEOM_DIM} (12-bit field)"),
                        ));
                    }
                }
                if g.in_c == 0 {
                    return Err(err("in_c", 0, "must not be zero".into()));
                }
                for (field, v) in [
                    ("kh", g.kh),
                    ("kw", g.kw),
                    ("sh", g.sh),
                    ("sw", g.sw),
                    ("dh", g.dh),
                    ("dw", g.dw),
                ] {
                    if v == 0 || v > MAX_GEOM_KERNEL {
                        return Err(err(
                            field,
                            v as u64,
                            format!("must be 1..={MAX_GEOM_KERNEL} (4-bit `value - 1` field)"),
                        ));
                    }
                }
                for (field, v) in [("pad_t", g.pad_t), ("pad_l", g.pad_l)] {
                    if v > MAX_GEOM_PAD {
                        return Err(err(
                            field,
                            v as u64,
                            format!("must be 0..={MAX_GEOM_PAD} (4-bit field)"),
                        ));
                    }
                }
                let end = g.mem_addr as u64 + g.in_h as u64 * g.in_w as u64 * g.in_c as u64;
                if end > u32::MAX as u64 + 1 {
                    return Err(err(
                        "mem_addr",
                        g.mem_addr as u64,
                        "image exceeds the 32-bit address space".into(),
                    ));
                }
            }
            Op::LoadIm2col(l) => {
                no_im2col()?;
                for (field, v) in [("oy0", l.oy0), ("ox0", l.ox0)] {
                    if v > MAX_GEOM_DIM {
                        return Err(err(
                            field,
                            v as u64,
                            format!("must be 0..={MAX_GEOM_DIM} (12-bit field)"),
                        ));
                    }
                }
                for (field, v) in [("ky0", l.ky0), ("kx0", l.kx0)] {
                    if v >= MAX_GEOM_KERNEL {
                        return Err(err(
                            field,
                            v as u64,
                            format!("must be 0..{MAX_GEOM_KERNEL} (4-bit field)"),
                        ));
                    }
                }
                if l.nrows == 0 || l.ncols == 0 {
                    return Err(err("nrows/ncols", 0, "must not be zero".into()));
                }
                range(
                    "sp_line",
                    l.sp_line,
                    im2col_lines(&l, rows),
                    in_lines,
                    "input",
                )?;
            }
            Op::VSet(v) => {
                no_vpu()?;
                if !v.mode.enabled(cfg) {
                    return Err(err(
                        "mode",
                        v.mode.code() as u64,
                        format!(
                            "this configuration's vector unit has no {} mode ({} = false)",
                            v.mode.name(),
                            v.mode.feature()
                        ),
                    ));
                }
                if v.mode == VMode::Add {
                    if v.tap_stride != 0 || v.divisor != 0 {
                        return Err(err(
                            "tap_stride/divisor",
                            v.tap_stride.max(v.divisor as u32) as u64,
                            "must be 0 in ADD mode (not encoded)".into(),
                        ));
                    }
                    let a = v.add;
                    for (field, off) in [("off1", a.off1), ("off2", a.off2)] {
                        if !(VSET_OFF_MIN..=VSET_OFF_MAX).contains(&off) {
                            return Err(err(
                                field,
                                off as i64 as u64,
                                format!("must be {VSET_OFF_MIN}..={VSET_OFF_MAX} (9-bit field)"),
                            ));
                        }
                    }
                    if a.left_shift > 31 {
                        return Err(err(
                            "left_shift",
                            a.left_shift as u64,
                            "must be 0..=31".into(),
                        ));
                    }
                    for (field, sh) in [("s1", a.s1), ("s2", a.s2)] {
                        if !(-31..=31).contains(&sh) {
                            return Err(err(
                                field,
                                sh as i64 as u64,
                                "must be -31..=31 (TFLite's shift range)".into(),
                            ));
                        }
                    }
                } else {
                    if v.add != AddRescale::default() {
                        return Err(err(
                            "add",
                            0,
                            format!("the ADD rescale must be zero in {} mode", v.mode.name()),
                        ));
                    }
                    if v.tap_stride > MAX_LINE {
                        return Err(err(
                            "tap_stride",
                            v.tap_stride as u64,
                            "exceeds the 24-bit field".into(),
                        ));
                    }
                    if v.divisor != 0 && v.mode != VMode::Sum {
                        return Err(err(
                            "divisor",
                            v.divisor as u64,
                            "only SUM mode divides".into(),
                        ));
                    }
                }
            }
            Op::VCompute(c) => {
                no_vpu()?;
                if c.m == 0 || c.k == 0 {
                    return Err(err("m/k", 0, "must not be zero".into()));
                }
                if c.n == 0 || c.n as u64 > rows {
                    return Err(err(
                        "n",
                        c.n as u64,
                        format!("must be 1..={rows} (one lane per input-line byte)"),
                    ));
                }
                for (field, v) in [("a_line", c.a_line), ("b_line", c.b_line)] {
                    if v > MAX_LINE {
                        return Err(err(field, v as u64, "exceeds the 24-bit line field".into()));
                    }
                }
                range("c_line", c.c_line, c.m as u64, acc_lines, "accumulator")?;
            }
            Op::Finish => {}
        }
        Ok(())
    }
}

/// Number of input-scratchpad lines a `LOAD_IM2COL` writes, for line width `w` (the
/// lines of a `LOAD` of `nrows x ncols`).
pub fn im2col_lines(l: &LoadIm2col, w: u64) -> u64 {
    if l.transpose {
        (l.nrows as u64).div_ceil(w) * l.ncols as u64
    } else {
        (l.ncols as u64).div_ceil(w) * l.nrows as u64
    }
}

/// Number of scratchpad lines a `LOAD` writes, for line width `w`.
pub fn load_lines(l: &Load, w: u64) -> u64 {
    if l.transpose {
        (l.nrows as u64).div_ceil(w) * l.ncols as u64
    } else {
        (l.ncols as u64).div_ceil(w) * l.nrows as u64
    }
}

/// Encodes a command list into a command buffer.
pub fn encode_all(cmds: &[Command]) -> Vec<u8> {
    cmds.iter().flat_map(|c| c.encode()).collect()
}

/// Decodes a whole command buffer; the error carries the index of the bad command.
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Command>, (usize, DecodeError)> {
    if !bytes.len().is_multiple_of(COMMAND_BYTES) {
        return Err((
            bytes.len() / COMMAND_BYTES,
            DecodeError::Length(bytes.len()),
        ));
    }
    bytes
        .chunks_exact(COMMAND_BYTES)
        .enumerate()
        .map(|(i, c)| {
            let mut b = [0u8; COMMAND_BYTES];
            b.copy_from_slice(c);
            Command::decode(&b).map_err(|e| (i, e))
        })
        .collect()
}

impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.deps;
        let flags: String = [
            (d.pop_prev, "<p"),
            (d.pop_next, ">p"),
            (d.push_prev, "<P"),
            (d.push_next, ">P"),
        ]
        .iter()
        .filter(|(b, _)| *b)
        .map(|(_, s)| *s)
        .collect::<Vec<_>>()
        .join(",");
        match self.op {
            Op::Load(l) => write!(
                f,
                "LOAD {:?}{} line={} mem={:#x} stride={} {}x{}",
                l.sp,
                if l.transpose { " T" } else { "" },
                l.sp_line,
                l.mem_addr,
                l.mem_stride,
                l.nrows,
                l.ncols
            )?,
            Op::LoadParams(p) => write!(
                f,
                "LOAD_PARAMS mem={:#x} count={} zp={} act=[{},{}]",
                p.mem_addr, p.count, p.zp_out, p.act_min, p.act_max
            )?,
            Op::Compute(c) => write!(
                f,
                "COMPUTE{} a={} b={} c={} {}x{}x{}",
                if c.accumulate { " ACC" } else { "" },
                c.a_line,
                c.b_line,
                c.c_line,
                c.m,
                c.k,
                c.n
            )?,
            Op::Store(s) => write!(
                f,
                "STORE{} acc={} mem={:#x} stride={} {}x{}",
                if s.raw_int32 { " I32" } else { "" },
                s.acc_line,
                s.mem_addr,
                s.mem_stride,
                s.nrows,
                s.ncols
            )?,
            Op::ConvGeom(g) => write!(
                f,
                "CONV_GEOM mem={:#x} in={}x{}x{} out_w={} k={}x{} s={}x{} d={}x{} pad={},{}",
                g.mem_addr,
                g.in_h,
                g.in_w,
                g.in_c,
                g.out_w,
                g.kh,
                g.kw,
                g.sh,
                g.sw,
                g.dh,
                g.dw,
                g.pad_t,
                g.pad_l
            )?,
            Op::LoadIm2col(l) => write!(
                f,
                "LOAD_IM2COL{} line={} pos=({},{}) tap=({},{},{}) {}x{} pad={}",
                if l.transpose { " T" } else { "" },
                l.sp_line,
                l.oy0,
                l.ox0,
                l.ky0,
                l.kx0,
                l.ic0,
                l.nrows,
                l.ncols,
                l.pad_value
            )?,
            Op::VSet(v) => {
                if v.mode == VMode::Add {
                    let a = v.add;
                    write!(
                        f,
                        "VSET ADD off=({},{}) ls={} m1={} s1={} m2={} s2={}",
                        a.off1, a.off2, a.left_shift, a.m1, a.s1, a.m2, a.s2
                    )?
                } else {
                    write!(f, "VSET {} tap_stride={}", v.mode.name(), v.tap_stride)?;
                    if v.divisor != 0 {
                        write!(f, " div={}", v.divisor)?;
                    }
                }
            }
            Op::VCompute(c) => write!(
                f,
                "VCOMPUTE{} a={} b={} c={} {}x{}x{}",
                if c.accumulate { " ACC" } else { "" },
                c.a_line,
                c.b_line,
                c.c_line,
                c.m,
                c.k,
                c.n
            )?,
            Op::Finish => write!(f, "FINISH")?,
        }
        if !flags.is_empty() {
            write!(f, " [{flags}]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Command> {
        vec![
            Command {
                op: Op::Load(Load {
                    sp: Scratchpad::Weight,
                    transpose: true,
                    sp_line: 0xABCDE,
                    mem_addr: 0xDEAD_BEEF,
                    mem_stride: 0x12345,
                    nrows: 7,
                    ncols: 65535,
                }),
                deps: Deps {
                    pop_next: true,
                    push_next: true,
                    ..Deps::NONE
                },
            },
            Command::new(Op::LoadParams(LoadParams {
                mem_addr: 4,
                count: 3,
                zp_out: -128,
                act_min: -128,
                act_max: 127,
            })),
            Command {
                op: Op::Compute(Compute {
                    accumulate: true,
                    a_line: 1,
                    b_line: MAX_LINE,
                    c_line: 3,
                    m: 65535,
                    k: 1,
                    n: 256,
                }),
                deps: Deps {
                    pop_prev: true,
                    pop_next: true,
                    push_prev: true,
                    push_next: true,
                },
            },
            Command::new(Op::Store(Store {
                raw_int32: true,
                acc_line: 9,
                mem_addr: 0,
                mem_stride: 1,
                nrows: 1,
                ncols: 1,
            })),
            Command::new(Op::Finish),
        ]
    }

    #[test]
    fn roundtrip() {
        for c in samples() {
            let d = Command::decode(&c.encode()).unwrap();
            assert_eq!(d, c, "{c}");
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(Command::decode_word(0), Err(DecodeError::UnknownOpcode(0)));
        let fin = Command::new(Op::Finish).encode_word();
        assert!(matches!(
            Command::decode_word(fin | 1 << 100),
            Err(DecodeError::ReservedBits { .. })
        ));
        let load = samples()[0].encode_word();
        assert!(matches!(
            Command::decode_word(load | 1 << 4),
            Err(DecodeError::BadDep { .. })
        ));
        assert!(matches!(
            Command::decode_word(load | 3 << 8),
            Err(DecodeError::BadScratchpad(3))
        ));
        let zero_rows = load & !(0xFFFFu128 << 96);
        assert!(matches!(
            Command::decode_word(zero_rows),
            Err(DecodeError::Zero { field: "nrows", .. })
        ));
        let store = samples()[3].encode_word();
        assert!(matches!(
            Command::decode_word(store | 1 << 7),
            Err(DecodeError::BadDep { .. })
        ));
    }

    fn geom() -> ConvGeom {
        ConvGeom {
            mem_addr: 0xFFFF_F000,
            in_h: 4095,
            in_w: 1,
            in_c: 65535,
            out_w: 4095,
            kh: 16,
            kw: 1,
            sh: 3,
            sw: 16,
            dh: 1,
            dw: 7,
            pad_t: 15,
            pad_l: 0,
        }
    }

    fn im2col_load() -> LoadIm2col {
        LoadIm2col {
            transpose: true,
            sp_line: MAX_LINE,
            oy0: 4095,
            ox0: 17,
            ky0: 15,
            kx0: 0,
            ic0: 65535,
            nrows: 65535,
            ncols: 1,
            pad_value: -128,
        }
    }

    #[test]
    fn im2col_commands_roundtrip() {
        let mut cases = vec![
            Command::new(Op::ConvGeom(geom())),
            Command {
                op: Op::LoadIm2col(im2col_load()),
                deps: Deps {
                    pop_next: true,
                    push_next: true,
                    ..Deps::NONE
                },
            },
        ];
        let mut g = geom();
        (g.in_w, g.in_c, g.kw, g.dh, g.pad_l, g.mem_addr) = (3, 1, 5, 16, 9, 0);
        cases.push(Command::new(Op::ConvGeom(g)));
        let mut l = im2col_load();
        (l.transpose, l.ky0, l.kx0, l.nrows, l.ncols, l.pad_value) = (false, 0, 15, 1, 65535, 127);
        cases.push(Command::new(Op::LoadIm2col(l)));
        for c in cases {
            let w = c.encode_word();
            assert_eq!(Command::decode_word(w), Ok(c), "{c}");
        }
        // Field positions of the contract.
        let w = Command::new(Op::ConvGeom(geom())).encode_word();
        assert_eq!(w & 0xF, 5);
        assert_eq!((w >> 8) & 0xFFFF_FFFF, 0xFFFF_F000);
        assert_eq!((w >> 40) & 0xFFF, 4095);
        assert_eq!((w >> 64) & 0xFFFF, 65535);
        assert_eq!((w >> 92) & 0xF, 15); // kh - 1
        assert_eq!((w >> 104) & 0xF, 15); // sw - 1
        assert_eq!((w >> 112) & 0xF, 6); // dw - 1
        assert_eq!((w >> 116) & 0xF, 15); // pad_t
        assert_eq!(w >> 124, 0);
        let w = Command::new(Op::LoadIm2col(im2col_load())).encode_word();
        assert_eq!(w & 0xF, 6);
        assert_eq!((w >> 10) & 1, 1);
        assert_eq!((w >> 16) & 0xFF_FFFF, MAX_LINE as u128);
        assert_eq!((w >> 52) & 0xFFF, 17);
        assert_eq!((w >> 64) & 0xF, 15);
        assert_eq!((w >> 88) & 0xFFFF, 65535);
        assert_eq!(w >> 120, 0x80);
        assert_eq!(opcode::CONV_GEOM, 5);
        assert_eq!(opcode::LOAD_IM2COL, 6);
        assert_eq!(Op::ConvGeom(geom()).name(), "CONV_GEOM");
        assert_eq!(Op::LoadIm2col(im2col_load()).name(), "LOAD_IM2COL");
        assert_eq!(Op::ConvGeom(geom()).queue(), Some(Queue::Load));
        assert_eq!(Op::LoadIm2col(im2col_load()).queue(), Some(Queue::Load));
        assert!(Command::new(Op::ConvGeom(geom()))
            .to_string()
            .starts_with("CONV_GEOM mem=0xfffff000 in=4095x1x65535 out_w=4095 k=16x1"));
        assert!(Command::new(Op::LoadIm2col(im2col_load()))
            .to_string()
            .starts_with("LOAD_IM2COL T line=16777215 pos=(4095,17) tap=(15,0,65535) 65535x1"));
    }

    #[test]
    fn im2col_decoder_rejects_bad_words() {
        let g = Command::new(Op::ConvGeom(geom())).encode_word();
        for bit in [124, 125, 126, 127] {
            assert!(matches!(
                Command::decode_word(g | 1 << bit),
                Err(DecodeError::ReservedBits {
                    op: "CONV_GEOM",
                    ..
                })
            ));
        }
        for (field, lo, width) in [
            ("in_h", 40, 12),
            ("in_w", 52, 12),
            ("in_c", 64, 16),
            ("out_w", 80, 12),
        ] {
            let zero = g & !(((1u128 << width) - 1) << lo);
            assert_eq!(
                Command::decode_word(zero),
                Err(DecodeError::Zero {
                    op: "CONV_GEOM",
                    field
                })
            );
        }
        for flag in [4, 6] {
            assert!(matches!(
                Command::decode_word(g | 1 << flag),
                Err(DecodeError::BadDep { queue: "load", .. })
            ));
        }
        let l = Command::new(Op::LoadIm2col(im2col_load())).encode_word();
        for bit in [8, 9, 11, 12, 13, 14, 15] {
            assert!(matches!(
                Command::decode_word(l | 1 << bit),
                Err(DecodeError::ReservedBits {
                    op: "LOAD_IM2COL",
                    ..
                })
            ));
        }
        for (field, lo) in [("nrows", 88), ("ncols", 104)] {
            let zero = l & !(0xFFFFu128 << lo);
            assert_eq!(
                Command::decode_word(zero),
                Err(DecodeError::Zero {
                    op: "LOAD_IM2COL",
                    field
                })
            );
        }
        for flag in [4, 6] {
            assert!(matches!(
                Command::decode_word(l | 1 << flag),
                Err(DecodeError::BadDep { queue: "load", .. })
            ));
        }
        // Opcodes 9..=14 stay unknown (7, 8: VSET, VCOMPUTE).
        for op in 9..=14u8 {
            assert_eq!(
                Command::decode_word(op as u128),
                Err(DecodeError::UnknownOpcode(op))
            );
        }
    }

    #[test]
    fn check_rejects_im2col_commands_without_the_unit_and_bad_fields() {
        let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
        let ok_geom = ConvGeom {
            mem_addr: 0,
            in_h: 10,
            in_w: 10,
            in_c: 3,
            out_w: 10,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            dh: 1,
            dw: 1,
            pad_t: 1,
            pad_l: 1,
        };
        let ok_load = LoadIm2col {
            transpose: false,
            sp_line: 0,
            oy0: 0,
            ox0: 0,
            ky0: 0,
            kx0: 0,
            ic0: 0,
            nrows: 8,
            ncols: 27,
            pad_value: 0,
        };
        for op in [Op::ConvGeom(ok_geom), Op::LoadIm2col(ok_load)] {
            let e = Command::new(op).check(&cfg).unwrap_err();
            assert!(
                e.reason
                    .contains("this configuration has no im2col unit (im2col = false)"),
                "{e}"
            );
        }
        cfg.im2col = true;
        let check = |op: Op| Command::new(op).check(&cfg);
        assert_eq!(check(Op::ConvGeom(ok_geom)), Ok(()));
        assert_eq!(check(Op::LoadIm2col(ok_load)), Ok(()));
        type Edit = fn(&mut ConvGeom);
        let bad_geoms: [(&str, Edit); 20] = [
            ("in_h", |g| g.in_h = 0),
            ("in_h", |g| g.in_h = 4096),
            ("in_w", |g| g.in_w = 0),
            ("in_w", |g| g.in_w = 4096),
            ("out_w", |g| g.out_w = 0),
            ("out_w", |g| g.out_w = 4096),
            ("in_c", |g| g.in_c = 0),
            ("kh", |g| g.kh = 0),
            ("kh", |g| g.kh = 17),
            ("kw", |g| g.kw = 0),
            ("kw", |g| g.kw = 17),
            ("sh", |g| g.sh = 0),
            ("sw", |g| g.sw = 17),
            ("dh", |g| g.dh = 0),
            ("dw", |g| g.dw = 17),
            ("pad_t", |g| g.pad_t = 16),
            ("pad_l", |g| g.pad_l = 16),
            ("mem_addr", |g| g.mem_addr = u32::MAX),
            ("sh", |g| g.sh = 17),
            ("dh", |g| g.dh = 17),
        ];
        for (field, edit) in bad_geoms {
            let mut g = ok_geom;
            edit(&mut g);
            let e = check(Op::ConvGeom(g)).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert_eq!(e.op, "CONV_GEOM");
        }
        type EditL = fn(&mut LoadIm2col);
        let bad_loads: [(&str, EditL); 8] = [
            ("oy0", |l| l.oy0 = 4096),
            ("ox0", |l| l.ox0 = 4096),
            ("ky0", |l| l.ky0 = 16),
            ("kx0", |l| l.kx0 = 16),
            ("nrows/ncols", |l| l.nrows = 0),
            ("nrows/ncols", |l| l.ncols = 0),
            // 32 KiB / 8 = 4096 input lines; 27 taps = 4 lines per row.
            ("sp_line", |l| l.sp_line = 4096 - 31),
            ("sp_line", |l| l.sp_line = MAX_LINE + 1),
        ];
        for (field, edit) in bad_loads {
            let mut l = ok_load;
            edit(&mut l);
            let e = check(Op::LoadIm2col(l)).unwrap_err();
            assert_eq!(e.field, field, "{e}");
            assert_eq!(e.op, "LOAD_IM2COL");
        }
        let mut fits = ok_load;
        fits.sp_line = 4096 - 32;
        assert_eq!(check(Op::LoadIm2col(fits)), Ok(()));
        let mut t = ok_load;
        t.transpose = true;
        // Transposed: ceil(8/8) * 27 = 27 lines.
        t.sp_line = 4096 - 27;
        assert_eq!(check(Op::LoadIm2col(t)), Ok(()));
        t.sp_line += 1;
        assert!(check(Op::LoadIm2col(t)).is_err());
        let deps = Command {
            op: Op::LoadIm2col(ok_load),
            deps: Deps {
                pop_prev: true,
                ..Deps::NONE
            },
        };
        assert_eq!(deps.check(&cfg).unwrap_err().field, "deps");
    }

    fn vector_samples() -> Vec<Command> {
        vec![
            Command::new(Op::VSet(VSet {
                mode: VMode::Mac,
                tap_stride: MAX_LINE,
                ..VSet::default()
            })),
            Command::new(Op::VSet(VSet {
                mode: VMode::Sum,
                tap_stride: 3,
                divisor: 65535,
                ..VSet::default()
            })),
            Command::new(Op::VSet(VSet {
                mode: VMode::Max,
                tap_stride: 0,
                ..VSet::default()
            })),
            Command {
                op: Op::VSet(VSet {
                    mode: VMode::Add,
                    add: AddRescale {
                        off1: -256,
                        off2: 255,
                        left_shift: 31,
                        m1: i32::MIN,
                        s1: -32,
                        m2: i32::MAX,
                        s2: 31,
                    },
                    ..VSet::default()
                }),
                deps: Deps {
                    pop_prev: true,
                    push_next: true,
                    ..Deps::NONE
                },
            },
            Command::new(Op::VCompute(VCompute {
                accumulate: true,
                a_line: MAX_LINE,
                b_line: 7,
                c_line: 0xABCDE,
                m: 65535,
                k: 1,
                n: 256,
            })),
        ]
    }

    #[test]
    fn vector_commands_roundtrip_and_reject_reserved_bits() {
        for c in vector_samples() {
            let w = c.encode_word();
            assert_eq!(Command::decode_word(w), Ok(c), "{c}");
            // Every bit outside the mode's fields is reserved.
            let fields = match c.op {
                Op::VSet(VSet {
                    mode: VMode::Add, ..
                }) => VSET_ADD_FIELDS,
                Op::VSet(_) => VSET_REDUCE_FIELDS,
                _ => COMPUTE_FIELDS,
            };
            let free = !mask(fields);
            let bit = free.trailing_zeros();
            assert!(bit < 128);
            assert!(matches!(
                Command::decode_word(w | (1u128 << bit)),
                Err(DecodeError::ReservedBits { .. })
            ));
        }
        // m = 0 and k = 0 are caught by the decoder.
        let v = VCompute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 1,
            k: 1,
            n: 1,
        };
        let w = Command::new(Op::VCompute(v)).encode_word();
        assert!(matches!(
            Command::decode_word(w & !(0xFFFFu128 << 88)),
            Err(DecodeError::Zero { field: "m", .. })
        ));
        assert!(matches!(
            Command::decode_word(w & !(0xFFFFu128 << 104)),
            Err(DecodeError::Zero { field: "k", .. })
        ));
        // Both go to the compute queue.
        for c in vector_samples() {
            assert_eq!(c.op.queue(), Some(Queue::Compute));
        }
    }

    #[test]
    fn check_rejects_vector_commands_without_their_feature() {
        let base = AccelConfig::preset("edge-8x8").unwrap();
        let vc = Command::new(Op::VCompute(VCompute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 4,
            k: 9,
            n: 8,
        }));
        let e = vc.check(&base).unwrap_err();
        assert!(e.reason.contains("no vector unit"), "{e}");
        for (mode, field) in [
            (VMode::Mac, "depthwise"),
            (VMode::Sum, "pooling"),
            (VMode::Max, "pooling"),
            (VMode::Add, "eltwise"),
        ] {
            let set = Command::new(Op::VSet(VSet {
                mode,
                ..VSet::default()
            }));
            let mut cfg = base.clone();
            cfg.depthwise = mode != VMode::Mac;
            cfg.pooling = !matches!(mode, VMode::Sum | VMode::Max);
            cfg.eltwise = mode != VMode::Add;
            let e = set.check(&cfg).unwrap_err();
            assert!(e.reason.contains(field), "{mode:?}: {e}");
            match field {
                "depthwise" => cfg.depthwise = true,
                "pooling" => cfg.pooling = true,
                _ => cfg.eltwise = true,
            }
            set.check(&cfg).unwrap();
            vc.check(&cfg).unwrap();
        }
        let mut cfg = base.clone();
        cfg.pooling = true;
        // Lanes beyond rows, accumulator lines past the end, a divisor outside SUM.
        let mut v = VCompute {
            accumulate: false,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 1,
            k: 1,
            n: 9,
        };
        assert_eq!(
            Command::new(Op::VCompute(v)).check(&cfg).unwrap_err().field,
            "n"
        );
        v.n = 8;
        v.c_line = (cfg.acc_sram_bytes() / 32) as u32;
        assert_eq!(
            Command::new(Op::VCompute(v)).check(&cfg).unwrap_err().field,
            "c_line"
        );
        let max_div = Command::new(Op::VSet(VSet {
            mode: VMode::Max,
            divisor: 4,
            ..VSet::default()
        }));
        assert_eq!(max_div.check(&cfg).unwrap_err().field, "divisor");
        // A vector unit needs rows <= cols.
        let mut wide = AccelConfig::preset("wide-4x16").unwrap();
        wide.rows = 16;
        wide.cols = 4;
        wide.depthwise = true;
        let issues = wide.validate().unwrap_err();
        assert!(
            issues
                .iter()
                .any(|i| i.to_string().contains("rows <= cols")),
            "{issues:?}"
        );
    }

    #[test]
    fn decoder_never_panics_on_random_words() {
        // xorshift over many words: decode must return, and valid ones must round-trip.
        let mut x: u128 = 0x1234_5678_9abc_def0_0fed_cba9_8765_4321;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for w in [x, x & 0xFFFF_FFFF_FFFF_FFFF_FFFF_FFFF_FFFF_F0FF] {
                if let Ok(c) = Command::decode_word(w) {
                    assert_eq!(c.encode_word(), w);
                }
            }
        }
    }
}
