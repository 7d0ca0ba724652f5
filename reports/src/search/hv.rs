//! Hypervolume of a set of points (all objectives minimised): the measure of the region
//! that the points dominate, bounded by a reference point. The quality indicator of
//! multi-objective search (Zitzler and Thiele, "Multiobjective evolutionary algorithms: a
//! comparative case study and the strength Pareto approach", IEEE TEVC 3(4), 1999).
//!
//! Computed exactly by slicing along the last objective (the "hypervolume by slicing
//! objectives" scheme of While, Hingston, Barone and Huband, IEEE TEVC 10(1), 2006), with a
//! sweep for two objectives: `O(n log n)` for 2, `O(n^2 log n)` for 3 objectives, enough for
//! the fronts of a design space (hundreds to a few thousand points).

/// Hypervolume of `points` (each of `reference.len()` coordinates) with respect to
/// `reference`. Points not strictly below the reference in every coordinate add nothing;
/// dominated and duplicate points are allowed (they add nothing either). Non-finite
/// coordinates count as not below the reference.
pub fn hypervolume(points: &[Vec<f64>], reference: &[f64]) -> f64 {
    let d = reference.len();
    let inside: Vec<&[f64]> = points
        .iter()
        .map(|p| p.as_slice())
        .filter(|p| p.len() == d && p.iter().zip(reference).all(|(x, r)| x.is_finite() && x < r))
        .collect();
    if d == 0 || inside.is_empty() {
        return 0.0;
    }
    slice(inside, reference, d)
}

/// The hypervolume of `pts` over their first `d` coordinates (every point is inside).
fn slice(mut pts: Vec<&[f64]>, reference: &[f64], d: usize) -> f64 {
    match d {
        1 => reference[0] - pts.iter().map(|p| p[0]).fold(f64::INFINITY, f64::min),
        2 => {
            // Sweep in x; the staircase of the lowest y so far.
            pts.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
            let mut area = 0.0;
            let mut best_y = reference[1];
            for (i, p) in pts.iter().enumerate() {
                best_y = best_y.min(p[1]);
                let next_x = pts.get(i + 1).map_or(reference[0], |q| q[0]);
                area += (next_x - p[0]) * (reference[1] - best_y);
            }
            area
        }
        _ => {
            let k = d - 1;
            pts.sort_by(|a, b| a[k].total_cmp(&b[k]));
            let mut vol = 0.0;
            for i in 0..pts.len() {
                let lo = pts[i][k];
                let hi = pts.get(i + 1).map_or(reference[k], |q| q[k]);
                if hi > lo {
                    vol += (hi - lo) * slice(pts[..=i].to_vec(), reference, k);
                }
            }
            vol
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_volumes() {
        // One point: a box.
        assert_eq!(hypervolume(&[vec![1.0, 2.0]], &[3.0, 3.0]), 2.0);
        // A staircase of two points: 2x1 + 1x2 - 1x1 overlap.
        assert_eq!(
            hypervolume(&[vec![1.0, 2.0], vec![2.0, 1.0]], &[3.0, 3.0]),
            3.0
        );
        // A dominated point, a duplicate and a point outside add nothing.
        assert_eq!(
            hypervolume(
                &[
                    vec![1.0, 2.0],
                    vec![2.0, 1.0],
                    vec![2.5, 2.5],
                    vec![1.0, 2.0],
                    vec![0.0, 3.0],
                    vec![f64::NAN, 0.0]
                ],
                &[3.0, 3.0]
            ),
            3.0
        );
        // 3-D: two unit-offset boxes, union by inclusion-exclusion.
        let a = vec![0.0, 1.0, 1.0]; // box 2x1x1 = 2
        let b = vec![1.0, 0.0, 0.0]; // box 1x2x2 = 4
        let overlap = 1.0; // [1,2]x[1,2]x[1,2]
        assert_eq!(hypervolume(&[a, b], &[2.0, 2.0, 2.0]), 2.0 + 4.0 - overlap);
        assert_eq!(hypervolume(&[], &[1.0, 1.0]), 0.0);
    }

    /// Against a Monte Carlo-free brute force: the volume of the union of boxes on a fine
    /// integer lattice (points on integer coordinates make the count exact).
    #[test]
    fn equals_the_lattice_count_on_random_sets() {
        let mut s: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: u64| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s % n
        };
        for _ in 0..40 {
            let n = 1 + next(12) as usize;
            let pts: Vec<Vec<f64>> = (0..n)
                .map(|_| (0..3).map(|_| next(9) as f64).collect())
                .collect();
            let r = [9.0, 9.0, 9.0];
            let mut count = 0u32;
            for x in 0..9 {
                for y in 0..9 {
                    for z in 0..9 {
                        let c = [x as f64, y as f64, z as f64];
                        if pts.iter().any(|p| p.iter().zip(&c).all(|(a, b)| a <= b)) {
                            count += 1;
                        }
                    }
                }
            }
            assert_eq!(hypervolume(&pts, &r), count as f64, "{pts:?}");
        }
    }
}
