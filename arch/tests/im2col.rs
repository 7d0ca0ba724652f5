//! The hardware im2col unit (`arch::im2col`) against a naive im2col written here: the
//! element rule, the origin helpers, the piece walk and its summary, on random
//! geometries (strides, dilations, paddings, odd sizes) and random tiles.

use arch::im2col::{self, Piece, PieceSummary, Window};
use arch::isa::{ConvGeom, LoadIm2col};

/// xorshift64*: deterministic random numbers without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

/// A random convolution: the window and its output height.
fn random_window(rng: &mut Rng) -> (Window, u64) {
    loop {
        let kh = rng.range(1, 5) as u32;
        let kw = rng.range(1, 5) as u32;
        let sh = rng.range(1, 3) as u32;
        let sw = rng.range(1, 3) as u32;
        let dh = rng.range(1, 3) as u32;
        let dw = rng.range(1, 3) as u32;
        let in_h = rng.range(1, 11) as u32;
        let in_w = rng.range(1, 11) as u32;
        let in_c = *[1u64, 2, 3, 5, 8].get(rng.range(0, 4) as usize).unwrap() as u32;
        let pad_t = rng.range(0, 3) as u32;
        let pad_l = rng.range(0, 3) as u32;
        let pad_b = rng.range(0, 3) as i64;
        let pad_r = rng.range(0, 3) as i64;
        let eff_h = ((kh - 1) * dh + 1) as i64;
        let eff_w = ((kw - 1) * dw + 1) as i64;
        let span_h = in_h as i64 + pad_t as i64 + pad_b - eff_h;
        let span_w = in_w as i64 + pad_l as i64 + pad_r - eff_w;
        if span_h < 0 || span_w < 0 {
            continue;
        }
        let out_h = (span_h / sh as i64 + 1) as u64;
        let out_w = (span_w / sw as i64 + 1) as u32;
        let w = Window {
            in_h,
            in_w,
            in_c,
            out_w,
            kh,
            kw,
            sh,
            sw,
            dh,
            dw,
            pad_t,
            pad_l,
        };
        return (w, out_h);
    }
}

/// The naive im2col: `M x K` byte offsets (`None` = padding), rows by output position,
/// columns by `(ky, kx, ic)`, built with nested loops (no index arithmetic shared with
/// `arch::im2col`).
fn naive(w: &Window, out_h: u64) -> Vec<Vec<Option<u64>>> {
    let mut rows = Vec::new();
    for oy in 0..out_h as i64 {
        for ox in 0..w.out_w as i64 {
            let mut row = Vec::new();
            for ky in 0..w.kh as i64 {
                for kx in 0..w.kw as i64 {
                    for ic in 0..w.in_c as i64 {
                        let y = oy * w.sh as i64 + ky * w.dh as i64 - w.pad_t as i64;
                        let x = ox * w.sw as i64 + kx * w.dw as i64 - w.pad_l as i64;
                        let inside = y >= 0 && y < w.in_h as i64 && x >= 0 && x < w.in_w as i64;
                        row.push(
                            inside.then(|| ((y * w.in_w as i64 + x) * w.in_c as i64 + ic) as u64),
                        );
                    }
                }
            }
            rows.push(row);
        }
    }
    rows
}

/// The `LOAD_IM2COL` of the tile at row `m0`, column `k0` of the implicit matrix.
fn tile(w: &Window, m0: u64, k0: u64, nrows: u64, ncols: u64) -> LoadIm2col {
    let (oy0, ox0) = w.origin(m0);
    let (ky0, kx0, ic0) = w.tap_origin(k0);
    LoadIm2col {
        transpose: false,
        sp_line: 0,
        oy0: oy0 as u16,
        ox0: ox0 as u16,
        ky0: ky0 as u8,
        kx0: kx0 as u8,
        ic0: ic0 as u16,
        nrows: nrows as u16,
        ncols: ncols as u16,
        pad_value: 0,
    }
}

fn random_tile(rng: &mut Rng, w: &Window, out_h: u64) -> (u64, u64, LoadIm2col) {
    let m = out_h * w.out_w as u64;
    let k = w.patch_len();
    let m0 = rng.range(0, m - 1);
    let k0 = rng.range(0, k - 1);
    let nrows = rng.range(1, m - m0);
    let ncols = rng.range(1, k - k0);
    (m0, k0, tile(w, m0, k0, nrows, ncols))
}

