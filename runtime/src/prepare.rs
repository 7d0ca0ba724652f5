//! Per-op preparation (TFLite-Micro's `Prepare`): checks types and shapes, and computes
//! every kernel parameter once (requantization multipliers, padding, activation range).

use crate::error::RuntimeError;
use crate::geometry::{out_size_and_padding, ConvGeometry, Window};
use crate::kernels::activations::SigmoidParams;
use crate::kernels::elementwise::{AddParams, MulParams};
use crate::kernels::fully_connected::FcGeometry;
use crate::kernels::int16::{Accum, Quant16};
use crate::kernels::pool::PoolParams;
use crate::kernels::reduce::{ReduceParams, Reducer};
use crate::kernels::relu::{HardSwishParams, LeakyReluParams, ReluParams};
use crate::kernels::shape::ConcatRequant;
use crate::kernels::softmax::SoftmaxParams;
use crate::kernels::spatial::{ResizeParams, SliceParams, TransposeConvGeometry};
use crate::kernels::sub::SubParams;
use crate::kernels::QuantParams;
use models::{Activation, DType, Graph, Op, OpKind, Tensor};

/// The prepared form of one op: everything its kernel needs besides the tensor data.
#[derive(Debug, Clone, PartialEq)]
pub enum PreparedOp {
    Conv {
        geom: ConvGeometry,
        quant: QuantParams,
    },
    Depthwise {
        geom: ConvGeometry,
        quant: QuantParams,
    },
    FullyConnected {
        geom: FcGeometry,
        quant: QuantParams,
    },
    Add {
        params: AddParams,
        a: Vec<usize>,
        b: Vec<usize>,
        out: Vec<usize>,
    },
    Mul {
        params: MulParams,
        a: Vec<usize>,
        b: Vec<usize>,
        out: Vec<usize>,
    },
    AveragePool(PoolParams),
    MaxPool(PoolParams),
    /// RESHAPE: a byte copy.
    Copy,
    Softmax {
        params: SoftmaxParams,
        depth: usize,
    },
    Pad {
        in_shape: Vec<usize>,
        before: Vec<usize>,
        after: Vec<usize>,
        value: i8,
    },
    Concat {
        axis: usize,
        shapes: Vec<Vec<usize>>,
    },
    /// MEAN or SUM.
    Reduce(ReduceParams),
    QuantizeF32 {
        scale: f32,
        zero_point: i32,
    },
    Requantize {
        input: (f32, i32),
        output: (f32, i32),
    },
    Dequantize {
        scale: f32,
        zero_point: i32,
    },
    Logistic(SigmoidParams),
    Tanh(SigmoidParams),
    // Spatial and shape ops (issue 20).
    /// PADV2 whose constant value (input 2) is not a constant tensor: read at run time.
    /// (PADV2 with a constant or absent value prepares to [`PreparedOp::Pad`].)
    PadV2 {
        in_shape: Vec<usize>,
        before: Vec<usize>,
        after: Vec<usize>,
    },
    StridedSlice(SliceParams),
    Transpose {
        in_shape: Vec<usize>,
        perm: Vec<usize>,
        /// Bytes per element.
        elem: usize,
    },
    ResizeNearest(ResizeParams),
    ResizeBilinear(ResizeParams),
    TransposeConv {
        geom: TransposeConvGeometry,
        quant: QuantParams,
    },
    /// 16x8 CONV_2D: int16 activations, int8 weights (CPU only; see [`crate::kernels::int16`]).
    Conv16 {
        geom: ConvGeometry,
        quant: Quant16,
    },
    /// 16x8 DEPTHWISE_CONV_2D.
    Depthwise16 {
        geom: ConvGeometry,
        quant: Quant16,
    },
    /// 16x8 FULLY_CONNECTED.
    FullyConnected16 {
        geom: FcGeometry,
        quant: Quant16,
    },
    /// QUANTIZE float32 -> int16.
    QuantizeF32ToI16 {
        scale: f32,
        zero_point: i32,
    },
    /// QUANTIZE int8 -> int16, int16 -> int8 or int16 -> int16 (int8 -> int8 is
    /// [`PreparedOp::Requantize`]).
    RequantizeInt {
        multiplier: i32,
        shift: i32,
        input_zero_point: i32,
        output_zero_point: i32,
        from: DType,
        to: DType,
    },
    /// ADD of int16 tensors (broadcasting).
    AddI16 {
        params: AddParams,
        a: Vec<usize>,
        b: Vec<usize>,
        out: Vec<usize>,
    },
    // Elementwise and activation ops of issue 20 (helper ops-ew). SQUEEZE and EXPAND_DIMS
    // prepare to `Copy`.
    Sub {
        params: SubParams,
        a: Vec<usize>,
        b: Vec<usize>,
        out: Vec<usize>,
    },
    /// DEQUANTIZE int16 -> float32.
    DequantizeI16 {
        scale: f32,
        zero_point: i32,
    },
    Relu(ReluParams),
    /// RELU6: the input bytes clamped to `[lower, upper]`.
    Relu6 {
        lower: i8,
        upper: i8,
    },
    LeakyRelu(LeakyReluParams),
    HardSwish(HardSwishParams),
    /// CONCATENATION with at least one input quantized unlike the output (`None`: copied).
    ConcatRequantized {
        axis: usize,
        shapes: Vec<Vec<usize>>,
        requant: Vec<Option<ConcatRequant>>,
    },
}

impl PreparedOp {
    /// Conv/depthwise geometry and requantization parameters, if this is a conv op.
    pub fn conv(&self) -> Option<(&ConvGeometry, &QuantParams)> {
        match self {
            PreparedOp::Conv { geom, quant } | PreparedOp::Depthwise { geom, quant } => {
                Some((geom, quant))
            }
            _ => None,
        }
    }

    /// Fully connected geometry and requantization parameters.
    pub fn fully_connected(&self) -> Option<(&FcGeometry, &QuantParams)> {
        match self {
            PreparedOp::FullyConnected { geom, quant } => Some((geom, quant)),
            _ => None,
        }
    }

    /// The requantization parameters of a conv, depthwise or fully connected op.
    pub fn quant(&self) -> Option<&QuantParams> {
        match self {
            PreparedOp::Conv { quant, .. }
            | PreparedOp::Depthwise { quant, .. }
            | PreparedOp::FullyConnected { quant, .. } => Some(quant),
            _ => None,
        }
    }
}

/// `CalculateActivationRangeQuantized` for int8.
pub fn activation_range(act: Activation, scale: f32, zero_point: i32) -> (i32, i32) {
    let q = |f: f32| -> i32 {
        let t = (f / scale).round();
        zero_point.saturating_add(if t.is_finite() { t as i32 } else { 0 })
    };
    match act {
        Activation::None => (-128, 127),
        Activation::Relu => ((-128).max(q(0.0)), 127),
        Activation::Relu6 => ((-128).max(q(0.0)), 127.min(q(6.0))),
        Activation::ReluN1To1 => ((-128).max(q(-1.0)), 127.min(q(1.0))),
    }
}

struct Ctx<'a> {
    g: &'a Graph,
    op: &'a Op,
    index: usize,
}

impl<'a> Ctx<'a> {
    fn err(&self, reason: impl Into<String>) -> RuntimeError {
        RuntimeError::BadOp {
            model: self.g.name.clone(),
            index: self.index,
            op: self.op.name().to_string(),
            reason: reason.into(),
        }
    }

    fn input(&self, i: usize) -> Result<(usize, &'a Tensor), RuntimeError> {
        let t = self
            .op
            .input(i)
            .ok_or_else(|| self.err(format!("input {i} is missing")))?;
        let tensor = self
            .g
            .tensors
            .get(t)
            .ok_or_else(|| self.err(format!("input {i} refers to tensor {t}, out of range")))?;
        Ok((t, tensor))
    }

