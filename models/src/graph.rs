//! The graph IR: tensors (shape, dtype, quantization, optional constant data) and ops with
//! typed options. Shapes are NHWC for 4-D activations, OHWI for conv filters and
//! `[1, H, W, C*M]` for depthwise filters, as in TFLite.

use std::fmt;

/// Element type of a tensor (the TFLite `TensorType` values that can appear in a file).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    F32,
    F16,
    I32,
    U8,
    I64,
    Str,
    Bool,
    I16,
    Complex64,
    I8,
    F64,
    /// 4-bit signed integer (TFLite `INT4`, code 17), packed two per byte, low nibble
    /// first (TFLite-Micro's `UnpackDenseInt4IntoInt8`); accepted as the filter of
    /// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED.
    I4,
    /// Any other `TensorType` code.
    Other(i8),
}

impl DType {
    /// Maps a TFLite `TensorType` code.
    pub fn from_tflite(code: i8) -> DType {
        match code {
            0 => DType::F32,
            1 => DType::F16,
            2 => DType::I32,
            3 => DType::U8,
            4 => DType::I64,
            5 => DType::Str,
            6 => DType::Bool,
            7 => DType::I16,
            8 => DType::Complex64,
            9 => DType::I8,
            10 => DType::F64,
            17 => DType::I4,
            c => DType::Other(c),
        }
    }

    /// The TFLite `TensorType` code (`None` for [`DType::Other`] codes that are negative).
    pub fn to_tflite(self) -> Option<i8> {
        Some(match self {
            DType::F32 => 0,
            DType::F16 => 1,
            DType::I32 => 2,
            DType::U8 => 3,
            DType::I64 => 4,
            DType::Str => 5,
            DType::Bool => 6,
            DType::I16 => 7,
            DType::Complex64 => 8,
            DType::I8 => 9,
            DType::F64 => 10,
            DType::I4 => 17,
            DType::Other(c) if c >= 0 => c,
            DType::Other(_) => return None,
        })
    }

    /// Bytes that `elements` values occupy in a buffer: the element size times the count,
    /// half the count rounded up for packed [`DType::I4`], `None` for variable-size or
    /// unknown types.
    pub fn storage_bytes(self, elements: usize) -> Option<usize> {
        match self {
            DType::I4 => Some(elements.div_ceil(2)),
            d => d.size().map(|s| s * elements),
        }
    }

    /// Bytes per element, `None` for variable-size, sub-byte ([`DType::I4`]) or unknown
    /// types.
    pub fn size(self) -> Option<usize> {
        match self {
            DType::I8 | DType::U8 | DType::Bool => Some(1),
            DType::I16 | DType::F16 => Some(2),
            DType::F32 | DType::I32 => Some(4),
            DType::I64 | DType::F64 | DType::Complex64 => Some(8),
            DType::Str | DType::I4 | DType::Other(_) => None,
        }
    }

    pub fn name(self) -> String {
        match self {
            DType::F32 => "float32".into(),
            DType::F16 => "float16".into(),
            DType::I32 => "int32".into(),
            DType::U8 => "uint8".into(),
            DType::I64 => "int64".into(),
            DType::Str => "string".into(),
            DType::Bool => "bool".into(),
            DType::I16 => "int16".into(),
            DType::Complex64 => "complex64".into(),
            DType::I8 => "int8".into(),
            DType::F64 => "float64".into(),
            DType::I4 => "int4".into(),
            DType::Other(c) => format!("tensor type {c}"),
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// Affine quantization: `real = scale * (q - zero_point)`, per tensor (one entry) or per
/// channel along `quantized_dimension`.
#[derive(Debug, Clone, PartialEq)]
pub struct Quantization {
    pub scales: Vec<f32>,
    pub zero_points: Vec<i64>,
    pub quantized_dimension: usize,
}

impl Quantization {
    pub fn per_tensor(scale: f32, zero_point: i64) -> Self {
        Quantization {
            scales: vec![scale],
            zero_points: vec![zero_point],
            quantized_dimension: 0,
        }
    }

    pub fn is_per_channel(&self) -> bool {
        self.scales.len() > 1
    }

    /// The first scale (the per-tensor scale).
    pub fn scale(&self) -> f32 {
        self.scales.first().copied().unwrap_or(0.0)
    }

    /// The first zero point (the per-tensor zero point).
    pub fn zero_point(&self) -> i64 {
        self.zero_points.first().copied().unwrap_or(0)
    }
}

/// One tensor of the graph.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub quant: Option<Quantization>,
    /// Constant data (little-endian raw bytes), `None` for activations.
    pub data: Option<Vec<u8>>,
}

impl Tensor {
    /// Number of elements (the product of the shape; 1 for a scalar).
    pub fn elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Size in bytes (0 for types without a fixed size).
    pub fn bytes(&self) -> usize {
        self.elements() * self.dtype.size().unwrap_or(0)
    }

    pub fn is_const(&self) -> bool {
        self.data.is_some()
    }

    /// Per-tensor scale and zero point (the first entries), if quantized.
    pub fn scale_zp(&self) -> Option<(f32, i32)> {
        self.quant
            .as_ref()
            .map(|q| (q.scale(), q.zero_point() as i32))
    }

    /// Constant data decoded as little-endian i32 values.
    pub fn data_i32(&self) -> Option<Vec<i32>> {
        let d = self.data.as_ref()?;
        Some(
            d.chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect(),
        )
    }
}

/// Fused activation function of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    None,
    Relu,
    ReluN1To1,
    Relu6,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::None => "NONE",
            Activation::Relu => "RELU",
            Activation::ReluN1To1 => "RELU_N1_TO_1",
            Activation::Relu6 => "RELU6",
        }
    }
}

