//! The geometry of a 2-D convolution window: the ONE description of CONV_2D and
//! DEPTHWISE_CONV_2D shared by the CPU kernels ([`crate::prepare`], [`crate::kernels`]),
//! the CPU cost model ([`crate::cost`]) and the accelerator driver's conv lowering
//! (`driver::lower`, `driver::delegate::lowering`).
//!
//! Output size and TFLite SAME/VALID padding are derived here and nowhere else:
//! [`ConvGeometry::conv`] and [`ConvGeometry::depthwise`] build a geometry from the input
//! and filter shapes and the op's [`Window`] options; [`out_size_and_padding`] is the
//! per-axis rule (TFLite's `ComputePaddingHeightWidth`), also used for pooling windows.

use models::{ConvOptions, DepthwiseOptions, Padding};
use serde::Serialize;

/// Why a convolution geometry cannot be derived (zero stride, dilation or filter size,
/// channel counts that do not divide, sizes that overflow).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GeometryError {
    /// A stride, dilation or filter size is 0.
    #[error("{what} must be at least 1")]
    Zero { what: &'static str },
    /// The channel counts of input, filter and output do not fit together.
    #[error("{0}")]
    Channels(String),
    /// The window is too large to represent (hand-built graphs only).
    #[error("window of {what} overflows")]
    Overflow { what: &'static str },
}

/// The sliding-window options of a CONV_2D or DEPTHWISE_CONV_2D (a subset of
/// [`ConvOptions`] / [`DepthwiseOptions`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub padding: Padding,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
}

impl From<&ConvOptions> for Window {
    fn from(o: &ConvOptions) -> Self {
        Window {
            padding: o.padding,
            stride_h: o.stride_h,
            stride_w: o.stride_w,
            dilation_h: o.dilation_h,
            dilation_w: o.dilation_w,
        }
    }
}

impl From<&DepthwiseOptions> for Window {
    fn from(o: &DepthwiseOptions) -> Self {
        Window {
            padding: o.padding,
            stride_h: o.stride_h,
            stride_w: o.stride_w,
            dilation_h: o.dilation_h,
            dilation_w: o.dilation_w,
        }
    }
}

/// Output size and leading padding along one axis, as TFLite's
/// `ComputePaddingHeightWidth`: SAME gives `ceil(input / stride)` outputs, VALID
/// `(input - effective_filter) / stride + 1` (0 when the filter does not fit); the leading
/// padding is half (rounded down) of what the outputs need beyond the input.
pub fn out_size_and_padding(
    padding: Padding,
    input: usize,
    filter: usize,
    stride: usize,
    dilation: usize,
) -> Result<(usize, usize), GeometryError> {
    for (v, what) in [
        (filter, "filter size"),
        (stride, "stride"),
        (dilation, "dilation"),
    ] {
        if v == 0 {
            return Err(GeometryError::Zero { what });
        }
    }
    let overflow = GeometryError::Overflow {
        what: "filter x dilation",
    };
    let eff = (filter - 1)
        .checked_mul(dilation)
        .and_then(|e| e.checked_add(1))
        .ok_or(overflow.clone())?;
    let out = match padding {
        Padding::Same => input.div_ceil(stride),
        Padding::Valid if input >= eff => (input - eff) / stride + 1,
        Padding::Valid => 0,
    };
    let needed = (out.max(1) - 1)
        .checked_mul(stride)
        .and_then(|n| n.checked_add(eff))
        .ok_or(overflow)?;
    Ok((out, needed.saturating_sub(input) / 2))
}

