#!/usr/bin/env python3
"""Op goldens: small int8 and int16 (16x8) .tflite models written directly as flatbuffers,
run by TFLite-Micro's own interpreter (the `tflite-micro` Python package: its reference
kernels), on seeded random and extreme inputs of the model's input type. Writes tests/data/ops/<case>.tflite and
tests/data/ops/<case>.json (description, input and output bytes in hex of every run),
and the models tinyaccel must refuse at import to tests/data/import/; `tests/op_goldens.rs` runs every case through tinyaccel's
runtime (and the offloaded path) and compares bit for bit. The tests need no Python: the
fixtures are committed. Besides one-op cases (`cases_ew` and the MEAN/SUM cases) it writes
`mixed_NN`: seeded random models mixing the ops around an offloadable layer
(`mixed_models`; an op joins them with one entry in `MIXED_OPS`). A model TFLite-Micro
refuses but tinyaccel defines (a requantizing CONCATENATION) takes its outputs from the
equivalent graph in `Model.reference` (named in the JSON's `reference` field). Re-generate with

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tflite-micro numpy
    /tmp/venv/bin/python scripts/make_op_goldens.py            # writes tests/data/ops/

The same seed gives the same files (the models are deterministic, the inputs come from
numpy's PCG64 with a fixed seed per case).
"""

import argparse
import hashlib
import json
import os
import sys

import flatbuffers
import numpy as np
from tflite_micro.python.tflite_micro import runtime as tflm
from tflite_micro.python.tflite_micro import _version as tflm_version
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

INT8, INT32 = fb.TensorType.INT8, fb.TensorType.INT32
OP = fb.BuiltinOperator
OPT = fb.BuiltinOptions
RUNS = 5  # random runs per case; plus one all-minimum and one all-maximum input


class Model:
    """One subgraph; tensors, operators and buffers appended in order."""

    def __init__(self, description):
        self.description = description
        self.tensors, self.ops, self.codes, self.buffers = [], [], [], [fb.BufferT()]
        self.inputs, self.outputs = [], []
        self.more_subgraphs = []  # (tensors, ops, inputs, outputs) of subgraphs 1, 2, ...

    def subgraph(self):
        """Starts the next subgraph: later tensors and ops go there (operator codes and
        buffers are shared)."""
        self.more_subgraphs.append((self.tensors, self.ops, self.inputs, self.outputs))
        self.tensors, self.ops, self.inputs, self.outputs = [], [], [], []

    def tensor(self, name, shape, dtype=INT8, scale=None, zp=None, data=None, per_channel=None):
        t = fb.TensorT()
        t.name, t.shape, t.type = name, list(shape), dtype
        if scale is not None:
            q = fb.QuantizationParametersT()
            if per_channel is not None:
                q.scale = [float(s) for s in scale]
                q.zeroPoint = [int(z) for z in zp]
                q.quantizedDimension = per_channel
            else:
                q.scale, q.zeroPoint = [float(scale)], [int(zp)]
            t.quantization = q
        if data is not None:
            b = fb.BufferT()
            b.data = list(np.asarray(data).tobytes())
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code, inputs, outputs, opt_type=0, opt=None):
        if code not in self.codes:
            self.codes.append(code)
        o = fb.OperatorT()
        o.opcodeIndex = self.codes.index(code)
        o.inputs, o.outputs = list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = opt_type, opt
        self.ops.append(o)

    def bytes(self):
        m = fb.ModelT()
        m.version = 3
        m.description = self.description
        for c in self.codes:
            oc = fb.OperatorCodeT()
            oc.builtinCode = c
            oc.deprecatedBuiltinCode = min(c, 127)
            oc.version = 1
            m.operatorCodes = (m.operatorCodes or []) + [oc]
        m.subgraphs, m.buffers = [], self.buffers
        for tensors, ops, inputs, outputs in self.more_subgraphs + [
                (self.tensors, self.ops, self.inputs, self.outputs)]:
            sg = fb.SubGraphT()
            sg.tensors, sg.operators, sg.inputs, sg.outputs = tensors, ops, inputs, outputs
            m.subgraphs.append(sg)
        b = flatbuffers.Builder(1024)
        b.Finish(m.Pack(b), file_identifier=b"TFL3")
        return bytes(b.Output())


def reducer(m, code, x, in_shape, axes, keep, out_q, name):
    """Appends MEAN or SUM of tensor x over `axes`; returns the output tensor."""
    r = len(in_shape)
    red = {a % r for a in axes}
    out_shape = [1 if d in red else s for d, s in enumerate(in_shape) if keep or d not in red]
    a = m.tensor(name + "/axis", [len(axes)], INT32, data=np.array(axes, dtype="<i4"))
    y = m.tensor(name, out_shape, INT8, *out_q)
    opt = fb.ReducerOptionsT()
    opt.keepDims = keep
    m.op(code, [x, a], [y], OPT.ReducerOptions, opt)
    return y


def reduce_case(code, in_shape, axes, keep, in_q, out_q):
    m = Model(f"{'MEAN' if code == OP.MEAN else 'SUM'} over {axes} keep_dims={keep} "
              f"of {in_shape}, input (scale, zp) {in_q}, output {out_q}")
    x = m.tensor("x", in_shape, INT8, *in_q)
    y = reducer(m, code, x, in_shape, axes, keep, out_q, "y")
    m.inputs, m.outputs = [x], [y]
    return m


def conv_then_reduce(rng, code, axes, keep):
    """CONV_2D 3x3 SAME (per-channel int8 weights, offloadable) then MEAN/SUM."""
    h, w, ci, co = 6, 5, 4, 8
    m = Model(f"CONV_2D 3x3 then {'MEAN' if code == OP.MEAN else 'SUM'} over {axes} "
              f"keep_dims={keep}")
    in_q, conv_q = (0.05, -3), (0.11, 7)
    x = m.tensor("x", [1, h, w, ci], INT8, *in_q)
    wq = rng.uniform(0.002, 0.02, co)
    wt = m.tensor("w", [co, 3, 3, ci], INT8, wq, [0] * co,
                  data=rng.integers(-127, 128, (co, 3, 3, ci), dtype=np.int8), per_channel=0)
    bias = m.tensor("b", [co], INT32, [in_q[0] * s for s in wq], [0] * co,
                    data=rng.integers(-2000, 2000, co).astype("<i4"), per_channel=0)
    c = m.tensor("conv", [1, h, w, co], INT8, *conv_q)
    opt = fb.Conv2DOptionsT()
    opt.padding, opt.strideW, opt.strideH = fb.Padding.SAME, 1, 1
    opt.dilationWFactor = opt.dilationHFactor = 1
    opt.fusedActivationFunction = fb.ActivationFunctionType.RELU
    m.op(OP.CONV_2D, [x, wt, bias], [c], OPT.Conv2DOptions, opt)
    y = reducer(m, code, c, [1, h, w, co], axes, keep, (0.07, -11), "y")
    m.inputs, m.outputs = [x], [y]
    return m


def two_subgraphs(code):
    """Subgraph 0 reduces; subgraph 1 (never called: no control-flow op) is a RESHAPE.
    TFLite-Micro prepares both and invokes subgraph 0. (A MEAN or SUM in subgraph 1
    crashes the tflite-micro 0.dev20261023 interpreter while it is created, hence the
    RESHAPE.)"""
    m = Model("two subgraphs; subgraph 0 is MEAN over [1] of [1, 6, 10], subgraph 1 unused")
    x = m.tensor("x", [1, 6, 10], INT8, 0.04, -5)
    y = reducer(m, code, x, [1, 6, 10], [1], False, (0.03, 6), "y")
    m.inputs, m.outputs = [x], [y]
    m.subgraph()
    x = m.tensor("x1", [2, 3], INT8, 0.1, 0)
    shape = m.tensor("shape", [1], INT32, data=np.array([6], dtype="<i4"))
    y = m.tensor("y1", [6], INT8, 0.1, 0)
    m.op(OP.RESHAPE, [x, shape], [y])
    m.inputs, m.outputs = [x], [y]
    return m


def refused_models():
    """Models tinyaccel must refuse at import, by name (tests/data/import/)."""
    out = {}
    # Two unsupported ops (none of issue 20's list, which tinyaccel now runs): both are
    # named in one error.
    m = Model("SPACE_TO_DEPTH then ELU")
    x = m.tensor("x", [1, 4, 4, 2], INT8, 0.05, 0)
    p = m.tensor("p", [1, 2, 2, 8], INT8, 0.05, 0)
    opt = fb.SpaceToDepthOptionsT()
    opt.blockSize = 2
    m.op(OP.SPACE_TO_DEPTH, [x], [p], OPT.SpaceToDepthOptions, opt)
    h = m.tensor("h", [1, 2, 2, 8], INT8, 0.05, 0)
    m.op(OP.ELU, [p], [h])
    m.inputs, m.outputs = [x], [h]
    out["space_to_depth_elu"] = m
    # WHILE in subgraph 0 calling subgraphs 1 (cond) and 2 (body): control flow.
    m = Model("WHILE loop: subgraph 0 calls subgraphs 1 and 2")
    cond_sg, body_sg = 1, 2
    c_in = m.tensor("c_in", [1], INT32)
    lim = m.tensor("limit", [1], INT32, data=np.array([3], dtype="<i4"))
    c_out = m.tensor("c_out", [1], fb.TensorType.BOOL)
    m.op(OP.LESS, [c_in, lim], [c_out])
    m.inputs, m.outputs = [c_in], [c_out]
    cond = (m.tensors, m.ops, m.inputs, m.outputs)
    m.tensors, m.ops, m.inputs, m.outputs = [], [], [], []
    b_in = m.tensor("b_in", [1], INT32)
    one = m.tensor("one", [1], INT32, data=np.array([1], dtype="<i4"))
    b_out = m.tensor("b_out", [1], INT32)
    m.op(OP.ADD, [b_in, one], [b_out])
    m.inputs, m.outputs = [b_in], [b_out]
    body = (m.tensors, m.ops, m.inputs, m.outputs)
    m.tensors, m.ops, m.inputs, m.outputs = [], [], [], []
    x = m.tensor("x", [1], INT32)
    y = m.tensor("y", [1], INT32)
    opt = fb.WhileOptionsT()
    opt.condSubgraphIndex, opt.bodySubgraphIndex = cond_sg, body_sg
    m.op(OP.WHILE, [x], [y], OPT.WhileOptions, opt)
    m.inputs, m.outputs = [x], [y]
    main = (m.tensors, m.ops, m.inputs, m.outputs)
    m.more_subgraphs = [main, cond]
    m.tensors, m.ops, m.inputs, m.outputs = body
    out["while_loop"] = m
    out.update(refused_int16())
    return out


def refused_int16():
    """A bias-less 16x8 CONV_2D whose quantized_bias_type is INT32 (an int32 accumulator in
    TFLite-Micro): not implemented, refused at import."""
    rng = np.random.default_rng(161)
    m = conv_case(rng, "CONV_2D 16x8 without bias, quantized_bias_type INT32", [1, 4, 4, 2], 3,
                  (3, 3), in_q=(1e-3, 0), out_q=(1e-3, 0), dtype=INT16, bias_type=None,
                  quantized_bias_type=INT32)
    return {"conv16_no_bias_int32_accum": m}


# ---------------------------------------------------------------------------------------
# Elementwise and activation ops, and the existing ops' goldens (issue 20, helper ops-ew).
# ---------------------------------------------------------------------------------------
F32 = fb.TensorType.FLOAT32
ACT = fb.ActivationFunctionType
SOFTMAX_Q, LOGISTIC_Q, TANH_Q = (1 / 256, -128), (1 / 256, -128), (1 / 128, 0)


def _opts(kind, **fields):
    """(options type, options object) of a builtin with the given fields set."""
    o = getattr(fb, kind + "T")()
    for k, v in fields.items():
        setattr(o, k, v)
    return getattr(OPT, kind), o


def _rand_i8(rng, shape):
    """Random int8 constant data that includes both range ends."""
    d = rng.integers(-128, 128, shape, dtype=np.int8)
    flat = d.reshape(-1)
    if flat.size >= 2:
        flat[0], flat[-1] = -128, 127
    return d


def unary_case(code, shape, in_q, out_q, desc, opts=(0, None), in_type=INT8, out_type=INT8):
    m = Model(f"{desc} of {shape}, input (scale, zp) {in_q}, output {out_q}")
    x = m.tensor("x", shape, in_type, *(in_q or (None, None)))
    y = m.tensor("y", shape, out_type, *(out_q or (None, None)))
    m.op(code, [x], [y], *opts)
    m.inputs, m.outputs = [x], [y]
    return m


BINARY = {OP.ADD: "AddOptions", OP.SUB: "SubOptions", OP.MUL: "MulOptions"}


