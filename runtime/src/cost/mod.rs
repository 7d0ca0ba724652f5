//! `runtime::cost`: the pure-CPU baseline. Predicts the latency (cycles, microseconds) and
//! energy (microjoules) of each layer of an int8 network run by TFLite-Micro kernels on a
//! microcontroller core, from the layer's shape.
//!
//! - [`profile`]: [`CpuProfile`], a core at a clock with one kernel library, loaded from TOML
//!   (built-in profiles in `runtime/cpus/*.toml`, or a user file) and validated;
//!   [`CpuProfile::resolve`] parses specs like `cortex-m7@216MHz:cmsis-nn`.
//! - [`shape`]: [`OpShape`], the input of the model: what a kernel sees of a layer (convs
//!   are described by the runtime's one [`ConvGeometry`], derived in [`crate::geometry`]).
//! - [`model`]: [`CpuProfile::layer_cost`] and [`LayerCost`], the per-layer latency and
//!   energy with a breakdown (inner loops, per-output requantization, im2col, call
//!   overhead, flash wait states).
//! - [`graph`]: the adapter from the `models` graph IR to [`OpShape`] and the whole-graph
//!   cost [`graph_cost`], whose totals are sums of its per-layer values.
//!
//! The model, its constants and their sources are documented in `docs/cpu-model.md`.

pub mod fit;
pub mod graph;
pub mod model;
pub mod profile;
pub mod shape;

pub use crate::geometry::ConvGeometry;
pub use graph::{graph_cost, op_shape, GraphCost};
pub use model::{CycleBreakdown, LayerCost};
pub use profile::{CpuProfile, CpuProfileData, KernelCost, KernelLibrary};
pub use shape::{ElementwiseKind, OpShape, PoolKind, PoolShape};

/// Errors of the CPU cost model: bad profile files, bad specs, unsupported layers.
#[derive(Debug, thiserror::Error)]
pub enum CostError {
    /// A profile file could not be read.
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    /// A profile file is not valid TOML or does not match the schema.
    #[error("{file}: {reason}")]
    Parse { file: String, reason: String },
    /// A profile field has an invalid value.
    #[error("{file}: field `{field}`: {reason}")]
    Invalid {
        file: String,
        field: String,
        reason: String,
    },
    /// A `--cpu` spec could not be parsed or names an unknown profile/library.
    #[error("cpu spec `{spec}`: {reason}")]
    Spec { spec: String, reason: String },
    /// A layer of a graph cannot be costed (unsupported op or inconsistent shapes).
    #[error("layer {layer} ({op}): {reason}")]
    Layer {
        layer: usize,
        op: String,
        reason: String,
    },
}

#[cfg(test)]
mod tests;