/// Geometry of a CONV_2D or DEPTHWISE_CONV_2D over NHWC activations, with its output size
/// and padding derived (see the module docs). The filter is OHWI
/// `[out_c, k_h, k_w, group_in_c]` for CONV_2D and `[1, k_h, k_w, out_c]` for depthwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ConvGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input height, width and channels.
    pub in_h: usize,
    pub in_w: usize,
    pub in_c: usize,
    /// Output height, width and channels.
    pub out_h: usize,
    pub out_w: usize,
    pub out_c: usize,
    /// Filter height and width (taps).
    pub k_h: usize,
    pub k_w: usize,
    /// Input channels one output channel reduces over: the filter depth of a CONV_2D
    /// (`in_c / groups`; `in_c` without groups), 1 for a depthwise conv.
    pub group_in_c: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    /// Padding before the first row / column (TFLite's `padding_values.height/width`).
    pub pad_top: usize,
    pub pad_left: usize,
    /// Output channels per input channel (depthwise only; 1 for CONV_2D).
    pub depth_multiplier: usize,
}

impl ConvGeometry {
    /// The geometry of a CONV_2D with NHWC `input` and OHWI `filter` shapes. The filter
    /// depth must divide the input depth (groups), and the groups the filter count.
    pub fn conv(
        input: [usize; 4],
        filter: [usize; 4],
        window: Window,
    ) -> Result<Self, GeometryError> {
        let [n, ih, iw, ic] = input;
        let [oc, kh, kw, fic] = filter;
        if fic == 0 || ic % fic != 0 || oc % (ic / fic).max(1) != 0 {
            return Err(GeometryError::Channels(format!(
                "filter depth {fic} does not divide input depth {ic} into groups of the {oc} filters"
            )));
        }
        Self::derive([n, ih, iw, ic], (kh, kw), oc, fic, 1, window)
    }

    /// The geometry of a DEPTHWISE_CONV_2D with NHWC `input` and `[1, k_h, k_w, out_c]`
    /// `filter` shapes (`out_c` a multiple of the input depth).
    pub fn depthwise(
        input: [usize; 4],
        filter: [usize; 4],
        window: Window,
    ) -> Result<Self, GeometryError> {
        let [n, ih, iw, ic] = input;
        let [one, kh, kw, oc] = filter;
        if one != 1 || ic == 0 || oc % ic != 0 {
            return Err(GeometryError::Channels(format!(
                "filter shape {filter:?} does not fit input depth {ic}"
            )));
        }
        Self::derive([n, ih, iw, ic], (kh, kw), oc, 1, oc / ic, window)
    }

    fn derive(
        [batch, in_h, in_w, in_c]: [usize; 4],
        (k_h, k_w): (usize, usize),
        out_c: usize,
        group_in_c: usize,
        depth_multiplier: usize,
        w: Window,
    ) -> Result<Self, GeometryError> {
        // Strides, then dilations, then filter sizes (the order the checks always ran).
        for (v, what) in [
            (w.stride_h, "stride_h"),
            (w.stride_w, "stride_w"),
            (w.dilation_h, "dilation_h"),
            (w.dilation_w, "dilation_w"),
            (k_h, "filter height"),
            (k_w, "filter width"),
        ] {
            if v == 0 {
                return Err(GeometryError::Zero { what });
            }
        }
        let (out_h, pad_top) =
            out_size_and_padding(w.padding, in_h, k_h, w.stride_h, w.dilation_h)?;
        let (out_w, pad_left) =
            out_size_and_padding(w.padding, in_w, k_w, w.stride_w, w.dilation_w)?;
        Ok(ConvGeometry {
            batch,
            in_h,
            in_w,
            in_c,
            out_h,
            out_w,
            out_c,
            k_h,
            k_w,
            group_in_c,
            stride_h: w.stride_h,
            stride_w: w.stride_w,
            dilation_h: w.dilation_h,
            dilation_w: w.dilation_w,
            pad_top,
            pad_left,
            depth_multiplier,
        })
    }

    /// The NHWC input shape.
    pub fn input_shape(&self) -> [usize; 4] {
        [self.batch, self.in_h, self.in_w, self.in_c]
    }

