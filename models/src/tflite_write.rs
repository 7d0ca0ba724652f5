//! `.tflite` writer: serializes a [`Graph`] as a FlatBuffer of TFLite's schema
//! (`tensorflow/lite/schema/schema.fbs`, version 3), the inverse of [`crate::tflite`].
//!
//! The file holds what the graph holds: one subgraph, its tensors (shape, type, name,
//! quantization, constant data in a buffer of its own), its operators with their builtin
//! options, the operator codes (version 1) and the description. Nothing else of an
//! original file survives a round trip (metadata, signature defs, shape signatures, the
//! min/max of quantization parameters, extra subgraphs): TFLite-Micro needs none of them
//! to run the model.
//!
//! The FlatBuffer is laid out front to back: the root table first, every child after the
//! table or vector that refers to it, so every `uoffset` is positive as the format
//! requires; vtables sit just before their table (positive `soffset`). Scalars are
//! aligned to their size, vectors to 4 and to their element size, buffer data to 16
//! bytes (the schema's `force_align: 16`).

use crate::graph::*;

/// Why a graph cannot be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("tensor {index} ({name:?}): {reason}")]
    Tensor {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("op {index} ({op}): {reason}")]
    Op {
        index: usize,
        op: &'static str,
        reason: String,
    },
    #[error("the model is {0} bytes, more than a FlatBuffer can address (2 GiB)")]
    TooLarge(usize),
}

/// One value of the object tree that is serialized.
enum Node {
    /// Fields by schema slot (field id): scalars inline, children by offset.
    Table(Vec<(u16, Field)>),
    Str(String),
    /// A vector of scalars: raw little-endian bytes, element size, alignment of the data.
    Scalars {
        data: Vec<u8>,
        elem: usize,
        align: usize,
    },
    /// A vector of tables or strings.
    Offsets(Vec<Node>),
}

enum Field {
    /// Little-endian bytes of a scalar (1, 2, 4 or 8 bytes).
    Scalar(Vec<u8>),
    Child(Node),
}

fn u8f(v: u8) -> Field {
    Field::Scalar(vec![v])
}
fn i8f(v: i8) -> Field {
    Field::Scalar(v.to_le_bytes().to_vec())
}
fn i32f(v: i32) -> Field {
    Field::Scalar(v.to_le_bytes().to_vec())
}
fn u32f(v: u32) -> Field {
    Field::Scalar(v.to_le_bytes().to_vec())
}
fn f32f(v: f32) -> Field {
    Field::Scalar(v.to_le_bytes().to_vec())
}
fn child(n: Node) -> Field {
    Field::Child(n)
}
fn i32s(v: &[i32]) -> Node {
    Node::Scalars {
        data: v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        elem: 4,
        align: 4,
    }
}

struct Writer {
    out: Vec<u8>,
}

impl Writer {
    fn pad_to(&mut self, align: usize) {
        while !self.out.len().is_multiple_of(align) {
            self.out.push(0);
        }
    }

    fn patch(&mut self, at: usize, target: usize) {
        let rel = (target - at) as u32;
        self.out[at..at + 4].copy_from_slice(&rel.to_le_bytes());
    }

    /// Writes `node` at the end; returns the position an offset must point to.
    fn node(&mut self, node: &Node) -> usize {
        match node {
            Node::Str(s) => {
                self.pad_to(4);
                let pos = self.out.len();
                self.out.extend((s.len() as u32).to_le_bytes());
                self.out.extend(s.as_bytes());
                self.out.push(0);
                pos
            }
            Node::Scalars { data, elem, align } => {
                let align = (*align).max(*elem).max(4);
                // The length word sits right before the (aligned) elements.
                self.pad_to(4);
                while !(self.out.len() + 4).is_multiple_of(align) {
                    self.out.extend([0; 4]);
                }
                let pos = self.out.len();
                self.out.extend(((data.len() / elem) as u32).to_le_bytes());
                self.out.extend(data);
                pos
            }
            Node::Offsets(items) => {
                self.pad_to(4);
                let pos = self.out.len();
                self.out.extend((items.len() as u32).to_le_bytes());
                let slots: Vec<usize> = (0..items.len())
                    .map(|_| {
                        let s = self.out.len();
                        self.out.extend([0; 4]);
                        s
                    })
                    .collect();
                for (item, slot) in items.iter().zip(slots) {
                    let p = self.node(item);
                    self.patch(slot, p);
                }
                pos
            }
            Node::Table(fields) => self.table(fields),
        }
    }

