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
use crate::im2col::{self, Window};
use crate::isa::LoadIm2col;

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

/// Pipeline depth of the vector unit (`docs/architecture.md` section 3.5): the lane
/// operation, the reduction over taps, and the divide/output register. The result of a
/// position whose last tap is read in cycle `tau` leaves the unit in cycle
/// `tau + EDGE_LATENCY + VPU_DEPTH`.
pub const VPU_DEPTH: u64 = 3;

/// Cycles of a `VSET` in the compute engine.
pub const VSET_CYCLES: u64 = 1;

/// Cycles of a `VCOMPUTE` of `m` positions and `k` taps: one tap of one position read per
/// cycle, then the unit's pipeline and the write-back of the last position:
/// `m*k + EDGE_LATENCY + VPU_DEPTH + ACC_PIPE_DEPTH`. (`m = 0` or `k = 0` is not a legal
/// command; it is costed as 1.)
pub fn vcompute_cycles(m: u64, k: u64) -> u64 {
    m.max(1) * k.max(1) + EDGE_LATENCY + VPU_DEPTH + ACC_PIPE_DEPTH
}

/// The cycle (relative to the `VCOMPUTE`'s start) in which the result of position `p`
/// leaves the vector unit; it is written at the end of cycle `+ ACC_PIPE_DEPTH`.
pub fn vcompute_leave_cycle(p: u64, k: u64) -> u64 {
    (p + 1) * k.max(1) - 1 + EDGE_LATENCY + VPU_DEPTH
}

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

/// One DMA burst (one contiguous row of a 2-D transfer) on its own: the bus latency, then
/// one beat per `bus_bytes_per_cycle` bytes. With `dma_outstanding = 1` the DMA engine
/// issues the next burst when the previous one completed, so a transfer takes the sum of
/// its bursts; with more requests in flight see [`pipelined_cycles`].
pub fn burst_cycles(cfg: &AccelConfig, bytes: u64) -> u64 {
    cfg.bus_latency_cycles as u64 + bus_beats(cfg, bytes)
}

/// Cycles a `CONV_GEOM` occupies the DMA engine (it only writes the window registers).
pub const CONV_GEOM_CYCLES: u64 = 1;

/// One piece of a DMA command: `latency` cycles from its request to its first beat
/// (`bus_latency_cycles` for a bus piece, 0 for an im2col pad piece), then `beats` beats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Burst {
    pub latency: u64,
    pub beats: u64,
}

/// Cycles of one DMA command whose pieces are `bursts`, with at most `outstanding` pieces
/// in flight and the first request `pipe` cycles after the start (no bank stalls). With
/// the command starting in cycle 0:
///
/// ```text
/// q_0 = pipe                            request cycle of piece 0, one request per cycle
/// q_i = max(q_{i-1} + 1, e_{i-N})       at most N pieces in flight
/// b_i = max(q_i + L_i, e_{i-1})         first beat: after the latency and the previous piece
/// e_i = b_i + beats_i                   cycle after the last beat
/// ```
///
/// and the result is `e_last` (`pipe` if there is no piece). With `N = 1`, `q_i = e_{i-1}`
/// and this is `pipe + sum(L_i + beats_i)`. `outstanding = 0` is treated as 1.
pub fn pipelined_cycles(
    outstanding: u64,
    pipe: u64,
    bursts: impl IntoIterator<Item = Burst>,
) -> u64 {
    let n = outstanding.max(1) as usize;
    // The `e` of the last `n` pieces, oldest first (a ring buffer).
    let mut ends: Vec<u64> = Vec::with_capacity(n.min(64));
    let mut head = 0usize;
    let mut q_prev: Option<u64> = None;
    let mut e_prev = pipe;
    for (i, b) in bursts.into_iter().enumerate() {
        let q = match q_prev {
            None => pipe,
            Some(q) => {
                let slot = if i >= n { ends[head] } else { 0 };
                (q + 1).max(slot)
            }
        };
        let first_beat = (q + b.latency).max(e_prev);
        let e = first_beat + b.beats;
        if ends.len() < n {
            ends.push(e);
        } else {
            ends[head] = e;
            head = (head + 1) % n;
        }
        q_prev = Some(q);
        e_prev = e;
    }
    e_prev
}

/// `nrows` identical bus bursts of `row_bytes` bytes on `cfg`'s DMA (no pipe).
fn uniform_bursts(cfg: &AccelConfig, pipe: u64, nrows: u64, row_bytes: u64) -> u64 {
    if cfg.dma_outstanding <= 1 {
        return pipe + nrows * burst_cycles(cfg, row_bytes);
    }
    uniform_pipelined_cycles(
        cfg.dma_outstanding as u64,
        pipe,
        nrows,
        Burst {
            latency: cfg.bus_latency_cycles as u64,
            beats: bus_beats(cfg, row_bytes),
        },
    )
}