    fn opt_input(&self, i: usize) -> Result<Option<&'a Tensor>, RuntimeError> {
        match self.op.input(i) {
            None => Ok(None),
            Some(_) => Ok(Some(self.input(i)?.1)),
        }
    }

    fn output(&self) -> Result<&'a Tensor, RuntimeError> {
        let t = self.op.output().ok_or_else(|| self.err("has no output"))?;
        self.g
            .tensors
            .get(t)
            .ok_or_else(|| self.err(format!("output refers to tensor {t}, out of range")))
    }

    fn dtype(&self, t: &Tensor, what: &str, want: DType) -> Result<(), RuntimeError> {
        if t.dtype != want {
            return Err(self.err(format!(
                "{what} {:?} is {}, only {want} is supported",
                t.name, t.dtype
            )));
        }
        Ok(())
    }

    fn rank(&self, t: &Tensor, what: &str, want: usize) -> Result<[usize; 4], RuntimeError> {
        if t.shape.len() != want {
            return Err(self.err(format!(
                "{what} {:?} has shape {:?}, expected rank {want}",
                t.name, t.shape
            )));
        }
        let mut s = [1usize; 4];
        for (d, &x) in s.iter_mut().zip(&t.shape) {
            *d = x;
        }
        Ok(s)
    }

    /// Per-tensor scale and zero point of an int8 tensor.
    fn sz(&self, t: &Tensor, what: &str) -> Result<(f32, i32), RuntimeError> {
        let (s, z) = t.scale_zp().ok_or_else(|| {
            self.err(format!(
                "{what} {:?} has no quantization parameters",
                t.name
            ))
        })?;
        if !(s > 0.0 && s.is_finite()) {
            return Err(self.err(format!("{what} {:?} has invalid scale {s}", t.name)));
        }
        if !(-128..=127).contains(&z) {
            return Err(self.err(format!(
                "{what} {:?} has zero point {z}, outside int8",
                t.name
            )));
        }
        Ok((s, z))
    }

    fn constant(&self, t: &'a Tensor, what: &str) -> Result<&'a [u8], RuntimeError> {
        t.data
            .as_deref()
            .ok_or_else(|| self.err(format!("{what} {:?} must be a constant tensor", t.name)))
    }

    /// Bias (optional, int32, `n` values) as a vector.
    fn bias(&self, n: usize) -> Result<Vec<i32>, RuntimeError> {
        match self.opt_input(2)? {
            None => Ok(vec![0; n]),
            Some(b) => {
                self.dtype(b, "bias", DType::I32)?;
                self.constant(b, "bias")?;
                let v = b.data_i32().unwrap_or_default();
                if v.len() != n {
                    return Err(self.err(format!(
                        "bias {:?} has {} values, expected {n}",
                        b.name,
                        v.len()
                    )));
                }
                Ok(v)
            }
        }
    }

    /// Per-channel multipliers `in_scale * filter_scale[c] / out_scale` (double).
    fn multipliers(
        &self,
        in_s: f32,
        filter: &Tensor,
        out_s: f32,
        n: usize,
    ) -> Result<(Vec<i32>, Vec<i32>), RuntimeError> {
        let q = filter.quant.as_ref().ok_or_else(|| {
            self.err(format!(
                "filter {:?} has no quantization parameters",
                filter.name
            ))
        })?;
        if q.scales.len() != 1 && q.scales.len() != n {
            return Err(self.err(format!(
                "filter {:?} has {} scales for {n} output channels",
                filter.name,
                q.scales.len()
            )));
        }
        let mut ms = Vec::with_capacity(n);
        let mut ss = Vec::with_capacity(n);
        for c in 0..n {
            let fs = if q.scales.len() == 1 {
                q.scales[0]
            } else {
                q.scales[c]
            };
            let real = in_s as f64 * fs as f64 / out_s as f64;
            let (m, s) = arch::quant::quantize_multiplier(real);
            ms.push(m);
            ss.push(s);
        }
        Ok((ms, ss))
    }

    fn shape_eq(&self, t: &Tensor, want: &[usize]) -> Result<(), RuntimeError> {
        if t.shape != want {
            return Err(self.err(format!(
                "output {:?} has shape {:?}, the op computes {want:?}",
                t.name, t.shape
            )));
        }
        Ok(())
    }
}

/// Filter size, stride and dilation must be at least 1 (hand-built graphs are not checked
/// by the importer).
fn check_window(
    c: &Ctx,
    fh: usize,
    fw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
) -> Result<(), RuntimeError> {
    let ok = |v: usize| (1..=1 << 16).contains(&v);
    if !(ok(fh) && ok(fw) && ok(sh) && ok(sw) && ok(dh) && ok(dw)) {
        return Err(c.err(format!(
            "filter {fh}x{fw}, stride {sh}x{sw}, dilation {dh}x{dw}: each must be in 1..=65536"
        )));
    }
    Ok(())
}

fn check_filter_zero_points(c: &Ctx, w: &Tensor) -> Result<(), RuntimeError> {
    if let Some(q) = &w.quant {
        if q.zero_points.iter().any(|&z| z != 0) {
            return Err(c.err(format!(
                "filter {:?} has non-zero zero points (int8 weights must be symmetric)",
                w.name
            )));
        }
    }
    Ok(())
}

