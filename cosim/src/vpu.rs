//! Vector-unit programs (`VSET` / `VCOMPUTE`, `docs/architecture.md` 3.5) for the system
//! co-simulation: hand-built command buffers, since the driver does not emit them yet.
//!
//! A program has two phases. Phase 1 loads its input and weight lines into the lower
//! halves of the scratchpads (pushing `L2C`); phase 2's loads go to the upper halves and
//! start right after phase 1's, so they overlap phase 1's `VCOMPUTE`s (bank conflicts on
//! configurations with one bank, none with two). Each phase's compute group is a `VSET`
//! (popping `L2C`) and one to three `VCOMPUTE`s; the last pushes `C2S`, and a raw int32
//! `STORE` of every accumulator line the program wrote pops it. A `VCOMPUTE` writes fresh
//! accumulator lines, or (`ACCUMULATE`) lines an earlier one of the same buffer wrote, so
//! nothing depends on scratchpad contents from before the buffer (the RTL device starts
//! each buffer from zeroed scratchpads, the simulator keeps them). Some programs start
//! with a 1x1x1 `COMPUTE` of the array (its line is not stored) so that the compute
//! engine switches between the array and the unit.
//!
//! The expected output comes from the contract's functions alone (`arch::vpu::execute`
//! on scratchpad images built from the loads), independent of the simulator.

use crate::report::{program_report, ProgramReport};
use crate::tee::{TeeDevice, TeeRecord};
use arch::device::{Counters, Device};
use arch::hostcheck::Scratchpads;
use arch::isa::{
    AddRescale, Command, Compute, Deps, Load, Op, Scratchpad, Store, VCompute, VMode, VSet,
};
use arch::AccelConfig;
use hdl::cases::Rng;
use sim::{Fidelity, SimDevice};

/// Device address of the operands (the command buffer is at 0).
pub const DATA_BASE: u64 = 1 << 16;

/// One vector-unit program and its expected output.
#[derive(Debug, Clone)]
pub struct VpuCase {
    pub name: String,
    /// The commands, `FINISH` last (the buffer goes to address 0).
    pub cmds: Vec<Command>,
    /// Operand bytes written at [`DATA_BASE`] before the start.
    pub data: Vec<u8>,
    /// Where the `STORE` writes the accumulator lines (raw int32), and how many bytes.
    pub out_addr: u64,
    pub out_len: usize,
    /// The output the contract gives.
    pub expected: Vec<u8>,
    /// `VCOMPUTE` commands and their modes, for the counters the contract fixes.
    pub vcomputes: Vec<(VSet, VCompute)>,
}

impl VpuCase {
    /// A short description: modes, accumulate, divisors.
    pub fn shape(&self) -> String {
        let parts: Vec<String> = self
            .vcomputes
            .iter()
            .map(|(s, v)| {
                let mut d = format!("{}{}x{}x{}", s.mode.name(), v.m, v.k, v.n);
                if v.accumulate {
                    d.push('+');
                }
                if s.divisor != 0 {
                    d.push_str(&format!("/{}", s.divisor));
                }
                d
            })
            .collect();
        parts.join(" ")
    }

    /// The sum over its `VCOMPUTE`s of `arch::timing::vcompute_cycles`: the contract's
    /// `vpu_busy_cycles`.
    pub fn vpu_busy_cycles(&self) -> u64 {
        self.vcomputes
            .iter()
            .map(|(_, v)| arch::timing::vcompute_cycles(v.m as u64, v.k as u64))
            .sum()
    }

    /// The counters that depend only on the commands (`Counters::add_command_regs` over
    /// the buffer): commands, bus bytes, scratchpad bytes, MACs, lane operations, bursts.
    pub fn command_counts(&self, cfg: &AccelConfig) -> Counters {
        let mut c = Counters::default();
        let mut vset = None;
        for cmd in &self.cmds {
            if let Op::VSet(s) = cmd.op {
                vset = Some(s);
            }
            c.add_command_regs(cfg, &cmd.op, None, vset.as_ref());
        }
        c
    }
}

