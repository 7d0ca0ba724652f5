//! The fast kernels (`runtime::kernels::fast`) against the reference kernels (the oracle),
//! byte for byte, on seeded random cases: shapes around the SIMD block sizes (8 and 16
//! channels, 4-row tiles, 64-pixel im2col chunks), strides, dilations, SAME/VALID
//! padding, groups, depth multipliers, per-channel multipliers with left and right
//! shifts (including raw extreme values), extreme zero points, activation clamps, fully
//! connected filter zero points; every instruction set this CPU has (portable, AVX2,
//! AVX2 + AVX-VNNI).

use arch::quant::quantize_multiplier;
use models::rng::SplitMix64;
use models::Padding;
use runtime::geometry::{ConvGeometry, Window};
use runtime::kernels::conv::conv2d;
use runtime::kernels::depthwise::depthwise_conv2d;
use runtime::kernels::elementwise::{add, AddParams};
use runtime::kernels::fast::{self, Packed, Scratch};
use runtime::kernels::fully_connected::{fully_connected, FcGeometry};
use runtime::{Isa, QuantParams};

fn pick<T: Copy>(rng: &mut SplitMix64, xs: &[T]) -> T {
    xs[rng.range_i64(0, xs.len() as i64 - 1) as usize]
}

/// A zero point: often an extreme one.
fn zero_point(rng: &mut SplitMix64) -> i32 {
    if rng.next_f64() < 0.4 {
        pick(rng, &[-128, 127, -127, 0])
    } else {
        rng.range_i64(-128, 127) as i32
    }
}

/// Per-channel quantization: realistic multipliers from scales, or (1 in 4 cases) raw
/// multipliers and shifts over the whole range the fixed-point code accepts.
fn quant(rng: &mut SplitMix64, n: usize, in_zp: i32, k: usize) -> QuantParams {
    let raw = rng.next_f64() < 0.25;
    let (mut multipliers, mut shifts) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let (m, s) = if raw {
            let m = if rng.next_f64() < 0.1 {
                pick(rng, &[i32::MIN, i32::MAX, 0, 1 << 30])
            } else {
                rng.range_i64(i32::MIN as i64, i32::MAX as i64) as i32
            };
            (m, rng.range_i64(-31, 31) as i32)
        } else {
            // Output scale / (input scale * filter scale): around 1 / sqrt(k) * 2^-7.
            let scale = 10f64.powf(-5.0 + 4.5 * rng.next_f64()) / (k.max(1) as f64).sqrt();
            quantize_multiplier(scale)
        };
        multipliers.push(m);
        shifts.push(s);
    }
    let (act_min, act_max) = match rng.range_i64(0, 3) {
        0 => (-128, 127),
        1 => (rng.range_i64(-128, 0) as i32, 127),
        2 => (-128, rng.range_i64(0, 127) as i32),
        _ => {
            let a = rng.range_i64(-128, 127) as i32;
            (a, rng.range_i64(a as i64, 127) as i32)
        }
    };
    let bias_span = if rng.next_f64() < 0.1 {
        1 << 30
    } else {
        20_000
    };
    QuantParams {
        input_zero_point: in_zp,
        filter_zero_point: 0,
        output_zero_point: zero_point(rng),
        act_min,
        act_max,
        multipliers,
        shifts,
        bias: (0..n)
            .map(|_| rng.range_i64(-bias_span, bias_span) as i32)
            .collect(),
    }
}

fn bytes(rng: &mut SplitMix64, n: usize, lo: i64) -> Vec<i8> {
    let extreme = rng.next_f64() < 0.15;
    (0..n)
        .map(|_| {
            if extreme {
                pick(rng, &[lo as i8, 127])
            } else {
                rng.range_i64(lo, 127) as i8
            }
        })
        .collect()
}

fn window(rng: &mut SplitMix64) -> Window {
    let dil = |rng: &mut SplitMix64| {
        if rng.next_f64() < 0.7 {
            1
        } else {
            rng.range_i64(2, 3) as usize
        }
    };
    Window {
        padding: if rng.next_f64() < 0.5 {
            Padding::Same
        } else {
            Padding::Valid
        },
        stride_h: rng.range_i64(1, 3) as usize,
        stride_w: rng.range_i64(1, 3) as usize,
        dilation_h: dil(rng),
        dilation_w: dil(rng),
    }
}

