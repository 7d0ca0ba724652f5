//! Fast DEPTHWISE_CONV_2D: per output pixel, 16 channels at a time over the taps inside
//! the input (so padding needs no folding), `(x - zp_in) * w` exact in i16 lanes
//! (|x - zp_in| <= 255, |w| <= 128, so |product| <= 32,640) and summed in i32 lanes.
//! A depth multiplier > 1 first expands the input so that output channel `c` reads
//! expanded channel `c` (`input[.., c / multiplier]`), then runs the same loop.

use super::requant::Requant;
use super::{Isa, Scratch};
use crate::geometry::ConvGeometry;
use crate::kernels::QuantParams;

/// Channels per vector block.
const CB: usize = 16;

/// A depthwise filter widened to i16, per tap, channels padded to a multiple of 16.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedDepthwise {
    /// Taps and output channels of the geometry packed for (checked at run time).
    taps: usize,
    out_d: usize,
    cpad: usize,
    w: Vec<i16>,
    rq: Requant,
}

impl PackedDepthwise {
    pub(super) fn new(g: &ConvGeometry, q: &QuantParams, filter: &[i8]) -> Self {
        let (taps, out_d) = (g.k_h * g.k_w, g.out_c);
        assert_eq!(filter.len(), taps * out_d, "depthwise filter length");
        let cpad = out_d.div_ceil(CB) * CB;
        let mut w = vec![0i16; taps * cpad];
        for t in 0..taps {
            for c in 0..out_d {
                w[t * cpad + c] = filter[t * out_d + c] as i16;
            }
        }
        let rq = Requant::new(q, q.bias[..out_d].to_vec(), out_d);
        PackedDepthwise {
            taps,
            out_d,
            cpad,
            w,
            rq,
        }
    }
}

/// DEPTHWISE_CONV_2D with packed weights: same contract and result as
/// [`crate::kernels::depthwise::depthwise_conv2d`].
pub fn depthwise_conv2d(
    p: &PackedDepthwise,
    g: &ConvGeometry,
    q: &QuantParams,
    isa: Isa,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if isa.has_avx2() {
        // SAFETY: AVX2 was detected (`Isa`).
        return unsafe { x86::depthwise(p, g, q, isa, input, output, scratch) };
    }
    body(p, g, q, isa, input, output, scratch)
}

#[inline(always)]
fn body(
    p: &PackedDepthwise,
    g: &ConvGeometry,
    q: &QuantParams,
    isa: Isa,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut Scratch,
) {
    let out_d = g.out_c;
    let mult = g.depth_multiplier;
    let pixels = g.batch * g.in_h * g.in_w;
    assert!(
        p.taps == g.k_h * g.k_w && p.out_d == out_d && out_d == g.in_c * mult,
        "depthwise weights packed for another geometry"
    );
    assert!(input.len() >= pixels * g.in_c && output.len() >= g.outputs());
    let src: &[i8] = if mult == 1 {
        input
    } else {
        let e = &mut scratch.bytes;
        e.clear();
        e.reserve(pixels * out_d);
        for px in input.chunks_exact(g.in_c).take(pixels) {
            for c in 0..out_d {
                e.push(px[c / mult]);
            }
        }
        &scratch.bytes
    };
    // Every tap below is (t * cpad, pix * out_d) with t < taps and pix < pixels, and every
    // block reads channels c0..c0 + n with c0 + n <= out_d <= cpad: in bounds of `p.w`
    // and of `src` (checked here once).
    assert!(src.len() >= pixels * out_d && p.w.len() >= p.taps * p.cpad);
    let in_off = q.input_zero_point.wrapping_neg();
    let full = out_d / CB * CB;
    let mut taps: Vec<(usize, usize)> = Vec::with_capacity(g.k_h * g.k_w);
    let mut acc = [0i32; CB];
    for b in 0..g.batch {
        for oy in 0..g.out_h {
            let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
            for ox in 0..g.out_w {
                let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
                taps.clear();
                for fy in 0..g.k_h {
                    let iy = iy0 + (fy * g.dilation_h) as isize;
                    if iy < 0 || iy >= g.in_h as isize {
                        continue;
                    }
                    for fx in 0..g.k_w {
                        let ix = ix0 + (fx * g.dilation_w) as isize;
                        if ix < 0 || ix >= g.in_w as isize {
                            continue;
                        }
                        let pix = (b * g.in_h + iy as usize) * g.in_w + ix as usize;
                        taps.push(((fy * g.k_w + fx) * p.cpad, pix * out_d));
                    }
                }
                let ob = ((b * g.out_h + oy) * g.out_w + ox) * out_d;
                let out = &mut output[ob..ob + out_d];
                let mut c0 = 0;
                while c0 < out_d {
                    let len = if c0 < full { CB } else { out_d - c0 };
                    block(isa, p, src, &taps, c0, len, in_off, &mut acc);
                    for h in (0..len).step_by(8) {
                        let a: &[i32; 8] = acc[h..h + 8].try_into().expect("8 lanes");
                        let n = (len - h).min(8);
                        let c = c0 + h;
                        p.rq.row8(isa.has_avx2(), a, 0, c, &mut out[c..c + n]);
                    }
                    c0 += len;
                }
            }
        }
    }
}

