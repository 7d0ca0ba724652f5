//! The GEMM program builder: one int8 GEMM layer (`C = requant(A x B + bias)`) as a
//! command stream for the accelerator, tiled to its scratchpads with double buffering
//! (`docs/architecture.md`, section 5, describes the dependency protocol).
//!
//! Semantics: `A` int8 `m x k` (row `r` at `a_addr + r*a_stride`), `B` int8 `k x n`
//! (row at `b_addr + r*b_stride`), per-column `bias`, `mult`, `shift` (int32) packed by
//! [`pack_params`] at `params_addr`, and
//! `C[m][n] = arch::quant::requantize(sum_k A[m][k]*B[k][n], bias[n], mult[n], shift[n],
//! zp_out, act_min, act_max)` as int8 at `c_addr + m*c_stride + n`, or the raw int32
//! sums (`Output::Int32`, 4 bytes LE per element). The input zero-point correction is
//! the caller's job (fold `-zp_in * sum_k B[k][n]` into the bias).
//!
//! **Hardware im2col** (`GemmProblem.im2col = Some(window)`, configurations with
//! `im2col = true`): `A` is the implicit im2col matrix of the NHWC image at `a_addr`
//! (`in_h x in_w x in_c` bytes, [`arch::im2col`]), taps outside the image
//! `MemLayout::a_pad` (the input zero point, so that the folded bias cancels them). The
//! program starts with one `CONV_GEOM` and every A load is a `LOAD_IM2COL` of the same
//! tile ([`LoadTile::im2col_load`]); `m` is the number of output positions (`out_h * out_w`) and
//! `k` the window's patch length.
//!
//! Use [`build`] for the command stream and [`run`] to execute a whole GEMM on any
//! [`Device`] (write operands, submit, read back).

use crate::tiling::{self, Tiling, TilingError};
use arch::device::{Counters, Device, DeviceError};
use arch::im2col::Window;
use arch::isa::{
    self, Command, LoadParams, Op, Store, MAX_GEOM_DIM, MAX_GEOM_KERNEL, MAX_GEOM_PAD, MAX_STRIDE,
    PARAM_RECORD_BYTES,
};
use arch::schedule::{self as sched, Operand};
use arch::AccelConfig;

pub use arch::schedule::{plan_step, steps, GemmProblem, Output, Step, StepPlan};

/// Where the operands live in device memory (byte addresses and row strides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemLayout {
    /// A (`m x k`, rows `a_stride` apart), or the NHWC image of an im2col problem
    /// (`a_stride` unused).
    pub a_addr: u64,
    pub a_stride: u64,
    /// The value of the implicit A's taps outside the image (im2col problems only: the
    /// `pad_value` of every `LOAD_IM2COL`; the input zero point in the delegate).
    pub a_pad: i8,
    pub b_addr: u64,
    pub b_stride: u64,
    pub params_addr: u64,
    pub c_addr: u64,
    pub c_stride: u64,
    /// Where the command buffer goes (16-byte aligned).
    pub cmd_addr: u64,
}

fn align(x: u64, a: u64) -> u64 {
    x.div_ceil(a) * a
}

impl MemLayout {
    /// Dense row-major operands one after another from `base`: A (or the image of an
    /// im2col problem), B, params, C, then the command buffer (each 64-byte aligned);
    /// pad value 0.
    pub fn packed(p: &GemmProblem, base: u64) -> MemLayout {
        let (m, k, n) = (p.m as u64, p.k as u64, p.n as u64);
        let a_addr = align(base, 64);
        let a_bytes = p.im2col.map_or(m * k, |w| w.image_bytes());
        let b_addr = align(a_addr + a_bytes, 64);
        let params_addr = align(b_addr + k * n, 64);
        let c_addr = align(params_addr + n * PARAM_RECORD_BYTES as u64, 64);
        let cmd_addr = align(c_addr + m * n * p.out_elem_bytes() as u64, 64);
        MemLayout {
            a_addr,
            a_stride: k,
            a_pad: 0,
            b_addr,
            b_stride: n,
            params_addr,
            c_addr,
            c_stride: n * p.out_elem_bytes() as u64,
            cmd_addr,
        }
    }
}