/// [`pipelined_cycles`] of `n` identical bursts `b`, in closed form (when `b.beats >= 1`).
///
/// The recurrence is a longest path from `q_0`: every path goes `q_0 -> e_0` (`L + beats`)
/// and then advances either one piece over the bus (`+beats`) or `N` pieces through a
/// freed slot (`e_{i-N} -> q_i -> e_i`, `+L + beats`); walking the request chain (`+1` per
/// piece) never beats the bus chain since `beats >= 1`. With `D = L + beats` the longest
/// path is `pipe + D + max((n-1) beats, ((n-1) mod N) beats + floor((n-1)/N) D)`.
pub fn uniform_pipelined_cycles(outstanding: u64, pipe: u64, n: u64, b: Burst) -> u64 {
    if n == 0 {
        return pipe;
    }
    if b.beats == 0 {
        return pipelined_cycles(outstanding, pipe, std::iter::repeat_n(b, n as usize));
    }
    let slots = outstanding.max(1);
    let d = b.latency + b.beats;
    let rest = n - 1;
    let bus_bound = rest * b.beats;
    let slot_bound = (rest % slots) * b.beats + (rest / slots) * d;
    pipe + d + bus_bound.max(slot_bound)
}

/// A `LOAD` or `LOAD_PARAMS` of `nrows` bursts of `row_bytes` bytes each, with up to
/// `cfg.dma_outstanding` bursts in flight ([`pipelined_cycles`]; `nrows *`
/// [`burst_cycles`] when 1).
pub fn dma_cycles(cfg: &AccelConfig, nrows: u64, row_bytes: u64) -> u64 {
    uniform_bursts(cfg, 0, nrows, row_bytes)
}

/// The pieces of a `LOAD_IM2COL` as DMA bursts: bus pieces wait `bus_latency_cycles`,
/// pad pieces 0; each takes `ceil(len / bus_bytes_per_cycle)` beats.
pub fn im2col_bursts<'a>(
    cfg: &'a AccelConfig,
    w: &'a Window,
    l: &'a LoadIm2col,
) -> impl Iterator<Item = Burst> + 'a {
    im2col::pieces(w, l).map(move |p| Burst {
        latency: if p.is_bus() {
            cfg.bus_latency_cycles as u64
        } else {
            0
        },
        beats: bus_beats(cfg, p.len),
    })
}

/// Cycles of a `LOAD_IM2COL` on window `w` (no bank stalls): its pieces
/// ([`im2col_bursts`]) through [`pipelined_cycles`] with `cfg.dma_outstanding`.
pub fn load_im2col_cycles(cfg: &AccelConfig, w: &Window, l: &LoadIm2col) -> u64 {
    pipelined_cycles(cfg.dma_outstanding as u64, 0, im2col_bursts(cfg, w, l))
}

/// Latency from the start of a `STORE` to its first byte being ready for the bus: one
/// accumulator read, then the PPU.
pub fn store_pipe_cycles() -> u64 {
    ACC_READ_LATENCY + PPU_DEPTH
}

/// A `STORE` of `nrows` rows of `row_bytes` bytes (int8: `n` bytes per row; int32:
/// `4 n`): the pipeline fill, then one burst per row (the PPU keeps ahead of the bus),
/// up to `cfg.dma_outstanding` in flight.
pub fn store_cycles(cfg: &AccelConfig, nrows: u64, row_bytes: u64) -> u64 {
    uniform_bursts(cfg, store_pipe_cycles(), nrows, row_bytes)
}

/// Commands per command-fetch burst (`docs/architecture.md` section 5, streaming fetch):
/// the fetch unit reads the buffer in bursts of this many 16-byte commands (the last one
/// shorter) on its own read port.
pub const FETCH_BURST_CMDS: u64 = 8;

/// Command-fetch bursts in flight at once (requests issued ahead of the data).
pub const FETCH_OUTSTANDING: u64 = 2;

/// Bytes per beat of the command read port: `min(bus_bytes_per_cycle, 16)`.
pub fn fetch_beat_bytes(cfg: &AccelConfig) -> u64 {
    (cfg.bus_bytes_per_cycle as u64).clamp(1, 16)
}

/// Beats of one 16-byte command on the command read port.
pub fn fetch_beats_per_command(cfg: &AccelConfig) -> u64 {
    16 / fetch_beat_bytes(cfg)
}

