//! [`OpShape`]: what the CPU cost model needs to know about a layer. Independent of any
//! graph IR so that other tools (and the unit tests) can build shapes by hand;
//! [`super::graph::op_shape`] builds them from the `models` IR.

use serde::Serialize;

/// A 2-D convolution or depthwise convolution, NHWC, with explicit padding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Conv2dShape {
    pub batch: u64,
    pub in_h: u64,
    pub in_w: u64,
    pub in_c: u64,
    pub out_h: u64,
    pub out_w: u64,
    pub out_c: u64,
    pub k_h: u64,
    pub k_w: u64,
    pub stride_h: u64,
    pub stride_w: u64,
    pub dil_h: u64,
    pub dil_w: u64,
    /// Rows of padding above the input.
    pub pad_top: u64,
    /// Columns of padding left of the input.
    pub pad_left: u64,
    /// Output channels per input channel (depthwise only; 1 for a convolution).
    pub depth_multiplier: u64,
}

impl Conv2dShape {
    /// Output pixels (batch x out_h x out_w).
    pub fn out_pixels(&self) -> u64 {
        self.batch * self.out_h * self.out_w
    }

    /// Output elements.
    pub fn outputs(&self) -> u64 {
        self.out_pixels() * self.out_c
    }

    /// Filter taps (k_h x k_w).
    pub fn taps(&self) -> u64 {
        self.k_h * self.k_w
    }

    /// True when the layer is a 1x1 convolution without padding or dilation.
    pub fn is_pointwise(&self) -> bool {
        self.k_h == 1
            && self.k_w == 1
            && self.pad_top == 0
            && self.pad_left == 0
            && self.dil_h == 1
            && self.dil_w == 1
    }

    /// Number of (output position, tap) pairs whose input position lies inside the image,
    /// per image: the product of the valid pairs along each axis.
    pub fn valid_taps_per_image(&self) -> u64 {
        let axis = |out: u64, k: u64, stride: u64, dil: u64, pad: u64, len: u64| -> u64 {
            let mut n = 0;
            for o in 0..out {
                for t in 0..k {
                    let pos = (o * stride + t * dil) as i64 - pad as i64;
                    if pos >= 0 && (pos as u64) < len {
                        n += 1;
                    }
                }
            }
            n
        };
        axis(
            self.out_h,
            self.k_h,
            self.stride_h,
            self.dil_h,
            self.pad_top,
            self.in_h,
        ) * axis(
            self.out_w,
            self.k_w,
            self.stride_w,
            self.dil_w,
            self.pad_left,
            self.in_w,
        )
    }
}

/// Average or max pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PoolKind {
    Avg,
    Max,
}

/// A pooling layer, NHWC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PoolShape {
    pub kind: PoolKind,
    pub batch: u64,
    pub in_h: u64,
    pub in_w: u64,
    pub channels: u64,
    pub out_h: u64,
    pub out_w: u64,
    pub filter_h: u64,
    pub filter_w: u64,
    pub stride_h: u64,
    pub stride_w: u64,
    pub pad_top: u64,
    pub pad_left: u64,
}

impl PoolShape {
    /// (output element, window element) pairs inside the image: the reference kernels only
    /// visit those.
    pub fn valid_taps(&self) -> u64 {
        let conv = Conv2dShape {
            batch: self.batch,
            in_h: self.in_h,
            in_w: self.in_w,
            in_c: self.channels,
            out_h: self.out_h,
            out_w: self.out_w,
            out_c: self.channels,
            k_h: self.filter_h,
            k_w: self.filter_w,
            stride_h: self.stride_h,
            stride_w: self.stride_w,
            dil_h: 1,
            dil_w: 1,
            pad_top: self.pad_top,
            pad_left: self.pad_left,
            depth_multiplier: 1,
        };
        conv.valid_taps_per_image() * self.batch * self.channels
    }

    /// Output elements.
    pub fn outputs(&self) -> u64 {
        self.batch * self.out_h * self.out_w * self.channels
    }
}

/// Elementwise ops costed per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElementwiseKind {
    Add,
    Mul,
    Quantize,
    Logistic,
    Tanh,
}

/// What the cost model needs to know about one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum OpShape {
    /// CONV_2D.
    Conv(Conv2dShape),
    /// DEPTHWISE_CONV_2D (`in_c` input channels, `out_c = in_c x depth_multiplier`).
    Depthwise(Conv2dShape),
    /// FULLY_CONNECTED: `batch` rows of `in_features` times an `out_features x in_features`
    /// weight matrix.
    FullyConnected {
        batch: u64,
        in_features: u64,
        out_features: u64,
    },
    /// AVERAGE_POOL_2D / MAX_POOL_2D.
    Pool(PoolShape),
    /// ADD, MUL, QUANTIZE, LOGISTIC, TANH over `elems` output elements.
    Elementwise { kind: ElementwiseKind, elems: u64 },
    /// SOFTMAX over `rows` vectors of `depth` elements.
    Softmax { rows: u64, depth: u64 },
    /// RESHAPE (and SQUEEZE, EXPAND_DIMS): `bytes` copied when buffers differ.
    Reshape { bytes: u64 },
    /// PAD: `out_bytes` written, `in_bytes` of them copied from the input.
    Pad { in_bytes: u64, out_bytes: u64 },
    /// CONCATENATION: `bytes` copied.
    Concat { bytes: u64 },
    /// MEAN: `in_elems` summed into `out_elems`.
    Mean { in_elems: u64, out_elems: u64 },
}

impl OpShape {
    /// Multiply-accumulates of the layer as defined (padding taps included): the usual
    /// "MACs" of a network table.
    pub fn macs(&self) -> u64 {
        match self {
            OpShape::Conv(c) => c.outputs() * c.taps() * c.in_c,
            OpShape::Depthwise(c) => c.outputs() * c.taps(),
            OpShape::FullyConnected {
                batch,
                in_features,
                out_features,
            } => batch * in_features * out_features,
            _ => 0,
        }
    }

    /// Bytes of int8 weights (0 for ops without weights).
    pub fn weight_bytes(&self) -> u64 {
        match self {
            OpShape::Conv(c) => c.out_c * c.taps() * c.in_c,
            OpShape::Depthwise(c) => c.out_c * c.taps(),
            OpShape::FullyConnected {
                in_features,
                out_features,
                ..
            } => in_features * out_features,
            _ => 0,
        }
    }
}
