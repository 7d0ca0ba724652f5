//! Full int8 inference of each built-in MLPerf Tiny model on the CPU, with the fast kernels
//! (the interpreter's default) and with the reference kernels (the oracle).
//! `cargo bench -p runtime --bench inference`; inferences/s = 1 / time per iteration.
//! (The measured figures of README.md use the real `.tflite` models and golden inputs:
//! `cargo run --release -p runtime --example host_bench`.)

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use runtime::{Interpreter, Kernels};

fn inference(c: &mut Criterion) {
    let mut group = c.benchmark_group("inference");
    for &name in models::BUILTIN_NAMES {
        let graph = models::builtin(name).expect("built-in model");
        for (label, kernels) in [("fast", Kernels::Fast), ("reference", Kernels::Reference)] {
            let mut interp = Interpreter::new(&graph).expect("prepare");
            interp.set_kernels(kernels);
            let input = vec![0u8; interp.input_len()];
            group.throughput(Throughput::Elements(1));
            group.bench_function(format!("{label}/{name}"), |b| {
                b.iter(|| interp.invoke(std::hint::black_box(&input)).expect("invoke"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, inference);
criterion_main!(benches);
