//! NSGA-II over a discrete design space, with constrained domination.
//!
//! K. Deb, A. Pratap, S. Agarwal and T. Meyarivan, "A fast and elitist multiobjective
//! genetic algorithm: NSGA-II", IEEE Transactions on Evolutionary Computation 6(2),
//! 182-197, 2002: fast non-dominated sorting, crowding distance, binary tournaments on
//! (rank, crowding), elitist (mu + lambda) survival; constraints by the paper's
//! constrained-domination rule (section VI: a feasible design beats an infeasible one,
//! two infeasible designs compare by total violation, two feasible ones by Pareto
//! dominance).
//!
//! The genome of a design is its value index per swept key (a grid's design). Variation:
//! uniform crossover, and per-key mutation with probability `1/keys`: for ordinal keys
//! (numeric values) half the time a step to a neighbouring value, otherwise a uniformly
//! drawn other value. A design is never evaluated twice: a child that was already seen is
//! mutated again, and after a few tries replaced by an unseen design drawn at random.
//!
//! Everything is a function of the seed and the evaluations (a local xorshift generator,
//! no global state), so a run repeated with the same evaluations takes the same path: that
//! is what makes a search resumable from its cache of evaluated designs.

use std::collections::{HashMap, HashSet};

/// The design space: per key, the number of values and whether they are ordered.
#[derive(Debug, Clone, PartialEq)]
pub struct Space {
    pub sizes: Vec<usize>,
    pub ordinal: Vec<bool>,
}

impl Space {
    /// Number of designs.
    pub fn len(&self) -> u64 {
        self.sizes.iter().map(|&n| n as u64).product()
    }

    /// Always false for a space with at least one value per key.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The design index of a genome (mixed radix, last key fastest: `Grid::choice`'s order).
    pub fn encode(&self, genes: &[usize]) -> u64 {
        genes
            .iter()
            .zip(&self.sizes)
            .fold(0u64, |acc, (&g, &n)| acc * n as u64 + g as u64)
    }

    /// The genome of a design index.
    pub fn decode(&self, mut index: u64) -> Vec<usize> {
        let mut g = vec![0; self.sizes.len()];
        for (i, &n) in self.sizes.iter().enumerate().rev() {
            g[i] = (index % n as u64) as usize;
            index /= n as u64;
        }
        g
    }
}

/// A small, seedable generator (splitmix64 seeding, xorshift64* stream).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `0..n` (`n >= 1`).
    pub fn below(&mut self, n: u64) -> u64 {
        // Multiply-shift: bias below 2^-32 for the sizes used here.
        ((self.next_u64() >> 32) * n) >> 32
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64) < p * (1u64 << 53) as f64
    }
}

/// What the search knows of one evaluated design.
#[derive(Debug, Clone, PartialEq)]
pub struct Eval {
    /// Objective values, all minimised (`f64::INFINITY` when unknown).
    pub objectives: Vec<f64>,
    /// Total normalised constraint violation: 0 when feasible; `f64::INFINITY` for a
    /// design that could not be evaluated (invalid or infeasible on some model).
    pub violation: f64,
}

impl Eval {
    pub fn feasible(&self) -> bool {
        self.violation == 0.0
    }
}

/// Pareto dominance (all objectives minimised).
pub fn dominates(a: &[f64], b: &[f64]) -> bool {
    let mut strictly = false;
    for (x, y) in a.iter().zip(b) {
        if x > y {
            return false;
        }
        if x < y {
            strictly = true;
        }
    }
    strictly
}

/// Deb's constrained domination.
pub fn constrained_dominates(a: &Eval, b: &Eval) -> bool {
    match (a.feasible(), b.feasible()) {
        (true, false) => true,
        (false, true) => false,
        (false, false) => a.violation < b.violation,
        (true, true) => dominates(&a.objectives, &b.objectives),
    }
}