/// A built program.
#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    pub commands: Vec<Command>,
    pub tiling: Tiling,
    pub layout: MemLayout,
}

impl Program {
    /// The command buffer bytes.
    pub fn encode(&self) -> Vec<u8> {
        isa::encode_all(&self.commands)
    }
    /// End of the command buffer in device memory (the memory the program needs).
    pub fn mem_end(&self) -> u64 {
        self.layout.cmd_addr + (self.commands.len() * isa::COMMAND_BYTES) as u64
    }
}

/// Errors of the GEMM builder and runner.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GemmError {
    #[error(transparent)]
    Tiling(#[from] TilingError),
    #[error("GEMM field `{field}` = {value}: {reason}")]
    Field {
        field: &'static str,
        value: i64,
        reason: String,
    },
    #[error("hardware im2col problem on `{config}`, which has no im2col unit (im2col = false)")]
    NoIm2col { config: String },
    #[error("GEMM operand `{what}`: expected {expected} elements, got {got}")]
    DataLength {
        what: &'static str,
        expected: usize,
        got: usize,
    },
    #[error("internal: generated command {index} ({cmd}) is illegal: {reason}")]
    Internal {
        index: usize,
        cmd: String,
        reason: String,
    },
    #[error("device: {0}")]
    Device(#[from] DeviceError),
}

fn field(field: &'static str, value: i64, reason: impl Into<String>) -> GemmError {
    GemmError::Field {
        field,
        value,
        reason: reason.into(),
    }
}

fn check_problem(p: &GemmProblem, l: &MemLayout) -> Result<(), GemmError> {
    if let Output::Int8 {
        zp_out,
        act_min,
        act_max,
    } = p.output
    {
        for (name, v) in [
            ("zp_out", zp_out),
            ("act_min", act_min),
            ("act_max", act_max),
        ] {
            if !(-128..=127).contains(&v) {
                return Err(field(name, v as i64, "must lie in -128..=127 (int8)"));
            }
        }
        if act_min > act_max {
            return Err(field("act_min", act_min as i64, "greater than act_max"));
        }
    }
    let e = p.out_elem_bytes() as u64;
    if let Some(w) = &p.im2col {
        check_window(p, w)?;
    }
    let a_stride_min = match p.im2col {
        // The image is read by the window, not by rows: no stride.
        Some(_) => 0,
        None => p.k as u64,
    };
    for (name, stride, min) in [
        ("a_stride", l.a_stride, a_stride_min),
        ("b_stride", l.b_stride, p.n as u64),
        ("c_stride", l.c_stride, p.n as u64 * e),
    ] {
        if stride < min {
            return Err(field(
                name,
                stride as i64,
                format!("smaller than a row ({min} bytes)"),
            ));
        }
        if stride > MAX_STRIDE as u64 {
            return Err(field(
                name,
                stride as i64,
                format!("exceeds the 24-bit stride field ({MAX_STRIDE})"),
            ));
        }
    }
    let ends = [
        (
            "a_addr",
            l.a_addr,
            match &p.im2col {
                Some(w) => w.image_bytes(),
                None => (p.m as u64).saturating_sub(1) * l.a_stride + p.k as u64,
            },
        ),
        (
            "b_addr",
            l.b_addr,
            (p.k as u64).saturating_sub(1) * l.b_stride + p.n as u64,
        ),
        (
            "params_addr",
            l.params_addr,
            p.n as u64 * PARAM_RECORD_BYTES as u64,
        ),
        (
            "c_addr",
            l.c_addr,
            (p.m as u64).saturating_sub(1) * l.c_stride + p.n as u64 * e,
        ),
    ];
    for (name, addr, len) in ends {
        if addr + len > 1 << 32 {
            return Err(field(
                name,
                addr as i64,
                "operand exceeds the 32-bit device address space",
            ));
        }
    }
    if !l.cmd_addr.is_multiple_of(isa::COMMAND_BYTES as u64) {
        return Err(field(
            "cmd_addr",
            l.cmd_addr as i64,
            "must be 16-byte aligned",
        ));
    }
    Ok(())
}

/// The window of an im2col problem fits the `CONV_GEOM` / `LOAD_IM2COL` fields, and `m`
/// and `k` are its implicit matrix's.
fn check_window(p: &GemmProblem, w: &Window) -> Result<(), GemmError> {
    let dim = MAX_GEOM_DIM as u32;
    let kern = MAX_GEOM_KERNEL as u32;
    for (name, v, lo, hi) in [
        ("in_h", w.in_h, 1, dim),
        ("in_w", w.in_w, 1, dim),
        ("in_c", w.in_c, 1, u16::MAX as u32),
        ("out_w", w.out_w, 1, dim),
        ("kh", w.kh, 1, kern),
        ("kw", w.kw, 1, kern),
        ("sh", w.sh, 1, kern),
        ("sw", w.sw, 1, kern),
        ("dh", w.dh, 1, kern),
        ("dw", w.dw, 1, kern),
        ("pad_t", w.pad_t, 0, MAX_GEOM_PAD as u32),
        ("pad_l", w.pad_l, 0, MAX_GEOM_PAD as u32),
    ] {
        if !(lo..=hi).contains(&v) {
            return Err(field(
                name,
                v as i64,
                format!("the im2col window field must lie in {lo}..={hi}"),
            ));
        }
    }
    if p.k as u64 != w.patch_len() {
        return Err(field(
            "k",
            p.k as i64,
            format!(
                "an im2col problem's k is the window's patch length kh*kw*in_c = {}",
                w.patch_len()
            ),
        ));
    }
    // The first position of the last tile must be addressable: oy0 is a 12-bit field.
    let out_rows = (p.m as u64).div_ceil(w.out_w as u64);
    if out_rows > dim as u64 + 1 {
        return Err(field(
            "m",
            p.m as i64,
            format!(
                "{out_rows} output rows of {} positions exceed the 12-bit oy0 field",
                w.out_w
            ),
        ));
    }
    Ok(())
}

/// Builds the command stream of `p` on `cfg` with operands at `layout` (tiled by
/// [`tiling::choose_problem`]).
pub fn build(cfg: &AccelConfig, p: &GemmProblem, layout: &MemLayout) -> Result<Program, GemmError> {
    check_problem(p, layout)?;
    if p.im2col.is_some() && !cfg.im2col {
        return Err(GemmError::NoIm2col {
            config: cfg.name.clone(),
        });
    }
    let t = tiling::choose_problem(cfg, p)?;
    build_with(cfg, p, layout, t)
}

/// Builds with a given tiling (it must come from [`tiling::choose`] or satisfy the same
/// constraints; the commands are checked against `cfg`).
pub fn build_with(
    cfg: &AccelConfig,
    p: &GemmProblem,
    layout: &MemLayout,
    t: Tiling,
) -> Result<Program, GemmError> {
    check_problem(p, layout)?;
    let e = p.out_elem_bytes() as u64;
    let mut cmds: Vec<Command> = Vec::new();
    if let Some(w) = &p.im2col {
        cmds.push(Command::new(Op::ConvGeom(w.geom(layout.a_addr as u32))));
    }
    for s in sched::steps(&t, p.output != Output::Int32) {
        let plan = sched::plan_step(cfg, &t, &s);
        for l in &plan.loads {
            let (base, stride) = match l.operand {
                Operand::A => (layout.a_addr, layout.a_stride),
                Operand::B => (layout.b_addr, layout.b_stride),
            };
            match (l.operand, &p.im2col) {
                (Operand::A, Some(w)) => cmds.push(Command {
                    op: Op::LoadIm2col(l.im2col_load(w, layout.a_pad)),
                    deps: l.deps,
                }),
                _ => cmds.push(l.command(base + l.row0 * stride + l.col0, stride)),
            }
        }
        cmds.extend(plan.computes);
        if let (
            Some(pt),
            Output::Int8 {
                zp_out,
                act_min,
                act_max,
            },
        ) = (plan.params, p.output)
        {
            cmds.push(Command {
                op: Op::LoadParams(LoadParams {
                    mem_addr: (layout.params_addr + pt.col0 * PARAM_RECORD_BYTES as u64) as u32,
                    count: pt.count as u16,
                    zp_out: zp_out as i8,
                    act_min: act_min as i8,
                    act_max: act_max as i8,
                }),
                deps: pt.deps,
            });
        }
        if let Some(st) = plan.store {
            cmds.push(Command {
                op: Op::Store(Store {
                    raw_int32: p.output == Output::Int32,
                    acc_line: st.acc_line as u32,
                    mem_addr: (layout.c_addr + st.row0 * layout.c_stride + st.col0 * e) as u32,
                    mem_stride: layout.c_stride as u32,
                    nrows: st.nrows as u16,
                    ncols: st.ncols as u16,
                }),
                deps: st.deps,
            });
        }
    }
    cmds.push(Command::new(Op::Finish));
    for (index, cmd) in cmds.iter().enumerate() {
        cmd.check(cfg).map_err(|e| GemmError::Internal {
            index,
            cmd: cmd.to_string(),
            reason: e.to_string(),
        })?;
    }
    Ok(Program {
        commands: cmds,
        tiling: t,
        layout: *layout,
    })
}

/// Packs per-column parameters for `LOAD_PARAMS` (12-byte records, little-endian).
pub fn pack_params(bias: &[i32], mult: &[i32], shift: &[i32]) -> Result<Vec<u8>, GemmError> {
    if mult.len() != bias.len() {
        return Err(GemmError::DataLength {
            what: "mult",
            expected: bias.len(),
            got: mult.len(),
        });
    }
    if shift.len() != bias.len() {
        return Err(GemmError::DataLength {
            what: "shift",
            expected: bias.len(),
            got: shift.len(),
        });
    }
    let mut out = Vec::with_capacity(bias.len() * PARAM_RECORD_BYTES);
    for ((b, m), s) in bias.iter().zip(mult).zip(shift) {
        if !(-31..=31).contains(s) {
            return Err(field("shift", *s as i64, "must lie in -31..=31"));
        }
        out.extend_from_slice(&b.to_le_bytes());
        out.extend_from_slice(&m.to_le_bytes());
        out.extend_from_slice(&s.to_le_bytes());
    }
    Ok(out)
}

/// The operands of one GEMM (row-major, dense).
#[derive(Debug, Clone, Copy)]
pub struct GemmData<'a> {
    /// `m x k`; for an im2col problem the NHWC image (`in_h * in_w * in_c`).
    pub a: &'a [i8],
    /// `k x n`.
    pub b: &'a [i8],
    /// `n` each (ignored for `Output::Int32`, may be empty then).
    pub bias: &'a [i32],
    pub mult: &'a [i32],
    pub shift: &'a [i32],
}

