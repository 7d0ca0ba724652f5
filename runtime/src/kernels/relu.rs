//! RELU, RELU6, LEAKY_RELU and HARD_SWISH, int8, as TFLite-Micro computes them
//! (`activations_common.cc` with `ReluQuantized` and `Relu6Quantized`;
//! `leaky_relu_common.cc` with `reference_ops::QuantizeLeakyRelu`; `hard_swish_common.cc`
//! with `reference_ops::HardSwish`). Real multipliers are formed in single precision where
//! the C++ source divides floats, then widened to double for `QuantizeMultiplier`. (Unlike
//! SUB's, these multipliers scale values of at most 255 in magnitude: single and double
//! precision differ in the last bits of the Q31 multiplier only, which changed no output
//! for any int8 input on 4000 random scale pairs.)

use arch::quant::{multiply_by_quantized_multiplier as mbqm, quantize_multiplier};

/// RELU: the input rescaled to the output (`input_scale / output_scale`), clamped below
/// at the output's zero point (real 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReluParams {
    pub input_offset: i32,
    pub output_offset: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub act_min: i32,
    pub act_max: i32,
}

impl ReluParams {
    /// `CalculateReluOpData<int8_t>`.
    pub fn new(input: (f32, i32), output: (f32, i32)) -> Self {
        let (m, s) = quantize_multiplier((input.0 / output.0) as f64);
        // roundf(0 / scale) is 0: the lower bound is the output zero point.
        ReluParams {
            input_offset: input.1,
            output_offset: output.1,
            output_multiplier: m,
            output_shift: s,
            act_min: (-128).max(output.1),
            act_max: 127,
        }
    }
}

/// RELU over int8 values.
pub fn relu(p: &ReluParams, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        let v = p.output_offset.wrapping_add(mbqm(
            x as i32 - p.input_offset,
            p.output_multiplier,
            p.output_shift,
        ));
        *o = v.clamp(p.act_min, p.act_max) as i8;
    }
}

/// RELU6 bounds: TFLite-Micro's int8 RELU6 clamps the input bytes to the input's own
/// quantized 0 and 6 (`Relu6Prepare`: `zero = input zero point`,
/// `six = FloatToQuantizedType<int8_t>(6, input scale, input zero point)`); the output's
/// quantization parameters are not used.
pub fn relu6_bounds(input: (f32, i32)) -> (i8, i8) {
    // round(value / scale) + zero_point: the quotient in float, the sum in float, then
    // converted to int32 and clamped to int8.
    let six = ((6.0f32 / input.0).round() + input.1 as f32) as i32;
    (input.1.clamp(-128, 127) as i8, six.clamp(-128, 127) as i8)
}

/// RELU6 over int8 values (`Relu6Quantized`).
pub fn relu6(lower: i8, upper: i8, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = if x > upper {
            upper
        } else if x < lower {
            lower
        } else {
            x
        };
    }
}

/// LEAKY_RELU: two rescales, the identity one for non-negative inputs and the alpha one
/// for negative inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeakyReluParams {
    pub input_offset: i32,
    pub output_offset: i32,
    pub multiplier_alpha: i32,
    pub shift_alpha: i32,
    pub multiplier_identity: i32,
    pub shift_identity: i32,
}

impl LeakyReluParams {
    /// `CalculateOpDataLeakyRelu` for int8.
    pub fn new(input: (f32, i32), output: (f32, i32), alpha: f32) -> Self {
        let (ma, sa) = quantize_multiplier((input.0 * alpha / output.0) as f64);
        let (mi, si) = quantize_multiplier((input.0 / output.0) as f64);
        LeakyReluParams {
            input_offset: input.1,
            output_offset: output.1,
            multiplier_alpha: ma,
            shift_alpha: sa,
            multiplier_identity: mi,
            shift_identity: si,
        }
    }
}

