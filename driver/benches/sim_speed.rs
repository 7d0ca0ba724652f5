//! Speed of the simulator models:
//! - `cycle/...`: the cycle-level model, throughput in simulated cycles per second (the
//!   presets in their own dataflow, and edge-8x8 in input-stationary);
//! - `core_model/{event,register}/...`: the same GEMM program with the cycle-level
//!   executor's default event-level core and with the register-level PE array stepped
//!   every cycle (the core the executor used before; the tests' oracle): the speed-up of
//!   the event-level core, measured in one run;
//! - `layer/cycle` vs `layer/tile`: one MLPerf Tiny layer (kws pointwise conv, 125x64x64)
//!   evaluated by each model (the ratio is the tile-level speed-up);
//! - `tile/all_layers`: every conv/dw/FC layer of the four MLPerf Tiny models by the
//!   tile-level model (layer evaluations per second; the tiling choice comes from the
//!   per-thread memo of `arch::schedule::choose_for` after the first iteration), and
//!   `tile/all_layers_cached` through `sim::tile::TileCache` as a design sweep uses it
//!   (one design: every layer shape costed once, then from the memo);
//! - `im2col/...`: ic's first conv (32x32x3, 3x3, 16 filters: 1024x27x16) as the driver
//!   runs it on edge-8x8-conv (hardware im2col, 4 DMA requests in flight) by the
//!   cycle-level and the tile-level model, and the tile-level model over the driver's
//!   problems of every offloaded MLPerf Tiny layer on edge-8x8-conv.

#[path = "../tests/common/mod.rs"]
mod common;

use arch::{AccelConfig, Dataflow};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use driver::gemm::{self, GemmProblem, MemLayout};
use sim::machine::Machine;
use std::hint::black_box;

fn cycle_run(cfg: &AccelConfig, p: &GemmProblem, mem: &mut [u8]) -> u64 {
    let layout = MemLayout::packed(p, 0);
    if layout.cmd_addr as usize > mem.len() {
        panic!("{} bytes of memory needed", layout.cmd_addr);
    }
    let prog = gemm::build(cfg, p, &layout).unwrap();
    let mut m = Machine::new(cfg);
    sim::cycle::run(cfg, &mut m, mem, &prog.commands)
        .unwrap()
        .cycles
}