/// Accumulates channels `c0..c0 + len` (len <= 16) of one output pixel over `taps`
/// (weight offset, input pixel offset) into `acc[..len]`.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn block(
    isa: Isa,
    p: &PackedDepthwise,
    src: &[i8],
    taps: &[(usize, usize)],
    c0: usize,
    len: usize,
    in_off: i32,
    acc: &mut [i32; CB],
) {
    #[cfg(target_arch = "x86_64")]
    if len >= 8 && isa.has_avx2() {
        let n = if len == CB { CB } else { 8 };
        // SAFETY: AVX2 was detected (`has_avx2`); every tap's `n` input bytes and
        // weights are in bounds (`body` checked the lengths the taps are built from).
        unsafe {
            if n == CB {
                x86::block_avx2(p.w.as_ptr(), src.as_ptr(), taps, c0, in_off, acc);
            } else {
                x86::block8_avx2(p.w.as_ptr(), src.as_ptr(), taps, c0, in_off, acc);
            }
        }
        if n == len {
            return;
        }
        // The remaining channels of a block of 9..15 (the last block only).
        acc[8..len].fill(0);
        for &(wo, xo) in taps {
            let xs = &src[xo + c0 + 8..xo + c0 + len];
            let ws = &p.w[wo + c0 + 8..wo + c0 + len];
            for ((a, &x), &w) in acc[8..].iter_mut().zip(xs).zip(ws) {
                *a = a.wrapping_add((x as i32 + in_off) * w as i32);
            }
        }
        return;
    }
    let _ = isa;
    acc[..len].fill(0);
    for &(wo, xo) in taps {
        let xs = &src[xo + c0..xo + c0 + len];
        let ws = &p.w[wo + c0..wo + c0 + len];
        for ((a, &x), &w) in acc.iter_mut().zip(xs).zip(ws) {
            *a = a.wrapping_add((x as i32 + in_off) * w as i32);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// The whole kernel compiled with AVX2 (the block and requantization inline).
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn depthwise(
        p: &PackedDepthwise,
        g: &ConvGeometry,
        q: &QuantParams,
        isa: Isa,
        input: &[i8],
        output: &mut [i8],
        scratch: &mut Scratch,
    ) {
        body(p, g, q, isa, input, output, scratch)
    }

    /// As [`block_avx2`] for 8 channels (into `acc[..8]`).
    ///
    /// # Safety
    /// AVX2 must be available; for every tap `(wo, xo)`, `w[wo + c0..][..8]` and
    /// `x[xo + c0..][..8]` must be in bounds.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn block8_avx2(
        w: *const i16,
        x: *const i8,
        taps: &[(usize, usize)],
        c0: usize,
        in_off: i32,
        acc: &mut [i32; CB],
    ) {
        let off = _mm_set1_epi16(in_off as i16);
        let mut sum = _mm256_setzero_si256();
        for &(wo, xo) in taps {
            let xv = _mm_cvtepi8_epi16(_mm_loadl_epi64(x.add(xo + c0) as *const __m128i));
            let wv = _mm_loadu_si128(w.add(wo + c0) as *const __m128i);
            let prod = _mm_mullo_epi16(_mm_add_epi16(xv, off), wv);
            sum = _mm256_add_epi32(sum, _mm256_cvtepi16_epi32(prod));
        }
        _mm256_storeu_si256(acc.as_mut_ptr() as *mut __m256i, sum);
    }

    /// # Safety
    /// AVX2 must be available; for every tap `(wo, xo)`, `w[wo + c0..][..16]` and
    /// `x[xo + c0..][..16]` must be in bounds.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn block_avx2(
        w: *const i16,
        x: *const i8,
        taps: &[(usize, usize)],
        c0: usize,
        in_off: i32,
        acc: &mut [i32; CB],
    ) {
        let off = _mm256_set1_epi16(in_off as i16);
        let mut lo = _mm256_setzero_si256();
        let mut hi = _mm256_setzero_si256();
        for &(wo, xo) in taps {
            let xv = _mm256_cvtepi8_epi16(_mm_loadu_si128(x.add(xo + c0) as *const __m128i));
            let xv = _mm256_add_epi16(xv, off);
            let wv = _mm256_loadu_si256(w.add(wo + c0) as *const __m256i);
            let prod = _mm256_mullo_epi16(xv, wv);
            lo = _mm256_add_epi32(lo, _mm256_cvtepi16_epi32(_mm256_castsi256_si128(prod)));
            hi = _mm256_add_epi32(hi, _mm256_cvtepi16_epi32(_mm256_extracti128_si256(prod, 1)));
        }
        _mm256_storeu_si256(acc.as_mut_ptr() as *mut __m256i, lo);
        _mm256_storeu_si256(acc.as_mut_ptr().add(8) as *mut __m256i, hi);
    }
}
