# `make test`: what CI runs. Installs the tools the tests need when they are missing
# (Verilator, yosys, Chromium and chromedriver from Debian's packages, Python's venv),
# then runs the tests, the Python package's tests (scripts/python-test.sh: maturin,
# pytest, numpy and pandas from PyPI into a venv), rustfmt and clippy.
.PHONY: test deps report bench

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@command -v verilator >/dev/null && command -v yosys >/dev/null || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq verilator yosys )
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver )
	@command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-venv python3-pip )
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy

# scripts/slurm/start.sh: the single-node SLURM cluster of tests/slurm.rs (installs SLURM
# and MUNGE when missing; it stays up after the tests: scripts/slurm/stop.sh stops it).
test: deps
	scripts/slurm/start.sh
	cargo test --workspace --release
	scripts/python-test.sh
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

report:
	cargo run --release -- report

bench:
	cargo bench --workspace
