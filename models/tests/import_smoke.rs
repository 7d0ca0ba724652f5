//! The reference `.tflite` files import with the expected op sequence and MAC counts, and
//! the built-in models match them op for op.

use models::{Graph, OpKind};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    let d = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/models/mlperf_tiny");
    assert!(
        d.is_dir(),
        "golden data missing: {} (see /work/shared/models/mlperf_tiny/README.md)",
        d.display()
    );
    d
}

const FILES: [(&str, &str, u64); 4] = [
    ("kws", "kws_ref_model.tflite", 2_656_768),
    ("vww", "vww_96_int8.tflite", 7_489_664),
    ("ic", "pretrainedResnet_quant.tflite", 12_501_632),
    ("ad", "ad01_int8.tflite", 264_192),
];

fn load(file: &str) -> Graph {
    models::load_tflite(&golden_dir().join(file)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn reference_models_import_with_expected_macs() {
    for (_, file, macs) in FILES {
        let g = load(file);
        assert_eq!(g.macs(), macs, "{file}");
        assert_eq!(g.inputs.len(), 1);
        assert_eq!(g.outputs.len(), 1);
    }
}

/// Same op sequence (names and options), same activation and weight shapes, same MACs
/// per op, same per-channel structure.
#[test]
fn builtins_match_reference_structure() {
    for (name, file, macs) in FILES {
        let r = load(file);
        let b = models::builtin(name).unwrap();
        assert_eq!(b.macs(), macs, "{name} total MACs");
        assert_eq!(r.ops.len(), b.ops.len(), "{name} op count");
        for (i, (ro, bo)) in r.ops.iter().zip(&b.ops).enumerate() {
            let ctx = format!("{name} op {i} ({})", ro.name());
            match (&ro.kind, &bo.kind) {
                (
                    OpKind::FullyConnected { activation: a, .. },
                    OpKind::FullyConnected { activation: b, .. },
                ) => {
                    assert_eq!(a, b, "{ctx}")
                }
                (a, b) => assert_eq!(a, b, "{ctx}"),
            }
            assert_eq!(ro.macs(&r.tensors), bo.macs(&b.tensors), "{ctx} MACs");
            assert_eq!(ro.inputs.len(), bo.inputs.len(), "{ctx} input count");
            for (ri, bi) in ro.inputs.iter().zip(&bo.inputs) {
                let (rt, bt) = (&r.tensors[ri.unwrap()], &b.tensors[bi.unwrap()]);
                assert_eq!(rt.shape, bt.shape, "{ctx} input shape");
                assert_eq!(rt.dtype, bt.dtype, "{ctx} input dtype");
                assert_eq!(rt.is_const(), bt.is_const(), "{ctx} const-ness");
                let pc = |t: &models::Tensor| {
                    t.quant
                        .as_ref()
                        .map(|q| (q.scales.len(), q.quantized_dimension))
                };
                assert_eq!(
                    pc(rt),
                    pc(bt),
                    "{ctx} quantization structure of {}",
                    rt.name
                );
            }
            let (rt, bt) = (&r.tensors[ro.outputs[0]], &b.tensors[bo.outputs[0]]);
            assert_eq!(rt.shape, bt.shape, "{ctx} output shape");
        }
    }
}
