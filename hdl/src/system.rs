//! The whole accelerator in RTL: command fetch and decode, the three engines (load,
//! compute, store) with the dependency-token counters, the scratchpads, the DMA engine on
//! the system bus, the PPU on the STORE path, the memory-mapped registers and the compute
//! core of [`crate::core`]. `docs/architecture.md` is the contract; this RTL and the
//! simulator's cycle-level model (`sim::cycle`) are tested equal cycle for cycle and byte
//! for byte (`tinyaccel hdl verify --system`).
//!
//! The system is hand-written Verilog (`hdl/rtl/tinyaccel_system.v`, parameterized), the
//! compute core it instantiates is the rust-hdl core; [`system_verilog`] emits both plus a
//! top module `tinyaccel_accel` that fixes the parameters from the configuration.

use crate::emit;
use crate::HdlError;
use arch::AccelConfig;
use std::fmt::Write as _;

/// The system RTL (parameterized Verilog), embedded.
pub const SYSTEM_RTL: &str = include_str!("../rtl/tinyaccel_system.v");
/// The im2col address generator (`tinyaccel_im2col_agu`), instantiated by the system
/// when `IM2COL = 1`; synthesized alone by `hdl area`.
pub const AGU_RTL: &str = include_str!("../rtl/tinyaccel_im2col_agu.v");
/// Top module of [`AGU_RTL`].
pub const AGU_MODULE: &str = "tinyaccel_im2col_agu";
/// The vector unit (`tinyaccel_vpu`, parameters `LANES`, `DEPTHWISE`, `POOLING`,
/// `ELTWISE`), instantiated by the system when the configuration has any of the three
/// features; synthesized alone by `hdl area`.
pub const VPU_RTL: &str = include_str!("../rtl/tinyaccel_vpu.v");
/// Top module of [`VPU_RTL`].
pub const VPU_MODULE: &str = "tinyaccel_vpu";
/// The DMA engine's FIFO of outstanding pieces (`tinyaccel_dma_track`, parameters `N`
/// slots of `W` bits).
pub const DMA_TRACK_RTL: &str = include_str!("../rtl/tinyaccel_dma_track.v");
/// Top module of [`DMA_TRACK_RTL`].
pub const DMA_TRACK_MODULE: &str = "tinyaccel_dma_track";
/// Bits of one tracking-FIFO entry (`TW` in the system RTL): address 32, length 24, pad
/// 1, last 1, ready cycle 32.
pub const DMA_TRACK_ENTRY_BITS: u32 = 90;
/// The system testbench (memory and bus model, MMIO driver), embedded.
pub const SYSTEM_TB: &str = include_str!("../tb/system_tb.sv");
/// Top module of the testbench.
pub const TB_TOP: &str = "system_tb";
/// Top module of the emitted accelerator.
pub const TOP_MODULE: &str = "tinyaccel_accel";
/// File name of the emitted whole accelerator (`tinyaccel hdl emit`).
pub const SYSTEM_FILE: &str = "tinyaccel_accel.v";
/// Entries of each command queue (load, compute, store) with the ideal queues
/// (`cmd_queue_depth = 0`: the whole buffer is fetched before execution; simulation only);
/// a longer program stops with STATUS error code [`ERR_QUEUE_FULL`]. With
/// `cmd_queue_depth > 0` the queues have that many entries and the streaming fetch waits
/// for room ([`queue_params`]).
pub const QUEUE_DEPTH: usize = 262_144;

/// The `(CMDQ, QDEPTH, QW)` parameters of the system for `cfg`: the streaming fetch and its
/// queue depth (`cmd_queue_depth`, a power of two) or, with 0, the whole-buffer fetch into
/// [`QUEUE_DEPTH`]-entry queues; `QW` bits per queue pointer (`QDEPTH = 2**(QW-1)`).
pub fn queue_params(cfg: &AccelConfig) -> (u32, u64, u32) {
    let q = if cfg.cmd_queue_depth == 0 {
        QUEUE_DEPTH as u64
    } else {
        cfg.cmd_queue_depth as u64
    };
    (cfg.cmd_queue_depth, q, clog2(q + 1))
}

