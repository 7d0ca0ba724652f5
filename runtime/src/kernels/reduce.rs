//! MEAN and SUM, int8, as TFLite-Micro runs them (`reduce_common.cc` ->
//! `reference_ops::QuantizedMeanOrSum`; one integer path since TFLM folded its special
//! cases into it in 2023, whatever keep_dims, the axes or the quantization):
//!
//! 1. per output element, the wrapping int32 sum of the raw int8 inputs over the reduced
//!    axes (`n` elements each; duplicate and negative axes resolved);
//! 2. for MEAN only, the division by `n` is folded into the requantization multiplier
//!    `input_scale / output_scale` (`QuantizeMultiplier` -> `m`, `e`): with
//!    `s = min(floor(log2 n), 32, 31 + e)`, `m' = (m << s) / n` (int64, truncating) and
//!    `e' = e - s`; SUM keeps `m`, `e`;
//! 3. `out = clamp(MultiplyByQuantizedMultiplier(sum - input_zp * n, m', e') + output_zp)`
//!    (the subtraction in int64, truncated to int32).
//!
//! An input with a zero-sized dimension gives all-zero outputs (not the zero point), as
//! in TFLM.

use arch::quant::multiply_by_quantized_multiplier as mbqm;

/// Which reduction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reducer {
    Mean,
    Sum,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReduceParams {
    pub reducer: Reducer,
    pub input_shape: Vec<usize>,
    /// Which input axes are reduced.
    pub reduced: Vec<bool>,
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    /// `QuantizeMultiplier(input_scale / output_scale)` (before MEAN folds in `1/n`).
    pub multiplier: i32,
    pub shift: i32,
}

impl ReduceParams {
    pub fn new(
        reducer: Reducer,
        input_shape: Vec<usize>,
        reduced: Vec<bool>,
        input: (f32, i32),
        output: (f32, i32),
    ) -> Self {
        let (multiplier, shift) =
            arch::quant::quantize_multiplier(input.0 as f64 / output.0 as f64);
        ReduceParams {
            reducer,
            input_shape,
            reduced,
            input_zero_point: input.1,
            output_zero_point: output.1,
            multiplier,
            shift,
        }
    }

    /// Number of output elements.
    pub fn output_len(&self) -> usize {
        self.input_shape
            .iter()
            .zip(&self.reduced)
            .map(|(&d, &r)| if r { 1 } else { d })
            .product()
    }

    /// Number of input elements summed into each output (1 when no axis is reduced).
    pub fn count(&self) -> i64 {
        self.input_shape
            .iter()
            .zip(&self.reduced)
            .filter(|(_, &r)| r)
            .map(|(&d, _)| d as i64)
            .product()
    }

    /// The requantization multiplier and shift applied to the zero-point-corrected sum:
    /// for MEAN, `1 / count` folded in as TFLM does.
    pub fn output_multiplier(&self) -> (i32, i32) {
        let n = self.count();
        if self.reducer == Reducer::Sum || n <= 0 {
            return (self.multiplier, self.shift);
        }
        let s = (63 - (n as u64).leading_zeros() as i32)
            .min(32)
            .min(31 + self.shift)
            .max(0);
        let m = (((self.multiplier as i64) << s) / n) as i32;
        (m, self.shift - s)
    }
}

/// MEAN or SUM of `input` (shape `p.input_shape`) into `output` (`p.output_len()` bytes).
pub fn reduce(p: &ReduceParams, input: &[i8], output: &mut [i8]) {
    let rank = p.input_shape.len();
    let n = p.count();
    if n == 0 || p.input_shape.contains(&0) {
        output.fill(0);
        return;
    }
    let mut sums = vec![0i32; p.output_len()];
    let mut idx = vec![0usize; rank];
    for &x in input {
        let mut o = 0usize;
        for ((&i, &size), &red) in idx.iter().zip(&p.input_shape).zip(&p.reduced) {
            if !red {
                o = o * size + i;
            }
        }
        sums[o] = sums[o].wrapping_add(x as i32);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < p.input_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    let (m, e) = p.output_multiplier();
    let zp_total = p.input_zero_point as i64 * n;
    for (o, &s) in output.iter_mut().zip(&sums) {
        let shifted = (s as i64 - zp_total) as i32;
        let v = mbqm(shifted, m, e).wrapping_add(p.output_zero_point);
        *o = v.clamp(-128, 127) as i8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(
        reducer: Reducer,
        shape: &[usize],
        reduced: &[bool],
        i: (f32, i32),
        o: (f32, i32),
    ) -> ReduceParams {
        ReduceParams::new(reducer, shape.to_vec(), reduced.to_vec(), i, o)
    }

    #[test]
    fn mean_folds_the_count_into_the_multiplier() {
        // n = 5: floor(log2 5) = 2, so the multiplier is (m << 2) / 5 and the shift e - 2.
        let p = params(
            Reducer::Mean,
            &[1, 5, 3],
            &[false, true, false],
            (0.02, 0),
            (0.02, 0),
        );
        assert_eq!((p.multiplier, p.shift), (1 << 30, 1));
        assert_eq!(p.output_multiplier(), (((1i64 << 32) / 5) as i32, -1));
        // The shift is clamped to 31 + e (here e = -31: no room, the multiplier itself is
        // divided, losing precision, as in TFLM).
        let mut q = p.clone();
        q.shift = -31;
        assert_eq!(q.output_multiplier(), ((1 << 30) / 5, -31));
        // SUM leaves the multiplier alone.
        let s = ReduceParams {
            reducer: Reducer::Sum,
            ..p
        };
        assert_eq!(s.output_multiplier(), (1 << 30, 1));
    }

    #[test]
    fn mean_of_equal_values_is_the_value_and_sum_saturates() {
        let p = params(Reducer::Mean, &[2, 3], &[false, true], (0.1, 4), (0.1, 4));
        let mut out = [0i8; 2];
        reduce(&p, &[9, 9, 9, -7, -7, -7], &mut out);
        assert_eq!(out, [9, -7]);
        let s = ReduceParams {
            reducer: Reducer::Sum,
            ..p
        };
        reduce(&s, &[100, 100, 100, -100, -100, -100], &mut out);
        assert_eq!(out, [127, -128]);
    }

    #[test]
    fn an_empty_input_gives_zeros() {
        let p = params(Reducer::Mean, &[0, 3], &[true, false], (0.1, 4), (0.1, 9));
        let mut out = [5i8; 3];
        reduce(&p, &[], &mut out);
        assert_eq!(out, [0, 0, 0]);
    }
}
