//! `.tflite` importer, written directly over the FlatBuffer bytes (schema:
//! `tensorflow/lite/schema/schema.fbs`, version 3). Every read is bounds-checked; sizes
//! are checked against the file length before anything is allocated; a truncated,
//! corrupted or hostile file gives an [`ImportError`], never a panic.

use crate::flatbuf::{Buf, Table};
use crate::graph::*;
use crate::ImportError;

/// Largest tensor accepted (elements).
pub const MAX_TENSOR_ELEMENTS: usize = 1 << 28;
/// Largest tensor rank accepted.
pub const MAX_RANK: usize = 8;

/// Names of TFLite builtin operators by code (enough for error messages).
const BUILTIN_NAMES: &[&str] = &[
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEPTH_TO_SPACE",
    "DEQUANTIZE",
    "EMBEDDING_LOOKUP",
    "FLOOR",
    "FULLY_CONNECTED",
    "HASHTABLE_LOOKUP",
    "L2_NORMALIZATION",
    "L2_POOL_2D",
    "LOCAL_RESPONSE_NORMALIZATION",
    "LOGISTIC",
    "LSH_PROJECTION",
    "LSTM",
    "MAX_POOL_2D",
    "MUL",
    "RELU",
    "RELU_N1_TO_1",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RNN",
    "SOFTMAX",
    "SPACE_TO_DEPTH",
    "SVDF",
    "TANH",
    "CONCAT_EMBEDDINGS",
    "SKIP_GRAM",
    "CALL",
    "CUSTOM",
    "EMBEDDING_LOOKUP_SPARSE",
    "PAD",
    "UNIDIRECTIONAL_SEQUENCE_RNN",
    "GATHER",
    "BATCH_TO_SPACE_ND",
    "SPACE_TO_BATCH_ND",
    "TRANSPOSE",
    "MEAN",
    "SUB",
    "DIV",
    "SQUEEZE",
    "UNIDIRECTIONAL_SEQUENCE_LSTM",
    "STRIDED_SLICE",
    "BIDIRECTIONAL_SEQUENCE_RNN",
    "EXP",
    "TOPK_V2",
    "SPLIT",
    "LOG_SOFTMAX",
    "DELEGATE",
    "BIDIRECTIONAL_SEQUENCE_LSTM",
    "CAST",
    "PRELU",
    "MAXIMUM",
    "ARG_MAX",
    "MINIMUM",
    "LESS",
    "NEG",
    "PADV2",
    "GREATER",
    "GREATER_EQUAL",
    "LESS_EQUAL",
    "SELECT",
    "SLICE",
    "SIN",
    "TRANSPOSE_CONV",
    "SPARSE_TO_DENSE",
    "TILE",
    "EXPAND_DIMS",
    "EQUAL",
    "NOT_EQUAL",
    "LOG",
    "SUM",
    "SQRT",
    "RSQRT",
    "SHAPE",
    "POW",
    "ARG_MIN",
    "FAKE_QUANT",
    "REDUCE_PROD",
    "REDUCE_MAX",
    "PACK",
    "LOGICAL_OR",
    "ONE_HOT",
    "LOGICAL_AND",
    "LOGICAL_NOT",
    "UNPACK",
    "REDUCE_MIN",
    "FLOOR_DIV",
    "REDUCE_ANY",
    "SQUARE",
    "ZEROS_LIKE",
    "FILL",
    "FLOOR_MOD",
    "RANGE",
    "RESIZE_NEAREST_NEIGHBOR",
    "LEAKY_RELU",
    "SQUARED_DIFFERENCE",
    "MIRROR_PAD",
    "ABS",
    "SPLIT_V",
    "UNIQUE",
    "CEIL",
    "REVERSE_V2",
    "ADD_N",
    "GATHER_ND",
    "COS",
    "WHERE",
    "RANK",
    "ELU",
    "REVERSE_SEQUENCE",
    "MATRIX_DIAG",
    "QUANTIZE",
    "MATRIX_SET_DIAG",
    "ROUND",
    "HARD_SWISH",
    "IF",
    "WHILE",
    "NON_MAX_SUPPRESSION_V4",
    "NON_MAX_SUPPRESSION_V5",
    "SCATTER_ND",
    "SELECT_V2",
    "DENSIFY",
    "SEGMENT_SUM",
    "BATCH_MATMUL",
    "PLACEHOLDER_FOR_GREATER_OP_CODES",
    "CUMSUM",
    "CALL_ONCE",
    "BROADCAST_TO",
    "RFFT2D",
    "CONV_3D",
    "IMAG",
    "REAL",
    "COMPLEX_ABS",
    "HASHTABLE",
    "HASHTABLE_FIND",
    "HASHTABLE_IMPORT",
    "HASHTABLE_SIZE",
    "REDUCE_ALL",
    "CONV_3D_TRANSPOSE",
    "VAR_HANDLE",
    "READ_VARIABLE",
    "ASSIGN_VARIABLE",
    "BROADCAST_ARGS",
    "RANDOM_STANDARD_NORMAL",
    "BUCKETIZE",
    "RANDOM_UNIFORM",
    "MULTINOMIAL",
    "GELU",
    "DYNAMIC_UPDATE_SLICE",
    "RELU_0_TO_1",
    "UNSORTED_SEGMENT_PROD",
    "UNSORTED_SEGMENT_MAX",
    "UNSORTED_SEGMENT_SUM",
    "ATAN2",
    "UNSORTED_SEGMENT_MIN",
    "SIGN",
    "BITCAST",
    "BITWISE_XOR",
    "RIGHT_SHIFT",
    "STABLEHLO_LOGISTIC",
    "STABLEHLO_ADD",
    "STABLEHLO_DIVIDE",
    "STABLEHLO_MULTIPLY",
    "STABLEHLO_MAXIMUM",
    "STABLEHLO_RESHAPE",
    "STABLEHLO_CLAMP",
    "STABLEHLO_CONCATENATE",
    "STABLEHLO_BROADCAST_IN_DIM",
    "STABLEHLO_CONVOLUTION",
    "STABLEHLO_SLICE",
    "STABLEHLO_CUSTOM_CALL",
    "STABLEHLO_REDUCE",
    "STABLEHLO_ABS",
    "STABLEHLO_AND",
    "STABLEHLO_COSINE",
    "STABLEHLO_EXPONENTIAL",
    "STABLEHLO_FLOOR",
    "STABLEHLO_LOG",
    "STABLEHLO_MINIMUM",
    "STABLEHLO_NEGATE",
    "STABLEHLO_OR",
    "STABLEHLO_POWER",
    "STABLEHLO_REMAINDER",
    "STABLEHLO_RSQRT",
    "STABLEHLO_SELECT",
    "STABLEHLO_SUBTRACT",
    "STABLEHLO_TANH",
    "STABLEHLO_SCATTER",
    "STABLEHLO_COMPARE",
    "STABLEHLO_CONVERT",
    "STABLEHLO_DYNAMIC_SLICE",
    "STABLEHLO_DYNAMIC_UPDATE_SLICE",
    "STABLEHLO_PAD",
    "STABLEHLO_IOTA",
    "STABLEHLO_DOT_GENERAL",
    "STABLEHLO_REDUCE_WINDOW",
    "STABLEHLO_SORT",
    "STABLEHLO_WHILE",
    "STABLEHLO_GATHER",
    "STABLEHLO_TRANSPOSE",
    "DILATE",
    "STABLEHLO_RNG_BIT_GENERATOR",
    "REDUCE_WINDOW",
    "STABLEHLO_COMPOSITE",
    "STABLEHLO_SHIFT_LEFT",
    "STABLEHLO_CBRT",
    "STABLEHLO_CASE",
];

