//! The interpreter: prepares every op, plans the tensor arena, runs the kernels in graph
//! order. An [`OpExecutor`] can take over any op (the accelerator driver offloads conv and
//! fully connected ops this way); the rest runs on the CPU kernels: by default the fast
//! kernels ([`crate::kernels::fast`]) for conv, depthwise and fully connected, with their
//! weights packed here once; [`Interpreter::set_kernels`] selects the reference kernels
//! (the oracle; same bytes).

use crate::error::RuntimeError;
use crate::kernels;
use crate::kernels::fast::{Isa, Kernels, Packed, Scratch};
use crate::planner::{BufferReq, GreedyBySize, MemoryPlanner};
use crate::prepare::{prepare, PreparedOp};
use models::{Graph, Op, Tensor};

/// Largest tensor arena the interpreter will allocate.
pub const MAX_ARENA_BYTES: usize = 256 << 20;

/// What the table and JSON of `tinyaccel run` show for one op.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerInfo {
    pub index: usize,
    pub op: &'static str,
    /// Shape of the activation input (input 0; input 2 of TRANSPOSE_CONV).
    pub input_shape: Vec<usize>,
    /// Shape of input 1 when it is a constant (weights), else `None`.
    pub weight_shape: Option<Vec<usize>>,
    pub output_shape: Vec<usize>,
    pub macs: u64,
    /// Short summary of the op's options.
    pub options: String,
}

/// Everything an external executor gets to run one op.
pub struct OpContext<'a> {
    pub index: usize,
    pub op: &'a Op,
    pub prepared: &'a PreparedOp,
    /// Raw bytes of each input (`None` for an omitted optional input).
    pub inputs: Vec<Option<&'a [u8]>>,
    /// The input tensors (shape, dtype, quantization; `data` set for constants).
    pub input_tensors: Vec<Option<&'a Tensor>>,
    pub output_tensor: &'a Tensor,
}

/// An external executor for some ops. `execute` either writes the op's output and returns
/// `Ok(true)`, or returns `Ok(false)` to let the CPU kernel run the op.
pub trait OpExecutor {
    fn execute(&mut self, ctx: &OpContext<'_>, output: &mut [u8]) -> Result<bool, String>;
}

/// A TFLite-Micro-like interpreter over one graph.
pub struct Interpreter {
    graph: Graph,
    prepared: Vec<PreparedOp>,
    /// Arena offset of each non-constant tensor.
    offsets: Vec<Option<usize>>,
    /// Tensors whose bytes are overwritten by a later tensor during a run.
    clobbered: Vec<bool>,
    arena: Vec<u8>,
    arena_bytes: usize,
    planner: &'static str,
    layers: Vec<LayerInfo>,
    kernels: Kernels,
    isa: Isa,
    /// Weights of each conv, depthwise and fully connected op packed for the fast kernels.
    packed: Vec<Option<Packed>>,
    scratch: Scratch,
    /// Tensors that were INT4 filters in the model (unpacked into int8 at load).
    int4_filters: Vec<usize>,
}

/// The graph with its INT4 filters unpacked into int8 (`None` if it has none) and the
/// indices of those tensors ([`models::compress::unpack_int4_filters`]).
fn unpack_int4(graph: &Graph) -> Result<(Option<Graph>, Vec<usize>), RuntimeError> {
    match models::compress::unpack_int4_filters(graph) {
        Ok(Some((g, ts))) => Ok((Some(g), ts)),
        Ok(None) => Ok((None, Vec::new())),
        Err(e) => Err(RuntimeError::Graph {
            model: graph.name.clone(),
            what: e.to_string(),
        }),
    }
}

impl std::fmt::Debug for Interpreter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interpreter")
            .field("model", &self.graph.name)
            .field("arena_bytes", &self.arena_bytes)
            .finish()
    }
}

impl Interpreter {
    /// Prepares `graph` with the greedy-by-size arena planner.
    pub fn new(graph: &Graph) -> Result<Self, RuntimeError> {
        Self::with_planner(graph, &GreedyBySize)
    }