    /// The NHWC output shape.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.batch, self.out_h, self.out_w, self.out_c]
    }

    /// Output pixels of one image (`out_h x out_w`): the rows of the conv's patch matrix.
    pub fn pixels_per_image(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Output pixels of the batch.
    pub fn out_pixels(&self) -> usize {
        self.batch * self.pixels_per_image()
    }

    /// Output elements of the batch.
    pub fn outputs(&self) -> usize {
        self.out_pixels() * self.out_c
    }

    /// Filter taps (`k_h x k_w`).
    pub fn taps(&self) -> usize {
        self.k_h * self.k_w
    }

    /// The reduction length of one output (`k_h x k_w x group_in_c`): the columns of the
    /// patch matrix of a CONV_2D, the taps of a depthwise conv.
    pub fn patch_len(&self) -> usize {
        self.taps() * self.group_in_c
    }

    /// Multiply-accumulates of one execution (padding taps included): the usual "MACs"
    /// of a network table.
    pub fn macs(&self) -> u64 {
        self.outputs() as u64 * self.patch_len() as u64
    }

    /// Bytes of int8 filter weights.
    pub fn weight_bytes(&self) -> u64 {
        self.out_c as u64 * self.patch_len() as u64
    }

    /// True for a 1x1 filter without padding or dilation (any stride): the CPU libraries'
    /// 1x1 kernel.
    pub fn is_pointwise(&self) -> bool {
        self.k_h == 1
            && self.k_w == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.dilation_h == 1
            && self.dilation_w == 1
    }

    /// True when the patch matrix of one image is the image itself (1x1 filter, stride 1,
    /// no padding, output as large as the input), so lowering to a GEMM needs no im2col.
    pub fn patches_are_input(&self) -> bool {
        self.k_h == 1
            && self.k_w == 1
            && self.stride_h == 1
            && self.stride_w == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.out_h == self.in_h
            && self.out_w == self.in_w
    }

    /// Number of (output position, tap) pairs of one image and channel whose input
    /// position lies inside the image: the product of the valid pairs along each axis.
    pub fn valid_taps_per_image(&self) -> usize {
        valid_pairs(
            self.out_h,
            self.k_h,
            self.stride_h,
            self.dilation_h,
            self.pad_top,
            self.in_h,
        ) * valid_pairs(
            self.out_w,
            self.k_w,
            self.stride_w,
            self.dilation_w,
            self.pad_left,
            self.in_w,
        )
    }

    /// Calls `f(output pixel, tap, input pixel)` for every filter tap of one image that
    /// falls inside the image (taps in the padding are skipped; `tap = ky * k_w + kx`,
    /// pixels numbered row-major).
    pub fn for_each_tap(&self, mut f: impl FnMut(usize, usize, usize)) {
        for oy in 0..self.out_h {
            for ox in 0..self.out_w {
                for ky in 0..self.k_h {
                    let Some(iy) = inside(oy, ky, self.stride_h, self.dilation_h, self.pad_top)
                        .filter(|&iy| iy < self.in_h)
                    else {
                        continue;
                    };
                    for kx in 0..self.k_w {
                        let Some(ix) =
                            inside(ox, kx, self.stride_w, self.dilation_w, self.pad_left)
                                .filter(|&ix| ix < self.in_w)
                        else {
                            continue;
                        };
                        f(
                            oy * self.out_w + ox,
                            ky * self.k_w + kx,
                            iy * self.in_w + ix,
                        );
                    }
                }
            }
        }
    }
}

/// Input position of output `o`, tap `t` along one axis, or `None` in the leading padding.
fn inside(o: usize, t: usize, stride: usize, dilation: usize, pad: usize) -> Option<usize> {
    (o * stride + t * dilation).checked_sub(pad)
}

