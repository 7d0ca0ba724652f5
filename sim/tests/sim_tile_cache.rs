//! `sim::tile::TileCache` (the sweep's memo of the tile-level model) returns exactly
//! `sim::tile::estimate(cfg, p).ok()`: on random configurations and problems (int8 with
//! any zero point and activation range, int32, hardware im2col windows), on the second
//! ask (from the memo), and for configurations that differ only outside
//! `arch::schedule::TimingKey` (name, clock, technology node), whose counters the model
//! must not change.

use arch::im2col::Window;
use arch::isa::ConvGeom;
use arch::schedule::{GemmProblem, Output};
use arch::{AccelConfig, Dataflow};
use sim::tile::{self, TileCache};

mod common;
use common::Rng;

fn pick<T: Copy>(r: &mut Rng, xs: &[T]) -> T {
    xs[(r.next() % xs.len() as u64) as usize]
}

fn random_cfg(r: &mut Rng) -> AccelConfig {
    let mut c = AccelConfig::preset(pick(
        r,
        &["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"],
    ))
    .unwrap();
    c.dataflow = pick(r, &Dataflow::ALL);
    c.rows = pick(r, &[1, 2, 4, 8, 16]);
    c.cols = pick(r, &[1, 2, 4, 8, 16]);
    c.input_sram_kib = pick(r, &[4, 16, 64]);
    c.weight_sram_kib = pick(r, &[4, 16, 64]);
    c.bus_bytes_per_cycle = pick(r, &[1, 4, 8]).min(c.cols);
    c.bus_latency_cycles = pick(r, &[0, 3, 20]);
    c.dma_outstanding = pick(r, &[1, 2, 4]);
    c.im2col = r.next().is_multiple_of(2);
    c
}

fn random_problem(r: &mut Rng, cfg: &AccelConfig) -> GemmProblem {
    let output = if r.next().is_multiple_of(4) {
        Output::Int32
    } else {
        Output::Int8 {
            zp_out: r.range(0, 20) as i32 - 10,
            act_min: -128 + r.range(0, 20) as i32,
            act_max: 127,
        }
    };
    if cfg.im2col && r.next().is_multiple_of(2) {
        let g = ConvGeom {
            mem_addr: 0,
            in_h: r.range(3, 12) as u16,
            in_w: 10,
            in_c: pick(r, &[1, 3, 8]),
            out_w: 10,
            kh: 3,
            kw: 3,
            sh: 1,
            sw: 1,
            dh: 1,
            dw: 1,
            pad_t: 1,
            pad_l: 1,
        };
        let w = Window::of(&g);
        let (m, k) = ((g.in_h as usize) * 10, 9 * g.in_c as usize);
        GemmProblem {
            m,
            k,
            n: r.range(1, 40) as usize,
            output,
            im2col: Some(w),
        }
    } else {
        GemmProblem {
            m: r.range(1, 400) as usize,
            k: r.range(1, 300) as usize,
            n: r.range(1, 200) as usize,
            output,
            im2col: None,
        }
    }
}

#[test]
fn cache_returns_the_model_and_ignores_only_non_timing_fields() {
    let mut r = Rng(0x7a11_cace);
    let mut cache = TileCache::new(1 << 12);
    let mut fit = 0;
    for _ in 0..400 {
        let cfg = random_cfg(&mut r);
        if cfg.validate().is_err() {
            continue;
        }
        let p = random_problem(&mut r, &cfg);
        let want = tile::estimate(&cfg, &p).ok();
        assert_eq!(cache.estimate(&cfg, &p), want, "{cfg:?} {p:?}");
        assert_eq!(cache.estimate(&cfg, &p), want, "{cfg:?} {p:?} (memo)");
        let mut other = cfg.clone();
        other.name = "renamed".into();
        other.clock_mhz = cfg.clock_mhz * 2.5 + 1.0;
        other.tech_node_nm = if cfg.tech_node_nm == 45 { 22 } else { 45 };
        assert_eq!(
            tile::estimate(&other, &p).ok(),
            want,
            "non-timing fields changed counters"
        );
        assert_eq!(cache.estimate(&other, &p), want);
        // Another zero point and activation range: the same counters.
        if let Output::Int8 { .. } = p.output {
            let q = GemmProblem {
                output: Output::Int8 {
                    zp_out: 3,
                    act_min: -100,
                    act_max: 100,
                },
                ..p
            };
            assert_eq!(
                tile::estimate(&cfg, &q).ok(),
                want,
                "zero point changed counters"
            );
            assert_eq!(cache.estimate(&cfg, &q), want);
        }
        fit += want.is_some() as usize;
    }
    let (hits, misses) = cache.stats();
    assert!(fit > 100, "only {fit} problems fit");
    assert!(hits > misses, "{hits} hits, {misses} misses");
}