/// The builtin operators tinyaccel runs (the importer maps exactly these codes to an
/// [`OpKind`]; every other code is refused by name). Which tensor types each accepts is
/// checked when the graph is prepared (README, "Supported ops").
pub const SUPPORTED_OPS: &[&str] = &[
    "ADD",
    "AVERAGE_POOL_2D",
    "CONCATENATION",
    "CONV_2D",
    "DEPTHWISE_CONV_2D",
    "DEQUANTIZE",
    "EXPAND_DIMS",
    "FULLY_CONNECTED",
    "HARD_SWISH",
    "LEAKY_RELU",
    "LOGISTIC",
    "MAX_POOL_2D",
    "MEAN",
    "MUL",
    "PAD",
    "PADV2",
    "QUANTIZE",
    "RELU",
    "RELU6",
    "RESHAPE",
    "RESIZE_BILINEAR",
    "RESIZE_NEAREST_NEIGHBOR",
    "SOFTMAX",
    "SQUEEZE",
    "STRIDED_SLICE",
    "SUB",
    "SUM",
    "TANH",
    "TRANSPOSE",
    "TRANSPOSE_CONV",
];

/// Builtin codes of the ops that run other subgraphs (CALL, IF, WHILE, CALL_ONCE).
const CONTROL_FLOW_OPS: [i32; 4] = [31, 118, 119, 129];

