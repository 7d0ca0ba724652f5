//! The host-side checks of a command buffer that every device runs with the same code and
//! the same messages: the simulator (`sim::SimDevice`, which calls the per-command checks
//! while it executes) and the system RTL (`hdl::rtl_device::RtlDevice`, which runs
//! [`check_buffer`] before it starts Verilator, so a bad buffer fails there exactly as on
//! the simulator).
//!
//! - [`decode_buffer`] / [`decode_checked`]: the buffer inside the device memory, every
//!   command decodable and valid for the config ([`Command::check`]), `FINISH` last;
//! - [`check_compute`]: the scratchpad lines a `COMPUTE` reads and writes;
//! - [`load_lines`], [`store_lines`], [`param_count`], [`store_columns`], [`mem_range`],
//!   [`check_shift`]: the checks a `LOAD`, `LOAD_PARAMS` and `STORE` make while they move
//!   data (the device-memory range of every row, the PPU shifts read);
//! - [`check_conv_geom`], [`check_load_im2col`], [`im2col_lines`]: the hardware im2col
//!   commands: the image of a `CONV_GEOM` inside the device memory; a `LOAD_IM2COL`
//!   against the window of the last `CONV_GEOM` (present, start inside the window, last
//!   tap inside `K`, lines inside the input scratchpad);
//! - [`check_vcompute`]: a `VCOMPUTE` against the mode registers of the last `VSET`;
//! - [`check_buffer`]: all of them over a decoded buffer, in the order the simulator makes
//!   them (every `COMPUTE` and `VCOMPUTE` first, tracking the last `VSET`, as `sim::cycle`
//!   does, then the transfers in program order, as `sim::functional` does, tracking the
//!   last `CONV_GEOM`), without executing anything.

use crate::im2col::Window;
use crate::isa::Store;
use crate::isa::{self, Command, Compute, ConvGeom, Load, LoadIm2col, LoadParams, Op, Scratchpad};
use crate::isa::{VCompute, VMode, VSet};
use crate::isa::{COMMAND_BYTES, PARAM_RECORD_BYTES, PPU_PARAM_ENTRIES_PER_COL};
use crate::{AccelConfig, Dataflow};
use std::ops::Range;

/// A command of a buffer failed: a check of this module, or a device executing it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("command {index} ({cmd}): {reason}")]
pub struct ExecError {
    /// Index of the command in the buffer.
    pub index: usize,
    /// The command as text (`<buffer>`, `<undecodable>` or `<end>` if there is none).
    pub cmd: String,
    pub reason: String,
}

impl ExecError {
    /// The error of command `index` (`cmd`) for `reason`.
    pub fn new(index: usize, cmd: &Command, reason: impl Into<String>) -> Self {
        ExecError {
            index,
            cmd: cmd.to_string(),
            reason: reason.into(),
        }
    }
}

/// Why one command cannot run; the text is the `reason` of its [`ExecError`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Violation {
    #[error("address {addr:#x}+{len} overflows")]
    AddressOverflow { addr: u64, len: u64 },
    #[error("memory access {addr:#x}..{end:#x} outside the {size}-byte device memory")]
    OutsideMemory { addr: u64, end: u64, size: u64 },
    /// A `LOAD` writes lines past the end of its scratchpad.
    #[error("lines {base}..{end} exceed the {lines}-line scratchpad")]
    LoadLines { base: u64, end: u64, lines: u64 },
    #[error("count {count} exceeds the {entries}-entry PPU parameter RAM")]
    ParamCount { count: u64, entries: u64 },
    #[error("column {column}: shift {shift} outside -31..=31")]
    Shift { column: usize, shift: i32 },
    /// The shift of a `LOAD_PARAMS` record sits in bytes that an earlier `STORE` of the
    /// same buffer writes: its value exists only when the buffer runs.
    #[error(
        "column {column}: shift bytes {addr:#x}..{end:#x} are written by command {store} \
         (STORE) of this buffer, so they cannot be checked before the run"
    )]
    ShiftWrittenByStore {
        column: usize,
        addr: u64,
        end: u64,
        store: usize,
    },
    /// A `STORE` reads lines past the end of the accumulator scratchpad.
    #[error("accumulator lines {base}..{end} exceed the {lines}-line scratchpad")]
    StoreLines { base: u64, end: u64, lines: u64 },
    #[error("{ncols} columns exceed the PPU parameter RAM")]
    StoreColumns { ncols: u64 },
    /// The `COMPUTE` shape does not fit the array in this dataflow
    /// ([`crate::DataflowRules::check_shape`], or `n` beyond its 8-bit field).
    #[error("{field} = {value}: {reason}")]
    ComputeShape {
        field: &'static str,
        value: u64,
        reason: String,
    },
    /// A `COMPUTE` operand (`a_line`, `b_line`, `c_line`) runs past its scratchpad.
    #[error("{field}: lines {base}..{end} exceed the {lines}-line scratchpad")]
    ComputeLines {
        field: &'static str,
        base: u64,
        end: u64,
        lines: u64,
    },
    /// A `LOAD_IM2COL` with no `CONV_GEOM` before it in the buffer.
    #[error(
        "no CONV_GEOM before this LOAD_IM2COL in the command buffer (the window registers \
         are reset at every start)"
    )]
    Im2colNoGeometry,
    /// A `LOAD_IM2COL` start field outside the window of the last `CONV_GEOM`.
    #[error("{field} = {value} must be less than {limit_name} = {limit} (the last CONV_GEOM)")]
    Im2colOrigin {
        field: &'static str,
        value: u64,
        limit_name: &'static str,
        limit: u64,
    },
    /// The last tap of a `LOAD_IM2COL` lies beyond the `K` columns of the window.
    #[error(
        "taps {first}..={last} (ky0, kx0, ic0 and ncols) exceed the K = kh*kw*in_c = {k} \
         columns of the last CONV_GEOM"
    )]
    Im2colTaps { first: u64, last: u64, k: u64 },
    /// A `VCOMPUTE` with no `VSET` before it in the buffer.
    #[error(
        "no VSET before this VCOMPUTE in the command buffer (the vector unit's mode \
         registers are reset at every start)"
    )]
    VectorNoMode,
    /// A `VCOMPUTE` the mode of the last `VSET` does not allow.
    #[error("{reason} (mode {mode} of the last VSET)")]
    VectorMode { mode: &'static str, reason: String },
    /// A `VCOMPUTE` operand runs past its scratchpad.
    #[error("{field}: lines up to {end} exceed the {lines}-line {sp} scratchpad")]
    VectorLines {
        field: &'static str,
        end: u64,
        lines: u64,
        sp: &'static str,
    },
    /// A pop whose token no earlier command (in program order) pushes.
    #[error(
        "pops {fifo} token {nth} but only {pushed} {fifo} push(es) come before it in program \
         order (a program that pops only earlier pushes cannot deadlock with bounded \
         command queues)"
    )]
    TokenOrder {
        fifo: &'static str,
        nth: u64,
        pushed: u64,
    },
}

