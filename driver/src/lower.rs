//! Lowering of conv, depthwise conv and fully connected layers to int8 GEMMs.
//!
//! - **Conv → GEMM (im2col on the CPU).** The accelerator has no address generator for
//!   convolution windows, so the driver builds the `M x K` patch matrix on the CPU
//!   (`M = out_h * out_w` per image, `K = k_h * k_w * in_c` in `(ky, kx, c)` order,
//!   from the runtime's one [`ConvGeometry`], whose output size and padding were derived
//!   once when the op was prepared; its `batch` is handled by the caller,
//!   padding filled with the input zero point so that padded taps contribute exactly zero
//!   after the zero-point correction). Its cost is charged to the CPU profile.
//! - **Weights** (TFLite OHWI) are packed once, at model load, into `K x N` row-major
//!   (`N = out_c`), the accelerator's layout; that packing cost is reported separately.
//! - **Zero points.** TFLite computes `Σ w · (x − zp_in)`; the array multiplies raw int8
//!   values, so the driver folds `− zp_in · Σ_k w[k][n]` into the int32 bias (exact in
//!   two's-complement int32 arithmetic, as TFLite-Micro's own accumulation is).
//! - **Depthwise** conv is one `M x K x 1` GEMM per output channel (`K = k_h * k_w`): each
//!   channel has its own activations, so a systolic array with shared activation rows can
//!   use only one of its `cols` columns. That is modelled honestly (utilization at most
//!   `1 / cols`); the partitioner keeps such layers on the CPU when the CPU is cheaper.
//! - **Fully connected**: `M = batch`, `K = in_features`, `N = out_features`; TFLite's
//!   `[out, in]` weights transposed to `K x N`.

use runtime::ConvGeometry;

/// im2col of one NHWC image (`in_h * in_w * in_c` bytes) of a CONV_2D without groups
/// into an `M x K` row-major patch matrix (`M = out_h * out_w`, `K = k_h * k_w * in_c`);
/// taps outside the image get `pad_value` (the input zero point).
pub fn im2col(input: &[i8], g: &ConvGeometry, pad_value: i8) -> Vec<i8> {
    debug_assert_eq!(input.len(), g.in_h * g.in_w * g.in_c);
    debug_assert_eq!(g.group_in_c, g.in_c, "im2col of a grouped convolution");
    let (k, c) = (g.patch_len(), g.in_c);
    let mut out = vec![pad_value; g.pixels_per_image() * k];
    g.for_each_tap(|pixel, tap, src| {
        let dst = pixel * k + tap * c;
        out[dst..dst + c].copy_from_slice(&input[src * c..(src + 1) * c]);
    });
    out
}

/// The `M x K` patch matrix of one channel `c` of a depthwise conv (`K = k_h * k_w`).
pub fn im2col_channel(input: &[i8], g: &ConvGeometry, c: usize, pad_value: i8) -> Vec<i8> {
    let k = g.taps();
    let mut out = vec![pad_value; g.pixels_per_image() * k];
    g.for_each_tap(|pixel, tap, src| {
        out[pixel * k + tap] = input[src * g.in_c + c];
    });
    out
}

/// Packs OHWI conv filters (`out_c x k_h x k_w x in_c`) into `K x N` row-major.
pub fn pack_ohwi(filter: &[i8], out_c: usize, k: usize) -> Vec<i8> {
    debug_assert_eq!(filter.len(), out_c * k);
    let mut out = vec![0i8; k * out_c];
    for n in 0..out_c {
        for kk in 0..k {
            out[kk * out_c + n] = filter[n * k + kk];
        }
    }
    out
}

/// The `K x 1` weight column of output channel `oc` of a depthwise filter
/// (`1 x k_h x k_w x out_c`).
pub fn depthwise_column(filter: &[i8], out_c: usize, k: usize, oc: usize) -> Vec<i8> {
    (0..k).map(|kk| filter[kk * out_c + oc]).collect()
}

