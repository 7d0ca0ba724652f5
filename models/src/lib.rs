//! `models`: the graph IR of int8 TinyML networks, the `.tflite` importer that builds it,
//! the SCALE-Sim topology CSV importer ([`scalesim`]), and the four MLPerf Tiny networks
//! built in (`kws`, `vww`, `ic`, `ad`).
//!
//! Importers only translate; they never compute. Arithmetic lives in `runtime`.

pub mod builder;
mod builtin;
pub mod compress;
mod flatbuf;
pub mod graph;
pub mod mlperf_tiny;
pub mod rng;
pub mod scalesim;
pub mod tflite;
pub mod tflite_write;

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
    #[error(
        "op {index} ({op}) is not supported by tinyaccel{}; supported ops: {}",
        if also.is_empty() { String::new() } else { format!(" (also unsupported: {also})") },
        tflite::SUPPORTED_OPS.join(", ")
    )]
    UnsupportedOp {
        index: usize,
        op: String,
        /// The other unsupported ops of the model, `op I (NAME), ...` (empty if none).
        also: String,
    },
    #[error("not a TFLite model: file identifier {found} at bytes 4..8, expected \"TFL3\"{hint}")]
    NotTflite { found: String, hint: &'static str },
    #[error(
        "op {index} ({op}) runs other subgraphs (the model has {subgraphs}): control flow is \
         not supported by tinyaccel, which runs subgraph 0 only (TFLite-Micro invokes \
         subgraph 0 and reaches the others only through IF, WHILE and CALL_ONCE)"
    )]
    ControlFlow {
        index: usize,
        op: String,
        subgraphs: usize,
    },
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
    #[error("{spec:?} is neither a built-in model ({}) nor a .tflite file nor a SCALE-Sim topology (.csv)", BUILTIN_NAMES.join(", "))]
    NotFound { spec: String },
    /// A SCALE-Sim topology CSV that could not be read as layers.
    #[error(transparent)]
    Topology(#[from] scalesim::TopologyError),
    #[error(
        "model file {path} is larger than {limit} bytes (MAX_MODEL_BYTES): not a TinyML model"
    )]
    TooLarge { path: String, limit: u64 },
}

/// Largest `.tflite` file read (64 MiB; the MLPerf Tiny models are 17-325 KB and an MCU's
/// flash a few MB). Checked while reading, so `/dev/zero` or a huge file is refused
/// without being read whole.
pub const MAX_MODEL_BYTES: u64 = 64 << 20;

/// Reads at most `limit` bytes of `path`: `Ok(None)` when the file holds more (a device
/// like `/dev/zero` included), without reading more than `limit + 1` bytes.
pub fn read_capped(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(limit + 1)
        .read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
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
    let bytes = read_capped(path, MAX_MODEL_BYTES)
        .map_err(|source| ModelError::Io {
            path: path.display().to_string(),
            source,
        })?
        .ok_or_else(|| ModelError::TooLarge {
            path: path.display().to_string(),
            limit: MAX_MODEL_BYTES,
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

/// A built-in model name (`kws`, `vww`, `ic`, `ad`), a path to a SCALE-Sim topology
/// (`.csv`, any case: [`scalesim`]) or a path to a `.tflite` file (any other path).
pub fn resolve(spec: &str) -> Result<Graph, ModelError> {
    if let Some(g) = builtin(spec) {
        return Ok(g);
    }
    let path = Path::new(spec);
    if scalesim::is_topology_path(spec) {
        return scalesim::load(path);
    }
    if path.exists() || spec.ends_with(".tflite") {
        return load_tflite(path);
    }
    Err(ModelError::NotFound {
        spec: spec.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_capped() {
        let dir = std::env::temp_dir().join(format!("tinyaccel-cap-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("m.tflite");
        std::fs::write(&f, [7u8; 100]).unwrap();
        assert_eq!(read_capped(&f, 100).unwrap(), Some(vec![7u8; 100]));
        assert_eq!(read_capped(&f, 99).unwrap(), None);
        // An endless device is refused after limit + 1 bytes, not read whole.
        if Path::new("/dev/zero").exists() {
            assert_eq!(read_capped(Path::new("/dev/zero"), 1 << 10).unwrap(), None);
            let e = load_tflite(Path::new("/dev/zero")).unwrap_err().to_string();
            assert!(e.contains("larger than") && e.contains("/dev/zero"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