/// The sizes the checks need: the array, the lines of each scratchpad and the PPU
/// parameter entries (`docs/architecture.md` section 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scratchpads {
    pub rows: usize,
    pub cols: usize,
    /// Input scratchpad lines (`rows` bytes each).
    pub in_lines: usize,
    /// Weight scratchpad lines (`cols` bytes each).
    pub w_lines: usize,
    /// Accumulator lines (`cols` int32 each).
    pub acc_lines: usize,
    /// PPU parameter records (`PPU_PARAM_ENTRIES_PER_COL x cols`).
    pub param_entries: usize,
}

impl Scratchpads {
    /// The scratchpads of `cfg`.
    pub fn of(cfg: &AccelConfig) -> Self {
        let rows = cfg.rows as usize;
        let cols = cfg.cols as usize;
        Scratchpads {
            rows,
            cols,
            in_lines: cfg.input_sram_bytes() as usize / rows.max(1),
            w_lines: cfg.weight_sram_bytes() as usize / cols.max(1),
            acc_lines: cfg.acc_sram_bytes() as usize / (4 * cols).max(1),
            param_entries: PPU_PARAM_ENTRIES_PER_COL as usize * cols,
        }
    }
}

/// The bytes `addr..addr+len` of a device memory of `size` bytes.
pub fn mem_range(size: usize, addr: u64, len: u64) -> Result<Range<usize>, Violation> {
    let end = addr
        .checked_add(len)
        .ok_or(Violation::AddressOverflow { addr, len })?;
    if end > size as u64 {
        return Err(Violation::OutsideMemory {
            addr,
            end,
            size: size as u64,
        });
    }
    Ok(addr as usize..end as usize)
}

/// The scratchpad lines a `LOAD` writes (its line width is `rows` for the input
/// scratchpad, `cols` for the weights).
pub fn load_lines(sp: &Scratchpads, l: &Load) -> Result<Range<usize>, Violation> {
    let (w, lines) = match l.sp {
        Scratchpad::Input => (sp.rows, sp.in_lines),
        Scratchpad::Weight => (sp.cols, sp.w_lines),
    };
    let n = isa::load_lines(l, w as u64) as usize;
    let base = l.sp_line as usize;
    if base + n > lines {
        return Err(Violation::LoadLines {
            base: base as u64,
            end: (base + n) as u64,
            lines: lines as u64,
        });
    }
    Ok(base..base + n)
}

/// The device-memory bytes of row `r` of a transfer at `addr` with `stride`, `bytes` wide.
fn row(size: usize, addr: u32, stride: u32, r: u64, bytes: u64) -> Result<Range<usize>, Violation> {
    mem_range(size, addr as u64 + r * stride as u64, bytes)
}

/// The device-memory bytes of row `r` of a `LOAD`.
pub fn load_row(size: usize, l: &Load, r: usize) -> Result<Range<usize>, Violation> {
    row(size, l.mem_addr, l.mem_stride, r as u64, l.ncols as u64)
}

/// Every check of a `LOAD` on a device memory of `size` bytes, in the simulator's order
/// (the lines, then each row).
pub fn check_load(sp: &Scratchpads, size: usize, l: &Load) -> Result<(), Violation> {
    load_lines(sp, l)?;
    (0..l.nrows as usize).try_for_each(|r| load_row(size, l, r).map(|_| ()))
}

/// The records a `LOAD_PARAMS` reads, if the parameter RAM holds them.
pub fn param_count(sp: &Scratchpads, p: &LoadParams) -> Result<usize, Violation> {
    let count = p.count as usize;
    if count > sp.param_entries {
        return Err(Violation::ParamCount {
            count: count as u64,
            entries: sp.param_entries as u64,
        });
    }
    Ok(count)
}

/// The device-memory bytes of a `LOAD_PARAMS` of `count` records.
pub fn param_bytes(size: usize, p: &LoadParams, count: usize) -> Result<Range<usize>, Violation> {
    mem_range(size, p.mem_addr as u64, (count * PARAM_RECORD_BYTES) as u64)
}

/// The shift of parameter record `column` (TFLite clamps shifts to -31..=31).
pub fn check_shift(column: usize, shift: i32) -> Result<i32, Violation> {
    if !(-31..=31).contains(&shift) {
        return Err(Violation::Shift { column, shift });
    }
    Ok(shift)
}

