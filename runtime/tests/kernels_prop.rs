//! Property tests: every kernel against a naive reference on random shapes and
//! quantization parameters. Integer kernels (conv, depthwise, FC, pooling) must match
//! exactly; the fixed-point nonlinear kernels (add, mul, softmax, logistic, tanh, mean)
//! must stay within 1 LSB of the float computation.

use arch::quant::{quantize_multiplier, requantize};
use models::Padding;
use proptest::prelude::*;
use runtime::geometry::{out_size_and_padding, ConvGeometry, Window};
use runtime::kernels::activations::{logistic_int8, tanh_int8, SigmoidParams};
use runtime::kernels::conv::conv2d;
use runtime::kernels::depthwise::depthwise_conv2d;
use runtime::kernels::elementwise::{add, mul, AddParams, MulParams};
use runtime::kernels::fully_connected::{fully_connected, FcGeometry};
use runtime::kernels::pool::{average_pool, max_pool, PoolParams};
use runtime::kernels::reduce::{reduce, ReduceParams, Reducer};
use runtime::kernels::softmax::{softmax, SoftmaxParams};
use runtime::QuantParams;

fn quant_params(
    n: usize,
    in_zp: i32,
    out_zp: i32,
    scales: &[f64],
    bias: Vec<i32>,
    act: (i32, i32),
) -> QuantParams {
    let (multipliers, shifts) = (0..n)
        .map(|c| quantize_multiplier(scales[c % scales.len()]))
        .unzip();
    QuantParams {
        input_zero_point: in_zp,
        filter_zero_point: 0,
        output_zero_point: out_zp,
        act_min: act.0,
        act_max: act.1,
        multipliers,
        shifts,
        bias,
    }
}

fn act_range() -> impl Strategy<Value = (i32, i32)> {
    (-128i32..=0, 0i32..=127).prop_map(|(a, b)| (a, b))
}

#[derive(Debug, Clone)]
struct ConvCase {
    g: ConvGeometry,
    input: Vec<i8>,
    filter: Vec<i8>,
    q: QuantParams,
}

fn conv_case(depthwise: bool) -> impl Strategy<Value = ConvCase> {
    (
        (1usize..=2, 1usize..=7, 1usize..=7, 1usize..=5, 1usize..=5),
        (
            1usize..=4,
            1usize..=4,
            1usize..=3,
            1usize..=3,
            1usize..=2,
            1usize..=2,
            any::<bool>(),
        ),
        (
            -128i32..=127,
            -128i32..=127,
            act_range(),
            1u64..u64::MAX,
            1usize..=3,
        ),
    )
        .prop_map(
            move |(
                (n, h, w, c, oc),
                (kh, kw, sh, sw, dh, dw, same),
                (izp, ozp, act, seed, mult),
            )| {
                let mut rng = models::rng::SplitMix64::new(seed);
                let (out_c, f_shape) = if depthwise {
                    (c * mult, [1, kh, kw, c * mult])
                } else {
                    (oc, [oc, kh, kw, c])
                };
                let window = Window {
                    padding: if same { Padding::Same } else { Padding::Valid },
                    stride_h: sh,
                    stride_w: sw,
                    dilation_h: dh,
                    dilation_w: dw,
                };
                let g = if depthwise {
                    ConvGeometry::depthwise([n, h, w, c], f_shape, window)
                } else {
                    ConvGeometry::conv([n, h, w, c], f_shape, window)
                }
                .expect("valid window");
                let input = (0..n * h * w * c)
                    .map(|_| rng.range_i64(-128, 127) as i8)
                    .collect();
                let filter = (0..f_shape.iter().product::<usize>())
                    .map(|_| rng.range_i64(-127, 127) as i8)
                    .collect();
                let scales: Vec<f64> = (0..out_c)
                    .map(|_| 10f64.powf(-4.0 + 3.0 * rng.next_f64()))
                    .collect();
                let bias = (0..out_c)
                    .map(|_| rng.range_i64(-5000, 5000) as i32)
                    .collect();
                ConvCase {
                    g,
                    input,
                    filter,
                    q: quant_params(out_c, izp, ozp, &scales, bias, act),
                }
            },
        )
}