/// Prepares op `index` of `g`.
pub fn prepare(g: &Graph, index: usize) -> Result<PreparedOp, RuntimeError> {
    let op = &g.ops[index];
    let c = Ctx { g, op, index };
    let y = c.output()?;
    if let Some(p) = prepare_int16(&c, y)? {
        return Ok(p);
    }
    Ok(match &op.kind {
        OpKind::Conv2d(o) => {
            let (_, x) = c.input(0)?;
            let (_, w) = c.input(1)?;
            for (t, what) in [(x, "input"), (w, "filter"), (y, "output")] {
                c.dtype(t, what, DType::I8)?;
            }
            let xs = c.rank(x, "input", 4)?;
            let ws = c.rank(w, "filter", 4)?;
            c.rank(y, "output", 4)?;
            c.constant(w, "filter")?;
            check_filter_zero_points(&c, w)?;
            check_window(
                &c,
                ws[1],
                ws[2],
                o.stride_h,
                o.stride_w,
                o.dilation_h,
                o.dilation_w,
            )?;
            if ws[3] == 0 || xs[3] == 0 || xs[3] % ws[3] != 0 || ws[0] % (xs[3] / ws[3]) != 0 {
                return Err(c.err(format!(
                    "filter depth {} does not divide input depth {} into groups of the {} filters",
                    ws[3], xs[3], ws[0]
                )));
            }
            let geom =
                ConvGeometry::conv(xs, ws, Window::from(o)).map_err(|e| c.err(e.to_string()))?;
            c.shape_eq(y, &geom.output_shape())?;
            let (in_s, in_z) = c.sz(x, "input")?;
            let (out_s, out_z) = c.sz(y, "output")?;
            let (multipliers, shifts) = c.multipliers(in_s, w, out_s, ws[0])?;
            let (act_min, act_max) = activation_range(o.activation, out_s, out_z);
            let quant = QuantParams {
                input_zero_point: in_z,
                filter_zero_point: 0,
                output_zero_point: out_z,
                act_min,
                act_max,
                multipliers,
                shifts,
                bias: c.bias(ws[0])?,
            };
            PreparedOp::Conv { geom, quant }
        }
        OpKind::DepthwiseConv2d(o) => {
            let (_, x) = c.input(0)?;
            let (_, w) = c.input(1)?;
            for (t, what) in [(x, "input"), (w, "filter"), (y, "output")] {
                c.dtype(t, what, DType::I8)?;
            }
            let xs = c.rank(x, "input", 4)?;
            let ws = c.rank(w, "filter", 4)?;
            c.rank(y, "output", 4)?;
            c.constant(w, "filter")?;
            check_filter_zero_points(&c, w)?;
            let out_d = ws[3];
            check_window(
                &c,
                ws[1],
                ws[2],
                o.stride_h,
                o.stride_w,
                o.dilation_h,
                o.dilation_w,
            )?;
            if ws[0] != 1 || xs[3] == 0 || out_d % xs[3] != 0 {
                return Err(c.err(format!(
                    "filter shape {:?} does not fit input depth {}",
                    w.shape, xs[3]
                )));
            }
            let mult = out_d / xs[3];
            if o.depth_multiplier != 0 && o.depth_multiplier != mult {
                return Err(c.err(format!(
                    "depth_multiplier {} but the filter has {out_d} channels for {} input channels",
                    o.depth_multiplier, xs[3]
                )));
            }
            let geom = ConvGeometry::depthwise(xs, ws, Window::from(o))
                .map_err(|e| c.err(e.to_string()))?;
            c.shape_eq(y, &geom.output_shape())?;
            let (in_s, in_z) = c.sz(x, "input")?;
            let (out_s, out_z) = c.sz(y, "output")?;
            let (multipliers, shifts) = c.multipliers(in_s, w, out_s, out_d)?;
            let (act_min, act_max) = activation_range(o.activation, out_s, out_z);
            let quant = QuantParams {
                input_zero_point: in_z,
                filter_zero_point: 0,
                output_zero_point: out_z,
                act_min,
                act_max,
                multipliers,
                shifts,
                bias: c.bias(out_d)?,
            };
            PreparedOp::Depthwise { geom, quant }
        }
        OpKind::FullyConnected { activation, .. } => {
            let (_, x) = c.input(0)?;
            let (_, w) = c.input(1)?;
            for (t, what) in [(x, "input"), (w, "filter"), (y, "output")] {
                c.dtype(t, what, DType::I8)?;
            }
            c.rank(w, "filter", 2)?;
            c.constant(w, "filter")?;
            let (units, depth) = (w.shape[0], w.shape[1]);
            if depth == 0 || x.elements() % depth != 0 {
                return Err(c.err(format!(
                    "input shape {:?} is not a multiple of the filter depth {depth}",
                    x.shape
                )));
            }
            let batches = x.elements() / depth;
            if y.elements() != batches * units || y.shape.last() != Some(&units) {
                return Err(c.err(format!(
                    "output shape {:?} does not hold {batches} x {units} values",
                    y.shape
                )));
            }
            let (in_s, in_z) = c.sz(x, "input")?;
            let (out_s, out_z) = c.sz(y, "output")?;
            let (multipliers, shifts) = c.multipliers(in_s, w, out_s, units)?;
            let fz = w.quant.as_ref().map_or(0, |q| q.zero_point()) as i32;
            if w.quant
                .as_ref()
                .is_some_and(|q| q.zero_points.iter().any(|&z| z != fz as i64))
                || !(-128..=127).contains(&fz)
            {
                return Err(c.err(format!(
                    "filter {:?} has per-channel zero points, not supported",
                    w.name
                )));
            }
            let (act_min, act_max) = activation_range(*activation, out_s, out_z);
            let quant = QuantParams {
                input_zero_point: in_z,
                filter_zero_point: fz,
                output_zero_point: out_z,
                act_min,
                act_max,
                multipliers,
                shifts,
                bias: c.bias(units)?,
            };
            PreparedOp::FullyConnected {
                geom: FcGeometry {
                    batches,
                    depth,
                    units,
                },
                quant,
            }
        }
        OpKind::Add { activation } | OpKind::Mul { activation } => {
            let (a, b, sa, sb, so, act) = binary_i8(&c, y, *activation)?;
            let (a, b, out) = (a.shape.clone(), b.shape.clone(), y.shape.clone());
            if matches!(op.kind, OpKind::Add { .. }) {
                PreparedOp::Add {
                    params: AddParams::new(sa, sb, so, act),
                    a,
                    b,
                    out,
                }
            } else {
                PreparedOp::Mul {
                    params: MulParams::new(sa, sb, so, act),
                    a,
                    b,
                    out,
                }
            }
        }
        OpKind::AveragePool2d(o) | OpKind::MaxPool2d(o) => {
            let (_, x) = c.input(0)?;
            c.dtype(x, "input", DType::I8)?;
            c.dtype(y, "output", DType::I8)?;
            let xs = c.rank(x, "input", 4)?;
            check_window(&c, o.filter_h, o.filter_w, o.stride_h, o.stride_w, 1, 1)?;
            let pool_axis = |input, filter, stride| {
                out_size_and_padding(o.padding, input, filter, stride, 1)
                    .map_err(|e| c.err(e.to_string()))
            };
            let (oh, pt) = pool_axis(xs[1], o.filter_h, o.stride_h)?;
            let (ow, pl) = pool_axis(xs[2], o.filter_w, o.stride_w)?;
            c.shape_eq(y, &[xs[0], oh, ow, xs[3]])?;
            let (out_s, out_z) = c.sz(y, "output")?;
            check_same_quantization(&c, x, y)?;
            let (act_min, act_max) = activation_range(o.activation, out_s, out_z);
            let p = PoolParams {
                input: xs,
                output: [xs[0], oh, ow, xs[3]],
                filter_h: o.filter_h,
                filter_w: o.filter_w,
                stride_h: o.stride_h,
                stride_w: o.stride_w,
                pad_top: pt,
                pad_left: pl,
                act_min,
                act_max,
            };
            if matches!(op.kind, OpKind::AveragePool2d(_)) {
                PreparedOp::AveragePool(p)
            } else {
                PreparedOp::MaxPool(p)
            }
        }
        OpKind::Reshape => {
            let (_, x) = c.input(0)?;
            if x.dtype != y.dtype || x.elements() != y.elements() {
                return Err(c.err(format!(
                    "cannot reshape {:?} {} into {:?} {}",
                    x.shape, x.dtype, y.shape, y.dtype
                )));
            }
            PreparedOp::Copy
        }
        OpKind::Softmax { beta } => {
            let (_, x) = c.input(0)?;
            c.dtype(x, "input", DType::I8)?;
            c.dtype(y, "output", DType::I8)?;
            if x.shape != y.shape || x.shape.is_empty() {
                return Err(c.err(format!(
                    "input shape {:?} and output shape {:?} differ",
                    x.shape, y.shape
                )));
            }
            let (in_s, _) = c.sz(x, "input")?;
            let (out_s, out_z) = c.sz(y, "output")?;
            if out_z != -128 || (out_s * 256.0 - 1.0).abs() > 1e-3 {
                return Err(c.err(format!("int8 output must have scale 1/256 and zero point -128, has {out_s} and {out_z}")));
            }
            PreparedOp::Softmax {
                params: SoftmaxParams::new(*beta, in_s),
                depth: *x.shape.last().unwrap_or(&1),
            }
        }
        OpKind::Pad => {
            let (_, x) = c.input(0)?;
            let (_, p) = c.input(1)?;
            c.dtype(x, "input", DType::I8)?;
            check_pad_rank(&c, x)?;
            c.dtype(y, "output", DType::I8)?;
            c.dtype(p, "paddings", DType::I32)?;
            c.constant(p, "paddings")?;
            let r = x.shape.len();
            let v = p.data_i32().unwrap_or_default();
            if p.shape != [r, 2] || v.iter().any(|&x| !(0..=1 << 16).contains(&x)) {
                return Err(c.err(format!(
                    "paddings {:?} = {v:?} must be [{r}, 2] non-negative values",
                    p.shape
                )));
            }
            let before: Vec<usize> = (0..r).map(|d| v[2 * d] as usize).collect();
            let after: Vec<usize> = (0..r).map(|d| v[2 * d + 1] as usize).collect();
            let want: Vec<usize> = (0..r).map(|d| x.shape[d] + before[d] + after[d]).collect();
            c.shape_eq(y, &want)?;
            let (_, out_z) = c.sz(y, "output")?;
            PreparedOp::Pad {
                in_shape: x.shape.clone(),
                before,
                after,
                value: out_z as i8,
            }
        }
        OpKind::Concatenation { axis, activation } => {
            let r = y.shape.len() as i32;
            let ax = if *axis < 0 { axis + r } else { *axis };
            if r == 0 {
                return Err(c.err("CONCATENATION of rank-0 tensors (nothing to concatenate along)"));
            }
            if !(0..r).contains(&ax) {
                return Err(c.err(format!("axis {axis} out of range for rank {r}")));
            }
            let ax = ax as usize;
            c.dtype(y, "output", DType::I8)?;
            let oq = c.sz(y, "output")?;
            if *activation != Activation::None
                && activation_range(*activation, oq.0, oq.1) != (-128, 127)
            {
                return Err(c.err("fused activation on CONCATENATION is not supported"));
            }
            let mut total = 0;
            let mut shapes = Vec::new();
            let mut requant = Vec::new();
            for i in 0..op.inputs.len() {
                let (_, x) = c.input(i)?;
                c.dtype(x, "input", DType::I8)?;
                if x.shape.len() != y.shape.len()
                    || (0..y.shape.len()).any(|d| d != ax && x.shape[d] != y.shape[d])
                {
                    return Err(c.err(format!(
                        "input {i} shape {:?} does not match output {:?} outside axis {ax}",
                        x.shape, y.shape
                    )));
                }
                // An input quantized unlike the output is requantized (TFLite-Micro
                // refuses such a CONCATENATION; its converters insert a QUANTIZE int8 ->
                // int8 before it, which this computes exactly).
                let iq = c.sz(x, "input")?;
                requant.push((iq != oq).then(|| ConcatRequant::new(iq, oq)));
                total += x.shape[ax];
                shapes.push(x.shape.clone());
            }
            if total != y.shape[ax] {
                return Err(c.err(format!(
                    "inputs sum to {total} along axis {ax}, output has {}",
                    y.shape[ax]
                )));
            }
            if requant.iter().any(Option::is_some) {
                PreparedOp::ConcatRequantized {
                    axis: ax,
                    shapes,
                    requant,
                }
            } else {
                PreparedOp::Concat { axis: ax, shapes }
            }
        }
        OpKind::Mean { keep_dims } | OpKind::Sum { keep_dims } => {
            let (_, x) = c.input(0)?;
            let (_, a) = c.input(1)?;
            c.dtype(x, "input", DType::I8)?;
            c.dtype(y, "output", DType::I8)?;
            c.dtype(a, "axis", DType::I32)?;
            c.constant(a, "axis")?;
            let r = x.shape.len() as i32;
            let mut reduced = vec![false; x.shape.len()];
            for v in a.data_i32().unwrap_or_default() {
                let d = if v < 0 { v + r } else { v };
                if !(0..r).contains(&d) {
                    return Err(c.err(format!("axis {v} out of range for rank {r}")));
                }
                reduced[d as usize] = true;
            }
            let want: Vec<usize> = x
                .shape
                .iter()
                .zip(&reduced)
                .filter_map(|(&s, &red)| match (red, keep_dims) {
                    (true, true) => Some(1),
                    (true, false) => None,
                    (false, _) => Some(s),
                })
                .collect();
            if y.elements() != want.iter().product::<usize>() {
                return Err(c.err(format!("output shape {:?}, expected {want:?}", y.shape)));
            }
            let reducer = if matches!(op.kind, OpKind::Sum { .. }) {
                Reducer::Sum
            } else {
                Reducer::Mean
            };
            PreparedOp::Reduce(ReduceParams::new(
                reducer,
                x.shape.clone(),
                reduced,
                c.sz(x, "input")?,
                c.sz(y, "output")?,
            ))
        }
        OpKind::Quantize => {
            let (_, x) = c.input(0)?;
            c.dtype(y, "output", DType::I8)?;
            if x.shape != y.shape {
                return Err(c.err(format!(
                    "input shape {:?} and output shape {:?} differ",
                    x.shape, y.shape
                )));
            }
            let so = c.sz(y, "output")?;
            match x.dtype {
                DType::F32 => PreparedOp::QuantizeF32 {
                    scale: so.0,
                    zero_point: so.1,
                },
                DType::I8 => PreparedOp::Requantize {
                    input: c.sz(x, "input")?,
                    output: so,
                },
                d => return Err(c.err(format!("quantizing from {d} is not supported"))),
            }
        }
        OpKind::Dequantize => {
            let (_, x) = c.input(0)?;
            c.dtype(x, "input", DType::I8)?;
            c.dtype(y, "output", DType::F32)?;
            if x.shape != y.shape {
                return Err(c.err(format!(
                    "input shape {:?} and output shape {:?} differ",
                    x.shape, y.shape
                )));
            }
            let (s, z) = c.sz(x, "input")?;
            PreparedOp::Dequantize {
                scale: s,
                zero_point: z,
            }
        }
        OpKind::Logistic | OpKind::Tanh => {
            let (_, x) = c.input(0)?;
            c.dtype(x, "input", DType::I8)?;
            c.dtype(y, "output", DType::I8)?;
            if x.shape != y.shape {
                return Err(c.err(format!(
                    "input shape {:?} and output shape {:?} differ",
                    x.shape, y.shape
                )));
            }
            let (in_s, in_z) = c.sz(x, "input")?;
            let (out_s, out_z) = c.sz(y, "output")?;
            let p = SigmoidParams::new(in_s, in_z);
            if matches!(op.kind, OpKind::Logistic) {
                if out_z != -128 || (out_s * 256.0 - 1.0).abs() > 1e-3 {
                    return Err(c.err(format!("int8 output must have scale 1/256 and zero point -128, has {out_s} and {out_z}")));
                }
                PreparedOp::Logistic(p)
            } else {
                if out_z != 0 || (out_s * 128.0 - 1.0).abs() > 1e-3 {
                    return Err(c.err(format!("int8 output must have scale 1/128 and zero point 0, has {out_s} and {out_z}")));
                }
                PreparedOp::Tanh(p)
            }
        }
        OpKind::PadV2 => prepare_padv2(&c, y)?,
        OpKind::StridedSlice(o) => prepare_strided_slice(&c, o, y)?,
        OpKind::Transpose => prepare_transpose(&c, y)?,
        OpKind::ResizeNearestNeighbor(o) => prepare_resize(&c, o, y, false)?,
        OpKind::ResizeBilinear(o) => prepare_resize(&c, o, y, true)?,
        OpKind::TransposeConv(o) => prepare_transpose_conv(&c, o, y)?,
        OpKind::Sub { .. }
        | OpKind::Relu
        | OpKind::Relu6
        | OpKind::LeakyRelu { .. }
        | OpKind::HardSwish
        | OpKind::Squeeze { .. }
        | OpKind::ExpandDims => prepare_ew(&c, y)?,
    })
}

