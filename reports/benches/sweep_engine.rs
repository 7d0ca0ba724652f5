//! Throughput of the sweep engine (designs x models per second) with a cheap analytic
//! evaluator, so that the engine's own overhead (building and validating designs, writing
//! rows, sorting, Pareto analysis, plots) is what is measured.
//!
//! `cargo bench -p reports --bench sweep_engine`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::path::Path;

use arch::AccelConfig;
use reports::sweep::{run_sweep, EvalError, Grid, Metrics, SweepOptions};

const GRID: &str = include_str!("../../sweeps/bench-10k.toml");

/// A roofline-style stand-in for the simulator: compute-bound or bus-bound cycles, energy
/// from the configuration's own tables. Its inputs are synthetic work sizes, so the
/// numbers only serve to exercise the engine.
fn analytic(cfg: &AccelConfig, m: usize) -> Result<Metrics, EvalError> {
    let work = [
        (2.7e6, 8.0e4),
        (7.5e6, 3.2e5),
        (1.25e7, 9.0e4),
        (2.6e5, 2.8e5),
    ];
    let (macs, bytes) = work[m];
    let peak = cfg.peak_macs_per_cycle() as f64;
    let cycles = (macs / peak).max(bytes / cfg.bus_bytes_per_cycle as f64) + 1000.0;
    let offload_us = cycles / cfg.clock_mhz;
    let e = cfg.energy_table();
    Ok(Metrics {
        offload_us,
        offload_uj: (macs * e.mac_pj + bytes * e.bus_pj_per_byte) / 1e6
            + cfg.leakage_uw() * offload_us / 1e6,
        array_utilization: (macs / peak / (cycles - 1000.0)).min(1.0),
        mac_utilization: (macs / peak / cycles).min(1.0),
        cpu_us: macs / 80.0,
        cpu_uj: macs * 30.0 / 1e6,
        area_mm2: None,
        memory: None,
    })
}

fn bench(c: &mut Criterion) {
    let grid = Grid::from_toml_str(GRID, "sweeps/bench-10k.toml", Path::new(".")).unwrap();
    let models: Vec<String> = ["kws", "vww", "ic", "ad"].map(String::from).to_vec();
    let rows = grid.len() * models.len() as u64;

    let mut g = c.benchmark_group("sweep");
    g.sample_size(10);
    g.throughput(Throughput::Elements(rows));
    for (name, png) in [
        ("10k_designs_x4_models_2_jobs_svg", false),
        ("10k_designs_x4_models_2_jobs_svg_png", true),
    ] {
        g.bench_function(name, |b| {
            b.iter_with_setup(
                || tempfile::tempdir().unwrap(),
                |dir| {
                    let opts = SweepOptions {
                        out_dir: dir.path().join("out"),
                        jobs: Some(2),
                        shard: None,
                        quiet: true,
                        png,
                        ..SweepOptions::new("")
                    };
                    let o = run_sweep(&grid, &models, analytic, &opts).unwrap();
                    assert_eq!(o.rows as u64, rows);
                    dir
                },
            )
        });
    }
    g.finish();

    let mut g = c.benchmark_group("sweep_parts");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("build_and_validate_1000_designs", |b| {
        b.iter(|| {
            (0..1000u64)
                .map(|i| grid.design(i * 7 % grid.len()).config.is_ok() as u32)
                .sum::<u32>()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
