"""tinyaccel: co-design simulator for TinyML int8 accelerators, from Python.

Every function calls the Rust crates in-process (the native module
``tinyaccel._tinyaccel``), through the same code as the ``tinyaccel`` command line, so
the numbers equal the CLI's for the same arguments:

* :func:`load_config`, :func:`load_model`: accelerator configurations and models.
* :func:`run`: one inference, output as a NumPy array, per-layer results.
* :func:`report`: the CLI's report files; returns the summary.
* :func:`sweep`, :func:`search`: design-space sweep and NSGA-II search over a grid.
* :func:`sim_gemm`, :func:`hdl_verify`: one GEMM on the simulator; the RTL in Verilator.

Tables come back as pandas DataFrames when ``import pandas`` works, else as lists of
dicts (:class:`Rows`); column names and units are those of the CSV files the CLI writes.
Long calls release the GIL; report, sweep and search draw the CLI's progress bars on
standard error when it is a terminal (not in a Jupyter kernel; ``quiet=True`` hides
them). Errors raise :class:`TinyaccelError` with the
CLI's message.
"""

from __future__ import annotations

import atexit
import csv
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _tinyaccel as _native
from ._tinyaccel import TinyaccelError

__all__ = [
    "TinyaccelError",
    "Config",
    "Model",
    "RunResult",
    "Rows",
    "load_config",
    "load_model",
    "run",
    "report",
    "sweep",
    "search",
    "sim_gemm",
    "hdl_verify",
    "__version__",
]

__version__: str = _native.version()

PathLike = Union[str, "os.PathLike[str]"]
ConfigLike = Union[str, "os.PathLike[str]", Mapping[str, Any], "Config"]
ModelLike = Union[str, "os.PathLike[str]", bytes, bytearray, "Model"]

_TEMP_DIRS: List[str] = []


@atexit.register
def _remove_temp_dirs() -> None:
    for d in _TEMP_DIRS:
        shutil.rmtree(d, ignore_errors=True)


def _temp_dir() -> str:
    d = tempfile.mkdtemp(prefix="tinyaccel-py-")
    _TEMP_DIRS.append(d)
    return d


def _have_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


class Rows(list):
    """A table as a list of dicts (one per CSV row; numbers parsed, empty cells None),
    returned when pandas is not installed. ``attrs`` holds what a DataFrame's ``attrs``
    would (e.g. the sweep's outcome)."""

    attrs: Dict[str, Any]

    def __init__(self, rows: Iterable[Dict[str, Any]] = (), attrs: Optional[Dict[str, Any]] = None):
        super().__init__(rows)
        self.attrs = dict(attrs or {})


def _cell(s: str) -> Any:
    if s == "":
        return None
    for conv in (int, float):
        try:
            return conv(s)
        except ValueError:
            pass
    return s


def _table(rows_or_path: Union[str, Path, List[Dict[str, Any]]], attrs: Optional[Dict[str, Any]] = None, as_frame: Optional[bool] = None) -> Any:
    """A CSV file or a list of dicts as a DataFrame (pandas installed, unless
    ``as_frame=False``) or as :class:`Rows`."""
    frame = _have_pandas() if as_frame is None else as_frame
    if isinstance(rows_or_path, (str, Path)):
        if frame:
            import pandas as pd

            df = pd.read_csv(rows_or_path)
            df.attrs.update(attrs or {})
            return df
        with open(rows_or_path, newline="") as f:
            return Rows(({k: _cell(v) for k, v in r.items()} for r in csv.DictReader(f)), attrs)
    if frame:
        import pandas as pd

        df = pd.DataFrame(rows_or_path)
        df.attrs.update(attrs or {})
        return df
    return Rows(rows_or_path, attrs)


