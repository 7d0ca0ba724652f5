//! The pipelined DMA (`arch::timing::pipelined_cycles` and the functions built on it)
//! against the unpipelined formula (N = 1) and against a cycle-stepping reference of the
//! bus protocol (requests one per cycle, at most N outstanding, beats in order after the
//! latency).

use arch::im2col::{self, Window};
use arch::isa::LoadIm2col;
use arch::timing::{self, Burst};
use arch::AccelConfig;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
}

fn random_bursts(rng: &mut Rng) -> Vec<Burst> {
    let n = rng.range(0, 24) as usize;
    let max_lat = *[0u64, 1, 3, 20, 60].get(rng.range(0, 4) as usize).unwrap();
    (0..n)
        .map(|_| Burst {
            // Some pieces without latency (im2col pad pieces).
            latency: if rng.range(0, 3) == 0 {
                0
            } else {
                rng.range(0, max_lat)
            },
            beats: rng.range(1, 9),
        })
        .collect()
}

/// Steps the DMA engine cycle by cycle. In each cycle: the pieces whose last beat was in
/// an earlier cycle have left; if fewer than `n` pieces are outstanding and the pipe has
/// filled, the next piece is requested (at most one per cycle); then the oldest
/// outstanding piece whose latency has elapsed moves one beat. Returns the cycle after
/// the last beat.
fn reference(n: u64, pipe: u64, bursts: &[Burst]) -> u64 {
    if bursts.is_empty() {
        return pipe;
    }
    let mut requested: Vec<u64> = Vec::new(); // request cycle of each requested piece
    let mut beats_done: Vec<u64> = Vec::new();
    let mut done = 0usize; // pieces whose last beat happened
    let mut t = 0u64;
    loop {
        let outstanding = requested.len() - done;
        if t >= pipe && requested.len() < bursts.len() && (outstanding as u64) < n {
            requested.push(t);
            beats_done.push(0);
        }
        if done < requested.len() && t >= requested[done] + bursts[done].latency {
            beats_done[done] += 1;
            if beats_done[done] == bursts[done].beats {
                done += 1;
                if done == bursts.len() {
                    return t + 1;
                }
            }
        }
        t += 1;
        assert!(t < 1_000_000, "reference does not terminate");
    }
}

#[test]
fn pipelined_equals_the_cycle_stepping_reference() {
    let mut rng = Rng(0x5DEE_CE66_D1CE_4E5B);
    for _ in 0..3000 {
        let bursts = random_bursts(&mut rng);
        let n = rng.range(1, 17);
        let pipe = rng.range(0, 5);
        assert_eq!(
            timing::pipelined_cycles(n, pipe, bursts.iter().copied()),
            reference(n, pipe, &bursts),
            "N={n} pipe={pipe} {bursts:?}"
        );
    }
}

#[test]
fn one_outstanding_is_the_sum_of_the_bursts_and_more_never_hurt() {
    let mut rng = Rng(0xA076_1D64_78BD_642F);
    for _ in 0..3000 {
        let bursts = random_bursts(&mut rng);
        let pipe = rng.range(0, 5);
        let serial: u64 = pipe + bursts.iter().map(|b| b.latency + b.beats).sum::<u64>();
        assert_eq!(
            timing::pipelined_cycles(1, pipe, bursts.iter().copied()),
            serial
        );
        let mut prev = serial;
        for n in 2..=17 {
            let c = timing::pipelined_cycles(n, pipe, bursts.iter().copied());
            assert!(c <= prev, "N={n}: {c} > {prev} for {bursts:?}");
            // Never faster than the bus: every beat takes a cycle.
            assert!(c >= pipe + bursts.iter().map(|b| b.beats).sum::<u64>());
            prev = c;
        }
    }
}

