//! `tinyaccel run` and `tinyaccel models` through the binary: golden bytes, JSON shape,
//! clear errors with exit code 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
}

fn golden() -> PathBuf {
    let d = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/models/mlperf_tiny");
    assert!(
        d.join("golden").is_dir(),
        "golden data missing at {}",
        d.display()
    );
    d
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("spawn tinyaccel")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn run_tflite_writes_golden_bytes() {
    let g = golden();
    let dir = tempfile::tempdir().unwrap();
    for (model, sub, run_name) in [
        ("kws_ref_model.tflite", "kws", "repo_sample"),
        ("pretrainedResnet_quant.tflite", "ic", "rand_seed0"),
    ] {
        let out = dir.path().join(format!("{sub}.bin"));
        let o = run(&[
            "run",
            g.join(model).to_str().unwrap(),
            "--input",
            g.join(format!("golden/{sub}/input_{run_name}.bin"))
                .to_str()
                .unwrap(),
            "--output",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        let want =
            std::fs::read(g.join(format!("golden/{sub}/output_{run_name}_tflm.bin"))).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), want, "{sub}/{run_name}");
        let table = String::from_utf8_lossy(&o.stdout);
        assert!(
            table.contains("CONV_2D") && table.contains("SOFTMAX") && table.contains("output ("),
            "{table}"
        );
    }
}

#[test]
fn run_builtin_json() {
    let o = run(&["run", "kws", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value =
        serde_json::from_slice(&o.stdout).expect("one JSON object on stdout");
    assert_eq!(v["schema"], reports::SCHEMA);
    assert_eq!(v["model"], "kws");
    assert_eq!(v["macs"], 2_656_768);
    assert!(v["arena_bytes"].as_u64().unwrap() > 0);
    assert_eq!(v["output"].as_array().unwrap().len(), 12);
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 13);
    assert_eq!(layers[0]["op"], "CONV_2D");
    assert_eq!(layers[0]["index"], 0);
    assert_eq!(layers[0]["macs"], 320_000);
    let total: u64 = layers.iter().map(|l| l["macs"].as_u64().unwrap()).sum();
    assert_eq!(total, 2_656_768);
}

#[test]
fn models_lists_the_builtins() {
    let o = run(&["models"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = String::from_utf8_lossy(&o.stdout);
    for (name, macs) in [
        ("kws", "2656768"),
        ("vww", "7489664"),
        ("ic", "12501632"),
        ("ad", "264192"),
    ] {
        assert!(
            s.lines().any(|l| l.starts_with(name) && l.contains(macs)),
            "{name} {macs} missing in:\n{s}"
        );
    }
}

#[test]
fn wrong_input_size_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("short.bin");
    std::fs::write(&p, [0u8; 100]).unwrap();
    let o = run(&["run", "kws", "--input", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("100 bytes") && e.contains("490 bytes"), "{e}");
    assert!(!e.contains("panicked"), "{e}");
}

#[test]
fn bad_model_files_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let model = std::fs::read(golden().join("kws_ref_model.tflite")).unwrap();
    let truncated = dir.path().join("truncated.tflite");
    std::fs::write(&truncated, &model[..model.len() / 3]).unwrap();
    let garbage = dir.path().join("garbage.tflite");
    std::fs::write(&garbage, b"this is not a flatbuffer at all").unwrap();
    for p in [&truncated, &garbage] {
        let o = run(&["run", p.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "{}", p.display());
        let e = stderr(&o);
        assert!(e.contains(p.to_str().unwrap()) && e.contains("byte"), "{e}");
        assert!(!e.contains("panicked"), "{e}");
    }
    let o = run(&["run", "no-such-model"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("neither a built-in model"),
        "{}",
        stderr(&o)
    );
    let missing = dir.path().join("missing.tflite");
    let o = run(&["run", missing.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("cannot read model file"),
        "{}",
        stderr(&o)
    );
}
