//! `tinyaccel._tinyaccel`: the native half of the Python package (python/tinyaccel/ is the
//! typed Python half users import). Every function takes the CLI's arguments as an
//! argument vector, parses it with the CLI's own parser (`tinyaccel::cmd::Cli`, so
//! defaults, validation and messages are the CLI's) and calls the same library code as the
//! `tinyaccel` binary, with the GIL released. Errors raise `TinyaccelError` with the text
//! the CLI prints after `tinyaccel: error: `.

use clap::Parser;
use numpy::{PyArray1, PyArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use std::path::Path;
use std::process::ExitCode;
use tinyaccel::cmd::{self, Cli, Command};

create_exception!(
    _tinyaccel,
    TinyaccelError,
    PyException,
    "A tinyaccel command failed: a bad config, model, input or option. The message is the CLI's."
);

/// The CLI's error text as a `TinyaccelError`.
fn err(e: anyhow::Error) -> PyErr {
    TinyaccelError::new_err(tinyaccel::error_message(&e))
}

/// Parses `tinyaccel ARGV...` with the CLI's parser.
fn parse(argv: &[String]) -> PyResult<Command> {
    let full = std::iter::once("tinyaccel".to_string()).chain(argv.iter().cloned());
    Cli::try_parse_from(full)
        .map(|c| c.command)
        .map_err(|e| TinyaccelError::new_err(e.to_string().trim_end().to_string()))
}

fn wrong(what: &str) -> PyErr {
    TinyaccelError::new_err(format!(
        "internal: argument vector is not a `{what}` command"
    ))
}

/// Exit status of a command that returned normally (0 success, 1 failed check, 2 bug).
fn status(code: ExitCode) -> u8 {
    if code == ExitCode::SUCCESS {
        0
    } else if code == ExitCode::from(1) {
        1
    } else {
        2
    }
}

/// `tinyaccel run ARGV --json`: returns (the JSON text the CLI prints, the output tensor as
/// a NumPy array shaped like the model's output). `input`: raw input bytes instead of
/// `--input FILE`.
#[pyfunction]
#[pyo3(signature = (argv, input=None))]
fn run(py: Python<'_>, argv: Vec<String>, input: Option<Vec<u8>>) -> PyResult<(String, PyObject)> {
    let Command::Run(mut args) = parse(&argv)? else {
        return Err(wrong("run"));
    };
    args.json = true;
    args.input_bytes = input;
    let collected = py.allow_threads(|| cmd::run::collect(&args)).map_err(err)?;
    let report = match collected {
        cmd::run::Collected::Report(r) => r,
        cmd::run::Collected::Mismatch(m) => {
            return Err(TinyaccelError::new_err(format!("internal error: {m}")))
        }
    };
    let json = serde_json::to_string(&cmd::run::to_json(&report))
        .map_err(|e| TinyaccelError::new_err(e.to_string()))?;
    let output = output_array(
        py,
        &report.output_bytes,
        report.output_dtype,
        &report.output_shape,
    )?;
    Ok((json, output))
}

/// The raw output bytes as a NumPy array of the tensor's dtype and shape.
fn output_array(
    py: Python<'_>,
    bytes: &[u8],
    dtype: models::DType,
    shape: &[usize],
) -> PyResult<PyObject> {
    use models::DType;
    fn shaped<T: numpy::Element>(py: Python<'_>, v: Vec<T>, shape: &[usize]) -> PyResult<PyObject> {
        let a = PyArray1::from_vec(py, v);
        let n = a.len()?;
        if shape.iter().product::<usize>() == n && !shape.is_empty() {
            Ok(a.reshape(shape.to_vec())?.into_any().unbind())
        } else {
            Ok(a.into_any().unbind())
        }
    }
    match dtype {
        DType::I8 => shaped(
            py,
            bytes.iter().map(|&b| b as i8).collect::<Vec<i8>>(),
            shape,
        ),
        DType::I16 => shaped(
            py,
            bytes
                .chunks_exact(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::I32 => shaped(
            py,
            bytes
                .chunks_exact(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::F32 => shaped(
            py,
            bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect::<Vec<_>>(),
            shape,
        ),
        DType::Bool => shaped(
            py,
            bytes.iter().map(|&b| b != 0).collect::<Vec<bool>>(),
            shape,
        ),
        _ => shaped(py, bytes.to_vec(), shape),
    }
}

/// Runs a subcommand (`report`, `sim gemm`, `hdl verify`, ...) exactly as the CLI does,
/// with its standard output captured: returns (exit status, the printed text).
#[pyfunction]
fn cli(py: Python<'_>, argv: Vec<String>) -> PyResult<(u8, String)> {
    let command = parse(&argv)?;
    let (result, text) =
        py.allow_threads(|| tinyaccel::capture_stdout(|| cmd::run(Cli { command })));
    Ok((status(result.map_err(err)?), text))
}

/// The grid of a sweep or search: the TOML text of a table (relative `base` paths looked
/// up in the current folder) or, without one, the `--grid` file of the arguments.
fn grid_of(
    toml_text: Option<&str>,
    file: Option<&Path>,
    what: &str,
) -> anyhow::Result<reports::sweep::Grid> {
    match (toml_text, file) {
        (Some(text), _) => Ok(reports::sweep::Grid::from_toml_str(
            text,
            "<grid dict>",
            &std::env::current_dir()?,
        )?),
        (None, Some(p)) => Ok(reports::sweep::Grid::load(p)?),
        (None, None) => anyhow::bail!("`{what}` needs a grid: a file or a dict"),
    }
}

/// `tinyaccel sweep ARGV` with the grid from `grid_toml` (a dict's TOML) or `--grid`:
/// writes the CLI's files into `--out` and returns the outcome as JSON text.
#[pyfunction]
#[pyo3(signature = (argv, grid_toml=None))]
fn sweep(py: Python<'_>, argv: Vec<String>, grid_toml: Option<String>) -> PyResult<String> {
    let Command::Sweep(args) = parse(&argv)? else {
        return Err(wrong("sweep"));
    };
    let (o, seconds) = py
        .allow_threads(|| {
            let grid = grid_of(grid_toml.as_deref(), args.grid.as_deref(), "sweep")?;
            cmd::sweep::sweep_grid(&args, &grid)
        })
        .map_err(err)?;
    Ok(serde_json::json!({
        "dir": o.dir.display().to_string(),
        "designs": o.designs,
        "models": cmd::report::model_specs(&args.models),
        "rows": o.rows,
        "evaluated": o.evaluated,
        "reused": o.reused,
        "ok": o.ok,
        "infeasible": o.infeasible,
        "invalid": o.invalid,
        "seconds": seconds,
        "files": o.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
    .to_string())
}

/// `tinyaccel search ARGV` with the grid from `grid_toml` or `--grid`: writes the CLI's
/// files into `--out` and returns the outcome as JSON text.
#[pyfunction]
#[pyo3(signature = (argv, grid_toml=None))]
fn search(py: Python<'_>, argv: Vec<String>, grid_toml: Option<String>) -> PyResult<String> {
    let Command::Search(args) = parse(&argv)? else {
        return Err(wrong("search"));
    };
    let (o, seconds) = py
        .allow_threads(|| {
            let grid = grid_of(grid_toml.as_deref(), args.grid.as_deref(), "search")?;
            cmd::search::search_grid(&args, &grid)
        })
        .map_err(err)?;
    Ok(serde_json::json!({
        "dir": o.dir.display().to_string(),
        "designs": o.designs,
        "evaluated": o.evaluated,
        "cached": o.cached,
        "generations": o.generations,
        "front": o.front,
        "answer": o.answer,
        "seconds": seconds,
        "files": o.files.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
    })
    .to_string())
}

/// An accelerator configuration: a preset name or TOML file (`spec`), or TOML text of a
/// table (`toml_text`, relative `base` files looked up in the current folder). Returns
/// (name, resolved TOML, hash).
#[pyfunction]
#[pyo3(signature = (spec=None, toml_text=None))]
fn load_config(
    spec: Option<String>,
    toml_text: Option<String>,
) -> PyResult<(String, String, String)> {
    let cfg = match (spec, toml_text) {
        (_, Some(text)) => {
            let dir = std::env::current_dir().map_err(|e| err(e.into()))?;
            arch::AccelConfig::from_toml_str_in(&text, "<config dict>", &dir)
        }
        (Some(s), None) => arch::AccelConfig::resolve(&s),
        (None, None) => return Err(PyTypeError::new_err("load_config: give a spec or a table")),
    }
    .map_err(|e| TinyaccelError::new_err(e.lines().join("\n")))?;
    Ok((cfg.name.clone(), cfg.to_toml(), cfg.hash()))
}

/// A model (built-in name, `.tflite` or SCALE-Sim `.csv` file), prepared as `run` does:
/// its facts as JSON text (name, description, shapes, dtypes, MACs, ops, arena).
#[pyfunction]
fn load_model(py: Python<'_>, spec: String) -> PyResult<String> {
    let facts = py
        .allow_threads(|| -> anyhow::Result<serde_json::Value> {
            let graph = cmd::run::load_model(&spec)?;
            let interp = runtime::Interpreter::new(&graph)?;
            let (inp, out) = (graph.input(), graph.output());
            Ok(serde_json::json!({
                "name": graph.name,
                "description": graph.description,
                "input_shape": inp.map(|t| t.shape.clone()).unwrap_or_default(),
                "input_dtype": inp.map(|t| t.dtype.name()),
                "output_shape": out.map(|t| t.shape.clone()).unwrap_or_default(),
                "output_dtype": out.map(|t| t.dtype.name()),
                "input_bytes": interp.input_len(),
                "ops": graph.ops.len(),
                "macs": interp.macs(),
                "arena_bytes": interp.arena_bytes(),
            }))
        })
        .map_err(err)?;
    Ok(facts.to_string())
}

/// A Python value (dict, list, tuple, str, bool, int, float) as TOML text (a dict at the
/// top). `where_` names the position in errors.
fn to_toml_value(v: &Bound<'_, PyAny>, where_: &str) -> PyResult<toml::Value> {
    if v.is_instance_of::<PyBool>() {
        return Ok(toml::Value::Boolean(v.extract()?));
    }
    if v.is_instance_of::<PyInt>() {
        return Ok(toml::Value::Integer(v.extract().map_err(|_| {
            PyTypeError::new_err(format!("{where_}: integer out of the 64-bit range"))
        })?));
    }
    if v.is_instance_of::<PyFloat>() {
        return Ok(toml::Value::Float(v.extract()?));
    }
    if let Ok(s) = v.downcast::<PyString>() {
        return Ok(toml::Value::String(s.to_str()?.to_string()));
    }
    if let Ok(d) = v.downcast::<PyDict>() {
        let mut t = toml::Table::new();
        for (k, x) in d.iter() {
            let k: String = k.extract().map_err(|_| {
                PyTypeError::new_err(format!("{where_}: keys must be strings, not {k:?}"))
            })?;
            let at = if where_.is_empty() {
                k.clone()
            } else {
                format!("{where_}.{k}")
            };
            if x.is_none() {
                continue;
            }
            t.insert(k, to_toml_value(&x, &at)?);
        }
        return Ok(toml::Value::Table(t));
    }
    if v.is_instance_of::<PyList>() || v.is_instance_of::<PyTuple>() {
        let items = v
            .try_iter()?
            .enumerate()
            .map(|(i, x)| to_toml_value(&x?, &format!("{where_}[{i}]")))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(toml::Value::Array(items));
    }
    // NumPy scalars and other numbers: integers first, then floats.
    if let Ok(i) = v.extract::<i64>() {
        return Ok(toml::Value::Integer(i));
    }
    if let Ok(f) = v.extract::<f64>() {
        return Ok(toml::Value::Float(f));
    }
    Err(PyTypeError::new_err(format!(
        "{}: cannot be written as TOML: {} (expected dict, list, str, bool, int or float)",
        if where_.is_empty() { "value" } else { where_ },
        v.get_type().name()?
    )))
}

/// A dict as TOML text (None values are left out): how configs and grids given as dicts
/// reach the parsers the CLI uses for files.
#[pyfunction]
fn to_toml(v: &Bound<'_, PyAny>) -> PyResult<String> {
    match to_toml_value(v, "")? {
        toml::Value::Table(t) => {
            toml::to_string(&t).map_err(|e| PyTypeError::new_err(format!("to TOML: {e}")))
        }
        _ => Err(PyTypeError::new_err("expected a dict")),
    }
}

/// The version of the Rust crates.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _tinyaccel(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TinyaccelError", m.py().get_type::<TinyaccelError>())?;
    m.add_function(wrap_pyfunction!(run, m)?)?;
    m.add_function(wrap_pyfunction!(cli, m)?)?;
    m.add_function(wrap_pyfunction!(sweep, m)?)?;
    m.add_function(wrap_pyfunction!(search, m)?)?;
    m.add_function(wrap_pyfunction!(load_config, m)?)?;
    m.add_function(wrap_pyfunction!(load_model, m)?)?;
    m.add_function(wrap_pyfunction!(to_toml, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
