"""Bad configs, models, inputs and options raise TinyaccelError with the CLI's message."""

import subprocess

import pytest

import tinyaccel


def cli_error(cli_bin, *args):
    p = subprocess.run([str(cli_bin), *args], capture_output=True, text=True)
    assert p.returncode == 1, p.stderr
    prefix = "tinyaccel: error: "
    assert p.stderr.startswith(prefix), p.stderr
    return p.stderr[len(prefix) :].rstrip("\n")


def test_error_is_an_exception_class():
    assert issubclass(tinyaccel.TinyaccelError, Exception)


def test_unknown_model_has_the_cli_message(cli_bin):
    with pytest.raises(tinyaccel.TinyaccelError) as e:
        tinyaccel.run("nosuch")
    assert str(e.value) == cli_error(cli_bin, "run", "nosuch")


def test_missing_model_file(cli_bin, tmp_path):
    p = str(tmp_path / "missing.tflite")
    with pytest.raises(tinyaccel.TinyaccelError) as e:
        tinyaccel.load_model(p)
    assert str(e.value) == cli_error(cli_bin, "run", p)
    assert "missing.tflite" in str(e.value)


def test_garbage_model_bytes():
    with pytest.raises(tinyaccel.TinyaccelError, match="model.tflite"):
        tinyaccel.load_model(b"not a flatbuffer at all")


def test_unknown_preset_has_the_cli_message(cli_bin):
    with pytest.raises(tinyaccel.TinyaccelError) as e:
        tinyaccel.run("kws", accel="edge-9x9")
    assert str(e.value) == cli_error(cli_bin, "run", "kws", "--accel", "edge-9x9")


def test_invalid_config_file_has_the_cli_message(cli_bin, tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('base = "edge-8x8"\nrows = 0\n')
    with pytest.raises(tinyaccel.TinyaccelError) as e:
        tinyaccel.run("kws", accel=str(f))
    assert str(e.value) == cli_error(cli_bin, "run", "kws", "--accel", str(f))
    assert "rows" in str(e.value)


def test_invalid_config_dict():
    with pytest.raises(tinyaccel.TinyaccelError, match="rows"):
        tinyaccel.load_config({"base": "edge-8x8", "rows": 0})
    with pytest.raises(tinyaccel.TinyaccelError, match="nosuchfield"):
        tinyaccel.load_config({"base": "edge-8x8", "nosuchfield": 1})
    with pytest.raises(TypeError, match="rows"):
        tinyaccel.load_config({"base": "edge-8x8", "rows": object()})


def test_wrong_input_size():
    with pytest.raises(tinyaccel.TinyaccelError, match="expects 490 bytes"):
        tinyaccel.run("kws", input=b"\x00" * 10)


def test_bad_option_value():
    with pytest.raises(tinyaccel.TinyaccelError, match="policy"):
        tinyaccel.run("kws", accel="edge-8x8", policy="sometimes")


def test_bad_grid(tmp_path):
    with pytest.raises(tinyaccel.TinyaccelError, match="base"):
        tinyaccel.sweep({"sweep": {"rows": [4, 8]}}, models="kws", out=tmp_path / "s")
    with pytest.raises(tinyaccel.TinyaccelError, match="missing-grid.toml"):
        tinyaccel.sweep(tmp_path / "missing-grid.toml", models="kws", out=tmp_path / "s2")
