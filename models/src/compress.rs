//! Model compression on the graph: magnitude pruning of int8 weights ([`prune`]),
//! per-channel int4 re-quantization ([`quantize_int4`]), TFLite's int4 packing
//! ([`pack_int4`], [`unpack_int4`]), the unpacking of int4 filters into int8 that a
//! runtime does before it runs a model ([`unpack_int4_filters`], what TFLite-Micro's
//! kernels do with `UnpackDenseInt4IntoInt8`), and a per-layer summary of the weights
//! (bits, zeros, 2:4 structure) for the tools that exploit them ([`weight_summary`]).
//!
//! The weights of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED are viewed as one row per
//! output channel and the reduction along the row:
//! - CONV_2D, filter OHWI: output channel O, reduction H*W*I in that order (I fastest);
//! - DEPTHWISE_CONV_2D, filter `[1, H, W, C*M]`: output channel C*M, reduction the H*W taps;
//! - FULLY_CONNECTED, filter `[units, depth]`: output channel `units`, reduction `depth`.
//!
//! Biases are never touched by pruning; int4 re-quantization rescales them to the new
//! filter scales (the bias is stored in units of input scale x filter scale).

use crate::graph::*;

/// Why a model cannot be compressed.
#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("op {index} ({op}): {reason}")]
    Op {
        index: usize,
        op: &'static str,
        reason: String,
    },
    #[error("tensor {index} ({name:?}): {reason}")]
    Tensor {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("sparsity {0} is not in [0, 1)")]
    Sparsity(f64),
    #[error("pattern 2:4 prunes exactly half of every group of four: sparsity must be 0.5 or omitted, not {0}")]
    TwoFourSparsity(f64),
    #[error("unknown pruning pattern {0:?}: expected 2:4, unstructured or channel")]
    Pattern(String),
}

/// A pruning pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// In every group of 4 consecutive weights along the reduction axis (per output
    /// channel; a trailing group of 1-3 weights counts as a group), keep the 2 of largest
    /// |w| (on equal |w| the earlier one) and zero the others.
    TwoFour,
    /// Per output channel, zero the `round(S x reduction)` weights of smallest |w| (on
    /// equal |w| the earlier ones first).
    Unstructured,
    /// Per layer, zero the `round(S x output channels)` whole output channels of smallest
    /// L1 norm (on equal norms the lower channel first); their biases stay, so these
    /// channels output their requantized bias.
    Channel,
}

impl std::str::FromStr for Pattern {
    type Err = CompressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "2:4" => Ok(Pattern::TwoFour),
            "unstructured" => Ok(Pattern::Unstructured),
            "channel" => Ok(Pattern::Channel),
            _ => Err(CompressError::Pattern(s.to_string())),
        }
    }
}

impl Pattern {
    pub fn name(self) -> &'static str {
        match self {
            Pattern::TwoFour => "2:4",
            Pattern::Unstructured => "unstructured",
            Pattern::Channel => "channel",
        }
    }
}

/// How a filter's elements map to (output channel, reduction index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilterView {
    pub out_channels: usize,
    pub reduction: usize,
    /// `true` when the output channel is the innermost dimension (depthwise).
    pub channel_last: bool,
}

impl FilterView {
    /// Element index of output channel `o`, reduction index `k`.
    pub fn index(&self, o: usize, k: usize) -> usize {
        if self.channel_last {
            k * self.out_channels + o
        } else {
            o * self.reduction + k
        }
    }

    /// The quantized dimension of per-channel scales.
    pub fn channel_dim(&self, rank: usize) -> usize {
        if self.channel_last {
            rank - 1
        } else {
            0
        }
    }
}

/// The filter view of op `op` over filter shape `shape`, `None` for ops without weights.
pub fn filter_view(kind: &OpKind, shape: &[usize]) -> Option<FilterView> {
    let n: usize = shape.iter().product();
    match kind {
        OpKind::Conv2d(_) | OpKind::FullyConnected { .. } if !shape.is_empty() && shape[0] > 0 => {
            Some(FilterView {
                out_channels: shape[0],
                reduction: n / shape[0],
                channel_last: false,
            })
        }
        OpKind::DepthwiseConv2d(_) if shape.len() == 4 && shape[3] > 0 => Some(FilterView {
            out_channels: shape[3],
            reduction: n / shape[3],
            channel_last: true,
        }),
        _ => None,
    }
}