/// STATUS error codes (bits 8..15).
pub const ERR_OPCODE: u32 = 1;
pub const ERR_QUEUE_FULL: u32 = 2;
pub const ERR_NO_FINISH: u32 = 3;
pub const ERR_DEADLOCK: u32 = 4;

/// Checks that the system RTL can be generated for `cfg`.
pub fn check_supported(cfg: &AccelConfig) -> Result<(), HdlError> {
    emit::shape_of(cfg)?;
    if !(1..=16).contains(&cfg.dma_outstanding) {
        return Err(HdlError::Config(format!(
            "config `{}`: dma_outstanding = {}: the system RTL's tracking FIFO has 1..=16 slots",
            cfg.name, cfg.dma_outstanding
        )));
    }
    if cfg.has_vpu() && cfg.rows > cfg.cols {
        return Err(HdlError::Config(format!(
            "config `{}`: rows = {} > cols = {}: the vector unit's {} lanes write int32 \
             lanes of an accumulator line, which has only cols = {} lanes",
            cfg.name, cfg.rows, cfg.cols, cfg.rows, cfg.cols
        )));
    }
    if cfg.bus_bytes_per_cycle > cfg.cols {
        return Err(HdlError::Config(format!(
            "config `{}`: bus_bytes_per_cycle = {} > cols = {}: the system RTL's STORE path \
             produces one accumulator line per cycle, so a bus beat may not span more than \
             one int8 output line (use bus_bytes_per_cycle <= cols)",
            cfg.name, cfg.bus_bytes_per_cycle, cfg.cols
        )));
    }
    Ok(())
}

fn clog2(x: u64) -> u32 {
    (64 - x.saturating_sub(1).leading_zeros()).max(1)
}

/// The top module `tinyaccel_accel`: `tinyaccel_system` with the parameters of `cfg`.
pub fn top_verilog(cfg: &AccelConfig) -> String {
    let rows = cfg.rows as u64;
    let cols = cfg.cols as u64;
    let in_lines = cfg.input_sram_bytes() / rows;
    let w_lines = cfg.weight_sram_bytes() / cols;
    let acc_lines = cfg.acc_sram_bytes() / (4 * cols);
    let bus = cfg.bus_bytes_per_cycle as u64;
    // The (OS, IS) parameters of the controller: the dataflow's paths in hdl/rtl.
    let mode = crate::core::array_of(cfg.dataflow).mode_params();
    let (im2col, outstanding) = feature_params(cfg);
    let (dw, pool, elt) = vpu_params(cfg);
    let (cmdq, qdepth, qw) = queue_params(cfg);
    let mut w = String::new();
    let _ = writeln!(
        w,
        "module {TOP_MODULE} (
    input  wire              clk,
    input  wire              rst,
    input  wire              mmio_we,
    input  wire [7:0]        mmio_addr,
    input  wire [31:0]       mmio_wdata,
    output wire [31:0]       mmio_rdata,
    output wire              bus_req,
    output wire              bus_we,
    output wire [31:0]       bus_req_addr,
    output wire [23:0]       bus_req_len,
    output wire              bus_beat,
    output wire [31:0]       bus_addr,
    output wire [{bb}:0] bus_strb,
    output wire [{bd}:0] bus_wdata,
    input  wire [{bd}:0] bus_rdata,
    output wire              cmd_req,
    output wire [31:0]       cmd_req_addr,
    output wire [23:0]       cmd_req_len,
    output wire              cmd_beat,
    output wire [31:0]       cmd_addr,
    input  wire [{fd}:0] cmd_rdata
);
    tinyaccel_system #(
        .ROWS({rows}), .COLS({cols}), .OS({os}), .IS({is}),
        .IN_LINES({in_lines}), .W_LINES({w_lines}), .ACC_LINES({acc_lines}),
        .IN_BANKS({ib}), .W_BANKS({wb}),
        .BUS({bus}), .LAT({lat}), .QDEPTH({q}), .QW({qw}), .PENTRIES({pe}),
        .IM2COL({im2col}), .OUTSTANDING({outstanding}),
        .DEPTHWISE({dw}), .POOLING({pool}), .ELTWISE({elt}), .CMDQ({cmdq})
    ) u_sys (
        .clk(clk), .rst(rst), .mmio_we(mmio_we), .mmio_addr(mmio_addr),
        .mmio_wdata(mmio_wdata), .mmio_rdata(mmio_rdata), .bus_req(bus_req),
        .bus_we(bus_we), .bus_req_addr(bus_req_addr), .bus_req_len(bus_req_len),
        .bus_beat(bus_beat), .bus_addr(bus_addr), .bus_strb(bus_strb),
        .bus_wdata(bus_wdata), .bus_rdata(bus_rdata), .cmd_req(cmd_req),
        .cmd_req_addr(cmd_req_addr), .cmd_req_len(cmd_req_len), .cmd_beat(cmd_beat),
        .cmd_addr(cmd_addr), .cmd_rdata(cmd_rdata)
    );
