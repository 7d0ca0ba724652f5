//! `models`: the graph IR of int8 TinyML networks, the `.tflite` importer that builds it,
//! and the four MLPerf Tiny networks built in (`kws`, `vww`, `ic`, `ad`).
//!
//! Importers only translate; they never compute. Arithmetic lives in `runtime`.

pub mod builder;
mod builtin;
mod flatbuf;
pub mod graph;
pub mod mlperf_tiny;
pub mod rng;
pub mod tflite;

pub use builtin::{builtin, builtin_description, BUILTIN_NAMES};
pub use graph::*;

use std::path::Path;

/// Why a model could not be imported. Offsets are byte offsets in the file.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{table}.{field} at byte {offset}: {reason}")]
    Malformed {
        table: &'static str,
        field: &'static str,
        offset: usize,
        reason: String,
    },
    #[error("tensor {index} ({name:?}): {reason}")]
    BadTensor {
        index: usize,
        name: String,
        reason: String,
    },
    #[error("op {index} ({op}): {reason}")]
    BadOp {
        index: usize,
        op: String,
        reason: String,
    },
    #[error("op {index} ({op}) is not supported by tinyaccel")]
    UnsupportedOp { index: usize, op: String },
}

/// An import error together with the model it came from.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{model}: {error}")]
    Import { model: String, error: ImportError },
    #[error("cannot read model file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{spec:?} is neither a built-in model ({}) nor a .tflite file", BUILTIN_NAMES.join(", "))]
    NotFound { spec: String },
}

impl ModelError {
    /// The underlying import error, if the file was read but could not be parsed.
    pub fn import_error(&self) -> Option<&ImportError> {
        match self {
            ModelError::Import { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// Parses `.tflite` bytes; `name` is used as the graph name and in errors.
pub fn from_tflite_bytes(bytes: &[u8], name: &str) -> Result<Graph, ModelError> {
    tflite::parse(bytes, name).map_err(|error| ModelError::Import {
        model: name.to_string(),
        error,
    })
}

/// Reads and parses a `.tflite` file. The graph is named after the file stem.
pub fn load_tflite(path: &Path) -> Result<Graph, ModelError> {
    let bytes = std::fs::read(path).map_err(|source| ModelError::Io {
        path: path.display().to_string(),
        source,
    })?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    tflite::parse(&bytes, &name).map_err(|error| ModelError::Import {
        model: path.display().to_string(),
        error,
    })
}

/// A built-in model name (`kws`, `vww`, `ic`, `ad`) or a path to a `.tflite` file.
pub fn resolve(spec: &str) -> Result<Graph, ModelError> {
    if let Some(g) = builtin(spec) {
        return Ok(g);
    }
    let path = Path::new(spec);
    if path.exists() || spec.ends_with(".tflite") {
        return load_tflite(path);
    }
    Err(ModelError::NotFound {
        spec: spec.to_string(),
    })
}
