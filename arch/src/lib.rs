//! `arch`: the one description of the accelerator, shared by `hdl`, `sim` and `driver`.
//!
//! - [`config`]: [`AccelConfig`] (rows x cols int8 MAC array, dataflow, scratchpads, bus,
//!   clock, technology node), loaded from TOML and validated; presets in `configs/`.
//! - [`quant`]: the fixed-point requantization shared by the CPU kernels and the PPU.
//! - [`tables`]: the energy and area tables per technology node, with their sources.
//! - [`timing`]: the core timing contract (cycles of a core tile, a DMA burst, a store).
//! - [`isa`]: the command set and its 128-bit binary encoding.
//! - [`im2col`]: the hardware im2col unit's implicit matrix, element by element and piece
//!   by piece (`CONV_GEOM` / `LOAD_IM2COL`).
//! - [`dataflow`]: one module per dataflow (OS, WS, IS) behind the
//!   [`dataflow::DataflowRules`] trait: shape limits, operand layouts, timing, tiling rules.
//! - [`schedule`]: the one schedule of a GEMM (tiling, reduction steps, reuse rule, the
//!   commands of each step), shared by the driver's program builder and the simulator.
//! - [`vplan`]: the one plan of a vector-unit program (depthwise, pooling, ADD): tiling,
//!   commands and tokens, shared by the driver and the simulator's `vtile` model.
//! - [`vpu`]: the vector unit's lane arithmetic (depthwise MAC, pooling, residual ADD).
//! - [`device`]: the [`device::Device`] trait through which a driver talks to an
//!   accelerator (the simulator now, the RTL later).

pub mod config;
pub mod dataflow;
pub mod device;
pub mod fasthash;
pub mod hostcheck;
pub mod im2col;
pub mod isa;
pub mod quant;
pub mod schedule;
pub mod sram;
pub mod tables;
pub mod timing;
pub mod vplan;
pub mod vpu;

pub use config::{AccelConfig, ConfigError, ConfigIssue, Dataflow};
pub use dataflow::DataflowRules;
pub use tables::{AreaTable, EnergyTable};