/// One compressed (or summarized) weight tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerReport {
    /// The first op that reads the filter.
    pub op: usize,
    pub op_name: &'static str,
    pub tensor: usize,
    pub tensor_name: String,
    pub shape: Vec<usize>,
    pub view: FilterView,
    pub elements: usize,
    /// Zero weights before and after.
    pub zeros_before: usize,
    pub zeros: usize,
    /// 8 or 4.
    pub weight_bits: u8,
    /// Every group of 4 consecutive weights along the reduction has at most 2 non-zeros.
    pub two_four: bool,
    /// Output channels whose weights are all zero.
    pub zero_channels: usize,
    /// Why the layer was left as it was, if it was.
    pub note: Option<String>,
}

impl LayerReport {
    /// Fraction of zero weights.
    pub fn sparsity(&self) -> f64 {
        if self.elements == 0 {
            0.0
        } else {
            self.zeros as f64 / self.elements as f64
        }
    }
}

/// Packs int4 values (each in -8..=7) two per byte, low nibble first, as TFLite's INT4
/// tensors; an odd count leaves the last byte's high nibble 0.
pub fn pack_int4(values: &[i8]) -> Vec<u8> {
    values
        .chunks(2)
        .map(|p| {
            let lo = (p[0] as u8) & 0x0f;
            let hi = p.get(1).map_or(0, |&v| (v as u8) & 0x0f);
            lo | (hi << 4)
        })
        .collect()
}

/// Unpacks `n` int4 values from `bytes` (low nibble first, sign-extended), as
/// TFLite-Micro's `tensor_utils::UnpackDenseInt4IntoInt8`. `bytes` must hold
/// `n.div_ceil(2)` bytes.
pub fn unpack_int4(bytes: &[u8], n: usize) -> Vec<i8> {
    (0..n)
        .map(|i| {
            let b = bytes[i / 2] as i8;
            if i % 2 == 0 {
                (b << 4) >> 4
            } else {
                b >> 4
            }
        })
        .collect()
}

/// The tensors used as input 1 (the filter) of CONV_2D, DEPTHWISE_CONV_2D or
/// FULLY_CONNECTED, with the first such op, in tensor order.
fn filters(g: &Graph) -> Vec<(usize, usize)> {
    let mut seen: Vec<Option<usize>> = vec![None; g.tensors.len()];
    for (i, op) in g.ops.iter().enumerate() {
        if matches!(
            op.kind,
            OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected { .. }
        ) {
            if let Some(t) = op.input(1).filter(|&t| t < g.tensors.len()) {
                seen[t].get_or_insert(i);
            }
        }
    }
    let mut v: Vec<(usize, usize)> = seen
        .iter()
        .enumerate()
        .filter_map(|(t, o)| o.map(|o| (t, o)))
        .collect();
    v.sort_by_key(|&(_, o)| o);
    v
}

/// The int8 values of a constant int8 or int4 filter.
fn filter_values(g: &Graph, t: usize, op: usize) -> Result<Vec<i8>, CompressError> {
    let tensor = &g.tensors[t];
    let bad = |reason: String| CompressError::Op {
        index: op,
        op: g.ops[op].name(),
        reason,
    };
    let data = tensor
        .data
        .as_ref()
        .ok_or_else(|| bad(format!("filter {:?} is not a constant", tensor.name)))?;
    let n = tensor.elements();
    match tensor.dtype {
        DType::I8 if data.len() == n => Ok(data.iter().map(|&b| b as i8).collect()),
        DType::I4 if data.len() == n.div_ceil(2) => Ok(unpack_int4(data, n)),
        DType::I8 | DType::I4 => Err(bad(format!(
            "filter {:?} holds {} bytes, shape {:?} of {} needs {}",
            tensor.name,
            data.len(),
            tensor.shape,
            tensor.dtype,
            tensor.dtype.storage_bytes(n).unwrap_or(0)
        ))),
        d => Err(bad(format!(
            "filter {:?} is {d}, only int8 and int4 weights are compressed",
            tensor.name
        ))),
    }
}

