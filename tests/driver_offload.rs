//! Whole-model totals of `run --accel --json` equal the sum of their parts (the driver's
//! library tests are in `driver/tests/driver_offload.rs`).

use arch::AccelConfig;
use driver::delegate::ModelFacts;
use runtime::cost::CpuProfile;
use runtime::{Interpreter, PreparedOp};
use std::process::Command as Proc;

#[test]
fn run_json_totals_equal_the_sum_of_their_parts() {
    let out = Proc::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args([
            "run",
            "ic",
            "--accel",
            "edge-8x8",
            "--cpu",
            "cortex-m7@216MHz",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let a = &v["accel"];
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1e-9);
    let layers = v["layers"].as_array().unwrap();
    let lat_us: f64 = layers
        .iter()
        .map(|l| l["offload_us"].as_f64().unwrap())
        .sum();
    assert!(close(lat_us, a["offload_us"].as_f64().unwrap()));
    let e: f64 = layers
        .iter()
        .map(|l| l["offload_uj"].as_f64().unwrap())
        .sum();
    assert!(close(e, a["offload_uj"].as_f64().unwrap()));
    let parts: f64 = ["compute_us", "dma_stall_us", "cpu_side_us", "driver_us"]
        .iter()
        .map(|k| a[k].as_f64().unwrap())
        .sum();
    assert!(close(parts, lat_us), "{parts} vs {lat_us}");
    let parts: f64 = reports::schema::ENERGY_PARTS
        .iter()
        .map(|k| a[k].as_f64().unwrap())
        .sum();
    assert!(close(parts, e), "{parts} vs {e}");
    let cycles: u64 = layers
        .iter()
        .map(|l| l["accel_cycles"].as_u64().unwrap())
        .sum();
    assert_eq!(cycles, a["accel_cycles"].as_u64().unwrap());
    // Analytic bounds on the accelerator's own work.
    let cfg = AccelConfig::preset("edge-8x8").unwrap();
    let macs = a["accel_macs"].as_u64().unwrap();
    assert!(cycles as f64 >= macs as f64 / cfg.peak_macs_per_cycle() as f64);
    assert!(a["mac_utilization"].as_f64().unwrap() <= a["array_utilization"].as_f64().unwrap());
    assert!(a["array_utilization"].as_f64().unwrap() <= 1.0);
    // The facts used by sweeps give the same CPU baseline as `--cpu`.
    let graph = models::builtin("ic").unwrap();
    let interp = Interpreter::new(&graph).unwrap();
    let prepared: Vec<&PreparedOp> = (0..graph.ops.len())
        .map(|i| interp.prepared(i).unwrap())
        .collect();
    let facts = ModelFacts::new(
        &graph,
        &prepared,
        &CpuProfile::resolve("cortex-m7@216MHz").unwrap(),
    );
    assert!(close(facts.cpu_us(), v["cpu"]["cpu_us"].as_f64().unwrap()));
}

/// On edge-8x8-conv (im2col unit, 4 requests in flight) the latency still is the sum of
/// its parts, and the convs read their image through the unit: no CPU side at all (on
/// edge-8x8 the 3x3 convs pay the CPU im2col).
#[test]
fn run_json_with_the_im2col_unit_has_no_cpu_im2col() {
    let run = |accel: &str| -> serde_json::Value {
        let out = Proc::new(env!("CARGO_BIN_EXE_tinyaccel"))
            .args([
                "run",
                "ic",
                "--accel",
                accel,
                "--cpu",
                "cortex-m4f",
                "--json",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (on, off) = (run("edge-8x8-conv"), run("edge-8x8"));
    let close = |x: f64, y: f64| (x - y).abs() <= 1e-9 * y.abs().max(1e-9);
    let a = &on["accel"];
    let parts: f64 = ["compute_us", "dma_stall_us", "cpu_side_us", "driver_us"]
        .iter()
        .map(|k| a[k].as_f64().unwrap())
        .sum();
    assert!(close(parts, a["offload_us"].as_f64().unwrap()));
    let parts: f64 = reports::schema::ENERGY_PARTS
        .iter()
        .map(|k| a[k].as_f64().unwrap())
        .sum();
    assert!(close(parts, a["offload_uj"].as_f64().unwrap()));
    assert!(a["agu_uj"].as_f64().unwrap() > 0.0 && a["dma_track_uj"].as_f64().unwrap() > 0.0);
    let mut hw = 0;
    for (l_on, l_off) in on["layers"]
        .as_array()
        .unwrap()
        .iter()
        .zip(off["layers"].as_array().unwrap())
    {
        if l_on["op"] != "CONV_2D" {
            continue;
        }
        assert_eq!(l_on["target"], "accel", "{l_on}");
        assert_eq!(l_on["cpu_side_us"].as_f64(), Some(0.0), "{l_on}");
        if l_on["reason"].as_str().unwrap().contains("im2col unit") {
            hw += 1;
            if l_on["weight_shape"][1] == 3 {
                assert!(l_off["cpu_side_us"].as_f64().unwrap() > 0.0, "{l_off}");
            }
        }
    }
    assert_eq!(hw, 9, "ic: seven 3x3 convs and two strided 1x1 convs");
    assert!(on["output"].is_array());
    assert_eq!(on["output"], off["output"]);
}

/// `run MODEL --accel ACCEL --cpu cortex-m4f --json`: (end-to-end us, sum of the
/// offloaded CONV_2D layers' us, sum of all offloaded layers' us).
fn offload_times(model: &str, accel: &str) -> (f64, f64, f64) {
    let out = Proc::new(env!("CARGO_BIN_EXE_tinyaccel"))
        .args([
            "run",
            model,
            "--accel",
            accel,
            "--cpu",
            "cortex-m4f",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let layers = v["layers"].as_array().unwrap();
    let sum = |conv_only: bool| -> f64 {
        layers
            .iter()
            .filter(|l| l["target"] == "accel" && (!conv_only || l["op"] == "CONV_2D"))
            .map(|l| l["offload_us"].as_f64().unwrap())
            .sum()
    };
    (
        v["accel"]["offload_us"].as_f64().unwrap(),
        sum(true),
        sum(false),
    )
}

/// Issue 16's targets, Cortex-M4F reference kernels (simulated cycles, not wall time):
/// on edge-8x8-conv ic's offloaded convs take <= 3 ms and ic <= 24 ms end to end, ad
/// <= 0.35 ms. Since issue 19 the CPU baseline is fitted on published runs
/// (docs/cpu-validation.md): its reference-kernel `overhead` factor (2.0) also doubles the
/// per-element cost of the three ADDs that stay on the CPU in ic, which raises ic's end to
/// end from 20.9 to 40.2 ms; the end-to-end bound is therefore 41 ms (the accelerator-side
/// bounds are unchanged); and the knobs matter: with both features on, ic's offloaded layers run at
/// least 2x faster on a 16x16 array with a 16-byte bus than on the 8x8 array with an
/// 8-byte bus (same scratchpads).
#[test]
fn hardware_convolution_meets_the_issue_targets() {
    let (ic_total, ic_conv, ic_offloaded) = offload_times("ic", "edge-8x8-conv");
    assert!(ic_conv <= 3_000.0, "ic offloaded convs {ic_conv} us");
    assert!(ic_total <= 41_000.0, "ic end to end {ic_total} us");
    let (ad_total, _, _) = offload_times("ad", "edge-8x8-conv");
    assert!(ad_total <= 350.0, "ad end to end {ad_total} us");
    let big = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/conv-16x16-bus16.toml"
    );
    let (_, _, ic_big) = offload_times("ic", big);
    assert!(
        ic_offloaded >= 2.0 * ic_big,
        "ic offloaded layers: {ic_offloaded} us on 8x8/8 B vs {ic_big} us on 16x16/16 B"
    );
}