class Config:
    """An accelerator configuration, resolved and validated (base chain followed).

    Attributes: ``name``, ``toml`` (the resolved TOML, every field), ``hash`` (the
    config hash the reports record). Pass it as ``accel=`` to :func:`run`,
    :func:`report` and the others."""

    def __init__(self, name: str, toml: str, hash: str):
        self.name = name
        self.toml = toml
        self.hash = hash
        self._path: Optional[str] = None

    def to_dict(self) -> Dict[str, Any]:
        """Every field of the resolved configuration as a dict."""
        try:
            import tomllib  # Python 3.11+
        except ImportError:  # pragma: no cover - older Pythons
            import tomli as tomllib  # type: ignore[no-redef,import-not-found]
        return tomllib.loads(self.toml)

    def path(self) -> str:
        """A TOML file holding this configuration (written once, removed at exit): how
        it reaches the CLI's code, which takes configurations as files."""
        if self._path is None:
            p = os.path.join(_temp_dir(), "config.toml")
            with open(p, "w") as f:
                f.write(self.toml)
            self._path = p
        return self._path

    def __repr__(self) -> str:
        return f"Config(name={self.name!r}, hash={self.hash!r})"


def load_config(spec: ConfigLike) -> Config:
    """Loads an accelerator configuration: a preset name (``"edge-8x8"``), a TOML file,
    or a dict of fields with ``base`` (a preset name or file; relative files are looked
    up in the current folder), e.g. ``{"base": "edge-8x8", "rows": 16, "cols": 16}``.

    Raises :class:`TinyaccelError` (unknown preset, unreadable file, invalid fields)
    with the CLI's message; ``TypeError`` for a value that is not TOML-like."""
    if isinstance(spec, Config):
        return spec
    if isinstance(spec, Mapping):
        name, text, h = _native.load_config(toml_text=_native.to_toml(dict(spec)))
    else:
        name, text, h = _native.load_config(spec=os.fspath(spec))
    return Config(name, text, h)


def _accel_spec(accel: ConfigLike) -> str:
    if isinstance(accel, (str, os.PathLike)) and not isinstance(accel, Config):
        return os.fspath(accel)
    return load_config(accel).path()


class Model:
    """A model: a built-in name (kws, vww, ic, ad), a ``.tflite``/SCALE-Sim ``.csv`` file,
    or ``.tflite`` bytes. Attributes: ``spec`` (what the CLI is given), ``name``,
    ``description``, ``input_shape``, ``input_dtype``, ``output_shape``,
    ``output_dtype``, ``input_bytes``, ``ops``, ``macs``, ``arena_bytes``."""

    def __init__(self, spec: str, facts: Dict[str, Any]):
        self.spec = spec
        self.facts = facts
        for k, v in facts.items():
            setattr(self, k, v)

    def __repr__(self) -> str:
        return f"Model(name={self.facts['name']!r}, ops={self.facts['ops']}, macs={self.facts['macs']})"


def load_model(model: ModelLike) -> Model:
    """Loads and prepares a model: a built-in name, a file path, or the bytes of a
    ``.tflite`` file (kept in a temporary file for the calls that take it).

    Raises :class:`TinyaccelError` for an unknown name or a file that is missing or not
    a valid model."""
    if isinstance(model, Model):
        return model
    if isinstance(model, (bytes, bytearray, memoryview)):
        p = os.path.join(_temp_dir(), "model.tflite")
        with open(p, "wb") as f:
            f.write(bytes(model))
        spec = p
    else:
        spec = os.fspath(model)
    return Model(spec, json.loads(_native.load_model(spec)))


def _model_spec(model: ModelLike) -> str:
    if isinstance(model, Model):
        return model.spec
    if isinstance(model, (bytes, bytearray, memoryview)):
        return load_model(model).spec
    return os.fspath(model)


def _budget_argv(rate: Optional[str], deadline: Optional[str], battery: Optional[str], accel_sleep: Optional[str], cmd_streams: Optional[str]) -> List[str]:
    argv: List[str] = []
    for flag, v in (("--rate", rate), ("--deadline", deadline), ("--battery", battery), ("--accel-sleep", accel_sleep), ("--cmd-streams", cmd_streams)):
        if v is not None:
            argv += [flag, str(v)]
    return argv


