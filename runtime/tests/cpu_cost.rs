//! Integration tests of the pure-CPU baseline (`runtime::cost`) through the library on the
//! real MLPerf Tiny `.tflite` files (the CLI tests are in the root package's
//! `tests/cpu_cost.rs`).

mod common;

use common::mlperf_tiny_dir;
use runtime::cost::{graph_cost, CpuProfile};

fn tflite(name: &str) -> models::Graph {
    let file = match name {
        "kws" => "kws_ref_model.tflite",
        "vww" => "vww_96_int8.tflite",
        "ic" => "pretrainedResnet_quant.tflite",
        _ => "ad01_int8.tflite",
    };
    let path = mlperf_tiny_dir().join(file);
    models::load_tflite(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The real `.tflite` files and the built-in graphs have the same shapes, so the cost model
/// must give identical per-layer cycles; MACs must match the published table.
#[test]
fn tflite_models_cost_like_builtins() {
    let expected_macs = [
        ("kws", 2_656_768u64),
        ("vww", 7_489_664),
        ("ic", 12_501_632),
        ("ad", 264_192),
    ];
    for spec in [
        "cortex-m4f@120MHz",
        "cortex-m4f@120MHz:cmsis-nn",
        "cortex-m7@216MHz",
    ] {
        let p = CpuProfile::resolve(spec).unwrap();
        for (name, macs) in expected_macs {
            let file = graph_cost(&p, &tflite(name)).unwrap();
            let built = graph_cost(&p, &models::builtin(name).unwrap()).unwrap();
            assert_eq!(file.macs(), macs, "{name}");
            let a: Vec<u64> = file.layers.iter().map(|l| l.cycles).collect();
            let b: Vec<u64> = built.layers.iter().map(|l| l.cycles).collect();
            assert_eq!(a, b, "{spec} {name}: .tflite vs built-in per-layer cycles");
        }
    }
}