fn check_symmetric(g: &Graph, t: usize, op: usize) -> Result<(), CompressError> {
    let tensor = &g.tensors[t];
    if let Some(q) = &tensor.quant {
        if q.zero_points.iter().any(|&z| z != 0) {
            return Err(CompressError::Op {
                index: op,
                op: g.ops[op].name(),
                reason: format!(
                    "filter {:?} has non-zero zero points: a zero weight would not be a real 0",
                    tensor.name
                ),
            });
        }
    }
    Ok(())
}

fn summarize(
    g: &Graph,
    t: usize,
    op: usize,
    values: &[i8],
    zeros_before: usize,
) -> Option<LayerReport> {
    let tensor = &g.tensors[t];
    let view = filter_view(&g.ops[op].kind, &tensor.shape)?;
    let nz = |o: usize, k: usize| values[view.index(o, k)] != 0;
    let two_four = (0..view.out_channels).all(|o| {
        (0..view.reduction).step_by(4).all(|k0| {
            (k0..(k0 + 4).min(view.reduction))
                .filter(|&k| nz(o, k))
                .count()
                <= 2
        })
    });
    let zero_channels = (0..view.out_channels)
        .filter(|&o| (0..view.reduction).all(|k| !nz(o, k)))
        .count();
    Some(LayerReport {
        op,
        op_name: g.ops[op].name(),
        tensor: t,
        tensor_name: tensor.name.clone(),
        shape: tensor.shape.clone(),
        view,
        elements: values.len(),
        zeros_before,
        zeros: values.iter().filter(|&&v| v == 0).count(),
        weight_bits: if tensor.dtype == DType::I4 { 4 } else { 8 },
        two_four,
        zero_channels,
        note: None,
    })
}

/// Per weight tensor of CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED (in the order of
/// the first op that reads it): weight bits, zeros, sparsity, 2:4 structure and all-zero
/// output channels. Filters that are not constant int8/int4 are left out.
pub fn weight_summary(g: &Graph) -> Vec<LayerReport> {
    filters(g)
        .into_iter()
        .filter_map(|(t, op)| {
            let v = filter_values(g, t, op).ok()?;
            let z = v.iter().filter(|&&x| x == 0).count();
            summarize(g, t, op, &v, z)
        })
        .collect()
}

/// Writes `values` back into filter `t` in its own type (int8, or packed int4).
fn store(g: &mut Graph, t: usize, values: &[i8]) {
    let tensor = &mut g.tensors[t];
    tensor.data = Some(match tensor.dtype {
        DType::I4 => pack_int4(values),
        _ => values.iter().map(|&v| v as u8).collect(),
    });
}

