//! Runtime errors: every one names the model, and the op or tensor at fault.

/// Why a graph cannot be prepared or run.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("model {model}: op {index} ({op}): {reason}")]
    BadOp {
        model: String,
        index: usize,
        op: String,
        reason: String,
    },
    #[error("model {model}: tensor {index} ({name:?}): {reason}")]
    BadTensor {
        model: String,
        index: usize,
        name: String,
        reason: String,
    },
    #[error("model {model}: input {input} must be {expected} bytes ({shape:?} {dtype}, NHWC), got {got}")]
    InputSize {
        model: String,
        input: usize,
        expected: usize,
        got: usize,
        shape: Vec<usize>,
        dtype: String,
    },
    #[error("model {model}: {what}")]
    Graph { model: String, what: String },
    #[error("model {model}: tensor arena of {bytes} bytes exceeds the limit of {limit} bytes")]
    ArenaTooLarge {
        model: String,
        bytes: usize,
        limit: usize,
    },
    #[error("op {index} ({op}): external executor failed: {message}")]
    Executor {
        index: usize,
        op: String,
        message: String,
    },
    #[error("internal error (a bug in tinyaccel): {0}")]
    Internal(String),
}