/// Naive convolution: materialise the zero-point-padded input, then sum in i64.
fn naive_conv(c: &ConvCase, depthwise: bool) -> Vec<i8> {
    let [n, h, w, ch] = c.g.input_shape();
    let (kh, kw) = (c.g.k_h, c.g.k_w);
    let [_, oh, ow, oc] = c.g.output_shape();
    // Filter depth: OHWI for conv, [1, kh, kw, oc] for depthwise.
    let fd = if depthwise { oc } else { c.g.group_in_c };
    let zp = c.q.input_zero_point as i64;
    let at = |b: usize, y: isize, x: isize, ic: usize| -> i64 {
        if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
            zp
        } else {
            c.input[((b * h + y as usize) * w + x as usize) * ch + ic] as i64
        }
    };
    let mut out = Vec::new();
    for b in 0..n {
        for y in 0..oh {
            for x in 0..ow {
                for o in 0..oc {
                    let mut acc = 0i64;
                    for fy in 0..kh {
                        for fx in 0..kw {
                            let iy = (y * c.g.stride_h + fy * c.g.dilation_h) as isize
                                - c.g.pad_top as isize;
                            let ix = (x * c.g.stride_w + fx * c.g.dilation_w) as isize
                                - c.g.pad_left as isize;
                            if depthwise {
                                let ic = o / c.g.depth_multiplier;
                                let wv = c.filter[(fy * kw + fx) * fd + o] as i64;
                                acc += wv * (at(b, iy, ix, ic) - zp);
                            } else {
                                for ic in 0..fd {
                                    let wv = c.filter[((o * kh + fy) * kw + fx) * fd + ic] as i64;
                                    acc += wv * (at(b, iy, ix, ic) - zp);
                                }
                            }
                        }
                    }
                    out.push(requantize(
                        acc as i32,
                        c.q.bias[o],
                        c.q.multipliers[o],
                        c.q.shifts[o],
                        c.q.output_zero_point,
                        c.q.act_min,
                        c.q.act_max,
                    ));
                }
            }
        }
    }
    out
}

