//! SOFTMAX, int8 in and out (TFLite `reference_ops::Softmax` for quantized types, used by
//! TFLite-Micro for int8): the gemmlowp exp-on-negative-values fixed-point path.

use super::fixedpoint::*;
use arch::quant::{
    multiply_by_quantized_multiplier as mbqm, saturating_rounding_doubling_high_mul as srdhm,
};

const SCALED_DIFF_INTEGER_BITS: i32 = 5;
const ACCUMULATION_INTEGER_BITS: i32 = 12;

/// Parameters from `beta` and the input scale (`PreprocessSoftmaxScaling`,
/// `CalculateInputRadius`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SoftmaxParams {
    pub input_multiplier: i32,
    pub input_left_shift: i32,
    pub diff_min: i32,
}

impl SoftmaxParams {
    pub fn new(beta: f32, input_scale: f32) -> Self {
        let max_real = (1i64 << 31) as f64 - 1.0;
        let real =
            (beta as f64 * input_scale as f64 * (1i64 << (31 - SCALED_DIFF_INTEGER_BITS)) as f64)
                .min(max_real);
        let (input_multiplier, input_left_shift) = arch::quant::quantize_multiplier(real);
        let diff_min = -calculate_input_radius(SCALED_DIFF_INTEGER_BITS, input_left_shift, 31);
        SoftmaxParams {
            input_multiplier,
            input_left_shift,
            diff_min,
        }
    }
}

/// Softmax over the last dimension (`depth`) of `input`; output scale 1/256, zero point
/// -128.
pub fn softmax(p: &SoftmaxParams, depth: usize, input: &[i8], output: &mut [i8]) {
    if depth == 0 {
        return;
    }
    for (row, out) in input
        .chunks_exact(depth)
        .zip(output.chunks_exact_mut(depth))
    {
        let max_in_row = row.iter().copied().max().unwrap_or(0) as i32;
        let scaled_exp = |x: i8| -> Option<i32> {
            let diff = x as i32 - max_in_row;
            (diff >= p.diff_min).then(|| {
                let rescaled = mbqm(diff, p.input_multiplier, p.input_left_shift);
                exp_on_negative_values(rescaled, SCALED_DIFF_INTEGER_BITS)
            })
        };
        let mut sum_of_exps: i32 = 0;
        for &x in row {
            if let Some(e) = scaled_exp(x) {
                sum_of_exps = sum_of_exps.wrapping_add(rescale(e, 0, ACCUMULATION_INTEGER_BITS));
            }
        }
        // GetReciprocal.
        let headroom_plus_one = (sum_of_exps as u32).leading_zeros() as i32;
        let num_bits_over_unit = ACCUMULATION_INTEGER_BITS - headroom_plus_one;
        let shifted_sum_minus_one = ((sum_of_exps as u32).wrapping_shl(headroom_plus_one as u32))
            .wrapping_sub(1u32 << 31) as i32;
        let shifted_scale = one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one);
        for (o, &x) in out.iter_mut().zip(row) {
            *o = match scaled_exp(x) {
                Some(e) => {
                    let unsat = rounding_divide_by_pot_wide(
                        srdhm(shifted_scale, e),
                        num_bits_over_unit + 31 - 8,
                    );
                    (unsat - 128).clamp(-128, 127) as i8
                }
                None => -128,
            };
        }
    }
}
