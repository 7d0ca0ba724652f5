//! The vector unit (`hdl/rtl/tinyaccel_vpu.v`) alone in Verilator (`hdl/tb/vpu_tb.sv`)
//! against the contract (`docs/architecture.md` 3.5): for random `VSET`/`VCOMPUTE` pairs
//! of every mode (random taps, strides, divisors, ADD rescales, plus the extremes:
//! `i32::MIN` multipliers, shifts of -31 and 31, left shift 31, offsets -256 and 255, a
//! 65,535-tap sum of -128), the unit reads exactly the lines of `arch::vpu::input_line` /
//! `weight_line` in the cycles `tau = p*k + t`, and the value of position `p` (every lane,
//! `arch::vpu::lane_value`) leaves it in cycle `arch::timing::vcompute_leave_cycle(p, k)`.
//! Each mode is also checked on a unit built with only its feature (the others' logic is
//! absent).

use arch::isa::{AddRescale, Command, Op, VMode, VSet};
use arch::timing::vcompute_leave_cycle;
use arch::vpu::{input_line, lane_value, weight_line};
use hdl::cases::Rng;
use hdl::system::{VPU_MODULE, VPU_RTL};
use hdl::verilator::{cache_root, cached_build};
use std::fmt::Write as _;

const TB: &str = include_str!("../tb/vpu_tb.sv");
const LANES: usize = 8;
const LINES: usize = 256;

/// One case: the mode registers and a VCOMPUTE's (a_line, b_line, m, k).
#[derive(Debug, Clone)]
struct Case {
    set: VSet,
    a_line: u32,
    b_line: u32,
    m: u16,
    k: u16,
}

fn vcompute(c: &Case) -> arch::isa::VCompute {
    arch::isa::VCompute {
        accumulate: false,
        a_line: c.a_line,
        b_line: c.b_line,
        c_line: 0,
        m: c.m,
        k: c.k,
        n: LANES as u16,
    }
}

/// One of `fixed` or `other` (drawn first), uniformly.
fn pick_or<T: Copy>(rng: &mut Rng, fixed: &[T], other: T) -> T {
    let i = rng.range(0, fixed.len() as i64) as usize;
    fixed.get(i).copied().unwrap_or(other)
}

fn random_case(rng: &mut Rng, modes: &[VMode]) -> Case {
    let mode = rng.pick(modes);
    let mut set = VSet {
        mode,
        ..VSet::default()
    };
    let (m, k) = match mode {
        VMode::Add => (rng.range(1, 40) as u16, 1),
        _ => (rng.range(1, 12) as u16, rng.range(1, 12) as u16),
    };
    match mode {
        VMode::Add => {
            let mult = |rng: &mut Rng| {
                let any = rng.range(i32::MIN as i64, i32::MAX as i64) as i32;
                let big = rng.range(1 << 30, i32::MAX as i64) as i32;
                pick_or(rng, &[i32::MIN, i32::MAX, 1 << 30, big], any)
            };
            let off2 = rng.range(-256, 255) as i16;
            let ls = rng.range(0, 31) as u8;
            let s1 = rng.range(-31, 31) as i8;
            set.add = AddRescale {
                off1: rng.range(-256, 255) as i16,
                off2: pick_or(rng, &[-256, 255, 128, -128], off2),
                left_shift: pick_or(rng, &[0, 20, 31], ls),
                m1: mult(rng),
                s1: pick_or(rng, &[-31, 31, 0], s1),
                m2: mult(rng),
                s2: rng.range(-31, 31) as i8,
            };
        }
        _ => {
            let st = rng.range(0, 20) as u32;
            set.tap_stride = pick_or(rng, &[0, 1, m as u32], st);
            if mode == VMode::Sum {
                let d = rng.range(1, 300) as u16;
                set.divisor = pick_or(rng, &[0, 1, 2, 9, 65535], d);
            }
        }
    }
    let in_need = (k as u64 - 1) * set.tap_stride as u64 + m as u64;
    let w_need = if mode == VMode::Add { m } else { k } as u64;
    Case {
        set,
        a_line: rng.range(0, (LINES as u64 - in_need) as i64) as u32,
        b_line: rng.range(0, (LINES as u64 - w_need) as i64) as u32,
        m,
        k,
    }
}

