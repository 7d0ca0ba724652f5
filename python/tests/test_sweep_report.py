"""sweep, search, report, sim_gemm and hdl_verify: the CLI's files and values."""

import csv
import json
import subprocess

import pytest

import tinyaccel
from conftest import REPO, have

pd = pytest.importorskip("pandas", reason="pandas is installed by `make test`")

GRID_1000 = {
    "base": "edge-8x8",
    "sweep": {
        "rows": [2, 4, 8, 16, 32],
        "cols": [2, 4, 8, 16, 32],
        "input_sram_kib": [16, 32, 64, 128],
        "bus_bytes_per_cycle": [4, 8, 16, 32, 64],
        "clock_mhz": [100.0, 200.0],
    },
}


def test_sweep_1000_designs_is_a_4000_row_dataframe(in_tmp):
    df = tinyaccel.sweep(GRID_1000, quiet=True, out="s")
    assert isinstance(df, pd.DataFrame)
    assert df.shape[0] == 4000
    with open(in_tmp / "s" / "results.csv", newline="") as f:
        header = next(csv.reader(f))
    assert list(df.columns) == header
    for col in ("design", "design_id", "rows", "cols", "model", "status", "offload_us", "offload_uj", "area_mm2", "speedup", "energy_ratio", "cpu_us", "cpu_uj"):
        assert col in df.columns, col
    assert sorted(df["model"].unique()) == ["ad", "ic", "kws", "vww"]
    assert df["design"].nunique() == 1000
    assert df.attrs["sweep"]["designs"] == 1000 and df.attrs["sweep"]["rows"] == 4000


def test_sweep_equals_the_cli_on_the_same_grid_file(cli_bin, in_tmp):
    grid = REPO / "sweeps" / "edge-explore.toml"
    df = tinyaccel.sweep(grid, models=["kws"], quiet=True, out="py")
    subprocess.run([str(cli_bin), "sweep", "--grid", str(grid), "--model", "kws", "--no-png", "--quiet", "--out", "cli"], check=True, capture_output=True)
    cli = pd.read_csv(in_tmp / "cli" / "results.csv")
    pd.testing.assert_frame_equal(df, cli)
    assert (in_tmp / "py" / "results.csv").read_bytes() == (in_tmp / "cli" / "results.csv").read_bytes()
    assert (in_tmp / "py" / "pareto.csv").read_bytes() == (in_tmp / "cli" / "pareto.csv").read_bytes()


def test_sweep_without_pandas_gives_rows(in_tmp):
    rows = tinyaccel.sweep({"base": "edge-8x8", "sweep": {"rows": [4, 8]}}, models="kws", quiet=True, as_frame=False)
    assert isinstance(rows, tinyaccel.Rows) and len(rows) == 2
    assert isinstance(rows[0]["offload_us"], float) and rows[0]["model"] == "kws"


def test_search_finds_a_design(in_tmp):
    r = tinyaccel.search(REPO / "sweeps" / "edge-explore.toml", models="kws", constraints=["kws.latency_ms <= 50"], budget=80, population=20, quiet=True, out="srch")
    assert r["outcome"]["evaluated"] <= 80 and r["outcome"]["front"] >= 1
    assert r["outcome"]["answer"]
    assert len(r["results"]) == r["outcome"]["evaluated"]


def test_report_writes_the_cli_files_and_returns_the_summary(cli_bin, in_tmp):
    r = tinyaccel.report(models=["kws", "ad"], accel="edge-8x8", out="rep", png=False, quiet=True)
    for f in ("report.md", "report.csv", "report.json", "index.html"):
        assert (in_tmp / "rep" / f).is_file(), f
    # The CLI's default CPU profiles: both kernel libraries of the default core.
    for m in ("kws", "ad"):
        for lib in ("reference", "cmsis-nn"):
            assert f"| {m}@cortex-m4f@120MHz:{lib} |" in r["summary"], (m, lib)
    subprocess.run([str(cli_bin), "report", "--model", "kws", "ad", "--no-png", "--quiet", "--out", "cli"], check=True, capture_output=True)
    # The same rows (report.csv) and the same models in report.json; only the recorded
    # command line differs.
    assert (in_tmp / "rep" / "report.csv").read_bytes() == (in_tmp / "cli" / "report.csv").read_bytes()
    cli = json.loads((in_tmp / "cli" / "report.json").read_text())
    assert r["report"]["models"] == cli["models"]
    pd.testing.assert_frame_equal(r["table"], pd.read_csv(in_tmp / "cli" / "report.csv"))


def test_sim_gemm_equals_the_cli(cli_bin):
    r = tinyaccel.sim_gemm(37, 70, 19, config="tiny-4x4", dataflow="ws", seed=3)
    cli = json.loads(subprocess.check_output([str(cli_bin), "sim", "gemm", "--m", "37", "--k", "70", "--n", "19", "--config", "tiny-4x4", "--dataflow", "ws", "--seed", "3", "--json"]))
    assert r == cli
    with pytest.raises(tinyaccel.TinyaccelError, match="--m must be at least 1"):
        tinyaccel.sim_gemm(0, 4, 4)


@pytest.mark.skipif(not have("verilator"), reason="needs verilator (`make deps` installs it)")
def test_hdl_verify_through_verilator():
    r = tinyaccel.hdl_verify("tiny-4x4", cases=3, dataflow="os")
    assert r["ok"] is True
    assert r["cases"] == 3 and r["bit_exact"] == 3 and r["cycle_exact"] == 3


def test_long_calls_release_the_gil(in_tmp):
    """A Python thread keeps running while the native sweep works (it could not if the
    call held the GIL)."""
    import threading

    from tinyaccel import _tinyaccel

    counter = [0]
    stop = threading.Event()

    def spin():
        while not stop.is_set():
            counter[0] += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        text = _tinyaccel.to_toml(GRID_1000)
        before = counter[0]
        outcome = json.loads(_tinyaccel.sweep(["sweep", "--model", "kws", "--quiet", "--no-png", "--out", "g"], text))
        during = counter[0] - before
    finally:
        stop.set()
        t.join()
    assert outcome["rows"] == 1000
    assert during > 1000, f"the spinning thread advanced only {during} times during the sweep"
