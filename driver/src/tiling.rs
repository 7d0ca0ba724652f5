//! Tile-size selection for a GEMM on an [`AccelConfig`] (in the spirit of Gemmini's
//! `tiled_matmul_auto`): the outer tile `tm x tk x tn` is the largest block whose A, B
//! and C tiles fit in *half* of the input, weight and accumulator scratchpads (the other
//! half is being filled or drained: double buffering), chosen to minimise an estimate of
//! the run time (bus traffic with reuse, bursts, core tiles). K is split (`n_k > 1`, int32
//! accumulation in the accumulator scratchpad) only when a full-K tile does not fit.
//!
//! Scratchpad footprints (lines; `R = rows`, `C = cols`):
//!
//! | dataflow | A tile (input) | B tile (weight) | C tile (acc) |
//! |---|---|---|---|
//! | OS | `ceil(tm/R) * tk` (stored transposed) | `ceil(tn/C) * tk` | `ceil(tn/C) * tm` |
//! | WS | `ceil(tk/R) * tm` | `ceil(tn/C) * tk` | `ceil(tn/C) * tm` |

use arch::isa::PPU_PARAM_ENTRIES_PER_COL;
use arch::{timing, AccelConfig, Dataflow};

/// Largest value of a 16-bit command field.
pub const MAX_FIELD: u64 = u16::MAX as u64;

/// Loop order over output tiles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LoopOrder {
    /// `for i (M tiles) { for j (N tiles) { for k } }`: A tiles reused across `j` when
    /// `n_k == 1`.
    MOuter,
    /// `for j { for i { for k } }`: B tiles reused across `i` when `n_k == 1`.
    NOuter,
}

/// Half-scratchpad capacities in lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub input_half_lines: u64,
    pub weight_half_lines: u64,
    pub acc_half_lines: u64,
}

impl Capacity {
    /// The capacities of `cfg`.
    pub fn of(cfg: &AccelConfig) -> Self {
        let r = cfg.rows as u64;
        let c = cfg.cols as u64;
        Capacity {
            input_half_lines: cfg.input_sram_bytes() / r / 2,
            weight_half_lines: cfg.weight_sram_bytes() / c / 2,
            acc_half_lines: cfg.acc_sram_bytes() / (4 * c) / 2,
        }
    }
}

/// The chosen tiling of an `m x k x n` GEMM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tiling {
    pub m: u64,
    pub k: u64,
    pub n: u64,
    pub tm: u64,
    pub tk: u64,
    pub tn: u64,
    pub order: LoopOrder,
}

/// Why no tiling exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TilingError {
    #[error("GEMM dimension `{0}` is zero")]
    ZeroDim(&'static str),
    #[error("dataflow `{0}` is not supported by the driver's tiling")]
    UnsupportedDataflow(Dataflow),
    #[error("no tile fits: {0}")]
    NoFit(String),
}

impl Tiling {
    /// Number of tiles along M, N, K.
    pub fn n_i(&self) -> u64 {
        self.m.div_ceil(self.tm)
    }
    pub fn n_j(&self) -> u64 {
        self.n.div_ceil(self.tn)
    }
    pub fn n_k(&self) -> u64 {
        self.k.div_ceil(self.tk)
    }
    /// Actual extent of tile `i` along M (the last one may be partial).
    pub fn tm_at(&self, i: u64) -> u64 {
        self.tm.min(self.m - i * self.tm)
    }
    pub fn tn_at(&self, j: u64) -> u64 {
        self.tn.min(self.n - j * self.tn)
    }
    pub fn tk_at(&self, kk: u64) -> u64 {
        self.tk.min(self.k - kk * self.tk)
    }
    /// Output tiles in execution order, as `(i, j)`.
    pub fn tiles(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let (ni, nj) = (self.n_i(), self.n_j());
        let order = self.order;
        (0..ni * nj).map(move |t| match order {
            LoopOrder::MOuter => (t / nj, t % nj),
            LoopOrder::NOuter => (t % ni, t / ni),
        })
    }
}