#[test]
fn element_equals_naive_im2col() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..400 {
        let (w, out_h) = random_window(&mut rng);
        let a = naive(&w, out_h);
        assert_eq!(a.len() as u64, out_h * w.out_w as u64);
        assert_eq!(a[0].len() as u64, w.patch_len());
        for _ in 0..4 {
            let (m0, k0, l) = random_tile(&mut rng, &w, out_h);
            for r in 0..l.nrows as u64 {
                for c in 0..l.ncols as u64 {
                    assert_eq!(
                        w.element(&l, r, c),
                        a[(m0 + r) as usize][(k0 + c) as usize],
                        "{w:?} m0={m0} k0={k0} r={r} c={c}"
                    );
                }
            }
        }
        // The whole matrix as one tile (when it fits the 16-bit fields).
        let l = tile(&w, 0, 0, a.len() as u64, w.patch_len());
        for (r, row) in a.iter().enumerate() {
            for (c, want) in row.iter().enumerate() {
                assert_eq!(w.element(&l, r as u64, c as u64), *want);
            }
        }
    }
}

#[test]
fn window_of_conv_geom_and_origins() {
    let g = ConvGeom {
        mem_addr: 0x1000,
        in_h: 7,
        in_w: 9,
        in_c: 3,
        out_w: 4,
        kh: 3,
        kw: 2,
        sh: 2,
        sw: 2,
        dh: 1,
        dw: 3,
        pad_t: 1,
        pad_l: 0,
    };
    let w = Window::of(&g);
    assert_eq!((w.in_h, w.in_w, w.in_c, w.out_w), (7, 9, 3, 4));
    assert_eq!((w.kh, w.kw, w.sh, w.sw, w.dh, w.dw), (3, 2, 2, 2, 1, 3));
    assert_eq!((w.pad_t, w.pad_l), (1, 0));
    assert_eq!(w.patch_len(), 18);
    assert_eq!(w.origin(0), (0, 0));
    assert_eq!(w.origin(9), (2, 1));
    // k0 = 13: ky = 13 / 6 = 2, kx = (13 / 3) % 2 = 0, ic = 1.
    assert_eq!(w.tap_origin(13), (2, 0, 1));
    // Output (1, 3), tap (0, 1, 2): y = 2 - 1 = 1, x = 6 + 3 = 9 = in_w: padding.
    assert_eq!(w.source(1, 3, 0, 1, 2), None);
    // Output (1, 2), tap (0, 1, 2): y = 1, x = 4 + 3 = 7: (1*9 + 7)*3 + 2 = 50.
    assert_eq!(w.source(1, 2, 0, 1, 2), Some(50));
    // Output (0, 0), tap (0, ..): y = -1: padding.
    assert_eq!(w.source(0, 0, 0, 0, 0), None);
}

/// `(ky, kx, inside)` of element `(r, c)`: what decides the piece boundaries.
fn key(w: &Window, l: &LoadIm2col, r: u64, c: u64) -> (u64, u64, bool) {
    let u = w.first_tap(l) + c;
    let (ky, kx, _) = w.tap(u);
    (ky, kx, w.element(l, r, c).is_some())
}

/// A new piece starts here (c > 0): ky changes, kx changes with dw > 1, or
/// in-bounds-ness changes.
fn breaks(w: &Window, l: &LoadIm2col, r: u64, c: u64) -> bool {
    let (ky0, kx0, in0) = key(w, l, r, c - 1);
    let (ky1, kx1, in1) = key(w, l, r, c);
    ky0 != ky1 || (w.dw > 1 && kx0 != kx1) || in0 != in1
}

#[test]
fn pieces_cover_every_element_once_in_order() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..600 {
        let (w, out_h) = random_window(&mut rng);
        let (_, _, l) = random_tile(&mut rng, &w, out_h);
        let ps: Vec<Piece> = im2col::pieces(&w, &l).collect();
        // In order, contiguous, every (r, c) exactly once.
        let mut at = (0u64, 0u64);
        for p in &ps {
            assert!(p.len >= 1, "{p:?}");
            assert_eq!((p.row, p.col), at, "{w:?} {l:?}: pieces {ps:?}");
            for j in 0..p.len {
                let e = w.element(&l, p.row, p.col + j);
                match p.src {
                    // Bus piece: consecutive addresses from src.
                    Some(s) => assert_eq!(e, Some(s + j), "{w:?} {l:?} {p:?}"),
                    // Pad piece: only padding.
                    None => assert_eq!(e, None, "{w:?} {l:?} {p:?}"),
                }
                if j > 0 {
                    assert!(!breaks(&w, &l, p.row, p.col + j), "{w:?} {l:?} {p:?}");
                }
            }
            at = if p.col + p.len == l.ncols as u64 {
                (p.row + 1, 0)
            } else {
                // The next piece of this row starts where the rule says.
                assert!(
                    breaks(&w, &l, p.row, p.col + p.len),
                    "{w:?} {l:?}: {p:?} ends without a reason"
                );
                (p.row, p.col + p.len)
            };
        }
        assert_eq!(at, (l.nrows as u64, 0), "{w:?} {l:?}");
    }
}

