//! `arch`: the one description of the accelerator, shared by `hdl`, `sim` and `driver`.
//!
//! - [`config`]: [`AccelConfig`] (rows x cols int8 MAC array, dataflow, scratchpads, bus,
//!   clock, technology node), loaded from TOML and validated; presets in `configs/`.
//! - [`quant`]: the fixed-point requantization shared by the CPU kernels and the PPU.
//! - [`tables`]: the energy and area tables per technology node, with their sources.

pub mod config;
pub mod quant;
pub mod tables;

pub use config::{AccelConfig, ConfigError, ConfigIssue, Dataflow};
pub use tables::{AreaTable, EnergyTable};