/// A GEMM result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GemmResult {
    Int8(Vec<i8>),
    Int32(Vec<i32>),
}

fn check_data(p: &GemmProblem, d: &GemmData) -> Result<(), GemmError> {
    let a_len = p.im2col.map_or(p.m * p.k, |w| w.image_bytes() as usize);
    let want = [("a", a_len, d.a.len()), ("b", p.k * p.n, d.b.len())];
    for (what, expected, got) in want {
        if expected != got {
            return Err(GemmError::DataLength {
                what,
                expected,
                got,
            });
        }
    }
    if let Output::Int8 { .. } = p.output {
        for (what, got) in [
            ("bias", d.bias.len()),
            ("mult", d.mult.len()),
            ("shift", d.shift.len()),
        ] {
            if got != p.n {
                return Err(GemmError::DataLength {
                    what,
                    expected: p.n,
                    got,
                });
            }
        }
    }
    Ok(())
}

/// The implicit `m x k` A matrix of window `w` over `image`, element by element from the
/// window's definition ([`Window::source`]); taps outside the image are `pad`.
pub fn implicit_a(w: &Window, m: usize, image: &[i8], pad: i8) -> Vec<i8> {
    let k = w.patch_len() as usize;
    let mut a = vec![pad; m * k];
    for r in 0..m {
        let (oy, ox) = w.origin(r as u64);
        for c in 0..k {
            let (ky, kx, ic) = w.tap(c as u64);
            if let Some(off) = w.source(oy, ox, ky, kx, ic) {
                a[r * k + c] = image[off as usize];
            }
        }
    }
    a
}

