//! The reference `.tflite` files import with the expected op sequence and MAC counts, and
//! the built-in models match them op for op.

use models::{Graph, OpKind};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    // `shared/` beside the repository (or $TINYACCEL_SHARED), found from worktrees too.
    let d = models::mlperf_tiny::locate(&PathBuf::from(env!("CARGO_MANIFEST_DIR")));
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

fn u32_at(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Absolute position of field `idx` of the table at `pos` (test-side minimal reader).
fn field_pos(b: &[u8], pos: usize, idx: usize) -> Option<usize> {
    let vt = (pos as i64 - i32::from_le_bytes(b[pos..pos + 4].try_into().unwrap()) as i64) as usize;
    let vt_len = u16::from_le_bytes(b[vt..vt + 2].try_into().unwrap()) as usize;
    let slot = 4 + 2 * idx;
    if slot + 2 > vt_len {
        return None;
    }
    let off = u16::from_le_bytes(b[vt + slot..vt + slot + 2].try_into().unwrap()) as usize;
    (off != 0).then_some(pos + off)
}

/// Rewrites every operator code of kws to `code` and checks the error names the op, its
/// index and the model.
#[test]
fn unsupported_ops_are_named() {
    let path = golden_dir().join("kws_ref_model.tflite");
    let mut b = std::fs::read(&path).unwrap();
    let root = u32_at(&b, 0);
    let codes_field = field_pos(&b, root, 1).unwrap();
    let codes = codes_field + u32_at(&b, codes_field);
    let n = u32_at(&b, codes);
    assert!(n > 0);
    for i in 0..n {
        let at = codes + 4 + 4 * i;
        let table = at + u32_at(&b, at);
        if let Some(p) = field_pos(&b, table, 0) {
            b[p] = 36; // deprecated_builtin_code: GATHER (SUB, once used here, is supported)
        }
        if let Some(p) = field_pos(&b, table, 3) {
            b[p..p + 4].copy_from_slice(&36i32.to_le_bytes());
        }
    }
    let e = models::from_tflite_bytes(&b, "kws_mutant").unwrap_err();
    assert!(
        matches!(
            e.import_error(),
            Some(models::ImportError::UnsupportedOp { index: 0, .. })
        ),
        "{e}"
    );
    let msg = e.to_string();
    assert!(
        msg.contains("kws_mutant") && msg.contains("op 0") && msg.contains("GATHER"),
        "{msg}"
    );
}

#[test]
fn resolve_accepts_names_and_paths() {
    assert_eq!(models::resolve("kws").unwrap().name, "kws");
    let p = golden_dir().join("ad01_int8.tflite");
    let g = models::resolve(p.to_str().unwrap()).unwrap();
    assert_eq!(g.name, "ad01_int8");
    assert_eq!(g.ops.len(), 10);
    let e = models::resolve("definitely-not-a-model")
        .unwrap_err()
        .to_string();
    assert!(e.contains("kws, vww, ic, ad"), "{e}");
    let e = models::resolve("/nonexistent/x.tflite")
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/x.tflite"), "{e}");
}
