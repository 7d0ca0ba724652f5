//! The vector unit's arithmetic (`docs/architecture.md` section 3.5): the value of one
//! lane of one position for each mode, the write-back combine, and a reference
//! execution of a whole `VCOMPUTE` on flat scratchpad images. The simulator's models and
//! the RTL co-simulation take their expected values from here.

use crate::isa::{AddRescale, VCompute, VMode, VSet};
use crate::quant::multiply_by_quantized_multiplier as mbqm;

/// `SUM`'s divide: TFLite-Micro's average-pool rounding, `(v + d/2) / d` for `v > 0`,
/// else `(v - d/2) / d` (C division, wrapping adds); `d = 0` leaves `v`.
pub fn pool_divide(v: i32, d: u16) -> i32 {
    if d == 0 {
        return v;
    }
    let d = d as i32;
    if v > 0 {
        v.wrapping_add(d / 2) / d
    } else {
        v.wrapping_sub(d / 2) / d
    }
}

/// One operand's rescale in `ADD` mode: `mbqm((off + x) << left_shift, m, s)`.
pub fn add_rescale(off: i16, x: i8, left_shift: u8, m: i32, s: i8) -> i32 {
    let v = (off as i32 + x as i32).wrapping_mul(1i32.wrapping_shl(left_shift as u32));
    mbqm(v, m, s as i32)
}

/// The `ADD` lane value of operands `x` (input scratchpad) and `y` (weight scratchpad):
/// the sum of both rescales (wrapping), before the PPU's output rescale.
pub fn add_lane(a: &AddRescale, x: i8, y: i8) -> i32 {
    add_rescale(a.off1, x, a.left_shift, a.m1, a.s1).wrapping_add(add_rescale(
        a.off2,
        y,
        a.left_shift,
        a.m2,
        a.s2,
    ))
}

/// The value `v` of one lane of one position: `xs` are the `k` input taps, `ws` the `k`
/// weights (`MAC`), or one operand-2 byte (`ADD`); unused otherwise.
pub fn lane_value(set: &VSet, xs: &[i8], ws: &[i8]) -> i32 {
    match set.mode {
        VMode::Mac => xs
            .iter()
            .zip(ws)
            .fold(0i32, |acc, (&x, &w)| acc.wrapping_add(x as i32 * w as i32)),
        VMode::Sum => pool_divide(
            xs.iter().fold(0i32, |acc, &x| acc.wrapping_add(x as i32)),
            set.divisor,
        ),
        VMode::Max => xs.iter().map(|&x| x as i32).max().unwrap_or(-128),
        VMode::Add => add_lane(&set.add, xs[0], ws[0]),
    }
}

/// The write-back: `v`, or with `ACCUMULATE` `old + v` (`MAX`: the larger).
pub fn combine(mode: VMode, accumulate: bool, old: i32, v: i32) -> i32 {
    match (accumulate, mode) {
        (false, _) => v,
        (true, VMode::Max) => old.max(v),
        (true, _) => old.wrapping_add(v),
    }
}

/// The input line of tap `t` of position `p`.
pub fn input_line(set: &VSet, c: &VCompute, p: u64, t: u64) -> u64 {
    c.a_line as u64 + t * set.tap_stride as u64 + p
}

/// The weight line read for tap `t` of position `p` (`None`: the mode reads none).
pub fn weight_line(set: &VSet, c: &VCompute, p: u64, t: u64) -> Option<u64> {
    match set.mode {
        VMode::Mac => Some(c.b_line as u64 + t),
        VMode::Add => Some(c.b_line as u64 + p),
        VMode::Sum | VMode::Max => None,
    }
}

/// Executes a `VCOMPUTE` on flat scratchpad images (`input`: lines of `rows` int8,
/// `weight`: lines of `cols` int8, `acc`: lines of `cols` int32), as the functional
/// model does. The command must have passed the host checks
/// (`crate::hostcheck::check_vcompute`); lines outside the images panic.
pub fn execute(
    set: &VSet,
    c: &VCompute,
    rows: usize,
    cols: usize,
    input: &[i8],
    weight: &[i8],
    acc: &mut [i32],
) {
    let (m, k, n) = (c.m as u64, c.k as u64, c.n as usize);
    let mut xs = vec![0i8; k as usize];
    let mut ws = vec![0i8; k as usize];
    for p in 0..m {
        let line = (c.c_line as u64 + p) as usize;
        for j in 0..cols {
            let v = if j < n {
                for t in 0..k {
                    xs[t as usize] = input[input_line(set, c, p, t) as usize * rows + j];
                    ws[t as usize] = match weight_line(set, c, p, t) {
                        Some(l) => weight[l as usize * cols + j],
                        None => 0,
                    };
                }
                let v = lane_value(set, &xs, &ws);
                combine(set.mode, c.accumulate, acc[line * cols + j], v)
            } else {
                0
            };
            acc[line * cols + j] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_divide_rounds_half_away_from_zero() {
        assert_eq!(pool_divide(5, 2), 3);
        assert_eq!(pool_divide(-5, 2), -3);
        assert_eq!(pool_divide(4, 3), 1);
        assert_eq!(pool_divide(-4, 3), -1);
        assert_eq!(pool_divide(0, 7), 0);
        assert_eq!(pool_divide(-7, 0), -7);
        assert_eq!(pool_divide(-128 * 125, 125), -128);
    }

    #[test]
    fn add_lane_matches_tflite_arithmetic() {
        // off 0, shift 0, multiplier 2^30 with shift 1 = x1 exactly.
        let a = AddRescale {
            off1: 3,
            off2: -2,
            left_shift: 0,
            m1: 1 << 30,
            s1: 1,
            m2: 1 << 30,
            s2: 1,
        };
        assert_eq!(add_lane(&a, 10, 20), 13 + 18);
        assert_eq!(add_lane(&a, -128, 127), -125 + 125);
    }

    #[test]
    fn execute_writes_zero_lanes_and_combines() {
        let set = VSet {
            mode: VMode::Max,
            tap_stride: 2,
            ..VSet::default()
        };
        let rows = 2;
        let cols = 4;
        // Input lines 0..4: position p, tap t at line t*2 + p.
        let input = [1i8, -5, 2, -6, 7, -1, -3, 9];
        let mut acc = vec![100i32; 2 * cols];
        let c = VCompute {
            accumulate: true,
            a_line: 0,
            b_line: 0,
            c_line: 0,
            m: 2,
            k: 2,
            n: 2,
        };
        execute(&set, &c, rows, cols, &input, &[], &mut acc);
        assert_eq!(acc, vec![100, 100, 0, 0, 100, 100, 0, 0]);
        let c = VCompute {
            accumulate: false,
            ..c
        };
        execute(&set, &c, rows, cols, &input, &[], &mut acc);
        // p0: taps lines 0, 2 -> lane0 max(1, 7) = 7, lane1 max(-5, -1) = -1.
        // p1: lines 1, 3 -> lane0 max(2, -3) = 2, lane1 max(-6, 9) = 9.
        assert_eq!(acc, vec![7, -1, 0, 0, 2, 9, 0, 0]);
    }
}