    /// Prepares `graph` with the given memory planner.
    pub fn with_planner(graph: &Graph, planner: &dyn MemoryPlanner) -> Result<Self, RuntimeError> {
        // INT4 filters are unpacked into int8 first, as TFLite-Micro's kernels do: every
        // kernel (and the driver, which reads `graph()`) sees int8 weights.
        let (unpacked, int4_filters) = unpack_int4(graph)?;
        let g = unpacked.as_ref().unwrap_or(graph);
        let model = g.name.clone();
        let gerr = |what: String| RuntimeError::Graph {
            model: model.clone(),
            what,
        };
        let n_ops = g.ops.len();
        let nt = g.tensors.len();
        for (i, t) in g.tensors.iter().enumerate() {
            if let (Some(d), Some(sz)) = (&t.data, t.dtype.size()) {
                if d.len() != t.elements() * sz {
                    return Err(RuntimeError::BadTensor {
                        model: model.clone(),
                        index: i,
                        name: t.name.clone(),
                        reason: format!(
                            "constant data is {} bytes, shape {:?} of {} needs {}",
                            d.len(),
                            t.shape,
                            t.dtype,
                            t.elements() * sz
                        ),
                    });
                }
            }
        }
        for &t in g.inputs.iter().chain(&g.outputs) {
            if t >= nt {
                return Err(gerr(format!(
                    "graph input/output tensor {t} out of range ({nt} tensors)"
                )));
            }
        }
        // Lifetimes: producer op (or 0 for inputs) to last consumer (n_ops for outputs).
        let mut first: Vec<Option<usize>> = vec![None; nt];
        let mut last: Vec<Option<usize>> = vec![None; nt];
        for &t in &g.inputs {
            first[t] = Some(0);
            last[t] = Some(0);
        }
        for (i, op) in g.ops.iter().enumerate() {
            for t in op.inputs.iter().flatten() {
                let t = *t;
                if t >= nt {
                    return Err(gerr(format!("op {i} reads tensor {t}, out of range")));
                }
                if g.tensors[t].is_const() {
                    continue;
                }
                if first[t].is_none() {
                    return Err(gerr(format!(
                        "op {i} ({}) reads tensor {t} ({:?}) before any op writes it",
                        op.name(),
                        g.tensors[t].name
                    )));
                }
                last[t] = Some(i);
            }
            for &t in &op.outputs {
                if t >= nt {
                    return Err(gerr(format!("op {i} writes tensor {t}, out of range")));
                }
                if g.tensors[t].is_const() || first[t].is_some() {
                    return Err(gerr(format!("op {i} ({}) writes tensor {t} ({:?}), which is a constant, a graph input or written before", op.name(), g.tensors[t].name)));
                }
                first[t] = Some(i);
                last[t] = Some(i);
            }
        }
        for &t in &g.outputs {
            if !g.tensors[t].is_const() {
                if first[t].is_none() {
                    return Err(gerr(format!("graph output tensor {t} is never written")));
                }
                last[t] = Some(n_ops);
            }
        }
        let mut prepared = Vec::with_capacity(n_ops);
        for i in 0..n_ops {
            prepared.push(prepare(g, i)?);
        }
        let mut reqs = Vec::new();
        let mut total: usize = 0;
        for t in 0..nt {
            if let (Some(f), Some(l)) = (first[t], last[t]) {
                let tensor = &g.tensors[t];
                let size = tensor
                    .dtype
                    .size()
                    .map(|s| tensor.elements() * s)
                    .ok_or_else(|| RuntimeError::BadTensor {
                        model: model.clone(),
                        index: t,
                        name: tensor.name.clone(),
                        reason: format!("type {} is not supported", tensor.dtype),
                    })?;
                total = total.saturating_add(size);
                reqs.push(BufferReq {
                    tensor: t,
                    size,
                    first_use: f,
                    last_use: l,
                });
            }
        }
        if total > MAX_ARENA_BYTES {
            return Err(RuntimeError::ArenaTooLarge {
                model,
                bytes: total,
                limit: MAX_ARENA_BYTES,
            });
        }
        let plan = planner.plan(&reqs);
        crate::planner::check_plan(&reqs, &plan).map_err(|(a, b)| {
            RuntimeError::Internal(format!(
                "planner {} placed tensors {} and {} over each other",
                planner.name(),
                reqs[a].tensor,
                reqs[b].tensor
            ))
        })?;
        let mut offsets = vec![None; nt];
        for (r, &o) in reqs.iter().zip(&plan.offsets) {
            offsets[r.tensor] = Some(o);
        }
        let mut clobbered = vec![false; nt];
        for a in &reqs {
            let oa = offsets[a.tensor].unwrap_or(0);
            clobbered[a.tensor] = reqs.iter().any(|b| {
                let ob = offsets[b.tensor].unwrap_or(0);
                b.tensor != a.tensor
                    && b.first_use > a.last_use
                    && b.size > 0
                    && oa < ob + b.size
                    && ob < oa + a.size
            });
        }
        let layers = g
            .ops
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let shape =
                    |t: Option<usize>| t.map(|t| g.tensors[t].shape.clone()).unwrap_or_default();
                LayerInfo {
                    index: i,
                    op: op.name(),
                    // TRANSPOSE_CONV's activation is input 2 (input 0 is its output shape).
                    input_shape: shape(match op.kind {
                        models::OpKind::TransposeConv(_) => op.input(2),
                        _ => op.input(0),
                    }),
                    weight_shape: op
                        .input(1)
                        .filter(|&t| g.tensors[t].is_const())
                        .map(|t| g.tensors[t].shape.clone()),
                    output_shape: shape(op.output()),
                    macs: op.macs(&g.tensors),
                    options: op.kind.options_summary(),
                }
            })
            .collect();
        let packed = prepared
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let w = g.ops[i]
                    .input(1)
                    .and_then(|t| g.tensors.get(t))
                    .and_then(|t| t.data.as_deref())
                    .map(kernels::as_i8)?;
                match p {
                    PreparedOp::Conv { geom, quant } => Some(Packed::conv(geom, quant, w)),
                    PreparedOp::Depthwise { geom, quant } => {
                        Some(Packed::depthwise(geom, quant, w))
                    }
                    PreparedOp::FullyConnected { geom, quant } => {
                        Some(Packed::fully_connected(geom, quant, w))
                    }
                    _ => None,
                }
            })
            .collect();
        Ok(Interpreter {
            int4_filters,
            graph: g.clone(),
            prepared,
            kernels: Kernels::default(),
            isa: Isa::detect(),
            packed,
            scratch: Scratch::default(),
            offsets,
            clobbered,
            arena: vec![0; plan.arena_bytes],
            arena_bytes: plan.arena_bytes,
            planner: planner.name(),
            layers,
        })
    }

    /// The graph as prepared: INT4 filters already unpacked into int8.
    pub fn graph(&self) -> &Graph {
        &self.graph
    }

    /// Bits per weight of op `index`'s filter as stored in the model: 4 for an INT4
    /// filter (unpacked into int8 at load), else 8.
    pub fn weight_bits(&self, index: usize) -> u8 {
        let t = self.graph.ops.get(index).and_then(|op| op.input(1));
        match t {
            Some(t) if self.int4_filters.contains(&t) => 4,
            _ => 8,
        }
    }

    /// Selects the kernels of conv, depthwise and fully connected ops: [`Kernels::Fast`]
    /// (the default) or [`Kernels::Reference`] (the oracle; same output bytes, slower).
    pub fn set_kernels(&mut self, kernels: Kernels) {
        self.kernels = kernels;
    }

    /// The kernels conv, depthwise and fully connected ops run on.
    pub fn kernels(&self) -> Kernels {
        self.kernels
    }

    /// The instruction set of the fast kernels (detected at construction).
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// Runs the fast kernels on `isa` instead of the detected one (tests compare them).
    pub fn set_isa(&mut self, isa: Isa) {
        self.isa = isa;
    }

    /// Peak tensor-arena bytes of the memory plan.
    pub fn arena_bytes(&self) -> usize {
        self.arena_bytes
    }

    /// Name of the memory planner used.
    pub fn planner(&self) -> &'static str {
        self.planner
    }

    /// Per-op information (shapes, MACs), in execution order.
    pub fn layers(&self) -> &[LayerInfo] {
        &self.layers
    }

    /// The prepared parameters of op `index` (geometry, requantization, ...).
    pub fn prepared(&self, index: usize) -> Option<&PreparedOp> {
        self.prepared.get(index)
    }

    /// The constant int8 weights (input 1) of a conv, depthwise or fully connected op, in the
    /// layout of its filter tensor (OHWI, `[1, H, W, C*M]` or `[units, depth]`).
    pub fn weights(&self, index: usize) -> Option<&[i8]> {
        self.prepared.get(index)?.quant()?;
        let t = self.graph.ops[index].input(1)?;
        self.graph.tensors[t].data.as_deref().map(kernels::as_i8)
    }

    /// Total MACs of one inference.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(|l| l.macs).sum()
    }

    /// Byte size expected by [`Interpreter::invoke`] (input 0).
    pub fn input_len(&self) -> usize {
        self.graph.input().map_or(0, |t| t.bytes())
    }

    /// Copies `bytes` into graph input `k`.
    pub fn set_input(&mut self, k: usize, bytes: &[u8]) -> Result<(), RuntimeError> {
        let t = *self
            .graph
            .inputs
            .get(k)
            .ok_or_else(|| RuntimeError::Graph {
                model: self.graph.name.clone(),
                what: format!("no input {k} ({} inputs)", self.graph.inputs.len()),
            })?;
        let tensor = &self.graph.tensors[t];
        let expected = tensor.bytes();
        if bytes.len() != expected {
            return Err(RuntimeError::InputSize {
                model: self.graph.name.clone(),
                input: k,
                expected,
                got: bytes.len(),
                shape: tensor.shape.clone(),
                dtype: tensor.dtype.name(),
            });
        }
        let o = self.offsets[t].ok_or_else(|| {
            RuntimeError::Internal(format!("input tensor {t} has no arena buffer"))
        })?;
        self.arena[o..o + expected].copy_from_slice(bytes);
        Ok(())
    }

    /// Runs the whole graph on `input` (raw bytes of input 0, model dtype, NHWC) and returns
    /// the raw bytes of output 0.
    pub fn invoke(&mut self, input: &[u8]) -> Result<Vec<u8>, RuntimeError> {
        self.set_input(0, input)?;
        for i in 0..self.graph.ops.len() {
            self.run_op(i, None)?;
        }
        self.output_bytes(0)
    }

    /// As [`Interpreter::invoke`], offering every op to `exec` first.
    pub fn invoke_with(
        &mut self,
        input: &[u8],
        exec: &mut dyn OpExecutor,
    ) -> Result<Vec<u8>, RuntimeError> {
        self.set_input(0, input)?;
        for i in 0..self.graph.ops.len() {
            self.run_op(i, Some(&mut *exec))?;
        }
        self.output_bytes(0)
    }

    /// Bytes of graph output `k` after a run.
    pub fn output_bytes(&self, k: usize) -> Result<Vec<u8>, RuntimeError> {
        let t = *self
            .graph
            .outputs
            .get(k)
            .ok_or_else(|| RuntimeError::Graph {
                model: self.graph.name.clone(),
                what: format!("no output {k}"),
            })?;
        self.tensor_bytes(t)
            .map(|b| b.to_vec())
            .ok_or_else(|| RuntimeError::Internal(format!("output tensor {t} has no storage")))
    }

    /// Bytes of tensor `t`: constants always; activations as left by the last run, or
    /// `None` when the memory plan lets a later tensor overwrite them (use the
    /// [`crate::planner::NoReuse`] planner to keep every tensor).
    pub fn tensor_bytes(&self, t: usize) -> Option<&[u8]> {
        let tensor = self.graph.tensors.get(t)?;
        if let Some(d) = &tensor.data {
            return Some(d);
        }
        if self.clobbered[t] {
            return None;
        }
        let o = self.offsets[t]?;
        self.arena.get(o..o + tensor.bytes())
    }

    /// Runs op `index` (inputs must have been computed). With an executor, the executor
    /// gets the op first. Returns whether the executor ran it.
    pub fn run_op(
        &mut self,
        index: usize,
        exec: Option<&mut dyn OpExecutor>,
    ) -> Result<bool, RuntimeError> {
        let Interpreter {
            graph,
            prepared,
            offsets,
            arena,
            kernels,
            isa,
            packed,
            scratch,
            ..
        } = self;
        let op = graph
            .ops
            .get(index)
            .ok_or_else(|| RuntimeError::Internal(format!("no op {index}")))?;
        let out_t = op.outputs[0];
        let out_tensor = &graph.tensors[out_t];
        let out_off = offsets[out_t]
            .ok_or_else(|| RuntimeError::Internal(format!("op {index} output has no buffer")))?;
        let out_len = out_tensor.bytes();
        let (left, rest) = arena.split_at_mut(out_off);
        let (out, right) = rest.split_at_mut(out_len);
        let (left, right): (&[u8], &[u8]) = (left, right);
        let get = |t: usize| -> Result<&[u8], RuntimeError> {
            let tensor = &graph.tensors[t];
            if let Some(d) = &tensor.data {
                return Ok(d);
            }
            let o = offsets[t]
                .ok_or_else(|| RuntimeError::Internal(format!("tensor {t} has no buffer")))?;
            let l = tensor.bytes();
            if o + l <= out_off {
                Ok(&left[o..o + l])
            } else if o >= out_off + out_len {
                Ok(&right[o - out_off - out_len..][..l])
            } else {
                Err(RuntimeError::Internal(format!(
                    "op {index}: input tensor {t} overlaps the output in the arena"
                )))
            }
        };
        let inputs: Vec<Option<&[u8]>> = op
            .inputs
            .iter()
            .map(|i| i.map(get).transpose())
            .collect::<Result<_, _>>()?;
        let p = &prepared[index];
        if let Some(exec) = exec {
            let ctx = OpContext {
                index,
                op,
                prepared: p,
                inputs: inputs.clone(),
                input_tensors: op
                    .inputs
                    .iter()
                    .map(|i| i.map(|t| &graph.tensors[t]))
                    .collect(),
                output_tensor: out_tensor,
            };
            match exec.execute(&ctx, out) {
                Ok(true) => return Ok(true),
                Ok(false) => {}
                Err(message) => {
                    return Err(RuntimeError::Executor {
                        index,
                        op: op.name().to_string(),
                        message,
                    })
                }
            }
        }
        let fast = match *kernels {
            Kernels::Fast => Some((packed[index].as_ref(), *isa, scratch)),
            Kernels::Reference => None,
        };
        run_kernel(p, fast, &inputs, out);
        Ok(false)
    }
}

