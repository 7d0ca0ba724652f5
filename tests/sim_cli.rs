//! `tinyaccel sim gemm`: the done-criterion GEMM (100x200x300 on tiny-4x4 and edge-16x16,
//! both dataflows) through the CLI: output identical to the naive GEMM, bounds hold, JSON
//! fields present; bad input is a clear error with exit code 1.

use std::process::Command;

fn tinyaccel() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tinyaccel"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

#[test]
fn sim_gemm_json_exact_and_bounded() {
    for config in ["configs/tiny-4x4.toml", "configs/edge-16x16.toml"] {
        for df in ["os", "ws"] {
            let out = tinyaccel()
                .args(["sim", "gemm", "--m", "100", "--k", "200", "--n", "300"])
                .args([
                    "--config",
                    config,
                    "--dataflow",
                    df,
                    "--seed",
                    "7",
                    "--json",
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{config} {df}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            assert_eq!(v["output_matches_naive"], true, "{config} {df}");
            assert_eq!(v["bounds_ok"], true, "{config} {df}");
            assert_eq!(v["macs"], 100 * 200 * 300);
            assert_eq!(v["schema"], reports::SCHEMA);
            let u = v["array_utilization"].as_f64().unwrap();
            assert!(u > 0.0 && u <= 1.0);
            // Only the accelerator runs: its whole-run MAC utilization is the same figure.
            let mu = v["mac_utilization"].as_f64().unwrap();
            assert!((mu - u).abs() <= 1e-12 * u, "{mu} vs {u}");
            for key in ["accel_cycles", "offload_uj", "bus_bytes", "offload_us"] {
                assert!(v[key].as_f64().unwrap() > 0.0, "{key}");
            }
            let cycles = v["accel_cycles"].as_f64().unwrap();
            let clock = v["clock_mhz"].as_f64().unwrap();
            assert_eq!(v["offload_us"].as_f64().unwrap(), cycles / clock);
            let parts: f64 = v["energy_parts_pj"]
                .as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| *k != "total_pj")
                .map(|(_, x)| x.as_f64().unwrap() / 1e6)
                .sum();
            let total = v["offload_uj"].as_f64().unwrap();
            assert!((parts - total).abs() <= 1e-9 * total, "{parts} vs {total}");
            for key in [
                "mac_pj",
                "input_sram_pj",
                "weight_sram_pj",
                "acc_sram_pj",
                "bus_pj",
                "leakage_pj",
                "total_pj",
            ] {
                assert!(
                    v["energy_parts_pj"][key].as_f64().is_some(),
                    "energy_parts_pj.{key}"
                );
            }
            assert!(
                (v["energy_parts_pj"]["total_pj"].as_f64().unwrap() / 1e6 - total).abs()
                    <= 1e-9 * total
            );
        }
    }
}

#[test]
fn sim_gemm_text_and_tile_model() {
    let out = tinyaccel()
        .args([
            "sim", "gemm", "--m", "64", "--k", "256", "--n", "32", "--config", "edge-8x8",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("output: identical to the naive GEMM"),
        "{text}"
    );
    let out = tinyaccel()
        .args([
            "sim", "gemm", "--m", "64", "--k", "256", "--n", "32", "--model", "tile", "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["accel_cycles"].as_u64().unwrap() >= 64 * 256 * 32 / 64);
    assert_eq!(v["simulator_level"], "tile");
    // The functional model is untimed: values, and no timing or energy figures.
    let out = tinyaccel()
        .args([
            "sim",
            "gemm",
            "--m",
            "64",
            "--k",
            "256",
            "--n",
            "32",
            "--model",
            "functional",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["output_matches_naive"], true);
    assert_eq!(v["macs"], 64 * 256 * 32);
    for key in [
        "accel_cycles",
        "offload_us",
        "offload_uj",
        "array_utilization",
        "mac_utilization",
        "energy_parts_pj",
        "bounds_ok",
    ] {
        assert!(v.get(key).is_none(), "functional sim gemm reports {key}");
    }
    let counters = v["counters"].as_object().unwrap();
    assert_eq!(counters["macs"], 64 * 256 * 32);
    assert!(counters["bus_read_bytes"].as_u64().unwrap() > 0);
    for k in counters.keys() {
        assert!(
            !k.ends_with("cycles"),
            "functional sim gemm reports counters.{k}"
        );
    }
}

#[test]
fn sim_gemm_bad_input_is_a_user_error() {
    for args in [
        vec!["--m", "0", "--k", "1", "--n", "1"],
        vec![
            "--m",
            "1",
            "--k",
            "1",
            "--n",
            "1",
            "--config",
            "no-such.toml",
        ],
        vec!["--m", "1", "--k", "1", "--n", "1", "--dataflow", "diagonal"],
        vec!["--m", "1", "--k", "1", "--n", "1", "--model", "magic"],
    ] {
        let out = tinyaccel()
            .args(["sim", "gemm"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("error"), "{args:?}: {err}");
    }
}
