//! Data movement: PAD (int8, padded with the output zero point) and CONCATENATION.

/// PAD: `before[d]`/`after[d]` elements around each dimension of `in_shape`.
pub fn pad(
    in_shape: &[usize],
    before: &[usize],
    after: &[usize],
    pad_value: i8,
    input: &[i8],
    output: &mut [i8],
) {
    let rank = in_shape.len();
    let out_shape: Vec<usize> = (0..rank)
        .map(|d| in_shape[d] + before[d] + after[d])
        .collect();
    output.fill(pad_value);
    if input.is_empty() || rank == 0 {
        if rank == 0 {
            output.copy_from_slice(input);
        }
        return;
    }
    // Copy rows of the innermost dimension.
    let inner = in_shape[rank - 1];
    let mut idx = vec![0usize; rank - 1];
    for row in input.chunks_exact(inner.max(1)) {
        let mut o = 0usize;
        for d in 0..rank - 1 {
            o = o * out_shape[d] + idx[d] + before[d];
        }
        o = o * out_shape[rank - 1] + before[rank - 1];
        output[o..o + inner].copy_from_slice(row);
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            if idx[d] < in_shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// CONCATENATION along `axis` of inputs with equal quantization: a copy.
pub fn concatenate(inputs: &[(&[i8], &[usize])], axis: usize, output: &mut [i8]) {
    let outer: usize = inputs
        .first()
        .map_or(1, |(_, s)| s[..axis].iter().product());
    let mut o = 0;
    for i in 0..outer {
        for (data, shape) in inputs {
            let chunk: usize = shape[axis..].iter().product();
            output[o..o + chunk].copy_from_slice(&data[i * chunk..(i + 1) * chunk]);
            o += chunk;
        }
    }
}

/// How one CONCATENATION input reaches the output's quantization: `None` when it is
/// quantized like the output (a copy), else the requantization of TFLite-Micro's
/// int8 -> int8 QUANTIZE (`Requantize`: multiplier of `input_scale / output_scale` in
/// double, the input zero point subtracted, the output zero point added, clamped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatRequant {
    pub multiplier: i32,
    pub shift: i32,
    pub input_zero_point: i32,
    pub output_zero_point: i32,
}

impl ConcatRequant {
    pub fn new(input: (f32, i32), output: (f32, i32)) -> Self {
        let (multiplier, shift) =
            arch::quant::quantize_multiplier(input.0 as f64 / output.0 as f64);
        ConcatRequant {
            multiplier,
            shift,
            input_zero_point: input.1,
            output_zero_point: output.1,
        }
    }

    #[inline]
    fn apply(&self, x: i8) -> i8 {
        arch::quant::multiply_by_quantized_multiplier(
            x as i32 - self.input_zero_point,
            self.multiplier,
            self.shift,
        )
        .wrapping_add(self.output_zero_point)
        .clamp(-128, 127) as i8
    }
}

/// CONCATENATION along `axis` where some inputs are quantized unlike the output: each
/// such input is requantized as it is copied (what the equivalent graph, a QUANTIZE
/// int8 -> int8 before the concatenation, computes in TFLite-Micro).
pub fn concatenate_requantized(
    inputs: &[(&[i8], &[usize])],
    requant: &[Option<ConcatRequant>],
    axis: usize,
    output: &mut [i8],
) {
    let outer: usize = inputs
        .first()
        .map_or(1, |(_, s)| s[..axis].iter().product());
    let mut o = 0;
    for i in 0..outer {
        for ((data, shape), rq) in inputs.iter().zip(requant) {
            let chunk: usize = shape[axis..].iter().product();
            let src = &data[i * chunk..(i + 1) * chunk];
            let dst = &mut output[o..o + chunk];
            match rq {
                None => dst.copy_from_slice(src),
                Some(r) => {
                    for (d, &s) in dst.iter_mut().zip(src) {
                        *d = r.apply(s);
                    }
                }
            }
            o += chunk;
        }
    }
}
