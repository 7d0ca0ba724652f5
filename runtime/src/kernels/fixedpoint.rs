//! The gemmlowp fixed-point functions used by TFLite's int8 softmax, logistic and tanh
//! (`gemmlowp/fixedpoint/fixedpoint.h`), on raw `i32` values. `ib` arguments are the number
//! of integer bits of the fixed-point format (`FixedPoint<int32_t, ib>`).

use arch::quant::{rounding_divide_by_pot, saturating_rounding_doubling_high_mul as srdhm};

/// `RoundingDivideByPOT` for exponents up to 62 (gemmlowp's is only defined to 31).
#[inline]
pub fn rounding_divide_by_pot_wide(x: i32, exponent: i32) -> i32 {
    if exponent <= 31 {
        return rounding_divide_by_pot(x, exponent.max(0));
    }
    let e = exponent.min(62);
    let x = x as i64;
    let mask = (1i64 << e) - 1;
    let rem = x & mask;
    let threshold = (mask >> 1) + i64::from(x < 0);
    ((x >> e) + i64::from(rem > threshold)) as i32
}

/// `SaturatingRoundingMultiplyByPOT<exponent>`.
#[inline]
pub fn saturating_rounding_mul_by_pot(x: i32, exponent: i32) -> i32 {
    if exponent > 0 {
        let threshold = (1i32 << (31 - exponent)) - 1;
        if x > threshold {
            i32::MAX
        } else if x < -threshold {
            i32::MIN
        } else {
            x << exponent
        }
    } else if exponent < 0 {
        rounding_divide_by_pot(x, -exponent)
    } else {
        x
    }
}

/// `Rescale<dst>(FixedPoint<src>)`.
#[inline]
pub fn rescale(x: i32, src_ib: i32, dst_ib: i32) -> i32 {
    saturating_rounding_mul_by_pot(x, src_ib - dst_ib)
}

/// `RoundingHalfSum`.
#[inline]
pub fn rounding_half_sum(a: i32, b: i32) -> i32 {
    let sum = a as i64 + b as i64;
    let sign = if sum >= 0 { 1 } else { -1 };
    ((sum + sign) / 2) as i32
}

/// `FixedPoint<_, 0>::One()`.
pub const ONE_F0: i32 = i32::MAX;

/// `exp_on_interval_between_negative_one_quarter_and_0_excl` (F0 -> F0).
pub fn exp_on_interval_between_negative_one_quarter_and_0_excl(a: i32) -> i32 {
    const CONSTANT_TERM: i32 = 1895147668; // exp(-1/8)
    const ONE_THIRD: i32 = 715827883;
    let x = a.wrapping_add(1 << 28);
    let x2 = srdhm(x, x);
    let x3 = srdhm(x2, x);
    let x4 = srdhm(x2, x2);
    let x4_over_4 = saturating_rounding_mul_by_pot(x4, -2);
    let poly = saturating_rounding_mul_by_pot(
        srdhm(x4_over_4.wrapping_add(x3), ONE_THIRD).wrapping_add(x2),
        -1,
    );
    CONSTANT_TERM.wrapping_add(srdhm(CONSTANT_TERM, x.wrapping_add(poly)))
}

/// `exp_on_negative_values` (`FixedPoint<ib>` with a value <= 0 -> F0).
pub fn exp_on_negative_values(a: i32, ib: i32) -> i32 {
    let fb = 31 - ib;
    let one_quarter: i32 = 1 << (fb - 2);
    let mask = one_quarter - 1;
    let a_mod_quarter_minus_one_quarter = (a & mask).wrapping_sub(one_quarter);
    let mut result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(
        a_mod_quarter_minus_one_quarter,
        ib,
        0,
    ));
    let remainder = a_mod_quarter_minus_one_quarter.wrapping_sub(a);
    const BARREL: [(i32, i32); 7] = [
        (-2, 1672461947),
        (-1, 1302514674),
        (0, 790015084),
        (1, 290630308),
        (2, 39332535),
        (3, 720401),
        (4, 242),
    ];
    for (exponent, multiplier) in BARREL {
        if ib > exponent {
            let shift = fb + exponent;
            if remainder & (1 << shift) != 0 {
                result = srdhm(result, multiplier);
            }
        }
    }
    if ib > 5 {
        let clamp = -(1i32 << (36 - ib));
        if a < clamp {
            result = 0;
        }
    }
    if a == 0 {
        result = ONE_F0;
    }
    result
}

