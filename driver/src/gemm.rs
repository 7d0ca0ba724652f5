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
//! Use [`build`] for the command stream and [`run`] to execute a whole GEMM on any
//! [`Device`] (write operands, submit, read back).

use crate::tiling::{self, Tiling, TilingError};
use arch::device::{Counters, Device, DeviceError};
use arch::isa::{self, Command, LoadParams, Op, Store, MAX_STRIDE, PARAM_RECORD_BYTES};
use arch::schedule::{self as sched, Operand};
use arch::AccelConfig;

pub use arch::schedule::{plan_step, steps, GemmProblem, Output, Step, StepPlan};

/// Where the operands live in device memory (byte addresses and row strides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemLayout {
    pub a_addr: u64,
    pub a_stride: u64,
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
    /// Dense row-major operands one after another from `base`: A, B, params, C, then the
    /// command buffer (each 64-byte aligned).
    pub fn packed(p: &GemmProblem, base: u64) -> MemLayout {
        let (m, k, n) = (p.m as u64, p.k as u64, p.n as u64);
        let a_addr = align(base, 64);
        let b_addr = align(a_addr + m * k, 64);
        let params_addr = align(b_addr + k * n, 64);
        let c_addr = align(params_addr + n * PARAM_RECORD_BYTES as u64, 64);
        let cmd_addr = align(c_addr + m * n * p.out_elem_bytes() as u64, 64);
        MemLayout {
            a_addr,
            a_stride: k,
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
    for (name, stride, min) in [
        ("a_stride", l.a_stride, p.k as u64),
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
            (p.m as u64).saturating_sub(1) * l.a_stride + p.k as u64,
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

/// Builds the command stream of `p` on `cfg` with operands at `layout`.
pub fn build(cfg: &AccelConfig, p: &GemmProblem, layout: &MemLayout) -> Result<Program, GemmError> {
    check_problem(p, layout)?;
    let t = tiling::choose(cfg, p.m as u64, p.k as u64, p.n as u64)?;
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
    for s in sched::steps(&t, p.output != Output::Int32) {
        let plan = sched::plan_step(cfg, &t, &s);
        for l in &plan.loads {
            let (base, stride) = match l.operand {
                Operand::A => (layout.a_addr, layout.a_stride),
                Operand::B => (layout.b_addr, layout.b_stride),
            };
            cmds.push(l.command(base + l.row0 * stride + l.col0, stride));
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
    /// `m x k`.
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
    let want = [("a", p.m * p.k, d.a.len()), ("b", p.k * p.n, d.b.len())];
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

/// The naive reference: `C = requant(A x B + bias)` (or the raw int32 sums).
pub fn reference(p: &GemmProblem, d: &GemmData) -> Result<GemmResult, GemmError> {
    check_data(p, d)?;
    let mut acc = vec![0i32; p.m * p.n];
    for i in 0..p.m {
        for kk in 0..p.k {
            let a = d.a[i * p.k + kk] as i32;
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
    for r in 0..p.m {
        dev.write_mem(
            layout.a_addr + r as u64 * layout.a_stride,
            &a_bytes[r * p.k..(r + 1) * p.k],
        )?;
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
