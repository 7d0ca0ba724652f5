//! Requantization of i32 accumulators to int8, 8 lanes at a time with AVX2, bit-exact with
//! `arch::quant::requantize` (TFLite's `MultiplyByQuantizedMultiplier`).
//!
//! `SaturatingRoundingDoublingHighMul(a, b)` is `trunc((a*b + nudge) / 2^31)` with
//! `nudge = 2^30` for `a*b >= 0` and `1 - 2^30` otherwise. For `a*b < 0` the numerator is
//! negative, so the truncating division equals `floor((a*b + 1 - 2^30 + 2^31 - 1) / 2^31)`
//! = `floor((a*b + 2^30) / 2^31)`; for `a*b >= 0` it is the same floor. So the result is
//! `(a*b + 2^30) >> 31` (arithmetic) in every case but `a = b = i32::MIN` (saturates to
//! `i32::MAX`). The result fits in 32 bits, and the low 32 bits of a logical and an
//! arithmetic 64-bit shift are the same, so AVX2's `psrlq` suffices.

use crate::kernels::QuantParams;

/// Per-channel requantization constants, padded with 8 zero channels past the end so
/// that any 8-lane load starting at a valid channel is in bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requant {
    pub(super) bias: Vec<i32>,
    mult: Vec<i32>,
    left: Vec<i32>,
    right: Vec<i32>,
    ozp: i32,
    min: i32,
    max: i32,
}

impl Requant {
    /// From `q` with per-channel `bias` (the op's bias, or a folded one) for `n` channels.
    pub fn new(q: &QuantParams, bias: Vec<i32>, n: usize) -> Self {
        let pad = |mut v: Vec<i32>| {
            v.resize(n + 8, 0);
            v
        };
        Requant {
            bias: pad(bias),
            mult: pad(q.multipliers[..n].to_vec()),
            left: pad(q.shifts[..n].iter().map(|&s| s.clamp(0, 31)).collect()),
            right: pad(q.shifts[..n].iter().map(|&s| (-s).clamp(0, 31)).collect()),
            ozp: q.output_zero_point,
            min: q.act_min,
            max: q.act_max,
        }
    }

    /// One accumulator (without bias) of channel `c`.
    #[inline(always)]
    pub fn scalar(&self, acc: i32, c: usize) -> i8 {
        let x = acc
            .wrapping_add(self.bias[c])
            .wrapping_mul(1i32 << self.left[c]);
        let v = arch::quant::rounding_divide_by_pot(
            arch::quant::saturating_rounding_doubling_high_mul(x, self.mult[c]),
            self.right[c],
        )
        .wrapping_add(self.ozp);
        v.clamp(self.min, self.max) as i8
    }

