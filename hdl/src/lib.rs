//! `hdl`: the accelerator's RTL written with rust-hdl, generated from `arch::AccelConfig`,
//! emitted as Verilog, verified in Verilator against `sim`, and synthesized with yosys for
//! area.