    fn table(&mut self, fields: &[(u16, Field)]) -> usize {
        let size = |f: &Field| match f {
            Field::Scalar(b) => b.len(),
            Field::Child(_) => 4,
        };
        // Inline layout: the soffset, then fields by decreasing size (each aligned).
        let mut order: Vec<usize> = (0..fields.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(size(&fields[i].1)));
        let align = fields
            .iter()
            .map(|(_, f)| size(f))
            .max()
            .unwrap_or(4)
            .max(4);
        let mut at = vec![0usize; fields.len()];
        let mut inline = 4usize;
        for &i in &order {
            let s = size(&fields[i].1);
            inline = inline.div_ceil(s) * s;
            at[i] = inline;
            inline += s;
        }
        let inline = inline.div_ceil(4) * 4;
        let n_slots = fields
            .iter()
            .map(|(id, _)| *id as usize + 1)
            .max()
            .unwrap_or(0);
        let mut vt = vec![0u16; 2 + n_slots];
        vt[0] = (4 + 2 * n_slots) as u16;
        vt[1] = inline as u16;
        for (i, (id, _)) in fields.iter().enumerate() {
            vt[2 + *id as usize] = at[i] as u16;
        }
        // vtable, then the table at its alignment.
        self.pad_to(2);
        let vt_pos = self.out.len();
        for v in &vt {
            self.out.extend(v.to_le_bytes());
        }
        self.pad_to(align);
        let pos = self.out.len();
        self.out.resize(pos + inline, 0);
        let soff = (pos - vt_pos) as i32;
        self.out[pos..pos + 4].copy_from_slice(&soff.to_le_bytes());
        for (i, (_, f)) in fields.iter().enumerate() {
            if let Field::Scalar(b) = f {
                self.out[pos + at[i]..pos + at[i] + b.len()].copy_from_slice(b);
            }
        }
        for (i, (_, f)) in fields.iter().enumerate() {
            if let Field::Child(n) = f {
                let p = self.node(n);
                self.patch(pos + at[i], p);
            }
        }
        pos
    }
}

/// TFLite's builtin operator code of an op.
pub fn builtin_code(kind: &OpKind) -> i32 {
    match kind {
        OpKind::Add { .. } => 0,
        OpKind::AveragePool2d(_) => 1,
        OpKind::Concatenation { .. } => 2,
        OpKind::Conv2d(_) => 3,
        OpKind::DepthwiseConv2d(_) => 4,
        OpKind::Dequantize => 6,
        OpKind::FullyConnected { .. } => 9,
        OpKind::Logistic => 14,
        OpKind::MaxPool2d(_) => 17,
        OpKind::Mul { .. } => 18,
        OpKind::Reshape => 22,
        OpKind::Softmax { .. } => 25,
        OpKind::Tanh => 28,
        OpKind::Pad => 34,
        OpKind::Mean { .. } => 40,
        OpKind::Sum { .. } => 74,
        OpKind::Quantize => 114,
        OpKind::Sub { .. } => 41,
        OpKind::Relu => 19,
        OpKind::Relu6 => 21,
        OpKind::LeakyRelu { .. } => 98,
        OpKind::HardSwish => 117,
        OpKind::Squeeze { .. } => 43,
        OpKind::ExpandDims => 70,
        OpKind::PadV2 => 60,
        OpKind::StridedSlice(_) => 45,
        OpKind::Transpose => 39,
        OpKind::ResizeBilinear(_) => 23,
        OpKind::ResizeNearestNeighbor(_) => 97,
        OpKind::TransposeConv(_) => 67,
    }
}

