//! `tinyaccel bench`: in-process timings of the CPU runtime and of offloaded inferences on
//! the simulator: JSON fields and their relations, the accelerator cycles equal to
//! `run --accel`'s, and bad arguments as clear errors with exit code 1.

use std::process::Command;

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn json(args: &[&str]) -> serde_json::Value {
    let out = tinyaccel().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn spread_ok(v: &serde_json::Value) {
    let (min, med, max) = (
        v["min"].as_f64().unwrap(),
        v["median"].as_f64().unwrap(),
        v["max"].as_f64().unwrap(),
    );
    assert!(0.0 < min && min <= med && med <= max, "{v}");
}

#[test]
fn bench_cpu_runtime() {
    let v = json(&["bench", "ad", "--iters", "3", "--json"]);
    assert_eq!(v["model"], "ad");
    assert_eq!(v["iters"], 3);
    spread_ok(&v["inference_ms"]);
    assert!(v["inferences_per_s"].as_f64().unwrap() > 0.0);
    assert!(v["device_ms"].is_null() && v["accel_cycles"].is_null());
    // Linux: the thread's CPU time over the timed loop (10 ms resolution, may be 0).
    if cfg!(target_os = "linux") {
        assert!(v["cpu_ms_per_inference"].as_f64().unwrap() >= 0.0, "{v}");
    }
}

#[test]
fn bench_offloaded_cycles_match_run() {
    let v = json(&[
        "bench", "kws", "--accel", "tiny-4x4", "--iters", "2", "--json",
    ]);
    spread_ok(&v["inference_ms"]);
    spread_ok(&v["device_ms"]);
    assert!(v["device_ms"]["min"].as_f64() <= v["inference_ms"]["max"].as_f64());
    let run = json(&["run", "kws", "--accel", "tiny-4x4", "--json"]);
    assert_eq!(v["accel_cycles"], run["accel"]["accel_cycles"]);
    assert!(v["accel_cycles"].as_u64().unwrap() > 0);
    assert!(v["sim_cycles_per_s"].as_f64().unwrap() > 0.0);
    // Functional: values only, no cycles.
    let f = json(&[
        "bench",
        "kws",
        "--accel",
        "tiny-4x4",
        "--fidelity",
        "functional",
        "--iters",
        "1",
        "--json",
    ]);
    assert_eq!(f["accel_cycles"], 0);
    assert!(f["sim_cycles_per_s"].is_null());
}

#[test]
fn bench_bad_arguments() {
    for (args, want) in [
        (vec!["bench", "ad", "--iters", "0"], "--iters 0"),
        (vec!["bench", "nosuchmodel"], "nosuchmodel"),
        (
            vec!["bench", "ad", "--accel", "no-such-preset"],
            "no-such-preset",
        ),
        (
            vec!["bench", "ad", "--accel", "tiny-4x4", "--fidelity", "exact"],
            "exact",
        ),
    ] {
        let out = tinyaccel().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
