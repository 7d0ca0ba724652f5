//! 16x8 kernels: int16 activations with int8 per-channel weights, as TFLite-Micro's
//! reference kernels run them (`reference_integer_ops::ConvPerChannel`,
//! `DepthwiseConvPerChannel`, `FullyConnected[PerChannel]` instantiated for `int16_t`
//! input/output), and the int16 forms of QUANTIZE / DEQUANTIZE (`AffineQuantize`,
//! `Requantize`, `Dequantize`).
//!
//! The accumulator type follows the bias type, as in TFLM: an int64 bias (or none, unless
//! the op's `quantized_bias_type` says int32) gives an int64 accumulator requantized by
//! the int64 overload of `MultiplyByQuantizedMultiplier` (a 16-bit rounded multiplier and
//! one rounding shift); an int32 bias gives an int32 accumulator requantized by the int32
//! overload (gemmlowp's doubling high multiply and rounding shift, as the int8 kernels).
//! Activations are symmetric (zero point 0; checked when the op is prepared), so the
//! conv/depthwise kernels, which ignore zero points in TFLM, and the fully connected one,
//! which applies them, agree.
//!
//! Tensor bytes are little-endian; the values are decoded and encoded with
//! `from_le_bytes` / `to_le_bytes` (the arena gives no 2-byte alignment guarantee).

use crate::geometry::ConvGeometry;
use crate::kernels::fully_connected::FcGeometry;
use arch::quant::multiply_by_quantized_multiplier as mbqm32;

/// The accumulator of a 16x8 kernel (TFLM's `AccumScalar` / bias type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accum {
    /// int32 accumulator, int32 bias: int32 `MultiplyByQuantizedMultiplier`.
    I32,
    /// int64 accumulator, int64 bias: int64 `MultiplyByQuantizedMultiplier`.
    I64,
}

/// Requantization parameters of a 16x8 conv, depthwise or fully connected op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quant16 {
    pub accum: Accum,
    /// Q31 multiplier per output channel (one entry per channel, repeated for per-tensor).
    pub multipliers: Vec<i32>,
    /// Power-of-two exponent per output channel (positive = left shift); within -31..=14
    /// for [`Accum::I64`] (checked when prepared).
    pub shifts: Vec<i32>,
    /// Bias per output channel, widened to i64 (zeros without a bias; an int32 bias
    /// always fits its i32 accumulator).
    pub bias: Vec<i64>,
    /// Fused activation clamp within -32768..=32767.
    pub act_min: i32,
    pub act_max: i32,
}

/// `MultiplyByQuantizedMultiplier(int64_t x, int32_t multiplier, int shift)` (TFLite's
/// `common.cc`, same in its single- and double-rounding builds): the multiplier rounded to
/// 16 bits, then one rounding right shift by `15 - shift`, truncated to int32. `shift`
/// must be at most 14 (TFLM asserts it below 8).
#[inline]
pub fn mbqm64(x: i64, multiplier: i32, shift: i32) -> i32 {
    let reduced: i64 = if multiplier < 0x7FFF_0000 {
        ((multiplier as i64) + (1 << 15)) >> 16
    } else {
        0x7FFF
    };
    let total_shift = 15 - shift;
    let round = 1i64 << (total_shift - 1);
    (x.wrapping_mul(reduced).wrapping_add(round) >> total_shift) as i32
}

impl Quant16 {
    /// Bias, requantization and clamp of one accumulator of output channel `c`; the
    /// accumulator is an i64 that holds the exact sum for [`Accum::I64`] and the wrapped
    /// int32 sum for [`Accum::I32`].
    #[inline]
    fn finish(&self, acc: i64, c: usize) -> i16 {
        let scaled = match self.accum {
            Accum::I64 => mbqm64(
                acc.wrapping_add(self.bias[c]),
                self.multipliers[c],
                self.shifts[c],
            ),
            Accum::I32 => mbqm32(
                (acc as i32).wrapping_add(self.bias[c] as i32),
                self.multipliers[c],
                self.shifts[c],
            ),
        };
        scaled.clamp(self.act_min, self.act_max) as i16
    }
}

/// Little-endian int16 bytes as values.
pub fn read_i16(b: &[u8]) -> Vec<i16> {
    b.chunks_exact(2)
        .map(|c| i16::from_le_bytes([c[0], c[1]]))
        .collect()
}

/// Writes `v` as little-endian int16 bytes into `out` (which holds `2 * v.len()` bytes).
pub fn write_i16(v: &[i16], out: &mut [u8]) {
    for (o, x) in out.chunks_exact_mut(2).zip(v) {
        o.copy_from_slice(&x.to_le_bytes());
    }
}

