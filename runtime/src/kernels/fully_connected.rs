//! FULLY_CONNECTED, int8 (`reference_integer_ops::FullyConnected`; per-tensor or
//! per-channel weights).

use super::QuantParams;

/// Geometry of a fully connected op: `batches` rows of `depth` inputs, `units` outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FcGeometry {
    pub batches: usize,
    pub depth: usize,
    pub units: usize,
}

impl FcGeometry {
    pub fn macs(&self) -> u64 {
        (self.batches * self.depth * self.units) as u64
    }
}

/// `output[b][u] = requant(sum_d (filter[u][d] - fzp) * (input[b][d] - izp) + bias[u])`.
pub fn fully_connected(
    g: &FcGeometry,
    q: &QuantParams,
    input: &[i8],
    filter: &[i8],
    output: &mut [i8],
) {
    let in_off = -q.input_zero_point;
    let f_off = -q.filter_zero_point;
    for b in 0..g.batches {
        let xs = &input[b * g.depth..(b + 1) * g.depth];
        for u in 0..g.units {
            let ws = &filter[u * g.depth..(u + 1) * g.depth];
            let mut acc: i32 = 0;
            if f_off == 0 {
                // sum w * (x + in_off) = sum w * x + in_off * sum w.
                let mut wsum = 0i32;
                for (&x, &w) in xs.iter().zip(ws) {
                    acc = acc.wrapping_add(w as i32 * x as i32);
                    wsum = wsum.wrapping_add(w as i32);
                }
                acc = acc.wrapping_add(in_off.wrapping_mul(wsum));
            } else {
                for (&x, &w) in xs.iter().zip(ws) {
                    acc = acc.wrapping_add((w as i32 + f_off) * (x as i32 + in_off));
                }
            }
            output[b * g.units + u] = q.requantize(acc, u);
        }
    }
}
