//! The im2col address generator (`hdl/rtl/tinyaccel_im2col_agu.v`) alone in Verilator
//! (`hdl/tb/agu_tb.sv`) against the contract's piece walk, `arch::im2col::pieces`: for
//! random windows (strides, dilations, paddings, odd sizes, one channel, rows that wrap
//! `out_w`, positions below the image) and random tiles, the same pieces in the same
//! order with the same length, kind (bus or pad), bus address and last-piece flag.

use arch::im2col::{pieces, Window};
use arch::isa::{ConvGeom, LoadIm2col};
use hdl::cases::Rng;
use hdl::system::{AGU_MODULE, AGU_RTL};
use hdl::verilator::{cache_root, cached_build};
use std::fmt::Write as _;

const TB: &str = include_str!("../tb/agu_tb.sv");

fn case(rng: &mut Rng) -> (ConvGeom, LoadIm2col) {
    // `Rng::range` is inclusive.
    let small = |rng: &mut Rng, hi: i64| rng.range(1, hi) as u8;
    let kh = small(rng, 6);
    let kw = small(rng, 6);
    let g = ConvGeom {
        mem_addr: rng.range(0, 1 << 20) as u32,
        in_h: rng.range(1, 20) as u16,
        in_w: rng.range(1, 20) as u16,
        in_c: rng.pick(&[1, 2, 3, 5, 8, 16, 17]) as u16,
        out_w: rng.range(1, 12) as u16,
        kh,
        kw,
        sh: rng.pick(&[1, 1, 2, 3, 16]) as u8,
        sw: rng.pick(&[1, 1, 2, 3, 16]) as u8,
        dh: rng.pick(&[1, 1, 2, 3]) as u8,
        dw: rng.pick(&[1, 1, 1, 2, 3, 16]) as u8,
        pad_t: rng.range(0, 15) as u8,
        pad_l: rng.range(0, 15) as u8,
    };
    let w = Window::of(&g);
    let k = w.patch_len();
    let u0 = rng.range(0, k as i64 - 1) as u64;
    let (ky0, kx0, ic0) = w.tap_origin(u0);
    let ncols = rng.range(1, (k - u0).min(200) as i64) as u16;
    let l = LoadIm2col {
        transpose: false,
        sp_line: 0,
        oy0: rng.range(0, 12) as u16,
        ox0: rng.range(0, g.out_w as i64 - 1) as u16,
        ky0: ky0 as u8,
        kx0: kx0 as u8,
        ic0: ic0 as u16,
        nrows: rng.range(1, 30) as u16,
        ncols,
        pad_value: 0,
    };
    (g, l)
}

#[test]
fn agu_walks_the_contracts_pieces() {
    if hdl::verilator::require_tool("verilator").is_err() {
        panic!("verilator is required for this test (apt-get install -y verilator)");
    }
    let mut rng = Rng::new(16);
    let mut cases: Vec<(ConvGeom, LoadIm2col)> = (0..400).map(|_| case(&mut rng)).collect();
    // Fixed corners: a 1x1 image with huge padding, a single tap, a whole 3x3 window.
    let fixed = ConvGeom {
        mem_addr: 100,
        in_h: 1,
        in_w: 1,
        in_c: 1,
        out_w: 3,
        kh: 16,
        kw: 16,
        sh: 16,
        sw: 16,
        dh: 16,
        dw: 1,
        pad_t: 15,
        pad_l: 15,
    };
    cases.push((
        fixed,
        LoadIm2col {
            transpose: false,
            sp_line: 0,
            oy0: 0,
            ox0: 2,
            ky0: 0,
            kx0: 0,
            ic0: 0,
            nrows: 5,
            ncols: 256,
            pad_value: 0,
        },
    ));
    let mut stim = String::new();
    let mut want = String::new();
    let mut bus_pieces = 0usize;
    let mut pad_pieces = 0usize;
    for (i, (g, l)) in cases.iter().enumerate() {
        let _ = writeln!(
            stim,
            "{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}",
            g.mem_addr,
            g.in_h,
            g.in_w,
            g.in_c,
            g.out_w,
            g.kw,
            g.sh,
            g.sw,
            g.dh,
            g.dw,
            g.pad_t,
            g.pad_l,
            l.oy0,
            l.ox0,
            l.ky0,
            l.kx0,
            l.ic0,
            l.nrows,
            l.ncols
        );
        let _ = writeln!(want, "case {i}");
        let w = Window::of(g);
        let ps: Vec<_> = pieces(&w, l).collect();
        for (j, p) in ps.iter().enumerate() {
            let last = u8::from(j + 1 == ps.len());
            match p.src {
                Some(s) => {
                    bus_pieces += 1;
                    let _ = writeln!(want, "{} {} 0 {last}", g.mem_addr as u64 + s, p.len);
                }
                None => {
                    pad_pieces += 1;
                    let _ = writeln!(want, "pad {} 1 {last}", p.len);
                }
            }
        }
    }
    assert!(
        bus_pieces > 1000 && pad_pieces > 1000,
        "{bus_pieces} bus, {pad_pieces} pad pieces"
    );

    let args: Vec<String> = [
        "--binary",
        "-Wall",
        "-Wno-DECLFILENAME",
        "--top-module",
        "agu_tb",
        "-o",
        "Vagu",
        "-j",
        "2",
        "agu_tb.sv",
        "tinyaccel_im2col_agu.v",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let key = format!("{:x}", {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (TB, AGU_RTL, &args).hash(&mut h);
        h.finish()
    });
    let b = cached_build(
        &cache_root().join("agu"),
        &key,
        &key,
        &[("agu_tb.sv", TB), ("tinyaccel_im2col_agu.v", AGU_RTL)],
        &args,
        "obj_dir/Vagu",
        AGU_MODULE,
    )
    .expect("build the AGU testbench");
    let dir = std::env::temp_dir().join(format!("tinyaccel-agu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (sp, op) = (dir.join("stim.txt"), dir.join("out.txt"));
    std::fs::write(&sp, &stim).unwrap();
    let out = std::process::Command::new(&b.binary)
        .arg(format!("+stim={}", sp.display()))
        .arg(format!("+out={}", op.display()))
        .output()
        .expect("run the AGU testbench");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let got = std::fs::read_to_string(&op).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    // Pad pieces: the address is not used, compare length and flags only.
    let norm: Vec<String> = got
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.len() == 4 && f[2] == "1" {
                format!("pad {} 1 {}", f[1], f[3])
            } else {
                l.to_string()
            }
        })
        .collect();
    let want: Vec<&str> = want.lines().collect();
    for (i, (g, w)) in norm.iter().zip(&want).enumerate() {
        if g != w {
            let case = want[..=i]
                .iter()
                .rev()
                .find(|l| l.starts_with("case"))
                .unwrap();
            let idx: usize = case[5..].parse().unwrap();
            panic!(
                "line {}: RTL `{g}`, contract `{w}` ({case}: {:?})",
                i + 1,
                cases[idx]
            );
        }
    }
    assert_eq!(
        norm.len(),
        want.len(),
        "pieces: RTL {} lines, contract {}",
        norm.len(),
        want.len()
    );
}