/// The modes `cfg`'s vector unit has.
pub fn modes_of(cfg: &AccelConfig) -> Vec<VMode> {
    [VMode::Mac, VMode::Sum, VMode::Max, VMode::Add]
        .into_iter()
        .filter(|m| m.enabled(cfg))
        .collect()
}

/// One `VCOMPUTE` of a program, before placement.
#[derive(Debug, Clone, Copy)]
struct Step {
    m: u16,
    k: u16,
    n: u16,
    accumulate: bool,
}

/// A program: per phase, the mode registers and its steps.
#[derive(Debug, Clone)]
struct Plan {
    name: String,
    phases: Vec<(VSet, Vec<Step>)>,
    /// Start with a 1x1x1 array `COMPUTE`.
    array_first: bool,
    /// Operand lines per phase (input, weight).
    in_lines: u32,
    w_lines: u32,
    seed: u64,
}

/// One of `fixed` or `other` (drawn first), uniformly.
fn pick_or<T: Copy>(rng: &mut Rng, fixed: &[T], other: T) -> T {
    let i = rng.range(0, fixed.len() as i64) as usize;
    fixed.get(i).copied().unwrap_or(other)
}

fn random_add(rng: &mut Rng) -> AddRescale {
    let mult = |rng: &mut Rng| {
        let big = rng.range(1 << 30, i32::MAX as i64) as i32;
        let any = rng.range(i32::MIN as i64, i32::MAX as i64) as i32;
        pick_or(rng, &[i32::MIN, i32::MAX, 1 << 30, big], any)
    };
    AddRescale {
        off1: rng.range(-256, 255) as i16,
        off2: rng.range(-256, 255) as i16,
        left_shift: {
            let r = rng.range(0, 31) as u8;
            pick_or(rng, &[0, 20, 31], r)
        },
        m1: mult(rng),
        s1: {
            let r = rng.range(-31, 31) as i8;
            pick_or(rng, &[-31, 31, 0], r)
        },
        m2: mult(rng),
        s2: rng.range(-31, 31) as i8,
    }
}

fn random_set(rng: &mut Rng, mode: VMode, stride_max: u32) -> VSet {
    let mut s = VSet {
        mode,
        ..VSet::default()
    };
    match mode {
        VMode::Add => s.add = random_add(rng),
        _ => {
            s.tap_stride = rng.range(0, stride_max as i64) as u32;
            if mode == VMode::Sum && rng.range(0, 2) > 0 {
                let r = rng.range(1, 400) as u16;
                s.divisor = pick_or(rng, &[1, 2, 4, 9, 25, 65535], r);
            }
        }
    }
    s
}

