# `make test`: what CI runs. Installs the tools the tests need when they are missing
# (Verilator, yosys, Chromium and chromedriver from Debian's packages), then runs the
# tests, rustfmt and clippy.
.PHONY: test deps report bench

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@command -v verilator >/dev/null && command -v yosys >/dev/null || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq verilator yosys )
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  ( $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium chromium-driver )
	@rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt
	@rustup component list --installed 2>/dev/null | grep -q clippy || rustup component add clippy

# scripts/slurm/start.sh: the single-node SLURM cluster of tests/slurm.rs (installs SLURM
# and MUNGE when missing; it stays up after the tests: scripts/slurm/stop.sh stops it).
test: deps
	scripts/slurm/start.sh
	cargo test --workspace --release
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings

report:
	cargo run --release -- report

bench:
	cargo bench --workspace
