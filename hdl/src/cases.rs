//! Random and extreme GEMM core tiles and their expected results.
//!
//! The expected output rows come from `arch::quant` (int32 GEMM with wrapping adds, then
//! `requantize` per column); the expected cycle counts from `arch::timing` (the shared
//! contract the simulator calls), minus the scratchpad read register and the write-back
//! pipeline that sit outside the core (`EDGE_LATENCY + ACC_PIPE_DEPTH`).

use crate::core::ShapeDraw;
use arch::{quant, timing, AccelConfig};

/// One core tile: `C[m x n] = A[m x k] * B[k x n]`, then the PPU with per-column
/// parameters. Output-stationary: `m <= rows`, `n <= cols`, any `k`; weight-stationary:
/// `k <= rows`, `n <= cols`, any `m`; input-stationary: `m <= rows`, `k <= cols`,
/// `n <= 256`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tile {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    /// Row-major `m x k`.
    pub a: Vec<i8>,
    /// Row-major `k x n`.
    pub b: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
    pub zp: i32,
    pub act_min: i32,
    pub act_max: i32,
}

/// What the core must produce for a tile.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// The int32 rows in the order they leave the core (`cols` wide, zero-padded).
    pub acc_rows: Vec<Vec<i32>>,
    /// The same rows after the PPU.
    pub q_rows: Vec<Vec<i8>>,
    /// Core cycles: first vector at the ports to the last output row, inclusive.
    pub core_cycles: u64,
    /// PPU latency in cycles.
    pub ppu_latency: u64,
}

/// Cycles outside the core counted by `arch::timing::compute_cycles`: the registered
/// scratchpad read in front of the array and the accumulator write-back pipeline.
pub const OUTSIDE_CORE_CYCLES: u64 = timing::EDGE_LATENCY + timing::ACC_PIPE_DEPTH;

/// The expected result of `t` on the core of `cfg`.
pub fn expected(cfg: &AccelConfig, t: &Tile) -> Expected {
    let (rows, cols) = (cfg.rows as usize, cfg.cols as usize);
    let c = |i: usize, j: usize| -> i32 {
        if i >= t.m || j >= t.n {
            return 0;
        }
        (0..t.k).fold(0i32, |s, kk| {
            s.wrapping_add(t.a[i * t.k + kk] as i32 * t.b[kk * t.n + j] as i32)
        })
    };
    // The core's output lines in the dataflow's order (`ArrayRtl::output_lines`).
    let acc_rows: Vec<Vec<i32>> = crate::core::array_of(cfg.dataflow)
        .output_lines(rows, cols, t.m, t.n)
        .into_iter()
        .map(|(i, j0)| (0..cols).map(|l| c(i, j0 + l)).collect())
        .collect();
    let q_rows = acc_rows
        .iter()
        .map(|row| {
            row.iter()
                .enumerate()
                .map(|(j, &x)| {
                    let (b, m, s) = lane_params(t, j);
                    quant::requantize(x, b, m, s, t.zp, t.act_min, t.act_max)
                })
                .collect()
        })
        .collect();
    let total = timing::compute_cycles(cfg, t.m as u64, t.k as u64, t.n as u64);
    Expected {
        acc_rows,
        q_rows,
        core_cycles: total - OUTSIDE_CORE_CYCLES,
        ppu_latency: timing::PPU_DEPTH,
    }
}

/// Per-column PPU parameters; columns `>= n` get bias 0, multiplier 0, shift 0.
pub fn lane_params(t: &Tile, j: usize) -> (i32, i32, i32) {
    if j < t.n {
        (t.bias[j], t.mult[j], t.shift[j])
    } else {
        (0, 0, 0)
    }
}

/// A small deterministic generator (SplitMix64), so that `--seed` reproduces a run.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as i64
    }
    pub fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.next_u64() as usize % xs.len()]
    }
}

/// The kind of operand values of a generated tile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operands {
    Random,
    AllMin,
    AllMax,
    MinTimesMax,
    Alternating,
}