/// Places a plan's commands and computes its expected output.
fn build(cfg: &AccelConfig, plan: &Plan) -> Result<VpuCase, String> {
    let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
    let sp = Scratchpads::of(cfg);
    let (in_half, w_half) = ((sp.in_lines / 2) as u32, (sp.w_lines / 2) as u32);
    let acc_lines = sp.acc_lines as u32;
    if plan.in_lines > in_half || plan.w_lines > w_half {
        return Err(format!(
            "{}: {} input / {} weight lines per phase, the halves have {in_half} / {w_half}",
            plan.name, plan.in_lines, plan.w_lines
        ));
    }
    let mut rng = Rng::new(plan.seed);
    // Operand memory: per phase the input lines, then the weight lines.
    let nph = plan.phases.len();
    let in_bytes = plan.in_lines as usize * rows;
    let w_bytes = plan.w_lines as usize * cols;
    let mut data: Vec<u8> = (0..nph * (in_bytes + w_bytes))
        .map(|i| {
            // Some runs of extremes among random bytes.
            match (i / 7) % 23 {
                3 => 0x80,
                5 => 0x7f,
                _ => rng.range(0, 255) as u8,
            }
        })
        .collect();
    if data.is_empty() {
        data.push(0);
    }
    let in_addr = |ph: usize| DATA_BASE + (ph * (in_bytes + w_bytes)) as u64;
    let w_addr = |ph: usize| in_addr(ph) + in_bytes as u64;
    let in_base = |ph: usize| if ph == 0 { 0 } else { in_half };
    let w_base = |ph: usize| if ph == 0 { 0 } else { w_half };

    // Scratchpad images (the loads write whole lines).
    let mut isp = vec![0u8; sp.in_lines * rows];
    let mut wsp = vec![0u8; sp.w_lines * cols];
    let mut acc = vec![0i32; sp.acc_lines * cols];
    let mut cmds = Vec::new();
    let load = |sp_: Scratchpad, line: u32, addr: u64, nrows: u32, width: usize| Load {
        sp: sp_,
        transpose: false,
        sp_line: line,
        mem_addr: addr as u32,
        mem_stride: width as u32,
        nrows: nrows as u16,
        ncols: width as u16,
    };
    // All loads first, in phase order; the last load of each phase pushes L2C.
    for ph in 0..nph {
        let mut group = Vec::new();
        if plan.in_lines > 0 {
            group.push(load(
                Scratchpad::Input,
                in_base(ph),
                in_addr(ph),
                plan.in_lines,
                rows,
            ));
        }
        if plan.w_lines > 0 {
            group.push(load(
                Scratchpad::Weight,
                w_base(ph),
                w_addr(ph),
                plan.w_lines,
                cols,
            ));
        }
        let last = group.len() - 1;
        for (i, l) in group.into_iter().enumerate() {
            let mut c = Command::new(Op::Load(l));
            c.deps.push_next = i == last;
            cmds.push(c);
        }
        let off = ph * (in_bytes + w_bytes);
        for line in 0..plan.in_lines as usize {
            let dst = (in_base(ph) as usize + line) * rows;
            isp[dst..dst + rows].copy_from_slice(&data[off + line * rows..off + (line + 1) * rows]);
        }
        for line in 0..plan.w_lines as usize {
            let dst = (w_base(ph) as usize + line) * cols;
            let src = off + in_bytes + line * cols;
            wsp[dst..dst + cols].copy_from_slice(&data[src..src + cols]);
        }
    }
    let mut compute_cmds = Vec::new();
    let mut written = 0u32; // accumulator lines 0..written hold results
    let mut vcomputes = Vec::new();
    let fail = |what: String| Err(format!("{}: {what}", plan.name));
    for (ph, (set, steps)) in plan.phases.iter().enumerate() {
        let mut c = Command::new(Op::VSet(*set));
        c.deps.pop_prev = true;
        compute_cmds.push(c);
        if ph == 0 && plan.array_first {
            // A 1x1x1 array COMPUTE on phase 1's line 0 (loaded: the VSET popped L2C)
            // into the last accumulator line (not stored): the engine switches from the
            // unit's registers to the array and back.
            compute_cmds.push(Command::new(Op::Compute(Compute {
                accumulate: false,
                a_line: 0,
                b_line: 0,
                c_line: acc_lines - 1,
                m: 1,
                k: 1,
                n: 1,
            })));
        }
        for st in steps {
            let (m, k) = (st.m as u32, st.k as u32);
            let in_span = (k - 1) * set.tap_stride + m;
            let w_span = match set.mode {
                VMode::Mac => k,
                VMode::Add => m,
                _ => 0,
            };
            if in_span > plan.in_lines || w_span > plan.w_lines {
                return fail(format!(
                    "a {}x{} step spans {in_span} input / {w_span} weight lines of {} / {}",
                    m, k, plan.in_lines, plan.w_lines
                ));
            }
            if st.accumulate && written < m {
                return fail(format!("an accumulating step of {m} lines after {written}"));
            }
            if written + m + 1 > acc_lines {
                return fail(format!(
                    "{} accumulator lines needed, the scratchpad has {}",
                    written + m + 1,
                    acc_lines
                ));
            }
            let a_line = in_base(ph) + rng.range(0, (plan.in_lines - in_span) as i64) as u32;
            let b_line = match set.mode {
                VMode::Mac => w_base(ph) + rng.range(0, (plan.w_lines - k) as i64) as u32,
                VMode::Add => w_base(ph) + rng.range(0, (plan.w_lines - m) as i64) as u32,
                _ => rng.range(0, 1000) as u32,
            };
            let c_line = if st.accumulate {
                rng.range(0, (written - m) as i64) as u32
            } else {
                written += m;
                written - m
            };
            let v = VCompute {
                accumulate: st.accumulate,
                a_line,
                b_line,
                c_line,
                m: st.m,
                k: st.k,
                n: st.n,
            };
            let as_i8 = |b: &[u8]| b.iter().map(|&x| x as i8).collect::<Vec<i8>>();
            arch::vpu::execute(set, &v, rows, cols, &as_i8(&isp), &as_i8(&wsp), &mut acc);
            vcomputes.push((*set, v));
            compute_cmds.push(Command::new(Op::VCompute(v)));
        }
    }
    if let Some(last) = compute_cmds.last_mut() {
        last.deps.push_next = true;
    }
    cmds.extend(compute_cmds);
    let out_addr = in_addr(nph);
    let store = Store {
        raw_int32: true,
        acc_line: 0,
        mem_addr: out_addr as u32,
        mem_stride: (4 * cols) as u32,
        nrows: written as u16,
        ncols: cols as u16,
    };
    let mut s = Command::new(Op::Store(store));
    s.deps = Deps {
        pop_prev: true,
        ..Deps::NONE
    };
    cmds.push(s);
    cmds.push(Command::new(Op::Finish));
    let expected: Vec<u8> = acc[..written as usize * cols]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    for (i, c) in cmds.iter().enumerate() {
        c.check(cfg)
            .map_err(|e| format!("{}: command {i} ({c}): {e}", plan.name))?;
    }
    let case = VpuCase {
        name: plan.name.clone(),
        out_len: expected.len(),
        cmds,
        data,
        out_addr,
        expected,
        vcomputes,
    };
    let mut mem = vec![0u8; (case.out_addr as usize) + case.out_len];
    let buf = arch::isa::encode_all(&case.cmds);
    mem[..buf.len()].copy_from_slice(&buf);
    let cmds = arch::hostcheck::decode_checked(cfg, &buf).map_err(|e| format!("{e}"))?;
    arch::hostcheck::check_buffer(cfg, &mem, &cmds).map_err(|e| format!("{}: {e}", plan.name))?;
    Ok(case)
}

