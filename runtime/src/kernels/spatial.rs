//! Spatial and shape ops (issue 20): STRIDED_SLICE, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR,
//! RESIZE_BILINEAR (int8) and TRANSPOSE_CONV (int8, per-channel), mirroring TFLite-Micro's
//! reference kernels (`reference_ops::StridedSlice`, `Transpose`, `ResizeNearestNeighbor`,
//! `ResizeBilinearInteger`, `reference_integer_ops::TransposeConv`). PADV2 runs on
//! [`super::shape::pad`]. The data-movement kernels work on raw bytes with an element
//! size, as TFLM's templates do for every type they accept.

use super::QuantParams;

/// STRIDED_SLICE after preparation: per input axis the first index, the bound (exclusive
/// in the direction of the stride) and the stride, as TFLM's kernel computes them
/// (`StridedSliceStartForAxis` / `StridedSliceEndForAxis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SliceParams {
    pub in_shape: Vec<usize>,
    pub starts: Vec<i64>,
    pub stops: Vec<i64>,
    pub strides: Vec<i64>,
    /// Bytes per element.
    pub elem: usize,
}

impl SliceParams {
    /// Indices visited along `axis`, in order.
    fn axis_indices(&self, axis: usize) -> impl Iterator<Item = i64> + '_ {
        let (start, stop, stride) = (self.starts[axis], self.stops[axis], self.strides[axis]);
        let mut i = start;
        std::iter::from_fn(move || {
            let go = if stride > 0 { i < stop } else { i > stop };
            if go {
                let v = i;
                i += stride;
                Some(v)
            } else {
                None
            }
        })
    }

    /// Number of elements the kernel writes.
    pub fn count(&self) -> usize {
        (0..self.in_shape.len())
            .map(|a| self.axis_indices(a).count())
            .product()
    }
}

/// STRIDED_SLICE: the selected elements of `input`, in row-major order of the output.
pub fn strided_slice(p: &SliceParams, input: &[u8], output: &mut [u8]) {
    let rank = p.in_shape.len();
    let e = p.elem;
    if rank == 0 {
        output.copy_from_slice(&input[..e]);
        return;
    }
    let mut strides = vec![1usize; rank];
    for d in (0..rank - 1).rev() {
        strides[d] = strides[d + 1] * p.in_shape[d + 1];
    }
    let mut o = 0;
    fn walk(
        p: &SliceParams,
        strides: &[usize],
        axis: usize,
        base: usize,
        input: &[u8],
        output: &mut [u8],
        o: &mut usize,
    ) {
        let e = p.elem;
        for i in p.axis_indices(axis) {
            let at = base + i as usize * strides[axis];
            if axis + 1 == strides.len() {
                output[*o..*o + e].copy_from_slice(&input[at * e..(at + 1) * e]);
                *o += e;
            } else {
                walk(p, strides, axis + 1, at, input, output, o);
            }
        }
    }
    walk(p, &strides, 0, 0, input, output, &mut o);
    debug_assert_eq!(o, output.len());
    let _ = e;
}

/// TRANSPOSE: output dimension `i` is input dimension `perm[i]`; `elem` bytes per element.
pub fn transpose(in_shape: &[usize], perm: &[usize], elem: usize, input: &[u8], output: &mut [u8]) {
    let rank = in_shape.len();
    if rank == 0 {
        output.copy_from_slice(input);
        return;
    }
    let mut in_strides = vec![1usize; rank];
    for d in (0..rank - 1).rev() {
        in_strides[d] = in_strides[d + 1] * in_shape[d + 1];
    }
    let out_shape: Vec<usize> = perm.iter().map(|&p| in_shape[p]).collect();
    // Input stride of each output dimension.
    let step: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let total: usize = out_shape.iter().product();
    let mut idx = vec![0usize; rank];
    let mut at = 0usize;
    for o in 0..total {
        output[o * elem..(o + 1) * elem].copy_from_slice(&input[at * elem..(at + 1) * elem]);
        for d in (0..rank).rev() {
            idx[d] += 1;
            at += step[d];
            if idx[d] < out_shape[d] {
                break;
            }
            at -= step[d] * out_shape[d];
            idx[d] = 0;
        }
    }
}

