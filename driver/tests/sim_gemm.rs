//! End-to-end GEMMs through the simulated device: outputs identical to the naive GEMM,
//! the analytic bounds hold, the two executors agree (every dataflow).

mod common;
use arch::Dataflow;
use common::*;
use driver::gemm::{self, GemmProblem, Output};
use sim::report::check_bounds;
use sim::Fidelity;

#[test]
fn gemm_100x200x300_exact_and_bounded() {
    for preset in ["tiny-4x4", "edge-16x16"] {
        for df in Dataflow::ALL {
            let cfg = cfg(preset, df);
            let p = GemmProblem::int8(100, 200, 300, -5);
            let ops = Operands::random(&p, 42);
            let want = gemm::reference(&p, &ops.data()).unwrap();
            let (got, c) = run(&cfg, Fidelity::Cycle, &p, &ops);
            assert_eq!(
                got, want,
                "{preset} {df}: output differs from the naive GEMM"
            );
            assert_eq!(c.macs, p.macs());
            check_bounds(&cfg, &c).unwrap_or_else(|e| panic!("{preset} {df}: {e:?}"));
            let (got_f, cf) = run(&cfg, Fidelity::Functional, &p, &ops);
            assert_eq!(got_f, want);
            // Same bytes and MACs counted by both executors.
            assert_eq!(cf.macs, c.macs);
            assert_eq!(cf.bus_bytes(), c.bus_bytes());
            assert_eq!(cf.input_sp_read_bytes, c.input_sp_read_bytes);
            assert_eq!(cf.acc_sp_write_bytes, c.acc_sp_write_bytes);
            assert_eq!(cf.acc_sp_read_bytes, c.acc_sp_read_bytes);
        }
    }
}

#[test]
fn int32_output_and_split_k() {
    for df in Dataflow::ALL {
        let cfg = cfg("tiny-4x4", df);
        // K = 5000 does not fit in one tile on tiny-4x4: split-K with accumulation.
        let p = GemmProblem {
            m: 9,
            k: 5000,
            n: 7,
            output: Output::Int32,
            im2col: None,
        };
        let ops = Operands::random(&p, 7);
        let want = gemm::reference(&p, &ops.data()).unwrap();
        let (got, c) = run(&cfg, Fidelity::Cycle, &p, &ops);
        assert_eq!(got, want, "{df}");
        check_bounds(&cfg, &c).unwrap();
    }
}

#[test]
fn tiny_debug() {
    for df in Dataflow::ALL {
        let cfg = cfg("tiny-4x4", df);
        let p = GemmProblem::int8(30, 50, 20, 0);
        let ops = Operands::random(&p, 1);
        let want = gemm::reference(&p, &ops.data()).unwrap();
        let (got, c) = run(&cfg, Fidelity::Functional, &p, &ops);
        assert_eq!(got, want, "functional {df}");
        eprintln!("{c:?}");
        let (got, c) = run(&cfg, Fidelity::Cycle, &p, &ops);
        eprintln!("{c:?}");
        assert_eq!(got, want, "cycle {df}");
    }
}

/// Input-stationary GEMMs of many shapes through the driver's program builder, on an 8x8
/// array, a wide one (wide-4x16 in IS) and a tall one (16x4: rows > cols), bit-exact in
/// both executors, with the same counts.
#[test]
fn is_gemms_of_many_shapes_exact() {
    let mut tall = cfg("edge-8x8", Dataflow::InputStationary);
    tall.rows = 16;
    tall.cols = 4;
    tall.name = "tall-16x4".into();
    tall.validate().unwrap();
    let configs = [
        cfg("edge-8x8", Dataflow::InputStationary),
        cfg("wide-4x16", Dataflow::InputStationary),
        cfg("tiny-4x4", Dataflow::InputStationary),
        tall,
    ];
    let mut rng = Rng(99);
    let mut shapes = vec![
        (1, 1, 1),
        (8, 8, 8),
        (7, 9, 33),
        (16, 4, 300),
        (3, 1000, 5),
        (49, 640, 12),
        (125, 64, 64),
        (2, 17, 513),
    ];
    for _ in 0..12 {
        shapes.push((
            rng.range(1, 70) as usize,
            rng.range(1, 400) as usize,
            rng.range(1, 300) as usize,
        ));
    }
    for cfg in &configs {
        for (i, &(m, k, n)) in shapes.iter().enumerate() {
            let p = if i % 3 == 2 {
                GemmProblem {
                    m,
                    k,
                    n,
                    output: Output::Int32,
                    im2col: None,
                }
            } else {
                GemmProblem::int8(m, k, n, (i as i32 % 7) - 3)
            };
            let ops = Operands::random(&p, i as u64 + 5);
            let want = gemm::reference(&p, &ops.data()).unwrap();
            let (got, c) = run(cfg, Fidelity::Cycle, &p, &ops);
            assert_eq!(got, want, "{} {m}x{k}x{n} cycle-level", cfg.name);
            check_bounds(cfg, &c).unwrap_or_else(|e| panic!("{} {m}x{k}x{n}: {e:?}", cfg.name));
            let (got_f, cf) = run(cfg, Fidelity::Functional, &p, &ops);
            assert_eq!(got_f, want, "{} {m}x{k}x{n} functional", cfg.name);
            assert_eq!(cf.macs, p.macs());
            assert_eq!(cf.acc_sp_write_bytes, c.acc_sp_write_bytes);
            let t = sim::tile::estimate(cfg, &p).unwrap();
            assert_eq!(t.macs, c.macs);
            assert_eq!(t.bus_bytes(), c.bus_bytes());
        }
    }
}
