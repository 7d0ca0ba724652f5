//! Pareto fronts: the non-dominated points when every coordinate is minimised.

/// True when `a` dominates `b`: no worse in every coordinate and better in at least one.
pub fn dominates<const D: usize>(a: &[f64; D], b: &[f64; D]) -> bool {
    let mut better = false;
    for k in 0..D {
        if a[k] > b[k] {
            return false;
        }
        if a[k] < b[k] {
            better = true;
        }
    }
    better
}

/// Indices (ascending) of the non-dominated points. Identical points do not dominate each
/// other, so all copies of a non-dominated point are kept.
///
/// Points are visited in lexicographic order, so a dominator always comes before the
/// points it dominates, and each point is compared with the front found so far only:
/// O(n log n + n * front size).
pub fn pareto_front<const D: usize>(points: &[[f64; D]]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).collect();
    order.sort_by(|&i, &j| {
        let (a, b) = (&points[i], &points[j]);
        (0..D)
            .map(|k| a[k].total_cmp(&b[k]))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(i.cmp(&j))
    });
    let mut front: Vec<usize> = Vec::new();
    for i in order {
        if !front.iter().any(|&f| dominates(&points[f], &points[i])) {
            front.push(i);
        }
    }
    front.sort_unstable();
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute<const D: usize>(p: &[[f64; D]]) -> Vec<usize> {
        (0..p.len())
            .filter(|&i| !(0..p.len()).any(|j| dominates(&p[j], &p[i])))
            .collect()
    }

    #[test]
    fn hand_made_front() {
        // (latency, energy, area)
        let p = [
            [1.0, 10.0, 5.0], // 0: fastest
            [2.0, 5.0, 5.0],  // 1: trade-off
            [3.0, 6.0, 5.0],  // 2: dominated by 1
            [5.0, 1.0, 9.0],  // 3: least energy
            [4.0, 4.0, 1.0],  // 4: smallest
            [4.0, 4.0, 1.0],  // 5: copy of 4, kept
            [4.0, 4.0, 2.0],  // 6: dominated by 4
            [1.0, 10.0, 5.0], // 7: copy of 0, kept
            [9.0, 9.0, 9.0],  // 8: dominated by everything
        ];
        assert_eq!(pareto_front(&p), vec![0, 1, 3, 4, 5, 7]);
        assert_eq!(pareto_front(&p), brute(&p));
        assert!(pareto_front::<3>(&[]).is_empty());
    }

    #[test]
    fn matches_brute_force() {
        // A deterministic pseudo-random cloud with many ties.
        let mut x: u64 = 12345;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 17) as f64
        };
        let p: Vec<[f64; 3]> = (0..500).map(|_| [next(), next(), next()]).collect();
        assert_eq!(pareto_front(&p), brute(&p));
    }
}