/// Adds `w * x` to an accumulator in the kernel's accumulator type (int32 wraps).
#[inline]
fn mac(acc: i64, w: i8, x: i16, accum: Accum) -> i64 {
    let p = w as i64 * x as i64;
    match accum {
        Accum::I64 => acc.wrapping_add(p),
        Accum::I32 => (acc as i32).wrapping_add(p as i32) as i64,
    }
}

/// CONV_2D 16x8 (groups allowed, as the int8 kernel): the sum of `w * x` over the taps
/// inside the input, no zero points.
pub fn conv2d_16x8(g: &ConvGeometry, q: &Quant16, input: &[i16], filter: &[i8], out: &mut [i16]) {
    let [batches, in_h, in_w, in_d] = g.input_shape();
    let (out_d, f_h, f_w, f_d) = (g.out_c, g.k_h, g.k_w, g.group_in_c);
    let groups = in_d / f_d.max(1);
    let per_group = (out_d / groups.max(1)).max(1);
    for b in 0..batches {
        for oy in 0..g.out_h {
            let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
            for ox in 0..g.out_w {
                let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
                let ob = ((b * g.out_h + oy) * g.out_w + ox) * out_d;
                for oc in 0..out_d {
                    let ic0 = (oc / per_group) * f_d;
                    let mut acc = 0i64;
                    for fy in 0..f_h {
                        let iy = iy0 + (fy * g.dilation_h) as isize;
                        if iy < 0 || iy >= in_h as isize {
                            continue;
                        }
                        for fx in 0..f_w {
                            let ix = ix0 + (fx * g.dilation_w) as isize;
                            if ix < 0 || ix >= in_w as isize {
                                continue;
                            }
                            let ib = ((b * in_h + iy as usize) * in_w + ix as usize) * in_d + ic0;
                            let fb = ((oc * f_h + fy) * f_w + fx) * f_d;
                            for (&x, &w) in input[ib..ib + f_d].iter().zip(&filter[fb..fb + f_d]) {
                                acc = mac(acc, w, x, q.accum);
                            }
                        }
                    }
                    out[ob + oc] = q.finish(acc, oc);
                }
            }
        }
    }
}

/// DEPTHWISE_CONV_2D 16x8, any depth multiplier (output channel `ic * mult + m` reads
/// input channel `ic`), no zero points.
pub fn depthwise_16x8(
    g: &ConvGeometry,
    q: &Quant16,
    input: &[i16],
    filter: &[i8],
    out: &mut [i16],
) {
    let [batches, in_h, in_w, in_d] = g.input_shape();
    let [_, out_h, out_w, out_d] = g.output_shape();
    let mult = g.depth_multiplier.max(1);
    for b in 0..batches {
        for oy in 0..out_h {
            let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
            for ox in 0..out_w {
                let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
                let ob = ((b * out_h + oy) * out_w + ox) * out_d;
                for oc in 0..out_d {
                    let ic = oc / mult;
                    let mut acc = 0i64;
                    for fy in 0..g.k_h {
                        let iy = iy0 + (fy * g.dilation_h) as isize;
                        if iy < 0 || iy >= in_h as isize {
                            continue;
                        }
                        for fx in 0..g.k_w {
                            let ix = ix0 + (fx * g.dilation_w) as isize;
                            if ix < 0 || ix >= in_w as isize {
                                continue;
                            }
                            let x =
                                input[((b * in_h + iy as usize) * in_w + ix as usize) * in_d + ic];
                            let w = filter[(fy * g.k_w + fx) * out_d + oc];
                            acc = mac(acc, w, x, q.accum);
                        }
                    }
                    out[ob + oc] = q.finish(acc, oc);
                }
            }
        }
    }
}

/// FULLY_CONNECTED 16x8: `batches` rows of `depth` inputs times `[units, depth]` weights.
pub fn fully_connected_16x8(
    g: &FcGeometry,
    q: &Quant16,
    input: &[i16],
    filter: &[i8],
    out: &mut [i16],
) {
    for b in 0..g.batches {
        let xs = &input[b * g.depth..(b + 1) * g.depth];
        for u in 0..g.units {
            let ws = &filter[u * g.depth..(u + 1) * g.depth];
            let acc = xs
                .iter()
                .zip(ws)
                .fold(0i64, |acc, (&x, &w)| mac(acc, w, x, q.accum));
            out[b * g.units + u] = q.finish(acc, u);
        }
    }
}

