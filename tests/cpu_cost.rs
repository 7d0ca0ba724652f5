//! Integration tests of the pure-CPU baseline (`runtime::cost`) through the library on the
//! real MLPerf Tiny `.tflite` files and through the `tinyaccel cpus` / `run --cpu` CLI.

use std::path::PathBuf;
use std::process::Command;

use runtime::cost::{graph_cost, CpuProfile};

fn tinyaccel(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args(args)
        .output()
        .expect("run tinyaccel");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models/mlperf_tiny")
}

fn tflite(name: &str) -> models::Graph {
    let file = match name {
        "kws" => "kws_ref_model.tflite",
        "vww" => "vww_96_int8.tflite",
        "ic" => "pretrainedResnet_quant.tflite",
        _ => "ad01_int8.tflite",
    };
    let path = golden_dir().join(file);
    assert!(
        path.exists(),
        "golden model {} is missing: the MLPerf Tiny models must be in ../shared/models/mlperf_tiny",
        path.display()
    );
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

#[test]
fn cpus_lists_profiles() {
    let (code, out, err) = tinyaccel(&["cpus"]);
    assert_eq!(code, 0, "{err}");
    for name in [
        "cortex-m0plus",
        "cortex-m4f",
        "cortex-m7",
        "cortex-m33",
        "rv32imc",
    ] {
        assert!(out.contains(name), "{name} missing from:\n{out}");
    }
    assert!(out.contains("cmsis-nn") && out.contains("reference"));
    let (code, out, _) = tinyaccel(&["cpus", "--json"]);
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let arr = v.as_array().unwrap();
    assert_eq!(arr.len(), 5);
    let m4 = arr.iter().find(|p| p["name"] == "cortex-m4f").unwrap();
    assert_eq!(m4["default_clock_mhz"], 120.0);
    assert_eq!(m4["flash_wait_states"], 5);
    assert_eq!(m4["simd"], true);
}

#[test]
fn cpus_shows_one_profile_and_rejects_bad_specs() {
    let (code, out, err) = tinyaccel(&["cpus", "cortex-m7@108MHz:cmsis-nn", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["spec"], "cortex-m7@108MHz:cmsis-nn");
    assert_eq!(v["flash_wait_states"], 3);
    assert!(v["kernels"]["conv_1x1"]["per_mac"].as_f64().unwrap() > 0.0);

    let (code, _, err) = tinyaccel(&["cpus", "cortex-m4f@480MHz"]);
    assert_eq!(code, 1);
    assert!(err.contains("480") && err.contains("120"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("my-core.toml");
    std::fs::write(&bad, "name = \"x\"\ncore = 1\n").unwrap();
    let (code, _, err) = tinyaccel(&["cpus", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("my-core.toml") && err.contains("core"),
        "{err}"
    );
}