/// Preparation of the elementwise and activation ops of issue 20 (SUB, RELU, RELU6,
/// LEAKY_RELU, HARD_SWISH, SQUEEZE, EXPAND_DIMS), with TFLite-Micro's checks.
fn prepare_ew(c: &Ctx, y: &Tensor) -> Result<PreparedOp, RuntimeError> {
    // An int8 unary op whose output has the input's shape.
    type ScaleZp = (f32, i32);
    let unary_i8 = || -> Result<(ScaleZp, ScaleZp), RuntimeError> {
        let (_, x) = c.input(0)?;
        c.dtype(x, "input", DType::I8)?;
        c.dtype(y, "output", DType::I8)?;
        if x.shape != y.shape {
            return Err(c.err(format!(
                "input shape {:?} and output shape {:?} differ",
                x.shape, y.shape
            )));
        }
        Ok((c.sz(x, "input")?, c.sz(y, "output")?))
    };
    Ok(match &c.op.kind {
        OpKind::Sub { activation } => {
            let (a, b, sa, sb, so, act) = binary_i8(c, y, *activation)?;
            PreparedOp::Sub {
                params: SubParams::new(sa, sb, so, act).map_err(|e| c.err(e))?,
                a: a.shape.clone(),
                b: b.shape.clone(),
                out: y.shape.clone(),
            }
        }
        OpKind::Relu => {
            let (i, o) = unary_i8()?;
            PreparedOp::Relu(ReluParams::new(i, o))
        }
        OpKind::Relu6 => {
            // TFLite-Micro clamps to the input's quantized 0 and 6 and copies the bytes:
            // the output's scale and zero point are not applied.
            let (i, _) = unary_i8()?;
            let (lower, upper) = crate::kernels::relu::relu6_bounds(i);
            PreparedOp::Relu6 { lower, upper }
        }
        OpKind::LeakyRelu { alpha } => {
            let (i, o) = unary_i8()?;
            PreparedOp::LeakyRelu(LeakyReluParams::new(i, o, *alpha))
        }
        OpKind::HardSwish => {
            let (i, o) = unary_i8()?;
            PreparedOp::HardSwish(HardSwishParams::new(i, o).map_err(|e| c.err(e))?)
        }
        OpKind::Squeeze { squeeze_dims } => {
            let (_, x) = c.input(0)?;
            let r = x.shape.len();
            if r > 8 {
                return Err(c.err(format!("input rank {r} exceeds 8")));
            }
            let mut squeeze = vec![false; r];
            if squeeze_dims.is_empty() {
                for (d, &s) in x.shape.iter().enumerate() {
                    squeeze[d] = s == 1;
                }
            } else {
                for &v in squeeze_dims {
                    let d = if v < 0 { v + r as i32 } else { v };
                    if !(0..r as i32).contains(&d) || x.shape[d as usize] != 1 {
                        return Err(c.err(format!(
                            "squeeze_dims entry {v} is not a dimension of size 1 of input shape {:?}",
                            x.shape
                        )));
                    }
                    squeeze[d as usize] = true;
                }
            }
            let want: Vec<usize> = x
                .shape
                .iter()
                .zip(&squeeze)
                .filter(|(_, &s)| !s)
                .map(|(&d, _)| d)
                .collect();
            if x.dtype != y.dtype || x.dtype.size().is_none() || y.shape != want {
                return Err(c.err(format!(
                    "squeezing {:?} {} gives {want:?} {}, the output is {:?} {}",
                    x.shape, x.dtype, x.dtype, y.shape, y.dtype
                )));
            }
            PreparedOp::Copy
        }
        OpKind::ExpandDims => {
            let (_, x) = c.input(0)?;
            let (_, a) = c.input(1)?;
            if !matches!(x.dtype, DType::I8 | DType::I16 | DType::F32) || y.dtype != x.dtype {
                return Err(c.err(format!(
                    "input {} and output {}: only int8, int16 and float32 are supported, the same on both",
                    x.dtype, y.dtype
                )));
            }
            c.dtype(a, "axis", DType::I32)?;
            c.constant(a, "axis")?;
            let v = a.data_i32().unwrap_or_default();
            if a.shape.len() > 1 || v.is_empty() {
                return Err(c.err(format!(
                    "axis {:?} must hold one value (shape {:?})",
                    a.name, a.shape
                )));
            }
            let r = x.shape.len() as i32;
            let axis = if v[0] < 0 { r + 1 + v[0] } else { v[0] };
            if !(0..=r).contains(&axis) {
                return Err(c.err(format!("axis {} out of range for rank {r}", v[0])));
            }
            let mut want = x.shape.clone();
            want.insert(axis as usize, 1);
            c.shape_eq(y, &want)?;
            PreparedOp::Copy
        }
        k => return Err(c.err(format!("{} is not an elementwise op", k.name()))),
    })
}