endmodule // {TOP_MODULE}",
        bb = bus - 1,
        bd = 8 * bus - 1,
        os = mode.0,
        is = mode.1,
        ib = cfg.input_sram_banks,
        wb = cfg.weight_sram_banks,
        lat = cfg.bus_latency_cycles,
        q = qdepth,
        fd = 8 * bus.min(16) - 1,
        pe = arch::isa::PPU_PARAM_ENTRIES_PER_COL as u64 * cols,
    );
    w
}

/// The `(IM2COL, OUTSTANDING)` parameters of the system for `cfg`: the im2col unit
/// (`cfg.im2col`) and the DMA engine's outstanding pieces (`cfg.dma_outstanding`).
pub fn feature_params(cfg: &AccelConfig) -> (u32, u32) {
    (u32::from(cfg.im2col), cfg.dma_outstanding)
}

/// The `(DEPTHWISE, POOLING, ELTWISE)` parameters of the system for `cfg`: the vector
/// unit's modes (MAC; SUM and MAX; ADD). The unit exists when any is 1.
pub fn vpu_params(cfg: &AccelConfig) -> (u32, u32, u32) {
    (
        u32::from(cfg.depthwise),
        u32::from(cfg.pooling),
        u32::from(cfg.eltwise),
    )
}

/// The complete system Verilog for `cfg`: the rust-hdl core, the address generator, the
/// tracking FIFO, the vector unit, `tinyaccel_system` and the `tinyaccel_accel` top.
pub fn system_verilog(cfg: &AccelConfig) -> Result<String, HdlError> {
    check_supported(cfg)?;
    let mut v = emit::core_verilog(cfg)?;
    let _ = writeln!(
        v,
        "\n// ---- tinyaccel_im2col_agu: LOAD_IM2COL address generator (hdl/rtl/tinyaccel_im2col_agu.v)"
    );
    v.push_str(AGU_RTL);
    let _ = writeln!(
        v,
        "\n// ---- tinyaccel_dma_track: outstanding DMA pieces (hdl/rtl/tinyaccel_dma_track.v)"
    );
    v.push_str(DMA_TRACK_RTL);
    let _ = writeln!(
        v,
        "\n// ---- tinyaccel_vpu: the vector unit, VSET / VCOMPUTE (hdl/rtl/tinyaccel_vpu.v)"
    );
    v.push_str(VPU_RTL);
    let _ = writeln!(
        v,
        "\n// ---- tinyaccel_system: controller, scratchpads, DMA, MMIO (hdl/rtl/tinyaccel_system.v)"
    );
    v.push_str(SYSTEM_RTL);
    v.push('\n');
    v.push_str(&top_verilog(cfg));
    Ok(v)
}

/// Verilator `-G` parameters of the testbench for `cfg` and a device memory of
/// `mem_bytes` bytes.
pub fn tb_params(cfg: &AccelConfig, mem_bytes: u64) -> Vec<String> {
    vec![
        format!("-GBUS={}", cfg.bus_bytes_per_cycle),
        format!("-GLAT={}", cfg.bus_latency_cycles),
        format!("-GMEM_BYTES={mem_bytes}"),
        format!("-GOUT={}", cfg.dma_outstanding),
        format!("-GNCNT={}", arch::device::COUNTER_NAMES.len()),
        format!("-GCMDQ={}", cfg.cmd_queue_depth),
    ]
}

