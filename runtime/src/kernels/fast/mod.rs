//! Fast host kernels for CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED, bit-exact with the
//! reference kernels of [`crate::kernels`] (which stay the oracle the tests compare
//! against; `Interpreter::set_kernels(Kernels::Reference)` runs them).
//!
//! What makes them fast, at equal results:
//! - weights are packed once, when the interpreter is built ([`Packed::new`]): widened to
//!   i16 in the layout of the GEMM micro-kernel ([`gemm`]) or, for depthwise, per tap with
//!   the channels padded to a multiple of 16;
//! - zero-point folding: `sum w * (x - zp_in)` = `sum w * x - zp_in * sum w`, with
//!   `bias - zp_in * sum w` precomputed per output channel; padding taps are materialised
//!   as `zp_in` (contributing exactly 0), so every output uses the same folded constant;
//! - conv = im2col (in chunks of 64 output pixels, into a reused i16 buffer) + GEMM;
//!   fully connected = GEMM with the batch rows as A;
//! - explicit AVX2 (`std::arch`, `pmaddwd`: 16 multiply-accumulates per instruction; with
//!   AVX-VNNI, `vpdpwssd` fuses the accumulation) when the CPU has it ([`Isa::detect`]),
//!   else a portable path over the same packed data.
//!
//! All arithmetic is i32 with wrapping, like the reference kernels: the sums are equal
//! modulo 2^32 whatever the order, so the outputs are equal bit for bit.

mod depthwise;
pub mod gemm;
mod requant;

use super::elementwise::AddParams;
use super::fully_connected::FcGeometry;
use super::QuantParams;
use crate::geometry::ConvGeometry;
use gemm::{PackedB, Tile, MR, NB};
use requant::Requant;

/// Which kernels the interpreter runs for conv, depthwise and fully connected ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Kernels {
    /// The packed, SIMD kernels of this module (the default).
    #[default]
    Fast,
    /// The reference kernels, bit-exact with TFLite-Micro's (the oracle).
    Reference,
}

/// The instruction set the fast kernels use. Only constructible for what the running CPU
/// supports ([`Isa::detect`], [`Isa::available`]), so the SIMD paths are always safe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa {
    avx2: bool,
    /// AVX-VNNI on top of AVX2: the GEMM micro-kernel fuses multiply and add.
    vnni: bool,
}

impl Isa {
    /// Plain Rust, any CPU.
    pub const PORTABLE: Isa = Isa {
        avx2: false,
        vnni: false,
    };

    /// The best instruction set of this CPU (on x86_64, AVX2, with AVX-VNNI when present,
    /// detected at run time).
    pub fn detect() -> Isa {
        *Isa::available().last().unwrap_or(&Isa::PORTABLE)
    }

    /// Every instruction set this CPU can run, portable first, best last.
    pub fn available() -> Vec<Isa> {
        let mut v = vec![Isa::PORTABLE];
        let (avx2, vnni) = detected();
        if avx2 {
            v.push(Isa {
                avx2: true,
                vnni: false,
            });
            if vnni {
                v.push(Isa {
                    avx2: true,
                    vnni: true,
                });
            }
        }
        v
    }

    /// "avx2+vnni", "avx2" or "portable".
    pub fn name(&self) -> &'static str {
        match (self.avx2, self.vnni) {
            (true, true) => "avx2+vnni",
            (true, false) => "avx2",
            _ => "portable",
        }
    }

    #[inline]
    pub(crate) fn has_avx2(&self) -> bool {
        self.avx2
    }

    #[inline]
    pub(crate) fn has_vnni(&self) -> bool {
        self.vnni
    }
}

/// (AVX2, AVX-VNNI) of the running CPU.
fn detected() -> (bool, bool) {
    #[cfg(target_arch = "x86_64")]
    {
        let avx2 = std::is_x86_feature_detected!("avx2");
        (avx2, avx2 && std::is_x86_feature_detected!("avxvnni"))
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        (false, false)
    }
}