fn benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("cycle");
    g.sample_size(10);
    for (preset, df) in [
        ("tiny-4x4", None),
        ("edge-8x8", None),
        ("edge-16x16", None),
        ("edge-8x8", Some(Dataflow::InputStationary)),
    ] {
        let mut cfg = AccelConfig::preset(preset).unwrap();
        let preset = match df {
            Some(df) => {
                cfg.dataflow = df;
                format!("{preset}-{df}")
            }
            None => preset.to_string(),
        };
        let p = GemmProblem::int8(64, 256, 64, 0);
        let mut mem = vec![0u8; 1 << 20];
        let cycles = cycle_run(&cfg, &p, &mut mem);
        g.throughput(Throughput::Elements(cycles));
        g.bench_function(BenchmarkId::new("gemm_64x256x64", preset), |b| {
            b.iter(|| cycle_run(&cfg, black_box(&p), &mut mem))
        });
    }
    g.finish();

    let mut g = c.benchmark_group("core_model");
    g.sample_size(10);
    for preset in ["edge-8x8", "edge-16x16"] {
        let cfg = AccelConfig::preset(preset).unwrap();
        let p = GemmProblem::int8(64, 256, 64, 0);
        let layout = MemLayout::packed(&p, 0);
        let prog = gemm::build(&cfg, &p, &layout).unwrap();
        let mut mem = vec![0u8; 1 << 20];
        let run = |core: sim::cycle::CoreModel, mem: &mut [u8]| {
            let mut m = Machine::new(&cfg);
            sim::cycle::run_with_core(
                &cfg,
                &mut m,
                mem,
                &prog.commands,
                sim::cycle::MAX_CYCLES,
                core,
            )
            .unwrap()
            .cycles
        };
        let cycles = run(sim::cycle::CoreModel::Event, &mut mem);
        g.throughput(Throughput::Elements(cycles));
        for (name, core) in [
            ("event", sim::cycle::CoreModel::Event),
            ("register", sim::cycle::CoreModel::Register),
        ] {
            g.bench_function(BenchmarkId::new(name, preset), |b| {
                b.iter(|| run(core, &mut mem))
            });
        }
    }
    g.finish();

    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let p = GemmProblem::int8(125, 64, 64, 0);
    let mut g = c.benchmark_group("layer");
    g.sample_size(10);
    g.throughput(Throughput::Elements(1));
    let mut mem = vec![0u8; 1 << 20];
    g.bench_function("cycle", |b| {
        b.iter(|| cycle_run(&cfg, black_box(&p), &mut mem))
    });
    g.bench_function("tile", |b| {
        b.iter(|| sim::tile::estimate(&cfg, black_box(&p)).unwrap())
    });
    g.bench_function("tiling_choice_only", |b| {
        b.iter(|| arch::schedule::choose(&cfg, black_box(125), 64, 64).unwrap())
    });
    g.finish();

    let mut layers = Vec::new();
    for model in ["kws", "vww", "ic", "ad"] {
        layers.extend(common::mlperf_layers(model));
    }
    let mut g = c.benchmark_group("tile");
    g.throughput(Throughput::Elements(layers.len() as u64));
    for preset in ["tiny-4x4", "edge-8x8", "edge-16x16", "wide-4x16"] {
        let cfg = AccelConfig::preset(preset).unwrap();
        g.bench_function(BenchmarkId::new("all_layers", preset), |b| {
            b.iter(|| {
                let mut total = 0u64;
                for l in &layers {
                    let c =
                        sim::tile::estimate_gemm(&cfg, l.m as u64, l.k as u64, l.n as u64).unwrap();
                    total += c.cycles * l.repeat;
                }
                black_box(total)
            })
        });
        g.bench_function(BenchmarkId::new("all_layers_cached", preset), |b| {
            b.iter(|| {
                let mut cache = sim::tile::TileCache::new(1 << 12);
                let mut total = 0u64;
                for l in &layers {
                    let p = GemmProblem::int8(l.m, l.k, l.n, 0);
                    total += cache.estimate(&cfg, &p).unwrap().cycles * l.repeat;
                }
                black_box(total)
            })
        });
    }
    g.finish();
}

fn im2col_benches(c: &mut Criterion) {
    let cfg = AccelConfig::preset("edge-8x8-conv").unwrap();
    let window = arch::im2col::Window {
        in_h: 32,
        in_w: 32,
        in_c: 3,
        out_w: 32,
        kh: 3,
        kw: 3,
        sh: 1,
        sw: 1,
        dh: 1,
        dw: 1,
        pad_t: 1,
        pad_l: 1,
    };
    let mut p = GemmProblem::int8(1024, 27, 16, 0);
    p.im2col = Some(window);
    let mut mem = vec![0u8; 1 << 20];
    let mut g = c.benchmark_group("im2col");
    g.sample_size(10);
    let cycles = cycle_run(&cfg, &p, &mut mem);
    g.throughput(Throughput::Elements(cycles));
    g.bench_function("cycle/ic_conv1", |b| {
        b.iter(|| cycle_run(&cfg, black_box(&p), &mut mem))
    });
    g.throughput(Throughput::Elements(1));
    g.bench_function("tile/ic_conv1", |b| {
        b.iter(|| sim::tile::estimate(&cfg, black_box(&p)).unwrap())
    });
    let mut problems = Vec::new();
    for model in ["kws", "vww", "ic", "ad"] {
        problems.extend(
            common::driver_problems(model, &cfg)
                .into_iter()
                .map(|(_, p)| p),
        );
    }
    g.throughput(Throughput::Elements(problems.len() as u64));
    g.bench_function("tile/mlperf_problems", |b| {
        b.iter(|| {
            let mut total = 0u64;
            for p in &problems {
                total += sim::tile::estimate(&cfg, p).unwrap().cycles;
            }
            black_box(total)
        })
    });
    g.finish();
}

criterion_group!(sim_benches, benches, im2col_benches);
criterion_main!(sim_benches);
