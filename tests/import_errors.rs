//! The importer's refusals (issue 20), through the library and the binary: a file that is
//! not a TFLite model (CSV, PNG, TOML config) is named as such, not as a corrupt model;
//! a model whose subgraph 0 calls other subgraphs (WHILE) is refused with the reason,
//! while a model with an unused second subgraph runs (its golden is in tests/data/ops);
//! every unsupported op is named with its index, before any work.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(rel)
}

/// `tinyaccel run FILE`: must exit 1 with every `want` in stderr; returns stderr.
fn run_fails(file: &Path, want: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(["run", file.to_str().unwrap()])
        .output()
        .expect("spawn tinyaccel");
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(o.status.code(), Some(1), "{err}");
    for w in want {
        assert!(err.contains(w), "missing {w:?} in: {err}");
    }
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    err
}

#[test]
fn other_file_types_are_not_tflite_models() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("layers.csv");
    std::fs::write(
        &csv,
        "Layer name, IFMAP Height, IFMAP Width, Filter Height\nconv1, 224, 224, 7\n",
    )
    .unwrap();
    let png = dir.path().join("plot.png");
    let mut p = b"\x89PNG\r\n\x1a\n".to_vec();
    p.extend_from_slice(&[0, 0, 0, 13, b'I', b'H', b'D', b'R', 0, 0, 1, 0]);
    std::fs::write(&png, &p).unwrap();
    let toml = dir.path().join("accel.tflite");
    std::fs::write(&toml, "base = \"edge-8x8\"\nrows = 16\n").unwrap();

    // A `.csv` model is read as a SCALE-Sim topology (docs/scalesim.md): this one's
    // header is cut short, which that reader names; the same text under another name is
    // not a TFLite model.
    run_fails(
        &csv,
        &["layers.csv", "line 1", "SCALE-Sim topology: header"],
    );
    let txt = dir.path().join("layers.txt");
    std::fs::copy(&csv, &txt).unwrap();
    let e = run_fails(
        &txt,
        &["layers.txt", "not a TFLite model", "\"r na\"", "text file"],
    );
    assert!(!e.contains("past the end"), "{e}");
    run_fails(&png, &["plot.png", "not a TFLite model", "PNG image"]);
    run_fails(&toml, &["accel.tflite", "not a TFLite model", "text file"]);

    // The library error is typed.
    let e = models::load_tflite(&txt).unwrap_err();
    assert!(
        matches!(
            e.import_error(),
            Some(models::ImportError::NotTflite { .. })
        ),
        "{e}"
    );
    // A real model still imports (the identifier is TFL3).
    let g = models::load_tflite(&data("ops/mean_hw_keep.tflite")).unwrap();
    assert_eq!(g.ops[0].name(), "MEAN");
}

#[test]
fn control_flow_into_other_subgraphs_is_refused_with_the_reason() {
    let f = data("import/while_loop.tflite");
    let e = models::load_tflite(&f).unwrap_err();
    assert!(
        matches!(
            e.import_error(),
            Some(models::ImportError::ControlFlow {
                index: 0,
                subgraphs: 3,
                ..
            })
        ),
        "{e}"
    );
    run_fails(
        &f,
        &[
            "while_loop.tflite",
            "op 0 (WHILE)",
            "the model has 3",
            "subgraph 0 only",
        ],
    );
    // An unused second subgraph is ignored, as TFLite-Micro only invokes subgraph 0.
    let g = models::load_tflite(&data("ops/two_subgraphs_mean.tflite")).unwrap();
    assert_eq!(g.ops.len(), 1);
    assert_eq!(g.ops[0].name(), "MEAN");
}

#[test]
fn every_unsupported_op_is_named_before_any_work() {
    let f = data("import/gather_elu.tflite");
    let e = models::load_tflite(&f).unwrap_err();
    assert!(
        matches!(
            e.import_error(),
            Some(models::ImportError::UnsupportedOp { index: 0, .. })
        ),
        "{e}"
    );
    let msg = run_fails(
        &f,
        &[
            "gather_elu.tflite",
            "op 0 (GATHER) is not supported",
            "also unsupported: op 1 (ELU)",
            "supported ops: ADD,",
        ],
    );
    // The list is the importer's own, which the README's table mirrors.
    for op in models::tflite::SUPPORTED_OPS {
        assert!(msg.contains(op), "{op} missing from {msg}");
    }
    // `run --accel` and `--cpu` fail the same way, before any simulation.
    let o = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args([
            "run",
            f.to_str().unwrap(),
            "--accel",
            "edge-8x8",
            "--cpu",
            "cortex-m4f",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("op 0 (GATHER) is not supported"));
}

#[test]
fn the_supported_op_list_matches_the_importer_and_the_readme() {
    // Every listed op is a builtin name (models::tflite tests check that exactly these
    // codes import) and has its row in the README, in the same order.
    let names: Vec<String> = (0..210).map(models::tflite::builtin_name).collect();
    for op in models::tflite::SUPPORTED_OPS {
        assert!(names.iter().any(|n| n == op), "{op} is not a builtin name");
    }
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let table = readme
        .split("## Supported ops")
        .nth(1)
        .expect("README has a \"Supported ops\" section")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<&str> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(
        rows,
        models::tflite::SUPPORTED_OPS,
        "README \"Supported ops\" rows"
    );
}