/// A random step of `mode` for operands of `in_lines` x `w_lines` lines and the stride of
/// `set`; `acc_room` fresh accumulator lines left, `written` lines written so far.
fn random_step(
    rng: &mut Rng,
    cfg: &AccelConfig,
    set: &VSet,
    in_lines: u32,
    w_lines: u32,
    written: u32,
) -> Step {
    let rows = cfg.rows as i64;
    let k = match set.mode {
        VMode::Add => 1,
        _ => rng.range(1, 9) as u32,
    };
    let k = if set.mode == VMode::Mac {
        k.min(w_lines)
    } else {
        k
    };
    // Input span (k-1)*S + m <= in_lines.
    let span_left = in_lines.saturating_sub((k - 1) * set.tap_stride);
    let mut m_max = span_left.clamp(1, 12);
    if set.mode == VMode::Add {
        m_max = m_max.min(w_lines);
    }
    let m = rng.range(1, m_max as i64) as u32;
    let accumulate = set.divisor == 0 && written >= m && rng.range(0, 2) == 0;
    Step {
        m: m as u16,
        k: k as u16,
        n: {
            let r = rng.range(1, rows);
            pick_or(rng, &[1, rows], r) as u16
        },
        accumulate,
    }
}

/// `count` random programs for `cfg` (none without the vector unit), seeded. Draws
/// that do not fit the scratchpads are redrawn; an error if `count` programs cannot be
/// made.
pub fn random_vpu_cases(
    cfg: &AccelConfig,
    count: usize,
    seed: u64,
) -> Result<Vec<VpuCase>, String> {
    let modes = modes_of(cfg);
    if modes.is_empty() {
        return Ok(Vec::new());
    }
    let mut last_err = String::new();
    let mut rng = Rng::new(seed ^ 0x7E5_0017);
    let mut out = Vec::new();
    let mut tries = 0;
    while out.len() < count && tries < 20 * count + 20 {
        tries += 1;
        let in_lines = rng.range(8, 48) as u32;
        let w_lines = rng.range(8, 24) as u32;
        let nph = rng.range(1, 2) as usize;
        let mut phases = Vec::new();
        let mut written = 0u32;
        for _ in 0..nph {
            let mode = rng.pick(&modes);
            let stride_max = (in_lines / 4).max(1);
            let set = random_set(&mut rng, mode, stride_max);
            let steps: Vec<Step> = (0..rng.range(1, 3))
                .map(|_| {
                    let s = random_step(&mut rng, cfg, &set, in_lines, w_lines, written);
                    if !s.accumulate {
                        written += s.m as u32;
                    }
                    s
                })
                .collect();
            phases.push((set, steps));
        }
        let plan = Plan {
            name: format!("vpu-random-{}", out.len()),
            phases,
            array_first: rng.range(0, 3) == 0,
            in_lines,
            w_lines,
            seed: rng.next_u64(),
        };
        match build(cfg, &plan) {
            Ok(c) => out.push(c),
            Err(e) => last_err = e,
        }
    }
    if out.len() < count {
        return Err(format!(
            "config `{}`: only {} of {count} random vector-unit programs fit its scratchpads \
             (last: {last_err})",
            cfg.name,
            out.len()
        ));
    }
    Ok(out)
}

