//! `runtime`: a TFLite-Micro-like micro runtime. It runs the graphs of `models` with pure-CPU
//! int8 reference kernels, bit-exact with TFLite-Micro, plans the tensor arena, and models
//! the latency and energy of those kernels on microcontroller CPUs (the pure-CPU baseline).

pub mod cost;
pub mod error;
pub mod interpreter;
pub mod kernels;
pub mod npz;
pub mod planner;
pub mod prepare;

pub use error::RuntimeError;
pub use interpreter::{Interpreter, LayerInfo, OpContext, OpExecutor};
pub use kernels::conv::ConvGeometry;
pub use kernels::fully_connected::FcGeometry;
pub use kernels::QuantParams;
pub use planner::{GreedyBySize, MemoryPlanner, NoReuse};
pub use prepare::PreparedOp;