/// Scratchpad lines of the A, B and C tiles of `tm x tk x tn`.
pub fn footprint(cfg: &AccelConfig, tm: u64, tk: u64, tn: u64) -> (u64, u64, u64) {
    let r = cfg.rows as u64;
    let c = cfg.cols as u64;
    let (a, b) = match cfg.dataflow {
        Dataflow::OutputStationary => (tm.div_ceil(r) * tk, tn.div_ceil(c) * tk),
        Dataflow::WeightStationary => (tk.div_ceil(r) * tm, tn.div_ceil(c) * tk),
        // Both operands stored transposed: A by k lines of m lanes, B by n lines per
        // block of `cols` k values.
        Dataflow::InputStationary => (tm.div_ceil(r) * tk, tk.div_ceil(c) * tn),
    };
    (a, b, tn.div_ceil(c) * tm)
}

fn candidates(d: u64, gran: u64, max: u64) -> Vec<u64> {
    let mut v = Vec::with_capacity(24);
    for t in [1u64, 2, 3, 4, 5, 6, 8, 10, 12, 16, 24, 32, 48, 64, 128, 256] {
        let x = d.div_ceil(t).div_ceil(gran) * gran;
        let x = x.min(d).min(max);
        if x >= 1 && !v.contains(&x) {
            v.push(x);
        }
    }
    let g = gran.min(d).min(max);
    if g >= 1 && !v.contains(&g) {
        v.push(g);
    }
    v
}

/// Estimated cycles of a tiling (used only to rank candidates; the simulator's models
/// are the real timing).
pub fn estimate(cfg: &AccelConfig, t: &Tiling) -> u64 {
    let r = cfg.rows as u64;
    let c = cfg.cols as u64;
    let (ni, nj, nk) = (t.n_i(), t.n_j(), t.n_k());
    let (m, k, n) = (t.m, t.k, t.n);
    // Bus traffic and bursts.
    let a_reloads = if nk == 1 && (t.order == LoopOrder::MOuter || ni == 1) {
        1
    } else {
        nj
    };
    let b_reloads = if nk == 1 && (t.order == LoopOrder::NOuter || nj == 1) {
        1
    } else {
        ni
    };
    let a_bytes = m * k * a_reloads;
    let b_bytes = k * n * b_reloads;
    let a_bursts = m * nk * a_reloads;
    let b_bursts = k * b_reloads * nj;
    let c_bursts = m * nj;
    let lat = cfg.bus_latency_cycles as u64;
    let bus = (a_bytes + b_bytes + m * n).div_ceil(cfg.bus_bytes_per_cycle as u64)
        + (a_bursts + b_bursts + c_bursts) * lat;
    // Core time.
    let core = match cfg.dataflow {
        Dataflow::OutputStationary => {
            let blocks_per_step = t.tm.div_ceil(r) * t.tn.div_ceil(c);
            ni * nj * nk * blocks_per_step * timing::os_tile_cycles(cfg, t.tk)
        }
        Dataflow::WeightStationary => {
            let blocks = k.div_ceil(r) * n.div_ceil(c);
            ni * blocks * timing::ws_tile_cycles(cfg, t.tm)
        }
        Dataflow::InputStationary => {
            ni * nj * nk * t.tk.div_ceil(c) * timing::is_tile_cycles(cfg, t.tn)
        }
    };
    // Pipeline fill: the first load and the last store are not overlapped.
    let fill = timing::dma_cycles(cfg, t.tm, t.tk) + timing::store_cycles(cfg, t.tm, t.tn);
    bus.max(core) + fill
}

