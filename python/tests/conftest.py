"""Fixtures of the Python package's tests: the repository, the built `tinyaccel` binary
(for comparisons with the CLI only) and the MLPerf Tiny goldens in ../shared."""

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _cli_binary() -> Path:
    """The release binary: $TINYACCEL_BIN, else $CARGO_TARGET_DIR/release/tinyaccel, else
    target/release/tinyaccel of the repository (built by `cargo test --release`)."""
    if os.environ.get("TINYACCEL_BIN"):
        return Path(os.environ["TINYACCEL_BIN"])
    target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO / "target")
    if not target.is_absolute():
        target = REPO / target
    return target / "release" / "tinyaccel"


@pytest.fixture(scope="session")
def cli_bin() -> Path:
    p = _cli_binary()
    if not p.is_file():
        pytest.fail(
            f"the tinyaccel binary is missing at {p}: build it with `cargo build --release` "
            "(or set TINYACCEL_BIN); the tests compare the package with the CLI"
        )
    return p


@pytest.fixture(scope="session")
def mlperf_tiny() -> Path:
    """`$TINYACCEL_SHARED/models/mlperf_tiny`, else `shared/models/mlperf_tiny` beside the
    nearest ancestor of the repository that has one (as models::mlperf_tiny::locate)."""
    sub = Path("models") / "mlperf_tiny"
    if os.environ.get("TINYACCEL_SHARED"):
        d = Path(os.environ["TINYACCEL_SHARED"]) / sub
    else:
        d = next(
            (a / "shared" / sub for a in [REPO, *REPO.parents] if (a / "shared" / sub).is_dir()),
            REPO.parent / "shared" / sub,
        )
    if not (d / "golden").is_dir():
        pytest.fail(f"golden data missing at {d} (the MLPerf Tiny models and TFLM goldens)")
    return d


@pytest.fixture()
def in_tmp(tmp_path, monkeypatch):
    """Runs the test in a fresh folder (report/sweep outputs land there)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def have(tool: str) -> bool:
    return shutil.which(tool) is not None