#[test]
fn uniform_closed_form_equals_the_recurrence() {
    let mut rng = Rng(0x2F69_3A0C_77E1_0B45);
    for _ in 0..20_000 {
        let b = Burst {
            latency: rng.range(0, 40),
            beats: rng.range(0, 12),
        };
        let n = rng.range(0, 70);
        let slots = rng.range(1, 17);
        let pipe = rng.range(0, 5);
        assert_eq!(
            timing::uniform_pipelined_cycles(slots, pipe, n, b),
            timing::pipelined_cycles(slots, pipe, std::iter::repeat_n(b, n as usize)),
            "N={slots} pipe={pipe} n={n} {b:?}"
        );
    }
}

#[test]
fn dma_and_store_cycles_honour_dma_outstanding() {
    let mut cfg = AccelConfig::preset("edge-8x8").unwrap();
    assert_eq!(cfg.dma_outstanding, 1);
    // N = 1: the unpipelined formula (latency 20, 8 B/cycle).
    assert_eq!(timing::dma_cycles(&cfg, 5, 17), 5 * (20 + 3));
    assert_eq!(
        timing::store_cycles(&cfg, 5, 17),
        timing::store_pipe_cycles() + 5 * 23
    );
    // N = 4: request i at max(i, e_{i-4}); first beats at 20, bus-bound after that
    // except when a request waits for a slot. Same numbers as the recurrence.
    cfg.dma_outstanding = 4;
    let b = Burst {
        latency: 20,
        beats: 3,
    };
    let want = timing::pipelined_cycles(4, 0, std::iter::repeat_n(b, 5));
    assert_eq!(timing::dma_cycles(&cfg, 5, 17), want);
    // By hand: q = 0,1,2,3 -> e = 23, 26, 29, 32; q_4 = max(4, e_0 = 23) = 23 -> b = 43,
    // e = 46.
    assert_eq!(want, 46);
    assert_eq!(
        timing::store_cycles(&cfg, 5, 17),
        timing::pipelined_cycles(4, timing::store_pipe_cycles(), std::iter::repeat_n(b, 5))
    );
    assert!(timing::store_cycles(&cfg, 5, 17) < timing::store_pipe_cycles() + 5 * 23);
}

#[test]
fn load_im2col_cycles_follow_the_pieces() {
    let mut cfg = AccelConfig::preset("edge-8x8-conv").unwrap();
    // 3x3, pad 1 on 6x6x4: rows at the border have pad pieces.
    let w = Window {
        in_h: 6,
        in_w: 6,
        in_c: 4,
        out_w: 6,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_t: 1,
        pad_l: 1,
    };
    let l = LoadIm2col {
        transpose: true,
        sp_line: 0,
        oy0: 0,
        ox0: 3,
        ky0: 0,
        kx0: 0,
        ic0: 0,
        nrows: 8,
        ncols: 36,
        pad_value: -3,
    };
    let bursts: Vec<Burst> = im2col::pieces(&w, &l)
        .map(|p| Burst {
            latency: if p.src.is_some() { 20 } else { 0 },
            beats: p.len.div_ceil(8),
        })
        .collect();
    for n in [1u32, 2, 4, 16] {
        cfg.dma_outstanding = n;
        assert_eq!(
            timing::load_im2col_cycles(&cfg, &w, &l),
            reference(n as u64, 0, &bursts),
            "N={n}"
        );
    }
    cfg.dma_outstanding = 1;
    let serial: u64 = bursts.iter().map(|b| b.latency + b.beats).sum();
    assert_eq!(timing::load_im2col_cycles(&cfg, &w, &l), serial);
    // A tile without padding and one bus piece per row costs what a LOAD of the same
    // shape costs.
    let inner = LoadIm2col {
        oy0: 1,
        ox0: 1,
        ky0: 0,
        kx0: 0,
        nrows: 1,
        ncols: 12,
        ..l
    };
    assert_eq!(im2col::summary(&w, &inner).pieces, 1);
    assert_eq!(
        timing::load_im2col_cycles(&cfg, &w, &inner),
        timing::dma_cycles(&cfg, 1, 12)
    );
    assert_eq!(timing::CONV_GEOM_CYCLES, 1);
}
