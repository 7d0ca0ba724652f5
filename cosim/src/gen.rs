//! The programs of `verify --system`: the fixed GEMM coverage set, seeded random GEMMs
//! (shapes, outputs and forced tilings) and their random operands.

use arch::AccelConfig;
use driver::gemm::{GemmData, GemmProblem, Output};
use driver::tiling::{self, LoopOrder, Tiling};
use hdl::cases::Rng;

/// A GEMM test case.
#[derive(Debug, Clone)]
pub struct GemmCase {
    pub name: String,
    pub problem: GemmProblem,
    /// `None`: `tiling::choose`.
    pub tiling: Option<Tiling>,
}

/// A legal tiling close to `tm x tk x tn` for `cfg`, or `None` if it does not fit.
pub fn forced_tiling(
    cfg: &AccelConfig,
    p: &GemmProblem,
    tm: usize,
    tk: usize,
    tn: usize,
    order: LoopOrder,
) -> Option<Tiling> {
    let c = cfg.cols as u64;
    let (m, k, n) = (p.m as u64, p.k as u64, p.n as u64);
    let round = |x: u64, g: u64, d: u64| (x.max(1).div_ceil(g) * g).min(d);
    // The dataflow's tile granularity (and IS's one-array-height tiles).
    let rules = cfg.dataflow.rules();
    let tm_max = rules.tm_candidates(cfg, m).into_iter().max().unwrap_or(1);
    let tm = round(tm as u64, rules.m_granularity(cfg), m).min(tm_max);
    let tk = round(tk as u64, rules.k_granularity(cfg), k);
    let tn = round(tn as u64, c, n).min(arch::isa::PPU_PARAM_ENTRIES_PER_COL as u64 * c);
    let cap = tiling::Capacity::of(cfg);
    let (a, b, acc) = tiling::footprint(cfg, tm, tk, tn);
    if a > cap.input_half_lines || b > cap.weight_half_lines || acc > cap.acc_half_lines {
        return None;
    }
    Some(Tiling {
        m,
        k,
        n,
        tm,
        tk,
        tn,
        order,
    })
}

fn int8(m: usize, k: usize, n: usize, zp: i32, lo: i32, hi: i32) -> GemmProblem {
    GemmProblem {
        m,
        k,
        n,
        output: Output::Int8 {
            zp_out: zp,
            act_min: lo,
            act_max: hi,
        },
        im2col: None,
    }
}

/// The fixed coverage set for `cfg`.
pub fn coverage_cases(cfg: &AccelConfig) -> Vec<GemmCase> {
    let (r, c) = (cfg.rows as usize, cfg.cols as usize);
    let mut v = Vec::new();
    let mut add = |name: &str, p: GemmProblem, t: Option<(usize, usize, usize, LoopOrder)>| {
        let tiling = t.and_then(|(tm, tk, tn, o)| forced_tiling(cfg, &p, tm, tk, tn, o));
        v.push(GemmCase {
            name: name.into(),
            problem: p,
            tiling,
        });
    };
    add("single-tile", int8(r, 2 * r + 1, c, 3, -128, 127), None);
    add(
        "double-buffered-m-outer",
        int8(4 * r, 3 * r, 2 * c, -5, -128, 127),
        Some((r, 3 * r, c, LoopOrder::MOuter)),
    );
    add(
        "double-buffered-n-outer",
        int8(3 * r + 1, 2 * r, 3 * c, 7, -100, 100),
        Some((r, 2 * r, c, LoopOrder::NOuter)),
    );
    add(
        "k-split-accumulate",
        int8(2 * r, 5 * r + 3, c, 0, -128, 127),
        Some((2 * r, 2 * r, c, LoopOrder::MOuter)),
    );
    add(
        "n-blocks-one-params",
        int8(r + 1, r + 2, 3 * c + 1, -2, -128, 127),
        None,
    );
    let pe = arch::isa::PPU_PARAM_ENTRIES_PER_COL as usize;
    add(
        "n-beyond-param-ram",
        int8(r, r + 1, pe * c + 3, 1, -128, 127),
        None,
    );
    add(
        "raw-int32",
        GemmProblem {
            m: r + 1,
            k: 2 * r,
            n: c + 2,
            output: Output::Int32,
            im2col: None,
        },
        None,
    );
    add(
        "raw-int32-k-split",
        GemmProblem {
            m: 2 * r + 1,
            k: 4 * r + 1,
            n: 2 * c + 1,
            output: Output::Int32,
            im2col: None,
        },
        Some((r, r + 2, c, LoopOrder::MOuter)),
    );
    add("odd-1x1x1", int8(1, 1, 1, 0, -128, 127), None);
    add("odd-clamped", int8(2 * r + 3, 7, c + 5, -7, -20, 90), None);
    add(
        "default-tiling-large",
        int8(16 * r, 24 * r, 12 * c, 4, -128, 127),
        None,
    );
    v
}

