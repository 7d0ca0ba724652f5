//! Integration tests of the pure-CPU baseline (`runtime::cost`) through the `tinyaccel
//! cpus` / `run --cpu` CLI (the library tests on the real `.tflite` files are in
//! `runtime/tests/cpu_cost.rs`).

use std::process::Command;

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

fn run_json(args: &[&str]) -> serde_json::Value {
    let (code, out, err) = tinyaccel(args);
    assert_eq!(code, 0, "tinyaccel {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// `run MODEL --cpu PROFILE --json`: the `cpu` object and per-layer values, whose sums are
/// the totals (cycles and picojoules exactly).
#[test]
fn run_cpu_json_layers_add_up_to_totals() {
    let v = run_json(&["run", "vww", "--cpu", "cortex-m7@216MHz", "--json"]);
    let cpu = &v["cpu"];
    assert_eq!(cpu["profile"], "cortex-m7@216MHz:reference");
    assert_eq!(cpu["clock_mhz"], 216.0);
    let cycles = cpu["cpu_cycles"].as_u64().unwrap();
    let latency = cpu["cpu_us"].as_f64().unwrap() / 1000.0;
    let energy = cpu["cpu_uj"].as_f64().unwrap();
    assert!((latency - cycles as f64 / 216e3).abs() < 1e-9);
    let layers = v["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 31);
    let sum_cycles: u64 = layers
        .iter()
        .map(|l| l["cpu_cycles"].as_u64().unwrap())
        .sum();
    let sum_pj: u64 = layers.iter().map(|l| l["cpu_pj"].as_u64().unwrap()).sum();
    let sum_uj: f64 = layers.iter().map(|l| l["cpu_uj"].as_f64().unwrap()).sum();
    assert_eq!(sum_cycles, cycles);
    assert_eq!(sum_pj, cpu["cpu_pj"].as_u64().unwrap());
    assert!((sum_uj - energy).abs() < 1e-6 * energy);
    for l in layers {
        assert!(l["cpu_cycles"].as_u64().unwrap() > 0, "{l}");
    }
    // Energy = power x time from the profile curve (uJ = mW x ms).
    assert!((energy - cpu["power_mw"].as_f64().unwrap() * latency).abs() < 1e-3 * energy);
}

#[test]
fn run_cpu_clock_and_library() {
    let at = |spec: &str| run_json(&["run", "vww", "--cpu", spec, "--json"])["cpu"].clone();
    let (hi, lo) = (at("cortex-m7@216MHz"), at("cortex-m7@108MHz"));
    let (ch, cl) = (
        hi["cpu_cycles"].as_u64().unwrap(),
        lo["cpu_cycles"].as_u64().unwrap(),
    );
    // Fewer wait states at 108 MHz (3 vs 7): fewer or equal cycles; latency x (216/108) x ratio.
    assert_eq!(lo["flash_wait_states"], 3);
    assert!(cl <= ch);
    let ratio = lo["cpu_us"].as_f64().unwrap() / hi["cpu_us"].as_f64().unwrap();
    assert!(
        (ratio - 2.0 * cl as f64 / ch as f64).abs() < 1e-9,
        "{ratio}"
    );
    // CMSIS-NN is faster than the reference kernels on a DSP core.
    let r = at("cortex-m4f@120MHz:reference");
    let s = at("cortex-m4f@120MHz:cmsis-nn");
    assert!(s["cpu_us"].as_f64().unwrap() < r["cpu_us"].as_f64().unwrap());
    assert!(s["cpu_uj"].as_f64().unwrap() < r["cpu_uj"].as_f64().unwrap());
}

#[test]
fn run_cpu_table_and_errors() {
    let (code, out, err) = tinyaccel(&["run", "kws", "--cpu", "cortex-m4f"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("cpu_cycles") && out.contains("cpu_uj"),
        "{out}"
    );
    assert!(out.contains("cpu latency:") && out.contains("cortex-m4f@120MHz:reference"));
    let (code, _, err) = tinyaccel(&["run", "kws", "--cpu", "cortex-m4f:turbo"]);
    assert_eq!(code, 1);
    assert!(err.contains("turbo") && err.contains("cmsis-nn"), "{err}");
}