/// What [`binary_i8`] returns: both inputs, the scales and zero points of the inputs and
/// the output, the activation range.
type BinaryI8<'g> = (
    &'g Tensor,
    &'g Tensor,
    (f32, i32),
    (f32, i32),
    (f32, i32),
    (i32, i32),
);

/// The checks ADD, MUL and SUB share (int8): two int8 inputs whose shapes broadcast to
/// the int8 output's, their quantization and the fused activation's range.
fn binary_i8<'g>(
    c: &Ctx<'g>,
    y: &Tensor,
    activation: Activation,
) -> Result<BinaryI8<'g>, RuntimeError> {
    let (_, a) = c.input(0)?;
    let (_, b) = c.input(1)?;
    for (t, what) in [(a, "input 0"), (b, "input 1"), (y, "output")] {
        c.dtype(t, what, DType::I8)?;
    }
    let bs = broadcast_shape(&a.shape, &b.shape).ok_or_else(|| {
        c.err(format!(
            "shapes {:?} and {:?} do not broadcast",
            a.shape, b.shape
        ))
    })?;
    c.shape_eq(y, &bs)?;
    let (sa, sb, so) = (c.sz(a, "input 0")?, c.sz(b, "input 1")?, c.sz(y, "output")?);
    Ok((a, b, sa, sb, so, activation_range(activation, so.0, so.1)))
}

/// NumPy broadcast of two shapes.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let r = a.len().max(b.len());
    let get = |s: &[usize], d: usize| {
        if d + s.len() < r {
            1
        } else {
            s[d + s.len() - r]
        }
    };
    (0..r)
        .map(|d| {
            let (x, y) = (get(a, d), get(b, d));
            if x == y || y == 1 {
                Some(x)
            } else if x == 1 {
                Some(y)
            } else {
                None
            }
        })
        .collect()
}

// ---- Spatial and shape ops (issue 20): PADV2, STRIDED_SLICE, TRANSPOSE, RESIZE_*,
// TRANSPOSE_CONV. Each mirrors the checks of TFLite-Micro's `Prepare` for the op.

/// PAD and PADV2 take at most 5 dimensions (`PadKernelMaxDimensionCount`).
fn check_pad_rank(c: &Ctx, x: &Tensor) -> Result<(), RuntimeError> {
    if x.shape.len() > 5 {
        return Err(c.err(format!(
            "input {:?} has rank {}, TFLite-Micro pads at most 5 dimensions",
            x.name,
            x.shape.len()
        )));
    }
    Ok(())
}

/// TFLite-Micro's pooling requires the input quantized like the output (scales within
/// 1e-6, equal zero points).
fn check_same_quantization(c: &Ctx, x: &Tensor, y: &Tensor) -> Result<(), RuntimeError> {
    let (xs, xz) = c.sz(x, "input")?;
    let (ys, yz) = c.sz(y, "output")?;
    if (xs as f64 - ys as f64).abs() > 1e-6 || xz != yz {
        return Err(c.err(format!(
            "input {:?} (scale {xs}, zero point {xz}) and output {:?} (scale {ys}, zero point {yz}) must have the same quantization",
            x.name, y.name
        )));
    }
    Ok(())
}

/// Bytes per element of the types TFLite-Micro's data-movement kernels accept for `what`
/// (`types`), and the output of the same type.
fn movable(c: &Ctx, x: &Tensor, y: &Tensor, types: &[DType]) -> Result<usize, RuntimeError> {
    if !types.contains(&x.dtype) {
        let names: Vec<String> = types.iter().map(|t| t.name()).collect();
        return Err(c.err(format!(
            "input {:?} is {}, supported: {}",
            x.name,
            x.dtype,
            names.join(", ")
        )));
    }
    if y.dtype != x.dtype {
        return Err(c.err(format!(
            "output {:?} is {}, the input is {}",
            y.name, y.dtype, x.dtype
        )));
    }
    Ok(x.dtype.size().unwrap_or(1))
}

/// Constant int32 vector input `i` (`what`) with exactly `n` values.
fn const_i32s(c: &Ctx, i: usize, what: &str, n: usize) -> Result<Vec<i32>, RuntimeError> {
    let (_, t) = c.input(i)?;
    c.dtype(t, what, DType::I32)?;
    c.constant(t, what)?;
    let v = t.data_i32().unwrap_or_default();
    if t.shape.len() != 1 || v.len() != n {
        return Err(c.err(format!(
            "{what} {:?} has shape {:?}, expected [{n}]",
            t.name, t.shape
        )));
    }
    Ok(v)
}

