//! The per-thread memo of `arch::schedule::choose_for` returns what ranking every
//! candidate returns (`choose_uncached`), and the choice depends on the configuration only
//! through `TimingKey` (not on the name, clock, technology node, energy or area tables).

use arch::im2col::Window;
use arch::isa::ConvGeom;
use arch::schedule::{self, TimingKey};
use arch::{AccelConfig, Dataflow};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[(self.next() % xs.len() as u64) as usize]
    }
}

fn random_cfg(r: &mut Rng) -> AccelConfig {
    let mut c =
        AccelConfig::preset(r.pick(&["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"])).unwrap();
    c.dataflow = r.pick(&Dataflow::ALL);
    c.rows = r.pick(&[1, 2, 4, 8, 16]);
    c.cols = r.pick(&[1, 2, 4, 8, 16]);
    c.input_sram_kib = r.pick(&[4, 16, 64]);
    c.weight_sram_kib = r.pick(&[4, 16, 64]);
    c.acc_sram_kib = r.pick(&[4, 16, 64]);
    c.bus_bytes_per_cycle = r.pick(&[1, 4, 8]).min(c.cols);
    c.bus_latency_cycles = r.pick(&[0, 3, 20]);
    c.dma_outstanding = r.pick(&[1, 2, 4]);
    c
}

/// `cfg` with every field outside `TimingKey` changed.
fn other_non_timing(cfg: &AccelConfig) -> AccelConfig {
    let mut o = cfg.clone();
    o.name = format!("{}-renamed", cfg.name);
    o.clock_mhz = cfg.clock_mhz * 3.0 + 7.0;
    o.tech_node_nm = if cfg.tech_node_nm == 45 { 22 } else { 45 };
    o
}

#[test]
fn memoized_choice_equals_full_ranking_and_ignores_non_timing_fields() {
    let mut r = Rng(0x7117_0001);
    let mut checked = 0;
    for _ in 0..150 {
        let cfg = random_cfg(&mut r);
        if cfg.validate().is_err() {
            continue;
        }
        let other = other_non_timing(&cfg);
        assert_eq!(TimingKey::of(&cfg), TimingKey::of(&other));
        let (m, k, n) = (r.next() % 800 + 1, r.next() % 300 + 1, r.next() % 300 + 1);
        let window = (r.next().is_multiple_of(3)).then(|| {
            let g = ConvGeom {
                mem_addr: 0,
                in_h: 12,
                in_w: 10,
                in_c: 3,
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
            Window::of(&g)
        });
        let (m, k) = match window {
            Some(w) => (120, (w.kh * w.kw * w.in_c) as u64),
            None => (m, k),
        };
        let want = schedule::choose_uncached(&cfg, m, k, n, window.as_ref());
        // Twice: the second one comes from the memo.
        for _ in 0..2 {
            assert_eq!(
                schedule::choose_for(&cfg, m, k, n, window.as_ref()).ok(),
                want.clone().ok(),
                "{cfg:?} {m}x{k}x{n}"
            );
        }
        assert_eq!(
            schedule::choose_uncached(&other, m, k, n, window.as_ref()).ok(),
            want.clone().ok(),
            "non-timing fields changed the choice: {cfg:?} {m}x{k}x{n}"
        );
        checked += want.is_ok() as usize;
    }
    assert!(checked > 60, "only {checked} problems fit");
}