/// The testbench's expected output for `cases` on scratchpad images `isp`, `wsp`.
fn expected(cases: &[Case], isp: &[u8], wsp: &[u8]) -> String {
    let mut s = String::new();
    for (i, c) in cases.iter().enumerate() {
        let _ = writeln!(s, "case {i}");
        let vc = vcompute(c);
        let (m, k) = (c.m as u64, c.k as u64);
        let mut events: Vec<(u64, u8, String)> = Vec::new();
        for p in 0..m {
            for t in 0..k {
                let tau = p * k + t;
                let il = input_line(&c.set, &vc, p, t);
                events.push((tau, 0, format!("r {tau} {il}")));
                if let Some(wl) = weight_line(&c.set, &vc, p, t) {
                    events.push((tau, 1, format!("w {tau} {wl}")));
                }
            }
            let mut line = format!("o {}", vcompute_leave_cycle(p, k));
            for j in 0..LANES {
                let xs: Vec<i8> = (0..k)
                    .map(|t| isp[input_line(&c.set, &vc, p, t) as usize * LANES + j] as i8)
                    .collect();
                let ws: Vec<i8> = (0..k)
                    .map(|t| match weight_line(&c.set, &vc, p, t) {
                        Some(l) => wsp[l as usize * LANES + j] as i8,
                        None => 0,
                    })
                    .collect();
                let _ = write!(line, " {}", lane_value(&c.set, &xs, &ws));
            }
            events.push((vcompute_leave_cycle(p, k), 2, line));
        }
        events.sort();
        for (_, _, l) in events {
            let _ = writeln!(s, "{l}");
        }
    }
    s
}

/// Builds the testbench with the given features and runs `cases`; returns its output.
fn run(features: (bool, bool, bool), cases: &[Case], isp: &[u8], wsp: &[u8]) -> String {
    if hdl::verilator::require_tool("verilator").is_err() {
        panic!("verilator is required for this test (apt-get install -y verilator)");
    }
    let (dw, pool, elt) = features;
    let args: Vec<String> = [
        "--binary".to_string(),
        "-Wall".into(),
        "-Wno-DECLFILENAME".into(),
        "-Wno-UNUSEDSIGNAL".into(),
        "--top-module".into(),
        "vpu_tb".into(),
        format!("-GLANES={LANES}"),
        format!("-GLINES={LINES}"),
        format!("-GDEPTHWISE={}", u8::from(dw)),
        format!("-GPOOLING={}", u8::from(pool)),
        format!("-GELTWISE={}", u8::from(elt)),
        "-o".into(),
        "Vvpu".into(),
        "-j".into(),
        "2".into(),
        "vpu_tb.sv".into(),
        "tinyaccel_vpu.v".into(),
    ]
    .to_vec();
    let key = format!("{:x}", {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (TB, VPU_RTL, &args).hash(&mut h);
        h.finish()
    });
    let b = cached_build(
        &cache_root().join("vpu"),
        &key,
        &key,
        &[("vpu_tb.sv", TB), ("tinyaccel_vpu.v", VPU_RTL)],
        &args,
        "obj_dir/Vvpu",
        VPU_MODULE,
    )
    .expect("build the VPU testbench");
    let dir = std::env::temp_dir().join(format!(
        "tinyaccel-vpu-{}-{}{}{}",
        std::process::id(),
        u8::from(dw),
        u8::from(pool),
        u8::from(elt)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}\n")).collect::<String>();
    std::fs::write(dir.join("isp.hex"), hex(isp)).unwrap();
    std::fs::write(dir.join("wsp.hex"), hex(wsp)).unwrap();
    let mut stim = String::new();
    for c in cases {
        let w = Command::new(Op::VSet(c.set)).encode_word();
        let _ = writeln!(stim, "{w:032x} {} {} {} {}", c.a_line, c.b_line, c.m, c.k);
    }
    std::fs::write(dir.join("cases.txt"), stim).unwrap();
    let out = std::process::Command::new(&b.binary)
        .arg(format!("+dir={}", dir.display()))
        .output()
        .expect("run the VPU testbench");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read_to_string(dir.join("out.txt")).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    got
}

fn compare(got: &str, want: &str, cases: &[Case]) {
    let g: Vec<&str> = got.lines().collect();
    let w: Vec<&str> = want.lines().collect();
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        if a != b {
            let case = w[..=i]
                .iter()
                .rev()
                .find(|l| l.starts_with("case"))
                .unwrap();
            let idx: usize = case[5..].parse().unwrap();
            panic!(
                "line {}: RTL `{a}`, contract `{b}` ({case}: {:?})",
                i + 1,
                cases[idx]
            );
        }
    }
    assert_eq!(
        g.len(),
        w.len(),
        "lines: RTL {}, contract {}",
        g.len(),
        w.len()
    );
}

