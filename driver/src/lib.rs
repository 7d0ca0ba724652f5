//! `driver`: offloads conv and matmul layers from the runtime to the accelerator. It
//! partitions the graph, lowers conv to GEMM, tiles GEMMs to fit the scratchpads of an
//! `arch::AccelConfig` and emits the command stream that `sim` and `hdl` both execute.
pub mod delegate;
pub mod gemm;
pub mod lower;
pub mod tiling;