def binary_const_case(rng, code, shape, const_shape, qa, qb, qo, act=ACT.NONE, const_first=False):
    """x (op) a constant of `const_shape` (broadcast), or the constant (op) x."""
    name = fb.BuiltinOperator.__dict__
    opn = [k for k, v in name.items() if v == code][0]
    m = Model(f"{opn} of {shape} and a constant {const_shape}"
              f"{' (constant first)' if const_first else ''}, activation {act}, "
              f"quantization {qa}, {qb} -> {qo}")
    x = m.tensor("x", shape, INT8, *qa)
    c = m.tensor("c", const_shape, INT8, *qb, data=_rand_i8(rng, const_shape))
    out_shape = list(np.broadcast_shapes(tuple(shape), tuple(const_shape)))
    y = m.tensor("y", out_shape, INT8, *qo)
    m.op(code, [c, x] if const_first else [x, c], [y],
         *_opts(BINARY[code], fusedActivationFunction=act))
    m.inputs, m.outputs = [x], [y]
    return m


def binary_derived_case(code, shape, qa, qb, qo, act=ACT.NONE, mean_axes=None):
    """x (op) y, both variable: y is x requantized to `qb` (QUANTIZE int8 -> int8), or,
    with `mean_axes`, the MEAN of x over those axes kept as size-1 dims (broadcasting)."""
    opn = [k for k, v in fb.BuiltinOperator.__dict__.items() if v == code][0]
    m = Model(f"{opn} of {shape} and a {'MEAN' if mean_axes else 'requantized copy'} of it, "
              f"activation {act}, quantization {qa}, {qb} -> {qo}")
    x = m.tensor("x", shape, INT8, *qa)
    if mean_axes:
        y = reducer(m, OP.MEAN, x, shape, mean_axes, True, qb, "m")
        yshape = [1 if d in mean_axes else s for d, s in enumerate(shape)]
    else:
        y = m.tensor("q", shape, INT8, *qb)
        m.op(OP.QUANTIZE, [x], [y])
        yshape = shape
    out_shape = list(np.broadcast_shapes(tuple(shape), tuple(yshape)))
    z = m.tensor("z", out_shape, INT8, *qo)
    m.op(code, [x, y], [z], *_opts(BINARY[code], fusedActivationFunction=act))
    m.inputs, m.outputs = [x], [z]
    return m


def concat_case(rng, shapes, axis, qs, qo, requant_reference=False):
    """CONCATENATION of the input x (first shape) with constants (the other shapes).
    When any input is quantized unlike the output, TFLite-Micro refuses the model; its
    golden then comes from the equivalent graph a converter writes (QUANTIZE int8 -> int8
    of every such input, then the CONCATENATION), which `m.reference` holds."""
    r = len(shapes[0])
    ax = axis % r
    out_shape = list(shapes[0])
    out_shape[ax] = sum(s[ax] for s in shapes)
    consts = [_rand_i8(rng, s) for s in shapes[1:]]

    def build(requant):
        m = Model(f"CONCATENATION axis {axis} of {shapes}, input quantization {qs} -> {qo}"
                  + (" (reference: a QUANTIZE before each input quantized unlike the "
                     "output)" if requant else ""))
        x = m.tensor("x", shapes[0], INT8, *qs[0])
        ins = [x]
        ins += [m.tensor(f"c{i}", s, INT8, *q, data=d)
                for i, (s, q, d) in enumerate(zip(shapes[1:], qs[1:], consts))]
        if requant:
            for i, (t, q, s) in enumerate(zip(list(ins), qs, shapes)):
                if tuple(q) != tuple(qo):
                    rq = m.tensor(f"rq{i}", s, INT8, *qo)
                    m.op(OP.QUANTIZE, [t], [rq])
                    ins[i] = rq
        y = m.tensor("y", out_shape, INT8, *qo)
        m.op(OP.CONCATENATION, ins, [y], *_opts("ConcatenationOptions", axis=axis))
        m.inputs, m.outputs = [x], [y]
        return m

    m = build(False)
    if requant_reference:
        m.reference = build(True)
    return m


def concat_self_case(shape, axis, q):
    """CONCATENATION of x with itself and with a RELU of it quantized alike."""
    m = Model(f"CONCATENATION axis {axis} of x {shape}, RELU(x), x; quantization {q}")
    x = m.tensor("x", shape, INT8, *q)
    r = m.tensor("r", shape, INT8, *q)
    m.op(OP.RELU, [x], [r])
    out = list(shape)
    out[axis % len(shape)] *= 3
    y = m.tensor("y", out, INT8, *q)
    m.op(OP.CONCATENATION, [x, r, x], [y], *_opts("ConcatenationOptions", axis=axis))
    m.inputs, m.outputs = [x], [y]
    return m


def reshape_case(in_shape, out_shape, q, with_shape_tensor=True):
    m = Model(f"RESHAPE {in_shape} -> {out_shape}"
              f"{' (shape tensor)' if with_shape_tensor else ' (new_shape option)'}")
    x = m.tensor("x", in_shape, INT8, *q)
    y = m.tensor("y", out_shape, INT8, *q)
    if with_shape_tensor:
        s = m.tensor("shape", [len(out_shape)], INT32, data=np.array(out_shape, dtype="<i4"))
        m.op(OP.RESHAPE, [x, s], [y])
    else:
        m.op(OP.RESHAPE, [x], [y], *_opts("ReshapeOptions", newShape=list(out_shape)))
    m.inputs, m.outputs = [x], [y]
    return m


def squeeze_case(shape, dims, q):
    keep = [d for d, s in enumerate(shape)
            if not (s == 1 and (not dims or d in [v % len(shape) for v in dims]))]
    out = [shape[d] for d in keep]
    m = Model(f"SQUEEZE {shape} dims {dims} -> {out}")
    x = m.tensor("x", shape, INT8, *q)
    y = m.tensor("y", out, INT8, *q)
    m.op(OP.SQUEEZE, [x], [y], *_opts("SqueezeOptions", squeezeDims=list(dims) or None))
    m.inputs, m.outputs = [x], [y]
    return m


def expand_dims_case(shape, axis, q):
    out = list(shape)
    out.insert(axis if axis >= 0 else len(shape) + 1 + axis, 1)
    m = Model(f"EXPAND_DIMS {shape} axis {axis} -> {out}")
    x = m.tensor("x", shape, INT8, *q)
    a = m.tensor("axis", [1], INT32, data=np.array([axis], dtype="<i4"))
    y = m.tensor("y", out, INT8, *q)
    m.op(OP.EXPAND_DIMS, [x, a], [y], *_opts("ExpandDimsOptions"))
    m.inputs, m.outputs = [x], [y]
    return m