/// PADV2: PAD whose value is input 2 (one int8 element quantized like the output), or the
/// output zero point when input 2 is absent.
fn prepare_padv2(c: &Ctx, y: &Tensor) -> Result<PreparedOp, RuntimeError> {
    let (_, x) = c.input(0)?;
    let (_, p) = c.input(1)?;
    c.dtype(x, "input", DType::I8)?;
    c.dtype(y, "output", DType::I8)?;
    check_pad_rank(c, x)?;
    c.dtype(p, "paddings", DType::I32)?;
    c.constant(p, "paddings")?;
    let r = x.shape.len();
    let v = p.data_i32().unwrap_or_default();
    if v.len() != 2 * y.shape.len() || y.shape.len() != r {
        return Err(c.err(format!(
            "paddings {:?} hold {} values, expected [{r}, 2]",
            p.shape,
            v.len()
        )));
    }
    if v.iter().any(|&x| !(0..=1 << 16).contains(&x)) {
        return Err(c.err(format!(
            "paddings {v:?} must be non-negative (at most 65536)"
        )));
    }
    let before: Vec<usize> = (0..r).map(|d| v[2 * d] as usize).collect();
    let after: Vec<usize> = (0..r).map(|d| v[2 * d + 1] as usize).collect();
    let want: Vec<usize> = (0..r).map(|d| x.shape[d] + before[d] + after[d]).collect();
    c.shape_eq(y, &want)?;
    let (out_s, out_z) = c.sz(y, "output")?;
    let in_shape = x.shape.clone();
    let Some(cv) = c.opt_input(2)? else {
        return Ok(PreparedOp::Pad {
            in_shape,
            before,
            after,
            value: out_z as i8,
        });
    };
    c.dtype(cv, "constant value", DType::I8)?;
    if cv.elements() != 1 {
        return Err(c.err(format!(
            "constant value {:?} has shape {:?}, expected one element",
            cv.name, cv.shape
        )));
    }
    let (cs, cz) = cv.scale_zp().ok_or_else(|| {
        c.err(format!(
            "constant value {:?} has no quantization parameters",
            cv.name
        ))
    })?;
    if cz != out_z || cs as f64 != out_s as f64 {
        return Err(c.err(format!(
            "constant value {:?} (scale {cs}, zero point {cz}) must be quantized like the output (scale {out_s}, zero point {out_z})",
            cv.name
        )));
    }
    Ok(match cv.data.as_deref() {
        Some(d) => PreparedOp::Pad {
            in_shape,
            before,
            after,
            value: d[0] as i8,
        },
        None => PreparedOp::PadV2 {
            in_shape,
            before,
            after,
        },
    })
}

/// STRIDED_SLICE (TFLite-Micro: rank at most 4, constant int32 begin/end/strides, no zero
/// stride; ellipsis_mask, new_axis_mask and offset are ignored, as TFLM ignores them).
fn prepare_strided_slice(
    c: &Ctx,
    o: &models::StridedSliceOptions,
    y: &Tensor,
) -> Result<PreparedOp, RuntimeError> {
    let (_, x) = c.input(0)?;
    let elem = movable(
        c,
        x,
        y,
        &[DType::F32, DType::I8, DType::I16, DType::I32, DType::Bool],
    )?;
    let r = x.shape.len();
    if r > 4 {
        return Err(c.err(format!(
            "input {:?} has rank {r}, TFLite-Micro slices at most 4 dimensions",
            x.name
        )));
    }
    let begin = const_i32s(c, 1, "begin", r)?;
    let end = const_i32s(c, 2, "end", r)?;
    let strides = const_i32s(c, 3, "strides", r)?;
    let bit = |mask: i32, d: usize| mask & (1 << d) != 0;
    let mut shape = Vec::new();
    let (mut starts, mut stops) = (Vec::new(), Vec::new());
    for d in 0..r {
        let size = x.shape[d] as i64;
        let stride = strides[d] as i64;
        if stride == 0 {
            return Err(c.err(format!("stride of dimension {d} is 0")));
        }
        let clamp = |v: i64| {
            if stride > 0 {
                v.clamp(0, size)
            } else {
                v.clamp(-1, size - 1)
            }
        };
        let shrink = bit(o.shrink_axis_mask, d);
        // The output shape as Prepare computes it (`StartForAxis` / `StopForAxis`).
        let (b, e) = if size == 0 {
            (0, 0)
        } else {
            let mut b = begin[d] as i64;
            if bit(o.begin_mask, d) {
                b = if stride > 0 {
                    i32::MIN as i64
                } else {
                    i32::MAX as i64
                };
            }
            if b < 0 {
                b += size;
            }
            let b = clamp(b);
            let e = if shrink {
                b + 1
            } else {
                let mut e = end[d] as i64;
                if bit(o.end_mask, d) {
                    e = if stride > 0 {
                        i32::MAX as i64
                    } else {
                        i32::MIN as i64
                    };
                }
                if e < 0 {
                    e += size;
                }
                clamp(e)
            };
            (b, e)
        };
        let e = if shrink { b + 1 } else { e };
        if !shrink {
            let n = ((e - b) as f32 / stride as f32).ceil() as i64;
            shape.push(n.max(0) as usize);
        }
        // The kernel's own bounds (`StridedSliceStartForAxis` / `...EndForAxis`).
        let mut s = begin[d] as i64;
        if s < 0 {
            s += size;
        }
        let mut s = clamp(s);
        if bit(o.begin_mask, d) {
            s = if stride > 0 { 0 } else { size - 1 };
        }
        let t = if shrink {
            if s >= size {
                s
            } else {
                s + 1
            }
        } else {
            let mut t = end[d] as i64;
            if t < 0 {
                t += size;
            }
            let mut t = clamp(t);
            if bit(o.end_mask, d) {
                t = if stride > 0 { size } else { -1 };
            }
            t
        };
        starts.push(s);
        stops.push(t);
    }
    c.shape_eq(y, &shape)?;
    let p = SliceParams {
        in_shape: x.shape.clone(),
        starts,
        stops,
        strides: strides.iter().map(|&s| s as i64).collect(),
        elem,
    };
    if p.count() != y.elements() {
        return Err(c.err(format!(
            "TFLite-Micro's kernel would write {} of the {} output elements (begin {begin:?}, end {end:?}, strides {strides:?}, shrink_axis_mask {})",
            p.count(),
            y.elements(),
            o.shrink_axis_mask
        )));
    }
    Ok(PreparedOp::StridedSlice(p))
}

/// TRANSPOSE (TFLite-Micro: rank 1 to 5, float32/int8/int16, constant int32 perm).
fn prepare_transpose(c: &Ctx, y: &Tensor) -> Result<PreparedOp, RuntimeError> {
    let (_, x) = c.input(0)?;
    let elem = movable(c, x, y, &[DType::F32, DType::I8, DType::I16])?;
    let r = x.shape.len();
    if !(1..=5).contains(&r) {
        return Err(c.err(format!(
            "input {:?} has rank {r}, TFLite-Micro transposes 1 to 5 dimensions",
            x.name
        )));
    }
    let v = const_i32s(c, 1, "perm", r)?;
    let mut seen = vec![false; r];
    for &p in &v {
        if !(0..r as i32).contains(&p) || std::mem::replace(&mut seen[p as usize], true) {
            return Err(c.err(format!("perm {v:?} is not a permutation of 0..{r}")));
        }
    }
    let perm: Vec<usize> = v.iter().map(|&p| p as usize).collect();
    let want: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    c.shape_eq(y, &want)?;
    Ok(PreparedOp::Transpose {
        in_shape: x.shape.clone(),
        perm,
        elem,
    })
}

/// RESIZE_NEAREST_NEIGHBOR (float32/int8/int16) and RESIZE_BILINEAR (int8): 4-D input,
/// constant int32 size `[2]`.
fn prepare_resize(
    c: &Ctx,
    o: &models::ResizeOptions,
    y: &Tensor,
    bilinear: bool,
) -> Result<PreparedOp, RuntimeError> {
    let (_, x) = c.input(0)?;
    let elem = if bilinear {
        c.dtype(x, "input", DType::I8)?;
        c.dtype(y, "output", DType::I8)?;
        1
    } else {
        movable(c, x, y, &[DType::F32, DType::I8, DType::I16])?
    };
    let xs = c.rank(x, "input", 4)?;
    let size = const_i32s(c, 1, "size", 2)?;
    if size.iter().any(|&s| !(1..=1 << 16).contains(&s)) {
        return Err(c.err(format!("size {size:?} must be in 1..=65536")));
    }
    if bilinear && o.align_corners && o.half_pixel_centers {
        return Err(c.err(
            "align_corners and half_pixel_centers are both set (TFLite-Micro: if half_pixel_centers is true, align_corners must be false)",
        ));
    }
    if xs[1] == 0 || xs[2] == 0 {
        return Err(c.err(format!(
            "input {:?} has an empty image {:?}",
            x.name, x.shape
        )));
    }
    // The bilinear kernel's 10-bit fixed-point positions are int32, as in TFLM: keep the
    // image within 65536 so that `1024 x height` cannot overflow.
    if bilinear && (xs[1] > 1 << 16 || xs[2] > 1 << 16) {
        return Err(c.err(format!(
            "input {:?} image {}x{} exceeds 65536 in height or width",
            x.name, xs[1], xs[2]
        )));
    }
    let (oh, ow) = (size[0] as usize, size[1] as usize);
    c.shape_eq(y, &[xs[0], oh, ow, xs[3]])?;
    let p = ResizeParams {
        input: xs,
        out_h: oh,
        out_w: ow,
        align_corners: o.align_corners,
        half_pixel_centers: o.half_pixel_centers,
        elem,
    };
    Ok(if bilinear {
        PreparedOp::ResizeBilinear(p)
    } else {
        PreparedOp::ResizeNearest(p)
    })
}

