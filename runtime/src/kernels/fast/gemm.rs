//! The int8 GEMM core of the fast conv and fully connected kernels: `C[m][n] = sum_k
//! A[m][k] * B[n][k]` in exact i32 arithmetic (wrapping, as the reference kernels), with
//! operands widened to i16 so that one `pmaddwd` does 16 multiply-accumulates.
//!
//! Layouts:
//! - A: `rows x kp` i16, row-major, `kp` = K rounded up to even, zero-padded columns;
//!   the row count a caller passes is a multiple of [`MR`] (the caller pads rows).
//! - B ([`PackedB`]): blocks of [`NB`] output channels; inside a block, for every pair
//!   of reduction indices `(2p, 2p+1)`, the 16 i16 values
//!   `[b[c0][2p], b[c0][2p+1], b[c1][2p], b[c1][2p+1], ..]`, zero-padded past N and K.
//!   With A's pair `(a[2p], a[2p+1])` broadcast to all 32-bit lanes, `pmaddwd` gives each
//!   channel's `a[2p] * b[c][2p] + a[2p+1] * b[c][2p+1]` in its own i32 lane.
//!
//! Every product is at most 128 * 255 in magnitude and a pair sum fits in i32, so the
//! result equals the reference kernels' wrapping i32 sum (addition mod 2^32 does not
//! depend on the order).

use super::Isa;

/// Rows of A per micro-kernel call.
pub const MR: usize = 4;
/// Output channels per packed block (one 256-bit register of i32).
pub const NB: usize = 8;

/// B packed for [`gemm_block`]: see the module docs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedB {
    /// Output channels (N).
    pub n: usize,
    /// Reduction length (K) and its even round-up.
    pub k: usize,
    pub kp: usize,
    data: Vec<i16>,
}

impl PackedB {
    /// Packs `n` rows of `k` int8 values; row `c` is `row(c)`.
    pub fn pack<'a>(n: usize, k: usize, row: impl Fn(usize) -> &'a [i8]) -> Self {
        let kp = k + (k & 1);
        let blocks = n.div_ceil(NB);
        let pairs = kp / 2;
        let mut data = vec![0i16; blocks * pairs * 2 * NB];
        for c in 0..n {
            let r = row(c);
            debug_assert_eq!(r.len(), k);
            let (blk, lane) = (c / NB, c % NB);
            for (kk, &v) in r.iter().enumerate() {
                let (p, e) = (kk / 2, kk % 2);
                data[(blk * pairs + p) * 2 * NB + 2 * lane + e] = v as i16;
            }
        }
        PackedB { n, k, kp, data }
    }

    fn pairs(&self) -> usize {
        self.kp / 2
    }

    /// Number of channel blocks.
    pub fn blocks(&self) -> usize {
        self.n.div_ceil(NB)
    }
}

/// Accumulators of one micro-kernel call: `MR` rows x two blocks of `NB` channels.
pub type Tile = [[i32; 2 * NB]; MR];

/// Computes `rows` (1..=MR) rows of `a` (stride `lda` i16) against blocks `blk` and (when
/// `two`) `blk + 1` of `b`, over the whole reduction, into `t[..rows]`; columns of a
/// missing second block are left 0.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn gemm_block(
    isa: Isa,
    a: &[i16],
    lda: usize,
    rows: usize,
    b: &PackedB,
    blk: usize,
    two: bool,
    t: &mut Tile,
) {
    assert!((1..=MR).contains(&rows));
    assert!(lda >= b.kp && a.len() >= (rows - 1) * lda + b.kp);
    assert!(blk + usize::from(two) < b.blocks());
    let pairs = b.pairs();
    let b0 = &b.data[blk * pairs * 2 * NB..(blk + 1) * pairs * 2 * NB];
    let b1 = if two {
        &b.data[(blk + 1) * pairs * 2 * NB..(blk + 2) * pairs * 2 * NB]
    } else {
        b0
    };
    #[cfg(target_arch = "x86_64")]
    if isa.has_avx2() {
        // SAFETY: `has_avx2` (`has_vnni`) is true only after runtime detection of AVX2
        // (and AVX-VNNI); the slice
        // bounds were asserted above (A: `rows` rows of kp at stride lda, B: pairs x 16
        // i16 per block).
        unsafe {
            let (a, b0, b1) = (a.as_ptr(), b0.as_ptr(), b1.as_ptr());
            macro_rules! call {
                ($k:ident) => {
                    match (rows, two) {
                        (4, true) => x86::$k::<4, true>(a, lda, b0, b1, pairs, t),
                        (4, false) => x86::$k::<4, false>(a, lda, b0, b1, pairs, t),
                        (1, true) => x86::$k::<1, true>(a, lda, b0, b1, pairs, t),
                        (1, false) => x86::$k::<1, false>(a, lda, b0, b1, pairs, t),
                        (2, true) => x86::$k::<2, true>(a, lda, b0, b1, pairs, t),
                        (2, false) => x86::$k::<2, false>(a, lda, b0, b1, pairs, t),
                        (_, true) => x86::$k::<3, true>(a, lda, b0, b1, pairs, t),
                        (_, false) => x86::$k::<3, false>(a, lda, b0, b1, pairs, t),
                    }
                };
            }
            if isa.has_vnni() {
                call!(kernel_vnni)
            } else {
                call!(kernel_avx2)
            }
            return;
        }
    }
    let _ = isa;
    kernel_portable(a, lda, rows, [b0, b1], two, pairs, t)
}