fn round_clamp(v: f64, lo: i32, hi: i32) -> i32 {
    (v.round() as i64).clamp(lo as i64, hi as i64) as i32
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn conv_matches_naive(c in conv_case(false)) {
        let mut out = vec![0i8; c.g.output_shape().iter().product()];
        conv2d(&c.g, &c.q, &c.input, &c.filter, &mut out);
        prop_assert_eq!(out, naive_conv(&c, false));
    }

    #[test]
    fn depthwise_matches_naive(c in conv_case(true)) {
        let mut out = vec![0i8; c.g.output_shape().iter().product()];
        depthwise_conv2d(&c.g, &c.q, &c.input, &c.filter, &mut out);
        prop_assert_eq!(out, naive_conv(&c, true));
    }

    #[test]
    fn fully_connected_matches_naive(b in 1usize..=3, d in 1usize..=40, u in 1usize..=12, izp in -128i32..=127, ozp in -128i32..=127,
                                     fzp in -5i32..=5, act in act_range(), seed in any::<u64>(), scale in 1e-4f64..0.2) {
        let mut rng = models::rng::SplitMix64::new(seed);
        let x: Vec<i8> = (0..b * d).map(|_| rng.range_i64(-128, 127) as i8).collect();
        let w: Vec<i8> = (0..u * d).map(|_| rng.range_i64(-127, 127) as i8).collect();
        let bias: Vec<i32> = (0..u).map(|_| rng.range_i64(-3000, 3000) as i32).collect();
        let mut q = quant_params(u, izp, ozp, &[scale], bias, act);
        q.filter_zero_point = fzp;
        let g = FcGeometry { batches: b, depth: d, units: u };
        let mut out = vec![0i8; b * u];
        fully_connected(&g, &q, &x, &w, &mut out);
        for bi in 0..b {
            for ui in 0..u {
                let acc: i64 = (0..d).map(|k| (w[ui * d + k] as i64 - fzp as i64) * (x[bi * d + k] as i64 - izp as i64)).sum();
                let want = requantize(acc as i32, q.bias[ui], q.multipliers[ui], q.shifts[ui], ozp, act.0, act.1);
                prop_assert_eq!(out[bi * u + ui], want);
            }
        }
    }

    #[test]
    fn pools_match_naive(h in 1usize..=9, w in 1usize..=9, c in 1usize..=4, fh in 1usize..=4, fw in 1usize..=4,
                         s in 1usize..=3, same in any::<bool>(), act in act_range(), seed in any::<u64>()) {
        let mut rng = models::rng::SplitMix64::new(seed);
        let input: Vec<i8> = (0..h * w * c).map(|_| rng.range_i64(-128, 127) as i8).collect();
        let padding = if same { Padding::Same } else { Padding::Valid };
        let (oh, pt) = out_size_and_padding(padding, h, fh, s, 1).unwrap();
        let (ow, pl) = out_size_and_padding(padding, w, fw, s, 1).unwrap();
        let p = PoolParams { input: [1, h, w, c], output: [1, oh, ow, c], filter_h: fh, filter_w: fw, stride_h: s, stride_w: s,
                             pad_top: pt, pad_left: pl, act_min: act.0, act_max: act.1 };
        let mut avg = vec![0i8; oh * ow * c];
        let mut mx = vec![0i8; oh * ow * c];
        average_pool(&p, &input, &mut avg);
        max_pool(&p, &input, &mut mx);
        for y in 0..oh {
            for x in 0..ow {
                for ch in 0..c {
                    let vals: Vec<i64> = (0..fh).flat_map(|fy| (0..fw).map(move |fx| (fy, fx)))
                        .filter_map(|(fy, fx)| {
                            let iy = (y * s + fy) as isize - pt as isize;
                            let ix = (x * s + fx) as isize - pl as isize;
                            (iy >= 0 && ix >= 0 && iy < h as isize && ix < w as isize)
                                .then(|| input[((iy as usize) * w + ix as usize) * c + ch] as i64)
                        })
                        .collect();
                    let i = (y * ow + x) * c + ch;
                    if vals.is_empty() { continue; }
                    // Round half away from zero of the exact mean.
                    let mean = vals.iter().sum::<i64>() as f64 / vals.len() as f64;
                    prop_assert_eq!(avg[i] as i32, round_clamp(mean, act.0, act.1));
                    prop_assert_eq!(mx[i] as i32, (*vals.iter().max().unwrap() as i32).clamp(act.0, act.1));
                }
            }
        }
    }

    #[test]
    fn add_and_mul_track_float(n in 1usize..=64, s1 in 0.005f32..0.5, s2 in 0.005f32..0.5, so in 0.01f32..1.0,
                               z1 in -128i32..=127, z2 in -128i32..=127, zo in -128i32..=127, broadcast in any::<bool>(), seed in any::<u64>()) {
        let mut rng = models::rng::SplitMix64::new(seed);
        let a: Vec<i8> = (0..n).map(|_| rng.range_i64(-128, 127) as i8).collect();
        let b: Vec<i8> = (0..if broadcast { 1 } else { n }).map(|_| rng.range_i64(-128, 127) as i8).collect();
        let sb = if broadcast { vec![1] } else { vec![n] };
        let mut out = vec![0i8; n];
        let pa = AddParams::new((s1, z1), (s2, z2), (so, zo), (-128, 127));
        add(&pa, &a, &[n], &b, &sb, &mut out, &[n]);
        let bv = |i: usize| b[if broadcast { 0 } else { i }] as f64;
        for i in 0..n {
            let real = s1 as f64 * (a[i] as f64 - z1 as f64) + s2 as f64 * (bv(i) - z2 as f64);
            let want = round_clamp(real / so as f64 + zo as f64, -128, 127);
            prop_assert!((out[i] as i32 - want).abs() <= 1, "add {} vs {}", out[i], want);
        }
        let so_mul = so * 20.0;
        let pm = MulParams::new((s1, z1), (s2, z2), (so_mul, zo), (-128, 127));
        mul(&pm, &a, &[n], &b, &sb, &mut out, &[n]);
        for i in 0..n {
            let real = s1 as f64 * (a[i] as f64 - z1 as f64) * s2 as f64 * (bv(i) - z2 as f64);
            let want = round_clamp(real / so_mul as f64 + zo as f64, -128, 127);
            prop_assert!((out[i] as i32 - want).abs() <= 1, "mul {} vs {}", out[i], want);
        }
    }

    #[test]
    fn softmax_tracks_float(depth in 1usize..=40, rows in 1usize..=3, scale in 0.01f32..0.5, beta in 0.5f32..2.0, seed in any::<u64>()) {
        let mut rng = models::rng::SplitMix64::new(seed);
        let x: Vec<i8> = (0..depth * rows).map(|_| rng.range_i64(-128, 127) as i8).collect();
        let p = SoftmaxParams::new(beta, scale);
        let mut out = vec![0i8; x.len()];
        softmax(&p, depth, &x, &mut out);
        for r in 0..rows {
            let row = &x[r * depth..(r + 1) * depth];
            let m = *row.iter().max().unwrap() as f64;
            let e: Vec<f64> = row.iter().map(|&v| ((v as f64 - m) * scale as f64 * beta as f64).exp()).collect();
            let sum: f64 = e.iter().sum();
            for (i, ei) in e.iter().enumerate() {
                let want = round_clamp(ei / sum * 256.0 - 128.0, -128, 127);
                let got = out[r * depth + i] as i32;
                prop_assert!((got - want).abs() <= 1, "softmax {} vs {}", got, want);
            }
        }
    }

    #[test]
    fn logistic_and_tanh_track_float(scale in 0.002f32..0.3, zp in -128i32..=127) {
        let x: Vec<i8> = (-128..=127).collect();
        let p = SigmoidParams::new(scale, zp);
        let mut l = vec![0i8; 256];
        let mut t = vec![0i8; 256];
        logistic_int8(&p, &x, &mut l);
        tanh_int8(&p, &x, &mut t);
        for i in 0..256 {
            let r = scale as f64 * (x[i] as i32 - zp) as f64;
            let wl = round_clamp(256.0 / (1.0 + (-r).exp()) - 128.0, -128, 127);
            let wt = round_clamp(128.0 * r.tanh(), -128, 127);
            prop_assert!((l[i] as i32 - wl).abs() <= 1, "logistic({}) {} vs {}", r, l[i], wl);
            prop_assert!((t[i] as i32 - wt).abs() <= 1, "tanh({}) {} vs {}", r, t[i], wt);
        }
    }

    #[test]
    fn mean_and_sum_track_float(h in 1usize..=6, w in 1usize..=6, c in 1usize..=4, si in 0.01f32..0.5, so in 0.01f32..0.5,
                         zi in -128i32..=127, zo in -128i32..=127, seed in any::<u64>()) {
        let mut rng = models::rng::SplitMix64::new(seed);
        let x: Vec<i8> = (0..h * w * c).map(|_| rng.range_i64(-128, 127) as i8).collect();
        for reducer in [Reducer::Mean, Reducer::Sum] {
            let p = ReduceParams::new(reducer, vec![1, h, w, c], vec![false, true, true, false], (si, zi), (so, zo));
            let mut out = vec![0i8; c];
            reduce(&p, &x, &mut out);
            let n = if reducer == Reducer::Mean { (h * w) as f64 } else { 1.0 };
            for ch in 0..c {
                let s: f64 = (0..h * w).map(|k| si as f64 * (x[k * c + ch] as i32 - zi) as f64).sum();
                let want = round_clamp(s / n / so as f64 + zo as f64, -128, 127);
                prop_assert!((out[ch] as i32 - want).abs() <= 1, "{:?} {} vs {}", reducer, out[ch], want);
            }
        }
    }
}