/// Folds the input zero-point correction into the bias:
/// `bias'[n] = bias[n] − zp_in · Σ_k b[k][n]` (wrapping int32, like the CPU kernels).
pub fn fold_bias(bias: Option<&[i32]>, b_kn: &[i8], k: usize, n: usize, zp_in: i32) -> Vec<i32> {
    (0..n)
        .map(|col| {
            let sum: i32 = (0..k).map(|kk| b_kn[kk * n + col] as i32).sum();
            bias.map_or(0, |b| b[col])
                .wrapping_sub(zp_in.wrapping_mul(sum))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_conv(
        input: &[i8],
        filter_ohwi: &[i8],
        g: &ConvGeometry,
        oc: usize,
        zp: i32,
    ) -> Vec<i32> {
        let mut out = vec![0i32; g.pixels_per_image() * oc];
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for o in 0..oc {
                    let mut acc = 0i32;
                    for ky in 0..g.k_h {
                        for kx in 0..g.k_w {
                            let iy =
                                (oy * g.stride_h + ky * g.dilation_h) as isize - g.pad_top as isize;
                            let ix = (ox * g.stride_w + kx * g.dilation_w) as isize
                                - g.pad_left as isize;
                            if iy < 0 || ix < 0 || iy >= g.in_h as isize || ix >= g.in_w as isize {
                                continue;
                            }
                            for c in 0..g.in_c {
                                let x =
                                    input[(iy as usize * g.in_w + ix as usize) * g.in_c + c] as i32;
                                let w = filter_ohwi[((o * g.k_h + ky) * g.k_w + kx) * g.in_c + c]
                                    as i32;
                                acc += w * (x - zp);
                            }
                        }
                    }
                    out[(oy * g.out_w + ox) * oc + o] = acc;
                }
            }
        }
        out
    }

    #[test]
    fn im2col_gemm_with_folded_bias_equals_direct_conv() {
        let mut seed = 12345u64;
        let mut rnd = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as i8
        };
        for &(stride, dil, pad) in &[(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 1, 0)] {
            let oc = 5;
            // Explicit (not SAME/VALID) padding, so the struct is written out.
            let g = ConvGeometry {
                batch: 1,
                in_h: 7,
                in_w: 6,
                in_c: 3,
                out_c: oc,
                k_h: 3,
                k_w: 3,
                group_in_c: 3,
                stride_h: stride,
                stride_w: stride,
                dilation_h: dil,
                dilation_w: dil,
                pad_top: pad,
                pad_left: pad,
                out_h: (7 + 2 * pad - dil * 2 - 1) / stride + 1,
                out_w: (6 + 2 * pad - dil * 2 - 1) / stride + 1,
                depth_multiplier: 1,
            };
            let zp = -7i32;
            let input: Vec<i8> = (0..g.in_h * g.in_w * g.in_c).map(|_| rnd()).collect();
            let filter: Vec<i8> = (0..oc * g.patch_len()).map(|_| rnd()).collect();
            let a = im2col(&input, &g, zp as i8);
            let b = pack_ohwi(&filter, oc, g.patch_len());
            let bias = fold_bias(None, &b, g.patch_len(), oc, zp);
            let want = naive_conv(&input, &filter, &g, oc, zp);
            for m in 0..g.pixels_per_image() {
                for n in 0..oc {
                    let dot: i32 = (0..g.patch_len())
                        .map(|kk| a[m * g.patch_len() + kk] as i32 * b[kk * oc + n] as i32)
                        .sum();
                    assert_eq!(dot + bias[n], want[m * oc + n], "m={m} n={n}");
                }
            }
        }
    }

    #[test]
    fn pointwise_patches_are_the_input() {
        let window = runtime::Window {
            padding: models::Padding::Valid,
            stride_h: 1,
            stride_w: 1,
            dilation_h: 1,
            dilation_w: 1,
        };
        let g = ConvGeometry::conv([1, 4, 4, 8], [8, 1, 1, 8], window).unwrap();
        assert!(g.patches_are_input());
        let input: Vec<i8> = (0..128).map(|i| i as i8).collect();
        assert_eq!(im2col(&input, &g, 0), input);
    }
}