fn kernel_portable(
    a: &[i16],
    lda: usize,
    rows: usize,
    bs: [&[i16]; 2],
    two: bool,
    pairs: usize,
    t: &mut Tile,
) {
    for (r, row) in t.iter_mut().enumerate().take(rows) {
        let ar = &a[r * lda..r * lda + 2 * pairs];
        for (h, bb) in bs.iter().enumerate().take(1 + usize::from(two)) {
            let mut acc = [0i32; NB];
            for (ap, bp) in ar.chunks_exact(2).zip(bb.chunks_exact(2 * NB)) {
                let (x0, x1) = (ap[0] as i32, ap[1] as i32);
                for (l, v) in acc.iter_mut().enumerate() {
                    *v = v
                        .wrapping_add(x0 * bp[2 * l] as i32)
                        .wrapping_add(x1 * bp[2 * l + 1] as i32);
                }
            }
            row[h * NB..(h + 1) * NB].copy_from_slice(&acc);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{Tile, NB};
    use std::arch::x86_64::*;

    /// The micro-kernel: `R` rows x 8 or 16 channels, accumulators in registers; with
    /// `VNNI`, `vpdpwssd` (multiply pairs, add to the accumulator, no saturation) instead
    /// of `vpmaddwd` + `vpaddd` (the same i32 sums).
    ///
    /// # Safety
    /// AVX2 (and AVX-VNNI when `VNNI`) must be available; `a` must hold `R` rows of
    /// `2 * pairs` i16 at stride `lda`, `b0` (and `b1` when `TWO`) `pairs * 16` i16.
    #[inline(always)]
    unsafe fn body<const R: usize, const TWO: bool, const VNNI: bool>(
        a: *const i16,
        lda: usize,
        b0: *const i16,
        b1: *const i16,
        pairs: usize,
        t: &mut Tile,
    ) {
        let z = _mm256_setzero_si256();
        let mut c = [[z; 2]; R];
        let mut ap = [a; R];
        for (r, p) in ap.iter_mut().enumerate() {
            *p = a.add(r * lda);
        }
        let mac = |acc: __m256i, x: __m256i, w: __m256i| {
            if VNNI {
                _mm256_dpwssd_avx_epi32(acc, x, w)
            } else {
                _mm256_add_epi32(acc, _mm256_madd_epi16(x, w))
            }
        };
        for p in 0..pairs {
            let w0 = _mm256_loadu_si256(b0.add(p * 2 * NB) as *const __m256i);
            let w1 = if TWO {
                _mm256_loadu_si256(b1.add(p * 2 * NB) as *const __m256i)
            } else {
                z
            };
            for r in 0..R {
                let x = _mm256_set1_epi32((ap[r].add(2 * p) as *const i32).read_unaligned());
                c[r][0] = mac(c[r][0], x, w0);
                if TWO {
                    c[r][1] = mac(c[r][1], x, w1);
                }
            }
        }
        for r in 0..R {
            _mm256_storeu_si256(t[r].as_mut_ptr() as *mut __m256i, c[r][0]);
            if TWO {
                _mm256_storeu_si256(t[r].as_mut_ptr().add(NB) as *mut __m256i, c[r][1]);
            }
        }
    }

    /// [`body`] with `vpmaddwd` + `vpaddd`.
    ///
    /// # Safety
    /// As [`body`], AVX2 available.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn kernel_avx2<const R: usize, const TWO: bool>(
        a: *const i16,
        lda: usize,
        b0: *const i16,
        b1: *const i16,
        pairs: usize,
        t: &mut Tile,
    ) {
        body::<R, TWO, false>(a, lda, b0, b1, pairs, t)
    }

    /// [`body`] with `vpdpwssd`.
    ///
    /// # Safety
    /// As [`body`], AVX2 and AVX-VNNI available.
    #[target_feature(enable = "avx2,avxvnni")]
    #[inline]
    pub unsafe fn kernel_vnni<const R: usize, const TWO: bool>(
        a: *const i16,
        lda: usize,
        b0: *const i16,
        b1: *const i16,
        pairs: usize,
        t: &mut Tile,
    ) {
        body::<R, TWO, true>(a, lda, b0, b1, pairs, t)
    }
}