/// `verilator --lint-only -Wall` of an emitted system file (top [`TOP_MODULE`]); returns
/// the warnings (empty when clean). The waivers are written in the file.
pub fn lint(verilog: &std::path::Path) -> Result<Vec<String>, HdlError> {
    emit::verilator_lint(verilog, TOP_MODULE)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The features are parameters of the emitted top and of the testbench, so the
    /// Verilator cache key (a hash of the Verilog and the `-G` parameters) includes them.
    #[test]
    fn features_are_parameters_of_the_top_and_the_testbench() {
        let plain = AccelConfig::preset("edge-8x8").unwrap();
        let conv = AccelConfig::preset("edge-8x8-conv").unwrap();
        assert!(top_verilog(&plain).contains(".IM2COL(0), .OUTSTANDING(1)"));
        assert!(top_verilog(&conv).contains(".IM2COL(1), .OUTSTANDING(4)"));
        assert!(top_verilog(&conv).contains(".DEPTHWISE(0), .POOLING(0), .ELTWISE(0)"));
        let tiny = AccelConfig::preset("edge-8x8-tinyml").unwrap();
        assert!(top_verilog(&tiny).contains(".DEPTHWISE(1), .POOLING(1), .ELTWISE(1)"));
        let mut pool = plain.clone();
        pool.pooling = true;
        assert!(top_verilog(&pool).contains(".DEPTHWISE(0), .POOLING(1), .ELTWISE(0)"));
        assert!(tb_params(&plain, 1 << 20).contains(&"-GOUT=1".to_string()));
        assert!(tb_params(&conv, 1 << 20).contains(&"-GOUT=4".to_string()));
        assert!(
            tb_params(&conv, 1 << 20).contains(&format!("-GNCNT={}", arch::device::NUM_COUNTERS))
        );
        assert!(top_verilog(&plain).contains(".QDEPTH(262144), .QW(19)"));
        assert!(top_verilog(&plain).contains(".CMDQ(0)"));
        let mut q16 = plain.clone();
        q16.cmd_queue_depth = 16;
        assert!(top_verilog(&q16).contains(".QDEPTH(16), .QW(5)"));
        assert!(top_verilog(&q16).contains(".CMDQ(16)"));
        assert!(tb_params(&q16, 1 << 20).contains(&"-GCMDQ=16".to_string()));
        let mut two = plain.clone();
        two.dma_outstanding = 2;
        assert_ne!(top_verilog(&two), top_verilog(&plain));
        let mut bad = plain.clone();
        bad.dma_outstanding = 17;
        let e = check_supported(&bad).unwrap_err().to_string();
        assert!(e.contains("dma_outstanding = 17"), "{e}");
    }

    #[test]
    fn the_system_verilog_holds_the_new_blocks() {
        let v = system_verilog(&AccelConfig::preset("tiny-4x4").unwrap()).unwrap();
        for m in [
            AGU_MODULE,
            DMA_TRACK_MODULE,
            VPU_MODULE,
            "tinyaccel_system",
            TOP_MODULE,
        ] {
            assert!(v.contains(&format!("module {m}")), "{m}");
        }
        assert!(SYSTEM_RTL.contains(&format!("localparam TW = {DMA_TRACK_ENTRY_BITS};")));
        // The streaming fetch's constants are arch::timing's.
        assert!(SYSTEM_RTL.contains(&format!(
            "localparam FBURST = {};",
            arch::timing::FETCH_BURST_CMDS
        )));
        assert!(SYSTEM_RTL.contains(&format!(
            "localparam FOUT = {};",
            arch::timing::FETCH_OUTSTANDING
        )));
        assert!(SYSTEM_RTL.contains(&format!(
            "localparam NCNT = {};",
            arch::device::NUM_COUNTERS
        )));
    }
}