/// Spatial padding mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

impl Padding {
    pub fn name(self) -> &'static str {
        match self {
            Padding::Same => "SAME",
            Padding::Valid => "VALID",
        }
    }
}

/// Options of CONV_2D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvOptions {
    pub padding: Padding,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub activation: Activation,
}

/// Options of DEPTHWISE_CONV_2D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DepthwiseOptions {
    pub padding: Padding,
    pub stride_h: usize,
    pub stride_w: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    /// Output channels per input channel (0 in some files: inferred from the shapes).
    pub depth_multiplier: usize,
    pub activation: Activation,
}

/// Options of AVERAGE_POOL_2D and MAX_POOL_2D.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    pub padding: Padding,
    pub stride_h: usize,
    pub stride_w: usize,
    pub filter_h: usize,
    pub filter_w: usize,
    pub activation: Activation,
}

/// Options of STRIDED_SLICE (the bit masks of TFLite's `StridedSliceOptions`; bit `d`
/// refers to dimension `d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StridedSliceOptions {
    pub begin_mask: i32,
    pub end_mask: i32,
    /// Read from the file but ignored, as TFLite-Micro ignores it.
    pub ellipsis_mask: i32,
    /// Read from the file but ignored, as TFLite-Micro ignores it.
    pub new_axis_mask: i32,
    pub shrink_axis_mask: i32,
    /// Read from the file but ignored, as TFLite-Micro ignores it.
    pub offset: bool,
}

/// Options of RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResizeOptions {
    pub align_corners: bool,
    pub half_pixel_centers: bool,
}

/// Options of TRANSPOSE_CONV (dilation is always 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransposeConvOptions {
    pub padding: Padding,
    pub stride_h: usize,
    pub stride_w: usize,
    pub activation: Activation,
}

/// An operator with its typed options.
#[derive(Debug, Clone, PartialEq)]
pub enum OpKind {
    Conv2d(ConvOptions),
    DepthwiseConv2d(DepthwiseOptions),
    FullyConnected {
        activation: Activation,
        keep_num_dims: bool,
    },
    Add {
        activation: Activation,
    },
    Mul {
        activation: Activation,
    },
    AveragePool2d(PoolOptions),
    MaxPool2d(PoolOptions),
    Reshape,
    Softmax {
        beta: f32,
    },
    Pad,
    Concatenation {
        axis: i32,
        activation: Activation,
    },
    Mean {
        keep_dims: bool,
    },
    Sum {
        keep_dims: bool,
    },
    Quantize,
    Dequantize,
    Logistic,
    Tanh,
    // Spatial and shape ops (issue 20).
    /// PADV2: PAD with an optional constant value (input 2).
    PadV2,
    StridedSlice(StridedSliceOptions),
    Transpose,
    ResizeNearestNeighbor(ResizeOptions),
    ResizeBilinear(ResizeOptions),
    /// TRANSPOSE_CONV: inputs output_shape, filter (OHWI), input, optional bias.
    TransposeConv(TransposeConvOptions),
    // Elementwise and activation ops of issue 20 (helper ops-ew).
    Sub {
        activation: Activation,
    },
    Relu,
    Relu6,
    LeakyRelu {
        alpha: f32,
    },
    HardSwish,
    /// SQUEEZE: the dimensions to remove (empty: every dimension of size 1).
    Squeeze {
        squeeze_dims: Vec<i32>,
    },
    /// EXPAND_DIMS (the axis is input 1, a constant int32 tensor).
    ExpandDims,
}