/// The three Newton-Raphson steps shared by the two reciprocal helpers: returns `x ~=
/// 1 / half_denominator` in F2.
fn newton_reciprocal_f2(half_denominator: i32) -> i32 {
    const C48_17: i32 = 1515870810;
    const CNEG32_17: i32 = -1010580540;
    const ONE_F2: i32 = 1 << 29;
    let mut x = C48_17.wrapping_add(srdhm(half_denominator, CNEG32_17));
    for _ in 0..3 {
        let hdx = srdhm(half_denominator, x);
        let one_minus = ONE_F2.wrapping_sub(hdx);
        x = x.wrapping_add(rescale(srdhm(x, one_minus), 4, 2));
    }
    x
}

/// `one_over_one_plus_x_for_x_in_0_1` (F0 -> F0).
pub fn one_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, ONE_F0);
    let x = newton_reciprocal_f2(half_denominator);
    // ExactMulByPot<-1> (F2 -> F1, same raw), then Rescale<0>.
    rescale(x, 1, 0)
}

/// `one_minus_x_over_one_plus_x_for_x_in_0_1` (F0 -> F0).
pub fn one_minus_x_over_one_plus_x_for_x_in_0_1(a: i32) -> i32 {
    let half_denominator = rounding_half_sum(a, ONE_F0);
    let x = newton_reciprocal_f2(half_denominator);
    rescale(x.wrapping_sub(1 << 29), 2, 0)
}

/// `gemmlowp::logistic` (`FixedPoint<ib>` -> F0).
pub fn logistic(a: i32, ib: i32) -> i32 {
    if a == 0 {
        return 1 << 30;
    }
    let abs = if a > 0 { a } else { a.wrapping_neg() };
    let pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(abs.wrapping_neg(), ib));
    if a > 0 {
        pos
    } else {
        ONE_F0.wrapping_sub(pos)
    }
}

/// `gemmlowp::tanh` (`FixedPoint<ib>` -> F0).
pub fn tanh(a: i32, ib: i32) -> i32 {
    if a == 0 {
        return 0;
    }
    let n = if a < 0 { a } else { a.wrapping_neg() };
    // ExactMulByPot<1>: same raw, one more integer bit.
    let t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, ib + 1));
    if a < 0 {
        t.wrapping_neg()
    } else {
        t
    }
}

/// TFLite's `CalculateInputRadius`.
pub fn calculate_input_radius(
    input_integer_bits: i32,
    input_left_shift: i32,
    total_signed_bits: i32,
) -> i32 {
    let max_input_rescaled = ((1i64 << input_integer_bits) - 1) as f64
        * 2f64.powi(total_signed_bits - input_integer_bits)
        / 2f64.powi(input_left_shift);
    max_input_rescaled.floor().min(i32::MAX as f64) as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_f(x: i32, ib: i32) -> f64 {
        x as f64 / 2f64.powi(31 - ib)
    }

    #[test]
    fn exp_is_close_to_exp() {
        for i in 0..200 {
            let v = -(i as f64) * 0.08;
            let raw = (v * 2f64.powi(26)).round() as i32;
            let e = to_f(exp_on_negative_values(raw, 5), 0);
            assert!((e - v.exp()).abs() < 1e-6, "{v}: {e}");
        }
    }

    #[test]
    fn logistic_and_tanh_are_close() {
        for i in -100..100 {
            let v = i as f64 * 0.07;
            let raw = (v * 2f64.powi(27)).round() as i32;
            let l = to_f(logistic(raw, 4), 0);
            assert!((l - 1.0 / (1.0 + (-v).exp())).abs() < 1e-6, "{v}: {l}");
            let t = to_f(tanh(raw, 4), 0);
            assert!((t - v.tanh()).abs() < 1e-6, "{v}: {t}");
        }
    }

    #[test]
    fn reciprocal_is_close() {
        for i in 0..100 {
            let v = i as f64 / 100.0;
            let raw = (v * 2f64.powi(31)) as i32;
            let r = to_f(one_over_one_plus_x_for_x_in_0_1(raw), 0);
            assert!((r - 1.0 / (1.0 + v)).abs() < 1e-7, "{v}: {r}");
        }
    }
}