/// The shift field of a 12-byte parameter record (bytes 8..12, little-endian).
pub fn record_shift(rec: &[u8]) -> i32 {
    i32::from_le_bytes([rec[8], rec[9], rec[10], rec[11]])
}

/// Every check of a `LOAD_PARAMS` on the device memory `mem`, in the simulator's order
/// (the count, the memory range, then each record's shift).
pub fn check_load_params(sp: &Scratchpads, mem: &[u8], p: &LoadParams) -> Result<(), Violation> {
    let count = param_count(sp, p)?;
    let bytes = &mem[param_bytes(mem.len(), p, count)?];
    for (i, rec) in bytes.chunks_exact(PARAM_RECORD_BYTES).enumerate() {
        check_shift(i, record_shift(rec))?;
    }
    Ok(())
}

/// The device-memory image of a `CONV_GEOM` (`mem_addr .. + in_h*in_w*in_c`) and its
/// window.
pub fn check_conv_geom(size: usize, g: &ConvGeom) -> Result<Window, Violation> {
    let w = Window::of(g);
    mem_range(size, g.mem_addr as u64, w.image_bytes())?;
    Ok(w)
}

/// The input-scratchpad lines a `LOAD_IM2COL` writes (those of a `LOAD` of the same
/// shape).
pub fn im2col_lines(sp: &Scratchpads, l: &LoadIm2col) -> Result<Range<usize>, Violation> {
    let n = isa::im2col_lines(l, sp.rows as u64) as usize;
    let base = l.sp_line as usize;
    if base + n > sp.in_lines {
        return Err(Violation::LoadLines {
            base: base as u64,
            end: (base + n) as u64,
            lines: sp.in_lines as u64,
        });
    }
    Ok(base..base + n)
}

/// Every check of a `LOAD_IM2COL` against the window of the last `CONV_GEOM` (`None`:
/// there was none): the window exists, `ox0 < out_w`, `ky0 < kh`, `kx0 < kw`,
/// `ic0 < in_c`, the last tap `< K`, and the scratchpad lines. (The image range was
/// checked by the `CONV_GEOM`, [`check_conv_geom`]; every tap reads inside it.)
pub fn check_load_im2col(
    sp: &Scratchpads,
    window: Option<&Window>,
    l: &LoadIm2col,
) -> Result<(), Violation> {
    let w = window.ok_or(Violation::Im2colNoGeometry)?;
    for (field, value, limit_name, limit) in [
        ("ox0", l.ox0 as u64, "out_w", w.out_w as u64),
        ("ky0", l.ky0 as u64, "kh", w.kh as u64),
        ("kx0", l.kx0 as u64, "kw", w.kw as u64),
        ("ic0", l.ic0 as u64, "in_c", w.in_c as u64),
    ] {
        if value >= limit {
            return Err(Violation::Im2colOrigin {
                field,
                value,
                limit_name,
                limit,
            });
        }
    }
    let first = w.first_tap(l);
    let last = first + l.ncols as u64 - 1;
    if last >= w.patch_len() {
        return Err(Violation::Im2colTaps {
            first,
            last,
            k: w.patch_len(),
        });
    }
    im2col_lines(sp, l)?;
    Ok(())
}

/// The accumulator lines a `STORE` reads.
pub fn store_lines(sp: &Scratchpads, s: &Store) -> Result<Range<usize>, Violation> {
    let blocks = (s.ncols as usize).div_ceil(sp.cols.max(1));
    let base = s.acc_line as usize;
    let end = base + blocks * s.nrows as usize;
    if end > sp.acc_lines {
        return Err(Violation::StoreLines {
            base: base as u64,
            end: end as u64,
            lines: sp.acc_lines as u64,
        });
    }
    Ok(base..end)
}

/// An int8 `STORE` needs a PPU parameter record per column.
pub fn store_columns(sp: &Scratchpads, s: &Store) -> Result<(), Violation> {
    if !s.raw_int32 && s.ncols as usize > sp.param_entries {
        return Err(Violation::StoreColumns {
            ncols: s.ncols as u64,
        });
    }
    Ok(())
}

/// Bytes per element a `STORE` writes.
fn store_elem_bytes(s: &Store) -> u64 {
    if s.raw_int32 {
        4
    } else {
        1
    }
}

/// The device-memory bytes of row `r` of a `STORE`.
pub fn store_row(size: usize, s: &Store, r: usize) -> Result<Range<usize>, Violation> {
    let bytes = s.ncols as u64 * store_elem_bytes(s);
    row(size, s.mem_addr, s.mem_stride, r as u64, bytes)
}

/// Every check of a `STORE` on a device memory of `size` bytes, in the simulator's order
/// (the lines, the columns, then each row).
pub fn check_store(sp: &Scratchpads, size: usize, s: &Store) -> Result<(), Violation> {
    store_lines(sp, s)?;
    store_columns(sp, s)?;
    (0..s.nrows as usize).try_for_each(|r| store_row(size, s, r).map(|_| ()))
}