/// TFLite's `ComputePaddingWithOffset` (dilation 1): the leading padding of a window
/// `filter` with `stride` that gives `out` positions over `input`.
fn tflite_padding(padding: models::Padding, input: usize, filter: usize, stride: usize) -> usize {
    let (i, f, s) = (input as i64, filter as i64, stride as i64);
    // `ComputeOutSize` (C division truncates toward zero).
    let out = match padding {
        models::Padding::Same => (i + s - 1) / s,
        models::Padding::Valid => (i + s - f) / s,
    };
    (((out - 1) * s + f - i).max(0) / 2) as usize
}

/// TRANSPOSE_CONV, int8: inputs output_shape (ignored, as TFLite-Micro ignores it: the
/// output tensor's shape rules), filter OHWI int8 constant (per-channel or per-tensor
/// scales, zero points 0), input NHWC int8, optional int32 bias; padding from the output
/// size as TFLM computes it.
fn prepare_transpose_conv(
    c: &Ctx,
    o: &models::TransposeConvOptions,
    y: &Tensor,
) -> Result<PreparedOp, RuntimeError> {
    let (_, w) = c.input(1)?;
    let (_, x) = c.input(2)?;
    for (t, what) in [(x, "input"), (w, "filter"), (y, "output")] {
        c.dtype(t, what, DType::I8)?;
    }
    let xs = c.rank(x, "input", 4)?;
    let ws = c.rank(w, "filter", 4)?;
    let ys = c.rank(y, "output", 4)?;
    c.constant(w, "filter")?;
    check_filter_zero_points(c, w)?;
    check_window(c, ws[1], ws[2], o.stride_h, o.stride_w, 1, 1)?;
    if ws[3] != xs[3] || ws[0] != ys[3] || xs[0] != ys[0] {
        return Err(c.err(format!(
            "input {:?}, filter {:?} and output {:?} do not match (filter [out_c, h, w, in_c])",
            x.shape, w.shape, y.shape
        )));
    }
    let out_c = ws[0];
    let bias = match c.opt_input(3)? {
        None => vec![0; out_c],
        Some(b) => {
            c.dtype(b, "bias", DType::I32)?;
            c.constant(b, "bias")?;
            let v = b.data_i32().unwrap_or_default();
            if v.len() != out_c {
                return Err(c.err(format!(
                    "bias {:?} has {} values, expected {out_c}",
                    b.name,
                    v.len()
                )));
            }
            v
        }
    };
    let (in_s, in_z) = c.sz(x, "input")?;
    let (out_s, out_z) = c.sz(y, "output")?;
    let (multipliers, shifts) = c.multipliers(in_s, w, out_s, out_c)?;
    let (act_min, act_max) = activation_range(o.activation, out_s, out_z);
    let geom = TransposeConvGeometry {
        input: xs,
        filter: ws,
        output: ys,
        stride_h: o.stride_h,
        stride_w: o.stride_w,
        pad_top: tflite_padding(o.padding, ys[1], ws[1], o.stride_h),
        pad_left: tflite_padding(o.padding, ys[2], ws[2], o.stride_w),
    };
    let quant = QuantParams {
        input_zero_point: in_z,
        filter_zero_point: 0,
        output_zero_point: out_z,
        act_min,
        act_max,
        multipliers,
        shifts,
        bias,
    };
    Ok(PreparedOp::TransposeConv { geom, quant })
}

/// `CalculateActivationRangeQuantized` for int16 outputs.
pub fn activation_range_i16(act: Activation, scale: f32, zero_point: i32) -> (i32, i32) {
    let q = |f: f32| -> i32 {
        let t = (f / scale).round();
        zero_point.saturating_add(if t.is_finite() { t as i32 } else { 0 })
    };
    let (lo, hi) = (i16::MIN as i32, i16::MAX as i32);
    match act {
        Activation::None => (lo, hi),
        Activation::Relu => (lo.max(q(0.0)), hi),
        Activation::Relu6 => (lo.max(q(0.0)), hi.min(q(6.0))),
        Activation::ReluN1To1 => (lo.max(q(-1.0)), hi.min(q(1.0))),
    }
}

impl Ctx<'_> {
    /// Per-tensor scale and zero point of a tensor of `dtype` (int8 or int16): the zero
    /// point within the type's range.
    fn sz_of(&self, t: &Tensor, what: &str) -> Result<(f32, i32), RuntimeError> {
        if t.dtype != DType::I16 {
            return self.sz(t, what);
        }
        let (s, z) = t.scale_zp().ok_or_else(|| {
            self.err(format!(
                "{what} {:?} has no quantization parameters",
                t.name
            ))
        })?;
        if !(s > 0.0 && s.is_finite()) {
            return Err(self.err(format!("{what} {:?} has invalid scale {s}", t.name)));
        }
        if !(i16::MIN as i32..=i16::MAX as i32).contains(&z) {
            return Err(self.err(format!(
                "{what} {:?} has zero point {z}, outside int16",
                t.name
            )));
        }
        Ok((s, z))
    }

    /// Scale of a symmetric int16 activation (zero point 0, as TFLite's 16x8 kernels
    /// require: the conv and depthwise kernels ignore zero points).
    fn sym16(&self, t: &Tensor, what: &str) -> Result<f32, RuntimeError> {
        self.dtype(t, what, DType::I16)?;
        let (s, z) = self.sz_of(t, what)?;
        if z != 0 {
            return Err(self.err(format!(
                "{what} {:?} is int16 with zero point {z}: 16x8 kernels need zero point 0",
                t.name
            )));
        }
        Ok(s)
    }

    /// Bias of a 16x8 op (`n` values, widened to i64) and the accumulator it implies:
    /// int64 (or no bias) -> int64 accumulator, int32 -> int32 (when `int32_ok`).
    fn bias16(&self, n: usize, int32_ok: bool) -> Result<(Vec<i64>, Accum), RuntimeError> {
        let Some(b) = self.opt_input(2)? else {
            return Ok((vec![0; n], Accum::I64));
        };
        let d = self.constant(b, "bias")?;
        let (v, accum): (Vec<i64>, Accum) = match b.dtype {
            DType::I64 => (
                d.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
                Accum::I64,
            ),
            DType::I32 if int32_ok => (
                b.data_i32()
                    .unwrap_or_default()
                    .into_iter()
                    .map(i64::from)
                    .collect(),
                Accum::I32,
            ),
            t => {
                return Err(self.err(format!(
                    "bias {:?} is {t}; with int16 activations only {} supported",
                    b.name,
                    if int32_ok {
                        "int64 and int32 are"
                    } else {
                        "int64 is (TFLite-Micro's 16x8 kernel reads an int64 bias)"
                    }
                )))
            }
        };
        if v.len() != n {
            return Err(self.err(format!(
                "bias {:?} has {} values, expected {n}",
                b.name,
                v.len()
            )));
        }
        Ok((v, accum))
    }

    /// The requantization of a 16x8 op with `n` output channels.
    fn quant16(
        &self,
        in_s: f32,
        w: &Tensor,
        y: &Tensor,
        n: usize,
        act: Activation,
        int32_bias_ok: bool,
    ) -> Result<Quant16, RuntimeError> {
        let out_s = self.sym16(y, "output")?;
        let (multipliers, shifts) = self.multipliers(in_s, w, out_s, n)?;
        let (bias, accum) = self.bias16(n, int32_bias_ok)?;
        if accum == Accum::I64 {
            if let Some(c) = shifts.iter().position(|&s| s > 14) {
                return Err(self.err(format!(
                    "effective scale of channel {c} (input x filter / output scale) is {:.3e}: \
                     the 16x8 int64 requantization handles scales below 2^14",
                    (multipliers[c] as f64 / 2f64.powi(31)) * 2f64.powi(shifts[c])
                )));
            }
        }
        let (act_min, act_max) = activation_range_i16(act, out_s, 0);
        Ok(Quant16 {
            accum,
            multipliers,
            shifts,
            bias,
            act_min,
            act_max,
        })
    }

    fn same_shape(&self, x: &Tensor, y: &Tensor) -> Result<(), RuntimeError> {
        if x.shape != y.shape {
            return Err(self.err(format!(
                "input shape {:?} and output shape {:?} differ",
                x.shape, y.shape
            )));
        }
        Ok(())
    }
}

