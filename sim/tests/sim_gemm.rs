//! End-to-end GEMMs through the simulated device: outputs identical to the naive GEMM,
//! the analytic bounds hold, the two executors agree.

mod common;
use arch::Dataflow;
use common::*;
use driver::gemm::{self, GemmProblem, Output};
use sim::report::check_bounds;
use sim::Model;

#[test]
fn gemm_100x200x300_exact_and_bounded() {
    for preset in ["tiny-4x4", "edge-16x16"] {
        for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
            let cfg = cfg(preset, df);
            let p = GemmProblem::int8(100, 200, 300, -5);
            let ops = Operands::random(&p, 42);
            let want = gemm::reference(&p, &ops.data()).unwrap();
            let (got, c) = run(&cfg, Model::Cycle, &p, &ops);
            assert_eq!(
                got, want,
                "{preset} {df}: output differs from the naive GEMM"
            );
            assert_eq!(c.macs, p.macs());
            check_bounds(&cfg, &c).unwrap_or_else(|e| panic!("{preset} {df}: {e:?}"));
            let (got_f, cf) = run(&cfg, Model::Functional, &p, &ops);
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
    for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
        let cfg = cfg("tiny-4x4", df);
        // K = 5000 does not fit in one tile on tiny-4x4: split-K with accumulation.
        let p = GemmProblem {
            m: 9,
            k: 5000,
            n: 7,
            output: Output::Int32,
        };
        let ops = Operands::random(&p, 7);
        let want = gemm::reference(&p, &ops.data()).unwrap();
        let (got, c) = run(&cfg, Model::Cycle, &p, &ops);
        assert_eq!(got, want, "{df}");
        check_bounds(&cfg, &c).unwrap();
    }
}

#[test]
fn tiny_debug() {
    for df in [Dataflow::OutputStationary, Dataflow::WeightStationary] {
        let cfg = cfg("tiny-4x4", df);
        let p = GemmProblem::int8(30, 50, 20, 0);
        let ops = Operands::random(&p, 1);
        let want = gemm::reference(&p, &ops.data()).unwrap();
        let (got, c) = run(&cfg, Model::Functional, &p, &ops);
        assert_eq!(got, want, "functional {df}");
        eprintln!("{c:?}");
        let (got, c) = run(&cfg, Model::Cycle, &p, &ops);
        eprintln!("{c:?}");
        assert_eq!(got, want, "cycle {df}");
    }
}