/// `count` random GEMMs (shapes, outputs, tilings) from `seed`.
pub fn random_cases(cfg: &AccelConfig, count: usize, seed: u64) -> Vec<GemmCase> {
    let (r, c) = (cfg.rows as i64, cfg.cols as i64);
    let mut rng = Rng::new(seed);
    (0..count)
        .map(|i| {
            let m = rng.range(1, 6 * r) as usize;
            let k = rng.range(1, 8 * r) as usize;
            let n = rng.range(1, 4 * c) as usize;
            let problem = if rng.range(0, 4) == 0 {
                GemmProblem {
                    m,
                    k,
                    n,
                    output: Output::Int32,
                    im2col: None,
                }
            } else {
                let lo = rng.range(-128, 0) as i32;
                let hi = rng.range(lo as i64, 127) as i32;
                int8(m, k, n, rng.range(-128, 127) as i32, lo, hi)
            };
            let tiling = if rng.range(0, 1) == 0 {
                let o = rng.pick(&[LoopOrder::MOuter, LoopOrder::NOuter]);
                forced_tiling(
                    cfg,
                    &problem,
                    rng.range(1, 2 * r) as usize,
                    rng.range(1, 3 * r) as usize,
                    rng.range(1, 2 * c) as usize,
                    o,
                )
            } else {
                None
            };
            GemmCase {
                name: format!("random-{i}"),
                problem,
                tiling,
            }
        })
        .collect()
}

/// Operands of one GEMM, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operands {
    pub a: Vec<i8>,
    pub b: Vec<i8>,
    pub bias: Vec<i32>,
    pub mult: Vec<i32>,
    pub shift: Vec<i32>,
}

impl Operands {
    /// Borrowed view for `driver::gemm`.
    pub fn data(&self) -> GemmData<'_> {
        GemmData {
            a: &self.a,
            b: &self.b,
            bias: &self.bias,
            mult: &self.mult,
            shift: &self.shift,
        }
    }
}

/// Random operands of `p`.
pub fn random_data(p: &GemmProblem, rng: &mut Rng) -> Operands {
    Operands {
        a: (0..p.m * p.k).map(|_| rng.range(-128, 127) as i8).collect(),
        b: (0..p.k * p.n).map(|_| rng.range(-128, 127) as i8).collect(),
        bias: (0..p.n)
            .map(|_| rng.range(-20_000, 20_000) as i32)
            .collect(),
        mult: (0..p.n)
            .map(|_| rng.range(1 << 30, i32::MAX as i64) as i32)
            .collect(),
        shift: (0..p.n).map(|_| rng.range(-12, -4) as i32).collect(),
    }
}

/// Deterministic input bytes for `len` bytes.
pub fn seeded_input(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    (0..len).map(|_| rng.next_u64() as u8).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arch::Dataflow;
    use driver::gemm::{self, MemLayout};

    fn cfg(preset: &str, df: Dataflow) -> AccelConfig {
        let mut c = AccelConfig::preset(preset).unwrap();
        c.dataflow = df;
        c
    }

    const MEM: usize = 1 << 20;

    #[test]
    fn coverage_and_random_cases_build() {
        for preset in ["tiny-4x4", "edge-8x8"] {
            for df in Dataflow::ALL {
                let c = cfg(preset, df);
                let cases: Vec<GemmCase> = coverage_cases(&c)
                    .into_iter()
                    .chain(random_cases(&c, 20, 3))
                    .collect();
                let mut forced = 0;
                for case in &cases {
                    let layout = MemLayout::packed(&case.problem, 0);
                    let prog = match case.tiling {
                        Some(t) => {
                            forced += 1;
                            gemm::build_with(&c, &case.problem, &layout, t)
                        }
                        None => gemm::build(&c, &case.problem, &layout),
                    }
                    .unwrap_or_else(|e| panic!("{preset} {df} {}: {e}", case.name));
                    assert!(prog.mem_end() < MEM as u64, "{}", case.name);
                }
                assert!(forced >= 5, "{preset} {df}: {forced} forced tilings");
                // The coverage set has a K split, several N tiles and several M/N tiles.
                let cov = coverage_cases(&c);
                let tiling = |name: &str| {
                    let k = cov.iter().find(|x| x.name == name).unwrap();
                    k.tiling.unwrap_or_else(|| {
                        tiling::choose(
                            &c,
                            k.problem.m as u64,
                            k.problem.k as u64,
                            k.problem.n as u64,
                        )
                        .unwrap()
                    })
                };
                assert!(tiling("k-split-accumulate").n_k() > 1);
                assert!(tiling("n-beyond-param-ram").n_j() > 1);
                let t = tiling("double-buffered-m-outer");
                assert!(t.n_i() * t.n_j() >= 4);
            }
        }
    }
}
