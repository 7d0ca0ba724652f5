//! QUANTIZE (float32 -> int8, int8 -> int8 requantize) and DEQUANTIZE (int8 -> float32),
//! as TFLite-Micro's `AffineQuantize`, `Requantize` and `Dequantize`.

use arch::quant::multiply_by_quantized_multiplier as mbqm;

/// `round(x / scale) + zero_point`, clamped to int8 (`AffineQuantize`: the division in
/// float, `static_cast<float>(scale)`, rounding half away from zero).
pub fn quantize_f32(scale: f32, zero_point: i32, input: &[f32], output: &mut [i8]) {
    for (o, &x) in output.iter_mut().zip(input) {
        let q = ((x / scale).round() as i64).saturating_add(zero_point as i64);
        *o = q.clamp(-128, 127) as i8;
    }
}

/// int8 -> int8 requantization with `in_scale / out_scale`.
pub fn requantize_i8(input: (f32, i32), output: (f32, i32), data: &[i8], out: &mut [i8]) {
    let (m, s) = arch::quant::quantize_multiplier(input.0 as f64 / output.0 as f64);
    for (o, &x) in out.iter_mut().zip(data) {
        let v = mbqm(x as i32 - input.1, m, s).wrapping_add(output.1);
        *o = v.clamp(-128, 127) as i8;
    }
}

/// `scale * (q - zero_point)` computed in double, stored as float32.
pub fn dequantize_i8(scale: f32, zero_point: i32, input: &[i8], output: &mut [f32]) {
    for (o, &x) in output.iter_mut().zip(input) {
        *o = (scale as f64 * (x as i32 - zero_point) as f64) as f32;
    }
}