def cases_ew():
    """Goldens of SUB, RELU, RELU6, LEAKY_RELU, HARD_SWISH, SQUEEZE, EXPAND_DIMS,
    CONCATENATION (also requantizing) and of the existing ADD, MUL, LOGISTIC, TANH,
    SOFTMAX, QUANTIZE, DEQUANTIZE, RESHAPE: several shapes, zero points at the range ends,
    tiny and large scales."""
    rng = np.random.default_rng(2020)
    c = {}
    S4, S3 = [1, 4, 5, 8], [2, 3, 7]
    for code, n in [(OP.SUB, "sub"), (OP.ADD, "add"), (OP.MUL, "mul")]:
        c[f"{n}_same_shape"] = binary_derived_case(code, S4, (0.05, 3), (0.03, -10), (0.06, 2))
        c[f"{n}_bcast_channel"] = binary_const_case(rng, code, S4, [8], (0.05, -4), (0.02, 9), (0.07, 0))
        c[f"{n}_bcast_const_first"] = binary_const_case(rng, code, S3, [3, 1], (0.1, 0), (0.08, -1), (0.12, 5), const_first=True)
        c[f"{n}_bcast_both"] = binary_const_case(rng, code, [2, 1, 6], [1, 5, 1], (0.04, 1), (0.06, -2), (0.05, 3))
        c[f"{n}_bcast_mean"] = binary_derived_case(code, [1, 3, 4, 6], (0.05, -3), (0.05, 2), (0.09, -1), mean_axes=[1, 2])
        c[f"{n}_relu"] = binary_const_case(rng, code, S4, [1, 1, 1, 8], (0.05, 10), (0.05, -10), (0.05, -20), act=ACT.RELU)
        c[f"{n}_relu6"] = binary_derived_case(code, [1, 6, 6, 3], (0.06, 0), (0.04, 0), (0.03, -128), act=ACT.RELU6)
        c[f"{n}_zp_ends"] = binary_derived_case(code, [3, 4, 5], (0.05, -128), (0.05, 127), (0.1, 127))
        c[f"{n}_zp_ends_rev"] = binary_const_case(rng, code, [3, 4, 5], [5], (0.02, 127), (0.03, -128), (0.04, -128))
        c[f"{n}_tiny_scales"] = binary_const_case(rng, code, [2, 9], [9], (1e-5, 0), (2e-5, -7), (3e-4, 1))
        c[f"{n}_large_ratio"] = binary_const_case(rng, code, [2, 9], [1], (2.0, 0), (0.001, 5), (0.05, -3))
    # RELU: rescales and clamps at the output zero point.
    c["relu_same_q"] = unary_case(OP.RELU, S4, (0.05, -5), (0.05, -5), "RELU")
    c["relu_requant"] = unary_case(OP.RELU, S3, (0.1, 20), (0.04, -100), "RELU")
    c["relu_zp_ends"] = unary_case(OP.RELU, [1, 16, 3], (0.02, 127), (0.03, -128), "RELU")
    c["relu_zp_ends_rev"] = unary_case(OP.RELU, [1, 16, 3], (0.02, -128), (0.01, 127), "RELU")
    c["relu_large_ratio"] = unary_case(OP.RELU, [4, 8], (3.0, 0), (0.01, -128), "RELU")
    c["relu_tiny_ratio"] = unary_case(OP.RELU, [4, 8], (1e-5, 3), (0.5, 0), "RELU")
    # RELU6: TFLite-Micro clamps to the input's quantized [0, 6] (the output's
    # quantization is not applied).
    c["relu6_same_q"] = unary_case(OP.RELU6, S4, (0.05, -100), (0.05, -100), "RELU6")
    c["relu6_other_out_q"] = unary_case(OP.RELU6, S3, (0.03, 0), (0.1, 50), "RELU6")
    c["relu6_zp_ends"] = unary_case(OP.RELU6, [2, 40], (0.1, 127), (0.1, 127), "RELU6")
    c["relu6_tiny_scale"] = unary_case(OP.RELU6, [2, 40], (1e-4, -128), (1e-4, -128), "RELU6")
    c["relu6_large_scale"] = unary_case(OP.RELU6, [2, 40], (4.0, 3), (4.0, 3), "RELU6")
    # LEAKY_RELU: alpha below and above 1, negative, 0.
    for name, alpha, shape, iq, oq in [
            ("leaky_relu_0_2", 0.2, S4, (0.05, 3), (0.04, -20)),
            ("leaky_relu_0_01", 0.01, S3, (0.1, -10), (0.1, -10)),
            ("leaky_relu_alpha_1_5", 1.5, [3, 11], (0.02, 0), (0.05, 60)),
            ("leaky_relu_alpha_neg", -0.5, [3, 11], (0.05, 10), (0.03, -60)),
            ("leaky_relu_alpha_0", 0.0, [3, 11], (0.05, 10), (0.03, -1)),
            ("leaky_relu_zp_ends", 0.3, [1, 5, 5, 4], (0.04, -128), (0.02, 127)),
            ("leaky_relu_zp_ends_rev", 0.3, [1, 5, 5, 4], (0.04, 127), (0.05, -128)),
            ("leaky_relu_tiny_scale", 0.1, [6, 7], (1e-5, 0), (2e-3, 0)),
            ("leaky_relu_large_ratio", 0.1, [6, 7], (2.0, 0), (0.01, 0))]:
        c[name] = unary_case(OP.LEAKY_RELU, shape, iq, oq, f"LEAKY_RELU alpha {alpha}",
                             _opts("LeakyReluOptions", alpha=alpha))
    # HARD_SWISH: the reluish multiplier shifts left (input scale above 3/256) or right.
    for name, shape, iq, oq in [
            ("hard_swish_typical", S4, (0.05, 3), (0.035, -40)),
            ("hard_swish_small_in", S3, (0.005, -10), (0.004, -70)),
            ("hard_swish_zp_ends", [1, 4, 4, 8], (0.06, -128), (0.05, 127)),
            ("hard_swish_zp_ends_rev", [1, 4, 4, 8], (0.06, 127), (0.05, -128)),
            ("hard_swish_tiny_in", [4, 16], (1e-4, 0), (0.5, 0)),
            ("hard_swish_large_in", [4, 16], (1.5, 0), (0.1, -100)),
            ("hard_swish_same_q", [4, 16], (0.04, -20), (0.04, -20))]:
        c[name] = unary_case(OP.HARD_SWISH, shape, iq, oq, "HARD_SWISH", _opts("HardSwishOptions"))
    # LOGISTIC, TANH, SOFTMAX: fixed output quantization.
    for name, code, oq, shape, iq in [
            ("logistic_typical", OP.LOGISTIC, LOGISTIC_Q, S4, (0.05, 3)),
            ("logistic_zp_ends", OP.LOGISTIC, LOGISTIC_Q, [3, 21], (0.1, -128)),
            ("logistic_zp_ends_rev", OP.LOGISTIC, LOGISTIC_Q, [3, 21], (0.1, 127)),
            ("logistic_tiny_scale", OP.LOGISTIC, LOGISTIC_Q, [3, 21], (1e-4, 0)),
            ("logistic_large_scale", OP.LOGISTIC, LOGISTIC_Q, [3, 21], (2.0, 0)),
            ("tanh_typical", OP.TANH, TANH_Q, S4, (0.05, 3)),
            ("tanh_zp_ends", OP.TANH, TANH_Q, [3, 21], (0.02, -128)),
            ("tanh_zp_ends_rev", OP.TANH, TANH_Q, [3, 21], (0.02, 127)),
            ("tanh_tiny_scale", OP.TANH, TANH_Q, [3, 21], (1e-4, 0)),
            ("tanh_large_scale", OP.TANH, TANH_Q, [3, 21], (2.0, -5))]:
        c[name] = unary_case(code, shape, iq, oq, name.split("_")[0].upper())
    for name, shape, iq, beta in [
            ("softmax_10", [1, 10], (0.1, -5), 1.0),
            ("softmax_rows", S3, (0.05, 0), 1.0),
            ("softmax_beta", [4, 12], (0.08, 10), 0.5),
            ("softmax_zp_ends", [2, 33], (0.06, -128), 1.0),
            ("softmax_zp_ends_rev", [2, 33], (0.06, 127), 1.0),
            ("softmax_tiny_scale", [2, 33], (1e-4, 0), 1.0),
            ("softmax_large_scale", [2, 33], (1.0, 0), 1.0)]:
        c[name] = unary_case(OP.SOFTMAX, shape, iq, SOFTMAX_Q, f"SOFTMAX beta {beta}",
                             _opts("SoftmaxOptions", beta=beta))
    # QUANTIZE float32 -> int8 and int8 -> int8, DEQUANTIZE int8 -> float32.
    for name, shape, oq in [("quantize_f32", S4, (0.05, 3)),
                            ("quantize_f32_zp_ends", [3, 17], (0.02, -128)),
                            ("quantize_f32_zp_ends_rev", [3, 17], (0.02, 127)),
                            ("quantize_f32_tiny_scale", [3, 17], (1e-4, 0)),
                            ("quantize_f32_large_scale", [3, 17], (50.0, -3))]:
        c[name] = unary_case(OP.QUANTIZE, shape, None, oq, "QUANTIZE float32 -> int8", in_type=F32)
    for name, shape, iq, oq in [("quantize_i8", S4, (0.05, 3), (0.08, -9)),
                                ("quantize_i8_zp_ends", [3, 17], (0.02, -128), (0.03, 127)),
                                ("quantize_i8_zp_ends_rev", [3, 17], (0.02, 127), (0.01, -128)),
                                ("quantize_i8_tiny_ratio", [3, 17], (1e-5, 0), (0.3, 0)),
                                ("quantize_i8_large_ratio", [3, 17], (3.0, 1), (0.01, -2))]:
        c[name] = unary_case(OP.QUANTIZE, shape, iq, oq, "QUANTIZE int8 -> int8")
    for name, shape, iq in [("dequantize", S4, (0.05, 3)),
                            ("dequantize_zp_ends", [3, 17], (0.02, -128)),
                            ("dequantize_zp_ends_rev", [3, 17], (0.02, 127)),
                            ("dequantize_tiny_scale", [3, 17], (1e-6, 1)),
                            ("dequantize_large_scale", [3, 17], (1234.5, -1))]:
        c[name] = unary_case(OP.DEQUANTIZE, shape, iq, None, "DEQUANTIZE int8 -> float32", out_type=F32)
    # RESHAPE, SQUEEZE, EXPAND_DIMS: byte copies.
    c["reshape_flatten"] = reshape_case(S4, [1, 160], (0.05, -128))
    c["reshape_rank3"] = reshape_case([2, 12], [2, 3, 4], (0.1, 127), with_shape_tensor=False)
    c["reshape_rank1"] = reshape_case([1, 3, 3, 2], [18], (0.02, 0))
    c["squeeze_all"] = squeeze_case([1, 4, 1, 6], [], (0.05, 3))
    c["squeeze_dim2"] = squeeze_case([1, 4, 1, 6], [2], (0.05, -128))
    c["squeeze_neg"] = squeeze_case([1, 1, 1, 10], [-2, 0], (0.1, 127))
    c["expand_dims_0"] = expand_dims_case([4, 6], 0, (0.05, 3))
    c["expand_dims_last"] = expand_dims_case([1, 4, 6], -1, (0.05, -128))
    c["expand_dims_mid"] = expand_dims_case([2, 3, 5], 2, (0.1, 127))
    # CONCATENATION: quantized alike (a copy), and requantizing.
    c["concatenation_self_channels"] = concat_self_case([1, 3, 3, 4], 3, (0.05, -3))
    c["concatenation_self_rows"] = concat_self_case([2, 5], 0, (0.1, 127))
    c["concatenation_const_neg_axis"] = concat_case(rng, [[1, 3, 4], [1, 3, 2]], -1, [(0.05, 1)] * 2, (0.05, 1))
    c["concatenation_requant"] = concat_case(rng, [[1, 4, 4, 3], [1, 4, 4, 5]], 3, [(0.05, -3), (0.1, 20)], (0.08, 0), True)
    c["concatenation_requant_axis1"] = concat_case(rng, [[2, 3, 6], [2, 2, 6], [2, 4, 6]], 1, [(0.02, 10), (0.02, 10), (0.3, -128)], (0.04, -50), True)
    c["concatenation_requant_zp_ends"] = concat_case(rng, [[3, 7], [3, 5]], 1, [(0.05, -128), (0.07, 127)], (0.06, 127), True)
    c["concatenation_requant_tiny"] = concat_case(rng, [[3, 7], [3, 5]], -1, [(1e-5, 0), (2.0, -1)], (0.01, 0), True)
    return c


# ---------------------------------------------------------------------------------------
# Mixed models (issue 20 "Done when"): seeded random chains with skip connections of the
# op zoo, each with at least one offloadable layer (CONV_2D, DEPTHWISE_CONV_2D or
# FULLY_CONNECTED). An op joins the zoo with one entry in MIXED_OPS.
# ---------------------------------------------------------------------------------------
class Cur:
    """The running activation: tensor index, shape, (scale, zero point), and a rough
    estimate of the standard deviation of its real values (to pick output scales that
    keep the int8 values spread rather than saturated)."""

    def __init__(self, t, shape, q, std):
        self.t, self.shape, self.q, self.std = t, list(shape), q, float(std)


def _rq(rng, std):
    """A random per-tensor quantization for real values of about `std` (3 std about 120
    steps, times a random factor in [0.5, 2]); zero points sometimes at the range ends."""
    zp = int(rng.choice([-128, 127])) if rng.random() < 0.1 else int(rng.integers(-60, 61))
    return (float(std / 40 * np.exp(rng.uniform(np.log(0.5), np.log(2)))), zp)


def _std(q):
    """Std of uniformly random int8 values on quantization q."""
    return q[0] * 74


def _act(rng):
    return int(rng.choice([ACT.NONE, ACT.NONE, ACT.RELU, ACT.RELU6]))


