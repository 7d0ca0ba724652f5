//! Full int8 inference of each built-in MLPerf Tiny model on the CPU reference kernels.
//! `cargo bench -p runtime --bench inference`; inferences/s = 1 / time per iteration.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runtime::Interpreter;

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    for &name in models::BUILTIN_NAMES {
        let graph = models::builtin(name).expect("built-in model");
        let mut interp = Interpreter::new(&graph).expect("prepare");
        let input = vec![0u8; interp.input_len()];
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| interp.invoke(std::hint::black_box(&input)).expect("invoke"))
        });
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