/// What [`window_16x8`] returns: the filter, the input scale, the input and filter shapes.
type Window16x8<'g> = (&'g Tensor, f32, [usize; 4], [usize; 4]);

/// The checks a 16x8 CONV_2D and DEPTHWISE_CONV_2D share: an int8 constant 4-D filter with
/// zero zero points, a symmetric int16 input, 4-D tensors and a valid window (`strides` =
/// stride h, w and dilation h, w). Returns the filter, the input scale and both shapes.
fn window_16x8<'g>(
    c: &Ctx<'g>,
    x: &Tensor,
    y: &Tensor,
    (stride_h, stride_w, dilation_h, dilation_w): (usize, usize, usize, usize),
) -> Result<Window16x8<'g>, RuntimeError> {
    let (_, w) = c.input(1)?;
    c.dtype(w, "filter", DType::I8)?;
    let in_s = c.sym16(x, "input")?;
    let xs = c.rank(x, "input", 4)?;
    let ws = c.rank(w, "filter", 4)?;
    c.rank(y, "output", 4)?;
    c.constant(w, "filter")?;
    check_filter_zero_points(c, w)?;
    check_window(c, ws[1], ws[2], stride_h, stride_w, dilation_h, dilation_w)?;
    Ok((w, in_s, xs, ws))
}

/// The int16 forms of ops (16x8 CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED; ADD; QUANTIZE
/// to or from int16; DEQUANTIZE from int16), as TFLite-Micro prepares them; `None` for every
/// other op or type (prepared by [`prepare`]'s int8 arms).
fn prepare_int16(c: &Ctx, y: &Tensor) -> Result<Option<PreparedOp>, RuntimeError> {
    let op = c.op;
    let x = match op.input(0).and_then(|t| c.g.tensors.get(t)) {
        Some(x) => x,
        None => return Ok(None),
    };
    let int16_in = x.dtype == DType::I16;
    Ok(Some(match &op.kind {
        OpKind::Conv2d(o) if int16_in => {
            let strides = (o.stride_h, o.stride_w, o.dilation_h, o.dilation_w);
            let (w, in_s, xs, ws) = window_16x8(c, x, y, strides)?;
            if ws[3] == 0 || xs[3] == 0 || xs[3] % ws[3] != 0 || ws[0] % (xs[3] / ws[3]) != 0 {
                return Err(c.err(format!(
                    "filter depth {} does not divide input depth {} into groups of the {} filters",
                    ws[3], xs[3], ws[0]
                )));
            }
            let geom =
                ConvGeometry::conv(xs, ws, Window::from(o)).map_err(|e| c.err(e.to_string()))?;
            c.shape_eq(y, &geom.output_shape())?;
            let quant = c.quant16(in_s, w, y, ws[0], o.activation, true)?;
            PreparedOp::Conv16 { geom, quant }
        }
        OpKind::DepthwiseConv2d(o) if int16_in => {
            let strides = (o.stride_h, o.stride_w, o.dilation_h, o.dilation_w);
            let (w, in_s, xs, ws) = window_16x8(c, x, y, strides)?;
            let out_d = ws[3];
            if ws[0] != 1 || xs[3] == 0 || out_d % xs[3] != 0 {
                return Err(c.err(format!(
                    "filter shape {:?} does not fit input depth {}",
                    w.shape, xs[3]
                )));
            }
            if o.depth_multiplier != 0 && o.depth_multiplier != out_d / xs[3] {
                return Err(c.err(format!(
                    "depth_multiplier {} but the filter has {out_d} channels for {} input channels",
                    o.depth_multiplier, xs[3]
                )));
            }
            let geom = ConvGeometry::depthwise(xs, ws, Window::from(o))
                .map_err(|e| c.err(e.to_string()))?;
            c.shape_eq(y, &geom.output_shape())?;
            let quant = c.quant16(in_s, w, y, out_d, o.activation, false)?;
            PreparedOp::Depthwise16 { geom, quant }
        }
        OpKind::FullyConnected { activation, .. } if int16_in => {
            let (_, w) = c.input(1)?;
            c.dtype(w, "filter", DType::I8)?;
            let in_s = c.sym16(x, "input")?;
            c.rank(w, "filter", 2)?;
            c.constant(w, "filter")?;
            check_filter_zero_points(c, w)?;
            let (units, depth) = (w.shape[0], w.shape[1]);
            if depth == 0 || x.elements() % depth != 0 {
                return Err(c.err(format!(
                    "input shape {:?} is not a multiple of the filter depth {depth}",
                    x.shape
                )));
            }
            let batches = x.elements() / depth;
            if y.elements() != batches * units || y.shape.last() != Some(&units) {
                return Err(c.err(format!(
                    "output shape {:?} does not hold {batches} x {units} values",
                    y.shape
                )));
            }
            let quant = c.quant16(in_s, w, y, units, *activation, true)?;
            PreparedOp::FullyConnected16 {
                geom: FcGeometry {
                    batches,
                    depth,
                    units,
                },
                quant,
            }
        }
        OpKind::Quantize if y.dtype == DType::I16 || int16_in => {
            c.same_shape(x, y)?;
            let so = c.sz_of(y, "output")?;
            match (x.dtype, y.dtype) {
                (DType::F32, DType::I16) => PreparedOp::QuantizeF32ToI16 {
                    scale: so.0,
                    zero_point: so.1,
                },
                (DType::I8 | DType::I16, DType::I8 | DType::I16) => {
                    let si = c.sz_of(x, "input")?;
                    let (multiplier, shift) =
                        arch::quant::quantize_multiplier(si.0 as f64 / so.0 as f64);
                    PreparedOp::RequantizeInt {
                        multiplier,
                        shift,
                        input_zero_point: si.1,
                        output_zero_point: so.1,
                        from: x.dtype,
                        to: y.dtype,
                    }
                }
                (a, b) => {
                    return Err(c.err(format!("quantizing {a} to {b} is not supported")));
                }
            }
        }
        OpKind::Add { activation } if int16_in => {
            let (_, b) = c.input(1)?;
            for (t, what) in [(x, "input 0"), (b, "input 1"), (y, "output")] {
                c.dtype(t, what, DType::I16)?;
            }
            let bs = broadcast_shape(&x.shape, &b.shape).ok_or_else(|| {
                c.err(format!(
                    "shapes {:?} and {:?} do not broadcast",
                    x.shape, b.shape
                ))
            })?;
            c.shape_eq(y, &bs)?;
            let (sa, sb, so) = (
                c.sz_of(x, "input 0")?,
                c.sz_of(b, "input 1")?,
                c.sz_of(y, "output")?,
            );
            let act = activation_range_i16(*activation, so.0, so.1);
            PreparedOp::AddI16 {
                params: crate::kernels::int16::add_params_i16(sa, sb, so, act),
                a: x.shape.clone(),
                b: b.shape.clone(),
                out: y.shape.clone(),
            }
        }
        OpKind::Dequantize if int16_in => {
            c.dtype(y, "output", DType::F32)?;
            c.same_shape(x, y)?;
            let (scale, zero_point) = c.sz_of(x, "input")?;
            PreparedOp::DequantizeI16 { scale, zero_point }
        }
        _ => return Ok(None),
    }))
}