/// Magnitude pruning of every constant int8 (or int4) filter of CONV_2D,
/// DEPTHWISE_CONV_2D and FULLY_CONNECTED with `pattern` (see [`Pattern`]). Only weights
/// are set to zero; biases, scales and everything else stay. `sparsity` is the target
/// fraction for `unstructured` and `channel` (in `[0, 1)`), and must be `None` or 0.5 for
/// `2:4`. Returns the pruned graph and one report per filter.
pub fn prune(
    g: &Graph,
    pattern: Pattern,
    sparsity: Option<f64>,
) -> Result<(Graph, Vec<LayerReport>), CompressError> {
    let s = match (pattern, sparsity) {
        (Pattern::TwoFour, None) => 0.5,
        (Pattern::TwoFour, Some(0.5)) => 0.5,
        (Pattern::TwoFour, Some(s)) => return Err(CompressError::TwoFourSparsity(s)),
        (_, Some(s)) if (0.0..1.0).contains(&s) => s,
        (_, Some(s)) => return Err(CompressError::Sparsity(s)),
        (_, None) => return Err(CompressError::Sparsity(f64::NAN)),
    };
    let mut out = g.clone();
    let mut reports = Vec::new();
    for (t, op) in filters(g) {
        let mut w = filter_values(g, t, op)?;
        check_symmetric(g, t, op)?;
        let Some(view) = filter_view(&g.ops[op].kind, &g.tensors[t].shape) else {
            return Err(CompressError::Op {
                index: op,
                op: g.ops[op].name(),
                reason: format!(
                    "filter shape {:?} has no output channels",
                    g.tensors[t].shape
                ),
            });
        };
        let zeros_before = w.iter().filter(|&&v| v == 0).count();
        let mag = |v: i8| (v as i32).unsigned_abs();
        match pattern {
            Pattern::TwoFour => {
                for o in 0..view.out_channels {
                    for k0 in (0..view.reduction).step_by(4) {
                        let mut group: Vec<usize> = (k0..(k0 + 4).min(view.reduction))
                            .map(|k| view.index(o, k))
                            .collect();
                        // Largest |w| first; on ties the earlier weight first (stable).
                        group.sort_by_key(|&i| std::cmp::Reverse(mag(w[i])));
                        for &i in group.iter().skip(2) {
                            w[i] = 0;
                        }
                    }
                }
            }
            Pattern::Unstructured => {
                let n = (s * view.reduction as f64).round() as usize;
                for o in 0..view.out_channels {
                    let mut row: Vec<usize> =
                        (0..view.reduction).map(|k| view.index(o, k)).collect();
                    row.sort_by_key(|&i| mag(w[i]));
                    for &i in row.iter().take(n) {
                        w[i] = 0;
                    }
                }
            }
            Pattern::Channel => {
                let n = (s * view.out_channels as f64).round() as usize;
                let mut chans: Vec<(u64, usize)> = (0..view.out_channels)
                    .map(|o| {
                        let l1 = (0..view.reduction)
                            .map(|k| mag(w[view.index(o, k)]) as u64)
                            .sum();
                        (l1, o)
                    })
                    .collect();
                chans.sort();
                for &(_, o) in chans.iter().take(n) {
                    for k in 0..view.reduction {
                        w[view.index(o, k)] = 0;
                    }
                }
            }
        }
        store(&mut out, t, &w);
        if let Some(r) = summarize(&out, t, op, &w, zeros_before) {
            reports.push(r);
        }
    }
    Ok((out, reports))
}

/// `round(num / den)` for `den > 0`, halves away from zero, in exact integers.
fn div_round(num: i64, den: i64) -> i64 {
    let q = (2 * num.abs() + den) / (2 * den);
    if num < 0 {
        -q
    } else {
        q
    }
}