/// The scratchpad lines of a `COMPUTE` under `dataflow` (the operand layouts of
/// `docs/architecture.md` section 3).
pub fn check_compute(sp: &Scratchpads, c: &Compute, dataflow: Dataflow) -> Result<(), Violation> {
    let (mm, kk, nn) = (c.m as u64, c.k as u64, c.n as u64);
    let (rows, cols) = (sp.rows as u64, sp.cols as u64);
    if nn > crate::isa::MAX_COMPUTE_N {
        return Err(Violation::ComputeShape {
            field: "n",
            value: nn,
            reason: format!(
                "exceeds the 8-bit n-1 field (at most {})",
                crate::isa::MAX_COMPUTE_N
            ),
        });
    }
    let rules = dataflow.rules();
    rules
        .check_shape(rows, cols, mm, kk, nn)
        .map_err(|v| Violation::ComputeShape {
            field: v.field,
            value: v.value,
            reason: v.reason,
        })?;
    let (a_count, b_count) = rules.operand_lines(mm, kk, nn);
    let c_count = nn.div_ceil(cols) * mm;
    for (field, base, count, lines) in [
        ("a_line", c.a_line as u64, a_count, sp.in_lines as u64),
        ("b_line", c.b_line as u64, b_count, sp.w_lines as u64),
        ("c_line", c.c_line as u64, c_count, sp.acc_lines as u64),
    ] {
        if base + count > lines {
            return Err(Violation::ComputeLines {
                field,
                base,
                end: base + count,
                lines,
            });
        }
    }
    Ok(())
}

/// Every check of a `VCOMPUTE` against the mode registers of the last `VSET` (`None`:
/// there was none): `ADD` has `k = 1`, a divisor excludes `ACCUMULATE`, and the input lines
/// `a_line + (k-1)*tap_stride + m` and (`MAC`: `b_line + k`, `ADD`: `b_line + m`) weight
/// lines lie inside their scratchpads. (The lanes and the accumulator lines are
/// [`Command::check`]'s.)
pub fn check_vcompute(
    sp: &Scratchpads,
    vset: Option<&VSet>,
    c: &VCompute,
) -> Result<(), Violation> {
    let set = vset.ok_or(Violation::VectorNoMode)?;
    let mode = set.mode.name();
    let (m, k) = (c.m as u64, c.k as u64);
    if set.mode == VMode::Add && k != 1 {
        return Err(Violation::VectorMode {
            mode,
            reason: format!("k = {k}: ADD takes one tap per position"),
        });
    }
    if set.divisor != 0 && c.accumulate {
        return Err(Violation::VectorMode {
            mode,
            reason: format!(
                "ACCUMULATE with divisor {}: the divide applies to a whole window",
                set.divisor
            ),
        });
    }
    let in_end = c.a_line as u64 + (k - 1) * set.tap_stride as u64 + m;
    if in_end > sp.in_lines as u64 {
        return Err(Violation::VectorLines {
            field: "a_line",
            end: in_end,
            lines: sp.in_lines as u64,
            sp: "input",
        });
    }
    let w_end = match set.mode {
        VMode::Mac => Some(c.b_line as u64 + k),
        VMode::Add => Some(c.b_line as u64 + m),
        VMode::Sum | VMode::Max => None,
    };
    if let Some(end) = w_end {
        if end > sp.w_lines as u64 {
            return Err(Violation::VectorLines {
                field: "b_line",
                end,
                lines: sp.w_lines as u64,
                sp: "weight",
            });
        }
    }
    Ok(())
}

/// Decodes a command buffer and checks it against `cfg`: every command decodes and
/// passes [`Command::check`], and the last one is `FINISH`.
pub fn decode_checked(cfg: &AccelConfig, bytes: &[u8]) -> Result<Vec<Command>, ExecError> {
    let cmds = isa::decode_all(bytes).map_err(|(index, e)| ExecError {
        index,
        cmd: "<undecodable>".into(),
        reason: e.to_string(),
    })?;
    for (i, c) in cmds.iter().enumerate() {
        c.check(cfg)
            .map_err(|e| ExecError::new(i, c, e.to_string()))?;
    }
    match cmds.last() {
        Some(Command { op: Op::Finish, .. }) => Ok(cmds),
        _ => Err(ExecError {
            index: cmds.len(),
            cmd: "<end>".into(),
            reason: "the command buffer does not end with FINISH".into(),
        }),
    }
}

/// The command buffer of `count` commands at `base` in the device memory `mem`, decoded
/// and checked ([`decode_checked`]).
pub fn decode_buffer(
    cfg: &AccelConfig,
    mem: &[u8],
    base: u32,
    count: u32,
) -> Result<Vec<Command>, ExecError> {
    let len = count as usize * COMMAND_BYTES;
    let base = base as usize;
    match base.checked_add(len) {
        Some(end) if end <= mem.len() => decode_checked(cfg, &mem[base..end]),
        _ => Err(ExecError {
            index: 0,
            cmd: "<buffer>".into(),
            reason: format!(
                "command buffer {base:#x}+{len} outside the {}-byte memory",
                mem.len()
            ),
        }),
    }
}

/// The commands before the first `FINISH` (all of them if there is none).
fn before_finish(cmds: &[Command]) -> &[Command] {
    let end = cmds
        .iter()
        .position(|c| matches!(c.op, Op::Finish))
        .unwrap_or(cmds.len());
    &cmds[..end]
}

/// The first earlier `STORE` of `stores` that writes a byte of `range`.
fn written_by(stores: &[(usize, Store)], range: &Range<u64>) -> Option<usize> {
    stores.iter().find_map(|(i, s)| {
        let bytes = s.ncols as u64 * store_elem_bytes(s);
        let (addr, stride, n) = (s.mem_addr as u64, s.mem_stride as u64, s.nrows as u64);
        if n == 0 || bytes == 0 {
            return None;
        }
        // The first row that ends after range.start, then whether it starts before
        // range.end (rows ascend: the stride is unsigned).
        let first = if stride == 0 || range.start < addr + bytes {
            0
        } else {
            (range.start - addr - bytes) / stride + 1
        };
        let hit = first < n && addr + first * stride < range.end;
        hit.then_some(*i)
    })
}