def _conv(m, rng, cur, pool):
    n, h, w, ci = cur.shape
    k = int(rng.choice([1, 3])) if min(h, w) >= 3 else 1
    stride = int(rng.choice([1, 1, 2]))
    pad = int(rng.choice([fb.Padding.SAME, fb.Padding.VALID]))
    co = int(rng.integers(2, 13))
    if pad == fb.Padding.SAME:
        oh, ow = -(-h // stride), -(-w // stride)
    else:
        oh, ow = (h - k) // stride + 1, (w - k) // stride + 1
    wq = rng.uniform(0.002, 0.02, co)
    wt = m.tensor(f"w{len(m.ops)}", [co, k, k, ci], INT8, wq, [0] * co,
                  data=rng.integers(-127, 128, (co, k, k, ci), dtype=np.int8), per_channel=0)
    b = m.tensor(f"b{len(m.ops)}", [co], INT32, [cur.q[0] * x for x in wq], [0] * co,
                 data=rng.integers(-3000, 3000, co).astype("<i4"), per_channel=0)
    std = cur.std * 0.011 * 73 * np.sqrt(k * k * ci)
    q = _rq(rng, std)
    y = m.tensor(f"conv{len(m.ops)}", [n, oh, ow, co], INT8, *q)
    m.op(OP.CONV_2D, [cur.t, wt, b], [y], *_opts(
        "Conv2DOptions", padding=pad, strideW=stride, strideH=stride, dilationWFactor=1,
        dilationHFactor=1, fusedActivationFunction=_act(rng)))
    return Cur(y, [n, oh, ow, co], q, std)


def _dw(m, rng, cur, pool):
    n, h, w, ci = cur.shape
    mult = int(rng.choice([1, 1, 2]))
    co = ci * mult
    wq = rng.uniform(0.005, 0.03, co)
    wt = m.tensor(f"w{len(m.ops)}", [1, 3, 3, co], INT8, wq, [0] * co,
                  data=rng.integers(-127, 128, (1, 3, 3, co), dtype=np.int8), per_channel=3)
    b = m.tensor(f"b{len(m.ops)}", [co], INT32, [cur.q[0] * x for x in wq], [0] * co,
                 data=rng.integers(-2000, 2000, co).astype("<i4"), per_channel=0)
    std = cur.std * 0.0175 * 73 * 3
    q = _rq(rng, std)
    y = m.tensor(f"dw{len(m.ops)}", [n, h, w, co], INT8, *q)
    m.op(OP.DEPTHWISE_CONV_2D, [cur.t, wt, b], [y], *_opts(
        "DepthwiseConv2DOptions", padding=fb.Padding.SAME, strideW=1, strideH=1,
        depthMultiplier=mult, dilationWFactor=1, dilationHFactor=1,
        fusedActivationFunction=_act(rng)))
    return Cur(y, [n, h, w, co], q, std)


def _fc(m, rng, cur, pool):
    depth = cur.shape[-1] if len(cur.shape) == 2 else int(np.prod(cur.shape))
    batch = int(np.prod(cur.shape)) // depth
    units = int(rng.integers(3, 17))
    wt = m.tensor(f"w{len(m.ops)}", [units, depth], INT8, float(rng.uniform(0.002, 0.02)), 0,
                  data=rng.integers(-127, 128, (units, depth), dtype=np.int8))
    ws = m.tensors[wt].quantization.scale[0]
    b = m.tensor(f"b{len(m.ops)}", [units], INT32, cur.q[0] * ws, 0,
                 data=rng.integers(-3000, 3000, units).astype("<i4"))
    std = cur.std * ws * 73 * np.sqrt(depth)
    q = _rq(rng, std)
    y = m.tensor(f"fc{len(m.ops)}", [batch, units], INT8, *q)
    m.op(OP.FULLY_CONNECTED, [cur.t, wt, b], [y], *_opts(
        "FullyConnectedOptions", fusedActivationFunction=_act(rng)))
    return Cur(y, [batch, units], q, std)


def _unary(code, out_q=None, opts=None):
    def build(m, rng, cur, pool):
        q = out_q or _rq(rng, cur.std)
        if code == OP.RELU6:
            q = cur.q  # TFLite-Micro's RELU6 leaves the bytes on the input's quantization
        if code == OP.HARD_SWISH:
            q = (max(q[0], cur.q[0] / 100), q[1])  # its output multiplier must be < 1
        y = m.tensor(f"t{len(m.ops)}", cur.shape, INT8, *q)
        o = opts(rng) if opts else (0, None)
        m.op(code, [cur.t], [y], *o)
        return Cur(y, cur.shape, q, _std(q) if out_q else cur.std)
    return build


def _binary(code):
    def build(m, rng, cur, pool):
        same = [p for p in pool if p.shape == cur.shape and p.t != cur.t]
        if same and rng.random() < 0.7:
            o = same[int(rng.integers(len(same)))]  # a skip connection
            other, other_std = o.t, o.std
        else:
            cs = [cur.shape[-1]] if rng.random() < 0.5 else [1] * (len(cur.shape) - 1) + [cur.shape[-1]]
            cq = _rq(rng, cur.std if code != OP.MUL else 1.0)
            other, other_std = m.tensor(f"c{len(m.ops)}", cs, INT8, *cq, data=_rand_i8(rng, cs)), _std(cq)
        std = cur.std * other_std if code == OP.MUL else float(np.hypot(cur.std, other_std))
        q = _rq(rng, std)
        ins = [cur.t, other] if rng.random() < 0.7 else [other, cur.t]
        y = m.tensor(f"t{len(m.ops)}", cur.shape, INT8, *q)
        m.op(code, ins, [y], *_opts(BINARY[code], fusedActivationFunction=_act(rng)))
        return Cur(y, cur.shape, q, std)
    return build


def _pool(code):
    def build(m, rng, cur, pool):
        n, h, w, c = cur.shape
        y = m.tensor(f"pool{len(m.ops)}", [n, h // 2, w // 2, c], INT8, *cur.q)
        m.op(code, [cur.t], [y], *_opts("Pool2DOptions", padding=fb.Padding.VALID, strideW=2,
                                         strideH=2, filterWidth=2, filterHeight=2))
        return Cur(y, [n, h // 2, w // 2, c], cur.q, cur.std)
    return build


def _pad(m, rng, cur, pool):
    n, h, w, c = cur.shape
    p = m.tensor(f"pads{len(m.ops)}", [4, 2], INT32,
                 data=np.array([0, 0, 1, 0, 0, 1, 0, 0], dtype="<i4"))
    y = m.tensor(f"pad{len(m.ops)}", [n, h + 1, w + 1, c], INT8, *cur.q)
    m.op(OP.PAD, [cur.t, p], [y])
    return Cur(y, [n, h + 1, w + 1, c], cur.q, cur.std)


def _mean(m, rng, cur, pool):
    q = _rq(rng, cur.std / 2)
    y = reducer(m, OP.MEAN, cur.t, cur.shape, [1, 2], True, q, f"mean{len(m.ops)}")
    return Cur(y, [cur.shape[0], 1, 1, cur.shape[3]], q, cur.std / 2)


def _concat(m, rng, cur, pool):
    alike = [p for p in pool if p.shape == cur.shape and p.q == cur.q]
    other = alike[int(rng.integers(len(alike)))].t if alike else cur.t
    shape = cur.shape[:-1] + [cur.shape[-1] * 2]
    y = m.tensor(f"cat{len(m.ops)}", shape, INT8, *cur.q)
    m.op(OP.CONCATENATION, [cur.t, other], [y], *_opts("ConcatenationOptions", axis=-1))
    return Cur(y, shape, cur.q, cur.std)


def _requantize(m, rng, cur, pool):
    q = _rq(rng, cur.std)
    y = m.tensor(f"rq{len(m.ops)}", cur.shape, INT8, *q)
    m.op(OP.QUANTIZE, [cur.t], [y])
    return Cur(y, cur.shape, q, cur.std)


def _flatten(m, rng, cur, pool):
    shape = [cur.shape[0], int(np.prod(cur.shape[1:]))]
    s = m.tensor(f"shape{len(m.ops)}", [2], INT32, data=np.array(shape, dtype="<i4"))
    y = m.tensor(f"flat{len(m.ops)}", shape, INT8, *cur.q)
    m.op(OP.RESHAPE, [cur.t, s], [y])
    return Cur(y, shape, cur.q, cur.std)


def _expand_squeeze(m, rng, cur, pool):
    a = m.tensor(f"axis{len(m.ops)}", [1], INT32, data=np.array([0], dtype="<i4"))
    e = m.tensor(f"exp{len(m.ops)}", [1] + cur.shape, INT8, *cur.q)
    m.op(OP.EXPAND_DIMS, [cur.t, a], [e], *_opts("ExpandDimsOptions"))
    y = m.tensor(f"sq{len(m.ops)}", cur.shape, INT8, *cur.q)
    m.op(OP.SQUEEZE, [e], [y], *_opts("SqueezeOptions", squeezeDims=[0]))
    return Cur(y, cur.shape, cur.q, cur.std)


def _is4(c):
    return len(c.shape) == 4


# name -> (applicable to the running activation, builder, counts as an offloadable layer).
MIXED_OPS = {
    "CONV_2D": (_is4, _conv, True),
    "DEPTHWISE_CONV_2D": (_is4, _dw, True),
    "FULLY_CONNECTED": (lambda c: int(np.prod(c.shape)) <= 512, _fc, True),
    "AVERAGE_POOL_2D": (lambda c: _is4(c) and min(c.shape[1:3]) >= 2, _pool(OP.AVERAGE_POOL_2D), False),
    "MAX_POOL_2D": (lambda c: _is4(c) and min(c.shape[1:3]) >= 2, _pool(OP.MAX_POOL_2D), False),
    "PAD": (lambda c: _is4(c) and max(c.shape[1:3]) <= 8, _pad, False),
    "MEAN": (_is4, _mean, False),
    "ADD": (lambda c: True, _binary(OP.ADD), False),
    "SUB": (lambda c: True, _binary(OP.SUB), False),
    "MUL": (lambda c: True, _binary(OP.MUL), False),
    "RELU": (lambda c: True, _unary(OP.RELU), False),
    "RELU6": (lambda c: True, _unary(OP.RELU6), False),
    "LEAKY_RELU": (lambda c: True, _unary(OP.LEAKY_RELU, opts=lambda r: _opts(
        "LeakyReluOptions", alpha=float(r.choice([0.1, 0.2, 0.3])))), False),
    "HARD_SWISH": (lambda c: True, _unary(OP.HARD_SWISH, opts=lambda r: _opts("HardSwishOptions")), False),
    "LOGISTIC": (lambda c: True, _unary(OP.LOGISTIC, LOGISTIC_Q), False),
    "TANH": (lambda c: True, _unary(OP.TANH, TANH_Q), False),
    "SOFTMAX": (lambda c: True, _unary(OP.SOFTMAX, SOFTMAX_Q, lambda r: _opts("SoftmaxOptions", beta=1.0)), False),
    "QUANTIZE": (lambda c: True, _requantize, False),
    "CONCATENATION": (lambda c: c.shape[-1] <= 16, _concat, False),
    "RESHAPE": (lambda c: len(c.shape) > 2, _flatten, False),
    "EXPAND_DIMS+SQUEEZE": (lambda c: len(c.shape) < 8, _expand_squeeze, False),
}
MIXED_COUNT = 32


def _mixed_model(i, seed):
    rng = np.random.default_rng(seed)
    shape = [1, int(rng.integers(3, 9)), int(rng.integers(3, 9)), int(rng.integers(1, 9))]
    m = Model("")
    xq = (float(rng.uniform(0.5, 4.0)) / 74, int(rng.integers(-60, 61)))
    x = m.tensor("x", shape, INT8, *xq)
    cur = Cur(x, shape, xq, _std(xq))
    pool, names = [cur], []
    offload = [k for k, v in MIXED_OPS.items() if v[2]]
    first = offload[int(rng.integers(len(offload)))] if i % 4 else "CONV_2D"
    for name in [first] + [None] * int(rng.integers(3, 9)):
        if name is None:
            fits = [k for k, v in MIXED_OPS.items() if v[0](cur)]
            name = fits[int(rng.integers(len(fits)))]
        cur = MIXED_OPS[name][1](m, rng, cur, pool)
        pool.append(cur)
        names.append(name)
    out_t = cur.t
    if rng.random() < 0.25:
        out_t = m.tensor("dequantized", cur.shape, F32)
        m.op(OP.DEQUANTIZE, [cur.t], [out_t])
        names.append("DEQUANTIZE")
    m.inputs, m.outputs = [x], [out_t]
    m.description = f"mixed model {i} (seed {seed}), input {shape}: " + " -> ".join(names)
    return m, shape


def _informative(m, shape, seed):
    """Whether the model's output varies with its input: at least 4 of 5 random inputs
    give different outputs, with at least 4 distinct values and at most half of the int8
    bytes saturated."""
    rng = np.random.default_rng(seed)
    outs = run_tflm(m.bytes(), [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(5)])
    raw = [o.tobytes() for o in outs]
    if len(set(raw)) < 4:
        return False
    values = np.concatenate([o.reshape(-1) for o in outs])
    if len(set(values.tolist())) < 4:
        return False
    return values.dtype != np.int8 or np.isin(values, [-128, 127]).mean() <= 0.5


def mixed_models():
    """MIXED_COUNT models, mixed_00 .. mixed_NN: a random first offloadable layer (CONV_2D
    for every fourth), then 3 to 8 random ops of MIXED_OPS that fit the running shape
    (with skip connections to earlier tensors of the same shape), a quarter ending in
    DEQUANTIZE. A model whose output hardly depends on its input (saturated or constant
    through the random quantizations) is drawn again with the next seed."""
    out = {}
    for i in range(MIXED_COUNT):
        for attempt in range(100):
            seed = 1000 + 100 * i + attempt
            m, shape = _mixed_model(i, seed)
            if _informative(m, shape, seed):
                break
        else:
            raise SystemExit(f"mixed model {i}: no informative model in 100 seeds")
        out[f"mixed_{i:02}"] = m
    return out

def cases():
    rng = np.random.default_rng(20)
    MEAN, SUM = OP.MEAN, OP.SUM
    c = {}
    # MEAN: the shapes of TinyML models (global average pooling, one axis of a sequence),
    # every axis set and keep_dims, quantization equal / different / extreme.
    c["mean_hw_keep_same_q"] = reduce_case(MEAN, [1, 4, 5, 8], [1, 2], True, (0.05, 3), (0.05, 3))
    c["mean_hw_keep"] = reduce_case(MEAN, [1, 4, 5, 8], [1, 2], True, (0.05, 3), (0.04, -7))
    c["mean_hw_nokeep"] = reduce_case(MEAN, [1, 7, 9, 6], [2, 1], False, (0.1, -20), (0.03, 10))
    c["mean_axis1_131"] = reduce_case(MEAN, [1, 5, 131], [1], False, (0.0235, -4), (0.0191, 2))
    c["mean_axis1_131_same_q"] = reduce_case(MEAN, [1, 5, 131], [1], False, (0.02, -4), (0.02, -4))
    c["mean_last_axis_neg"] = reduce_case(MEAN, [2, 3, 17], [-1], True, (0.3, 0), (0.25, 1))
    c["mean_axis0"] = reduce_case(MEAN, [6, 4, 3], [0], False, (0.12, 5), (0.08, -2))
    c["mean_axes_0_2"] = reduce_case(MEAN, [3, 4, 5], [0, 2], True, (0.5, -1), (0.45, 0))
    c["mean_all_scalar"] = reduce_case(MEAN, [2, 3, 4, 5], [0, 1, 2, 3], False, (0.02, 1), (0.01, -3))
    c["mean_dup_axes"] = reduce_case(MEAN, [1, 6, 6, 3], [1, 1, 2], True, (0.06, 0), (0.05, 0))
    c["mean_size1_axis"] = reduce_case(MEAN, [1, 1, 9, 4], [1], True, (0.04, 2), (0.1, -5))
    c["mean_rank2"] = reduce_case(MEAN, [10, 13], [1], False, (0.01, 0), (0.011, 0))
    c["mean_zp_ends"] = reduce_case(MEAN, [1, 3, 3, 16], [1, 2], True, (0.05, -128), (0.05, 127))
    c["mean_zp_ends_rev"] = reduce_case(MEAN, [1, 3, 3, 16], [1, 2], False, (0.05, 127), (0.07, -128))
    c["mean_tiny_ratio"] = reduce_case(MEAN, [1, 8, 8, 4], [1, 2], True, (1e-4, 0), (0.5, 0))
    c["mean_tiny_ratio_zp"] = reduce_case(MEAN, [1, 4, 4, 4], [1, 2], True, (2e-5, -100), (0.2, 100))
    c["mean_large_ratio"] = reduce_case(MEAN, [1, 4, 4, 4], [1, 2], True, (3.0, 0), (0.01, 0))
    c["mean_huge_ratio"] = reduce_case(MEAN, [1, 2, 3, 4], [2], False, (5000.0, 2), (1e-3, -1))
    c["mean_large_count"] = reduce_case(MEAN, [1, 24, 20, 2], [1, 2], False, (0.05, -9), (0.06, 4))
    c["mean_pow2_count"] = reduce_case(MEAN, [1, 8, 4, 3], [1, 2], True, (0.08, 0), (0.02, 0))
    # SUM: the same reduction without the division.
    c["sum_hw_keep"] = reduce_case(SUM, [1, 4, 5, 8], [1, 2], True, (0.01, 3), (0.2, -7))
    c["sum_axis1_131"] = reduce_case(SUM, [1, 5, 131], [1], False, (0.0235, -4), (0.09, 2))
    c["sum_same_q"] = reduce_case(SUM, [2, 3, 7], [2], True, (0.05, 0), (0.05, 0))
    c["sum_last_axis_neg"] = reduce_case(SUM, [3, 4, 6], [-1, 0], False, (0.02, 10), (0.3, -20))
    c["sum_all_scalar"] = reduce_case(SUM, [4, 5], [0, 1], False, (0.01, -1), (0.5, 0))
    c["sum_zp_ends"] = reduce_case(SUM, [1, 3, 3, 8], [1, 2], True, (0.01, -128), (0.4, 127))
    c["sum_tiny_ratio"] = reduce_case(SUM, [1, 6, 6, 2], [1, 2], True, (1e-5, 5), (0.3, 0))
    c["sum_large_ratio"] = reduce_case(SUM, [1, 2, 2, 3], [1], False, (40.0, 0), (0.02, 0))
    # Mixed with an offloadable layer (the accelerator runs the conv, the CPU the reduction).
    c["conv_mean_hw"] = conv_then_reduce(rng, MEAN, [1, 2], True)
    c["conv_sum_w"] = conv_then_reduce(rng, SUM, [2], False)
    # Several subgraphs, only subgraph 0 used.
    c["two_subgraphs_mean"] = two_subgraphs(MEAN)
    c.update(cases_spatial())
    c.update(cases_int16())
    # The float32 inputs of these cases are spread over each model's quantized range.
    ew = cases_ew()
    ew.update(mixed_models())
    for m in ew.values():
        m.scaled_float_inputs = True
    c.update(ew)
    return c


# ---- Spatial and shape ops (issue 20, helper "ops-spatial"): PAD, PADV2, MAX_POOL_2D,
# AVERAGE_POOL_2D, STRIDED_SLICE, TRANSPOSE, RESIZE_NEAREST_NEIGHBOR, RESIZE_BILINEAR,
# TRANSPOSE_CONV.

ACT = fb.ActivationFunctionType


def one_op(description, code, in_shape, in_q, out_shape, out_q, consts=(), opt_type=0, opt=None,
           x_index=0):
    """One op whose input `x_index` is the graph input; `consts` are (name, shape, dtype,
    data, q) of its other inputs in order (None for an omitted optional input)."""
    m = Model(description)
    x = m.tensor("x", in_shape, INT8, *in_q)
    ins = []
    for c in consts:
        if c is None:
            ins.append(-1)
            continue
        name, shape, dtype, data, q = c
        kw = {}
        if q is not None and isinstance(q[0], (list, np.ndarray)):
            kw["per_channel"] = q[2]
            q = q[:2]
        ins.append(m.tensor(name, shape, dtype, *(q or (None, None)), data=data, **kw))
    ins.insert(x_index, x)
    y = m.tensor("y", out_shape, INT8, *out_q)
    m.op(code, ins, [y], opt_type, opt)
    m.inputs, m.outputs = [x], [y]
    return m


def i32(v):
    return np.array(v, dtype="<i4")


def pad_case(code, in_shape, pads, q, value=None, no_value=False):
    out_shape = [s + a + b for s, (a, b) in zip(in_shape, pads)]
    consts = [("paddings", [len(in_shape), 2], INT32, i32(pads), None)]
    if code == OP.PADV2 and not no_value:
        consts.append(("value", [1], INT8, np.array([value], np.int8), q))
    name = "PADV2" if code == OP.PADV2 else "PAD"
    v = "" if value is None else f" value {value}"
    return one_op(f"{name} {pads} of {in_shape}{v}, (scale, zp) {q}", code, in_shape, q,
                  out_shape, q, consts)


def padv2_computed_value():
    """PADV2 whose value is not a constant: element [0, 1, 2, 1] of the input itself,
    taken by a STRIDED_SLICE (so TFLM reads the value at run time)."""
    q = (0.04, 9)
    m = Model("STRIDED_SLICE of one element of [1, 4, 5, 2], then PADV2 of the input with it")
    x = m.tensor("x", [1, 4, 5, 2], INT8, *q)
    opt = fb.StridedSliceOptionsT()
    opt.beginMask, opt.endMask, opt.shrinkAxisMask = 0, 0, 0b0111
    consts = [m.tensor(n, [4], INT32, data=i32(v)) for n, v in
              (("begin", [0, 1, 2, 1]), ("end", [1, 2, 3, 2]), ("strides", [1, 1, 1, 1]))]
    v = m.tensor("value", [1], INT8, *q)
    m.op(OP.STRIDED_SLICE, [x] + consts, [v], OPT.StridedSliceOptions, opt)
    pads = m.tensor("paddings", [4, 2], INT32, data=i32([[0, 0], [1, 2], [2, 1], [1, 0]]))
    y = m.tensor("y", [1, 7, 8, 3], INT8, *q)
    m.op(OP.PADV2, [x, pads, v], [y])
    m.inputs, m.outputs = [x], [y]
    return m


def pool_case(code, in_shape, filt, stride, padding, act, q):
    n, h, w, c = in_shape
    if padding == fb.Padding.SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - filt[0]) // stride[0] + 1, (w - filt[1]) // stride[1] + 1
    opt = fb.Pool2DOptionsT()
    opt.padding, (opt.strideH, opt.strideW) = padding, stride
    opt.filterHeight, opt.filterWidth = filt
    opt.fusedActivationFunction = act
    name = "MAX_POOL_2D" if code == OP.MAX_POOL_2D else "AVERAGE_POOL_2D"
    pad = "SAME" if padding == fb.Padding.SAME else "VALID"
    return one_op(f"{name} {filt[0]}x{filt[1]} s{stride[0]}x{stride[1]} {pad} act {act} of "
                  f"{in_shape}, (scale, zp) {q}", code, in_shape, q, [n, oh, ow, c], q, [],
                  OPT.Pool2DOptions, opt)


def slice_out_shape(shape, begin, end, strides, bm, em, sm):
    """TFLM's CheckOutputSize (StartForAxis / StopForAxis)."""
    out = []
    for d, size in enumerate(shape):
        st = strides[d]
        clamp = (lambda v: min(max(v, 0), size)) if st > 0 else (lambda v: min(max(v, -1), size - 1))
        b = begin[d]
        if bm >> d & 1:
            b = -2**31 if st > 0 else 2**31 - 1
        if b < 0:
            b += size
        b = clamp(b)
        if sm >> d & 1:
            continue
        e = end[d]
        if em >> d & 1:
            e = 2**31 - 1 if st > 0 else -2**31
        if e < 0:
            e += size
        e = clamp(e)
        out.append(max(0, int(np.ceil((e - b) / st))))
    return out


def slice_case(in_shape, begin, end, strides, bm=0, em=0, sm=0, q=(0.05, -2), ignored=(0, 0, False)):
    """`ignored`: ellipsis_mask, new_axis_mask and offset, which TFLM ignores."""
    r = len(in_shape)
    opt = fb.StridedSliceOptionsT()
    opt.beginMask, opt.endMask, opt.shrinkAxisMask = bm, em, sm
    opt.ellipsisMask, opt.newAxisMask, opt.offset = ignored
    out = slice_out_shape(in_shape, begin, end, strides, bm, em, sm)
    consts = [(n, [r], INT32, i32(v), None) for n, v in
              (("begin", begin), ("end", end), ("strides", strides))]
    return one_op(f"STRIDED_SLICE of {in_shape} begin {begin} end {end} strides {strides} "
                  f"masks begin {bm} end {em} shrink {sm}"
                  f"{'' if ignored == (0, 0, False) else f' (ignored: ellipsis, new_axis, offset {ignored})'}",
                  OP.STRIDED_SLICE, in_shape, q, out,
                  q, consts, OPT.StridedSliceOptions, opt)


def transpose_case(in_shape, perm, q=(0.1, 3)):
    out = [in_shape[p] for p in perm]
    return one_op(f"TRANSPOSE {perm} of {in_shape}", OP.TRANSPOSE, in_shape, q, out, q,
                  [("perm", [len(perm)], INT32, i32(perm), None)])


def resize_case(code, in_shape, size, align, half, q=(0.07, 5)):
    n, _, _, c = in_shape
    if code == OP.RESIZE_BILINEAR:
        opt, ot, name = fb.ResizeBilinearOptionsT(), OPT.ResizeBilinearOptions, "RESIZE_BILINEAR"
    else:
        opt, ot = fb.ResizeNearestNeighborOptionsT(), OPT.ResizeNearestNeighborOptions
        name = "RESIZE_NEAREST_NEIGHBOR"
    opt.alignCorners, opt.halfPixelCenters = align, half
    return one_op(f"{name} {in_shape} to {size} align_corners={align} half_pixel_centers={half}"
                  f", (scale, zp) {q}", code, in_shape, q, [n, size[0], size[1], c], q,
                  [("size", [2], INT32, i32(size), None)], ot, opt)


def tconv_case(rng, in_shape, out_c, k, stride, padding, out_hw, in_q, out_q, act=ACT.NONE,
               bias=True, per_channel=True, wscale=(0.002, 0.02)):
    n, h, w, ci = in_shape
    oh, ow = out_hw
    ws = rng.uniform(*wscale, out_c) if per_channel else [float(rng.uniform(*wscale))]
    wq = (list(ws), [0] * len(ws), 0)
    filt = ("filter", [out_c, k[0], k[1], ci], INT8,
            rng.integers(-127, 128, (out_c, k[0], k[1], ci), dtype=np.int8), wq)
    consts = [("output_shape", [4], INT32, i32([n, oh, ow, out_c]), None), filt]
    if bias:
        bs = [in_q[0] * s for s in (ws if per_channel else ws * out_c)]
        consts.append(("bias", [out_c], INT32, rng.integers(-3000, 3000, out_c).astype("<i4"),
                       (bs, [0] * out_c, 0)))
    opt = fb.TransposeConvOptionsT()
    opt.padding, (opt.strideH, opt.strideW) = padding, stride
    opt.fusedActivationFunction = act
    pad = "SAME" if padding == fb.Padding.SAME else "VALID"
    return one_op(f"TRANSPOSE_CONV {k[0]}x{k[1]} s{stride[0]}x{stride[1]} {pad} act {act} "
                  f"{in_shape} to {[n, oh, ow, out_c]}, {'per-channel' if per_channel else 'per-tensor'}"
                  f"{'' if bias else ', no bias'}, input {in_q}, output {out_q}",
                  OP.TRANSPOSE_CONV, in_shape, in_q, [n, oh, ow, out_c], out_q, consts,
                  OPT.TransposeConvOptions, opt, x_index=2)


def conv_then(rng, description, tail):
    """CONV_2D 3x3 SAME (offloadable) on [1, 6, 6, 4], then `tail(m, conv_tensor)`."""
    m = Model(description)
    in_q, conv_q = (0.05, -3), (0.09, 4)
    x = m.tensor("x", [1, 6, 6, 4], INT8, *in_q)
    wq = rng.uniform(0.002, 0.02, 8)
    wt = m.tensor("w", [8, 3, 3, 4], INT8, wq, [0] * 8,
                  data=rng.integers(-127, 128, (8, 3, 3, 4), dtype=np.int8), per_channel=0)
    bias = m.tensor("b", [8], INT32, [in_q[0] * s for s in wq], [0] * 8,
                    data=rng.integers(-2000, 2000, 8).astype("<i4"), per_channel=0)
    c = m.tensor("conv", [1, 6, 6, 8], INT8, *conv_q)
    opt = fb.Conv2DOptionsT()
    opt.padding, opt.strideW, opt.strideH = fb.Padding.SAME, 1, 1
    opt.dilationWFactor = opt.dilationHFactor = 1
    opt.fusedActivationFunction = ACT.NONE
    m.op(OP.CONV_2D, [x, wt, bias], [c], OPT.Conv2DOptions, opt)
    y = tail(m, c, conv_q)
    m.inputs, m.outputs = [x], [y]
    return m


def cases_spatial():
    rng = np.random.default_rng(2020)
    MAX, AVG, SAME, VALID = OP.MAX_POOL_2D, OP.AVERAGE_POOL_2D, fb.Padding.SAME, fb.Padding.VALID
    c = {}
    # PAD (padded with the output zero point) and PADV2 (with its constant value).
    c["pad_hw"] = pad_case(OP.PAD, [1, 4, 5, 3], [[0, 0], [1, 2], [2, 1], [0, 0]], (0.05, -3))
    c["pad_all_dims"] = pad_case(OP.PAD, [2, 3, 2, 4], [[1, 0], [0, 2], [1, 1], [2, 3]], (0.2, 9))
    c["pad_zp_lo"] = pad_case(OP.PAD, [1, 3, 3, 5], [[0, 0], [2, 2], [0, 1], [0, 0]], (1e-4, -128))
    c["pad_zp_hi"] = pad_case(OP.PAD, [5, 7], [[1, 2], [3, 0]], (40.0, 127))
    c["pad_rank3"] = pad_case(OP.PAD, [3, 4, 6], [[0, 1], [1, 0], [2, 2]], (0.03, 0))
    c["padv2_value"] = pad_case(OP.PADV2, [1, 4, 4, 3], [[0, 0], [1, 1], [2, 0], [0, 0]], (0.05, -3), 17)
    c["padv2_value_lo"] = pad_case(OP.PADV2, [1, 3, 5, 2], [[0, 0], [2, 1], [1, 1], [0, 0]], (0.5, 127), -128)
    c["padv2_value_hi"] = pad_case(OP.PADV2, [2, 6, 3], [[1, 0], [0, 3], [1, 2]], (1e-5, -128), 127)
    c["padv2_no_value"] = pad_case(OP.PADV2, [1, 2, 3, 4], [[0, 0], [1, 1], [1, 1], [1, 0]], (0.1, 20),
                                   no_value=True)
    c["padv2_computed_value"] = padv2_computed_value()
    c["padv2_rank1"] = pad_case(OP.PADV2, [9], [[3, 4]], (0.25, -7), -100)
    # MAX_POOL_2D and AVERAGE_POOL_2D: SAME/VALID, strides, every fused activation, zero
    # points at the ends, tiny and large scales (the activation clamp depends on both).
    for name, code in (("max_pool", MAX), ("avg_pool", AVG)):
        c[f"{name}_valid_2x2_s2"] = pool_case(code, [1, 6, 8, 3], (2, 2), (2, 2), VALID, ACT.NONE, (0.05, -3))
        c[f"{name}_same_3x3_s2_relu"] = pool_case(code, [1, 7, 6, 4], (3, 3), (2, 2), SAME, ACT.RELU, (0.1, 10))
        c[f"{name}_same_3x3_s1_relu6"] = pool_case(code, [2, 5, 5, 3], (3, 3), (1, 1), SAME, ACT.RELU6, (0.03, -20))
        c[f"{name}_same_2x3_s1x2_n1to1"] = pool_case(code, [1, 6, 7, 2], (2, 3), (1, 2), SAME,
                                                     ACT.RELU_N1_TO_1, (0.01, 5))
        c[f"{name}_global_valid"] = pool_case(code, [1, 5, 7, 6], (5, 7), (1, 1), VALID, ACT.NONE, (0.2, 0))
        c[f"{name}_zp_lo_relu"] = pool_case(code, [1, 4, 6, 5], (2, 2), (2, 2), SAME, ACT.RELU, (0.05, -128))
        c[f"{name}_zp_hi_relu6"] = pool_case(code, [1, 5, 4, 3], (3, 2), (2, 1), VALID, ACT.RELU6, (0.05, 127))
        c[f"{name}_tiny_scale_relu6"] = pool_case(code, [1, 6, 6, 2], (3, 3), (3, 3), SAME, ACT.RELU6, (1e-4, 0))
        c[f"{name}_large_scale_relu6"] = pool_case(code, [1, 6, 6, 2], (2, 2), (1, 1), VALID, ACT.RELU6, (3.0, -100))
    # STRIDED_SLICE: strides (negative too), negative indices, begin/end masks,
    # shrink_axis_mask, ranks 1 to 4.
    c["strided_slice_basic"] = slice_case([1, 6, 8, 4], [0, 1, 2, 0], [1, 5, 7, 4], [1, 1, 2, 1])
    c["strided_slice_neg_stride"] = slice_case([1, 6, 8, 4], [0, -1, 6, 3], [1, 0, 0, 0], [1, -1, -2, -1],
                                               bm=2, q=(0.3, 127))
    c["strided_slice_masks"] = slice_case([2, 5, 6, 3], [1, 2, 1, 1], [0, 4, -1, 2], [1, 2, 3, 1],
                                          bm=0b0101, em=0b1001, q=(1e-3, -128))
    c["strided_slice_shrink"] = slice_case([1, 4, 5, 6], [0, 2, 0, -2], [1, 3, 5, 6], [1, 1, 1, 1],
                                           sm=0b1011)
    c["strided_slice_neg_index"] = slice_case([7, 9], [-5, -8], [-1, 9], [2, 3], q=(25.0, 0))
    c["strided_slice_rank1"] = slice_case([17], [3], [-2], [4])
    # TFLM ignores ellipsis_mask, new_axis_mask and offset (BuildStridedSliceParams).
    c["strided_slice_ignored_masks"] = slice_case([1, 6, 8, 4], [0, 1, 2, 0], [1, 5, 7, 4], [1, 1, 2, 1],
                                                  ignored=(0b10, 0b100, True))
    c["strided_slice_rank3_clamp"] = slice_case([3, 4, 10], [-10, 1, 100], [10, 100, -100], [1, 2, -3])
    # TRANSPOSE: ranks 1 to 5 (TFLM's limit).
    c["transpose_nhwc_nchw"] = transpose_case([1, 4, 5, 3], [0, 3, 1, 2])
    c["transpose_rank2"] = transpose_case([7, 9], [1, 0], q=(1e-4, -128))
    c["transpose_rank3"] = transpose_case([2, 3, 4], [2, 0, 1], q=(8.0, 127))
    c["transpose_rank5"] = transpose_case([2, 1, 3, 2, 4], [4, 2, 0, 3, 1])
    c["transpose_rank1"] = transpose_case([11], [0])
    # RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: up and down, odd ratios, align_corners,
    # half_pixel_centers.
    for name, code in (("resize_nearest", OP.RESIZE_NEAREST_NEIGHBOR), ("resize_bilinear", OP.RESIZE_BILINEAR)):
        c[f"{name}_up2"] = resize_case(code, [1, 3, 4, 2], [6, 8], False, False)
        c[f"{name}_odd"] = resize_case(code, [2, 3, 5, 3], [7, 4], False, False, q=(0.5, -128))
        c[f"{name}_align"] = resize_case(code, [1, 4, 3, 2], [7, 9], True, False, q=(1e-4, 127))
        c[f"{name}_half_pixel"] = resize_case(code, [1, 4, 5, 3], [9, 6], False, True)
        c[f"{name}_down_half_pixel"] = resize_case(code, [1, 8, 9, 2], [3, 5], False, True, q=(30.0, 0))
        c[f"{name}_align_1px"] = resize_case(code, [1, 5, 1, 4], [1, 3], True, False)
    c["resize_nearest_align_half"] = resize_case(OP.RESIZE_NEAREST_NEIGHBOR, [1, 3, 4, 2], [5, 7], True, True)
    # TRANSPOSE_CONV: strides, SAME/VALID, per-channel and per-tensor filters, with and
    # without bias, fused activations, zero points at the ends, tiny and large scales.
    c["transpose_conv_s2_same"] = tconv_case(rng, [1, 4, 4, 3], 5, (3, 3), (2, 2), SAME, (8, 8),
                                              (0.05, -3), (0.1, 4))
    c["transpose_conv_s2_valid"] = tconv_case(rng, [1, 3, 3, 4], 6, (2, 2), (2, 2), VALID, (6, 6),
                                               (0.04, 10), (0.08, -5))
    c["transpose_conv_s2_valid_k3"] = tconv_case(rng, [2, 3, 2, 3], 4, (3, 3), (2, 2), VALID, (7, 5),
                                                  (0.1, 0), (0.3, 2), act=ACT.RELU)
    c["transpose_conv_s1_no_bias"] = tconv_case(rng, [1, 5, 5, 2], 3, (3, 3), (1, 1), SAME, (5, 5),
                                                 (0.05, 1), (0.05, -1), bias=False)
    c["transpose_conv_s1x2_per_tensor_relu6"] = tconv_case(rng, [1, 4, 3, 3], 4, (2, 3), (1, 2), SAME,
                                                            (4, 6), (0.05, -2), (0.02, -128),
                                                            act=ACT.RELU6, per_channel=False)
    c["transpose_conv_zp_ends"] = tconv_case(rng, [1, 3, 3, 4], 3, (3, 3), (2, 2), SAME, (6, 6),
                                              (0.05, -128), (0.1, 127))
    c["transpose_conv_tiny_scale"] = tconv_case(rng, [1, 3, 4, 2], 2, (3, 3), (2, 2), SAME, (6, 8),
                                                 (1e-4, 0), (0.5, 0), wscale=(1e-5, 1e-4))
    c["transpose_conv_large_scale"] = tconv_case(rng, [1, 2, 3, 3], 4, (4, 4), (2, 2), VALID, (6, 8),
                                                  (2.0, 5), (0.01, -3), wscale=(0.05, 0.5))
    # Mixed with an offloadable CONV_2D (the accelerator runs the conv, the CPU the rest).
    def tail_resize(m, x, q):
        size = m.tensor("size", [2], INT32, data=i32([9, 9]))
        y = m.tensor("y", [1, 9, 9, 8], INT8, *q)
        opt = fb.ResizeBilinearOptionsT()
        opt.alignCorners, opt.halfPixelCenters = False, True
        m.op(OP.RESIZE_BILINEAR, [x, size], [y], OPT.ResizeBilinearOptions, opt)
        return y

    def tail_slice_transpose(m, x, q):
        opt = fb.StridedSliceOptionsT()
        opt.beginMask, opt.endMask, opt.shrinkAxisMask = 0, 0b1000, 0
        consts = [m.tensor(n, [4], INT32, data=i32(v)) for n, v in
                  (("begin", [0, 1, 0, 2]), ("end", [1, 6, 6, 0]), ("strides", [1, 2, 1, 1]))]
        s = m.tensor("slice", [1, 3, 6, 6], INT8, *q)
        m.op(OP.STRIDED_SLICE, [x] + consts, [s], OPT.StridedSliceOptions, opt)
        perm = m.tensor("perm", [4], INT32, data=i32([0, 3, 2, 1]))
        y = m.tensor("y", [1, 6, 6, 3], INT8, *q)
        m.op(OP.TRANSPOSE, [s, perm], [y])
        return y

    c["conv_resize_bilinear"] = conv_then(rng, "CONV_2D 3x3 then RESIZE_BILINEAR to 9x9 "
                                               "(half_pixel_centers)", tail_resize)
    c["conv_strided_slice_transpose"] = conv_then(rng, "CONV_2D 3x3 then STRIDED_SLICE then "
                                                       "TRANSPOSE", tail_slice_transpose)
    return c


INT16, INT64, FLOAT32 = fb.TensorType.INT16, fb.TensorType.INT64, fb.TensorType.FLOAT32
ACT = fb.ActivationFunctionType
PAD = fb.Padding


def _weights(m, rng, name, shape, n_out, scales, quant_dim):
    """int8 weights in -127..127 (symmetric), per-channel when `scales` is a list."""
    data = rng.integers(-127, 128, shape, dtype=np.int8)
    if isinstance(scales, (list, np.ndarray)):
        return m.tensor(name, shape, INT8, list(scales), [0] * n_out, data=data,
                        per_channel=quant_dim), np.asarray(scales, dtype=np.float64)
    return m.tensor(name, shape, INT8, scales, 0, data=data), np.full(n_out, scales)


def _bias(m, rng, name, n, in_s, w_scales, bias_type, lim):
    """Bias with scale in_s * w_scale (per channel), or no bias (-1) when bias_type is None."""
    if bias_type is None:
        return -1
    np_t = {INT32: "<i4", INT64: "<i8"}[bias_type]
    data = rng.integers(-lim, lim, n).astype(np_t)
    return m.tensor(name, [n], bias_type, [in_s * w for w in w_scales], [0] * n, data=data,
                    per_channel=0)


def conv_case(rng, desc, in_shape, co, k, stride=(1, 1), dil=(1, 1), padding=PAD.SAME,
              act=ACT.NONE, in_q=(0.05, 0), out_q=(0.1, 0), w_scale=None, dtype=INT8,
              bias_type=INT32, bias_lim=3000, quantized_bias_type=None):
    """One CONV_2D (OHWI filter, per-channel scales unless w_scale is a float)."""
    m = Model(desc)
    n, h, w, ci = in_shape
    x = m.tensor("x", in_shape, dtype, *in_q)
    ws = w_scale if w_scale is not None else list(rng.uniform(0.002, 0.02, co))
    wt, wsc = _weights(m, rng, "w", [co, k[0], k[1], ci], co, ws, 0)
    b = _bias(m, rng, "b", co, in_q[0], wsc, bias_type, bias_lim)
    eff = [(k_ - 1) * d + 1 for k_, d in zip(k, dil)]
    if padding == PAD.SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - eff[0]) // stride[0] + 1, (w - eff[1]) // stride[1] + 1
    y = m.tensor("y", [n, oh, ow, co], dtype, *out_q)
    opt = fb.Conv2DOptionsT()
    opt.padding, opt.strideH, opt.strideW = padding, stride[0], stride[1]
    opt.dilationHFactor, opt.dilationWFactor = dil
    opt.fusedActivationFunction = act
    if quantized_bias_type is not None:
        opt.quantizedBiasType = quantized_bias_type
    m.op(OP.CONV_2D, [x, wt, b], [y], OPT.Conv2DOptions, opt)
    m.inputs, m.outputs = [x], [y]
    return m


def dw_case(rng, desc, in_shape, mult, k, stride=(1, 1), dil=(1, 1), padding=PAD.SAME,
            act=ACT.NONE, in_q=(0.05, 0), out_q=(0.1, 0), w_scale=None, dtype=INT8,
            bias_type=INT32, bias_lim=3000):
    """One DEPTHWISE_CONV_2D (filter [1, kh, kw, ci * mult])."""
    m = Model(desc)
    n, h, w, ci = in_shape
    co = ci * mult
    x = m.tensor("x", in_shape, dtype, *in_q)
    ws = w_scale if w_scale is not None else list(rng.uniform(0.002, 0.02, co))
    wt, wsc = _weights(m, rng, "w", [1, k[0], k[1], co], co, ws, 3)
    b = _bias(m, rng, "b", co, in_q[0], wsc, bias_type, bias_lim)
    eff = [(k_ - 1) * d + 1 for k_, d in zip(k, dil)]
    if padding == PAD.SAME:
        oh, ow = -(-h // stride[0]), -(-w // stride[1])
    else:
        oh, ow = (h - eff[0]) // stride[0] + 1, (w - eff[1]) // stride[1] + 1
    y = m.tensor("y", [n, oh, ow, co], dtype, *out_q)
    opt = fb.DepthwiseConv2DOptionsT()
    opt.padding, opt.strideH, opt.strideW = padding, stride[0], stride[1]
    opt.dilationHFactor, opt.dilationWFactor = dil
    opt.depthMultiplier = mult
    opt.fusedActivationFunction = act
    m.op(OP.DEPTHWISE_CONV_2D, [x, wt, b], [y], OPT.DepthwiseConv2DOptions, opt)
    m.inputs, m.outputs = [x], [y]
    return m


def fc_layer(m, rng, x, batch, depth, units, in_s, out_q, w_scale, dtype, bias_type,
             act=ACT.NONE, name="fc", bias_lim=3000):
    """Appends FULLY_CONNECTED of x ([batch, depth]); returns the output tensor."""
    ws = w_scale if w_scale is not None else list(rng.uniform(0.002, 0.02, units))
    wt, wsc = _weights(m, rng, name + "/w", [units, depth], units, ws, 0)
    b = _bias(m, rng, name + "/b", units, in_s, wsc, bias_type, bias_lim)
    y = m.tensor(name, [batch, units], dtype, *out_q)
    opt = fb.FullyConnectedOptionsT()
    opt.fusedActivationFunction = act
    m.op(OP.FULLY_CONNECTED, [x, wt, b], [y], OPT.FullyConnectedOptions, opt)
    return y


def fc_case(rng, desc, batch, depth, units, in_q=(0.05, 0), out_q=(0.1, 0), w_scale=None,
            dtype=INT8, bias_type=INT32, act=ACT.NONE, bias_lim=3000):
    m = Model(desc)
    x = m.tensor("x", [batch, depth], dtype, *in_q)
    y = fc_layer(m, rng, x, batch, depth, units, in_q[0], out_q, w_scale, dtype, bias_type,
                 act, "y", bias_lim)
    m.inputs, m.outputs = [x], [y]
    return m


def quantize_chain(rng, desc, src, mid_q, dst):
    """QUANTIZE src -> int16 (mid_q), a 16x8 FULLY_CONNECTED, then QUANTIZE or DEQUANTIZE
    to dst: a model that starts and ends in another type than int16."""
    m = Model(desc)
    src_t, src_q = src
    x = m.tensor("x", [2, 12], src_t, *(src_q or (None, None)))
    q = m.tensor("q", [2, 12], INT16, *mid_q)
    m.op(OP.QUANTIZE, [x], [q])
    f = fc_layer(m, rng, q, 2, 12, 6, mid_q[0], (0.02, 0), None, INT16, INT64, name="fc",
                 bias_lim=200000)
    dst_t, dst_q = dst
    y = m.tensor("y", [2, 6], dst_t, *(dst_q or (None, None)))
    m.op(OP.DEQUANTIZE if dst_t == FLOAT32 else OP.QUANTIZE, [f], [y])
    m.inputs, m.outputs = [x], [y]
    return m


def cases_int16():
    """int8 CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED (offloadable) and their 16x8
    forms (int16 activations, int8 weights; CPU only), QUANTIZE / DEQUANTIZE to and from
    int16. Names start with the op: conv_, dw_, fc_, quantize_."""
    rng = np.random.default_rng(16)
    c = {}
    # CONV_2D int8.
    c["conv_3x3_same_pc"] = conv_case(rng, "CONV_2D 3x3 SAME per-channel", [1, 7, 6, 3], 8, (3, 3), in_q=(0.04, -5), out_q=(0.09, 3))
    c["conv_3x3_valid_s2_relu"] = conv_case(rng, "CONV_2D 3x3 VALID stride 2 RELU", [1, 9, 8, 4], 6, (3, 3), (2, 2), padding=PAD.VALID, act=ACT.RELU, in_q=(0.05, 10), out_q=(0.07, -20))
    c["conv_5x3_same_s2x1_relu6"] = conv_case(rng, "CONV_2D 5x3 SAME stride 2x1 RELU6", [1, 8, 7, 2], 5, (5, 3), (2, 1), act=ACT.RELU6, in_q=(0.03, 0), out_q=(0.03, -128))
    c["conv_dilated_2x2"] = conv_case(rng, "CONV_2D 3x3 SAME dilation 2x2", [1, 8, 8, 3], 4, (3, 3), dil=(2, 2), in_q=(0.05, 2), out_q=(0.12, -1))
    c["conv_dilated_valid_3x1"] = conv_case(rng, "CONV_2D 2x2 VALID dilation 3x1 stride 1x2", [1, 9, 9, 5], 7, (2, 2), (1, 2), (3, 1), padding=PAD.VALID, in_q=(0.02, -7), out_q=(0.05, 4))
    c["conv_1x1_per_tensor"] = conv_case(rng, "CONV_2D 1x1 per-tensor", [1, 5, 5, 16], 12, (1, 1), in_q=(0.05, -1), out_q=(0.08, 0), w_scale=0.01)
    c["conv_batch2_relu_n1"] = conv_case(rng, "CONV_2D 3x3 batch 2 RELU_N1_TO_1", [2, 5, 4, 3], 4, (3, 3), act=ACT.RELU_N1_TO_1, in_q=(0.06, 0), out_q=(0.01, 0))
    c["conv_zp_ends"] = conv_case(rng, "CONV_2D zero points -128 in, 127 out", [1, 6, 6, 4], 8, (3, 3), in_q=(0.02, -128), out_q=(0.05, 127))
    c["conv_zp_ends_rev"] = conv_case(rng, "CONV_2D zero points 127 in, -128 out, RELU", [1, 6, 5, 4], 6, (3, 3), act=ACT.RELU, in_q=(0.02, 127), out_q=(0.05, -128))
    c["conv_tiny_scale"] = conv_case(rng, "CONV_2D tiny scales (effective 1e-5)", [1, 5, 5, 8], 8, (3, 3), in_q=(1e-4, 3), out_q=(2e-3, -2), w_scale=list(rng.uniform(1e-4, 3e-4, 8)), bias_lim=50)
    c["conv_large_scale"] = conv_case(rng, "CONV_2D large scales (effective > 1)", [1, 4, 4, 2], 4, (3, 3), in_q=(2.0, 0), out_q=(0.05, 0), w_scale=list(rng.uniform(0.02, 0.06, 4)), bias_lim=10)
    # DEPTHWISE_CONV_2D int8, multipliers 1 and 2.
    c["dw_3x3_same_m1"] = dw_case(rng, "DEPTHWISE_CONV_2D 3x3 SAME multiplier 1", [1, 7, 7, 8], 1, (3, 3), in_q=(0.04, -3), out_q=(0.06, 5))
    c["dw_3x3_same_m2"] = dw_case(rng, "DEPTHWISE_CONV_2D 3x3 SAME multiplier 2", [1, 6, 5, 3], 2, (3, 3), in_q=(0.04, 1), out_q=(0.05, -4))
    c["dw_3x3_valid_s2_m1_relu6"] = dw_case(rng, "DEPTHWISE_CONV_2D 3x3 VALID stride 2 RELU6", [1, 9, 9, 4], 1, (3, 3), (2, 2), padding=PAD.VALID, act=ACT.RELU6, in_q=(0.05, 0), out_q=(0.03, -128))
    c["dw_5x5_s2_m2_relu"] = dw_case(rng, "DEPTHWISE_CONV_2D 5x5 SAME stride 2 multiplier 2 RELU", [1, 8, 8, 4], 2, (5, 5), (2, 2), act=ACT.RELU, in_q=(0.03, 6), out_q=(0.08, -10))
    c["dw_dilated_m1"] = dw_case(rng, "DEPTHWISE_CONV_2D 3x3 dilation 2", [1, 8, 7, 6], 1, (3, 3), dil=(2, 2), in_q=(0.05, 0), out_q=(0.07, 0))
    c["dw_per_tensor_m2"] = dw_case(rng, "DEPTHWISE_CONV_2D per-tensor multiplier 2 VALID", [1, 5, 6, 5], 2, (2, 3), padding=PAD.VALID, in_q=(0.05, -2), out_q=(0.05, 2), w_scale=0.008)
    c["dw_zp_ends"] = dw_case(rng, "DEPTHWISE_CONV_2D zero points -128 in, 127 out", [1, 5, 5, 8], 1, (3, 3), in_q=(0.02, -128), out_q=(0.04, 127))
    c["dw_zp_ends_rev_m2"] = dw_case(rng, "DEPTHWISE_CONV_2D zero points 127 in, -128 out, multiplier 2", [1, 4, 5, 4], 2, (3, 3), in_q=(0.02, 127), out_q=(0.04, -128))
    c["dw_tiny_scale"] = dw_case(rng, "DEPTHWISE_CONV_2D tiny scales", [1, 5, 5, 8], 1, (3, 3), in_q=(1e-4, 0), out_q=(1e-5, 0), w_scale=list(rng.uniform(1e-4, 3e-4, 8)), bias_lim=50)
    c["dw_large_scale"] = dw_case(rng, "DEPTHWISE_CONV_2D large scales (effective > 1)", [1, 4, 4, 4], 2, (3, 3), in_q=(3.0, 1), out_q=(0.04, -1), w_scale=list(rng.uniform(0.02, 0.05, 8)), bias_lim=10)
    # FULLY_CONNECTED int8.
    c["fc_per_tensor"] = fc_case(rng, "FULLY_CONNECTED per-tensor", 1, 40, 10, in_q=(0.05, -4), out_q=(0.1, 6), w_scale=0.01)
    c["fc_per_channel_relu"] = fc_case(rng, "FULLY_CONNECTED per-channel RELU", 1, 33, 9, in_q=(0.03, 5), out_q=(0.06, -128), act=ACT.RELU)
    c["fc_batch3_relu6"] = fc_case(rng, "FULLY_CONNECTED batch 3 RELU6", 3, 20, 7, in_q=(0.05, 0), out_q=(0.03, -128), act=ACT.RELU6)
    c["fc_zp_ends"] = fc_case(rng, "FULLY_CONNECTED zero points -128 in, 127 out", 2, 24, 8, in_q=(0.02, -128), out_q=(0.05, 127))
    c["fc_zp_ends_rev"] = fc_case(rng, "FULLY_CONNECTED zero points 127 in, -128 out", 1, 24, 8, in_q=(0.02, 127), out_q=(0.05, -128))
    c["fc_tiny_scale"] = fc_case(rng, "FULLY_CONNECTED tiny scales", 1, 32, 6, in_q=(2e-4, 1), out_q=(1e-4, -1), w_scale=1e-4, bias_lim=50)
    c["fc_large_scale"] = fc_case(rng, "FULLY_CONNECTED large scales (effective > 1)", 1, 8, 5, in_q=(4.0, 0), out_q=(0.03, 0), w_scale=0.04, bias_lim=10)
    c["fc_no_bias"] = fc_case(rng, "FULLY_CONNECTED without bias", 2, 16, 4, in_q=(0.05, 3), out_q=(0.2, -3), bias_type=None)
    # 16x8: int16 activations (zero point 0), int8 weights, int64 (or int32) bias.
    q16 = (1.0 / 2048, 0)
    c["conv16_3x3_same_pc"] = conv_case(rng, "CONV_2D 16x8 3x3 SAME per-channel, int64 bias", [1, 6, 6, 3], 6, (3, 3), in_q=q16, out_q=(1.0 / 1024, 0), dtype=INT16, bias_type=INT64, bias_lim=1 << 20)
    c["conv16_s2_valid_relu"] = conv_case(rng, "CONV_2D 16x8 3x3 VALID stride 2 RELU, int64 bias", [1, 9, 8, 4], 5, (3, 3), (2, 2), padding=PAD.VALID, act=ACT.RELU, in_q=q16, out_q=(1.0 / 512, 0), dtype=INT16, bias_type=INT64, bias_lim=1 << 20)
    c["conv16_dilated_relu6"] = conv_case(rng, "CONV_2D 16x8 3x3 dilation 2 RELU6 per-tensor", [1, 7, 7, 2], 4, (3, 3), dil=(2, 2), act=ACT.RELU6, in_q=(1e-3, 0), out_q=(3e-4, 0), w_scale=0.01, dtype=INT16, bias_type=INT64)
    c["conv16_int32_bias"] = conv_case(rng, "CONV_2D 16x8 int32 bias (int32 accumulator)", [1, 5, 5, 3], 4, (3, 3), in_q=q16, out_q=(1.0 / 1024, 0), dtype=INT16, bias_type=INT32, bias_lim=1 << 16)
    c["conv16_no_bias"] = conv_case(rng, "CONV_2D 16x8 without bias (int64 accumulator)", [1, 5, 6, 4], 3, (2, 2), padding=PAD.VALID, in_q=q16, out_q=(1.0 / 256, 0), dtype=INT16, bias_type=None)
    c["conv16_tiny_scale"] = conv_case(rng, "CONV_2D 16x8 tiny scales", [1, 4, 4, 4], 4, (3, 3), in_q=(1e-6, 0), out_q=(1e-7, 0), w_scale=list(rng.uniform(1e-4, 3e-4, 4)), dtype=INT16, bias_type=INT64, bias_lim=100)
    c["conv16_large_scale"] = conv_case(rng, "CONV_2D 16x8 large scales (effective ~50)", [1, 4, 4, 2], 3, (3, 3), in_q=(5.0, 0), out_q=(0.004, 0), w_scale=list(rng.uniform(0.03, 0.05, 3)), dtype=INT16, bias_type=INT64, bias_lim=10)
    c["dw16_3x3_m1"] = dw_case(rng, "DEPTHWISE_CONV_2D 16x8 3x3 SAME multiplier 1", [1, 6, 6, 4], 1, (3, 3), in_q=q16, out_q=(1.0 / 1024, 0), dtype=INT16, bias_type=INT64, bias_lim=1 << 18)
    c["dw16_s2_m2_relu"] = dw_case(rng, "DEPTHWISE_CONV_2D 16x8 3x3 stride 2 multiplier 2 RELU", [1, 7, 7, 3], 2, (3, 3), (2, 2), act=ACT.RELU, in_q=q16, out_q=(1.0 / 2048, 0), dtype=INT16, bias_type=INT64, bias_lim=1 << 18)
    # (Without a bias, a 16x8 DEPTHWISE_CONV_2D crashes the tflite-micro 0.dev20261023
    # interpreter: no such case.)
    c["dw16_valid_dilated_per_tensor"] = dw_case(rng, "DEPTHWISE_CONV_2D 16x8 VALID dilation 2, per-tensor", [1, 7, 6, 5], 1, (2, 2), dil=(2, 2), padding=PAD.VALID, in_q=(2e-3, 0), out_q=(1e-3, 0), w_scale=0.02, dtype=INT16, bias_type=INT64, bias_lim=1000)
    c["fc16_per_channel"] = fc_case(rng, "FULLY_CONNECTED 16x8 per-channel, int64 bias", 2, 30, 8, in_q=q16, out_q=(1.0 / 1024, 0), dtype=INT16, bias_type=INT64, bias_lim=1 << 20)
    c["fc16_per_tensor_relu"] = fc_case(rng, "FULLY_CONNECTED 16x8 per-tensor RELU, int64 bias", 1, 20, 6, in_q=(1e-3, 0), out_q=(5e-4, 0), w_scale=0.01, dtype=INT16, bias_type=INT64, act=ACT.RELU, bias_lim=1 << 16)
    c["fc16_int32_bias"] = fc_case(rng, "FULLY_CONNECTED 16x8 int32 bias (int32 accumulator)", 3, 16, 5, in_q=q16, out_q=(1.0 / 512, 0), dtype=INT16, bias_type=INT32, bias_lim=1 << 16)
    c["fc16_no_bias_tiny"] = fc_case(rng, "FULLY_CONNECTED 16x8 without bias, tiny scales", 1, 24, 4, in_q=(1e-6, 0), out_q=(2e-7, 0), w_scale=2e-4, dtype=INT16, bias_type=None)
    # QUANTIZE / DEQUANTIZE with int16: models that start and end outside int16.
    c["quantize_f32_i16_fc_dequantize"] = quantize_chain(rng, "QUANTIZE float32->int16, FULLY_CONNECTED 16x8, DEQUANTIZE int16->float32", (FLOAT32, None), (1e-3, 0), (FLOAT32, None))
    c["quantize_i8_i16_fc_i8"] = quantize_chain(rng, "QUANTIZE int8->int16, FULLY_CONNECTED 16x8, QUANTIZE int16->int8", (INT8, (0.05, -7)), (1.0 / 4096, 0), (INT8, (0.1, 12)))
    c["quantize_i8_zp_ends_i16_i8"] = quantize_chain(rng, "QUANTIZE int8 (zero point -128)->int16 (tiny scale, saturating), FC 16x8, QUANTIZE int16->int8 (zero point 127)", (INT8, (0.2, -128)), (1e-4, 0), (INT8, (0.05, 127)))
    c["quantize_i16_i16_requant"] = quantize_chain(rng, "QUANTIZE int16->int16 requantization, FC 16x8, QUANTIZE int16->int16 (zero point 100)", (INT16, (2e-3, 0)), (1e-3, 0), (INT16, (0.01, 100)))
    c["quantize_f32_i8_conv_dequantize"] = quantize_f32_i8_conv(rng)
    # ADD int16 (left shift 15): same shapes, broadcast, fused activation, scale ratios.
    c["add16_same_shape"] = add16_case("ADD int16 same shapes", [1, 4, 5, 3], [1, 4, 5, 3], (1e-3, 0), (1e-3, 0), (2e-3, 0))
    c["add16_broadcast_relu"] = add16_case("ADD int16 broadcast [1,4,4,6] + [6], RELU", [1, 4, 4, 6], [6], (5e-4, 0), (2e-3, 0), (1e-3, 0), ACT.RELU)
    c["add16_scales_relu6"] = add16_case("ADD int16 different scales, RELU6", [2, 3, 7], [2, 1, 7], (1.0 / 4096, 0), (1.0 / 1024, 0), (1.0 / 2048, 0), ACT.RELU6)
    c["add16_tiny_large"] = add16_case("ADD int16 tiny and large scales", [3, 10], [3, 10], (1e-6, 0), (0.05, 0), (0.01, 0))
    return c


def add16_case(desc, a_shape, b_shape, qa, qb, qo, act=ACT.NONE):
    """ADD of int16 tensors; input 1 is a constant (the golden's input is input 0)."""
    m = Model(desc)
    rng = np.random.default_rng(len(desc))
    x = m.tensor("x", a_shape, INT16, *qa)
    b = m.tensor("b", b_shape, INT16, *qb,
                 data=rng.integers(-4000, 4000, b_shape, dtype=np.int16).astype("<i2"))
    out_shape = list(np.broadcast_shapes(tuple(a_shape), tuple(b_shape)))
    y = m.tensor("y", out_shape, INT16, *qo)
    opt = fb.AddOptionsT()
    opt.fusedActivationFunction = act
    m.op(OP.ADD, [x, b], [y], OPT.AddOptions, opt)
    m.inputs, m.outputs = [x], [y]
    return m


def quantize_f32_i8_conv(rng):
    """QUANTIZE float32 -> int8, an int8 CONV_2D (offloadable), DEQUANTIZE int8 -> float32."""
    m = Model("QUANTIZE float32->int8, CONV_2D 3x3 SAME, DEQUANTIZE int8->float32")
    x = m.tensor("x", [1, 5, 5, 3], FLOAT32)
    q = m.tensor("q", [1, 5, 5, 3], INT8, 0.03, -9)
    m.op(OP.QUANTIZE, [x], [q])
    ws = list(rng.uniform(0.002, 0.02, 4))
    wt, wsc = _weights(m, rng, "w", [4, 3, 3, 3], 4, ws, 0)
    b = _bias(m, rng, "b", 4, 0.03, wsc, INT32, 2000)
    cv = m.tensor("conv", [1, 5, 5, 4], INT8, 0.05, 3)
    opt = fb.Conv2DOptionsT()
    opt.padding, opt.strideH, opt.strideW = PAD.SAME, 1, 1
    opt.dilationHFactor = opt.dilationWFactor = 1
    m.op(OP.CONV_2D, [q, wt, b], [cv], OPT.Conv2DOptions, opt)
    y = m.tensor("y", [1, 5, 5, 4], FLOAT32)
    m.op(OP.DEQUANTIZE, [cv], [y])
    m.inputs, m.outputs = [x], [y]
    return m


def run_tflm(model_bytes, inputs):
    interp = tflm.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    outs = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(interp.get_output(0).copy())
    return outs


def make_inputs(rng, shape, dtype):
    """RUNS random inputs of the type, then the type's two extremes (for float32: values
    well outside the quantized ranges, -1000 and 1000)."""
    if dtype == FLOAT32:
        runs = [rng.normal(0.0, 2.0, shape).astype(np.float32) for _ in range(RUNS)]
        return runs + [np.full(shape, -1000.0, np.float32), np.full(shape, 1000.0, np.float32)]
    t = {INT8: np.int8, INT16: np.int16}[dtype]
    lo, hi = np.iinfo(t).min, np.iinfo(t).max
    runs = [rng.integers(lo, hi + 1, shape, dtype=t) for _ in range(RUNS)]
    return runs + [np.full(shape, lo, t), np.full(shape, hi, t)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "tests", "data", "ops"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    version = tflm_version.__version__
    for name, m in cases().items():
        data = m.bytes()
        seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")
        rng = np.random.default_rng(seed)
        tensors, _, ins, _ = (m.more_subgraphs + [(m.tensors, m.ops, m.inputs, m.outputs)])[0]
        shape, dtype = tensors[ins[0]].shape, tensors[ins[0]].type  # subgraph 0's input
        if dtype == FLOAT32 and getattr(m, "scaled_float_inputs", False):
            # Spread over the int8 range of the quantization and past it both ways.
            scale = tensors[m.outputs[0]].quantization.scale[0]
            inputs = [(rng.standard_normal(shape) * 80 * scale).astype(np.float32)
                      for _ in range(RUNS)]
            inputs += [np.full(shape, -1e4 * scale, np.float32),
                       np.full(shape, 1e4 * scale, np.float32)]
        else:
            inputs = make_inputs(rng, shape, dtype)
        # A model TFLite-Micro refuses (a requantizing CONCATENATION) takes its outputs
        # from the equivalent graph in `m.reference`.
        reference = getattr(m, "reference", None)
        outputs = run_tflm(reference.bytes() if reference else data, inputs)
        with open(os.path.join(args.out, name + ".tflite"), "wb") as f:
            f.write(data)
        case = {
            "generator": "scripts/make_op_goldens.py",
            "tflite_micro": version,
            "model": name + ".tflite",
            "description": m.description,
            **({"reference": reference.description} if reference else {}),
            "runs": [{"input": x.tobytes().hex(), "output": y.tobytes().hex()}
                     for x, y in zip(inputs, outputs)],
        }
        with open(os.path.join(args.out, name + ".json"), "w") as f:
            json.dump(case, f, indent=1)
            f.write("\n")
        print(f"{name}: {len(data)} bytes, {len(inputs)} runs, output {list(outputs[0].shape)}")
    refused = os.path.join(args.out, "..", "import")
    os.makedirs(refused, exist_ok=True)
    for name, m in refused_models().items():
        with open(os.path.join(refused, name + ".tflite"), "wb") as f:
            f.write(m.bytes())
    print(f"{len(cases())} cases written to {os.path.normpath(args.out)} (tflite-micro {version})")


if __name__ == "__main__":
    sys.exit(main())