/// LEAKY_RELU over int8 values (`QuantizeLeakyRelu`; a negative alpha multiplier is
/// applied as its magnitude and the product negated, as there).
pub fn leaky_relu(p: &LeakyReluParams, input: &[i8], output: &mut [i8]) {
    let negative = p.multiplier_alpha < 0;
    let alpha = p.multiplier_alpha.wrapping_abs();
    for (o, &x) in output.iter_mut().zip(input) {
        let v = x as i32 - p.input_offset;
        let scaled = if v >= 0 {
            mbqm(v, p.multiplier_identity, p.shift_identity)
        } else {
            let s = mbqm(v, alpha, p.shift_alpha);
            if negative {
                s.wrapping_neg()
            } else {
                s
            }
        };
        *o = p.output_offset.wrapping_add(scaled).clamp(-128, 127) as i8;
    }
}

/// HARD_SWISH parameters (`HardSwishParams`): 16-bit fixed-point multipliers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HardSwishParams {
    pub input_zero_point: i16,
    pub output_zero_point: i16,
    pub output_multiplier_fixedpoint_int16: i16,
    pub output_multiplier_exponent: i32,
    pub reluish_multiplier_fixedpoint_int16: i16,
    pub reluish_multiplier_exponent: i32,
}

/// `DownScaleInt32ToInt16Multiplier`: a Q31 multiplier rounded to Q15.
fn down_scale_to_i16(m: i32) -> i16 {
    const ROUND: i32 = 1 << 15;
    if m >= i32::MAX - ROUND {
        i16::MAX
    } else {
        ((m + ROUND) >> 16) as i16
    }
}

impl HardSwishParams {
    /// `HardSwishPrepare` for int8; fails where it does (the output multiplier
    /// `input_scale / 128 / output_scale` must be below 1).
    pub fn new(input: (f32, i32), output: (f32, i32)) -> Result<Self, String> {
        let hires_input_scale = (1.0f32 / 128.0) * input.0;
        let reluish_scale = 3.0f32 / 32768.0;
        let (om, oe) = quantize_multiplier((hires_input_scale / output.0) as f64);
        if oe > 0 {
            return Err(format!(
                "input scale {} / 128 is not below the output scale {} (TFLite-Micro requires \
                 a non-positive output multiplier exponent, here {oe})",
                input.0, output.0
            ));
        }
        let (rm, re) = quantize_multiplier((hires_input_scale / reluish_scale) as f64);
        Ok(HardSwishParams {
            input_zero_point: input.1 as i16,
            output_zero_point: output.1 as i16,
            output_multiplier_fixedpoint_int16: down_scale_to_i16(om),
            output_multiplier_exponent: oe,
            reluish_multiplier_fixedpoint_int16: down_scale_to_i16(rm),
            reluish_multiplier_exponent: re,
        })
    }
}

/// `SaturatingLeftShift` on int16.
fn saturating_left_shift_i16(v: i16, amount: i32) -> i16 {
    (v as i64 * (1i64 << amount)).clamp(i16::MIN as i64, i16::MAX as i64) as i16
}

/// gemmlowp's `SaturatingRoundingDoublingHighMul<int16_t>`.
fn srdhm_i16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    let ab = a as i32 * b as i32;
    let nudge: i32 = if ab >= 0 { 1 << 14 } else { 1 - (1 << 14) };
    ((ab + nudge) / (1 << 15)) as i16
}

/// `SaturatingDoublingHighMul` on int16 (rounds toward zero).
fn sdhm_i16(a: i16, b: i16) -> i16 {
    if a == b && a == i16::MIN {
        return i16::MAX;
    }
    ((a as i32 * b as i32) / (1 << 15)) as i16
}