/// Reused working memory of the fast kernels (im2col rows, expanded inputs).
#[derive(Debug, Default, Clone)]
pub struct Scratch {
    a: Vec<i16>,
    bytes: Vec<i8>,
}

/// Weights of one op, packed for the fast kernels, with the folded per-channel constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packed {
    Conv(PackedConv),
    Depthwise(depthwise::PackedDepthwise),
    FullyConnected(PackedFc),
}

impl Packed {
    /// Packs the filter of a conv (OHWI), depthwise (`[1, H, W, C*M]`) or fully connected
    /// (`[units, depth]`) op. `filter` must have the length of the geometry's weights.
    pub fn conv(g: &ConvGeometry, q: &QuantParams, filter: &[i8]) -> Packed {
        Packed::Conv(PackedConv::new(g, q, filter))
    }

    /// See [`Packed::conv`].
    pub fn depthwise(g: &ConvGeometry, q: &QuantParams, filter: &[i8]) -> Packed {
        Packed::Depthwise(depthwise::PackedDepthwise::new(g, q, filter))
    }

    /// See [`Packed::conv`].
    pub fn fully_connected(g: &FcGeometry, q: &QuantParams, filter: &[i8]) -> Packed {
        Packed::FullyConnected(PackedFc::new(g, q, filter))
    }
}

/// Runs the GEMM of `rows` rows of `a` (stride `b.kp`) against `b`, requantizing into
/// `out` (row `r` at `out[r * out_stride + chan0 ..]`, `b.n` channels; `row_add[r]` added
/// to every accumulator of row `r`).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn gemm_requant(
    isa: Isa,
    rq: &Requant,
    a: &[i16],
    rows: usize,
    b: &PackedB,
    chan0: usize,
    row_add: &[i32],
    out: &mut [i8],
    out_stride: usize,
) {
    let mut t: Tile = [[0; 2 * NB]; MR];
    let lda = b.kp;
    let blocks = b.blocks();
    for r0 in (0..rows).step_by(MR) {
        let rr = (rows - r0).min(MR);
        let ar = &a[r0 * lda..];
        let mut blk = 0;
        while blk < blocks {
            let two = blk + 1 < blocks;
            gemm::gemm_block(isa, ar, lda, rr, b, blk, two, &mut t);
            for h in 0..1 + usize::from(two) {
                let n0 = (blk + h) * NB;
                let cols = (b.n - n0).min(NB);
                for (r, tr) in t.iter().enumerate().take(rr) {
                    let acc: &[i32; NB] = tr[h * NB..(h + 1) * NB].try_into().expect("8 lanes");
                    let o = (r0 + r) * out_stride + chan0 + n0;
                    rq.row8(
                        isa.has_avx2(),
                        acc,
                        row_add[r0 + r],
                        chan0 + n0,
                        &mut out[o..o + cols],
                    );
                }
            }
            blk += 2;
        }
    }
}

/// Wrapping `bias[c] + in_off * sum_k w[c][k]` per channel (the folded zero point) of
/// `n` filter rows of `k` values.
fn fold_bias(q: &QuantParams, filter: &[i8], n: usize, k: usize) -> Vec<i32> {
    let in_off = q.input_zero_point.wrapping_neg();
    (0..n)
        .map(|c| {
            let wsum = filter[c * k..(c + 1) * k]
                .iter()
                .fold(0i32, |s, &w| s.wrapping_add(w as i32));
            q.bias[c].wrapping_add(in_off.wrapping_mul(wsum))
        })
        .collect()
}

/// A CONV_2D's filter packed per group for the GEMM, with the folded bias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedConv {
    /// Reduction length and output channels of the geometry packed for.
    k: usize,
    out_c: usize,
    groups: usize,
    per_group: usize,
    b: Vec<PackedB>,
    rq: Requant,
}

/// Output pixels per im2col chunk (a multiple of [`MR`]).
const CHUNK: usize = 64;