/// The fixed vector-unit programs for `cfg`: every mode it has, alone and with
/// `ACCUMULATE` (MAX's accumulate is the larger), `n = 1` and `n = rows`, SUM with and
/// without a divisor (average pooling of a 3x3 window: divisor 9), a 65,535-tap sum of one
/// line, a tap stride of 0, phases that overlap the other phase's loads, and a program
/// that switches from the array to the unit.
///
/// An error names the first program that does not fit `cfg`'s scratchpads.
pub fn coverage_vpu_cases(cfg: &AccelConfig) -> Result<Vec<VpuCase>, String> {
    let modes = modes_of(cfg);
    let rows = cfg.rows as u16;
    let mut plans = Vec::new();
    let step = |_: VSet, m: u16, k: u16, n: u16, accumulate: bool| Step {
        m,
        k,
        n,
        accumulate,
    };
    let set = |mode: VMode, stride: u32, divisor: u16| VSet {
        mode,
        tap_stride: stride,
        divisor,
        ..VSet::default()
    };
    let plan = |name: &str, phases: Vec<(VSet, Vec<Step>)>, array_first: bool, seed: u64| Plan {
        name: name.to_string(),
        phases,
        array_first,
        in_lines: 40,
        w_lines: 20,
        seed,
    };
    if modes.contains(&VMode::Mac) {
        // Depthwise 3x3 over 4 output positions: taps 4 lines apart.
        let s = set(VMode::Mac, 4, 0);
        plans.push(plan(
            "vpu-mac-3x3",
            vec![(s, vec![step(s, 4, 9, rows, false)])],
            false,
            1,
        ));
        let s2 = set(VMode::Mac, 1, 0);
        plans.push(plan(
            "vpu-mac-accumulate-overlap",
            vec![
                (s, vec![step(s, 6, 5, rows, false), step(s, 6, 3, 1, true)]),
                (s2, vec![step(s2, 5, 12, rows, true)]),
            ],
            true,
            2,
        ));
    }
    if modes.contains(&VMode::Sum) {
        let s = set(VMode::Sum, 3, 9);
        plans.push(plan(
            "vpu-avgpool-3x3",
            vec![(s, vec![step(s, 3, 9, rows, false)])],
            false,
            3,
        ));
        let s2 = set(VMode::Sum, 0, 0);
        let s3 = set(VMode::Sum, 0, 65535);
        plans.push(plan(
            "vpu-sum-accumulate-long",
            vec![
                (
                    s2,
                    vec![step(s2, 2, 700, rows, false), step(s2, 2, 3, 1, true)],
                ),
                (s3, vec![step(s3, 1, 65535, rows.min(3), false)]),
            ],
            false,
            4,
        ));
    }
    if modes.contains(&VMode::Max) {
        let s = set(VMode::Max, 2, 0);
        plans.push(plan(
            "vpu-maxpool-accumulate",
            vec![
                (
                    s,
                    vec![step(s, 5, 4, rows, false), step(s, 5, 2, rows, true)],
                ),
                (s, vec![step(s, 4, 3, 1, true)]),
            ],
            true,
            5,
        ));
    }
    if modes.contains(&VMode::Add) {
        let a = |off1, off2, ls, m1, s1, m2, s2| VSet {
            mode: VMode::Add,
            add: AddRescale {
                off1,
                off2,
                left_shift: ls,
                m1,
                s1,
                m2,
                s2,
            },
            ..VSet::default()
        };
        // TFLite's usual rescale (left shift 20), and the extremes: i32::MIN multipliers
        // (saturation when the operand reaches i32::MIN), shifts of -31 and 31.
        let t = a(128, -5, 20, 1_623_821_475, -1, 1_879_048_192, -2);
        let x = a(0, -256, 24, i32::MIN, 0, i32::MIN, -31);
        let y = a(255, 0, 31, i32::MAX, 31, 1, -31);
        plans.push(plan(
            "vpu-add",
            vec![(t, vec![step(t, 16, 1, rows, false)])],
            false,
            6,
        ));
        plans.push(plan(
            "vpu-add-extremes-accumulate",
            vec![
                (x, vec![step(x, 12, 1, rows, false), step(x, 7, 1, 2, true)]),
                (y, vec![step(y, 12, 1, rows, true)]),
            ],
            true,
            7,
        ));
    }
    if modes.len() > 1 {
        // Modes mixed in one buffer: each VSET replaces the registers.
        let phases: Vec<(VSet, Vec<Step>)> = modes
            .iter()
            .take(2)
            .enumerate()
            .map(|(i, &mode)| {
                let s = match mode {
                    VMode::Add => a_default(),
                    VMode::Sum => set(mode, 2, 4),
                    _ => set(mode, 2, 0),
                };
                let k = if mode == VMode::Add { 1 } else { 4 };
                (s, vec![step(s, 6, k, rows - (i as u16 % rows), false)])
            })
            .collect();
        plans.push(plan("vpu-mixed-modes", phases, true, 8));
    }
    plans.iter().map(|p| build(cfg, p)).collect()
}