/// The counts of the pieces, from elements one by one and the break rule.
fn naive_summary(w: &Window, l: &LoadIm2col) -> PieceSummary {
    let mut s = PieceSummary::default();
    for r in 0..l.nrows as u64 {
        for c in 0..l.ncols as u64 {
            let inside = w.element(l, r, c).is_some();
            if c == 0 || breaks(w, l, r, c) {
                s.pieces += 1;
                if inside {
                    s.bus_pieces += 1;
                }
            }
            if inside {
                s.bus_bytes += 1;
            } else {
                s.pad_bytes += 1;
            }
        }
    }
    s
}

#[test]
fn summary_equals_element_count() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for _ in 0..600 {
        let (w, out_h) = random_window(&mut rng);
        let (_, _, l) = random_tile(&mut rng, &w, out_h);
        assert_eq!(
            im2col::summary(&w, &l),
            naive_summary(&w, &l),
            "{w:?} {l:?}"
        );
    }
}

#[test]
fn pieces_of_known_cases() {
    // 1x1 kernel, stride 1, no padding: one bus piece per row, consecutive rows.
    let w = Window {
        in_h: 4,
        in_w: 5,
        in_c: 3,
        out_w: 5,
        kh: 1,
        kw: 1,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_t: 0,
        pad_l: 0,
    };
    let l = tile(&w, 2, 0, 4, 3);
    let ps: Vec<Piece> = im2col::pieces(&w, &l).collect();
    assert_eq!(ps.len(), 4);
    for (i, p) in ps.iter().enumerate() {
        assert_eq!(
            *p,
            Piece {
                row: i as u64,
                col: 0,
                len: 3,
                src: Some((2 + i as u64) * 3),
            }
        );
    }
    // 3x3, pad 1, stride 1 on a 4x4x2 image: output (0, 0) reads ky = 0 from the padding
    // (one pad piece of 6), ky = 1 and 2 each a pad piece of 2 (kx = 0) and a bus piece
    // of 4 (kx = 1, 2: consecutive with dw = 1).
    let w = Window {
        in_h: 4,
        in_w: 4,
        in_c: 2,
        out_w: 4,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_t: 1,
        pad_l: 1,
    };
    let l = tile(&w, 0, 0, 1, 18);
    let ps: Vec<(u64, u64, Option<u64>)> = im2col::pieces(&w, &l)
        .map(|p| (p.col, p.len, p.src))
        .collect();
    assert_eq!(
        ps,
        vec![
            (0, 6, None),
            (6, 2, None),
            (8, 4, Some(0)),
            (12, 2, None),
            (14, 4, Some(8)),
        ]
    );
    assert_eq!(
        im2col::summary(&w, &l),
        PieceSummary {
            pieces: 5,
            bus_pieces: 2,
            bus_bytes: 8,
            pad_bytes: 10,
        }
    );
    // The same with dw = 2: every kernel column is its own piece, padding or not.
    let w2 = Window { dw: 2, ..w };
    let n = im2col::pieces(&w2, &l).count();
    assert_eq!(n, 3 * 3);
}

#[test]
fn placement_is_a_loads_and_fills_exactly_its_lines() {
    use std::collections::HashSet;
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    for _ in 0..300 {
        let width = rng.range(1, 9);
        let l = LoadIm2col {
            transpose: rng.range(0, 1) == 1,
            sp_line: rng.range(0, 100) as u32,
            oy0: 0,
            ox0: 0,
            ky0: 0,
            kx0: 0,
            ic0: 0,
            nrows: rng.range(1, 20) as u16,
            ncols: rng.range(1, 20) as u16,
            pad_value: 0,
        };
        let lines = arch::isa::im2col_lines(&l, width);
        let mut seen = HashSet::new();
        let mut used_lines = HashSet::new();
        for r in 0..l.nrows as u64 {
            for c in 0..l.ncols as u64 {
                let (line, lane) = im2col::placement(&l, width, r, c);
                assert!(lane < width);
                assert!((l.sp_line as u64..l.sp_line as u64 + lines).contains(&line));
                assert!(seen.insert((line, lane)), "{l:?} ({r}, {c}) collides");
                used_lines.insert(line);
                // The same place as LOAD element (r, c).
                let want = if l.transpose {
                    (
                        l.sp_line as u64 + (r / width) * l.ncols as u64 + c,
                        r % width,
                    )
                } else {
                    (
                        l.sp_line as u64 + (c / width) * l.nrows as u64 + r,
                        c % width,
                    )
                };
                assert_eq!((line, lane), want);
            }
        }
        assert_eq!(used_lines.len() as u64, lines, "{l:?}");
    }
}