/// Fast non-dominated sort: the fronts, as indices into `evals`, best first.
pub fn nondominated_sort(evals: &[&Eval]) -> Vec<Vec<usize>> {
    let n = evals.len();
    let mut dominated_by = vec![0usize; n];
    let mut dominates_list: Vec<Vec<usize>> = vec![Vec::new(); n];
    for i in 0..n {
        for j in i + 1..n {
            if constrained_dominates(evals[i], evals[j]) {
                dominates_list[i].push(j);
                dominated_by[j] += 1;
            } else if constrained_dominates(evals[j], evals[i]) {
                dominates_list[j].push(i);
                dominated_by[i] += 1;
            }
        }
    }
    let mut fronts = Vec::new();
    let mut current: Vec<usize> = (0..n).filter(|&i| dominated_by[i] == 0).collect();
    while !current.is_empty() {
        let mut next = Vec::new();
        for &i in &current {
            for &j in &dominates_list[i] {
                dominated_by[j] -= 1;
                if dominated_by[j] == 0 {
                    next.push(j);
                }
            }
        }
        next.sort_unstable();
        fronts.push(current);
        current = next;
    }
    fronts
}

/// Crowding distance of each member of `front` (same order); boundary points get
/// infinity. Objectives with no finite spread add nothing.
pub fn crowding(front: &[usize], evals: &[&Eval]) -> Vec<f64> {
    let n = front.len();
    let mut dist = vec![0.0; n];
    if n == 0 {
        return dist;
    }
    let m = evals[front[0]].objectives.len();
    for k in 0..m {
        let mut order: Vec<usize> = (0..n).collect();
        let v = |i: usize| evals[front[i]].objectives[k];
        order.sort_by(|&a, &b| v(a).total_cmp(&v(b)).then(a.cmp(&b)));
        let (lo, hi) = (v(order[0]), v(order[n - 1]));
        dist[order[0]] = f64::INFINITY;
        dist[order[n - 1]] = f64::INFINITY;
        let span = hi - lo;
        if !(span.is_finite() && span > 0.0) {
            continue;
        }
        for w in 1..n.saturating_sub(1) {
            let gap = v(order[w + 1]) - v(order[w - 1]);
            if gap.is_finite() {
                dist[order[w]] += gap / span;
            }
        }
    }
    dist
}

/// Parameters of a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Params {
    /// Population size (offspring per generation).
    pub population: usize,
    /// Most designs evaluated (counting the initial population).
    pub budget: u64,
    pub seed: u64,
    /// Probability that a pair of parents is crossed over.
    pub crossover: f64,
}

/// One generation's survivors, after it was evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub number: usize,
    /// Designs evaluated so far.
    pub evaluated: u64,
    /// The surviving population (design indices), best rank first.
    pub population: Vec<u64>,
}

/// Runs NSGA-II. `evaluate` gets a batch of new, distinct design indices and returns their
/// evaluations in the same order (it may evaluate them in parallel); `on_generation` sees
/// each generation's survivors. Returns every evaluated design's evaluation.
pub fn run<E>(
    space: &Space,
    p: Params,
    mut evaluate: impl FnMut(&[u64]) -> Result<Vec<Eval>, E>,
    mut on_generation: impl FnMut(&Generation, &HashMap<u64, Eval>),
) -> Result<HashMap<u64, Eval>, E> {
    let total = space.len();
    let budget = p.budget.min(total);
    let pop_size = p.population.max(2);
    let mut rng = Rng::new(p.seed);
    let mut seen: HashMap<u64, Eval> = HashMap::new();

    // Initial population: distinct random designs.
    let mut batch: Vec<u64> = Vec::new();
    let mut chosen: HashSet<u64> = HashSet::new();
    while (batch.len() as u64) < budget.min(pop_size as u64) {
        let d = unseen(&mut rng, total, &seen, &chosen);
        chosen.insert(d);
        batch.push(d);
    }
    let evals = evaluate(&batch)?;
    seen.extend(batch.iter().copied().zip(evals));
    let mut population = batch;
    let mut number = 0;
    let survivors = select(&population, &seen, pop_size);
    population = survivors;
    on_generation(
        &Generation {
            number,
            evaluated: seen.len() as u64,
            population: population.clone(),
        },
        &seen,
    );

    while (seen.len() as u64) < budget {
        number += 1;
        let (rank, crowd) = rank_and_crowding(&population, &seen);
        let want = (budget - seen.len() as u64).min(pop_size as u64) as usize;
        let mut children: Vec<u64> = Vec::with_capacity(want);
        let mut chosen: HashSet<u64> = HashSet::new();
        while children.len() < want {
            let a = tournament(&mut rng, &rank, &crowd);
            let b = tournament(&mut rng, &rank, &crowd);
            let mut g1 = space.decode(population[a]);
            let mut g2 = space.decode(population[b]);
            if rng.chance(p.crossover) {
                for k in 0..g1.len() {
                    if rng.chance(0.5) {
                        std::mem::swap(&mut g1[k], &mut g2[k]);
                    }
                }
            }
            for mut g in [g1, g2] {
                if children.len() == want {
                    break;
                }
                mutate(&mut rng, space, &mut g);
                let mut d = space.encode(&g);
                let mut tries = 0;
                while (seen.contains_key(&d) || chosen.contains(&d)) && tries < 16 {
                    mutate_one(&mut rng, space, &mut g);
                    d = space.encode(&g);
                    tries += 1;
                }
                if seen.contains_key(&d) || chosen.contains(&d) {
                    d = unseen(&mut rng, total, &seen, &chosen);
                }
                chosen.insert(d);
                children.push(d);
            }
        }
        let evals = evaluate(&children)?;
        seen.extend(children.iter().copied().zip(evals));
        let mut pool = population.clone();
        pool.extend(children);
        population = select(&pool, &seen, pop_size);
        on_generation(
            &Generation {
                number,
                evaluated: seen.len() as u64,
                population: population.clone(),
            },
            &seen,
        );
    }
    Ok(seen)
}