class RunResult(dict):
    """The result of :func:`run`: the dict of ``tinyaccel run --json`` (same keys and
    values: ``model``, ``macs``, ``layers``, with ``--accel`` ``accel_us``,
    ``accel_uj``, ...), where ``output`` is the output tensor as a NumPy array of the
    model's output shape and dtype (``output_summary`` stays when the CLI prints one)."""

    @property
    def output(self) -> np.ndarray:
        return self["output"]

    @property
    def layers(self) -> List[Dict[str, Any]]:
        return self["layers"]

    def layers_df(self, as_frame: Optional[bool] = None) -> Any:
        """The per-layer results as a DataFrame (or :class:`Rows` without pandas)."""
        return _table(self["layers"], as_frame=as_frame)


def run(
    model: ModelLike,
    accel: Optional[ConfigLike] = None,
    cpu: Optional[str] = None,
    policy: str = "auto",
    input: Union[None, bytes, bytearray, np.ndarray, PathLike] = None,
    sim: str = "cycle",
    backend: str = "sim",
    print_output: bool = False,
    rate: Optional[str] = None,
    deadline: Optional[str] = None,
    battery: Optional[str] = None,
    accel_sleep: Optional[str] = None,
    cmd_streams: Optional[str] = None,
) -> RunResult:
    """One inference, as ``tinyaccel run MODEL --json`` with the same options.

    ``model``: built-in name, path, ``.tflite`` bytes or :class:`Model`. ``accel``: preset,
    file, dict or :class:`Config`: offload conv/depthwise/FC layers to the simulated
    accelerator (``policy``: auto, all, none; ``sim``: cycle or functional; ``backend``:
    sim or rtl). ``cpu``: CPU profile of the baseline (``NAME[@CLOCK][:LIBRARY]`` or a
    file). ``input``: raw bytes or a NumPy array of the model's input (its bytes, NHWC)
    or a file; default zeros. ``print_output``: the JSON's ``output`` list for outputs
    over 64 values too (the array is always whole). Budget options as the CLI's
    ``--rate``, ``--deadline``, ``--battery``, ``--accel-sleep``, ``--cmd-streams``.

    Returns a :class:`RunResult` (a dict). Raises :class:`TinyaccelError`."""
    argv = ["run", _model_spec(model), "--policy", policy, "--sim", sim, "--backend", backend]
    if accel is not None:
        argv += ["--accel", _accel_spec(accel)]
    if cpu is not None:
        argv += ["--cpu", cpu]
    if print_output:
        argv.append("--print-output")
    argv += _budget_argv(rate, deadline, battery, accel_sleep, cmd_streams)
    data: Optional[bytes] = None
    if isinstance(input, np.ndarray):
        data = np.ascontiguousarray(input).tobytes()
    elif isinstance(input, (bytes, bytearray, memoryview)):
        data = bytes(input)
    elif input is not None:
        argv += ["--input", os.fspath(input)]
    text, output = _native.run(argv, data)
    r = RunResult(json.loads(text))
    r["output"] = output
    return r