fn images(rng: &mut Rng) -> (Vec<u8>, Vec<u8>) {
    let img = |rng: &mut Rng| -> Vec<u8> {
        (0..LINES * LANES)
            .map(|i| {
                // Some lines of extremes, the rest random.
                if (i / LANES) % 17 == 3 {
                    0x80
                } else if (i / LANES) % 17 == 5 {
                    0x7f
                } else {
                    rng.range(0, 255) as u8
                }
            })
            .collect()
    };
    let a = img(rng);
    let b = img(rng);
    (a, b)
}

#[test]
fn vpu_with_all_modes_follows_the_contract() {
    let mut rng = Rng::new(17);
    let (mut isp, wsp) = images(&mut rng);
    let all = [VMode::Mac, VMode::Sum, VMode::Max, VMode::Add];
    let mut cases: Vec<Case> = (0..300).map(|_| random_case(&mut rng, &all)).collect();
    // Extremes: i32::MIN multiplier with an operand that makes i32::MIN (saturation).
    let add = |off1: i16, off2: i16, ls: u8, m1: i32, s1: i8, m2: i32, s2: i8| VSet {
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
    // Line 200: lane j = -128 in every lane; with off = 0 and left shift 24 + s 0 the
    // shifted operand is -128 << 24 = i32::MIN, so m = i32::MIN saturates.
    for j in 0..LANES {
        isp[200 * LANES + j] = 0x80;
    }
    for set in [
        add(0, 0, 24, i32::MIN, 0, i32::MIN, -31),
        add(-256, 255, 31, i32::MAX, 31, i32::MIN, 31),
        add(255, -256, 0, 1 << 30, -31, 1, 1),
        add(128, 127, 20, 1_623_821_475, -1, 1_879_048_192, -2),
    ] {
        cases.push(Case {
            set,
            a_line: 200,
            b_line: 200,
            m: 3,
            k: 1,
        });
    }
    // A 65,535-tap sum of -128 (stride 0: the same line), divided and not.
    for divisor in [0u16, 65535, 3] {
        cases.push(Case {
            set: VSet {
                mode: VMode::Sum,
                tap_stride: 0,
                divisor,
                ..VSet::default()
            },
            a_line: 200,
            b_line: 0,
            m: 1,
            k: 65535,
        });
    }
    cases.push(Case {
        set: VSet {
            mode: VMode::Max,
            tap_stride: 0,
            ..VSet::default()
        },
        a_line: 200,
        b_line: 0,
        m: 2,
        k: 5,
    });
    let got = run((true, true, true), &cases, &isp, &wsp);
    compare(&got, &expected(&cases, &isp, &wsp), &cases);
}

#[test]
fn vpu_with_one_feature_runs_its_modes() {
    let mut rng = Rng::new(18);
    let (isp, wsp) = images(&mut rng);
    for (features, modes) in [
        ((true, false, false), &[VMode::Mac][..]),
        ((false, true, false), &[VMode::Sum, VMode::Max][..]),
        ((false, false, true), &[VMode::Add][..]),
    ] {
        let cases: Vec<Case> = (0..60).map(|_| random_case(&mut rng, modes)).collect();
        let got = run(features, &cases, &isp, &wsp);
        compare(&got, &expected(&cases, &isp, &wsp), &cases);
    }
}
