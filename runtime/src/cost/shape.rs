//! [`OpShape`]: what the CPU cost model needs to know about a layer. Independent of any
//! graph IR so that other tools (and the unit tests) can build shapes by hand;
//! [`super::graph::op_shape`] builds them from the `models` IR.

use serde::Serialize;

use crate::geometry::{valid_pairs, ConvGeometry};

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
        let axis = |out: u64, k: u64, stride: u64, pad: u64, len: u64| {
            valid_pairs(
                out as usize,
                k as usize,
                stride as usize,
                1,
                pad as usize,
                len as usize,
            ) as u64
        };
        axis(
            self.out_h,
            self.filter_h,
            self.stride_h,
            self.pad_top,
            self.in_h,
        ) * axis(
            self.out_w,
            self.filter_w,
            self.stride_w,
            self.pad_left,
            self.in_w,
        ) * self.batch
            * self.channels
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
    Conv(ConvGeometry),
    /// DEPTHWISE_CONV_2D (`in_c` input channels, `out_c = in_c x depth_multiplier`).
    Depthwise(ConvGeometry),
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
            OpShape::Conv(c) | OpShape::Depthwise(c) => c.macs(),
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
            OpShape::Conv(c) | OpShape::Depthwise(c) => c.weight_bytes(),
            OpShape::FullyConnected {
                in_features,
                out_features,
                ..
            } => in_features * out_features,
            _ => 0,
        }
    }
}