impl PackedConv {
    fn new(g: &ConvGeometry, q: &QuantParams, filter: &[i8]) -> Self {
        let fd = g.group_in_c;
        let k = g.k_h * g.k_w * fd;
        let groups = g.in_c / fd.max(1);
        let per_group = g.out_c / groups.max(1);
        assert_eq!(filter.len(), g.out_c * k, "conv filter length");
        let b = (0..groups)
            .map(|grp| {
                PackedB::pack(per_group, k, |c| {
                    let oc = grp * per_group + c;
                    &filter[oc * k..(oc + 1) * k]
                })
            })
            .collect();
        let rq = Requant::new(q, fold_bias(q, filter, g.out_c, k), g.out_c);
        PackedConv {
            k,
            out_c: g.out_c,
            groups,
            per_group,
            b,
            rq,
        }
    }
}

/// CONV_2D with packed weights: same contract and result as [`super::conv::conv2d`].
pub fn conv2d(
    p: &PackedConv,
    g: &ConvGeometry,
    q: &QuantParams,
    isa: Isa,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if isa.has_vnni() {
        // SAFETY: AVX2 and AVX-VNNI were detected (`Isa`).
        return unsafe { x86::conv2d_vnni(p, g, q, isa, input, output, scratch) };
    } else if isa.has_avx2() {
        // SAFETY: AVX2 was detected (`Isa`).
        return unsafe { x86::conv2d(p, g, q, isa, input, output, scratch) };
    }
    conv2d_body(p, g, q, isa, input, output, scratch)
}

#[inline(always)]
fn conv2d_body(
    p: &PackedConv,
    g: &ConvGeometry,
    q: &QuantParams,
    isa: Isa,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut Scratch,
) {
    let fd = g.group_in_c;
    let k = g.k_h * g.k_w * fd;
    let kp = k + (k & 1);
    let pixels = g.out_pixels();
    assert!(
        p.k == k && p.out_c == g.out_c && p.groups * fd == g.in_c,
        "conv weights packed for another geometry"
    );
    let zp = q.input_zero_point as i16;
    let zero_rows = [0i32; CHUNK];
    scratch.a.resize(CHUNK * kp, 0);
    for grp in 0..p.groups {
        for m0 in (0..pixels).step_by(CHUNK) {
            let rows = (pixels - m0).min(CHUNK);
            for r in 0..rows {
                let row = &mut scratch.a[r * kp..(r + 1) * kp];
                im2col_row(g, input, m0 + r, grp * fd, zp, row);
            }
            gemm_requant(
                isa,
                &p.rq,
                &scratch.a,
                rows,
                &p.b[grp],
                grp * p.per_group,
                &zero_rows,
                &mut output[m0 * g.out_c..],
                g.out_c,
            );
        }
    }
}

/// Fills `row` (length `kp`) with the patch of output pixel `m` for input channels
/// `c0..c0 + group_in_c`, taps outside the input set to the input zero point, the even
/// padding column to 0.
#[inline(always)]
fn im2col_row(g: &ConvGeometry, input: &[i8], m: usize, c0: usize, zp: i16, row: &mut [i16]) {
    let fd = g.group_in_c;
    let per_image = g.out_h * g.out_w;
    let (b, pix) = (m / per_image, m % per_image);
    let (oy, ox) = (pix / g.out_w, pix % g.out_w);
    let iy0 = (oy * g.stride_h) as isize - g.pad_top as isize;
    let ix0 = (ox * g.stride_w) as isize - g.pad_left as isize;
    let k = g.k_h * g.k_w * fd;
    if row.len() > k {
        row[k] = 0;
    }
    let contiguous = fd == g.in_c && g.dilation_w == 1;
    for fy in 0..g.k_h {
        let dst = &mut row[fy * g.k_w * fd..(fy + 1) * g.k_w * fd];
        let iy = iy0 + (fy * g.dilation_h) as isize;
        if iy < 0 || iy >= g.in_h as isize {
            dst.fill(zp);
            continue;
        }
        let in_row = (b * g.in_h + iy as usize) * g.in_w;
        if contiguous {
            let fx0 = ((-ix0).max(0) as usize).min(g.k_w);
            let fx1 = ((g.in_w as isize - ix0).max(0) as usize).clamp(fx0, g.k_w);
            dst[..fx0 * fd].fill(zp);
            if fx1 > fx0 {
                let s = (in_row + (ix0 + fx0 as isize) as usize) * g.in_c;
                widen(
                    &input[s..s + (fx1 - fx0) * fd],
                    &mut dst[fx0 * fd..fx1 * fd],
                );
            }
            dst[fx1 * fd..].fill(zp);
            continue;
        }
        for fx in 0..g.k_w {
            let d = &mut dst[fx * fd..(fx + 1) * fd];
            let ix = ix0 + (fx * g.dilation_w) as isize;
            if ix < 0 || ix >= g.in_w as isize {
                d.fill(zp);
            } else {
                let s = (in_row + ix as usize) * g.in_c + c0;
                widen(&input[s..s + fd], d);
            }
        }
    }
}

