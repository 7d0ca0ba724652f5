//! Speed of the whole accelerator's RTL (`RtlDevice`: one persistent Verilator process
//! that runs command buffer after command buffer) against the cycle-level simulator
//! (`SimDevice`), on the same driver GEMMs on edge-8x8 (output-stationary): a 1x1x1 GEMM
//! (the per-buffer overhead: the request, the changed memory bytes, the result files) and
//! a 128x192x96 GEMM (~56 k cycles). Cycles per second = the cycles printed once divided
//! by criterion's time per iteration.
//!
//! `cargo bench -p cosim --bench system_speed` (needs `verilator`: `make deps`).

use arch::device::Device;
use arch::AccelConfig;
use cosim::gen::random_data;
use criterion::{criterion_group, criterion_main, Criterion};
use driver::gemm::{self, GemmProblem, MemLayout};
use hdl::cases::Rng;
use hdl::rtl_device::RtlDevice;
use sim::{Fidelity, SimDevice};

fn bench(c: &mut Criterion) {
    let cfg = AccelConfig::preset("edge-8x8").expect("preset");
    let mem = sim::device::DEFAULT_MEM_BYTES;
    let mut rtl = RtlDevice::new(&cfg, mem).expect("verilator build (run `make deps`)");
    let mut sim = SimDevice::new(&cfg, Fidelity::Cycle, mem);
    let mut g = c.benchmark_group("system_edge8x8_os");
    g.sample_size(10);
    for (m, k, n) in [(1, 1, 1), (128, 192, 96)] {
        let p = GemmProblem::int8(m, k, n, 3);
        let ops = random_data(&p, &mut Rng::new(1));
        let layout = MemLayout::packed(&p, 0);
        let run = |dev: &mut dyn Device| gemm::run(dev, &p, &ops.data(), &layout).expect("gemm").1;
        let (a, b) = (run(&mut rtl), run(&mut sim));
        assert_eq!(a, b, "RTL and simulator counters");
        eprintln!("{m}x{k}x{n}: {} cycles per run", a.cycles);
        g.bench_function(format!("rtl_{m}x{k}x{n}"), |bch| bch.iter(|| run(&mut rtl)));
        g.bench_function(format!("sim_{m}x{k}x{n}"), |bch| bch.iter(|| run(&mut sim)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
