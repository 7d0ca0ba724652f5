//! SUB, int8, with broadcasting (TFLite-Micro's `sub.cc` / `sub_common.cc` and
//! `reference_ops::Sub` / `BroadcastQuantSubSlow`: the per-element arithmetic is the same
//! with and without broadcasting).
//!
//! The arithmetic is ADD's with the second scaled input subtracted, with the same
//! parameters: the twice-maximum input scale and the three real multipliers in double
//! precision. (The TFLite-Micro source of August 2026 computes them in single precision;
//! the `tflite-micro` package of October 2026 that writes the goldens computes them in
//! double: `tests/data/ops/sub_bcast_const_first` tells the two apart by one byte, and
//! matches double.)

use super::elementwise::{broadcast_binary, AddParams};

/// SUB parameters (`OpDataSub` for int8: `left_shift = 20`): ADD's, the second input
/// subtracted instead of added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubParams(pub AddParams);

impl SubParams {
    /// From the float scales and zero points of both inputs and the output, and the fused
    /// activation range. Fails (with the reason) where TFLite-Micro's
    /// `QuantizeMultiplierSmallerThanOneExp` aborts: a real multiplier not in (0, 1).
    pub fn new(
        in1: (f32, i32),
        in2: (f32, i32),
        out: (f32, i32),
        act: (i32, i32),
    ) -> Result<Self, String> {
        let left_shift = 20;
        let twice_max = 2.0 * in1.0.max(in2.0) as f64;
        let r1 = in1.0 as f64 / twice_max;
        let r2 = in2.0 as f64 / twice_max;
        let ro = twice_max / ((1i64 << left_shift) as f64 * out.0 as f64);
        for (what, r) in [("input 0", r1), ("input 1", r2), ("output", ro)] {
            if !(r > 0.0 && r < 1.0) {
                return Err(format!(
                    "the {what} rescale multiplier {r:e} is not in (0, 1) (input scales {} and {}, \
                     output scale {}: the larger input scale may be at most 2^19 times the \
                     output scale)",
                    in1.0, in2.0, out.0
                ));
            }
        }
        Ok(SubParams(AddParams::with_left_shift(
            in1, in2, out, act, left_shift,
        )))
    }

    /// One element: both inputs shifted left by 20 and rescaled
    /// (`MultiplyByQuantizedMultiplierSmallerThanOneExp`, equal to
    /// `MultiplyByQuantizedMultiplier` for the non-positive shifts checked in `new`),
    /// subtracted, rescaled to the output, offset and clamped.
    #[inline]
    pub fn sub(&self, a: i8, b: i8) -> i8 {
        self.0.combine(a as i32, b as i32, true) as i8
    }
}

/// SUB with NumPy broadcasting: `out = a - b`.
pub fn sub(
    p: &SubParams,
    a: &[i8],
    sa: &[usize],
    b: &[i8],
    sb: &[usize],
    out: &mut [i8],
    so: &[usize],
) {
    broadcast_binary(a, sa, b, sb, out, so, |x, y| p.sub(x, y));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_tracks_the_real_difference() {
        let (s1, s2, so) = ((0.05, 3), (0.03, -10), (0.06, 2));
        let p = SubParams::new(s1, s2, so, (-128, 127)).unwrap();
        for a in (-128..=127).step_by(7) {
            for b in (-128..=127).step_by(5) {
                let real = s1.0 as f64 * (a - s1.1) as f64 - s2.0 as f64 * (b - s2.1) as f64;
                let want = ((real / so.0 as f64).round() + so.1 as f64).clamp(-128.0, 127.0);
                let got = p.sub(a as i8, b as i8) as f64;
                assert!((got - want).abs() <= 1.0, "{a} - {b}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn a_multiplier_of_one_or_more_is_refused() {
        let e = SubParams::new((1.0, 0), (1.0, 0), (1e-6, 0), (-128, 127)).unwrap_err();
        assert!(e.contains("output rescale multiplier"), "{e}");
    }
}