/// The bursts of a buffer of `n` commands on the command read port: `ceil(n /`
/// [`FETCH_BURST_CMDS`]`)` bursts of `bus_latency_cycles` latency, the last one shorter.
pub fn fetch_bursts(cfg: &AccelConfig, n: u64) -> impl Iterator<Item = Burst> {
    let bpc = fetch_beats_per_command(cfg);
    let latency = cfg.bus_latency_cycles as u64;
    (0..n.div_ceil(FETCH_BURST_CMDS)).map(move |b| Burst {
        latency,
        beats: (n - b * FETCH_BURST_CMDS).min(FETCH_BURST_CMDS) * bpc,
    })
}

/// Cycles to fetch a buffer of `n` commands when no queue is ever full (the cycle after
/// the last beat, from cycle 0 = the first cycle after `CTRL.start`): the bursts of
/// [`fetch_bursts`] through [`pipelined_cycles`] with [`FETCH_OUTSTANDING`]. A run with
/// `cmd_queue_depth > 0` takes at least this long.
pub fn fetch_cycles(cfg: &AccelConfig, n: u64) -> u64 {
    pipelined_cycles(FETCH_OUTSTANDING, 0, fetch_bursts(cfg, n))
}

/// The first cycle in which command `i` can be in its queue (its last beat is in the
/// cycle before) when no queue is full before it: burst `b = i / FETCH_BURST_CMDS`
/// starts its beats at `L + max(b B, (b mod N) B + floor(b / N) (L + B))` (the bursts
/// before it are full: `B = FETCH_BURST_CMDS x` [`fetch_beats_per_command`] beats each,
/// `N =` [`FETCH_OUTSTANDING`]; the closed form of [`uniform_pipelined_cycles`]), and
/// command `i` is its `(i mod FETCH_BURST_CMDS) + 1`-th command. Command 0 arrives in
/// cycle `bus_latency_cycles + fetch_beats_per_command`: no command can start earlier.
pub fn fetch_arrival(cfg: &AccelConfig, i: u64) -> u64 {
    let bpc = fetch_beats_per_command(cfg);
    let l = cfg.bus_latency_cycles as u64;
    let beats = FETCH_BURST_CMDS * bpc;
    let b = i / FETCH_BURST_CMDS;
    let first_beat = l
        + (b * beats).max((b % FETCH_OUTSTANDING) * beats + (b / FETCH_OUTSTANDING) * (l + beats));
    first_beat + (i % FETCH_BURST_CMDS + 1) * bpc
}

/// The tile-level models' bound on a run of `n` commands (FINISH included) whose engines
/// take `exec_cycles` with every command available at cycle 0: unchanged with the ideal
/// queues (`cmd_queue_depth = 0`); otherwise `max(exec_cycles +` [`fetch_arrival`]`(0),`
/// [`fetch_cycles`]`(n))` (a start latency and the fetch throughput; it leaves out the
/// back-pressure of full queues, which the cycle-level model has).
pub fn with_fetch(cfg: &AccelConfig, exec_cycles: u64, n: u64) -> u64 {
    if cfg.cmd_queue_depth == 0 {
        return exec_cycles;
    }
    (exec_cycles + fetch_arrival(cfg, 0)).max(fetch_cycles(cfg, n))
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

    /// The closed form of a command's arrival equals the fetch recurrence, and the fetch
    /// of a whole buffer ends with its last command's arrival.
    #[test]
    fn fetch_arrival_matches_the_recurrence() {
        for (bus, lat) in [(8, 20), (4, 0), (16, 3), (32, 50), (1, 7)] {
            let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
            cfg.bus_bytes_per_cycle = bus;
            cfg.bus_latency_cycles = lat;
            let bpc = fetch_beats_per_command(&cfg);
            assert_eq!(bpc, 16 / (bus as u64).min(16));
            for n in 1..40u64 {
                assert_eq!(
                    fetch_cycles(&cfg, n),
                    fetch_arrival(&cfg, n - 1),
                    "bus {bus} lat {lat} n {n}"
                );
                // One command more never arrives earlier.
                assert!(fetch_arrival(&cfg, n) >= fetch_arrival(&cfg, n - 1) + bpc);
            }
            assert_eq!(fetch_arrival(&cfg, 0), lat as u64 + bpc);
        }
        let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
        assert_eq!(with_fetch(&cfg, 1000, 5), 1000);
        cfg.cmd_queue_depth = 16;
        // 8 B per beat, 2 beats per command, latency 20: command 0 arrives in cycle 22.
        assert_eq!(with_fetch(&cfg, 1000, 5), 1022);
        assert_eq!(with_fetch(&cfg, 1, 5), fetch_cycles(&cfg, 5));
        assert_eq!(fetch_cycles(&cfg, 5), 20 + 10);
    }
}
