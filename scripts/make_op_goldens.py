#!/usr/bin/env python3
"""Op goldens: small int8 .tflite models written directly as flatbuffers, run by
TFLite-Micro's own interpreter (the `tflite-micro` Python package: its reference kernels),
on seeded random and extreme inputs. Writes tests/data/ops/<case>.tflite and
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
RUNS = 5  # random runs per case; plus one all -128 and one all 127 input


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
    # Two unsupported ops: both are named in one error (ops outside issue 20's list, so
    # that they stay unsupported as ops are added).
    m = Model("GATHER then ELU")
    x = m.tensor("x", [4, 3], INT8, 0.05, 0)
    idx = m.tensor("idx", [2], INT32, data=np.array([0, 2], dtype="<i4"))
    g = m.tensor("g", [2, 3], INT8, 0.05, 0)
    m.op(OP.GATHER, [x, idx], [g])
    e = m.tensor("e", [2, 3], INT8, 0.05, 0)
    m.op(OP.ELU, [g], [e])
    m.inputs, m.outputs = [x], [e]
    out["gather_elu"] = m
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
    return out


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
    c.update(cases_ew())
    c.update(mixed_models())
    return c


def run_tflm(model_bytes, inputs):
    interp = tflm.Interpreter.from_bytes(model_bytes, arena_size=1 << 20)
    outs = []
    for x in inputs:
        interp.set_input(x, 0)
        interp.invoke()
        outs.append(interp.get_output(0).copy())
    return outs


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
        shape = tensors[ins[0]].shape  # subgraph 0's input
        if tensors[ins[0]].type == fb.TensorType.FLOAT32:
            # Spread over the int8 range of the quantization and past it both ways.
            scale = tensors[m.outputs[0]].quantization.scale[0]
            inputs = [(rng.standard_normal(shape) * 80 * scale).astype(np.float32)
                      for _ in range(RUNS)]
            inputs += [np.full(shape, -1e4 * scale, np.float32),
                       np.full(shape, 1e4 * scale, np.float32)]
        else:
            inputs = [rng.integers(-128, 128, shape, dtype=np.int8) for _ in range(RUNS)]
            inputs += [np.full(shape, -128, np.int8), np.full(shape, 127, np.int8)]
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
