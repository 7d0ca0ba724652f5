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
