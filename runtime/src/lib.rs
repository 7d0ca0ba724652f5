//! `runtime`: a TFLite-Micro-like micro runtime. It runs the graphs of `models` with pure-CPU
//! int8 reference kernels, bit-exact with TFLite-Micro, plans the tensor arena, and models
//! the latency and energy of those kernels on microcontroller CPUs (the pure-CPU baseline).
//!
//! Running a model: [`Interpreter::new`] (prepare + greedy arena plan, weights packed for
//! the fast kernels), [`Interpreter::invoke`]
//! (raw input bytes in, raw output bytes out), [`Interpreter::layers`] (per-op shapes and
//! MACs), [`Interpreter::tensor_bytes`] (any tensor after a run; use
//! [`Interpreter::with_planner`] with [`NoReuse`] to keep them all). Offloading: implement
//! [`OpExecutor`] and call [`Interpreter::invoke_with`]; each conv/depthwise/FC op's
//! [`PreparedOp`] carries its [`ConvGeometry`]/[`FcGeometry`] and [`QuantParams`], the exact
//! values the CPU kernels in [`kernels`] use.

pub mod cost;
pub mod error;
pub mod footprint;
pub mod geometry;
pub mod interpreter;
pub mod kernels;
pub mod npz;
pub mod planner;
pub mod prepare;

pub use error::RuntimeError;
pub use geometry::{ConvGeometry, GeometryError, Window};
pub use interpreter::{Interpreter, LayerInfo, OpContext, OpExecutor};
pub use kernels::fast::{Isa, Kernels};
pub use kernels::fully_connected::FcGeometry;
pub use kernels::QuantParams;
pub use planner::{GreedyBySize, MemoryPlanner, NoReuse};
pub use prepare::PreparedOp;