    /// `out[j] = scalar(acc[j] + add, c0 + j)` for `j < out.len() <= 8`.
    #[inline(always)]
    pub fn row8(&self, avx2: bool, acc: &[i32; 8], add: i32, c0: usize, out: &mut [i8]) {
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            assert!(out.len() <= 8 && c0 + 8 <= self.bias.len());
            // SAFETY: AVX2 detected by the caller (`Isa`); the 8-lane loads at `c0` are in
            // bounds (asserted; the vectors are padded by 8).
            unsafe { x86::row8(self, acc, add, c0, out) };
            return;
        }
        let _ = avx2;
        for (j, o) in out.iter_mut().enumerate() {
            *o = self.scalar(acc[j].wrapping_add(add), c0 + j);
        }
    }
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::Requant;
    use std::arch::x86_64::*;

    /// `MultiplyByQuantizedMultiplier` on 8 lanes: `x << left`, the doubling high
    /// multiply by `m`, then the rounding right shift by `right` (all per lane).
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn mbqm8(x: __m256i, m: __m256i, left: __m256i, right: __m256i) -> __m256i {
        let x = _mm256_sllv_epi32(x, left);
        // Doubling high multiply.
        let round = _mm256_set1_epi64x(1 << 30);
        let even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, m), round), 31);
        let odd = _mm256_srli_epi64(
            _mm256_add_epi64(
                _mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(m, 32)),
                round,
            ),
            31,
        );
        let hm = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0b1010_1010);
        let min = _mm256_set1_epi32(i32::MIN);
        let sat = _mm256_and_si256(_mm256_cmpeq_epi32(x, min), _mm256_cmpeq_epi32(m, min));
        let hm = _mm256_blendv_epi8(hm, _mm256_set1_epi32(i32::MAX), sat);
        // Rounding divide by 2^right, ties away from zero.
        let one = _mm256_set1_epi32(1);
        let mask = _mm256_sub_epi32(_mm256_sllv_epi32(one, right), one);
        let rem = _mm256_and_si256(hm, mask);
        let neg = _mm256_cmpgt_epi32(_mm256_setzero_si256(), hm);
        let thr = _mm256_sub_epi32(_mm256_srai_epi32(mask, 1), neg);
        let up = _mm256_cmpgt_epi32(rem, thr);
        _mm256_sub_epi32(_mm256_srav_epi32(hm, right), up)
    }

    /// [`Requant::row8`] with AVX2.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn row8(rq: &Requant, acc: &[i32; 8], add: i32, c0: usize, out: &mut [i8]) {
        let ld = |v: &[i32]| _mm256_loadu_si256(v.as_ptr().add(c0) as *const __m256i);
        let a = _mm256_loadu_si256(acc.as_ptr() as *const __m256i);
        let x = _mm256_add_epi32(_mm256_add_epi32(a, ld(&rq.bias)), _mm256_set1_epi32(add));
        let v = mbqm8(x, ld(&rq.mult), ld(&rq.left), ld(&rq.right));
        let v = _mm256_add_epi32(v, _mm256_set1_epi32(rq.ozp));
        let v = _mm256_min_epi32(
            _mm256_max_epi32(v, _mm256_set1_epi32(rq.min)),
            _mm256_set1_epi32(rq.max),
        );
        store8(v, out);
    }

    /// TFLite's int8 ADD on 8-element chunks of equal-length `a`, `b`, `out`.
    ///
    /// # Safety
    /// AVX2 must be available; `0 <= p.left_shift <= 31`.
    #[target_feature(enable = "avx2")]
    pub unsafe fn add8s(
        p: &crate::kernels::elementwise::AddParams,
        a: &[i8],
        b: &[i8],
        out: &mut [i8],
    ) {
        let sh = |s: i32| {
            (
                _mm256_set1_epi32(s.clamp(0, 31)),
                _mm256_set1_epi32((-s).clamp(0, 31)),
            )
        };
        let (l1, r1) = sh(p.input1_shift);
        let (l2, r2) = sh(p.input2_shift);
        let (lo, ro) = sh(p.output_shift);
        let (m1, m2, mo) = (
            _mm256_set1_epi32(p.input1_multiplier),
            _mm256_set1_epi32(p.input2_multiplier),
            _mm256_set1_epi32(p.output_multiplier),
        );
        let (o1, o2, oo) = (
            _mm256_set1_epi32(p.input1_offset),
            _mm256_set1_epi32(p.input2_offset),
            _mm256_set1_epi32(p.output_offset),
        );
        let ls = _mm256_set1_epi32(p.left_shift);
        let (amin, amax) = (_mm256_set1_epi32(p.act_min), _mm256_set1_epi32(p.act_max));
        for ((ca, cb), co) in a
            .chunks_exact(8)
            .zip(b.chunks_exact(8))
            .zip(out.chunks_exact_mut(8))
        {
            let xa = _mm256_cvtepi8_epi32(_mm_loadl_epi64(ca.as_ptr() as *const __m128i));
            let xb = _mm256_cvtepi8_epi32(_mm_loadl_epi64(cb.as_ptr() as *const __m128i));
            let xa = _mm256_sllv_epi32(_mm256_add_epi32(xa, o1), ls);
            let xb = _mm256_sllv_epi32(_mm256_add_epi32(xb, o2), ls);
            let s = _mm256_add_epi32(mbqm8(xa, m1, l1, r1), mbqm8(xb, m2, l2, r2));
            let v = _mm256_add_epi32(mbqm8(s, mo, lo, ro), oo);
            store8(_mm256_min_epi32(_mm256_max_epi32(v, amin), amax), co);
        }
    }

    /// Stores the low `out.len() <= 8` lanes of `v` (each within -128..=127) as bytes.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn store8(v: __m256i, out: &mut [i8]) {
        let p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
        let p8 = _mm_packs_epi16(p16, p16);
        if out.len() == 8 {
            _mm_storel_epi64(out.as_mut_ptr() as *mut __m128i, p8);
        } else {
            let mut tmp = [0i8; 16];
            _mm_storeu_si128(tmp.as_mut_ptr() as *mut __m128i, p8);
            out.copy_from_slice(&tmp[..out.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernels::fast::Isa;

    /// The 8-lane path equals `arch::quant::requantize` on extreme and random values,
    /// including the saturating `i32::MIN * i32::MIN` case and every shift.
    #[test]
    fn row8_equals_scalar_requantize() {
        let mut rng = models::rng::SplitMix64::new(7);
        let specials = [
            i32::MIN,
            i32::MIN + 1,
            -1,
            0,
            1,
            i32::MAX,
            1 << 30,
            -(1 << 30),
        ];
        let any = |rng: &mut models::rng::SplitMix64| {
            if rng.next_f64() < 0.3 {
                specials[rng.range_i64(0, 7) as usize]
            } else {
                rng.range_i64(i32::MIN as i64, i32::MAX as i64) as i32
            }
        };
        for round in 0..4000 {
            let n = 8;
            let q = QuantParams {
                input_zero_point: 0,
                filter_zero_point: 0,
                output_zero_point: rng.range_i64(-128, 127) as i32,
                act_min: rng.range_i64(-128, 0) as i32,
                act_max: rng.range_i64(0, 127) as i32,
                multipliers: (0..n).map(|_| any(&mut rng)).collect(),
                shifts: (0..n).map(|_| rng.range_i64(-40, 40) as i32).collect(),
                bias: (0..n).map(|_| any(&mut rng)).collect(),
            };
            let rq = Requant::new(&q, q.bias.clone(), n);
            let acc: [i32; 8] = std::array::from_fn(|_| any(&mut rng));
            let add = if round % 3 == 0 { any(&mut rng) } else { 0 };
            for isa in Isa::available() {
                let len = 1 + round % 8;
                let mut got = [0i8; 8];
                rq.row8(isa.has_avx2(), &acc, add, 0, &mut got[..len]);
                for j in 0..len {
                    let want = q.requantize(acc[j].wrapping_add(add), j);
                    assert_eq!(
                        got[j],
                        want,
                        "{} lane {j}: acc {} {q:?}",
                        isa.name(),
                        acc[j]
                    );
                }
            }
        }
    }
}
