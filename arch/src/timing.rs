//! Core timing contract: the cycle counts of one core tile (one `COMPUTE` command), of a
//! DMA transfer and of a `STORE`, as functions of the configuration and the tile
//! dimensions. `docs/architecture.md` ("Compute core, cycle by cycle") describes the
//! micro-architecture these numbers come from.
//!
//! The RTL (`hdl`) is the reference for the core: the simulator (`sim`) and the driver
//! never copy these numbers, they call these functions, and the simulator's PE-level model
//! is tested to take exactly [`compute_cycles`] cycles for many tile shapes.
//!
//! Conventions: a command that starts in cycle 0 and takes `d` cycles occupies cycles
//! `0..d`; the next command of the same queue may start in cycle `d`.

use crate::config::AccelConfig;

/// Cycles from a scratchpad line read (issued in cycle `c`) to its data being at the
/// array edge (cycle `c + EDGE_LATENCY`): the registered SRAM output.
pub const EDGE_LATENCY: u64 = 1;

/// Depth of the write-back pipeline from the array edge into the accumulator scratchpad: a
/// row that leaves the array in cycle `d` is written at the end of cycle `d + ACC_PIPE_DEPTH`
/// (stage 1 reads the old accumulator line for `ACCUMULATE`, stage 2 adds and writes).
pub const ACC_PIPE_DEPTH: u64 = 2;

/// Cycles to read one accumulator line at the start of a `STORE`.
pub const ACC_READ_LATENCY: u64 = 1;

/// Depth of the post-processing unit (PPU): stage 1 adds the int32 bias, stage 2 the
/// saturating rounding doubling high multiply, stage 3 the rounding shift, zero point,
/// clamp and int8 saturation. Raw int32 stores bypass it but keep the same latency.
pub const PPU_DEPTH: u64 = 3;

/// Fill/drain skew of the array: row `i` is delayed `i` cycles and column `j` `j` cycles,
/// so the last PE sees a vector `(rows - 1) + (cols - 1)` cycles after the first.
pub fn skew_cycles(cfg: &AccelConfig) -> u64 {
    (cfg.rows as u64 - 1) + (cfg.cols as u64 - 1)
}

/// Output-stationary core tile: `mt <= rows` outputs rows by `nt <= cols` output columns,
/// reduction depth `kt` (any length). Cycles:
///
/// - `kt`: one (a, b) vector pair fed per cycle;
/// - [`EDGE_LATENCY`]: scratchpad read to array edge;
/// - `(rows - 1) + (cols - 1)`: skew, until PE(rows-1, cols-1) did the last MAC;
/// - `rows`: the array drains one row (cols int32) per cycle, bottom row first
///   (always all `rows` cycles, whatever `mt`; only rows `< mt` are written);
/// - [`ACC_PIPE_DEPTH`]: the last drained row is written into the accumulator scratchpad.
///
/// `kt = 0` is not a legal command (the ISA rejects it); it is costed as `kt = 1`.
pub fn os_tile_cycles(cfg: &AccelConfig, kt: u64) -> u64 {
    kt.max(1) + EDGE_LATENCY + skew_cycles(cfg) + cfg.rows as u64 + ACC_PIPE_DEPTH
}

/// Weight-stationary core tile: `kt <= rows` by `nt <= cols` weights, `mt` input vectors
/// (any number). Cycles:
///
/// - `rows`: preload, one weight row read and shifted down per cycle (always all `rows`,
///   zero rows beyond `kt`); the input reads start right after;
/// - `mt`: one input vector read per cycle;
/// - [`EDGE_LATENCY`]: scratchpad read to array edge;
/// - `(rows - 1) + (cols - 1)`: skew in, partial sums down the columns, de-skew out;
/// - [`ACC_PIPE_DEPTH`]: the last output vector is written into the accumulator
///   scratchpad.
pub fn ws_tile_cycles(cfg: &AccelConfig, mt: u64) -> u64 {
    cfg.rows as u64 + mt.max(1) + EDGE_LATENCY + skew_cycles(cfg) + ACC_PIPE_DEPTH
}

/// Input-stationary block period: the stream slots between the first vectors of two
/// consecutive output blocks, `max(rows, cols)` (at least `rows`, so that the row
/// collectors write at most one accumulator line per cycle).
pub fn is_block_period(cfg: &AccelConfig) -> u64 {
    is_block_period_of(cfg.rows as u64, cfg.cols as u64)
}

/// [`is_block_period`] of a `rows x cols` array.
pub fn is_block_period_of(rows: u64, cols: u64) -> u64 {
    rows.max(cols)
}

/// Input-stationary stream slots of `nt` weight vectors: `ceil(nt/cols)` output blocks
/// of `cols` lanes, one block every [`is_block_period`] slots, the last one `cols` slots.
pub fn is_stream_slots(cfg: &AccelConfig, nt: u64) -> u64 {
    let blocks = nt.max(1).div_ceil(cfg.cols as u64);
    (blocks - 1) * is_block_period(cfg) + cfg.cols as u64
}