/// Dispatches one prepared op to its CPU kernel: with `fast`, the fast kernel of a conv,
/// depthwise or fully connected op (its packed weights) or of a same-shape ADD; else, and
/// for every other op, the reference kernel.
fn run_kernel(
    p: &PreparedOp,
    fast: Option<(Option<&Packed>, Isa, &mut Scratch)>,
    inputs: &[Option<&[u8]>],
    out: &mut [u8],
) {
    use kernels::*;
    let inp = |i: usize| -> &[u8] { inputs.get(i).copied().flatten().unwrap_or(&[]) };
    if let (
        Some((_, isa, _)),
        PreparedOp::Add {
            params,
            a,
            b,
            out: so,
        },
    ) = (&fast, p)
    {
        if a == b && a == so {
            return fast::add_same_shape(
                params,
                *isa,
                as_i8(inp(0)),
                as_i8(inp(1)),
                as_i8_mut(out),
            );
        }
    }
    if let Some((Some(pk), isa, scratch)) = fast {
        let (x, y) = (as_i8(inp(0)), as_i8_mut(out));
        match (p, pk) {
            (PreparedOp::Conv { geom, quant }, Packed::Conv(w)) => {
                return fast::conv2d(w, geom, quant, isa, x, y, scratch)
            }
            (PreparedOp::Depthwise { geom, quant }, Packed::Depthwise(w)) => {
                return fast::depthwise_conv2d(w, geom, quant, isa, x, y, scratch)
            }
            (PreparedOp::FullyConnected { geom, .. }, Packed::FullyConnected(w)) => {
                return fast::fully_connected(w, geom, isa, x, y, scratch)
            }
            _ => {}
        }
    }
    match p {
        PreparedOp::Conv { geom, quant } => {
            conv::conv2d(geom, quant, as_i8(inp(0)), as_i8(inp(1)), as_i8_mut(out))
        }
        PreparedOp::Depthwise { geom, quant } => {
            depthwise::depthwise_conv2d(geom, quant, as_i8(inp(0)), as_i8(inp(1)), as_i8_mut(out))
        }
        PreparedOp::FullyConnected { geom, quant } => fully_connected::fully_connected(
            geom,
            quant,
            as_i8(inp(0)),
            as_i8(inp(1)),
            as_i8_mut(out),
        ),
        PreparedOp::Add {
            params,
            a,
            b,
            out: so,
        } => elementwise::add(
            params,
            as_i8(inp(0)),
            a,
            as_i8(inp(1)),
            b,
            as_i8_mut(out),
            so,
        ),
        PreparedOp::Mul {
            params,
            a,
            b,
            out: so,
        } => elementwise::mul(
            params,
            as_i8(inp(0)),
            a,
            as_i8(inp(1)),
            b,
            as_i8_mut(out),
            so,
        ),
        PreparedOp::AveragePool(pp) => pool::average_pool(pp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::MaxPool(pp) => pool::max_pool(pp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::Copy => out.copy_from_slice(inp(0)),
        PreparedOp::Softmax { params, depth } => {
            softmax::softmax(params, *depth, as_i8(inp(0)), as_i8_mut(out))
        }
        PreparedOp::Pad {
            in_shape,
            before,
            after,
            value,
        } => shape::pad(
            in_shape,
            before,
            after,
            *value,
            as_i8(inp(0)),
            as_i8_mut(out),
        ),
        PreparedOp::Concat { axis, shapes } => {
            let parts: Vec<(&[i8], &[usize])> = inputs
                .iter()
                .zip(shapes)
                .map(|(i, s)| (as_i8(i.unwrap_or(&[])), s.as_slice()))
                .collect();
            shape::concatenate(&parts, *axis, as_i8_mut(out));
        }
        PreparedOp::Reduce(rp) => reduce::reduce(rp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::QuantizeF32 { scale, zero_point } => {
            let x: Vec<f32> = inp(0)
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            quantize::quantize_f32(*scale, *zero_point, &x, as_i8_mut(out));
        }
        PreparedOp::Requantize { input, output } => {
            quantize::requantize_i8(*input, *output, as_i8(inp(0)), as_i8_mut(out))
        }
        PreparedOp::Dequantize { scale, zero_point } => {
            let mut y = vec![0f32; out.len() / 4];
            quantize::dequantize_i8(*scale, *zero_point, as_i8(inp(0)), &mut y);
            for (o, v) in out.chunks_exact_mut(4).zip(&y) {
                o.copy_from_slice(&v.to_le_bytes());
            }
        }
        PreparedOp::Logistic(sp) => activations::logistic_int8(sp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::Tanh(sp) => activations::tanh_int8(sp, as_i8(inp(0)), as_i8_mut(out)),
        // Spatial and shape ops (issue 20).
        PreparedOp::PadV2 {
            in_shape,
            before,
            after,
        } => {
            let value = as_i8(inp(2)).first().copied().unwrap_or(0);
            shape::pad(
                in_shape,
                before,
                after,
                value,
                as_i8(inp(0)),
                as_i8_mut(out),
            )
        }
        PreparedOp::StridedSlice(sp) => spatial::strided_slice(sp, inp(0), out),
        PreparedOp::Transpose {
            in_shape,
            perm,
            elem,
        } => spatial::transpose(in_shape, perm, *elem, inp(0), out),
        PreparedOp::ResizeNearest(rp) => spatial::resize_nearest(rp, inp(0), out),
        PreparedOp::ResizeBilinear(rp) => {
            spatial::resize_bilinear_int8(rp, as_i8(inp(0)), as_i8_mut(out))
        }
        PreparedOp::TransposeConv { geom, quant } => {
            spatial::transpose_conv_int8(geom, quant, as_i8(inp(2)), as_i8(inp(1)), as_i8_mut(out))
        }
        PreparedOp::Conv16 { .. }
        | PreparedOp::Depthwise16 { .. }
        | PreparedOp::FullyConnected16 { .. }
        | PreparedOp::QuantizeF32ToI16 { .. }
        | PreparedOp::RequantizeInt { .. }
        | PreparedOp::AddI16 { .. }
        | PreparedOp::DequantizeI16 { .. } => run_int16(p, &inp, out),
        // Elementwise and activation ops of issue 20 (helper ops-ew).
        PreparedOp::Sub {
            params,
            a,
            b,
            out: so,
        } => sub::sub(
            params,
            as_i8(inp(0)),
            a,
            as_i8(inp(1)),
            b,
            as_i8_mut(out),
            so,
        ),
        PreparedOp::Relu(rp) => relu::relu(rp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::Relu6 { lower, upper } => {
            relu::relu6(*lower, *upper, as_i8(inp(0)), as_i8_mut(out))
        }
        PreparedOp::LeakyRelu(lp) => relu::leaky_relu(lp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::HardSwish(hp) => relu::hard_swish(hp, as_i8(inp(0)), as_i8_mut(out)),
        PreparedOp::ConcatRequantized {
            axis,
            shapes,
            requant,
        } => {
            let parts: Vec<(&[i8], &[usize])> = inputs
                .iter()
                .zip(shapes)
                .map(|(i, s)| (as_i8(i.unwrap_or(&[])), s.as_slice()))
                .collect();
            shape::concatenate_requantized(&parts, requant, *axis, as_i8_mut(out));
        }
    }
}

/// The int16 kernels ([`kernels::int16`]): operands decoded from and results encoded to
/// little-endian bytes.
fn run_int16<'a>(p: &PreparedOp, inp: &dyn Fn(usize) -> &'a [u8], out: &mut [u8]) {
    use kernels::int16::*;
    let f32s = |b: &[u8]| -> Vec<f32> {
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    };
    let mut y = vec![0i16; out.len() / 2];
    match p {
        PreparedOp::Conv16 { geom, quant } => conv2d_16x8(
            geom,
            quant,
            &read_i16(inp(0)),
            kernels::as_i8(inp(1)),
            &mut y,
        ),
        PreparedOp::Depthwise16 { geom, quant } => depthwise_16x8(
            geom,
            quant,
            &read_i16(inp(0)),
            kernels::as_i8(inp(1)),
            &mut y,
        ),
        PreparedOp::FullyConnected16 { geom, quant } => fully_connected_16x8(
            geom,
            quant,
            &read_i16(inp(0)),
            kernels::as_i8(inp(1)),
            &mut y,
        ),
        PreparedOp::QuantizeF32ToI16 { scale, zero_point } => {
            quantize_f32_i16(*scale, *zero_point, &f32s(inp(0)), &mut y)
        }
        PreparedOp::RequantizeInt {
            multiplier,
            shift,
            input_zero_point,
            output_zero_point,
            from,
            to,
        } => {
            let x: Vec<i32> = match from {
                models::DType::I16 => read_i16(inp(0)).into_iter().map(i32::from).collect(),
                _ => kernels::as_i8(inp(0)).iter().map(|&v| v as i32).collect(),
            };
            let (m, s, zi, zo) = (*multiplier, *shift, *input_zero_point, *output_zero_point);
            if *to == models::DType::I16 {
                let range = (i16::MIN as i32, i16::MAX as i32);
                requantize_int(m, s, zi, zo, range, x.into_iter(), |i, v| y[i] = v as i16);
            } else {
                let o = kernels::as_i8_mut(out);
                requantize_int(m, s, zi, zo, (-128, 127), x.into_iter(), |i, v| {
                    o[i] = v as i8
                });
                return;
            }
        }
        PreparedOp::AddI16 {
            params,
            a,
            b,
            out: so,
        } => add_i16(
            params,
            &read_i16(inp(0)),
            a,
            &read_i16(inp(1)),
            b,
            &mut y,
            so,
        ),
        PreparedOp::DequantizeI16 { scale, zero_point } => {
            let mut f = vec![0f32; out.len() / 4];
            dequantize_i16(*scale, *zero_point, &read_i16(inp(0)), &mut f);
            for (o, v) in out.chunks_exact_mut(4).zip(&f) {
                o.copy_from_slice(&v.to_le_bytes());
            }
            return;
        }
        // Not an int16 op: `run_kernel` sends only the int16 variants here.
        _ => return,
    }
    write_i16(&y, out);
}