/// The naive reference: `C = requant(A x B + bias)` (or the raw int32 sums); for an
/// im2col problem A is the implicit matrix with pad value 0 (as [`MemLayout::packed`];
/// see [`reference_padded`]).
pub fn reference(p: &GemmProblem, d: &GemmData) -> Result<GemmResult, GemmError> {
    reference_padded(p, d, 0)
}

/// [`reference()`] with the implicit A's taps outside the image equal to `pad` (im2col
/// problems; ignored otherwise).
pub fn reference_padded(p: &GemmProblem, d: &GemmData, pad: i8) -> Result<GemmResult, GemmError> {
    check_data(p, d)?;
    let implicit;
    let a: &[i8] = match &p.im2col {
        Some(w) => {
            implicit = implicit_a(w, p.m, d.a, pad);
            &implicit
        }
        None => d.a,
    };
    let mut acc = vec![0i32; p.m * p.n];
    for i in 0..p.m {
        for kk in 0..p.k {
            let a = a[i * p.k + kk] as i32;
            for j in 0..p.n {
                acc[i * p.n + j] = acc[i * p.n + j].wrapping_add(a * d.b[kk * p.n + j] as i32);
            }
        }
    }
    Ok(match p.output {
        Output::Int32 => GemmResult::Int32(acc),
        Output::Int8 {
            zp_out,
            act_min,
            act_max,
        } => GemmResult::Int8(
            acc.iter()
                .enumerate()
                .map(|(idx, &x)| {
                    let j = idx % p.n;
                    arch::quant::requantize(
                        x, d.bias[j], d.mult[j], d.shift[j], zp_out, act_min, act_max,
                    )
                })
                .collect(),
        ),
    })
}