/// Input-stationary core tile: `mt <= rows` by `kt <= cols` activations held in the PEs,
/// `nt <= 256` weight vectors streamed. Cycles:
///
/// - `cols`: preload, one input line read and shifted right per cycle (always all `cols`,
///   zero columns beyond `kt`);
/// - [`is_stream_slots`]: one weight vector read per slot (zero slots pad each output
///   block to the block period);
/// - [`EDGE_LATENCY`]: scratchpad read to array edge;
/// - `(rows - 1) + (cols - 1)`: weights down the columns, partial sums right along the
///   rows, the bottom row's collector completes its last line;
/// - [`ACC_PIPE_DEPTH`]: the last line is written into the accumulator scratchpad.
pub fn is_tile_cycles(cfg: &AccelConfig, nt: u64) -> u64 {
    cfg.cols as u64 + is_stream_slots(cfg, nt) + EDGE_LATENCY + skew_cycles(cfg) + ACC_PIPE_DEPTH
}

/// Cycles of one `COMPUTE` command of `m x k x n` in the configured dataflow (the
/// dataflow's [`crate::DataflowRules::tile_cycles`]: [`os_tile_cycles`],
/// [`ws_tile_cycles`] or [`is_tile_cycles`]).
pub fn compute_cycles(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> u64 {
    cfg.dataflow.rules().tile_cycles(cfg, m, k, n)
}

/// Cycles the array spends on useful MACs in a tile (the feed phase: `kt` for OS, `mt`
/// for WS, the stream slots for IS); the rest of [`compute_cycles`] is fill, drain and
/// preload overhead.
pub fn compute_feed_cycles(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> u64 {
    cfg.dataflow.rules().feed_cycles(cfg, m, k, n)
}

/// Bus beats to move `bytes` (the bus moves `bus_bytes_per_cycle` bytes per cycle).
pub fn bus_beats(cfg: &AccelConfig, bytes: u64) -> u64 {
    bytes.div_ceil(cfg.bus_bytes_per_cycle as u64)
}

/// One DMA burst (one contiguous row of a 2-D transfer): the bus latency, then one beat
/// per `bus_bytes_per_cycle` bytes. Bursts are not pipelined: the DMA engine issues the
/// next burst when the previous one completed.
pub fn burst_cycles(cfg: &AccelConfig, bytes: u64) -> u64 {
    cfg.bus_latency_cycles as u64 + bus_beats(cfg, bytes)
}

/// A `LOAD` or `LOAD_PARAMS` of `nrows` bursts of `row_bytes` bytes each.
pub fn dma_cycles(cfg: &AccelConfig, nrows: u64, row_bytes: u64) -> u64 {
    nrows * burst_cycles(cfg, row_bytes)
}

/// Latency from the start of a `STORE` to its first byte being ready for the bus: one
/// accumulator read, then the PPU.
pub fn store_pipe_cycles() -> u64 {
    ACC_READ_LATENCY + PPU_DEPTH
}

/// A `STORE` of `nrows` rows of `row_bytes` bytes (int8: `n` bytes per row; int32:
/// `4 n`): the pipeline fill, then one burst per row (the PPU keeps ahead of the bus).
pub fn store_cycles(cfg: &AccelConfig, nrows: u64, row_bytes: u64) -> u64 {
    store_pipe_cycles() + dma_cycles(cfg, nrows, row_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataflow;

    #[test]
    fn formulas_on_edge_8x8() {
        let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
        // 8x8: skew 14.
        assert_eq!(skew_cycles(&cfg), 14);
        assert_eq!(os_tile_cycles(&cfg, 64), 64 + 14 + 1 + 8 + 2);
        cfg.dataflow = Dataflow::WeightStationary;
        assert_eq!(ws_tile_cycles(&cfg, 100), 8 + 100 + 14 + 1 + 2);
        assert_eq!(compute_cycles(&cfg, 100, 8, 8), ws_tile_cycles(&cfg, 100));
        // bus 8 B/cycle, latency 20.
        cfg.dataflow = Dataflow::InputStationary;
        // n = 20 on 8x8: 3 blocks, period 8, 2*8 + 8 = 24 slots.
        assert_eq!(is_stream_slots(&cfg, 20), 24);
        assert_eq!(is_tile_cycles(&cfg, 20), 8 + 24 + 1 + 14 + 2);
        assert_eq!(compute_cycles(&cfg, 8, 8, 20), 49);
        // rows > cols: the block period is rows.
        let mut tall = cfg.clone();
        tall.rows = 16;
        tall.cols = 4;
        assert_eq!(is_block_period(&tall), 16);
        assert_eq!(is_stream_slots(&tall, 9), 2 * 16 + 4);
        assert_eq!(burst_cycles(&cfg, 17), 20 + 3);
        assert_eq!(store_cycles(&cfg, 2, 8), 4 + 2 * 21);
    }
}