/// Channel counts around the SIMD block sizes.
const CHANNELS: [usize; 14] = [1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 40];

#[test]
fn conv_fast_equals_reference() {
    let mut rng = SplitMix64::new(0xc0de_0001);
    let mut checked = 0;
    for case in 0..400 {
        let n = if rng.next_f64() < 0.2 { 2 } else { 1 };
        let (h, w) = (rng.range_i64(1, 12) as usize, rng.range_i64(1, 12) as usize);
        let groups = if rng.next_f64() < 0.15 {
            rng.range_i64(2, 3) as usize
        } else {
            1
        };
        let fd = pick(&mut rng, &CHANNELS[..10]);
        let c = fd * groups;
        let oc = groups * pick(&mut rng, &CHANNELS);
        let (kh, kw) = (rng.range_i64(1, 4) as usize, rng.range_i64(1, 4) as usize);
        let win = window(&mut rng);
        let Ok(g) = ConvGeometry::conv([n, h, w, c], [oc, kh, kw, fd], win) else {
            continue;
        };
        if g.outputs() == 0 {
            continue;
        }
        let izp = zero_point(&mut rng);
        let q = quant(&mut rng, oc, izp, kh * kw * fd);
        let input = bytes(&mut rng, n * h * w * c, -128);
        let filter = bytes(&mut rng, oc * kh * kw * fd, -127);
        let mut want = vec![0i8; g.outputs()];
        conv2d(&g, &q, &input, &filter, &mut want);
        let Packed::Conv(p) = Packed::conv(&g, &q, &filter) else {
            unreachable!()
        };
        for isa in Isa::available() {
            let mut got = vec![0i8; g.outputs()];
            fast::conv2d(&p, &g, &q, isa, &input, &mut got, &mut Scratch::default());
            assert_eq!(got, want, "case {case} ({}): {g:?}\n{q:?}", isa.name());
            checked += 1;
        }
    }
    assert!(checked >= 300, "only {checked} conv cases ran");
}

/// Large convs: several im2col chunks of 64 pixels, a tail chunk not a multiple of 4.
#[test]
fn conv_fast_equals_reference_across_chunks() {
    let mut rng = SplitMix64::new(0xc0de_0002);
    for (h, w, c, oc, k) in [(13, 11, 3, 16, 3), (9, 23, 8, 24, 1), (20, 20, 16, 33, 3)] {
        let win = Window {
            padding: Padding::Same,
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
        };
        let g = ConvGeometry::conv([1, h, w, c], [oc, k, k, c], win).unwrap();
        let q = quant(&mut rng, oc, -128, k * k * c);
        let input = bytes(&mut rng, h * w * c, -128);
        let filter = bytes(&mut rng, oc * k * k * c, -127);
        let mut want = vec![0i8; g.outputs()];
        conv2d(&g, &q, &input, &filter, &mut want);
        let Packed::Conv(p) = Packed::conv(&g, &q, &filter) else {
            unreachable!()
        };
        let mut scratch = Scratch::default();
        for isa in Isa::available() {
            let mut got = vec![0i8; g.outputs()];
            fast::conv2d(&p, &g, &q, isa, &input, &mut got, &mut scratch);
            assert_eq!(got, want, "{} {g:?}", isa.name());
        }
    }
}

