//! DEPTHWISE_CONV_2D, int8 per-channel, any depth multiplier
//! (`reference_integer_ops::DepthwiseConvPerChannel`).

use super::QuantParams;
use crate::geometry::ConvGeometry;

/// Depthwise convolution: output channel `ic * depth_multiplier + m` reads input channel
/// `ic` with filter channel `ic * depth_multiplier + m`.
pub fn depthwise_conv2d(
    g: &ConvGeometry,
    q: &QuantParams,
    input: &[i8],
    filter: &[i8],
    output: &mut [i8],
) {
    let [batches, in_h, in_w, in_d] = g.input_shape();
    let [_, out_h, out_w, out_d] = g.output_shape();
    // The filter is [1, f_h, f_w, out_d].
    let (f_h, f_w, f_d) = (g.k_h, g.k_w, out_d);
    let mult = g.depth_multiplier;
    let in_off = -q.input_zero_point;
    let mut acc = vec![0i32; out_d];
    for b in 0..batches {
        for oy in 0..out_h {
            let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
            for ox in 0..out_w {
                let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
                acc.iter_mut().for_each(|a| *a = 0);
                for fy in 0..f_h {
                    let iy = iy0 + (fy * g.dilation_h) as isize;
                    if iy < 0 || iy >= in_h as isize {
                        continue;
                    }
                    for fx in 0..f_w {
                        let ix = ix0 + (fx * g.dilation_w) as isize;
                        if ix < 0 || ix >= in_w as isize {
                            continue;
                        }
                        let ib = ((b * in_h + iy as usize) * in_w + ix as usize) * in_d;
                        let fb = (fy * f_w + fx) * f_d;
                        let xs = &input[ib..ib + in_d];
                        let ws = &filter[fb..fb + out_d];
                        if mult == 1 {
                            for ((a, &x), &w) in acc.iter_mut().zip(xs).zip(ws) {
                                *a = a.wrapping_add(w as i32 * (x as i32 + in_off));
                            }
                        } else {
                            for (ic, &x) in xs.iter().enumerate() {
                                let x = x as i32 + in_off;
                                let oc0 = ic * mult;
                                for (a, &w) in
                                    acc[oc0..oc0 + mult].iter_mut().zip(&ws[oc0..oc0 + mult])
                                {
                                    *a = a.wrapping_add(w as i32 * x);
                                }
                            }
                        }
                    }
                }
                let ob = ((b * out_h + oy) * out_w + ox) * out_d;
                for (oc, &a) in acc.iter().enumerate() {
                    output[ob + oc] = q.requantize(a, oc);
                }
            }
        }
    }
}
