//! Per-op preparation (TFLite-Micro's `Prepare`): checks types and shapes, and computes
//! every kernel parameter once (requantization multipliers, padding, activation range).

use crate::error::RuntimeError;
use crate::geometry::{out_size_and_padding, ConvGeometry, Window};
use crate::kernels::activations::SigmoidParams;
use crate::kernels::elementwise::{AddParams, MulParams};
use crate::kernels::fully_connected::FcGeometry;
use crate::kernels::pool::PoolParams;
use crate::kernels::reduce::{ReduceParams, Reducer};
use crate::kernels::relu::{HardSwishParams, LeakyReluParams, ReluParams};
use crate::kernels::shape::ConcatRequant;
use crate::kernels::softmax::SoftmaxParams;
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
    // Elementwise and activation ops of issue 20 (helper ops-ew). SQUEEZE and EXPAND_DIMS
    // prepare to `Copy`.
    Sub {
        params: SubParams,
        a: Vec<usize>,
        b: Vec<usize>,
        out: Vec<usize>,
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
            let act = activation_range(*activation, so.0, so.1);
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
            let act = activation_range(*activation, so.0, so.1);
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
