//! `sim`: the accelerator simulator. Functional execution of command streams (bit-exact),
//! a cycle-level timing model that follows the RTL contract of `docs/architecture.md`,
//! a fast tile-level model for sweeps, and the counters, energy and area derived from
//! `arch::AccelConfig`.
//!
//! - [`SimDevice`]: the simulator behind `arch::device::Device` (cycle-level or functional).
//! - [`cycle::run`], [`functional::execute`]: the two executors of a command stream.
//! - [`array`]: the register-level model of the systolic array (one core tile).
//! - [`vpu`]: the vector unit in the cycle-level model (one `VCOMPUTE`, event-level and
//!   cycle-stepped).
//! - [`tile`]: the tile-level model: `estimate_gemm(cfg, m, k, n) -> Counters`,
//!   `estimate(cfg, &GemmProblem)` (hardware im2col problems included).
//! - [`vtile`]: the tile-level model of vector-unit programs: `estimate(cfg, &VProblem)`.
//! - [`machine`]: the architectural state (scratchpads, PPU parameters, the im2col window
//!   registers of `CONV_GEOM`) and each command's data semantics.
//! - [`report`]: energy, derived figures and the analytic bounds every run satisfies.

pub mod array;
pub mod cycle;
pub mod device;
pub(crate) mod fetch;
pub mod functional;
pub mod machine;
pub mod report;
pub mod tile;
pub mod vpu;
pub mod vtile;

pub use device::{Fidelity, SimDevice};
pub use machine::ExecError;
pub use report::GemmRunReport;