def report(
    models: Union[None, str, Sequence[ModelLike]] = None,
    accel: ConfigLike = "edge-8x8",
    cpu: Union[None, str, Sequence[str]] = None,
    out: PathLike = "tinyaccel-report",
    policy: str = "auto",
    png: bool = True,
    quiet: bool = False,
    ablate: Optional[Sequence[str]] = None,
    formats: Sequence[str] = ("tinyaccel",),
    rate: Optional[str] = None,
    deadline: Optional[str] = None,
    battery: Optional[str] = None,
    accel_sleep: Optional[str] = None,
    cmd_streams: Optional[str] = None,
    as_frame: Optional[bool] = None,
) -> Dict[str, Any]:
    """``tinyaccel report``: writes the CLI's files (report.md/.csv/.json, plots,
    index.html; ``formats`` may add ``"scalesim"``) into ``out`` and returns the summary:

    ``{"dir": out, "summary": the text the CLI prints (summary table, budgets, ablation),
    "report": report.json as a dict, "table": report.csv as a DataFrame (or Rows)}``
    (``report``/``table`` are None without the ``tinyaccel`` format).

    ``models``: names/files (default all four built-ins). ``cpu``: CPU profiles (default the
    CLI's: ``cortex-m4f`` with the reference and the CMSIS-NN kernels). Raises
    :class:`TinyaccelError`."""
    argv = ["report", "--accel", _accel_spec(accel), "--out", os.fspath(out), "--policy", policy]
    if models is not None:
        ms = [models] if isinstance(models, (str, bytes, Model)) else list(models)
        argv += ["--model", *[_model_spec(m) for m in ms]]
    if cpu is not None:
        argv += ["--cpu", *([cpu] if isinstance(cpu, str) else list(cpu))]
    if not png:
        argv.append("--no-png")
    if quiet:
        argv.append("--quiet")
    if ablate:
        argv += ["--ablate", ",".join(ablate)]
    argv += ["--format", ",".join(formats)]
    argv += _budget_argv(rate, deadline, battery, accel_sleep, cmd_streams)
    _status, text = _native.cli(argv)
    d = Path(os.fspath(out))
    rj, rc = d / "report.json", d / "report.csv"
    written = "tinyaccel" in formats
    return {
        "dir": str(d),
        "summary": text,
        "report": json.loads(rj.read_text()) if written else None,
        "table": _table(rc, as_frame=as_frame) if written else None,
    }


def _grid_args(grid: Union[PathLike, Mapping[str, Any]]) -> tuple:
    if isinstance(grid, Mapping):
        return [], _native.to_toml(dict(grid))
    return ["--grid", os.fspath(grid)], None


def sweep(
    grid: Union[PathLike, Mapping[str, Any]],
    models: Union[None, str, Sequence[ModelLike]] = None,
    cpu: str = "cortex-m4f",
    policy: str = "auto",
    out: Optional[PathLike] = None,
    jobs: Optional[int] = None,
    png: bool = False,
    quiet: bool = False,
    require: Optional[str] = None,
    rate: Optional[str] = None,
    deadline: Optional[str] = None,
    battery: Optional[str] = None,
    accel_sleep: Optional[str] = None,
    cmd_streams: Optional[str] = None,
    as_frame: Optional[bool] = None,
) -> Any:
    """``tinyaccel sweep``: every design of ``grid`` on every model (tile-level model).

    ``grid``: a grid file, or a dict like the file: ``{"base": "edge-8x8", "sweep":
    {"rows": [4, 8, 16], "cols": [4, 8, 16]}}`` (optional ``"constraints"``). ``out``:
    the output folder (resumable; default a new temporary folder, removed at exit);
    ``png``: PNG copies of the plots (SVG always).

    Returns ``results.csv`` (one row per design x model, the CSV's columns and units) as
    a DataFrame, or :class:`Rows` without pandas; ``.attrs["sweep"]`` holds the outcome
    (``dir``, ``designs``, ``rows``, ``ok``, ``infeasible``, ``invalid``, ``seconds``,
    ``files``). Raises :class:`TinyaccelError`."""
    out_dir = os.fspath(out) if out is not None else _temp_dir()
    g, toml_text = _grid_args(grid)
    argv = ["sweep", *g, "--cpu", cpu, "--policy", policy, "--out", out_dir]
    if models is not None:
        ms = [models] if isinstance(models, (str, bytes, Model)) else list(models)
        argv += ["--model", *[_model_spec(m) for m in ms]]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    if not png:
        argv.append("--no-png")
    if quiet:
        argv.append("--quiet")
    if require is not None:
        argv += ["--require", require]
    argv += _budget_argv(rate, deadline, battery, accel_sleep, cmd_streams)
    outcome = json.loads(_native.sweep(argv, toml_text))
    return _table(Path(outcome["dir"]) / "results.csv", {"sweep": outcome}, as_frame)