fn act(a: Activation) -> Field {
    i8f(match a {
        Activation::None => 0,
        Activation::Relu => 1,
        Activation::ReluN1To1 => 2,
        Activation::Relu6 => 3,
    })
}

fn pad(p: Padding) -> Field {
    i8f(match p {
        Padding::Same => 0,
        Padding::Valid => 1,
    })
}

/// The `BuiltinOptions` union type and table of an op (`None` for ops without options).
fn options(kind: &OpKind) -> Option<(u8, Node)> {
    let t = |fields: Vec<(u16, Field)>| Node::Table(fields);
    Some(match kind {
        OpKind::Conv2d(o) => (
            1,
            t(vec![
                (0, pad(o.padding)),
                (1, i32f(o.stride_w as i32)),
                (2, i32f(o.stride_h as i32)),
                (3, act(o.activation)),
                (4, i32f(o.dilation_w as i32)),
                (5, i32f(o.dilation_h as i32)),
            ]),
        ),
        OpKind::DepthwiseConv2d(o) => (
            2,
            t(vec![
                (0, pad(o.padding)),
                (1, i32f(o.stride_w as i32)),
                (2, i32f(o.stride_h as i32)),
                (3, i32f(o.depth_multiplier as i32)),
                (4, act(o.activation)),
                (5, i32f(o.dilation_w as i32)),
                (6, i32f(o.dilation_h as i32)),
            ]),
        ),
        OpKind::AveragePool2d(o) | OpKind::MaxPool2d(o) => (
            5,
            t(vec![
                (0, pad(o.padding)),
                (1, i32f(o.stride_w as i32)),
                (2, i32f(o.stride_h as i32)),
                (3, i32f(o.filter_w as i32)),
                (4, i32f(o.filter_h as i32)),
                (5, act(o.activation)),
            ]),
        ),
        OpKind::FullyConnected {
            activation,
            keep_num_dims,
        } => (
            8,
            t(vec![
                (0, act(*activation)),
                (1, i8f(0)),
                (2, u8f(*keep_num_dims as u8)),
            ]),
        ),
        OpKind::Softmax { beta } => (9, t(vec![(0, f32f(*beta))])),
        OpKind::Concatenation { axis, activation } => {
            (10, t(vec![(0, i32f(*axis)), (1, act(*activation))]))
        }
        OpKind::Add { activation } => (11, t(vec![(0, act(*activation))])),
        OpKind::Mul { activation } => (21, t(vec![(0, act(*activation))])),
        OpKind::Mean { keep_dims } | OpKind::Sum { keep_dims } => {
            (27, t(vec![(0, u8f(*keep_dims as u8))]))
        }
        OpKind::Sub { activation } => (28, t(vec![(0, act(*activation))])),
        OpKind::LeakyRelu { alpha } => (75, t(vec![(0, f32f(*alpha))])),
        OpKind::Squeeze { squeeze_dims } => (
            30,
            t(vec![(
                0,
                Field::Child(Node::Scalars {
                    data: squeeze_dims.iter().flat_map(|d| d.to_le_bytes()).collect(),
                    elem: 4,
                    align: 4,
                }),
            )]),
        ),
        OpKind::StridedSlice(o) => (
            32,
            t(vec![
                (0, i32f(o.begin_mask)),
                (1, i32f(o.end_mask)),
                (2, i32f(o.ellipsis_mask)),
                (3, i32f(o.new_axis_mask)),
                (4, i32f(o.shrink_axis_mask)),
                (5, u8f(o.offset as u8)),
            ]),
        ),
        // ResizeBilinearOptions: fields 0 and 1 (new_height, new_width) are deprecated.
        OpKind::ResizeBilinear(o) => (
            15,
            t(vec![
                (2, u8f(o.align_corners as u8)),
                (3, u8f(o.half_pixel_centers as u8)),
            ]),
        ),
        OpKind::ResizeNearestNeighbor(o) => (
            74,
            t(vec![
                (0, u8f(o.align_corners as u8)),
                (1, u8f(o.half_pixel_centers as u8)),
            ]),
        ),
        OpKind::TransposeConv(o) => (
            49,
            t(vec![
                (0, pad(o.padding)),
                (1, i32f(o.stride_w as i32)),
                (2, i32f(o.stride_h as i32)),
                (3, act(o.activation)),
            ]),
        ),
        OpKind::Reshape
        | OpKind::Pad
        | OpKind::Quantize
        | OpKind::Dequantize
        | OpKind::Logistic
        | OpKind::Tanh
        | OpKind::Relu
        | OpKind::Relu6
        | OpKind::HardSwish
        | OpKind::ExpandDims
        | OpKind::PadV2
        | OpKind::Transpose => return None,
    })
}

