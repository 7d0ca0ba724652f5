//! `hdl`: the accelerator's RTL written with rust-hdl, generated from `arch::AccelConfig`,
//! emitted as Verilog, run in Verilator and checked with yosys.
//!
//! - [`pe`]: the int8 processing elements (one per dataflow);
//! - [`ppu`]: the post-processing unit lane (requantization);
//! - [`sreg`]: a register with synchronous reset;
//! - [`core`]: the compute core (array, skew, de-skew, control, PPU) for a config;
//! - [`emit`]: Verilog emission (`tinyaccel_core` wrapper, header with the config hash)
//!   and linting (Verilator `-Wall`, yosys);
//! - [`cases`]: random and extreme GEMM core tiles and their expected rows and cycles
//!   (from `arch::quant` and `arch::timing`);
//! - [`verilator`]: build, stimulus, run and parse of the core's Verilator testbench;
//! - [`sysflow`]: build ([`sysflow::SystemBuild`]) and run the whole accelerator's
//!   testbench (one command buffer per process);
//! - [`rtl_device`]: [`rtl_device::RtlDevice`], the system RTL behind `arch::device::Device`,
//!   with the host-side checks of `arch::hostcheck`.
//!
//! `hdl` depends only on `arch` (and rust-hdl): the co-simulation against the simulator
//! (`tinyaccel hdl verify`, `verify --system`) is the crate `cosim`.
//!
//! See `hdl/README.md` for the port list, the timing and the lint waivers.

pub mod area;
pub mod core;
pub mod emit;
pub mod pe;
pub mod ppu;
pub mod sreg;
pub mod system;

use std::path::{Path, PathBuf};

/// Errors of the RTL flow; each names the file or the tool and the reason.
#[derive(Debug, thiserror::Error)]
pub enum HdlError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("{0}")]
    Tool(String),
    #[error("{path}: {reason}")]
    Parse { path: PathBuf, reason: String },
}

impl HdlError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        HdlError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
pub mod cases;
pub mod rtl_device;
pub mod sysflow;
pub mod verilator;
