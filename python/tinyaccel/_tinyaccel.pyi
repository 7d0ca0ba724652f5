"""Type stubs of the native module (python/src/lib.rs). Use the functions of the
``tinyaccel`` package; these take the CLI's argument vectors."""

from typing import Any, Optional, Tuple

import numpy as np

class TinyaccelError(Exception):
    """A tinyaccel command failed: a bad config, model, input or option. The message is
    the CLI's (the text after ``tinyaccel: error: ``)."""

def run(argv: list[str], input: Optional[bytes] = None) -> Tuple[str, np.ndarray]:
    """``tinyaccel run ARGV --json``: (the CLI's JSON text, the output tensor)."""

def cli(argv: list[str]) -> Tuple[int, str]:
    """Any subcommand with its standard output captured: (exit status 0/1/2, text)."""

def sweep(argv: list[str], grid_toml: Optional[str] = None) -> str:
    """``tinyaccel sweep ARGV`` (grid from ``grid_toml`` or ``--grid``): outcome JSON."""

def search(argv: list[str], grid_toml: Optional[str] = None) -> str:
    """``tinyaccel search ARGV`` (grid from ``grid_toml`` or ``--grid``): outcome JSON."""

def load_config(spec: Optional[str] = None, toml_text: Optional[str] = None) -> Tuple[str, str, str]:
    """A preset/file (``spec``) or TOML text: (name, resolved TOML, hash)."""

def load_model(spec: str) -> str:
    """A built-in name or model file: its facts as JSON text."""

def to_toml(v: Any) -> str:
    """A dict of str/bool/int/float/list/dict values as TOML text (None values left out)."""

def version() -> str:
    """The version of the Rust crates."""
