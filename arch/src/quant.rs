//! Fixed-point requantization, exactly as TFLite-Micro's reference integer kernels
//! (gemmlowp-style, double rounding: `tensorflow/lite/kernels/internal/common.h`).
//!
//! This is the arithmetic of the accelerator's post-processing unit and of the runtime's
//! CPU kernels alike: both call these functions, so they cannot drift apart.

/// `SaturatingRoundingDoublingHighMul`: the high 32 bits of `2 * a * b`, rounded to
/// nearest (ties away from zero), saturated for `a == b == i32::MIN`.
#[inline]
pub fn saturating_rounding_doubling_high_mul(a: i32, b: i32) -> i32 {
    if a == b && a == i32::MIN {
        return i32::MAX;
    }
    let ab = a as i64 * b as i64;
    let nudge: i64 = if ab >= 0 { 1 << 30 } else { 1 - (1 << 30) };
    // C integer division truncates toward zero, as Rust's `/` does.
    ((ab + nudge) / (1i64 << 31)) as i32
}

/// `RoundingDivideByPOT`: `x / 2^exponent` rounded to nearest, ties away from zero.
/// `exponent` must be in `0..=31`.
#[inline]
pub fn rounding_divide_by_pot(x: i32, exponent: i32) -> i32 {
    debug_assert!((0..=31).contains(&exponent));
    let mask: i32 = ((1i64 << exponent) - 1) as i32;
    let remainder = x & mask;
    let threshold = (mask >> 1) + i32::from(x < 0);
    (x >> exponent) + i32::from(remainder > threshold)
}

/// `MultiplyByQuantizedMultiplier(int32 x, int32 multiplier, int shift)`: `x * M * 2^shift`
/// with `M = multiplier / 2^31`. A positive shift is a left shift applied before the
/// multiply (wrapping like the C code), a negative one a rounding right shift after it.
#[inline]
pub fn multiply_by_quantized_multiplier(x: i32, multiplier: i32, shift: i32) -> i32 {
    let left = shift.clamp(0, 31);
    let right = (-shift).clamp(0, 31);
    rounding_divide_by_pot(
        saturating_rounding_doubling_high_mul(x.wrapping_mul(1i32 << left), multiplier),
        right,
    )
}

/// `QuantizeMultiplier(double)`: splits a real multiplier into a Q31 mantissa and a power
/// of two exponent, as TFLite does (`quantization_util.cc`).
pub fn quantize_multiplier(real: f64) -> (i32, i32) {
    if real == 0.0 || !real.is_finite() {
        return (0, 0);
    }
    let (q, mut shift) = frexp(real);
    let mut q_fixed = (q * (1i64 << 31) as f64).round() as i64;
    if q_fixed == 1i64 << 31 {
        q_fixed /= 2;
        shift += 1;
    }
    if shift < -31 {
        shift = 0;
        q_fixed = 0;
    }
    if shift > 30 {
        shift = 30;
        q_fixed = (1i64 << 31) - 1;
    }
    (q_fixed as i32, shift)
}

/// `frexp`: `x = m * 2^e` with `0.5 <= |m| < 1`.
fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (x, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale up first.
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let e = exp - 1022;
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, e)
}

/// The post-processing of one int32 accumulator into int8, as in TFLite-Micro's
/// per-channel conv: bias add, requantize, add the output zero point, clamp to the fused
/// activation range `[act_min, act_max]` (which lies within -128..=127).
#[inline]
pub fn requantize(
    acc: i32,
    bias: i32,
    multiplier: i32,
    shift: i32,
    out_zero_point: i32,
    act_min: i32,
    act_max: i32,
) -> i8 {
    let v = multiply_by_quantized_multiplier(acc.wrapping_add(bias), multiplier, shift)
        .wrapping_add(out_zero_point);
    v.clamp(act_min, act_max) as i8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_matches_definition() {
        for x in [1.0, 0.5, 0.75, 3.0, 1e-5, 123456.789, 2f64.powi(-1000)] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m), "{x}: m={m}");
            assert_eq!(m * 2f64.powi(e), x);
        }
    }

    #[test]
    fn quantize_multiplier_examples() {
        assert_eq!(quantize_multiplier(0.5), (1 << 30, 0));
        assert_eq!(quantize_multiplier(1.0), (1 << 30, 1));
        assert_eq!(quantize_multiplier(0.0), (0, 0));
        let (m, s) = quantize_multiplier(0.0003);
        let back = m as f64 / 2f64.powi(31) * 2f64.powi(s);
        assert!((back - 0.0003).abs() < 1e-12);
    }

    #[test]
    fn rounding_is_away_from_zero_on_ties() {
        assert_eq!(rounding_divide_by_pot(5, 1), 3);
        assert_eq!(rounding_divide_by_pot(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot(4, 1), 2);
        assert_eq!(rounding_divide_by_pot(-4, 1), -2);
        assert_eq!(
            saturating_rounding_doubling_high_mul(i32::MIN, i32::MIN),
            i32::MAX
        );
    }

    #[test]
    fn requantize_clamps() {
        let (m, s) = quantize_multiplier(1.0);
        assert_eq!(requantize(1000, 0, m, s, 0, -128, 127), 127);
        assert_eq!(requantize(-1000, 0, m, s, 0, -128, 127), -128);
        assert_eq!(requantize(10, 5, m, s, -3, -128, 127), 12);
        assert_eq!(requantize(-10, 0, m, s, 0, 0, 127), 0);
    }
}
