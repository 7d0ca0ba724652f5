//! `cosim`: the co-simulation harness. It runs the same work on the accelerator's RTL
//! (crate `hdl`, in Verilator) and on the simulator (crate `sim`), from programs the
//! driver builds (crate `driver`) and layers of real models (crates `models`, `runtime`),
//! and reports every difference. It sits above both devices, so neither depends on the
//! other; the host-side command checks both run are in `arch::hostcheck`.
//!
//! - [`core_verify`]: `tinyaccel hdl verify`: core tiles (`hdl::cases`) on the core's RTL
//!   vs the simulator's register-level core model vs the arithmetic reference;
//! - [`tee`]: [`tee::TeeDevice`], a `Device` that runs each command buffer on a primary
//!   and a shadow device from the same image and records the differences;
//! - [`gen`]: the GEMM programs (coverage set, seeded random ones) and their operands;
//! - [`gemm`]: GEMM programs through a tee, checked against `driver::gemm::reference`;
//! - [`layers`]: model layers offloaded by `driver::delegate` through a tee;
//! - [`vpu`]: vector-unit programs (`VSET`/`VCOMPUTE`, hand-built: coverage set and
//!   seeded random ones) through a tee, checked against `arch::vpu`;
//! - [`report`]: the per-program, per-model and whole-run results (text and JSON);
//! - [`system`]: `tinyaccel hdl verify --system`: all of the above on the system RTL
//!   (`hdl::rtl_device::RtlDevice`) vs the cycle-level simulator.
//!
//! See `docs/rtl-system.md` and `hdl/README.md`.

pub mod core_verify;
pub mod gemm;
pub mod gen;
pub mod layers;
pub mod report;
pub mod system;
pub mod tee;
pub mod vpu;

/// Errors of the co-simulation flows.
#[derive(Debug, thiserror::Error)]
pub enum CosimError {
    /// Building or running the RTL (Verilator, files, tools).
    #[error(transparent)]
    Hdl(#[from] hdl::HdlError),
    /// A model of a `--system` run could not be loaded, prepared or run.
    #[error("model `{model}`: {stage}: {reason}")]
    Model {
        model: String,
        stage: &'static str,
        reason: String,
    },
    /// The simulator's core model cannot run a core tile.
    #[error("{0}")]
    Simulator(String),
    /// A request beyond what the tool runs in bounded time and memory.
    #[error("{0}")]
    Limit(String),
    /// A program set could not be generated for the configuration.
    #[error("{0}")]
    Programs(String),
}