/// `count` tiles for `cfg`: case 0 is all `-128 x -128` with the longest reduction, case
/// 1 `-128 x 127`, then random shapes (1 of 4 with a long reduction / many vectors),
/// random or extreme operands, and extreme multipliers, shifts, biases and clamps.
pub fn generate(cfg: &AccelConfig, count: usize, seed: u64) -> Vec<Tile> {
    let mut rng = Rng::new(seed);
    let (rows, cols) = (cfg.rows as i64, cfg.cols as i64);
    let array = crate::core::array_of(cfg.dataflow);
    // Long streams (the reduction for OS, the inputs for WS, the weights for IS), within
    // the scratchpads (`ArrayRtl::max_stream`).
    let max_free = (array.max_stream(cfg) as i64).clamp(1, 600);
    (0..count)
        .map(|idx| {
            let operands = match idx {
                0 => Operands::AllMin,
                1 => Operands::MinTimesMax,
                2 => Operands::AllMax,
                _ => rng.pick(&[
                    Operands::Random,
                    Operands::Random,
                    Operands::Random,
                    Operands::Random,
                    Operands::AllMin,
                    Operands::MinTimesMax,
                    Operands::Alternating,
                ]),
            };
            let long = idx < 3 || rng.range(0, 3) == 0;
            let free = if long {
                rng.range((max_free / 3).max(1), max_free)
            } else {
                rng.range(1, 40.min(max_free))
            };
            let full = idx < 3 || rng.range(0, 2) == 0;
            let mut extent = |bound: usize| -> usize {
                if full {
                    bound
                } else {
                    rng.range(1, bound as i64) as usize
                }
            };
            let (m, k, n) = array.test_shape(
                rows as usize,
                cols as usize,
                &mut ShapeDraw {
                    first: idx == 0,
                    stream: free as usize,
                    longest: max_free as usize,
                    extent: &mut extent,
                },
            );
            let mut val = |pos: usize, is_a: bool| -> i8 {
                match operands {
                    Operands::Random => rng.range(-128, 127) as i8,
                    Operands::AllMin => -128,
                    Operands::AllMax => 127,
                    Operands::MinTimesMax => {
                        if is_a {
                            -128
                        } else {
                            127
                        }
                    }
                    Operands::Alternating => {
                        if pos.is_multiple_of(2) {
                            -128
                        } else {
                            127
                        }
                    }
                }
            };
            let a: Vec<i8> = (0..m * k).map(|p| val(p, true)).collect();
            let b: Vec<i8> = (0..k * n).map(|p| val(p, false)).collect();
            let mult = (0..n)
                .map(|_| match rng.range(0, 9) {
                    0 => i32::MAX,
                    1 => i32::MIN,
                    2 => 1 << 30,
                    3 => rng.range(0, 1000) as i32,
                    4 => rng.range(i32::MIN as i64, i32::MAX as i64) as i32,
                    _ => rng.range(1 << 30, i32::MAX as i64) as i32,
                })
                .collect();
            let shift = (0..n)
                .map(|_| match rng.range(0, 9) {
                    0 => -31,
                    1 => 31,
                    2 => 0,
                    3 => rng.range(1, 12) as i32,
                    _ => rng.range(-20, -1) as i32,
                })
                .collect();
            let bias = (0..n)
                .map(|_| match rng.range(0, 9) {
                    0 => i32::MAX,
                    1 => i32::MIN,
                    2 => 0,
                    _ => rng.range(-100_000, 100_000) as i32,
                })
                .collect();
            let zp = rng.range(-128, 127) as i32;
            let (act_min, act_max) = match rng.range(0, 3) {
                0 => (zp, 127),
                1 => {
                    let lo = rng.range(-128, 127);
                    (lo as i32, rng.range(lo, 127) as i32)
                }
                _ => (-128, 127),
            };
            Tile {
                m,
                k,
                n,
                a,
                b,
                bias,
                mult,
                shift,
                zp,
                act_min,
                act_max,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arch::Dataflow;

    #[test]
    fn generated_tiles_respect_the_dataflow_limits() {
        for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
            let mut cfg = AccelConfig::preset("tiny-4x4").unwrap();
            cfg.dataflow = df;
            for t in generate(&cfg, 50, 7) {
                assert!(t.n <= 4);
                if df == Dataflow::OutputStationary {
                    assert!(t.m <= 4);
                } else {
                    assert!(t.k <= 4);
                }
                assert_eq!(t.a.len(), t.m * t.k);
                let e = expected(&cfg, &t);
                assert_eq!(
                    e.acc_rows.len(),
                    if df == Dataflow::OutputStationary {
                        4
                    } else {
                        t.m
                    }
                );
            }
        }
    }

    #[test]
    fn expected_all_min_tile() {
        let cfg = AccelConfig::preset("tiny-4x4").unwrap();
        let t = &generate(&cfg, 1, 1)[0];
        let e = expected(&cfg, t);
        // Bottom row first; every element is k * 16384.
        assert_eq!(e.acc_rows[0][0], t.k as i32 * 16384);
    }

    #[test]
    fn input_stationary_tiles_cover_the_extremes_and_expect_block_rows() {
        // 8x8 square, rows > cols and rows < cols.
        for (r, c) in [(8u32, 8u32), (6, 3), (3, 5)] {
            let mut cfg = AccelConfig::preset("tiny-4x4").unwrap();
            cfg.rows = r;
            cfg.cols = c;
            cfg.dataflow = Dataflow::InputStationary;
            // Room for 256 weight vectors: 256/cols blocks of `rows` accumulator lines.
            cfg.acc_sram_kib = 32;
            let (r, c) = (r as usize, c as usize);
            let tiles = generate(&cfg, 300, 11);
            for t in &tiles {
                assert!(t.m >= 1 && t.m <= r && t.k >= 1 && t.k <= c);
                assert!(t.n >= 1 && t.n <= 256);
                assert_eq!((t.a.len(), t.b.len()), (t.m * t.k, t.k * t.n));
                let e = expected(&cfg, t);
                assert_eq!(e.acc_rows.len(), t.n.div_ceil(c) * r);
                assert_eq!(
                    e.core_cycles + OUTSIDE_CORE_CYCLES,
                    timing::is_tile_cycles(&cfg, t.n as u64)
                );
                // Row i of block nb, lane l is C[i][nb*cols + l].
                let nb = t.n.div_ceil(c) - 1;
                let l = (t.n - 1) % c;
                let i = t.m - 1;
                let want = (0..t.k).fold(0i32, |s, kk| {
                    s.wrapping_add(t.a[i * t.k + kk] as i32 * t.b[kk * t.n + nb * c + l] as i32)
                });
                assert_eq!(e.acc_rows[nb * r + i][l], want);
            }
            let has = |f: &dyn Fn(&Tile) -> bool| tiles.iter().any(f);
            assert!(has(&|t| t.m < r), "m < rows");
            assert!(has(&|t| t.k < c), "k < cols");
            assert!(
                has(&|t| t.n > c && t.n % c != 0),
                "n > cols, not a multiple"
            );
            assert!(has(&|t| t.n == 256), "n = 256");
            assert!(has(&|t| t.n < c), "n < cols");
        }
    }
}
