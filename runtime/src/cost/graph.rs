//! The adapter from the `models` graph IR to [`OpShape`], and the whole-graph cost.

use models::{Graph, OpKind};
use serde::Serialize;

use super::model::LayerCost;
use super::profile::CpuProfile;
use super::shape::{ElementwiseKind, OpShape, PoolKind, PoolShape};
use super::CostError;
use crate::geometry::{out_size_and_padding, ConvGeometry, GeometryError, Window};

/// Per-layer and total cost of a graph on one profile. Totals are sums of the per-layer
/// values (`cycles`, `energy_pj` exactly; `latency_ms` and `energy_uj` derived from them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GraphCost {
    /// Canonical profile spec (`cortex-m7@216MHz:reference`).
    pub profile: String,
    /// Core clock, MHz.
    pub clock_mhz: f64,
    /// Kernel library.
    pub library: String,
    /// One entry per op, in graph order.
    pub layers: Vec<LayerCost>,
    /// Sum of the layers' cycles.
    pub cycles: u64,
    /// Sum of the layers' energies, pJ.
    pub energy_pj: u64,
}

impl GraphCost {
    /// Latency of the whole graph, ms (`cycles / clock`).
    pub fn latency_ms(&self) -> f64 {
        self.cycles as f64 / self.clock_mhz / 1000.0
    }

    /// Energy of the whole graph, uJ (`energy_pj / 1e6`).
    pub fn energy_uj(&self) -> f64 {
        self.energy_pj as f64 / 1e6
    }

    /// Nominal MACs of the graph.
    pub fn macs(&self) -> u64 {
        self.layers.iter().map(|l| l.macs).sum()
    }
}

