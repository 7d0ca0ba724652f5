#!/usr/bin/env python3
"""Inferences/s of TFLite's optimized int8 kernels on the MLPerf Tiny models, one thread.

Same inputs as tinyaccel's goldens (shared/models/mlperf_tiny/golden/<model>/input_*.bin),
in-process loop of interpreter.invoke() after a warm-up; prints one line per model with
min / median / max time per inference and inferences/s (from the median), and whether the
output equals the TFLite-Micro golden.

Needs the `tflite-runtime` package (pip install tflite-runtime "numpy<2"; 2.14 on Python 3.11,
built against NumPy 1.x),
or falls back to `ai_edge_litert` / `tensorflow.lite`.

With --tinyaccel BIN (the runtime's `host_bench` example, built with
`cargo build --release -p runtime --example host_bench`), every round also times
tinyaccel on the same model and input right after TFLite (interleaved, so that both see
the same machine load) and the line gives the ratio of TFLite's median time to
tinyaccel's (> 1: tinyaccel is faster), and the median of the per-round ratios.

usage: scripts/bench_tflite.py [--models kws,vww,ic,ad] [--iters N] [--rounds R]
                               [--input NAME] [--shared DIR] [--reference] [--json]
                               [--tinyaccel target/release/examples/host_bench]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

MODELS = {
    "kws": "kws_ref_model.tflite",
    "vww": "vww_96_int8.tflite",
    "ic": "pretrainedResnet_quant.tflite",
    "ad": "ad01_int8.tflite",
}


def load_interpreter_class():
    try:
        from tflite_runtime.interpreter import Interpreter, OpResolverType
        return Interpreter, OpResolverType, "tflite_runtime"
    except ImportError:
        pass
    try:
        from ai_edge_litert.interpreter import Interpreter, OpResolverType
        return Interpreter, OpResolverType, "ai_edge_litert"
    except ImportError:
        pass
    import tensorflow as tf  # noqa: F401
    return tf.lite.Interpreter, tf.lite.experimental.OpResolverType, "tensorflow"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="kws,vww,ic,ad")
    ap.add_argument("--iters", type=int, default=200, help="invokes per round")
    ap.add_argument("--rounds", type=int, default=5, help="timed rounds (median of rounds)")
    ap.add_argument("--input", default="rand_seed0", help="golden input name")
    ap.add_argument("--shared", default=os.environ.get("TINYACCEL_SHARED",
                                                       os.path.join(here, "..", "..", "shared")))
    ap.add_argument("--reference", action="store_true",
                    help="use TFLite's reference kernels (BUILTIN_REF) instead of the optimized ones")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tinyaccel", metavar="HOST_BENCH",
                    help="also time tinyaccel's host_bench example, interleaved with TFLite")
    args = ap.parse_args()

    Interpreter, OpResolverType, pkg = load_interpreter_class()
    root = os.path.join(args.shared, "models", "mlperf_tiny")
    if not os.path.isdir(root):
        sys.exit(f"error: {root}: no such directory (set --shared or TINYACCEL_SHARED)")
    resolver = OpResolverType.BUILTIN_REF if args.reference else OpResolverType.AUTO
    setups = []
    for name in args.models.split(","):
        if name not in MODELS:
            sys.exit(f"error: unknown model {name!r} (known: {', '.join(MODELS)})")
        model = os.path.join(root, MODELS[name])
        gold = os.path.join(root, "golden", name)
        inp_path = os.path.join(gold, f"input_{args.input}.bin")
        out_path = os.path.join(gold, f"output_{args.input}_tflm.bin")
        interp = Interpreter(model_path=model, num_threads=1,
                             experimental_op_resolver_type=resolver)
        interp.allocate_tensors()
        di = interp.get_input_details()[0]
        do = interp.get_output_details()[0]
        raw = np.fromfile(inp_path, dtype=np.uint8)
        interp.set_tensor(di["index"], raw.view(di["dtype"]).reshape(di["shape"]))
        for _ in range(max(5, args.iters // 10)):
            interp.invoke()
        out = interp.get_tensor(do["index"]).tobytes()
        want = open(out_path, "rb").read() if os.path.exists(out_path) else None
        setups.append((name, interp, (out == want) if want is not None else None))

    def tinyaccel_round(name):
        cmd = [args.tinyaccel, "--models", name, "--iters", str(args.iters), "--rounds", "1",
               "--input", args.input, "--json"]
        env = dict(os.environ, TINYACCEL_SHARED=args.shared)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            sys.exit(f"error: {' '.join(cmd)} failed: {r.stderr.strip()}")
        return json.loads(r.stdout.strip().splitlines()[-1])

    times = {name: [] for name, _, _ in setups}
    ta_times = {name: [] for name, _, _ in setups}
    ta_info = {}
    for _ in range(args.rounds):
        for name, interp, _ in setups:
            t0 = time.perf_counter()
            for _ in range(args.iters):
                interp.invoke()
            times[name].append((time.perf_counter() - t0) / args.iters)
            if args.tinyaccel:
                r = tinyaccel_round(name)
                ta_times[name].append(r["median_us"] * 1e-6)
                ta_info[name] = r

    results = []
    for name, _, matches in setups:
        ts = times[name]
        med = statistics.median(ts)
        r = {
            "model": name,
            "package": pkg,
            "kernels": "reference" if args.reference else "optimized",
            "iters": args.iters,
            "rounds": args.rounds,
            "min_us": min(ts) * 1e6,
            "median_us": med * 1e6,
            "max_us": max(ts) * 1e6,
            "inferences_per_s": 1.0 / med,
            "matches_golden": matches,
        }
        line = (f"{name}: {r['package']} {r['kernels']} median {r['median_us']:.1f} us "
                f"(min {r['min_us']:.1f}, max {r['max_us']:.1f}), "
                f"{r['inferences_per_s']:.1f} inferences/s, "
                f"output {'= golden' if matches else '!= golden'}")
        if args.tinyaccel:
            tt = ta_times[name]
            tmed = statistics.median(tt)
            r["tinyaccel"] = {
                "kernels": ta_info[name]["kernels"],
                "min_us": min(tt) * 1e6,
                "median_us": tmed * 1e6,
                "max_us": max(tt) * 1e6,
                "inferences_per_s": 1.0 / tmed,
                "matches_golden": ta_info[name]["matches_golden"],
            }
            r["ratio"] = med / tmed
            r["ratio_of_rounds"] = statistics.median(a / b for a, b in zip(ts, tt))
            line += (f"; tinyaccel {r['tinyaccel']['kernels']} median {tmed * 1e6:.1f} us "
                     f"(min {min(tt) * 1e6:.1f}, max {max(tt) * 1e6:.1f}), "
                     f"{1.0 / tmed:.1f} inferences/s, output "
                     f"{'= golden' if r['tinyaccel']['matches_golden'] else '!= golden'}; "
                     f"tinyaccel/TFLite speed {r['ratio']:.2f}x "
                     f"(median of per-round ratios {r['ratio_of_rounds']:.2f}x)")
        results.append(r)
        if not args.json:
            print(line, flush=True)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