/// Every host-side check of a decoded buffer (from [`decode_checked`]) on the device
/// memory `mem`, without running it: the scratchpad lines of every `COMPUTE` before
/// `FINISH` first (as `sim::cycle` checks them), then the `LOAD`, `LOAD_PARAMS` and
/// `STORE` commands in program order up to `FINISH` (as `sim::functional` executes them).
/// The first failure is reported with the simulator's index and message.
///
/// One case differs: a `LOAD_PARAMS` whose shift bytes an earlier `STORE` of the same
/// buffer writes (the data exists only after the run) fails here with
/// [`Violation::ShiftWrittenByStore`], where the simulator checks the stored value.
pub fn check_buffer(cfg: &AccelConfig, mem: &[u8], cmds: &[Command]) -> Result<(), ExecError> {
    let sp = Scratchpads::of(cfg);
    let cmds = before_finish(cmds);
    let mut vset: Option<VSet> = None;
    for (i, c) in cmds.iter().enumerate() {
        match &c.op {
            Op::Compute(cp) => check_compute(&sp, cp, cfg.dataflow)
                .map_err(|e| ExecError::new(i, c, e.to_string()))?,
            Op::VSet(v) => vset = Some(*v),
            Op::VCompute(v) => check_vcompute(&sp, vset.as_ref(), v)
                .map_err(|e| ExecError::new(i, c, e.to_string()))?,
            _ => {}
        }
    }
    let mut stores: Vec<(usize, Store)> = Vec::new();
    let mut window: Option<Window> = None;
    for (i, c) in cmds.iter().enumerate() {
        let fail = |e: Violation| ExecError::new(i, c, e.to_string());
        match &c.op {
            Op::Load(l) => check_load(&sp, mem.len(), l).map_err(fail)?,
            Op::LoadParams(p) => {
                let count = param_count(&sp, p).map_err(fail)?;
                let range = param_bytes(mem.len(), p, count).map_err(fail)?;
                for (col, rec) in mem[range.clone()]
                    .chunks_exact(PARAM_RECORD_BYTES)
                    .enumerate()
                {
                    let at = (range.start + col * PARAM_RECORD_BYTES + 8) as u64;
                    if let Some(store) = written_by(&stores, &(at..at + 4)) {
                        return Err(fail(Violation::ShiftWrittenByStore {
                            column: col,
                            addr: at,
                            end: at + 4,
                            store,
                        }));
                    }
                    check_shift(col, record_shift(rec)).map_err(fail)?;
                }
            }
            Op::Store(s) => {
                check_store(&sp, mem.len(), s).map_err(fail)?;
                stores.push((i, *s));
            }
            Op::ConvGeom(g) => window = Some(check_conv_geom(mem.len(), g).map_err(fail)?),
            Op::LoadIm2col(l) => check_load_im2col(&sp, window.as_ref(), l).map_err(fail)?,
            Op::Compute(_) | Op::VSet(_) | Op::VCompute(_) | Op::Finish => {}
        }
    }
    Ok(())
}

/// The token FIFOs `[L2C, C2L, C2S, S2C]` a command pops and pushes (the flags of its
/// queue, `docs/architecture.md` section 5).
pub fn token_fifos(c: &Command) -> ([bool; 4], [bool; 4]) {
    let d = c.deps;
    match c.op.queue() {
        Some(isa::Queue::Load) => (
            [false, d.pop_next, false, false],
            [d.push_next, false, false, false],
        ),
        Some(isa::Queue::Compute) => (
            [d.pop_prev, false, false, d.pop_next],
            [false, d.push_prev, d.push_next, false],
        ),
        Some(isa::Queue::Store) => (
            [false, false, d.pop_prev, false],
            [false, false, false, d.push_prev],
        ),
        None => ([false; 4], [false; 4]),
    }
}