#[inline(always)]
fn widen(src: &[i8], dst: &mut [i16]) {
    for (d, &s) in dst.iter_mut().zip(src) {
        *d = s as i16;
    }
}

/// A FULLY_CONNECTED's weights packed for the GEMM, with the folded constants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedFc {
    b: PackedB,
    /// Bias `bias + in_off * sum w + depth * f_off * in_off` per unit (wrapping).
    rq: Requant,
    /// `-filter_zero_point`: each row adds `f_off * sum x` when non-zero.
    f_off: i32,
}

impl PackedFc {
    fn new(g: &FcGeometry, q: &QuantParams, filter: &[i8]) -> Self {
        let (n, k) = (g.units, g.depth);
        assert_eq!(filter.len(), n * k, "fully connected filter length");
        let b = PackedB::pack(n, k, |u| &filter[u * k..(u + 1) * k]);
        let in_off = q.input_zero_point.wrapping_neg();
        let f_off = q.filter_zero_point.wrapping_neg();
        let both = (k as i32).wrapping_mul(f_off).wrapping_mul(in_off);
        let bias = fold_bias(q, filter, n, k)
            .into_iter()
            .map(|b| b.wrapping_add(both))
            .collect();
        PackedFc {
            b,
            rq: Requant::new(q, bias, n),
            f_off,
        }
    }
}

/// FULLY_CONNECTED with packed weights (which carry the quantization parameters): same
/// contract and result as [`super::fully_connected::fully_connected`].
pub fn fully_connected(
    p: &PackedFc,
    g: &FcGeometry,
    isa: Isa,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut Scratch,
) {
    #[cfg(target_arch = "x86_64")]
    if isa.has_vnni() {
        // SAFETY: AVX2 and AVX-VNNI were detected (`Isa`).
        return unsafe { x86::fully_connected_vnni(p, g, isa, input, output, scratch) };
    } else if isa.has_avx2() {
        // SAFETY: AVX2 was detected (`Isa`).
        return unsafe { x86::fully_connected(p, g, isa, input, output, scratch) };
    }
    fully_connected_body(p, g, isa, input, output, scratch)
}

#[inline(always)]
fn fully_connected_body(
    p: &PackedFc,
    g: &FcGeometry,
    isa: Isa,
    input: &[i8],
    output: &mut [i8],
    scratch: &mut Scratch,
) {
    let (k, kp) = (g.depth, p.b.kp);
    assert!(
        p.b.k == k && p.b.n == g.units,
        "fully connected weights packed for another geometry"
    );
    let mut row_add = [0i32; CHUNK];
    scratch.a.resize(CHUNK * kp, 0);
    for m0 in (0..g.batches).step_by(CHUNK) {
        let rows = (g.batches - m0).min(CHUNK);
        for r in 0..rows {
            let xs = &input[(m0 + r) * k..(m0 + r + 1) * k];
            let dst = &mut scratch.a[r * kp..(r + 1) * kp];
            widen(xs, &mut dst[..k]);
            dst[k..].fill(0);
            row_add[r] = if p.f_off == 0 {
                0
            } else {
                let sx = xs.iter().fold(0i32, |s, &x| s.wrapping_add(x as i32));
                p.f_off.wrapping_mul(sx)
            };
        }
        gemm_requant(
            isa,
            &p.rq,
            &scratch.a,
            rows,
            &p.b,
            0,
            &row_add,
            &mut output[m0 * g.units..],
            g.units,
        );
    }
}