#[test]
fn depthwise_fast_equals_reference() {
    let mut rng = SplitMix64::new(0xd0de_0001);
    let mut checked = 0;
    for case in 0..400 {
        let n = if rng.next_f64() < 0.2 { 2 } else { 1 };
        let (h, w) = (rng.range_i64(1, 12) as usize, rng.range_i64(1, 12) as usize);
        let c = pick(&mut rng, &CHANNELS);
        let mult = if rng.next_f64() < 0.3 {
            rng.range_i64(2, 3) as usize
        } else {
            1
        };
        let (kh, kw) = (rng.range_i64(1, 5) as usize, rng.range_i64(1, 5) as usize);
        let win = window(&mut rng);
        let Ok(g) = ConvGeometry::depthwise([n, h, w, c], [1, kh, kw, c * mult], win) else {
            continue;
        };
        if g.outputs() == 0 {
            continue;
        }
        let izp = zero_point(&mut rng);
        let q = quant(&mut rng, c * mult, izp, kh * kw);
        let input = bytes(&mut rng, n * h * w * c, -128);
        let filter = bytes(&mut rng, kh * kw * c * mult, -127);
        let mut want = vec![0i8; g.outputs()];
        depthwise_conv2d(&g, &q, &input, &filter, &mut want);
        let Packed::Depthwise(p) = Packed::depthwise(&g, &q, &filter) else {
            unreachable!()
        };
        for isa in Isa::available() {
            let mut got = vec![0i8; g.outputs()];
            fast::depthwise_conv2d(&p, &g, &q, isa, &input, &mut got, &mut Scratch::default());
            assert_eq!(got, want, "case {case} ({}): {g:?}\n{q:?}", isa.name());
            checked += 1;
        }
    }
    assert!(checked >= 300, "only {checked} depthwise cases ran");
}

#[test]
fn fully_connected_fast_equals_reference() {
    let mut rng = SplitMix64::new(0xfc00_0001);
    for case in 0..300 {
        let batches = pick(&mut rng, &[1, 1, 2, 3, 4, 5, 9, 70]);
        let depth = pick(&mut rng, &[1, 2, 3, 7, 16, 33, 64, 127, 640]);
        let units = pick(&mut rng, &CHANNELS);
        let izp = zero_point(&mut rng);
        let mut q = quant(&mut rng, units, izp, depth);
        if rng.next_f64() < 0.3 {
            q.filter_zero_point = zero_point(&mut rng);
        }
        let g = FcGeometry {
            batches,
            depth,
            units,
        };
        let input = bytes(&mut rng, batches * depth, -128);
        let filter = bytes(&mut rng, units * depth, -128);
        let mut want = vec![0i8; batches * units];
        fully_connected(&g, &q, &input, &filter, &mut want);
        let Packed::FullyConnected(p) = Packed::fully_connected(&g, &q, &filter) else {
            unreachable!()
        };
        for isa in Isa::available() {
            let mut got = vec![0i8; batches * units];
            fast::fully_connected(&p, &g, isa, &input, &mut got, &mut Scratch::default());
            assert_eq!(got, want, "case {case} ({}): {g:?}\n{q:?}", isa.name());
        }
    }
}

#[test]
fn add_fast_equals_reference() {
    let mut rng = SplitMix64::new(0xadd0_0001);
    for case in 0..300 {
        let n = rng.range_i64(1, 100) as usize;
        let scale = |rng: &mut SplitMix64| 10f64.powf(-3.0 + 3.0 * rng.next_f64()) as f32;
        let (z1, z2, zo) = (
            zero_point(&mut rng),
            zero_point(&mut rng),
            zero_point(&mut rng),
        );
        let act = if rng.next_f64() < 0.5 {
            (-128, 127)
        } else {
            (zo.max(-128), 127)
        };
        let p = AddParams::new(
            (scale(&mut rng), z1),
            (scale(&mut rng), z2),
            (scale(&mut rng), zo),
            act,
        );
        let a = bytes(&mut rng, n, -128);
        let b = bytes(&mut rng, n, -128);
        let mut want = vec![0i8; n];
        add(&p, &a, &[n], &b, &[n], &mut want, &[n]);
        for isa in Isa::available() {
            let mut got = vec![0i8; n];
            fast::add_same_shape(&p, isa, &a, &b, &mut got);
            assert_eq!(got, want, "case {case} ({}): {p:?}", isa.name());
        }
    }
}

/// The portable path always exists; on x86_64 machines with AVX2 (and AVX-VNNI) those run
/// too, and the detected one is the best.
#[test]
fn instruction_sets_are_reported() {
    let all = Isa::available();
    assert_eq!(all[0], Isa::PORTABLE);
    assert_eq!(Some(&Isa::detect()), all.last());
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2");
        let vnni = avx2 && std::is_x86_feature_detected!("avxvnni");
        let names: Vec<&str> = all.iter().map(|i| i.name()).collect();
        let mut want = vec!["portable"];
        if avx2 {
            want.push("avx2");
        }
        if vnni {
            want.push("avx2+vnni");
        }
        assert_eq!(names, want);
    }
}
