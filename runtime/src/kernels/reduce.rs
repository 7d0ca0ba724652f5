//! MEAN, int8 (as `reference_integer_ops::Mean`, generalised to any set of axes): sum of
//! `x - input_zero_point` over the reduced axes, requantized by `input_scale /
//! output_scale`, divided by the element count rounding half away from zero, plus the
//! output zero point, clamped.

use arch::quant::multiply_by_quantized_multiplier as mbqm;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeanParams {
    pub input_shape: Vec<usize>,
    /// Which input axes are reduced.
    pub reduced: Vec<bool>,
    pub input_zero_point: i32,
    pub output_zero_point: i32,
    pub multiplier: i32,
    pub shift: i32,
}

impl MeanParams {
    pub fn new(
        input_shape: Vec<usize>,
        reduced: Vec<bool>,
        input: (f32, i32),
        output: (f32, i32),
    ) -> Self {
        let (multiplier, shift) =
            arch::quant::quantize_multiplier(input.0 as f64 / output.0 as f64);
        MeanParams {
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
}

pub fn mean(p: &MeanParams, input: &[i8], output: &mut [i8]) {
    let rank = p.input_shape.len();
    let count: i32 = p
        .input_shape
        .iter()
        .zip(&p.reduced)
        .filter(|(_, &r)| r)
        .map(|(&d, _)| d as i32)
        .product();
    let mut sums = vec![0i32; p.output_len()];
    let mut idx = vec![0usize; rank];
    for &x in input {
        let mut o = 0usize;
        for ((&i, &size), &red) in idx.iter().zip(&p.input_shape).zip(&p.reduced) {
            if !red {
                o = o * size + i;
            }
        }
        sums[o] = sums[o].wrapping_add(x as i32 - p.input_zero_point);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < p.input_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    for (o, &s) in output.iter_mut().zip(&sums) {
        let acc = mbqm(s, p.multiplier, p.shift);
        let acc = if count == 0 {
            0
        } else if acc > 0 {
            (acc + count / 2) / count
        } else {
            (acc - count / 2) / count
        };
        *o = (acc + p.output_zero_point).clamp(-128, 127) as i8;
    }
}
