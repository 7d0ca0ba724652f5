#!/usr/bin/env bash
# The Python package's tests (step of `make test`, after `cargo test`): a venv in the
# cargo target folder, maturin, pytest, numpy and pandas from PyPI when missing, the
# package built from python/ by `pip install ./python` (the README's install command;
# the compiled crates are reused from the target folder), then pytest.
# TINYACCEL_VENV overrides the venv's folder.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
venv="${TINYACCEL_VENV:-$target/pyvenv}"
start=$(date +%s)
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
venv="$(cd "$venv" && pwd)"
py="$venv/bin/python"
# maturin's build hook runs the `maturin` program of the venv.
export PATH="$venv/bin:$PATH"
if ! "$py" -c 'import maturin, pytest, numpy, pandas' 2>/dev/null; then
  "$py" -m pip install -q --disable-pip-version-check maturin pytest numpy pandas
fi
# Without build isolation: the venv's maturin builds it (no download per run).
"$py" -m pip install -q --disable-pip-version-check --no-build-isolation --force-reinstall --no-deps ./python
"$py" -m pytest -q python/tests "$@"
echo "python package tests: $(( $(date +%s) - start )) s"