/// Int4 weights: every constant int8 filter of CONV_2D, DEPTHWISE_CONV_2D and
/// FULLY_CONNECTED becomes an INT4 tensor (packed two per byte, low nibble first), with
/// per-channel scales along the output channel for CONV_2D and DEPTHWISE_CONV_2D and one
/// per-tensor scale for FULLY_CONNECTED (TFLite-Micro refuses per-channel INT4 fully
/// connected filters; there `m` is the largest |w| of the whole tensor, and a per-channel
/// int8 filter gets `s' = max_c(s_c m_c) / 7`, `q = round(w s_c / s')`, f64, clamped to
/// -7..=7). For output channel `c` with int8 weights
/// `w`, old scale `s` (its own, or the per-tensor one) and `m = max |w|`:
/// - new scale `s' = f32(s x m / 7)` (`s' = s` when `m = 0`);
/// - new weights `q = round(7 w / m)`, halves away from zero, exact in integers, so
///   `q` is in -7..=7 (the int4 value -8 is never used: the grid stays symmetric);
/// - the int32 bias (in units of input scale x filter scale) becomes
///   `round(b x s / s')` (f64, halves away from zero), its scale `scale x s' / s`.
///
/// Filters already int4 are left as they are (noted in the report).
pub fn quantize_int4(g: &Graph) -> Result<(Graph, Vec<LayerReport>), CompressError> {
    let mut out = g.clone();
    let mut reports = Vec::new();
    let mut bias_done: Vec<Option<usize>> = vec![None; g.tensors.len()];
    for (t, op) in filters(g) {
        let tensor = &g.tensors[t];
        let w = filter_values(g, t, op)?;
        let zeros_before = w.iter().filter(|&&v| v == 0).count();
        if tensor.dtype == DType::I4 {
            if let Some(mut r) = summarize(g, t, op, &w, zeros_before) {
                r.note = Some("already int4".into());
                reports.push(r);
            }
            continue;
        }
        check_symmetric(g, t, op)?;
        let name = g.ops[op].name();
        let bad = |reason: String| CompressError::Op {
            index: op,
            op: name,
            reason,
        };
        let view = filter_view(&g.ops[op].kind, &tensor.shape).ok_or_else(|| {
            bad(format!(
                "filter shape {:?} has no output channels",
                tensor.shape
            ))
        })?;
        let q = tensor.quant.as_ref().ok_or_else(|| {
            bad(format!(
                "filter {:?} has no quantization parameters",
                tensor.name
            ))
        })?;
        let nc = view.out_channels;
        if q.scales.len() != 1 && q.scales.len() != nc {
            return Err(bad(format!(
                "filter {:?} has {} scales for {nc} output channels",
                tensor.name,
                q.scales.len()
            )));
        }
        let old: Vec<f32> = (0..nc)
            .map(|c| q.scales[if q.scales.len() == 1 { 0 } else { c }])
            .collect();
        let mut new = old.clone();
        let mut w4 = vec![0i8; w.len()];
        let chan_max = |c: usize| {
            (0..view.reduction)
                .map(|k| (w[view.index(c, k)] as i64).abs())
                .max()
                .unwrap_or(0)
        };
        // TFLite-Micro refuses per-channel INT4 filters of FULLY_CONNECTED: one scale.
        let per_tensor = matches!(g.ops[op].kind, OpKind::FullyConnected { .. });
        if per_tensor {
            let m = (0..nc).map(chan_max).max().unwrap_or(0);
            if old.iter().all(|&s| s == old[0]) {
                if m > 0 {
                    new = vec![(old[0] as f64 * m as f64 / 7.0) as f32; nc];
                    for (q, &v) in w4.iter_mut().zip(&w) {
                        *q = div_round(7 * v as i64, m) as i8;
                    }
                }
            } else {
                // Per-channel int8 scales to one int4 scale: the largest |real weight| / 7.
                let top = (0..nc)
                    .map(|c| old[c] as f64 * chan_max(c) as f64)
                    .fold(0.0f64, f64::max);
                if top > 0.0 {
                    let s = (top / 7.0) as f32;
                    new = vec![s; nc];
                    for (c, &sc) in old.iter().enumerate() {
                        for k in 0..view.reduction {
                            let i = view.index(c, k);
                            let r = (w[i] as f64 * sc as f64 / s as f64).round();
                            w4[i] = r.clamp(-7.0, 7.0) as i8;
                        }
                    }
                }
            }
        } else {
            for c in 0..nc {
                let m = chan_max(c);
                if m == 0 {
                    continue;
                }
                new[c] = (old[c] as f64 * m as f64 / 7.0) as f32;
                for k in 0..view.reduction {
                    let i = view.index(c, k);
                    w4[i] = div_round(7 * w[i] as i64, m) as i8;
                }
            }
        }
        let ft = &mut out.tensors[t];
        ft.dtype = DType::I4;
        ft.data = Some(pack_int4(&w4));
        ft.quant = Some(if per_tensor {
            Quantization::per_tensor(new[0], 0)
        } else {
            Quantization {
                scales: new.clone(),
                zero_points: vec![0; nc],
                quantized_dimension: view.channel_dim(tensor.shape.len()),
            }
        });
        // Every op that reads this filter: rescale its bias once.
        for (oi, o) in g.ops.iter().enumerate() {
            if o.input(1) != Some(t) {
                continue;
            }
            let Some(b) = o.input(2) else { continue };
            if let Some(prev) = bias_done[b] {
                if prev != t {
                    return Err(CompressError::Op {
                        index: oi,
                        op: o.name(),
                        reason: format!(
                            "bias tensor {b} is shared with an op of another filter: cannot rescale it for both"
                        ),
                    });
                }
                continue;
            }
            bias_done[b] = Some(t);
            let bt = &g.tensors[b];
            let bias = match (&bt.dtype, bt.data_i32()) {
                (DType::I32, Some(v)) if v.len() == nc => v,
                _ => {
                    return Err(CompressError::Op {
                        index: oi,
                        op: o.name(),
                        reason: format!(
                            "bias {:?} is not a constant int32 vector of {nc} values",
                            bt.name
                        ),
                    })
                }
            };
            let scaled: Vec<i32> = bias
                .iter()
                .enumerate()
                .map(|(c, &v)| {
                    let r = (v as f64 * old[c] as f64 / new[c] as f64).round();
                    r.clamp(i32::MIN as f64, i32::MAX as f64) as i32
                })
                .collect();
            let obt = &mut out.tensors[b];
            obt.data = Some(scaled.iter().flat_map(|v| v.to_le_bytes()).collect());
            if let Some(bq) = &bt.quant {
                let per = |c: usize| bq.scales[if bq.scales.len() == 1 { 0 } else { c }];
                if per_tensor && bq.scales.len() == 1 {
                    obt.quant = Some(Quantization::per_tensor(
                        (bq.scales[0] as f64 * new[0] as f64 / old[0] as f64) as f32,
                        0,
                    ));
                } else if bq.scales.len() == 1 || bq.scales.len() == nc {
                    obt.quant = Some(Quantization {
                        scales: (0..nc)
                            .map(|c| (per(c) as f64 * new[c] as f64 / old[c] as f64) as f32)
                            .collect(),
                        zero_points: vec![0; nc],
                        quantized_dimension: 0,
                    });
                }
            }
        }
        let mut r = summarize(&out, t, op, &w4, zeros_before)
            .ok_or_else(|| bad("filter view lost after quantization".to_string()))?;
        r.weight_bits = 4;
        reports.push(r);
    }
    Ok((out, reports))
}

