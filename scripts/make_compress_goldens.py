#!/usr/bin/env python3
"""Goldens of the compressed MLPerf Tiny models: TFLite-Micro's own interpreter (the
`tflite-micro` Python package: its reference kernels, which unpack INT4 filters with
`UnpackDenseInt4IntoInt8`) runs each compressed model that tinyaccel writes, on the golden
inputs of shared/models/mlperf_tiny/golden/<model>/ and on seeded random inputs, and the
outputs go to tests/data/compress/goldens.json. `tests/compress.rs` regenerates every
compressed model with the same tinyaccel command, checks that the file is byte-identical
(sha256) to the one the goldens were made from, and compares tinyaccel's outputs (CPU
kernels and offloaded) bit for bit. The compressed models themselves are not committed.

Before that, the script checks tinyaccel's .tflite writer against TFLite-Micro: each
reference model rewritten unchanged (`prune --pattern unstructured --sparsity 0`, which
zeroes nothing) must give TFLite-Micro's original golden outputs, and the int4 and 2:4
files written from the built-in models (graphs with no original file) must give
tinyaccel's own outputs in TFLite-Micro.

Random inputs: SplitMix64 (models/src/rng.rs) seeded with RANDOM_SEED + run, one byte per
`next_u64() & 0xff`, the same generator the Rust test uses.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install tflite-micro numpy
    cargo build --release
    /tmp/venv/bin/python scripts/make_compress_goldens.py [--tinyaccel PATH] [--shared DIR]
"""

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from tflite_micro.python.tflite_micro import runtime as tflm
from tflite_micro.python.tflite_micro import _version as tflm_version

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = {
    "kws": "kws_ref_model.tflite",
    "vww": "vww_96_int8.tflite",
    "ic": "pretrainedResnet_quant.tflite",
    "ad": "ad01_int8.tflite",
}
# (case name, model, tinyaccel arguments after the model path, before --out)
CASES = [
    ("kws-int4", "kws", ["quantize", "--weights", "int4"]),
    ("vww-int4", "vww", ["quantize", "--weights", "int4"]),
    ("ic-int4", "ic", ["quantize", "--weights", "int4"]),
    ("ad-int4", "ad", ["quantize", "--weights", "int4"]),
    ("kws-2of4", "kws", ["prune", "--pattern", "2:4"]),
    ("ic-2of4", "ic", ["prune", "--pattern", "2:4"]),
]
RANDOM_RUNS = 3
RANDOM_SEED = 25_000
MASK = (1 << 64) - 1


def splitmix_bytes(seed, n):
    """n bytes of SplitMix64(seed): the low byte of each next_u64()."""
    state = seed & MASK
    out = bytearray(n)
    for i in range(n):
        state = (state + 0x9E3779B97F4A7C15) & MASK
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        out[i] = (z ^ (z >> 31)) & 0xFF
    return bytes(out)


def run_tflm(model_bytes, x):
    it = tflm.Interpreter.from_bytes(model_bytes, arena_size=1 << 21)
    d = it.get_input_details(0)
    it.set_input(np.frombuffer(x, dtype=d["dtype"]).reshape(d["shape"]), 0)
    it.invoke()
    return it.get_output(0).tobytes()


def tinyaccel(exe, args):
    r = subprocess.run([exe] + args, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"tinyaccel {' '.join(args)} failed:\n{r.stderr}")


def golden_inputs(shared, model):
    d = os.path.join(shared, "golden", model)
    names = sorted(n[len("input_"):-len(".bin")] for n in os.listdir(d)
                   if n.startswith("input_") and n.endswith(".bin"))
    return d, names


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    tgt = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--tinyaccel", default=os.path.join(tgt, "release", "tinyaccel"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "models", "mlperf_tiny"))
    ap.add_argument("--out", default=os.path.join(ROOT, "tests", "data", "compress", "goldens.json"))
    a = ap.parse_args()
    shared = os.path.abspath(a.shared)
    tmp = tempfile.mkdtemp(prefix="tinyaccel-compress-")

    # 1. The writer: every reference model rewritten unchanged runs as the original.
    for model, f in FILES.items():
        out = os.path.join(tmp, f"{model}-rewritten.tflite")
        tinyaccel(a.tinyaccel, ["prune", os.path.join(shared, f), "--pattern", "unstructured",
                                "--sparsity", "0", "--out", out])
        d, names = golden_inputs(shared, model)
        mb = open(out, "rb").read()
        for n in names:
            x = open(os.path.join(d, f"input_{n}.bin"), "rb").read()
            want = open(os.path.join(d, f"output_{n}_tflm.bin"), "rb").read()
            if run_tflm(mb, x) != want:
                sys.exit(f"{model}: the rewritten model differs from the original on {n}")
        print(f"writer: {model} rewritten, TFLM outputs identical on {len(names)} golden inputs")

    # 2. Files written from the built-in models (no original file: written from the graph
    # alone): TFLM and tinyaccel give the same output on a seeded random input.
    for model in FILES:
        for args in (["quantize", "--weights", "int4"], ["prune", "--pattern", "2:4"]):
            out = os.path.join(tmp, f"builtin-{model}-{args[0]}.tflite")
            tinyaccel(a.tinyaccel, [args[0], model] + args[1:] + ["--out", out])
            mb = open(out, "rb").read()
            it = tflm.Interpreter.from_bytes(mb, arena_size=1 << 21)
            d = it.get_input_details(0)
            x = splitmix_bytes(RANDOM_SEED, int(np.prod(d["shape"])) * np.dtype(d["dtype"]).itemsize)
            xf, yf = os.path.join(tmp, "x.bin"), os.path.join(tmp, "y.bin")
            open(xf, "wb").write(x)
            tinyaccel(a.tinyaccel, ["run", out, "--input", xf, "--output", yf])
            if run_tflm(mb, x) != open(yf, "rb").read():
                sys.exit(f"built-in {model} {args[0]}: tinyaccel and TFLM outputs differ")
        print(f"built-in {model}: int4 and 2:4 files load in TFLM, outputs identical to tinyaccel's")

    # 3. The compressed models' goldens.
    cases = []
    for name, model, args in CASES:
        out = os.path.join(tmp, f"{name}.tflite")
        cmd = [args[0], os.path.join(shared, FILES[model])] + args[1:] + ["--out", out]
        tinyaccel(a.tinyaccel, cmd)
        mb = open(out, "rb").read()
        d, names = golden_inputs(shared, model)
        runs = []
        for n in names:
            x = open(os.path.join(d, f"input_{n}.bin"), "rb").read()
            runs.append({"input": f"golden:{n}", "output": run_tflm(mb, x).hex()})
        size = len(open(os.path.join(d, f"input_{names[0]}.bin"), "rb").read())
        for r in range(RANDOM_RUNS):
            x = splitmix_bytes(RANDOM_SEED + r, size)
            runs.append({"input": f"random:{RANDOM_SEED + r}", "output": run_tflm(mb, x).hex()})
        cases.append({
            "name": name,
            "model": model,
            "file": FILES[model],
            "args": args,
            "bytes": len(mb),
            "sha256": hashlib.sha256(mb).hexdigest(),
            "runs": runs,
        })
        print(f"{name}: {len(mb)} bytes, {len(runs)} TFLM runs")
    doc = {
        "what": "TFLite-Micro outputs of compressed MLPerf Tiny models (scripts/make_compress_goldens.py)",
        "tflite_micro": getattr(tflm_version, "__version__", "unknown"),
        "random_inputs": "SplitMix64(seed) low byte per next_u64(), input length bytes",
        "cases": cases,
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.write("\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