/// Runs one GEMM on a device: writes A, B and the parameters at `layout`, builds and
/// submits the program, reads C back. Returns the result and the run's counters.
pub fn run(
    dev: &mut dyn Device,
    p: &GemmProblem,
    d: &GemmData,
    layout: &MemLayout,
) -> Result<(GemmResult, Counters), GemmError> {
    let cfg = dev.config().clone();
    let prog = build(&cfg, p, layout)?;
    run_program(dev, p, d, &prog)
}

/// Runs an already built program of `p` (from [`build`] or [`build_with`], e.g. with a
/// forced tiling): writes A, B and the parameters at the program's layout, submits it
/// and reads C back.
pub fn run_program(
    dev: &mut dyn Device,
    p: &GemmProblem,
    d: &GemmData,
    prog: &Program,
) -> Result<(GemmResult, Counters), GemmError> {
    check_data(p, d)?;
    let layout = &prog.layout;
    if prog.mem_end() > dev.mem_size() {
        return Err(field(
            "layout",
            prog.mem_end() as i64,
            format!(
                "the program needs {} bytes of device memory, the device has {}",
                prog.mem_end(),
                dev.mem_size()
            ),
        ));
    }
    let a_bytes: Vec<u8> = d.a.iter().map(|&x| x as u8).collect();
    let b_bytes: Vec<u8> = d.b.iter().map(|&x| x as u8).collect();
    if p.im2col.is_some() {
        // The NHWC image, read by the window.
        dev.write_mem(layout.a_addr, &a_bytes)?;
    } else {
        for r in 0..p.m {
            dev.write_mem(
                layout.a_addr + r as u64 * layout.a_stride,
                &a_bytes[r * p.k..(r + 1) * p.k],
            )?;
        }
    }
    for r in 0..p.k {
        dev.write_mem(
            layout.b_addr + r as u64 * layout.b_stride,
            &b_bytes[r * p.n..(r + 1) * p.n],
        )?;
    }
    if let Output::Int8 { .. } = p.output {
        dev.write_mem(layout.params_addr, &pack_params(d.bias, d.mult, d.shift)?)?;
    }
    let counters = dev.submit(layout.cmd_addr, &prog.encode())?;
    let e = p.out_elem_bytes();
    let mut row = vec![0u8; p.n * e];
    let mut raw = Vec::with_capacity(p.m * p.n * e);
    for r in 0..p.m {
        dev.read_mem(layout.c_addr + r as u64 * layout.c_stride, &mut row)?;
        raw.extend_from_slice(&row);
    }
    let result = match p.output {
        Output::Int8 { .. } => GemmResult::Int8(raw.iter().map(|&x| x as i8).collect()),
        Output::Int32 => GemmResult::Int32(
            raw.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        ),
    };
    Ok((result, counters))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arch::Dataflow;

    #[test]
    fn program_is_legal_and_tokens_balance() {
        for preset in ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"] {
            for df in Dataflow::ALL {
                let mut cfg = AccelConfig::preset(preset).unwrap();
                cfg.dataflow = df;
                for (m, k, n) in [(1, 1, 1), (100, 200, 300), (7, 3000, 5), (33, 17, 65)] {
                    let p = GemmProblem::int8(m, k, n, 3);
                    let prog = build(&cfg, &p, &MemLayout::packed(&p, 0)).unwrap();
                    // Every token pushed is popped, except S2C/C2L at the very end.
                    let mut pushes = [0i64; 4];
                    let mut pops = [0i64; 4];
                    for c in &prog.commands {
                        let q = c.op.queue();
                        let d = c.deps;
                        use arch::isa::Queue::*;
                        // index: 0 L2C, 1 C2L, 2 C2S, 3 S2C
                        match q {
                            Some(Load) => {
                                pops[1] += d.pop_next as i64;
                                pushes[0] += d.push_next as i64;
                            }
                            Some(Compute) => {
                                pops[0] += d.pop_prev as i64;
                                pops[3] += d.pop_next as i64;
                                pushes[1] += d.push_prev as i64;
                                pushes[2] += d.push_next as i64;
                            }
                            Some(Store) => {
                                pops[2] += d.pop_prev as i64;
                                pushes[3] += d.push_prev as i64;
                            }
                            None => {}
                        }
                    }
                    assert_eq!(pushes, pops, "{preset} {df} {m}x{k}x{n}");
                }
            }
        }
    }

    fn window(in_h: u32, in_w: u32, in_c: u32, k: u32, s: u32, pad: u32) -> Window {
        Window {
            in_h,
            in_w,
            in_c,
            out_w: (in_w + 2 * pad - k) / s + 1,
            kh: k,
            kw: k,
            sh: s,
            sw: s,
            dh: 1,
            dw: 1,
            pad_t: pad,
            pad_l: pad,
        }
    }

    fn im2col_problem(w: Window, n: usize) -> GemmProblem {
        let out_h = (w.in_h + 2 * w.pad_t - w.kh) / w.sh + 1;
        GemmProblem {
            im2col: Some(w),
            ..GemmProblem::int8((out_h * w.out_w) as usize, w.patch_len() as usize, n, 3)
        }
    }

    /// An im2col program: one CONV_GEOM first (the image address), then the schedule's
    /// loads with every A load a LOAD_IM2COL of the same tile (origin, size, line,
    /// transpose) with the layout's pad value; no plain LOAD into the input scratchpad.
    #[test]
    fn im2col_programs_replace_the_a_loads() {
        for preset in ["tiny-4x4", "edge-8x8", "wide-4x16"] {
            for df in Dataflow::ALL {
                for outstanding in [1, 4] {
                    let mut cfg = AccelConfig::preset(preset).unwrap();
                    cfg.dataflow = df;
                    cfg.im2col = true;
                    cfg.dma_outstanding = outstanding;
                    for (w, n) in [
                        (window(32, 32, 3, 3, 1, 1), 16),
                        (window(17, 13, 21, 5, 2, 2), 33),
                        (window(8, 8, 200, 3, 1, 0), 10),
                    ] {
                        let p = im2col_problem(w, n);
                        let mut layout = MemLayout::packed(&p, 1 << 12);
                        layout.a_pad = -5;
                        let prog = build(&cfg, &p, &layout).unwrap();
                        let t = prog.tiling;
                        assert_eq!(t, tiling::choose_problem(&cfg, &p).unwrap());
                        match prog.commands[0].op {
                            Op::ConvGeom(g) => {
                                assert_eq!(Window::of(&g), w);
                                assert_eq!(g.mem_addr as u64, layout.a_addr);
                            }
                            ref o => panic!("first command {o:?}"),
                        }
                        let want: Vec<arch::isa::LoadIm2col> = sched::steps(&t, true)
                            .iter()
                            .flat_map(|s| sched::plan_step(&cfg, &t, s).loads)
                            .filter(|l| l.operand == Operand::A)
                            .map(|l| l.im2col_load(&w, -5))
                            .collect();
                        let got: Vec<arch::isa::LoadIm2col> = prog
                            .commands
                            .iter()
                            .filter_map(|c| match c.op {
                                Op::LoadIm2col(l) => Some(l),
                                _ => None,
                            })
                            .collect();
                        assert_eq!(got, want, "{preset} {df} {outstanding}");
                        assert!(!prog.commands.iter().any(|c| matches!(
                            c.op,
                            Op::Load(l) if l.sp == isa::Scratchpad::Input
                        )));
                        // Each LOAD_IM2COL's first element is element (row0, col0) of A.
                        for l in &got {
                            let (oy, ox) = w.position(l, 0);
                            let (ky, kx, ic) = w.tap(w.first_tap(l));
                            assert!(oy < 4096 && ox < w.out_w as u64 && ky < 16 && kx < 16);
                            assert!(ic < w.in_c as u64);
                        }
                        assert_eq!(
                            prog.commands
                                .iter()
                                .filter(|c| matches!(c.op, Op::ConvGeom(_)))
                                .count(),
                            1
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bad_im2col_problems_rejected() {
        let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
        let w = window(16, 16, 8, 3, 1, 1);
        let p = im2col_problem(w, 8);
        let l = MemLayout::packed(&p, 0);
        assert!(matches!(
            build(&cfg, &p, &l),
            Err(GemmError::NoIm2col { .. })
        ));
        cfg.im2col = true;
        assert!(build(&cfg, &p, &l).is_ok());
        let field_of = |p: &GemmProblem| match build(&cfg, p, &MemLayout::packed(p, 0)) {
            Err(GemmError::Field { field, .. }) => field,
            o => panic!("{o:?}"),
        };
        let mut bad = p;
        bad.k += 1;
        assert_eq!(field_of(&bad), "k");
        let mut bad = p;
        bad.m = 4097 * w.out_w as usize;
        assert_eq!(field_of(&bad), "m");
        let mut broken = Vec::new();
        for (name, value) in [("kh", 17), ("pad_l", 16), ("in_w", 4096), ("dw", 0)] {
            let mut bw = w;
            match name {
                "kh" => bw.kh = value,
                "pad_l" => bw.pad_l = value,
                "in_w" => bw.in_w = value,
                _ => bw.dw = value,
            }
            broken.push((name, bw));
        }
        for (name, bw) in broken {
            let bad = GemmProblem {
                im2col: Some(bw),
                k: bw.patch_len() as usize,
                ..p
            };
            assert_eq!(field_of(&bad), name);
        }
        // The image must fit the 32-bit address space.
        let l = MemLayout::packed(&p, (1 << 32) - 1024);
        assert!(matches!(
            build(&cfg, &p, &l),
            Err(GemmError::Field {
                field: "a_addr",
                ..
            })
        ));
        // The data of an im2col problem is the image.
        let a = vec![0i8; p.m * p.k];
        let b = vec![0i8; p.k * p.n];
        let z = vec![0i32; p.n];
        let d = GemmData {
            a: &a,
            b: &b,
            bias: &z,
            mult: &z,
            shift: &z,
        };
        assert!(matches!(
            reference(&p, &d),
            Err(GemmError::DataLength { what: "a", .. })
        ));
    }

    #[test]
    fn bad_problems_rejected() {
        let cfg = AccelConfig::default();
        let p = GemmProblem::int8(4, 4, 4, 300);
        assert!(matches!(
            build(&cfg, &p, &MemLayout::packed(&p, 0)),
            Err(GemmError::Field {
                field: "zp_out",
                ..
            })
        ));
        let p = GemmProblem::int8(4, 0, 4, 0);
        assert!(build(&cfg, &p, &MemLayout::packed(&p, 0)).is_err());
        let p = GemmProblem::int8(4, 4, 4, 0);
        let mut l = MemLayout::packed(&p, 0);
        l.a_stride = 2;
        assert!(matches!(
            build(&cfg, &p, &l),
            Err(GemmError::Field {
                field: "a_stride",
                ..
            })
        ));
        l = MemLayout::packed(&p, 0xFFFF_FFC0);
        assert!(build(&cfg, &p, &l).is_err());
    }
}
