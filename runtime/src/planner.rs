//! Tensor-arena memory planning, as TFLite-Micro does it: every non-constant tensor is a
//! buffer with a first and last use (op indices); buffers whose lifetimes overlap must not
//! overlap in memory. [`GreedyBySize`] places the largest buffers first at the lowest
//! offset that fits (TFLM's `GreedyMemoryPlanner`); [`NoReuse`] gives every buffer its own
//! space (useful to inspect every intermediate tensor after a run).

/// Alignment of every buffer in the arena (bytes).
pub const ALIGN: usize = 16;

/// One buffer to place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferReq {
    /// Tensor index (informational).
    pub tensor: usize,
    pub size: usize,
    /// First op that uses the buffer (its producer, 0 for graph inputs).
    pub first_use: usize,
    /// Last op that uses it (inclusive; `n_ops` for graph outputs).
    pub last_use: usize,
}

impl BufferReq {
    pub fn overlaps_in_time(&self, o: &BufferReq) -> bool {
        self.first_use <= o.last_use && o.first_use <= self.last_use
    }
}

/// Offsets of each buffer (same order as the requests) and the arena size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArenaPlan {
    pub offsets: Vec<usize>,
    pub arena_bytes: usize,
}

/// A memory planner.
pub trait MemoryPlanner {
    fn name(&self) -> &'static str;
    fn plan(&self, reqs: &[BufferReq]) -> ArenaPlan;
}

fn align(x: usize) -> usize {
    x.div_ceil(ALIGN) * ALIGN
}

/// Largest buffers first, each at the lowest offset that does not collide with an already
/// placed buffer live at the same time.
#[derive(Debug, Clone, Copy, Default)]
pub struct GreedyBySize;

impl MemoryPlanner for GreedyBySize {
    fn name(&self) -> &'static str {
        "greedy-by-size"
    }

    fn plan(&self, reqs: &[BufferReq]) -> ArenaPlan {
        let mut order: Vec<usize> = (0..reqs.len()).collect();
        order.sort_by_key(|&i| (std::cmp::Reverse(reqs[i].size), reqs[i].first_use, i));
        let mut offsets = vec![0usize; reqs.len()];
        let mut placed: Vec<usize> = Vec::new();
        let mut arena = 0;
        for &i in &order {
            let r = &reqs[i];
            let mut live: Vec<(usize, usize)> = placed
                .iter()
                .filter(|&&j| reqs[j].overlaps_in_time(r))
                .map(|&j| (offsets[j], offsets[j] + align(reqs[j].size)))
                .collect();
            live.sort_unstable();
            let mut candidate = 0;
            for (start, end) in live {
                if candidate + align(r.size) <= start {
                    break;
                }
                candidate = candidate.max(end);
            }
            offsets[i] = candidate;
            arena = arena.max(candidate + align(r.size));
            placed.push(i);
        }
        ArenaPlan {
            offsets,
            arena_bytes: arena,
        }
    }
}

/// Every buffer at its own offset: nothing is ever overwritten.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReuse;

impl MemoryPlanner for NoReuse {
    fn name(&self) -> &'static str {
        "no-reuse"
    }

    fn plan(&self, reqs: &[BufferReq]) -> ArenaPlan {
        let mut offsets = Vec::with_capacity(reqs.len());
        let mut at = 0;
        for r in reqs {
            offsets.push(at);
            at += align(r.size);
        }
        ArenaPlan {
            offsets,
            arena_bytes: at,
        }
    }
}

/// Checks a plan: every pair of buffers live at the same time is disjoint in memory and
/// inside the arena. Returns the first conflicting pair.
pub fn check_plan(reqs: &[BufferReq], plan: &ArenaPlan) -> Result<(), (usize, usize)> {
    for i in 0..reqs.len() {
        if plan.offsets[i] + reqs[i].size > plan.arena_bytes {
            return Err((i, i));
        }
        for j in i + 1..reqs.len() {
            let (a, b) = (&reqs[i], &reqs[j]);
            if a.size == 0 || b.size == 0 || !a.overlaps_in_time(b) {
                continue;
            }
            let (oa, ob) = (plan.offsets[i], plan.offsets[j]);
            if oa < ob + b.size && ob < oa + a.size {
                return Err((i, j));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// Any set of lifetimes: greedy plans are valid and never larger than no-reuse, and
        /// never smaller than the largest set of simultaneously live buffers.
        #[test]
        fn greedy_plans_are_valid(spec in proptest::collection::vec((0usize..5000, 0usize..20, 0usize..6), 0..40)) {
            let reqs: Vec<BufferReq> = spec
                .iter()
                .enumerate()
                .map(|(t, &(size, first, len))| BufferReq { tensor: t, size, first_use: first, last_use: first + len })
                .collect();
            let plan = GreedyBySize.plan(&reqs);
            proptest::prop_assert!(check_plan(&reqs, &plan).is_ok());
            proptest::prop_assert!(plan.arena_bytes <= NoReuse.plan(&reqs).arena_bytes);
            let peak = (0..26)
                .map(|op| reqs.iter().filter(|r| r.first_use <= op && op <= r.last_use).map(|r| r.size).sum::<usize>())
                .max()
                .unwrap_or(0);
            proptest::prop_assert!(plan.arena_bytes >= peak);
        }
    }

    #[test]
    fn greedy_reuses_dead_buffers() {
        // A chain: t0 -> op0 -> t1 -> op1 -> t2 -> op2 -> t3.
        let reqs: Vec<BufferReq> = (0..4)
            .map(|t| BufferReq {
                tensor: t,
                size: 1000,
                first_use: t.saturating_sub(1).min(t),
                last_use: t,
            })
            .collect();
        let plan = GreedyBySize.plan(&reqs);
        check_plan(&reqs, &plan).unwrap();
        assert!(plan.arena_bytes <= 2 * 1008, "{}", plan.arena_bytes);
        let all = NoReuse.plan(&reqs);
        check_plan(&reqs, &all).unwrap();
        assert_eq!(all.arena_bytes, 4 * 1008);
    }
}