/// gemmlowp's `RoundingDivideByPOT<int16_t>`, including what its int16 mask does for
/// exponents of 16 and more (`(1ll << exponent) - 1` truncated to int16 is -1).
fn rounding_divide_by_pot_i16(x: i16, exponent: i32) -> i16 {
    let mask = ((1i64 << exponent) - 1) as i16;
    let remainder = x & mask;
    let threshold = (mask >> 1).wrapping_add(i16::from(x < 0));
    ((x as i32 >> exponent) + i32::from(remainder > threshold)) as i16
}

/// HARD_SWISH over int8 values (`reference_ops::HardSwish<int8_t>`).
pub fn hard_swish(p: &HardSwishParams, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        let input_value = (x as i16).wrapping_sub(p.input_zero_point);
        let hires = input_value.wrapping_mul(1 << 7);
        let preshift_output_scale = srdhm_i16(hires, p.output_multiplier_fixedpoint_int16);
        let mut reluish = hires;
        let e = p.reluish_multiplier_exponent;
        if e > 0 {
            reluish = saturating_left_shift_i16(reluish, e - 1);
        }
        reluish = srdhm_i16(reluish, p.reluish_multiplier_fixedpoint_int16);
        if e > 0 {
            reluish = saturating_left_shift_i16(reluish, 1);
        }
        if e < 0 {
            reluish = rounding_divide_by_pot_i16(reluish, -e);
        }
        reluish = ((reluish as i32 + (1 << 15)) >> 1) as i16;
        let preshift_output = sdhm_i16(reluish, preshift_output_scale);
        let v = rounding_divide_by_pot_i16(preshift_output, -p.output_multiplier_exponent)
            .wrapping_add(p.output_zero_point);
        *o = v.clamp(-128, 127) as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn real(q: (f32, i32), x: i32) -> f64 {
        q.0 as f64 * (x - q.1) as f64
    }

    fn quant(q: (f32, i32), r: f64) -> f64 {
        ((r / q.0 as f64).round() + q.1 as f64).clamp(-128.0, 127.0)
    }

    #[test]
    fn activations_track_their_float_functions() {
        let (i, o) = ((0.05f32, -7), (0.04f32, -100));
        let input: Vec<i8> = (-128..=127).collect();
        let mut out = vec![0i8; 256];
        relu(&ReluParams::new(i, o), &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            let want = quant(o, real(i, x as i32).max(0.0));
            assert!((y as f64 - want).abs() <= 1.0, "relu {x}: {y} vs {want}");
        }
        leaky_relu(&LeakyReluParams::new(i, o, 0.2), &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            let r = real(i, x as i32);
            let want = quant(o, if r > 0.0 { r } else { 0.2 * r });
            assert!((y as f64 - want).abs() <= 1.0, "leaky {x}: {y} vs {want}");
        }
        let (hi, ho) = ((0.06f32, 3), (0.035f32, -40));
        hard_swish(&HardSwishParams::new(hi, ho).unwrap(), &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            let r = real(hi, x as i32);
            let want = quant(ho, r * (r + 3.0).clamp(0.0, 6.0) / 6.0);
            assert!(
                (y as f64 - want).abs() <= 1.0,
                "hard_swish {x}: {y} vs {want}"
            );
        }
        let (lo, hi6) = relu6_bounds((0.05, -7));
        assert_eq!((lo, hi6), (-7, 113));
    }

    #[test]
    fn int16_rounding_division_matches_gemmlowp() {
        assert_eq!(rounding_divide_by_pot_i16(5, 1), 3);
        assert_eq!(rounding_divide_by_pot_i16(-5, 1), -3);
        assert_eq!(rounding_divide_by_pot_i16(-4, 1), -2);
        // The int16 mask of exponent 16 is -1: every non-negative value gives 1.
        assert_eq!(rounding_divide_by_pot_i16(0, 16), 1);
        assert_eq!(rounding_divide_by_pot_i16(-3, 16), -1);
    }

    #[test]
    fn hard_swish_refuses_a_positive_output_exponent() {
        assert!(HardSwishParams::new((1.0, 0), (0.001, 0)).is_err());
    }
}