impl OpKind {
    /// The TFLite builtin operator name.
    pub fn name(&self) -> &'static str {
        match self {
            OpKind::Conv2d(_) => "CONV_2D",
            OpKind::DepthwiseConv2d(_) => "DEPTHWISE_CONV_2D",
            OpKind::FullyConnected { .. } => "FULLY_CONNECTED",
            OpKind::Add { .. } => "ADD",
            OpKind::Mul { .. } => "MUL",
            OpKind::AveragePool2d(_) => "AVERAGE_POOL_2D",
            OpKind::MaxPool2d(_) => "MAX_POOL_2D",
            OpKind::Reshape => "RESHAPE",
            OpKind::Softmax { .. } => "SOFTMAX",
            OpKind::Pad => "PAD",
            OpKind::Concatenation { .. } => "CONCATENATION",
            OpKind::Mean { .. } => "MEAN",
            OpKind::Sum { .. } => "SUM",
            OpKind::Quantize => "QUANTIZE",
            OpKind::Dequantize => "DEQUANTIZE",
            OpKind::Logistic => "LOGISTIC",
            OpKind::Tanh => "TANH",
            OpKind::PadV2 => "PADV2",
            OpKind::StridedSlice(_) => "STRIDED_SLICE",
            OpKind::Transpose => "TRANSPOSE",
            OpKind::ResizeNearestNeighbor(_) => "RESIZE_NEAREST_NEIGHBOR",
            OpKind::ResizeBilinear(_) => "RESIZE_BILINEAR",
            OpKind::TransposeConv(_) => "TRANSPOSE_CONV",
            OpKind::Sub { .. } => "SUB",
            OpKind::Relu => "RELU",
            OpKind::Relu6 => "RELU6",
            OpKind::LeakyRelu { .. } => "LEAKY_RELU",
            OpKind::HardSwish => "HARD_SWISH",
            OpKind::Squeeze { .. } => "SQUEEZE",
            OpKind::ExpandDims => "EXPAND_DIMS",
        }
    }

    /// The fused activation, if the op has one.
    pub fn activation(&self) -> Option<Activation> {
        match self {
            OpKind::Conv2d(o) => Some(o.activation),
            OpKind::DepthwiseConv2d(o) => Some(o.activation),
            OpKind::AveragePool2d(o) | OpKind::MaxPool2d(o) => Some(o.activation),
            OpKind::TransposeConv(o) => Some(o.activation),
            OpKind::FullyConnected { activation, .. }
            | OpKind::Add { activation }
            | OpKind::Mul { activation }
            | OpKind::Sub { activation }
            | OpKind::Concatenation { activation, .. } => Some(*activation),
            _ => None,
        }
    }

    /// A short human-readable summary of the options.
    pub fn options_summary(&self) -> String {
        match self {
            OpKind::Conv2d(o) => format!(
                "{} s{}x{} d{}x{} {}",
                o.padding.name(),
                o.stride_h,
                o.stride_w,
                o.dilation_h,
                o.dilation_w,
                o.activation.name()
            ),
            OpKind::DepthwiseConv2d(o) => format!(
                "{} s{}x{} d{}x{} m{} {}",
                o.padding.name(),
                o.stride_h,
                o.stride_w,
                o.dilation_h,
                o.dilation_w,
                o.depth_multiplier,
                o.activation.name()
            ),
            OpKind::AveragePool2d(o) | OpKind::MaxPool2d(o) => format!(
                "{} f{}x{} s{}x{} {}",
                o.padding.name(),
                o.filter_h,
                o.filter_w,
                o.stride_h,
                o.stride_w,
                o.activation.name()
            ),
            OpKind::Softmax { beta } => format!("beta {beta}"),
            OpKind::Concatenation { axis, activation } => {
                format!("axis {axis} {}", activation.name())
            }
            OpKind::Mean { keep_dims } | OpKind::Sum { keep_dims } => {
                format!("keep_dims {keep_dims}")
            }
            OpKind::StridedSlice(o) => format!(
                "begin_mask {} end_mask {} shrink_axis_mask {}",
                o.begin_mask, o.end_mask, o.shrink_axis_mask
            ),
            OpKind::ResizeNearestNeighbor(o) | OpKind::ResizeBilinear(o) => format!(
                "align_corners {} half_pixel_centers {}",
                o.align_corners, o.half_pixel_centers
            ),
            OpKind::TransposeConv(o) => format!(
                "{} s{}x{} {}",
                o.padding.name(),
                o.stride_h,
                o.stride_w,
                o.activation.name()
            ),
            OpKind::LeakyRelu { alpha } => format!("alpha {alpha}"),
            OpKind::Squeeze { squeeze_dims } if !squeeze_dims.is_empty() => {
                format!("squeeze_dims {squeeze_dims:?}")
            }
            k => k
                .activation()
                .map(|a| a.name().to_string())
                .unwrap_or_default(),
        }
    }
}