/// Chooses the tiling of an `m x k x n` GEMM on `cfg`.
pub fn choose(cfg: &AccelConfig, m: u64, k: u64, n: u64) -> Result<Tiling, TilingError> {
    for (name, v) in [("m", m), ("k", k), ("n", n)] {
        if v == 0 {
            return Err(TilingError::ZeroDim(name));
        }
    }
    if cfg.dataflow == Dataflow::InputStationary {
        return Err(TilingError::UnsupportedDataflow(cfg.dataflow));
    }
    let r = cfg.rows as u64;
    let c = cfg.cols as u64;
    let cap = Capacity::of(cfg);
    let tn_max = (PPU_PARAM_ENTRIES_PER_COL as u64 * c).min(MAX_FIELD);
    let (m_gran, k_gran) = match cfg.dataflow {
        Dataflow::OutputStationary => (r, 1),
        Dataflow::WeightStationary | Dataflow::InputStationary => (1, r),
    };
    let mut best: Option<(u64, u64, Tiling)> = None;
    let tm_cands = candidates(m, m_gran, MAX_FIELD);
    for tn in candidates(n, c, tn_max) {
        let nb = tn.div_ceil(c);
        for &tm in &tm_cands {
            // Accumulator: tn/C blocks of tm lines.
            if nb * tm > cap.acc_half_lines {
                continue;
            }
            // Largest tk that fits input and weight halves.
            let tk_max = match cfg.dataflow {
                Dataflow::OutputStationary => {
                    (cap.input_half_lines / tm.div_ceil(r)).min(cap.weight_half_lines / nb)
                }
                Dataflow::WeightStationary | Dataflow::InputStationary => {
                    let by_input = cap.input_half_lines / tm * r;
                    (by_input.min(cap.weight_half_lines / nb) / r) * r
                }
            }
            .min(MAX_FIELD / k_gran * k_gran);
            if tk_max == 0 {
                continue;
            }
            // Even chunks of K.
            let chunks = k.div_ceil(tk_max);
            let tk = k.div_ceil(chunks).div_ceil(k_gran) * k_gran;
            let tk = tk.min(k.max(1)).min(tk_max);
            // The loop order only matters when a tile can be reused (one K chunk and
            // several tiles along both M and N).
            let reuse = k.div_ceil(tk) == 1 && m.div_ceil(tm) > 1 && n.div_ceil(tn) > 1;
            let orders: &[LoopOrder] = if reuse {
                &[LoopOrder::MOuter, LoopOrder::NOuter]
            } else {
                &[LoopOrder::MOuter]
            };
            for &order in orders {
                let t = Tiling {
                    m,
                    k,
                    n,
                    tm,
                    tk,
                    tn,
                    order,
                };
                let est = estimate(cfg, &t);
                let steps = t.n_i() * t.n_j() * t.n_k();
                if best
                    .as_ref()
                    .is_none_or(|(e, s, _)| (est, steps) < (*e, *s))
                {
                    best = Some((est, steps, t));
                }
            }
        }
    }
    best.map(|(_, _, t)| t).ok_or_else(|| {
        TilingError::NoFit(format!(
            "{m}x{k}x{n} on {}: even a {}x{}x{} tile exceeds half of a scratchpad \
             (input {} / weight {} / accumulator {} lines per half)",
            cfg.name,
            m_gran.min(m),
            k_gran.min(k),
            c.min(n),
            cap.input_half_lines,
            cap.weight_half_lines,
            cap.acc_half_lines
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_fit_and_cover() {
        for preset in ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"] {
            for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
                let mut cfg = AccelConfig::preset(preset).unwrap();
                cfg.dataflow = df;
                let cap = Capacity::of(&cfg);
                for (m, k, n) in [
                    (1, 1, 1),
                    (100, 200, 300),
                    (3136, 27, 8),
                    (1, 1024, 12),
                    (49, 4608, 512),
                ] {
                    let t = choose(&cfg, m, k, n).unwrap();
                    let (a, b, c) = footprint(&cfg, t.tm, t.tk, t.tn);
                    assert!(a <= cap.input_half_lines, "{preset} {t:?}");
                    assert!(b <= cap.weight_half_lines, "{preset} {t:?}");
                    assert!(c <= cap.acc_half_lines, "{preset} {t:?}");
                    assert!(t.tm <= m && t.tk <= k && t.tn <= n);
                    if df == Dataflow::WeightStationary && t.tk < k {
                        assert_eq!(t.tk % cfg.rows as u64, 0);
                    }
                    assert_eq!(t.tiles().count() as u64, t.n_i() * t.n_j());
                }
            }
        }
    }

    #[test]
    fn zero_dim_rejected() {
        let cfg = AccelConfig::default();
        assert_eq!(choose(&cfg, 0, 1, 1), Err(TilingError::ZeroDim("m")));
    }
}