/// Geometry of RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR (NHWC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeParams {
    /// `[batches, height, width, depth]` of the input.
    pub input: [usize; 4],
    pub out_h: usize,
    pub out_w: usize,
    pub align_corners: bool,
    pub half_pixel_centers: bool,
    /// Bytes per element (nearest neighbour; bilinear is int8 only).
    pub elem: usize,
}

/// TFLM's `GetNearestNeighbor`, in f32 as TFLM computes it.
pub fn nearest_neighbor(
    value: usize,
    input_size: usize,
    output_size: usize,
    align_corners: bool,
    half_pixel_centers: bool,
) -> usize {
    let scale: f32 = if align_corners && output_size > 1 {
        (input_size as i32 - 1) as f32 / (output_size as i32 - 1) as f32
    } else {
        input_size as f32 / output_size as f32
    };
    let offset: f32 = if half_pixel_centers { 0.5 } else { 0.0 };
    let x = (value as i32 as f32 + offset) * scale;
    // `static_cast<int32_t>` of TfLiteRound / std::floor: Rust's `as` saturates where C++
    // is undefined; the values here are small.
    let v = if align_corners {
        x.round() as i32
    } else {
        x.floor() as i32
    };
    let mut v = v.min(input_size as i32 - 1);
    if half_pixel_centers {
        v = v.max(0);
    }
    v.max(0) as usize
}

/// RESIZE_NEAREST_NEIGHBOR: copies one input pixel (all channels) per output pixel.
pub fn resize_nearest(p: &ResizeParams, input: &[u8], output: &mut [u8]) {
    let [batches, in_h, in_w, depth] = p.input;
    let px = depth * p.elem;
    let mut o = 0;
    for b in 0..batches {
        for y in 0..p.out_h {
            let iy = nearest_neighbor(y, in_h, p.out_h, p.align_corners, p.half_pixel_centers);
            for x in 0..p.out_w {
                let ix = nearest_neighbor(x, in_w, p.out_w, p.align_corners, p.half_pixel_centers);
                let at = ((b * in_h + iy) * in_w + ix) * px;
                output[o..o + px].copy_from_slice(&input[at..at + px]);
                o += px;
            }
        }
    }
}

/// TFLM's `ComputeInterpolationValuesInteger`: (scaled position in 1/1024, lower and upper
/// source index).
fn interpolation_integer(
    value: i32,
    scale_10: i32,
    half_pixel_centers: bool,
    input_size: i32,
) -> (i32, i32, i32) {
    let scaled = if half_pixel_centers {
        value * scale_10 + scale_10 / 2 - (1 << 9)
    } else {
        value * scale_10
    };
    // C division truncates toward zero, as Rust's `/` does.
    let lower = (scaled / (1 << 10)).max(0);
    let upper = ((scaled + (1 << 10) - 1) / (1 << 10)).min(input_size - 1);
    (scaled, lower, upper)
}