/// One node of the graph. `inputs` entries are `None` for omitted optional inputs (index -1
/// in TFLite, e.g. a missing bias).
#[derive(Debug, Clone, PartialEq)]
pub struct Op {
    pub kind: OpKind,
    pub inputs: Vec<Option<usize>>,
    pub outputs: Vec<usize>,
}

impl Op {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// Tensor index of input `i`, if present.
    pub fn input(&self, i: usize) -> Option<usize> {
        self.inputs.get(i).copied().flatten()
    }

    /// Tensor index of output 0, if any.
    pub fn output(&self) -> Option<usize> {
        self.outputs.first().copied()
    }

    /// Multiply-accumulates of one execution (CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED
    /// and TRANSPOSE_CONV; 0 for every other op): output elements times the reduction
    /// length (TRANSPOSE_CONV: every input element times the filter taps it scatters to,
    /// `in_elements x out_c x kh x kw`, as TFLite-Micro's kernel executes them, taps
    /// outside the output included).
    /// Out-of-range tensor indices count as 0 MACs.
    pub fn macs(&self, tensors: &[Tensor]) -> u64 {
        let shape = |i: Option<usize>| i.and_then(|i| tensors.get(i)).map(|t| t.shape.as_slice());
        let out = match shape(self.output()) {
            Some(s) => s.iter().product::<usize>() as u64,
            None => return 0,
        };
        let filter = shape(self.input(1)).unwrap_or(&[]);
        match &self.kind {
            // filter OHWI: every output sums over H*W*I.
            OpKind::Conv2d(_) => out * filter.iter().skip(1).product::<usize>() as u64,
            // filter 1HW(C*M): every output sums over H*W.
            OpKind::DepthwiseConv2d(_) if filter.len() == 4 => out * (filter[1] * filter[2]) as u64,
            // filter [units, depth].
            OpKind::FullyConnected { .. } => out * filter.last().copied().unwrap_or(0) as u64,
            // filter OHWI, input (2) NHWC: every input element meets O*H*W weights.
            OpKind::TransposeConv(_) if filter.len() == 4 => {
                let input = shape(self.input(2)).unwrap_or(&[]);
                input.iter().product::<usize>() as u64
                    * filter[..3].iter().product::<usize>() as u64
            }
            _ => 0,
        }
    }
}

/// A whole network: one subgraph.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    /// Model name (file stem or built-in name).
    pub name: String,
    pub description: String,
    pub tensors: Vec<Tensor>,
    pub ops: Vec<Op>,
    pub inputs: Vec<usize>,
    pub outputs: Vec<usize>,
}

impl Graph {
    /// Total MACs (conv + depthwise + fully connected + transpose conv).
    pub fn macs(&self) -> u64 {
        self.ops.iter().map(|o| o.macs(&self.tensors)).sum()
    }

    /// The first input tensor.
    pub fn input(&self) -> Option<&Tensor> {
        self.inputs.first().and_then(|&i| self.tensors.get(i))
    }

    /// The first output tensor.
    pub fn output(&self) -> Option<&Tensor> {
        self.outputs.first().and_then(|&i| self.tensors.get(i))
    }

    /// Bytes of all constant tensors (weights, biases, shape constants).
    pub fn const_bytes(&self) -> usize {
        self.tensors
            .iter()
            .filter_map(|t| t.data.as_ref())
            .map(|d| d.len())
            .sum()
    }
}