/// Costs every op of `graph` on `profile`.
pub fn graph_cost(profile: &CpuProfile, graph: &Graph) -> Result<GraphCost, CostError> {
    let layers = (0..graph.ops.len())
        .map(|i| op_shape(graph, i).map(|s| profile.layer_cost(&s)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(GraphCost {
        profile: profile.spec(),
        clock_mhz: profile.clock_mhz(),
        library: profile.library_name().to_string(),
        cycles: layers.iter().map(|l| l.cycles).sum(),
        energy_pj: layers.iter().map(|l| l.energy_pj).sum(),
        layers,
    })
}

/// The [`OpShape`] of op `op_index` of `graph`, from its tensors' shapes and its options.
pub fn op_shape(graph: &Graph, op_index: usize) -> Result<OpShape, CostError> {
    let op = graph.ops.get(op_index).ok_or_else(|| CostError::Layer {
        layer: op_index,
        op: "?".into(),
        reason: format!("the graph has only {} ops", graph.ops.len()),
    })?;
    let err = |reason: String| CostError::Layer {
        layer: op_index,
        op: op.name().to_string(),
        reason,
    };
    let tensor = |slot: Option<usize>, what: &str| {
        slot.and_then(|i| graph.tensors.get(i))
            .ok_or_else(|| err(format!("missing {what} tensor")))
    };
    let dims4 = |slot: Option<usize>, what: &str| -> Result<[usize; 4], CostError> {
        let t = tensor(slot, what)?;
        match t.shape.as_slice() {
            &[a, b, c, d] => Ok([a, b, c, d]),
            s => Err(err(format!(
                "{what} tensor `{}` has shape {s:?}, expected 4-D",
                t.name
            ))),
        }
    };
    let positive = |v: usize, what: &str| -> Result<u64, CostError> {
        if v == 0 {
            Err(err(format!("{what} must be at least 1")))
        } else {
            Ok(v as u64)
        }
    };
    let geometry_err = |e: GeometryError| err(e.to_string());
    // The output size and padding are derived from the input and the window; the graph's
    // output tensor must agree.
    let derived_output = |g: ConvGeometry, output: [usize; 4]| {
        if g.output_shape() == output {
            Ok(g)
        } else {
            Err(err(format!(
                "output shape {output:?} differs from the {:?} the window gives",
                g.output_shape()
            )))
        }
    };
    let out_elems = || tensor(op.output(), "output").map(|t| t.elements() as u64);
    let out_bytes = || tensor(op.output(), "output").map(|t| t.bytes() as u64);
    // The shape alone decides the cost: 16x8 layers (int16 activations) and the int16
    // QUANTIZE / DEQUANTIZE are costed as their int8 kernels (docs/cpu-model.md).
    Ok(match &op.kind {
        OpKind::Conv2d(o) => {
            let [n, ih, iw, ic] = dims4(op.input(0), "input")?;
            let [oc, kh, kw, fic] = dims4(op.input(1), "filter")?;
            let [on, oh, ow, occ] = dims4(op.output(), "output")?;
            if fic == 0 || ic % fic != 0 || on != n || occ != oc {
                return Err(err(format!(
                    "inconsistent shapes: input [{n},{ih},{iw},{ic}], filter [{oc},{kh},{kw},{fic}], output [{on},{oh},{ow},{occ}]"
                )));
            }
            // Grouped convolutions reduce over the filter's input channels.
            let g = ConvGeometry::conv([n, ih, iw, ic], [oc, kh, kw, fic], Window::from(o))
                .map_err(geometry_err)?;
            OpShape::Conv(derived_output(g, [on, oh, ow, occ])?)
        }
        OpKind::DepthwiseConv2d(o) => {
            let [n, ih, iw, ic] = dims4(op.input(0), "input")?;
            let [one, kh, kw, fc] = dims4(op.input(1), "filter")?;
            let [on, oh, ow, oc] = dims4(op.output(), "output")?;
            if ic == 0 || oc % ic != 0 || fc != oc || on != n {
                return Err(err(format!(
                    "inconsistent shapes: input [{n},{ih},{iw},{ic}], filter [{one},{kh},{kw},{fc}], output [{on},{oh},{ow},{oc}]"
                )));
            }
            let g = ConvGeometry::depthwise([n, ih, iw, ic], [one, kh, kw, fc], Window::from(o))
                .map_err(geometry_err)?;
            OpShape::Depthwise(derived_output(g, [on, oh, ow, oc])?)
        }
        OpKind::FullyConnected { .. } => {
            let input = tensor(op.input(0), "input")?;
            let filter = tensor(op.input(1), "filter")?;
            let (units, depth) = match filter.shape.as_slice() {
                &[u, d] if d > 0 => (u as u64, d as u64),
                s => {
                    return Err(err(format!(
                        "filter has shape {s:?}, expected [units, depth]"
                    )))
                }
            };
            let elems = input.elements() as u64;
            if (elems / depth) * depth != elems {
                return Err(err(format!(
                    "input has {elems} elements, not a multiple of the filter depth {depth}"
                )));
            }
            OpShape::FullyConnected {
                batch: elems / depth,
                in_features: depth,
                out_features: units,
            }
        }
        OpKind::AveragePool2d(o) | OpKind::MaxPool2d(o) => {
            let [n, ih, iw, c] = dims4(op.input(0), "input")?.map(|d| d as u64);
            let [_, oh, ow, _] = dims4(op.output(), "output")?.map(|d| d as u64);
            let (fh, fw) = (
                positive(o.filter_h, "filter_h")?,
                positive(o.filter_w, "filter_w")?,
            );
            let (sh, sw) = (
                positive(o.stride_h, "stride_h")?,
                positive(o.stride_w, "stride_w")?,
            );
            let axis = |input: u64, filter: u64, stride: u64, output: u64| {
                let (out, pad) = out_size_and_padding(
                    o.padding,
                    input as usize,
                    filter as usize,
                    stride as usize,
                    1,
                )
                .map_err(geometry_err)?;
                if out as u64 != output {
                    return Err(err(format!(
                        "output size {output} differs from the {out} the window gives"
                    )));
                }
                Ok(pad as u64)
            };
            let pad_top = axis(ih, fh, sh, oh)?;
            let pad_left = axis(iw, fw, sw, ow)?;
            OpShape::Pool(PoolShape {
                kind: if matches!(op.kind, OpKind::MaxPool2d(_)) {
                    PoolKind::Max
                } else {
                    PoolKind::Avg
                },
                batch: n,
                in_h: ih,
                in_w: iw,
                channels: c,
                out_h: oh,
                out_w: ow,
                filter_h: fh,
                filter_w: fw,
                stride_h: sh,
                stride_w: sw,
                pad_top,
                pad_left,
            })
        }
        OpKind::Add { .. } => OpShape::Elementwise {
            kind: ElementwiseKind::Add,
            elems: out_elems()?,
        },
        OpKind::Mul { .. } => OpShape::Elementwise {
            kind: ElementwiseKind::Mul,
            elems: out_elems()?,
        },
        // Dequantize is costed like quantize: one scale per element.
        OpKind::Quantize | OpKind::Dequantize => OpShape::Elementwise {
            kind: ElementwiseKind::Quantize,
            elems: out_elems()?,
        },
        OpKind::Logistic => OpShape::Elementwise {
            kind: ElementwiseKind::Logistic,
            elems: out_elems()?,
        },
        OpKind::Tanh => OpShape::Elementwise {
            kind: ElementwiseKind::Tanh,
            elems: out_elems()?,
        },
        OpKind::Softmax { .. } => {
            let input = tensor(op.input(0), "input")?;
            let depth = input.shape.last().copied().unwrap_or(1).max(1) as u64;
            OpShape::Softmax {
                rows: input.elements() as u64 / depth,
                depth,
            }
        }
        OpKind::Reshape => OpShape::Reshape {
            bytes: out_bytes()?,
        },
        OpKind::Pad => OpShape::Pad {
            in_bytes: tensor(op.input(0), "input")?.bytes() as u64,
            out_bytes: out_bytes()?,
        },
        OpKind::Concatenation { .. } => OpShape::Concat {
            bytes: out_bytes()?,
        },
        // SUM is MEAN without the division folded into the multiplier: the same kernel cost.
        OpKind::Mean { .. } | OpKind::Sum { .. } => OpShape::Mean {
            in_elems: tensor(op.input(0), "input")?.elements() as u64,
            out_elems: out_elems()?,
        },
        // Spatial and shape ops (issue 20), mapped onto the existing cost kinds whose work
        // is alike (the profiles have no entries of their own for them):
        // PADV2 is PAD with another fill value.
        OpKind::PadV2 => OpShape::Pad {
            in_bytes: tensor(op.input(0), "input")?.bytes() as u64,
            out_bytes: out_bytes()?,
        },
        // STRIDED_SLICE, TRANSPOSE and RESIZE_NEAREST_NEIGHBOR gather every output
        // element from the input: a copy of the output's bytes, like RESHAPE.
        OpKind::StridedSlice(_) | OpKind::Transpose | OpKind::ResizeNearestNeighbor(_) => {
            OpShape::Reshape {
                bytes: out_bytes()?,
            }
        }
        // RESIZE_BILINEAR weighs 4 neighbours per output element: a 2x2 average pool,
        // stride 1, over an input one row and column larger than the output.
        OpKind::ResizeBilinear(_) => {
            let [n, oh, ow, c] = dims4(op.output(), "output")?.map(|d| d as u64);
            OpShape::Pool(PoolShape {
                kind: PoolKind::Avg,
                batch: n,
                in_h: oh + 1,
                in_w: ow + 1,
                channels: c,
                out_h: oh,
                out_w: ow,
                filter_h: 2,
                filter_w: 2,
                stride_h: 1,
                stride_w: 1,
                pad_top: 0,
                pad_left: 0,
            })
        }
        // TRANSPOSE_CONV multiplies every input pixel's channels by the whole filter
        // (out_c x kh x kw x in_c): a fully connected layer with one row per input pixel
        // and out_c*kh*kw outputs, the same MACs and weight bytes.
        OpKind::TransposeConv(_) => {
            let [n, ih, iw, ic] = dims4(op.input(2), "input")?.map(|d| d as u64);
            let [oc, kh, kw, fic] = dims4(op.input(1), "filter")?.map(|d| d as u64);
            if fic != ic {
                return Err(err(format!(
                    "filter depth {fic} differs from the input depth {ic}"
                )));
            }
            OpShape::FullyConnected {
                batch: n * ih * iw,
                in_features: ic,
                out_features: oc * kh * kw,
            }
        }
        // Issue 20 ops (helper ops-ew), mapped onto the kernel whose work is alike:
        // SUB is ADD's arithmetic with one sign flipped.
        OpKind::Sub { .. } => OpShape::Elementwise {
            kind: ElementwiseKind::Add,
            elems: out_elems()?,
        },
        // RELU and LEAKY_RELU rescale every element with one (or one of two) fixed-point
        // multipliers and clamp, as int8 -> int8 QUANTIZE does; RELU6 is a clamp, costed
        // the same (an upper bound).
        OpKind::Relu | OpKind::Relu6 | OpKind::LeakyRelu { .. } => OpShape::Elementwise {
            kind: ElementwiseKind::Quantize,
            elems: out_elems()?,
        },
        // HARD_SWISH is a chain of 16-bit fixed-point multiplies per element, closest to
        // LOGISTIC's fixed-point evaluation.
        OpKind::HardSwish => OpShape::Elementwise {
            kind: ElementwiseKind::Logistic,
            elems: out_elems()?,
        },
        // SQUEEZE and EXPAND_DIMS are byte copies, as RESHAPE.
        OpKind::Squeeze { .. } | OpKind::ExpandDims => OpShape::Reshape {
            bytes: out_bytes()?,
        },
    })
}