/// The graph with every constant INT4 filter of CONV_2D, DEPTHWISE_CONV_2D and
/// FULLY_CONNECTED unpacked into an int8 tensor of the same values and quantization (what
/// TFLite-Micro's kernels do before they compute), and the indices of those tensors;
/// `None` when the graph has no int4 filter. INT4 tensors that something else reads stay
/// INT4 (the runtime refuses them by type).
pub fn unpack_int4_filters(g: &Graph) -> Result<Option<(Graph, Vec<usize>)>, CompressError> {
    let nt = g.tensors.len();
    let mut filter_only = vec![true; nt];
    let mut is_filter = vec![false; nt];
    for op in &g.ops {
        let weighted = matches!(
            op.kind,
            OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected { .. }
        );
        for (slot, t) in op.inputs.iter().enumerate() {
            if let Some(t) = t.filter(|&t| t < nt) {
                if weighted && slot == 1 {
                    is_filter[t] = true;
                } else {
                    filter_only[t] = false;
                }
            }
        }
    }
    let targets: Vec<usize> = (0..nt)
        .filter(|&t| {
            let x = &g.tensors[t];
            x.dtype == DType::I4 && x.data.is_some() && is_filter[t] && filter_only[t]
        })
        .collect();
    if targets.is_empty() {
        return Ok(None);
    }
    let mut out = g.clone();
    for &t in &targets {
        let x = &mut out.tensors[t];
        let n = x.elements();
        let data = x.data.as_ref().map_or(&[][..], |d| d.as_slice());
        if data.len() != n.div_ceil(2) {
            return Err(CompressError::Tensor {
                index: t,
                name: x.name.clone(),
                reason: format!(
                    "int4 data is {} bytes, shape {:?} needs {} (two values per byte)",
                    data.len(),
                    x.shape,
                    n.div_ceil(2)
                ),
            });
        }
        let v = unpack_int4(data, n);
        x.data = Some(v.iter().map(|&b| b as u8).collect());
        x.dtype = DType::I8;
    }
    Ok(Some((out, targets)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int4_packing_is_tflites() {
        // TFLite's documented example: {0x12, 0x34} unpacks to {2, 1, 4, 3}.
        assert_eq!(unpack_int4(&[0x12, 0x34], 4), [2, 1, 4, 3]);
        assert_eq!(unpack_int4(&[0xf8], 2), [-8, -1]);
        let v: Vec<i8> = (-8..=7).chain([3, -5, 0]).collect();
        let p = pack_int4(&v);
        assert_eq!(p.len(), v.len().div_ceil(2));
        assert_eq!(unpack_int4(&p, v.len()), v);
        // Odd count: the last byte's high nibble is 0.
        assert_eq!(pack_int4(&[-1]), [0x0f]);
    }

    #[test]
    fn two_four_keeps_the_two_largest_of_every_group() {
        let g = crate::builtin("kws").unwrap();
        let (p, reps) = prune(&g, Pattern::TwoFour, None).unwrap();
        assert!(!reps.is_empty());
        for r in &reps {
            assert!(r.two_four, "{r:?}");
            // At least half of every full group of four is zero.
            assert!(r.sparsity() >= 0.4, "{r:?}");
            let before = filter_values(&g, r.tensor, r.op).unwrap();
            let after = filter_values(&p, r.tensor, r.op).unwrap();
            let v = r.view;
            for o in 0..v.out_channels {
                for k0 in (0..v.reduction).step_by(4) {
                    let idx: Vec<usize> = (k0..(k0 + 4).min(v.reduction))
                        .map(|k| v.index(o, k))
                        .collect();
                    let kept_min = idx
                        .iter()
                        .filter(|&&i| after[i] != 0)
                        .map(|&i| before[i].unsigned_abs())
                        .min();
                    let dropped_max = idx
                        .iter()
                        .filter(|&&i| after[i] == 0)
                        .map(|&i| before[i].unsigned_abs())
                        .max();
                    if let (Some(k), Some(d)) = (kept_min, dropped_max) {
                        assert!(k >= d, "kept {k} < dropped {d}");
                    }
                    for &i in &idx {
                        assert!(after[i] == 0 || after[i] == before[i]);
                    }
                }
            }
        }
        // Biases and everything but filters are untouched.
        for (t, (a, b)) in g.tensors.iter().zip(&p.tensors).enumerate() {
            if !reps.iter().any(|r| r.tensor == t) {
                assert_eq!(a, b);
            }
        }
    }

    #[test]
    fn unstructured_and_channel_reach_their_targets() {
        let g = crate::builtin("ic").unwrap();
        let (_, reps) = prune(&g, Pattern::Unstructured, Some(0.75)).unwrap();
        for r in &reps {
            let want = (0.75 * r.view.reduction as f64).round() as usize * r.view.out_channels;
            assert!(r.zeros >= want, "{r:?}");
        }
        let (_, reps) = prune(&g, Pattern::Channel, Some(0.25)).unwrap();
        for r in &reps {
            let want = (0.25 * r.view.out_channels as f64).round() as usize;
            assert!(r.zero_channels >= want, "{r:?}");
        }
        assert!(matches!(
            prune(&g, Pattern::TwoFour, Some(0.7)),
            Err(CompressError::TwoFourSparsity(_))
        ));
        assert!(matches!(
            prune(&g, Pattern::Unstructured, Some(1.0)),
            Err(CompressError::Sparsity(_))
        ));
    }

    #[test]
    fn int4_round_trips_to_the_rescaled_values() {
        let g = crate::builtin("ad").unwrap();
        let (q, reps) = quantize_int4(&g).unwrap();
        assert!(reps.iter().all(|r| r.weight_bits == 4));
        for r in &reps {
            let t = &q.tensors[r.tensor];
            assert_eq!(t.dtype, DType::I4);
            let v = filter_values(&q, r.tensor, r.op).unwrap();
            assert!(v.iter().all(|&x| (-7..=7).contains(&x)));
            let per_channel = r.op_name != "FULLY_CONNECTED";
            let ns = t.quant.as_ref().unwrap().scales.len();
            assert_eq!(ns, if per_channel { r.view.out_channels } else { 1 });
        }
        let (u, ts) = unpack_int4_filters(&q).unwrap().unwrap();
        assert_eq!(ts.len(), reps.len());
        for r in &reps {
            assert_eq!(u.tensors[r.tensor].dtype, DType::I8);
            assert_eq!(
                filter_values(&u, r.tensor, r.op).unwrap(),
                filter_values(&q, r.tensor, r.op).unwrap()
            );
        }
        assert!(unpack_int4_filters(&g).unwrap().is_none());
        assert_eq!(div_round(7 * -3, 6), -4);
        assert_eq!(div_round(7 * 3, 6), 4);
        assert_eq!(div_round(7 * 2, 6), 2);
    }
}
