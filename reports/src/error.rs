//! Typed errors of the report writers.

use std::path::PathBuf;

/// Errors from building or writing a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file-system operation failed.
    #[error("{path}: {op}: {source}")]
    Io {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The records are inconsistent (e.g. a breakdown that does not add up).
    #[error("model `{model}`, {location}: field `{field}`: {reason}")]
    Inconsistent {
        model: String,
        location: String,
        field: String,
        reason: String,
    },
    /// A plot could not be drawn.
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
    /// JSON or CSV (de)serialization failed.
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, op: &'static str, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            op,
            source,
        }
    }
}
