//! Speed of the CPU cost model: resolving a profile spec and costing a whole graph (what a
//! design-space sweep does per design point).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use runtime::cost::{graph_cost, CpuProfile};

fn bench(c: &mut Criterion) {
    c.bench_function("cpu_cost/resolve cortex-m7@216MHz:cmsis-nn", |b| {
        b.iter(|| CpuProfile::resolve(black_box("cortex-m7@216MHz:cmsis-nn")).unwrap())
    });
    let profile = CpuProfile::resolve("cortex-m4f@120MHz").unwrap();
    for name in ["vww", "ic"] {
        let graph = models::builtin(name).unwrap();
        c.bench_function(&format!("cpu_cost/graph_cost {name}"), |b| {
            b.iter(|| graph_cost(black_box(&profile), black_box(&graph)).unwrap())
        });
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