fn a_default() -> VSet {
    VSet {
        mode: VMode::Add,
        add: AddRescale {
            off1: -3,
            off2: 7,
            left_shift: 20,
            m1: 1 << 30,
            s1: -18,
            m2: 1_500_000_000,
            s2: -19,
        },
        ..VSet::default()
    }
}

/// Runs one program on `dev`: writes its operands and buffer, starts it, reads the
/// output back.
pub fn run_vpu_case(dev: &mut dyn Device, case: &VpuCase) -> Result<(Vec<u8>, Counters), String> {
    dev.write_mem(DATA_BASE, &case.data)
        .map_err(|e| e.to_string())?;
    let buf = arch::isa::encode_all(&case.cmds);
    let c = dev.submit(0, &buf).map_err(|e| e.to_string())?;
    let mut out = vec![0u8; case.out_len];
    dev.read_mem(case.out_addr, &mut out)
        .map_err(|e| e.to_string())?;
    Ok((out, c))
}

/// Runs the programs through a tee of a fresh cycle-level simulator and `shadow`; one
/// report per program (`reference_ok`: the output equals the contract's).
pub fn verify_vpu<S: Device>(
    cfg: &AccelConfig,
    shadow: S,
    cases: &[VpuCase],
    mem_bytes: usize,
    tick: &mut dyn FnMut(&str),
) -> (Vec<ProgramReport>, S) {
    let sim = SimDevice::new(cfg, Fidelity::Cycle, mem_bytes);
    let mut tee = TeeDevice::new(sim, shadow, None);
    let mut reports = Vec::new();
    for case in cases {
        tick(&case.name);
        tee.set_label(case.name.clone());
        let before = tee.records().len();
        let got = run_vpu_case(&mut tee, case);
        let recs: Vec<&TeeRecord> = tee.records()[before..].iter().collect();
        let mut rep = program_report(case.name.clone(), "vpu", case.shape(), &recs);
        match got {
            Ok((out, _)) => rep.reference_ok = Some(out == case.expected),
            Err(e) => {
                if rep.mismatch.is_none() {
                    rep.mismatch = Some(format!("the program failed on the simulator: {e}"));
                }
            }
        }
        reports.push(rep);
    }
    let (_, shadow, _) = tee.into_parts();
    (reports, shadow)
}