def search(
    grid: Union[PathLike, Mapping[str, Any]],
    models: Union[None, str, Sequence[ModelLike]] = None,
    objectives: Sequence[str] = ("latency", "energy", "area"),
    constraints: Sequence[str] = (),
    population: int = 40,
    budget: Optional[int] = None,
    seed: int = 1,
    cpu: str = "cortex-m4f",
    policy: str = "auto",
    out: Optional[PathLike] = None,
    jobs: Optional[int] = None,
    png: bool = False,
    quiet: bool = False,
    as_frame: Optional[bool] = None,
) -> Dict[str, Any]:
    """``tinyaccel search``: NSGA-II over the designs of ``grid`` (file or dict, as for
    :func:`sweep`), minimising ``objectives`` under ``constraints`` (e.g.
    ``["kws.latency_ms <= 1"]``), evaluating at most ``budget`` designs.

    Returns ``{"outcome": {..., "answer": the best feasible design (one line), "front":
    count}, "results": results.csv of the evaluated designs (DataFrame or Rows)}``.
    Raises :class:`TinyaccelError`."""
    out_dir = os.fspath(out) if out is not None else _temp_dir()
    g, toml_text = _grid_args(grid)
    argv = ["search", *g, "--cpu", cpu, "--policy", policy, "--out", out_dir, "--population", str(population), "--seed", str(seed)]
    if models is not None:
        ms = [models] if isinstance(models, (str, bytes, Model)) else list(models)
        argv += ["--model", *[_model_spec(m) for m in ms]]
    argv += ["--objective", ",".join(objectives)]
    for c in constraints:
        argv += ["--constraint", c]
    if budget is not None:
        argv += ["--budget", str(budget)]
    if jobs is not None:
        argv += ["--jobs", str(jobs)]
    if not png:
        argv.append("--no-png")
    if quiet:
        argv.append("--quiet")
    outcome = json.loads(_native.search(argv, toml_text))
    return {"outcome": outcome, "results": _table(Path(outcome["dir"]) / "results.csv", as_frame=as_frame)}


def sim_gemm(
    m: int,
    k: int,
    n: int,
    config: ConfigLike = "edge-8x8",
    dataflow: Optional[str] = None,
    model: str = "cycle",
    int32: bool = False,
    seed: int = 1,
) -> Dict[str, Any]:
    """``tinyaccel sim gemm --json``: one random int8 GEMM (M x K)(K x N) on the
    simulated accelerator (``model``: cycle, functional or tile). Returns the CLI's JSON
    as a dict (counters, cycles, utilization, latency, energy, area, the output check).
    Raises :class:`TinyaccelError`."""
    argv = ["sim", "gemm", "--m", str(m), "--k", str(k), "--n", str(n), "--config", _accel_spec(config), "--model", model, "--seed", str(seed), "--json"]
    if dataflow is not None:
        argv += ["--dataflow", dataflow]
    if int32:
        argv.append("--int32")
    _status, text = _native.cli(argv)
    return json.loads(text)


def hdl_verify(
    config: ConfigLike = "edge-8x8",
    cases: int = 100,
    seed: int = 1,
    dataflow: Optional[str] = None,
    system: bool = False,
    programs: int = 6,
    models: Optional[str] = None,
) -> Dict[str, Any]:
    """``tinyaccel hdl verify --json``: GEMM tiles (or with ``system=True`` whole
    driver programs) through the RTL in Verilator and through the simulator. Needs
    ``verilator`` on PATH (``make deps``). Returns the CLI's JSON as a dict plus
    ``"ok"``: True when every case is bit- and cycle-exact (the CLI's exit 0).
    Raises :class:`TinyaccelError` (e.g. Verilator missing)."""
    argv = ["hdl", "verify", "--config", _accel_spec(config), "--cases", str(cases), "--seed", str(seed), "--programs", str(programs), "--json"]
    if dataflow is not None:
        argv += ["--dataflow", dataflow]
    if system:
        argv.append("--system")
    if models is not None:
        argv += ["--models", models]
    status, text = _native.cli(argv)
    d = json.loads(text)
    d["ok"] = status == 0
    return d