/// (output position, tap) pairs along one axis whose input position is inside `0..len`.
pub fn valid_pairs(
    out: usize,
    k: usize,
    stride: usize,
    dil: usize,
    pad: usize,
    len: usize,
) -> usize {
    (0..out)
        .map(|o| {
            (0..k)
                .filter(|&t| inside(o, t, stride, dil, pad).is_some_and(|p| p < len))
                .count()
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(padding: Padding, s: usize, d: usize) -> Window {
        Window {
            padding,
            stride_h: s,
            stride_w: s,
            dilation_h: d,
            dilation_w: d,
        }
    }

    #[test]
    fn same_and_valid_follow_tflite() {
        // kws layer 0: 49x10 input, 10x4 filter, stride 2, SAME -> 25x5, pads 4 and 1.
        let g = ConvGeometry::conv([1, 49, 10, 1], [64, 10, 4, 1], window(Padding::Same, 2, 1))
            .unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (25, 5, 4, 1));
        assert_eq!(g.output_shape(), [1, 25, 5, 64]);
        assert_eq!(g.macs(), 25 * 5 * 64 * 10 * 4);
        // VALID, dilation 2: effective 5-tap filter on 7 -> 3 outputs, no padding.
        assert_eq!(out_size_and_padding(Padding::Valid, 7, 3, 1, 2), Ok((3, 0)));
        // A filter larger than the input under VALID: no output.
        assert_eq!(out_size_and_padding(Padding::Valid, 2, 3, 1, 1), Ok((0, 0)));
        // SAME, stride 1, 3 taps: one pad before.
        assert_eq!(out_size_and_padding(Padding::Same, 4, 3, 1, 1), Ok((4, 1)));
    }

    #[test]
    fn bad_windows_are_errors_not_panics() {
        let e = ConvGeometry::conv([1, 4, 4, 2], [4, 3, 3, 2], window(Padding::Same, 0, 1));
        assert_eq!(e.unwrap_err().to_string(), "stride_h must be at least 1");
        let e = ConvGeometry::conv([1, 4, 4, 2], [4, 0, 3, 2], window(Padding::Same, 1, 1));
        assert_eq!(
            e.unwrap_err().to_string(),
            "filter height must be at least 1"
        );
        let e = ConvGeometry::conv([1, 4, 4, 3], [4, 3, 3, 2], window(Padding::Same, 1, 1));
        assert!(matches!(e, Err(GeometryError::Channels(_))));
        let e = ConvGeometry::depthwise([1, 4, 4, 3], [1, 3, 3, 4], window(Padding::Same, 1, 1));
        assert!(matches!(e, Err(GeometryError::Channels(_))));
        let e = out_size_and_padding(Padding::Same, 4, usize::MAX, 1, 2);
        assert!(matches!(e, Err(GeometryError::Overflow { .. })));
    }

    #[test]
    fn depthwise_reduces_over_one_channel() {
        let g = ConvGeometry::depthwise([2, 5, 5, 3], [1, 3, 3, 6], window(Padding::Valid, 1, 1))
            .unwrap();
        assert_eq!((g.out_c, g.depth_multiplier, g.group_in_c), (6, 2, 1));
        assert_eq!(g.patch_len(), 9);
        assert_eq!(g.macs(), 2 * 3 * 3 * 6 * 9);
        assert_eq!(g.weight_bytes(), 6 * 9);
    }

    #[test]
    fn tap_walk_agrees_with_valid_tap_count() {
        for (padding, s, d) in [
            (Padding::Same, 1, 1),
            (Padding::Same, 2, 1),
            (Padding::Valid, 1, 2),
            (Padding::Same, 3, 2),
        ] {
            let g = ConvGeometry::conv([1, 7, 6, 1], [1, 3, 3, 1], window(padding, s, d)).unwrap();
            let mut n = 0;
            g.for_each_tap(|pixel, tap, src| {
                assert!(pixel < g.pixels_per_image() && tap < g.taps() && src < 7 * 6);
                n += 1;
            });
            assert_eq!(n, g.valid_taps_per_image(), "{padding:?} {s} {d}");
        }
    }

    #[test]
    fn patches_are_input_only_for_unpadded_1x1_stride_1() {
        let w = window(Padding::Valid, 1, 1);
        let g = ConvGeometry::conv([1, 4, 4, 8], [8, 1, 1, 8], w).unwrap();
        assert!(g.patches_are_input() && g.is_pointwise());
        let g =
            ConvGeometry::conv([1, 4, 4, 8], [8, 1, 1, 8], window(Padding::Valid, 2, 1)).unwrap();
        assert!(!g.patches_are_input() && g.is_pointwise());
    }
}