fn dims(v: &[usize], what: &str) -> Result<Vec<i32>, String> {
    v.iter()
        .map(|&d| i32::try_from(d).map_err(|_| format!("{what} {d} does not fit an int32")))
        .collect()
}

/// Serializes `g` as `.tflite` bytes.
pub fn write(g: &Graph) -> Result<Vec<u8>, WriteError> {
    let nt = g.tensors.len();
    // Buffer 0 is the empty sentinel; each constant tensor gets its own buffer.
    let mut buffers = vec![Node::Table(vec![])];
    let mut tensors = Vec::with_capacity(nt);
    for (index, t) in g.tensors.iter().enumerate() {
        let bad = |reason: String| WriteError::Tensor {
            index,
            name: t.name.clone(),
            reason,
        };
        let code = t
            .dtype
            .to_tflite()
            .ok_or_else(|| bad(format!("type {} has no TFLite code", t.dtype)))?;
        let mut fields = vec![
            (0, child(i32s(&dims(&t.shape, "dimension").map_err(&bad)?))),
            (1, i8f(code)),
            (3, child(Node::Str(t.name.clone()))),
        ];
        if let Some(d) = &t.data {
            if let Some(need) = t.dtype.storage_bytes(t.elements()) {
                if d.len() != need {
                    return Err(bad(format!(
                        "constant data is {} bytes, shape {:?} of {} needs {need}",
                        d.len(),
                        t.shape,
                        t.dtype
                    )));
                }
            }
            buffers.push(Node::Table(vec![(
                0,
                child(Node::Scalars {
                    data: d.clone(),
                    elem: 1,
                    align: 16,
                }),
            )]));
            fields.push((2, u32f((buffers.len() - 1) as u32)));
        }
        if let Some(q) = &t.quant {
            let qd = i32::try_from(q.quantized_dimension)
                .map_err(|_| bad("quantized_dimension does not fit an int32".into()))?;
            fields.push((
                4,
                child(Node::Table(vec![
                    (
                        2,
                        child(Node::Scalars {
                            data: q.scales.iter().flat_map(|s| s.to_le_bytes()).collect(),
                            elem: 4,
                            align: 4,
                        }),
                    ),
                    (
                        3,
                        child(Node::Scalars {
                            data: q.zero_points.iter().flat_map(|z| z.to_le_bytes()).collect(),
                            elem: 8,
                            align: 8,
                        }),
                    ),
                    (6, i32f(qd)),
                ])),
            ));
        }
        tensors.push(Node::Table(fields));
    }
    let idx = |i: usize| -> i32 { i as i32 };
    let mut codes: Vec<i32> = Vec::new();
    let mut ops = Vec::with_capacity(g.ops.len());
    for (index, op) in g.ops.iter().enumerate() {
        for &t in op.inputs.iter().flatten().chain(&op.outputs) {
            if t >= nt {
                return Err(WriteError::Op {
                    index,
                    op: op.name(),
                    reason: format!("tensor index {t} out of range ({nt} tensors)"),
                });
            }
        }
        let code = builtin_code(&op.kind);
        let oc = codes.iter().position(|&c| c == code).unwrap_or_else(|| {
            codes.push(code);
            codes.len() - 1
        });
        let ins: Vec<i32> = op.inputs.iter().map(|t| t.map_or(-1, idx)).collect();
        let outs: Vec<i32> = op.outputs.iter().map(|&t| idx(t)).collect();
        let mut fields = vec![
            (0, u32f(oc as u32)),
            (1, child(i32s(&ins))),
            (2, child(i32s(&outs))),
        ];
        if let Some((ty, table)) = options(&op.kind) {
            fields.push((3, u8f(ty)));
            fields.push((4, child(table)));
        }
        ops.push(Node::Table(fields));
    }
    for &t in g.inputs.iter().chain(&g.outputs) {
        if t >= nt {
            return Err(WriteError::Tensor {
                index: t,
                name: String::new(),
                reason: format!("graph input/output out of range ({nt} tensors)"),
            });
        }
    }
    let gi: Vec<i32> = g.inputs.iter().map(|&t| idx(t)).collect();
    let go: Vec<i32> = g.outputs.iter().map(|&t| idx(t)).collect();
    let subgraph = Node::Table(vec![
        (0, child(Node::Offsets(tensors))),
        (1, child(i32s(&gi))),
        (2, child(i32s(&go))),
        (3, child(Node::Offsets(ops))),
        (4, child(Node::Str("main".into()))),
    ]);
    let opcodes = codes
        .iter()
        .map(|&c| Node::Table(vec![(0, i8f(c.min(127) as i8)), (2, i32f(1)), (3, i32f(c))]))
        .collect();
    let model = vec![
        (0, u32f(3)),
        (1, child(Node::Offsets(opcodes))),
        (2, child(Node::Offsets(vec![subgraph]))),
        (3, child(Node::Str(g.description.clone()))),
        (4, child(Node::Offsets(buffers))),
    ];
    let mut w = Writer {
        out: Vec::with_capacity(g.const_bytes() + 4096),
    };
    w.out.extend([0; 4]);
    w.out.extend(crate::tflite::FILE_IDENTIFIER);
    let root = w.table(&model);
    w.patch(0, root);
    if w.out.len() > i32::MAX as usize {
        return Err(WriteError::TooLarge(w.out.len()));
    }
    Ok(w.out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_round_trip_through_the_writer() {
        for name in crate::BUILTIN_NAMES {
            let g = crate::builtin(name).unwrap();
            let bytes = write(&g).unwrap();
            let back = crate::tflite::parse(&bytes, name).unwrap();
            assert_eq!(back, g, "{name}");
            // Writing the parsed graph again gives the same bytes.
            assert_eq!(write(&back).unwrap(), bytes, "{name}");
        }
    }

    #[test]
    fn every_op_code_is_the_importers() {
        for name in crate::BUILTIN_NAMES {
            for op in crate::builtin(name).unwrap().ops {
                assert_eq!(
                    crate::tflite::builtin_name(builtin_code(&op.kind)),
                    op.kind.name()
                );
            }
        }
    }

    #[test]
    fn bad_data_length_is_named() {
        let mut g = crate::builtin("ad").unwrap();
        let i = g.tensors.iter().position(|t| t.data.is_some()).unwrap();
        g.tensors[i].data.as_mut().unwrap().pop();
        let e = write(&g).unwrap_err().to_string();
        assert!(
            e.contains(&format!("tensor {i}")) && e.contains("needs"),
            "{e}"
        );
    }
}
