//! ADD and MUL, int8, with broadcasting (`reference_integer_ops::Add/Mul` and their
//! `BroadcastAdd4DSlow` variants: the per-element arithmetic is the same).

use arch::quant::multiply_by_quantized_multiplier as mbqm;

/// ADD parameters as TFLite-Micro's `CalculateOpData` computes them for int8
/// (`left_shift = 20`, per-input multipliers relative to twice the larger input scale).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddParams {
    pub input1_offset: i32,
    pub input2_offset: i32,
    pub output_offset: i32,
    pub left_shift: i32,
    pub input1_multiplier: i32,
    pub input1_shift: i32,
    pub input2_multiplier: i32,
    pub input2_shift: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub act_min: i32,
    pub act_max: i32,
}

impl AddParams {
    /// From the float scales and zero points of both inputs and the output.
    pub fn new(in1: (f32, i32), in2: (f32, i32), out: (f32, i32), act: (i32, i32)) -> Self {
        Self::with_left_shift(in1, in2, out, act, 20)
    }

    /// [`Self::new`] with another left shift (TFLite-Micro: 20 for int8, 15 for int16;
    /// SUB uses ADD's parameters too).
    pub fn with_left_shift(
        in1: (f32, i32),
        in2: (f32, i32),
        out: (f32, i32),
        act: (i32, i32),
        left_shift: i32,
    ) -> Self {
        let twice_max = 2.0 * (in1.0.max(in2.0) as f64);
        let r1 = in1.0 as f64 / twice_max;
        let r2 = in2.0 as f64 / twice_max;
        let ro = twice_max / ((1i64 << left_shift) as f64 * out.0 as f64);
        let (m1, s1) = arch::quant::quantize_multiplier(r1);
        let (m2, s2) = arch::quant::quantize_multiplier(r2);
        let (mo, so) = arch::quant::quantize_multiplier(ro);
        AddParams {
            input1_offset: -in1.1,
            input2_offset: -in2.1,
            output_offset: out.1,
            left_shift,
            input1_multiplier: m1,
            input1_shift: s1,
            input2_multiplier: m2,
            input2_shift: s2,
            output_multiplier: mo,
            output_shift: so,
            act_min: act.0,
            act_max: act.1,
        }
    }

    #[inline]
    pub fn add(&self, a: i8, b: i8) -> i8 {
        self.combine(a as i32, b as i32, false) as i8
    }

    /// One element of ADD (or, with `subtract`, SUB): both inputs offset, shifted left and
    /// rescaled, added (subtracted), rescaled to the output, offset and clamped to the
    /// activation range.
    #[inline]
    pub fn combine(&self, a: i32, b: i32, subtract: bool) -> i32 {
        let x1 = (self.input1_offset + a).wrapping_mul(1 << self.left_shift);
        let x2 = (self.input2_offset + b).wrapping_mul(1 << self.left_shift);
        let s1 = mbqm(x1, self.input1_multiplier, self.input1_shift);
        let s2 = mbqm(x2, self.input2_multiplier, self.input2_shift);
        let sum = if subtract {
            s1.wrapping_sub(s2)
        } else {
            s1.wrapping_add(s2)
        };
        mbqm(sum, self.output_multiplier, self.output_shift)
            .wrapping_add(self.output_offset)
            .clamp(self.act_min, self.act_max)
    }
}

/// MUL parameters: `real = s1 * s2 / s_out` (double), one multiplier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulParams {
    pub input1_offset: i32,
    pub input2_offset: i32,
    pub output_offset: i32,
    pub output_multiplier: i32,
    pub output_shift: i32,
    pub act_min: i32,
    pub act_max: i32,
}

impl MulParams {
    pub fn new(in1: (f32, i32), in2: (f32, i32), out: (f32, i32), act: (i32, i32)) -> Self {
        let real = in1.0 as f64 * in2.0 as f64 / out.0 as f64;
        let (m, s) = arch::quant::quantize_multiplier(real);
        MulParams {
            input1_offset: -in1.1,
            input2_offset: -in2.1,
            output_offset: out.1,
            output_multiplier: m,
            output_shift: s,
            act_min: act.0,
            act_max: act.1,
        }
    }

    #[inline]
    pub fn mul(&self, a: i8, b: i8) -> i8 {
        let x = (self.input1_offset + a as i32) * (self.input2_offset + b as i32);
        let v = mbqm(x, self.output_multiplier, self.output_shift).wrapping_add(self.output_offset);
        v.clamp(self.act_min, self.act_max) as i8
    }
}

/// Row-major strides of `shape` padded on the left to `rank`, with 0 for broadcast (size 1)
/// dimensions.
fn broadcast_strides(shape: &[usize], out: &[usize]) -> Vec<usize> {
    let rank = out.len();
    let mut padded = vec![1usize; rank - shape.len().min(rank)];
    padded.extend_from_slice(shape);
    let mut strides = vec![0usize; rank];
    let mut s = 1;
    for d in (0..rank).rev() {
        strides[d] = if padded[d] == 1 && out[d] != 1 { 0 } else { s };
        s *= padded[d];
    }
    strides
}

/// Applies `f` element-wise with NumPy broadcasting of `a` (shape `sa`) and `b` (shape
/// `sb`) to `out` (shape `so`).
pub fn broadcast_binary<T: Copy>(
    a: &[T],
    sa: &[usize],
    b: &[T],
    sb: &[usize],
    out: &mut [T],
    so: &[usize],
    f: impl Fn(T, T) -> T,
) {
    if sa == sb {
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            *o = f(x, y);
        }
        return;
    }
    let ta = broadcast_strides(sa, so);
    let tb = broadcast_strides(sb, so);
    let rank = so.len();
    let mut idx = vec![0usize; rank];
    for o in out.iter_mut() {
        let ia: usize = idx.iter().zip(&ta).map(|(i, s)| i * s).sum();
        let ib: usize = idx.iter().zip(&tb).map(|(i, s)| i * s).sum();
        *o = f(a[ia], b[ib]);
        for d in (0..rank).rev() {
            idx[d] += 1;
            if idx[d] < so[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// ADD with broadcasting.
pub fn add(
    p: &AddParams,
    a: &[i8],
    sa: &[usize],
    b: &[i8],
    sb: &[usize],
    out: &mut [i8],
    so: &[usize],
) {
    broadcast_binary(a, sa, b, sb, out, so, |x, y| p.add(x, y));
}

/// MUL with broadcasting.
pub fn mul(
    p: &MulParams,
    a: &[i8],
    sa: &[usize],
    b: &[i8],
    sb: &[usize],
    out: &mut [i8],
    so: &[usize],
) {
    broadcast_binary(a, sa, b, sb, out, so, |x, y| p.mul(x, y));
}