/// The FlatBuffers file identifier of `.tflite` files (bytes 4..8).
pub const FILE_IDENTIFIER: &[u8; 4] = b"TFL3";

/// What a file that is not a `.tflite` model looks like, for the error message.
fn sniff(bytes: &[u8]) -> &'static str {
    let head = &bytes[..bytes.len().min(512)];
    if head.starts_with(b"\x89PNG") {
        " (it is a PNG image)"
    } else if head.starts_with(b"\xff\xd8\xff") {
        " (it is a JPEG image)"
    } else if head.starts_with(b"PK\x03\x04") {
        " (it is a ZIP archive, e.g. a .npz or a saved Keras model)"
    } else if head.starts_with(b"\x93NUMPY") {
        " (it is a NumPy .npy array)"
    } else if head.starts_with(b"\x7fELF") {
        " (it is an executable)"
    } else if std::str::from_utf8(head).is_ok_and(|t| {
        t.chars()
            .all(|c| !c.is_control() || c.is_ascii_whitespace())
    }) || head.len() == 512 && std::str::from_utf8(&head[..508]).is_ok()
    {
        " (it looks like a text file: a CSV, a config or a script?)"
    } else {
        ""
    }
}

/// Name of a builtin operator code.
pub fn builtin_name(code: i32) -> String {
    usize::try_from(code)
        .ok()
        .and_then(|c| BUILTIN_NAMES.get(c))
        .map(|s| s.to_string())
        .unwrap_or_else(|| format!("BUILTIN_{code}"))
}

