"""`tinyaccel.run` against the CLI's JSON, and the goldens bit-exact through Python."""

import json
import subprocess

import numpy as np
import pytest

import tinyaccel

# The reference .tflite file of each built-in model (models::mlperf_tiny::REFERENCE_FILES).
REFERENCE_FILES = {
    "kws": "kws_ref_model.tflite",
    "vww": "vww_96_int8.tflite",
    "ic": "pretrainedResnet_quant.tflite",
    "ad": "ad01_int8.tflite",
}
DTYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "float32": np.float32}


def cli_json(cli_bin, *args):
    return json.loads(subprocess.check_output([str(cli_bin), *args]))


def assert_same_as_cli(result, cli):
    """Every key of the CLI's JSON has the same value in the result; `output` (a list in
    the JSON) equals the NumPy array."""
    assert set(result) == set(cli) | {"output"}
    for k, v in cli.items():
        if k == "output":
            continue
        assert result[k] == v, k
    if "output" in cli:
        np.testing.assert_array_equal(result["output"].reshape(-1), np.array(cli["output"]))


def test_run_kws_edge_8x8_equals_the_cli(cli_bin):
    r = tinyaccel.run("kws", accel="edge-8x8")
    cli = cli_json(cli_bin, "run", "kws", "--accel", "edge-8x8", "--json")
    assert_same_as_cli(r, cli)
    # The totals of the "done when", named.
    for k in ("offload_us", "offload_uj", "cpu_us", "cpu_uj", "speedup", "energy_ratio", "accel_cycles"):
        assert r["accel"][k] == cli["accel"][k], k
    assert r.output.shape == tuple(cli["output_shape"]) and r.output.dtype == np.int8
    assert len(r.layers) == len(cli["layers"]) == 13
    df = r.layers_df()
    assert len(df) == 13


@pytest.mark.parametrize(
    "kwargs,flags",
    [
        ({"cpu": "cortex-m7"}, ["--cpu", "cortex-m7"]),
        ({"accel": "tiny-4x4", "policy": "all"}, ["--accel", "tiny-4x4", "--policy", "all"]),
        ({"accel": "edge-8x8", "sim": "functional"}, ["--accel", "edge-8x8", "--sim", "functional"]),
        ({"accel": "edge-8x8", "rate": "10", "battery": "cr2032"}, ["--accel", "edge-8x8", "--rate", "10", "--battery", "cr2032"]),
    ],
)
def test_run_options_equal_the_cli(cli_bin, kwargs, flags):
    r = tinyaccel.run("ad", **kwargs)
    assert_same_as_cli(r, cli_json(cli_bin, "run", "ad", *flags, "--json"))


def test_run_config_dict_equals_the_same_config_file(cli_bin, tmp_path):
    cfg = {"base": "edge-8x8", "name": "edge-16x8", "rows": 16}
    f = tmp_path / "edge-16x8.toml"
    f.write_text('base = "edge-8x8"\nname = "edge-16x8"\nrows = 16\n')
    r = tinyaccel.run("kws", accel=cfg)
    assert r["accel"]["rows"] == 16 and r["accel"]["config"] == "edge-16x8"
    assert_same_as_cli(r, cli_json(cli_bin, "run", "kws", "--accel", str(f), "--json"))
    c = tinyaccel.load_config(cfg)
    assert c.hash == r["accel"]["config_hash"] == tinyaccel.load_config(str(f)).hash
    assert c.to_dict()["rows"] == 16


def golden_runs(mlperf_tiny, model):
    d = mlperf_tiny / "golden" / model
    names = sorted(p.name[len("input_") : -len(".bin")] for p in d.glob("input_*.bin"))
    assert names, f"{d}: no input_*.bin golden inputs"
    for n in names:
        yield n, (d / f"input_{n}.bin").read_bytes(), (d / f"output_{n}_tflm.bin").read_bytes()


@pytest.mark.parametrize("model", sorted(REFERENCE_FILES))
def test_goldens_bit_exact_on_the_cpu_kernels(mlperf_tiny, model):
    path = mlperf_tiny / REFERENCE_FILES[model]
    m = tinyaccel.load_model(path)
    for name, inp, want in golden_runs(mlperf_tiny, model):
        # The input as a NumPy array of the model's dtype and shape.
        x = np.frombuffer(inp, dtype=DTYPES[m.input_dtype]).reshape(m.input_shape)
        r = tinyaccel.run(m, input=x)
        assert r.output.tobytes() == want, f"{model} {name}"


@pytest.mark.parametrize("model", ["kws", "ad"])
def test_goldens_bit_exact_offloaded(mlperf_tiny, model):
    """The model as .tflite bytes, the input as bytes, the conv/FC layers on edge-8x8."""
    m = tinyaccel.load_model((mlperf_tiny / REFERENCE_FILES[model]).read_bytes())
    for name, inp, want in golden_runs(mlperf_tiny, model):
        r = tinyaccel.run(m, accel="edge-8x8", policy="all", input=inp)
        assert r.output.tobytes() == want, f"{model} {name}"
        assert r["accel"]["accel_layers"] > 0


def test_input_file_equals_the_cli(cli_bin, mlperf_tiny):
    inp = mlperf_tiny / "golden" / "kws" / "input_repo_sample.bin"
    r = tinyaccel.run(mlperf_tiny / REFERENCE_FILES["kws"], input=inp)
    cli = cli_json(cli_bin, "run", str(mlperf_tiny / REFERENCE_FILES["kws"]), "--input", str(inp), "--json")
    assert_same_as_cli(r, cli)


def test_load_model_facts():
    m = tinyaccel.load_model("kws")
    assert (m.name, m.ops, m.input_shape, m.output_shape) == ("kws", 13, [1, 49, 10, 1], [1, 12])
    assert m.macs == tinyaccel.run("kws")["macs"]