/// RESIZE_BILINEAR, int8 (`ResizeBilinearInteger`): 10-bit fixed-point source positions,
/// 64-bit weighted sums of the four neighbours, rounded half away from zero by 2^20 (TFLM
/// built without `TFLITE_SINGLE_ROUNDING`, as the other kernels here).
pub fn resize_bilinear_int8(p: &ResizeParams, input: &[i8], output: &mut [i8]) {
    let [batches, in_h, in_w, depth] = p.input;
    let (ih, iw, oh, ow) = (in_h as i32, in_w as i32, p.out_h as i32, p.out_w as i32);
    let mut hs = ((1 << 10) * ih + oh / 2) / oh;
    let mut ws = ((1 << 10) * iw + ow / 2) / ow;
    if p.align_corners && oh > 1 {
        hs = ((1 << 10) * (ih - 1) + (oh - 1) / 2) / (oh - 1);
    }
    if p.align_corners && ow > 1 {
        ws = ((1 << 10) * (iw - 1) + (ow - 1) / 2) / (ow - 1);
    }
    let at = |b: usize, y: i32, x: i32, c: usize| -> i64 {
        input[((b * in_h + y as usize) * in_w + x as usize) * depth + c] as i64
    };
    let mut o = 0;
    for b in 0..batches {
        for y in 0..oh {
            let (in_y, y0, y1) = interpolation_integer(y, hs, p.half_pixel_centers, ih);
            let dy = (in_y - (1 << 10) * y0) as i64;
            for x in 0..ow {
                let (in_x, x0, x1) = interpolation_integer(x, ws, p.half_pixel_centers, iw);
                let dx = (in_x - (1 << 10) * x0) as i64;
                for c in 0..depth {
                    let sum = at(b, y0, x0, c) * ((1 << 10) - dy) * ((1 << 10) - dx)
                        + at(b, y1, x0, c) * dy * ((1 << 10) - dx)
                        + at(b, y0, x1, c) * ((1 << 10) - dy) * dx
                        + at(b, y1, x1, c) * dy * dx;
                    let round: i64 = if sum > 0 { 1 << 19 } else { -(1 << 19) };
                    output[o] = ((sum + round) / (1 << 20)) as i8;
                    o += 1;
                }
            }
        }
    }
}

/// Geometry of a TRANSPOSE_CONV (NHWC input and output, OHWI filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransposeConvGeometry {
    /// `[batches, height, width, in_c]`.
    pub input: [usize; 4],
    /// `[out_c, k_h, k_w, in_c]`.
    pub filter: [usize; 4],
    /// `[batches, height, width, out_c]`.
    pub output: [usize; 4],
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
}

/// TRANSPOSE_CONV, int8 (`reference_integer_ops::TransposeConv`): every input element
/// scatters `(x - input_zero_point) * w` into an int32 accumulator per output element
/// (taps that fall outside the output are skipped; the sums wrap as TFLM's int32 scratch
/// does), then bias, per-channel requantization and the activation clamp.
pub fn transpose_conv_int8(
    g: &TransposeConvGeometry,
    q: &QuantParams,
    input: &[i8],
    filter: &[i8],
    output: &mut [i8],
) {
    let [batches, in_h, in_w, in_c] = g.input;
    let [out_c, k_h, k_w, _] = g.filter;
    let [_, out_h, out_w, _] = g.output;
    let mut acc = vec![0i32; output.len()];
    for b in 0..batches {
        for iy in 0..in_h {
            for ix in 0..in_w {
                let oy0 = (iy * g.stride_h) as isize - g.pad_top as isize;
                let ox0 = (ix * g.stride_w) as isize - g.pad_left as isize;
                for ic in 0..in_c {
                    let x = input[((b * in_h + iy) * in_w + ix) * in_c + ic] as i32
                        - q.input_zero_point;
                    for ky in 0..k_h {
                        let oy = oy0 + ky as isize;
                        if oy < 0 || oy >= out_h as isize {
                            continue;
                        }
                        for kx in 0..k_w {
                            let ox = ox0 + kx as isize;
                            if ox < 0 || ox >= out_w as isize {
                                continue;
                            }
                            let base = ((b * out_h + oy as usize) * out_w + ox as usize) * out_c;
                            for oc in 0..out_c {
                                let w = filter[((oc * k_h + ky) * k_w + kx) * in_c + ic] as i32;
                                acc[base + oc] = acc[base + oc].wrapping_add(x * w);
                            }
                        }
                    }
                }
            }
        }
    }
    for (i, (o, &a)) in output.iter_mut().zip(&acc).enumerate() {
        *o = q.requantize(a, i % out_c);
    }
}