/// Parses a `.tflite` file's bytes into a [`Graph`] named `name`.
pub fn parse(bytes: &[u8], name: &str) -> Result<Graph, ImportError> {
    let buf = Buf::new(bytes);
    if bytes.len() >= 8 && &bytes[4..8] != FILE_IDENTIFIER {
        let id = &bytes[4..8];
        let found = match std::str::from_utf8(id) {
            Ok(text) => format!("{text:?}"),
            Err(_) => format!("{id:02x?}"),
        };
        return Err(ImportError::NotTflite {
            found,
            hint: sniff(bytes),
        });
    }
    let model = buf.root("Model")?;
    let version = model.u32(0, "version", 0)?;
    if version != 3 {
        return Err(buf.err(
            model.loc("version"),
            model.pos,
            format!("schema version {version}, expected 3"),
        ));
    }
    let description = model.string(3, "description")?.unwrap_or_default();

    // Operator codes.
    let mut codes: Vec<(i32, String)> = Vec::new();
    if let Some(v) = model.vector(1, "operator_codes", 4)? {
        for i in 0..v.len {
            let t = model.table_elem(v, i, "OperatorCode")?;
            let deprecated = t.i8(0, "deprecated_builtin_code", 0)? as i32;
            let builtin = t.i32(3, "builtin_code", 0)?;
            let code = deprecated.max(builtin);
            let custom = t.string(1, "custom_code")?.unwrap_or_default();
            codes.push((code, custom));
        }
    }

    let buffers = model.vector(4, "buffers", 4)?;
    let subgraphs = model
        .vector(2, "subgraphs", 4)?
        .filter(|v| v.len > 0)
        .ok_or_else(|| buf.err(model.loc("subgraphs"), model.pos, "model has no subgraph"))?;
    // TFLite-Micro invokes subgraph 0; the others run only when an op of subgraph 0
    // (IF, WHILE, CALL_ONCE) calls them. tinyaccel runs subgraph 0 and has no such op, so
    // a model whose subgraph 0 calls another is refused below; unreachable subgraphs are
    // ignored.
    let n_subgraphs = subgraphs.len;
    let sg = model.table_elem(subgraphs, 0, "SubGraph")?;

    // Tensors.
    let tv = sg.vector(0, "tensors", 4)?;
    let n_tensors = tv.map_or(0, |v| v.len);
    let mut tensors = Vec::with_capacity(n_tensors);
    if let Some(tv) = tv {
        for i in 0..tv.len {
            let t = sg.table_elem(tv, i, "Tensor")?;
            tensors.push(read_tensor(&buf, &model, buffers, &t, i)?);
        }
    }

    let index_list =
        |t: &Table, idx: usize, field: &'static str| -> Result<Vec<usize>, ImportError> {
            let v = t.vec_i32(idx, field)?.unwrap_or_default();
            v.into_iter()
                .map(|x| {
                    usize::try_from(x)
                        .ok()
                        .filter(|&x| x < n_tensors)
                        .ok_or_else(|| {
                            buf.err(
                                t.loc(field),
                                t.pos,
                                format!(
                                    "tensor index {x} out of range (model has {n_tensors} tensors)"
                                ),
                            )
                        })
                })
                .collect()
        };
    let inputs = index_list(&sg, 1, "inputs")?;
    let outputs = index_list(&sg, 2, "outputs")?;

    // Operators. Every unsupported op is collected and all are named in one error.
    let mut ops = Vec::new();
    let mut unsupported: Vec<(usize, String)> = Vec::new();
    if let Some(ov) = sg.vector(3, "operators", 4)? {
        for i in 0..ov.len {
            let t = sg.table_elem(ov, i, "Operator")?;
            let oc = t.u32(0, "opcode_index", 0)? as usize;
            let (code, custom) = codes.get(oc).cloned().ok_or_else(|| {
                buf.err(
                    t.loc("opcode_index"),
                    t.pos,
                    format!(
                        "opcode index {oc} out of range ({} operator codes)",
                        codes.len()
                    ),
                )
            })?;
            let ins: Vec<Option<usize>> = t
                .vec_i32(1, "inputs")?
                .unwrap_or_default()
                .into_iter()
                .map(|x| {
                    if x == -1 {
                        Ok(None)
                    } else {
                        usize::try_from(x).ok().filter(|&x| x < n_tensors).map(Some).ok_or_else(|| {
                            buf.err(t.loc("inputs"), t.pos, format!("op {i}: tensor index {x} out of range (model has {n_tensors} tensors)"))
                        })
                    }
                })
                .collect::<Result<_, _>>()?;
            let outs = index_list(&t, 2, "outputs")?;
            if CONTROL_FLOW_OPS.contains(&code) {
                return Err(ImportError::ControlFlow {
                    index: i,
                    op: builtin_name(code),
                    subgraphs: n_subgraphs,
                });
            }
            let opts = t.table(4, "builtin_options", "BuiltinOptions")?;
            // A 16x8 CONV_2D / FULLY_CONNECTED without a bias accumulates in int32 when its
            // `quantized_bias_type` is INT32 (in int64 otherwise); only the int64 form is
            // implemented for bias-less ops.
            let bias_type_field = match code {
                3 => Some(6),
                9 => Some(4),
                _ => None,
            };
            if let (Some(f), Some(o)) = (bias_type_field, &opts) {
                let int16_in = ins
                    .first()
                    .copied()
                    .flatten()
                    .is_some_and(|x| tensors[x].dtype == DType::I16);
                let no_bias = ins.get(2).copied().flatten().is_none();
                if int16_in && no_bias && o.i8(f, "quantized_bias_type", 0)? == 2 {
                    return Err(ImportError::BadOp {
                        index: i,
                        op: builtin_name(code),
                        reason: "int16 input without a bias and quantized_bias_type INT32 \
                                 (an int32 accumulator) is not supported"
                            .into(),
                    });
                }
            }
            let kind = match op_kind(code, &custom, opts, i) {
                Err(ImportError::UnsupportedOp { index, op, .. }) => {
                    unsupported.push((index, op));
                    continue;
                }
                k => k?,
            };
            let op = Op {
                kind,
                inputs: ins,
                outputs: outs,
            };
            check_arity(&op, i)?;
            ops.push(op);
        }
    }

    if let Some(((index, op), rest)) = unsupported.split_first() {
        return Err(ImportError::UnsupportedOp {
            index: *index,
            op: op.clone(),
            also: rest
                .iter()
                .map(|(i, o)| format!("op {i} ({o})"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    let graph = Graph {
        name: name.to_string(),
        description,
        tensors,
        ops,
        inputs,
        outputs,
    };
    Ok(graph)
}

fn read_tensor(
    buf: &Buf,
    model: &Table,
    buffers: Option<crate::flatbuf::Vector>,
    t: &Table,
    index: usize,
) -> Result<Tensor, ImportError> {
    let name = t.string(3, "name")?.unwrap_or_default();
    let bad = |reason: String| ImportError::BadTensor {
        index,
        name: name.clone(),
        reason,
    };
    let raw_shape = t.vec_i32(0, "shape")?.unwrap_or_default();
    if raw_shape.len() > MAX_RANK {
        return Err(bad(format!(
            "rank {} exceeds the maximum {MAX_RANK}",
            raw_shape.len()
        )));
    }
    let mut shape = Vec::with_capacity(raw_shape.len());
    let mut elements: usize = 1;
    for &d in &raw_shape {
        let d = usize::try_from(d)
            .map_err(|_| bad(format!("negative dimension {d} in shape {raw_shape:?}")))?;
        elements = elements
            .checked_mul(d)
            .filter(|&e| e <= MAX_TENSOR_ELEMENTS)
            .ok_or_else(|| {
                bad(format!(
                    "shape {raw_shape:?} has more than {MAX_TENSOR_ELEMENTS} elements"
                ))
            })?;
        shape.push(d);
    }
    let dtype = DType::from_tflite(t.i8(1, "type", 0)?);

    // Quantization.
    let mut quant = None;
    if let Some(q) = t.table(4, "quantization", "QuantizationParameters")? {
        let details = q.u8(4, "details_type", 0)?;
        if details != 0 {
            return Err(bad(format!(
                "custom quantization details (type {details}) are not supported"
            )));
        }
        let scales = q.vec_f32(2, "scale")?.unwrap_or_default();
        let mut zps = q.vec_i64(3, "zero_point")?.unwrap_or_default();
        let qd = q.i32(6, "quantized_dimension", 0)?;
        if !scales.is_empty() {
            if zps.is_empty() {
                zps = vec![0; scales.len()];
            }
            if zps.len() != scales.len() {
                return Err(bad(format!(
                    "{} scales but {} zero points",
                    scales.len(),
                    zps.len()
                )));
            }
            let qd = usize::try_from(qd)
                .map_err(|_| bad(format!("negative quantized_dimension {qd}")))?;
            if scales.len() > 1 && (qd >= shape.len() || shape[qd] != scales.len()) {
                return Err(bad(format!(
                    "{} per-channel scales do not match dimension {qd} of shape {shape:?}",
                    scales.len()
                )));
            }
            if let Some(s) = scales.iter().find(|s| !s.is_finite() || **s < 0.0) {
                return Err(bad(format!("invalid scale {s}")));
            }
            // A zero point must be a value of the tensor's own type (TFLite's int8
            // kernels read it as an int32 and assume it fits the dtype).
            let zp_range: Option<(i64, i64)> = match dtype {
                DType::I8 => Some((-128, 127)),
                DType::I4 => Some((-8, 7)),
                DType::U8 => Some((0, 255)),
                DType::I16 => Some((-32768, 32767)),
                DType::I32 | DType::I64 => Some((i32::MIN as i64, i32::MAX as i64)),
                _ => None,
            };
            if let Some((lo, hi)) = zp_range {
                if let Some(z) = zps.iter().find(|z| !(lo..=hi).contains(*z)) {
                    return Err(bad(format!(
                        "zero point {z} outside the {dtype:?} range {lo}..={hi}"
                    )));
                }
            }
            quant = Some(Quantization {
                scales,
                zero_points: zps,
                quantized_dimension: qd,
            });
        }
    }

    // Constant data.
    let bidx = t.u32(2, "buffer", 0)? as usize;
    let mut data = None;
    if bidx != 0 {
        let bv = buffers.ok_or_else(|| {
            bad(format!(
                "refers to buffer {bidx} but the model has no buffers"
            ))
        })?;
        if bidx >= bv.len {
            return Err(bad(format!(
                "buffer index {bidx} out of range ({} buffers)",
                bv.len
            )));
        }
        let b = model.table_elem(bv, bidx, "Buffer")?;
        let mut bytes = b.bytes(0, "data")?.unwrap_or_default();
        let off = b.u64(1, "offset", 0)?;
        let size = b.u64(2, "size", 0)?;
        if bytes.is_empty() && off > 1 {
            let len = buf.bytes.len() as u64;
            if !matches!(off.checked_add(size), Some(e) if e <= len) {
                return Err(buf.err(
                    b.loc("offset"),
                    b.pos,
                    format!(
                        "external data {off}+{size} lies past the end of the file ({len} bytes)"
                    ),
                ));
            }
            bytes = &buf.bytes[off as usize..(off + size) as usize];
        }
        if !bytes.is_empty() {
            if let Some(need) = dtype.storage_bytes(elements) {
                if bytes.len() != need {
                    return Err(bad(format!(
                        "buffer {bidx} holds {} bytes, shape {shape:?} of {dtype} needs {need}{}",
                        bytes.len(),
                        if dtype == DType::I4 {
                            " (two int4 values per byte)"
                        } else {
                            ""
                        }
                    )));
                }
            }
            data = Some(bytes.to_vec());
        }
    }
    Ok(Tensor {
        name,
        shape,
        dtype,
        quant,
        data,
    })
}

fn activation(code: i8, op: usize, name: &str) -> Result<Activation, ImportError> {
    Ok(match code {
        0 => Activation::None,
        1 => Activation::Relu,
        2 => Activation::ReluN1To1,
        3 => Activation::Relu6,
        c => {
            let a = match c {
                4 => "TANH".to_string(),
                5 => "SIGN_BIT".to_string(),
                c => format!("code {c}"),
            };
            return Err(ImportError::BadOp {
                index: op,
                op: name.to_string(),
                reason: format!("fused activation {a} is not supported"),
            });
        }
    })
}

fn padding(code: i8, op: usize, name: &str) -> Result<Padding, ImportError> {
    match code {
        0 => Ok(Padding::Same),
        1 => Ok(Padding::Valid),
        c => Err(ImportError::BadOp {
            index: op,
            op: name.to_string(),
            reason: format!("padding code {c} is not SAME or VALID"),
        }),
    }
}

fn positive(v: i32, what: &str, op: usize, name: &str) -> Result<usize, ImportError> {
    if (1..=1 << 16).contains(&v) {
        Ok(v as usize)
    } else {
        Err(ImportError::BadOp {
            index: op,
            op: name.to_string(),
            reason: format!("{what} is {v}, must be in 1..=65536"),
        })
    }
}

fn op_kind(
    code: i32,
    custom: &str,
    opts: Option<Table>,
    index: usize,
) -> Result<OpKind, ImportError> {
    let name = builtin_name(code);
    let n = name.as_str();
    // Absent options read as all-default fields.
    let o = opts;
    let i32f = |idx: usize, field: &'static str, d: i32| -> Result<i32, ImportError> {
        match &o {
            Some(t) => t.i32(idx, field, d),
            None => Ok(d),
        }
    };
    let i8f = |idx: usize, field: &'static str, d: i8| -> Result<i8, ImportError> {
        match &o {
            Some(t) => t.i8(idx, field, d),
            None => Ok(d),
        }
    };
    Ok(match code {
        3 => OpKind::Conv2d(ConvOptions {
            padding: padding(i8f(0, "padding", 0)?, index, n)?,
            stride_w: positive(i32f(1, "stride_w", 0)?, "stride_w", index, n)?,
            stride_h: positive(i32f(2, "stride_h", 0)?, "stride_h", index, n)?,
            activation: activation(i8f(3, "fused_activation_function", 0)?, index, n)?,
            dilation_w: positive(
                i32f(4, "dilation_w_factor", 1)?,
                "dilation_w_factor",
                index,
                n,
            )?,
            dilation_h: positive(
                i32f(5, "dilation_h_factor", 1)?,
                "dilation_h_factor",
                index,
                n,
            )?,
        }),
        4 => OpKind::DepthwiseConv2d(DepthwiseOptions {
            padding: padding(i8f(0, "padding", 0)?, index, n)?,
            stride_w: positive(i32f(1, "stride_w", 0)?, "stride_w", index, n)?,
            stride_h: positive(i32f(2, "stride_h", 0)?, "stride_h", index, n)?,
            depth_multiplier: {
                let m = i32f(3, "depth_multiplier", 0)?;
                usize::try_from(m).map_err(|_| ImportError::BadOp {
                    index,
                    op: name.clone(),
                    reason: format!("depth_multiplier {m} is negative"),
                })?
            },
            activation: activation(i8f(4, "fused_activation_function", 0)?, index, n)?,
            dilation_w: positive(
                i32f(5, "dilation_w_factor", 1)?,
                "dilation_w_factor",
                index,
                n,
            )?,
            dilation_h: positive(
                i32f(6, "dilation_h_factor", 1)?,
                "dilation_h_factor",
                index,
                n,
            )?,
        }),
        9 => {
            let wf = i8f(1, "weights_format", 0)?;
            if wf != 0 {
                return Err(ImportError::BadOp {
                    index,
                    op: name,
                    reason: format!("weights_format {wf} (shuffled) is not supported"),
                });
            }
            OpKind::FullyConnected {
                activation: activation(i8f(0, "fused_activation_function", 0)?, index, n)?,
                keep_num_dims: i8f(2, "keep_num_dims", 0)? != 0,
            }
        }
        0 => OpKind::Add {
            activation: activation(i8f(0, "fused_activation_function", 0)?, index, n)?,
        },
        18 => OpKind::Mul {
            activation: activation(i8f(0, "fused_activation_function", 0)?, index, n)?,
        },
        1 | 17 => {
            let p = PoolOptions {
                padding: padding(i8f(0, "padding", 0)?, index, n)?,
                stride_w: positive(i32f(1, "stride_w", 0)?, "stride_w", index, n)?,
                stride_h: positive(i32f(2, "stride_h", 0)?, "stride_h", index, n)?,
                filter_w: positive(i32f(3, "filter_width", 0)?, "filter_width", index, n)?,
                filter_h: positive(i32f(4, "filter_height", 0)?, "filter_height", index, n)?,
                activation: activation(i8f(5, "fused_activation_function", 0)?, index, n)?,
            };
            if code == 1 {
                OpKind::AveragePool2d(p)
            } else {
                OpKind::MaxPool2d(p)
            }
        }
        22 => OpKind::Reshape,
        25 => {
            let beta = match &o {
                Some(t) => t.f32(0, "beta", 0.0)?,
                None => 0.0,
            };
            if !beta.is_finite() {
                return Err(ImportError::BadOp {
                    index,
                    op: name,
                    reason: format!("beta {beta} is not finite"),
                });
            }
            OpKind::Softmax { beta }
        }
        34 => OpKind::Pad,
        2 => OpKind::Concatenation {
            axis: i32f(0, "axis", 0)?,
            activation: activation(i8f(1, "fused_activation_function", 0)?, index, n)?,
        },
        40 => OpKind::Mean {
            keep_dims: i8f(0, "keep_dims", 0)? != 0,
        },
        74 => OpKind::Sum {
            keep_dims: i8f(0, "keep_dims", 0)? != 0,
        },
        114 => OpKind::Quantize,
        6 => OpKind::Dequantize,
        14 => OpKind::Logistic,
        28 => OpKind::Tanh,
        // Spatial and shape ops (issue 20).
        60 => OpKind::PadV2,
        45 => OpKind::StridedSlice(StridedSliceOptions {
            begin_mask: i32f(0, "begin_mask", 0)?,
            end_mask: i32f(1, "end_mask", 0)?,
            ellipsis_mask: i32f(2, "ellipsis_mask", 0)?,
            new_axis_mask: i32f(3, "new_axis_mask", 0)?,
            shrink_axis_mask: i32f(4, "shrink_axis_mask", 0)?,
            offset: i8f(5, "offset", 0)? != 0,
        }),
        39 => OpKind::Transpose,
        97 => OpKind::ResizeNearestNeighbor(ResizeOptions {
            align_corners: i8f(0, "align_corners", 0)? != 0,
            half_pixel_centers: i8f(1, "half_pixel_centers", 0)? != 0,
        }),
        // Fields 0 and 1 (new_height, new_width) are deprecated: the size input rules.
        23 => OpKind::ResizeBilinear(ResizeOptions {
            align_corners: i8f(2, "align_corners", 0)? != 0,
            half_pixel_centers: i8f(3, "half_pixel_centers", 0)? != 0,
        }),
        67 => OpKind::TransposeConv(TransposeConvOptions {
            padding: padding(i8f(0, "padding", 0)?, index, n)?,
            stride_w: positive(i32f(1, "stride_w", 0)?, "stride_w", index, n)?,
            stride_h: positive(i32f(2, "stride_h", 0)?, "stride_h", index, n)?,
            activation: activation(i8f(3, "fused_activation_function", 0)?, index, n)?,
        }),
        // Elementwise and activation ops of issue 20 (helper ops-ew).
        41 => OpKind::Sub {
            activation: activation(i8f(0, "fused_activation_function", 0)?, index, n)?,
        },
        19 => OpKind::Relu,
        21 => OpKind::Relu6,
        98 => {
            let alpha = match &o {
                Some(t) => t.f32(0, "alpha", 0.0)?,
                None => 0.0,
            };
            if !alpha.is_finite() {
                return Err(ImportError::BadOp {
                    index,
                    op: name,
                    reason: format!("alpha {alpha} is not finite"),
                });
            }
            OpKind::LeakyRelu { alpha }
        }
        117 => OpKind::HardSwish,
        43 => {
            let squeeze_dims = match &o {
                Some(t) => t.vec_i32(0, "squeeze_dims")?.unwrap_or_default(),
                None => Vec::new(),
            };
            if squeeze_dims.len() > MAX_RANK {
                return Err(ImportError::BadOp {
                    index,
                    op: name,
                    reason: format!(
                        "{} squeeze_dims, more than the maximum rank {MAX_RANK}",
                        squeeze_dims.len()
                    ),
                });
            }
            OpKind::Squeeze { squeeze_dims }
        }
        70 => OpKind::ExpandDims,
        32 => {
            return Err(ImportError::UnsupportedOp {
                index,
                op: format!("CUSTOM({custom})"),
                also: String::new(),
            })
        }
        _ => {
            return Err(ImportError::UnsupportedOp {
                index,
                op: name,
                also: String::new(),
            })
        }
    })
}

fn check_arity(op: &Op, index: usize) -> Result<(), ImportError> {
    let (min_in, max_in) = match op.kind {
        OpKind::Conv2d(_) | OpKind::DepthwiseConv2d(_) | OpKind::FullyConnected { .. } => (2, 3),
        OpKind::Add { .. }
        | OpKind::Mul { .. }
        | OpKind::Sub { .. }
        | OpKind::ExpandDims
        | OpKind::Pad
        | OpKind::Mean { .. }
        | OpKind::Sum { .. } => (2, 2),
        OpKind::Reshape => (1, 2),
        OpKind::Concatenation { .. } => (1, usize::MAX),
        OpKind::PadV2 => (2, 3),
        OpKind::StridedSlice(_) => (4, 4),
        OpKind::Transpose | OpKind::ResizeNearestNeighbor(_) | OpKind::ResizeBilinear(_) => (2, 2),
        OpKind::TransposeConv(_) => (3, 4),
        _ => (1, 1),
    };
    let bad = |reason: String| ImportError::BadOp {
        index,
        op: op.name().to_string(),
        reason,
    };
    let n = op.inputs.len();
    if n < min_in || n > max_in {
        return Err(bad(format!(
            "has {n} inputs, expected {min_in}..={}",
            max_in.min(1024)
        )));
    }
    // All but the optional bias (input 2 of conv/dw/fc) must be present.
    for (i, t) in op.inputs.iter().enumerate() {
        if t.is_none()
            && !(i == 2 && min_in == 2 && max_in == 3)
            && !(i == 3 && matches!(op.kind, OpKind::TransposeConv(_)))
            && !matches!(op.kind, OpKind::Reshape)
        {
            return Err(bad(format!("input {i} is missing")));
        }
    }
    if op.inputs.first().copied().flatten().is_none() {
        return Err(bad("input 0 is missing".into()));
    }
    if op.outputs.len() != 1 {
        return Err(bad(format!("has {} outputs, expected 1", op.outputs.len())));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_ops_are_exactly_the_imported_codes() {
        for code in 0..BUILTIN_NAMES.len() as i32 {
            let name = builtin_name(code);
            let r = op_kind(code, "", None, 0);
            let supported = !matches!(r, Err(ImportError::UnsupportedOp { .. }));
            assert_eq!(supported, SUPPORTED_OPS.contains(&name.as_str()), "{name}");
            if let Ok(k) = r {
                assert_eq!(k.name(), name);
            }
        }
    }

    #[test]
    fn text_and_images_are_recognised() {
        assert!(sniff(b"a,b,c\n1,2,3\n").contains("text"));
        assert!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR").contains("PNG"));
        assert_eq!(sniff(&[0u8, 1, 2, 200, 201, 3]), "");
        let e = parse(b"rows = 8\ncols = 8\n", "c").unwrap_err().to_string();
        assert!(
            e.starts_with("not a TFLite model: file identifier \" = 8\"") && e.contains("text"),
            "{e}"
        );
    }
}
