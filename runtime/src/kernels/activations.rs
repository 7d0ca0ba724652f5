//! LOGISTIC and TANH, int8 (`reference_integer_ops::Logistic/Tanh` with TFLite-Micro's
//! parameter preparation: input multiplier from `frexp`, input range radius).

use super::fixedpoint::{calculate_input_radius, logistic, rounding_divide_by_pot_wide, tanh};
use arch::quant::multiply_by_quantized_multiplier as mbqm;

const INPUT_INTEGER_BITS: i32 = 4;

/// Parameters shared by LOGISTIC and TANH.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SigmoidParams {
    pub input_zero_point: i32,
    pub input_range_radius: i32,
    pub input_multiplier: i32,
    pub input_left_shift: i32,
}

impl SigmoidParams {
    pub fn new(input_scale: f32, input_zero_point: i32) -> Self {
        let real = input_scale as f64 * (1i64 << (31 - INPUT_INTEGER_BITS)) as f64;
        let (q, shift) = frexp(real);
        let input_multiplier = (q * (1i64 << 31) as f64).round().min(i32::MAX as f64) as i32;
        SigmoidParams {
            input_zero_point,
            input_range_radius: calculate_input_radius(INPUT_INTEGER_BITS, shift, 31),
            input_multiplier,
            input_left_shift: shift,
        }
    }

    #[inline]
    fn input_q4(&self, x: i8) -> Result<i32, i8> {
        let input = x as i32 - self.input_zero_point;
        if input <= -self.input_range_radius {
            Err(-128)
        } else if input >= self.input_range_radius {
            Err(127)
        } else {
            Ok(mbqm(input, self.input_multiplier, self.input_left_shift))
        }
    }
}

fn frexp(x: f64) -> (f64, i32) {
    if x == 0.0 || !x.is_finite() {
        return (0.0, 0);
    }
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        let (m, e) = frexp(x * 2f64.powi(64));
        return (m, e - 64);
    }
    let m = f64::from_bits((bits & !(0x7ffu64 << 52)) | (1022u64 << 52));
    (m, exp - 1022)
}

/// LOGISTIC: output scale 1/256, zero point -128.
pub fn logistic_int8(p: &SigmoidParams, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = match p.input_q4(x) {
            Err(v) => v,
            Ok(q4) => {
                let q0 = logistic(q4, INPUT_INTEGER_BITS);
                (rounding_divide_by_pot_wide(q0, 31 - 8) - 128).clamp(-128, 127) as i8
            }
        };
    }
}

/// TANH: output scale 1/128, zero point 0.
pub fn tanh_int8(p: &SigmoidParams, input: &[i8], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = match p.input_q4(x) {
            Err(v) => v,
            Ok(q4) => {
                let q0 = tanh(q4, INPUT_INTEGER_BITS);
                rounding_divide_by_pot_wide(q0, 31 - 7).clamp(-128, 127) as i8
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frexp_exact() {
        for x in [1.0, 0.5, 3.0, 1e-3, 1234.5, 2f64.powi(20)] {
            let (m, e) = frexp(x);
            assert!((0.5..1.0).contains(&m));
            assert_eq!(m * 2f64.powi(e), x);
        }
    }

    #[test]
    fn logistic_tracks_float() {
        let p = SigmoidParams::new(0.1, 3);
        let input: Vec<i8> = (-128..=127).collect();
        let mut out = vec![0i8; 256];
        logistic_int8(&p, &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            let r = 1.0 / (1.0 + (-(0.1 * (x as f64 - 3.0))).exp());
            let q = (r * 256.0).round() - 128.0;
            assert!((y as f64 - q.min(127.0)).abs() <= 1.0, "{x}: {y} vs {q}");
        }
        let mut t = vec![0i8; 256];
        tanh_int8(&p, &input, &mut t);
        for (&x, &y) in input.iter().zip(&t) {
            let r = (0.1 * (x as f64 - 3.0)).tanh();
            let q = (r * 128.0).round().clamp(-128.0, 127.0);
            assert!((y as f64 - q).abs() <= 1.0, "{x}: {y} vs {q}");
        }
    }
}
