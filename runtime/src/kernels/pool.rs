//! AVERAGE_POOL_2D and MAX_POOL_2D, int8 (`reference_integer_ops::AveragePool/MaxPool`).

/// Geometry and activation clamp of a pooling op (NHWC in and out).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolParams {
    pub input: [usize; 4],
    pub output: [usize; 4],
    pub filter_h: usize,
    pub filter_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub act_min: i32,
    pub act_max: i32,
}

/// Calls `f(b, oy, ox, y_range, x_range)` for every output position with the clipped
/// filter window.
#[inline]
fn windows(
    p: &PoolParams,
    mut f: impl FnMut(usize, std::ops::Range<usize>, std::ops::Range<usize>),
) {
    let [batches, in_h, in_w, _] = p.input;
    let [_, out_h, out_w, _] = p.output;
    for b in 0..batches {
        for oy in 0..out_h {
            let y0 = (oy * p.stride_h) as isize - p.pad_top as isize;
            let ys =
                y0.max(0) as usize..((y0 + p.filter_h as isize).min(in_h as isize)).max(0) as usize;
            for ox in 0..out_w {
                let x0 = (ox * p.stride_w) as isize - p.pad_left as isize;
                let xs = x0.max(0) as usize
                    ..((x0 + p.filter_w as isize).min(in_w as isize)).max(0) as usize;
                f((b * out_h + oy) * out_w + ox, ys.clone(), xs);
            }
        }
    }
}

/// Average pooling: `(sum + count/2) / count` for positive sums and `(sum - count/2) /
/// count` otherwise (C division), over the window clipped to the input.
pub fn average_pool(p: &PoolParams, input: &[i8], output: &mut [i8]) {
    let [_, in_h, in_w, depth] = p.input;
    windows(p, |opix, ys, xs| {
        let b = opix / (p.output[1] * p.output[2]);
        let count = (ys.len() * xs.len()) as i32;
        for c in 0..depth {
            let mut acc: i32 = 0;
            for y in ys.clone() {
                for x in xs.clone() {
                    acc = acc.wrapping_add(input[((b * in_h + y) * in_w + x) * depth + c] as i32);
                }
            }
            let v = if count == 0 {
                0
            } else if acc > 0 {
                acc.wrapping_add(count / 2) / count
            } else {
                acc.wrapping_sub(count / 2) / count
            };
            output[opix * depth + c] = v.clamp(p.act_min, p.act_max) as i8;
        }
    });
}

/// Max pooling over the window clipped to the input, then the activation clamp.
pub fn max_pool(p: &PoolParams, input: &[i8], output: &mut [i8]) {
    let [_, in_h, in_w, depth] = p.input;
    windows(p, |opix, ys, xs| {
        let b = opix / (p.output[1] * p.output[2]);
        for c in 0..depth {
            let mut m: i32 = -128;
            for y in ys.clone() {
                for x in xs.clone() {
                    m = m.max(input[((b * in_h + y) * in_w + x) * depth + c] as i32);
                }
            }
            output[opix * depth + c] = m.clamp(p.act_min, p.act_max) as i8;
        }
    });
}
