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
            let u = v["utilization"].as_f64().unwrap();
            assert!(u > 0.0 && u <= 1.0);
            for key in ["cycles", "energy_pj", "bus_bytes", "latency_us"] {
                assert!(v[key].as_f64().unwrap() > 0.0, "{key}");
            }
            for key in [
                "mac_pj",
                "input_sram_pj",
                "weight_sram_pj",
                "acc_sram_pj",
                "bus_pj",
                "leakage_pj",
            ] {
                assert!(v["energy"][key].as_f64().is_some(), "energy.{key}");
            }
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
    assert!(v["cycles"].as_u64().unwrap() >= 64 * 256 * 32 / 64);
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