/// QUANTIZE float32 -> int16 (`AffineQuantize`): `round(x / scale)` with the division in
/// float, plus the zero point, clamped to int16.
pub fn quantize_f32_i16(scale: f32, zero_point: i32, input: &[f32], out: &mut [i16]) {
    for (o, &x) in out.iter_mut().zip(input) {
        let q = ((x / scale).round() as i32).saturating_add(zero_point);
        *o = q.clamp(i16::MIN as i32, i16::MAX as i32) as i16;
    }
}

/// QUANTIZE between int8 and int16 (`Requantize`): `(x - in_zp) * in_scale / out_scale`
/// by the int32 `MultiplyByQuantizedMultiplier`, plus the output zero point, clamped to
/// `[lo, hi]` (the output type's range).
pub fn requantize_int(
    multiplier: i32,
    shift: i32,
    in_zp: i32,
    out_zp: i32,
    (lo, hi): (i32, i32),
    input: impl Iterator<Item = i32>,
    mut store: impl FnMut(usize, i32),
) {
    for (i, x) in input.enumerate() {
        let v = mbqm32(x.wrapping_sub(in_zp), multiplier, shift).wrapping_add(out_zp);
        store(i, v.clamp(lo, hi));
    }
}

/// DEQUANTIZE int16 -> float32: `scale * (q - zero_point)` in double, stored as float.
pub fn dequantize_i16(scale: f32, zero_point: i32, input: &[i16], out: &mut [f32]) {
    for (o, &x) in out.iter_mut().zip(input) {
        *o = (scale as f64 * (x as i32 - zero_point) as f64) as f32;
    }
}

/// ADD parameters for int16 (TFLite-Micro's `CalculateOpDataAdd` with `left_shift = 15`
/// for an int16 output; the int8 form uses 20): per-input multipliers relative to twice
/// the larger input scale, computed in double.
pub fn add_params_i16(
    in1: (f32, i32),
    in2: (f32, i32),
    out: (f32, i32),
    act: (i32, i32),
) -> crate::kernels::elementwise::AddParams {
    crate::kernels::elementwise::AddParams::with_left_shift(in1, in2, out, act, 15)
}

/// ADD of int16 tensors with NumPy broadcasting (`reference_ops::Add` with
/// `pot_scale = false`, i.e. `AddElementwise`, and `BroadcastAdd4DSlow`: the same
/// per-element arithmetic as the int8 kernel, on int16 values).
pub fn add_i16(
    p: &crate::kernels::elementwise::AddParams,
    a: &[i16],
    a_shape: &[usize],
    b: &[i16],
    b_shape: &[usize],
    out: &mut [i16],
    out_shape: &[usize],
) {
    crate::kernels::elementwise::broadcast_binary(
        a,
        a_shape,
        b,
        b_shape,
        out,
        out_shape,
        |x, y| p.combine(x as i32, y as i32, false) as i16,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mbqm64_matches_the_real_product() {
        // 0.5 as (1 << 30, 0): reduced multiplier 1 << 14, total shift 15.
        assert_eq!(mbqm64(1000, 1 << 30, 0), 500);
        assert_eq!(mbqm64(-1001, 1 << 30, 0), -500); // -500.5 + 0.5 rounds up (floor)
        assert_eq!(mbqm64(1001, 1 << 30, 0), 501);
        // Multipliers at the top saturate the 16-bit form.
        assert_eq!(mbqm64(1 << 20, i32::MAX, -5), 32767);
        for (x, real) in [(123_456_789i64, 0.000_321), (-98_765_432, 0.0123), (7, 3.5)] {
            let (m, s) = arch::quant::quantize_multiplier(real);
            let got = mbqm64(x, m, s) as f64;
            assert!(
                (got - x as f64 * real).abs() <= 1.0 + (x as f64 * real).abs() * 1e-4,
                "{x} * {real}: {got}"
            );
        }
    }

    #[test]
    fn int32_and_int64_accumulators_differ_only_in_the_rounding() {
        let q = |accum| Quant16 {
            accum,
            multipliers: vec![1 << 30],
            shifts: vec![-3],
            bias: vec![5],
            act_min: -32768,
            act_max: 32767,
        };
        let g = FcGeometry {
            batches: 1,
            depth: 3,
            units: 1,
        };
        let (x, w) = ([1000i16, -2000, 300], [100i8, -7, 127]);
        let mut a = [0i16];
        let mut b = [0i16];
        fully_connected_16x8(&g, &q(Accum::I64), &x, &w, &mut a);
        fully_connected_16x8(&g, &q(Accum::I32), &x, &w, &mut b);
        let exact = (100 * 1000 + 7 * 2000 + 127 * 300 + 5) as f64 / 16.0;
        assert!((a[0] as f64 - exact).abs() <= 1.0 && (b[0] as f64 - exact).abs() <= 1.0);
    }
}