/// A design not in `seen` nor `chosen` (the caller guarantees one exists).
fn unseen(rng: &mut Rng, total: u64, seen: &HashMap<u64, Eval>, chosen: &HashSet<u64>) -> u64 {
    let taken = |d: u64| seen.contains_key(&d) || chosen.contains(&d);
    for _ in 0..64 {
        let d = rng.below(total);
        if !taken(d) {
            return d;
        }
    }
    // Dense: scan from a random start.
    let start = rng.below(total);
    (0..total)
        .map(|i| (start + i) % total)
        .find(|&d| !taken(d))
        .expect("the budget is at most the number of designs")
}

fn mutate(rng: &mut Rng, space: &Space, g: &mut [usize]) {
    let p = 1.0 / g.len() as f64;
    for k in 0..g.len() {
        if rng.chance(p) {
            mutate_key(rng, space, g, k);
        }
    }
}

fn mutate_one(rng: &mut Rng, space: &Space, g: &mut [usize]) {
    let k = rng.below(g.len() as u64) as usize;
    mutate_key(rng, space, g, k);
}

fn mutate_key(rng: &mut Rng, space: &Space, g: &mut [usize], k: usize) {
    let n = space.sizes[k];
    if n < 2 {
        return;
    }
    if space.ordinal[k] && rng.chance(0.5) {
        g[k] = if g[k] == 0 {
            1
        } else if g[k] == n - 1 || rng.chance(0.5) {
            g[k] - 1
        } else {
            g[k] + 1
        };
    } else {
        let r = rng.below(n as u64 - 1) as usize;
        g[k] = if r >= g[k] { r + 1 } else { r };
    }
}

fn tournament(rng: &mut Rng, rank: &[usize], crowd: &[f64]) -> usize {
    let n = rank.len() as u64;
    let a = rng.below(n) as usize;
    let b = rng.below(n) as usize;
    let better =
        |x: usize, y: usize| rank[x] < rank[y] || (rank[x] == rank[y] && crowd[x] > crowd[y]);
    if better(b, a) {
        b
    } else {
        a
    }
}

/// Rank (front number) and crowding distance of each member of `pop`.
fn rank_and_crowding(pop: &[u64], seen: &HashMap<u64, Eval>) -> (Vec<usize>, Vec<f64>) {
    let evals: Vec<&Eval> = pop.iter().map(|d| &seen[d]).collect();
    let mut rank = vec![0; pop.len()];
    let mut crowd = vec![0.0; pop.len()];
    for (r, front) in nondominated_sort(&evals).into_iter().enumerate() {
        let c = crowding(&front, &evals);
        for (i, &m) in front.iter().enumerate() {
            rank[m] = r;
            crowd[m] = c[i];
        }
    }
    (rank, crowd)
}