/// The token-order rule of bounded command queues (`docs/architecture.md` section 5):
/// walking the commands before `FINISH` in program order, every pop of a FIFO is covered
/// by a push of an earlier command (the `k`-th pop of a FIFO comes after its `k`-th push).
/// A program that satisfies it cannot deadlock at any `cmd_queue_depth >= 1`; the driver's
/// programs satisfy it. Returns the first command that breaks it.
pub fn check_token_order(cmds: &[Command]) -> Result<(), ExecError> {
    const NAMES: [&str; 4] = ["L2C", "C2L", "C2S", "S2C"];
    let (mut pushed, mut popped) = ([0u64; 4], [0u64; 4]);
    for (i, c) in before_finish(cmds).iter().enumerate() {
        let (pops, pushes) = token_fifos(c);
        for f in 0..4 {
            if pops[f] {
                popped[f] += 1;
                if popped[f] > pushed[f] {
                    let v = Violation::TokenOrder {
                        fifo: NAMES[f],
                        nth: popped[f],
                        pushed: pushed[f],
                    };
                    return Err(ExecError::new(i, c, v.to_string()));
                }
            }
        }
        for f in 0..4 {
            pushed[f] += pushes[f] as u64;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> AccelConfig {
        AccelConfig::preset("tiny-4x4").unwrap()
    }

    fn load(addr: u32, stride: u32, nrows: u16, ncols: u16) -> Command {
        Command::new(Op::Load(Load {
            sp: Scratchpad::Input,
            transpose: false,
            sp_line: 0,
            mem_addr: addr,
            mem_stride: stride,
            nrows,
            ncols,
        }))
    }

    fn store(raw: bool, addr: u32, stride: u32, nrows: u16, ncols: u16) -> Command {
        Command::new(Op::Store(Store {
            raw_int32: raw,
            acc_line: 0,
            mem_addr: addr,
            mem_stride: stride,
            nrows,
            ncols,
        }))
    }

    fn params(addr: u32, count: u16) -> Command {
        Command::new(Op::LoadParams(LoadParams {
            mem_addr: addr,
            count,
            zp_out: 0,
            act_min: -128,
            act_max: 127,
        }))
    }

    fn fin() -> Command {
        Command::new(Op::Finish)
    }

    #[test]
    fn memory_ranges_name_the_first_row_outside() {
        let cfg = cfg();
        let mem = vec![0u8; 4096];
        // Rows at 4000, 4040, 4080, 4120 (4 bytes each): the fourth is outside.
        let e = check_buffer(&cfg, &mem, &[load(4000, 40, 4, 4), fin()]).unwrap_err();
        assert_eq!(e.index, 0);
        assert_eq!(
            e.reason,
            "memory access 0x1018..0x101c outside the 4096-byte device memory"
        );
        assert!(check_buffer(&cfg, &mem, &[load(4000, 40, 3, 4), fin()]).is_ok());
        let e = check_buffer(
            &cfg,
            &mem,
            &[load(0, 0, 1, 4), store(true, 4090, 0, 1, 2), fin()],
        )
        .unwrap_err();
        assert_eq!(e.index, 1);
        assert!(e.reason.contains("0xffa..0x1002"), "{}", e.reason);
        assert_eq!(
            mem_range(10, u64::MAX, 2).unwrap_err().to_string(),
            format!("address {:#x}+2 overflows", u64::MAX)
        );
    }

    #[test]
    fn shifts_are_read_from_memory() {
        let cfg = cfg();
        let mut mem = vec![0u8; 4096];
        mem[12 + 8] = 40; // record 1: shift 40
        let e = check_buffer(&cfg, &mem, &[params(0, 2), fin()]).unwrap_err();
        assert_eq!(e.reason, "column 1: shift 40 outside -31..=31");
        assert!(check_buffer(&cfg, &mem, &[params(0, 1), fin()]).is_ok());
        mem[12 + 8..12 + 12].copy_from_slice(&(-31i32).to_le_bytes());
        assert!(check_buffer(&cfg, &mem, &[params(0, 2), fin()]).is_ok());
        // After FINISH nothing is checked.
        let e = check_buffer(&cfg, &mem, &[fin(), params(4090, 2)]);
        assert!(e.is_ok());
    }

    #[test]
    fn shifts_written_by_an_earlier_store_are_rejected() {
        let cfg = cfg();
        let mem = vec![0u8; 4096];
        // A raw store of 2 rows x 3 int32 at 100, stride 64: bytes 100..112 and 164..176.
        let st = store(true, 100, 64, 2, 3);
        // Records at 148: shift bytes 156..160 (free), 168..172 (row 1).
        let e = check_buffer(&cfg, &mem, &[st, params(148, 2), fin()]).unwrap_err();
        assert_eq!(e.index, 1);
        assert_eq!(
            e.reason,
            "column 1: shift bytes 0xa8..0xac are written by command 0 (STORE) of this \
             buffer, so they cannot be checked before the run"
        );
        // Only the first record: its shift bytes lie between the rows.
        assert!(check_buffer(&cfg, &mem, &[st, params(148, 1), fin()]).is_ok());
        // A store after the LOAD_PARAMS does not matter.
        assert!(check_buffer(&cfg, &mem, &[params(148, 2), st, fin()]).is_ok());
        // Stride 0: every row writes the same bytes.
        let st0 = store(false, 8, 0, 5, 2);
        let e = check_buffer(&cfg, &mem, &[st0, params(0, 1), fin()]).unwrap_err();
        assert!(e.reason.contains("command 0 (STORE)"), "{}", e.reason);
    }

    #[test]
    fn compute_lines_follow_the_dataflow() {
        let mut cfg = cfg();
        let sp = Scratchpads::of(&cfg);
        let c = Compute {
            accumulate: false,
            a_line: sp.in_lines as u32 - 2,
            b_line: 0,
            c_line: 0,
            m: 4,
            k: 2,
            n: 4,
        };
        assert!(check_compute(&sp, &c, Dataflow::OutputStationary).is_ok());
        let e = check_compute(&sp, &c, Dataflow::WeightStationary).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "a_line: lines {}..{} exceed the {}-line scratchpad",
                sp.in_lines - 2,
                sp.in_lines + 2,
                sp.in_lines
            )
        );
        let big = Compute { m: 5, ..c };
        assert_eq!(
            check_compute(&sp, &big, Dataflow::OutputStationary)
                .unwrap_err()
                .to_string(),
            "m = 5: output-stationary: larger than rows = 4"
        );
        let wide = Compute { n: 5, ..c };
        assert_eq!(
            check_compute(&sp, &wide, Dataflow::WeightStationary)
                .unwrap_err()
                .to_string(),
            "n = 5: larger than cols = 4"
        );
        // The buffer check uses the config's dataflow, before any transfer.
        cfg.dataflow = Dataflow::WeightStationary;
        let mem = vec![0u8; 64];
        let cmds = [load(4000, 1, 1, 1), Command::new(Op::Compute(c)), fin()];
        let e = check_buffer(&cfg, &mem, &cmds).unwrap_err();
        assert_eq!(e.index, 1);
    }

    fn geom(addr: u32, in_h: u16, in_w: u16, in_c: u16, out_w: u16) -> Command {
        Command::new(Op::ConvGeom(ConvGeom {
            mem_addr: addr,
            in_h,
            in_w,
            in_c,
            out_w,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            dh: 1,
            dw: 1,
            pad_t: 1,
            pad_l: 1,
        }))
    }

    fn im2col(ox0: u16, ky0: u8, kx0: u8, ic0: u16, nrows: u16, ncols: u16) -> Command {
        Command::new(Op::LoadIm2col(im2col_op(ox0, ky0, kx0, ic0, nrows, ncols)))
    }

    fn im2col_op(ox0: u16, ky0: u8, kx0: u8, ic0: u16, nrows: u16, ncols: u16) -> LoadIm2col {
        LoadIm2col {
            transpose: false,
            sp_line: 0,
            oy0: 0,
            ox0,
            ky0,
            kx0,
            ic0,
            nrows,
            ncols,
            pad_value: 0,
        }
    }

    #[test]
    fn load_im2col_is_checked_against_the_last_conv_geom() {
        let mut cfg = cfg();
        cfg.im2col = true;
        let mem = vec![0u8; 4096];
        // 8x8x2 image at 1000 (128 bytes), out_w 8; K = 3*3*2 = 18.
        let g = geom(1000, 8, 8, 2, 8);
        let ok = im2col(7, 2, 2, 1, 4, 1);
        assert!(check_buffer(&cfg, &mem, &[g, ok, fin()]).is_ok());
        let e = check_buffer(&cfg, &mem, &[ok, g, fin()]).unwrap_err();
        assert_eq!(e.index, 0);
        assert_eq!(
            e.reason,
            "no CONV_GEOM before this LOAD_IM2COL in the command buffer (the window \
             registers are reset at every start)"
        );
        for (cmd, reason) in [
            (
                im2col(8, 0, 0, 0, 1, 1),
                "ox0 = 8 must be less than out_w = 8 (the last CONV_GEOM)",
            ),
            (
                im2col(0, 3, 0, 0, 1, 1),
                "ky0 = 3 must be less than kh = 3 (the last CONV_GEOM)",
            ),
            (
                im2col(0, 0, 3, 0, 1, 1),
                "kx0 = 3 must be less than kw = 3 (the last CONV_GEOM)",
            ),
            (
                im2col(0, 0, 0, 2, 1, 1),
                "ic0 = 2 must be less than in_c = 2 (the last CONV_GEOM)",
            ),
            (
                im2col(0, 2, 2, 1, 1, 2),
                "taps 17..=18 (ky0, kx0, ic0 and ncols) exceed the K = kh*kw*in_c = 18 \
                 columns of the last CONV_GEOM",
            ),
            (
                // tiny-4x4: 8 KiB / 4 = 2048 input lines; 18 taps on 4-byte lines = 5 per
                // row.
                Command::new(Op::LoadIm2col(LoadIm2col {
                    sp_line: 2048 - 5 * 4 + 1,
                    ..im2col_op(0, 0, 0, 0, 4, 18)
                })),
                "lines 2029..2049 exceed the 2048-line scratchpad",
            ),
        ] {
            let e = check_buffer(&cfg, &mem, &[g, cmd, fin()]).unwrap_err();
            assert_eq!((e.index, e.reason.as_str()), (1, reason));
        }
        // The last CONV_GEOM counts: out_w 4 after out_w 8.
        let e = check_buffer(
            &cfg,
            &mem,
            &[g, geom(0, 8, 8, 2, 4), im2col(5, 0, 0, 0, 1, 1), fin()],
        )
        .unwrap_err();
        assert_eq!(e.index, 2);
        assert!(e.reason.contains("out_w = 4"), "{}", e.reason);
        // The image must lie inside the device memory: 4000 + 128 > 4096.
        let e = check_buffer(&cfg, &mem, &[geom(4000, 8, 8, 2, 8), fin()]).unwrap_err();
        assert_eq!(
            (e.index, e.reason.as_str()),
            (
                0,
                "memory access 0xfa0..0x1020 outside the 4096-byte device memory"
            )
        );
        assert!(check_buffer(&cfg, &mem, &[geom(3968, 8, 8, 2, 8), fin()]).is_ok());
        // Without the unit the decoder's config check rejects both commands.
        cfg.im2col = false;
        let bytes = isa::encode_all(&[g, ok, fin()]);
        let e = decode_checked(&cfg, &bytes).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(e.reason.contains("im2col = false"), "{}", e.reason);
    }

    fn vset(mode: VMode, tap_stride: u32, divisor: u16) -> VSet {
        VSet {
            mode,
            tap_stride,
            divisor,
            ..VSet::default()
        }
    }

    fn vcompute(accumulate: bool, a_line: u32, b_line: u32, m: u16, k: u16) -> VCompute {
        VCompute {
            accumulate,
            a_line,
            b_line,
            c_line: 0,
            m,
            k,
            n: 4,
        }
    }

    #[test]
    fn vcompute_is_checked_against_the_last_vset() {
        let sp = Scratchpads::of(&cfg());
        let (in_lines, w_lines) = (sp.in_lines as u32, sp.w_lines as u32);
        let ok = vcompute(false, 0, 0, 4, 3);
        // No VSET before it.
        assert_eq!(
            check_vcompute(&sp, None, &ok).unwrap_err().to_string(),
            "no VSET before this VCOMPUTE in the command buffer (the vector unit's mode \
             registers are reset at every start)"
        );
        for mode in [VMode::Mac, VMode::Sum, VMode::Max, VMode::Add] {
            let k = if mode == VMode::Add { 1 } else { 3 };
            let c = vcompute(mode != VMode::Sum, 0, 0, 4, k);
            assert_eq!(check_vcompute(&sp, Some(&vset(mode, 4, 0)), &c), Ok(()));
        }
        // ADD takes one tap per position.
        let add = vset(VMode::Add, 0, 0);
        assert_eq!(
            check_vcompute(&sp, Some(&add), &ok)
                .unwrap_err()
                .to_string(),
            "k = 3: ADD takes one tap per position (mode ADD of the last VSET)"
        );
        // A divisor excludes ACCUMULATE (SUM without a divisor accumulates).
        let avg = vset(VMode::Sum, 4, 9);
        assert_eq!(
            check_vcompute(&sp, Some(&avg), &vcompute(true, 0, 0, 4, 3))
                .unwrap_err()
                .to_string(),
            "ACCUMULATE with divisor 9: the divide applies to a whole window (mode SUM of the \
             last VSET)"
        );
        assert_eq!(check_vcompute(&sp, Some(&avg), &ok), Ok(()));
        // Input lines: the last one read is a_line + (k-1)*tap_stride + m - 1.
        let max = vset(VMode::Max, 100, 0);
        let last_fit = vcompute(false, in_lines - 2 * 100 - 4, 0, 4, 3);
        assert_eq!(check_vcompute(&sp, Some(&max), &last_fit), Ok(()));
        let past = VCompute {
            a_line: last_fit.a_line + 1,
            ..last_fit
        };
        assert_eq!(
            check_vcompute(&sp, Some(&max), &past)
                .unwrap_err()
                .to_string(),
            format!(
                "a_line: lines up to {} exceed the {in_lines}-line input scratchpad",
                in_lines + 1
            )
        );
        // Weight lines: MAC reads b_line .. b_line + k, ADD b_line .. b_line + m, SUM and
        // MAX none.
        let mac = vset(VMode::Mac, 4, 0);
        let w = |b_line: u32, m: u16, k: u16| vcompute(false, 0, b_line, m, k);
        assert_eq!(
            check_vcompute(&sp, Some(&mac), &w(w_lines - 3, 8, 3)),
            Ok(())
        );
        assert_eq!(
            check_vcompute(&sp, Some(&mac), &w(w_lines - 2, 8, 3))
                .unwrap_err()
                .to_string(),
            format!(
                "b_line: lines up to {} exceed the {w_lines}-line weight scratchpad",
                w_lines + 1
            )
        );
        assert_eq!(
            check_vcompute(&sp, Some(&add), &w(w_lines - 8, 8, 1)),
            Ok(())
        );
        let e = check_vcompute(&sp, Some(&add), &w(w_lines - 7, 8, 1)).unwrap_err();
        assert_eq!(
            e,
            Violation::VectorLines {
                field: "b_line",
                end: w_lines as u64 + 1,
                lines: w_lines as u64,
                sp: "weight",
            }
        );
        let far = w(u32::MAX >> 8, 8, 3);
        assert_eq!(check_vcompute(&sp, Some(&max), &far), Ok(()));
        assert_eq!(check_vcompute(&sp, Some(&avg), &far), Ok(()));
    }

    #[test]
    fn check_buffer_tracks_the_last_vset_before_the_transfers() {
        let mut cfg = cfg();
        cfg.depthwise = true;
        cfg.pooling = true;
        cfg.eltwise = true;
        let mem = vec![0u8; 4096];
        let vs = |s: VSet| Command::new(Op::VSet(s));
        let vc = |c: VCompute| Command::new(Op::VCompute(c));
        let three_taps = vcompute(false, 0, 0, 2, 3);
        let (add, max) = (vset(VMode::Add, 0, 0), vset(VMode::Max, 1, 0));
        assert!(check_buffer(&cfg, &mem, &[vs(add), vs(max), vc(three_taps), fin()]).is_ok());
        let e = check_buffer(&cfg, &mem, &[vs(max), vs(add), vc(three_taps), fin()]).unwrap_err();
        assert_eq!(e.index, 2);
        assert!(e.reason.contains("mode ADD"), "{}", e.reason);
        let e = check_buffer(&cfg, &mem, &[vc(three_taps), vs(max), fin()]).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(e.reason.starts_with("no VSET"), "{}", e.reason);
        // The compute queue is checked first: the VCOMPUTE's error is reported before
        // that of a LOAD earlier in the buffer.
        let bad_load = load(4094, 4, 1, 4);
        let e = check_buffer(&cfg, &mem, &[bad_load, vs(add), vc(three_taps), fin()]).unwrap_err();
        assert_eq!(e.index, 2);
        let e = check_buffer(&cfg, &mem, &[bad_load, vs(max), vc(three_taps), fin()]).unwrap_err();
        assert_eq!(e.index, 0);
        assert!(e.reason.starts_with("memory access"), "{}", e.reason);
        // After FINISH nothing is checked.
        assert!(check_buffer(&cfg, &mem, &[fin(), vc(three_taps)]).is_ok());
    }

    #[test]
    fn buffers_are_decoded_inside_the_memory() {
        let cfg = cfg();
        let mut mem = vec![0u8; 256];
        let bytes = isa::encode_all(&[load(0, 4, 1, 4), fin()]);
        mem[64..64 + bytes.len()].copy_from_slice(&bytes);
        assert_eq!(decode_buffer(&cfg, &mem, 64, 2).unwrap().len(), 2);
        let e = decode_buffer(&cfg, &mem, 250, 2).unwrap_err();
        assert_eq!(
            e.to_string(),
            "command 0 (<buffer>): command buffer 0xfa+32 outside the 256-byte memory"
        );
        let e = decode_buffer(&cfg, &mem, 64, 1).unwrap_err();
        assert_eq!((e.index, e.cmd.as_str()), (1, "<end>"));
    }
}
