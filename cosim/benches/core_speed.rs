//! Speed of the RTL in Verilator against the simulator's register-level core model, on the
//! same 200 edge-8x8 tiles (output-stationary). Cycles per second = the simulated core
//! cycles (printed once) divided by criterion's time per iteration. The Verilator time
//! includes starting the process and reading the stimulus files.
//!
//! `cargo bench -p cosim --bench core_speed` (needs `verilator`: `make deps`).

use arch::AccelConfig;
use cosim::core_verify as verify;
use criterion::{criterion_group, criterion_main, Criterion};
use hdl::{cases, verilator};

fn bench(c: &mut Criterion) {
    let cfg = AccelConfig::preset("edge-8x8").expect("preset");
    let tiles = cases::generate(&cfg, 200, 1);
    let build = verilator::build(&cfg).expect("verilator build (run `make deps`)");
    let work = std::env::temp_dir().join(format!("tinyaccel-hdl-bench-{}", std::process::id()));
    let out = verilator::run(&cfg, &build, &tiles, &work).expect("verilator run");
    let sim_cycles: u64 = tiles
        .iter()
        .map(|t| verify::sim_tile(&cfg, t).expect("sim").compute_cycles)
        .sum();
    eprintln!(
        "edge-8x8 OS, 200 tiles: Verilator simulates {} cycles per run, the simulator's core model {} cycles",
        out.cycles, sim_cycles
    );
    let mut g = c.benchmark_group("core_200_tiles_edge8x8_os");
    g.sample_size(10);
    g.bench_function("verilator", |b| {
        b.iter(|| verilator::run(&cfg, &build, &tiles, &work).expect("verilator run"))
    });
    g.bench_function("sim_core_model", |b| {
        b.iter(|| {
            tiles
                .iter()
                .map(|t| verify::sim_tile(&cfg, t).expect("sim").compute_cycles)
                .sum::<u64>()
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&work);
}

criterion_group!(benches, bench);
criterion_main!(benches);
