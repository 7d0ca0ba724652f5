//! CONV_2D, int8 per-channel (`reference_integer_ops::ConvPerChannel`).

use super::QuantParams;
use crate::geometry::ConvGeometry;

/// Dot product of int8 vectors and the sum of the weights, in i32 (vectorizes well).
#[inline]
fn dot_and_wsum(xs: &[i8], ws: &[i8]) -> (i32, i32) {
    let mut dot = 0i32;
    let mut wsum = 0i32;
    for (&x, &w) in xs.iter().zip(ws) {
        dot = dot.wrapping_add(x as i32 * w as i32);
        wsum = wsum.wrapping_add(w as i32);
    }
    (dot, wsum)
}

/// CONV_2D (groups allowed: the filter's input depth may divide the input depth).
/// `input`, `filter` and `output` must have the lengths of their shapes.
///
/// Computes `sum w * (x - input_zero_point)` over the taps inside the input as
/// `sum w * x - input_zero_point * sum w` (the same integer, as in TFLite-Micro).
pub fn conv2d(g: &ConvGeometry, q: &QuantParams, input: &[i8], filter: &[i8], output: &mut [i8]) {
    let [batches, in_h, in_w, in_d] = g.input_shape();
    let (out_d, f_h, f_w, f_d) = (g.out_c, g.k_h, g.k_w, g.group_in_c);
    let (out_h, out_w) = (g.out_h, g.out_w);
    let groups = in_d / f_d.max(1);
    let filters_per_group = out_d / groups.max(1);
    let in_off = -q.input_zero_point;
    // Valid taps of the current output position: (filter offset, input offset, length).
    // Without groups and dilation along x, the valid part of a filter row is one
    // contiguous run in both the input and the filter.
    let contiguous_rows = groups == 1 && g.dilation_w == 1;
    let mut taps: Vec<(usize, usize, usize)> = Vec::with_capacity(f_h * f_w);
    for b in 0..batches {
        for oy in 0..out_h {
            let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
            for ox in 0..out_w {
                let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
                taps.clear();
                for fy in 0..f_h {
                    let iy = iy0 + (fy * g.dilation_h) as isize;
                    if iy < 0 || iy >= in_h as isize {
                        continue;
                    }
                    let row = (b * in_h + iy as usize) * in_w;
                    if contiguous_rows {
                        let fx0 = (-ix0).max(0) as usize;
                        let fx1 = ((in_w as isize - ix0).max(0) as usize).min(f_w);
                        if fx0 < fx1 {
                            let ib = (row + (ix0 + fx0 as isize) as usize) * in_d;
                            taps.push(((fy * f_w + fx0) * f_d, ib, (fx1 - fx0) * f_d));
                        }
                        continue;
                    }
                    for fx in 0..f_w {
                        let ix = ix0 + (fx * g.dilation_w) as isize;
                        if ix < 0 || ix >= in_w as isize {
                            continue;
                        }
                        taps.push(((fy * f_w + fx) * f_d, (row + ix as usize) * in_d, f_d));
                    }
                }
                let out_base = ((b * out_h + oy) * out_w + ox) * out_d;
                for oc in 0..out_d {
                    let ic0 = (oc / filters_per_group.max(1)) * f_d;
                    let fbase = oc * f_h * f_w * f_d;
                    let mut acc: i32 = 0;
                    let mut wsum: i32 = 0;
                    for &(foff, ib, len) in &taps {
                        let fb = fbase + foff;
                        let (d, s) =
                            dot_and_wsum(&input[ib + ic0..ib + ic0 + len], &filter[fb..fb + len]);
                        acc = acc.wrapping_add(d);
                        wsum = wsum.wrapping_add(s);
                    }
                    acc = acc.wrapping_add(in_off.wrapping_mul(wsum));
                    output[out_base + oc] = q.requantize(acc, oc);
                }
            }
        }
    }
}