pub use depthwise::{depthwise_conv2d, PackedDepthwise};

/// The fast kernels compiled with AVX2 (and AVX-VNNI) enabled, so that the micro-kernels,
/// the requantization and the im2col loops inline into one function per kernel.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn conv2d(
        p: &PackedConv,
        g: &ConvGeometry,
        q: &QuantParams,
        isa: Isa,
        input: &[i8],
        output: &mut [i8],
        scratch: &mut Scratch,
    ) {
        conv2d_body(p, g, q, isa, input, output, scratch)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn conv2d_vnni(
        p: &PackedConv,
        g: &ConvGeometry,
        q: &QuantParams,
        isa: Isa,
        input: &[i8],
        output: &mut [i8],
        scratch: &mut Scratch,
    ) {
        conv2d_body(p, g, q, isa, input, output, scratch)
    }

    #[target_feature(enable = "avx2,avxvnni")]
    pub(super) unsafe fn fully_connected_vnni(
        p: &PackedFc,
        g: &FcGeometry,
        isa: Isa,
        input: &[i8],
        output: &mut [i8],
        scratch: &mut Scratch,
    ) {
        fully_connected_body(p, g, isa, input, output, scratch)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fully_connected(
        p: &PackedFc,
        g: &FcGeometry,
        isa: Isa,
        input: &[i8],
        output: &mut [i8],
        scratch: &mut Scratch,
    ) {
        fully_connected_body(p, g, isa, input, output, scratch)
    }
}

/// ADD of two int8 tensors of the same shape (no broadcasting; the caller checks): same
/// result as [`super::elementwise::add`]. AVX2: the three `MultiplyByQuantizedMultiplier`
/// of TFLite's int8 ADD on 8 lanes; portable: the two input rescalings from 256-entry
/// tables (they depend on one int8 value each), the output one per element.
pub fn add_same_shape(p: &AddParams, isa: Isa, a: &[i8], b: &[i8], out: &mut [i8]) {
    assert!(
        a.len() == out.len() && b.len() == out.len(),
        "ADD operand lengths"
    );
    #[cfg(target_arch = "x86_64")]
    if isa.has_avx2() && (0..=31).contains(&p.left_shift) {
        let full = out.len() / 8 * 8;
        // SAFETY: AVX2 detected (`Isa`); the slices hold `full` elements (asserted above).
        unsafe { requant::x86::add8s(p, &a[..full], &b[..full], &mut out[..full]) };
        for i in full..out.len() {
            out[i] = p.add(a[i], b[i]);
        }
        return;
    }
    let _ = isa;
    let table = |offset: i32, m: i32, s: i32| -> Vec<i32> {
        (-128i32..=127)
            .map(|v| {
                let x = offset
                    .wrapping_add(v)
                    .wrapping_mul(1i32.wrapping_shl(p.left_shift as u32));
                arch::quant::multiply_by_quantized_multiplier(x, m, s)
            })
            .collect()
    };
    if !(0..=31).contains(&p.left_shift) {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = p.add(x, y);
        }
        return;
    }
    let t1 = table(p.input1_offset, p.input1_multiplier, p.input1_shift);
    let t2 = table(p.input2_offset, p.input2_multiplier, p.input2_shift);
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        let s = t1[(x as i32 + 128) as usize].wrapping_add(t2[(y as i32 + 128) as usize]);
        let raw =
            arch::quant::multiply_by_quantized_multiplier(s, p.output_multiplier, p.output_shift)
                .wrapping_add(p.output_offset);
        *o = raw.clamp(p.act_min, p.act_max) as i8;
    }
}