/// Elitist survival: whole fronts while they fit, then the most crowded-apart of the
/// next front (ties by design index, for determinism).
fn select(pool: &[u64], seen: &HashMap<u64, Eval>, size: usize) -> Vec<u64> {
    let evals: Vec<&Eval> = pool.iter().map(|d| &seen[d]).collect();
    let mut out = Vec::with_capacity(size);
    for front in nondominated_sort(&evals) {
        if out.len() + front.len() <= size {
            out.extend(front.iter().map(|&i| pool[i]));
            continue;
        }
        let c = crowding(&front, &evals);
        let mut order: Vec<usize> = (0..front.len()).collect();
        order.sort_by(|&a, &b| {
            c[b].total_cmp(&c[a])
                .then(pool[front[a]].cmp(&pool[front[b]]))
        });
        for &i in order.iter().take(size - out.len()) {
            out.push(pool[front[i]]);
        }
        break;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip_in_grid_order() {
        let s = Space {
            sizes: vec![3, 4, 2],
            ordinal: vec![true; 3],
        };
        assert_eq!(s.len(), 24);
        for d in 0..24 {
            assert_eq!(s.encode(&s.decode(d)), d);
        }
        assert_eq!(s.decode(1), vec![0, 0, 1]); // last key fastest
        assert_eq!(s.decode(2), vec![0, 1, 0]);
    }

    #[test]
    fn sorting_and_constrained_domination() {
        let e = |o: [f64; 2], v: f64| Eval {
            objectives: o.to_vec(),
            violation: v,
        };
        let a = e([1.0, 3.0], 0.0);
        let b = e([2.0, 2.0], 0.0);
        let c = e([2.0, 4.0], 0.0); // dominated by a and b
        let d = e([0.0, 0.0], 0.5); // infeasible, small violation
        let f = e([0.0, 0.0], 2.0); // infeasible, larger violation
        let evals = [&a, &b, &c, &d, &f];
        let fronts = nondominated_sort(&evals);
        assert_eq!(fronts, vec![vec![0, 1], vec![2], vec![3], vec![4]]);
        let cd = crowding(&fronts[0], &evals);
        assert!(cd.iter().all(|x| x.is_infinite()));
    }

    /// On a space with a known front (two conflicting objectives over a 40x40 grid), the
    /// search finds most of the front's hypervolume with a fraction of the designs, and
    /// the same seed gives the same path.
    #[test]
    fn finds_the_front_of_a_known_problem_and_is_reproducible() {
        let space = Space {
            sizes: vec![40, 40],
            ordinal: vec![true, true],
        };
        let f = |d: u64| {
            let g = space.decode(d);
            let (x, y) = (g[0] as f64 / 39.0, g[1] as f64 / 39.0);
            // Convex front along y = 0: f1 = x, f2 = (1 - x)^2 + y.
            Eval {
                objectives: vec![x, (1.0 - x).powi(2) + y],
                violation: 0.0,
            }
        };
        let params = Params {
            population: 20,
            budget: 160, // 10 % of the designs
            seed: 7,
            crossover: 0.9,
        };
        let run_once = || {
            let mut gens = Vec::new();
            let seen = run::<()>(
                &space,
                params,
                |b| Ok(b.iter().map(|&d| f(d)).collect()),
                |g, _| gens.push(g.clone()),
            )
            .unwrap();
            (seen, gens)
        };
        let (seen, gens) = run_once();
        assert_eq!(seen.len(), 160);
        let reference = [1.1, 2.1];
        let all: Vec<Vec<f64>> = (0..space.len()).map(|d| f(d).objectives).collect();
        let found: Vec<Vec<f64>> = seen.values().map(|e| e.objectives.clone()).collect();
        let full = crate::search::hv::hypervolume(&all, &reference);
        let got = crate::search::hv::hypervolume(&found, &reference);
        assert!(got / full > 0.95, "{got} of {full}");
        let (seen2, gens2) = run_once();
        assert_eq!(gens, gens2);
        let mut k1: Vec<u64> = seen.keys().copied().collect();
        let mut k2: Vec<u64> = seen2.keys().copied().collect();
        k1.sort_unstable();
        k2.sort_unstable();
        assert_eq!(k1, k2);
    }

    #[test]
    fn budget_of_the_whole_space_evaluates_every_design_once() {
        let space = Space {
            sizes: vec![3, 5],
            ordinal: vec![false, true],
        };
        let mut batches = Vec::new();
        let seen = run::<()>(
            &space,
            Params {
                population: 4,
                budget: 1000,
                seed: 1,
                crossover: 0.9,
            },
            |b| {
                batches.extend_from_slice(b);
                Ok(b.iter()
                    .map(|&d| Eval {
                        objectives: vec![d as f64],
                        violation: 0.0,
                    })
                    .collect())
            },
            |_, _| {},
        )
        .unwrap();
        assert_eq!(seen.len(), 15);
        batches.sort_unstable();
        assert_eq!(batches, (0..15).collect::<Vec<u64>>());
    }
}
